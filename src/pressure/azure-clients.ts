// The Azure SDK clients of the pressure sources, configured once: endpoint overrides, bounded retries and
// an extra trusted CA per client (tlsOptions), never process-global TLS settings.
import { rootCertificates } from 'node:tls';
import { ContainerServiceClient, type ManagedCluster } from '@azure/arm-containerservice';
import { NetworkManagementClient } from '@azure/arm-network';
import type { TokenCredential } from '@azure/core-auth';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { MetricsClient, type MetricsQueryResourcesOptions } from '@azure/monitor-query-metrics';
import { PressureSourceError } from '../errors.js';
import type { TimeWindow } from '../model.js';
import type { Point } from './series.js';
import { AZURE_CLOUD_ENDPOINTS, type AzureTarget, type RetryPolicy, retryAfterMs } from './types.js';

export interface AzureClients {
  target: AzureTarget;
  containers: ContainerServiceClient;
  network: NetworkManagementClient;
  /** One metrics client per regional endpoint. */
  metrics(location: string): MetricsClient;
  metricsEndpoint(location: string): string;
}

/**
 * A policy under the retry policy (perRetry): a throttling answer whose Retry-After asks for more than
 * `capMs` loses its Retry-After headers, so the pipeline does not sleep for it (the SDK honours any
 * Retry-After, 3,600 s included): the 429 reaches the source as an error at once and the run goes on.
 */
export function retryAfterCapPolicy(capMs: number): PipelinePolicy {
  return {
    name: 'snatguardRetryAfterCap',
    async sendRequest(request, next) {
      const response = await next(request);
      if (response.status !== 429 && response.status !== 503) return response;
      const wait = retryAfterMs({ get: (n) => response.headers.get(n) });
      if (wait !== undefined && wait > capMs)
        for (const h of ['retry-after', 'retry-after-ms', 'x-ms-retry-after-ms']) response.headers.delete(h);
      return response;
    },
  };
}

/**
 * Options every Azure client gets: retries bounded by the policy, every Retry-After capped at the
 * policy's longest delay, the extra CA when given.
 */
export function azurePipelineOptions(policy: RetryPolicy, caPem?: string) {
  return {
    retryOptions: {
      maxRetries: policy.maxRetries,
      retryDelayInMs: policy.baseDelayMs,
      maxRetryDelayInMs: policy.maxDelayMs,
    },
    additionalPolicies: [
      {
        policy: retryAfterCapPolicy(Math.min(policy.maxDelayMs, policy.totalTimeoutMs)),
        position: 'perRetry' as const,
      },
    ],
    ...(caPem ? { tlsOptions: { ca: [...rootCertificates, caPem] } } : {}),
  };
}

export function azureClients(
  target: AzureTarget,
  credential: TokenCredential,
  policy: RetryPolicy,
  caPem?: string,
): AzureClients {
  const base = azurePipelineOptions(policy, caPem);
  const cloud = AZURE_CLOUD_ENDPOINTS[target.cloud ?? 'AzurePublicCloud'];
  // An explicit endpoint wins over the cloud's; the public ARM endpoint is the SDKs' own default.
  const arm = (target.armEndpoint ?? (target.cloud ? cloud.arm : undefined))?.replace(/\/+$/, '');
  const armOptions = { ...base, ...(arm ? { endpoint: arm, $host: arm } : {}) };
  const metricsEndpoint = (location: string): string =>
    (
      target.metricsEndpoint ?? `https://${location.toLowerCase().replace(/\s+/g, '')}.${cloud.metricsHost}`
    ).replace(/\/+$/, '');
  // Scopes, not `audience`: MetricsClient 1.0.0 passes an audience on without `/.default`.
  const metricsOptions = {
    ...base,
    ...(cloud.metricsAudience ? { credentials: { scopes: [`${cloud.metricsAudience}/.default`] } } : {}),
  };
  const byEndpoint = new Map<string, MetricsClient>();
  return {
    target,
    containers: new ContainerServiceClient(credential, target.subscriptionId, armOptions),
    network: new NetworkManagementClient(credential, target.subscriptionId, armOptions),
    metricsEndpoint,
    metrics(location) {
      const endpoint = metricsEndpoint(location);
      let client = byEndpoint.get(endpoint);
      if (!client) {
        client = new MetricsClient(endpoint, credential, metricsOptions);
        byEndpoint.set(endpoint, client);
      }
      return client;
    },
  };
}

/** `/subscriptions/s/resourceGroups/rg/providers/.../virtualNetworks/v/subnets/x` → { rg, vnet, subnet }. */
export function parseSubnetId(
  id: string,
): { resourceGroup: string; vnet: string; subnet: string } | undefined {
  const m =
    /\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/virtualNetworks\/([^/]+)\/subnets\/([^/]+)$/i.exec(
      id,
    );
  return m ? { resourceGroup: m[1] as string, vnet: m[2] as string, subnet: m[3] as string } : undefined;
}

export const resourceName = (id: string): string => id.split('/').filter(Boolean).pop() ?? id;

export interface MetricQuery {
  resourceId: string;
  namespace: string;
  /** Exactly one metric per query: the answer's series belong to it by construction, whatever its display name. */
  metric: string;
  aggregation: 'Average' | 'Total' | 'Maximum';
  filter?: string;
  top?: number;
}

