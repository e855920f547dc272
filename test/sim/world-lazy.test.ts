// Issue 13: the world seeds pods lazily (a pod's object is built the first time something reads it), keeps
// SNAT destinations per node until pods change, and serves lists from the node index. None of that may
// change what any read answers.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fetchTrusting } from '../../src/sim/fetch.js';
import { labelMatcher } from '../../src/sim/kube/select.js';
import { expandSockets, snatByDestination, snatBySpec } from '../../src/sim/kube/sockets.js';
import { startSim } from '../../src/sim/server.js';
import { parseSnapshot, type Snapshot, type SnapshotSocket } from '../../src/sim/snapshot.js';
import { World } from '../../src/sim/world.js';
import { scaleSnapshot } from '../bench/snapshots.js';

const now = () => new Date('2026-11-20T10:00:00Z');
const mongo = () =>
  parseSnapshot(readFileSync('examples/aks-mongo-leak.yaml', 'utf8'), 'aks-mongo-leak.yaml');
const scale = (): Snapshot =>
  parseSnapshot(JSON.stringify(scaleSnapshot({ nodes: 40, pods: 800, hotNodes: 2 })), 'scale.json');

describe('lazy pods', () => {
  it('a node-selected list builds only that node’s pods', () => {
    const world = new World(scale(), { now });
    const total = world.unbuilt('pods');
    expect(total).toBeGreaterThan(800);
    const node = world.snapshot.nodes[5]!.name;
    const listed = world.list('pods', undefined, node);
    // 800 pods over 40 nodes, plus the node probe and kube-proxy DaemonSets' pod there.
    expect(listed).toHaveLength(20 + 2);
    expect(listed.every((p) => p.spec.nodeName === node)).toBe(true);
    expect(world.unbuilt('pods')).toBe(total - listed.length);
    // A node list builds no pod.
    world.list('nodes');
    expect(world.unbuilt('pods')).toBe(total - listed.length);
  });

  it('answers every pod asked for one by one as a world that built them all at once does', () => {
    const lazy = new World(scale(), { now });
    const eager = new World(scale(), { now });
    const all = eager.list('pods');
    expect(lazy.unbuilt('pods')).toBe(all.length);
    // Asked in reverse order: the answers do not depend on the order objects are built in.
    for (const p of [...all].reverse())
      expect(lazy.get('pods', p.metadata.namespace, p.metadata.name)).toEqual(p);
    expect(lazy.unbuilt('pods')).toBe(0);
    expect(lazy.list('pods')).toEqual(all);
    for (const p of all.slice(0, 50)) {
      const rt = lazy.podRuntime(p.metadata.namespace!, p.metadata.name)!;
      expect(rt.uid).toBe(p.metadata.uid);
      expect(lazy.tablesOf(rt)).toEqual(
        eager.tablesOf(eager.podRuntime(p.metadata.namespace!, p.metadata.name)!),
      );
    }
  });

  it('an unbuilt pod can be updated, deleted and recreated', () => {
    const world = new World(mongo(), { now });
    const name = world.list('pods', 'shop')[0]!.metadata.name;
    const fresh = new World(mongo(), { now });
    const pod = fresh.get('pods', 'shop', name);
    pod.metadata.labels = { ...pod.metadata.labels, extra: 'yes' };
    expect(fresh.update('pods', 'shop', name, pod).metadata.labels?.extra).toBe('yes');
    const removed = fresh.delete('pods', 'shop', name);
    expect(() => fresh.get('pods', 'shop', name)).toThrow(/not found/);
    expect(fresh.list('pods', undefined, removed.spec.nodeName).map((p) => p.metadata.name)).not.toContain(
      name,
    );
    const { uid: _u, resourceVersion: _r, creationTimestamp: _c, ...meta } = removed.metadata;
    expect(fresh.create('pods', 'shop', { ...removed, metadata: meta }).metadata.name).toBe(name);
  });
});

