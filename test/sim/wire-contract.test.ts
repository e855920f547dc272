// Wire fidelity: answers in the exact shape the real services send (test/fixtures/wire/, each naming its
// source) are fed unchanged to the clients that read them, and the simulator's answer to the same request
// is checked for the same shape: field names, nesting, display names next to invariant names, dimension
// sets, throttling bodies.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { TimeWindow } from '../../src/model.js';
import { awsClients } from '../../src/pressure/aws-clients.js';
import { awsEnaConntrackSource } from '../../src/pressure/aws-ena-conntrack.js';
import { describeVpcCni } from '../../src/pressure/aws-nat-gateway.js';
import { azurePressureSource } from '../../src/pressure/azure.js';
import { azureClients, queryMetrics } from '../../src/pressure/azure-clients.js';
import { defaultRetry } from '../../src/pressure/types.js';
import type { SimRoutes } from '../../src/sim/types.js';
import {
  awsTestCredentials,
  azureCloud,
  fakeWorld,
  type Harness,
  metrics,
  rawRequest,
  recordingCredential,
  startHarness,
} from '../pressure/harness.js';

interface Fixture {
  source: string;
  request: {
    method?: string;
    path?: string;
    target?: string;
    query?: Record<string, string>;
    body?: unknown;
  };
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

const fixture = (name: string): Fixture =>
  JSON.parse(readFileSync(new URL(`../fixtures/wire/${name}`, import.meta.url), 'utf8')) as Fixture;

/** Answers with the fixture's status, headers and body, unchanged. */
function serve(res: ServerResponse, f: Fixture): true {
  const text = JSON.stringify(f.body);
  res.writeHead(f.status, {
    'content-type': 'application/json',
    ...f.headers,
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
  return true;
}

/** Every path of a JSON value: `values[].value[].name.localizedValue`; array elements merged. */
function paths(value: unknown, prefix = ''): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown, p: string) => {
    if (Array.isArray(v)) {
      out.add(`${p}[]`);
      for (const e of v) walk(e, `${p}[]`);
    } else if (v && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        const q = p ? `${p}.${k}` : k;
        out.add(q);
        walk(child, q);
      }
    }
  };
  walk(value, prefix);
  return out;
}

const missingFrom = (expected: Set<string>, actual: Set<string>) =>
  [...expected].filter((p) => !actual.has(p)).sort();

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const SUB = '11111111-2222-3333-4444-555555555555';
const window: TimeWindow = { start: new Date('2026-11-20T10:00:00Z'), end: new Date('2026-11-20T10:05:00Z') };
const aksNodes = [
  { name: 'aks-a', internalIP: '10.224.0.4', metrics: metrics(3, 1024) },
  { name: 'aks-b', internalIP: '10.224.0.5', metrics: metrics(5, 1024) },
];
const azureTarget = (h: Harness) => ({
  subscriptionId: SUB,
  resourceGroup: 'rg-shop',
  clusterName: 'aks-shop',
  armEndpoint: h.url,
  metricsEndpoint: h.url,
});
const LB_FIXTURES: Record<string, string> = {
  UsedSnatPorts: 'azure/metrics-batch-lb-used-snat-ports.json',
  AllocatedSnatPorts: 'azure/metrics-batch-lb-allocated-snat-ports.json',
  SnatConnectionCount: 'azure/metrics-batch-lb-snat-connection-count.json',
};

/** Azure Monitor answered from the fixtures; ARM from the simulator. */
const lbMetricsFromFixtures: SimRoutes = (_req: IncomingMessage, res: ServerResponse, url: URL) => {
  if (!url.pathname.endsWith('/metrics:getBatch')) return false;
  const name = LB_FIXTURES[url.searchParams.get('metricnames') ?? ''];
  return name ? serve(res, fixture(name)) : false;
};

