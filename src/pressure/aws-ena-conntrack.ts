// AWS ENA conntrack allowance: per instance, the increase of the CloudWatch agent's cumulative
// `ethtool_conntrack_allowance_exceeded` counter (namespace CWAgent) over the window: packets the instance
// dropped because EC2 connection tracking was full. Instances come from the nodes' providerIDs.
//
// CloudWatch matches a metric's exact dimension set. The agent's ethtool input publishes each interface
// as {InstanceId, interface, driver}; only with `aggregation_dimensions: [["InstanceId"]]` is there also
// an {InstanceId} series. So the metrics are listed first (ListMetrics, following NextToken), and each
// instance is read through the series it really has: the per-interface ones summed when present, else
// the aggregated one. When ListMetrics is refused, the {InstanceId} layout is read as before and the
// refusal is reported.
import { ListMetricsCommand, type Metric, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import type { NodeInfo, NodePressure, PressureReading, RunError, TimeWindow } from '../model.js';
import type { PressureSource } from '../ports.js';
import { type AwsClients, awsClients, getMetricData } from './aws-clients.js';
import { counterIncrease, type Point } from './series.js';
import {
  type AwsTarget,
  instanceIdFromProviderID,
  type PressureDeps,
  pressureError,
  retryOf,
  withBound,
} from './types.js';

export const AWS_ENA_SOURCE = 'aws-ena-conntrack';
export const ENA_NAMESPACE = 'CWAgent';
export const ENA_METRIC = 'ethtool_conntrack_allowance_exceeded';
/** A bound on ListMetrics pages (500 metrics each). */
export const MAX_LIST_PAGES = 200;

export interface EnaSeries {
  instanceId: string;
  /** The exact dimension set CloudWatch has for this series. */
  dimensions: { Name: string; Value: string }[];
}

/** Pure: listed metrics → the series to read per instance (per-interface ones when any, else aggregated). */
export function enaSeries(listed: Metric[], instanceIds: string[]): Map<string, EnaSeries[]> {
  const wanted = new Set(instanceIds);
  const perInterface = new Map<string, EnaSeries[]>();
  const aggregated = new Map<string, EnaSeries[]>();
  const seen = new Set<string>();
  for (const m of listed) {
    if (m.Namespace !== undefined && m.Namespace !== ENA_NAMESPACE) continue;
    if (m.MetricName !== undefined && m.MetricName !== ENA_METRIC) continue;
    const dimensions = (m.Dimensions ?? [])
      .filter((d): d is { Name: string; Value: string } => !!d.Name && d.Value !== undefined)
      .map((d) => ({ Name: d.Name, Value: d.Value }));
    const instanceId = dimensions.find((d) => d.Name === 'InstanceId')?.Value;
    if (!instanceId || !wanted.has(instanceId)) continue;
    const key = JSON.stringify([...dimensions].sort((a, b) => a.Name.localeCompare(b.Name)));
    if (seen.has(key)) continue;
    seen.add(key);
    const into = dimensions.length === 1 ? aggregated : perInterface;
    into.set(instanceId, [...(into.get(instanceId) ?? []), { instanceId, dimensions }]);
  }
  const out = new Map<string, EnaSeries[]>();
  for (const id of instanceIds) {
    const series = perInterface.get(id) ?? aggregated.get(id);
    if (series) out.set(id, series);
  }
  return out;
}

/** One query per series; ids `c<i>` in the order given. */
export function enaQueries(series: EnaSeries[]): MetricDataQuery[] {
  return series.map((s, i) => ({
    Id: `c${i}`,
    MetricStat: {
      Metric: { Namespace: ENA_NAMESPACE, MetricName: ENA_METRIC, Dimensions: s.dimensions },
      Period: 60,
      Stat: 'Maximum',
    },
    ReturnData: true,
  }));
}

/**
 * Pure: the points of each series (by query id, in `series` order) → NodePressure per instance with data,
 * the sum of its interfaces' increases; instances without data are listed.
 */
export function enaPressure(
  instances: { node: NodeInfo; instanceId: string }[],
  series: EnaSeries[],
  points: Map<string, Point[]>,
): { nodes: NodePressure[]; missing: string[] } {
  const increase = new Map<string, number>();
  series.forEach((s, i) => {
    const inc = counterIncrease(points.get(`c${i}`) ?? []);
    if (inc !== undefined) increase.set(s.instanceId, (increase.get(s.instanceId) ?? 0) + inc);
  });
  const nodes: NodePressure[] = [];
  const missing: string[] = [];
  for (const { node, instanceId } of instances) {
    const value = increase.get(instanceId);
    if (value === undefined) {
      missing.push(instanceId);
      continue;
    }
    nodes.push({
      node: { name: node.name, instanceId, ...(node.internalIP ? { internalIP: node.internalIP } : {}) },
      signals: [{ kind: 'conntrack-allowance', source: AWS_ENA_SOURCE, value }],
    });
  }
  return { nodes, missing };
}

/** Every CWAgent ethtool_conntrack_allowance_exceeded metric with an InstanceId, following NextToken. */
export async function listEnaMetrics(aws: AwsClients, signal: AbortSignal): Promise<Metric[]> {
  const out: Metric[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  do {
    const page = await aws.cloudwatch.send(
      new ListMetricsCommand({
        Namespace: ENA_NAMESPACE,
        MetricName: ENA_METRIC,
        Dimensions: [{ Name: 'InstanceId' }],
        ...(nextToken ? { NextToken: nextToken } : {}),
      }),
      { abortSignal: signal },
    );
    out.push(...(page.Metrics ?? []));
    nextToken = page.NextToken;
    pages += 1;
  } while (nextToken && pages < MAX_LIST_PAGES);
  return out;
}

/** An IAM refusal (AccessDenied / 403), as opposed to a failing or unreachable service. */
function accessDenied(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return /^AccessDenied/.test(err?.name ?? '') || err?.$metadata?.httpStatusCode === 403;
}

const AGENT_HINT =
  "is the CloudWatch agent's ethtool input collecting conntrack_allowance_exceeded with append_dimensions InstanceId?";

export function awsEnaConntrackSource(
  target: AwsTarget,
  deps: PressureDeps = {},
  clients?: AwsClients,
  maxDatapoints?: number,
): PressureSource {
  const policy = retryOf(deps);
  const aws = clients ?? awsClients(target, policy, deps);
  const where = `aws/${target.region}/cloudwatch/${ENA_NAMESPACE}/${ENA_METRIC}`;
  return {
    name: AWS_ENA_SOURCE,
    read: (window: TimeWindow, callerSignal: AbortSignal): Promise<PressureReading> =>
      withBound(callerSignal, policy, async (signal) => {
        const errors: RunError[] = [];
        if (!deps.nodes)
          return {
            nodes: [],
            facts: { provider: 'aws' },
            errors: [{ stage: 'pressure', target: where, message: 'no node list: instances unknown' }],
          };
        let instances: { node: NodeInfo; instanceId: string }[];
        try {
          instances = (await deps.nodes()).flatMap((node) => {
            const instanceId = instanceIdFromProviderID(node.providerID);
            return instanceId ? [{ node, instanceId }] : [];
          });
        } catch (e) {
          return {
            nodes: [],
            facts: { provider: 'aws' },
            errors: [pressureError(callerSignal, where, 'node list failed', e)],
          };
        }
        if (instances.length === 0) return { nodes: [], facts: { provider: 'aws' }, errors };
        const ids = instances.map((x) => x.instanceId);
        let series: EnaSeries[];
        try {
          const found = enaSeries(await listEnaMetrics(aws, signal), ids);
          series = ids.flatMap((id) => found.get(id) ?? []);
        } catch (e) {
          if (!accessDenied(e))
            return {
              nodes: [],
              facts: { provider: 'aws' },
              errors: [pressureError(callerSignal, where, 'ListMetrics failed', e)],
            };
          // A role from before ListMetrics was needed: read the aggregated layout and say what to grant.
          errors.push(
            pressureError(
              callerSignal,
              where,
              'cloudwatch:ListMetrics denied (grant it to find the agent’s per-interface series); reading {InstanceId} only',
              e,
            ),
          );
          series = ids.map((instanceId) => ({
            instanceId,
            dimensions: [{ Name: 'InstanceId', Value: instanceId }],
          }));
        }
        try {
          const points =
            series.length > 0
              ? await getMetricData(aws.cloudwatch, enaQueries(series), window, signal, maxDatapoints)
              : new Map<string, Point[]>();
          const { nodes, missing } = enaPressure(instances, series, points);
          if (missing.length > 0) {
            errors.push({
              stage: 'pressure',
              target: where,
              message: `no ${ENA_METRIC} data for ${missing.length} of ${instances.length} instances (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}): ${AGENT_HINT}`,
            });
          }
          return { nodes, facts: { provider: 'aws' }, errors };
        } catch (e) {
          return {
            nodes: [],
            facts: { provider: 'aws' },
            errors: [...errors, pressureError(callerSignal, where, 'GetMetricData failed', e)],
          };
        }
      }),
  };
}
