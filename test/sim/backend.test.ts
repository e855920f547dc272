// The simulator's pluggable backend (src/sim/backend.ts): a backend answers exec and cloud metrics for the
// pods and nodes it owns, hears about rollouts, and the snapshot answers everything else — through the same
// HTTPS/WebSocket path the product uses.
import { describe, expect, it } from 'vitest';
import type { SimBackend } from '../../src/sim/backend.js';
import type { PodRuntime } from '../../src/sim/world.js';
import { renderProcNetTcp } from '../../src/sockets/render.js';
import { aDeployment, aSnapshot, harness } from '../e2e/harness.js';

const LIVE = '198.51.100.77';

/** 40 outbound sockets to LIVE:5432 from `ip`, as a real pod would show them. */
const liveTables = (ip: string) => ({
  tcp: renderProcNetTcp(
    Array.from({ length: 40 }, (_, i) => ({
      localAddress: ip,
      localPort: 41000 + i,
      remoteAddress: LIVE,
      remotePort: 5432,
      state: 'ESTABLISHED' as const,
      inode: 5000 + i,
    })),
    'tcp',
  ),
  tcp6: renderProcNetTcp([], 'tcp6'),
});

function recordingBackend(owned: string) {
  const replaced: { workload: string; before: string[]; after: string[] }[] = [];
  const execs: string[] = [];
  const backend: SimBackend = {
    async exec(pod: PodRuntime, command) {
      if (!pod.name.startsWith(owned)) return undefined;
      execs.push(`${pod.name}: ${command.join(' ')}`);
      const t = liveTables(pod.ip);
      return { stdout: t.tcp + t.tcp6, stderr: '', status: { metadata: {}, status: 'Success' } };
    },
    nodeMetrics: (node) =>
      node === 'node-b'
        ? {
            usedSnatPorts: 64,
            allocatedSnatPorts: 64,
            failedSnatConnections: 9,
            conntrackAllowanceExceeded: 0,
          }
        : undefined,
    podsReplaced(w, before, after) {
      replaced.push({
        workload: `${w.namespace}/${w.kind}/${w.name}`,
        before: before.map((p) => p.name),
        after: after.map((p) => p.name),
      });
    },
  };
  return { backend, replaced, execs };
}

describe('SimBackend', () => {
  it('answers exec and metrics for what it owns; the snapshot answers the rest; it hears the rollout', async () => {
    const rec = recordingBackend('live-');
    const snapshot = aSnapshot([
      aDeployment('live', { node: 'node-b', pods: 2, sockets: [] }),
      aDeployment('quiet', { node: 'node-b', pods: 1, sockets: [] }),
    ]);
    // Pod names are generated; the backend owns the "live" Deployment's pods by name prefix.
    const h = await harness(snapshot, { backend: rec.backend });
    try {
      const report = await h.run({
        mode: 'restart',
        rails: { allowSingleReplica: true },
        offender: { minSnatSockets: 20, minShare: 0.25 },
      });

      expect(report.nodes.find((n) => n.name === 'node-b')?.hot).toBe(true);
      expect(report.nodes.find((n) => n.name === 'node-a')?.hot).toBe(false);
      const live = report.offenders.find((o) => o.workload === 'shop/Deployment/live');
      expect(live?.snatSockets).toBe(80);
      expect(live?.topDestinations[0]).toMatchObject({ remote: `${LIVE}:5432`, sockets: 80 });
      expect(report.offenders.map((o) => o.workload)).toEqual(['shop/Deployment/live']);
      expect(rec.execs).toHaveLength(2);
      expect(rec.execs[0]).toContain('cat /proc/net/tcp /proc/net/tcp6');
      expect(rec.replaced).toHaveLength(1);
      expect(rec.replaced[0]?.workload).toBe('shop/Deployment/live');
      expect(rec.replaced[0]?.before).toHaveLength(2);
      expect(rec.replaced[0]?.after).toHaveLength(2);
      expect(rec.replaced[0]?.after).not.toEqual(rec.replaced[0]?.before);
    } finally {
      await h.close();
    }
  });

  it('a backend that throws becomes a failed exec Status for that pod, not a broken server', async () => {
    const backend: SimBackend = {
      async exec(pod) {
        if (pod.name.startsWith('boom-')) throw new Error('netns vanished');
        return undefined;
      },
      nodeMetrics: () => ({
        usedSnatPorts: 64,
        allocatedSnatPorts: 64,
        failedSnatConnections: 1,
        conntrackAllowanceExceeded: 0,
      }),
    };
    const h = await harness(aSnapshot([aDeployment('boom', { pods: 1 })]), { backend });
    try {
      const report = await h.run({});
      const error = report.errors.find((e) => e.target.startsWith('shop/boom-'));
      expect(error?.message).toContain('netns vanished');
    } finally {
      await h.close();
    }
  });
});