describe('Azure Monitor metrics:getBatch', () => {
  it('the LB answers with display names, extra dimensions and null points reach the source as numbers', async () => {
    harness = await startHarness(fakeWorld(azureCloud(), aksNodes), [['fixtures', lbMetricsFromFixtures]]);
    const source = azurePressureSource(azureTarget(harness), recordingCredential(), { ca: harness.ca });

    const reading = await source.read(window, new AbortController().signal);

    expect(reading.errors).toEqual([]);
    const byIp = new Map(reading.nodes.map((n) => [n.node.internalIP, n.signals]));
    expect(byIp.get('10.224.0.4')?.find((s) => s.kind === 'snat-ports')).toMatchObject({
      used: 1024,
      allocated: 1024,
      ratio: 1,
    });
    expect(byIp.get('10.224.0.4')?.find((s) => s.kind === 'snat-failed')).toMatchObject({ value: 0 });
    expect(byIp.get('10.224.0.5')?.find((s) => s.kind === 'snat-ports')).toMatchObject({ used: 12 });
    // our requests are the fixtures' requests
    for (const [metric, file] of Object.entries(LB_FIXTURES)) {
      const sent = harness.world.requests.find(
        (r) =>
          r.path.endsWith('/metrics:getBatch') && new URLSearchParams(r.query).get('metricnames') === metric,
      );
      const q = new URLSearchParams(sent?.query);
      const expected = fixture(file).request.query ?? {};
      for (const key of [
        'metricnamespace',
        'metricnames',
        'aggregation',
        'interval',
        'filter',
        'starttime',
        'endtime',
      ])
        expect(q.get(key), key).toBe(expected[key]);
      expect(JSON.parse(sent?.body ?? '{}')).toEqual(fixture(file).request.body);
    }
  });

  it.each(Object.entries(LB_FIXTURES))(
    'the simulator answers %s in the fixture’s shape',
    async (metric, file) => {
      const f = fixture(file);
      harness = await startHarness(fakeWorld(azureCloud(), aksNodes));
      const query = new URLSearchParams(f.request.query);
      const res = await rawRequest(harness, 'POST', `${f.request.path}?${query}`, {
        headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
        body: JSON.stringify(f.request.body),
      });
      expect(res.status).toBe(200);
      const sim = JSON.parse(res.body) as typeof f.body;
      expect(missingFrom(paths(f.body), paths(sim))).toEqual([]);
      expect(missingFrom(paths(sim), paths(f.body))).toEqual([]);
      const metricOf = (b: unknown) =>
        (
          b as {
            values: { value: { name: unknown; timeseries: { metadatavalues: { name: unknown }[] }[] }[] }[];
          }
        ).values[0]?.value[0];
      expect(metricOf(sim)?.name).toEqual(metricOf(f.body)?.name);
      expect((metricOf(sim)?.name as { localizedValue?: string } | undefined)?.localizedValue).not.toBe(
        metric,
      );
      const dims = (b: unknown) =>
        new Set(metricOf(b)?.timeseries.flatMap((t) => t.metadatavalues.map((m) => JSON.stringify(m.name))));
      expect(dims(sim)).toEqual(dims(f.body));
    },
  );

  it('reads the spec’s own example unchanged: results in request order, the display name ignored', async () => {
    const f = fixture('azure/metrics-batch-spec-example2.json');
    harness = await startHarness(fakeWorld(azureCloud(), aksNodes), [
      ['fixture', (_req, res, url) => (url.pathname.endsWith('/metrics:getBatch') ? serve(res, f) : false)],
    ]);
    const clients = azureClients(azureTarget(harness), recordingCredential(), defaultRetry, harness.ca);
    const ids = (f.request.body as { resourceids: string[] }).resourceids;

    const answer = await queryMetrics(
      clients.metrics('westus2'),
      {
        resourceId: ids[0] as string,
        namespace: 'Microsoft.Cache/Redis',
        metric: 'cacheWrite',
        aggregation: 'Average',
      },
      window,
      new AbortController().signal,
    );

    expect(answer.failed).toEqual([]);
    expect(answer.series).toEqual([
      {
        metric: 'cacheWrite',
        dims: {},
        points: [{ t: Date.parse('2023-11-07T14:00:00Z'), v: 35513.760416666664 }],
      },
    ]);
  });

  it('the simulator’s answer has every field of the spec’s example, with a display name unlike the invariant name', async () => {
    const f = fixture('azure/metrics-batch-spec-example2.json');
    harness = await startHarness(fakeWorld(azureCloud(), aksNodes));
    const lb = `/subscriptions/${SUB}/resourceGroups/MC_rg-shop_aks-shop_westeurope/providers/Microsoft.Network/loadBalancers/kubernetes`;
    const query = new URLSearchParams({
      'api-version': '2024-02-01',
      starttime: '2026-11-20T10:00:00.000Z',
      endtime: '2026-11-20T10:05:00.000Z',
      interval: 'FULL',
      metricnamespace: 'Microsoft.Network/loadBalancers',
      metricnames: 'UsedSnatPorts',
      aggregation: 'average',
    });
    const res = await rawRequest(harness, 'POST', `/subscriptions/${SUB}/metrics:getBatch?${query}`, {
      headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
      body: JSON.stringify({ resourceids: [lb] }),
    });
    expect(missingFrom(paths(f.body), paths(JSON.parse(res.body)))).toEqual([]);
  });
});