/** One time series of the queried metric: its dimension values (invariant names, lower case) and points. */
export interface Series {
  metric: string;
  dims: Record<string, string>;
  points: Point[];
}

export interface MetricAnswer {
  series: Series[];
  /** The metric came back with an error code. */
  failed: { metric: string; message: string }[];
}

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const arrayOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * The invariant name of a `{value, localizedValue}` pair. @azure/monitor-query-metrics hands out
 * `localizedValue || value` (a display name such as "Backend IP Address"), so names are read from the
 * wire body instead; a bare string is taken as is.
 */
export const invariantName = (name: unknown): string =>
  (isObject(name) ? String(name.value ?? '') : typeof name === 'string' ? name : '').toLowerCase();

/**
 * Pure: the body of a `metrics:getBatch` answer for ONE resource and ONE metric → series. Which metric a
 * series belongs to comes from the request (one metric per query), dimension names from their invariant
 * `name.value`; points whose aggregation is absent or null stay null (not yet ingested).
 */
export function seriesOfBatchBody(body: unknown, q: MetricQuery): MetricAnswer {
  const key = q.aggregation === 'Average' ? 'average' : q.aggregation === 'Total' ? 'total' : 'maximum';
  const answer: MetricAnswer = { series: [], failed: [] };
  const values = isObject(body) ? arrayOf(body.values) : [];
  // Results come back in the order of the request's resource ids; one id was asked for.
  const result = values[0];
  if (!isObject(result)) return answer;
  const metrics = arrayOf(result.value).filter(isObject);
  // One metric was asked for; should more come back, keep the one whose invariant name is that metric.
  const asked =
    metrics.length > 1 ? metrics.filter((m) => invariantName(m.name) === q.metric.toLowerCase()) : metrics;
  // The series of an answer share their minutes: the timestamp at each point index is parsed once and
  // reused while the next series writes the same text there (3,000 nodes' series of 15 points were 45k
  // Date.parse calls per query).
  const stampText: string[] = [];
  const stampTime: number[] = [];
  for (const metric of asked) {
    const code = typeof metric.errorCode === 'string' ? metric.errorCode : undefined;
    if (code && code !== 'Success') {
      const message =
        typeof metric.errorMessage === 'string' && metric.errorMessage ? metric.errorMessage : code;
      answer.failed.push({ metric: q.metric, message });
      continue;
    }
    for (const ts of arrayOf(metric.timeseries)) {
      if (!isObject(ts)) continue;
      const dims: Record<string, string> = {};
      for (const md of arrayOf(ts.metadatavalues)) {
        if (!isObject(md)) continue;
        const name = invariantName(md.name);
        if (name) dims[name] = typeof md.value === 'string' ? md.value : String(md.value ?? '');
      }
      const points: Point[] = [];
      for (const d of arrayOf(ts.data)) {
        if (!isObject(d)) continue;
        const v = d[key];
        const j = points.length;
        const text = String(d.timeStamp);
        if (stampText[j] !== text) {
          stampText[j] = text;
          stampTime[j] = Date.parse(text);
        }
        points.push({ t: stampTime[j]!, v: typeof v === 'number' ? v : null });
      }
      answer.series.push({ metric: q.metric, dims, points });
    }
  }
  return answer;
}

/** Runs one metrics:getBatch query for one metric over the window at one-minute grain. */
export async function queryMetrics(
  client: MetricsClient,
  q: MetricQuery,
  window: TimeWindow,
  signal: AbortSignal,
): Promise<MetricAnswer> {
  let body: unknown;
  const options: MetricsQueryResourcesOptions & {
    abortSignal: AbortSignal;
    onResponse: (r: { status: number; parsedBody?: unknown }) => void;
  } = {
    startTime: window.start,
    endTime: window.end,
    interval: 'PT1M',
    aggregation: q.aggregation,
    ...(q.filter ? { filter: q.filter } : {}),
    ...(q.top !== undefined ? { top: q.top } : {}),
    abortSignal: signal,
    onResponse: (r) => {
      if (r.status === 200) body = r.parsedBody;
    },
  };
  // The SDK carries auth, retries and errors; the series are read from the wire body it received.
  await client.queryResources([q.resourceId], [q.metric], q.namespace, options);
  if (body === undefined) throw new PressureSourceError(`metrics answer for ${q.metric} had no JSON body`);
  return seriesOfBatchBody(body, q);
}

export const clusterLocation = (target: AzureTarget, cluster: ManagedCluster): string =>
  target.location ?? cluster.location;

/**
 * Whether the node pools sit in the cluster's own VNet: an agent pool `vnetSubnetID` outside the node
 * resource group (AKS creates its managed VNet there, and leaves vnetSubnetID unset or pointing into it).
 */
export function vnetFacts(cluster: ManagedCluster): {
  customVnet: boolean;
  vnetSubnet?: { resourceGroup: string; vnet: string; subnet: string };
} {
  const nodeRg = (cluster.nodeResourceGroup ?? '').toLowerCase();
  for (const pool of cluster.agentPoolProfiles ?? []) {
    const parts = pool.vnetSubnetID ? parseSubnetId(pool.vnetSubnetID) : undefined;
    if (parts && parts.resourceGroup.toLowerCase() !== nodeRg) return { customVnet: true, vnetSubnet: parts };
  }
  return { customVnet: false };
}
