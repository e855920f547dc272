// The Azure SDK clients of the pressure sources, configured once: endpoint overrides, bounded retries and
// an extra trusted CA per client (tlsOptions), never process-global TLS settings.
import { rootCertificates } from 'node:tls';
import { ContainerServiceClient, type ManagedCluster } from '@azure/arm-containerservice';
import { NetworkManagementClient } from '@azure/arm-network';
import type { TokenCredential } from '@azure/core-auth';
import {
  MetricsClient,
  type MetricsQueryResourcesOptions,
  type MetricsQueryResult,
} from '@azure/monitor-query-metrics';
import type { TimeWindow } from '../model.js';
import type { Point } from './series.js';
import type { AzureTarget, RetryPolicy } from './types.js';

export interface AzureClients {
  target: AzureTarget;
  containers: ContainerServiceClient;
  network: NetworkManagementClient;
  /** One metrics client per regional endpoint. */
  metrics(location: string): MetricsClient;
  metricsEndpoint(location: string): string;
}

/** Options every Azure client gets: retries bounded by the policy, the extra CA when given. */
export function azurePipelineOptions(policy: RetryPolicy, caPem?: string) {
  return {
    retryOptions: {
      maxRetries: policy.maxRetries,
      retryDelayInMs: policy.baseDelayMs,
      maxRetryDelayInMs: policy.maxDelayMs,
    },
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
  const arm = target.armEndpoint?.replace(/\/+$/, '');
  const armOptions = { ...base, ...(arm ? { endpoint: arm, $host: arm } : {}) };
  const metricsEndpoint = (location: string): string =>
    (
      target.metricsEndpoint ??
      `https://${location.toLowerCase().replace(/\s+/g, '')}.metrics.monitor.azure.com`
    ).replace(/\/+$/, '');
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
        client = new MetricsClient(endpoint, credential, base);
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
  metricNames: string[];
  aggregation: 'Average' | 'Total' | 'Maximum';
  filter?: string;
  top?: number;
}

/** One time series of one metric: its dimension values (lower-case names) and points of the aggregation. */
export interface Series {
  metric: string;
  dims: Record<string, string>;
  points: Point[];
}

export interface MetricAnswer {
  series: Series[];
  /** Metrics that came back with an error code. */
  failed: { metric: string; message: string }[];
}

/** Runs one metrics:getBatch query over the window at one-minute grain and flattens its series. */
export async function queryMetrics(
  client: MetricsClient,
  q: MetricQuery,
  window: TimeWindow,
  signal: AbortSignal,
): Promise<MetricAnswer> {
  const options: MetricsQueryResourcesOptions & { abortSignal: AbortSignal } = {
    startTime: window.start,
    endTime: window.end,
    interval: 'PT1M',
    aggregation: q.aggregation,
    ...(q.filter ? { filter: q.filter } : {}),
    ...(q.top !== undefined ? { top: q.top } : {}),
    abortSignal: signal,
  };
  const results: MetricsQueryResult[] = await client.queryResources(
    [q.resourceId],
    q.metricNames,
    q.namespace,
    options,
  );
  const key = q.aggregation === 'Average' ? 'average' : q.aggregation === 'Total' ? 'total' : 'maximum';
  const answer: MetricAnswer = { series: [], failed: [] };
  for (const result of results) {
    for (const metric of result.metrics ?? []) {
      if (metric.errorCode && metric.errorCode !== 'Success') {
        answer.failed.push({ metric: metric.name, message: metric.errorMessage ?? metric.errorCode });
        continue;
      }
      for (const ts of metric.timeseries ?? []) {
        const dims: Record<string, string> = {};
        for (const md of ts.metadatavalues ?? [])
          if (md.name) dims[String(md.name).toLowerCase()] = md.value ?? '';
        const points = (ts.data ?? []).map((d) => ({ t: new Date(d.timeStamp).getTime(), v: d[key] }));
        answer.series.push({ metric: metric.name, dims, points });
      }
    }
  }
  return answer;
}

export const clusterLocation = (target: AzureTarget, cluster: ManagedCluster): string =>
  target.location ?? cluster.location;
