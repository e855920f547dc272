// A /proc/net/tcp{,6} table → SocketSummary, as DESIGN.md "Semantics that must be right" defines
// SNAT-consuming sockets: remote public (per the classifier), state not LISTEN/CLOSE, and
// outbound — its local port is not one the same table LISTENs on. tcp6 listeners come after
// tcp's connections when both files are concatenated, so direction is decided at finish; until
// then a candidate is two numbers in a growable Uint32Array, not an object.
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

/** State slots per destination (a power of two ≥ STATE_CODES); unknown codes count in slot 0, UNKNOWN. */
const STATE_SLOTS = 16;

export interface Summarizer {
  push(chunk: Uint8Array | string): void;
  /** Ends one input (a last line without a newline is a line) without ending the table. */
  flush(): void;
  finish(): SocketSummary;
  /** Lines, headers and bytes seen so far (complete after finish). */
  readonly counts: ScanCounts;
  /** Hash-table slots examined so far (a work measure: tests check it stays linear on hostile input). */
  readonly probes: number;
}

/** Words per slot: address word 3, port + 1 (0 = empty), destination index, unused (16 bytes). */
const SLOT_WORDS = 4;
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
 */
class DestinationTable {
  private readonly t = new Int32Array(KEY_BYTES * 256);
  /** The tabulation of the 12 address bytes before an IPv4 address in `::ffff:a.b.c.d`. */
  private readonly mapped: number;
  /** A slot holds the address's last word (all of IPv4), the port + 1 and the index; the rest is in keys. */
  private slots = new Int32Array(SLOT_WORDS * 1024);
  private mask = 1023;
  /** Destinations in first-seen order: w0 w1 w2 w3 port per index. */
  private keys = new Int32Array(5 * 512);
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

  constructor(random: (into: Int32Array) => void = (into) => void globalThis.crypto.getRandomValues(into)) {
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
    const keys = this.keys;
    let slot = this.hash(w0, w1, w2, w3, port) & this.mask;
    const tag = port + 1;
    for (;;) {
      this.probes++;
      const at = slot * SLOT_WORDS;
      const t = slots[at + 1] as number;
      if (t === 0) break;
      if (t === tag && slots[at] === w3) {
        const index = slots[at + 2] as number;
        const k = index * 5;
        if (keys[k + 2] === w2 && keys[k + 1] === w1 && keys[k] === w0) return index;
      }
      slot = (slot + 1) & this.mask;
    }
    const index = this.size;
    if ((index + 1) * 2 > this.mask + 1) {
      this.grow();
      slots = this.slots;
      slot = this.hash(w0, w1, w2, w3, port) & this.mask;
      while ((slots[slot * SLOT_WORDS + 1] as number) !== 0) slot = (slot + 1) & this.mask;
    }
    const at = slot * SLOT_WORDS;
    slots[at] = w3;
    slots[at + 1] = tag;
    slots[at + 2] = index;
    if ((index + 1) * 5 > this.keys.length) {
      const grown = new Int32Array(this.keys.length * 2);
      grown.set(this.keys);
      this.keys = grown;
    }
    const k = index * 5;
    this.keys[k] = w0;
    this.keys[k + 1] = w1;
    this.keys[k + 2] = w2;
    this.keys[k + 3] = w3;
    this.keys[k + 4] = port;
    this.size = index + 1;
    return index;
  }

  /** Word `j` of destination `index`'s key: address words 0-3 (unsigned), then the port. */
  keyWord(index: number, j: number): number {
    return (this.keys[index * 5 + j] as number) >>> 0;
  }

  private grow(): void {
    const old = this.slots;
    const capacity = (this.mask + 1) * 2;
    const slots = new Int32Array(capacity * SLOT_WORDS);
    const mask = capacity - 1;
    for (let at = 0; at < old.length; at += SLOT_WORDS) {
      const tag = old[at + 1] as number;
      if (tag === 0) continue;
      const k = (old[at + 2] as number) * 5;
      const keys = this.keys;
      let slot =
        this.hash(
          keys[k] as number,
          keys[k + 1] as number,
          keys[k + 2] as number,
          old[at] as number,
          tag - 1,
        ) & mask;
      while ((slots[slot * SLOT_WORDS + 1] as number) !== 0) slot = (slot + 1) & mask;
      slots.set(old.subarray(at, at + SLOT_WORDS), slot * SLOT_WORDS);
    }
    this.slots = slots;
    this.mask = mask;
  }
}

const defaultClassifier = createClassifier();

/** Words per block of the candidate log (two per candidate): 256 KiB. */
const CANDIDATE_BLOCK = 1 << 16;

