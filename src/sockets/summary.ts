// A /proc/net/tcp{,6} table → SocketSummary, as DESIGN.md "Semantics that must be right" defines
// SNAT-consuming sockets: remote public (per the classifier), state not LISTEN/CLOSE, and
// outbound — its local port is not one the same table LISTENs on. tcp6 listeners come after
// tcp's connections when both files are concatenated, so direction is decided at finish; until
// then a candidate is two numbers in a growable Uint32Array, not an object.
import { randomFillSync } from 'node:crypto';
import { SnatguardError } from '../errors.js';
import type { DestinationCount, SocketSummary, TcpState } from '../model.js';
import {
  type AddressClassifier,
  createClassifier,
  formatEndpoint,
  formatIpv4,
  formatIpv6,
  isMappedV4,
} from './address.js';
import { ProcNetTcpScanner, type RawSocket, type ScanCounts } from './parse.js';
import { CODE_CLOSE, CODE_LISTEN, STATE_BY_CODE, STATE_CODES } from './states.js';

/**
 * A destination counts its sockets per state in STATE_CODES slots, one per known code; unknown codes count
 * in slot 0, UNKNOWN. A candidate log entry holds the slot in 4 bits: STATE_SLOTS (16) ≥ STATE_CODES.
 */
const STATE_SLOTS = 16;
if (STATE_CODES > STATE_SLOTS) throw new Error('state codes do not fit the candidate log');

export interface Summarizer {
  push(chunk: Uint8Array | string): void;
  /** Ends one input (a last line without a newline is a line) without ending the table. */
  flush(): void;
  finish(): SocketSummary;
  /**
   * {@link finish} with the destinations left in the summarizer's arrays, each made into an object only
   * when asked for: tens of thousands of destinations printed one by one never live as objects at once.
   */
  finishCompact(): CompactSummary;
  /** Lines, headers and bytes seen so far (complete after finish). */
  readonly counts: ScanCounts;
  /** Hash-table slots examined so far (a work measure: tests check it stays linear on hostile input). */
  readonly probes: number;
  /**
   * False once a summarizer made with `direct` saw a LISTEN after SNAT candidates on its port: its summary
   * would count them (it kept no log to take them back), so the caller summarizes its input again
   * without `direct`. Always true without `direct`.
   */
  readonly exact: boolean;
}

export interface SummarizerOptions {
  /**
   * Count SNAT candidates as they come instead of logging them (4 bytes each) for finish: less memory
   * and work, but a LISTEN that comes after candidates on its port (tcp6's after tcp's) makes the
   * summary inexact ({@link Summarizer.exact}). For callers that can read their input again.
   */
  direct?: boolean;
}

/** Destinations in the summary's order (most sockets first, then by remote), made on demand. */
export interface DestinationList {
  readonly length: number;
  /** Destination `i`: a new object each call; undefined past the end (as an array's `at`). */
  at(i: number): DestinationCount | undefined;
  /**
   * Destinations [from, to) as `JSON.stringify(list, null, 2)` prints its elements (each line indented
   * by 4, elements joined by `,\n`, and `,\n` before the first unless it is the list's first), as ASCII
   * bytes written from the arrays: no object and no string per destination, and no string at all (stdout
   * takes the bytes as they are). Written into `into` when given (it must hold {@link jsonBytesMax} bytes
   * for them; the answer is a view of it), else into a buffer of their size made for the call.
   */
  json?(from: number, to: number, into?: Buffer): Buffer;
}

export interface CompactSummary extends Omit<SocketSummary, 'destinations'> {
  destinations: DestinationList;
}

/** Words per slot: the destination's index + 1 (0 = empty) and its key's hash (8 bytes). */
const SLOT_WORDS = 2;
/** Tag bit of an IPv4 (IPv4-mapped) key; port + 1 takes bits 0-16. */
const MAPPED_TAG = 1 << 17;
/** Key bytes: 16 of the address, 2 of the port; tabulation draws one random 32-bit word per byte value. */
const KEY_BYTES = 18;

/**
 * (address, port) → destination index, with no key objects and no strings on the hot path.
 *
 * Peer addresses are chosen by tenants. A fixed hash can be inverted so that chosen peers share one
 * slot, and linear probing turns quadratic (64 MiB of crafted text took 46 s with the murmur finalizer
 * used before). So the hash is simple tabulation with tables drawn at random per summarizer: it is
 * 3-independent, and with linear probing it takes expected constant time per key for any key set
 * chosen without knowledge of the tables (Pătraşcu and Thorup, "The Power of Simple Tabulation
 * Hashing", 2012). The tables never leave the process.
 *
 * Int32 throughout: addresses ≥ 2³¹ held as uint32 would leave V8's small-integer fast path.
 * Exported for its tests (test/sockets/hostile.test.ts), which draw the tables themselves.
 */
export class DestinationTable {
  private readonly t = new Int32Array(KEY_BYTES * 256);
  /** The tabulation of the 12 address bytes before an IPv4 address in `::ffff:a.b.c.d`. */
  private readonly mapped: number;
  /**
   * A slot holds a destination's index + 1 and its key's hash; the key is matched in the destination's row
   * of {@link rows} (address word 3 and the tag: all of an IPv4 key), the rest of it in keys. The row is
   * the one the summarizer counts the socket in: a lookup and its count touch one cache line of rows.
   */
  private slots = new Int32Array(SLOT_WORDS * 1024);
  private mask = 1023;
  /**
   * Address words 0-2 of each destination (word 3 and the port are in its row), in chunks of
   * TALLY_CHUNK destinations added as they come: nothing copied, no discarded array when it grows.
   */
  private readonly keys: Int32Array[] = [];
  /** Per destination its row: its key's word 3 and tag, then its counts (the summarizer's). */
  readonly rows = new Tally();
  size = 0;
  /** Slots looked at by every lookup so far: the work, which stays linear in the keys on any input. */
  probes = 0;
  /** The last key looked up (sockets to one destination often come in runs) and its index. */
  private last0 = 0;
  private last1 = 0;
  private last2 = 0;
  private last3 = 0;
  private lastPort = -1;
  private lastIndex = 0;

