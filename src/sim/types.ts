// Shared shapes of the simulated control plane: one HTTPS server, route modules plugged into it.
//   kube (src/sim/kube/*)      Kubernetes API + exec over WebSocket + RBAC + controller
//   azure (src/sim/azure.ts)   ARM (managed cluster, load balancer, NICs, NAT gateway) + Azure Monitor metrics
//   aws (src/sim/aws.ts)       CloudWatch (JSON 1.0 protocol), EKS DescribeCluster, EC2 describe calls, STS
//   sinks (src/sim/sinks.ts)   chat webhooks (Slack, Teams, Discord, generic) that record what they receive
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Snapshot } from './snapshot.js';

export interface RecordedRequest {
  /** Which route module handled it: `kube`, `azure`, `aws`, `sink`, or `unhandled`. */
  service: string;
  method: string;
  path: string;
  query: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  status: number;
  at: number;
}

/** Derived or given metrics of one node, as the cloud would report them for the current window. */
export interface NodeMetrics {
  usedSnatPorts: number;
  allocatedSnatPorts: number;
  failedSnatConnections: number;
  conntrackAllowanceExceeded: number;
}

/** Faults a test or benchmark can inject at run time. */
export interface SimFaults {
  /** Delay before each exec answers. */
  execLatencyMs: number;
  /** Per service (`azure`, `aws`, `sink:slack`…): answer the next N requests with this status. */
  failNext: Record<string, { status: number; count: number; retryAfterSeconds?: number }>;
  /** Services that refuse every request (connection reset). */
  down: Set<string>;
}

/** The simulated world: the snapshot plus everything that changed since it was loaded. */
export interface SimWorld {
  readonly snapshot: Snapshot;
  /** Metrics of a node now (recomputed after restarts replace pods). */
  nodeMetrics(node: string): NodeMetrics;
  readonly requests: RecordedRequest[];
  readonly faults: SimFaults;
}

/**
 * Whether a route module answers this request (or leaves it to the next module) from what the world holds
 * once its namespaces and nodes are seeded (World.nodesSeeded): without reading a workload, a pod, or a
 * metric derived from pods. The server answers a request before the workloads are seeded only when every
 * module says so; a module that cannot tell says false.
 */
export type SimEarly = (req: IncomingMessage, url: URL) => boolean;

/** A route module: returns true when it handled the request. `body` is the whole request body. */
export type SimRoutes = (
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  body: Buffer,
) => boolean | Promise<boolean>;
