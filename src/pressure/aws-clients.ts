// The AWS SDK clients of the pressure sources: endpoint override, bounded attempts, an extra trusted CA
// through the client's own https Agent (never process-global TLS settings), and batched GetMetricData.
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import {
  CloudWatchClient,
  GetMetricDataCommand,
  type MetricDataQuery,
  type MetricDataResult,
} from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EKSClient } from '@aws-sdk/client-eks';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { TimeWindow } from '../model.js';
import type { Point } from './series.js';
import type { AwsTarget, PressureDeps, RetryPolicy } from './types.js';

/** GetMetricData takes at most 500 queries per call. */
export const MAX_QUERIES_PER_CALL = 500;

export interface AwsClients {
  cloudwatch: CloudWatchClient;
  eks: EKSClient;
  ec2: EC2Client;
}

/** Config shared by the AWS clients: region, endpoint, credentials, attempts, CA. */
export function awsClientConfig(
  target: AwsTarget,
  policy: RetryPolicy,
  deps: Pick<PressureDeps, 'awsCredentials' | 'ca'>,
) {
  return {
    region: target.region,
    maxAttempts: policy.maxRetries + 1,
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    ...(deps.awsCredentials ? { credentials: deps.awsCredentials } : {}),
    ...(deps.ca
      ? {
          requestHandler: new NodeHttpHandler({
            httpsAgent: new Agent({ ca: [...rootCertificates, deps.ca], keepAlive: true }),
          }),
        }
      : {}),
  };
}

export function awsClients(
  target: AwsTarget,
  policy: RetryPolicy,
  deps: Pick<PressureDeps, 'awsCredentials' | 'ca'>,
): AwsClients {
  const config = awsClientConfig(target, policy, deps);
  return { cloudwatch: new CloudWatchClient(config), eks: new EKSClient(config), ec2: new EC2Client(config) };
}

export const chunk = <T>(items: T[], size: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

/**
 * Runs the queries in calls of at most 500, following NextToken, and merges each query's datapoints
 * (a query's points may span pages). Returns points by query Id.
 */
export async function getMetricData(
  cloudwatch: CloudWatchClient,
  queries: MetricDataQuery[],
  window: TimeWindow,
  signal: AbortSignal,
  maxDatapoints?: number,
): Promise<Map<string, Point[]>> {
  const out = new Map<string, Point[]>();
  for (const batch of chunk(queries, MAX_QUERIES_PER_CALL)) {
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await cloudwatch.send(
        new GetMetricDataCommand({
          MetricDataQueries: batch,
          StartTime: window.start,
          EndTime: window.end,
          ScanBy: 'TimestampAscending',
          ...(nextToken ? { NextToken: nextToken } : {}),
          ...(maxDatapoints ? { MaxDatapoints: maxDatapoints } : {}),
        }),
        { abortSignal: signal },
      );
      for (const r of page.MetricDataResults ?? []) addResult(out, r);
      nextToken = page.NextToken;
      pages += 1;
    } while (nextToken && pages < 10_000);
  }
  return out;
}

function addResult(out: Map<string, Point[]>, r: MetricDataResult): void {
  if (!r.Id) return;
  const points = out.get(r.Id) ?? [];
  const ts = r.Timestamps ?? [];
  const vs = r.Values ?? [];
  for (let i = 0; i < ts.length; i++) points.push({ t: (ts[i] as Date).getTime(), v: vs[i] });
  out.set(r.Id, points);
}
