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
import { formatIpv4, formatIpv6 } from './address.js';
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

export function newRecord(): RawSocket {
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

/** Every header line starts with this (after its leading spaces), in tcp and tcp6 alike. */
const HEADER_START = Buffer.from('sl  local_address', 'latin1');

function isHeader(b: Uint8Array, i: number): boolean {
  for (let k = 0; k < HEADER_START.length; k++) if (b[i + k] !== HEADER_START[k]) return false;
  return true;
}

/**
 * 8 hex digits at i, a host-endian (little-endian) u32 → the word in network order, or -1.
 * A newline among the 8 bytes makes it -1, so reads never run past the current line's end
 * by more than 7 bytes (and a line is always newline-terminated here).
 */
function hostWord(b: Uint8Array, i: number): number {
  const h0 = HEX[b[i] as number] as number;
  const h1 = HEX[b[i + 1] as number] as number;
  const h2 = HEX[b[i + 2] as number] as number;
  const h3 = HEX[b[i + 3] as number] as number;
  const h4 = HEX[b[i + 4] as number] as number;
  const h5 = HEX[b[i + 5] as number] as number;
  const h6 = HEX[b[i + 6] as number] as number;
  const h7 = HEX[b[i + 7] as number] as number;
  if ((h0 | h1 | h2 | h3 | h4 | h5 | h6 | h7) < 0) return -1;
  return (
    ((((h6 << 4) | h7) << 24) | (((h4 << 4) | h5) << 16) | (((h2 << 4) | h3) << 8) | ((h0 << 4) | h1)) >>> 0
  );
}

/** 32 hex digits at i (four host-endian words) into `words`, in network order. Kept out of scanLines so that its word reads are inlined. */
function address6(b: Uint8Array, i: number, words: Uint32Array): boolean {
  for (let k = 0; k < 4; k++) {
    const w = hostWord(b, i + 8 * k);
    if (w < 0) return false;
    words[k] = w;
  }
  return true;
}

const isMapped = (w: Uint32Array): boolean => w[0] === 0 && w[1] === 0 && w[2] === 0xffff;

/** 4 hex digits at i (a port), or -1. */
function port4(b: Uint8Array, i: number): number {
  const p0 = HEX[b[i] as number] as number;
  const p1 = HEX[b[i + 1] as number] as number;
  const p2 = HEX[b[i + 2] as number] as number;
  const p3 = HEX[b[i + 3] as number] as number;
  if ((p0 | p1 | p2 | p3) < 0) return -1;
  return (p0 << 12) | (p1 << 8) | (p2 << 4) | p3;
}

// The fast path reads 4 bytes at a time: a DataView's getInt32(i, true) is one unaligned load, the
// first byte in the low 8 bits. These take such a word of 4 ASCII bytes.

/** 0 when the 4 bytes of `w` are all hex digits (0-9, A-F, a-f), nonzero otherwise (SWAR). */
function notHex4(w: number): number {
  const lower = w | 0x20202020;
  // Per byte (all below 0x80, else the last term is nonzero): bit 7 of x + (0x80 - lo) is x ≥ lo.
  const digit = (w + 0x50505050) & ~(w + 0x46464646); // 0x30 ≤ x < 0x3a
  const letter = (lower + 0x1f1f1f1f) & ~(lower + 0x19191919); // 0x61 ≤ (x | 0x20) < 0x67
  return (((digit | letter) & 0x80808080) ^ 0x80808080) | (w & 0x80808080);
}

/** True when the 4 bytes of `w` are all decimal digits (0x30-0x39). */
function digits4(w: number): boolean {
  return (w & 0xf0f0f0f0) === 0x30303030 && ((w + 0x06060606) & 0xf0f0f0f0) === 0x30303030;
}

/** The value of 4 decimal digits (checked by {@link digits4}) read as one word: `1234` → 1234. */
function value4(w: number): number {
  const d = w - 0x30303030; // each byte 0-9, the first digit in the low byte
  const pairs = (Math.imul(d, 10) + (d >>> 8)) & 0x00ff00ff; // bytes 0 and 2: first and second pair
  return (pairs & 0xff) * 100 + (pairs >>> 16);
}

/** The value of 4 hex digits (checked by {@link notHex4}) read as one word: `1F90` → 0x1f90. */
function hex4(w: number): number {
  // A letter has bit 6 set: its nibble is its low 4 bits + 9.
  const n = (w & 0x0f0f0f0f) + ((w >>> 6) & 0x01010101) * 9;
  const t = ((n << 4) | (n >>> 8)) & 0x00ff00ff; // digit pairs in bytes 0 and 2
  return ((t & 0xff) << 8) | (t >>> 16);
}

/** 8 hex digits of a host-endian (little-endian) u32, as two words → the u32 in network order. */
function hostWord2(a: number, b: number): number {
  const x = hex4(a); // digits 0-3: the address's bytes 0 and 1
  const y = hex4(b); // digits 4-7: bytes 2 and 3
  return (((y & 0xff) << 24) | ((y >>> 8) << 16) | ((x & 0xff) << 8) | (x >>> 8)) >>> 0;
}

/** tx_queue:rx_queue tr:tm->when retrnsmt as hex runs of any width; returns the index after them or -1. */
function slowCounters(b: Uint8Array, start: number, r: RawSocket): number {
  const values: number[] = [];
  let i = start;
  // [max digits, separator after the field]
  const fields: [number, number][] = [
    [8, COLON],
    [8, SPACE],
    [2, COLON],
    [16, SPACE],
    [8, SPACE],
  ];
  for (const [max, separator] of fields) {
    let v = 0;
    let n = 0;
    for (let h = HEX[b[i] as number] as number; h >= 0; h = HEX[b[i] as number] as number) {
      v = v * 16 + h;
      i++;
      n++;
    }
    if (n === 0 || n > max || b[i] !== separator) return -1;
    values.push(v);
    i++;
  }
  [r.txQueue, r.rxQueue, r.timerActive, r.timerExpires, r.retransmits] = values as [
    number,
    number,
    number,
    number,
    number,
  ];
  // The caller expects to stand on the space after retrnsmt.
  return i - 1;
}

/** "00000000" read as a little-endian double. */
const ZEROS8 = new DataView(new TextEncoder().encode('00000000').buffer).getFloat64(0, true);

/**
 * The last tcp local and remote address read by the fast path: [8 bytes as a double, value] twice. A pure
 * memo of bytes → value (so one for the module is as good as one per scanner); NaN matches no bytes.
 */
const MEMO = new Float64Array([Number.NaN, 0, Number.NaN, 0]);

/** The 16 bytes " %5u %8d " (uid, timeout) last read after a fast-path line, as two doubles, then uid and timeout. */
const UID_MEMO = new Float64Array([Number.NaN, Number.NaN, 0, 0]);

/**
 * The kernel's line from the colon after `sl` (net/ipv4/tcp_ipv4.c get_tcp4_sock, net/ipv6/tcp_ipv6.c
 * get_tcp6_sock): `: %08X:%04X %08X:%04X %02X %08X:%08X %02X:%08lX %08X ` for tcp, 32-digit addresses
 * for tcp6. Fills the record through retrnsmt and returns the index of the space after it, or -1 when
 * the bytes are not exactly that shape (then nothing is decided: the careful path reads the line).
 * `b[colon + 1]` is known to be a space. Exported for its tests (test/sockets/fast-path.test.ts).
 */
export function kernelShape(b: Uint8Array, dv: DataView, colon: number, end: number, r: RawSocket): number {
  let k: number; // where tx_queue starts
  if (b[colon + 10] === COLON) {
    if (colon + 72 > end) return -1;
    // An address is read as 8 bytes (a double) first: the same bytes as the last address read decode to
    // the same value. ASCII bytes are never a NaN or ±0, so equal doubles are equal bytes.
    const lf = dv.getFloat64(colon + 2, true);
    const rf = dv.getFloat64(colon + 16, true);
    const lp = dv.getInt32(colon + 11, true);
    const rp = dv.getInt32(colon + 25, true);
    const st = dv.getInt32(colon + 29, true); // ' ' st st ' '
    if (
      b[colon + 15] !== SPACE ||
      b[colon + 24] !== COLON ||
      (st & 0xff0000ff) !== 0x20000020 ||
      (notHex4(lp) | notHex4(rp) | notHex4((st & 0x00ffff00) | 0x30000030)) !== 0
    )
      return -1;
    const memo = MEMO;
    if (lf !== memo[0]) {
      const la = dv.getInt32(colon + 2, true);
      const lb = dv.getInt32(colon + 6, true);
      if ((notHex4(la) | notHex4(lb)) !== 0) return -1;
      memo[0] = lf;
      memo[1] = hostWord2(la, lb);
    }
    if (rf !== memo[2]) {
      const ra = dv.getInt32(colon + 16, true);
      const rb = dv.getInt32(colon + 20, true);
      if ((notHex4(ra) | notHex4(rb)) !== 0) return -1;
      memo[2] = rf;
      memo[3] = hostWord2(ra, rb);
    }
    r.v6 = false;
    r.localV4 = true;
    r.local4 = memo[1] as number;
    r.localPort = hex4(lp);
    r.remoteV4 = true;
    r.remote4 = memo[3] as number;
    r.remotePort = hex4(rp);
    r.state = (hex4(st) >>> 4) & 0xff;
    k = colon + 33;
  } else if (b[colon + 34] === COLON) {
    if (colon + 120 > end) return -1;
    let bad = 0;
    for (let j = 0; j < 8; j++) {
      bad |= notHex4(dv.getInt32(colon + 2 + 4 * j, true)) | notHex4(dv.getInt32(colon + 40 + 4 * j, true));
    }
    const lp = dv.getInt32(colon + 35, true);
    const rp = dv.getInt32(colon + 73, true);
    const st = dv.getInt32(colon + 77, true);
    if (
      bad !== 0 ||
      b[colon + 39] !== SPACE ||
      b[colon + 72] !== COLON ||
      (st & 0xff0000ff) !== 0x20000020 ||
      (notHex4(lp) | notHex4(rp) | notHex4((st & 0x00ffff00) | 0x30000030)) !== 0
    )
      return -1;
    const local = r.local;
    const remote = r.remote;
    for (let j = 0; j < 4; j++) {
      local[j] = hostWord2(dv.getInt32(colon + 2 + 8 * j, true), dv.getInt32(colon + 6 + 8 * j, true));
      remote[j] = hostWord2(dv.getInt32(colon + 40 + 8 * j, true), dv.getInt32(colon + 44 + 8 * j, true));
    }
    r.v6 = true;
    r.localV4 = isMapped(local);
    r.local4 = local[3] as number;
    r.localPort = hex4(lp);
    r.remoteV4 = isMapped(remote);
    r.remote4 = remote[3] as number;
    r.remotePort = hex4(rp);
    r.state = (hex4(st) >>> 4) & 0xff;
    k = colon + 81;
  } else return -1;
  // %08X:%08X %02X:%08lX %08X then a space (a negative tm->when has 16 digits: the careful path).
  // Mostly zeros: each 8-digit field is compared as a double with "00000000" first.
  const tr = dv.getInt32(k + 17, true); // ' ' tr tr ':'
  if (b[k + 8] !== COLON || (tr & 0xff0000ff) !== 0x3a000020 || b[k + 29] !== SPACE || b[k + 38] !== SPACE)
    return -1;
  if (
    dv.getFloat64(k, true) === ZEROS8 &&
    dv.getFloat64(k + 9, true) === ZEROS8 &&
    dv.getFloat64(k + 21, true) === ZEROS8 &&
    dv.getFloat64(k + 30, true) === ZEROS8 &&
    (tr & 0x00ffff00) === 0x00303000
  ) {
    r.txQueue = 0;
    r.rxQueue = 0;
    r.timerActive = 0;
    r.timerExpires = 0;
    r.retransmits = 0;
    return k + 38;
  }
  const tx0 = dv.getInt32(k, true);
  const tx1 = dv.getInt32(k + 4, true);
  const rx0 = dv.getInt32(k + 9, true);
  const rx1 = dv.getInt32(k + 13, true);
  const when0 = dv.getInt32(k + 21, true);
  const when1 = dv.getInt32(k + 25, true);
  const re0 = dv.getInt32(k + 30, true);
  const re1 = dv.getInt32(k + 34, true);
  if (
    (notHex4(tx0) |
      notHex4(tx1) |
      notHex4(rx0) |
      notHex4(rx1) |
      notHex4((tr & 0x00ffff00) | 0x30000030) |
      notHex4(when0) |
      notHex4(when1) |
      notHex4(re0) |
      notHex4(re1)) !==
    0
  )
    return -1;
  r.txQueue = hex4(tx0) * 65536 + hex4(tx1);
  r.rxQueue = hex4(rx0) * 65536 + hex4(rx1);
  r.timerActive = (hex4(tr) >>> 4) & 0xff;
  r.timerExpires = hex4(when0) * 65536 + hex4(when1);
  r.retransmits = hex4(re0) * 65536 + hex4(re1);
  return k + 38;
}

/**
 * The careful path, for a line the fast path refused: from the colon after `sl` through retrnsmt, each
 * column as wide as it is (any spaces after the colon, any width of tx_queue … retrnsmt). Fills the
 * record and returns the index of the space after retrnsmt, or -1 for a malformed line. It never moves
 * past a newline, so the caller's search for the line's end may start at the colon. Out of the loop
 * of scanLines: rarely run, it keeps that loop small (quicker to optimize, less memory to compile).
 */
function carefulColumns(b: Uint8Array, colon: number, r: RawSocket): number {
  const H = HEX;
  let i = colon;
  i += 2;
  while (b[i] === SPACE) i++;
  // local_address: 8 hex digits (tcp) or 32 (tcp6), then :PORT
  let v6: boolean;
  if (b[i + 8] === COLON) {
    const w = hostWord(b, i);
    if (w < 0) return -1;
    v6 = false;
    r.localV4 = true;
    r.local4 = w;
    i += 9;
  } else if (b[i + 32] === COLON) {
    if (!address6(b, i, r.local)) return -1;
    v6 = true;
    r.localV4 = isMapped(r.local);
    r.local4 = r.local[3] as number;
    i += 33;
  } else return -1;
  r.v6 = v6;
  let p = port4(b, i);
  if (p < 0 || b[i + 4] !== SPACE) return -1;
  r.localPort = p;
  i += 5;
  // rem_address: same width as the local address
  if (!v6) {
    if (b[i + 8] !== COLON) return -1;
    const w = hostWord(b, i);
    if (w < 0) return -1;
    r.remoteV4 = true;
    r.remote4 = w;
    i += 9;
  } else {
    if (b[i + 32] !== COLON) return -1;
    if (!address6(b, i, r.remote)) return -1;
    r.remoteV4 = isMapped(r.remote);
    r.remote4 = r.remote[3] as number;
    i += 33;
  }
  p = port4(b, i);
  if (p < 0 || b[i + 4] !== SPACE) return -1;
  r.remotePort = p;
  i += 5;
  // st
  const s0 = H[b[i] as number] as number;
  const s1 = H[b[i + 1] as number] as number;
  if ((s0 | s1) < 0 || b[i + 2] !== SPACE) return -1;
  r.state = (s0 << 4) | s1;
  i += 3;
  // tx_queue:rx_queue tr:tm->when retrnsmt: the kernel's fixed widths first (%08X:%08X %02X:%08lX %08X),
  // then hex runs of any width (tm->when is %08lX: 16 digits when negative).
  // Four 8-digit fields read in place (a call per field costs more than the reads).
  let bad = 0;
  let tx = 0;
  let rx = 0;
  let when = 0;
  let retr = 0;
  for (let k = 0; k < 8; k++) {
    const a = H[b[i + k] as number] as number;
    const c1 = H[b[i + 9 + k] as number] as number;
    const c2 = H[b[i + 21 + k] as number] as number;
    const c3 = H[b[i + 30 + k] as number] as number;
    bad |= a | c1 | c2 | c3;
    tx = tx * 16 + a;
    rx = rx * 16 + c1;
    when = when * 16 + c2;
    retr = retr * 16 + c3;
  }
  const t0 = H[b[i + 18] as number] as number;
  const t1 = H[b[i + 19] as number] as number;
  if (
    (bad | t0 | t1) >= 0 &&
    b[i + 8] === COLON &&
    b[i + 17] === SPACE &&
    b[i + 20] === COLON &&
    b[i + 29] === SPACE &&
    b[i + 38] === SPACE
  ) {
    r.txQueue = tx;
    r.rxQueue = rx;
    r.timerActive = (t0 << 4) | t1;
    r.timerExpires = when;
    r.retransmits = retr;
    i += 38;
  } else {
    // The index is kept when the counters do not read: a failed read must not move the scan (it
    // once set i to -1, and the search for the line's end then started from the buffer's end,
    // silently skipping every line after it in that buffer).
    const after = slowCounters(b, i, r);
    if (after < 0) return -1;
    i = after;
  }
  return i;
}

/**
 * Scans the complete lines of b[start, end); b[end - 1] must be a newline. Every loop below stops
 * at a byte that is not a digit, and a newline is not one, so no field reader passes the line's end.
 */
function scanLines(
  b: Uint8Array,
  start: number,
  end: number,
  r: RawSocket,
  visit: SocketVisitor,
  counts: ScanCounts,
): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let parsed = 0;
  let malformed = 0;
  let headers = 0;
  let i = start;
  /** Bytes of the last line, newline included: the kernel pads its lines to one width, so the next is likely as long. */
  let lineBytes = 0;
  while (i < end) {
    const lineStart = i;
    let c = b[i] as number;
    while (c === SPACE || c === 9 || c === 13) c = b[++i] as number;
    if (c === NL) {
      i++;
      continue;
    }
    let kind = 0; // 0 malformed, 1 socket, 2 header
    // A labelled block: `break line` abandons a malformed line without a call per line on the hot path.
    // biome-ignore lint/suspicious/noConfusingLabels: deliberate, see above
    line: {
      if (c === 115 /* s */ && isHeader(b, i)) {
        kind = 2;
        break line;
      }
      // sl: 4 digits at a time first (a table of 1,000 sockets and more has 4 and more)
      let sl = 0;
      let n = 0;
      if (i + 4 < end) {
        const w = dv.getInt32(i, true);
        if (digits4(w)) {
          sl = value4(w);
          n = 4;
          i += 4;
          c = b[i] as number;
        }
      }
      while (c >= 48 && c <= 57) {
        sl = sl * 10 + c - 48;
        c = b[++i] as number;
        n++;
      }
      if (n === 0 || n > 15 || c !== COLON || b[i + 1] !== SPACE) break line;
      r.sl = sl;
      // The fast path: a line as the kernel prints it, fixed widths from this colon to retrnsmt, read
      // in place 4 bytes at a time. It accepts only lines the careful path below accepts, with the
      // same values (test/sockets/fast-path.test.ts); any other line (extra spaces, a wide tm->when,
      // a bad byte …) goes to the careful path from this colon.
      let after = kernelShape(b, dv, i, end, r);
      const fast = after >= 0;
      if (!fast) {
        after = carefulColumns(b, i, r);
        if (after < 0) break line;
      }
      i = after;
      // uid, timeout (may be negative), inode: space-padded decimals. The 16 bytes from the space before
      // uid through the space after timeout (%5u and %8d) are compared with the last such bytes read in
      // the kernel's widths: the same bytes give the same two values.
      const from = i;
      let v: number;
      if (
        fast &&
        from + 16 <= end &&
        dv.getFloat64(from, true) === UID_MEMO[0] &&
        dv.getFloat64(from + 8, true) === UID_MEMO[1]
      ) {
        r.uid = UID_MEMO[2] as number;
        r.timeout = UID_MEMO[3] as number;
        i = from + 15;
      } else {
        while (b[i] === SPACE) i++;
        v = 0;
        n = 0;
        c = b[i] as number;
        while (c >= 48 && c <= 57) {
          v = v * 10 + c - 48;
          c = b[++i] as number;
          n++;
        }
        if (n === 0 || n > 10 || c !== SPACE) break line;
        r.uid = v;
        while (b[i] === SPACE) i++;
        let negative = false;
        if (b[i] === 45 /* - */) {
          negative = true;
          i++;
        }
        v = 0;
        n = 0;
        c = b[i] as number;
        while (c >= 48 && c <= 57) {
          v = v * 10 + c - 48;
          c = b[++i] as number;
          n++;
        }
        if (n === 0 || n > 10 || c !== SPACE) break line;
        r.timeout = negative ? -v : v;
        if (fast && i === from + 15 && b[from] === SPACE) {
          UID_MEMO[0] = dv.getFloat64(from, true);
          UID_MEMO[1] = dv.getFloat64(from + 8, true);
          UID_MEMO[2] = r.uid;
          UID_MEMO[3] = r.timeout;
        }
      }
      while (b[i] === SPACE) i++;
      v = 0;
      n = 0;
      // inode: its first digits 4 at a time (two words at most: the value stays exact, < 10⁸, so the
      // digits after it add up as they would one by one), then digit by digit.
      if (i + 8 < end) {
        let w = dv.getInt32(i, true);
        if (digits4(w)) {
          v = value4(w);
          w = dv.getInt32(i + 4, true);
          if (digits4(w)) {
            v = v * 10000 + value4(w);
            n = 8;
          } else n = 4;
          i += n;
        }
      }
      c = b[i] as number;
      while (c >= 48 && c <= 57) {
        v = v * 10 + c - 48;
        c = b[++i] as number;
        n++;
      }
      if (n === 0 || n > 20 || !(c === SPACE || c === NL || c === 13 || c === 9)) break line;
      r.inode = v;
      kind = 1;
    }
    if (kind === 1) {
      parsed++;
      visit(r);
    } else if (kind === 0) malformed++;
    else headers++;
    // The rest of the line (refcount, pointer, rto …) is not needed: jump to its end.
    if (b[i] === NL) i++;
    else {
      // Where the line ends if it is as long as the last one: taken when that byte is a newline and no byte
      // between here and it is one. The bytes are tested 4 at a time, the verdicts OR-ed (no branch per
      // word); the last word may start before `i`: those bytes are this line's, read above, not newlines.
      const nl = lineStart + lineBytes - 1;
      let taken = false;
      if (nl > i && nl < end && nl - 8 >= lineStart && b[nl] === NL) {
        let zero = 0;
        let k = i;
        for (; k + 8 <= nl; k += 8) {
          const v = dv.getInt32(k, true) ^ 0x0a0a0a0a;
          const u = dv.getInt32(k + 4, true) ^ 0x0a0a0a0a;
          zero |= ((v - 0x01010101) & ~v) | ((u - 0x01010101) & ~u);
        }
        // The last 1-8 bytes before nl, as two words (they may overlap each other and the bytes above).
        const v = dv.getInt32(nl - 8, true) ^ 0x0a0a0a0a;
        const u = dv.getInt32(nl - 4, true) ^ 0x0a0a0a0a;
        zero |= ((v - 0x01010101) & ~v) | ((u - 0x01010101) & ~u);
        if ((zero & 0x80808080) === 0) {
          i = nl + 1;
          taken = true;
        }
      }
      if (!taken) {
        // Four bytes at a time while a whole word lies before `end`, then byte by byte (b[end - 1] is a newline).
        while (i + 4 <= end) {
          const v = dv.getInt32(i, true) ^ 0x0a0a0a0a;
          if (((v - 0x01010101) & ~v & 0x80808080) !== 0) break; // a zero byte: a newline in this word
          i += 4;
        }
        while (i < end && b[i] !== NL) i++;
        i = i < end ? i + 1 : end;
      }
    }
    lineBytes = i - lineStart;
  }
  counts.lines += parsed + malformed;
  counts.parsed += parsed;
  counts.malformed += malformed;
  counts.headers += headers;
}

