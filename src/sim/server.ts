// One HTTPS server on 127.0.0.1 for the whole simulated control plane: the Kubernetes API first,
// then the cloud and sink route modules (wired in index.ts). Every request is recorded in world.requests.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { stringify } from 'yaml';
import { packageRoot } from '../paths.js';
import type { Log } from '../ports.js';
import type { SimBackend } from './backend.js';
import { IDENTITY_PATH, identityRoutes } from './identity.js';
import { cloudRoutes } from './index.js';
import { adminUser, parseRbac, serviceAccountUser, type User } from './kube/rbac.js';
import { kubeApi, kubeEarly } from './kube/routes.js';
import type { Snapshot } from './snapshot.js';
import { generateTls } from './tls.js';
import type { RecordedRequest, SimEarly, SimRoutes } from './types.js';
import { World } from './world.js';

export interface StartSimOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Where the kubeconfigs and ca.crt go; default a new temp dir, removed on close. */
  kubeconfigDir?: string;
  /** The RBAC file the job is held to; default infra/kubernetes/rbac.yaml of this package. */
  rbacPath?: string;
  log?: Log;
  /** Live answers for some pods and nodes (src/sim/backend.ts), e.g. the lab's network namespaces. */
  backend?: SimBackend;
  /**
   * Return as soon as it listens and seed the world meanwhile (World's seedInSteps). A request waits for
   * the namespaces and nodes to be seeded, and, unless it reads no workload or pod (every route module's
   * SimEarly says so: a lease, a config map, a node list, the cloud's configuration), for the workloads.
   * The simulator process does this: the scanner starts, and takes its lease and reads the nodes, while
   * the cluster is seeded.
   */
  seedInSteps?: boolean | { sliceMs: number };
  /**
   * The certificates and the RBAC file, from prepareSim called before the snapshot was loaded (the
   * simulator process: they are made while it reads the file). Default: made here.
   */
  prepared?: Promise<SimPrep>;
}

/** What startSim needs that does not depend on the snapshot: its certificates and the RBAC file's text. */
export interface SimPrep {
  tls: Awaited<ReturnType<typeof generateTls>>;
  rbacText: string;
}

/**
 * Starts making what startSim needs besides the snapshot (key pairs and certificates, the RBAC file), to
 * overlap with loading a large snapshot (the key pairs are made off the event loop). `rbacPath` as
 * StartSimOptions'.
 */
export async function prepareSim(opts: { rbacPath?: string } = {}): Promise<SimPrep> {
  const [tls, rbacText] = await Promise.all([
    generateTls(),
    readFile(opts.rbacPath ?? defaultRbacPath(), 'utf8'),
  ]);
  return { tls, rbacText };
}

export interface RunningSim {
  /** `https://127.0.0.1:PORT` */
  url: string;
  /** PEM of the CA that signed the server certificate. */
  ca: string;
  /** Path of the CA PEM (for NODE_EXTRA_CA_CERTS). */
  caPath: string;
  world: World;
  /** Admin kubeconfig (kubectl, tests): system:masters. */
  kubeconfigPath: string;
  adminToken: string;
  /** The job's service account token (system:serviceaccount:snatguard:snatguard), held to rbac.yaml. */
  jobToken: string;
  jobKubeconfigPath: string;
  /** The secret the simulated managed-identity endpoint (endpoints.identity) wants as X-IDENTITY-HEADER. */
  identityHeader: string;
  /**
   * Endpoint name → URL (all on `url`): kubernetes, arm (Azure Resource Manager), metrics (Azure Monitor,
   * regional and ARM), aws (CloudWatch, EKS, EC2, STS), slack, teams, discord, webhook (chat sinks), and
   * ca (the CA file path).
   */
  endpoints: Record<string, string>;
  close(): Promise<void>;
}

/** The namespace and name of the job's service account (infra/kubernetes/rbac.yaml). */
export const JOB_NAMESPACE = 'snatguard';
export const JOB_SERVICE_ACCOUNT = 'snatguard';

/** infra/kubernetes/rbac.yaml of this package (shipped with it: package.json "files"). */
export function defaultRbacPath(): string {
  return join(packageRoot(), 'infra', 'kubernetes', 'rbac.yaml');
}

export function kubeconfigYaml(
  server: string,
  ca: string,
  user: string,
  token: string,
  namespace = 'default',
): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'snatguard-sim',
        cluster: { server, 'certificate-authority-data': Buffer.from(ca).toString('base64') },
      },
    ],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: `${user}@snatguard-sim`, context: { cluster: 'snatguard-sim', user, namespace } }],
    'current-context': `${user}@snatguard-sim`,
    preferences: {},
  });
}

const MAX_BODY = 64 * 1024 * 1024;

