// The node's conntrack table as `conntrack -L -o extended` prints it (conntrack-tools 1.4, netlink; see
// test/fixtures/conntrack/ for real output and the script that produced it). One flow per line:
//
//   ipv4     2 tcp      6 431998 ESTABLISHED src=10.244.0.10 dst=203.0.113.10 sport=50036 dport=27017 \
//     src=203.0.113.10 dst=198.51.100.2 sport=27017 dport=40000 [ASSURED] mark=0 use=1
//
// The first src/dst/sport/dport group is the original direction, the second the reply direction; a
// source-NATed flow has a reply destination other than its original source. Without `-o extended` the
// leading `ipv4     2` is absent; UDP and ICMP flows have no state; zone=, mark=, use=, id=, secctx=,
// [UNREPLIED], [ASSURED], [OFFLOAD] and timestamps may appear. The text comes from a probe on the node:
// it is untrusted, so lines and the number of flows are bounded and anything unexpected is counted, skipped.
//
// A busy node lists hundreds of thousands of flows (tens of MB): the run reads the listing as it streams
// (createFlowCounter, fed exec frames) and keeps flow groups, not flows: the flows that differ only in
// the ports the node picked (the pod's source port, the translated port) are one group with a count,
// which is all the analysis reads (attribution.ts, snapshot capture). parseConntrackTable keeps every
// flow, for tools and tests that look at single flows.

import { randomFillSync } from 'node:crypto';

export interface FlowTuple {
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
}

export interface ConntrackFlow {
  family: 'ipv4' | 'ipv6';
  /** tcp, udp, icmp, sctp… (lower case). */
  protocol: string;
  /** TCP state (ESTABLISHED, SYN_SENT, TIME_WAIT…), undefined for protocols without one. */
  state?: string;
  original: FlowTuple;
  reply: FlowTuple;
  /** Bracketed flags: ASSURED, UNREPLIED, OFFLOAD… */
  flags: string[];
}

export interface ConntrackTable {
  flows: ConntrackFlow[];
  /** Lines that were not empty and not a flow (counted, never fatal). */
  malformed: number;
  /** True when maxFlows cut the table short. */
  truncated: boolean;
}

/**
 * Flows alike in everything the analysis reads: protocol, state, both addresses of each direction, the
 * original destination port and the reply source port (the peer's). The ports the node picked (the
 * original source port, the reply destination port) and the flags are left out. A {@link ConntrackFlow}
 * is a group of one.
 */
export interface FlowGroup {
  family: 'ipv4' | 'ipv6';
  protocol: string;
  state?: string;
  original: FlowTuple;
  reply: FlowTuple;
  /** Flows in the group; absent: one. */
  count?: number;
}

/** The table as the run keeps it: flow groups, first seen first. */
export interface FlowCounts {
  groups: FlowGroup[];
  /** Flows counted (the sum of the groups' counts). */
  flows: number;
  /** Lines that were not empty and not a flow (counted, never fatal). */
  malformed: number;
  /** True when maxFlows cut the table short. */
  truncated: boolean;
}

export interface TableLimits {
  /** Flows kept (counted); the rest are dropped and `truncated` is set. */
  maxFlows: number;
  /** Longer lines (in bytes, newline excluded) are malformed (a real line is under 400). */
  maxLineLength: number;
}

export const DEFAULT_TABLE_LIMITS: TableLimits = { maxFlows: 1_000_000, maxLineLength: 2048 };

const PROTOCOLS = new Set(['tcp', 'udp', 'udplite', 'icmp', 'icmpv6', 'sctp', 'dccp', 'gre', 'unknown']);
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const IPV6 = /^[0-9a-fA-F:.]{2,45}$/;
const STATE = /^[A-Z_]{2,16}$/;

const isAddress = (s: string): boolean => IPV4.test(s) || (s.includes(':') && IPV6.test(s));

function port(value: string): number | undefined {
  if (!/^\d{1,5}$/.test(value)) return undefined;
  const n = Number(value);
  return n <= 65535 ? n : undefined;
}

