import { ContainerServiceClient } from '@azure/arm-containerservice';
import { NetworkManagementClient } from '@azure/arm-network';
import { MetricsClient } from '@azure/monitor-query-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIsoDuration, parseMetricFilter, seriesValues } from '../../src/sim/azure.js';
import {
  aksNodes,
  azureCloud,
  fakeWorld,
  type Harness,
  metrics,
  rawRequest,
  recordingCredential,
  startHarness,
} from '../pressure/harness.js';

const SUB = '11111111-2222-3333-4444-555555555555';
const NODE_RG = 'MC_rg-shop_aks-shop_westeurope';
const LB_ID = `/subscriptions/${SUB}/resourceGroups/${NODE_RG}/providers/Microsoft.Network/loadBalancers/kubernetes`;
const start = new Date('2026-11-20T10:00:00Z');
const end = new Date('2026-11-20T10:05:00Z');

let h: Harness;
const nodes = aksNodes(60, (i) => metrics(200 + i, 1024, i % 7 === 0 ? i : 0));
beforeAll(async () => {
  h = await startHarness(fakeWorld(azureCloud(), nodes));
});
afterAll(async () => {
  await h.close();
});

const options = () => ({ tlsOptions: { ca: h.ca }, retryOptions: { maxRetries: 0 } });
const metricsClient = () => new MetricsClient(h.url, recordingCredential(), options());

describe('simulated Azure Monitor (metrics:getBatch, as @azure/monitor-query-metrics calls it)', () => {
  it.each([
    { top: undefined, series: 10 },
    { top: 60, series: 60 },
    { top: 25, series: 25 },
  ])('returns $series series of a 60-node split when top is $top', async ({ top, series }) => {
    const [result] = await metricsClient().queryResources(
      [LB_ID],
      ['UsedSnatPorts'],
      'Microsoft.Network/loadBalancers',
      {
        startTime: start,
        endTime: end,
        interval: 'PT1M',
        aggregation: 'Average',
        filter: "BackendIPAddress eq '*' and ProtocolType eq 'TCP'",
        ...(top ? { top } : {}),
      },
    );
    expect(result?.metrics[0]?.timeseries).toHaveLength(series);
  });

  it('shows the snapshot number as the worst minute, lower minutes and a null last minute', async () => {
    const [result] = await metricsClient().queryResources(
      [LB_ID],
      ['UsedSnatPorts'],
      'Microsoft.Network/loadBalancers',
      {
        startTime: start,
        endTime: end,
        interval: 'PT1M',
        aggregation: 'Average',
        filter: `BackendIPAddress eq '${nodes[3]?.internalIP}' and ProtocolType eq 'TCP'`,
      },
    );
    const ts = result?.metrics[0]?.timeseries ?? [];
    expect(ts).toHaveLength(1);
    // The SDK hands out display names (localizedValue || value), as it does against Azure.
    expect(result?.metrics[0]?.name).toBe('Used SNAT Ports');
    expect(ts[0]?.metadatavalues).toContainEqual({ name: 'Backend IP Address', value: nodes[3]?.internalIP });
    const values = (ts[0]?.data ?? []).map((d) => d.average);
    expect(values).toHaveLength(5);
    expect(values[4]).toBeUndefined();
    const known = values.filter((v): v is number => v !== undefined);
    expect(Math.max(...known)).toBe(203);
    expect(known.filter((v) => v < 203)).toHaveLength(3);
  });

  it('answers one series without a split: Average per instance, Total summed', async () => {
    const [result] = await metricsClient().queryResources(
      [LB_ID],
      ['AllocatedSnatPorts'],
      'Microsoft.Network/loadBalancers',
      {
        startTime: start,
        endTime: new Date(start.getTime() + 60_000),
        interval: 'PT1M',
        aggregation: 'Average,Total',
        filter: "ProtocolType eq 'TCP'",
      },
    );
    const point = result?.metrics[0]?.timeseries[0]?.data?.[0];
    expect(point).toMatchObject({ average: 1024, total: 1024 * 60 });
  });

  it.each([
    { metric: 'NoSuchMetric', aggregation: 'Average', filter: undefined, error: /Failed to find metric/ },
    { metric: 'UsedSnatPorts', aggregation: 'Average', filter: "Color eq '*'", error: /Dimension 'color'/ },
    { metric: 'SnatConnectionCount', aggregation: 'Maximum', filter: undefined, error: /not supported/ },
  ])('rejects $metric $aggregation $filter with 400', async ({ metric, aggregation, filter, error }) => {
    await expect(
      metricsClient().queryResources([LB_ID], [metric], 'Microsoft.Network/loadBalancers', {
        startTime: start,
        endTime: end,
        aggregation,
        ...(filter ? { filter } : {}),
      }),
    ).rejects.toMatchObject({ statusCode: 400, message: expect.stringMatching(error) });
  });

  it('requires a bearer token', async () => {
    const res = await rawRequest(
      h,
      'POST',
      `/subscriptions/${SUB}/metrics:getBatch?metricnames=UsedSnatPorts&metricnamespace=x`,
      { body: '{}' },
    );
    expect(res.status).toBe(401);
  });

  it('serves the ARM metrics API with $filter, timespan and top', async () => {
    const q = new URLSearchParams({
      'api-version': '2023-10-01',
      metricnames: 'SnatConnectionCount',
      aggregation: 'Total',
      interval: 'PT1M',
      timespan: `${start.toISOString()}/${end.toISOString()}`,
      $filter: "BackendIPAddress eq '*' and ConnectionState eq 'failed'",
      top: '100',
    });
    const res = await rawRequest(h, 'GET', `${LB_ID}/providers/Microsoft.Insights/metrics?${q}`, {
      headers: { authorization: 'Bearer x' },
    });
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body) as { value: { timeseries: { data: { total?: number }[] }[] }[] };
    const totals = body.value[0]?.timeseries.map((t) => t.data.reduce((s, d) => s + (d.total ?? 0), 0)) ?? [];
    expect(totals).toHaveLength(60);
    expect(totals.reduce((a, b) => a + b, 0)).toBe(
      nodes.reduce((s, n) => s + n.metrics.failedSnatConnections, 0),
    );
  });

  it('splits by two dimensions into one series per combination; equal series in locale order of their dimensions', async () => {
    const q = new URLSearchParams({
      'api-version': '2023-10-01',
      metricnames: 'AllocatedSnatPorts',
      aggregation: 'Average',
      interval: 'PT1M',
      timespan: `${start.toISOString()}/${end.toISOString()}`,
      $filter: "BackendIPAddress eq '*' and ProtocolType eq '*'",
      top: '500',
    });
    const res = await rawRequest(h, 'GET', `${LB_ID}/providers/Microsoft.Insights/metrics?${q}`, {
      headers: { authorization: 'Bearer x' },
    });
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body) as {
      value: { timeseries: { metadatavalues: { name: { value: string }; value: string }[] }[] }[];
    };
    const series = (body.value[0]?.timeseries ?? []).map((t) =>
      Object.fromEntries(t.metadatavalues.map((m) => [m.name.value, m.value])),
    );
    // 60 nodes × TCP and UDP, each pair once.
    expect(series).toHaveLength(120);
    expect(new Set(series.map((s) => `${s.backendipaddress}/${s.protocoltype}`)).size).toBe(120);
    expect(new Set(series.map((s) => s.protocoltype))).toEqual(new Set(['TCP', 'UDP']));
    // Every node has 1,024 allocated ports on both protocols: all series tie, and the tie goes by localeCompare.
    const orders = series.map((s) => JSON.stringify(s));
    expect(orders).toEqual([...orders].sort((a, b) => a.localeCompare(b)));
  });
});

