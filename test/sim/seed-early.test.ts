// Issue 13: the simulator process answers what reads no workload or pod (a lease, a config map, the
// nodes, the namespaces, the cloud's configuration) while it seeds the workloads, and the numbers it
// gives (resourceVersions, uids) are those a world seeded before it listens gives. Pod and workload
// reads, execs and the cloud's metrics still wait for the seeding.
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { awsEarly } from '../../src/sim/aws.js';
import { azureEarly } from '../../src/sim/azure.js';
import { fetchTrusting } from '../../src/sim/fetch.js';
import { kubeEarly } from '../../src/sim/kube/routes.js';
import { prepareSim, type RunningSim, startSim } from '../../src/sim/server.js';
import { checkedPodKeys, loadSnapshot, parseSnapshot, type Snapshot } from '../../src/sim/snapshot.js';
import { World } from '../../src/sim/world.js';
import { scaleSnapshot } from '../bench/snapshots.js';

const now = () => new Date('2026-11-20T10:00:00Z');

/** 5,000 one-pod Deployments: seeded in steps of one workload, it takes 5,000 turns of the event loop. */
const manyWorkloads = (): Snapshot =>
  parseSnapshot(
    JSON.stringify(scaleSnapshot({ nodes: 40, pods: 5000, hotNodes: 2, podsPerWorkload: 1 })),
    'many.json',
  );

/** 80 Deployments of 10 pods over 40 nodes. */
const scale = (): Snapshot =>
  parseSnapshot(JSON.stringify(scaleSnapshot({ nodes: 40, pods: 800, hotNodes: 2 })), 'scale.json');

/** Every workload kind, a Job without pods, AWS (its aws-node DaemonSet) and a hostNetwork pod (no kube-proxy). */
const everyKind = (): Snapshot =>
  parseSnapshot(
    JSON.stringify({
      apiVersion: 'snatguard.io/v1',
      kind: 'Snapshot',
      metadata: { name: 'every-kind' },
      cloud: { provider: 'aws', aws: { region: 'eu-west-1', clusterName: 'c1', awsNodeEnv: { A: '1' } } },
      nodes: [{ name: 'n1' }, { name: 'n2' }],
      workloads: [
        { kind: 'Deployment', namespace: 'a', name: 'd', pods: [{ node: 'n1' }, { node: 'n2' }] },
        { kind: 'Deployment', namespace: 'a', name: 'd0', replicas: 0, pods: [] },
        { kind: 'StatefulSet', namespace: 'a', name: 's', pods: [{ node: 'n1' }] },
        { kind: 'DaemonSet', namespace: 'b', name: 'ds', pods: [{ node: 'n1' }, { node: 'n2' }] },
        { kind: 'ReplicaSet', namespace: 'b', name: 'rs', pods: [{ node: 'n2' }] },
        { kind: 'Job', namespace: 'c', name: 'j', pods: [{ node: 'n1' }, { node: 'n2' }] },
        { kind: 'Job', namespace: 'c', name: 'j0', pods: [] },
        { kind: 'Pod', namespace: 'c', name: 'p', pods: [{ node: 'n2' }] },
        { kind: 'Pod', namespace: 'c', name: 'h', pods: [{ node: 'n1', hostNetwork: true }] },
      ],
    }),
    'every-kind.json',
  );

const RESOURCES = [
  'namespaces',
  'nodes',
  'pods',
  'deployments',
  'replicasets',
  'statefulsets',
  'daemonsets',
  'configmaps',
  'leases',
];

const lease = {
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name: 'snatguard' },
  spec: {
    holderIdentity: 'scanner',
    leaseDurationSeconds: 60,
    acquireTime: '2026-11-20T10:00:00.000000Z',
    renewTime: '2026-11-20T10:00:00.000000Z',
  },
};
const state = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'snatguard-state' },
  data: { a: 'b' },
};

