// What `snatguard snapshot` read from a cluster → a snatguard.io/v1 snapshot document (docs/SNAPSHOT.md,
// "Captured snapshots"). Pure: the reads happen in read.ts; this only shapes them, so that replaying the
// document serves what the cluster served (the round-trip tests hold it to that).
import type { FlowGroup } from '../analysis/conntrack-table.js';
import { matchNode } from '../analysis/hot-nodes.js';
import type {
  CloudFacts,
  ConntrackReading,
  NodeInfo,
  NodePressure,
  PodInfo,
  SocketEntry,
  TcpState,
  WorkloadRef,
  WorkloadStatus,
} from '../model.js';
import type { SnapshotNode } from '../sim/snapshot.js';
import { cidrContains, formatEndpoint, parseCidr } from '../sockets/address.js';

export type ExecOutcome = 'ok' | 'no-cat' | 'hang' | 'error';

export interface CapturedPod {
  pod: PodInfo;
  /** The workload that owns it; null: none (a bare pod); undefined: the owner could not be read. */
  owner: WorkloadRef | null | undefined;
  exec: ExecOutcome;
  /** The pod's /proc/net/tcp{,6} lines (not for hostNetwork pods: theirs are the node's). */
  sockets?: SocketEntry[];
  /** Sockets seen in the node's conntrack table for a pod exec could not read (the `conntrack` method). */
  flowSockets?: DocSocket[];
}

export interface CapturedNode {
  /** Pods were listed (undefined: the list failed; the node is still recorded). */
  pods?: CapturedPod[];
  conntrack?: ConntrackReading;
  /** The node's own namespace, read through one of its hostNetwork pods. */
  hostSockets?: SocketEntry[];
}

export interface CaptureInput {
  name: string;
  at: Date;
  /** `--nodes` as given (`all`, `hot`, or names). */
  selection: string;
  provider: 'azure' | 'aws' | 'none';
  azure?: { subscriptionId?: string; resourceGroup?: string; clusterName?: string; location?: string };
  aws?: { region?: string; clusterName?: string };
  facts: Partial<CloudFacts>;
  clusterCidrs: readonly string[];
  version?: string;
  nodes: readonly NodeInfo[];
  pressure: readonly NodePressure[];
  /** Per node name, what was read on it (absent: not selected). */
  perNode: ReadonlyMap<string, CapturedNode>;
  /** Per workload id (`namespace/Kind/name`): its live status, or why it could not be read. */
  workloads: ReadonlyMap<string, WorkloadStatus | { error: string }>;
  missing: readonly string[];
}

/** One entry of a `sockets` list as the snapshot format writes it. */
export interface DocSocket {
  remote?: string;
  local?: string;
  state: TcpState;
  count?: number;
  family?: 'ipv4' | 'ipv6' | 'ipv4-mapped';
}

export interface DocPod {
  name: string;
  node: string;
  ip?: string;
  hostNetwork?: boolean;
  exec?: ExecOutcome;
  sockets?: DocSocket[];
}

export interface DocWorkload {
  kind: 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'ReplicaSet' | 'Job' | 'Pod';
  namespace: string;
  name: string;
  replicas?: number;
  strategy?: 'Recreate';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  status?: { unavailableReplicas?: number; updatedReplicas?: number; paused?: boolean };
  pods: DocPod[];
}

export interface DocNode {
  name: string;
  internalIP?: string;
  providerID?: string;
  metrics?: SnapshotNode['metrics'];
  conntrack?: ConntrackReading;
  hostSockets?: DocSocket[];
}

/** The document `snatguard snapshot` prints (a valid snatguard.io/v1 snapshot). */
export interface SnapshotDoc {
  apiVersion: 'snatguard.io/v1';
  kind: 'Snapshot';
  metadata: {
    name: string;
    description?: string;
    capture: {
      at: string;
      nodes: string;
      redacted?: boolean;
      keepDestinations?: boolean;
      missing?: string[];
    };
  };
  cloud: {
    provider: 'azure' | 'aws' | 'none';
    azure?: {
      subscriptionId?: string;
      resourceGroup: string;
      clusterName: string;
      location: string;
      nodeResourceGroup?: string;
      outboundType?: 'loadBalancer' | 'managedNATGateway' | 'userAssignedNATGateway';
      loadBalancer?: { allocatedOutboundPorts?: number; outboundIPs?: number; idleTimeoutMinutes?: number };
    };
    aws?: {
      region: string;
      clusterName: string;
      natGateways?: {
        id: string;
        errorPortAllocation: number;
        activeConnectionCount: number;
        packetsDropCount: number;
      }[];
      awsNodeEnv?: Record<string, string>;
    };
  };
  cluster: { version?: string; podCIDR?: string; serviceCIDR?: string };
  nodes: DocNode[];
  workloads: DocWorkload[];
}

