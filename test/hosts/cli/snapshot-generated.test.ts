// Round trip on generated snapshots (issue 15): two built to hold every feature the format has (every
// workload kind, exec that works / has no cat / fails / hangs, hostNetwork pods and host sockets, IPv6
// and IPv4-mapped peers, listeners and inbound connections, TIME_WAIT, opt-out and cooldown records,
// paused / rolling / single-replica / Recreate workloads, Azure and AWS cloud facts), and seeded random
// ones. Each is served by the simulator, captured by `snatguard snapshot` through the env lines of
// `snatguard sim`, and the capture replayed: the decisions are those of replaying the original.
import { describe, expect, it } from 'vitest';
import { parseSnapshot, type Snapshot } from '../../../src/sim/snapshot.js';
import { useCliBundle } from '../../cli-bundle.js';
import {
  captureThroughSimEnv,
  decisions,
  kitchenSinkAzure,
  minutesAgo,
  parse,
  pods,
  replay,
} from './snapshot-helpers.js';

const cli = useCliBundle('snatguard-home-');

// A hung exec costs its timeout in every run: the case with one uses 4 s (the capture and both replays),
// the others keep the default (10 s), so a loaded machine never turns a slow read into a timeout.
const HANG_FLAGS = { 'exec.timeoutSeconds': 4 };
const HANG_ENV = { SNATGUARD_EXEC_TIMEOUT_SECONDS: '4' };

function kitchenSinkAws(): Snapshot {
  const nodes = ['ip-10-0-1-10.eu-west-1.compute.internal', 'ip-10-0-1-11.eu-west-1.compute.internal'];
  return parse({
    apiVersion: 'snatguard.io/v1',
    kind: 'Snapshot',
    metadata: { name: 'kitchen-sink-aws' },
    cloud: {
      provider: 'aws',
      aws: {
        region: 'eu-west-1',
        clusterName: 'eks-sink',
        natGateways: [
          {
            id: 'nat-0123456789abcdef0',
            errorPortAllocation: 12,
            activeConnectionCount: 54000,
            packetsDropCount: 3,
          },
        ],
        awsNodeEnv: {
          AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'hashrandom',
          AWS_VPC_K8S_CNI_EXTERNALSNAT: 'false',
          WEBHOOK_TOKEN: 'do-not-copy-me-7f3a',
        },
      },
    },
    cluster: { version: '1.31', podCIDR: '10.0.64.0/18', serviceCIDR: '172.20.0.0/16' },
    nodes: [
      {
        name: nodes[0],
        internalIP: '10.0.1.10',
        metrics: { conntrackAllowanceExceeded: 90 },
        conntrack: { count: 250000, max: 262144, insertFailed: 400, drop: 3, earlyDrop: 0, beLiberal: false },
      },
      { name: nodes[1], internalIP: '10.0.1.11', metrics: { conntrackAllowanceExceeded: 0 } },
    ],
    workloads: [
      {
        kind: 'Deployment',
        namespace: 'api',
        name: 'gateway',
        replicas: 3,
        pods: pods(nodes[0]!, 3, [
          { remote: '52.94.1.1:443', state: 'ESTABLISHED', count: 600 },
          { remote: '52.94.1.1:443', state: 'TIME_WAIT', count: 300 },
        ]),
      },
      {
        kind: 'StatefulSet',
        namespace: 'api',
        name: 'cache',
        replicas: 2,
        pods: pods(nodes[0]!, 2, [{ remote: '52.94.1.2:6379', state: 'ESTABLISHED', count: 200 }]),
      },
      {
        kind: 'Deployment',
        namespace: 'api',
        name: 'worker',
        pods: pods(nodes[1]!, 2, [{ remote: '52.94.1.3:443', state: 'ESTABLISHED', count: 40 }]),
      },
    ],
  });
}

