// Azure Standard Load Balancer SNAT pressure (outboundType loadBalancer): per backend IP (= node internal
// IP) the worst minute of UsedSnatPorts / AllocatedSnatPorts and the failed SNAT connections of the window.
//
// Handled and reported, not guessed: a metric that comes back with an error code; a backend in the pool
// with no data in the window (a deallocated VM: the LB stops reporting it; a node not yet reporting) is an
// `errors` entry and no NodePressure; null points (the last minute is often not ingested yet) are skipped.
import type { ManagedCluster } from '@azure/arm-containerservice';
import type { LoadBalancer } from '@azure/arm-network';
import type {
  CloudFacts,
  NodePressure,
  PressureReading,
  PressureSignal,
  RunError,
  TimeWindow,
} from '../model.js';
import {
  type AzureClients,
  clusterLocation,
  type MetricAnswer,
  queryMetrics,
  resourceName,
  type Series,
  vnetFacts,
} from './azure-clients.js';
import { sumOf, worstMinute } from './series.js';
import { pressureError } from './types.js';

export const AZURE_LB_SOURCE = 'azure-load-balancer';
const LB_NAMESPACE = 'Microsoft.Network/loadBalancers';
export const PORTS_FILTER = "BackendIPAddress eq '*' and ProtocolType eq 'TCP'";
export const FAILED_FILTER = "BackendIPAddress eq '*' and ConnectionState eq 'failed'";

/** Backend IPs of the LB's pools (IP-based `nodeIP` pools list them; NIC-based pools do not). */
export function backendIPs(lb: LoadBalancer): string[] {
  const ips = new Set<string>();
  for (const pool of lb.backendAddressPools ?? []) {
    for (const a of pool.loadBalancerBackendAddresses ?? []) if (a.ipAddress) ips.add(a.ipAddress);
  }
  return [...ips].sort();
}

/** `top` large enough for one series per node, with headroom for surge nodes. */
export const topFor = (backends: number, knownNodes: number): number =>
  Math.max(backends, knownNodes, 10) + 10;

export interface LbSeries {
  used: Series[];
  allocated: Series[];
  failed: Series[];
}

const byIp = (series: Series[]): Map<string, Series> => {
  const out = new Map<string, Series>();
  for (const s of series) {
    const ip = s.dims.backendipaddress;
    if (!ip) continue;
    const prev = out.get(ip);
    // Several frontends or series for one IP: keep the points together (worst minute looks at all of them).
    out.set(ip, prev ? { ...prev, points: [...prev.points, ...s.points] } : s);
  }
  return out;
};

/** Pure: metric series → NodePressure per backend IP, plus an error entry per pool member without data. */
export function lbPressure(series: LbSeries, pool: string[]): { nodes: NodePressure[]; errors: RunError[] } {
  const used = byIp(series.used);
  const allocated = byIp(series.allocated);
  const failed = byIp(series.failed);
  const ips = [...new Set([...pool, ...used.keys(), ...failed.keys()])].sort();
  const nodes: NodePressure[] = [];
  const errors: RunError[] = [];
  for (const ip of ips) {
    const signals: PressureSignal[] = [];
    const worst = worstMinute(used.get(ip)?.points ?? [], allocated.get(ip)?.points ?? []);
    if (worst) {
      signals.push({
        kind: 'snat-ports',
        source: AZURE_LB_SOURCE,
        used: worst.used,
        allocated: worst.allocated,
        ratio: Number.isFinite(worst.ratio) ? worst.ratio : 1,
      });
    }
    const failedSum = sumOf(failed.get(ip)?.points ?? []);
    if (failedSum !== undefined)
      signals.push({ kind: 'snat-failed', source: AZURE_LB_SOURCE, value: failedSum });
    if (signals.length === 0) {
      errors.push({
        stage: 'pressure',
        target: `ip/${ip}`,
        message: 'no SNAT port metrics in the window (VM deallocated or not reporting yet)',
      });
      continue;
    }
    nodes.push({ node: { internalIP: ip }, signals });
  }
  return { nodes, errors };
}

/** Addresses in an IPv4 prefix of this length (`/28` → 16). */
export const prefixSize = (length: number): number => 2 ** (32 - length);

/**
 * The cluster's outbound IPs: each frontend of the outbound rule is one public IP or a public IP prefix
 * (all of its addresses give SNAT ports); without the load balancer, the profile's own IPs and prefixes,
 * else its managed IP count. A prefix whose size was not read counts as one address (a lower bound).
 */
export function outboundIpCount(
  cluster: ManagedCluster,
  lb: LoadBalancer | undefined,
  prefixSizes: ReadonlyMap<string, number>,
): number | undefined {
  const sizeOf = (id: string | undefined) => (id ? (prefixSizes.get(id.toLowerCase()) ?? 1) : 1);
  const rule = outboundRule(lb);
  if (rule?.frontendIPConfigurations?.length) {
    const frontends = new Map((lb?.frontendIPConfigurations ?? []).map((f) => [f.id?.toLowerCase(), f]));
    return rule.frontendIPConfigurations.reduce((n, ref) => {
      const prefix = frontends.get(ref.id?.toLowerCase())?.publicIPPrefix?.id;
      return n + (prefix ? sizeOf(prefix) : 1);
    }, 0);
  }
  const profile = cluster.networkProfile?.loadBalancerProfile;
  const own =
    (profile?.outboundIPs?.publicIPs?.length ?? 0) +
    (profile?.outboundIPPrefixes?.publicIPPrefixes ?? []).reduce((n, p) => n + sizeOf(p.id), 0);
  if (own > 0) return own;
  return profile?.managedOutboundIPs?.count ?? profile?.effectiveOutboundIPs?.length;
}

