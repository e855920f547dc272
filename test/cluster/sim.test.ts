// Every cluster port against the simulator: HTTPS, the exec WebSocket, the job's RBAC, the real client.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { CoreV1Api, KubeConfig, ResponseContext, SelfDecodingBody } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { podExec } from '../../src/cluster/exec.js';
import { inspectNode, SOCKET_FILES } from '../../src/cluster/inspect.js';
import { leaseLock } from '../../src/cluster/lease.js';
import { nodeProbe } from '../../src/cluster/node-probe.js';
import {
  clusterReader,
  nodeListFieldsOnly,
  podFieldsOnly,
  podListFieldsOnly,
  toNodeInfo,
  toPodInfo,
} from '../../src/cluster/reader.js';
import { rolloutRemediator } from '../../src/cluster/restart.js';
import { configMapState, STATE_CONFIGMAP } from '../../src/cluster/state.js';
import { ClusterError, ExecError } from '../../src/errors.js';
import { emptyState, type PodInfo, type RunState } from '../../src/model.js';
import type { Log } from '../../src/ports.js';
import { forbidden } from '../../src/sim/kube/rbac.js';
import { type RunningSim, startSim } from '../../src/sim/server.js';
import { parseSnapshot } from '../../src/sim/snapshot.js';
import { createClassifier } from '../../src/sockets/address.js';
import { summarize } from '../../src/sockets/summary.js';

const SNAPSHOT = `
apiVersion: snatguard.io/v1
kind: Snapshot
metadata: { name: cluster-io }
cloud: { provider: none }
cluster: { version: "1.31", podCIDR: 10.244.0.0/16, serviceCIDR: 10.0.0.0/16 }
nodes:
  - name: node-a
    internalIP: 10.224.0.4
    providerID: azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/vmss/virtualMachines/0
    conntrack: { count: 1190, max: 1200, insertFailed: 3, drop: 1, earlyDrop: 2, beLiberal: false }
    hostSockets:
      - { remote: 198.51.100.7:443, state: ESTABLISHED, count: 4 }
  - name: node-b
    internalIP: 10.224.0.5
workloads:
  - kind: Deployment
    namespace: shop
    name: orders-api
    replicas: 2
    labels: { app: orders-api }
    pods:
      - node: node-a
        sockets:
          - { remote: 20.103.144.194:27017, state: ESTABLISHED, count: 50 }
          - { remote: 20.103.144.195:27017, state: ESTABLISHED, count: 3, family: ipv4-mapped }
          - { local: 0.0.0.0:8080, state: LISTEN }
      - node: node-b
        sockets:
          - { remote: 20.103.144.194:27017, state: ESTABLISHED, count: 5 }
    afterRestart:
      sockets:
        - { remote: 20.103.144.194:27017, state: ESTABLISHED, count: 1 }
  - kind: StatefulSet
    namespace: shop
    name: cache
    replicas: 1
    pods:
      - { node: node-a, exec: no-cat }
  - kind: Deployment
    namespace: shop
    name: stuck
    pods:
      - { node: node-a, exec: hang }
  - kind: Deployment
    namespace: shop
    name: broken
    status: { unavailableReplicas: 1 }
    pods:
      - { node: node-a, exec: error }
  - kind: Pod
    namespace: shop
    name: bare
    pods:
      - { name: bare, node: node-a }
`;

const silent: Log = { debug() {}, info() {}, warn() {}, error() {} };
const limits = { timeoutMs: 2000, maxBytes: 1 << 20 };
const never = new AbortController().signal;

let sim: RunningSim;
let kc: KubeConfig;
let admin: KubeConfig;

const kubeRequests = (since: number) => sim.world.requests.slice(since).filter((r) => r.service === 'kube');

beforeAll(async () => {
  sim = await startSim(parseSnapshot(SNAPSHOT, 'cluster-io'));
  kc = new KubeConfig();
  kc.loadFromFile(sim.jobKubeconfigPath);
  admin = new KubeConfig();
  admin.loadFromFile(sim.kubeconfigPath);
});

afterAll(async () => {
  await sim?.close();
});

const podNamed = (pods: PodInfo[], prefix: string): PodInfo => {
  const p = pods.find((x) => x.name.startsWith(prefix));
  if (p === undefined) throw new Error(`no pod ${prefix} in ${pods.map((x) => x.name).join(', ')}`);
  return p;
};