/** One line → a flow, or undefined when it is not one. */
export function parseConntrackLine(line: string): ConntrackFlow | undefined {
  const tokens = line.trim().split(/\s+/);
  let i = 0;
  let family: 'ipv4' | 'ipv6' | undefined;
  if (tokens[0] === 'ipv4' || tokens[0] === 'ipv6') {
    family = tokens[0];
    i = 2; // family name and number
  }
  const protocol = tokens[i]?.toLowerCase();
  if (protocol === undefined || !PROTOCOLS.has(protocol)) return undefined;
  i += 2; // protocol name and number
  // The timeout (seconds left), then the state for TCP/SCTP/DCCP.
  if (!/^\d+$/.test(tokens[i] ?? '')) return undefined;
  i += 1;
  let state: string | undefined;
  if (tokens[i] !== undefined && !tokens[i]!.includes('=') && STATE.test(tokens[i]!)) {
    state = tokens[i];
    i += 1;
  }
  const tuples: Partial<FlowTuple>[] = [];
  const flags: string[] = [];
  for (; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.startsWith('[') && t.endsWith(']')) {
      flags.push(t.slice(1, -1));
      continue;
    }
    const eq = t.indexOf('=');
    if (eq <= 0) continue;
    const key = t.slice(0, eq);
    const value = t.slice(eq + 1);
    if (key === 'src') {
      if (tuples.length === 2) continue; // a third direction (expectations) is not ours
      if (!isAddress(value)) return undefined;
      tuples.push({ src: value });
    } else if (key === 'dst' || key === 'sport' || key === 'dport') {
      const tuple = tuples.at(-1);
      if (tuple === undefined || tuples.length > 2) return undefined;
      if (key === 'dst') {
        if (!isAddress(value)) return undefined;
        tuple.dst = value;
      } else {
        const p = port(value);
        if (p === undefined) return undefined;
        tuple[key] = p;
      }
    }
  }
  const [original, reply] = tuples;
  if (!original?.src || !original.dst || !reply?.src || !reply.dst) return undefined;
  const v6 = original.src.includes(':');
  if (v6 !== original.dst.includes(':') || v6 !== reply.src.includes(':') || v6 !== reply.dst.includes(':'))
    return undefined;
  const actual = v6 ? 'ipv6' : 'ipv4';
  if (family !== undefined && family !== actual) return undefined;
  return {
    family: actual,
    protocol,
    ...(state !== undefined ? { state } : {}),
    original: original as FlowTuple,
    reply: reply as FlowTuple,
    flags,
  };
}

const NL = 0x0a;
const SUMMARY_LINE = /flow entries have been shown/;

/**
 * Splits a stream of chunks into lines (a line may span chunks) and hands every flow on; holds at most
 * one line (maxLineLength bytes) between chunks. Lines are bytes until whole: a newline byte is never
 * part of a UTF-8 sequence, so a character split across chunks is decoded whole.
 */
/** What an in-place read of one line found (FlowLines): */
type InPlace = 0 | 1 | 2 | 3 | 4;
/** A flow, counted. */
const IN_PLACE_FLOW = 0;
/** Not a flow: malformed. */
const IN_PLACE_MALFORMED = 1;
/** Blank, or the tool's summary line: not counted. */
const IN_PLACE_SKIP = 2;
/** A flow, but maxFlows are counted already: the table is truncated. */
const IN_PLACE_FULL = 3;
/** Not read here (a byte that is not ASCII, too many tokens): the text path reads the line. */
const IN_PLACE_TEXT = 4;

class FlowLines {
  malformed = 0;
  truncated = false;
  flows = 0;
  /** The start of a line whose end has not arrived (copied: a chunk may be reused after push). */
  private carry: Buffer[] = [];
  private carried = 0;
  /** The line under way is longer than maxLineLength: skipped to its end, then counted malformed. */
  private overlong = false;

  /**
   * `inPlace`, when given, reads a whole line of ASCII bytes where it lies (no string per line, no tokens): it
   * returns {@link IN_PLACE_TEXT} for a line it leaves to the text path (parseConntrackLine), which then reads it.
   */
  constructor(
    private readonly limits: TableLimits,
    private readonly onFlow: (flow: ConntrackFlow) => void,
    private readonly inPlace?: (b: Buffer, start: number, end: number, room: boolean) => InPlace,
  ) {}

