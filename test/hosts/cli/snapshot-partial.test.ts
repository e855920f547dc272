// A cluster `snatguard snapshot` cannot fully read (issue 15): it writes what it read, lists what is
// missing in metadata.capture.missing, exits 0; with nothing readable it writes nothing and exits 3.
// The faults are the simulator's (a cloud answering 403, an API server that resets every connection).
import { describe, expect, it } from 'vitest';
import { simEnv } from '../../../src/hosts/cli/sim.js';
import { parseSnapshot } from '../../../src/sim/snapshot.js';
import { runCli, useCliBundle } from '../../cli-bundle.js';
import { example, harness } from '../../e2e/harness.js';

const cli = useCliBundle('snatguard-home-');

describe('snatguard snapshot on a cluster it cannot fully read', () => {
  it('the cloud refuses (403): nodes, pods and sockets are written, the cloud figures marked missing, exit 0', async () => {
    const h = await harness(await example('aks-mongo-leak.yaml'));
    try {
      // Azure Monitor and ARM answer 403 (AuthorizationFailed): not retried by the SDK.
      h.sim.world.faults.failNext.azure = { status: 403, count: 10_000 };
      const env = Object.fromEntries(simEnv(h.sim, h.snapshot));
      const out = await runCli(cli.bundle, ['snapshot', '-o', 'yaml'], { ...env, HOME: cli.home });
      expect(out.code).toBe(0);
      const s = parseSnapshot(out.stdout, 'partial capture');
      expect(s.nodes.map((n) => n.name)).toEqual(h.snapshot.nodes.map((n) => n.name));
      expect(s.nodes.every((n) => n.metrics === undefined)).toBe(true);
      expect(s.workloads.find((w) => w.name === 'orders-api')?.pods[0]?.sockets.length).toBeGreaterThan(0);
      const missing = s.metadata.capture?.missing ?? [];
      expect(missing.length).toBeGreaterThan(0);
      expect(missing.every((m) => m.startsWith('cloud '))).toBe(true);
      // The YAML says so at the top too.
      expect(out.stdout.split('\n')[1]).toMatch(/^# Not read \(\d+; see metadata\.capture\.missing\)/);
    } finally {
      await h.close();
    }
  }, 90_000);

  it('no answer from the API server: nothing on stdout, what failed on stderr, exit 3', async () => {
    const h = await harness(await example('aks-mongo-leak.yaml'));
    try {
      h.sim.world.faults.down.add('kube');
      const env = Object.fromEntries(simEnv(h.sim, h.snapshot));
      const out = await runCli(cli.bundle, ['snapshot'], {
        ...env,
        HOME: cli.home,
        SNATGUARD_CLUSTER_REQUEST_TIMEOUT_SECONDS: '5',
      });
      expect(out.code).toBe(3);
      expect(out.stdout).toBe('');
      expect(out.stderr).toMatch(/nothing could be read:\n {2}- .*nodes: not listed/);
    } finally {
      await h.close();
    }
  }, 90_000);
});