  // node:crypto's randomFillSync: the same CSPRNG (OpenSSL's) as webcrypto's getRandomValues, without its
  // WebIDL layer (a summarizer per pod: 18 KB in ~9 µs here, not ~13, and webcrypto not loaded at all).
  constructor(random: (into: Int32Array) => void = (into) => void randomFillSync(into)) {
    random(this.t);
    const t = this.t;
    // ::ffff:0:0/96 — bytes 0-9 are 0, bytes 10 and 11 are 0xff.
    let m = 0;
    for (let b = 0; b < 10; b++) m ^= t[b * 256] as number;
    this.mapped = m ^ (t[10 * 256 + 255] as number) ^ (t[11 * 256 + 255] as number);
  }

  /** The tabulation of one address word, its bytes drawn from the tables at `first` (word k: 1024·k). */
  private word(w: number, first: number): number {
    const t = this.t;
    return (
      (t[first + (w >>> 24)] as number) ^
      (t[first + 256 + ((w >>> 16) & 255)] as number) ^
      (t[first + 512 + ((w >>> 8) & 255)] as number) ^
      (t[first + 768 + (w & 255)] as number)
    );
  }

  private hash(w0: number, w1: number, w2: number, w3: number, port: number): number {
    const t = this.t;
    const head =
      w0 === 0 && w1 === 0 && w2 === 0xffff
        ? this.mapped
        : this.word(w0, 0) ^ this.word(w1, 1024) ^ this.word(w2, 2048);
    return (
      head ^ this.word(w3, 3072) ^ (t[4096 + (port & 255)] as number) ^ (t[4352 + (port >>> 8)] as number)
    );
  }

  /** The index of (address, port), inserting it (as the next index) when new. IPv4 is `::ffff:a.b.c.d`. */
  indexOf(u0: number, u1: number, u2: number, u3: number, port: number): number {
    const w0 = u0 | 0;
    const w1 = u1 | 0;
    const w2 = u2 | 0;
    const w3 = u3 | 0;
    if (
      port === this.lastPort &&
      w3 === this.last3 &&
      w2 === this.last2 &&
      w1 === this.last1 &&
      w0 === this.last0
    )
      return this.lastIndex;
    const index = this.lookup(w0, w1, w2, w3, port);
    this.last0 = w0;
    this.last1 = w1;
    this.last2 = w2;
    this.last3 = w3;
    this.lastPort = port;
    this.lastIndex = index;
    return index;
  }

  private lookup(w0: number, w1: number, w2: number, w3: number, port: number): number {
    let slots = this.slots;
    const hash = this.hash(w0, w1, w2, w3, port);
    let slot = hash & this.mask;
    const mapped = w0 === 0 && w1 === 0 && w2 === 0xffff;
    const tag = (port + 1) | (mapped ? MAPPED_TAG : 0);
    for (;;) {
      this.probes++;
      const at = slot * SLOT_WORDS;
      const v = slots[at] as number;
      if (v === 0) break;
      if (slots[at + 1] === hash) {
        const index = v - 1;
        const rows = this.rows.chunkOf(index);
        const row = (index & (TALLY_CHUNK - 1)) * TALLY_WORDS;
        if (rows[row + 1] === tag && rows[row] === w3) {
          if (mapped) return index;
          const keys = this.keys[index >>> LOG_INDEX_BITS] as Int32Array;
          const k = (index & (TALLY_CHUNK - 1)) * 3;
          if (keys[k + 2] === w2 && keys[k + 1] === w1 && keys[k] === w0) return index;
        }
      }
      slot = (slot + 1) & this.mask;
    }
    const index = this.size;
    if ((index + 1) * 2 > this.mask + 1) {
      this.grow();
      slots = this.slots;
      slot = hash & this.mask;
      while ((slots[slot * SLOT_WORDS] as number) !== 0) slot = (slot + 1) & this.mask;
    }
    const at = slot * SLOT_WORDS;
    slots[at] = index + 1;
    slots[at + 1] = hash;
    const rows = this.rows.rowFor(index);
    const row = (index & (TALLY_CHUNK - 1)) * TALLY_WORDS;
    rows[row] = w3;
    rows[row + 1] = tag;
    const keys = chunkFor(this.keys, index, 3);
    const k = (index & (TALLY_CHUNK - 1)) * 3;
    keys[k] = w0;
    keys[k + 1] = w1;
    keys[k + 2] = w2;
    this.size = index + 1;
    return index;
  }

  /** Word `j` of destination `index`'s key: address words 0-3 (unsigned), then the port. */
  keyWord(index: number, j: number): number {
    const at = index & (TALLY_CHUNK - 1);
    if (j < 3) return ((this.keys[index >>> LOG_INDEX_BITS] as Int32Array)[at * 3 + j] as number) >>> 0;
    const rows = this.rows.chunkOf(index);
    const row = at * TALLY_WORDS;
    // The tag is port + 1 in bits 0-16 (MAPPED_TAG above them).
    return j === 3 ? (rows[row] as number) >>> 0 : ((rows[row + 1] as number) & (MAPPED_TAG - 1)) - 1;
  }