export function createSummarizer(classifier: AddressClassifier = defaultClassifier): Summarizer {
  const stateCounts = new Float64Array(256);
  const listenPorts = new Uint8Array(65536);
  /** Sockets not in LISTEN, per local port: inbound/outbound is decided from these at finish. */
  const nonListenByPort = new Uint32Array(65536);
  const destinations = new DestinationTable();
  /**
   * SNAT candidates, (localPort | state << 16, destination index) pairs: appended in order, so the
   * hot path writes memory sequentially; counted at finish, when every LISTEN is known. Held in blocks
   * of fixed size, not one array that doubles: no copy when it grows, no half-empty array and no
   * discarded one waiting for the collector (on 800k candidates that was 12 MB of peak RSS instead of 6).
   */
  const blocks: Uint32Array[] = [];
  let candidates = new Uint32Array(CANDIDATE_BLOCK);
  blocks.push(candidates);
  let filled = 0;
  let candidateCount = 0;

  const visit = (r: RawSocket): void => {
    const state = r.state;
    stateCounts[state] = (stateCounts[state] as number) + 1;
    const localPort = r.localPort;
    if (state === CODE_LISTEN) {
      listenPorts[localPort] = 1;
      return;
    }
    nonListenByPort[localPort] = (nonListenByPort[localPort] as number) + 1;
    // A port already known to be listened on makes the socket inbound: nothing to keep.
    if (state === CODE_CLOSE || listenPorts[localPort] === 1) return;
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
    if (filled === CANDIDATE_BLOCK) {
      candidates = new Uint32Array(CANDIDATE_BLOCK);
      blocks.push(candidates);
      filled = 0;
    }
    candidates[filled] = localPort | (state << 16);
    candidates[filled + 1] = index;
    filled += 2;
    candidateCount++;
  };

  const scanner = new ProcNetTcpScanner(visit);

  return {
    counts: scanner.counts,
    get probes() {
      return destinations.probes;
    },
    push: (chunk) => scanner.push(chunk),
    flush: () => {
      scanner.finish();
    },
    finish(): SocketSummary {
      const counts = scanner.finish();
      const byState: Partial<Record<TcpState, number>> = {};
      for (let code = 0; code < 256; code++) {
        const n = stateCounts[code] as number;
        if (n === 0) continue;
        const state = STATE_BY_CODE[code] ?? 'UNKNOWN';
        byState[state] = (byState[state] ?? 0) + n;
      }
      let inbound = 0;
      let nonListen = 0;
      for (let port = 0; port < 65536; port++) {
        const n = nonListenByPort[port] as number;
        nonListen += n;
        if (listenPorts[port] === 1) inbound += n;
      }
      const sockets = new Uint32Array(destinations.size);
      const states = new Uint32Array(destinations.size * STATE_SLOTS);
      let snatSockets = 0;
      let left = candidateCount;
      for (const block of blocks) {
        const end = Math.min(left * 2, CANDIDATE_BLOCK);
        left -= end / 2;
        for (let at = 0; at < end; at += 2) {
          const packed = block[at] as number;
          // A LISTEN seen after sockets on its port (tcp6 after tcp) makes them inbound.
          if (listenPorts[packed & 0xffff] === 1) continue;
          const index = block[at + 1] as number;
          const code = packed >>> 16;
          sockets[index] = (sockets[index] as number) + 1;
          const slot = index * STATE_SLOTS + (code < STATE_CODES ? code : 0);
          states[slot] = (states[slot] as number) + 1;
          snatSockets++;
        }
      }
      const out: DestinationCount[] = [];
      for (let index = 0; index < destinations.size; index++) {
        const n = sockets[index] as number;
        if (n === 0) continue;
        // Text only for the destinations that hold SNAT sockets, once each.
        const w0 = destinations.keyWord(index, 0);
        const w1 = destinations.keyWord(index, 1);
        const w2 = destinations.keyWord(index, 2);
        const w3 = destinations.keyWord(index, 3);
        const port = destinations.keyWord(index, 4);
        const address = isMappedV4(w0, w1, w2) ? formatIpv4(w3) : formatIpv6(w0, w1, w2, w3);
        const perState: Partial<Record<TcpState, number>> = {};
        for (let code = 0; code < STATE_SLOTS; code++) {
          const k = states[index * STATE_SLOTS + code] as number;
          if (k > 0) perState[STATE_BY_CODE[code] ?? 'UNKNOWN'] = k;
        }
        out.push({ remote: formatEndpoint(address, port), address, port, sockets: n, byState: perState });
      }
      return {
        lines: counts.lines,
        parsed: counts.parsed,
        malformed: counts.malformed,
        byState,
        listening: (stateCounts[CODE_LISTEN] as number) ?? 0,
        inbound,
        outbound: nonListen - inbound,
        snatSockets,
        destinations: sortDestinations(out),
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
