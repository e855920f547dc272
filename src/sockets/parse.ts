// Parser of /proc/net/tcp and /proc/net/tcp6 text (DESIGN.md, "/proc/net/tcp").
//
// The text comes from inside a pod: it is untrusted and can be huge. So the parser works on
// bytes (no per-line strings, splits or regexes), keeps at most one partial line between
// chunks (bounded), reports each socket through a reused record, and never throws on input:
// a line it cannot read is counted as malformed and skipped.
//
// Line format (net/ipv4/tcp_ipv4.c, net/ipv6/tcp_ipv6.c):
//   %4d: %08X:%04X %08X:%04X %02X %08X:%08X %02X:%08lX %08X %5u %8d %lu …
// tcp6 addresses are four %08X words. Each word is a host-endian u32: on the little-endian
// hosts Kubernetes runs on (x86-64, arm64) `0100007F` is 127.0.0.1.
import type { SocketEntry } from '../model.js';
import { formatIpv4, formatIpv6, isMappedV4 } from './address.js';
import { stateOf } from './states.js';

/** One socket line as numbers. The scanner reuses one record: copy what you keep. */
export interface RawSocket {
  sl: number;
  /** The line had 32-hex-digit addresses (it came from /proc/net/tcp6). */
  v6: boolean;
  /** The local address is IPv4 (tcp, or `::ffff:a.b.c.d` in tcp6); then it is in `local4`. */
  localV4: boolean;
  local4: number;
  /** The local address as four network-order words (tcp6 lines only). */
  local: Uint32Array;
  localPort: number;
  remoteV4: boolean;
  remote4: number;
  remote: Uint32Array;
  remotePort: number;
  /** Kernel state code (1 = ESTABLISHED, 10 = LISTEN …). */
  state: number;
  txQueue: number;
  rxQueue: number;
  timerActive: number;
  timerExpires: number;
  retransmits: number;
  uid: number;
  timeout: number;
  inode: number;
}

export interface ScanCounts {
  /** Socket lines: every non-blank line that is not a header (= parsed + malformed). */
  lines: number;
  parsed: number;
  malformed: number;
  /** Header lines (`  sl  local_address …`), wherever they were. */
  headers: number;
  bytes: number;
}

export type SocketVisitor = (socket: RawSocket) => void;

/** Longest line kept between chunks; real lines are under 200 bytes. Longer lines are malformed. */
export const MAX_LINE_BYTES = 4096;

const NL = 10;
const SPACE = 32;
const COLON = 58;

/** Hex digit value per byte, -1 when not a hex digit. */
const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[65 + c] = 10 + c;
  HEX[97 + c] = 10 + c;
}

const isBlank = (c: number) => c === SPACE || c === 9 || c === 13;

function newRecord(): RawSocket {
  return {
    sl: 0,
    v6: false,
    localV4: true,
    local4: 0,
    local: new Uint32Array(4),
    localPort: 0,
    remoteV4: true,
    remote4: 0,
    remote: new Uint32Array(4),
    remotePort: 0,
    state: 0,
    txQueue: 0,
    rxQueue: 0,
    timerActive: 0,
    timerExpires: 0,
    retransmits: 0,
    uid: 0,
    timeout: 0,
    inode: 0,
  };
}

// Results of the field readers below, kept in module variables to avoid allocating tuples.
let num = 0;

/** Reads 8 hex digits at i as a host-endian (little-endian) word; sets `num` to it in network order. */
function word(b: Uint8Array, i: number): boolean {
  const h0 = HEX[b[i] as number] as number;
  const h1 = HEX[b[i + 1] as number] as number;
  const h2 = HEX[b[i + 2] as number] as number;
  const h3 = HEX[b[i + 3] as number] as number;
  const h4 = HEX[b[i + 4] as number] as number;
  const h5 = HEX[b[i + 5] as number] as number;
  const h6 = HEX[b[i + 6] as number] as number;
  const h7 = HEX[b[i + 7] as number] as number;
  if ((h0 | h1 | h2 | h3 | h4 | h5 | h6 | h7) < 0) return false;
  num = (((h6 << 4) | h7) * 0x1000000 + (((h4 << 4) | h5) << 16) + (((h2 << 4) | h3) << 8) + ((h0 << 4) | h1)) >>> 0;
  return true;
}