  private grow(): void {
    const old = this.slots;
    const capacity = (this.mask + 1) * 2;
    const slots = new Int32Array(capacity * SLOT_WORDS);
    const mask = capacity - 1;
    // The slot keeps its key's hash: moving it costs no hashing (grow runs rarely, often unoptimized).
    for (let at = 0; at < old.length; at += SLOT_WORDS) {
      if ((old[at] as number) === 0) continue;
      let slot = (old[at + 1] as number) & mask;
      while ((slots[slot * SLOT_WORDS] as number) !== 0) slot = (slot + 1) & mask;
      const to = slot * SLOT_WORDS;
      slots[to] = old[at] as number;
      slots[to + 1] = old[at + 1] as number;
    }
    this.slots = slots;
    this.mask = mask;
  }
}

/** Remote endpoints as ASCII text in one byte array, in the order added: compared and read back by number. */
class RemoteText {
  private bytes: Buffer;
  /** Where text `j` starts; text `j` ends where `j + 1` starts. */
  private readonly starts: Uint32Array;
  private count = 0;

  constructor(capacity: number) {
    this.bytes = Buffer.allocUnsafe(Math.max(64, capacity * 22)); // "a.b.c.d:port" is at most 21 bytes
    this.starts = new Uint32Array(capacity + 1);
  }

  /** Adds destination `index`'s remote: its key's word 3, tag and port are in its tally row, all of an IPv4 key. */
  add(table: DestinationTable, index: number): void {
    const rows = table.rows.chunkOf(index);
    const row = (index & (TALLY_CHUNK - 1)) * TALLY_WORDS;
    const w3 = (rows[row] as number) >>> 0;
    const tag = rows[row + 1] as number;
    const port = (tag & (MAPPED_TAG - 1)) - 1;
    let at = this.starts[this.count] as number;
    if (at + 64 > this.bytes.length) {
      const grown = Buffer.allocUnsafe(this.bytes.length * 2);
      this.bytes.copy(grown, 0, 0, at);
      this.bytes = grown;
    }
    const b = this.bytes;
    if ((tag & MAPPED_TAG) !== 0) {
      at = octet(b, at, w3 >>> 24);
      b[at++] = 46; // .
      at = octet(b, at, (w3 >>> 16) & 255);
      b[at++] = 46;
      at = octet(b, at, (w3 >>> 8) & 255);
      b[at++] = 46;
      at = octet(b, at, w3 & 255);
      b[at++] = 58; // :
      at = decimal(b, at, port);
    } else {
      const w0 = table.keyWord(index, 0);
      const w1 = table.keyWord(index, 1);
      const w2 = table.keyWord(index, 2);
      at += b.write(formatEndpoint(formatIpv6(w0, w1, w2, w3), port), at, 'latin1');
    }
    this.count++;
    this.starts[this.count] = at;
  }

  /** Copies text `j` into `out` at `at` (without its `[`…`]:port` or `:port` when `address`); returns the end. */
  copy(j: number, out: Buffer, at: number, address: boolean): number {
    const b = this.bytes;
    let from = this.starts[j] as number;
    let to = this.starts[j + 1] as number;
    if (address) {
      while (b[to - 1] !== 58 /* : */) to--;
      to--;
      if (b[from] === 91 /* [ */) {
        from++;
        to--;
      }
    }
    // By hand: a few bytes, and Buffer#copy's checks cost more than the copy.
    for (let i = from; i < to; i++) out[at++] = b[i] as number;
    return at;
  }

  /** Text `j` as a string. */
  at(j: number): string {
    return this.bytes.toString('latin1', this.starts[j] as number, this.starts[j + 1] as number);
  }

  /** The order of texts `a` and `b` as strings compare (ASCII: byte by byte, a prefix first). */
  compare(a: number, b: number): number {
    const bytes = this.bytes;
    let i = this.starts[a] as number;
    let j = this.starts[b] as number;
    const endA = this.starts[a + 1] as number;
    const endB = this.starts[b + 1] as number;
    for (; i < endA && j < endB; i++, j++) {
      const d = (bytes[i] as number) - (bytes[j] as number);
      if (d !== 0) return d;
    }
    return endA - i - (endB - j);
  }
}

/** Destinations per candidate log: the low 12 bits of a destination's index go in its log entries. */
const LOG_INDEX_BITS = 12;

/**
 * Counts one block of log `k` into the rows of tally chunk `k` (the same destinations); returns how many
 * counted. A function of its own: called per block, it is optimized like a hot function (a loop in
 * `finish`, run once, waits for on-stack replacement).
 */
function countBlock(block: Int32Array, end: number, ports: Int32Array, rows: Int32Array): number {
  let n = 0;
  for (let at = 0; at < end; at++) {
    const entry = block[at] as number;
    // A LISTEN seen after sockets on its port (tcp6 after tcp) makes them inbound.
    if (((ports[entry >>> 16] as number) & LISTENED) !== 0) continue;
    const row = (entry & (TALLY_CHUNK - 1)) * TALLY_WORDS;
    rows[row + 2] = (rows[row + 2] as number) + 1;
    const slot = row + 3 + ((entry >>> LOG_INDEX_BITS) & 15);
    rows[slot] = (rows[slot] as number) + 1;
    n++;
  }
  return n;
}

/**
 * Words per destination in a {@link Tally}: its key's address word 3 and tag (the hash table matches keys
 * here), its SNAT sockets, then one count per state code: 16 words, one 64-byte cache line.
 */
const TALLY_WORDS = 3 + STATE_CODES;
/** Destinations per chunk of a {@link Tally}: as many as one candidate log holds. */
const TALLY_CHUNK = 1 << LOG_INDEX_BITS;

