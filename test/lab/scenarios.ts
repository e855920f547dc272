// The lab's scenarios: the seeds' incidents reproduced on this machine's kernel in network namespaces,
// and the real product (simulated control plane + real clients + runScan) run against them end to end.
// Each scenario builds its own topology (test/lab/topology.ts), measures, runs snatguard, checks what
// it must show, and tears everything down in `finally`. Bounded: every wait has a deadline.
import { readFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { attributeFlows } from '../../src/analysis/attribution.js';
import { parseConntrackTable } from '../../src/analysis/conntrack-table.js';
import { connect } from '../../src/cluster/connect.js';
import { compose } from '../../src/compose.js';
import { loadConfig } from '../../src/config/index.js';
import { configForSnapshot } from '../../src/hosts/cli/run-commands.js';
import { simPressureTargets } from '../../src/hosts/cli/sim-targets.js';
import { createLogger } from '../../src/log.js';
import type { RunReport } from '../../src/model.js';
import { runScan } from '../../src/run.js';
import { type RunningSim, startSim } from '../../src/sim/server.js';
import { parseSnapshot, type Snapshot } from '../../src/sim/snapshot.js';
import { createClassifier, summarize } from '../../src/sockets/index.js';
import { LabBackend } from './backend.js';
import { run } from './netns.js';
import {
  createLab,
  HTTPS,
  type Lab,
  type LabNode,
  type LabPod,
  MONGO,
  PROGRAMS,
  waitFor,
} from './topology.js';

/** The MASQUERADE range of every lab node, and the SNAT ports "Azure" says each node has. */
export const SNAT_PORTS = 64;
const RANGE = { from: 40000, to: 40000 + SNAT_PORTS - 1 };
const MONGO_REMOTE = `${MONGO.address}:${MONGO.port}`;
const HTTPS_REMOTE = `${HTTPS.address}:${HTTPS.port}`;
const NODE_NAMES = ['aks-labpool-00000000-vmss000000', 'aks-labpool-00000000-vmss000001'];
const classifier = createClassifier({ clusterCidrs: ['10.244.0.0/16', '10.0.0.0/16'] });

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ScenarioResult {
  name: string;
  description: string;
  passed: boolean;
  checks: Check[];
  /** Why part of the incident could not be reproduced here (the kernel's limits, said plainly). */
  notReproduced?: string;
  hotNodes?: string[];
  offenders?: { workload: string; snatSockets: number; method?: string; topDestination?: string }[];
  restarted?: string[];
  recommendations?: string[];
  portsInUseBefore?: number;
  portsInUseAfter?: number;
  failedConnectsBefore?: number;
  recoverySeconds?: number;
  /** ESTABLISHED sockets to the hot destination, counted from the offender's pods' /proc/net/tcp{,6}. */
  execSockets?: number;
  /** ESTABLISHED SNAT flows of the same pods to the same destination, counted from the node's conntrack. */
  conntrackFlows?: number;
  /** Other measured numbers, by name. */
  figures: Record<string, number | string>;
  durationSeconds: number;
  reports: RunReport[];
}

interface Context {
  lab: Lab;
  backend: LabBackend;
  sim?: RunningSim;
  snapshot?: Snapshot;
  checks: Check[];
  figures: Record<string, number | string>;
}

function check(ctx: Context, name: string, ok: boolean, detail: string): void {
  ctx.checks.push({ name, ok, detail });
}

interface LabWorkload {
  name: string;
  namespace?: string;
  replicas?: number;
  labels?: Record<string, string>;
  pods: { pod: LabPod; distroless?: boolean }[];
}

/** The snapshot the simulator serves for the lab: its nodes and pods, with the kernel behind them. */
function labSnapshot(
  name: string,
  nodes: LabNode[],
  workloads: LabWorkload[],
  provider: 'azure' | 'none',
): Snapshot {
  const doc = {
    apiVersion: 'snatguard.io/v1',
    kind: 'Snapshot',
    metadata: {
      name: `lab-${name}`,
      description: 'lab: answers come from network namespaces on this machine',
    },
    cloud:
      provider === 'azure'
        ? {
            provider: 'azure',
            azure: {
              subscriptionId: '00000000-0000-0000-0000-000000000000',
              resourceGroup: 'rg-lab',
              clusterName: 'aks-lab',
              location: 'westeurope',
              outboundType: 'loadBalancer',
              loadBalancer: { allocatedOutboundPorts: SNAT_PORTS, outboundIPs: 1, idleTimeoutMinutes: 4 },
            },
          }
        : { provider: 'none' },
    cluster: { version: '1.31', podCIDR: '10.244.0.0/16', serviceCIDR: '10.0.0.0/16' },
    nodes: nodes.map((n) => ({ name: n.name, internalIP: n.address })),
    workloads: workloads.map((w) => ({
      kind: 'Deployment',
      namespace: w.namespace ?? 'shop',
      name: w.name,
      replicas: w.replicas ?? w.pods.length,
      labels: w.labels ?? { app: w.name },
      pods: w.pods.map(({ pod, distroless }) => ({
        node: pod.node.name,
        ip: pod.ip,
        ...(distroless ? { exec: 'no-cat' } : {}),
        sockets: [],
      })),
    })),
  };
  return parseSnapshot(stringify(doc), `lab-${name}`);
}

/** Starts the simulator for the lab's snapshot and binds its pods (by IP) and nodes to the kernel. */
async function serve(ctx: Context, snapshot: Snapshot, workloads: LabWorkload[]): Promise<RunningSim> {
  const sim = await startSim(snapshot, { backend: ctx.backend });
  ctx.sim = sim;
  ctx.snapshot = snapshot;
  for (const node of ctx.lab.nodes) {
    ctx.backend.bindNode(node);
    for (const p of sim.world.podsOn(node.name)) {
      if (p.hostNetwork) continue;
      for (const w of workloads)
        for (const { pod, distroless } of w.pods)
          if (pod.ip === p.ip) ctx.backend.bindPod(p.namespace, p.name, pod, distroless === true);
    }
  }
  return sim;
}

const log = createLogger({ level: 'silent' });

/** One snatguard run against the lab, through the simulator's HTTPS/WebSocket and the real clients. */
async function scan(ctx: Context, flags: Record<string, unknown>, withCloud = true): Promise<RunReport> {
  const sim = ctx.sim!;
  const snapshot = ctx.snapshot!;
  const config = configForSnapshot(loadConfig({ env: {}, flags }), snapshot);
  const kubeConfig = await connect({ kind: 'kubeconfig', path: sim.jobKubeconfigPath }, { log });
  const deps = await compose(config, {
    kubeConfig,
    log,
    ...(withCloud ? { world: sim.world } : {}),
    pressure: simPressureTargets(sim),
  });
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 60_000);
  try {
    return await runScan(config, deps, controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The offender bar of the lab, scaled to 64 ports: 30 SNAT sockets and a quarter of the node's, or the
 * incident's "more than 10 connections to MongoDB per pod" (the fixed image holds exactly 10).
 */
const OFFENDER_FLAGS = {
  offender: {
    minSnatSockets: 30,
    minShare: 0.25,
    destinationRules: [{ port: MONGO.port, maxSocketsPerPod: 10 }],
  },
};

/** ESTABLISHED sockets to `remote` in a pod's own tables (what exec would read), read directly as root. */
async function execEstablished(pod: LabPod, remote: string): Promise<number> {
  const pid = pod.processes[0]?.pid;
  if (pid === undefined) return 0;
  const text =
    (await readFile(`/proc/${pid}/net/tcp`, 'utf8')) + (await readFile(`/proc/${pid}/net/tcp6`, 'utf8'));
  const d = summarize(text, classifier).destinations.find((x) => x.remote === remote);
  return d?.byState.ESTABLISHED ?? 0;
}

/** ESTABLISHED SNAT flows to `remote` per pod, from the node's conntrack table through the product's attribution. */
async function conntrackEstablished(
  node: LabNode,
  pods: LabPod[],
  remote: string,
): Promise<Map<LabPod, number>> {
  const table = parseConntrackTable(await node.ns.exec('conntrack', ['-L', '-o', 'extended']));
  const a = attributeFlows(
    table.flows,
    [node.address],
    pods.map((p) => ({ key: p.name, ips: [p.ip], hostNetwork: false })),
    classifier,
  );
  return new Map(
    pods.map((p) => [
      p,
      a.byPod.get(p.name)?.summary.destinations.find((d) => d.remote === remote)?.byState.ESTABLISHED ?? 0,
    ]),
  );
}

/**
 * The lab's agreement check: for the same pods at the same moment, exec (the pods' /proc/net/tcp{,6}) and
 * conntrack (the node's table) count ESTABLISHED flows to the hot destination within 2%, and rank the same
 * workload first. SYN_SENT sockets whose SNAT failed are in the pod's table but never in conntrack, so only
 * ESTABLISHED flows are compared.
 */
async function agreement(
  ctx: Context,
  node: LabNode,
  workloads: LabWorkload[],
  remote: string,
): Promise<{ exec: number; conntrack: number; top: string }> {
  const pods = workloads.flatMap((w) => w.pods.map((p) => p.pod)).filter((p) => p.node === node);
  const [byConntrack, byExec] = await Promise.all([
    conntrackEstablished(node, pods, remote),
    Promise.all(pods.map(async (p) => [p, await execEstablished(p, remote)] as const)).then(
      (e) => new Map(e),
    ),
  ]);
  const perWorkload = (m: Map<LabPod, number>) =>
    workloads
      .map((w) => ({ name: w.name, n: w.pods.reduce((s, p) => s + (m.get(p.pod) ?? 0), 0) }))
      .sort((a, b) => b.n - a.n || a.name.localeCompare(b.name));
  const topExec = perWorkload(byExec)[0]!;
  const topConntrack = perWorkload(byConntrack)[0]!;
  const exec = topExec.n;
  const conntrack = perWorkload(byConntrack).find((w) => w.name === topExec.name)?.n ?? 0;
  const diff = Math.abs(exec - conntrack) / Math.max(1, exec, conntrack);
  check(
    ctx,
    'exec and conntrack agree within 2% on ESTABLISHED flows',
    diff <= 0.02 && exec > 0,
    `${topExec.name}: exec ${exec}, conntrack ${conntrack} (${(diff * 100).toFixed(1)}%)`,
  );
  check(
    ctx,
    'exec and conntrack pick the same offender',
    topExec.name === topConntrack.name,
    `exec: ${topExec.name} (${topExec.n}), conntrack: ${topConntrack.name} (${topConntrack.n})`,
  );
  return { exec, conntrack, top: topExec.name };
}

const summarizeReport = (r: RunReport) => ({
  hotNodes: r.nodes.filter((n) => n.hot).map((n) => n.name),
  offenders: r.offenders.map((o) => ({
    workload: o.workload,
    snatSockets: o.snatSockets,
    ...(o.method ? { method: o.method } : {}),
    ...(o.topDestinations[0] ? { topDestination: o.topDestinations[0].remote } : {}),
  })),
  restarted: r.actions.filter((a) => a.status === 'applied').map((a) => a.workload),
  recommendations: [...new Set(r.recommendations.map((x) => x.id))],
});

async function scenario(
  name: string,
  description: string,
  body: (ctx: Context) => Promise<Partial<ScenarioResult> & { reports: RunReport[] }>,
): Promise<ScenarioResult> {
  const t0 = Date.now();
  const lab = await createLab();
  const ctx: Context = {
    lab,
    backend: new LabBackend(lab, {
      allocatedPorts: SNAT_PORTS,
      // The fixed image: a rollout restart replaces the leaky client with a pooled one (≤ 10 connections).
      afterRestart: () => (_pod) => PROGRAMS.pooled(MONGO.address, MONGO.port, 10),
    }),
    checks: [],
    figures: {},
  };
  let out: Partial<ScenarioResult> & { reports: RunReport[] } = { reports: [] };
  try {
    out = await body(ctx);
  } catch (e) {
    check(ctx, 'scenario ran to the end', false, (e as Error).stack ?? String(e));
  } finally {
    await ctx.sim?.close();
    await lab.close();
  }
  for (const f of ctx.backend.failures) check(ctx, 'lab backend', false, f);
  return {
    name,
    description,
    ...out,
    checks: ctx.checks,
    figures: ctx.figures,
    passed: ctx.checks.length > 0 && ctx.checks.every((c) => c.ok),
    durationSeconds: Math.round((Date.now() - t0) / 100) / 10,
    reports: out.reports,
  };
}

/** Starts a leaky client in each pod (n connections each) and waits until every one has settled. */
async function leak(ctx: Context, pods: LabPod[], n: number): Promise<number> {
  const procs = pods.map((p) => ctx.lab.startIn(p, PROGRAMS.leaky(MONGO.address, MONGO.port, n)));
  const done = await waitFor(() => procs.every((p) => p.status.done === 1), 20_000);
  if (!done) throw new Error('the leaky clients did not settle within 20 s');
  return procs.reduce((s, p) => s + (p.status.failed ?? 0), 0);
}

async function pooled(ctx: Context, pod: LabPod, size: number, target = MONGO): Promise<void> {
  const p = ctx.lab.startIn(pod, PROGRAMS.pooled(target.address, target.port, size));
  if (!(await waitFor(() => (p.status.connected ?? 0) >= size, 10_000)))
    throw new Error(`${pod.name}: the pooled client did not connect ${size} times within 10 s`);
}

// ---------------------------------------------------------------- the scenarios

/** Seed 000: a leaky client exhausts the node's SNAT ports to MongoDB; snatguard restarts it. */
export function connectionHog(): Promise<ScenarioResult> {
  return scenario(
    'connection-hog',
    `orders-api's two pods each open 40 connections to ${MONGO_REMOTE} and keep them; the node has ${SNAT_PORTS} SNAT ports`,
    async (ctx) => hogBody(ctx, false),
  );
}

/** The same hog, distroless: exec has no cat, the node's conntrack table names it. */
export function distroless(): Promise<ScenarioResult> {
  return scenario(
    'distroless',
    `the hog's pods have no cat: snatguard attributes them from the node's conntrack table`,
    async (ctx) => hogBody(ctx, true),
  );
}

async function hogBody(
  ctx: Context,
  noCat: boolean,
): Promise<Partial<ScenarioResult> & { reports: RunReport[] }> {
  const { lab, backend } = ctx;
  const [n1, n2] = [await lab.addNode(NODE_NAMES[0]!, RANGE), await lab.addNode(NODE_NAMES[1]!, RANGE)];
  const hogs = [await lab.addPod(n1, 'orders-api-a'), await lab.addPod(n1, 'orders-api-b')];
  const payments = await lab.addPod(n1, 'payments-a');
  const catalog = await lab.addPod(n2, 'catalog-a');
  const workloads: LabWorkload[] = [
    {
      name: 'orders-api',
      labels: { app: 'orders-api', db: 'mongo' },
      pods: hogs.map((pod) => ({ pod, distroless: noCat })),
    },
    { name: 'payments', pods: [{ pod: payments }] },
    { name: 'catalog', pods: [{ pod: catalog }] },
  ];
  await serve(
    ctx,
    labSnapshot(noCat ? 'distroless' : 'connection-hog', lab.nodes, workloads, 'azure'),
    workloads,
  );
  await pooled(ctx, payments, 8);
  await pooled(ctx, catalog, 5, HTTPS);
  await backend.baseline();

  const failedConnectsBefore = await leak(ctx, hogs, 40);
  const before = await backend.refresh();
  const portsInUseBefore = before.get(n1.name)?.portsByDestination.get(MONGO_REMOTE) ?? 0;
  const measured = await agreement(ctx, n1, workloads.slice(0, 2), MONGO_REMOTE);
  check(
    ctx,
    'the leak exhausts the SNAT range',
    portsInUseBefore === SNAT_PORTS,
    `${portsInUseBefore}/${SNAT_PORTS} ports to ${MONGO_REMOTE}`,
  );
  check(
    ctx,
    'new connects fail',
    failedConnectsBefore > 0,
    `${failedConnectsBefore} connects found no source port`,
  );

  const first = await scan(ctx, { mode: 'restart', ...OFFENDER_FLAGS });
  const s1 = summarizeReport(first);
  const top = first.offenders[0];
  check(
    ctx,
    'the hot node is found',
    s1.hotNodes.join() === n1.name,
    `hot: ${s1.hotNodes.join(', ') || 'none'}`,
  );
  check(
    ctx,
    'orders-api is named, with its destination and method',
    top?.workload === 'shop/Deployment/orders-api' &&
      top.topDestinations[0]?.remote === MONGO_REMOTE &&
      top.method === (noCat ? 'conntrack' : 'exec'),
    `top offender: ${top ? `${top.workload} ${top.snatSockets} sockets to ${top.topDestinations[0]?.remote} (${top.method})` : 'none'}`,
  );
  check(
    ctx,
    'every offender names its method',
    first.offenders.every((o) => o.method === 'exec' || o.method === 'conntrack'),
    s1.offenders.map((o) => `${o.workload}:${o.method}`).join(', '),
  );
  check(
    ctx,
    'orders-api is restarted',
    s1.restarted.join() === 'shop/Deployment/orders-api',
    `restarted: ${s1.restarted.join(', ') || 'none'}`,
  );

  // Recovery: the old pods' sockets close, the new pods' pooled clients connect.
  await backend.settled();
  const restartedAt = backend.restarts[0]?.at ?? Date.now();
  const fresh = backend.restarts[0]?.newPods ?? [];
  let after = before.get(n1.name)!;
  // Recovered: every new pod's pool is connected (so the range has room again) and the node's open flows to
  // the destination are back to what the pooled clients hold.
  const recovered = await waitFor(
    async () => {
      if (!fresh.every((p) => (p.processes[0]?.status.connected ?? 0) >= 10)) return false;
      after = (await backend.refresh()).get(n1.name)!;
      return (after.openByDestination.get(MONGO_REMOTE) ?? 0) <= 8 + 10 * fresh.length;
    },
    20_000,
    100,
  );
  const recoverySeconds = Math.round((Date.now() - restartedAt) / 100) / 10;
  const portsInUseAfter = after.openByDestination.get(MONGO_REMOTE) ?? 0;
  ctx.figures.timeWaitAfter = (after.portsByDestination.get(MONGO_REMOTE) ?? 0) - portsInUseAfter;
  ctx.figures.newPods = fresh.length;
  check(
    ctx,
    'the ports are freed and the new pods connect',
    recovered && fresh.length === 2,
    `${portsInUseAfter} open flows to ${MONGO_REMOTE} after ${recoverySeconds} s (${ctx.figures.timeWaitAfter} in TIME_WAIT)`,
  );

  const second = await scan(ctx, { mode: 'restart', ...OFFENDER_FLAGS });
  const s2 = summarizeReport(second);
  check(
    ctx,
    'the next run restarts nothing',
    s2.restarted.length === 0 && !second.offenders.some((o) => o.workload === 'shop/Deployment/orders-api'),
    `offenders: ${s2.offenders.map((o) => `${o.workload} ${o.snatSockets}`).join(', ') || 'none'}`,
  );
  return {
    ...s1,
    reports: [first, second],
    portsInUseBefore,
    portsInUseAfter,
    failedConnectsBefore,
    recoverySeconds,
    execSockets: measured.exec,
    conntrackFlows: measured.conntrack,
  };
}

/** TIME_WAIT churn: a client that connects and closes for every request. */
export function timeWaitChurn(): Promise<ScenarioResult> {
  return scenario(
    'time-wait-churn',
    `image-proxy opens and closes 300 connections to ${HTTPS_REMOTE} (8 at a time); its pod holds them in TIME_WAIT`,
    async (ctx) => {
      const { lab, backend } = ctx;
      const n1 = await lab.addNode(NODE_NAMES[0]!, RANGE);
      const churn = await lab.addPod(n1, 'image-proxy-a');
      const payments = await lab.addPod(n1, 'payments-a');
      const workloads: LabWorkload[] = [
        { name: 'image-proxy', replicas: 2, pods: [{ pod: churn }] },
        { name: 'payments', pods: [{ pod: payments }] },
      ];
      await serve(ctx, labSnapshot('time-wait-churn', lab.nodes, workloads, 'azure'), workloads);
      await pooled(ctx, payments, 8);
      await backend.baseline();
      const p = lab.startIn(churn, PROGRAMS.churner(HTTPS.address, HTTPS.port, 300, 8));
      if (!(await waitFor(() => p.status.done === 1, 30_000)))
        throw new Error('the churner did not finish within 30 s');
      const sample = (await backend.refresh()).get(n1.name)!;
      const portsInUseBefore = sample.portsByDestination.get(HTTPS_REMOTE) ?? 0;
      const failedConnectsBefore = p.status.failed ?? 0;
      const execTimeWait = await (async () => {
        const pid = p.pid;
        const text =
          (await readFile(`/proc/${pid}/net/tcp`, 'utf8')) +
          (await readFile(`/proc/${pid}/net/tcp6`, 'utf8'));
        return (
          summarize(text, classifier).destinations.find((d) => d.remote === HTTPS_REMOTE)?.byState
            .TIME_WAIT ?? 0
        );
      })();
      ctx.figures.podTimeWait = execTimeWait;
      ctx.figures.conntrackTimeWait = portsInUseBefore - (sample.openByDestination.get(HTTPS_REMOTE) ?? 0);
      ctx.figures.connected = p.status.connected ?? 0;
      check(
        ctx,
        'TIME_WAIT holds the range',
        portsInUseBefore === SNAT_PORTS,
        `${portsInUseBefore}/${SNAT_PORTS} translated ports to ${HTTPS_REMOTE} in use, ${ctx.figures.conntrackTimeWait} of them in TIME_WAIT; the pod holds ${execTimeWait} TIME_WAIT sockets`,
      );
      const report = await scan(ctx, { mode: 'dry-run', offender: { minSnatSockets: 20, minShare: 0.25 } });
      const s = summarizeReport(report);
      const advice = report.recommendations.find((r) => r.id === 'TIME_WAIT_CHURN');
      check(
        ctx,
        'the hot node is found',
        s.hotNodes.join() === n1.name,
        `hot: ${s.hotNodes.join(', ') || 'none'}`,
      );
      check(
        ctx,
        'image-proxy is the offender (exec)',
        report.offenders[0]?.workload === 'shop/Deployment/image-proxy' &&
          report.offenders[0]?.method === 'exec',
        s.offenders.map((o) => `${o.workload} ${o.snatSockets} (${o.method})`).join(', '),
      );
      check(
        ctx,
        'TIME_WAIT_CHURN advice with the numbers',
        advice?.title.includes(HTTPS_REMOTE) === true && /\d/.test(advice.detail),
        advice?.title ?? 'no TIME_WAIT_CHURN',
      );
      return { ...s, reports: [report], portsInUseBefore, failedConnectsBefore };
    },
  );
}

/** Conntrack filling up: as far as a non-initial namespace lets the lab go. */
export function conntrackPressure(): Promise<ScenarioResult> {
  return scenario(
    'conntrack-pressure',
    'a pod opens 3,000 UDP flows through the node; snatguard reads the node namespace’s real count and max',
    async (ctx) => {
      const { lab } = ctx;
      const n1 = await lab.addNode(NODE_NAMES[0]!, RANGE);
      const sender = await lab.addPod(n1, 'dns-storm-a');
      const workloads: LabWorkload[] = [{ name: 'dns-storm', pods: [{ pod: sender }] }];
      // provider none: no cloud, every node is inspected (scan --provider none).
      await serve(ctx, labSnapshot('conntrack-pressure', lab.nodes, workloads, 'none'), workloads);
      const FLOWS = 3000;
      lab.startIn(
        sender,
        `const s = require('node:dgram').createSocket('udp4');
let i = 0; (function next() { if (i >= ${FLOWS}) { console.log(JSON.stringify({ done: 1 })); return; }
s.send('x', 10000 + i++, '${MONGO.address}', next); })();
process.stdin.on('data', () => {}).on('end', () => process.exit(0));`,
      );
      await waitFor(() => sender.processes[0]?.status.done === 1, 15_000);
      const count = Number((await n1.ns.exec('cat', ['/proc/sys/net/netfilter/nf_conntrack_count'])).trim());
      const max = Number((await n1.ns.exec('cat', ['/proc/sys/net/netfilter/nf_conntrack_max'])).trim());
      const write = await run('ip', [
        'netns',
        'exec',
        n1.ns.name,
        'sh',
        '-c',
        `echo ${count + 100} > /proc/sys/net/netfilter/nf_conntrack_max`,
      ]);
      const kernel = (await run('uname', ['-r'])).stdout.trim();
      ctx.figures.count = count;
      ctx.figures.max = max;
      ctx.figures.kernel = kernel;
      const report = await scan(ctx, {}, false);
      const node = report.nodes.find((n) => n.name === n1.name);
      check(
        ctx,
        'the node namespace holds the flows',
        count >= FLOWS,
        `nf_conntrack_count ${count} after ${FLOWS} UDP flows`,
      );
      check(
        ctx,
        'snatguard reads the real count and max through the node probe',
        node?.conntrack !== undefined &&
          Math.abs(node.conntrack.count - count) <= count * 0.05 &&
          node.conntrack.max === max,
        `report: ${node?.conntrack?.count}/${node?.conntrack?.max}, kernel: ${count}/${max}`,
      );
      check(
        ctx,
        'nf_conntrack_max cannot be lowered in this namespace (so the lab cannot fill it)',
        write.code !== 0,
        write.stderr.trim() || 'the write succeeded',
      );
      return {
        ...summarizeReport(report),
        reports: [report],
        notReproduced:
          `a full table: nf_conntrack_max is read-only outside the initial network namespace (Linux ${kernel}: writing it in the lab's node namespace fails with "${write.stderr.trim().replace(/^sh: \d+: /, '')}"), ` +
          `and the count is held against the host-wide max (${max}); filling ${max} entries would load the host's shared conntrack hash table, so the lab stops at ${count} (${((count / max) * 100).toFixed(1)}%) and CONNTRACK_RAISE_MAX is tested on the simulator instead`,
      };
    },
  );
}

/** insert_failed growing between runs: the SYNs that find no free source port keep failing to insert. */
export function insertFailed(): Promise<ScenarioResult> {
  return scenario(
    'insert-failed',
    `a leaky client asks for ${SNAT_PORTS + 16} ports of ${SNAT_PORTS}: the stuck SYNs retransmit and fail to insert again; two runs compare the counters`,
    async (ctx) => {
      const { lab, backend } = ctx;
      const n1 = await lab.addNode(NODE_NAMES[0]!, RANGE);
      const hog = await lab.addPod(n1, 'orders-api-a');
      const workloads: LabWorkload[] = [{ name: 'orders-api', pods: [{ pod: hog }] }];
      await serve(ctx, labSnapshot('insert-failed', lab.nodes, workloads, 'azure'), workloads);
      await backend.baseline();
      const failedConnectsBefore = await leak(ctx, [hog], SNAT_PORTS + 16);
      await backend.refresh();
      const first = await scan(ctx, { mode: 'dry-run', ...OFFENDER_FLAGS });
      const at = first.nodes.find((n) => n.name === n1.name)?.conntrack?.insertFailed ?? 0;
      // The stuck SYNs retransmit at 1, 3, 7 s: wait for the counter to move, at most 10 s.
      await waitFor(async () => (await backend.sample(n1)).insertFailed > at, 10_000, 200);
      await backend.refresh();
      const second = await scan(ctx, { mode: 'dry-run', ...OFFENDER_FLAGS });
      const node = second.nodes.find((n) => n.name === n1.name);
      const delta = node?.conntrack?.insertFailedDelta ?? 0;
      ctx.figures.insertFailedFirst = at;
      ctx.figures.insertFailedDelta = delta;
      check(
        ctx,
        'the first run reads insert_failed from the node namespace',
        at > 0,
        `insert_failed ${at}, drop ${first.nodes.find((n) => n.name === n1.name)?.conntrack?.drop}`,
      );
      check(ctx, 'the second run sees it grow', delta > 0, `insert_failed grew by ${delta} between the runs`);
      const ids = second.recommendations.map((r) => r.id);
      check(
        ctx,
        'conntrack advice follows',
        ids.includes('CONNTRACK_BE_LIBERAL'),
        `recommendations: ${[...new Set(ids)].join(', ')}`,
      );
      return { ...summarizeReport(second), reports: [first, second], failedConnectsBefore };
    },
  );
}

export const SCENARIOS: Record<string, () => Promise<ScenarioResult>> = {
  'connection-hog': connectionHog,
  distroless,
  'time-wait-churn': timeWaitChurn,
  'conntrack-pressure': conntrackPressure,
  'insert-failed': insertFailed,
};