describe('SNAT destinations per node', () => {
  it('are derived again after a restart replaces the pods', () => {
    const world = new World(mongo(), { now });
    const nodes = world.snapshot.nodes.map((n) => n.name);
    const before = nodes.map((n) => world.nodeDestinations(n).get('20.103.144.194:27017') ?? 0);
    expect(Math.max(...before)).toBeGreaterThan(100);
    const d = world.get('deployments', 'shop', 'orders-api');
    d.spec.template.metadata.annotations = { 'kubectl.kubernetes.io/restartedAt': '2026-11-20T10:00:00Z' };
    world.update('deployments', 'shop', 'orders-api', d);
    const after = nodes.map((n) => world.nodeDestinations(n).get('20.103.144.194:27017') ?? 0);
    // afterRestart: 10 connections per pod instead of hundreds.
    expect(Math.max(...after)).toBeLessThan(Math.max(...before));
    const rebuilt = new World(world.snapshot, { now });
    expect(after).not.toEqual(nodes.map((n) => rebuilt.nodeDestinations(n).get('20.103.144.194:27017') ?? 0));
  });

  it('from socket lines equal those of the expanded sockets, for every pod of every example', () => {
    const files = readdirSync('examples').filter((f) => /\.ya?ml$/.test(f));
    let fromLines = 0;
    for (const file of files) {
      const world = new World(parseSnapshot(readFileSync(`examples/${file}`, 'utf8'), file), { now });
      for (const n of world.snapshot.nodes)
        for (const p of world.podsOn(n.name)) {
          const spec = snatBySpec(p.sockets, world.classifier);
          if (spec === undefined) continue;
          fromLines++;
          expect(spec, `${file} ${p.namespace}/${p.name}`).toEqual(
            snatByDestination(world.socketsOf(p), world.classifier),
          );
        }
    }
    expect(fromLines).toBeGreaterThan(10);
  });

  it('from socket lines: undefined where the expansion chooses ports, or a destination outgrows them', () => {
    const classifier = new World(mongo(), { now }).classifier;
    const line = (s: Partial<SnapshotSocket>): SnapshotSocket => ({
      state: 'ESTABLISHED',
      count: 1,
      family: 'ipv4',
      ...s,
    });
    const outbound = line({ remoteAddress: '20.1.2.3', remotePort: 443, count: 5 });
    expect(snatBySpec([outbound], classifier)).toEqual(new Map([['20.1.2.3:443', 5]]));
    // No remote port: the expansion picks one per socket.
    expect(snatBySpec([line({ remoteAddress: '20.1.2.3' })], classifier)).toBeUndefined();
    // Inbound (a local port): the LISTEN lines decide.
    expect(
      snatBySpec([line({ remoteAddress: '20.1.2.3', remotePort: 443, localPort: 8080 })], classifier),
    ).toBeUndefined();
    // More sockets to one destination than ephemeral ports.
    expect(snatBySpec([{ ...outbound, count: 28_233 }], classifier)).toBeUndefined();
    for (const s of [
      [outbound, line({ remoteAddress: '10.244.0.9', remotePort: 5432, count: 3 })],
      [line({ remoteAddress: '2001:db8::1', remotePort: 443, count: 2, family: 'ipv6' }), outbound],
      [line({ state: 'LISTEN', localPort: 40000 }), { ...outbound, count: 2000 }],
      [
        line({ state: 'TIME_WAIT', remoteAddress: '20.1.2.3', remotePort: 443, count: 4 }),
        { ...outbound, count: 0 },
      ],
    ])
      expect(snatBySpec(s, classifier)).toEqual(
        snatByDestination(expandSockets(s, '10.244.0.5', 'p'), classifier),
      );
  });
});