/** Reads 1..max hex digits at i (stops at the first non-hex byte); returns the next index or -1. */
function hexRun(b: Uint8Array, i: number, end: number, max: number): number {
  let v = 0;
  let n = 0;
  while (i < end) {
    const h = HEX[b[i] as number] as number;
    if (h < 0) break;
    v = v * 16 + h;
    i++;
    if (++n > max) return -1;
  }
  if (n === 0) return -1;
  num = v;
  return i;
}

/** Skips spaces, then reads an optionally negative decimal of up to 20 digits; returns the next index or -1. */
function decimal(b: Uint8Array, i: number, end: number): number {
  while (i < end && b[i] === SPACE) i++;
  let neg = false;
  if (i < end && b[i] === 45) {
    neg = true;
    i++;
  }
  let v = 0;
  let n = 0;
  while (i < end) {
    const d = (b[i] as number) - 48;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
    i++;
    if (++n > 20) return -1;
  }
  if (n === 0) return -1;
  num = neg ? -v : v;
  return i;
}

/** Reads `ADDR:PORT` (8 or 32 hex digits for ADDR, exactly 4 for PORT) into the record. */
function endpoint(b: Uint8Array, i: number, end: number, r: RawSocket, remote: boolean): number {
  let v6: boolean;
  if (i + 13 <= end && b[i + 8] === COLON) v6 = false;
  else if (i + 37 <= end && b[i + 32] === COLON) v6 = true;
  else return -1;
  if (remote) {
    if (v6 !== r.v6) return -1;
  } else r.v6 = v6;
  let v4 = true;
  let value = 0;
  if (!v6) {
    if (!word(b, i)) return -1;
    value = num;
    i += 9;
  } else {
    const words = remote ? r.remote : r.local;
    for (let k = 0; k < 4; k++) {
      if (!word(b, i + 8 * k)) return -1;
      words[k] = num;
    }
    i += 33;
    v4 = isMappedV4(words[0] as number, words[1] as number, words[2] as number);
    value = words[3] as number;
  }
  const p0 = HEX[b[i] as number] as number;
  const p1 = HEX[b[i + 1] as number] as number;
  const p2 = HEX[b[i + 2] as number] as number;
  const p3 = HEX[b[i + 3] as number] as number;
  if ((p0 | p1 | p2 | p3) < 0) return -1;
  const port = (p0 << 12) | (p1 << 8) | (p2 << 4) | p3;
  if (remote) {
    r.remoteV4 = v4;
    r.remote4 = value;
    r.remotePort = port;
  } else {
    r.localV4 = v4;
    r.local4 = value;
    r.localPort = port;
  }
  return i + 4;
}

// What a line was (plain numbers: the hot path returns one per line).
const BLANK = 0;
const SOCKET = 1;
const HEADER = 2;
const MALFORMED = 3;
type LineKind = typeof BLANK | typeof SOCKET | typeof HEADER | typeof MALFORMED;

/** Every header line starts with this (after its leading spaces), in tcp and tcp6 alike. */
const HEADER_START = Buffer.from('sl  local_address', 'latin1');

function isHeader(b: Uint8Array, i: number, end: number): boolean {
  if (end - i < HEADER_START.length) return false;
  for (let k = 0; k < HEADER_START.length; k++) if (b[i + k] !== HEADER_START[k]) return false;
  return true;
}

