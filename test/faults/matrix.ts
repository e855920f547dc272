// The fault matrix's shared part: what every scenario asserts after its runs, whatever the fault was.
// 1. no restart outside the plan; 2. never two restarts of one workload within the cooldown; 3. the report
// accounts for every hot node and its pods; 4. every error names a stage and a target; 5. status and exit
// code are the documented ones (DESIGN.md); 6. the state is consistent (state ConfigMap parses clean, the
// Lease is free after the run unless its release was the fault); 7. every status fault asked of a cloud service
// is one that service answers (test/faults/proxy.ts `refused`).
import { expect } from 'vitest';
import { SETTLE_ANNOTATION } from '../../src/cluster/lease.js';
import { parseState, STATE_KEY } from '../../src/cluster/state.js';
import { exitFor } from '../../src/hosts/cli/run-commands.js';
import { RUN_STATUSES, type RunReport } from '../../src/model.js';
import type { FaultHarness } from './harness.js';

const STAGES = [
  'config',
  'lock',
  'pressure',
  'nodes',
  'inspect',
  'conntrack',
  'owners',
  'plan',
  'act',
  'state',
  'notify',
];

/** Pod-template changes per workload the simulator saw (each one rolled the workload's pods). */
export function restartsSeen(h: FaultHarness): Map<string, number> {
  const out = new Map<string, number>();
  for (const d of h.sim.world.list('deployments')) {
    const at = d.spec?.template?.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt'];
    if (at === undefined) continue;
    const id = `${d.metadata.namespace}/Deployment/${d.metadata.name}`;
    const replicaSets = h.sim.world
      .list('replicasets', d.metadata.namespace)
      .filter((rs) => rs.metadata.ownerReferences?.some((r) => r.uid === d.metadata.uid));
    out.set(id, Math.max(1, replicaSets.length - 1));
  }
  return out;
}

export interface InvariantOptions {
  /** Workloads restarted before the scenario (not this scenario's doing). */
  restartedBefore?: ReadonlySet<string>;
  /** The fault was the Lease release itself: it may stay held. */
  leaseMayStayHeld?: boolean;
  maxRestartsPerRun?: number;
}

export function assertInvariants(h: FaultHarness, reports: RunReport[], o: InvariantOptions = {}): void {
  const applied = reports.flatMap((r) =>
    r.actions.filter((a) => a.status === 'applied').map((a) => a.workload),
  );
  const seen = restartsSeen(h);
  // 1. every workload whose pods were rolled was planned and applied by one of the runs
  for (const [workload] of seen) {
    if (o.restartedBefore?.has(workload)) continue;
    expect(applied, `${workload} restarted outside the plan`).toContain(workload);
  }
  for (const r of reports) {
    expect(r.actions.filter((a) => a.status === 'applied').length).toBeLessThanOrEqual(
      o.maxRestartsPerRun ?? 1,
    );
  }
  // 2. never two restarts of one workload (the cooldown is 60 min; the scenario lasts seconds)
  for (const [workload, n] of seen) expect(n, `${workload} restarted ${n} times`).toBe(1);
  expect(new Set(applied).size).toBe(applied.length);

  for (const r of reports) {
    // 5. documented status and exit code
    expect(RUN_STATUSES).toContain(r.status);
    expect(exitFor(r)).toBe(r.status === 'failed' ? 3 : 0);
    // complete: everything it meant to read was read (rail reads, restarts, a Lease lost after it was
    // taken, and side channels aside: none of them is a reading)
    const reads = ['pressure', 'nodes', 'inspect', 'conntrack', 'owners'];
    if (r.status === 'complete') expect(r.errors.filter((e) => reads.includes(e.stage))).toEqual([]);
    // 4. errors name their stage and target
    for (const e of r.errors) {
      expect(STAGES).toContain(e.stage);
      expect(e.target.length).toBeGreaterThan(0);
      expect(e.message.length).toBeGreaterThan(0);
    }
    // 3. every hot node: its pods counted, or an error (or the deadline) says why not
    for (const n of r.nodes.filter((n) => n.hot)) {
      const pods = h.sim.world
        .list('pods')
        .filter((p) => p.spec?.nodeName === n.name && p.status?.phase === 'Running');
      const namespaces =
        pods.filter((p) => !p.spec?.hostNetwork).length + (pods.some((p) => p.spec?.hostNetwork) ? 1 : 0);
      // A pod whose read failed is accounted by its own error (stage inspect, target namespace/name).
      const erred = pods.filter((p) =>
        r.errors.some(
          (e) => e.stage === 'inspect' && e.target === `${p.metadata.namespace}/${p.metadata.name}`,
        ),
      ).length;
      const counted = n.podsInspected + n.podsUninspectable + erred;
      const explained =
        r.errors.some((e) => e.target === `node/${n.name}` || e.target === 'nodes') ||
        r.statusReason === 'deadline' ||
        r.status === 'failed';
      if (!explained && counted !== namespaces) {
        // Pods replaced by a restart in this run are not the ones that were read.
        expect(applied.length, `node ${n.name}: ${counted} pods accounted of ${namespaces}`).toBeGreaterThan(
          0,
        );
      }
      const failedPods = n.podsUninspectable;
      if (failedPods > 0 && !explained) expect(r.errors.length + r.recommendations.length).toBeGreaterThan(0);
    }
  }
  // 7. every status fault was one the service answers (the proxy refused none)
  expect(h.proxy.refused).toEqual([]);
  // 6. consistent state
  const cm = h.sim.world.list('configmaps', 'snatguard').find((c) => c.metadata.name === 'snatguard-state') as
    | { data?: Record<string, string> }
    | undefined;
  if (cm?.data?.[STATE_KEY] !== undefined) expect(parseState(cm.data[STATE_KEY]).problems).toEqual([]);
  const lease = h.sim.world.list('leases', 'snatguard').find((l) => l.metadata.name === 'snatguard');
  if (lease) {
    if (!o.leaseMayStayHeld && !reports.some((r) => r.errors.some((e) => e.stage === 'lock')))
      expect(lease.spec?.holderIdentity ?? '', 'the Lease is free after the runs').toBe('');
    const settle = lease.metadata.annotations?.[SETTLE_ANNOTATION];
    if (settle !== undefined) expect(() => JSON.parse(settle)).not.toThrow();
  }
}