/**
 * Workload annotations kept: snatguard's own (opt-out, cooldown records) and the Kubernetes ones
 * (`*.kubernetes.io/…`), except kubectl's last-applied copy of the whole object (it can hold env values).
 * Anything else an annotation holds is not snatguard's to copy into a file meant to be shared.
 */
export function keptAnnotation(key: string): boolean {
  if (key === 'kubectl.kubernetes.io/last-applied-configuration') return false;
  return key.startsWith('snatguard.io/') || /(^|\.)kubernetes\.io\//.test(key);
}

/** aws-node env kept: every variable except credential-like ones (the advice reads AWS_VPC_K8S_CNI_*). */
export function keptEnv(key: string): boolean {
  return !/TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|ACCESS_KEY|PRIVATE|_KEY$/i.test(key);
}

/** Labels the controllers add to pods, not part of the workload's own labels. */
const CONTROLLER_LABELS = new Set([
  'pod-template-hash',
  'controller-revision-hash',
  'pod-template-generation',
  'statefulset.kubernetes.io/pod-name',
  'apps.kubernetes.io/pod-index',
  'batch.kubernetes.io/controller-uid',
  'batch.kubernetes.io/job-name',
  'controller-uid',
  'job-name',
]);

const SNAPSHOT_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'Pod']);

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The snapshot document for what was read. */
export function buildSnapshot(input: CaptureInput): SnapshotDoc {
  const missing = [...input.missing];
  const nodes = input.nodes.map((n) => docNode(n, input));
  const workloads = docWorkloads(input, missing);
  const doc: SnapshotDoc = {
    apiVersion: 'snatguard.io/v1',
    kind: 'Snapshot',
    metadata: {
      name: input.name,
      capture: {
        at: input.at.toISOString(),
        nodes: input.selection,
        ...(missing.length > 0 ? { missing } : {}),
      },
    },
    cloud: docCloud(input),
    cluster: docCluster(input),
    nodes,
    workloads,
  };
  return doc;
}

function docCloud(input: CaptureInput): SnapshotDoc['cloud'] {
  const { facts } = input;
  if (input.provider === 'azure') {
    const a = input.azure ?? {};
    const f = facts.azure ?? {};
    const lb: NonNullable<NonNullable<SnapshotDoc['cloud']['azure']>['loadBalancer']> = {};
    if (f.allocatedOutboundPorts !== undefined) lb.allocatedOutboundPorts = f.allocatedOutboundPorts;
    if (f.outboundIPs !== undefined) lb.outboundIPs = f.outboundIPs;
    if (f.idleTimeoutMinutes !== undefined) lb.idleTimeoutMinutes = f.idleTimeoutMinutes;
    const outboundType = f.outboundType as NonNullable<SnapshotDoc['cloud']['azure']>['outboundType'];
    const nodeResourceGroup = nodeResourceGroupOf(input.nodes);
    return {
      provider: 'azure',
      azure: {
        ...(a.subscriptionId ? { subscriptionId: a.subscriptionId } : {}),
        resourceGroup: a.resourceGroup || 'unknown',
        clusterName: a.clusterName || input.name,
        location: a.location || 'unknown',
        ...(nodeResourceGroup ? { nodeResourceGroup } : {}),
        ...(outboundType &&
        ['loadBalancer', 'managedNATGateway', 'userAssignedNATGateway'].includes(outboundType)
          ? { outboundType }
          : {}),
        ...(Object.keys(lb).length > 0 ? { loadBalancer: lb } : {}),
      },
    };
  }
  if (input.provider === 'aws') {
    const a = input.aws ?? {};
    const f = facts.aws;
    const env = Object.fromEntries(
      Object.entries(f?.awsNodeEnv ?? {})
        .filter(([k]) => keptEnv(k))
        .sort(([x], [y]) => byText(x, y)),
    );
    return {
      provider: 'aws',
      aws: {
        region: a.region || 'unknown',
        clusterName: a.clusterName || input.name,
        ...(f?.natGateways.length
          ? {
              natGateways: f.natGateways.map((g) => ({
                id: g.id,
                errorPortAllocation: g.errorPortAllocation,
                activeConnectionCount: g.activeConnectionCount,
                packetsDropCount: g.packetsDropCount,
              })),
            }
          : {}),
        ...(f?.awsNodeEnv ? { awsNodeEnv: env } : {}),
      },
    };
  }
  return { provider: 'none' };
}