describe('clusterReader', () => {
  it('maps nodes', async () => {
    const nodes = await clusterReader(kc).nodes();
    expect(nodes.map((n) => n.name).sort()).toEqual(['node-a', 'node-b']);
    const a = nodes.find((n) => n.name === 'node-a');
    expect(a).toMatchObject({ internalIP: '10.224.0.4', ready: true });
    expect(a?.providerID).toContain('virtualMachines/0');
  });

  it('decodes node list pages cut to what toNodeInfo reads (nodeListFieldsOnly): same nodes, less object', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const full = await core.listNode({ limit: 1 });
    const cut = await core.listNode(
      { limit: 1 },
      { middleware: [nodeListFieldsOnly], middlewareMergeStrategy: 'append' },
    );
    expect(cut.items.map(toNodeInfo)).toEqual(full.items.map(toNodeInfo));
    expect(cut.metadata?._continue).toBe(full.metadata?._continue);
    expect(cut.metadata?._continue).toBeTruthy();
    expect(full.items[0]?.status?.nodeInfo).toBeDefined();
    expect(cut.items[0]?.status?.nodeInfo).toBeUndefined();
    expect(cut.items[0]?.status?.allocatable).toBeUndefined();
    expect(cut.items[0]?.metadata?.annotations).toBeUndefined();
    expect(Object.keys(cut.items[0]?.status?.conditions?.[0] ?? {}).sort()).toEqual(['status', 'type']);
  });

  it('hands client-node every other answer of a node list as it came (nodeListFieldsOnly)', async () => {
    const body = (text: string) => new SelfDecodingBody(Promise.resolve(Buffer.from(text)));
    const refused = new ResponseContext(
      403,
      { 'content-type': 'application/json' },
      body('{"kind":"Status"}'),
    );
    expect(await nodeListFieldsOnly.post(refused).toPromise()).toBe(refused);
    const notJson = new ResponseContext(200, { 'content-type': 'text/plain' }, body('<html>proxy</html>'));
    expect(await (await nodeListFieldsOnly.post(notJson).toPromise()).body.text()).toBe('<html>proxy</html>');
    const odd = '{"kind":"NodeList","items":[42,{"metadata":"x"}],"metadata":{"continue":"c"}}';
    const oddRes = new ResponseContext(200, {}, body(odd));
    expect(JSON.parse(await (await nodeListFieldsOnly.post(oddRes).toPromise()).body.text())).toEqual(
      JSON.parse(odd),
    );
  });

  it('decodes pod list pages cut to what podsOn reads (podListFieldsOnly): same pods, less object (was: every field decoded)', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const full = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=node-a' });
    const cut = await core.listPodForAllNamespaces(
      { fieldSelector: 'spec.nodeName=node-a' },
      { middleware: [podListFieldsOnly], middlewareMergeStrategy: 'append' },
    );
    expect(full.items.length).toBeGreaterThan(3);
    expect(cut.items.map(toPodInfo)).toEqual(full.items.map(toPodInfo));
    expect(cut.items.map((p) => [p.status?.phase, p.spec?.nodeName])).toEqual(
      full.items.map((p) => [p.status?.phase, p.spec?.nodeName]),
    );
    expect(full.items[0]?.status?.conditions).toBeDefined();
    expect(cut.items[0]?.status?.conditions).toBeUndefined();
    expect(cut.items[0]?.metadata?.creationTimestamp).toBeUndefined();
    expect(Object.keys(cut.items[0]?.spec?.containers?.[0] ?? {})).toEqual(['name']);
    // The reader's own list takes the cut pages.
    expect(await clusterReader(kc).podsOn('node-a')).toEqual(
      full.items
        .filter((p) => p.status?.phase === 'Running')
        .map(toPodInfo)
        .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name)),
    );
  });

  it('podFieldsOnly leaves what is not shaped like a pod as it is', () => {
    expect(podFieldsOnly(42)).toBe(42);
    expect(podFieldsOnly({ metadata: 'x', spec: [1], status: null })).toEqual({
      metadata: 'x',
      spec: [1],
      status: null,
    });
    expect(
      podFieldsOnly({
        kind: 'Pod',
        metadata: { name: 'a', managedFields: [{}] },
        spec: { containers: [{ name: 'c', image: 'i' }, 7], volumes: [] },
        status: { podIPs: [{ ip: '10.0.0.1', x: 1 }, 'y'], hostIP: 'h' },
      }),
    ).toEqual({
      kind: 'Pod',
      metadata: { name: 'a' },
      spec: { containers: [{ name: 'c' }, 7] },
      status: { podIPs: [{ ip: '10.0.0.1' }, 'y'] },
    });
  });

  it('lists the pods of one node in one request', async () => {
    const before = sim.world.requests.length;
    const pods = await clusterReader(kc).podsOn('node-a');
    const lists = kubeRequests(before);
    expect(lists).toHaveLength(1);
    expect(decodeURIComponent(lists[0]?.query ?? '')).toContain('spec.nodeName=node-a');
    expect(pods.every((p) => p.node === 'node-a')).toBe(true);
    expect(pods.filter((p) => p.namespace === 'shop').map((p) => p.name.split('-')[0])).toEqual(
      expect.arrayContaining(['orders', 'cache', 'stuck', 'broken', 'bare']),
    );
    const proxy = pods.find((p) => p.namespace === 'kube-system');
    expect(proxy?.hostNetwork).toBe(true);
    expect(podNamed(pods, 'orders-api').hostNetwork).toBe(false);
    expect(podNamed(pods, 'orders-api').containers.length).toBeGreaterThan(0);
  });

  it('walks owners with a per-run cache', async () => {
    const reader = clusterReader(kc);
    const pods = [...(await reader.podsOn('node-a')), ...(await reader.podsOn('node-b'))];
    const orders = pods.filter((p) => p.name.startsWith('orders-api'));
    expect(orders).toHaveLength(2);
    const before = sim.world.requests.length;
    const owners = await Promise.all(orders.map((p) => reader.ownerOf(p)));
    expect(owners).toEqual([
      { namespace: 'shop', kind: 'Deployment', name: 'orders-api' },
      { namespace: 'shop', kind: 'Deployment', name: 'orders-api' },
    ]);
    // Both pods share one ReplicaSet: read once.
    expect(kubeRequests(before).filter((r) => r.path.includes('/replicasets/'))).toHaveLength(1);
    expect(await reader.ownerOf(podNamed(pods, 'cache'))).toEqual({
      namespace: 'shop',
      kind: 'StatefulSet',
      name: 'cache',
    });
    expect(await reader.ownerOf(podNamed(pods, 'kube-proxy'))).toEqual({
      namespace: 'kube-system',
      kind: 'DaemonSet',
      name: 'kube-proxy',
    });
    expect(await reader.ownerOf(podNamed(pods, 'bare'))).toBeNull();
  });

  it('reads workload status and fails with the HTTP status', async () => {
    const reader = clusterReader(kc);
    const orders = await reader.workload({ namespace: 'shop', kind: 'Deployment', name: 'orders-api' });
    expect(orders).toMatchObject({
      replicas: 2,
      unavailableReplicas: 0,
      paused: false,
      labels: { app: 'orders-api' },
    });
    const broken = await reader.workload({ namespace: 'shop', kind: 'Deployment', name: 'broken' });
    expect(broken.unavailableReplicas).toBe(1);
    const ds = await reader.workload({ namespace: 'kube-system', kind: 'DaemonSet', name: 'kube-proxy' });
    expect(ds.replicas).toBe(2);
    const sts = await reader.workload({ namespace: 'shop', kind: 'StatefulSet', name: 'cache' });
    expect(sts.replicas).toBe(1);
    const missing = await reader
      .workload({ namespace: 'shop', kind: 'Deployment', name: 'nope' })
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ClusterError);
    expect((missing as ClusterError).status).toBe(404);
    await expect(reader.workload({ namespace: 'shop', kind: 'Job', name: 'x' })).rejects.toBeInstanceOf(
      ClusterError,
    );
  });

  it('reads a DaemonSet env, null when absent', async () => {
    const reader = clusterReader(kc);
    expect(await reader.daemonSetEnv('kube-system', 'aws-node')).toBeNull();
    expect(await reader.daemonSetEnv('kube-system', 'kube-proxy')).toEqual(expect.any(Object));
  });
});

