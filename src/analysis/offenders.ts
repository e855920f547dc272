// Pure: pod inspections on hot nodes + owners → the workloads that hold a node's SNAT ports.
import type {
  AttributionMethod,
  DestinationCount,
  HotNode,
  Offender,
  PodInspection,
  TcpState,
  WorkloadRef,
} from '../model.js';
import { nodeSubject, workloadId } from '../model.js';

export interface OffenderThresholds {
  minSnatSockets: number;
  minShare: number;
  destinationRules: readonly { port: number; maxSocketsPerPod: number }[];
}

/** One workload's (or a node's own namespace's) SNAT-consuming sockets on one hot node. */
export interface WorkloadUsage extends Offender {
  /**
   * Its share of the node's flows to the node's hottest destinations (second sort key), each destination
   * weighted by its socket count: Σ mine(d)·node(d) / Σ node(d)² over the top HOTTEST_DESTINATIONS; 0–1.
   */
  hotShare: number;
  /** True for the node's own network namespace (hostNetwork pods): never restartable. */
  nodeLevel: boolean;
}

export interface OffenderAnalysis {
  /** Offenders, ranked: SNAT-consuming sockets desc, share of the hottest destinations desc, workload, node. */
  offenders: Offender[];
  /**
   * Per hot node, its largest SNAT consumer that did not cross the bar (`matched: []`), when it holds any.
   * Pass these to plan() with the offenders to have them reported as BELOW_THRESHOLD skips.
   */
  belowThreshold: Offender[];
  /** SNAT-consuming sockets per hot node over every inspected namespace (pods once, node namespace once). */
  nodeSnatSockets: Map<string, number>;
  /** Every workload's usage on every hot node, ranked like the offenders. */
  usage: WorkloadUsage[];
}

/** How many of the node's busiest destinations define "the hottest destinations". */
export const HOTTEST_DESTINATIONS = 5;
export const TOP_DESTINATIONS = 5;
/** Pods named per offender: enough to show a skew (one pod with 1,010, the rest with 12). */
export const TOP_PODS = 3;

const podKey = (namespace: string, name: string): string => `${namespace}/${name}`;
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

interface Group {
  id: string;
  ref: WorkloadRef;
  node: string;
  nodeLevel: boolean;
  pods: Set<string>;
  /** How its pods were measured: `conntrack` as soon as one of them was counted from the node's table. */
  method: AttributionMethod;
  snatSockets: number;
  destinations: Map<string, { sockets: number; port: number; byState: Partial<Record<TcpState, number>> }>;
  /** Per pod: SNAT sockets per destination port (for destination rules). */
  perPodPorts: Map<string, Map<number, number>>;
}

function addDestinations(group: Group, pod: string, destinations: readonly DestinationCount[]): void {
  const ports = group.perPodPorts.get(pod) ?? new Map<number, number>();
  group.perPodPorts.set(pod, ports);
  for (const d of destinations) {
    const entry = group.destinations.get(d.remote) ?? { sockets: 0, port: d.port, byState: {} };
    entry.sockets += d.sockets;
    for (const [state, n] of Object.entries(d.byState) as [TcpState, number][]) {
      entry.byState[state] = (entry.byState[state] ?? 0) + n;
    }
    group.destinations.set(d.remote, entry);
    ports.set(d.port, (ports.get(d.port) ?? 0) + d.sockets);
  }
}

function namesOf(hotNodes: Iterable<string | Pick<HotNode, 'name'>>): Set<string> {
  const names = new Set<string>();
  for (const n of hotNodes) names.add(typeof n === 'string' ? n : n.name);
  return names;
}

/** Groups ok inspections on hot nodes by (node, workload); a node's own namespace is counted once. */
function groupUsage(
  inspections: readonly PodInspection[],
  owners: ReadonlyMap<string, WorkloadRef | null>,
  hot: Set<string>,
): Map<string, Group> {
  const groups = new Map<string, Group>();
  const nodeLevelSeen = new Set<string>();
  // Sorted so that which hostNetwork pod stands for its node is deterministic.
  const sorted = [...inspections].sort(
    (a, b) =>
      cmp(a.pod.node, b.pod.node) ||
      cmp(podKey(a.pod.namespace, a.pod.name), podKey(b.pod.namespace, b.pod.name)),
  );
  for (const inspection of sorted) {
    const { pod, summary } = inspection;
    if (inspection.status !== 'ok' || !summary || !hot.has(pod.node)) continue;
    let ref: WorkloadRef;
    let id: string;
    if (inspection.nodeLevel) {
      if (nodeLevelSeen.has(pod.node)) continue;
      nodeLevelSeen.add(pod.node);
      ref = { namespace: '', kind: 'Node', name: pod.node };
      id = nodeSubject(pod.node);
    } else {
      ref = owners.get(podKey(pod.namespace, pod.name)) ?? {
        namespace: pod.namespace,
        kind: 'Pod',
        name: pod.name,
      };
      id = workloadId(ref);
    }
    const key = `${pod.node}\u0000${id}`;
    const group = groups.get(key) ?? {
      id,
      ref,
      node: pod.node,
      nodeLevel: inspection.nodeLevel,
      pods: new Set<string>(),
      method: 'exec',
      snatSockets: 0,
      destinations: new Map(),
      perPodPorts: new Map(),
    };
    if (!inspection.nodeLevel) group.pods.add(pod.name);
    if (inspection.method === 'conntrack') group.method = 'conntrack';
    group.snatSockets += summary.snatSockets;
    addDestinations(group, pod.name, summary.destinations);
    groups.set(key, group);
  }
  return groups;
}

