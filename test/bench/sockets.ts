// `snatguard sockets -o json` on a 1,000,000-line /proc/net/tcp file (150 MB), whole process, next to awk
// counting the ESTABLISHED lines to one remote port in the same file and `cat` (the floor: reading it),
// interleaved. Targets: ≤ 0.6× awk, peak RSS ≤ 64 MB. Prints figures; asserts nothing.
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TCP_HEADER } from '../../src/sockets/index.js';
import {
  interleaved,
  measure,
  msRange,
  node22,
  peakRss,
  ratio,
  rounds,
  snatguard,
  table,
  verdict,
} from './proc.js';

const LINES = 1_000_000;
const ROUNDS = rounds(5);
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

const awk = (path: string) =>
  measure('sh', ['-c', `awk '$3 ~ /:6989$/ && $4 == "01"' "$1" | wc -l`, 'sh', path]);

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'snatguard-bench-'));
  try {
    const path = join(dir, 'tcp');
    const expectedHot = generate(path);
    const bytes = statSync(path).size;
    const n22 = node22();
    const r = await interleaved(
      {
        snatguard: () => snatguard(['sockets', '-o', 'json', path]),
        awk: () => awk(path),
        cat: () => measure('sh', ['-c', 'cat "$1" >/dev/null', 'sh', path]),
        ...(n22 ? { snatguard22: () => snatguard(['sockets', '-o', 'json', path], {}, n22) } : {}),
      },
      ROUNDS,
    );
    const ours = r.snatguard!;
    const last = JSON.parse(ours[ours.length - 1]!.stdout) as {
      lines: number;
      snatSockets: number;
      destinations: { port: number; byState: Record<string, number> }[];
    };
    const established = last.destinations.find((d) => d.port === HOT_PORT)?.byState.ESTABLISHED ?? 0;
    const awkCount = Number(r.awk![0]!.stdout.trim());
    const x = ratio(ours, r.awk!);
    const peak = peakRss(ours);
    table(
      `sockets: whole process on ${LINES.toLocaleString('en')} lines, ${(bytes / 1e6).toFixed(1)} MB (median [min–max] of ${ROUNDS} interleaved runs)`,
      [
        ['snatguard sockets -o json FILE', msRange(ours)],
        ['awk count ESTABLISHED to :6989', msRange(r.awk!)],
        ['cat FILE >/dev/null (the floor)', msRange(r.cat!)],
        ['ratio snatguard / awk', `${x.toFixed(2)}  target ≤ 0.60 → ${verdict(x <= 0.6)}`],
        ['snatguard peak RSS', `${peak.toFixed(0)} MB  target ≤ 64 MB → ${verdict(peak <= 64)}`],
        ...((): [string, string][] => {
          const ours22 = r.snatguard22;
          if (!ours22)
            return [['on Node 22', 'not measured: set SNATGUARD_BENCH_NODE22 to a Node 22 binary']];
          const x22 = ratio(ours22, r.awk!);
          const peak22 = peakRss(ours22);
          const same = ours22.every((s) => s.code === 0 && s.stdout === ours[ours.length - 1]!.stdout);
          return [
            ['snatguard on Node 22 (production runtime)', msRange(ours22)],
            [
              '  ratio / awk, peak RSS',
              `${x22.toFixed(2)}  target ≤ 0.60 → ${verdict(x22 <= 0.6)}; ${peak22.toFixed(0)} MB  target ≤ 64 MB → ${verdict(peak22 <= 64)}`,
            ],
            ["  same JSON as on the machine's Node", same ? 'yes' : 'NO'],
          ];
        })(),
        [
          'counts agree (snatguard / awk / generated)',
          `${established === expectedHot && awkCount === expectedHot ? 'yes' : 'NO'} (${established} / ${awkCount} / ${expectedHot})`,
        ],
        ['lines parsed, SNAT-consuming sockets', `${last.lines}, ${last.snatSockets}`],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
