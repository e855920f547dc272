// Shared by the snapshot tests: what a run decides, a capture through `snatguard sim`'s environment lines
// (a fresh CLI process), and a replay in a fresh simulator.
import { simEnv } from '../../../src/hosts/cli/sim.js';
import type { RunReport } from '../../../src/model.js';
import type { Snapshot, SnapshotFrame } from '../../../src/sim/snapshot.js';
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
): Promise<{ text: string; code: number | null; stderr: string; writes: string[] }> {
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
    return { text: out.stdout, code: out.code, stderr: out.stderr, writes };
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
