// The data that flows between the stages of one run (see shared/DESIGN.md, "The pipeline").
// Pure types only: no behaviour beyond tiny helpers that name things the same way everywhere.

// ---------------------------------------------------------------- sockets

export type TcpState =
  | 'ESTABLISHED'
  | 'SYN_SENT'
  | 'SYN_RECV'
  | 'FIN_WAIT1'
  | 'FIN_WAIT2'
  | 'TIME_WAIT'
  | 'CLOSE'
  | 'CLOSE_WAIT'
  | 'LAST_ACK'
  | 'LISTEN'
  | 'CLOSING'
  | 'NEW_SYN_RECV'
  | 'UNKNOWN';

/** The family a socket's peer belongs to; an IPv4-mapped peer (`::ffff:a.b.c.d`) in tcp6 is `ipv4`. */
export type AddressFamily = 'ipv4' | 'ipv6';

/** One parsed line of /proc/net/tcp or /proc/net/tcp6. Addresses are canonical text (`10.0.0.1`, `2001:db8::1`). */
export interface SocketEntry {
  sl: number;
  /** The file the line came from: `tcp` (4-hex-word addresses absent) or `tcp6`. */
  table: 'tcp' | 'tcp6';
  /** Family of the remote address after unmapping `::ffff:a.b.c.d`. */
  family: AddressFamily;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  state: TcpState;
  txQueue: number;
  rxQueue: number;
  timerActive: number;
  timerExpires: number;
  retransmits: number;
  uid: number;
  timeout: number;
  inode: number;
}

export type AddressClass =
  | 'loopback'
  | 'private'
  | 'shared'
  | 'link-local'
  | 'unique-local'
  | 'multicast'
  | 'unspecified'
  | 'cluster'
  | 'non-snat'
  | 'public';

/** Sockets to one destination ip:port. `remote` is `a.b.c.d:port` or `[v6]:port`. */
export interface DestinationCount {
  remote: string;
  address: string;
  port: number;
  sockets: number;
  byState: Partial<Record<TcpState, number>>;
}

/** What one /proc/net/tcp{,6} table says, as DESIGN.md defines SNAT-consuming sockets. */
export interface SocketSummary {
  lines: number;
  parsed: number;
  malformed: number;
  byState: Partial<Record<TcpState, number>>;
  listening: number;
  inbound: number;
  outbound: number;
  /** Outbound, not LISTEN/CLOSE, remote public after cluster and non-SNAT CIDRs. */
  snatSockets: number;
  /** SNAT-consuming sockets by destination, sorted by sockets desc then remote asc. */
  destinations: DestinationCount[];
}

// ---------------------------------------------------------------- conntrack

export interface ConntrackReading {
  count: number;
  max: number;
  beLiberal: boolean;
  insertFailed: number;
  drop: number;
  earlyDrop: number;
  invalid?: number;
}

// ---------------------------------------------------------------- cluster

export type WorkloadKind =
  | 'Deployment'
  | 'StatefulSet'
  | 'DaemonSet'
  | 'ReplicaSet'
  | 'Job'
  | 'CronJob'
  | 'Pod';

export interface WorkloadRef {
  namespace: string;
  kind: WorkloadKind | string;
  name: string;
}

export const workloadId = (w: WorkloadRef): string => `${w.namespace}/${w.kind}/${w.name}`;
export const nodeSubject = (node: string): string => `node/${node}`;