/** The node resource group the VMSS instances sit in (from their provider ids), as ARM spells it there. */
function nodeResourceGroupOf(nodes: readonly NodeInfo[]): string | undefined {
  for (const n of nodes) {
    const m = /\/resourceGroups\/([^/]+)\//i.exec(n.providerID ?? '');
    if (m?.[1]) return m[1];
  }
  return undefined;
}

/** Pod CIDR: the configured cluster CIDR holding every node's pod range, else the range covering them. */
function docCluster(input: CaptureInput): SnapshotDoc['cluster'] {
  const nodeRanges = input.nodes.flatMap((n) => n.podCIDRs).filter((c) => !c.includes(':'));
  const configured = input.clusterCidrs.filter((c) => !c.includes(':'));
  const holds = (outer: string, inner: string): boolean => {
    try {
      const o = parseCidr(outer);
      const i = parseCidr(inner);
      return o.prefix <= i.prefix && cidrContains(o, inner.split('/')[0]!);
    } catch {
      return false;
    }
  };
  let podCIDR =
    nodeRanges.length > 0 ? configured.find((c) => nodeRanges.every((r) => holds(c, r))) : undefined;
  podCIDR ??= covering(nodeRanges);
  const serviceCIDR = configured.find((c) => c !== podCIDR);
  return {
    ...(input.version ? { version: input.version } : {}),
    ...(podCIDR ? { podCIDR } : {}),
    ...(serviceCIDR ? { serviceCIDR } : {}),
  };
}

/** The smallest IPv4 CIDR holding all of `ranges` (`10.244.0.0/24`, `10.244.1.0/24` → `10.244.0.0/23`). */
function covering(ranges: readonly string[]): string | undefined {
  const parsed = ranges.flatMap((r) => {
    const [ip = '', bits = '32'] = r.split('/');
    const parts = ip.split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return [];
    const base = ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
    const size = 2 ** (32 - Number(bits));
    return [{ lo: base, hi: base + size - 1 }];
  });
  if (parsed.length === 0) return undefined;
  const lo = Math.min(...parsed.map((p) => p.lo));
  const hi = Math.max(...parsed.map((p) => p.hi));
  let bits = 32;
  while (bits > 0) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if ((lo & mask) >>> 0 === (hi & mask) >>> 0) break;
    bits--;
  }
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const base = (lo & mask) >>> 0;
  return `${[base >>> 24, (base >>> 16) & 255, (base >>> 8) & 255, base & 255].join('.')}/${bits}`;
}

function docNode(n: NodeInfo, input: CaptureInput): DocNode {
  const node: DocNode = { name: n.name };
  if (n.internalIP) node.internalIP = n.internalIP;
  if (n.providerID) node.providerID = n.providerID;
  const metrics: NonNullable<DocNode['metrics']> = {};
  for (const entry of input.pressure) {
    if (matchNode(entry.node, input.nodes)?.name !== n.name) continue;
    for (const s of entry.signals) {
      if (s.kind === 'snat-ports') {
        if (s.used !== undefined) metrics.usedSnatPorts = s.used;
        if (s.allocated !== undefined) metrics.allocatedSnatPorts = s.allocated;
      } else if (s.kind === 'snat-failed' && s.value !== undefined) metrics.failedSnatConnections = s.value;
      else if (s.kind === 'conntrack-allowance' && s.value !== undefined)
        metrics.conntrackAllowanceExceeded = s.value;
    }
  }
  if (Object.keys(metrics).length > 0) node.metrics = metrics;
  const read = input.perNode.get(n.name);
  if (read?.conntrack) {
    const c = read.conntrack;
    node.conntrack = {
      count: c.count,
      max: c.max,
      insertFailed: c.insertFailed,
      drop: c.drop,
      earlyDrop: c.earlyDrop,
      beLiberal: c.beLiberal,
    };
  }
  if (read?.hostSockets) node.hostSockets = aggregate(read.hostSockets, n.internalIP);
  return node;
}

