// Outbound capacity arithmetic: Azure Standard Load Balancer SNAT ports (AKS), Azure NAT gateway,
// AWS NAT gateway. Pure: numbers in, numbers out. Sources: shared/reference/cloud-facts.md §2, §3, §7.
import { SnatguardError } from '../errors.js';
import { num } from './format.js';

/** Ports each load-balancer frontend IP offers for SNAT. */
export const LB_PORTS_PER_IP = 64_000;
/** `managedOutboundIPs.count` range (`--load-balancer-managed-outbound-ip-count`). */
export const LB_MIN_OUTBOUND_IPS = 1;
export const LB_MAX_OUTBOUND_IPS = 100;
/** `allocatedOutboundPorts` must be a multiple of this, in 0–64000 (0 = the default table). */
export const LB_PORT_STEP = 8;
export const LB_MAX_ALLOCATED_PORTS = 64_000;
/** Default allocation gives the table's ports per frontend IP, but never more than this per backend. */
export const LB_DEFAULT_MAX_PORTS_PER_NODE = 1024;
/** The default allocation table by backend pool size: [largest pool size, ports per IP configuration]. */
export const LB_DEFAULT_TABLE: readonly (readonly [number, number])[] = [
  [50, 1024],
  [100, 512],
  [200, 256],
  [400, 128],
  [800, 64],
  [1000, 32],
];
export const LB_DEFAULT_MAX_POOL = 1000;
/**
 * Surge nodes assumed when none is given. AKS's "one buffer node" during upgrades *is* the default
 * maxSurge of 1: it is counted once, not on top of an explicit maxSurge.
 */
export const AKS_DEFAULT_MAX_SURGE = 1;

/** Azure NAT gateway: ports per public IP (allocated on demand, no per-VM preallocation) and IPs per gateway. */
export const AZURE_NATGW_PORTS_PER_IP = 64_512;
export const AZURE_NATGW_MAX_IPS = 16;

/** AWS NAT gateway: simultaneous connections per IP to one unique destination, and IPs per gateway. */
export const AWS_NATGW_CONNECTIONS_PER_DESTINATION_PER_IP = 55_000;
export const AWS_NATGW_MAX_IPS = 8;
/** AWS's default quota of Elastic IPs per NAT gateway (raise it before associating more). */
export const AWS_NATGW_DEFAULT_IP_QUOTA = 2;

/** A number outside what the cloud accepts, or a question the arithmetic cannot answer. */
export class CapacityError extends SnatguardError {}

const isInt = (n: number): boolean => Number.isInteger(n);

