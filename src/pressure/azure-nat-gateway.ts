// Azure NAT gateway pressure (outboundType managedNATGateway / userAssignedNATGateway). The gateway's
// metrics have no node dimension, so the gateway-level numbers (failed SNAT connections, connections,
// dropped packets) are attached to every node in its subnets: each becomes a candidate, and the pipeline
// ranks them by the node probe's conntrack entries toward public destinations.
import type { ManagedCluster } from '@azure/arm-containerservice';
import type { NatGateway } from '@azure/arm-network';
import type { CloudFacts, NodeInfo, NodePressure, PressureReading, RunError, TimeWindow } from '../model.js';
import {
  type AzureClients,
  clusterLocation,
  type MetricAnswer,
  parseSubnetId,
  queryMetrics,
  resourceName,
  vnetFacts,
} from './azure-clients.js';
import { prefixSize } from './azure-load-balancer.js';
import { maxOf, type Point, sumOf } from './series.js';
import { inCidr4, pressureError } from './types.js';

export const AZURE_NATGW_SOURCE = 'azure-nat-gateway';
const NATGW_NAMESPACE = 'Microsoft.Network/natGateways';
export const FAILED_SNAT_FILTER = "ConnectionState eq 'Failed'";

export interface GatewayNumbers {
  failedSnat: number;
  totalConnections: number;
  packetsDropped: number;
}

/** Pure: gateway numbers → one NodePressure per node in the gateway's subnets (all nodes when unknown). */
export function natGatewayPressure(
  gateway: string,
  numbers: GatewayNumbers,
  nodes: NodeInfo[],
  prefixes: string[],
): NodePressure[] {
  const source = `${AZURE_NATGW_SOURCE}:${gateway}`;
  const member = (n: NodeInfo): boolean =>
    prefixes.length === 0 || !n.internalIP || prefixes.some((p) => inCidr4(n.internalIP as string, p));
  return nodes.filter(member).map((n) => ({
    node: { name: n.name, ...(n.internalIP ? { internalIP: n.internalIP } : {}) },
    signals: [
      { kind: 'natgw-port-allocation', source, value: numbers.failedSnat },
      { kind: 'natgw-active-connections', source, value: numbers.totalConnections },
      { kind: 'natgw-packets-dropped', source, value: numbers.packetsDropped },
    ],
  }));
}

/** The gateway behind the agent pools' subnets, else the first one in the node resource group. */
async function findGateway(
  clients: AzureClients,
  cluster: ManagedCluster,
  signal: AbortSignal,
): Promise<{ gateway?: NatGateway; prefixes: string[] }> {
  const prefixes: string[] = [];
  let gatewayId: string | undefined;
  const subnetIds = [
    ...new Set((cluster.agentPoolProfiles ?? []).map((p) => p.vnetSubnetID).filter((s): s is string => !!s)),
  ];
  for (const id of subnetIds) {
    const parts = parseSubnetId(id);
    if (!parts) continue;
    const subnet = await clients.network.subnets.get(parts.resourceGroup, parts.vnet, parts.subnet, {
      abortSignal: signal,
    });
    if (subnet.addressPrefix) prefixes.push(subnet.addressPrefix);
    for (const p of subnet.addressPrefixes ?? []) prefixes.push(p);
    gatewayId ??= subnet.natGateway?.id;
  }
  if (gatewayId) {
    const rg = /\/resourceGroups\/([^/]+)\//i.exec(gatewayId)?.[1] ?? cluster.nodeResourceGroup ?? '';
    return {
      gateway: await clients.network.natGateways.get(rg, resourceName(gatewayId), { abortSignal: signal }),
      prefixes,
    };
  }
  for await (const gw of clients.network.natGateways.list(cluster.nodeResourceGroup ?? '', {
    abortSignal: signal,
  }))
    return { gateway: gw, prefixes };
  return { prefixes };
}