function matchedRules(
  group: Group,
  rules: OffenderThresholds['destinationRules'],
): { matched: string[]; max?: number } {
  const matched: string[] = [];
  let max: number | undefined;
  for (const rule of rules) {
    let worst = 0;
    for (const ports of group.perPodPorts.values()) worst = Math.max(worst, ports.get(rule.port) ?? 0);
    if (worst > rule.maxSocketsPerPod) {
      matched.push(`port ${rule.port}: ${worst} > ${rule.maxSocketsPerPod} per pod`);
      max = Math.max(max ?? 0, worst);
    }
  }
  return max === undefined ? { matched } : { matched, max };
}

const compareUsage = (a: WorkloadUsage, b: WorkloadUsage): number =>
  b.snatSockets - a.snatSockets ||
  b.hotShare - a.hotShare ||
  cmp(a.workload, b.workload) ||
  cmp(a.node, b.node);

/** Everything findOffenders knows: offenders, below-threshold candidates, node totals, all usage. */
export function analyzeOffenders(
  inspections: readonly PodInspection[],
  owners: ReadonlyMap<string, WorkloadRef | null>,
  thresholds: OffenderThresholds,
  hotNodes: Iterable<string | Pick<HotNode, 'name'>>,
): OffenderAnalysis {
  const groups = [...groupUsage(inspections, owners, namesOf(hotNodes)).values()];

  const nodeSnatSockets = new Map<string, number>();
  const nodeDestinations = new Map<string, Map<string, number>>();
  for (const g of groups) {
    nodeSnatSockets.set(g.node, (nodeSnatSockets.get(g.node) ?? 0) + g.snatSockets);
    const dests = nodeDestinations.get(g.node) ?? new Map<string, number>();
    for (const [remote, d] of g.destinations) dests.set(remote, (dests.get(remote) ?? 0) + d.sockets);
    nodeDestinations.set(g.node, dests);
  }
  // The node's hottest destinations, each weighted by its own socket count: ports run out per destination,
  // so holding flows to the busiest one matters most.
  const hottest = new Map<string, { weight: Map<string, number>; norm: number }>();
  for (const [node, dests] of nodeDestinations) {
    const top = [...dests].sort((a, b) => b[1] - a[1] || cmp(a[0], b[0])).slice(0, HOTTEST_DESTINATIONS);
    hottest.set(node, { weight: new Map(top), norm: top.reduce((s, [, n]) => s + n * n, 0) });
  }

  const usage = groups.map((g): WorkloadUsage => {
    const total = nodeSnatSockets.get(g.node) ?? 0;
    const share = total > 0 ? g.snatSockets / total : 0;
    const hot = hottest.get(g.node);
    let toHottest = 0;
    for (const [remote, d] of g.destinations) toHottest += d.sockets * (hot?.weight.get(remote) ?? 0);
    const rules = matchedRules(g, thresholds.destinationRules);
    const matched = [
      ...(g.snatSockets >= thresholds.minSnatSockets && share >= thresholds.minShare && g.snatSockets > 0
        ? [
            `threshold: ${g.snatSockets} ≥ ${thresholds.minSnatSockets} sockets, ${Math.round(share * 100)}% ≥ ${Math.round(thresholds.minShare * 100)}%`,
          ]
        : []),
      ...rules.matched,
    ];
    const topDestinations = [...g.destinations]
      .sort((a, b) => b[1].sockets - a[1].sockets || cmp(a[0], b[0]))
      .slice(0, TOP_DESTINATIONS)
      .map(([remote, d]) => ({ remote, sockets: d.sockets, timeWait: d.byState.TIME_WAIT ?? 0 }));
    const entry: WorkloadUsage = {
      workload: g.id,
      method: g.method,
      ref: g.ref,
      node: g.node,
      pods: [...g.pods].sort(cmp),
      snatSockets: g.snatSockets,
      share,
      topDestinations,
      matched,
      hotShare: hot && hot.norm > 0 ? toHottest / hot.norm : 0,
      nodeLevel: g.nodeLevel,
    };
    if (rules.max !== undefined) entry.maxSocketsPerPod = rules.max;
    if (g.perPodPorts.size > 1) {
      entry.topPods = [...g.perPodPorts]
        .map(([pod, ports]) => ({ pod, sockets: [...ports.values()].reduce((a, b) => a + b, 0) }))
        .sort((a, b) => b.sockets - a.sockets || cmp(a.pod, b.pod))
        .slice(0, TOP_PODS);
    }
    return entry;
  });
  usage.sort(compareUsage);

  const strip = ({ hotShare: _h, nodeLevel: _n, ...offender }: WorkloadUsage): Offender => offender;
  const offenders = usage.filter((u) => u.matched.length > 0).map(strip);
  const belowThreshold: Offender[] = [];
  const nodesDone = new Set<string>();
  for (const u of usage) {
    if (u.matched.length > 0 || u.nodeLevel || u.snatSockets === 0 || nodesDone.has(u.node)) continue;
    nodesDone.add(u.node);
    belowThreshold.push(strip(u));
  }
  return { offenders, belowThreshold, nodeSnatSockets, usage };
}

/**
 * Offenders per workload per hot node: at least minSnatSockets SNAT-consuming sockets and minShare of the
 * node's, or a destination rule exceeded by some pod. `owners` maps `namespace/pod` to its workload; a pod
 * without one stands for itself (`ns/Pod/name`). hostNetwork inspections count once per node as `node/NAME`.
 */
export function findOffenders(
  inspections: readonly PodInspection[],
  owners: ReadonlyMap<string, WorkloadRef | null>,
  thresholds: OffenderThresholds,
  hotNodes: Iterable<string | Pick<HotNode, 'name'>>,
): Offender[] {
  return analyzeOffenders(inspections, owners, thresholds, hotNodes).offenders;
}