describe('ARM throttling', () => {
  it('the simulator throttles as ARM does', async () => {
    const f = fixture('azure/arm-throttled.json');
    const world = fakeWorld(azureCloud(), aksNodes);
    world.faults.failNext['azure:arm'] = { status: 429, count: 1, retryAfterSeconds: 3600 };
    harness = await startHarness(world);
    const res = await rawRequest(harness, 'GET', f.request.path as string, {
      headers: { authorization: 'Bearer t' },
    });
    expect(res.status).toBe(f.status);
    for (const h of ['retry-after', 'x-ms-ratelimit-remaining-subscription-reads'])
      expect(res.headers[h], h).toBe(f.headers?.[h]);
    expect(JSON.parse(res.body)).toEqual(f.body);
  });

  it('the source reports the fixture’s throttling answer without waiting an hour', async () => {
    const f = fixture('azure/arm-throttled.json');
    harness = await startHarness(fakeWorld(azureCloud(), aksNodes), [
      ['fixture', (_req, res, url) => (url.pathname === f.request.path ? serve(res, f) : false)],
    ]);
    const reading = await azurePressureSource(azureTarget(harness), recordingCredential(), {
      ca: harness.ca,
    }).read(window, new AbortController().signal);
    expect(reading.errors.map((e) => e.message)).toEqual([
      expect.stringContaining("Please try again after '3600' seconds"),
    ]);
  });
});

