// What the cloud pressure sources need: the cluster's coordinates, endpoint overrides (the simulator),
// credentials and the few pipeline callbacks that gateway-level sources use to name their nodes.
import type { TokenCredential } from '@azure/core-auth';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { messageOf, PressureSourceError } from '../errors.js';
import type { NodeInfo, RunError } from '../model.js';
import type { Log } from '../ports.js';

export const AZURE_CLOUDS = ['AzurePublicCloud', 'AzureChinaCloud', 'AzureUSGovernment'] as const;
export type AzureCloud = (typeof AZURE_CLOUDS)[number];

export interface AzureCloudEndpoints {
  /** Resource Manager. */
  arm: string;
  /** Azure Monitor's regional metrics host: https://<location>.<metricsHost>. */
  metricsHost: string;
  /** Token audience of the metrics endpoint; undefined = the SDK's own default (public cloud). */
  metricsAudience?: string;
  /** Entra ID authority for credentials. */
  authorityHost: string;
}

/**
 * The endpoints of each Azure cloud, chosen together by `azure.cloud`. ARM and authority hosts:
 * @azure/identity AzureAuthorityHosts and the ARM endpoints of the national clouds (learn.microsoft.com
 * azure/china and azure-government developer guides); metrics hosts and audiences: the Azure Monitor
 * query SDKs' sovereign-cloud samples (KnownMonitorAudience, `https://usgovvirginia.metrics.monitor.azure.us`).
 */
export const AZURE_CLOUD_ENDPOINTS: Record<AzureCloud, AzureCloudEndpoints> = {
  AzurePublicCloud: {
    arm: 'https://management.azure.com',
    metricsHost: 'metrics.monitor.azure.com',
    authorityHost: 'https://login.microsoftonline.com',
  },
  AzureChinaCloud: {
    arm: 'https://management.chinacloudapi.cn',
    metricsHost: 'metrics.monitor.azure.cn',
    metricsAudience: 'https://metrics.monitor.azure.cn',
    authorityHost: 'https://login.chinacloudapi.cn',
  },
  AzureUSGovernment: {
    arm: 'https://management.usgovcloudapi.net',
    metricsHost: 'metrics.monitor.azure.us',
    metricsAudience: 'https://metrics.monitor.azure.us',
    authorityHost: 'https://login.microsoftonline.us',
  },
};

export interface AzureTarget {
  /** Picks the ARM, metrics and authority endpoints together; default AzurePublicCloud. */
  cloud?: AzureCloud;
  subscriptionId: string;
  resourceGroup: string;
  clusterName: string;
  /** The cluster's region; read from the managed cluster when absent (it picks the metrics endpoint). */
  location?: string;
  /** ARM endpoint; default the cloud's (https://management.azure.com). */
  armEndpoint?: string;
  /** Azure Monitor metrics endpoint; default https://<location>.<the cloud's metrics host>. */
  metricsEndpoint?: string;
}

export interface AwsTarget {
  region: string;
  clusterName: string;
  /** One endpoint for CloudWatch, EKS and EC2 (the simulator); default: the SDKs' regional endpoints. */
  endpoint?: string;
  /** Skip discovery and read exactly these NAT gateways. */
  natGatewayIds?: string[];
}

export type Provider = 'azure' | 'aws' | 'none';

/** The config keys the sources read (a subset of the job's Config: `provider`, `azure.*`, `aws.*`). */
export interface PressureConfig {
  provider: Provider;
  azure?: Partial<AzureTarget> & { clientId?: string };
  aws?: Partial<AwsTarget>;
}

/** Endpoints, CA and credentials that override config and defaults (the simulator sets all of them). */
export interface PressureTargets {
  armEndpoint: string;
  metricsEndpoint: string;
  awsEndpoint: string;
  /** An extra CA (PEM) to trust besides the public roots; per client, no process-global TLS change. */
  ca: string;
  /** Default: DefaultAzureCredential (with azure.clientId as the managed identity when set). */
  azureCredential: TokenCredential;
  /** Default: the AWS SDK's provider chain. */
  awsCredentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
}

