// /proc/net/stat/nf_conntrack and the nf_conntrack sysctls (DESIGN.md, "Conntrack"):
// hex per-CPU rows, columns found by header name (old and new kernels name them differently),
// `entries` repeats on every row (never summed), the error counters are summed over CPUs.

import { SnatguardError } from '../errors.js';
import type { ConntrackReading } from '../model.js';

export class ConntrackParseError extends SnatguardError {}

export interface ConntrackStat {
  /** Rows (CPUs) in the table. */
  cpus: number;
  entries: number;
  insertFailed: number;
  drop: number;
  earlyDrop: number;
  invalid: number;
  /** Every column, summed over CPUs (except `entries`, taken from the first row). */
  columns: Record<string, number>;
}

/** The header of kernels 5.13 and later. Older kernels have `searched` and `delete_list`. */
export const CONNTRACK_STAT_HEADER =
  'entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart';

const isHex = (s: string) => /^[0-9a-fA-F]{1,16}$/.test(s);

/** Parses the table; throws {@link ConntrackParseError} if there is no header or no valid row. */
export function parseConntrackStat(text: string): ConntrackStat {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => /(^|\s)entries(\s|$)/.test(l));
  if (at < 0) throw new ConntrackParseError('nf_conntrack stat: no header line naming "entries"');
  const names = (lines[at] ?? '').trim().split(/\s+/);
  const columns: Record<string, number> = {};
  let cpus = 0;
  for (const line of lines.slice(at + 1)) {
    const cells = line.trim().split(/\s+/);
    if (cells.length !== names.length || !cells.every(isHex)) continue;
    names.forEach((name, i) => {
      const value = Number.parseInt(cells[i] ?? '0', 16);
      if (name === 'entries') {
        if (cpus === 0) columns[name] = value;
      } else {
        columns[name] = (columns[name] ?? 0) + value;
      }
    });
    cpus++;
  }
  if (cpus === 0) throw new ConntrackParseError('nf_conntrack stat: header but no per-CPU rows');
  return {
    cpus,
    entries: columns.entries ?? 0,
    insertFailed: columns.insert_failed ?? 0,
    drop: columns.drop ?? 0,
    earlyDrop: columns.early_drop ?? 0,
    invalid: columns.invalid ?? 0,
    columns,
  };
}

/**
 * Parses `cat nf_conntrack_count nf_conntrack_max nf_conntrack_tcp_be_liberal /proc/net/stat/nf_conntrack`:
 * the decimal numbers before the table, then the table. Without `tcp_be_liberal` (two numbers) it is false.
 */
export function parseConntrackProbe(text: string): ConntrackReading {
  const lines = text.split('\n').map((l) => l.trim());
  const numbers: number[] = [];
  for (const line of lines) {
    if (line === '') continue;
    if (!/^\d+$/.test(line)) break;
    numbers.push(Number(line));
  }
  const [count, max, beLiberal] = numbers;
  if (count === undefined || max === undefined) {
    throw new ConntrackParseError(
      'conntrack probe: expected nf_conntrack_count and nf_conntrack_max before the stat table',
    );
  }
  const stat = parseConntrackStat(text);
  return {
    count,
    max,
    beLiberal: (beLiberal ?? 0) !== 0,
    insertFailed: stat.insertFailed,
    drop: stat.drop,
    earlyDrop: stat.earlyDrop,
    invalid: stat.invalid,
  };
}

const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');

/** Renders the table as a kernel with `cpus` CPUs would; counters are spread over the rows. */
export function renderConntrackStat(
  r: { entries: number; insertFailed: number; drop: number; earlyDrop: number; invalid?: number },
  cpus = 2,
): string {
  const n = Math.max(1, Math.floor(cpus));
  const share = (total: number, row: number) => Math.floor(total / n) + (row === 0 ? total % n : 0);
  const names = CONNTRACK_STAT_HEADER.split(/\s+/);
  const rows: string[] = [CONNTRACK_STAT_HEADER];
  for (let row = 0; row < n; row++) {
    const value = (name: string): number => {
      switch (name) {
        case 'entries':
          return r.entries;
        case 'insert_failed':
          return share(r.insertFailed, row);
        case 'drop':
          return share(r.drop, row);
        case 'early_drop':
          return share(r.earlyDrop, row);
        case 'invalid':
          return share(r.invalid ?? 0, row);
        default:
          return 0;
      }
    };
    // As the kernel prints it: two spaces after `entries` and before `expect_new`.
    const cells = names.map((name) => hex8(value(name)));
    rows.push(`${cells[0]}  ${cells.slice(1, 13).join(' ')}  ${cells.slice(13).join(' ')}`);
  }
  return `${rows.join('\n')}\n`;
}

/** The probe's whole output: count, max, tcp_be_liberal, then the stat table. */
export function renderConntrackProbe(r: ConntrackReading & { entries?: number }, cpus = 2): string {
  return (
    `${r.count}\n${r.max}\n${r.beLiberal ? 1 : 0}\n` +
    renderConntrackStat(
      {
        entries: r.entries ?? r.count,
        insertFailed: r.insertFailed,
        drop: r.drop,
        earlyDrop: r.earlyDrop,
        invalid: r.invalid,
      },
      cpus,
    )
  );
}
