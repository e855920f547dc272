// AWS NAT gateway pressure: the NAT gateways in the cluster's VPC (EKS DescribeCluster → VPC → EC2
// DescribeNatGateways), ErrorPortAllocation Sum, ActiveConnectionCount Max and PacketsDropCount Sum over
// the window. The metrics have no node dimension: every node becomes a candidate with the gateways'
// totals, and the pipeline ranks them by the node probe's conntrack entries toward public destinations.
import type { MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { DescribeNatGatewaysCommand } from '@aws-sdk/client-ec2';
import { DescribeAddonCommand, DescribeClusterCommand } from '@aws-sdk/client-eks';
import type { CloudFacts, NodeInfo, NodePressure, PressureReading, RunError, TimeWindow } from '../model.js';
import type { PressureSource } from '../ports.js';
import { type AwsClients, awsClients, getMetricData } from './aws-clients.js';
import { maxOf, type Point, sumOf } from './series.js';
import {
  type AwsTarget,
  instanceIdFromProviderID,
  type PressureDeps,
  pressureError,
  retryOf,
  withBound,
} from './types.js';

export const AWS_NATGW_SOURCE = 'aws-nat-gateway';
type GatewayFacts = NonNullable<CloudFacts['aws']>['natGateways'][number];

/** Three queries per gateway, with ids that say which metric of which gateway they are. */
export function natGatewayQueries(ids: string[]): MetricDataQuery[] {
  const q = (id: string, metric: string, stat: string, gw: string): MetricDataQuery => ({
    Id: id,
    MetricStat: {
      Metric: {
        Namespace: 'AWS/NATGateway',
        MetricName: metric,
        Dimensions: [{ Name: 'NatGatewayId', Value: gw }],
      },
      Period: 60,
      Stat: stat,
    },
    ReturnData: true,
  });
  return ids.flatMap((gw, i) => [
    q(`e${i}`, 'ErrorPortAllocation', 'Sum', gw),
    q(`a${i}`, 'ActiveConnectionCount', 'Maximum', gw),
    q(`d${i}`, 'PacketsDropCount', 'Sum', gw),
  ]);
}

/** Pure: per-query points → each gateway's numbers (no data reads as 0: NAT gateways publish zeros). */
export function natGatewayFacts(
  ids: string[],
  points: Map<string, Point[]>,
  ips: Map<string, number>,
): GatewayFacts[] {
  return ids.map((id, i) => ({
    id,
    errorPortAllocation: sumOf(points.get(`e${i}`) ?? []) ?? 0,
    activeConnectionCount: maxOf(points.get(`a${i}`) ?? []) ?? 0,
    packetsDropCount: sumOf(points.get(`d${i}`) ?? []) ?? 0,
    ...(ips.has(id) ? { ips: ips.get(id) } : {}),
  }));
}

/** Pure: every node is a candidate carrying the gateways' totals. */
export function awsNatNodePressure(gateways: GatewayFacts[], nodes: NodeInfo[]): NodePressure[] {
  if (gateways.length === 0) return [];
  const total = (f: (g: GatewayFacts) => number) => gateways.reduce((s, g) => s + f(g), 0);
  const source = `${AWS_NATGW_SOURCE}:${gateways.map((g) => g.id).join(',')}`;
  return nodes.map((n) => {
    const instanceId = instanceIdFromProviderID(n.providerID);
    return {
      node: {
        name: n.name,
        ...(instanceId ? { instanceId } : {}),
        ...(n.internalIP ? { internalIP: n.internalIP } : {}),
      },
      signals: [
        { kind: 'natgw-port-allocation', source, value: total((g) => g.errorPortAllocation) },
        {
          kind: 'natgw-active-connections',
          source,
          value: Math.max(...gateways.map((g) => g.activeConnectionCount)),
        },
        { kind: 'natgw-packets-dropped', source, value: total((g) => g.packetsDropCount) },
      ],
    };
  });
}

/**
 * Whether aws-node is the EKS managed add-on `vpc-cni` (and its configuration values): DescribeAddon
 * answers the add-on, or ResourceNotFoundException when aws-node is self-managed. Anything else (the
 * role lacks eks:DescribeAddon, a failure) leaves it unknown: undefined, and the advice gives both forms.
 */
export async function describeVpcCni(
  clients: AwsClients,
  target: AwsTarget,
  signal: AbortSignal,
): Promise<NonNullable<CloudFacts['aws']>['vpcCniAddon']> {
  try {
    const { addon } = await clients.eks.send(
      new DescribeAddonCommand({ clusterName: target.clusterName, addonName: 'vpc-cni' }),
      { abortSignal: signal },
    );
    return {
      managed: true,
      ...(addon?.configurationValues ? { configurationValues: addon.configurationValues } : {}),
    };
  } catch (e) {
    if ((e as { name?: string }).name === 'ResourceNotFoundException') return { managed: false };
    if (signal.aborted) throw e;
    return undefined;
  }
}

async function discoverGateways(
  clients: AwsClients,
  target: AwsTarget,
  signal: AbortSignal,
): Promise<{ ids: string[]; ips: Map<string, number> }> {
  const ips = new Map<string, number>();
  if (target.natGatewayIds?.length) return { ids: [...target.natGatewayIds], ips };
  const { cluster } = await clients.eks.send(new DescribeClusterCommand({ name: target.clusterName }), {
    abortSignal: signal,
  });
  const vpcId = cluster?.resourcesVpcConfig?.vpcId;
  const filters = vpcId
    ? [{ Name: 'vpc-id', Values: [vpcId] }]
    : [{ Name: 'subnet-id', Values: cluster?.resourcesVpcConfig?.subnetIds ?? [] }];
  const ids: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await clients.ec2.send(
      new DescribeNatGatewaysCommand({
        Filter: [...filters, { Name: 'state', Values: ['available'] }],
        ...(nextToken ? { NextToken: nextToken } : {}),
      }),
      {
        abortSignal: signal,
      },
    );
    for (const gw of page.NatGateways ?? []) {
      if (!gw.NatGatewayId) continue;
      ids.push(gw.NatGatewayId);
      ips.set(gw.NatGatewayId, gw.NatGatewayAddresses?.length ?? 0);
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return { ids, ips };
}

export function awsNatGatewaySource(
  target: AwsTarget,
  deps: PressureDeps = {},
  clients?: AwsClients,
): PressureSource {
  const policy = retryOf(deps);
  const aws = clients ?? awsClients(target, policy, deps);
  return {
    name: AWS_NATGW_SOURCE,
    read: (window: TimeWindow, callerSignal: AbortSignal): Promise<PressureReading> =>
      withBound(callerSignal, policy, async (signal) => {
        const errors: RunError[] = [];
        const facts: Partial<CloudFacts> = { provider: 'aws' };
        const envRead = deps.awsNodeEnv?.().catch((e: unknown) => {
          errors.push(
            pressureError(callerSignal, 'kube-system/DaemonSet/aws-node', 'aws-node env read failed', e),
          );
          return null;
        });
        const addonRead = describeVpcCni(aws, target, signal).catch(() => undefined);
        const target_ = `aws/${target.region}/eks/${target.clusterName}`;
        let gateways: GatewayFacts[] = [];
        try {
          const { ids, ips } = await discoverGateways(aws, target, signal);
          if (ids.length === 0)
            errors.push({
              stage: 'pressure',
              target: target_,
              message: 'no available NAT gateway in the cluster VPC',
            });
          else
            gateways = natGatewayFacts(
              ids,
              await getMetricData(aws.cloudwatch, natGatewayQueries(ids), window, signal),
              ips,
            );
        } catch (e) {
          errors.push(pressureError(callerSignal, target_, 'NAT gateway metrics failed', e));
        }
        const env = envRead ? await envRead : null;
        const addon = await addonRead;
        if (!addon)
          deps.log?.warn({ cluster: target.clusterName }, 'vpc-cni add-on unknown (eks:DescribeAddon)');
        facts.aws = {
          natGateways: gateways,
          ...(env ? { awsNodeEnv: env } : {}),
          ...(addon ? { vpcCniAddon: addon } : {}),
        };
        if (gateways.length === 0) return { nodes: [], facts, errors };
        if (!deps.nodes) {
          errors.push({
            stage: 'pressure',
            target: target_,
            message: 'no node list: gateway-level pressure cannot name candidate nodes',
          });
          return { nodes: [], facts, errors };
        }
        try {
          return { nodes: awsNatNodePressure(gateways, await deps.nodes()), facts, errors };
        } catch (e) {
          errors.push(pressureError(callerSignal, target_, 'node list failed', e));
          return { nodes: [], facts, errors };
        }
      }),
  };
}