  /** Bytes held between chunks (at most maxLineLength). */
  get held(): number {
    return this.carried;
  }

  push(chunk: Uint8Array | string): void {
    const b =
      typeof chunk === 'string'
        ? Buffer.from(chunk, 'utf8')
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    while (start < b.length && !this.truncated) {
      const nl = b.indexOf(NL, start);
      if (nl < 0) {
        this.hold(b, start);
        return;
      }
      this.line(b, start, nl);
      start = nl + 1;
    }
  }

  /** The last line, when the text did not end with a newline. */
  end(): void {
    if (!this.truncated && (this.carried > 0 || this.overlong)) this.line(Buffer.alloc(0), 0, 0);
    this.carry = [];
    this.carried = 0;
  }

  private hold(b: Buffer, from: number): void {
    if (this.overlong) return;
    const length = b.length - from;
    if (this.carried + length > this.limits.maxLineLength) {
      this.overlong = true;
      this.carry = [];
      this.carried = 0;
      return;
    }
    this.carry.push(Buffer.from(b.subarray(from)));
    this.carried += length;
  }

  private line(b: Buffer, start: number, end: number): void {
    if (this.overlong || this.carried + end - start > this.limits.maxLineLength) {
      this.overlong = false;
      this.carry = [];
      this.carried = 0;
      this.malformed++;
      return;
    }
    if (this.carried === 0 && end === start) return;
    if (this.carried === 0 && this.inPlace !== undefined) {
      const read = this.inPlace(b, start, end, this.flows < this.limits.maxFlows);
      if (read === IN_PLACE_SKIP) return;
      if (read === IN_PLACE_MALFORMED) {
        this.malformed++;
        return;
      }
      if (read === IN_PLACE_FLOW) {
        this.flows++;
        return;
      }
      if (read === IN_PLACE_FULL) {
        this.truncated = true;
        return;
      }
    }
    let text: string;
    if (this.carried === 0) text = b.toString('utf8', start, end);
    else {
      this.carry.push(b.subarray(start, end));
      text = Buffer.concat(this.carry).toString('utf8');
      this.carry = [];
      this.carried = 0;
    }
    if (text.trim() === '' || SUMMARY_LINE.test(text)) return;
    const flow = parseConntrackLine(text);
    if (flow === undefined) this.malformed++;
    else if (this.flows >= this.limits.maxFlows) this.truncated = true;
    else {
      this.flows++;
      this.onFlow(flow);
    }
  }
}

// ---------------------------------------------------------------- flow groups by their key's bytes

interface Slot {
  key: Uint8Array;
  group: FlowGroup;
  next: Slot | undefined;
}

/**
 * The counter's groups, first seen first, found by their key: groupKey's text as UTF-8 bytes, hashed with a
 * seed drawn per table (keys come from the node: without the seed, no one can pick keys that collide).
 * The in-place reader looks a line's key up from its bytes without making a string; the text path, by the
 * bytes of groupKey(flow): the same bytes for the same flow, so both paths count into the same groups.
 */
class GroupTable {
  readonly list: FlowGroup[] = [];
  private readonly slots = new Map<number, Slot>();
  private readonly seed: number;

  constructor() {
    const seed = new Int32Array(1);
    randomFillSync(seed);
    this.seed = seed[0] as number;
  }

  hash(b: Uint8Array, n: number): number {
    let h = this.seed;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ (b[i] as number), 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return h ^ (h >>> 16);
  }

  /** The group whose key is b[0, n) (hashed to h), or undefined. */
  find(b: Uint8Array, n: number, h: number): FlowGroup | undefined {
    next: for (let slot = this.slots.get(h); slot !== undefined; slot = slot.next) {
      const key = slot.key;
      if (key.length !== n) continue;
      for (let i = 0; i < n; i++) if (key[i] !== b[i]) continue next;
      return slot.group;
    }
    return undefined;
  }