function docWorkloads(input: CaptureInput, missing: string[]): DocWorkload[] {
  const groups = new Map<string, { ref: WorkloadRef; pods: CapturedPod[] }>();
  for (const read of input.perNode.values()) {
    for (const p of read.pods ?? []) {
      let ref: WorkloadRef;
      if (p.owner && SNAPSHOT_KINDS.has(p.owner.kind)) ref = p.owner;
      else if (p.owner?.kind === 'CronJob') {
        // The format has no CronJob: its Job's pods are recorded as a Job of the CronJob's name.
        ref = { ...p.owner, kind: 'Job' };
        missing.push(
          `${p.owner.namespace}/CronJob/${p.owner.name}: recorded as a Job (the format has no CronJob)`,
        );
      } else {
        if (p.owner)
          missing.push(`${p.pod.namespace}/${p.pod.name}: owner kind ${p.owner.kind} recorded as a Pod`);
        ref = { namespace: p.pod.namespace, kind: 'Pod', name: p.pod.name };
      }
      // aws-node is the format's cloud.aws.awsNodeEnv: the simulator builds the DaemonSet from it.
      if (input.provider === 'aws' && ref.namespace === 'kube-system' && ref.name === 'aws-node') continue;
      const id = `${ref.namespace}/${ref.kind}/${ref.name}`;
      const g = groups.get(id) ?? { ref, pods: [] };
      g.pods.push(p);
      groups.set(id, g);
    }
  }
  const out: DocWorkload[] = [];
  for (const [id, g] of [...groups].sort(([a], [b]) => byText(a, b))) {
    const status = input.workloads.get(id);
    const live = status && !('error' in status) ? status : undefined;
    const pods = g.pods.sort((a, b) => byText(a.pod.name, b.pod.name)).map(docPod);
    const first = g.pods[0]!.pod;
    const labels = live
      ? live.labels
      : Object.fromEntries(Object.entries(first.labels).filter(([k]) => !CONTROLLER_LABELS.has(k)));
    const annotations = Object.fromEntries(
      Object.entries(live?.annotations ?? (g.ref.kind === 'Pod' ? first.annotations : {}))
        .filter(([k]) => keptAnnotation(k))
        .sort(([a], [b]) => byText(a, b)),
    );
    const st: NonNullable<DocWorkload['status']> = {};
    if (live) {
      if (live.unavailableReplicas > 0)
        st.unavailableReplicas = Math.min(live.unavailableReplicas, live.replicas);
      if (live.updatedReplicas !== live.replicas) st.updatedReplicas = live.updatedReplicas;
      if (live.paused) st.paused = true;
    }
    const replicas = live ? live.replicas : g.ref.kind === 'Pod' ? 1 : undefined;
    // In the order the format documents them.
    out.push({
      kind: g.ref.kind as DocWorkload['kind'],
      namespace: g.ref.namespace,
      name: g.ref.name,
      ...(replicas !== undefined ? { replicas } : {}),
      ...(live?.strategy === 'Recreate' && g.ref.kind === 'Deployment'
        ? { strategy: 'Recreate' as const }
        : {}),
      labels: sorted(labels),
      annotations,
      ...(Object.keys(st).length > 0 ? { status: st } : {}),
      pods,
    });
  }
  return out;
}

const sorted = (m: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(m).sort(([a], [b]) => byText(a, b)));

function docPod(p: CapturedPod): DocPod {
  const pod: DocPod = { name: p.pod.name, node: p.pod.node };
  if (p.pod.hostNetwork) pod.hostNetwork = true;
  else if (p.pod.ip) pod.ip = p.pod.ip;
  if (p.exec !== 'ok') pod.exec = p.exec;
  if (!p.pod.hostNetwork) {
    const sockets = p.sockets ? aggregate(p.sockets, p.pod.ip) : (p.flowSockets ?? []);
    if (sockets.length > 0) pod.sockets = sockets;
  }
  return pod;
}

/**
 * A namespace's socket lines → the format's aggregated entries: listeners by local endpoint, inbound
 * connections (to a listening port) by local endpoint / remote address / state, outbound ones by remote
 * endpoint / state / family (the local side is then the pod's address and an ephemeral port, as the
 * simulator renders it). An outbound socket from another local address keeps its exact local endpoint.
 */