describe('timeline frames', () => {
  it('change the metrics a node reports (its metrics were read from the node as loaded)', () => {
    const world = new World(mongo(), { now });
    const node = world.snapshot.nodes[1]!.name;
    expect(world.nodeMetrics(node).usedSnatPorts).not.toBe(7);
    world.applyFrame({
      at: '5m',
      atMs: 300_000,
      nodes: [
        {
          name: node,
          metrics: { usedSnatPorts: 7, failedSnatConnections: 3 },
          hostSockets: [],
          given: { hostSockets: false },
        },
      ],
      removeNodes: [],
      pods: [],
    });
    expect(world.nodeMetrics(node)).toMatchObject({ usedSnatPorts: 7, failedSnatConnections: 3 });
  });
});

/** Deployments and ReplicaSets as the eager seeding of main 3ac4e21 wrote them (test/fixtures/sim). */
const seededBefore = JSON.parse(readFileSync('test/fixtures/sim/seeded-workloads.json', 'utf8')) as Record<
  string,
  { resourceVersion: string; deployments: unknown[]; replicasets: unknown[]; deploymentCount?: number }
>;

describe('lazy Deployments and ReplicaSets (seeded unbuilt, built when first read)', () => {
  it('seeds them unbuilt, and builds each as create() wrote it before (ReplicaSets read first)', () => {
    const world = new World(mongo(), { now });
    const before = seededBefore['aks-mongo-leak']!;
    expect(world.unbuilt('deployments')).toBe(before.deployments.length);
    expect(world.unbuilt('replicasets')).toBe(before.replicasets.length);
    expect(world.resourceVersion).toBe(before.resourceVersion);
    // The ReplicaSets first, then the Deployments one by one: no order of reads changes an answer.
    expect(world.list('replicasets')).toEqual(before.replicasets);
    expect(world.unbuilt('deployments')).toBe(before.deployments.length);
    for (const d of [...before.deployments].reverse() as { metadata: { namespace: string; name: string } }[])
      expect(world.get('deployments', d.metadata.namespace, d.metadata.name)).toEqual(d);
    expect(world.unbuilt('deployments')).toBe(0);
    expect(world.list('deployments')).toEqual(before.deployments);
  });

  it('a 40-node cluster: every Deployment unbuilt until read, the first ones as they were', () => {
    const world = new World(scale(), { now });
    const before = seededBefore['scale-40x800 (first 3 of each)']!;
    expect(world.unbuilt('deployments')).toBe(before.deploymentCount);
    expect(world.resourceVersion).toBe(before.resourceVersion);
    expect(world.list('deployments').slice(0, 3)).toEqual(before.deployments);
    expect(world.list('replicasets').slice(0, 3)).toEqual(before.replicasets);
  });

  it('a label-selected list (over HTTP) builds only the ReplicaSets it returns, and returns what a built world does', async () => {
    const built = new World(scale(), { now });
    const all = built.list('replicasets');
    const hashes = [all[3], all[40], all[77]].map((rs) => rs!.metadata.labels!['pod-template-hash']);
    const selector = `pod-template-hash in (${hashes.join(',')})`;
    const match = labelMatcher(selector);
    const expected = all.filter((rs) => match(rs.metadata.labels ?? {})).map((rs) => rs.metadata.name);
    expect(expected).toHaveLength(3);
    const sim = await startSim(scale(), {});
    try {
      const total = sim.world.unbuilt('replicasets');
      const answer = await fetchTrusting(sim.ca)(
        `${sim.url}/apis/apps/v1/replicasets?labelSelector=${encodeURIComponent(selector)}`,
        { headers: { authorization: `Bearer ${sim.adminToken}` } },
      );
      const body = (await answer.json()) as { items: { metadata: { name: string } }[] };
      expect(body.items.map((rs) => rs.metadata.name)).toEqual(expected);
      expect(sim.world.unbuilt('replicasets')).toBe(total - 3);
      // And the Deployments by their app label: one built.
      const deployments = sim.world.unbuilt('deployments');
      expect(sim.world.select('deployments', { labels: labelMatcher('app=svc-7') })).toHaveLength(1);
      expect(sim.world.unbuilt('deployments')).toBe(deployments - 1);
    } finally {
      await sim.close();
    }
  });

  it('an unbuilt Deployment restarts like a built one (its ReplicaSet scaled down, a new one made)', () => {
    const lazy = new World(mongo(), { now });
    const eager = new World(mongo(), { now });
    eager.list('deployments');
    eager.list('replicasets');
    for (const world of [lazy, eager]) {
      const d = world.get('deployments', 'shop', 'orders-api');
      d.spec.template.metadata.annotations = { 'kubectl.kubernetes.io/restartedAt': '2026-11-20T10:00:00Z' };
      world.update('deployments', 'shop', 'orders-api', d);
    }
    expect(lazy.list('replicasets', 'shop')).toEqual(eager.list('replicasets', 'shop'));
    expect(lazy.list('deployments', 'shop')).toEqual(eager.list('deployments', 'shop'));
    expect(lazy.list('pods', 'shop')).toEqual(eager.list('pods', 'shop'));
    expect(
      lazy.list('replicasets', 'shop').filter((rs) => rs.metadata.name.startsWith('orders-api-')),
    ).toHaveLength(2);
  });
});