/** A seeded random cluster: the shapes above, mixed at random (mulberry32, so every run is the same). */
function randomSnapshot(seed: number): Snapshot {
  let a = seed >>> 0;
  const rnd = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const provider = pick(['azure', 'aws'] as const);
  const nodeNames = Array.from({ length: int(2, 4) }, (_, i) =>
    provider === 'azure' ? `aks-gen-${seed}-vmss00000${i}` : `ip-10-1-0-${10 + i}.ec2.internal`,
  );
  const states = [
    'ESTABLISHED',
    'ESTABLISHED',
    'ESTABLISHED',
    'TIME_WAIT',
    'SYN_SENT',
    'CLOSE_WAIT',
    'FIN_WAIT2',
  ];
  const remotes = [
    '20.60.0.1:443',
    '20.60.0.2:27017',
    '[2001:db8:9::1]:443',
    '10.0.5.5:5432',
    '[::ffff:20.60.0.3]:443',
  ];
  const socket = () => ({ remote: pick(remotes), state: pick(states), count: int(1, 400) });
  const kinds = [
    'Deployment',
    'Deployment',
    'Deployment',
    'StatefulSet',
    'ReplicaSet',
    'Job',
    'Pod',
  ] as const;
  const workloads = Array.from({ length: int(2, 6) }, (_, i) => {
    const kind = pick(kinds);
    const n = kind === 'Pod' ? 1 : int(1, 3);
    const annotations: Record<string, string> = {};
    if (rnd() < 0.2) annotations['snatguard.io/exclude'] = 'true';
    if (rnd() < 0.2) annotations['snatguard.io/restarted-at'] = minutesAgo(int(1, 120));
    return {
      kind,
      namespace: pick(['alpha', 'beta']),
      name: `w${i}-${kind.toLowerCase()}`,
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
      ...(kind === 'Deployment' && rnd() < 0.2 ? { strategy: 'Recreate' } : {}),
      ...(kind === 'Deployment' && rnd() < 0.15 ? { status: { paused: true } } : {}),
      pods: Array.from({ length: n }, () => ({
        node: pick(nodeNames),
        ...(rnd() < 0.15 ? { exec: pick(['no-cat', 'error'] as const) } : {}),
        sockets: Array.from({ length: int(1, 3) }, socket),
      })),
    };
  });
  const cloud =
    provider === 'azure'
      ? {
          provider,
          azure: {
            resourceGroup: `rg-gen-${seed}`,
            clusterName: `aks-gen-${seed}`,
            location: 'westeurope',
            loadBalancer: { allocatedOutboundPorts: pick([0, 256, 512, 1024]), outboundIPs: int(1, 2) },
          },
        }
      : {
          provider,
          aws: {
            region: 'us-east-1',
            clusterName: `eks-gen-${seed}`,
            natGateways: [
              {
                id: `nat-0gen${seed}`,
                errorPortAllocation: int(0, 30),
                activeConnectionCount: int(0, 55000),
                packetsDropCount: 0,
              },
            ],
            awsNodeEnv: { AWS_VPC_K8S_CNI_RANDOMIZESNAT: pick(['prng', 'hashrandom', 'none']) },
          },
        };
  return parse({
    apiVersion: 'snatguard.io/v1',
    kind: 'Snapshot',
    metadata: { name: `generated-${seed}` },
    cloud,
    cluster: { version: '1.31', podCIDR: '10.244.0.0/16', serviceCIDR: '10.0.0.0/16' },
    nodes: nodeNames.map((name, i) => ({
      name,
      internalIP: `10.224.0.${4 + i}`,
      ...(provider === 'aws' ? { metrics: { conntrackAllowanceExceeded: pick([0, 0, 25]) } } : {}),
      ...(rnd() < 0.3
        ? { conntrack: { count: int(1000, 260000), max: 262144, insertFailed: int(0, 50) } }
        : {}),
    })),
    workloads,
  });
}

async function roundTrip(
  original: Snapshot,
  flags: Record<string, unknown> = {},
  env: Record<string, string> = {},
) {
  const captured = await captureThroughSimEnv(cli.bundle, cli.home, original, [], env);
  expect(captured.code).toBe(0);
  expect(captured.writes).toEqual([]);
  expect(captured.leaked).toEqual([]);
  const snapshot = parseSnapshot(captured.text, 'capture');
  const [fromOriginal, fromCapture] = await Promise.all([replay(original, flags), replay(snapshot, flags)]);
  expect(decisions(fromCapture)).toEqual(decisions(fromOriginal));
  return { text: captured.text, snapshot, report: fromOriginal };
}