export interface RetryPolicy {
  /** Retries after the first attempt. */
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A bound on one source's whole read, retries included. */
  totalTimeoutMs: number;
}

export const defaultRetry: RetryPolicy = {
  maxRetries: 3,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  totalTimeoutMs: 60_000,
};

export interface PressureDeps extends Partial<PressureTargets> {
  /** The cluster's nodes: gateway-level sources make every node a candidate; ENA reads one metric per instance. */
  nodes?: () => Promise<NodeInfo[]>;
  /** Env of the aws-node DaemonSet (VPC CNI), for the advice; null when absent. */
  awsNodeEnv?: () => Promise<Record<string, string> | null>;
  retry?: Partial<RetryPolicy>;
  log?: Log;
}

export const retryOf = (deps: PressureDeps): RetryPolicy => ({ ...defaultRetry, ...deps.retry });

/**
 * Runs one source's read with the caller's signal bounded by the policy's total time. The cap is a timer
 * held here until the read ends (then cleared), never a timeout signal held only by `AbortSignal.any`:
 * on Node 20 such a signal can be garbage-collected and never fire (nodejs/node#57736).
 */
export async function withBound<T>(
  caller: AbortSignal,
  policy: RetryPolicy,
  read: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const ms = policy.totalTimeoutMs;
  const timer = setTimeout(
    () => controller.abort(new PressureSourceError(`cloud read did not finish within its cap of ${ms} ms`)),
    ms,
  );
  const onAbort = () => controller.abort(caller.reason);
  if (caller.aborted) onAbort();
  else caller.addEventListener('abort', onAbort, { once: true });
  try {
    return await read(controller.signal);
  } finally {
    clearTimeout(timer);
    caller.removeEventListener('abort', onAbort);
  }
}

/** Retry-After headers the Azure pipeline honours (seconds, or milliseconds for the `-ms` ones). */
const RETRY_AFTER_HEADERS = ['retry-after', 'retry-after-ms', 'x-ms-retry-after-ms'] as const;

/** The wait a throttling answer asks for, in ms; undefined when it names none. */
export function retryAfterMs(
  headers: { get(name: string): string | undefined },
  now = Date.now(),
): number | undefined {
  for (const name of RETRY_AFTER_HEADERS) {
    const text = headers.get(name)?.trim();
    if (!text) continue;
    const n = Number(text);
    if (Number.isFinite(n)) return name === 'retry-after' ? n * 1000 : n;
    const date = Date.parse(text);
    if (Number.isFinite(date)) return Math.max(0, date - now);
  }
  return undefined;
}

/**
 * Turns a failure into a report entry. Rethrows only when the caller aborted: a provider failure (or our
 * own time bound) is data, the run goes on.
 */
export function pressureError(signal: AbortSignal, target: string, what: string, cause: unknown): RunError {
  if (signal.aborted) throw signal.reason ?? cause;
  const err = new PressureSourceError(`${what}: ${messageOf(cause)}`, { cause });
  return { stage: 'pressure', target, message: err.message };
}

/** `aws:///eu-west-1a/i-0abc123` → `i-0abc123`; undefined for anything else. */
export function instanceIdFromProviderID(providerID: string | undefined): string | undefined {
  const m = /^aws:\/\/\/[^/]*\/(i-[0-9a-f]+)$/i.exec(providerID ?? '');
  return m?.[1];
}

/** True when an IPv4 address lies in an IPv4 CIDR; false for anything unparseable. */
export function inCidr4(ip: string, cidr: string): boolean {
  const toInt = (s: string): number | undefined => {
    const parts = s.split('.');
    if (parts.length !== 4) return undefined;
    let n = 0;
    for (const p of parts) {
      const v = Number(p);
      if (!/^\d{1,3}$/.test(p) || v > 255) return undefined;
      n = n * 256 + v;
    }
    return n;
  };
  const [net, bitsText] = cidr.split('/');
  const bits = Number(bitsText ?? '32');
  const a = toInt(ip);
  const b = toInt(net ?? '');
  if (a === undefined || b === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(a / size) === Math.floor(b / size);
}