export async function readNatGateway(
  clients: AzureClients,
  cluster: ManagedCluster,
  window: TimeWindow,
  signal: AbortSignal,
  listNodes?: () => Promise<NodeInfo[]>,
): Promise<PressureReading> {
  const outboundType = cluster.networkProfile?.outboundType ?? 'managedNATGateway';
  const profile = cluster.networkProfile?.natGatewayProfile;
  const facts: Partial<CloudFacts> = {
    provider: 'azure',
    azure: {
      outboundType,
      outboundIPs: profile?.managedOutboundIPProfile?.count ?? profile?.effectiveOutboundIPs?.length,
      idleTimeoutMinutes: profile?.idleTimeoutInMinutes,
      ...vnetFacts(cluster),
    },
  };
  const errors: RunError[] = [];
  const target = `azure/${cluster.nodeResourceGroup ?? ''}/natGateways`;
  let found: { gateway?: NatGateway; prefixes: string[] };
  try {
    found = await findGateway(clients, cluster, signal);
  } catch (e) {
    return { nodes: [], facts, errors: [pressureError(signal, target, 'NAT gateway lookup failed', e)] };
  }
  const gw = found.gateway;
  if (!gw?.id)
    return {
      nodes: [],
      facts,
      errors: [
        { stage: 'pressure', target, message: `no NAT gateway found for outbound type ${outboundType}` },
      ],
    };
  const gwTarget = `azure/natGateways/${gw.name ?? resourceName(gw.id)}`;
  if (facts.azure && gw.idleTimeoutInMinutes !== undefined)
    facts.azure.idleTimeoutMinutes = gw.idleTimeoutInMinutes;
  // Own public IPs and every address of its public IP prefixes give the gateway SNAT ports.
  const prefixIds = (gw.publicIpPrefixes ?? []).map((p) => p.id).filter((id): id is string => !!id);
  let prefixAddresses = 0;
  for (const id of prefixIds) {
    const rg = /\/resourceGroups\/([^/]+)\//i.exec(id)?.[1] ?? cluster.nodeResourceGroup ?? '';
    try {
      const prefix = await clients.network.publicIPPrefixes.get(rg, resourceName(id), {
        abortSignal: signal,
      });
      prefixAddresses += prefix.prefixLength ? prefixSize(prefix.prefixLength) : 1;
    } catch (e) {
      prefixAddresses += 1;
      errors.push(
        pressureError(
          signal,
          `azure/${rg}/publicIPPrefixes/${resourceName(id)}`,
          'public IP prefix lookup failed',
          e,
        ),
      );
    }
  }
  const gatewayIps = (gw.publicIpAddresses?.length ?? 0) + prefixAddresses;
  if (facts.azure && gatewayIps > 0) facts.azure.outboundIPs = gatewayIps;
  const client = clients.metrics(clusterLocation(clients.target, cluster));
  // One metric per query: a series belongs to the metric that was asked for, never to a display name.
  const query = (metric: string, filter?: string) =>
    queryMetrics(
      client,
      {
        resourceId: gw.id as string,
        namespace: NATGW_NAMESPACE,
        metric,
        aggregation: 'Total',
        ...(filter ? { filter } : {}),
      },
      window,
      signal,
    );
  const answers = await Promise.allSettled([
    query('SNATConnectionCount', FAILED_SNAT_FILTER),
    query('TotalConnectionCount'),
    query('PacketDropCount'),
  ]);
  const points = (r: PromiseSettledResult<MetricAnswer> | undefined, metric: string): Point[] | undefined => {
    if (!r) return undefined;
    if (r.status === 'rejected') {
      errors.push(pressureError(signal, gwTarget, `${metric} query failed`, r.reason));
      return undefined;
    }
    for (const f of r.value.failed)
      errors.push({ stage: 'pressure', target: `${gwTarget}/${f.metric}`, message: f.message });
    return r.value.series.flatMap((s) => s.points);
  };
  const [failedPoints, totalPoints, droppedPoints] = [
    points(answers[0], 'SNATConnectionCount'),
    points(answers[1], 'TotalConnectionCount'),
    points(answers[2], 'PacketDropCount'),
  ];
  if (!failedPoints && !totalPoints && !droppedPoints) return { nodes: [], facts, errors };
  const numbers: GatewayNumbers = {
    failedSnat: sumOf(failedPoints ?? []) ?? 0,
    // Connections per minute: the busiest minute of the window.
    totalConnections: maxOf(totalPoints ?? []) ?? 0,
    packetsDropped: sumOf(droppedPoints ?? []) ?? 0,
  };
  if (facts.azure) facts.azure.natGateway = numbers;
  if (!listNodes) {
    errors.push({
      stage: 'pressure',
      target: gwTarget,
      message: 'no node list: gateway-level pressure cannot name candidate nodes',
    });
    return { nodes: [], facts, errors };
  }
  let nodes: NodeInfo[];
  try {
    nodes = await listNodes();
  } catch (e) {
    errors.push(pressureError(signal, gwTarget, 'node list failed', e));
    return { nodes: [], facts, errors };
  }
  if (facts.azure) facts.azure.nodeCount = nodes.length;
  return {
    nodes: natGatewayPressure(gw.name ?? resourceName(gw.id), numbers, nodes, found.prefixes),
    facts,
    errors,
  };
}
