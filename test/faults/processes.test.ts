// Issue 16 item 3, as the issue saw it: `snatguard scan` processes launched at the same moment against one
// simulator, rails.maxRestartsPerRun 1, two offenders on one node. Separate processes (no shared event loop,
// no shared client): only the Lease, the settle record and the patch precondition stand between them.
// At most one restart per node, whatever the interleaving; every other process stood down or skipped.
import { describe, expect, it } from 'vitest';
import { simEnv } from '../../src/hosts/cli/sim.js';
import type { RunReport } from '../../src/model.js';
import { runCli, useCliBundle } from '../cli-bundle.js';
import { aSnapshot, harness } from '../e2e/harness.js';
import { twoHogsOnNodeA } from './harness.js';

const cli = useCliBundle('snatguard-procs-');

const twoOffendersOnOneNode = () => aSnapshot(twoHogsOnNodeA());

describe('scan processes launched together (issue 16 item 3)', () => {
  it.each([2, 4])(
    '%i processes, maxRestartsPerRun 1: one restart on the node, once',
    async (n) => {
      const h = await harness(twoOffendersOnOneNode());
      try {
        const env = {
          ...Object.fromEntries(simEnv(h.sim, h.snapshot)),
          HOME: cli.home,
          SNATGUARD_MODE: 'restart',
          SNATGUARD_RAILS_MAX_RESTARTS_PER_RUN: '1',
        };
        const results = await Promise.all(
          Array.from({ length: n }, () => runCli(cli.bundle, ['scan', '--output', 'json'], env)),
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
        const later = await runCli(cli.bundle, ['scan', '--output', 'json'], env);
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