/** Parses the line b[start, end) (without its newline) into r. */
function parseLine(b: Uint8Array, start: number, end: number, r: RawSocket): LineKind {
  let i = start;
  while (i < end && isBlank(b[i] as number)) i++;
  if (i === end) return BLANK;
  if (b[i] === 115 /* s */ && isHeader(b, i, end)) return HEADER;
  // sl
  let sl = 0;
  let n = 0;
  while (i < end) {
    const d = (b[i] as number) - 48;
    if (d < 0 || d > 9) break;
    sl = sl * 10 + d;
    i++;
    n++;
  }
  if (n === 0 || n > 15 || b[i] !== COLON) return MALFORMED;
  r.sl = sl;
  i++;
  if (b[i] !== SPACE) return MALFORMED;
  while (i < end && b[i] === SPACE) i++;
  i = endpoint(b, i, end, r, false);
  if (i < 0 || b[i] !== SPACE) return MALFORMED;
  i = endpoint(b, i + 1, end, r, true);
  if (i < 0 || b[i] !== SPACE) return MALFORMED;
  // st
  if (i + 3 >= end) return MALFORMED;
  const s0 = HEX[b[i + 1] as number] as number;
  const s1 = HEX[b[i + 2] as number] as number;
  if ((s0 | s1) < 0 || b[i + 3] !== SPACE) return MALFORMED;
  r.state = (s0 << 4) | s1;
  // tx_queue:rx_queue
  i = hexRun(b, i + 4, end, 8);
  if (i < 0 || b[i] !== COLON) return MALFORMED;
  r.txQueue = num;
  i = hexRun(b, i + 1, end, 8);
  if (i < 0 || b[i] !== SPACE) return MALFORMED;
  r.rxQueue = num;
  // tr:tm->when (%08lX: 16 digits when the long is negative)
  i = hexRun(b, i + 1, end, 2);
  if (i < 0 || b[i] !== COLON) return MALFORMED;
  r.timerActive = num;
  i = hexRun(b, i + 1, end, 16);
  if (i < 0 || b[i] !== SPACE) return MALFORMED;
  r.timerExpires = num;
  // retrnsmt
  i = hexRun(b, i + 1, end, 8);
  if (i < 0 || b[i] !== SPACE) return MALFORMED;
  r.retransmits = num;
  // uid, timeout, inode (decimal, space padded)
  i = decimal(b, i, end);
  if (i < 0 || b[i] !== SPACE) return MALFORMED;
  r.uid = num;
  i = decimal(b, i, end);
  if (i < 0 || b[i] !== SPACE) return MALFORMED;
  r.timeout = num;
  i = decimal(b, i, end);
  if (i < 0 || num < 0 || (i < end && !isBlank(b[i] as number))) return MALFORMED;
  r.inode = num;
  return SOCKET;
}

/**
 * Streaming scanner: push chunks (lines may be split anywhere), then finish.
 * Memory: one record and at most one partial line ({@link MAX_LINE_BYTES}).
 */
export class ProcNetTcpScanner {
  readonly counts: ScanCounts = { lines: 0, parsed: 0, malformed: 0, headers: 0, bytes: 0 };
  private readonly record = newRecord();
  private carry: Uint8Array | null = null;
  /** Inside a line longer than MAX_LINE_BYTES: drop bytes until the next newline. */
  private skipping = false;

  constructor(private readonly visit: SocketVisitor) {}

  push(chunk: Uint8Array | string): void {
    const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    this.counts.bytes += b.length;
    let start = 0;
    if (this.carry !== null || this.skipping) {
      const nl = b.indexOf(NL);
      if (nl < 0) {
        this.hold(b, 0);
        return;
      }
      if (this.skipping) this.skipping = false;
      else if (this.carry !== null) {
        const line = new Uint8Array(this.carry.length + nl);
        line.set(this.carry, 0);
        line.set(b.subarray(0, nl), this.carry.length);
        this.carry = null;
        this.line(line, 0, line.length);
      }
      start = nl + 1;
    }
    const last = b.lastIndexOf(NL);
    if (last >= start) {
      this.lines(b, start, last);
      start = last + 1;
    }
    if (start < b.length) this.hold(b, start);
  }

