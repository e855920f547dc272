// Builds the KubeConfig a run talks through: a kubeconfig file (and context), the in-cluster service
// account, AKS with an Entra ID token (server and CA from listClusterUserCredential), or EKS with an IAM
// token (a presigned STS GetCallerIdentity URL; server and CA from DescribeCluster). Cloud tokens are
// cached and renewed before they expire; the clock is injectable.
import type { Agent as HttpAgent } from 'node:http';
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { TokenCredential } from '@azure/core-auth';
import { KubeConfig, type User } from '@kubernetes/client-node';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { parse as parseYaml } from 'yaml';
import { ClusterError, messageOf } from '../errors.js';
import type { Log } from '../ports.js';
import { sameSettings } from './same-settings.js';

export type ClusterTarget =
  | { kind: 'kubeconfig'; path?: string; context?: string }
  | { kind: 'in-cluster' }
  | {
      kind: 'aks';
      subscriptionId: string;
      resourceGroup: string;
      clusterName: string;
      clientId?: string;
      armEndpoint?: string;
      /** Entra ID authority of the cluster's cloud (azure.cloud); default the public cloud's. */
      authorityHost?: string;
    }
  | { kind: 'eks'; region: string; clusterName: string; endpoint?: string };

export interface ConnectDeps {
  log?: Log;
  /** Milliseconds since the epoch; default Date.now. */
  now?: () => number;
  /** Default: DefaultAzureCredential (clientId as the managed identity when set). */
  azureCredential?: TokenCredential;
  /** Default: the AWS SDK's provider chain (@aws-sdk/credential-provider-node). */
  awsCredentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Overrides of the ARM / AWS endpoints (the simulator), and an extra CA to trust for them. */
  armEndpoint?: string;
  awsEndpoint?: string;
  ca?: string;
  /** The run's deadline: connecting (ARM, EKS, credentials) ends there too. */
  signal?: AbortSignal;
  /** How long connecting may take in all (default 60 s, like a cloud read's cap). */
  timeoutMs?: number;
}

/** Default bound on connecting to an AKS or EKS cluster (credentials, ARM or EKS, with their retries). */
export const CONNECT_TIMEOUT_MS = 60_000;

/** The "Azure Kubernetes Service AAD Server" application: the same id in every tenant. */
export const AKS_SERVER_APP_ID = '6dae42f8-4368-4678-94ff-3960e28e3630';
export const AKS_SCOPE = `${AKS_SERVER_APP_ID}/.default`;
const EKS_TOKEN_PREFIX = 'k8s-aws-v1.';
/** STS accepts a presigned GetCallerIdentity for 15 minutes; renew a minute early, as aws-iam-authenticator does. */
const EKS_TOKEN_LIFETIME_MS = 15 * 60_000;
const REFRESH_SKEW_MS = 60_000;
const TOKEN_USER = 'snatguard';

export interface ExpiringToken {
  token: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/** A token fetched once and again only when it is within `skewMs` of expiring; concurrent callers share a fetch. */
export function tokenCache(
  fetchToken: () => Promise<ExpiringToken>,
  now: () => number,
  skewMs = REFRESH_SKEW_MS,
): { get(): Promise<string> } {
  let current: ExpiringToken | undefined;
  let inflight: Promise<ExpiringToken> | undefined;
  return {
    async get() {
      if (current && now() < current.expiresAt - skewMs) return current.token;
      inflight ??= fetchToken().finally(() => {
        inflight = undefined;
      });
      current = await inflight;
      return current.token;
    },
  };
}

/** An Entra ID token for the AKS API server. */
export async function aksToken(credential: TokenCredential, signal?: AbortSignal): Promise<ExpiringToken> {
  const t = await credential.getToken(AKS_SCOPE, signal ? { abortSignal: signal } : {});
  if (!t) throw new ClusterError('no Entra ID token for the AKS server application');
  return { token: t.token, expiresAt: t.expiresOnTimestamp };
}

const rfc3986 = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * The EKS IAM token: `k8s-aws-v1.` + base64url (no padding) of a presigned STS GetCallerIdentity URL whose
 * signed headers include `x-k8s-aws-id: <cluster>`, with X-Amz-Expires 60 (STS ignores it; the token is
 * good for 15 minutes after X-Amz-Date).
 */
export async function eksToken(opts: {
  region: string;
  clusterName: string;
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  now?: () => number;
}): Promise<ExpiringToken> {
  const now = opts.now ?? Date.now;
  const hostname = `sts.${opts.region}.amazonaws.com`;
  // Cloud SDKs load only on the path that needs them (a smaller cold start for the others).
  const [{ SignatureV4 }, { Sha256 }] = await Promise.all([
    import('@smithy/signature-v4'),
    import('@aws-crypto/sha256-js'),
  ]);
  const signer = new SignatureV4({
    credentials: opts.credentials,
    region: opts.region,
    service: 'sts',
    sha256: Sha256,
  });
  const signedAt = now();
  const presigned = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname,
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host: hostname, 'x-k8s-aws-id': opts.clusterName },
    },
    { expiresIn: 60, signingDate: new Date(signedAt) },
  );
  const query = Object.entries(presigned.query ?? {})
    .flatMap(([k, v]) =>
      Array.isArray(v) ? v.map((x) => [k, x]) : v === null || v === undefined ? [] : [[k, v]],
    )
    .map(([k, v]) => `${rfc3986(String(k))}=${rfc3986(String(v))}`)
    .join('&');
  const url = `https://${hostname}/?${query}`;
  return {
    token: EKS_TOKEN_PREFIX + Buffer.from(url).toString('base64url'),
    expiresAt: signedAt + EKS_TOKEN_LIFETIME_MS,
  };
}

