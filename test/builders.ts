// Test data builders: sensible defaults, override only what a test is about.
// `aPod({ node: 'n1' })`, `anInspection(aPod(...), [aDestination('203.0.113.5:443', 200)])`, `anOffender({ ... })`.
import type {
  ConntrackReading,
  DestinationCount,
  HotNode,
  NodeInfo,
  NodePressure,
  Offender,
  PodInfo,
  PodInspection,
  PressureSignal,
  SocketSummary,
  TcpState,
  WorkloadRef,
  WorkloadStatus,
} from '../src/model.js';
import { workloadId } from '../src/model.js';

export function aNode(overrides: Partial<NodeInfo> = {}): NodeInfo {
  const name = overrides.name ?? 'n1';
  return { name, labels: { 'kubernetes.io/hostname': name }, ready: true, podCIDRs: [], ...overrides };
}

export function aPod(overrides: Partial<PodInfo> = {}): PodInfo {
  return {
    namespace: 'shop',
    name: 'orders-api-7d9c-abcde',
    node: 'n1',
    hostNetwork: false,
    phase: 'Running',
    labels: {},
    annotations: {},
    ownerReferences: [],
    containers: ['app'],
    ...overrides,
  };
}

/** Sockets to one destination: `aDestination('203.0.113.5:27017', 40, { TIME_WAIT: 10 })`; the rest ESTABLISHED. */
export function aDestination(
  remote: string,
  sockets: number,
  byState: Partial<Record<TcpState, number>> = {},
): DestinationCount {
  const colon = remote.lastIndexOf(':');
  const others = Object.values(byState).reduce((s, n) => s + (n ?? 0), 0);
  const established = sockets - others;
  return {
    remote,
    address: remote.slice(0, colon).replace(/^\[|\]$/g, ''),
    port: Number(remote.slice(colon + 1)),
    sockets,
    byState: established > 0 ? { ESTABLISHED: established, ...byState } : { ...byState },
  };
}

/** A summary whose SNAT-consuming sockets are exactly `destinations`. */
export function aSummary(
  destinations: DestinationCount[] = [],
  overrides: Partial<SocketSummary> = {},
): SocketSummary {
  const snatSockets = destinations.reduce((s, d) => s + d.sockets, 0);
  return {
    lines: snatSockets,
    parsed: snatSockets,
    malformed: 0,
    byState: {},
    listening: 0,
    inbound: 0,
    outbound: snatSockets,
    snatSockets,
    destinations: [...destinations].sort((a, b) => b.sockets - a.sockets || (a.remote < b.remote ? -1 : 1)),
    ...overrides,
  };
}

export function anInspection(
  pod: PodInfo,
  destinations: DestinationCount[] = [],
  overrides: Partial<PodInspection> = {},
): PodInspection {
  return { pod, status: 'ok', nodeLevel: pod.hostNetwork, summary: aSummary(destinations), ...overrides };
}

export function aWorkloadRef(overrides: Partial<WorkloadRef> = {}): WorkloadRef {
  return { namespace: 'shop', kind: 'Deployment', name: 'orders-api', ...overrides };
}

export function anOffender(overrides: Partial<Offender> & { ref?: WorkloadRef } = {}): Offender {
  const ref = overrides.ref ?? aWorkloadRef();
  return {
    workload: workloadId(ref),
    ref,
    node: 'n1',
    pods: [`${ref.name}-7d9c-abcde`],
    snatSockets: 900,
    share: 0.88,
    topDestinations: [{ remote: '20.103.144.194:27017', sockets: 900, timeWait: 0 }],
    matched: ['threshold'],
    ...overrides,
  };
}

/** A healthy, settled 3-replica Deployment. */
export function aWorkloadStatus(overrides: Partial<WorkloadStatus> = {}): WorkloadStatus {
  return {
    ref: aWorkloadRef(),
    labels: { app: 'orders-api' },
    annotations: {},
    replicas: 3,
    updatedReplicas: 3,
    availableReplicas: 3,
    unavailableReplicas: 0,
    paused: false,
    generation: 4,
    observedGeneration: 4,
    ...overrides,
  };
}

export function aSignal(
  kind: PressureSignal['kind'],
  fields: Omit<PressureSignal, 'kind'> = {},
): PressureSignal {
  return { kind, ...fields };
}

export function aNodePressure(node: NodePressure['node'], ...signals: PressureSignal[]): NodePressure {
  return { node, signals };
}

export function aHotNode(overrides: Partial<HotNode> = {}): HotNode {
  return { name: 'n1', signals: [], reasons: ['test'], ...overrides };
}

export function aConntrackReading(overrides: Partial<ConntrackReading> = {}): ConntrackReading {
  return { count: 100, max: 1000, beLiberal: false, insertFailed: 0, drop: 0, earlyDrop: 0, ...overrides };
}