describe('seeding in steps (the simulator process says it is ready, then seeds)', () => {
  it('yields to the event loop while it seeds, and ends with the world a constructor seeds', async () => {
    const stepwise = new World(scale(), { now, seedInSteps: { sliceMs: 0 } });
    await new Promise((later) => setTimeout(later, 5));
    // Nothing is seeded before it is told to begin.
    expect(stepwise.unbuilt('pods')).toBe(0);
    stepwise.startSeeding();
    // Nothing is seeded in the caller's turn (its server says it is ready first), not even the nodes.
    expect(stepwise.list('nodes')).toEqual([]);
    expect(stepwise.list('namespaces')).toEqual([]);
    // Something else (an IPC message) runs while it seeds: the world then has some pods, not all.
    let midway = 0;
    let turns = 0;
    while (midway === 0) {
      midway = await new Promise<number>((seen) => setImmediate(() => seen(stepwise.unbuilt('pods'))));
      turns++;
    }
    // The nodes come in steps too (100 per step), before the first workload.
    expect(turns).toBeGreaterThan(1);
    await stepwise.seeded;
    const all = stepwise.unbuilt('pods');
    // The loop ended on a count above 0: part of the pods were built then, not all of them.
    expect(midway).toBeLessThan(all);
    expect(stepwise.list('pods')).toEqual(new World(scale(), { now }).list('pods'));
    expect(stepwise.list('deployments')).toEqual(new World(scale(), { now }).list('deployments'));
  });

  it('knows every node’s SNAT use once seeded, before any metrics query asks', async () => {
    const world = new World(scale(), { now, seedInSteps: { sliceMs: 0 } });
    world.startSeeding();
    await world.seeded;
    // Added up as the pods were seeded (every node holds pods with sockets of their own here); warming
    // then finds nothing left to work out.
    expect(world.derivedNodes).toBe(world.snapshot.nodes.length);
    await world.warmed;
    expect(world.derivedNodes).toBe(world.snapshot.nodes.length);
    const given = world.snapshot.nodes.filter((n) => n.metrics?.usedSnatPorts !== undefined).length;
    expect(given).toBe(2);
    const reference = new World(scale(), { now });
    for (const n of world.snapshot.nodes)
      expect(world.nodeMetrics(n.name)).toEqual(reference.nodeMetrics(n.name));
  });

  it('a request that comes while the world is seeded waits for it, and sees every pod', async () => {
    const snapshot = scale();
    const sim = await startSim(snapshot, { seedInSteps: true });
    try {
      const get = fetchTrusting(sim.ca);
      const answer = await get(`${sim.url}/api/v1/pods`, {
        headers: { authorization: `Bearer ${sim.adminToken}` },
      });
      const pods = (await answer.json()) as { items: unknown[] };
      expect(pods.items).toHaveLength(new World(snapshot, { now }).list('pods').length);
    } finally {
      await sim.close();
    }
  });
});