  /** Adds `group` under the key b[0, n) (copied), hashed to h. */
  add(b: Uint8Array, n: number, h: number, group: FlowGroup): void {
    this.slots.set(h, { key: b.slice(0, n), group, next: this.slots.get(h) });
    this.list.push(group);
  }

  /** The text path: the group of `flow`, made when new. */
  count(flow: ConntrackFlow): void {
    const key = Buffer.from(groupKey(flow), 'utf8');
    const h = this.hash(key, key.length);
    let g = this.find(key, key.length, h);
    if (g === undefined) {
      g = groupOf(flow);
      this.add(key, key.length, h, g);
    }
    g.count = (g.count ?? 0) + 1;
  }
}

// ---------------------------------------------------------------- the counter's in-place reader
//
// A busy node lists hundreds of thousands of flows, and the run waits for the listing: split into
// strings and tested with regular expressions, a line cost ~2 µs (100k flows ~210 ms). The counter reads
// each line of ASCII bytes where it lies instead, by the same rules as parseConntrackLine, token for
// token, and makes only the strings of a group's key. A line with any other byte, or with more tokens
// than a real line has, goes to the text path. test/analysis/conntrack-table.test.ts holds both paths to
// the same counts, on the real fixture and on generated and mutated lines.

/** Tokens read in place at most; a real line has ~20. */
const MAX_TOKENS = 64;
const EQUALS = 0x3d;
const COLON = 0x3a;
const DOT = 0x2e;
/** The protocols parseConntrackLine knows, as bytes (lower case). */
const PROTOCOL_BYTES = [...PROTOCOLS].map((p) => Buffer.from(p, 'latin1'));
const PROTOCOL_NAMES = [...PROTOCOLS];
/** SUMMARY_LINE's phrase. */
const SUMMARY_BYTES = Buffer.from('flow entries have been shown', 'latin1');
/** Where "entries" is in it, and its length. */
const ENTRIES_AT = 5;
const ENTRIES_LENGTH = 7;

/** JavaScript's \s among ASCII bytes (and so what String.prototype.trim removes). */
const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);
const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** Reads one line of a listing in place for a counter; `count` is called with each flow's group key. */
class InPlaceReader {
  private readonly starts = new Int32Array(MAX_TOKENS);
  private readonly ends = new Int32Array(MAX_TOKENS);
  /** Per direction (original, reply): src, dst as [start, end), ports (-1: absent). */
  private readonly src = new Int32Array(4);
  private readonly dst = new Int32Array(4);
  private readonly sport = new Int32Array(2);
  private readonly dport = new Int32Array(2);

  /** A line's key, written here from its tokens (never longer than the line and a few port digits). */
  private key = Buffer.alloc(1024);

  constructor(private readonly groups: GroupTable) {}