describe('seeding numbers its objects before it begins', () => {
  it('an object written while the workloads are seeded gets the numbers it gets once they are, and theirs are unchanged', async () => {
    for (const snapshot of [everyKind, scale]) {
      const stepwise = new World(snapshot(), { now, seedInSteps: { sliceMs: 0 } });
      stepwise.startSeeding();
      await stepwise.nodesSeeded;
      // The namespaces and nodes are there, no workload yet.
      expect(stepwise.list('nodes')).toHaveLength(stepwise.snapshot.nodes.length);
      expect(stepwise.list('deployments')).toEqual([]);
      const written = stepwise.create('leases', 'snatguard', lease);
      const state1 = stepwise.create('configmaps', 'snatguard', state);
      await stepwise.seeded;

      const atOnce = new World(snapshot(), { now });
      expect(written).toEqual(atOnce.create('leases', 'snatguard', lease));
      expect(state1).toEqual(atOnce.create('configmaps', 'snatguard', state));
      for (const resource of RESOURCES) expect(stepwise.list(resource)).toEqual(atOnce.list(resource));
      expect(stepwise.resourceVersion).toBe(atOnce.resourceVersion);
      // What is made after seeding too.
      expect(stepwise.create('configmaps', 'default', state)).toEqual(
        atOnce.create('configmaps', 'default', state),
      );
    }
  });

  it('a world seeded at once holds what seeding in steps gives, for every workload kind', async () => {
    const atOnce = new World(everyKind(), { now });
    const stepwise = new World(everyKind(), { now, seedInSteps: { sliceMs: 0 } });
    stepwise.startSeeding();
    await stepwise.seeded;
    for (const resource of RESOURCES) expect(stepwise.list(resource)).toEqual(atOnce.list(resource));
    // The simulator's own DaemonSets: aws-node (AWS) and the node probe; no kube-proxy (a hostNetwork pod).
    expect(atOnce.list('daemonsets').map((d) => d.metadata.name)).toEqual([
      'ds',
      'aws-node',
      'snatguard-node-probe',
    ]);
    expect(atOnce.list('pods')).toHaveLength(10 + 2 * 2);
  });
});

