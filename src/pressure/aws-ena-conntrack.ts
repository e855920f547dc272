// AWS ENA conntrack allowance: per instance, the increase of the CloudWatch agent's cumulative
// `ethtool_conntrack_allowance_exceeded` counter (namespace CWAgent, dimension InstanceId) over the window:
// packets the instance dropped because EC2 connection tracking was full. Instances come from the nodes'
// providerIDs; the queries go in GetMetricData calls of at most 500, following NextToken.
import type { MetricDataQuery } from '@aws-sdk/client-cloudwatch';
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

export function enaQueries(instanceIds: string[]): MetricDataQuery[] {
  return instanceIds.map((id, i) => ({
    Id: `c${i}`,
    MetricStat: {
      Metric: {
        Namespace: ENA_NAMESPACE,
        MetricName: ENA_METRIC,
        Dimensions: [{ Name: 'InstanceId', Value: id }],
      },
      Period: 60,
      Stat: 'Maximum',
    },
    ReturnData: true,
  }));
}

/** Pure: points by query id → NodePressure per instance with data; instances without data are listed. */
export function enaPressure(
  instances: { node: NodeInfo; instanceId: string }[],
  points: Map<string, Point[]>,
): { nodes: NodePressure[]; missing: string[] } {
  const nodes: NodePressure[] = [];
  const missing: string[] = [];
  instances.forEach(({ node, instanceId }, i) => {
    const increase = counterIncrease(points.get(`c${i}`) ?? []);
    if (increase === undefined) {
      missing.push(instanceId);
      return;
    }
    nodes.push({
      node: { name: node.name, instanceId, ...(node.internalIP ? { internalIP: node.internalIP } : {}) },
      signals: [{ kind: 'conntrack-allowance', source: AWS_ENA_SOURCE, value: increase }],
    });
  });
  return { nodes, missing };
}

export function awsEnaConntrackSource(
  target: AwsTarget,
  deps: PressureDeps = {},
  clients?: AwsClients,
  maxDatapoints?: number,
): PressureSource {
  const policy = retryOf(deps);
  const aws = clients ?? awsClients(target, policy, deps);
  return {
    name: AWS_ENA_SOURCE,
    read: (window: TimeWindow, callerSignal: AbortSignal): Promise<PressureReading> =>
      withBound(callerSignal, policy, async (signal) => {
        const errors: RunError[] = [];
        const target_ = `aws/${target.region}/cloudwatch/${ENA_NAMESPACE}/${ENA_METRIC}`;
        if (!deps.nodes)
          return {
            nodes: [],
            facts: { provider: 'aws' },
            errors: [{ stage: 'pressure', target: target_, message: 'no node list: instances unknown' }],
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
            errors: [pressureError(callerSignal, target_, 'node list failed', e)],
          };
        }
        if (instances.length === 0) return { nodes: [], facts: { provider: 'aws' }, errors };
        try {
          const points = await getMetricData(
            aws.cloudwatch,
            enaQueries(instances.map((x) => x.instanceId)),
            window,
            signal,
            maxDatapoints,
          );
          const { nodes, missing } = enaPressure(instances, points);
          if (missing.length > 0) {
            errors.push({
              stage: 'pressure',
              target: target_,
              message: `no ${ENA_METRIC} data for ${missing.length} of ${instances.length} instances (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}): is the CloudWatch agent's ethtool plugin configured with InstanceId?`,
            });
          }
          return { nodes, facts: { provider: 'aws' }, errors };
        } catch (e) {
          return {
            nodes: [],
            facts: { provider: 'aws' },
            errors: [pressureError(callerSignal, target_, 'GetMetricData failed', e)],
          };
        }
      }),
  };
}
