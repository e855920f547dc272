// `snatguard replay --timeline`: the job at each frame of a snapshot's timeline (docs/SNAPSHOT.md "Timeline"),
// against ONE simulated control plane: the clock advances to each frame's offset, the frame changes the
// world, and state is carried between runs by the simulator's own state ConfigMap and Lease, exactly as in a
// cluster. Chat goes to the simulator's Slack sink (never a real channel), so the messages chat would get
// are printed in order.
import { connect } from '../../cluster/connect.js';
import type { Config } from '../../config/index.js';
import type { Logger } from '../../log.js';
import type { RunReport } from '../../model.js';
import { type SlackPayload, slackPlainText } from '../../notify/slack.js';
import { fetchTrusting } from '../../sim/fetch.js';
import { startSim } from '../../sim/server.js';
import { receivedOf } from '../../sim/sinks.js';
import type { Snapshot, SnapshotExpect } from '../../sim/snapshot.js';
import { checkExpectations } from './check.js';
import { configForSnapshot, execute } from './run-commands.js';
import { simPressureTargets } from './sim-targets.js';

export interface TimelineRun {
  /** `0` for the snapshot itself, then each frame's `at`. */
  at: string;
  atMs: number;
  description?: string;
  report: RunReport;
  /** Pods the frame named that a restart had already replaced. */
  gone: string[];
  /** Chat messages this run sent (Slack's plain-text form). */
  messages: string[];
  expect?: SnapshotExpect;
}

export interface TimelineReplay {
  apiVersion: 'snatguard.io/v1';
  kind: 'TimelineReplay';
  snapshot: string;
  runs: TimelineRun[];
}

/** Runs the job at the snapshot's moment and at every frame; `start` is the clock at offset 0. */
export async function replayTimeline(
  snapshot: Snapshot,
  base: Config,
  log: Logger,
  start: Date = new Date(),
): Promise<TimelineReplay> {
  const sim = await startSim(snapshot, { log });
  try {
    const config = configForSnapshot(
      {
        ...base,
        notify: {
          ...base.notify,
          slack: { webhookUrl: sim.endpoints.slack! },
          teams: { webhookUrl: '' },
          discord: { webhookUrl: '' },
          webhook: { url: '', secret: '' },
        },
      },
      snapshot,
    );
    let offset = 0;
    const now = () => new Date(start.getTime() + offset);
    const kubeConfig = await connect({ kind: 'kubeconfig', path: sim.jobKubeconfigPath }, { log });
    const env = {
      kubeConfig,
      log,
      now,
      world: sim.world,
      pressure: simPressureTargets(sim),
      fetch: fetchTrusting(sim.ca),
    };
    const slack = () =>
      receivedOf(sim.world)
        .filter((m) => m.channel === 'slack' && m.status < 300)
        .map((m) => slackPlainText(m.json as SlackPayload));
    const runs: TimelineRun[] = [];
    const frames = [undefined, ...(snapshot.timeline ?? [])];
    for (const frame of frames) {
      offset = frame?.atMs ?? 0;
      const gone = frame ? sim.world.applyFrame(frame).gone : [];
      const before = slack().length;
      const report = await execute(config, env, 'json');
      const run: TimelineRun = {
        at: frame?.at ?? '0',
        atMs: offset,
        report,
        gone,
        messages: slack().slice(before),
      };
      const description = frame ? frame.description : undefined;
      if (description) run.description = description;
      const expect = frame ? frame.expect : snapshot.expect;
      if (expect) run.expect = expect;
      runs.push(run);
    }
    return { apiVersion: 'snatguard.io/v1', kind: 'TimelineReplay', snapshot: snapshot.metadata.name, runs };
  } finally {
    await sim.close();
  }
}

/** `--check` over a timeline: each run against its frame's expect (the snapshot's own for the first). */
export function checkTimeline(t: TimelineReplay): string[] {
  return t.runs.flatMap((r) => checkExpectations(r.report, r.expect ?? {}).map((d) => `at ${r.at}: ${d}`));
}

const indent = (text: string): string => text.replace(/^/gm, '    │ ');

/** One block per run: what it saw, decided and advised, then what chat received. */
export function renderTimeline(t: TimelineReplay): string {
  const out: string[] = [`snatguard replay --timeline ${t.snapshot}: ${t.runs.length} runs`, ''];
  for (const r of t.runs) {
    const rep = r.report;
    const hot = rep.nodes.filter((n) => n.hot).map((n) => n.name);
    out.push(`at +${r.at}${r.description ? ` — ${r.description}` : ''}`);
    out.push(`  hot nodes: ${hot.length > 0 ? hot.join(', ') : 'none'}`);
    // The fullest nodes (at least a fifth used), so a growing leak is visible before it is hot.
    const fullest = rep.nodes
      .flatMap((n) => n.signals.filter((x) => x.kind === 'snat-ports').map((x) => ({ n, x })))
      .filter(({ n, x }) => n.hot || (x.ratio ?? 0) >= 0.2)
      .sort((a, b) => (b.x.ratio ?? 0) - (a.x.ratio ?? 0))
      .slice(0, 5);
    for (const { n, x } of fullest)
      out.push(`    ${n.name}: SNAT ports ${x.used ?? '?'}/${x.allocated ?? '?'}`);
    for (const o of rep.offenders)
      out.push(`  offender: ${o.workload} on ${o.node}, ${o.snatSockets} SNAT sockets`);
    for (const a of rep.actions)
      out.push(`  action: ${a.kind} ${a.workload} ${a.status}${a.skipReason ? ` (${a.skipReason})` : ''}`);
    for (const rec of rep.recommendations) out.push(`  ${rec.severity} ${rec.id}: ${rec.title}`);
    for (const g of r.gone) out.push(`  (frame names ${g}: already replaced by a restart)`);
    if (rep.errors.length > 0) out.push(`  errors: ${rep.errors.length} (see -o json)`);
    for (const m of r.messages) out.push('  chat:', indent(m));
    out.push('');
  }
  return `${out.join('\n')}\n`;
}
