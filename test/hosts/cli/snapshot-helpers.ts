// Shared by the snapshot tests: what a run decides, a capture through `snatguard sim`'s environment lines
// (a fresh CLI process), and a replay in a fresh simulator.

import { stringify } from 'yaml';
import { simEnv } from '../../../src/hosts/cli/sim.js';
import type { RunReport } from '../../../src/model.js';
import { parseSnapshot, type Snapshot, type SnapshotFrame } from '../../../src/sim/snapshot.js';
import { runCli } from '../../cli-bundle.js';
import { harness } from '../../e2e/harness.js';

/** Everything a run decides (not timings, run ids, or the cluster's name). */
export const decisions = (r: RunReport) => ({
  status: r.status,
  hot: r.nodes.filter((n) => n.hot).map((n) => n.name),
  nodes: r.nodes.map((n) => [
    n.name,
    n.hot,
    n.podsInspected,
    n.podsUninspectable,
    n.podsFailed ?? 0,
    n.snatSockets,
    // What the cloud and the probe said: ports used / allocated (the drift finding's input), conntrack.
    n.signals.map((x) => [x.kind, x.used ?? null, x.allocated ?? null, x.value ?? null]),
    n.conntrack ? [n.conntrack.count, n.conntrack.max, n.conntrack.insertFailed] : null,
  ]),
  offenders: r.offenders.map((o) => [
    o.workload,
    o.node,
    o.method,
    o.snatSockets,
    o.topDestinations,
    o.matched,
  ]),
  actions: r.actions.map((a) => [a.workload, a.status, a.skipReason ?? null]),
  recommendations: r.recommendations.map((x) => [x.id, x.workload ?? null, x.node ?? null]),
});

/** Captures what a simulator serving `snapshot` shows, through `snatguard snapshot` and the sim's env lines. */
export async function captureThroughSimEnv(
  bundle: string,
  home: string,
  snapshot: Snapshot,
  args: string[] = [],
  extraEnv: Record<string, string> = {},
): Promise<{ text: string; code: number | null; stderr: string; writes: string[]; leaked: string[] }> {
  const h = await harness(snapshot);
  try {
    const env = Object.fromEntries(simEnv(h.sim, h.snapshot));
    const before = h.sim.world.requests.length;
    const out = await runCli(bundle, ['snapshot', '--output', 'json', ...args], {
      ...env,
      ...extraEnv,
      HOME: home,
    });
    // The capture only reads: no Kubernetes write of any kind reached the simulator.
    const writes = h.sim.world.requests
      .slice(before)
      .filter((r) => r.service === 'kube' && !['GET', 'HEAD'].includes(r.method))
      .map((r) => `${r.method} ${r.path}`);
    // Never a secret: the webhook URLs, the AWS secret key and the identity header it was given.
    const secrets = Object.entries(env)
      .filter(([k]) => /WEBHOOK|SECRET|IDENTITY_HEADER|TOKEN/.test(k))
      .map(([, v]) => v);
    const leaked = secrets.filter((v) => v.length > 0 && out.stdout.includes(v));
    return { text: out.stdout, code: out.code, stderr: out.stderr, writes, leaked };
  } finally {
    await h.close();
  }
}

/** Replays a snapshot once (a fresh simulator), as `snatguard replay` does. */
export async function replay(snapshot: Snapshot, flags: Record<string, unknown> = {}): Promise<RunReport> {
  const h = await harness(snapshot);
  try {
    return await h.run(flags);
  } finally {
    await h.close();
  }
}

/**
 * Serves `snapshot` with `frames` applied (a timeline's later moment), captures it through the env lines,
 * then runs the job once on that same world (the capture only read it): the decisions at that moment.
 */
export async function captureWorld(
  bundle: string,
  home: string,
  snapshot: Snapshot,
  frames: readonly SnapshotFrame[],
): Promise<{ text: string; code: number | null; writes: string[]; report: RunReport }> {
  const h = await harness(snapshot);
  try {
    for (const f of frames) h.sim.world.applyFrame(f);
    const env = Object.fromEntries(simEnv(h.sim, h.snapshot));
    const before = h.sim.world.requests.length;
    const out = await runCli(bundle, ['snapshot', '--output', 'json'], { ...env, HOME: home });
    const writes = h.sim.world.requests
      .slice(before)
      .filter((r) => r.service === 'kube' && !['GET', 'HEAD'].includes(r.method))
      .map((r) => `${r.method} ${r.path}`);
    return { text: out.stdout, code: out.code, writes, report: await h.run() };
  } finally {
    await h.close();
  }
}

export const parse = (doc: object): Snapshot => parseSnapshot(stringify(doc), 'generated');
export const minutesAgo = (m: number): string => new Date(Date.now() - m * 60_000).toISOString();

export const pods = (node: string, n: number, sockets: object[], extra: object = {}) =>
  Array.from({ length: n }, () => ({ node, sockets, ...extra }));

