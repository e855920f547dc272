// Start-up as a user feels it: the whole process of `snatguard --version`, `--help` and `sockets` on the
// incident's nine lines, next to `node -e 0` (and `kubectl version --client` when present), interleaved.
// Target: each ≤ 2× `node -e 0`.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/paths.js';
import {
  interleaved,
  measure,
  msRange,
  node,
  ratio,
  rounds,
  rss,
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
  const variants: Parameters<typeof interleaved>[0] = {
    'node -e 0': () => node(['-e', '0']),
    'snatguard --version': () => snatguard(['--version']),
    'snatguard --help': () => snatguard(['--help']),
    'snatguard sockets - (9 lines)': () => snatguard(['sockets', '-o', 'json', '-'], { input: nine }),
  };
  if (hasKubectl()) variants['kubectl version --client'] = () => measure('kubectl', ['version', '--client']);
  const r = await interleaved(variants, ROUNDS);
  const base = r['node -e 0']!;
  const rows: [string, string][] = [];
  for (const [name, samples] of Object.entries(r)) {
    const x = ratio(samples, base);
    const target = name.startsWith('snatguard') ? `  target ≤ 2.0× → ${verdict(x <= 2)}` : '';
    const bad = samples.some((s) => s.code !== 0) ? '  (a run exited non-zero!)' : '';
    rows.push([name, `${msRange(samples)}  ${x.toFixed(2)}× node -e 0  RSS ${rss(samples)}${target}${bad}`]);
  }
  table(`start-up, whole process (median [min–max] of ${ROUNDS} interleaved runs)`, rows);
}
