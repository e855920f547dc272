import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { loadSnapshot, nameChars, parseSnapshot, type Snapshot } from '../../src/sim/snapshot.js';
import { World } from '../../src/sim/world.js';

const examples = readdirSync('examples').filter((f) => /\.ya?ml$/.test(f));

const problemsOf = (text: string): string[] => {
  try {
    parseSnapshot(text, 'bad.yaml');
  } catch (e) {
    if (e instanceof ValidationError) return e.problems;
    throw e;
  }
  throw new Error('expected a ValidationError');
};

const minimal = (extra = ''): string => `apiVersion: snatguard.io/v1
kind: Snapshot
metadata: { name: t }
nodes:
  - name: n1
  - name: n2
${extra}`;

describe('examples', () => {
  it.each(examples)('%s loads and has an expect block', async (file) => {
    const s = await loadSnapshot(join('examples', file));
    expect(s.metadata.name).toBeTruthy();
    // A hot node at the snapshot's moment, or (a timeline example) in one of its frames.
    const hot = [s.expect?.hotNodes ?? [], ...(s.timeline ?? []).map((f) => f.expect?.hotNodes ?? [])].flat();
    expect(hot.length).toBeGreaterThan(0);
  });

  it('has the two incidents and the contract-check snapshot', () => {
    expect(examples).toEqual(
      expect.arrayContaining(['aks-mongo-leak.yaml', 'eks-conntrack.yaml', 'contract-check.yaml']),
    );
  });

  it('aks-mongo-leak: one node near its 1,024 ports from ~900 connections to one MongoDB address', async () => {
    const world = new World(await loadSnapshot('examples/aks-mongo-leak.yaml'));
    const hot = world.nodeMetrics('aks-nodepool1-31415926-vmss000000');
    const cold = world.nodeMetrics('aks-nodepool1-31415926-vmss000001');
    expect(hot).toEqual({
      allocatedSnatPorts: 1024,
      usedSnatPorts: 906,
      failedSnatConnections: 0,
      conntrackAllowanceExceeded: 0,
    });
    expect(cold.usedSnatPorts).toBe(23);
    expect(world.nodeDestinations('aks-nodepool1-31415926-vmss000000').get('20.103.144.194:27017')).toBe(906);
  });

  it('eks-conntrack: aws-node carries the snapshot env', async () => {
    const world = new World(await loadSnapshot('examples/eks-conntrack.yaml'));
    const ds = world.get('daemonsets', 'kube-system', 'aws-node');
    expect(ds.spec.template.spec.containers[0].env).toContainEqual({
      name: 'AWS_VPC_K8S_CNI_RANDOMIZESNAT',
      value: 'hashrandom',
    });
    expect(world.list('pods', 'kube-system').filter((p) => p.spec.hostNetwork).length).toBe(6); // aws-node + kube-proxy × 3
  });
});