/**
 * Per destination a row: its key's word 3 and tag, its SNAT sockets and their count per state ({@link
 * TALLY_WORDS} words: the lookup that finds a destination and the count of its socket touch one cache
 * line); rows in chunks of {@link TALLY_CHUNK} destinations, added as destinations come: nothing is copied
 * when it grows and no discarded array waits for the collector.
 */
class Tally {
  private readonly chunks: Int32Array[] = [];

  /** The chunk that holds destination `index`'s row, made (or grown) for it: the table calls this as it adds a destination. */
  rowFor(index: number): Int32Array {
    return chunkFor(this.chunks, index, TALLY_WORDS);
  }

  /** The chunk holding destination `index`'s row (which exists: the table made it with the destination). */
  chunkOf(index: number): Int32Array {
    return this.chunks[index >>> LOG_INDEX_BITS] as Int32Array;
  }

  /** Counts one socket of destination `index` (which exists) in state slot `slot`. */
  add(index: number, slot: number): void {
    const rows = this.chunks[index >>> LOG_INDEX_BITS] as Int32Array;
    const row = (index & (TALLY_CHUNK - 1)) * TALLY_WORDS;
    rows[row + 2] = (rows[row + 2] as number) + 1;
    rows[row + 3 + slot] = (rows[row + 3 + slot] as number) + 1;
  }

  /** Sockets of destination `index` in state code `code`; its sockets in all states when `code` is -1. */
  count(index: number, code: number): number {
    const rows = this.chunks[index >>> LOG_INDEX_BITS];
    return rows === undefined ? 0 : (rows[(index & (TALLY_CHUNK - 1)) * TALLY_WORDS + 3 + code] as number);
  }
}

/** Rows of the first chunk of a chunked table at first: a pod with a few destinations takes a few KiB. */
const FIRST_CHUNK_ROWS = 64;

/**
 * Chunk `index >>> LOG_INDEX_BITS` of `chunks` (rows of `words` words), made or grown so that it holds row
 * `index`. Rows are added in index order. The first chunk starts at {@link FIRST_CHUNK_ROWS} rows and
 * doubles up to {@link TALLY_CHUNK} (a summarizer per pod must stay small); the others are made whole.
 */
function chunkFor(chunks: Int32Array[], index: number, words: number): Int32Array {
  const k = index >>> LOG_INDEX_BITS;
  const rows = (index & (TALLY_CHUNK - 1)) + 1;
  // A new chunk is past the end: only what exists is read, and a new one pushed (a read or a write past the
  // end deoptimized the table's lookup, into which this is inlined).
  const have = k < chunks.length ? chunks[k] : undefined;
  if (have !== undefined && have.length >= rows * words) return have;
  let size =
    k === 0 ? Math.max(FIRST_CHUNK_ROWS, have === undefined ? 0 : (2 * have.length) / words) : TALLY_CHUNK;
  while (size < rows) size *= 2;
  const made = new Int32Array(Math.min(size, TALLY_CHUNK) * words);
  if (have !== undefined) made.set(have);
  while (chunks.length < k) chunks.push(new Int32Array(TALLY_CHUNK * words)); // not reached: rows come in order
  if (k < chunks.length) chunks[k] = made;
  else chunks.push(made);
  return made;
}

/** Bytes of one destination's JSON at most: 13 states, a 47-byte remote, 10-digit counts. */
const JSON_BYTES_MAX = 1024;
/** Bytes that {@link DestinationList.json} may write for `n` destinations. */
export const jsonBytesMax = (n: number): number => Math.max(0, n) * JSON_BYTES_MAX;

const bytesOf = (text: string): Uint8Array => Buffer.from(text, 'latin1');
/** The constant parts of a destination's JSON (as `JSON.stringify(d, null, 2)` indented by 4), as bytes. */
const J = {
  comma: bytesOf(',\n'),
  remote: bytesOf('    {\n      "remote": "'),
  address: bytesOf('",\n      "address": "'),
  port: bytesOf('",\n      "port": '),
  sockets: bytesOf(',\n      "sockets": '),
  byState: bytesOf(',\n      "byState": {'),
  /** `\n        "ESTABLISHED": ` per state slot; `nextState` has a comma before (every key but the first). */
  state: Array.from({ length: STATE_SLOTS }, (_, code) =>
    bytesOf(`\n        "${STATE_BY_CODE[code] ?? 'UNKNOWN'}": `),
  ),
  nextState: Array.from({ length: STATE_SLOTS }, (_, code) =>
    bytesOf(`,\n        "${STATE_BY_CODE[code] ?? 'UNKNOWN'}": `),
  ),
  end: bytesOf('\n      }\n    }'),
  endEmpty: bytesOf('}\n    }'),
};

let scratch = Buffer.allocUnsafe(0);
/** One buffer reused to write every piece of JSON into (each piece is then copied out at its size). */
function jsonScratch(bytes: number): Buffer {
  if (scratch.length < bytes) scratch = Buffer.allocUnsafe(bytes);
  return scratch;
}

/** Copies the few bytes of `from` into `out` at `at` (by hand: Uint8Array#set's call costs more); returns the end. */
function put(out: Uint8Array, at: number, from: Uint8Array): number {
  for (let i = 0; i < from.length; i++) out[at + i] = from[i] as number;
  return at + from.length;
}

/**
 * One destination's JSON (see {@link DestinationList.json}) from its tally row (`row` in `rows`) and its
 * remote text `j`, at `at`; returns the end. One function, called per destination: it is optimized
 * after the first few hundred.
 */