// scanLines runs once per chunk, and its first call is long (a whole chunk): it is optimized in the middle
// of that call, before the code after its loop ever ran. Optimized code that reaches code without type
// feedback is thrown away, and the scan goes on unoptimized until it is compiled again. So it runs once
// here, at load, on a header, a malformed and a blank line: every line of it has run before the first chunk.
const WARM = Buffer.from('  sl  local_address rem_address   st\nnot a socket\n\n', 'latin1');
scanLines(WARM, 0, WARM.length, newRecord(), () => {}, {
  lines: 0,
  parsed: 0,
  malformed: 0,
  headers: 0,
  bytes: 0,
});

/**
 * Bytes that one call of scanLines scans at most (to the first newline after them). On a chunk of 1 MiB, the
 * first call ran long enough for V8 to compile scanLines in its loop (on-stack replacement) before the code
 * after the loop had ever run with type feedback; that code then left the loop into unoptimized code at the
 * end of every later call too (up to ~290 deoptimizations on the 1M-line table, in about one run of three).
 * Calls of 64 KiB return, and run that code, hundreds of times before V8 compiles the function.
 */
export const SCAN_SLICE = 64 << 10;

/**
 * Streaming scanner: push chunks (lines may be split anywhere), then finish.
 * Memory: one record and at most one partial line ({@link MAX_LINE_BYTES}).
 */