export interface NodeInfo {
  name: string;
  internalIP?: string;
  providerID?: string;
  labels: Record<string, string>;
  ready: boolean;
  podCIDRs: string[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
}

export interface PodRef {
  namespace: string;
  name: string;
  container?: string;
}

export interface PodInfo extends PodRef {
  node: string;
  ip?: string;
  /** status.podIPs (dual-stack: one per family); `ip` is the first. */
  ips?: string[];
  /** metadata.uid: the kubelet names the pod's cgroup after it (nodeProbeFallback). */
  uid?: string;
  hostNetwork: boolean;
  phase: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  ownerReferences: OwnerReference[];
  containers: string[];
}

/** The live state of a workload that the rails look at. */
export interface WorkloadStatus {
  ref: WorkloadRef;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** spec.replicas (DaemonSet: desiredNumberScheduled). */
  replicas: number;
  updatedReplicas: number;
  availableReplicas: number;
  unavailableReplicas: number;
  paused: boolean;
  generation: number;
  observedGeneration: number;
  /** Deployment spec.strategy.type (RollingUpdate | Recreate); absent for other kinds. */
  strategy?: string;
  /** metadata.resourceVersion as read: the restart patch's precondition. */
  resourceVersion?: string;
}

export interface ExecLimits {
  timeoutMs: number;
  maxBytes: number;
}

// ---------------------------------------------------------------- pressure

export interface TimeWindow {
  start: Date;
  end: Date;
}

export type SignalKind =
  | 'snat-ports' // used / allocated SNAT ports (Azure LB, per backend)
  | 'snat-failed' // failed SNAT connections (Azure LB per backend, NAT gateway)
  | 'natgw-port-allocation' // AWS ErrorPortAllocation / Azure NAT gateway failed SNAT
  | 'natgw-packets-dropped'
  | 'natgw-active-connections'
  | 'conntrack-allowance' // AWS ENA conntrack_allowance_exceeded
  | 'conntrack'; // node probe: nf_conntrack count / max

export interface PressureSignal {
  kind: SignalKind;
  /** Which source said it, e.g. `azure-load-balancer`, `aws-nat-gateway:nat-0a1b`. */
  source?: string;
  used?: number;
  allocated?: number;
  ratio?: number;
  value?: number;
}

/** How a cloud names a node: any one of these that matches a Node object is enough. */
export interface NodeKey {
  name?: string;
  internalIP?: string;
  providerID?: string;
  instanceId?: string;
}

export interface NodePressure {
  node: NodeKey;
  signals: PressureSignal[];
}

/** Facts about the cloud side that the advice needs; every field optional. */
export interface CloudFacts {
  provider: 'azure' | 'aws' | 'none';
  azure?: {
    outboundType?: string;
    allocatedOutboundPorts?: number;
    outboundIPs?: number;
    idleTimeoutMinutes?: number;
    nodeCount?: number;
    natGateway?: { failedSnat: number; totalConnections: number; packetsDropped: number };
    /** The node pools sit in the cluster's own VNet (an agent pool subnet outside the node resource group). */
    customVnet?: boolean;
    /** The first agent pool subnet of an own VNet, for the commands. */
    vnetSubnet?: { resourceGroup: string; vnet: string; subnet: string };
  };
  aws?: {
    natGateways: {
      id: string;
      errorPortAllocation: number;
      activeConnectionCount: number;
      packetsDropCount: number;
      ips?: number;
    }[];
    awsNodeEnv?: Record<string, string>;
    /** aws-node as the EKS managed add-on vpc-cni (DescribeAddon); undefined = not known. */
    vpcCniAddon?: { managed: boolean; configurationValues?: string };
  };
}

export interface PressureReading {
  nodes: NodePressure[];
  facts: Partial<CloudFacts>;
  errors: RunError[];
}

// ---------------------------------------------------------------- analysis

export interface HotNode {
  name: string;
  internalIP?: string;
  signals: PressureSignal[];
  /** Why it is hot, human readable (`snat ports 1024/1024`, `42 failed SNAT connections`). */
  reasons: string[];
}

export type InspectionStatus = 'ok' | 'uninspectable' | 'failed';

export interface PodInspection {
  pod: PodInfo;
  status: InspectionStatus;
  /** Set for hostNetwork namespaces: the summary stands for the node, not the pod. */
  nodeLevel: boolean;
  reason?: string;
  summary?: SocketSummary;
  /** How `summary` was measured: the pod's own socket tables (default) or the node's conntrack table. */
  method?: AttributionMethod;
  /** Sockets per destination, per state: kept for TIME_WAIT advice. */
  bytes?: number;
  durationMs?: number;
}

/** Which measurement counted an offender's sockets: the pod's /proc/net/tcp{,6} or the node's conntrack table. */
export type AttributionMethod = 'exec' | 'conntrack';

export interface Offender {
  workload: string;
  method?: AttributionMethod;
  ref: WorkloadRef;
  node: string;
  pods: string[];
  snatSockets: number;
  share: number;
  topDestinations: { remote: string; sockets: number; timeWait?: number }[];
  /** Why it is an offender: `threshold` or the destination rule that matched. */
  matched: string[];
  /** The largest count a single pod holds to one rule-matching destination port. */
  maxSocketsPerPod?: number;
  /** With more than one pod: the pods holding the most SNAT-consuming sockets, most first (at most 3). */
  topPods?: { pod: string; sockets: number }[];
}

// ---------------------------------------------------------------- plan and act

/** Every reason a restart can be skipped for (shared/DESIGN.md, "Safety rails"). */
export const SKIP_REASONS = [
  'DRY_RUN',
  'COOLDOWN',
  'MAX_PER_RUN',
  'EXCLUDED_NAMESPACE',
  'NOT_SELECTED',
  'OPTED_OUT',
  'ROLLOUT_IN_PROGRESS',
  'UNHEALTHY',
  'PAUSED',
  'SINGLE_REPLICA',
  'UNSUPPORTED_KIND',
  'BELOW_THRESHOLD',
  'RAIL_CHECK_FAILED',
  'RECREATE_STRATEGY',
  'SETTLING',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export type ActionStatus = 'planned' | 'applied' | 'skipped' | 'failed';

export interface Action {
  kind: 'restart';
  workload: string;
  status: ActionStatus;
  skipReason?: SkipReason;
  reason: string;
  node?: string;
  snatSockets?: number;
  error?: string;
  /** status applied, but the read-back that confirms it failed: the patch was accepted, not yet seen. */
  unconfirmed?: boolean;
}

export type Severity = 'info' | 'warning' | 'critical';

/** The recommendation ids of the contract (shared/DESIGN.md): tools match on them. */
export const RECOMMENDATION_IDS = [
  'CONNECTION_POOLING',
  'TIME_WAIT_CHURN',
  'AZURE_LB_OUTBOUND_PORTS',
  'AZURE_NAT_GATEWAY',
  'AWS_RANDOMIZESNAT_PRNG',
  'AWS_EXTERNALSNAT',
  'AWS_NATGW_ADD_IPS',
  'CONNTRACK_RAISE_MAX',
  'CONNTRACK_BE_LIBERAL',
  'UNINSPECTABLE_PODS',
  'SNAT_EXHAUSTION_FORECAST',
  'SNAT_ALLOCATION_DRIFT',
] as const;
export type RecommendationId = (typeof RECOMMENDATION_IDS)[number];

export interface Recommendation {
  id: RecommendationId;
  severity: Severity;
  title: string;
  detail: string;
  /** The exact command or setting to apply. */
  fix: string;
  workload?: string;
  node?: string;
}

// ---------------------------------------------------------------- report

export type Stage =
  | 'config'
  | 'lock'
  | 'pressure'
  | 'nodes'
  | 'inspect'
  | 'conntrack'
  | 'owners'
  | 'plan'
  | 'act'
  | 'state'
  | 'notify';

export interface RunError {
  stage: Stage;
  target: string;
  message: string;
}

export interface NodeReport {
  name: string;
  hot: boolean;
  signals: PressureSignal[];
  reasons?: string[];
  podsInspected: number;
  /** Pods with no way in (no `cat`): the one count every output shows. */
  podsUninspectable: number;
  /** Pods whose read failed (timeout, exec error): named in RunReport.errors. */
  podsFailed?: number;
  /** SNAT-consuming sockets over the node's pods and its own namespace (every node whose pods were read). */
  snatSockets?: number;
  /** The node's busiest destination ip:port and its SNAT-consuming sockets (SNAT ports go per destination). */
  busiestDestination?: { remote: string; sockets: number };
  conntrack?: ConntrackReading & { ratio: number; insertFailedDelta?: number; dropDelta?: number };
  /**
   * The node's conntrack table (the `conntrack` attribution method): source-NATed flows, how many no pod
   * on the node owns, how many pods without `cat` were counted from it, and `hidden` when the cloud
   * reports pressure but the table shows no SNAT (the datapath translates outside netfilter).
   */
  snatFlows?: {
    snat: number;
    unattributed: number;
    podsAttributed: number;
    truncated: boolean;
    malformed: number;
    hidden?: string;
  };
}

/**
 * What the run saw (shared/DESIGN.md): complete = everything it meant to read was read; partial = some of
 * it (pods, nodes or sources failed, or the deadline cut it short); failed = it could not look; skipped =
 * another live run holds the lock.
 */
export const RUN_STATUSES = ['complete', 'partial', 'failed', 'skipped'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export interface RunReport {
  apiVersion: 'snatguard.io/v1';
  kind: 'RunReport';
  runId: string;
  startedAt: string;
  finishedAt: string;
  mode: Mode;
  cluster: string;
  provider: 'azure' | 'aws' | 'none';
  status?: RunStatus;
  /** A short reason for a status other than complete (`deadline`, `cluster unreachable: …`). */
  statusReason?: string;
  /** Set when the run did not act: `locked` (another run holds the Lease), `deadline`. */
  skipped?: string;
  nodes: NodeReport[];
  offenders: Omit<Offender, 'ref'>[];
  actions: Action[];
  recommendations: Recommendation[];
  errors: RunError[];
  /**
   * Per workload per node whose pods were read: its SNAT-consuming sockets and its busiest destination,
   * offender or not (the figures `--output openmetrics` exports). Workloads holding none are left out.
   */
  workloads?: WorkloadSockets[];
  stats?: { podsListed: number; execs: number; durationMs: number };
}

export interface WorkloadSockets {
  /** `namespace/Kind/name`, or `node/NAME` for the node's own (hostNetwork) namespace. */
  workload: string;
  node: string;
  snatSockets: number;
  busiestDestination?: { remote: string; sockets: number };
}

export type Mode = 'dry-run' | 'restart';

// ---------------------------------------------------------------- state (ConfigMap)

export interface NotifyRecord {
  firstSeen: string;
  lastSent: string;
  severity: Severity;
}

/** One sample of a forecast series: `[ISO time, SNAT-consuming sockets]` (a pair keeps the ConfigMap small). */
export type ForecastPoint = [at: string, sockets: number];

/**
 * Early warning across runs (src/analysis/forecast.ts), kept in the state ConfigMap and bounded:
 * at most MAX_SERIES series of MAX_POINTS points each, and one entry per node.
 */
export interface ForecastHistory {
  /** Per node, at the last run that saw it: SNAT ports allocated and used (the cloud's, or provider none's budget). */
  nodes: Record<string, { at: string; allocated: number; used?: number }>;
  /** The cluster at the last run: what an allocation drift is explained by. */
  cluster?: { at: string; nodes: number; allocatedOutboundPorts?: number; outboundIPs?: number };
  /** `node|namespace/Kind/name` → its SNAT-consuming sockets to its busiest destination, oldest first. */
  series: Record<string, { destination: string; points: ForecastPoint[] }>;
}

export interface RunState {
  /** Last conntrack counters per node, to see insert_failed / drop grow between runs. */
  conntrack: Record<string, { insertFailed: number; drop: number; earlyDrop: number; at: string }>;
  /** Alert fingerprints → when first seen and last sent (notify dedup). */
  notified: Record<string, NotifyRecord>;
  /** Early warning (absent in states written before it existed). */
  history?: ForecastHistory;
}

export const emptyState = (): RunState => ({ conntrack: {}, notified: {} });
