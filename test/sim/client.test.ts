// @kubernetes/client-node 1.4 against the simulator with the job's kubeconfig (held to rbac.yaml).
import { Writable } from 'node:stream';
import {
  ApiException,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  Exec,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Lease,
  V1MicroTime,
  type V1Status,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSim, startSim } from '../../src/sim/server.js';
import { loadSnapshot, parseSnapshot } from '../../src/sim/snapshot.js';

const HOT = 'aks-nodepool1-31415926-vmss000000';
const LEAKY = 'orders-api-69875496f8-8bj4f';

function collector() {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

async function execCat(kc: KubeConfig, ns: string, pod: string, files: string[]) {
  const out = collector();
  const err = collector();
  const status = await new Promise<V1Status>((resolve, reject) => {
    new Exec(kc)
      .exec(ns, pod, '', ['cat', ...files], out.stream, err.stream, null, false, resolve)
      .catch(reject);
  });
  return { stdout: out.text(), stderr: err.text(), status };
}

const statusOf = async (
  p: Promise<unknown>,
): Promise<{ code: number; body: { reason?: string; message?: string } }> => {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiException)
      return { code: e.code, body: typeof e.body === 'string' ? JSON.parse(e.body) : (e.body ?? {}) };
    throw e;
  }
  throw new Error('expected the call to fail');
};