  read(b: Buffer, start: number, end: number, room: boolean): InPlace {
    const starts = this.starts;
    const ends = this.ends;
    let n = 0;
    for (let k = start; k < end; ) {
      const c = b[k] as number;
      if (c >= 0x80) return IN_PLACE_TEXT;
      if (isSpace(c)) {
        k++;
        continue;
      }
      if (n === MAX_TOKENS) return IN_PLACE_TEXT;
      starts[n] = k;
      while (k < end) {
        const d = b[k] as number;
        if (d >= 0x80) return IN_PLACE_TEXT;
        if (isSpace(d)) break;
        k++;
      }
      ends[n++] = k;
    }
    if (n === 0 || this.summary(b, start, end, n)) return IN_PLACE_SKIP;

    // parseConntrackLine, step for step.
    let i = 0;
    let family = 0;
    if (this.is(b, 0, 'ipv4')) {
      family = 4;
      i = 2;
    } else if (this.is(b, 0, 'ipv6')) {
      family = 6;
      i = 2;
    }
    if (i >= n) return IN_PLACE_MALFORMED;
    const protocol = this.protocolAt(b, i);
    if (protocol < 0) return IN_PLACE_MALFORMED;
    i += 2;
    if (i >= n || !this.digitsAt(b, i)) return IN_PLACE_MALFORMED;
    i += 1;
    let stateStart = -1;
    if (i < n && this.stateAt(b, i)) {
      stateStart = i;
      i += 1;
    }
    const src = this.src;
    const dst = this.dst;
    const sport = this.sport;
    const dport = this.dport;
    let tuples = 0;
    for (; i < n; i++) {
      const ts = starts[i] as number;
      const te = ends[i] as number;
      if (b[ts] === 0x5b /* [ */ && b[te - 1] === 0x5d /* ] */) continue; // a flag
      let eq = ts;
      while (eq < te && b[eq] !== EQUALS) eq++;
      if (eq === te || eq === ts) continue;
      const key = eq - ts;
      const vs = eq + 1;
      if (key === 3 && b[ts] === 0x73 && b[ts + 1] === 0x72 && b[ts + 2] === 0x63) {
        // src=
        if (tuples === 2) continue; // a third direction (expectations) is not ours
        if (addressKind(b, vs, te) === 0) return IN_PLACE_MALFORMED;
        src[2 * tuples] = vs;
        src[2 * tuples + 1] = te;
        dst[2 * tuples] = -1;
        sport[tuples] = -1;
        dport[tuples] = -1;
        tuples++;
      } else if (key === 3 && b[ts] === 0x64 && b[ts + 1] === 0x73 && b[ts + 2] === 0x74) {
        // dst=
        if (tuples === 0) return IN_PLACE_MALFORMED;
        if (addressKind(b, vs, te) === 0) return IN_PLACE_MALFORMED;
        dst[2 * tuples - 2] = vs;
        dst[2 * tuples - 1] = te;
      } else if (
        key === 5 &&
        b[ts + 1] === 0x70 &&
        b[ts + 2] === 0x6f &&
        b[ts + 3] === 0x72 &&
        b[ts + 4] === 0x74
      ) {
        // sport= / dport=
        const which = b[ts];
        if (which !== 0x73 && which !== 0x64) continue;
        if (tuples === 0) return IN_PLACE_MALFORMED;
        const p = portAt(b, vs, te);
        if (p < 0) return IN_PLACE_MALFORMED;
        if (which === 0x73) sport[tuples - 1] = p;
        else dport[tuples - 1] = p;
      }
    }
    if (tuples < 2 || (dst[0] as number) < 0 || (dst[2] as number) < 0) return IN_PLACE_MALFORMED;
    const kind = addressKind(b, src[0] as number, src[1] as number);
    if (
      kind !== addressKind(b, dst[0] as number, dst[1] as number) ||
      kind !== addressKind(b, src[2] as number, src[3] as number) ||
      kind !== addressKind(b, dst[2] as number, dst[3] as number) ||
      (family !== 0 && family !== kind)
    )
      return IN_PLACE_MALFORMED;
    if (!room) return IN_PLACE_FULL;

    const originalDport = dport[0] as number;
    const replySport = sport[1] as number;
    // groupKey's text, as bytes: protocol, state, original src, dst, dport, reply src, dst, sport.
    if (this.key.length < end - start + 64) this.key = Buffer.alloc(2 * (end - start + 64));
    const key = this.key;
    const name = PROTOCOL_BYTES[protocol] as Buffer;
    let at = name.copy(key, 0);
    key[at++] = 0x20;
    if (stateStart >= 0) at += b.copy(key, at, starts[stateStart] as number, ends[stateStart] as number);
    key[at++] = 0x20;
    at += b.copy(key, at, src[0] as number, src[1] as number);
    key[at++] = 0x20;
    at += b.copy(key, at, dst[0] as number, dst[1] as number);
    key[at++] = 0x20;
    if (originalDport >= 0) at = decimal(key, at, originalDport);
    key[at++] = 0x20;
    at += b.copy(key, at, src[2] as number, src[3] as number);
    key[at++] = 0x20;
    at += b.copy(key, at, dst[2] as number, dst[3] as number);
    key[at++] = 0x20;
    if (replySport >= 0) at = decimal(key, at, replySport);
    const groups = this.groups;
    const h = groups.hash(key, at);
    let g = groups.find(key, at, h);
    if (g === undefined) {
      // A new group: its strings, once.
      const text = (from: number, to: number): string => b.toString('latin1', from, to);
      const state =
        stateStart < 0 ? undefined : text(starts[stateStart] as number, ends[stateStart] as number);
      const original: FlowTuple = {
        src: text(src[0] as number, src[1] as number),
        dst: text(dst[0] as number, dst[1] as number),
      };
      if (originalDport >= 0) original.dport = originalDport;
      const reply: FlowTuple = {
        src: text(src[2] as number, src[3] as number),
        dst: text(dst[2] as number, dst[3] as number),
      };
      if (replySport >= 0) reply.sport = replySport;
      g = {
        family: kind === 6 ? 'ipv6' : 'ipv4',
        protocol: PROTOCOL_NAMES[protocol] as string,
        ...(state !== undefined ? { state } : {}),
        original,
        reply,
        count: 0,
      };
      groups.add(key, at, h, g);
    }
    g.count = (g.count ?? 0) + 1;
    return IN_PLACE_FLOW;
  }