/** Public IP prefixes the outbound path uses (frontends of the LB, or the cluster profile). */
export function outboundPrefixIds(cluster: ManagedCluster, lb: LoadBalancer | undefined): string[] {
  const ids = new Set<string>();
  for (const f of lb?.frontendIPConfigurations ?? []) if (f.publicIPPrefix?.id) ids.add(f.publicIPPrefix.id);
  for (const p of cluster.networkProfile?.loadBalancerProfile?.outboundIPPrefixes?.publicIPPrefixes ?? [])
    if (p.id) ids.add(p.id);
  return [...ids];
}

const outboundRule = (lb: LoadBalancer | undefined) =>
  lb?.outboundRules?.find((r) => r.name === 'aksOutboundRule') ?? lb?.outboundRules?.[0];

export function lbFacts(
  cluster: ManagedCluster,
  lb: LoadBalancer | undefined,
  backends: number,
  prefixSizes: ReadonlyMap<string, number> = new Map(),
): NonNullable<CloudFacts['azure']> {
  const profile = cluster.networkProfile?.loadBalancerProfile;
  const rule = outboundRule(lb);
  return {
    outboundType: cluster.networkProfile?.outboundType ?? 'loadBalancer',
    allocatedOutboundPorts: rule?.allocatedOutboundPorts ?? profile?.allocatedOutboundPorts,
    outboundIPs: outboundIpCount(cluster, lb, prefixSizes),
    idleTimeoutMinutes: rule?.idleTimeoutInMinutes ?? profile?.idleTimeoutInMinutes,
    nodeCount: backends || undefined,
    ...vnetFacts(cluster),
  };
}

/** Reads the `kubernetes` load balancer of a managed cluster whose outbound type is loadBalancer. */
export async function readLoadBalancer(
  clients: AzureClients,
  cluster: ManagedCluster,
  window: TimeWindow,
  signal: AbortSignal,
  knownNodes = 0,
): Promise<PressureReading> {
  const errors: RunError[] = [];
  const nodeRg = cluster.nodeResourceGroup ?? '';
  const lbTarget = `azure/${nodeRg}/loadBalancers/kubernetes`;
  let lb: LoadBalancer | undefined;
  try {
    lb = await clients.network.loadBalancers.get(nodeRg, 'kubernetes', { abortSignal: signal });
  } catch (e) {
    errors.push(pressureError(signal, lbTarget, 'load balancer lookup failed', e));
  }
  const pool = lb ? backendIPs(lb) : [];
  const prefixSizes = new Map<string, number>();
  await Promise.all(
    outboundPrefixIds(cluster, lb).map(async (id) => {
      const rg = /\/resourceGroups\/([^/]+)\//i.exec(id)?.[1] ?? nodeRg;
      try {
        const prefix = await clients.network.publicIPPrefixes.get(rg, resourceName(id), {
          abortSignal: signal,
        });
        if (prefix.prefixLength) prefixSizes.set(id.toLowerCase(), prefixSize(prefix.prefixLength));
      } catch (e) {
        errors.push(
          pressureError(
            signal,
            `azure/${rg}/publicIPPrefixes/${resourceName(id)}`,
            'public IP prefix lookup failed',
            e,
          ),
        );
      }
    }),
  );
  const facts: Partial<CloudFacts> = {
    provider: 'azure',
    azure: lbFacts(cluster, lb, pool.length, prefixSizes),
  };
  const resourceId =
    lb?.id ??
    `/subscriptions/${clients.target.subscriptionId}/resourceGroups/${nodeRg}/providers/Microsoft.Network/loadBalancers/kubernetes`;
  const client = clients.metrics(clusterLocation(clients.target, cluster));
  const top = topFor(pool.length, knownNodes);
  // One metric per query: a series belongs to the metric that was asked for, never to a display name.
  const query = (metric: string, aggregation: 'Average' | 'Total', filter: string) =>
    queryMetrics(
      client,
      { resourceId, namespace: LB_NAMESPACE, metric, aggregation, filter, top },
      window,
      signal,
    );
  const [used, allocated, failed] = await Promise.allSettled([
    query('UsedSnatPorts', 'Average', PORTS_FILTER),
    query('AllocatedSnatPorts', 'Average', PORTS_FILTER),
    query('SnatConnectionCount', 'Total', FAILED_FILTER),
  ]);
  const take = (r: PromiseSettledResult<MetricAnswer>, what: string): Series[] => {
    if (r.status === 'rejected') {
      errors.push(pressureError(signal, lbTarget, `${what} query failed`, r.reason));
      return [];
    }
    for (const f of r.value.failed)
      errors.push({ stage: 'pressure', target: `${lbTarget}/${f.metric}`, message: f.message });
    return r.value.series;
  };
  const lbSeries: LbSeries = {
    used: take(used, 'UsedSnatPorts'),
    allocated: take(allocated, 'AllocatedSnatPorts'),
    failed: take(failed, 'SnatConnectionCount'),
  };
  // When a query failed, missing data says nothing about the pool members: do not report them one by one.
  const queried = used.status === 'fulfilled' && allocated.status === 'fulfilled' ? pool : [];
  const result = lbPressure(lbSeries, queried);
  return { nodes: result.nodes, facts, errors: [...errors, ...result.errors] };
}
