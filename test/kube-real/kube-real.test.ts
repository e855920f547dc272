// npm run test:kube-real — snatguard against a REAL Kubernetes control plane (../shared/tools/kube-real:
// kube-apiserver and kube-controller-manager v1.20.2, etcd, RBAC from infra/kubernetes/rbac.yaml applied
// unchanged, an audit log of every request, a stand-in kubelet for exec). Not part of `npm test` or
// .ci/run; skips, saying how to build the kit, when it is not built.
//
// 1. One `snatguard scan --provider none --mode restart` as the ServiceAccount snatguard/snatguard (the
//    CronJob's identity): the offender is found from the stand-in kubelet's socket tables, the restart is
//    a real rollout (a new ReplicaSet from the real deployment controller), and the audit log shows the
//    job wrote nothing but its patch, its Lease and its state ConfigMap.
// 2. The cluster adapters as the group `snatguard` (the EKS access entry's mapping): listing with paging
//    (`continue`) and field selectors, ownerReferences, exec and the API server's refusals, the node probe,
//    Lease create/renew/takeover/release with 409 and 422, the state ConfigMap, the restart patch.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  type KubeConfig,
  V1MicroTime,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { podExec } from '../../src/cluster/exec.js';
import { inspectNode, SOCKET_FILES } from '../../src/cluster/inspect.js';
import { leaseLock } from '../../src/cluster/lease.js';
import { CONNTRACK_FILES, nodeProbe } from '../../src/cluster/node-probe.js';
import { clusterReader } from '../../src/cluster/reader.js';
import { RESTARTED_AT, rolloutRemediator } from '../../src/cluster/restart.js';
import { configMapState } from '../../src/cluster/state.js';
import { ClusterError, ExecError } from '../../src/errors.js';
import type { RunReport } from '../../src/model.js';
import type { Log } from '../../src/ports.js';
import { createClassifier } from '../../src/sockets/address.js';
import { parseConntrackProbe } from '../../src/sockets/conntrack.js';
import { renderProcNetTcp, TCP6_HEADER } from '../../src/sockets/render.js';
import {
  admin,
  auditEvents,
  bindDaemonSetPods,
  groupUser,
  kubeConfigFrom,
  kubectl,
  loadFixtures,
  markRunning,
  notBuilt,
  repoRoot,
  run,
  serviceAccountToken,
  startCluster,
  stopCluster,
  tokenKubeconfig,
  until,
} from './kit.js';

const missing = notBuilt();
const SA_USER = 'system:serviceaccount:snatguard:snatguard';
const PEER = '203.0.113.10';
const SOCKETS_PER_WEB_POD = 300;
const never = new AbortController().signal;
const limits = { timeoutMs: 10_000, maxBytes: 1 << 20 };
const quiet: Log = { debug() {}, info() {}, warn() {}, error() {} };

let tmp: string;
let fakeRoot: string;
let saKubeconfig: string;
let readonlyKubeconfig: string;
let scan: { code: number; report: RunReport; stderr: string };
let webBefore: { uid: string; replicaSets: string[] };
let hostConntrack: ReturnType<typeof parseConntrackProbe>;