  /** Token j is exactly `word`. */
  private is(b: Buffer, j: number, word: string): boolean {
    const s = this.starts[j] as number;
    if ((this.ends[j] as number) - s !== word.length) return false;
    for (let k = 0; k < word.length; k++) if (b[s + k] !== word.charCodeAt(k)) return false;
    return true;
  }

  /** Token j lower-cased is a known protocol: its index in PROTOCOL_NAMES, else -1. */
  private protocolAt(b: Buffer, j: number): number {
    const s = this.starts[j] as number;
    const length = (this.ends[j] as number) - s;
    next: for (let p = 0; p < PROTOCOL_BYTES.length; p++) {
      const name = PROTOCOL_BYTES[p] as Buffer;
      if (name.length !== length) continue;
      for (let k = 0; k < length; k++) {
        const c = b[s + k] as number;
        if ((c >= 65 && c <= 90 ? c + 32 : c) !== name[k]) continue next;
      }
      return p;
    }
    return -1;
  }

  /** Token j is ^\d+$. */
  private digitsAt(b: Buffer, j: number): boolean {
    for (let k = this.starts[j] as number; k < (this.ends[j] as number); k++)
      if (!isDigit(b[k] as number)) return false;
    return true;
  }

  /** Token j is STATE (^[A-Z_]{2,16}$, so no '='). */
  private stateAt(b: Buffer, j: number): boolean {
    const s = this.starts[j] as number;
    const e = this.ends[j] as number;
    if (e - s < 2 || e - s > 16) return false;
    for (let k = s; k < e; k++) {
      const c = b[k] as number;
      if (!((c >= 65 && c <= 90) || c === 95)) return false;
    }
    return true;
  }

  /**
   * SUMMARY_LINE matches the line (n tokens). Its phrase has spaces around "entries", so wherever it is, that
   * word is a whole token: only such a token's surroundings are compared.
   */
  private summary(b: Buffer, start: number, end: number, n: number): boolean {
    for (let j = 0; j < n; j++) {
      const s = this.starts[j] as number;
      if ((this.ends[j] as number) - s !== ENTRIES_LENGTH || b[s] !== 0x65 /* e */) continue;
      const from = s - ENTRIES_AT;
      if (from < start || from + SUMMARY_BYTES.length > end) continue;
      let k = 0;
      while (k < SUMMARY_BYTES.length && b[from + k] === SUMMARY_BYTES[k]) k++;
      if (k === SUMMARY_BYTES.length) return true;
    }
    return false;
  }
}

/** isAddress on b[from, to): 4 (IPV4), 6 (a colon and IPV6), or 0 (not an address). */
function addressKind(b: Buffer, from: number, to: number): 0 | 4 | 6 {
  // ^\d{1,3}(\.\d{1,3}){3}$
  let k = from;
  let groups = 0;
  for (;;) {
    let digits = 0;
    while (k < to && digits < 4 && isDigit(b[k] as number)) {
      k++;
      digits++;
    }
    if (digits === 0 || digits > 3) break;
    groups++;
    if (groups === 4) {
      if (k === to) return 4;
      break;
    }
    if (k >= to || b[k] !== DOT) break;
    k++;
  }
  // includes(':') && ^[0-9a-fA-F:.]{2,45}$
  const length = to - from;
  if (length < 2 || length > 45) return 0;
  let colon = false;
  for (let j = from; j < to; j++) {
    const c = b[j] as number;
    if (c === COLON) colon = true;
    else if (!(isDigit(c) || c === DOT || (c >= 65 && c <= 70) || (c >= 97 && c <= 102))) return 0;
  }
  return colon ? 6 : 0;
}