describe('@kubernetes/client-node with the job kubeconfig', () => {
  let sim: RunningSim;
  let kc: KubeConfig;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let coordination: CoordinationV1Api;

  beforeAll(async () => {
    sim = await startSim(await loadSnapshot('examples/aks-mongo-leak.yaml'));
    kc = new KubeConfig();
    kc.loadFromFile(sim.jobKubeconfigPath);
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
    coordination = kc.makeApiClient(CoordinationV1Api);
  });
  afterAll(() => sim?.close());

  it('lists nodes', async () => {
    const nodes = await core.listNode();
    expect(nodes.items.map((n) => n.metadata?.name)).toEqual([HOT, 'aks-nodepool1-31415926-vmss000001']);
    expect(nodes.items[0]?.spec?.providerID).toMatch(/^azure:\/\/\/subscriptions\//);
    expect(nodes.items[0]?.status?.addresses).toContainEqual({ type: 'InternalIP', address: '10.224.0.4' });
  });

  it('lists pods by field selector, with ownerReferences as the controllers set them', async () => {
    const pods = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${HOT}` });
    const names = pods.items.map((p) => p.metadata?.name);
    expect(names).toContain(LEAKY);
    expect(pods.items.every((p) => p.spec?.nodeName === HOT)).toBe(true);
    const leaky = pods.items.find((p) => p.metadata?.name === LEAKY)!;
    const rsRef = leaky.metadata?.ownerReferences?.[0];
    expect(rsRef).toMatchObject({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      name: 'orders-api-69875496f8',
      controller: true,
    });
    const rs = await apps.readNamespacedReplicaSet({ name: rsRef!.name, namespace: 'shop' });
    expect(rs.metadata?.uid).toBe(rsRef!.uid);
    expect(rs.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: 'Deployment',
      name: 'orders-api',
      controller: true,
    });
    const labelled = await core.listNamespacedPod({
      namespace: 'shop',
      labelSelector: 'db=mongo,app in (payments)',
    });
    expect(labelled.items.map((p) => p.metadata?.labels?.app)).toEqual(['payments', 'payments']);
  });

  it('execs cat and reads the rendered tables', async () => {
    const { stdout, status } = await execCat(kc, 'shop', LEAKY, ['/proc/net/tcp', '/proc/net/tcp6']);
    expect(status.status).toBe('Success');
    const rt = sim.world.podRuntime('shop', LEAKY)!;
    const { tcp, tcp6 } = sim.world.tablesOf(rt);
    expect(stdout).toBe(tcp + tcp6);
    expect(stdout.split('\n').filter((l) => / C2906714:6989 01 /.test(l))).toHaveLength(900);
  });

  it('reads conntrack through a hostNetwork pod', async () => {
    const probe = (
      await core.listNamespacedPod({ namespace: 'kube-system', fieldSelector: `spec.nodeName=${HOT}` })
    ).items.find((p) => p.spec?.hostNetwork)!;
    const { stdout } = await execCat(kc, 'kube-system', probe.metadata!.name!, [
      '/proc/sys/net/netfilter/nf_conntrack_count',
      '/proc/sys/net/netfilter/nf_conntrack_max',
      '/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal',
      '/proc/net/stat/nf_conntrack',
    ]);
    const [count, max, liberal, header] = stdout.split('\n');
    expect(Number(count)).toBe(sim.world.nodeConntrack(HOT).count);
    expect(max).toBe('131072');
    expect(liberal).toBe('0');
    expect(header).toMatch(/^entries\s+clashres found new invalid/);
  });

  it('reports a non-zero exit on the error channel', async () => {
    const { stderr, status } = await execCat(kc, 'shop', LEAKY, ['/proc/net/nope']);
    expect(stderr).toBe('cat: /proc/net/nope: No such file or directory\n');
    expect(status).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode' });
    expect(status.details?.causes).toEqual([{ reason: 'ExitCode', message: '1' }]);
  });

  it('patches a Deployment with a merge patch and the controller replaces its pods', async () => {
    const before = (await core.listNamespacedPod({ namespace: 'shop', labelSelector: 'app=orders-api' }))
      .items;
    const patched = await apps.patchNamespacedDeployment(
      {
        name: 'orders-api',
        namespace: 'shop',
        body: {
          metadata: {
            annotations: {
              'snatguard.io/restarted-at': '2026-11-21T08:00:00Z',
              'snatguard.io/reason': 'test',
            },
          },
          spec: {
            template: {
              metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-21T08:00:00Z' } },
            },
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(patched.metadata?.annotations?.['snatguard.io/reason']).toBe('test');
    expect(patched.metadata?.generation).toBe(2);
    const after = (await core.listNamespacedPod({ namespace: 'shop', labelSelector: 'app=orders-api' }))
      .items;
    expect(after).toHaveLength(before.length);
    const beforeNames = new Set(before.map((p) => p.metadata?.name));
    expect(after.some((p) => beforeNames.has(p.metadata?.name))).toBe(false);
    expect(after.map((p) => p.spec?.nodeName).sort()).toEqual(before.map((p) => p.spec?.nodeName).sort());
    const d = await apps.readNamespacedDeployment({ name: 'orders-api', namespace: 'shop' });
    expect(d.status).toMatchObject({
      observedGeneration: 2,
      replicas: 3,
      updatedReplicas: 3,
      readyReplicas: 3,
    });
    const newRs = after[0]!.metadata!.ownerReferences![0]!.name;
    expect(newRs).not.toBe('orders-api-69875496f8');
    const old = await apps.readNamespacedReplicaSet({ name: 'orders-api-69875496f8', namespace: 'shop' });
    expect(old.spec?.replicas).toBe(0);
    const hotPod = after.find((p) => p.spec?.nodeName === HOT)!;
    const { stdout } = await execCat(kc, 'shop', hotPod.metadata!.name!, ['/proc/net/tcp']);
    expect(stdout.split('\n').filter((l) => / C2906714:6989 01 /.test(l))).toHaveLength(10);
    // The busiest destination is now payments' API (12 ESTABLISHED + 8 TIME_WAIT), not MongoDB (10 + 6).
    expect(sim.world.nodeMetrics(HOT).usedSnatPorts).toBe(20);
    expect(sim.world.nodeDestinations(HOT).get('20.103.144.194:27017')).toBe(16);
  });

  it.each([
    [
      'delete pods',
      () => core.deleteNamespacedPod({ name: LEAKY, namespace: 'shop' }),
      `pods "${LEAKY}" is forbidden: User "system:serviceaccount:snatguard:snatguard" cannot delete resource "pods" in API group "" in the namespace "shop"`,
    ],
    [
      'list secrets-like resources (configmaps) outside the job namespace',
      () => core.listConfigMapForAllNamespaces(),
      'configmaps is forbidden: User "system:serviceaccount:snatguard:snatguard" cannot list resource "configmaps" in API group "" at the cluster scope',
    ],
    [
      'update a deployment',
      async () =>
        apps.replaceNamespacedDeployment({
          name: 'payments',
          namespace: 'shop',
          body: await kc
            .makeApiClient(AppsV1Api)
            .readNamespacedDeployment({ name: 'payments', namespace: 'shop' }),
        }),
      'deployments.apps "payments" is forbidden: User "system:serviceaccount:snatguard:snatguard" cannot update resource "deployments" in API group "apps" in the namespace "shop"',
    ],
  ])('answers 403 to %s, outside rbac.yaml', async (_what, call, message) => {
    const { code, body } = await statusOf(call());
    expect(code).toBe(403);
    expect(body).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'Forbidden',
      code: 403,
      message,
    });
  });

  it('answers 401 without a known token', async () => {
    const other = new KubeConfig();
    other.loadFromFile(sim.jobKubeconfigPath);
    other.users[0] = { ...other.users[0]!, token: 'wrong' };
    const { code } = await statusOf(other.makeApiClient(CoreV1Api).listNode());
    expect(code).toBe(401);
    expect(sim.world.requests.at(-1)).toMatchObject({ service: 'kube', path: '/api/v1/nodes', status: 401 });
  });

  it('Lease: create, renew, takeover, and 409 on a stale resourceVersion', async () => {
    const namespace = 'snatguard';
    const now = new Date();
    const lease = (holder: string, rv?: string, renew = now): V1Lease => ({
      metadata: { name: 'snatguard', namespace, ...(rv ? { resourceVersion: rv } : {}) },
      spec: {
        holderIdentity: holder,
        leaseDurationSeconds: 60,
        // MicroTime: a plain Date (milliseconds) is a 400 from a real API server, and from the simulator.
        acquireTime: new V1MicroTime(renew),
        renewTime: new V1MicroTime(renew),
        leaseTransitions: 0,
      },
    });
    const created = await coordination.createNamespacedLease({ namespace, body: lease('run-a') });
    expect(created.spec?.holderIdentity).toBe('run-a');
    const again = await statusOf(coordination.createNamespacedLease({ namespace, body: lease('run-b') }));
    expect(again.code).toBe(409);
    expect(again.body.reason).toBe('AlreadyExists');

    // run-a renews with the version it read
    const renewed = await coordination.replaceNamespacedLease({
      name: 'snatguard',
      namespace,
      body: lease('run-a', created.metadata!.resourceVersion, new Date(now.getTime() + 1000)),
    });
    expect(Number(renewed.metadata!.resourceVersion)).toBeGreaterThan(
      Number(created.metadata!.resourceVersion),
    );

    // run-b takes over (the lease expired) with the current version
    const current = await coordination.readNamespacedLease({ name: 'snatguard', namespace });
    const taken = await coordination.replaceNamespacedLease({
      name: 'snatguard',
      namespace,
      body: {
        ...lease('run-b', current.metadata!.resourceVersion),
        spec: { ...lease('run-b').spec, leaseTransitions: 1 },
      },
    });
    expect(taken.spec?.holderIdentity).toBe('run-b');

    // run-a's renew with its stale version loses
    const stale = await statusOf(
      coordination.replaceNamespacedLease({
        name: 'snatguard',
        namespace,
        body: lease('run-a', renewed.metadata!.resourceVersion),
      }),
    );
    expect(stale.code).toBe(409);
    expect(stale.body).toMatchObject({
      reason: 'Conflict',
      message:
        'Operation cannot be fulfilled on leases.coordination.k8s.io "snatguard": the object has been modified; please apply your changes to the latest version and try again',
    });
    expect(
      (await coordination.readNamespacedLease({ name: 'snatguard', namespace })).spec?.holderIdentity,
    ).toBe('run-b');
  });

  it('ConfigMap state: create then update in the job namespace; 404 before it exists', async () => {
    const missing = await statusOf(
      core.readNamespacedConfigMap({ name: 'snatguard-state', namespace: 'snatguard' }),
    );
    expect(missing.code).toBe(404);
    expect(missing.body.message).toBe('configmaps "snatguard-state" not found');
    const cm = await core.createNamespacedConfigMap({
      namespace: 'snatguard',
      body: { metadata: { name: 'snatguard-state' }, data: { state: '{}' } },
    });
    const updated = await core.replaceNamespacedConfigMap({
      name: 'snatguard-state',
      namespace: 'snatguard',
      body: { ...cm, data: { state: '{"conntrack":{}}' } },
    });
    expect(updated.data?.state).toBe('{"conntrack":{}}');
  });

  it('counts requests per verb and resource', () => {
    expect(sim.world.requestCounts['kube list nodes']).toBeGreaterThanOrEqual(1);
    expect(sim.world.requestCounts['kube exec pods']).toBeGreaterThanOrEqual(4);
    expect(sim.world.requests.some((r) => r.service === 'kube' && r.status === 403)).toBe(true);
  });
});

describe('exec behaviours from the snapshot', () => {
  let sim: RunningSim;
  let kc: KubeConfig;
  beforeAll(async () => {
    sim = await startSim(
      parseSnapshot(`apiVersion: snatguard.io/v1
kind: Snapshot
metadata: { name: exec-modes }
nodes: [{ name: n1 }]
workloads:
  - { kind: Pod, namespace: a, name: distroless, pods: [{ node: n1, exec: no-cat }] }
  - { kind: Pod, namespace: a, name: stuck, pods: [{ node: n1, exec: hang }] }
  - { kind: Pod, namespace: a, name: broken, pods: [{ node: n1, exec: error }] }
  - { kind: Pod, namespace: a, name: slow, pods: [{ node: n1, sockets: [{ remote: 20.1.1.1:443, state: ESTABLISHED, family: ipv4-mapped }] }] }
`),
    );
    kc = new KubeConfig();
    kc.loadFromFile(sim.jobKubeconfigPath);
  });
  afterAll(() => sim?.close());

  it('no-cat answers as a distroless container does', async () => {
    const { status } = await execCat(kc, 'a', 'distroless', ['/proc/net/tcp']);
    expect(status.status).toBe('Failure');
    expect(status.message).toContain('exec: "cat": executable file not found in $PATH');
  });

  it('error fails the upgrade', async () => {
    await expect(execCat(kc, 'a', 'broken', ['/proc/net/tcp'])).rejects.toThrow();
    expect(sim.world.requests.some((r) => r.path.endsWith('/broken/exec') && r.status === 500)).toBe(true);
  });

  it('hang never answers, and the socket closes when the client leaves', async () => {
    const out = collector();
    let status: V1Status | undefined;
    const ws = await new Exec(kc).exec(
      'a',
      'stuck',
      '',
      ['cat', '/proc/net/tcp'],
      out.stream,
      null,
      null,
      false,
      (s) => {
        status = s;
      },
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(status).toBeUndefined();
    expect(out.text()).toBe('');
    const closed = new Promise((r) => ws.once('close', r));
    ws.close();
    await closed;
  });

  it('honours exec latency and renders ipv4-mapped peers in tcp6', async () => {
    sim.world.faults.execLatencyMs = 150;
    const started = Date.now();
    const { stdout, status } = await execCat(kc, 'a', 'slow', ['/proc/net/tcp', '/proc/net/tcp6']);
    sim.world.faults.execLatencyMs = 0;
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(status.status).toBe('Success');
    // 20.1.1.1 as ::ffff:20.1.1.1, four host-endian words
    expect(stdout).toMatch(
      /^\s+0: 0000000000000000FFFF0000\w{8}:\w{4} 0000000000000000FFFF000001010114:01BB 01 /m,
    );
  });
});