function requireInt(name: string, n: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!isInt(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}–${max}`;
    throw new CapacityError(`${name} must be an integer ${range}, got ${n}`);
  }
}

/** Problems with an `allocatedOutboundPorts` value, empty when valid. */
export function allocatedPortsProblems(ports: number): string[] {
  if (!isInt(ports) || ports < 0 || ports > LB_MAX_ALLOCATED_PORTS) {
    return [`allocatedOutboundPorts must be an integer 0–${LB_MAX_ALLOCATED_PORTS}, got ${ports}`];
  }
  if (ports % LB_PORT_STEP !== 0) {
    return [`allocatedOutboundPorts must be a multiple of ${LB_PORT_STEP}, got ${ports}`];
  }
  return [];
}

/** The default table: ports per frontend IP for a backend pool of `poolSize` nodes. */
export function defaultPortsPerIp(poolSize: number): number {
  requireInt('backend pool size', poolSize, 1);
  for (const [upTo, ports] of LB_DEFAULT_TABLE) if (poolSize <= upTo) return ports;
  throw new CapacityError(
    `the default port allocation stops at ${LB_DEFAULT_MAX_POOL} backend instances (got ${poolSize}); set allocatedOutboundPorts`,
  );
}

export const roundUpToStep = (ports: number): number => Math.ceil(ports / LB_PORT_STEP) * LB_PORT_STEP;
export const roundDownToStep = (ports: number): number => Math.floor(ports / LB_PORT_STEP) * LB_PORT_STEP;

export interface LbSetting {
  /** Nodes in the backend pool (the load balancer's view: every node of every pool). */
  nodes: number;
  outboundIPs: number;
  /** 0 = the default table. */
  allocatedOutboundPorts: number;
}

/**
 * Ports each node gets. Explicit: exactly `allocatedOutboundPorts`, whatever the IP count.
 * Default: the table's ports per frontend IP × IPs, capped at 1024 per node.
 */
export function portsPerNode(s: LbSetting): number {
  requireInt('nodes', s.nodes, 1);
  requireInt('outboundIPs', s.outboundIPs, LB_MIN_OUTBOUND_IPS, LB_MAX_OUTBOUND_IPS);
  const problems = allocatedPortsProblems(s.allocatedOutboundPorts);
  if (problems.length > 0) throw new CapacityError(problems.join('; '));
  if (s.allocatedOutboundPorts > 0) return s.allocatedOutboundPorts;
  return Math.min(LB_DEFAULT_MAX_PORTS_PER_NODE, defaultPortsPerIp(s.nodes) * s.outboundIPs);
}

/** Nodes an explicit setting can serve: floor(64,000 × IPs / ports). */
export function maxNodesFor(outboundIPs: number, allocatedOutboundPorts: number): number {
  requireInt('outboundIPs', outboundIPs, LB_MIN_OUTBOUND_IPS, LB_MAX_OUTBOUND_IPS);
  requireInt('allocatedOutboundPorts', allocatedOutboundPorts, LB_PORT_STEP, LB_MAX_ALLOCATED_PORTS);
  return Math.floor((LB_PORTS_PER_IP * outboundIPs) / allocatedOutboundPorts);
}

export interface LbEvaluation {
  mode: 'default' | 'explicit';
  nodes: number;
  maxSurge: number;
  /** nodes + maxSurge: what the pool holds during an upgrade. */
  plannedNodes: number;
  outboundIPs: number;
  allocatedOutboundPorts: number;
  /** Ports each node gets with `nodes` in the pool. */
  portsPerNode: number;
  /** Ports each node gets with `plannedNodes` in the pool (the default table can halve them). */
  portsPerNodeDuringSurge: number;
  /**
   * Explicit: floor(64,000 × IPs / ports). Default: the largest pool (≤ 1000) that still gets
   * `portsPerNode` from the table, i.e. where the next node would halve everyone's ports.
   */
  maxNodes: number;
  /** plannedNodes fit (explicit: within maxNodes; default: ports do not drop during surge). */
  fits: boolean;
  /** 64,000 × IPs. */
  totalPorts: number;
  /** Why this setting cannot serve the pool at all (the default table ends at 1,000 nodes). */
  problem?: string;
}

/** What a setting gives `nodes` nodes plus `maxSurge` surge nodes. */
export function evaluateLb(s: LbSetting & { maxSurge?: number }): LbEvaluation {
  const maxSurge = s.maxSurge ?? AKS_DEFAULT_MAX_SURGE;
  requireInt('maxSurge', maxSurge, 0);
  const plannedNodes = s.nodes + maxSurge;
  const totalPorts = LB_PORTS_PER_IP * s.outboundIPs;
  const pool = { nodes: s.nodes, maxSurge, plannedNodes, outboundIPs: s.outboundIPs };
  if (s.allocatedOutboundPorts === 0 && plannedNodes > LB_DEFAULT_MAX_POOL) {
    // Not a bad question: the answer is that this setting cannot serve the pool; the plan says what can.
    const now = s.nodes > LB_DEFAULT_MAX_POOL ? 0 : portsPerNode(s);
    if (now === 0) requireInt('outboundIPs', s.outboundIPs, LB_MIN_OUTBOUND_IPS, LB_MAX_OUTBOUND_IPS);
    return {
      mode: 'default',
      ...pool,
      allocatedOutboundPorts: 0,
      portsPerNode: now,
      portsPerNodeDuringSurge: 0,
      maxNodes: LB_DEFAULT_MAX_POOL,
      fits: false,
      totalPorts,
      problem: `the default allocation serves at most ${LB_DEFAULT_MAX_POOL.toLocaleString('en-US')} nodes and the pool would hold ${plannedNodes.toLocaleString('en-US')}: set allocatedOutboundPorts with enough outbound IPs (below), or use a NAT gateway`,
    };
  }
  const now = portsPerNode(s);
  if (s.allocatedOutboundPorts > 0) {
    const maxNodes = maxNodesFor(s.outboundIPs, s.allocatedOutboundPorts);
    return {
      mode: 'explicit',
      ...pool,
      allocatedOutboundPorts: s.allocatedOutboundPorts,
      portsPerNode: now,
      portsPerNodeDuringSurge: now,
      maxNodes,
      fits: plannedNodes <= maxNodes,
      totalPorts,
    };
  }
  const during = portsPerNode({ ...s, nodes: plannedNodes });
  let maxNodes = s.nodes;
  while (maxNodes < LB_DEFAULT_MAX_POOL && portsPerNode({ ...s, nodes: maxNodes + 1 }) === now) maxNodes++;
  return {
    mode: 'default',
    ...pool,
    allocatedOutboundPorts: 0,
    portsPerNode: now,
    portsPerNodeDuringSurge: during,
    maxNodes,
    fits: plannedNodes <= maxNodes,
    totalPorts,
  };
}

export type LbPlan =
  | {
      feasible: true;
      plannedNodes: number;
      /** The wanted ports rounded up to a multiple of 8. */
      allocatedOutboundPorts: number;
      /** The fewest IPs that serve plannedNodes at those ports: ceil(plannedNodes × ports / 64,000). */
      outboundIPs: number;
      /** floor(64,000 × IPs / ports). */
      maxNodes: number;
      /** The most ports per node those IPs could give plannedNodes (a multiple of 8, ≤ 64,000). */
      maxPortsPerNodeWithTheseIPs: number;
    }
  | {
      feasible: false;
      plannedNodes: number;
      allocatedOutboundPorts: number;
      outboundIPsNeeded: number;
      reason: string;
    };

/** The smallest LB setting (fewest IPs, ports rounded up to a multiple of 8) giving `wantPortsPerNode` each. */
export function smallestLbSetting(q: { nodes: number; maxSurge?: number; wantPortsPerNode: number }): LbPlan {
  requireInt('nodes', q.nodes, 1);
  const maxSurge = q.maxSurge ?? AKS_DEFAULT_MAX_SURGE;
  requireInt('maxSurge', maxSurge, 0);
  requireInt('wanted ports per node', q.wantPortsPerNode, 1);
  const plannedNodes = q.nodes + maxSurge;
  const ports = roundUpToStep(q.wantPortsPerNode);
  const outboundIPsNeeded = Math.ceil((plannedNodes * ports) / LB_PORTS_PER_IP);
  if (ports > LB_MAX_ALLOCATED_PORTS) {
    return {
      feasible: false,
      plannedNodes,
      allocatedOutboundPorts: ports,
      outboundIPsNeeded,
      reason: `${num(ports)} ports per node is above the load balancer's maximum of ${num(LB_MAX_ALLOCATED_PORTS)}`,
    };
  }
  if (outboundIPsNeeded > LB_MAX_OUTBOUND_IPS) {
    return {
      feasible: false,
      plannedNodes,
      allocatedOutboundPorts: ports,
      outboundIPsNeeded,
      reason: `${num(plannedNodes)} nodes × ${num(ports)} ports need ${outboundIPsNeeded} outbound IPs; the load balancer allows ${LB_MAX_OUTBOUND_IPS}`,
    };
  }
  const outboundIPs = Math.max(LB_MIN_OUTBOUND_IPS, outboundIPsNeeded);
  return {
    feasible: true,
    plannedNodes,
    allocatedOutboundPorts: ports,
    outboundIPs,
    maxNodes: maxNodesFor(outboundIPs, ports),
    maxPortsPerNodeWithTheseIPs: Math.min(
      LB_MAX_ALLOCATED_PORTS,
      roundDownToStep((LB_PORTS_PER_IP * outboundIPs) / plannedNodes),
    ),
  };
}

