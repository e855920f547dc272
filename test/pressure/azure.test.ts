import { afterEach, describe, expect, it } from 'vitest';
import type { NodeInfo, TimeWindow } from '../../src/model.js';
import { azurePressureSource } from '../../src/pressure/azure.js';
import { FAILED_FILTER, PORTS_FILTER } from '../../src/pressure/azure-load-balancer.js';
import { createPressureSources } from '../../src/pressure/index.js';
import type { AzureTarget } from '../../src/pressure/types.js';
import {
  aksNodes,
  azureCloud,
  fakeWorld,
  type Harness,
  metrics,
  recordingCredential,
  startHarness,
} from './harness.js';

const window: TimeWindow = { start: new Date('2026-11-20T10:00:00Z'), end: new Date('2026-11-20T10:05:00Z') };
const fastRetry = { maxRetries: 2, baseDelayMs: 5, maxDelayMs: 20, totalTimeoutMs: 10_000 };

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

function target(h: Harness): AzureTarget {
  return {
    subscriptionId: '11111111-2222-3333-4444-555555555555',
    resourceGroup: 'rg-shop',
    clusterName: 'aks-shop',
    armEndpoint: h.url,
    metricsEndpoint: h.url,
  };
}

const metricRequests = (h: Harness) => h.world.requests.filter((r) => r.path.endsWith('/metrics:getBatch'));
const params = (query: string) => new URLSearchParams(query);

describe('azure load balancer pressure through the simulator', () => {
  it('reads every node of a 60-node cluster with the documented query (not the default 10 series)', async () => {
    const nodes = aksNodes(60, (i) => metrics(100 + i * 10, 512, i === 59 ? 37 : 0));
    harness = await startHarness(
      fakeWorld(
        azureCloud({ loadBalancer: { allocatedOutboundPorts: 512, outboundIPs: 2, idleTimeoutMinutes: 15 } }),
        nodes,
      ),
    );
    const source = azurePressureSource(target(harness), recordingCredential(), {
      ca: harness.ca,
      retry: fastRetry,
    });

    const reading = await source.read(window, new AbortController().signal);

    expect(reading.errors).toEqual([]);
    expect(reading.nodes).toHaveLength(60);
    const byIp = new Map(reading.nodes.map((n) => [n.node.internalIP, n.signals]));
    for (const n of nodes) {
      const ports = byIp.get(n.internalIP)?.find((s) => s.kind === 'snat-ports');
      // the worst minute carries the snapshot's numbers; the simulator's other minutes are lower
      expect(ports).toMatchObject({
        used: n.metrics.usedSnatPorts,
        allocated: 512,
        ratio: n.metrics.usedSnatPorts / 512,
      });
      expect(byIp.get(n.internalIP)?.find((s) => s.kind === 'snat-failed')?.value).toBe(
        n.metrics.failedSnatConnections,
      );
    }
    expect(reading.facts.azure).toMatchObject({
      outboundType: 'loadBalancer',
      allocatedOutboundPorts: 512,
      outboundIPs: 2,
      idleTimeoutMinutes: 15,
      nodeCount: 60,
    });

    // One metric per query: the answer's series belong to the metric asked for (never to a display name).
    const [allocatedQuery, failedQuery, usedQuery] = metricRequests(harness)
      .map((r) => params(r.query))
      .sort((a, b) => (a.get('metricnames') ?? '').localeCompare(b.get('metricnames') ?? ''));
    expect(allocatedQuery?.get('metricnames')).toBe('AllocatedSnatPorts');
    expect(usedQuery?.get('metricnames')).toBe('UsedSnatPorts');
    for (const q of [allocatedQuery, usedQuery]) {
      expect(q?.get('aggregation')).toBe('Average');
      expect(q?.get('filter')).toBe(PORTS_FILTER);
    }
    expect(failedQuery?.get('metricnames')).toBe('SnatConnectionCount');
    expect(failedQuery?.get('aggregation')).toBe('Total');
    expect(failedQuery?.get('filter')).toBe(FAILED_FILTER);
    for (const q of [allocatedQuery, usedQuery, failedQuery]) {
      expect(q?.get('interval')).toBe('PT1M');
      expect(q?.get('metricnamespace')).toBe('Microsoft.Network/loadBalancers');
      expect(q?.get('starttime')).toBe(window.start.toISOString());
      expect(q?.get('endtime')).toBe(window.end.toISOString());
      expect(Number(q?.get('top'))).toBeGreaterThanOrEqual(60);
    }
    // ARM reads: the managed cluster, then its `kubernetes` load balancer in the node resource group
    const arm = harness.world.requests
      .filter((r) => r.service === 'azure' && !r.path.includes('metrics'))
      .map((r) => r.path);
    expect(arm).toEqual([
      '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-shop/providers/Microsoft.ContainerService/managedClusters/aks-shop',
      '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/MC_rg-shop_aks-shop_westeurope/providers/Microsoft.Network/loadBalancers/kubernetes',
    ]);
  });

  it('retries a 429 with Retry-After and then succeeds', async () => {
    const world = fakeWorld(
      azureCloud(),
      aksNodes(2, (i) => metrics(i === 0 ? 1024 : 10, 1024)),
    );
    world.faults.failNext['azure:metrics'] = { status: 429, count: 1, retryAfterSeconds: 0 };
    harness = await startHarness(world);
    const source = azurePressureSource(target(harness), recordingCredential(), {
      ca: harness.ca,
      retry: fastRetry,
    });

    const reading = await source.read(window, new AbortController().signal);

    expect(reading.errors).toEqual([]);
    expect(
      reading.nodes
        .map((n) => n.signals.find((s) => s.kind === 'snat-ports')?.used)
        .sort((a, b) => (a ?? 0) - (b ?? 0)),
    ).toEqual([10, 1024]);
    expect(metricRequests(harness).map((r) => r.status)).toContain(429);
    expect(metricRequests(harness).filter((r) => r.status === 200)).toHaveLength(3);
  });

  it('turns a provider that is down into an error entry, without throwing', async () => {
    const world = fakeWorld(
      azureCloud(),
      aksNodes(2, () => metrics(10, 1024)),
    );
    world.faults.down.add('azure');
    harness = await startHarness(world);
    const source = azurePressureSource(target(harness), recordingCredential(), {
      ca: harness.ca,
      retry: fastRetry,
    });

    const reading = await source.read(window, new AbortController().signal);

    expect(reading.nodes).toEqual([]);
    expect(reading.errors).toHaveLength(1);
    expect(reading.errors[0]).toMatchObject({
      stage: 'pressure',
      target: 'azure/rg-shop/managedClusters/aks-shop',
    });
    expect(reading.errors[0]?.message).toMatch(/managed cluster lookup failed/);
  });

  it('reports a failing metrics endpoint but keeps the facts from ARM', async () => {
    const world = fakeWorld(
      azureCloud(),
      aksNodes(2, () => metrics(10, 1024)),
    );
    world.faults.down.add('azure:metrics');
    harness = await startHarness(world);
    const source = azurePressureSource(target(harness), recordingCredential(), {
      ca: harness.ca,
      retry: fastRetry,
    });

    const reading = await source.read(window, new AbortController().signal);

    expect(reading.nodes).toEqual([]);
    expect(reading.facts.azure?.allocatedOutboundPorts).toBe(1024);
    expect(reading.errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/UsedSnatPorts query failed/),
      expect.stringMatching(/AllocatedSnatPorts query failed/),
      expect.stringMatching(/SnatConnectionCount query failed/),
    ]);
  });

  it('rejects when the caller aborts', async () => {
    const world = fakeWorld(
      azureCloud(),
      aksNodes(1, () => metrics(10, 1024)),
    );
    harness = await startHarness(world);
    const source = azurePressureSource(target(harness), recordingCredential(), {
      ca: harness.ca,
      retry: fastRetry,
    });
    const abort = new AbortController();
    abort.abort(new Error('deadline'));

    await expect(source.read(window, abort.signal)).rejects.toThrow();
  });

  it('asks for the token of the endpoint it talks to', async () => {
    harness = await startHarness(
      fakeWorld(
        azureCloud(),
        aksNodes(1, () => metrics(10, 1024)),
      ),
    );
    const credential = recordingCredential();
    await azurePressureSource(target(harness), credential, { ca: harness.ca, retry: fastRetry }).read(
      window,
      new AbortController().signal,
    );

    expect(credential.scopes).toContainEqual([`${harness.url}/.default`]);
    expect(credential.scopes).toContainEqual(['https://management.azure.com/.default']);
  });
});