export class ProcNetTcpScanner {
  readonly counts: ScanCounts = { lines: 0, parsed: 0, malformed: 0, headers: 0, bytes: 0 };
  private readonly record = newRecord();
  private carry: Buffer | null = null;
  /** Inside a line longer than MAX_LINE_BYTES: drop bytes until the next newline. */
  private skipping = false;

  /**
   * One rule for every caller: a line is a socket when every column through the inode reads as the
   * kernel prints it (the summary and the full parse count the same lines as malformed).
   */
  constructor(private readonly visit: SocketVisitor) {}

  /**
   * Bytes of a partial line held until the next chunk: never more than {@link MAX_LINE_BYTES}, so
   * every input byte is scanned at most twice and the work stays linear in the input size.
   */
  get pendingBytes(): number {
    return this.carry?.length ?? 0;
  }

  push(chunk: Uint8Array | string): void {
    // Every array the line readers see is a Buffer: one shape keeps them monomorphic (and fast).
    const b =
      typeof chunk === 'string'
        ? Buffer.from(chunk, 'utf8')
        : Buffer.isBuffer(chunk)
          ? chunk
          : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.counts.bytes += b.length;
    let start = 0;
    if (this.carry !== null || this.skipping) {
      const nl = b.indexOf(NL);
      if (nl < 0) {
        this.hold(b, 0);
        return;
      }
      if (this.skipping) this.skipping = false;
      else if (this.carry !== null) this.completeCarry(b.subarray(0, nl + 1));
      start = nl + 1;
    }
    const last = b.lastIndexOf(NL);
    if (last >= start) {
      // Whole lines of SCAN_SLICE bytes or so per call (see SCAN_SLICE).
      while (start + SCAN_SLICE <= last) {
        const nl = b.indexOf(NL, start + SCAN_SLICE);
        scanLines(b, start, nl + 1, this.record, this.visit, this.counts);
        start = nl + 1;
      }
      scanLines(b, start, last + 1, this.record, this.visit, this.counts);
      start = last + 1;
    }
    if (start < b.length) this.hold(b, start);
  }

  /** Ends the input: a last line without a newline is parsed too. */
  finish(): ScanCounts {
    if (this.carry !== null) this.completeCarry(NEWLINE);
    this.skipping = false;
    return this.counts;
  }

  /** The held partial line plus `rest` (which ends with a newline) as one line. */
  private completeCarry(rest: Uint8Array): void {
    const carry = this.carry ?? EMPTY;
    this.carry = null;
    const line = Buffer.allocUnsafe(carry.length + rest.length);
    line.set(carry, 0);
    line.set(rest, carry.length);
    scanLines(line, 0, line.length, this.record, this.visit, this.counts);
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
    const next = Buffer.allocUnsafe(held + b.length - from);
    if (this.carry !== null) next.set(this.carry, 0);
    next.set(b.subarray(from), held);
    this.carry = next;
  }
}

const NEWLINE = Buffer.from([NL]);
const EMPTY = Buffer.alloc(0);

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
  v4
    ? formatIpv4(value)
    : formatIpv6(words[0] as number, words[1] as number, words[2] as number, words[3] as number);

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