/** Writes n (0-65535) in decimal at b[at], as String(n) does; returns the index after it. */
function decimal(b: Uint8Array, at: number, n: number): number {
  const digits = n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10000 ? 4 : 5;
  for (let k = digits - 1, v = n; k >= 0; k--, v = Math.floor(v / 10)) b[at + k] = 48 + (v % 10);
  return at + digits;
}

/** port() on b[from, to): ^\d{1,5}$ and at most 65535, else -1. */
function portAt(b: Buffer, from: number, to: number): number {
  if (to - from < 1 || to - from > 5) return -1;
  let v = 0;
  for (let k = from; k < to; k++) {
    const c = b[k] as number;
    if (!isDigit(c)) return -1;
    v = v * 10 + c - 48;
  }
  return v <= 65535 ? v : -1;
}

/** What a flow counter holds now, whatever the listing's length: for tests and the bench. */
export interface CounterState {
  groups: number;
  /** Bytes of an unfinished line held between chunks. */
  heldBytes: number;
}

/** Counts a listing fed chunk by chunk (an exec's stdout frames); keeps groups, never the text or the flows. */
export interface FlowCounter {
  push(chunk: Uint8Array | string): void;
  /** The counts once the listing ended (a last line without a newline counts). */
  finish(): FlowCounts;
  readonly state: CounterState;
}

const groupKey = (f: ConntrackFlow): string =>
  `${f.protocol} ${f.state ?? ''} ${f.original.src} ${f.original.dst} ${f.original.dport ?? ''} ${f.reply.src} ${f.reply.dst} ${f.reply.sport ?? ''}`;

function groupOf(f: ConntrackFlow): FlowGroup {
  const original: FlowTuple = { src: f.original.src, dst: f.original.dst };
  if (f.original.dport !== undefined) original.dport = f.original.dport;
  const reply: FlowTuple = { src: f.reply.src, dst: f.reply.dst };
  if (f.reply.sport !== undefined) reply.sport = f.reply.sport;
  return {
    family: f.family,
    protocol: f.protocol,
    ...(f.state !== undefined ? { state: f.state } : {}),
    original,
    reply,
    count: 0,
  };
}

/** A streaming reader of `conntrack -L -o extended` that keeps flow groups (see the file's head). */
export function createFlowCounter(limits: TableLimits = DEFAULT_TABLE_LIMITS): FlowCounter {
  const groups = new GroupTable();
  const inPlace = new InPlaceReader(groups);
  const lines = new FlowLines(
    limits,
    (flow) => groups.count(flow),
    (b, start, end, room) => inPlace.read(b, start, end, room),
  );
  return {
    push: (chunk) => lines.push(chunk),
    finish: () => {
      lines.end();
      return {
        groups: [...groups.list],
        flows: lines.flows,
        malformed: lines.malformed,
        truncated: lines.truncated,
      };
    },
    get state() {
      return { groups: groups.list.length, heldBytes: lines.held };
    },
  };
}

/** The counts of a whole listing. */
export function countConntrackFlows(text: string, limits: TableLimits = DEFAULT_TABLE_LIMITS): FlowCounts {
  const counter = createFlowCounter(limits);
  counter.push(text);
  return counter.finish();
}

/** The whole table, every flow; never throws. The tool's own summary line (stderr) and blank lines are skipped. */
export function parseConntrackTable(
  text: string,
  limits: TableLimits = DEFAULT_TABLE_LIMITS,
): ConntrackTable {
  const flows: ConntrackFlow[] = [];
  const lines = new FlowLines(limits, (flow) => flows.push(flow));
  lines.push(text);
  lines.end();
  return { flows, malformed: lines.malformed, truncated: lines.truncated };
}