/** Makes every request of `kc`'s `snatguard` user carry a fresh bearer token. */
function withBearer(kc: KubeConfig, token: { get(): Promise<string> }): void {
  kc.addAuthenticator({
    isAuthProvider: (user: User) => user.name === TOKEN_USER,
    async applyAuthentication(_user, opts) {
      const headers = (opts.headers ?? {}) as Record<string, string>;
      headers.Authorization = `Bearer ${await token.get()}`;
      opts.headers = headers;
    },
  });
}

function tokenKubeConfig(name: string, server: string, caData: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name, server, ...(caData ? { caData } : {}), skipTLSVerify: false }],
    users: [{ name: TOKEN_USER }],
    contexts: [{ name, cluster: name, user: TOKEN_USER }],
    currentContext: name,
  });
  return kc;
}

interface KubeconfigYaml {
  clusters?: { name?: string; cluster?: { server?: string; 'certificate-authority-data'?: string } }[];
}

/** Server and CA (base64) of the first cluster of a kubeconfig document; the users are dropped. */
export function clusterOfKubeconfig(text: string): { server: string; caData?: string } {
  const doc = parseYaml(text) as KubeconfigYaml | null;
  const cluster = doc?.clusters?.[0]?.cluster;
  if (!cluster?.server) throw new ClusterError('the cluster user credential has no server');
  return {
    server: cluster.server,
    ...(cluster['certificate-authority-data'] ? { caData: cluster['certificate-authority-data'] } : {}),
  };
}

/**
 * Settles no later than the deadline or `timeoutMs`, whatever ARM, EKS or a credential endpoint does (a
 * timer held here, cleared when it settles); the SDK calls get the same signal to close their sockets.
 */
async function boundedConnect(
  kind: string,
  deps: ConnectDeps,
  run: (signal: AbortSignal) => Promise<KubeConfig>,
): Promise<KubeConfig> {
  const ms = deps.timeoutMs ?? CONNECT_TIMEOUT_MS;
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`timed out after ${ms} ms`)), ms);
  const outer = deps.signal;
  const onAbort = (): void => ac.abort(new Error('aborted (run deadline)'));
  if (outer?.aborted) onAbort();
  else outer?.addEventListener('abort', onAbort, { once: true });
  const stopped = new Promise<never>((_, reject) => {
    const fail = (): void =>
      reject(new ClusterError(`cannot connect (${kind}): ${messageOf(ac.signal.reason)}`));
    if (ac.signal.aborted) fail();
    else ac.signal.addEventListener('abort', fail, { once: true });
  });
  try {
    return await Promise.race([run(ac.signal), stopped]);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onAbort);
  }
}

async function connectAks(
  target: Extract<ClusterTarget, { kind: 'aks' }>,
  deps: ConnectDeps,
  now: () => number,
  signal: AbortSignal,
): Promise<KubeConfig> {
  const credential =
    deps.azureCredential ?? (await defaultAzureCredential(target.clientId, target.authorityHost));
  const arm = (deps.armEndpoint ?? target.armEndpoint)?.replace(/\/+$/, '');
  const { ContainerServiceClient } = await import('@azure/arm-containerservice');
  const client = new ContainerServiceClient(credential, target.subscriptionId, {
    ...(arm ? { endpoint: arm, $host: arm } : {}),
    retryOptions: { maxRetries: 3 },
    ...(deps.ca ? { tlsOptions: { ca: [...rootCertificates, deps.ca] } } : {}),
  });
  const creds = await client.managedClusters.listClusterUserCredentials(
    target.resourceGroup,
    target.clusterName,
    { abortSignal: signal },
  );
  const first = creds.kubeconfigs?.[0]?.value;
  if (!first)
    throw new ClusterError(`listClusterUserCredential of ${target.clusterName} returned no kubeconfig`);
  const { server, caData } = clusterOfKubeconfig(Buffer.from(first).toString('utf8'));
  const kc = tokenKubeConfig(target.clusterName, server, caData);
  withBearer(
    kc,
    tokenCache(() => aksToken(credential), now),
  );
  return kc;
}