describe('CloudWatch ListMetrics (AWS JSON 1.0)', () => {
  const instances = ['i-0000000000100000a', 'i-0000000000100000b'];
  const eksWorld = () =>
    fakeWorld(
      { aws: { region: 'eu-west-1', clusterName: 'eks-shop', natGateways: [] } },
      instances.map((id, i) => ({
        name: `ip-10-0-0-${i + 1}.eu-west-1.compute.internal`,
        internalIP: `10.0.0.${i + 1}`,
        providerID: `aws:///eu-west-1a/${id}`,
        metrics: metrics(0, 0, 0, 5),
      })),
    );
  const nodeInfos = () =>
    instances.map((id, i) => ({
      name: `ip-10-0-0-${i + 1}.eu-west-1.compute.internal`,
      providerID: `aws:///eu-west-1a/${id}`,
      labels: {},
      ready: true,
      podCIDRs: [],
    }));
  const source = (h: Harness) =>
    awsEnaConntrackSource(
      { region: 'eu-west-1', clusterName: 'eks-shop', endpoint: h.url },
      {
        ca: h.ca,
        awsCredentials: awsTestCredentials,
        nodes: async () => nodeInfos(),
        retry: { ...defaultRetry, baseDelayMs: 1 },
      },
    );
  const target = (req: IncomingMessage) => String(req.headers['x-amz-target'] ?? '');

  it('reads both pages and every layout the agent publishes; the stranger instance is ignored', async () => {
    const [p1, p2] = [
      fixture('aws/cloudwatch-list-metrics-page1.json'),
      fixture('aws/cloudwatch-list-metrics-page2.json'),
    ];
    harness = await startHarness(eksWorld(), [
      [
        'fixtures',
        (req, res, _url, body) => {
          if (!target(req).endsWith('.ListMetrics')) return false;
          const sent = JSON.parse(body.toString('utf8')) as { NextToken?: string };
          return serve(res, sent.NextToken ? p2 : p1);
        },
      ],
    ]);

    await source(harness).read(window, new AbortController().signal);

    const lists = harness.world.requests.filter((r) =>
      String(r.headers['x-amz-target']).endsWith('.ListMetrics'),
    );
    expect(lists.map((r) => JSON.parse(r.body))).toEqual([p1.request.body, p2.request.body]);
    const get = harness.world.requests.find((r) =>
      String(r.headers['x-amz-target']).endsWith('.GetMetricData'),
    );
    const asked = (
      JSON.parse(get?.body ?? '{}') as {
        MetricDataQueries: { MetricStat: { Metric: { Dimensions: { Name: string; Value: string }[] } } }[];
      }
    ).MetricDataQueries.map((q) =>
      q.MetricStat.Metric.Dimensions.map((d) => `${d.Name}=${d.Value}`).join(','),
    );
    // a: its two interfaces (not the aggregated series); b: only the aggregated one exists.
    expect(asked).toEqual([
      'InstanceId=i-0000000000100000a,interface=eth0,driver=ena',
      'InstanceId=i-0000000000100000a,interface=eth1,driver=ena',
      'InstanceId=i-0000000000100000b',
    ]);
  });

  it('the simulator lists the agent’s series in the fixture’s shape and dimension set', async () => {
    const p1 = fixture('aws/cloudwatch-list-metrics-page1.json');
    harness = await startHarness(eksWorld());
    const res = await rawRequest(harness, 'POST', '/', {
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'GraniteServiceVersion20100801.ListMetrics',
        authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261120/eu-west-1/monitoring/aws4_request',
      },
      body: JSON.stringify(p1.request.body),
    });
    const sim = JSON.parse(res.body) as { Metrics: { Dimensions: { Name: string }[] }[] };
    const fixturePaths = paths(p1.body);
    fixturePaths.delete('NextToken'); // one page here
    expect(missingFrom(fixturePaths, paths(sim))).toEqual([]);
    expect(missingFrom(paths(sim), paths(p1.body))).toEqual([]);
    const names = (ms: { Dimensions: { Name: string }[] }[]) =>
      new Set(
        ms.map((m) =>
          m.Dimensions.map((d) => d.Name)
            .sort()
            .join(','),
        ),
      );
    expect(names(sim.Metrics)).toEqual(names((p1.body as typeof sim).Metrics));
  });

  it('a Throttling answer is retried by the SDK, and the simulator throttles the same way', async () => {
    const f = fixture('aws/cloudwatch-throttled.json');
    let served = 0;
    harness = await startHarness(eksWorld(), [
      [
        'fixture',
        (req, res) => {
          if (!target(req).endsWith('.ListMetrics') || served > 0) return false;
          served += 1;
          return serve(res, f);
        },
      ],
    ]);
    const reading = await source(harness).read(window, new AbortController().signal);
    expect(reading.errors).toEqual([]);
    expect(served).toBe(1);

    const world = eksWorld();
    world.faults.failNext['aws:cloudwatch'] = { status: 429, count: 1 };
    await harness.close();
    harness = await startHarness(world);
    const res = await rawRequest(harness, 'POST', '/', {
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'GraniteServiceVersion20100801.ListMetrics',
        authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261120/eu-west-1/monitoring/aws4_request',
      },
      body: '{}',
    });
    expect(res.status).toBe(f.status);
    expect(res.headers['x-amzn-query-error']).toBe(f.headers?.['x-amzn-query-error']);
    expect(Object.keys(JSON.parse(res.body)).sort()).toEqual(Object.keys(f.body as object).sort());
    expect((JSON.parse(res.body) as { __type: string }).__type).toBe((f.body as { __type: string }).__type);
  });
});