describe('bad snapshots', () => {
  it('reports every problem at once, each with its path', () => {
    const problems = problemsOf(`apiVersion: snatguard.io/v1
kind: Snapshot
metadata: { name: t, colour: red }
cloud: { provider: azure }
nodes:
  - name: n1
  - name: n1
workloads:
  - kind: Deployment
    namespace: shop
    name: api
    pods:
      - node: n1
        sockets:
          - { remote: 1.2.3.4:443, state: ESTABLISHED }
          - { remote: 1.2.3.4:443, state: ESTABLISHD }
      - node: nowhere
        hostNetwork: true
        sockets:
          - { state: ESTABLISHED }
          - { remote: "1.2.3.4:99999", state: ESTABLISHED }
expect:
  restart: [shop/Deployment/nope]
`);
    expect(problems).toEqual(
      expect.arrayContaining([
        'metadata.colour: unknown field',
        expect.stringMatching(/^workloads\[0\]\.pods\[0\]\.sockets\[1\]\.state: /),
      ]),
    );
    // zod problems come first; semantic ones need a schema-valid file
    expect(problems.length).toBe(2);
  });

  it('reports every semantic problem with its path', () => {
    const problems = problemsOf(`apiVersion: snatguard.io/v1
kind: Snapshot
metadata: { name: t }
cloud: { provider: azure }
nodes:
  - name: n1
  - name: n1
workloads:
  - kind: Deployment
    namespace: shop
    name: api
    pods:
      - node: nowhere
        hostNetwork: true
        sockets:
          - { remote: 1.2.3.4:443, state: ESTABLISHED }
      - node: n1
        sockets:
          - { state: ESTABLISHED }
          - { remote: "1.2.3.4:99999", state: ESTABLISHED }
          - { remote: "fe80::1", state: ESTABLISHED, family: ipv4 }
          - { remote: 1.2.3.4:443, state: LISTEN }
  - kind: Deployment
    namespace: shop
    name: api
expect:
  restart: [shop/Deployment/nope]
  hotNodes: [n9]
`);
    expect(problems).toEqual(
      expect.arrayContaining([
        'cloud.azure: required when cloud.provider is azure',
        expect.stringMatching(/^nodes\[1\]\.name: duplicate node "n1"/),
        'workloads[0].pods[0].node: unknown node "nowhere"',
        expect.stringMatching(/^workloads\[0\]\.pods\[0\]\.sockets: a hostNetwork pod has no sockets/),
        'workloads[0].pods[1].sockets[0]: needs remote, local or both',
        'workloads[0].pods[1].sockets[1].remote: port 99999 out of range 1-65535',
        'workloads[0].pods[1].sockets[2].family: ipv4 with an IPv6 address',
        expect.stringMatching(
          /^workloads\[0\]\.pods\[1\]\.sockets\[3\]\.remote: a LISTEN socket has only local/,
        ),
        expect.stringMatching(/^workloads\[1\]: duplicate workload shop\/Deployment\/api/),
        expect.stringMatching(/^expect\.restart\[0\]: unknown workload "shop\/Deployment\/nope"/),
        'expect.hotNodes[0]: unknown node "n9"',
      ]),
    );
  });

  it('checks generated pod names when their workload name is invalid (and only given names otherwise)', () => {
    const problems = problemsOf(
      minimal(`workloads:
  - { kind: Deployment, namespace: shop, name: Api_1, pods: [{ node: n1 }, { name: ok-1, node: n1 }] }
  - { kind: StatefulSet, namespace: shop, name: db, pods: [{ node: n1 }, { name: Bad_Pod, node: n1 }] }`),
    );
    expect(problems).toEqual([
      'workloads[0].name: "Api_1" is not a valid workload name',
      expect.stringMatching(
        /^workloads\[0\]\.pods\[0\]\.name: "Api_1-[a-z0-9]{10}-[a-z0-9]{5}" is not a valid pod name$/,
      ),
      'workloads[1].pods[1].name: "Bad_Pod" is not a valid pod name',
    ]);
  });

  it('gives a pod without an IP one that no pod of the file has, later workloads included', () => {
    const s = parseSnapshot(
      minimal(`cluster: { podCIDR: 10.244.0.0/16 }
workloads:
  - { kind: Deployment, namespace: shop, name: api, pods: [{ node: n1 }, { node: n1 }] }
  - { kind: Deployment, namespace: shop, name: web, pods: [{ node: n2, ip: 10.244.0.11 }, { node: n2, ip: 10.244.0.13 }] }`),
    );
    expect(s.workloads[0]!.pods.map((p) => p.ip)).toEqual(['10.244.0.12', '10.244.0.14']);
  });

  it('hands the parsed data to onParsed before checking it (JSON and YAML), and nothing when it does not parse', () => {
    for (const text of [
      '{"apiVersion":"snatguard.io/v1","kind":"Snapshot","metadata":{"name":"t"},"cloud":{"provider":"aws"},"nodes":[]}',
      minimal('cloud: { provider: aws }\nbogus: 1'),
    ]) {
      const parsed: unknown[] = [];
      expect(() => parseSnapshot(text, 'bad', { onParsed: (d) => parsed.push(d) })).toThrow(ValidationError);
      expect(parsed).toEqual([expect.objectContaining({ cloud: { provider: 'aws' } })]);
    }
    const parsed: unknown[] = [];
    expect(() => parseSnapshot('a: [', 'bad', { onParsed: (d) => parsed.push(d) })).toThrow(ValidationError);
    expect(parsed).toEqual([]);
  });

  it('names a pod given twice in one namespace with the path of the first one', () => {
    const problems = problemsOf(
      minimal(`workloads:
  - { kind: Deployment, namespace: shop, name: api, pods: [{ node: n1 }, { name: web-1, node: n1 }] }
  - { kind: StatefulSet, namespace: other, name: web, pods: [{ node: n1 }, { node: n1 }] }
  - { kind: Deployment, namespace: shop, name: web, pods: [{ node: n1 }, { name: web-1, node: n1 }, { name: web-1, node: n1 }] }`),
    );
    expect(problems).toEqual([
      'workloads[2].pods[1].name: duplicate pod shop/web-1 (also workloads[0].pods[1])',
      'workloads[2].pods[2].name: duplicate pod shop/web-1 (also workloads[0].pods[1])',
    ]);
  });

  it('parses alike socket lines once, and tells lines apart by every field', () => {
    const pods = (sockets: string[]) =>
      `[${sockets.map((l, i) => `{ name: p${i}, node: n1, sockets: [${l}] }`).join(', ')}]`;
    const lines = [
      '{ remote: "1.2.3.4:443", state: ESTABLISHED }',
      '{ remote: "1.2.3.4:443", state: ESTABLISHED, count: 1 }',
      '{ remote: "1.2.3.4:443", state: ESTABLISHED, count: 2 }',
      '{ remote: "1.2.3.4:443", state: TIME_WAIT }',
      '{ remote: "1.2.3.4:443", local: ":8080", state: ESTABLISHED }',
      '{ remote: "::ffff:1.2.3.4", state: ESTABLISHED }',
      '{ remote: "[2001:db8::1]:443", state: ESTABLISHED, family: ipv6 }',
      '{ remote: "1.2.3.4:443", state: ESTABLISHED }',
    ];
    const snap = parseSnapshot(
      minimal(`workloads:
  - { kind: Deployment, namespace: a, name: w, pods: ${pods(lines)} }`),
    );
    const got = snap.workloads[0]!.pods.map((p) => p.sockets[0]!);
    expect(got.map((s) => [s.state, s.count, s.localPort, s.family])).toEqual([
      ['ESTABLISHED', 1, undefined, 'ipv4'],
      ['ESTABLISHED', 1, undefined, 'ipv4'],
      ['ESTABLISHED', 2, undefined, 'ipv4'],
      ['TIME_WAIT', 1, undefined, 'ipv4'],
      ['ESTABLISHED', 1, 8080, 'ipv4'],
      ['ESTABLISHED', 1, undefined, 'ipv4-mapped'],
      ['ESTABLISHED', 1, undefined, 'ipv6'],
      ['ESTABLISHED', 1, undefined, 'ipv4'],
    ]);
    // The same line is one parse: the first and the last pod share it.
    expect(got[7]).toBe(got[0]);
    // A bad line written twice is a problem at each place it is written.
    const bad = '{ remote: "1.2.3.4:99999", state: ESTABLISHED }';
    expect(
      problemsOf(
        minimal(`workloads:
  - { kind: Deployment, namespace: a, name: w, pods: ${pods([bad, bad])} }`),
      ),
    ).toEqual([
      'workloads[0].pods[0].sockets[0].remote: port 99999 out of range 1-65535',
      'workloads[0].pods[1].sockets[0].remote: port 99999 out of range 1-65535',
    ]);
  });

  it('draws generated name characters from SHA-256 as before (pinned)', () => {
    // Values of the implementation before issue 13 (hex slices through parseInt).
    expect(nameChars('scale-3000/team-0/Deployment/svc-0/pod/3', 5)).toBe('pkmnt');
    expect(nameChars('a', 10)).toBe('rv4xrbbrkh');
    expect(nameChars('snatguard', 40)).toBe('7x2zmttbx6hsx84bvcfb6hcr5qpfffhk7x2zmttb');
  });

  it.each([
    [
      'a missing required field',
      'apiVersion: snatguard.io/v1\nkind: Snapshot\nnodes: [{ name: n1 }]\n',
      'metadata: required',
    ],
    ['a YAML syntax error', 'apiVersion: [\n', 'line '],
    ['a wrong apiVersion', minimal().replace('snatguard.io/v1', 'v2'), 'apiVersion: '],
    [
      'an old cluster version',
      minimal('cluster: { version: "1.28" }'),
      'cluster.version: 1.28 is below 1.30',
    ],
    [
      'a bad local',
      minimal(
        'workloads:\n  - { kind: Pod, namespace: a, name: p, pods: [{ node: n1, sockets: [{ local: "8080", state: LISTEN }] }] }',
      ),
      'workloads[0].pods[0].sockets[0].local: ',
    ],
  ])('rejects %s', (_what, text, expected) => {
    expect(problemsOf(text).some((p) => p.startsWith(expected))).toBe(true);
  });
});