/** `cat` of `file` in pod NAMESPACE/POD returns `text` (the stand-in kubelet's FAKE_KUBELET_ROOT layout). */
function serve(namespace: string, pod: string, file: string, text: string): void {
  const path = join(fakeRoot, namespace, pod, file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** A web pod's socket table: many connections to one public peer, one listener (as Linux prints it). */
function webTables(podIndex: number): { tcp: string; tcp6: string } {
  const local = `10.244.0.${10 + podIndex}`;
  const sockets = [
    {
      localAddress: '0.0.0.0',
      localPort: 8080,
      remoteAddress: '0.0.0.0',
      remotePort: 0,
      state: 'LISTEN' as const,
      inode: 5000,
    },
    ...Array.from({ length: SOCKETS_PER_WEB_POD }, (_, i) => ({
      localAddress: local,
      localPort: 40000 + i,
      remoteAddress: PEER,
      remotePort: 443,
      state: 'ESTABLISHED' as const,
      inode: 6000 + i,
    })),
  ];
  return { tcp: renderProcNetTcp(sockets, 'tcp'), tcp6: `${TCP6_HEADER}\n` };
}

const core = (kc: KubeConfig) => kc.makeApiClient(CoreV1Api);
const apps = (kc: KubeConfig) => kc.makeApiClient(AppsV1Api);

const webReplicaSets = async (): Promise<
  { name: string; hash: string; owner?: string; restartedAt?: string }[]
> =>
  (await apps(admin()).listNamespacedReplicaSet({ namespace: 'shop', labelSelector: 'app=web' })).items.map(
    (rs) => ({
      name: rs.metadata?.name ?? '',
      hash: rs.metadata?.labels?.['pod-template-hash'] ?? '',
      ...(rs.metadata?.ownerReferences?.[0]?.uid ? { owner: rs.metadata.ownerReferences[0].uid } : {}),
      ...(rs.spec?.template?.metadata?.annotations?.[RESTARTED_AT]
        ? { restartedAt: rs.spec.template.metadata.annotations[RESTARTED_AT] }
        : {}),
    }),
  );

describe.skipIf(missing !== undefined)('kube-real: a real kube-apiserver v1.20.2', () => {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'snatguard-kube-real-'));
    fakeRoot = join(tmp, 'kubelet');
    mkdirSync(fakeRoot);
    if (!existsSync(join(repoRoot, 'dist/src/hosts/cli/main.js')))
      throw new Error('dist/ is missing: npm run test:kube-real builds it first (npm run build)');
    await startCluster(fakeRoot);
    process.stdout.write(await loadFixtures());

    // Paging needs more than one page (the reader asks for 500): 499 more Nodes, listed, then removed
    // before anything else sees them (a DaemonSet would make a pod for each). Created in parallel:
    // kubectl's client-side throttle (5 per second) would take 100 s.
    const nodes = core(admin());
    const names = Array.from({ length: 499 }, (_, i) => `bulk-${String(i).padStart(3, '0')}`);
    for (let i = 0; i < names.length; i += 25)
      await Promise.all(
        names
          .slice(i, i + 25)
          .map((name) => nodes.createNode({ body: { metadata: { name, labels: { bulk: 'true' } } } })),
      );
  });

  afterAll(async () => {
    const stopped = await stopCluster();
    process.stdout.write(stopped.stdout);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  describe('listing', () => {
    it('pages through 501 Nodes with `continue` (limit 500), as the group snatguard', async () => {
      const nodes = await clusterReader(groupUser()).nodes();
      expect(nodes).toHaveLength(501);
      expect(nodes.filter((n) => n.name === 'node-a' || n.name === 'node-b').every((n) => n.ready)).toBe(
        true,
      );
      const lists = auditEvents().filter(
        (e) => e.user.username === 'snatguard' && e.verb === 'list' && e.objectRef?.resource === 'nodes',
      );
      expect(lists.map((e) => new URL(e.requestURI, API_BASE).searchParams.get('limit'))).toEqual([
        '500',
        '500',
      ]);
      expect(new URL(lists[1]!.requestURI, API_BASE).searchParams.get('continue')).toBeTruthy();
      await core(admin()).deleteCollectionNode({ labelSelector: 'bulk=true' });
      expect(await clusterReader(groupUser()).nodes()).toHaveLength(2);
    });
  });

  describe('setup: the node probe DaemonSet, the workloads running, socket tables served', () => {
    it('applies infra/kubernetes/node-probe.yaml; its pods are bound and run on both nodes', async () => {
      await kubectl(['apply', '-f', join(repoRoot, 'infra/kubernetes/node-probe.yaml')]);
      const bound = await until('two node probe pods to bind', async () => {
        const b = await bindDaemonSetPods('snatguard', ['node-a', 'node-b']);
        const pods = await core(admin()).listNamespacedPod({ namespace: 'snatguard' });
        const onNodes = pods.items.filter((p) => p.spec?.nodeName).length;
        return onNodes >= 2 ? b : undefined;
      });
      process.stdout.write(`bound: ${bound.join(', ')}\n`);
      await markRunning();

      // The probe reads real kernel text: this machine's own conntrack files.
      const host = Object.fromEntries(CONNTRACK_FILES.map((f) => [f, readFileSync(f, 'utf8')]));
      hostConntrack = parseConntrackProbe(CONNTRACK_FILES.map((f) => host[f]).join(''));
      const probes = await core(admin()).listNamespacedPod({ namespace: 'snatguard' });
      for (const p of probes.items)
        for (const f of CONNTRACK_FILES) serve('snatguard', p.metadata!.name!, f, host[f]!);

      const web = (await core(admin()).listNamespacedPod({ namespace: 'shop', labelSelector: 'app=web' }))
        .items;
      expect(web).toHaveLength(2);
      web.forEach((p, i) => {
        const t = webTables(i);
        serve('shop', p.metadata!.name!, '/proc/net/tcp', t.tcp);
        serve('shop', p.metadata!.name!, '/proc/net/tcp6', t.tcp6);
      });
      const d = await apps(admin()).readNamespacedDeployment({ namespace: 'shop', name: 'web' });
      await until('Deployment shop/web available', async () => {
        const now = await apps(admin()).readNamespacedDeployment({ namespace: 'shop', name: 'web' });
        return now.status?.availableReplicas === 2 &&
          now.status.observedGeneration === now.metadata?.generation
          ? true
          : undefined;
      });
      webBefore = { uid: d.metadata?.uid ?? '', replicaSets: (await webReplicaSets()).map((r) => r.name) };
      expect(webBefore.replicaSets).toHaveLength(1);
    });
  });

  describe('snatguard scan --provider none --mode restart, as the CronJob ServiceAccount', () => {
    beforeAll(async () => {
      saKubeconfig = tokenKubeconfig(join(tmp, 'sa.kubeconfig'), 'snatguard-sa', await serviceAccountToken());
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        HOME: tmp,
        NO_COLOR: '1',
        SNATGUARD_CLUSTER_KUBECONFIG: saKubeconfig,
        SNATGUARD_LOG_LEVEL: 'warn',
        // The budget the busiest destination is held against (provider none): 600 sockets to one peer
        // on node-a is far past it.
        SNATGUARD_NETWORK_SNAT_PORTS_PER_NODE: '256',
      };
      const r = await run(
        process.execPath,
        ['dist/src/hosts/cli/main.js', 'scan', '--provider', 'none', '--mode', 'restart', '--output', 'json'],
        { env, timeoutMs: 120_000 },
      );
      process.stdout.write(`scan exit ${r.code}\n${r.stderr}`);
      scan = { code: r.code, report: JSON.parse(r.stdout) as RunReport, stderr: r.stderr };
      const summary = {
        status: scan.report.status,
        nodes: scan.report.nodes.map((n) => ({ name: n.name, hot: n.hot, conntrack: n.conntrack?.count })),
        offenders: scan.report.offenders.map(
          (o) => `${o.workload} ${o.snatSockets} → ${o.topDestinations[0]?.remote}`,
        ),
        actions: scan.report.actions.map(
          (a) => `${a.workload} ${a.status}${a.skipReason ? ` ${a.skipReason}` : ''}`,
        ),
        errors: scan.report.errors,
      };
      process.stdout.write(`scan report: ${JSON.stringify(summary, null, 2)}\n`);
    });

    it('completes with no errors, finds shop/Deployment/web talking to the peer, and restarts it', () => {
      expect(scan.code).toBe(0);
      expect(scan.report.errors).toEqual([]);
      const offender = scan.report.offenders.find((o) => o.workload === 'shop/Deployment/web');
      expect(offender?.node).toBe('node-a');
      expect(offender?.snatSockets).toBe(2 * SOCKETS_PER_WEB_POD);
      expect(offender?.topDestinations[0]?.remote).toBe(`${PEER}:443`);
      expect(scan.report.actions.filter((a) => a.status === 'applied').map((a) => a.workload)).toEqual([
        'shop/Deployment/web',
      ]);
    });

    it("reads node-a's conntrack counters through snatguard-node-probe (this kernel's own numbers)", () => {
      const a = scan.report.nodes.find((n) => n.name === 'node-a');
      expect(a?.conntrack).toMatchObject({ max: hostConntrack.max, beLiberal: hostConntrack.beLiberal });
    });

    it('is a real rollout: the deployment controller makes a new ReplicaSet with the restart annotation', async () => {
      const rss = await until('a second ReplicaSet of shop/web', async () => {
        const all = await webReplicaSets();
        return all.length === 2 ? all : undefined;
      });
      const fresh = rss.find((r) => !webBefore.replicaSets.includes(r.name));
      expect(fresh?.owner).toBe(webBefore.uid);
      expect(fresh?.restartedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const d = await apps(admin()).readNamespacedDeployment({ namespace: 'shop', name: 'web' });
      expect(d.spec?.template?.metadata?.annotations?.[RESTARTED_AT]).toBe(fresh?.restartedAt);
      expect(d.metadata?.annotations?.['snatguard.io/restarted-at']).toBeTruthy();
    });

    it('wrote nothing but its patch, its Lease and its state (audit log)', () => {
      const mine = auditEvents().filter((e) => e.user.username === SA_USER);
      const reads = new Set(['get', 'list', 'watch']);
      const writes = mine
        .filter((e) => !reads.has(e.verb))
        .map((e) => {
          const o = e.objectRef ?? {};
          return `${e.verb} ${o.apiGroup ? `${o.apiGroup}/` : ''}${o.resource}${o.subresource ? `/${o.subresource}` : ''} ${o.namespace}/${o.name} → ${e.responseStatus?.code}`;
        });
      const allowed = [
        /^patch apps\/deployments shop\/web → 200$/,
        /^(create|update) coordination\.k8s\.io\/leases snatguard\/snatguard → 20[01]$/,
        /^(create|update) configmaps snatguard\/snatguard-state → 20[01]$/,
      ];
      process.stdout.write(
        `audit: ${mine.length} requests by ${SA_USER}; writes:\n  ${writes.join('\n  ')}\n` +
          `  reads: ${[...new Set(mine.filter((e) => reads.has(e.verb)).map((e) => `${e.verb} ${e.objectRef?.resource}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`))].join(', ')}\n`,
      );
      expect(writes.filter((w) => !allowed.some((re) => re.test(w)))).toEqual([]);
      expect(writes.filter((w) => w.startsWith('patch'))).toHaveLength(1);
      expect(writes.some((w) => w.includes('leases'))).toBe(true);
      expect(writes.some((w) => w.includes('snatguard-state'))).toBe(true);
      // The owners of the hot node's pods: one ReplicaSet list by pod-template-hash (issue #13), no GET each.
      const rsReads = mine.filter((e) => e.objectRef?.resource === 'replicasets');
      expect(rsReads.map((e) => `${e.verb} ${e.responseStatus?.code}`)).toEqual(['list 200']);
      expect(new URL(rsReads[0]!.requestURI, API_BASE).searchParams.get('labelSelector')).toMatch(
        /^pod-template-hash in \(/,
      );
      // rbac.yaml as applied allowed every request but the Job read (batch is not granted: a Job's pod
      // is named by its Job, never restarted).
      const denied = mine.filter((e) => e.responseStatus?.code === 403);
      expect(denied.map((e) => `${e.verb} ${e.objectRef?.apiGroup}/${e.objectRef?.resource}`)).toEqual(
        denied.map(() => 'get batch/jobs'),
      );
    });
  });

  describe('cluster adapters, as the group snatguard', () => {
    it('lists one node’s pods with the spec.nodeName field selector and walks real ownerReferences', async () => {
      const reader = clusterReader(groupUser());
      const pods = await reader.podsOn('node-b');
      expect(pods.every((p) => p.node === 'node-b' && p.phase === 'Running')).toBe(true);
      const owners = Object.fromEntries(
        await Promise.all(
          pods.map(async (p) => [p.name.replace(/-[a-z0-9]{5}$/, ''), await reader.ownerOf(p)] as const),
        ),
      );
      expect(owners['db-0']).toEqual({ namespace: 'shop', kind: 'StatefulSet', name: 'db' });
      // batch is not granted: the Job pod is named by its Job (a 403 on the Job read is expected).
      expect(owners.report).toEqual({ namespace: 'shop', kind: 'Job', name: 'report' });
      expect(owners['snatguard-node-probe']).toEqual({
        namespace: 'snatguard',
        kind: 'DaemonSet',
        name: 'snatguard-node-probe',
      });
      const webPod = (await reader.podsOn('node-a')).find((p) => p.name.startsWith('web-'));
      expect(await reader.ownerOf(webPod!)).toEqual({ namespace: 'shop', kind: 'Deployment', name: 'web' });
      const w = await reader.workload({ namespace: 'shop', kind: 'StatefulSet', name: 'db' });
      expect(w.replicas).toBe(1);
      expect(await reader.daemonSetEnv('kube-system', 'aws-node')).toBeNull();
    });

    it('execs into a pod, and keeps the API server reason when it refuses (400, 403, 500)', async () => {
      const kc = groupUser();
      const db = (await clusterReader(kc).podsOn('node-b')).find((p) => p.name === 'db-0')!;
      await expect(podExec(kc).read(db, SOCKET_FILES, limits, never)).resolves.toContain('local_address');

      const bad = await podExec(kc)
        .read({ namespace: 'shop', name: 'db-0', container: 'nope' }, SOCKET_FILES, limits, never)
        .catch((e: unknown) => e);
      expect(bad).toBeInstanceOf(ExecError);
      expect((bad as ExecError).status).toBe(400);
      expect((bad as ExecError).message).toBe(
        'exec in shop/db-0 failed: HTTP 400: container nope is not valid for pod db-0',
      );

      readonlyKubeconfig = tokenKubeconfig(
        join(tmp, 'readonly.kubeconfig'),
        'readonly',
        'readonly-token-0123456789',
      );
      const denied = await podExec(kubeConfigFrom(readonlyKubeconfig))
        .read({ namespace: 'shop', name: 'db-0', container: 'db' }, SOCKET_FILES, limits, never)
        .catch((e: unknown) => e);
      expect((denied as ExecError).status).toBe(403);
      expect((denied as ExecError).message).toBe(
        'exec in shop/db-0 failed: HTTP 403: pods "db-0" is forbidden: User "readonly" cannot get resource "pods/exec" in API group "" in the namespace "shop"',
      );

      // A node whose kubelet does not answer: the API server's dial error, kept in RunReport-style errors.
      await kubectl(
        ['create', '-f', '-'],
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'List',
          items: [
            {
              apiVersion: 'v1',
              kind: 'Node',
              metadata: { name: 'node-c', labels: { 'kubernetes.io/hostname': 'node-c' } },
              status: {
                addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
                daemonEndpoints: { kubeletEndpoint: { Port: 30251 } },
                conditions: [
                  {
                    type: 'Ready',
                    status: 'True',
                    reason: 'KubeletReady',
                    message: 'kubelet is posting ready status',
                  },
                ],
              },
            },
            {
              apiVersion: 'v1',
              kind: 'Pod',
              metadata: { name: 'gone', namespace: 'shop' },
              spec: {
                nodeName: 'node-c',
                automountServiceAccountToken: false,
                containers: [{ name: 'main', image: 'busybox' }],
              },
            },
          ],
        }),
      );
      await markRunning();
      const pods = await clusterReader(kc).podsOn('node-c');
      const { errors } = await inspectNode('node-c', pods, {
        exec: podExec(kc),
        limits,
        concurrency: 2,
        classifier: createClassifier({ clusterCidrs: [] }),
        signal: never,
        log: quiet,
      });
      expect(errors).toEqual([
        {
          stage: 'inspect',
          target: 'shop/gone',
          message:
            'exec in shop/gone failed: HTTP 500: error dialing backend: dial tcp 127.0.0.1:30251: connect: connection refused',
        },
      ]);
    });

    it('reads conntrack through the probe pod; a node whose probe pod is not running is an error saying what to deploy', async () => {
      const kc = groupUser();
      const probe = nodeProbe(kc, podExec(kc), { limits });
      const reading = await probe.conntrack('node-b', never);
      expect(reading).toMatchObject({ max: hostConntrack.max, beLiberal: hostConntrack.beLiberal });
      // node-c's probe pod was made by the real DaemonSet controller but never scheduled (Pending).
      const e = await probe.conntrack('node-c', never).catch((x: unknown) => x);
      expect((e as Error).message).toMatch(
        /^no node probe answered on node node-c: no running hostNetwork pod labelled app\.kubernetes\.io\/name=snatguard-node-probe in namespace snatguard there \(snatguard\/snatguard-node-probe-\w+ is Pending, not scheduled\); deploy snatguard's node probe: kubectl apply -f infra\/kubernetes\/node-probe\.yaml/,
      );
    });

    it('Lease: one of four concurrent creates wins (409 for the rest), renews, refuses a live holder, takes over when expired, releases', async () => {
      const kc = groupUser();
      const name = `kube-real-${Date.now()}`;
      const clock = { t: Date.now() };
      const now = () => new Date(clock.t);
      const lock = () => leaseLock(kc, 'snatguard', now, { name });
      const locks = ['r1', 'r2', 'r3', 'r4'].map((h) => [h, lock()] as const);
      const results = await Promise.all(locks.map(([h, l]) => l.acquire(h, 60_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
      const [winner, winnerLock] = locks[results.indexOf(true)]!;
      const [loser, loserLock] = locks.find(([h]) => h !== winner)!;
      expect(await winnerLock.acquire(winner, 60_000)).toBe(true); // renew
      expect(await loserLock.acquire(loser, 60_000)).toBe(false); // live holder
      clock.t += 61_000;
      expect(await loserLock.acquire(loser, 60_000)).toBe(true); // takeover
      const lease = await kc
        .makeApiClient(CoordinationV1Api)
        .readNamespacedLease({ namespace: 'snatguard', name });
      expect(lease.spec?.holderIdentity).toBe(loser);
      expect(lease.spec?.leaseTransitions).toBe(1);
      await loserLock.release();
      const released = await kc
        .makeApiClient(CoordinationV1Api)
        .readNamespacedLease({ namespace: 'snatguard', name });
      expect(released.spec?.holderIdentity).toBeUndefined();
      expect(await winnerLock.acquire(winner, 60_000)).toBe(true);
    });

    it('Lease: the API server refuses an update without resourceVersion (422), which snatguard never sends', async () => {
      const api = groupUser().makeApiClient(CoordinationV1Api);
      const name = `kube-real-422-${Date.now()}`;
      const at = new V1MicroTime(new Date());
      const created = await api.createNamespacedLease({
        namespace: 'snatguard',
        body: {
          metadata: { name },
          spec: { holderIdentity: 'x', leaseDurationSeconds: 10, renewTime: at, acquireTime: at },
        },
      });
      const { resourceVersion: _rv, ...meta } = created.metadata ?? {};
      const e = await api
        .replaceNamespacedLease({ namespace: 'snatguard', name, body: { ...created, metadata: meta } })
        .catch((x: { code?: number; body?: string }) => x);
      expect((e as { code?: number }).code).toBe(422);
      expect(JSON.parse((e as { body: string }).body).message).toContain(
        'metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
      );
      const updates = auditEvents().filter(
        (a) => a.user.username === SA_USER && a.verb === 'update' && a.objectRef?.resource === 'leases',
      );
      expect(updates.every((a) => a.responseStatus?.code !== 422)).toBe(true);
    });

    it('state ConfigMap: an absent one is empty; create, update and read back', async () => {
      const state = configMapState(groupUser(), 'snatguard', quiet, {
        name: `kube-real-state-${Date.now()}`,
      });
      const empty = await state.load();
      expect(empty).toEqual({ conntrack: {}, notified: {} });
      const s = {
        conntrack: { 'node-a': { insertFailed: 1, drop: 2, earlyDrop: 0, at: new Date().toISOString() } },
        notified: {},
      };
      await state.save(s);
      await state.save({ ...s, conntrack: { 'node-a': { ...s.conntrack['node-a'], drop: 3 } } });
      expect((await state.load()).conntrack['node-a']?.drop).toBe(3);
    });

    it('restart: a StatefulSet patched like kubectl rollout restart gets a new ControllerRevision; a missing Deployment is a 404', async () => {
      const kc = groupUser();
      const revisions = async () =>
        (await apps(admin()).listNamespacedControllerRevision({ namespace: 'shop', labelSelector: 'app=db' }))
          .items.length;
      const before = await revisions();
      await rolloutRemediator(kc, () => new Date()).restart(
        { namespace: 'shop', kind: 'StatefulSet', name: 'db' },
        'kube-real',
        never,
      );
      expect(
        await until('a new ControllerRevision of shop/db', async () =>
          (await revisions()) > before ? true : undefined,
        ),
      ).toBe(true);
      const e = await rolloutRemediator(kc, () => new Date())
        .restart({ namespace: 'shop', kind: 'Deployment', name: 'nope' }, 'kube-real', never)
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ClusterError);
      expect((e as ClusterError).status).toBe(404);
      expect((e as ClusterError).message).toContain('deployments.apps "nope" not found');
    });
  });
});

if (missing !== undefined) {
  console.warn(`kube-real: SKIPPED, ${missing}`);
  describe('kube-real', () => {
    it.skip(`not run: ${missing}`, () => {});
  });
}

const API_BASE = 'https://127.0.0.1:36443';