describe('snatguard snapshot: round trip of generated clusters', () => {
  it('Azure, every feature: the same decisions, pods it could not exec marked, flows kept', async () => {
    const { text, snapshot, report } = await roundTrip(kitchenSinkAzure());
    // The decisions are not trivial: hot nodes, an offender counted from conntrack, and many skip reasons.
    expect(report.nodes.filter((n) => n.hot).length).toBeGreaterThanOrEqual(2);
    expect(report.offenders.some((o) => o.method === 'conntrack')).toBe(true);
    const reasons = new Set(report.actions.map((a) => a.skipReason));
    for (const r of [
      'OPTED_OUT',
      'COOLDOWN',
      'PAUSED',
      'RECREATE_STRATEGY',
      'SINGLE_REPLICA',
      'ROLLOUT_IN_PROGRESS',
    ])
      expect(reasons, r).toContain(r);
    // Three pods exec could not read (two without cat, one failing): each marked, nothing else.
    expect(snapshot.metadata.capture?.missing).toHaveLength(3);
    const missing = (snapshot.metadata.capture?.missing ?? []).join('\n');
    expect(missing).toMatch(
      /shop\/distroless-[a-z0-9-]+: exec no-cat; sockets its SNAT flows taken from the node's conntrack table/,
    );
    expect(missing).toMatch(/shop\/broken-[a-z0-9-]+: exec error;/);
    expect(text).not.toMatch(/sinkhooksecret|tok-sink-1234/);
    const w = (name: string) => snapshot.workloads.find((x) => x.name === name)!;
    expect(w('legacy').strategy).toBe('Recreate');
    expect(w('rolling').status).toEqual({ unavailableReplicas: 1, updatedReplicas: 2, paused: false });
    expect(w('optout').annotations['snatguard.io/exclude']).toBe('true');
    expect(w('distroless').pods[0]!.exec).toBe('no-cat');
    expect(w('distroless').pods[0]!.sockets.reduce((s, x) => s + x.count, 0)).toBe(110);
    expect(snapshot.nodes[0]!.hostSockets.map((s) => [s.remote ?? s.local, s.count])).toEqual([
      ['0.0.0.0:10250', 1],
      ['20.50.9.9:443', 60],
    ]);
  }, 120_000);

  it('AWS, every feature: the same decisions; no credential-like aws-node variable is written', async () => {
    const { text, snapshot, report } = await roundTrip(kitchenSinkAws());
    expect(report.nodes.some((n) => n.hot)).toBe(true);
    expect(snapshot.cloud.aws?.natGateways).toEqual([
      {
        id: 'nat-0123456789abcdef0',
        errorPortAllocation: 12,
        activeConnectionCount: 54000,
        packetsDropCount: 3,
      },
    ]);
    expect(snapshot.cloud.aws?.awsNodeEnv).toEqual({
      AWS_VPC_K8S_CNI_EXTERNALSNAT: 'false',
      AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'hashrandom',
    });
    expect(text).not.toContain('do-not-copy-me-7f3a');
  }, 120_000);

  it('a pod whose exec hangs: recorded as hanging, its flows kept; the same decisions', async () => {
    const node = 'aks-hang-vmss000000';
    const { snapshot, report } = await roundTrip(
      parse({
        apiVersion: 'snatguard.io/v1',
        kind: 'Snapshot',
        metadata: { name: 'hang' },
        cloud: {
          provider: 'azure',
          azure: { resourceGroup: 'rg-hang', clusterName: 'aks-hang', location: 'westeurope' },
        },
        nodes: [{ name: node, internalIP: '10.224.0.4' }],
        workloads: [
          {
            kind: 'Deployment',
            namespace: 'shop',
            name: 'leak',
            pods: pods(node, 2, [{ remote: '20.70.0.1:27017', state: 'ESTABLISHED', count: 480 }]),
          },
          {
            kind: 'Deployment',
            namespace: 'shop',
            name: 'stuck',
            pods: pods(node, 1, [{ remote: '20.70.0.2:443', state: 'ESTABLISHED', count: 30 }], {
              exec: 'hang',
            }),
          },
        ],
      }),
      HANG_FLAGS,
      HANG_ENV,
    );
    expect(report.nodes[0]?.podsFailed).toBe(1);
    expect(report.offenders.map((o) => o.workload)).toEqual(['shop/Deployment/leak']);
    const stuck = snapshot.workloads.find((w) => w.name === 'stuck')!;
    expect(stuck.pods[0]?.exec).toBe('hang');
    expect(stuck.pods[0]?.sockets).toEqual([expect.objectContaining({ remote: '20.70.0.2:443', count: 30 })]);
    expect(snapshot.metadata.capture?.missing).toEqual([
      expect.stringMatching(/^shop\/stuck-[a-z0-9-]+: exec hang; sockets its SNAT flows/),
    ]);
  }, 120_000);

  it.each([11, 23, 37])(
    'random cluster (seed %i)',
    async (seed) => {
      await roundTrip(randomSnapshot(seed));
    },
    120_000,
  );
});
