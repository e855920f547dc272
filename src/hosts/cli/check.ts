// replay --check: compares a RunReport with the snapshot's `expect` block (SNAPSHOT.md).
import type { RunReport } from '../../model.js';

export interface Expectations {
  hotNodes?: string[];
  restart?: string[];
  notRestart?: string[];
  recommendations?: string[];
  skips?: Record<string, string>;
}

/** Workloads the run restarted, or would have restarted in dry-run. */
export function restartedBy(report: RunReport): string[] {
  return report.actions
    .filter(
      (a) =>
        a.status === 'applied' || (a.status === 'planned' && (!a.skipReason || a.skipReason === 'DRY_RUN')),
    )
    .map((a) => a.workload)
    .sort();
}

const sameSet = (a: string[], b: string[]) =>
  a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);
const list = (xs: string[]) => (xs.length ? xs.join(', ') : '(none)');

/** One readable line per difference; empty when the report meets every expectation. */
export function checkExpectations(report: RunReport, expect: Expectations): string[] {
  const diffs: string[] = [];
  // A run that could not look meets no expectation, not even "do not restart X".
  if (report.status === 'failed')
    diffs.push(`status: the run failed, nothing was checked (${report.statusReason ?? 'unknown reason'})`);
  if (expect.hotNodes) {
    const hot = report.nodes.filter((n) => n.hot).map((n) => n.name);
    if (!sameSet(hot, expect.hotNodes))
      diffs.push(`hotNodes: expected ${list(expect.hotNodes)}, got ${list(hot)}`);
  }
  const restarted = restartedBy(report);
  if (expect.restart && !sameSet(restarted, expect.restart)) {
    diffs.push(`restart: expected exactly ${list(expect.restart)}, got ${list(restarted)}`);
  }
  for (const w of expect.notRestart ?? []) {
    if (restarted.includes(w)) diffs.push(`notRestart: ${w} was restarted`);
  }
  const ids = new Set(report.recommendations.map((r) => r.id));
  for (const id of expect.recommendations ?? []) {
    if (!ids.has(id as never)) diffs.push(`recommendations: expected ${id}, got ${list([...ids])}`);
  }
  for (const [workload, reason] of Object.entries(expect.skips ?? {})) {
    const action = report.actions.find((a) => a.workload === workload);
    if (!action) diffs.push(`skips: ${workload}: expected ${reason}, but it has no action`);
    else if (action.skipReason !== reason) {
      diffs.push(`skips: ${workload}: expected ${reason}, got ${action.skipReason ?? action.status}`);
    }
  }
  return diffs;
}