export async function startSim(snapshot: Snapshot, opts: StartSimOptions = {}): Promise<RunningSim> {
  const world = new World(snapshot, {
    ...(opts.backend ? { backend: opts.backend } : {}),
    ...(opts.seedInSteps ? { seedInSteps: opts.seedInSteps } : {}),
  });
  // Requests wait until the world is seeded, or only its namespaces and nodes (early); what stops seeding
  // fails every request from then on, saying why.
  let seeding: Error | true | undefined;
  world.seeded.then(
    () => {
      seeding = true;
    },
    (e: unknown) => {
      seeding = e instanceof Error ? e : new Error(String(e));
      opts.log?.error({ err: seeding }, 'sim seeding failed');
    },
  );
  const whenSeeded = (go: () => void, early = false): void => {
    if (seeding === undefined) (early ? world.nodesSeeded : world.seeded).then(go, go);
    else go();
  };
  const { tls, rbacText } = await (opts.prepared ?? prepareSim(opts));
  const policy = parseRbac(rbacText, opts.rbacPath ?? 'infra/kubernetes/rbac.yaml');
  const adminToken = randomBytes(24).toString('hex');
  const jobToken = randomBytes(24).toString('hex');
  const tokens = new Map<string, User>([
    [adminToken, adminUser],
    [jobToken, serviceAccountUser(JOB_NAMESPACE, JOB_SERVICE_ACCOUNT)],
  ]);
  const kube = kubeApi(world, { tokens, policy });
  const identity = identityRoutes();
  const modules: { service: string; routes: SimRoutes; early: SimEarly }[] = [
    { service: 'kube', routes: kube.routes, early: kubeEarly },
    { service: 'identity', routes: identity.routes, early: () => true },
    ...cloudRoutes(world, { ca: tls.ca }),
  ];
  const early = (req: IncomingMessage): boolean => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    return modules.every((m) => m.early(req, url));
  };

  const record = (r: Omit<RecordedRequest, 'at'>) => world.requests.push({ ...r, at: Date.now() });

  const server: Server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        res.writeHead(413).end();
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    const answer = async () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'https://127.0.0.1');
      let service = 'unhandled';
      try {
        if (seeding instanceof Error) throw seeding;
        for (const m of modules) {
          if (await m.routes(req, res, url, body)) {
            service = m.service;
            break;
          }
        }
        if (service === 'unhandled') {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'no simulated endpoint here', path: url.pathname }));
        }
      } catch (e) {
        opts.log?.error({ err: e, path: url.pathname }, 'sim route failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: (e as Error).message }));
      }
      world.count(`${service} ${req.method}`);
      // The sink routes record their own requests.
      if (service !== 'sink')
        record({
          service,
          method: req.method ?? 'GET',
          path: url.pathname,
          query: url.search,
          headers: req.headers,
          body: body.length > 65536 ? `${body.subarray(0, 65536).toString('utf8')}…` : body.toString('utf8'),
          status: res.statusCode,
        });
    };
    req.on('end', () => whenSeeded(() => void answer(), early(req)));
  });
  server.on('upgrade', (req, socket, head) => whenSeeded(() => upgrade(req, socket, head)));
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (seeding instanceof Error) {
      const text = JSON.stringify({ error: seeding.message });
      socket.end(
        `HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
      );
      return;
    }
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const status = kube.upgrade(req, socket, head) ?? 404;
    if (status === 404 && !socket.destroyed && !socket.writableEnded)
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
    world.count(`kube UPGRADE`);
    record({
      service: 'kube',
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.search,
      headers: req.headers,
      body: '',
      status,
    });
  };
  server.on('clientError', (_err, socket) => socket.destroy());
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', fail);
      ok();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;

  const ownDir = opts.kubeconfigDir === undefined;
  const dir = opts.kubeconfigDir ?? (await mkdtemp(join(tmpdir(), 'snatguard-sim-')));
  if (!ownDir) await mkdir(dir, { recursive: true });
  const kubeconfigPath = resolve(dir, 'kubeconfig');
  const jobKubeconfigPath = resolve(dir, 'job-kubeconfig');
  const caPath = resolve(dir, 'ca.crt');
  await Promise.all([
    writeFile(kubeconfigPath, kubeconfigYaml(url, tls.ca, 'admin', adminToken), { mode: 0o600 }),
    writeFile(jobKubeconfigPath, kubeconfigYaml(url, tls.ca, 'snatguard', jobToken, JOB_NAMESPACE), {
      mode: 0o600,
    }),
    writeFile(caPath, tls.ca),
  ]);

  const endpoints: Record<string, string> = {
    kubernetes: url,
    arm: url,
    metrics: url,
    aws: url,
    slack: `${url}/sinks/slack/T0000000/B0000000/simulated`,
    teams: `${url}/sinks/teams/workflows/simulated`,
    discord: `${url}/sinks/discord/api/webhooks/0/simulated`,
    webhook: `${url}/sinks/webhook/simulated`,
    identity: `${url}${IDENTITY_PATH}`,
    ca: caPath,
  };
  opts.log?.info({ server: url, kubeconfig: kubeconfigPath }, 'sim started');
  // (seedInSteps: the cluster is seeded from here on, not while the server is set up.)
  world.startSeeding();

  let closed = false;
  return {
    url,
    ca: tls.ca,
    caPath,
    world,
    kubeconfigPath,
    adminToken,
    jobToken,
    jobKubeconfigPath,
    identityHeader: identity.header,
    endpoints,
    async close() {
      if (closed) return;
      closed = true;
      kube.close();
      await new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      });
      if (ownDir) await rm(dir, { recursive: true, force: true });
      else await Promise.all([kubeconfigPath, jobKubeconfigPath, caPath].map((p) => rm(p, { force: true })));
    },
  };
}