export interface NatGatewayPlan {
  feasible: boolean;
  plannedNodes: number;
  /** plannedNodes × wanted ports: the worst case, every node at its peak to one destination at once. */
  portsNeeded: number;
  /** ceil(portsNeeded / 64,512), at least 1; may exceed 16 when infeasible. */
  ips: number;
  /** ips × 64,512 (capped at 16 IPs). */
  ports: number;
}

/** Public IPs an Azure NAT gateway needs so every node can hold `wantPortsPerNode` to one destination. */
export function azureNatGatewayPlan(q: {
  nodes: number;
  maxSurge?: number;
  wantPortsPerNode: number;
}): NatGatewayPlan {
  requireInt('nodes', q.nodes, 1);
  const maxSurge = q.maxSurge ?? AKS_DEFAULT_MAX_SURGE;
  requireInt('maxSurge', maxSurge, 0);
  requireInt('wanted ports per node', q.wantPortsPerNode, 1);
  const plannedNodes = q.nodes + maxSurge;
  const portsNeeded = plannedNodes * q.wantPortsPerNode;
  const ips = Math.max(1, Math.ceil(portsNeeded / AZURE_NATGW_PORTS_PER_IP));
  return {
    feasible: ips <= AZURE_NATGW_MAX_IPS,
    plannedNodes,
    portsNeeded,
    ips,
    ports: Math.min(ips, AZURE_NATGW_MAX_IPS) * AZURE_NATGW_PORTS_PER_IP,
  };
}

/** Public IPs an Azure NAT gateway needs for `ports` SNAT ports in use at once (at least 1). */
export function azureNatGatewayIpsFor(ports: number): { ips: number; feasible: boolean } {
  requireInt('ports', ports, 0);
  const ips = Math.max(1, Math.ceil(ports / AZURE_NATGW_PORTS_PER_IP));
  return { ips, feasible: ips <= AZURE_NATGW_MAX_IPS };
}

/** Elastic IPs an AWS NAT gateway needs for `connections` simultaneous connections to one destination. */
export function awsNatGatewayIpsFor(connections: number): { ips: number; feasible: boolean } {
  requireInt('connections', connections, 0);
  const ips = Math.max(1, Math.ceil(connections / AWS_NATGW_CONNECTIONS_PER_DESTINATION_PER_IP));
  return { ips, feasible: ips <= AWS_NATGW_MAX_IPS };
}