describe('azure NAT gateway pressure through the simulator', () => {
  it('makes every node of the gateway subnet a candidate with the gateway numbers', async () => {
    const nodes = aksNodes(3, (i) => metrics(i * 100, 0, i === 2 ? 40 : 0));
    harness = await startHarness(fakeWorld(azureCloud({ outboundType: 'managedNATGateway' }), nodes));
    const nodeInfos: NodeInfo[] = nodes.map((n) => ({
      name: n.name,
      internalIP: n.internalIP,
      labels: {},
      ready: true,
      podCIDRs: [],
    }));
    const [source] = createPressureSources(
      {
        provider: 'azure',
        azure: {
          subscriptionId: '11111111-2222-3333-4444-555555555555',
          resourceGroup: 'rg-shop',
          clusterName: 'aks-shop',
        },
      },
      {
        armEndpoint: harness.url,
        metricsEndpoint: harness.url,
        ca: harness.ca,
        azureCredential: recordingCredential(),
        retry: fastRetry,
        nodes: async () => nodeInfos,
      },
    );

    const reading = await source?.read(window, new AbortController().signal);

    expect(reading?.errors).toEqual([]);
    expect(reading?.facts.azure).toMatchObject({
      outboundType: 'managedNATGateway',
      natGateway: { failedSnat: 40, totalConnections: 300 },
    });
    expect(reading?.nodes.map((n) => n.node.name)).toEqual(nodes.map((n) => n.name));
    for (const n of reading?.nodes ?? []) {
      expect(n.signals.find((s) => s.kind === 'natgw-port-allocation')).toMatchObject({
        value: 40,
        source: 'azure-nat-gateway:aks-natgw',
      });
    }
    const queries = metricRequests(harness).map((r) => params(r.query));
    expect(queries.map((q) => q.get('metricnamespace'))).toEqual([
      'Microsoft.Network/natGateways',
      'Microsoft.Network/natGateways',
      'Microsoft.Network/natGateways',
    ]);
    expect(queries.map((q) => q.get('metricnames')).sort()).toEqual([
      'PacketDropCount',
      'SNATConnectionCount',
      'TotalConnectionCount',
    ]);
    expect(queries.find((q) => q.get('metricnames') === 'SNATConnectionCount')?.get('filter')).toBe(
      "ConnectionState eq 'Failed'",
    );
    expect(queries.every((q) => q.get('aggregation') === 'Total' && q.get('interval') === 'PT1M')).toBe(true);
  });
});