describe('defaults', () => {
  const text = minimal(`cloud:
  provider: azure
  azure: { resourceGroup: rg-shop, clusterName: aks-shop, location: westeurope }
workloads:
  - kind: Deployment
    namespace: shop
    name: api
    pods:
      - { node: n1, sockets: [{ remote: 20.1.2.3:443, state: ESTABLISHED }] }
      - { node: n2 }
  - kind: StatefulSet
    namespace: shop
    name: db
    pods: [{ node: n1, name: db-0 }, { node: n2 }]
  - kind: DaemonSet
    namespace: shop
    name: agent
    pods: [{ node: n1 }]
`);
  const s: Snapshot = parseSnapshot(text);

  it('derives the node resource group as AKS does', () => {
    expect(s.cloud.azure?.nodeResourceGroup).toBe('MC_rg-shop_aks-shop_westeurope');
    expect(s.cloud.azure?.loadBalancer).toEqual({
      allocatedOutboundPorts: 0,
      outboundIPs: 1,
      idleTimeoutMinutes: 30,
    });
  });

  it('defaults replicas, status, labels, sockets', () => {
    const api = s.workloads[0]!;
    expect(api.replicas).toBe(2);
    expect(api.status).toEqual({ unavailableReplicas: 0, paused: false });
    expect(api.labels).toEqual({ app: 'api' });
    expect(api.pods[0]!.sockets[0]).toMatchObject({
      count: 1,
      family: 'ipv4',
      remoteAddress: '20.1.2.3',
      remotePort: 443,
    });
    expect(api.pods[1]!.exec).toBe('ok');
    expect(s.cluster).toEqual({ version: '1.31', podCIDR: '10.244.0.0/16', serviceCIDR: '10.0.0.0/16' });
  });

  it('names pods like the controllers, deterministically', () => {
    const [api, db, agent] = s.workloads;
    const hash = api!.templateHash!;
    expect(hash).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{10}$/);
    for (const p of api!.pods)
      expect(p.name).toMatch(new RegExp(`^api-${hash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
    expect(db!.pods.map((p) => p.name)).toEqual(['db-0', 'db-1']);
    expect(agent!.pods[0]!.name).toMatch(/^agent-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(parseSnapshot(text).workloads.flatMap((w) => w.pods.map((p) => p.name))).toEqual(
      s.workloads.flatMap((w) => w.pods.map((p) => p.name)),
    );
  });

  it('takes the ReplicaSet hash from a given pod name', async () => {
    const c = await loadSnapshot('examples/contract-check.yaml');
    const cart = c.workloads[0]!;
    expect(cart.templateHash).toBe('5d9c7b8f6d');
    expect(cart.pods[1]!.name).toMatch(/^cart-5d9c7b8f6d-[a-z0-9]{5}$/);
  });

  it('gives pods IPs from the pod CIDR and Azure providerIDs', () => {
    expect(s.workloads[0]!.pods[0]!.ip).toMatch(/^10\.244\.0\.\d+$/);
    expect(s.workloads[0]!.pods[1]!.ip).toMatch(/^10\.244\.1\.\d+$/);
    expect(s.nodes[0]!.providerID).toMatch(
      /^azure:\/\/\/subscriptions\/0{8}-.*\/resourceGroups\/mc_rg-shop_aks-shop_westeurope\//,
    );
  });
});

describe('derived metrics', () => {
  const metricsFor = (nodes: number, sockets: string, lb = '') => {
    const nodeList = Array.from({ length: nodes }, (_, i) => `  - name: n${i}`).join('\n');
    const s = parseSnapshot(`apiVersion: snatguard.io/v1
kind: Snapshot
metadata: { name: t }
cloud:
  provider: azure
  azure: { resourceGroup: rg, clusterName: c, location: westeurope${lb} }
nodes:
${nodeList}
workloads:
  - kind: Deployment
    namespace: a
    name: w
    pods:
      - node: n0
        sockets: ${sockets}
`);
    return new World(s).nodeMetrics('n0');
  };

  it.each([
    [1, 1024],
    [50, 1024],
    [51, 512],
    [101, 256],
    [201, 128],
    [401, 64],
    [801, 32],
  ])('%i nodes → %i ports per node by default', (nodes, ports) => {
    expect(metricsFor(nodes, '[]').allocatedSnatPorts).toBe(ports);
  });

  it('multiplies configured ports by outbound IPs', () => {
    expect(
      metricsFor(2, '[]', ', loadBalancer: { allocatedOutboundPorts: 2048, outboundIPs: 3 }')
        .allocatedSnatPorts,
    ).toBe(6144);
  });

  it('uses the busiest destination, caps it, and reports the excess as failed', () => {
    const m = metricsFor(
      2,
      `[{ remote: 20.1.1.1:443, state: ESTABLISHED, count: 1100 }, { remote: 20.1.1.2:443, state: ESTABLISHED, count: 700 }]`,
    );
    expect(m).toMatchObject({ allocatedSnatPorts: 1024, usedSnatPorts: 1024, failedSnatConnections: 76 });
  });

  it.each([
    ['private destinations', '[{ remote: 10.1.1.1:443, state: ESTABLISHED, count: 50 }]', 0],
    ['the cluster pod CIDR', '[{ remote: 10.244.3.3:80, state: ESTABLISHED, count: 50 }]', 0],
    [
      'inbound sockets',
      '[{ local: ":8080", state: LISTEN }, { local: ":8080", remote: 81.2.69.160, state: ESTABLISHED, count: 50 }]',
      0,
    ],
    [
      'TIME_WAIT and SYN_SENT',
      '[{ remote: 20.1.1.1:443, state: TIME_WAIT, count: 30 }, { remote: 20.1.1.1:443, state: SYN_SENT, count: 5 }]',
      35,
    ],
    ['IPv4-mapped peers', '[{ remote: 20.1.1.1:443, state: ESTABLISHED, count: 7, family: ipv4-mapped }]', 7],
    ['documentation ranges (public)', '[{ remote: 203.0.113.5:443, state: ESTABLISHED, count: 9 }]', 9],
  ])('counts %s correctly', (_what, sockets, used) => {
    expect(metricsFor(2, sockets).usedSnatPorts).toBe(used);
  });

  it('keeps metrics the snapshot gives', () => {
    const s = parseSnapshot(
      minimal().replace(
        '  - name: n1\n',
        '  - name: n1\n    metrics: { usedSnatPorts: 5, failedSnatConnections: 37 }\n',
      ),
    );
    expect(new World(s).nodeMetrics('n1')).toMatchObject({ usedSnatPorts: 5, failedSnatConnections: 37 });
  });
});