function destinationJson(
  out: Buffer,
  at: number,
  rows: Int32Array,
  row: number,
  text: RemoteText | undefined,
  j: number,
): number {
  // The tag is port + 1 in bits 0-16 (MAPPED_TAG above them).
  const port = ((rows[row + 1] as number) & (MAPPED_TAG - 1)) - 1;
  let i = put(out, at, J.remote);
  if (text === undefined) {
    // IPv4 (`text` holds IPv6 remotes only): its address word is in the row.
    const w3 = (rows[row] as number) >>> 0;
    i = ipv4(out, i, w3);
    out[i++] = 58; // :
    i = decimal(out, i, port);
    i = put(out, i, J.address);
    i = ipv4(out, i, w3);
  } else {
    i = text.copy(j, out, i, false);
    i = put(out, i, J.address);
    i = text.copy(j, out, i, true);
  }
  i = put(out, i, J.port);
  i = digits(out, i, port);
  i = put(out, i, J.sockets);
  i = digits(out, i, rows[row + 2] as number);
  i = put(out, i, J.byState);
  let any = false;
  for (let code = 0; code < STATE_CODES; code++) {
    const k = rows[row + 3 + code] as number;
    if (k === 0) continue;
    i = put(out, i, (any ? J.nextState : J.state)[code] as Uint8Array);
    i = digits(out, i, k);
    any = true;
  }
  return put(out, i, any ? J.end : J.endEmpty);
}

/** Writes a whole number ≥ 0 in decimal (as JSON and String() print it); returns the index after it. */
function digits(out: Buffer, at: number, n: number): number {
  let end = at;
  for (let v = n; v >= 10; v = Math.floor(v / 10)) end++;
  let v = n;
  for (let i = end; i >= at; i--) {
    out[i] = 48 + (v % 10);
    v = Math.floor(v / 10);
  }
  return end + 1;
}

/** Per byte value its decimal text: its length, then up to 3 digits. */
const OCTETS = new Uint8Array(256 * 4);
for (let n = 0; n < 256; n++) {
  const text = String(n);
  OCTETS[n * 4] = text.length;
  for (let i = 0; i < text.length; i++) OCTETS[n * 4 + 1 + i] = text.charCodeAt(i);
}

/** Writes IPv4 address `w` (a.b.c.d) at `at`; returns the index after it. */
function ipv4(b: Uint8Array, at: number, w: number): number {
  let i = octet(b, at, w >>> 24);
  b[i++] = 46; // .
  i = octet(b, i, (w >>> 16) & 255);
  b[i++] = 46;
  i = octet(b, i, (w >>> 8) & 255);
  b[i++] = 46;
  return octet(b, i, w & 255);
}

/**
 * The order of an IPv4 remote's text `a.b.c.d:port` among others, as strings compare, as one number < 2⁵⁰
 * (exact in a double). Compared byte by byte, two such texts differ first inside one field (a, b, c, d,
 * port) or where one field's digits end in the other's: `.` sorts before every digit (so `1.` before
 * `10.`: a shorter field first), `:` after every digit (so `10:` after `100:`: a shorter d last), and
 * the text's end before anything (a shorter port first). Each field's order is therefore the order of
 * its digits with a missing digit taken as below (or, for d, above) every digit: {@link DOT_ORDER} and
 * {@link COLON_ORDER} rank the 256 octets so, {@link portOrder} the ports.
 */
function v4OrderKey(w: number, port: number): number {
  const head =
    (((DOT_ORDER[w >>> 24] as number) * 256 + (DOT_ORDER[(w >>> 16) & 255] as number)) * 256 +
      (DOT_ORDER[(w >>> 8) & 255] as number)) *
      256 +
    (COLON_ORDER[w & 255] as number);
  return head * PORT_ORDERS + portOrder(port);
}

/** An IPv6 remote's key: every IPv4 key (< 2⁵⁰) is below it (`[` sorts after digits). */
const V6_KEY = 2 ** 51;

/** Port orders are below this (11⁵ < 2¹⁸). */
const PORT_ORDERS = 2 ** 18;

/** A port's order as its text's: its decimal digits (each + 1) in base 11, a missing digit 0 (a shorter text first). */
function portOrder(port: number): number {
  const n = port < 10 ? 1 : port < 100 ? 2 : port < 1000 ? 3 : port < 10000 ? 4 : 5;
  let key = 0;
  for (let k = 0; k < 5; k++) {
    // Digit k of the text (from the left), + 1; 0 past its end.
    const digit = k < n ? (Math.floor(port / 10 ** (n - 1 - k)) % 10) + 1 : 0;
    key = key * 11 + digit;
  }
  return key;
}

/** Rank (0-255) of each octet's text among the 256, by `compare` of their texts. */
function octetRanks(compare: (a: string, b: string) => number): Uint8Array {
  const sorted = Array.from({ length: 256 }, (_, n) => n).sort((a, b) => compare(String(a), String(b)));
  const ranks = new Uint8Array(256);
  sorted.forEach((n, rank) => {
    ranks[n] = rank;
  });
  return ranks;
}
const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
/** Octets a, b, c (a `.` follows, which sorts before digits): a shorter text first. */
const DOT_ORDER = octetRanks(byText);
/** Octet d (a `:` follows, which sorts after digits): a shorter text last. */
const COLON_ORDER = octetRanks((a, b) => byText(`${a}:`, `${b}:`));