export function aggregate(entries: readonly SocketEntry[], ownAddress: string | undefined): DocSocket[] {
  const familyOf = (e: SocketEntry): NonNullable<DocSocket['family']> =>
    e.table === 'tcp6' ? (e.family === 'ipv4' ? 'ipv4-mapped' : 'ipv6') : 'ipv4';
  const localOf = (e: SocketEntry): string => {
    // An IPv4-mapped local address is shown by the parser as IPv4 only when the remote is mapped too.
    const address = e.localAddress.startsWith('::ffff:') ? e.localAddress.slice(7) : e.localAddress;
    return formatEndpoint(address, e.localPort);
  };
  // As the summarizer decides it: a port listened on in either table makes its sockets inbound.
  const listening = new Set<number>();
  for (const e of entries) if (e.state === 'LISTEN') listening.add(e.localPort);
  const counts = new Map<string, { socket: DocSocket; count: number }>();
  const add = (key: string, socket: DocSocket): void => {
    const c = counts.get(key);
    if (c) c.count++;
    else counts.set(key, { socket, count: 1 });
  };
  for (const e of entries) {
    const family = familyOf(e);
    const fam = family === 'ipv4' ? {} : { family };
    if (e.state === 'LISTEN') {
      const local = localOf(e);
      add(`L ${local} ${family}`, { local, state: 'LISTEN', ...fam });
    } else if (listening.has(e.localPort)) {
      const local = localOf(e);
      add(`I ${local} ${e.remoteAddress} ${e.state} ${family}`, {
        remote: e.remoteAddress,
        local,
        state: e.state,
        ...fam,
      });
    } else {
      const remote = formatEndpoint(e.remoteAddress, e.remotePort);
      const address = e.localAddress.startsWith('::ffff:') ? e.localAddress.slice(7) : e.localAddress;
      // The format gives a pod one (IPv4) address; its own IPv6 address (any but loopback and link-local)
      // is the one the simulator derives for it, so only a foreign local address is written out.
      const ownV6 = e.family === 'ipv6' && !/^(::1$|fe80:)/i.test(address);
      if (ownAddress !== undefined && address !== ownAddress && !ownV6) {
        const local = localOf(e);
        add(`O ${local} ${remote} ${e.state} ${family}`, { remote, local, state: e.state, ...fam });
      } else add(`O ${remote} ${e.state} ${family}`, { remote, state: e.state, ...fam });
    }
  }
  return [...counts.values()]
    .sort(
      (a, b) =>
        (a.socket.state === 'LISTEN' ? 0 : 1) - (b.socket.state === 'LISTEN' ? 0 : 1) || b.count - a.count,
    )
    .map(({ socket, count }) => (count === 1 ? socket : { ...socket, count }));
}

/** conntrack's TCP states → the socket state the format names (the kernel shows both FIN_WAITs as FIN_WAIT). */
const FLOW_STATE: Record<string, TcpState> = {
  ESTABLISHED: 'ESTABLISHED',
  SYN_SENT: 'SYN_SENT',
  SYN_RECV: 'SYN_RECV',
  FIN_WAIT: 'FIN_WAIT1',
  TIME_WAIT: 'TIME_WAIT',
  CLOSE_WAIT: 'CLOSE_WAIT',
  LAST_ACK: 'LAST_ACK',
  CLOSE: 'CLOSING',
};

/**
 * A pod exec could not read (no `cat`): its outbound TCP flows in the node's conntrack table (original
 * source = one of its addresses), as sockets per destination / state / family. What the table holds
 * is what the `conntrack` attribution method counts for that pod, so replay counts the same.
 */
export function socketsFromFlows(flows: readonly FlowGroup[], podIps: readonly string[]): DocSocket[] {
  const mine = new Set(podIps);
  const counts = new Map<string, { socket: DocSocket; count: number }>();
  for (const f of flows) {
    if (f.protocol !== 'tcp' || !mine.has(f.original.src) || f.original.dport === undefined) continue;
    const state = FLOW_STATE[f.state ?? ''];
    if (state === undefined) continue;
    const remote = formatEndpoint(f.original.dst, f.original.dport);
    const family = f.family === 'ipv6' ? { family: 'ipv6' as const } : {};
    const key = `${remote} ${state} ${f.family}`;
    const n = f.count ?? 1;
    const c = counts.get(key);
    if (c) c.count += n;
    else counts.set(key, { socket: { remote, state, ...family }, count: n });
  }
  return [...counts.values()]
    .sort((a, b) => b.count - a.count)
    .map(({ socket, count }) => (count === 1 ? socket : { ...socket, count }));
}
