// `snatguard replay --timeline`: the job at each frame, clock advanced, state carried by the simulator's
// own ConfigMap. The examples carry the early warning (forecast, drift) the issue asks to show.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { program } from '../../../src/hosts/cli/program.js';
import { checkTimeline, replayTimeline, type TimelineReplay } from '../../../src/hosts/cli/timeline.js';
import { createLogger } from '../../../src/log.js';
import { examplePath } from '../../../src/paths.js';
import { loadSnapshot } from '../../../src/sim/snapshot.js';

const log = createLogger({ level: 'silent' });
let out: string;
let err: string;
beforeEach(() => {
  out = '';
  err = '';
  process.exitCode = undefined;
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err += String(s);
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

async function cli(...args: string[]): Promise<number> {
  try {
    await program().parseAsync(args, { from: 'user' });
  } catch {
    if (process.exitCode === undefined) process.exitCode = 2;
  }
  return Number(process.exitCode ?? 0);
}

const FORECAST = 'aks-leak-forecast.yaml';
const DRIFT = 'aks-scale-out-drift.yaml';
const LEAK_NODE = 'aks-nodepool1-27182818-vmss000000';
const minutes = (at: string): number => Number(/^(\d+)m$/.exec(at)?.[1] ?? 0);

describe('replay --timeline', () => {
  it('every example with a timeline meets each frame’s expect; the leak is forecast ≥ 15 min before hot', async () => {
    const withTimeline = [];
    for (const f of readdirSync('examples').filter((x) => /\.ya?ml$/.test(x)))
      if ((await loadSnapshot(join('examples', f))).timeline) withTimeline.push(f);
    expect(withTimeline).toEqual(expect.arrayContaining([FORECAST, DRIFT]));
    const replays = new Map<string, TimelineReplay>();
    for (const f of withTimeline) {
      out = '';
      expect(await cli('replay', examplePath(f), '--timeline', '--check', '-o', 'json')).toBe(0);
      expect(err).toContain("every run meets its frame's expectations");
      replays.set(f, JSON.parse(out) as TimelineReplay);
    }
    const t = replays.get(FORECAST)!;
    expect(t.kind).toBe('TimelineReplay');
    expect(checkTimeline(t)).toEqual([]);

    const first = t.runs.find((r) =>
      r.report.recommendations.some((x) => x.id === 'SNAT_EXHAUSTION_FORECAST'),
    );
    const hot = t.runs.find((r) => r.report.nodes.some((n) => n.name === LEAK_NODE && n.hot));
    expect(first?.at).toBe('30m');
    expect(hot?.at).toBe('70m');
    expect(minutes(hot!.at) - minutes(first!.at)).toBeGreaterThanOrEqual(15);
    const rec = first!.report.recommendations.find((x) => x.id === 'SNAT_EXHAUSTION_FORECAST')!;
    expect(rec).toMatchObject({ workload: 'shop/Deployment/orders-api', node: LEAK_NODE });
    expect(rec.detail).toContain('10 sockets/min');
    // Never a restart for a forecast alone (rails.preemptive false): no action before the node is hot.
    for (const r of t.runs.filter((x) => minutes(x.at) < 70)) expect(r.report.actions).toEqual([]);
    // The notify dedup state is carried by the ConfigMap: the forecast is sent once, not at every run.
    const sent = t.runs.filter((r) => r.messages.some((m) => m.includes('SNAT_EXHAUSTION_FORECAST')));
    expect(sent.map((r) => r.at)).toEqual(['30m']);

    // Allocation drift: a scale-out across the default-table step, with its cause.
    const [before, , after] = replays.get(DRIFT)!.runs;
    expect(before!.report.recommendations.map((r) => r.id)).not.toContain('SNAT_ALLOCATION_DRIFT');
    const drift = after!.report.recommendations.find((r) => r.id === 'SNAT_ALLOCATION_DRIFT');
    expect(drift?.title).toBe('SNAT ports per node dropped from 1,024 to 512 on 50 nodes');
    expect(drift?.detail).toContain('scale-out from 50 to 51 nodes');
    expect(drift?.detail).toContain('AKS#1673');
  });

  it('rails.preemptive: true restarts on the forecast, through the same rails', async () => {
    const snapshot = await loadSnapshot(examplePath(FORECAST));
    snapshot.timeline = snapshot.timeline!.slice(0, 4); // up to +40m
    const config = loadConfig({
      env: {},
      flags: { mode: 'restart', 'rails.preemptive': true, 'rails.settleMinutes': 0 },
    });
    const t = await replayTimeline(snapshot, config, log);
    const at30 = t.runs.find((r) => r.at === '30m')!;
    expect(at30.report.actions).toEqual([
      expect.objectContaining({ workload: 'shop/Deployment/orders-api', status: 'applied' }),
    ]);
    expect(at30.report.actions[0]!.reason).toContain('forecast');
    // The restart replaced the leaking pod: the next frame's change to it has nothing to act on, and the
    // new pods hold 10 sockets: no forecast, no restart.
    const at40 = t.runs.find((r) => r.at === '40m')!;
    expect(at40.gone).toEqual(['shop/orders-api-69875496f8-8bj4f']);
    expect(at40.report.actions).toEqual([]);
  });

  it('a timeline with a bad frame is refused with every problem and its path', async () => {
    const { parseSnapshot } = await import('../../../src/sim/snapshot.js');
    const text = `apiVersion: snatguard.io/v1
kind: Snapshot
metadata: { name: t }
nodes: [{ name: n1 }]
workloads:
  - { kind: Deployment, namespace: a, name: w, pods: [{ name: w-abc12-xyz98, node: n1 }] }
timeline:
  - { at: 5m, pods: [{ pod: a/nope, sockets: [] }] }
  - { at: 5m, removeNodes: [n9] }
  - { at: soon, expect: { hotNodes: [n7] } }
`;
    expect(() => parseSnapshot(text, 't.yaml')).toThrow(
      /timeline\[0\]\.pods\[0\]\.pod: unknown pod "a\/nope"[\s\S]*timeline\[1\]\.at: 5m must come after[\s\S]*timeline\[1\]\.removeNodes\[0\]: unknown node "n9"[\s\S]*timeline\[2\]\.at: "soon" is not an offset[\s\S]*timeline\[2\]\.expect\.hotNodes\[0\]: unknown node "n7"/,
    );
  });
});