describe('ARM managed cluster (spec example ManagedClustersGet.json)', () => {
  const f = () => fixture('azure/managed-cluster-get.json');
  const target = (h: Harness) => ({
    subscriptionId: '00000000-0000-0000-0000-000000000000',
    resourceGroup: 'rg1',
    clusterName: 'clustername1',
    armEndpoint: h.url,
    metricsEndpoint: h.url,
  });
  /** The cluster from the fixture (optionally changed by `edit`); the LB and metrics are not there. */
  const clusterFrom =
    (body: unknown): SimRoutes =>
    (_req, res, url) =>
      url.pathname.toLowerCase() === (f().request.path as string).toLowerCase()
        ? serve(res, { ...f(), body })
        : false;

  it('the facts come from the example unchanged: own public IPs counted, ports, idle timeout, AKS-managed VNet', async () => {
    harness = await startHarness(fakeWorld(azureCloud(), aksNodes), [['fixture', clusterFrom(f().body)]]);
    const reading = await azurePressureSource(target(harness), recordingCredential(), {
      ca: harness.ca,
      retry: { ...defaultRetry, maxRetries: 0 },
    }).read(window, new AbortController().signal);
    expect(reading.facts.azure).toMatchObject({
      outboundType: 'loadBalancer',
      allocatedOutboundPorts: 2000,
      outboundIPs: 2,
      idleTimeoutMinutes: 10,
      customVnet: false,
    });
  });

  it('an agent pool subnet in another resource group is an own VNet (the example with vnetSubnetID set)', async () => {
    const body = structuredClone(f().body) as {
      properties: { agentPoolProfiles: Record<string, unknown>[] };
    };
    const subnet =
      '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/hub/subnets/aks-nodes';
    (body.properties.agentPoolProfiles[0] as Record<string, unknown>).vnetSubnetID = subnet;
    harness = await startHarness(fakeWorld(azureCloud(), aksNodes), [['fixture', clusterFrom(body)]]);
    const reading = await azurePressureSource(target(harness), recordingCredential(), {
      ca: harness.ca,
      retry: { ...defaultRetry, maxRetries: 0 },
    }).read(window, new AbortController().signal);
    expect(reading.facts.azure).toMatchObject({
      customVnet: true,
      vnetSubnet: { resourceGroup: 'rg-net', vnet: 'hub', subnet: 'aks-nodes' },
    });
  });

  it('the simulator’s managed cluster carries every field the client reads, nested as in the example', async () => {
    harness = await startHarness(fakeWorld(azureCloud(), aksNodes));
    const res = await rawRequest(
      harness,
      'GET',
      `/subscriptions/${SUB}/resourceGroups/rg-shop/providers/Microsoft.ContainerService/managedClusters/aks-shop`,
      { headers: { authorization: 'Bearer t' } },
    );
    const read = [
      'id',
      'location',
      'name',
      'type',
      'properties.nodeResourceGroup',
      'properties.agentPoolProfiles[].name',
      'properties.agentPoolProfiles[].count',
      'properties.networkProfile.outboundType',
      'properties.networkProfile.podCidr',
      'properties.networkProfile.serviceCidr',
      'properties.networkProfile.loadBalancerProfile.allocatedOutboundPorts',
      'properties.networkProfile.loadBalancerProfile.idleTimeoutInMinutes',
      'properties.networkProfile.loadBalancerProfile.effectiveOutboundIPs[].id',
    ];
    const inFixture = paths(f().body);
    const inSim = paths(JSON.parse(res.body));
    for (const p of read) {
      expect(inFixture.has(p), `fixture ${p}`).toBe(true);
      expect(inSim.has(p), `simulator ${p}`).toBe(true);
    }
  });
});

describe('EKS DescribeAddon (REST JSON)', () => {
  const clients = (h: Harness) =>
    awsClients(
      { region: 'eu-west-1', clusterName: 'eks-shop', endpoint: h.url },
      { ...defaultRetry, maxRetries: 0 },
      { ca: h.ca, awsCredentials: awsTestCredentials },
    );
  const eks = { region: 'eu-west-1', clusterName: 'eks-shop' };

  it.each([
    [
      'aws/eks-describe-addon-vpc-cni.json',
      { managed: true, configurationValues: '{"env":{"ENABLE_PREFIX_DELEGATION":"true"}}' },
    ],
    ['aws/eks-describe-addon-not-found.json', { managed: false }],
  ])('%s read unchanged → %j', async (file, expected) => {
    const f = fixture(file);
    harness = await startHarness(fakeWorld({ aws: eks }, []), [
      ['fixture', (_req, res, url) => (url.pathname === f.request.path ? serve(res, f) : false)],
    ]);
    expect(await describeVpcCni(clients(harness), eks, new AbortController().signal)).toEqual(expected);
  });

  it.each([
    [
      'aws/eks-describe-addon-vpc-cni.json',
      { configurationValues: '{"env":{"ENABLE_PREFIX_DELEGATION":"true"}}' },
    ],
    ['aws/eks-describe-addon-not-found.json', undefined],
  ])('the simulator answers like %s', async (file, addon) => {
    const f = fixture(file);
    harness = await startHarness(
      fakeWorld({ aws: { ...eks, ...(addon ? { vpcCniAddon: addon } : {}) } }, []),
    );
    const res = await rawRequest(harness, 'GET', f.request.path as string, {
      headers: {
        authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261120/eu-west-1/eks/aws4_request',
      },
    });
    expect(res.status).toBe(f.status);
    expect(res.headers['x-amzn-errortype']).toBe(f.headers?.['x-amzn-errortype']);
    const sim = JSON.parse(res.body);
    expect(missingFrom(paths(f.body), paths(sim))).toEqual([]);
    expect(missingFrom(paths(sim), paths(f.body))).toEqual([]);
  });
});