/** Writes `n` (0 ≤ n ≤ 255) in decimal at `at`; returns the index after it. */
function octet(b: Uint8Array, at: number, n: number): number {
  const k = n * 4;
  const length = OCTETS[k] as number;
  b[at] = OCTETS[k + 1] as number;
  if (length > 1) b[at + 1] = OCTETS[k + 2] as number;
  if (length > 2) b[at + 2] = OCTETS[k + 3] as number;
  return at + length;
}

/** Writes `n` (0 ≤ n ≤ 65535) in decimal at `at`; returns the index after it. */
function decimal(b: Uint8Array, at: number, n: number): number {
  if (n >= 10000) b[at++] = 48 + Math.floor(n / 10000);
  if (n >= 1000) b[at++] = 48 + (Math.floor(n / 1000) % 10);
  if (n >= 100) b[at++] = 48 + (Math.floor(n / 100) % 10);
  if (n >= 10) b[at++] = 48 + (Math.floor(n / 10) % 10);
  b[at++] = 48 + (n % 10);
  return at;
}

const defaultClassifier = createClassifier();

/** Entries in a log's first block; each next block is twice as big, up to {@link LOG_BLOCK_MAX}. */
const LOG_BLOCK_MIN = 1 << 10;
/** Entries per block at most: 64 KiB. */
const LOG_BLOCK_MAX = 1 << 14;

/**
 * A summarizer's per-port table (256 KiB): per local port one word, its sockets not in LISTEN times 4
 * (read with `>>> 2`: up to 2³⁰ - 1 sockets on one port, 150 GB of text), plus {@link LISTENED} and
 * {@link CANDIDATE}. One word, so a socket's checks and counts on its port touch one cache line, not three
 * (the port tables were three: listen flags, counts, candidate flags).
 */
interface PortTables {
  ports: Int32Array;
}
/** A port's word: the table LISTENs on it. */
const LISTENED = 1;
/** A port's word (`direct`): an SNAT candidate had it as local port (a first LISTEN on it then makes the summary inexact). */
const CANDIDATE = 2;
/** A port's word: one more socket not in LISTEN. */
const ONE_SOCKET = 4;
/**
 * Port tables of finished summarizers, cleared, for the next one: a scan summarizes a pod at a time, and
 * each new pair (as it was) was 320 KiB of fresh memory outside the heap (~80 MB over a node's 250 pods), given back
 * only by the garbage collections its pressure forced while execs waited. As many as execs run at once.
 */
const freePortTables: PortTables[] = [];
const POOLED_PORT_TABLES = 16;
let portTablesMade = 0;
/** Pairs of port tables made by this process so far (the others were reused). */
export const portTablesAllocated = (): number => portTablesMade;

function takePortTables(): PortTables {
  const free = freePortTables.pop();
  if (free !== undefined) return free;
  portTablesMade++;
  return { ports: new Int32Array(65536) };
}

