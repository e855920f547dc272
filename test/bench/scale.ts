// Replay at scale, whole process: `snatguard replay FILE.json -o json` on generated AKS clusters of 30,
// 1,000 and 3,000 nodes with 3 hot nodes, peak RSS, errors; 3,000 nodes again with the other core busy.
// Then the scan economy (in process, counting the simulator's request log): Kubernetes requests against
// execs + hot nodes, and cloud requests, at 30 and 1,000 nodes.
// Targets: 1,000 nodes ≤ 1.3× the 30-node time, peak RSS ≤ 400 MB; 3,000 nodes ≤ 2× with zero errors.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../src/cluster/connect.js';
import { compose } from '../../src/compose.js';
import { loadConfig } from '../../src/config/index.js';
import { configForSnapshot } from '../../src/hosts/cli/run-commands.js';
import { simPressureTargets } from '../../src/hosts/cli/sim-targets.js';
import { createLogger } from '../../src/log.js';
import { runScan } from '../../src/run.js';
import { fetchTrusting } from '../../src/sim/fetch.js';
import { startSim } from '../../src/sim/server.js';
import { parseSnapshot } from '../../src/sim/snapshot.js';
import {
  interleaved,
  median,
  msRange,
  peakRss,
  rounds,
  type Sample,
  snatguard,
  table,
  verdict,
  withBusyCore,
} from './proc.js';
import { scaleSnapshot } from './snapshots.js';

const SIZES = [
  { nodes: 30, pods: 900 },
  { nodes: 1000, pods: 30_000 },
  { nodes: 3000, pods: 100_000 },
] as const;
const HOT = 3;
/** The "small constant" of the scan economy target: lease, state, node list, pod lists, a few more. */
const SMALL = 16;

interface Outcome {
  hot: number;
  errors: number;
  inspected: number;
  status: string;
}
function outcome(s: Sample): Outcome {
  try {
    const r = JSON.parse(s.stdout) as {
      status?: string;
      nodes: { hot: boolean; podsInspected: number }[];
      errors: unknown[];
    };
    return {
      hot: r.nodes.filter((n) => n.hot).length,
      errors: r.errors.length,
      inspected: r.nodes.reduce((n, x) => n + x.podsInspected, 0),
      status: r.status ?? '?',
    };
  } catch {
    return { hot: 0, errors: -1, inspected: 0, status: `exit ${s.code}: ${s.stderr.split('\n')[0]}` };
  }
}

