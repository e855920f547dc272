import { afterEach, describe, expect, it } from 'vitest';
import type { NodeInfo, TimeWindow } from '../../src/model.js';
import { awsClients } from '../../src/pressure/aws-clients.js';
import { awsEnaConntrackSource } from '../../src/pressure/aws-ena-conntrack.js';
import { awsNatGatewaySource } from '../../src/pressure/aws-nat-gateway.js';
import { createPressureSources, instanceIdFromProviderID } from '../../src/pressure/index.js';
import type { AwsTarget, PressureDeps } from '../../src/pressure/types.js';
import {
  awsTestCredentials,
  eksNodes,
  type FakeNode,
  fakeWorld,
  type Harness,
  metrics,
  startHarness,
} from './harness.js';

const window: TimeWindow = { start: new Date('2026-11-20T10:00:00Z'), end: new Date('2026-11-20T10:10:00Z') };
const fastRetry = { maxRetries: 2, baseDelayMs: 5, maxDelayMs: 20, totalTimeoutMs: 10_000 };
const natGateways = [
  { id: 'nat-0a1b2c3d', errorPortAllocation: 42, activeConnectionCount: 51_000, packetsDropCount: 7 },
  { id: 'nat-0e0f0a0b', errorPortAllocation: 0, activeConnectionCount: 1_200, packetsDropCount: 0 },
];
const awsCloud = { aws: { region: 'eu-west-1', clusterName: 'eks-shop', natGateways } };

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const infos = (nodes: FakeNode[]): NodeInfo[] =>
  nodes.map((n) => ({
    name: n.name,
    internalIP: n.internalIP,
    providerID: n.providerID,
    labels: {},
    ready: true,
    podCIDRs: [],
  }));

function setup(h: Harness, nodes: FakeNode[]): { target: AwsTarget; deps: PressureDeps } {
  return {
    target: { region: 'eu-west-1', clusterName: 'eks-shop', endpoint: h.url },
    deps: { ca: h.ca, awsCredentials: awsTestCredentials, retry: fastRetry, nodes: async () => infos(nodes) },
  };
}

const cloudWatchCalls = (h: Harness, action = 'GetMetricData') =>
  h.world.requests.filter((r) => r.headers['x-amz-target'] === `GraniteServiceVersion20100801.${action}`);

