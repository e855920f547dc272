// Advice for AKS outbound: AZURE_LB_OUTBOUND_PORTS and AZURE_NAT_GATEWAY.
import type { NodeReport, Recommendation, Severity } from '../model.js';
import {
  AKS_DEFAULT_MAX_SURGE,
  AZURE_NATGW_MAX_IPS,
  AZURE_NATGW_PORTS_PER_IP,
  azureNatGatewayIpsFor,
  defaultPortsPerIp,
  LB_DEFAULT_MAX_POOL,
  LB_DEFAULT_MAX_PORTS_PER_NODE,
  LB_MAX_ALLOCATED_PORTS,
  LB_MAX_OUTBOUND_IPS,
  LB_PORTS_PER_IP,
  maxNodesFor,
  roundDownToStep,
  roundUpToStep,
  smallestLbSetting,
} from './capacity.js';
import { listSome, num, pct, plural } from './format.js';
import type { AdviceInput } from './types.js';

/**
 * A load-balancer plan needing more IPs than one NAT gateway can hold is the headroom rule for
 * AZURE_NAT_GATEWAY as an alternative: past that point the LB preallocates more ports per node than a
 * NAT gateway's 16 IPs hold in total, while a NAT gateway hands ports out on demand to the nodes that use them.
 */
export const NAT_GATEWAY_ALTERNATIVE_ABOVE_LB_IPS = AZURE_NATGW_MAX_IPS;

export interface NodeSnat {
  node: string;
  used: number;
  allocated: number;
  ratio: number;
  failed: number;
  /** Largest number of sockets the node's offenders hold to one destination ip:port. */
  busiestDestination?: { remote: string; sockets: number };
}

const LB_OUTBOUND_TYPES = new Set(['loadBalancer', 'loadbalancer']);
const MANAGED_NATGW = 'managedNATGateway';

