import { Agent } from 'node:https';
import {
  CloudWatchClient,
  GetMetricDataCommand,
  ListMetricsCommand,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import { DescribeNatGatewaysCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudWatchPoints, queryFilters } from '../../src/sim/aws.js';
import {
  awsTestCredentials,
  eksNodes,
  fakeWorld,
  type Harness,
  metrics,
  rawRequest,
  startHarness,
} from '../pressure/harness.js';

const natGateways = [
  { id: 'nat-0a1b2c3d', errorPortAllocation: 5, activeConnectionCount: 900, packetsDropCount: 2 },
];
const nodes = eksNodes(3, (i) => metrics(0, 0, 0, i * 10));
let h: Harness;
beforeAll(async () => {
  h = await startHarness(
    fakeWorld({ aws: { region: 'eu-west-1', clusterName: 'eks-shop', natGateways } }, nodes),
  );
});
afterAll(async () => {
  await h.close();
});

const config = () => ({
  region: 'eu-west-1',
  endpoint: h.url,
  credentials: awsTestCredentials,
  maxAttempts: 1,
  requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: h.ca }) }),
});
const start = new Date('2026-11-20T10:00:00Z');
const end = new Date('2026-11-20T10:05:00Z');
/** The agent's layout: {InstanceId, driver, interface} (`aggregated`: {InstanceId} alone). */
const ena = (instanceId: string, id = 'c0', aggregated = false): MetricDataQuery => ({
  Id: id,
  MetricStat: {
    Metric: {
      Namespace: 'CWAgent',
      MetricName: 'ethtool_conntrack_allowance_exceeded',
      Dimensions: aggregated
        ? [{ Name: 'InstanceId', Value: instanceId }]
        : [
            { Name: 'InstanceId', Value: instanceId },
            { Name: 'interface', Value: 'eth0' },
            { Name: 'driver', Value: 'ena' },
          ],
    },
    Period: 60,
    Stat: 'Maximum',
  },
});
const instance = (i: number) => /i-[0-9a-f]+$/.exec(nodes[i]?.providerID ?? '')?.[0] ?? '';

describe('simulated CloudWatch (AWS JSON 1.0, as @aws-sdk/client-cloudwatch speaks it)', () => {
  it('answers GetMetricData for NAT gateway metrics with the snapshot numbers', async () => {
    const cw = new CloudWatchClient(config());
    const q = (id: string, metric: string, stat: string): MetricDataQuery => ({
      Id: id,
      MetricStat: {
        Metric: {
          Namespace: 'AWS/NATGateway',
          MetricName: metric,
          Dimensions: [{ Name: 'NatGatewayId', Value: 'nat-0a1b2c3d' }],
        },
        Period: 60,
        Stat: stat,
      },
    });
    const out = await cw.send(
      new GetMetricDataCommand({
        StartTime: start,
        EndTime: end,
        MetricDataQueries: [
          q('e', 'ErrorPortAllocation', 'Sum'),
          q('a', 'ActiveConnectionCount', 'Maximum'),
          q('d', 'PacketsDropCount', 'Sum'),
        ],
      }),
    );
    const byId = new Map(out.MetricDataResults?.map((r) => [r.Id, r.Values ?? []]));
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(sum(byId.get('e') ?? [])).toBe(5);
    expect(Math.max(...(byId.get('a') ?? []))).toBe(900);
    expect(sum(byId.get('d') ?? [])).toBe(2);
    expect(out.MetricDataResults?.[0]?.Timestamps?.[0]).toBeInstanceOf(Date);
    expect(out.NextToken).toBeUndefined();
  });

  it('rejects more than 500 queries with a ValidationError, as AWS does (the SDK models it as ValidationException)', async () => {
    const cw = new CloudWatchClient(config());
    const queries = Array.from({ length: 501 }, (_, i) => ena(instance(0), `q${i}`));
    await expect(
      cw.send(new GetMetricDataCommand({ StartTime: start, EndTime: end, MetricDataQueries: queries })),
    ).rejects.toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining('less than or equal to 500'),
      $metadata: { httpStatusCode: 400 },
    });
  });

  it('paginates by MaxDatapoints with NextToken', async () => {
    const cw = new CloudWatchClient(config());
    const first = await cw.send(
      new GetMetricDataCommand({
        StartTime: start,
        EndTime: end,
        MetricDataQueries: [ena(instance(1))],
        MaxDatapoints: 2,
        ScanBy: 'TimestampAscending',
      }),
    );
    expect(first.MetricDataResults?.[0]).toMatchObject({ StatusCode: 'PartialData' });
    expect(first.MetricDataResults?.[0]?.Values).toHaveLength(2);
    const second = await cw.send(
      new GetMetricDataCommand({
        StartTime: start,
        EndTime: end,
        MetricDataQueries: [ena(instance(1))],
        MaxDatapoints: 100,
        ScanBy: 'TimestampAscending',
        NextToken: first.NextToken,
      }),
    );
    expect(second.NextToken).toBeUndefined();
    const values = [
      ...(first.MetricDataResults?.[0]?.Values ?? []),
      ...(second.MetricDataResults?.[0]?.Values ?? []),
    ];
    expect((values.at(-1) ?? 0) - (values[0] ?? 0)).toBe(10);
  });

  it('matches the exact dimension set: {InstanceId} alone finds nothing the agent published per interface', async () => {
    const cw = new CloudWatchClient(config());
    const out = await cw.send(
      new GetMetricDataCommand({
        StartTime: start,
        EndTime: end,
        MetricDataQueries: [ena(instance(1), 'full'), ena(instance(1), 'agg', true)],
      }),
    );
    const byId = new Map(out.MetricDataResults?.map((r) => [r.Id, r.Values ?? []]));
    expect(byId.get('full')?.length).toBeGreaterThan(0);
    expect(byId.get('agg')).toEqual([]);
  });

  it('lists the agent’s ENA series with their dimension sets (ListMetrics, filtered by dimension name)', async () => {
    const cw = new CloudWatchClient(config());
    const out = await cw.send(
      new ListMetricsCommand({
        Namespace: 'CWAgent',
        MetricName: 'ethtool_conntrack_allowance_exceeded',
        Dimensions: [{ Name: 'InstanceId' }],
      }),
    );
    expect(out.NextToken).toBeUndefined();
    expect(out.Metrics).toHaveLength(3);
    expect(out.Metrics?.[1]).toEqual({
      Namespace: 'CWAgent',
      MetricName: 'ethtool_conntrack_allowance_exceeded',
      Dimensions: [
        { Name: 'InstanceId', Value: instance(1) },
        { Name: 'driver', Value: 'ena' },
        { Name: 'interface', Value: 'eth0' },
      ],
    });
    const nat = await cw.send(new ListMetricsCommand({ Namespace: 'AWS/NATGateway' }));
    expect(nat.Metrics?.map((m) => m.MetricName).sort()).toEqual([
      'ActiveConnectionCount',
      'ErrorPortAllocation',
      'PacketsDropCount',
    ]);
  });

  it('refuses unsigned requests', async () => {
    const res = await rawRequest(h, 'POST', '/', {
      headers: {
        'x-amz-target': 'GraniteServiceVersion20100801.GetMetricData',
        'content-type': 'application/x-amz-json-1.0',
      },
      body: '{}',
    });
    expect(res.status).toBe(403);
  });
});