describe('aws sources through the simulator', () => {
  it('reads the NAT gateways of the cluster VPC back from CloudWatch', async () => {
    const nodes = eksNodes(3, () => metrics(0, 0));
    harness = await startHarness(fakeWorld(awsCloud, nodes));
    const { target, deps } = setup(harness, nodes);
    const env = { AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'hashrandom' };

    const reading = await awsNatGatewaySource(target, { ...deps, awsNodeEnv: async () => env }).read(
      window,
      new AbortController().signal,
    );

    expect(reading.errors).toEqual([]);
    expect(reading.facts.aws?.natGateways).toEqual(natGateways.map((g) => ({ ...g, ips: 1 })));
    expect(reading.facts.aws?.awsNodeEnv).toEqual(env);
    expect(reading.nodes).toHaveLength(3);
    expect(reading.nodes[0]?.node.instanceId).toBe(instanceIdFromProviderID(nodes[0]?.providerID));
    expect(reading.nodes[0]?.signals.find((s) => s.kind === 'natgw-port-allocation')?.value).toBe(42);
    // the queries: three per gateway with the documented statistics
    const body = JSON.parse(cloudWatchCalls(harness)[0]?.body ?? '{}') as {
      MetricDataQueries: { MetricStat: { Metric: { MetricName: string }; Stat: string; Period: number } }[];
    };
    expect(
      body.MetricDataQueries.map(
        (q) => `${q.MetricStat.Metric.MetricName}:${q.MetricStat.Stat}:${q.MetricStat.Period}`,
      ),
    ).toEqual([
      'ErrorPortAllocation:Sum:60',
      'ActiveConnectionCount:Maximum:60',
      'PacketsDropCount:Sum:60',
      'ErrorPortAllocation:Sum:60',
      'ActiveConnectionCount:Maximum:60',
      'PacketsDropCount:Sum:60',
    ]);
    const paths = harness.world.requests.map((r) =>
      `${r.method} ${r.path} ${r.body.startsWith('Action=') ? r.body.split('&')[0] : ''}`.trim(),
    );
    expect(paths.filter((p) => !p.startsWith('GET /clusters/eks-shop/addons')).slice(0, 2)).toEqual([
      'GET /clusters/eks-shop',
      'POST / Action=DescribeNatGateways',
    ]);
    // aws-node is self-managed in this world: DescribeAddon answers ResourceNotFoundException.
    expect(paths).toContain('GET /clusters/eks-shop/addons/vpc-cni');
    expect(reading.facts.aws?.vpcCniAddon).toEqual({ managed: false });
  });

  it('tells the managed add-on vpc-cni apart, with its configuration values (DescribeAddon)', async () => {
    const nodes = eksNodes(1, () => metrics(0, 0));
    const configurationValues = '{"env":{"ENABLE_PREFIX_DELEGATION":"true"}}';
    harness = await startHarness(
      fakeWorld({ aws: { ...awsCloud.aws, vpcCniAddon: { configurationValues } } }, nodes),
    );
    const { target, deps } = setup(harness, nodes);

    const reading = await awsNatGatewaySource(target, deps).read(window, new AbortController().signal);

    expect(reading.facts.aws?.vpcCniAddon).toEqual({ managed: true, configurationValues });
  });

  it('leaves the add-on unknown when DescribeAddon fails, without an error entry', async () => {
    const nodes = eksNodes(1, () => metrics(0, 0));
    const world = fakeWorld(awsCloud, nodes);
    harness = await startHarness(world, [
      [
        'addon-denied',
        (_req, res, url) => {
          if (!url.pathname.includes('/addons/')) return false;
          // EKS's AccessDeniedException as restJson1 sends it: HTTP 403, the code in x-amzn-ErrorType, the
          // one member `message` in the body (@aws-sdk/client-eks error schema AccessDeniedException:
          // httpError 403, members [message]). The message has the form of an IAM denial ("User: <arn> is
          // not authorized to perform: <action> on resource: <arn>", IAM User Guide, troubleshoot access
          // denied). It is not a captured answer, and the client reads only the code.
          res.writeHead(403, {
            'content-type': 'application/json',
            'x-amzn-errortype': 'AccessDeniedException',
          });
          res.end(
            JSON.stringify({
              message:
                'User: arn:aws:sts::123456789012:assumed-role/snatguard/sim is not authorized to perform: eks:DescribeAddon on resource: arn:aws:eks:eu-west-1:123456789012:cluster/eks-shop',
            }),
          );
          return true;
        },
      ],
    ]);
    const { target, deps } = setup(harness, nodes);

    const reading = await awsNatGatewaySource(target, deps).read(window, new AbortController().signal);

    expect(reading.errors).toEqual([]);
    expect(reading.facts.aws?.vpcCniAddon).toBeUndefined();
    expect(reading.facts.aws?.natGateways).toHaveLength(natGateways.length);
  });

  it('reads the ENA conntrack allowance increase of 600 instances in calls of at most 500 queries', async () => {
    const nodes = eksNodes(600, (i) => metrics(0, 0, 0, i === 123 ? 9_876 : i % 10));
    harness = await startHarness(fakeWorld(awsCloud, nodes));
    const { target, deps } = setup(harness, nodes);

    const reading = await awsEnaConntrackSource(target, deps).read(window, new AbortController().signal);

    expect(reading.errors).toEqual([]);
    expect(reading.nodes).toHaveLength(600);
    const byInstance = new Map(reading.nodes.map((n) => [n.node.instanceId, n.signals[0]?.value]));
    for (const [i, n] of nodes.entries())
      expect(byInstance.get(instanceIdFromProviderID(n.providerID))).toBe(i === 123 ? 9_876 : i % 10);
    const sizes = cloudWatchCalls(harness).map(
      (r) => (JSON.parse(r.body) as { MetricDataQueries: unknown[] }).MetricDataQueries.length,
    );
    expect(sizes).toEqual([500, 100]);
    // The agent's series were found by ListMetrics (500 a page, then its NextToken) with their full
    // dimension sets {InstanceId, driver, interface}.
    const lists = cloudWatchCalls(harness, 'ListMetrics').map(
      (r) => JSON.parse(r.body) as { NextToken?: string },
    );
    expect(lists).toHaveLength(2);
    expect(lists[0]?.NextToken).toBeUndefined();
    expect(lists[1]?.NextToken).toEqual(expect.any(String));
    const firstQuery = (
      JSON.parse(cloudWatchCalls(harness)[0]?.body ?? '{}') as {
        MetricDataQueries: { MetricStat: { Metric: { Dimensions: { Name: string }[] } } }[];
      }
    ).MetricDataQueries[0];
    expect(firstQuery?.MetricStat.Metric.Dimensions.map((d) => d.Name).sort()).toEqual([
      'InstanceId',
      'driver',
      'interface',
    ]);
  });

  it('follows NextToken and merges a query split across pages', async () => {
    const nodes = eksNodes(4, (i) => metrics(0, 0, 0, 100 * (i + 1)));
    harness = await startHarness(fakeWorld(awsCloud, nodes));
    const { target, deps } = setup(harness, nodes);
    const clients = awsClients(target, { ...fastRetry }, deps);

    const reading = await awsEnaConntrackSource(target, deps, clients, 7).read(
      window,
      new AbortController().signal,
    );

    expect(reading.nodes.map((n) => n.signals[0]?.value)).toEqual([100, 200, 300, 400]);
    const calls = cloudWatchCalls(harness);
    expect(calls.length).toBeGreaterThan(4);
    expect(
      calls
        .slice(1)
        .every((c) => typeof (JSON.parse(c.body) as { NextToken?: string }).NextToken === 'string'),
    ).toBe(true);
  });

  it('retries a throttled GetMetricData and then succeeds', async () => {
    const nodes = eksNodes(2, (i) => metrics(0, 0, 0, i + 1));
    const world = fakeWorld(awsCloud, nodes);
    world.faults.failNext['aws:cloudwatch'] = { status: 429, count: 1, retryAfterSeconds: 0 };
    harness = await startHarness(world);
    const { target, deps } = setup(harness, nodes);

    const reading = await awsEnaConntrackSource(target, deps).read(window, new AbortController().signal);

    expect(reading.errors).toEqual([]);
    expect(reading.nodes.map((n) => n.signals[0]?.value)).toEqual([1, 2]);
    // The first CloudWatch call (ListMetrics) is throttled (400 Throttling, as CloudWatch answers under
    // JSON 1.0) and retried; GetMetricData then succeeds.
    expect(cloudWatchCalls(harness, 'ListMetrics').map((r) => r.status)).toEqual([400, 200]);
    expect(cloudWatchCalls(harness).map((r) => r.status)).toEqual([200]);
  });

  it('turns a provider that is down into error entries, without throwing', async () => {
    const nodes = eksNodes(2, () => metrics(0, 0));
    const world = fakeWorld(awsCloud, nodes);
    world.faults.down.add('aws');
    harness = await startHarness(world);
    const { deps } = setup(harness, nodes);
    const sources = createPressureSources(
      { provider: 'aws', aws: { region: 'eu-west-1', clusterName: 'eks-shop' } },
      { ...deps, awsEndpoint: harness.url },
    );

    const readings = await Promise.all(sources.map((s) => s.read(window, new AbortController().signal)));

    expect(sources.map((s) => s.name)).toEqual(['aws-nat-gateway', 'aws-ena-conntrack']);
    expect(readings.flatMap((r) => r.nodes)).toEqual([]);
    expect(readings.flatMap((r) => r.errors.map((e) => e.stage))).toEqual(['pressure', 'pressure']);
    expect(readings[0]?.errors[0]?.message).toMatch(/NAT gateway metrics failed/);
  });

  it('lists instances without ENA data as one error entry', async () => {
    const nodes = eksNodes(2, () => metrics(0, 0));
    const stranger = {
      ...eksNodes(1, () => metrics(0, 0))[0],
      providerID: 'aws:///eu-west-1a/i-0ffffffffffffffff',
    } as FakeNode;
    harness = await startHarness(fakeWorld(awsCloud, nodes));
    const { target, deps } = setup(harness, [...nodes, stranger]);

    const reading = await awsEnaConntrackSource(target, deps).read(window, new AbortController().signal);

    expect(reading.nodes).toHaveLength(2);
    expect(reading.errors).toHaveLength(1);
    expect(reading.errors[0]?.message).toContain('i-0ffffffffffffffff');
  });
});

describe('instanceIdFromProviderID', () => {
  it.each([
    ['aws:///eu-west-1a/i-0abc123def4567890', 'i-0abc123def4567890'],
    ['aws:///us-east-1b/i-12345678', 'i-12345678'],
    ['azure:///subscriptions/x/virtualMachines/0', undefined],
    ['aws:///eu-west-1a/fargate-ip-10-0-0-1', undefined],
    [undefined, undefined],
  ])('%s → %s', (providerID, id) => {
    expect(instanceIdFromProviderID(providerID)).toBe(id);
  });
});