async function connectEks(
  target: Extract<ClusterTarget, { kind: 'eks' }>,
  deps: ConnectDeps,
  now: () => number,
  signal: AbortSignal,
): Promise<KubeConfig> {
  const credentials = deps.awsCredentials ?? (await defaultAwsCredentials());
  const endpoint = deps.awsEndpoint ?? target.endpoint;
  const [{ DescribeClusterCommand, EKSClient }, { NodeHttpHandler }] = await Promise.all([
    import('@aws-sdk/client-eks'),
    import('@smithy/node-http-handler'),
  ]);
  const eks = new EKSClient({
    region: target.region,
    credentials,
    maxAttempts: 4,
    ...(endpoint ? { endpoint } : {}),
    ...(deps.ca
      ? {
          requestHandler: new NodeHttpHandler({
            httpsAgent: new Agent({ ca: [...rootCertificates, deps.ca] }),
          }),
        }
      : {}),
  });
  const { cluster } = await eks.send(new DescribeClusterCommand({ name: target.clusterName }), {
    abortSignal: signal,
  });
  if (!cluster?.endpoint) throw new ClusterError(`EKS cluster ${target.clusterName} has no endpoint`);
  const kc = tokenKubeConfig(target.clusterName, cluster.endpoint, cluster.certificateAuthority?.data);
  withBearer(
    kc,
    tokenCache(
      () => eksToken({ region: target.region, clusterName: target.clusterName, credentials, now }),
      now,
    ),
  );
  return kc;
}

async function defaultAzureCredential(clientId?: string, authorityHost?: string): Promise<TokenCredential> {
  const { DefaultAzureCredential } = await import('@azure/identity');
  return new DefaultAzureCredential({
    ...(authorityHost ? { authorityHost } : {}),
    ...(clientId ? { managedIdentityClientId: clientId } : {}),
  });
}

async function defaultAwsCredentials(): Promise<AwsCredentialIdentityProvider> {
  const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
  return defaultProvider();
}

function connectKubeconfig(target: Extract<ClusterTarget, { kind: 'kubeconfig' }>): KubeConfig {
  const kc = new KubeConfig();
  if (target.path) kc.loadFromFile(target.path);
  else kc.loadFromDefault();
  if (target.context) {
    if (!kc.getContexts().some((c) => c.name === target.context))
      throw new ClusterError(`context ${target.context} not found in the kubeconfig`);
    kc.setCurrentContext(target.context);
  }
  if (!kc.getCurrentCluster()) throw new ClusterError('the kubeconfig has no current cluster');
  return kc;
}

type AgentFactory = (cluster: unknown, options: Record<string, unknown>) => HttpAgent;

/**
 * Every API call of `kc` goes through one agent per set of TLS settings. client-node 1.4 builds a new
 * https.Agent for each request (applySecurityAuthentication → createAgent), so each call opened a
 * connection with a full TLS handshake and parsed the CA into a new SecureContext; with one agent the
 * first call's TLS session is resumed by the next. (No keep-alive: as before, a connection carries one
 * request, so no call can land on one the server has just closed.) A client-node without `createAgent`
 * is left as it is.
 */
export function sharedAgents(kc: KubeConfig): KubeConfig {
  const holder = kc as unknown as { createAgent?: AgentFactory };
  const create = holder.createAgent;
  if (typeof create !== 'function') return kc;
  const agents: { cluster: object; options: Record<string, unknown>; agent: HttpAgent }[] = [];
  holder.createAgent = function (this: KubeConfig, cluster, options) {
    const found = agents.find(
      (a) => sameSettings(a.cluster, cluster as object) && sameSettings(a.options, options),
    );
    if (found) return found.agent;
    const settings = { cluster: { ...(cluster as object) }, options: { ...options } };
    const agent = create.call(this, cluster, options);
    agents.push({ ...settings, agent });
    return agent;
  };
  return kc;
}

/** The KubeConfig for a target; a ClusterError (with the cause) when it cannot be built. */
export async function connect(target: ClusterTarget, deps: ConnectDeps = {}): Promise<KubeConfig> {
  const now = deps.now ?? Date.now;
  try {
    let kc: KubeConfig;
    if (target.kind === 'kubeconfig') kc = connectKubeconfig(target);
    else if (target.kind === 'in-cluster') {
      kc = new KubeConfig();
      kc.loadFromCluster();
    } else
      kc = await boundedConnect(target.kind, deps, (signal) =>
        target.kind === 'aks' ? connectAks(target, deps, now, signal) : connectEks(target, deps, now, signal),
      );
    deps.log?.info({ kind: target.kind, server: kc.getCurrentCluster()?.server }, 'cluster connected');
    return sharedAgents(kc);
  } catch (e) {
    if (e instanceof ClusterError) throw e;
    throw new ClusterError(`cannot connect (${target.kind}): ${messageOf(e)}`, undefined, { cause: e });
  }
}