describe('simulated EKS, EC2 and STS', () => {
  it('describes the cluster with the simulator endpoint and CA', async () => {
    const { cluster } = await new EKSClient(config()).send(new DescribeClusterCommand({ name: 'eks-shop' }));
    expect(cluster?.endpoint).toBe(h.url);
    expect(Buffer.from(cluster?.certificateAuthority?.data ?? '', 'base64').toString('utf8')).toBe(h.ca);
    expect(cluster?.resourcesVpcConfig?.subnetIds?.length).toBeGreaterThan(0);
    expect(cluster?.resourcesVpcConfig?.vpcId).toMatch(/^vpc-/);
  });

  it('answers an unknown cluster with ResourceNotFoundException', async () => {
    await expect(
      new EKSClient(config()).send(new DescribeClusterCommand({ name: 'nope' })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it.each([
    { filter: 'vpc-id', pick: 'vpc', found: 1 },
    { filter: 'subnet-id', pick: 'subnets', found: 1 },
    { filter: 'vpc-id', pick: 'other', found: 0 },
  ])('filters DescribeNatGateways by $filter ($pick)', async ({ filter, pick, found }) => {
    const { cluster } = await new EKSClient(config()).send(new DescribeClusterCommand({ name: 'eks-shop' }));
    const values =
      pick === 'vpc'
        ? [cluster?.resourcesVpcConfig?.vpcId ?? '']
        : pick === 'subnets'
          ? (cluster?.resourcesVpcConfig?.subnetIds ?? [])
          : ['vpc-other'];
    const out = await new EC2Client(config()).send(
      new DescribeNatGatewaysCommand({ Filter: [{ Name: filter, Values: values }] }),
    );
    expect(out.NatGateways?.map((g) => g.NatGatewayId)).toEqual(found ? ['nat-0a1b2c3d'] : []);
    if (found) expect(out.NatGateways?.[0]?.NatGatewayAddresses?.[0]?.PublicIp).toMatch(/^198\.51\.100\./);
  });

  it('answers STS GetCallerIdentity', async () => {
    const res = await rawRequest(
      h,
      'GET',
      '/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Signature=abc',
    );
    expect(res.status).toBe(200);
    expect(res.body).toContain('<Account>123456789012</Account>');
  });
});

describe('simulator helpers', () => {
  it('parses Query protocol filters', () => {
    expect(
      queryFilters(
        new URLSearchParams(
          'Filter.1.Name=vpc-id&Filter.1.Value.1=a&Filter.1.Value.2=b&Filter.2.Name=state&Filter.2.Value.1=available',
        ),
      ),
    ).toEqual([
      { name: 'vpc-id', values: ['a', 'b'] },
      { name: 'state', values: ['available'] },
    ]);
  });

  it.each([1, 2, 4, 10, 60])(
    'keeps the counter increase over %i periods and the first and last points',
    (n) => {
      const times = Array.from({ length: n }, (_, i) => i * 60_000);
      const points = cloudWatchPoints(25, 'counter', times, 'k');
      expect(points[0]?.t).toBe(0);
      expect(points.at(-1)?.t).toBe((n - 1) * 60_000);
      expect((points.at(-1)?.v ?? 0) - (points[0]?.v ?? 0)).toBe(n === 1 ? 0 : 25);
      expect(cloudWatchPoints(25, 'sum', times, 'k').reduce((s, p) => s + p.v, 0)).toBe(25);
    },
  );
});
