// Issue 16 item 3, as the issue saw it: `snatguard scan` processes launched at the same moment against one
// simulator, rails.maxRestartsPerRun 1, two offenders on one node. Separate processes (no shared event loop,
// no shared client): only the Lease, the settle record and the patch precondition stand between them.
// At most one restart per node, whatever the interleaving; every other process stood down or skipped.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simEnv } from '../../src/hosts/cli/sim.js';
import type { RunReport } from '../../src/model.js';
import { bundleCli, runCli } from '../cli-bundle.js';
import { aDeployment, aSnapshot, harness } from '../e2e/harness.js';

let bundle: string;
let home: string;
beforeAll(async () => {
  bundle = await bundleCli();
  home = await mkdtemp(join(tmpdir(), 'snatguard-procs-'));
});
afterAll(async () => {
  await rm(dirname(bundle), { recursive: true, force: true });
  await rm(home, { recursive: true, force: true });
});

const twoOffendersOnOneNode = () =>
  aSnapshot([
    aDeployment('orders', {
      replicas: 3,
      pods: 3,
      node: 'node-a',
      sockets: [{ remote: '20.103.144.194:27017', state: 'ESTABLISHED', count: 320 }],
    }),
    aDeployment('billing', {
      replicas: 3,
      pods: 3,
      node: 'node-a',
      sockets: [{ remote: '20.103.144.195:443', state: 'ESTABLISHED', count: 300 }],
    }),
  ]);

describe('scan processes launched together (issue 16 item 3)', () => {
  it.each([2, 4])(
    '%i processes, maxRestartsPerRun 1: one restart on the node, once',
    async (n) => {
      const h = await harness(twoOffendersOnOneNode());
      try {
        const env = {
          ...Object.fromEntries(simEnv(h.sim, h.snapshot)),
          HOME: home,
          SNATGUARD_MODE: 'restart',
          SNATGUARD_RAILS_MAX_RESTARTS_PER_RUN: '1',
        };
        const results = await Promise.all(
          Array.from({ length: n }, () => runCli(bundle, ['scan', '--output', 'json'], env)),
        );
        const reports = results.map((r) => {
          expect(r.code, r.stderr.slice(-2000)).toBe(0);
          return JSON.parse(r.stdout) as RunReport;
        });
        const applied = reports.flatMap((r) =>
          r.actions.filter((a) => a.status === 'applied').map((a) => a.workload),
        );
        expect(applied).toHaveLength(1);
        // The simulator saw one pod-template change in all: one ReplicaSet more than the two it started with.
        const replicaSets = h.sim.world.list('replicasets', 'shop');
        expect(replicaSets).toHaveLength(3);
        for (const r of reports.filter((r) => !r.actions.some((a) => a.status === 'applied'))) {
          const stoodDown = r.skipped === 'locked' || r.actions.every((a) => a.status === 'skipped');
          expect(stoodDown, JSON.stringify(r.actions)).toBe(true);
        }
        // A process after them sees the settle record in the Lease: nothing else restarts on node-a.
        const later = await runCli(bundle, ['scan', '--output', 'json'], env);
        expect(later.code, later.stderr.slice(-2000)).toBe(0);
        const after = JSON.parse(later.stdout) as RunReport;
        expect(after.actions.filter((a) => a.status === 'applied')).toEqual([]);
        const other = after.actions.find(
          (a) => a.workload !== applied[0] && a.workload.includes('/Deployment/'),
        );
        expect(other?.skipReason, JSON.stringify(after.actions)).toBe('SETTLING');
        expect(h.sim.world.list('replicasets', 'shop')).toHaveLength(3);
      } finally {
        await h.close();
      }
      // Fresh processes on a loaded machine: generous, not a speed claim.
    },
    120_000,
  );
});
