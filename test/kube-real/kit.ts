// The kube-real kit (../shared/tools/kube-real): a real kube-apiserver and kube-controller-manager
// v1.20.2 with etcd, RBAC and an audit log on 127.0.0.1, plus a stand-in kubelet exec endpoint. This
// module starts and stops it and plays the two parts no binary here plays: the scheduler (a Binding for
// DaemonSet pods) and the kubelet's status updates (the kit's mark-running.sh).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';

export const repoRoot = resolve(new URL('../../', import.meta.url).pathname);
export const KIT = process.env.KUBE_REAL_KIT ?? resolve(repoRoot, '../shared/tools/kube-real');
export const KR =
  process.env.KR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'kube-real');
export const RUN = join(KR, 'run');
export const API = 'https://127.0.0.1:36443';

/** Why the kit cannot run here, or undefined when it can. */
export function notBuilt(): string | undefined {
  if (!existsSync(join(KIT, 'start.sh'))) return `the kit is not at ${KIT} (set KUBE_REAL_KIT)`;
  for (const bin of ['etcd', 'kube-apiserver', 'kube-controller-manager'])
    if (!existsSync(join(KR, 'bin', bin)))
      return `${join(KR, 'bin', bin)} is not built: run \`bash ${join(KIT, 'build.sh')}\` once (~9 min, ~3 GB in ${KR})`;
  return undefined;
}

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; never throws for a non-zero exit. */
export function run(
  file: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<Ran> {
  return new Promise((done) => {
    const child = execFile(
      file,
      args,
      {
        cwd: repoRoot,
        env: opts.env ?? process.env,
        timeout: opts.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) =>
        done({
          code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
          stdout: String(stdout),
          stderr: String(stderr),
        }),
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

const kitEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...process.env,
  KR,
  PROJ: repoRoot,
  ...extra,
});

async function must(what: string, ran: Promise<Ran>): Promise<string> {
  const r = await ran;
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** start.sh --fresh --fake-kubelet; the fake kubelet serves files from `fakeKubeletRoot`/NS/POD/<path>. */
export async function startCluster(fakeKubeletRoot: string): Promise<void> {
  if (existsSync(join(RUN, 'pids')))
    throw new Error(
      `kube-real is already running (${join(RUN, 'pids')}): stop it with \`bash ${join(KIT, 'stop.sh')}\` first`,
    );
  await must(
    'kube-real start.sh',
    run('bash', [join(KIT, 'start.sh'), '--fresh', '--fake-kubelet'], {
      env: kitEnv({ FAKE_KUBELET_ROOT: fakeKubeletRoot }),
      timeoutMs: 180_000,
    }),
  );
}

/** fixtures/load.sh: 2 Nodes, infra/kubernetes/rbac.yaml (unchanged), a Deployment, a StatefulSet, a Job. */
export const loadFixtures = (): Promise<string> =>
  must('kube-real load.sh', run('bash', [join(KIT, 'fixtures', 'load.sh')], { env: kitEnv() }));

export const stopCluster = (): Promise<Ran> => run('bash', [join(KIT, 'stop.sh')], { env: kitEnv() });

/** The kubelet's part: every bound pod Running and Ready. */
export const markRunning = (): Promise<string> =>
  must(
    'mark-running.sh',
    run('bash', [join(KIT, 'fixtures', 'mark-running.sh')], {
      env: kitEnv({ KUBECONFIG: join(RUN, 'admin.kubeconfig') }),
    }),
  );

export const kubectl = (args: string[], input?: string): Promise<string> =>
  must(
    `kubectl ${args.join(' ')}`,
    run('kubectl', args, {
      env: { ...process.env, KUBECONFIG: join(RUN, 'admin.kubeconfig') },
      ...(input === undefined ? {} : { input }),
    }),
  );

export function kubeConfigFrom(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

export const admin = (): KubeConfig => kubeConfigFrom(join(RUN, 'admin.kubeconfig'));
/** The certificate user `snatguard` in group `snatguard`: how the EKS access entry maps the Lambda role. */
export const groupUser = (): KubeConfig => kubeConfigFrom(join(RUN, 'snatguard.kubeconfig'));

/** Polls `f` until it returns a value (not undefined), at most `tries` times `everyMs` apart. */
export async function until<T>(
  what: string,
  f: () => Promise<T | undefined>,
  tries = 120,
  everyMs = 250,
): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`kube-real: gave up waiting for ${what}`);
}

/** A kubeconfig file for a bearer token against the kit's API server. */
export function tokenKubeconfig(path: string, user: string, token: string): string {
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'kube-real', cluster: { server: API, 'certificate-authority': join(KR, 'pki', 'ca.crt') } },
      ],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: user, context: { cluster: 'kube-real', user } }],
      'current-context': user,
    }),
    { mode: 0o600 },
  );
  return path;
}

/** The ServiceAccount snatguard/snatguard's token (the CronJob's identity), from the token controller's Secret. */
export async function serviceAccountToken(): Promise<string> {
  const core = admin().makeApiClient(CoreV1Api);
  return until('the snatguard ServiceAccount token', async () => {
    const sa = await core.readNamespacedServiceAccount({ namespace: 'snatguard', name: 'snatguard' });
    const secret = sa.secrets?.[0]?.name;
    if (!secret) return undefined;
    const s = await core.readNamespacedSecret({ namespace: 'snatguard', name: secret });
    const token = s.data?.token;
    return token ? Buffer.from(token, 'base64').toString('utf8') : undefined;
  });
}

/**
 * The scheduler's part for DaemonSet pods: bind each unbound pod of `namespace` to the node its
 * required node affinity names (how the DaemonSet controller pins a pod to its node since 1.12).
 */
export async function bindDaemonSetPods(namespace: string, nodes: readonly string[]): Promise<string[]> {
  const core = admin().makeApiClient(CoreV1Api);
  const bound: string[] = [];
  const pods = await core.listNamespacedPod({ namespace });
  for (const p of pods.items) {
    if (p.spec?.nodeName) continue;
    const terms =
      p.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
    const node = terms?.[0]?.matchFields?.find((f) => f.key === 'metadata.name')?.values?.[0];
    if (!node || !nodes.includes(node)) continue;
    await core.createNamespacedPodBinding({
      namespace,
      name: p.metadata?.name ?? '',
      body: { metadata: { name: p.metadata?.name ?? '' }, target: { kind: 'Node', name: node } },
    });
    bound.push(`${p.metadata?.name} → ${node}`);
  }
  return bound;
}

/** One audit event (audit.k8s.io/v1, level Metadata), as the kit's policy logs every request. */
export interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string; groups?: string[] };
  objectRef?: {
    resource?: string;
    namespace?: string;
    name?: string;
    apiGroup?: string;
    subresource?: string;
  };
  responseStatus?: { code?: number };
}

export function auditEvents(): AuditEvent[] {
  return readFileSync(join(RUN, 'audit.log'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as AuditEvent)
    .filter((e) => e.stage === 'ResponseComplete');
}