describe('the simulator answers what reads no workload or pod while it seeds', () => {
  const ask = (sim: RunningSim, method: string, path: string, body?: object) =>
    fetchTrusting(sim.ca)(`${sim.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${sim.adminToken}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    }).then(async (r) => ({ status: r.status, text: await r.text() }));
  const masked = (text: string) =>
    text.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, 'T').replace(/127\.0\.0\.1:\d+/g, 'HOST');

  /** What a scanner asks first: its lease, its state, the nodes (in pages), the namespaces, discovery. */
  const early: [string, string, object?][] = [
    ['GET', '/version'],
    ['GET', '/apis/coordination.k8s.io/v1/namespaces/snatguard/leases/snatguard'],
    ['POST', '/apis/coordination.k8s.io/v1/namespaces/snatguard/leases', lease],
    ['GET', '/api/v1/namespaces/snatguard/configmaps/snatguard-state'],
    ['POST', '/api/v1/namespaces/snatguard/configmaps', state],
    ['GET', '/api/v1/nodes?limit=25'],
    ['GET', '/api/v1/nodes?limit=25&continue=MjU='],
    ['GET', '/api/v1/namespaces'],
  ];
  const late: [string, string][] = [
    ['GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Daks-nodepool1-27182818-vmss000000'],
    ['GET', '/apis/apps/v1/namespaces/team-0/deployments'],
    ['GET', '/api/v1/nodes?limit=1'],
  ];

  it('answers them before the workloads are seeded, as a simulator seeded before it listens does', async () => {
    const snapshot = manyWorkloads();
    const sim = await startSim(snapshot, { seedInSteps: { sliceMs: 0 } });
    const reference = await startSim(snapshot);
    try {
      let seeded = false;
      void sim.world.seeded.then(() => {
        seeded = true;
      });
      const answers: string[] = [];
      for (const [method, path, body] of early) {
        const a = await ask(sim, method, path, body);
        // Answered while the workloads are still being seeded.
        expect({ path, seeded }).toEqual({ path, seeded: false });
        answers.push(`${a.status} ${masked(a.text)}`);
      }
      // A pod list waits for them, and lists every pod on the node.
      const pods = await ask(sim, ...late[0]!);
      expect(seeded).toBe(true);
      expect((JSON.parse(pods.text) as { items: unknown[] }).items).toHaveLength(
        new World(snapshot, { now }).list('pods', undefined, 'aks-nodepool1-27182818-vmss000000').length,
      );
      for (const [method, path] of late.slice(1)) {
        const a = await ask(sim, method, path);
        answers.push(`${a.status} ${masked(a.text)}`);
      }
      const expected: string[] = [];
      for (const [method, path, body] of early) {
        const a = await ask(reference, method, path, body);
        expected.push(`${a.status} ${masked(a.text)}`);
      }
      for (const [method, path] of late.slice(1)) {
        const a = await ask(reference, method, path);
        expected.push(`${a.status} ${masked(a.text)}`);
      }
      expect(answers).toEqual(expected);
      expect(answers[2]).toMatch(/^201 .*"resourceVersion":"\d+"/);
    } finally {
      await Promise.all([sim.close(), reference.close()]);
    }
  });
});

describe('SimEarly: what each route module answers before the workloads are seeded', () => {
  const req = (method: string, headers: Record<string, string> = {}) =>
    ({ method, headers }) as unknown as IncomingMessage;
  const url = (path: string) => new URL(path, 'https://127.0.0.1');

  it('Kubernetes: discovery, node and namespace reads, leases and config maps; not pods, workloads, events or writes to nodes', () => {
    const yes: [string, string][] = [
      ['GET', '/version'],
      ['GET', '/api'],
      ['GET', '/apis'],
      ['GET', '/api/v1'],
      ['GET', '/apis/apps/v1'],
      ['GET', '/api/v1/nodes'],
      ['GET', '/api/v1/nodes/n1'],
      ['GET', '/api/v1/namespaces'],
      ['GET', '/api/v1/namespaces/team-0'],
      ['GET', '/apis/coordination.k8s.io/v1/namespaces/snatguard/leases/snatguard'],
      ['PUT', '/apis/coordination.k8s.io/v1/namespaces/snatguard/leases/snatguard'],
      ['POST', '/api/v1/namespaces/snatguard/configmaps'],
      ['DELETE', '/api/v1/namespaces/snatguard/configmaps/snatguard-state'],
      // Not a Kubernetes path: another module's to say.
      ['POST', '/sinks/slack/x'],
    ];
    const no: [string, string][] = [
      ['GET', '/api/v1/pods'],
      ['GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dn1'],
      ['GET', '/api/v1/namespaces/team-0/pods/p'],
      ['GET', '/api/v1/namespaces/team-0/pods/p/exec'],
      ['GET', '/apis/apps/v1/replicasets'],
      ['PATCH', '/apis/apps/v1/namespaces/team-0/deployments/svc-0'],
      ['GET', '/api/v1/namespaces/team-0/events'],
      ['PATCH', '/api/v1/nodes/n1'],
      ['DELETE', '/api/v1/namespaces/team-0'],
    ];
    for (const [method, path] of yes)
      expect({ method, path, early: kubeEarly(req(method), url(path)) }).toEqual({
        method,
        path,
        early: true,
      });
    for (const [method, path] of no)
      expect({ method, path, early: kubeEarly(req(method), url(path)) }).toEqual({
        method,
        path,
        early: false,
      });
  });

  it('Azure: everything but the metrics; AWS: everything but CloudWatch', () => {
    const sub = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg';
    expect(azureEarly(req('GET'), url(`${sub}/providers/Microsoft.Network/loadBalancers/kubernetes`))).toBe(
      true,
    );
    expect(
      azureEarly(
        req('GET'),
        url(
          `${sub}/providers/Microsoft.Network/loadBalancers/kubernetes/providers/Microsoft.Insights/metrics`,
        ),
      ),
    ).toBe(false);
    expect(azureEarly(req('POST'), url('/subscriptions/0/metrics:getBatch'))).toBe(false);
    expect(
      awsEarly(req('POST', { 'x-amz-target': 'GraniteServiceVersion20100801.GetMetricData' }), url('/')),
    ).toBe(false);
    expect(awsEarly(req('GET'), url('/clusters/c1'))).toBe(true);
    expect(awsEarly(req('POST'), url('/'))).toBe(true);
  });
});

describe('every node’s SNAT use, added up as the pods are seeded', () => {
  /** Pods whose sockets name their destinations, one whose sockets must be expanded, hostNetwork pods. */
  const mixed = (): Snapshot =>
    parseSnapshot(
      JSON.stringify({
        apiVersion: 'snatguard.io/v1',
        kind: 'Snapshot',
        metadata: { name: 'mixed-sockets' },
        cloud: { provider: 'none' },
        nodes: [
          { name: 'n1', hostSockets: [{ remote: '52.168.1.10:443', state: 'ESTABLISHED', count: 7 }] },
          { name: 'n2' },
          { name: 'n3' },
          { name: 'n4' },
        ],
        workloads: [
          {
            kind: 'Deployment',
            namespace: 'a',
            name: 'd',
            pods: [
              { node: 'n1', sockets: [{ remote: '20.103.144.194:27017', state: 'ESTABLISHED', count: 30 }] },
              { node: 'n2', sockets: [{ remote: '52.168.1.10:443', state: 'TIME_WAIT', count: 5 }] },
              { node: 'n1', sockets: [{ remote: '52.168.1.10:443', state: 'ESTABLISHED', count: 2 }] },
            ],
          },
          {
            kind: 'StatefulSet',
            namespace: 'a',
            name: 's',
            // A local port given: this pod's sockets are expanded to be counted (n3 is worked out when asked).
            pods: [
              {
                node: 'n3',
                sockets: [{ local: '10.244.2.9:40000', remote: '52.168.1.10:443', state: 'ESTABLISHED' }],
              },
              { node: 'n3', sockets: [{ remote: '52.168.1.10:443', state: 'ESTABLISHED', count: 4 }] },
            ],
          },
          { kind: 'DaemonSet', namespace: 'b', name: 'h', pods: [{ node: 'n4', hostNetwork: true }] },
        ],
      }),
      'mixed.json',
    );

  it('are the sums the node index gives, in its order, and a node that needs expanding is left to it', async () => {
    for (const snapshot of [mixed, scale, everyKind]) {
      const stepwise = new World(snapshot(), { now, seedInSteps: { sliceMs: 0 } });
      stepwise.startSeeding();
      await stepwise.seeded;
      const atOnce = new World(snapshot(), { now });
      const names = atOnce.snapshot.nodes.map((n) => n.name);
      // Kept as seeding ends: n3 (expanded) and n4 (hostNetwork pods only) are not.
      if (snapshot === mixed) expect(atOnce.derivedNodes).toBe(2);
      const seededSums = names.map((n) => [n, [...atOnce.nodeDestinations(n)]]);
      expect(names.map((n) => [n, [...stepwise.nodeDestinations(n)]])).toEqual(seededSums);
      // What the node index gives once the kept sums are dropped (a frame that changes nothing drops them).
      atOnce.applyFrame({ at: '1m', atMs: 60_000, nodes: [], removeNodes: [], pods: [] });
      expect(atOnce.derivedNodes).toBe(0);
      expect(names.map((n) => [n, [...atOnce.nodeDestinations(n)]])).toEqual(seededSums);
      if (snapshot === mixed)
        expect(Object.fromEntries(seededSums as [string, [string, number][]][])).toEqual({
          n1: [
            ['52.168.1.10:443', 9],
            ['20.103.144.194:27017', 30],
          ],
          // (A TIME_WAIT socket holds its SNAT port.)
          n2: [['52.168.1.10:443', 5]],
          n3: [['52.168.1.10:443', 5]],
          n4: [],
        });
    }
  });
});

describe('what the simulator makes before it reads the snapshot', () => {
  it('loads the snapshot from text being read already, and names a failed read as it names its own', async () => {
    const text = JSON.stringify(scaleSnapshot({ nodes: 2, pods: 4, hotNodes: 1 }));
    const loaded = await loadSnapshot('/nonexistent/read-elsewhere.json', { text: Promise.resolve(text) });
    expect(loaded).toEqual(parseSnapshot(text, '/nonexistent/read-elsewhere.json'));
    const own = await loadSnapshot('/nonexistent/x.json').catch((e: unknown) => e);
    const given = await loadSnapshot('/nonexistent/x.json', {
      text: (await import('node:fs/promises')).readFile('/nonexistent/x.json', 'utf8'),
    }).catch((e: unknown) => e);
    expect(given).toEqual(own);
    expect(String((own as Error).message)).toMatch(/cannot read: ENOENT/);
  });

  it('serves with the certificates prepareSim made while the snapshot was loaded', async () => {
    const prepared = prepareSim();
    const sim = await startSim(scale(), { prepared });
    try {
      expect(sim.ca).toBe((await prepared).tls.ca);
      const answer = await fetchTrusting(sim.ca)(`${sim.url}/version`, {
        headers: { authorization: `Bearer ${sim.adminToken}` },
      });
      expect(answer.status).toBe(200);
    } finally {
      await sim.close();
    }
  });
});

describe('the pods’ keys the snapshot’s checks made', () => {
  it('are each pod’s namespace/name, and the world keys its pods by them', () => {
    const snapshot = everyKind();
    for (const w of snapshot.workloads) {
      const checked = checkedPodKeys(w.pods)!;
      expect(checked.namespace).toBe(w.namespace);
      expect(checked.names).toEqual(w.pods.map((p) => p.name));
      expect(checked.keys).toEqual(w.pods.map((p) => `${w.namespace}/${p.name}`));
    }
    const world = new World(snapshot, { now });
    for (const w of snapshot.workloads)
      for (const p of w.pods) expect(world.get('pods', w.namespace, p.name).metadata.name).toBe(p.name);
  });

  it('are not used for a pod renamed since the checks (the world keys it by its name now)', () => {
    const snapshot = everyKind();
    const d = snapshot.workloads.find((w) => w.name === 'd')!;
    // A pod renamed in the checked array itself, and a workload moved to another namespace.
    const pods = d.pods as { name: string }[];
    const before = pods[1]!.name;
    pods[1] = { ...d.pods[1]!, name: 'd-renamed-in-place' };
    const s = d.pods[0]!;
    const moved = { ...snapshot.workloads.find((w) => w.name === 's')!, namespace: 'b' };
    const world = new World(
      {
        ...snapshot,
        workloads: snapshot.workloads.map((w) =>
          w.name === 's' ? moved : w === d ? { ...d, pods: d.pods } : w,
        ),
      },
      { now },
    );
    expect(world.get('pods', 'a', 'd-renamed-in-place').metadata.name).toBe('d-renamed-in-place');
    expect(() => world.get('pods', 'a', before)).toThrow();
    expect(world.get('pods', 'b', moved.pods[0]!.name).metadata.namespace).toBe('b');
    expect(() => world.get('pods', 'a', moved.pods[0]!.name)).toThrow();
    expect(world.get('pods', 'a', s.name).metadata.name).toBe(s.name);
  });
});