function nodeSnat(n: NodeReport, input: AdviceInput): NodeSnat {
  let used = 0;
  let allocated = 0;
  let ratio = 0;
  let failed = 0;
  for (const s of n.signals) {
    if (s.kind === 'snat-ports') {
      const r = s.ratio ?? (s.allocated ? (s.used ?? 0) / s.allocated : 0);
      if (r >= ratio) {
        ratio = r;
        used = s.used ?? used;
        allocated = s.allocated ?? allocated;
      }
    } else if (s.kind === 'snat-failed') {
      failed += s.value ?? 0;
    }
  }
  const perRemote = new Map<string, number>();
  for (const o of input.offenders) {
    if (o.node !== n.name) continue;
    for (const d of o.topDestinations) perRemote.set(d.remote, (perRemote.get(d.remote) ?? 0) + d.sockets);
  }
  const [busiest] = [...perRemote.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return {
    node: n.name,
    used,
    allocated,
    ratio,
    failed,
    ...(busiest ? { busiestDestination: { remote: busiest[0], sockets: busiest[1] } } : {}),
  };
}

/** Nodes whose SNAT ports are at/over the threshold or that failed SNAT connections, busiest first. */
export function pressuredNodes(input: AdviceInput): NodeSnat[] {
  return input.nodes
    .map((n) => nodeSnat(n, input))
    .filter((s) => s.failed > 0 || (s.allocated > 0 && s.ratio >= input.thresholds.snatUsedRatio))
    .sort((a, b) => b.failed - a.failed || b.ratio - a.ratio || a.node.localeCompare(b.node));
}

/** Ports per node the cluster has now: the explicit setting, else what the metrics say, else the default table. */
function currentPortsPerNode(input: AdviceInput, nodes: number, ips: number, pressured: NodeSnat[]): number {
  const explicit = input.cloud.azure?.allocatedOutboundPorts ?? 0;
  if (explicit > 0) return explicit;
  const fromMetrics = Math.max(0, ...pressured.map((p) => p.allocated));
  if (fromMetrics > 0) return fromMetrics;
  return Math.min(
    LB_DEFAULT_MAX_PORTS_PER_NODE,
    defaultPortsPerIp(Math.min(nodes, LB_DEFAULT_MAX_POOL)) * ips,
  );
}

const names = (input: AdviceInput) => ({
  rg: input.target?.resourceGroup ?? '<resource-group>',
  cluster: input.target?.cluster ?? '<cluster>',
});

function evidence(pressured: NodeSnat[]): string {
  const lines = pressured.map(
    (p) =>
      `${p.node} ${num(p.used)}/${num(p.allocated)} SNAT ports (${pct(p.ratio)})` +
      (p.failed > 0 ? `, ${plural(p.failed, 'failed SNAT connection')}` : '') +
      (p.busiestDestination
        ? `, ${num(p.busiestDestination.sockets)} sockets to ${p.busiestDestination.remote}`
        : ''),
  );
  return listSome(lines, 3);
}

/** The smallest IPv4 public IP prefix length holding `ips` addresses (Azure prefixes are /28–/31). */
export function prefixLengthFor(ips: number): number {
  let length = 31;
  while (length > 28 && 2 ** (32 - length) < ips) length -= 1;
  return length;
}

/**
 * The move to a NAT gateway that AKS supports for this cluster (azure-aks-docs egress-outboundtype.md,
 * migration tables): managedNATGateway only for the AKS-managed VNet; in the cluster's own VNet a NAT
 * gateway is created, attached to the node subnet, and the outbound type becomes userAssignedNATGateway.
 * VNet unknown: the managed command, with the own-VNet path in the text.
 */
export function natGatewayMove(input: AdviceInput, ips: number): { fix: string; how: string } {
  const { rg, cluster } = names(input);
  const azure = input.cloud.azure ?? {};
  const managed = `az aks update --resource-group ${rg} --name ${cluster} --outbound-type managedNATGateway --nat-gateway-managed-outbound-ip-count ${ips}`;
  const sub = azure.vnetSubnet;
  const vrg = sub?.resourceGroup ?? '<vnet-resource-group>';
  const length = prefixLengthFor(ips);
  const userAssigned = [
    `az network public-ip prefix create --resource-group ${vrg} --name ${cluster}-natgw-ips --length ${length}`,
    `az network nat gateway create --resource-group ${vrg} --name ${cluster}-natgw --public-ip-prefixes ${cluster}-natgw-ips --idle-timeout 4`,
    `az network vnet subnet update --resource-group ${vrg} --vnet-name ${sub?.vnet ?? '<vnet>'} --name ${sub?.subnet ?? '<node-subnet>'} --nat-gateway ${cluster}-natgw`,
    `az aks update --resource-group ${rg} --name ${cluster} --outbound-type userAssignedNATGateway`,
  ].join(' && ');
  const ownVnet = `with the cluster in its own VNet, managedNATGateway is not supported: create a NAT gateway with a /${length} public IP prefix (${2 ** (32 - length)} IPs), attach it to the node subnet, then switch the outbound type to userAssignedNATGateway`;
  if (azure.customVnet === true)
    return {
      fix: userAssigned,
      how: `The node pools sit in your own VNet (${sub ? `${sub.vnet}/${sub.subnet}` : 'vnetSubnetID'}): ${ownVnet}.`,
    };
  if (azure.customVnet === false)
    return {
      fix: managed,
      how: 'The cluster uses the AKS-managed VNet, so AKS can create and attach the NAT gateway (managedNATGateway).',
    };
  return {
    fix: `${managed}  # own VNet: ${userAssigned}`,
    how: `Whether the node pools use the AKS-managed VNet was not read: managedNATGateway is for the managed VNet; ${ownVnet}.`,
  };
}

/** AZURE_LB_OUTBOUND_PORTS and AZURE_NAT_GATEWAY for a cluster whose egress is the AKS load balancer. */
export function azureOutbound(input: AdviceInput): Recommendation[] {
  if (input.provider !== 'azure') return [];
  const azure = input.cloud.azure ?? {};
  const outboundType = azure.outboundType ?? 'loadBalancer';
  if (outboundType === MANAGED_NATGW) return managedNatGatewayIps(input);
  if (!LB_OUTBOUND_TYPES.has(outboundType)) return [];
  const pressured = pressuredNodes(input);
  if (pressured.length === 0) return [];

  const nodes = Math.max(1, azure.nodeCount ?? input.nodeCount);
  const maxSurge = input.maxSurge ?? AKS_DEFAULT_MAX_SURGE;
  const ips = azure.outboundIPs ?? 1;
  const current = currentPortsPerNode(input, nodes, ips, pressured);
  const threshold = input.thresholds.snatUsedRatio > 0 ? input.thresholds.snatUsedRatio : 1;
  const demand = Math.max(...pressured.map((p) => Math.max(p.used, p.busiestDestination?.sockets ?? 0)));
  // Double the ports (a node at its cap hides its true demand), or enough that the peak seen sits below the threshold.
  const want = roundUpToStep(Math.max(2 * current, Math.ceil(demand / threshold)));
  const severity: Severity = pressured.some((p) => p.failed > 0) ? 'critical' : 'warning';
  const { rg, cluster } = names(input);
  const now =
    `now ${(azure.allocatedOutboundPorts ?? 0) > 0 ? `allocatedOutboundPorts ${num(current)}` : `the default allocation (${num(current)} ports per node)`}` +
    ` with ${plural(ips, 'outbound IP')} for ${plural(nodes, 'node')}`;
  const why = `${evidence(pressured)}; ${now}. Wanted: ${num(want)} ports per node (2 × ${num(current)}, or the peak ${num(demand)} at ${pct(threshold)} use, rounded up to a multiple of 8)`;

  const lb = smallestLbSetting({ nodes, maxSurge, wantPortsPerNode: want });
  // A NAT gateway hands ports out on demand: size it for twice the ports the nodes use now (hot nodes at
  // their peak), not for every node at the wanted allocation at once.
  const inUse = input.nodes.reduce((sum, n) => {
    const p = nodeSnat(n, input);
    return sum + Math.max(p.used, p.busiestDestination?.sockets ?? 0);
  }, 0);
  const natPorts = 2 * Math.max(inUse, demand);
  const nat = azureNatGatewayIpsFor(natPorts);
  const natIps = Math.min(nat.ips, AZURE_NATGW_MAX_IPS);
  const { fix: natFix, how: natHow } = natGatewayMove(input, natIps);
  const natDetail =
    `A NAT gateway gives ${num(AZURE_NATGW_PORTS_PER_IP)} SNAT ports per public IP (up to ${AZURE_NATGW_MAX_IPS}), handed out on demand to the nodes that need them rather than preallocated; ` +
    `the nodes use ${num(inUse)} ports now, twice that is ${num(natPorts)} → ${plural(natIps, 'IP')}` +
    (nat.feasible
      ? '.'
      : ` (${nat.ips} would be needed: even ${AZURE_NATGW_MAX_IPS} IPs are not enough; the demand itself has to come down — see CONNECTION_POOLING).`) +
    ` ${natHow}`;

  if (!lb.feasible) {
    return [
      {
        id: 'AZURE_NAT_GATEWAY',
        severity,
        title: `Move egress to a NAT gateway: the load balancer cannot give ${num(want)} ports to each of ${lb.plannedNodes} nodes`,
        detail: `${why}. ${lb.reason} (${num(LB_PORTS_PER_IP)} ports per IP, at most ${LB_MAX_OUTBOUND_IPS} IPs). ${natDetail}`,
        fix: natFix,
      },
    ];
  }

  const newIps = Math.max(lb.outboundIPs, ips);
  const maxNodes = maxNodesFor(newIps, lb.allocatedOutboundPorts);
  const room = Math.min(
    roundDownToStep((LB_PORTS_PER_IP * newIps) / lb.plannedNodes),
    LB_MAX_ALLOCATED_PORTS,
  );
  const out: Recommendation[] = [
    {
      id: 'AZURE_LB_OUTBOUND_PORTS',
      severity,
      title: `Raise SNAT ports per node from ${num(current)} to ${num(lb.allocatedOutboundPorts)} with ${plural(newIps, 'outbound IP')}`,
      detail:
        `${why}. For ${nodes} nodes + ${maxSurge} surge = ${lb.plannedNodes}: ${lb.plannedNodes} × ${num(lb.allocatedOutboundPorts)} = ` +
        `${num(lb.plannedNodes * lb.allocatedOutboundPorts)} ports ≤ ${num(LB_PORTS_PER_IP)} × ${newIps} IPs = ${num(LB_PORTS_PER_IP * newIps)}; ` +
        `this setting allows at most ${num(maxNodes)} nodes (floor(${num(LB_PORTS_PER_IP)} × ${newIps} / ${num(lb.allocatedOutboundPorts)})), ` +
        `and those IPs could give up to ${num(room)} ports per node. Set it through AKS: edits on the load balancer itself are reverted.`,
      fix: `az aks update --resource-group ${rg} --name ${cluster} --load-balancer-outbound-ports ${lb.allocatedOutboundPorts} --load-balancer-managed-outbound-ip-count ${newIps}`,
    },
  ];
  if (newIps > NAT_GATEWAY_ALTERNATIVE_ABOVE_LB_IPS) {
    out.push({
      id: 'AZURE_NAT_GATEWAY',
      severity: 'info',
      title: `Consider a NAT gateway: the load-balancer plan needs ${newIps} outbound IPs`,
      detail: `${why}. The load balancer preallocates ${num(lb.allocatedOutboundPorts)} ports to every node, busy or not, which takes ${newIps} IPs. ${natDetail}`,
      fix: natFix,
    });
  }
  return out;
}

/** A managed NAT gateway that failed SNAT connections: add IPs (up to 16). */
function managedNatGatewayIps(input: AdviceInput): Recommendation[] {
  const ng = input.cloud.azure?.natGateway;
  if (!ng || ng.failedSnat <= 0) return [];
  const { rg, cluster } = names(input);
  const neededForActive = Math.ceil(ng.totalConnections / AZURE_NATGW_PORTS_PER_IP) + 1;
  const ips = Math.min(AZURE_NATGW_MAX_IPS, Math.max(2, neededForActive));
  return [
    {
      id: 'AZURE_NAT_GATEWAY',
      severity: 'critical',
      title: `The NAT gateway failed ${num(ng.failedSnat)} SNAT connections: give it more public IPs`,
      detail:
        `The cluster's managed NAT gateway reported ${plural(ng.failedSnat, 'failed SNAT connection')} with ${num(ng.totalConnections)} active connections. ` +
        `Each public IP adds ${num(AZURE_NATGW_PORTS_PER_IP)} ports (up to ${AZURE_NATGW_MAX_IPS} IPs); the same destination needs a port per connection and reuses it only after a cooldown (65 s after FIN). ` +
        `${ips} IPs is one more than the active connections need (at least 2); if the gateway already has that many, add one.`,
      fix: `az aks update --resource-group ${rg} --name ${cluster} --nat-gateway-managed-outbound-ip-count ${ips}`,
    },
  ];
}