describe('podExec', () => {
  it('reads both socket tables; the summary sees IPv4-mapped peers in tcp6', async () => {
    const pods = await clusterReader(kc).podsOn('node-a');
    const text = await podExec(kc).read(podNamed(pods, 'orders-api'), SOCKET_FILES, limits, never);
    const summary = summarize(text, createClassifier({ clusterCidrs: ['10.244.0.0/16', '10.0.0.0/16'] }));
    expect(summary.snatSockets).toBe(53);
    expect(summary.listening).toBe(1);
    expect(summary.destinations[0]).toMatchObject({ remote: '20.103.144.194:27017', sockets: 50 });
  });

  it.each([
    ['cache', 'not-found', limits],
    ['stuck', 'timeout', { timeoutMs: 1000, maxBytes: 1 << 20 }],
    ['broken', 'failed', limits],
    ['orders-api', 'too-large', { timeoutMs: 2000, maxBytes: 512 }],
  ])('%s → ExecError %s', async (prefix, kind, l) => {
    const pods = await clusterReader(kc).podsOn('node-a');
    const e = await podExec(kc)
      .read(podNamed(pods, prefix), SOCKET_FILES, l, never)
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ExecError);
    expect((e as ExecError).kind).toBe(kind);
  });
});

/** The raw answer to an exec upgrade, as a client sees it before any WebSocket exists. */
async function upgradeAnswer(config: KubeConfig, path: string): Promise<{ status: number; body: string }> {
  const server = config.getCurrentCluster()?.server ?? '';
  const opts: https.RequestOptions = {};
  await config.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = https.request(`${server}${path}`, {
      ...opts,
      headers: {
        ...opts.headers,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-protocol': 'v4.channel.k8s.io',
      },
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve({ status: 101, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString('utf8');
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const realRefusal = (name: string): { status: number; body: Record<string, unknown> } => {
  const f = JSON.parse(
    readFileSync(new URL(`../fixtures/wire/kube-real/${name}.json`, import.meta.url), 'utf8'),
  ) as { status: number; body: string };
  return { status: f.status, body: JSON.parse(f.body) as Record<string, unknown> };
};

/** The same Status with the names that differ between two clusters (pods, nodes, IPs, users) blanked. */
const shapeOf = (body: Record<string, unknown>, names: string[]): unknown =>
  JSON.parse(
    names.reduce(
      (text, n) => text.split(n).join('<name>'),
      JSON.stringify(body).replace(/\d+\.\d+\.\d+\.\d+:\d+/g, '<addr>'),
    ),
  );

// Defect #11.5: the simulator refuses exec upgrades with the Status bodies kube-apiserver v1.20.2 sends.
describe('exec refusals as the real API server words them', () => {
  it('500 error dialing backend (no reason), kept in the ExecError', async () => {
    const pods = await clusterReader(kc).podsOn('node-a');
    const broken = podNamed(pods, 'broken');
    const path = `/api/v1/namespaces/shop/pods/${broken.name}/exec?command=cat&container=${broken.containers[0]}&stdout=1`;
    const sim = await upgradeAnswer(kc, path);
    const real = realRefusal('exec-dial-error');
    expect(sim.status).toBe(real.status);
    expect(shapeOf(JSON.parse(sim.body), [broken.name])).toEqual(shapeOf(real.body, ['gone']));
    const e = await podExec(kc)
      .read(broken, SOCKET_FILES, limits, never)
      .catch((x: unknown) => x);
    expect((e as ExecError).status).toBe(500);
    expect((e as ExecError).message).toBe(
      `exec in shop/${broken.name} failed: HTTP 500: error dialing backend: dial tcp 10.224.0.4:10250: connect: connection refused`,
    );
  });

  it('400 for a container the pod does not have', async () => {
    const pods = await clusterReader(kc).podsOn('node-a');
    const orders = podNamed(pods, 'orders-api');
    const path = `/api/v1/namespaces/shop/pods/${orders.name}/exec?command=cat&container=nope&stdout=1`;
    const sim = await upgradeAnswer(kc, path);
    const real = realRefusal('exec-container-not-valid');
    expect(sim.status).toBe(400);
    expect(shapeOf(JSON.parse(sim.body), [orders.name])).toEqual(shapeOf(real.body, ['db-0']));
    const e = await podExec(kc)
      .read({ namespace: 'shop', name: orders.name, container: 'nope' }, SOCKET_FILES, limits, never)
      .catch((x: unknown) => x);
    expect((e as ExecError).message).toBe(
      `exec in shop/${orders.name} failed: HTTP 400: container nope is not valid for pod ${orders.name}`,
    );
  });

  it('404 for a pod that is gone', async () => {
    const sim = await upgradeAnswer(
      kc,
      '/api/v1/namespaces/shop/pods/nope/exec?command=cat&container=main&stdout=1',
    );
    expect(sim.status).toBe(404);
    expect(JSON.parse(sim.body)).toEqual(realRefusal('exec-pod-not-found').body);
  });

  it('403 worded as RBAC words it', () => {
    const real = realRefusal('exec-forbidden');
    const body = forbidden(
      { name: 'readonly', groups: [] },
      { verb: 'get', group: '', resource: 'pods', subresource: 'exec', namespace: 'shop', name: 'db-0' },
    ).body;
    expect(real.status).toBe(403);
    expect(body).toEqual(real.body);
  });

  it('RunReport errors keep the reason (inspectNode)', async () => {
    const pods = await clusterReader(kc).podsOn('node-a');
    const { errors } = await inspectNode('node-a', pods, {
      exec: podExec(kc),
      limits: { timeoutMs: 2000, maxBytes: 1 << 20 }, // generous: a loaded CI machine must not turn slow reads into timeouts
      concurrency: 4,
      classifier: createClassifier({ clusterCidrs: ['10.244.0.0/16'] }),
      signal: never,
      log: silent,
    });
    const broken = errors.find((e) => e.target.startsWith('shop/broken'));
    expect(broken?.message).toMatch(/HTTP 500: error dialing backend: dial tcp 10\.224\.0\.4:10250/);
    expect(broken?.message).not.toMatch(/closed without an exit status/);
  });
});

describe('inspectNode', () => {
  it('inspects a node: ok, uninspectable, timed out, failed, node level once', async () => {
    const pods = await clusterReader(kc).podsOn('node-a');
    const { inspections, errors } = await inspectNode('node-a', pods, {
      exec: podExec(kc),
      limits: { timeoutMs: 2000, maxBytes: 1 << 20 }, // generous: a loaded CI machine must not turn slow reads into timeouts
      concurrency: 4,
      classifier: createClassifier({ clusterCidrs: ['10.244.0.0/16'] }),
      signal: never,
      log: silent,
    });
    const status = (prefix: string) => inspections.find((i) => i.pod.name.startsWith(prefix))?.status;
    expect(status('orders-api')).toBe('ok');
    expect(status('bare')).toBe('ok');
    expect(status('cache')).toBe('uninspectable');
    expect(status('stuck')).toBe('failed');
    expect(status('broken')).toBe('failed');
    const nodeLevel = inspections.filter((i) => i.nodeLevel);
    expect(nodeLevel).toHaveLength(1);
    expect(nodeLevel[0]?.summary?.snatSockets).toBe(4);
    expect(errors.map((e) => e.target.split('/')[1]?.split('-')[0]).sort()).toEqual(['broken', 'stuck']);
    expect(errors.every((e) => e.stage === 'inspect')).toBe(true);
  });
});

describe('nodeProbe', () => {
  it("reads conntrack through snatguard's node probe, reusing the listed pods", async () => {
    const pods = await clusterReader(kc).podsOn('node-a');
    const before = sim.world.requests.length;
    const probe = nodeProbe(kc, podExec(kc), {
      limits,
      knownPods: (n) => (n === 'node-a' ? pods : undefined),
    });
    const reading = await probe.conntrack('node-a', never);
    expect(reading).toMatchObject({
      count: 1190,
      max: 1200,
      insertFailed: 3,
      drop: 1,
      earlyDrop: 2,
      beLiberal: false,
    });
    expect(kubeRequests(before).filter((r) => r.method === 'GET' && !r.path.endsWith('/exec'))).toHaveLength(
      0,
    );
  });

  it('uses the pods the caller passes', async () => {
    const pods = await clusterReader(kc).podsOn('node-a');
    const before = sim.world.requests.length;
    const reading = await nodeProbe(kc, podExec(kc), { limits }).conntrack('node-a', never, pods);
    expect(reading.insertFailed).toBe(3);
    expect(kubeRequests(before).filter((r) => !r.path.endsWith('/exec'))).toHaveLength(0);
  });

  it('lists the pods itself when none are known', async () => {
    const reading = await nodeProbe(kc, podExec(kc), { limits }).conntrack('node-b', never);
    expect(reading.max).toBeGreaterThan(0);
  });

  it('fails clearly when no probe pod matches, saying what to deploy', async () => {
    const probe = nodeProbe(kc, podExec(kc), { limits, targets: [{ selector: 'app=nothing-here' }] });
    await expect(probe.conntrack('node-a', never)).rejects.toThrow(
      /^no node probe answered on node node-a: no running hostNetwork pod labelled app=nothing-here in any namespace there; deploy snatguard's node probe: kubectl apply -f infra\/kubernetes\/node-probe.yaml/,
    );
  });

  it('execs into snatguard-node-probe in namespace snatguard, never kube-proxy, by default', async () => {
    const before = sim.world.requests.length;
    await nodeProbe(kc, podExec(kc), { limits }).conntrack('node-b', never);
    const execs = kubeRequests(before).filter((r) => r.path.endsWith('/exec'));
    expect(execs.map((r) => r.path.split('/').slice(4, 7).join('/'))).toEqual([
      expect.stringMatching(/^snatguard\/pods\/snatguard-node-probe-/),
    ]);
  });
});

describe('leaseLock', () => {
  const t0 = new Date('2025-06-01T12:00:00Z');
  const at = (ms: number) => () => new Date(t0.getTime() + ms);

  it('lets exactly one of two concurrent runs create the lease', async () => {
    const results = await Promise.all([
      leaseLock(kc, 'snatguard', at(0), { name: 'race' }).acquire('run-1', 60_000),
      leaseLock(kc, 'snatguard', at(0), { name: 'race' }).acquire('run-2', 60_000),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('refuses a second live holder, renews its own, takes over when expired, releases', async () => {
    const a = leaseLock(kc, 'snatguard', at(0));
    const b = leaseLock(kc, 'snatguard', at(30_000));
    expect(await a.acquire('run-a', 60_000)).toBe(true);
    expect(await b.acquire('run-b', 60_000)).toBe(false);
    expect(await leaseLock(kc, 'snatguard', at(10_000)).acquire('run-a', 60_000)).toBe(true); // renewed at +10 s
    expect(await leaseLock(kc, 'snatguard', at(65_000)).acquire('run-b', 60_000)).toBe(false); // still live until +70 s
    const late = leaseLock(kc, 'snatguard', at(71_000));
    expect(await late.acquire('run-b', 60_000)).toBe(true); // expired: taken over
    const lease = await admin
      .makeApiClient((await import('@kubernetes/client-node')).CoordinationV1Api)
      .readNamespacedLease({
        namespace: 'snatguard',
        name: 'snatguard',
      });
    expect(lease.spec?.holderIdentity).toBe('run-b');
    expect(lease.spec?.leaseTransitions).toBe(1);
    await a.release(); // no longer ours: must not clear run-b's hold
    expect(await leaseLock(kc, 'snatguard', at(72_000)).acquire('run-c', 60_000)).toBe(false);
    await late.release();
    expect(await leaseLock(kc, 'snatguard', at(73_000)).acquire('run-c', 60_000)).toBe(true);
  });

  it('releases a Lease nobody wrote since its own last write in one request, with that resourceVersion (was: a read, then the write)', async () => {
    const lock = leaseLock(kc, 'snatguard', at(0), { name: 'release-once' });
    expect(await lock.acquire('run-r', 60_000)).toBe(true);
    const since = sim.world.requests.length;
    await lock.release();
    expect(kubeRequests(since).map((r) => `${r.method} ${r.status}`)).toEqual(['PUT 200']);
    // Freed: the next run takes it.
    expect(
      await leaseLock(kc, 'snatguard', at(1_000), { name: 'release-once' }).acquire('run-s', 60_000),
    ).toBe(true);
  });

  it('a Lease written by someone else since is read first, and left alone when no longer ours', async () => {
    const t = at(0);
    const mine = leaseLock(kc, 'snatguard', t, { name: 'release-raced' });
    expect(await mine.acquire('run-m', 60_000)).toBe(true);
    // Expired and taken over by another run (a later clock).
    expect(
      await leaseLock(kc, 'snatguard', at(61_000), { name: 'release-raced' }).acquire('run-n', 60_000),
    ).toBe(true);
    const since = sim.world.requests.length;
    await mine.release();
    expect(kubeRequests(since).map((r) => `${r.method} ${r.status}`)).toEqual(['PUT 409', 'GET 200']);
    expect(
      await leaseLock(kc, 'snatguard', at(62_000), { name: 'release-raced' }).acquire('run-o', 60_000),
    ).toBe(false);
  });

  it('reports a 403 outside the job namespace', async () => {
    const e = await leaseLock(kc, 'default', at(0))
      .acquire('run-x', 60_000)
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ClusterError);
    expect((e as ClusterError).status).toBe(403);
  });
});

describe('configMapState', () => {
  it('starts empty, round-trips, and survives corrupt JSON with a warning', async () => {
    const warnings: object[] = [];
    const log: Log = { ...silent, warn: (o) => warnings.push(o) };
    const store = configMapState(kc, 'snatguard', log);
    expect(await store.load()).toEqual(emptyState());
    const state: RunState = {
      conntrack: { 'node-a': { insertFailed: 3, drop: 1, earlyDrop: 0, at: '2025-06-01T12:00:00Z' } },
      notified: {
        abc: { firstSeen: '2025-06-01T12:00:00Z', lastSent: '2025-06-01T12:00:00Z', severity: 'critical' },
      },
    };
    await store.save(state);
    expect(await store.load()).toEqual(state);
    await store.save({ ...state, notified: {} }); // update path
    expect((await store.load()).notified).toEqual({});

    const core = admin.makeApiClient(CoreV1Api);
    const cm = await core.readNamespacedConfigMap({ namespace: 'snatguard', name: STATE_CONFIGMAP });
    await core.replaceNamespacedConfigMap({
      namespace: 'snatguard',
      name: STATE_CONFIGMAP,
      body: { ...cm, data: { 'state.json': '{"conntrack": {' } },
    });
    expect(await store.load()).toEqual(emptyState());
    expect(warnings).toHaveLength(1);
  });
});

// Last: it changes the world (pods replaced).
describe('rolloutRemediator', () => {
  it('restarts a Deployment like kubectl rollout restart, confirmed and recorded', async () => {
    const reader = clusterReader(kc);
    const oldNames = (await reader.podsOn('node-a'))
      .filter((p) => p.name.startsWith('orders-api'))
      .map((p) => p.name);
    const before = sim.world.requests.length;
    const now = new Date('2025-06-01T12:34:56.789Z');
    await rolloutRemediator(kc, () => now).restart(
      { namespace: 'shop', kind: 'Deployment', name: 'orders-api' },
      '50 sockets to 20.103.144.194:27017',
      never,
    );

    const writes = kubeRequests(before).filter((r) => r.method !== 'GET');
    expect(writes).toHaveLength(1);
    expect(writes[0]?.method).toBe('PATCH');
    expect(writes[0]?.headers['content-type']).toContain('application/merge-patch+json');

    const status = await reader.workload({ namespace: 'shop', kind: 'Deployment', name: 'orders-api' });
    expect(status.annotations['snatguard.io/restarted-at']).toBe('2025-06-01T12:34:56Z');
    expect(status.annotations['snatguard.io/reason']).toBe('50 sockets to 20.103.144.194:27017');

    const after = (await clusterReader(kc).podsOn('node-a')).filter((p) => p.name.startsWith('orders-api'));
    expect(after).toHaveLength(1);
    expect(oldNames).not.toContain(after[0]?.name);
    const text = await podExec(kc).read(after[0] as PodInfo, SOCKET_FILES, limits, never);
    expect(summarize(text).snatSockets).toBe(1);
  });

  it('restarts a StatefulSet and refuses unsupported kinds without writing', async () => {
    const remediator = rolloutRemediator(kc, () => new Date('2025-06-01T13:00:00Z'));
    await remediator.restart({ namespace: 'shop', kind: 'StatefulSet', name: 'cache' }, 'test', never);
    const sts = await clusterReader(kc).workload({ namespace: 'shop', kind: 'StatefulSet', name: 'cache' });
    expect(sts.annotations['snatguard.io/restarted-at']).toBe('2025-06-01T13:00:00Z');
    const before = sim.world.requests.length;
    await expect(
      remediator.restart({ namespace: 'shop', kind: 'ReplicaSet', name: 'x' }, 'test', never),
    ).rejects.toBeInstanceOf(ClusterError);
    await expect(
      remediator.restart({ namespace: 'shop', kind: 'Pod', name: 'bare' }, 'test', never),
    ).rejects.toBeInstanceOf(ClusterError);
    expect(kubeRequests(before)).toHaveLength(0);
  });

  it('fails with the status when the workload does not exist', async () => {
    const e = await rolloutRemediator(kc, () => new Date())
      .restart({ namespace: 'shop', kind: 'Deployment', name: 'ghost' }, 'test', never)
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ClusterError);
    expect((e as ClusterError).status).toBe(404);
  });
});
