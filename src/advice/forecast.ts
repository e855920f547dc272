// Advice for the early warning: SNAT_EXHAUSTION_FORECAST and SNAT_ALLOCATION_DRIFT (src/analysis/forecast.ts).
import type { Drift, Forecast } from '../analysis/forecast.js';
import type { Recommendation } from '../model.js';
import { smallestLbSetting } from './capacity.js';
import { listSome, num, pct, plural } from './format.js';

const rfc3339 = (iso: string): string => iso.replace(/\.\d{3}Z$/, 'Z');

/** A workload's sockets to one destination are rising toward the node's allocated ports. */
export function forecastAdvice(f: Forecast, preemptive: boolean): Recommendation {
  const [namespace = '', kind = '', name = ''] = f.workload.split('/');
  const minutes = Math.max(1, Math.round(f.minutesToExhaustion));
  const rate = Math.round(f.trend.slope * 10) / 10;
  return {
    id: 'SNAT_EXHAUSTION_FORECAST',
    severity: 'warning',
    title: `${f.workload} is projected to exhaust node ${f.node}'s SNAT ports to ${f.destination} in ~${minutes} min`,
    detail:
      `Its SNAT-consuming sockets to ${f.destination} rose from ${num(f.trend.first)} to ${num(f.trend.last)} over ` +
      `${plural(f.trend.points, 'run')} (${num(Math.round(f.trend.minutes))} min): ${num(rate)} sockets/min ` +
      `(Theil–Sen slope, ${pct(f.trend.risingShare)} of sample pairs rising). The node holds ${num(f.nodeSockets)} ` +
      `of its ${num(f.allocated)} allocated ports to that destination; at this rate they run out at ` +
      `${rfc3339(f.exhaustedAt)}. ` +
      (preemptive
        ? 'rails.preemptive is true: the restart is planned through the same rails.'
        : 'Nothing is restarted for a forecast (rails.preemptive is false).'),
    fix:
      kind === 'Deployment' || kind === 'StatefulSet' || kind === 'DaemonSet'
        ? `Find the leak (connection pool of ${f.workload}); to buy time: kubectl rollout restart ${kind.toLowerCase()}/${name} -n ${namespace}`
        : `Find the leak (connection pool of ${f.workload}) before the node's ports run out`,
    workload: f.workload,
    node: f.node,
  };
}

/** The ports each node is allocated dropped between runs. */
export function driftAdvice(
  d: Drift,
  target: { resourceGroup?: string; cluster?: string },
  nodeCount: number,
): Recommendation {
  const rg = target.resourceGroup || '<resource-group>';
  const cluster = target.cluster || '<cluster>';
  let fix = 'Check the outbound settings of the cluster (load balancer outbound rule, NAT gateway IPs)';
  if (d.scaleOut) {
    const want = smallestLbSetting({ nodes: nodeCount, wantPortsPerNode: d.from });
    fix = want.feasible
      ? `az aks update --resource-group ${rg} --name ${cluster} --load-balancer-outbound-ports ${want.allocatedOutboundPorts} --load-balancer-managed-outbound-ip-count ${want.outboundIPs}` +
        ' (explicit ports stop the default table from halving them at the next step; plan with snatguard capacity)'
      : `snatguard capacity --nodes ${nodeCount} --want-ports ${d.from} (${want.reason}): consider a NAT gateway`;
  }
  return {
    id: 'SNAT_ALLOCATION_DRIFT',
    severity: 'warning',
    title: `SNAT ports per node dropped from ${num(d.from)} to ${num(d.to)} on ${plural(d.nodes.length, 'node')}`,
    detail:
      `Cause: ${d.cause}. Every affected node now runs out at ${num(d.to)} flows to one destination instead of ` +
      `${num(d.from)}: workloads that were fine can make it hot without holding one socket more. ` +
      `Nodes: ${listSome(d.nodes, 5)}.`,
    fix,
    ...(d.nodes.length === 1 ? { node: d.nodes[0] } : {}),
  };
}