describe('simulated Azure Resource Manager', () => {
  it('serves the managed cluster and a kubeconfig pointing at the simulator', async () => {
    const client = new ContainerServiceClient(recordingCredential(), SUB, {
      endpoint: h.url,
      $host: h.url,
      ...options(),
    });
    const cluster = await client.managedClusters.get('rg-shop', 'aks-shop');
    expect(cluster).toMatchObject({
      nodeResourceGroup: NODE_RG,
      networkProfile: {
        outboundType: 'loadBalancer',
        loadBalancerProfile: {
          allocatedOutboundPorts: 1024,
          managedOutboundIPs: { count: 1 },
          idleTimeoutInMinutes: 30,
        },
      },
    });
    expect(cluster.fqdn).toMatch(/\.hcp\.westeurope\.azmk8s\.io$/);
    const creds = await client.managedClusters.listClusterUserCredentials('rg-shop', 'aks-shop');
    const yaml = Buffer.from(creds.kubeconfigs?.[0]?.value ?? new Uint8Array()).toString('utf8');
    expect(yaml).toContain(`server: ${h.url}`);
    expect(yaml).toContain(`certificate-authority-data: ${Buffer.from(h.ca).toString('base64')}`);
  });

  it('serves the kubernetes load balancer with nodeIP backends and the outbound rule', async () => {
    const client = new NetworkManagementClient(recordingCredential(), SUB, {
      endpoint: h.url,
      $host: h.url,
      ...options(),
    });
    const lb = await client.loadBalancers.get(NODE_RG, 'kubernetes');
    const outbound = lb.backendAddressPools?.find((p) => p.name === 'aksOutboundBackendPool');
    expect(outbound?.loadBalancerBackendAddresses?.map((a) => a.ipAddress)).toEqual(
      nodes.map((n) => n.internalIP),
    );
    expect(lb.outboundRules?.[0]).toMatchObject({
      name: 'aksOutboundRule',
      allocatedOutboundPorts: 1024,
      idleTimeoutInMinutes: 30,
    });
    expect(lb.frontendIPConfigurations).toHaveLength(1);
  });

  it('answers 404 for an unknown cluster', async () => {
    const client = new ContainerServiceClient(recordingCredential(), SUB, {
      endpoint: h.url,
      $host: h.url,
      ...options(),
    });
    await expect(client.managedClusters.get('rg-shop', 'nope')).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('simulator helpers', () => {
  it.each([
    ['PT1M', 60_000],
    ['PT5M', 300_000],
    ['PT1H', 3_600_000],
    ['P1D', 86_400_000],
    ['PT30S', 30_000],
    ['bogus', undefined],
  ])('parseIsoDuration(%s) = %s', (text, ms) => {
    expect(parseIsoDuration(text)).toBe(ms);
  });

  it('parses filters with splits, values and or', () => {
    const f = parseMetricFilter(
      "BackendIPAddress eq '*' and ConnectionState eq 'failed' or ConnectionState eq 'Pending'",
    );
    expect([...f.entries()].map(([k, v]) => [k, [...v]])).toEqual([
      ['backendipaddress', ['*']],
      ['connectionstate', ['failed', 'pending']],
    ]);
  });

  it.each([1, 2, 3, 5, 30])(
    'puts the value in exactly one of %i points and nulls only the last of three or more',
    (n) => {
      const gauge = seriesValues(500, n, 'k', 'gauge');
      expect(gauge.filter((v) => v === 500)).toHaveLength(1);
      expect(gauge.filter((v) => v === null)).toHaveLength(n >= 3 ? 1 : 0);
      const counter = seriesValues(7, n, 'k', 'counter');
      expect(counter.reduce<number>((s, v) => s + (v ?? 0), 0)).toBe(7);
    },
  );
});