/** Every feature the format has on Azure (see snapshot-generated.test.ts). */
export function kitchenSinkAzure(): Snapshot {
  const n0 = 'aks-pool-20250101-vmss000000';
  const n1 = 'aks-pool-20250101-vmss000001';
  const n2 = 'aks-pool-20250101-vmss000002';
  const leak = [
    { remote: '20.50.1.10:27017', state: 'ESTABLISHED', count: 420 },
    { remote: '20.50.1.10:27017', state: 'TIME_WAIT', count: 40 },
    { local: ':8080', state: 'LISTEN' },
    { local: ':8080', remote: '10.244.1.20', state: 'ESTABLISHED', count: 3 },
    { remote: '10.0.0.10:53', state: 'TIME_WAIT', count: 2 },
  ];
  const some = (remote: string, count: number) => [{ remote, state: 'ESTABLISHED', count }];
  return parse({
    apiVersion: 'snatguard.io/v1',
    kind: 'Snapshot',
    metadata: { name: 'kitchen-sink-azure' },
    cloud: {
      provider: 'azure',
      azure: {
        subscriptionId: '11111111-2222-3333-4444-555555555555',
        resourceGroup: 'rg-sink',
        clusterName: 'aks-sink',
        location: 'northeurope',
        loadBalancer: { allocatedOutboundPorts: 0, outboundIPs: 1, idleTimeoutMinutes: 4 },
      },
    },
    cluster: { version: '1.30', podCIDR: '10.244.0.0/16', serviceCIDR: '10.0.0.0/16' },
    nodes: [
      {
        name: n0,
        internalIP: '10.224.0.4',
        hostSockets: [
          { remote: '20.50.9.9:443', state: 'ESTABLISHED', count: 60 },
          { local: '0.0.0.0:10250', state: 'LISTEN' },
        ],
      },
      {
        name: n1,
        internalIP: '10.224.0.5',
        metrics: { usedSnatPorts: 1000, allocatedSnatPorts: 1024, failedSnatConnections: 17 },
      },
      { name: n2, internalIP: '10.224.0.6' },
    ],
    workloads: [
      {
        kind: 'Deployment',
        namespace: 'shop',
        name: 'orders',
        replicas: 3,
        pods: [...pods(n0, 2, leak), ...pods(n1, 1, leak)],
      },
      {
        kind: 'Deployment',
        namespace: 'shop',
        name: 'legacy',
        strategy: 'Recreate',
        replicas: 2,
        pods: pods(n0, 2, some('20.50.1.11:27017', 150)),
      },
      {
        kind: 'Deployment',
        namespace: 'shop',
        name: 'optout',
        annotations: { 'snatguard.io/exclude': 'true' },
        pods: pods(n0, 2, some('20.50.1.12:27017', 120)),
      },
      {
        kind: 'Deployment',
        namespace: 'shop',
        name: 'cooled',
        annotations: { 'snatguard.io/restarted-at': minutesAgo(5) },
        pods: pods(n1, 2, some('20.50.1.13:27017', 200)),
      },
      {
        kind: 'Deployment',
        namespace: 'shop',
        name: 'paused',
        status: { paused: true },
        pods: pods(n1, 2, some('20.50.1.14:27017', 130)),
      },
      {
        kind: 'Deployment',
        namespace: 'shop',
        name: 'rolling',
        replicas: 3,
        status: { unavailableReplicas: 1, updatedReplicas: 2 },
        pods: pods(n1, 3, some('20.50.1.15:27017', 90)),
      },
      {
        kind: 'Deployment',
        namespace: 'shop',
        name: 'distroless',
        pods: pods(n0, 2, some('20.50.1.16:27017', 110), { exec: 'no-cat' }),
      },
      {
        kind: 'Deployment',
        namespace: 'shop',
        name: 'broken',
        pods: pods(n0, 1, some('20.50.1.17:443', 50), { exec: 'error' }),
      },
      {
        kind: 'StatefulSet',
        namespace: 'data',
        name: 'pg',
        pods: pods(n0, 1, [{ remote: '[2001:db8:5::7]:27017', state: 'ESTABLISHED', count: 140 }]),
      },
      {
        kind: 'ReplicaSet',
        namespace: 'data',
        name: 'bare-rs',
        pods: pods(n0, 1, [{ remote: '[::ffff:20.50.1.19]:443', state: 'ESTABLISHED', count: 80 }]),
      },
      { kind: 'Job', namespace: 'batch', name: 'report', pods: pods(n1, 1, some('20.50.1.20:443', 70)) },
      {
        kind: 'Pod',
        namespace: 'batch',
        name: 'debug',
        pods: pods(n2, 1, [
          { remote: '20.50.1.21:22', state: 'SYN_SENT', count: 5 },
          { remote: '20.50.1.21:443', state: 'CLOSE_WAIT', count: 4 },
        ]),
      },
      {
        kind: 'DaemonSet',
        namespace: 'monitoring',
        name: 'node-agent',
        labels: { app: 'node-agent', tier: 'node' },
        pods: [n0, n1, n2].map((node) => ({ node, hostNetwork: true })),
      },
    ],
  });
}
