// Pure: conntrack readings per node + the counters of the last run → findings and the new state.
import type { ConntrackReading, NodeReport, RunState } from '../model.js';

export type NodeConntrack = NonNullable<NodeReport['conntrack']>;

export interface ConntrackFinding {
  node: string;
  ratio: number;
  /** Why: `conntrack 1190/1200 (99% ≥ 90%)`, `insert_failed grew by 12 since the last run`. */
  reasons: string[];
}

export interface ConntrackResult {
  /** For NodeReport.conntrack, by node. */
  nodes: Map<string, NodeConntrack>;
  /** Nodes with a finding, ordered by node name. */
  findings: ConntrackFinding[];
  /** The new RunState.conntrack: this run's counters plus earlier entries younger than maxAgeMs. */
  state: RunState['conntrack'];
}

/** Earlier counters of nodes not read this run are kept this long (nodes come and go). */
export const CONNTRACK_STATE_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/** A counter that went down was reset (node reboot, netns recreated): count the growth as 0. */
const growth = (now: number, before: number | undefined): number | undefined =>
  before === undefined ? undefined : Math.max(0, now - before);

export function conntrackFindings(
  readings: ReadonlyMap<string, ConntrackReading>,
  previous: RunState['conntrack'],
  thresholds: { conntrackUsedRatio: number },
  now: Date,
  maxAgeMs: number = CONNTRACK_STATE_MAX_AGE_MS,
): ConntrackResult {
  const nodes = new Map<string, NodeConntrack>();
  const findings: ConntrackFinding[] = [];
  const state: RunState['conntrack'] = {};
  for (const [node, before] of Object.entries(previous)) {
    const at = Date.parse(before.at);
    if (Number.isFinite(at) && now.getTime() - at <= maxAgeMs && !readings.has(node)) state[node] = before;
  }
  for (const node of [...readings.keys()].sort()) {
    const r = readings.get(node)!;
    const before = previous[node];
    const ratio = r.max > 0 ? r.count / r.max : 0;
    const insertFailedDelta = growth(r.insertFailed, before?.insertFailed);
    const dropDelta = growth(r.drop, before?.drop);
    const entry: NodeConntrack = { ...r, ratio };
    if (insertFailedDelta !== undefined) entry.insertFailedDelta = insertFailedDelta;
    if (dropDelta !== undefined) entry.dropDelta = dropDelta;
    nodes.set(node, entry);
    state[node] = {
      insertFailed: r.insertFailed,
      drop: r.drop,
      earlyDrop: r.earlyDrop,
      at: now.toISOString(),
    };

    const reasons: string[] = [];
    if (r.max > 0 && ratio >= thresholds.conntrackUsedRatio) {
      reasons.push(
        `conntrack ${r.count}/${r.max} (${Math.round(ratio * 100)}% ≥ ${Math.round(thresholds.conntrackUsedRatio * 100)}%)`,
      );
    }
    if (insertFailedDelta) reasons.push(`insert_failed grew by ${insertFailedDelta} since the last run`);
    if (dropDelta) reasons.push(`drop grew by ${dropDelta} since the last run`);
    if (reasons.length > 0) findings.push({ node, ratio, reasons });
  }
  return { nodes, findings, state };
}