  /** Ends the input: a last line without a newline is parsed too. */
  finish(): ScanCounts {
    if (this.carry !== null) {
      const line = this.carry;
      this.carry = null;
      this.line(line, 0, line.length);
    }
    this.skipping = false;
    return this.counts;
  }

  private hold(b: Uint8Array, from: number): void {
    if (this.skipping) return;
    const held = this.carry?.length ?? 0;
    if (held + b.length - from > MAX_LINE_BYTES) {
      this.carry = null;
      this.skipping = true;
      this.counts.lines++;
      this.counts.malformed++;
      return;
    }
    const next = new Uint8Array(held + b.length - from);
    if (this.carry !== null) next.set(this.carry, 0);
    next.set(b.subarray(from), held);
    this.carry = next;
  }

  /** Complete lines b[start, last) where b[last] is a newline. */
  private lines(b: Uint8Array, start: number, last: number): void {
    let i = start;
    while (i <= last) {
      let nl = b.indexOf(NL, i);
      if (nl < 0 || nl > last) nl = last;
      this.line(b, i, nl);
      i = nl + 1;
    }
  }

  private line(b: Uint8Array, start: number, end: number): void {
    if (end - start > MAX_LINE_BYTES) {
      this.counts.lines++;
      this.counts.malformed++;
      return;
    }
    const kind = parseLine(b, start, end, this.record);
    if (kind === SOCKET) {
      this.counts.lines++;
      this.counts.parsed++;
      this.visit(this.record);
    } else if (kind === MALFORMED) {
      this.counts.lines++;
      this.counts.malformed++;
    } else if (kind === HEADER) {
      this.counts.headers++;
    }
  }
}

/** Visits every socket of a whole text (both files may be concatenated). */
export function scanProcNetTcp(input: string | Uint8Array, visit: SocketVisitor): ScanCounts {
  const scanner = new ProcNetTcpScanner(visit);
  scanner.push(input);
  return scanner.finish();
}

/** Visits every socket of a stream of chunks (a file stream, an exec's stdout …). */
export async function scanProcNetTcpStream(
  chunks: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  visit: SocketVisitor,
): Promise<ScanCounts> {
  const scanner = new ProcNetTcpScanner(visit);
  for await (const chunk of chunks) scanner.push(chunk);
  return scanner.finish();
}

/** True when the input had something of /proc/net/tcp: a header or at least one socket line. */
export function looksLikeProcNetTcp(counts: ScanCounts): boolean {
  return counts.headers > 0 || counts.parsed > 0;
}

const addressText = (v4: boolean, value: number, words: Uint32Array): string =>
  v4 ? formatIpv4(value) : formatIpv6(words[0] as number, words[1] as number, words[2] as number, words[3] as number);

/** Copies the reused record into a {@link SocketEntry}; `::ffff:a.b.c.d` becomes `a.b.c.d`. */
export function toEntry(r: RawSocket): SocketEntry {
  return {
    sl: r.sl,
    table: r.v6 ? 'tcp6' : 'tcp',
    family: r.remoteV4 ? 'ipv4' : 'ipv6',
    localAddress: addressText(r.localV4, r.local4, r.local),
    localPort: r.localPort,
    remoteAddress: addressText(r.remoteV4, r.remote4, r.remote),
    remotePort: r.remotePort,
    state: stateOf(r.state),
    txQueue: r.txQueue,
    rxQueue: r.rxQueue,
    timerActive: r.timerActive,
    timerExpires: r.timerExpires,
    retransmits: r.retransmits,
    uid: r.uid,
    timeout: r.timeout,
    inode: r.inode,
  };
}

export interface ParsedProcNetTcp extends ScanCounts {
  entries: SocketEntry[];
}

/** Convenience: every socket as a {@link SocketEntry}. For big inputs prefer the visitor or the summary. */
export function parseProcNetTcp(input: string | Uint8Array): ParsedProcNetTcp {
  const entries: SocketEntry[] = [];
  const counts = scanProcNetTcp(input, (r) => entries.push(toEntry(r)));
  return { entries, ...counts };
}