async function economy(file: string, text: string): Promise<string> {
  const snapshot = parseSnapshot(text, file);
  const sim = await startSim(snapshot, {});
  const log = createLogger({ level: 'silent' });
  try {
    const config = configForSnapshot(await loadConfig({ env: {} }), snapshot);
    const kubeConfig = await connect({ kind: 'kubeconfig', path: sim.jobKubeconfigPath }, { log });
    const deps = await compose(config, {
      kubeConfig,
      log,
      world: sim.world,
      pressure: simPressureTargets(sim),
      fetch: fetchTrusting(sim.ca),
    });
    const before = sim.world.requests.length;
    const report = await runScan(config, deps, new AbortController().signal);
    const requests = sim.world.requests.slice(before);
    const kube = requests.filter((r) => r.service === 'kube');
    const execs = kube.filter((r) => r.path.includes('/exec')).length;
    const cloud = requests.filter((r) => r.service === 'azure' || r.service === 'aws').length;
    const hot = report.nodes.filter((n) => n.hot).length;
    if (process.env.SNATGUARD_BENCH_ECONOMY_DETAIL) {
      const by = new Map<string, number>();
      for (const r of kube.filter((x) => !x.path.includes('/exec'))) {
        const k = `${r.method} ${r.path.replace(/\?.*$/, '')}`;
        by.set(k, (by.get(k) ?? 0) + 1);
      }
      console.log([...by].map(([k, n]) => `  ${n} ${k}`).join('\n'));
    }
    const other = kube.length - execs;
    const beyond = other - hot;
    return `Kubernetes ${kube.length} = ${execs} execs + ${other} other (hot nodes ${hot}: ${beyond} beyond them; target ≤ execs + hot nodes + ${SMALL} → ${verdict(beyond <= SMALL)}); cloud ${cloud} for 1 load balancer (target O(load balancers) → ${verdict(cloud <= 8)})`;
  } finally {
    await sim.close();
  }
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'snatguard-bench-scale-'));
  try {
    const files = SIZES.map(({ nodes, pods }) => {
      const file = join(dir, `scale-${nodes}.json`);
      writeFileSync(file, JSON.stringify(scaleSnapshot({ nodes, pods, hotNodes: HOT })));
      return file;
    });
    const replay = (file: string) => () => snatguard(['replay', file, '-o', 'json'], { keepStdout: 8 << 20 });
    const r = await interleaved({ n30: replay(files[0]!), n1000: replay(files[1]!) }, rounds(3));
    // As many runs as the others (one with --quick): a single busy run's ratio varied 1.82–2.06× between runs.
    const big = await interleaved({ n3000: replay(files[2]!) }, rounds(3));
    const busy = await withBusyCore(() =>
      interleaved({ n3000busy: replay(files[2]!), n30busy: replay(files[0]!) }, rounds(3)),
    );
    const base = median(r.n30!.map((s) => s.ms));
    const line = (samples: Sample[], ref: number, target?: number): string => {
      const o = outcome(samples[0]!);
      // Zero errors in every run (a report that does not parse counts as one).
      const errors = samples.map((s) => outcome(s).errors).reduce((a, e) => a + (e < 0 ? 1 : e), 0);
      const x = median(samples.map((s) => s.ms)) / ref;
      const t = target === undefined ? '' : `  target ≤ ${target}× → ${verdict(x <= target && errors === 0)}`;
      return `${msRange(samples)}  ${x.toFixed(2)}× 30-node  RSS ${peakRss(samples).toFixed(0)} MB  ${o.hot} hot, ${o.inspected} pods inspected, ${errors} errors, ${o.status}${t}`;
    };
    const rss1000 = peakRss(r.n1000!);
    table(
      'replay at scale, whole process (3 hot nodes; median [min–max]; errors: all runs; RSS: the largest process of a run, scanner or its simulator)',
      [
        [`30 nodes / 900 pods (${r.n30!.length} runs)`, line(r.n30!, base)],
        [`1,000 nodes / 30k pods (${r.n1000!.length} runs)`, line(r.n1000!, base, 1.3)],
        ['  peak RSS, 1,000 nodes', `${rss1000.toFixed(0)} MB  target ≤ 400 MB → ${verdict(rss1000 <= 400)}`],
        [`3,000 nodes / 100k pods (${big.n3000!.length} runs)`, line(big.n3000!, base, 2)],
        [
          `3,000 nodes, other core busy (${busy.n3000busy!.length} runs)`,
          line(busy.n3000busy!, median(busy.n30busy!.map((s) => s.ms)), 2),
        ],
        [
          `30 nodes, other core busy (${busy.n30busy!.length} runs)`,
          line(busy.n30busy!, median(busy.n30busy!.map((s) => s.ms))),
        ],
      ],
    );
    await economyTable(files);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function economyTable(files: string[]): Promise<void> {
  const { readFileSync } = await import('node:fs');
  table('scan economy (one run each, requests from the simulator log)', [
    ['30 nodes', await economy(files[0]!, readFileSync(files[0]!, 'utf8'))],
    ['1,000 nodes', await economy(files[1]!, readFileSync(files[1]!, 'utf8'))],
  ]);
}

/** `npm run bench -- economy`: the scan economy alone (30 and 1,000 nodes, no replays). */
export async function runEconomy(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'snatguard-bench-economy-'));
  try {
    const files = SIZES.slice(0, 2).map(({ nodes, pods }) => {
      const file = join(dir, `scale-${nodes}.json`);
      writeFileSync(file, JSON.stringify(scaleSnapshot({ nodes, pods, hotNodes: HOT })));
      return file;
    });
    await economyTable(files);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