export function createSummarizer(
  classifier: AddressClassifier = defaultClassifier,
  options: SummarizerOptions = {},
): Summarizer {
  const direct = options.direct === true;
  const stateCounts = new Float64Array(256);
  const tables = takePortTables();
  /** Per local port: sockets not in LISTEN (inbound/outbound is decided from these at finish) and flags. */
  const ports = tables.ports;
  /** The LISTENED ports, in the order their first LISTEN came (finish sums only these). */
  const listened: number[] = [];
  /** finishCompact's answer: computed once, then the port tables go back, cleared, to the pool. */
  let finished: CompactSummary | undefined;
  let nonListen = 0;
  const destinations = new DestinationTable();
  /**
   * SNAT candidates, counted at finish when every LISTEN is known (a LISTEN seen after sockets on its
   * port, as tcp6's after tcp's, makes them inbound). One 32-bit entry per candidate: local port (16
   * bits), state slot (4), the destination index's low 12 bits; the rest of the index is which log
   * the entry is in (destinations 0-4095 in log 0 …). Entries are appended in order, so the hot path
   * writes memory sequentially, in blocks of fixed size (no copy when a log grows, no discarded array
   * waiting for the collector). 4 bytes a candidate: 800k candidates cost 3.2 MB, not 6.4.
   */
  const logs: Int32Array[][] = [];
  /** Entries in the last block of each log. */
  const logFill: number[] = [];
  /** `direct`: the SNAT candidates, counted as they come (in the destinations' rows). */
  const tally = destinations.rows;
  let tallied = 0;
  let exact = true;

  const logCandidate = (index: number, entry: number): void => {
    const k = index >>> LOG_INDEX_BITS;
    while (logs.length <= k) {
      logs.push([new Int32Array(LOG_BLOCK_MIN)]);
      logFill.push(0);
    }
    const blocks = logs[k] as Int32Array[];
    let block = blocks[blocks.length - 1] as Int32Array;
    let fill = logFill[k] as number;
    if (fill === block.length) {
      block = new Int32Array(Math.min(block.length * 2, LOG_BLOCK_MAX));
      blocks.push(block);
      fill = 0;
    }
    block[fill] = entry;
    logFill[k] = fill + 1;
  };

  const visit = (r: RawSocket): void => {
    const state = r.state;
    stateCounts[state] = (stateCounts[state] as number) + 1;
    const localPort = r.localPort;
    const port = ports[localPort] as number;
    if (state === CODE_LISTEN) {
      if ((port & LISTENED) === 0) {
        if ((port & CANDIDATE) !== 0) exact = false;
        ports[localPort] = port | LISTENED;
        listened.push(localPort);
      }
      return;
    }
    ports[localPort] = (port + ONE_SOCKET) | 0;
    nonListen++;
    // A port already known to be listened on makes the socket inbound: nothing to keep.
    if (state === CODE_CLOSE || (port & LISTENED) !== 0) return;
    let index: number;
    if (r.remoteV4) {
      if (classifier.classifyV4(r.remote4) !== 'public') return;
      index = destinations.indexOf(0, 0, 0xffff, r.remote4, r.remotePort);
    } else {
      const w = r.remote;
      const w0 = w[0] as number;
      const w1 = w[1] as number;
      const w2 = w[2] as number;
      const w3 = w[3] as number;
      if (classifier.classifyV6(w0, w1, w2, w3) !== 'public') return;
      index = destinations.indexOf(w0, w1, w2, w3, r.remotePort);
    }
    const slot = state < STATE_CODES ? state : 0;
    if (direct) {
      ports[localPort] = (port + ONE_SOCKET) | CANDIDATE;
      tally.add(index, slot);
      tallied++;
    } else
      logCandidate(
        index,
        (localPort << 16) | (slot << LOG_INDEX_BITS) | (index & ((1 << LOG_INDEX_BITS) - 1)),
      );
  };

  const scanner = new ProcNetTcpScanner(visit);

  const addressOf = (index: number): string => {
    const w0 = destinations.keyWord(index, 0);
    const w1 = destinations.keyWord(index, 1);
    const w2 = destinations.keyWord(index, 2);
    const w3 = destinations.keyWord(index, 3);
    return isMappedV4(w0, w1, w2) ? formatIpv4(w3) : formatIpv6(w0, w1, w2, w3);
  };

  return {
    counts: scanner.counts,
    get probes() {
      return destinations.probes;
    },
    get exact() {
      return exact;
    },
    // Once finished, the port tables may be another summarizer's: nothing more is read into them.
    push: (chunk) => {
      if (finished === undefined) scanner.push(chunk);
    },
    flush: () => {
      if (finished === undefined) scanner.finish();
    },
    finishCompact(): CompactSummary {
      if (finished !== undefined) return finished;
      if (!exact)
        throw new SnatguardError(
          'the direct summary is inexact (a LISTEN came after sockets on its port): summarize again without direct',
        );
      const counts = scanner.finish();
      const byState: Partial<Record<TcpState, number>> = {};
      for (let code = 0; code < 256; code++) {
        const n = stateCounts[code] as number;
        if (n === 0) continue;
        const state = STATE_BY_CODE[code] ?? 'UNKNOWN';
        byState[state] = (byState[state] ?? 0) + n;
      }
      let inbound = 0;
      for (const port of listened) inbound += (ports[port] as number) >>> 2;
      let rows: Tally;
      let snatSockets = 0;
      if (direct) {
        rows = tally;
        snatSockets = tallied;
      } else {
        rows = destinations.rows;
        for (let k = 0; k < logs.length; k++) {
          const blocks = logs[k] as Int32Array[];
          const chunk = rows.chunkOf(k << LOG_INDEX_BITS);
          for (let b = 0; b < blocks.length; b++) {
            const block = blocks[b] as Int32Array;
            const end = b === blocks.length - 1 ? (logFill[k] as number) : block.length;
            snatSockets += countBlock(block, end, ports, chunk);
          }
        }
      }
      const sockets = (index: number): number => rows.count(index, -1);
      // Ties go by remote as strings compare. An IPv4 remote's order is a number made from its words
      // ({@link v4OrderKey}); IPv6 remotes (after every IPv4 one: `[` sorts after digits) are written
      // once as bytes into one array and compared as such (not tens of thousands of strings that would
      // live on the heap to the end). Strings are made when a destination is asked for.
      const ids: number[] = [];
      // Each destination's sockets read once, into an array the comparator indexes.
      const socketCounts: number[] = [];
      for (let first = 0; first < destinations.size; first += TALLY_CHUNK) {
        const chunk = rows.chunkOf(first);
        const end = Math.min(TALLY_CHUNK, destinations.size - first) * TALLY_WORDS;
        for (let row = 0; row < end; row += TALLY_WORDS) {
          const n = chunk[row + 2] as number;
          if (n === 0) continue;
          ids.push(first + row / TALLY_WORDS);
          socketCounts.push(n);
        }
      }
      const counted = Float64Array.from(socketCounts);
      // Per destination: its IPv4 order key, or V6_KEY + its place in `text`.
      const keys = new Float64Array(ids.length);
      let text: RemoteText | undefined;
      let v6 = 0;
      for (let j = 0; j < ids.length; j++) {
        const index = ids[j] as number;
        const chunk = rows.chunkOf(index);
        const row = (index & (TALLY_CHUNK - 1)) * TALLY_WORDS;
        const tag = chunk[row + 1] as number;
        if ((tag & MAPPED_TAG) !== 0)
          keys[j] = v4OrderKey((chunk[row] as number) >>> 0, (tag & (MAPPED_TAG - 1)) - 1);
        else {
          text ??= new RemoteText(ids.length);
          text.add(destinations, index);
          keys[j] = V6_KEY + v6++;
        }
      }
      const v6Text = text;
      const order = ids.map((_, j) => j);
      order.sort((a, b) => {
        const d = (counted[b] as number) - (counted[a] as number);
        if (d !== 0) return d;
        const ka = keys[a] as number;
        const kb = keys[b] as number;
        return ka < V6_KEY || kb < V6_KEY
          ? ka - kb
          : (v6Text as RemoteText).compare(ka - V6_KEY, kb - V6_KEY);
      });
      const list: DestinationList = {
        length: order.length,
        at(i: number): DestinationCount | undefined {
          const j = order[i];
          if (j === undefined) return undefined;
          const index = ids[j] as number;
          const perState: Partial<Record<TcpState, number>> = {};
          for (let code = 0; code < STATE_CODES; code++) {
            const k = rows.count(index, code);
            if (k > 0) perState[STATE_BY_CODE[code] ?? 'UNKNOWN'] = k;
          }
          const address = addressOf(index);
          return {
            remote: formatEndpoint(address, destinations.keyWord(index, 4)),
            address,
            port: destinations.keyWord(index, 4),
            sockets: sockets(index),
            byState: perState,
          };
        },
      };
      list.json = (from, to, into) => {
        const out = into ?? jsonScratch(jsonBytesMax(to - from));
        let at = 0;
        for (let i = from; i < to && i < order.length; i++) {
          const j = order[i] as number;
          const index = ids[j] as number;
          if (i > 0) {
            out[at++] = 44; // ,
            out[at++] = 10;
          }
          const key = keys[j] as number;
          const v4 = key < V6_KEY;
          const row = (index & (TALLY_CHUNK - 1)) * TALLY_WORDS;
          at = destinationJson(out, at, rows.chunkOf(index), row, v4 ? undefined : v6Text, key - V6_KEY);
        }
        if (into !== undefined) return into.subarray(0, at);
        // The piece leaves as a copy of its own size (the scratch buffer is sized for the worst case).
        const piece = Buffer.allocUnsafe(at);
        out.copy(piece, 0, 0, at);
        return piece;
      };
      finished = {
        lines: counts.lines,
        parsed: counts.parsed,
        malformed: counts.malformed,
        byState,
        listening: (stateCounts[CODE_LISTEN] as number) ?? 0,
        inbound,
        outbound: nonListen - inbound,
        snatSockets,
        destinations: list,
      };
      // Nothing above keeps the port table: cleared, it serves the next pod.
      ports.fill(0);
      if (freePortTables.length < POOLED_PORT_TABLES) freePortTables.push(tables);
      return finished;
    },
    finish(): SocketSummary {
      const summary = this.finishCompact();
      const list = summary.destinations;
      return {
        ...summary,
        destinations: Array.from({ length: list.length }, (_, i) => list.at(i) as DestinationCount),
      };
    },
  };
}

