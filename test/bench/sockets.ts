// Benchmark: parse + summary of a 1,000,000-line /proc/net/tcp file with the CLI's streaming reader,
// next to `awk` counting ESTABLISHED lines to one remote port in the same file (issue 2's target:
// ratio ≤ 1.0). Prints figures; asserts nothing.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readChunks } from '../../src/hosts/cli/sockets.js';
import { createSummarizer, TCP_HEADER } from '../../src/sockets/index.js';

const LINES = 1_000_000;
const RUNS = 5;
const HOT_PORT = 27017; // 0x6989

const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, '0');
const hostWord = (a: number, b: number, c: number, d: number) =>
  hex(((d << 24) | (c << 16) | (b << 8) | a) >>> 0, 8);

/** Writes LINES socket lines as Linux does (padded to 149 columns): listeners, inbound, outbound. */
export function generate(path: string): number {
  const fd = openSync(path, 'w');
  let hot = 0;
  let rng = 0x2545f491;
  const next = () => {
    rng ^= rng << 13;
    rng ^= rng >>> 17;
    rng ^= rng << 5;
    return rng >>> 0;
  };
  const local = hostWord(10, 240, 0, 172);
  const states = ['01', '01', '01', '01', '06', '06', '02', '08'];
  let batch: string[] = [TCP_HEADER.padEnd(149)];
  for (let sl = 0; sl < LINES; sl++) {
    const r = next();
    let remote: string;
    let remotePort: number;
    let localPort: number;
    let state: string;
    if (sl < 20) {
      remote = '00000000';
      remotePort = 0;
      localPort = 8000 + sl;
      state = '0A';
    } else if (r % 10 < 3) {
      remote = hostWord(20, 103, 144, 194);
      remotePort = HOT_PORT;
      localPort = 32768 + (r % 28000);
      state = states[(r >>> 8) % states.length] ?? '01';
      if (state === '01') hot++;
    } else if (r % 10 < 5) {
      remote = hostWord(10, 240, (r >>> 8) & 255, (r >>> 16) & 255);
      remotePort = 32768 + ((r >>> 4) % 28000);
      localPort = 8000 + (r % 20); // inbound to a listener
      state = '01';
    } else {
      // 20,000 other public destinations (ip:port), as a busy node might reach.
      const d = (r >>> 4) % 20_000;
      remote = hostWord(20 + (d % 100), (d >>> 7) & 255, 7, 1 + (d % 200));
      remotePort = [443, 80, 5432, 6379][d % 4] ?? 443;
      localPort = 32768 + ((r >>> 3) % 28000);
      state = states[(r >>> 12) % states.length] ?? '01';
    }
    const line = `${String(sl).padStart(4)}: ${local}:${hex(localPort, 4)} ${remote}:${hex(remotePort, 4)} ${state} 00000000:00000000 00:00000000 00000000  1001        0 ${376439162 + sl} 2 0000000000000000 21 4 0 10 -1`;
    batch.push(line.padEnd(149));
    if (batch.length >= 10_000) {
      writeSync(fd, `${batch.join('\n')}\n`);
      batch = [];
    }
  }
  if (batch.length > 0) writeSync(fd, `${batch.join('\n')}\n`);
  closeSync(fd);
  return hot;
}

async function snatguard(
  path: string,
): Promise<{ ms: number; cpuMs: number; established: number; snat: number; lines: number }> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const summarizer = createSummarizer();
  for await (const chunk of readChunks(path)) summarizer.push(chunk);
  const summary = summarizer.finish();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const hot = summary.destinations.find((d) => d.port === HOT_PORT);
  return {
    ms,
    cpuMs: (used.user + used.system) / 1000,
    established: hot?.byState.ESTABLISHED ?? 0,
    snat: summary.snatSockets,
    lines: summary.lines,
  };
}

function awk(path: string): Promise<{ ms: number; count: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('sh', ['-c', `awk '$3 ~ /:6989$/ && $4 == "01"' "$1" | wc -l`, 'sh', path]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`awk exited ${code}`));
      else resolve({ ms: performance.now() - started, count: Number(out.trim()) });
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'snatguard-bench-'));
  try {
    const path = join(dir, 'tcp');
    const expectedHot = generate(path);
    const bytes = statSync(path).size;
    const rssBefore = process.resourceUsage().maxRSS;
    const ours: number[] = [];
    const theirs: number[] = [];
    let last = { ms: 0, cpuMs: 0, established: 0, snat: 0, lines: 0 };
    const cpus: number[] = [];
    let awkCount = 0;
    for (let i = 0; i < RUNS; i++) {
      last = await snatguard(path);
      ours.push(last.ms);
      cpus.push(last.cpuMs);
      const a = await awk(path);
      theirs.push(a.ms);
      awkCount = a.count;
    }
    const rssDeltaMb = (process.resourceUsage().maxRSS - rssBefore) / 1024;
    const ms = median(ours);
    const awkMs = median(theirs);
    const agree = last.established === expectedHot && awkCount === expectedHot ? 'yes' : 'NO';
    const rows: [string, string][] = [
      ['file', `${LINES.toLocaleString('en')} lines, ${(bytes / 1e6).toFixed(1)} MB`],
      ['snatguard parse+summary (median of 5)', `${ms.toFixed(0)} ms (CPU ${median(cpus).toFixed(0)} ms)`],
      [
        '  throughput',
        `${(((LINES / ms) * 1000) / 1e6).toFixed(2)} M lines/s, ${(((bytes / ms) * 1000) / 1e6).toFixed(0)} MB/s`,
      ],
      ['  peak RSS delta', `${rssDeltaMb.toFixed(1)} MB`],
      ['  SNAT-consuming sockets', String(last.snat)],
      ['awk count ESTABLISHED to :6989 (median of 5)', `${awkMs.toFixed(0)} ms`],
      [
        'counts agree (snatguard / awk / generated)',
        `${agree} (${last.established} / ${awkCount} / ${expectedHot})`,
      ],
      ['ratio snatguard / awk (target <= 1.0)', (ms / awkMs).toFixed(2)],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    console.log('\nsockets: /proc/net/tcp parse + summary vs awk');
    for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
