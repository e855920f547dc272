// Issue 13: in `replay` and `demo` the simulator runs off the scanner's event loop (in its own process). Shown without timing:
// while this (the scanner's) thread is blocked in spawnSync, a separate process still gets its answers
// from the simulator, which an in-process simulator could not give until the block ended.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { examplePath } from '../../src/paths.js';
import { type SimThread, startSimThread } from '../../src/sim/off-thread.js';

describe('startSimThread', () => {
  let sim: SimThread;
  beforeAll(async () => {
    sim = await startSimThread(examplePath('aks-mongo-leak.yaml'));
  }, 60_000);
  afterAll(() => sim?.close());

  it('answers over HTTPS while the calling thread is blocked (the simulator is not on its event loop)', () => {
    const script = `
      const { request } = require('node:https');
      const tokenFrom = require('node:fs').readFileSync(process.env.KUBECONFIG, 'utf8').match(/token: (\\S+)/)[1];
      request(process.env.URL + '/api/v1/nodes', { headers: { authorization: 'Bearer ' + tokenFrom } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => { process.stdout.write(String(res.statusCode) + ' ' + JSON.parse(body).items.length); });
      }).end();`;
    // spawnSync holds this thread until the child exits: only a simulator on another thread can answer it.
    const r = spawnSync(process.execPath, ['-e', script], {
      env: {
        ...process.env,
        NODE_EXTRA_CA_CERTS: sim.caPath,
        KUBECONFIG: sim.jobKubeconfigPath,
        URL: sim.url,
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`200 ${sim.snapshot.nodes.length}`);
  });

  it('hands the caller the snapshot without its workloads, and node metrics by message', async () => {
    expect(sim.snapshot.metadata.name).toBeTruthy();
    expect(sim.snapshot.workloads).toEqual([]);
    const metrics = await sim.nodeMetrics();
    expect(metrics.map((m) => m.name)).toEqual(sim.snapshot.nodes.map((n) => n.name));
    expect(metrics.some((m) => m.metrics.usedSnatPorts > 0)).toBe(true);
    expect(await sim.received()).toEqual([]);
  });

  it("names the snapshot's cloud once it is parsed, before it is ready (the scanner loads that SDK meanwhile)", async () => {
    const seen: string[] = [];
    const other = await startSimThread(examplePath('eks-conntrack.yaml'), {
      onProvider: (p) => seen.push(p),
    });
    try {
      expect(seen).toEqual(['aws']);
    } finally {
      await other.close();
    }
  });

  it('a snapshot that parses but fails its checks still names its cloud, then rejects', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'snatguard-off-thread-'));
    try {
      const file = join(dir, 'bad.json');
      writeFileSync(
        file,
        JSON.stringify({
          apiVersion: 'snatguard.io/v1',
          kind: 'Snapshot',
          metadata: { name: 'bad' },
          cloud: { provider: 'azure' },
          nodes: [],
        }),
      );
      const seen: string[] = [];
      const e = await startSimThread(file, { onProvider: (p) => seen.push(p) }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ValidationError);
      expect(seen).toEqual(['azure']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a bad snapshot rejects with the same ValidationError loadSnapshot gives', async () => {
    const e = await startSimThread('/nonexistent/snapshot.yaml').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).problems[0]).toMatch(/^cannot read: ENOENT/);
  });
});