const byCountThenRemote = (a: DestinationCount, b: DestinationCount): number =>
  b.sockets - a.sockets || (a.remote < b.remote ? -1 : a.remote > b.remote ? 1 : 0);

export function sortDestinations(list: DestinationCount[]): DestinationCount[] {
  return list.sort(byCountThenRemote);
}

/** Summary of a whole text (both files may be concatenated). */
export function summarize(input: string | Uint8Array, classifier?: AddressClassifier): SocketSummary {
  const s = createSummarizer(classifier);
  s.push(input);
  return s.finish();
}

/** Bytes parsed between two returns to the event loop (a few ms of work): timers and aborts still fire. */
export const YIELD_BYTES = 1 << 20;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Pushes one chunk in slices of {@link YIELD_BYTES}, returning to the event loop between slices, so a
 * huge chunk cannot hold the loop (a run's deadline and the exec timeouts must fire); stops with the
 * signal's reason once it is aborted.
 */
export async function pushYielding(
  s: Pick<Summarizer, 'push'>,
  chunk: Uint8Array | string,
  signal?: AbortSignal,
): Promise<void> {
  const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
  // Text already in hand is parsed at least one slice deep: a deadline that fires just as a pod's read
  // returns keeps that pod (what was found before the deadline is reported); a longer text stops at
  // the next slice.
  for (let at = 0; at < b.length; at += YIELD_BYTES) {
    if (at > 0) {
      await nextTurn();
      signal?.throwIfAborted();
    }
    s.push(b.subarray(at, at + YIELD_BYTES));
  }
}

/** Summary of a stream of chunks; memory stays bounded by the summary, not the input. */
export async function summarizeStream(
  chunks: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  classifier?: AddressClassifier,
  signal?: AbortSignal,
): Promise<{ summary: SocketSummary; counts: ScanCounts }> {
  const s = createSummarizer(classifier);
  for await (const chunk of chunks) {
    await pushYielding(s, chunk, signal);
    await nextTurn();
  }
  signal?.throwIfAborted();
  const summary = s.finish();
  return { summary, counts: { ...s.counts } };
}

export function emptySummary(): SocketSummary {
  return {
    lines: 0,
    parsed: 0,
    malformed: 0,
    byState: {},
    listening: 0,
    inbound: 0,
    outbound: 0,
    snatSockets: 0,
    destinations: [],
  };
}

const addStates = (
  into: Partial<Record<TcpState, number>>,
  from: Partial<Record<TcpState, number>>,
): void => {
  for (const [state, n] of Object.entries(from) as [TcpState, number][]) into[state] = (into[state] ?? 0) + n;
};

/** Sums summaries (e.g. the pods of one workload): counts add, destinations merge by `remote`. */
export function mergeSummaries(summaries: Iterable<SocketSummary>): SocketSummary {
  const total = emptySummary();
  const byRemote = new Map<string, DestinationCount>();
  for (const s of summaries) {
    total.lines += s.lines;
    total.parsed += s.parsed;
    total.malformed += s.malformed;
    total.listening += s.listening;
    total.inbound += s.inbound;
    total.outbound += s.outbound;
    total.snatSockets += s.snatSockets;
    addStates(total.byState, s.byState);
    for (const d of s.destinations) {
      const into = byRemote.get(d.remote);
      if (into === undefined) byRemote.set(d.remote, { ...d, byState: { ...d.byState } });
      else {
        into.sockets += d.sockets;
        addStates(into.byState, d.byState);
      }
    }
  }
  total.destinations = sortDestinations([...byRemote.values()]);
  return total;
}
