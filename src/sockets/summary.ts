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
}

interface Destination {
  address: string;
  port: number;
}

const defaultClassifier = createClassifier();

/** murmur3's finalizer over (address, port): every input bit reaches the low bits used as a slot. */
function hash(address: number, port: number): number {
  let h = address ^ Math.imul(port, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Open-addressing hash of (IPv4 address, port) → destination index, no key objects, no strings.
 * One slot is 4 consecutive words (address, port + 1, index, unused): a probe touches one cache line.
 */
class V4Table {
  private slots = new Uint32Array(4096 * 4);
  private size = 0;

  /** The index of (address, port), or `next` after inserting it with that index. */
  indexOf(address: number, port: number, next: number): number {
    const slots = this.slots;
    const mask = (slots.length >>> 2) - 1;
    let slot = hash(address, port) & mask;
    const tag = port + 1;
    for (;;) {
      const at = slot << 2;
      const t = slots[at + 1] as number;
      if (t === 0) break;
      if (t === tag && slots[at] === address) return slots[at + 2] as number;
      slot = (slot + 1) & mask;
    }
    if ((this.size + 1) * 2 > mask + 1) {
      this.grow();
      return this.indexOf(address, port, next);
    }
    const at = slot << 2;
    slots[at] = address;
    slots[at + 1] = tag;
    slots[at + 2] = next;
    this.size++;
    return next;
  }

  private grow(): void {
    const old = this.slots;
    const slots = new Uint32Array(old.length * 2);
    const mask = (slots.length >>> 2) - 1;
    for (let at = 0; at < old.length; at += 4) {
      const tag = old[at + 1] as number;
      if (tag === 0) continue;
      const address = old[at] as number;
      let slot = hash(address, tag - 1) & mask;
      while ((slots[(slot << 2) + 1] as number) !== 0) slot = (slot + 1) & mask;
      slots[slot << 2] = address;
      slots[(slot << 2) + 1] = tag;
      slots[(slot << 2) + 2] = old[at + 2] as number;
    }
    this.slots = slots;
  }
}

export function createSummarizer(classifier: AddressClassifier = defaultClassifier): Summarizer {
  const stateCounts = new Float64Array(256);
  const listenPorts = new Uint8Array(65536);
  /** Sockets not in LISTEN, per local port: inbound/outbound is decided from these at finish. */
  const nonListenByPort = new Uint32Array(65536);
  const destinations: Destination[] = [];
  const v4Destinations = new V4Table();
  const byV6 = new Map<string, number>();
  /**
   * SNAT candidates, (localPort | state << 16, destination index) pairs: appended in order, so the
   * hot path writes memory sequentially; counted at finish, when every LISTEN is known.
   */
  let candidates = new Uint32Array(1 << 16);
  let candidateCount = 0;

  const destinationV4 = (address: number, port: number): number => {
    const index = v4Destinations.indexOf(address, port, destinations.length);
    if (index === destinations.length) destinations.push({ address: formatIpv4(address), port });
    return index;
  };

  const destinationV6 = (w: Uint32Array, port: number): number => {
    const address = formatIpv6(w[0] as number, w[1] as number, w[2] as number, w[3] as number);
    const key = `${address}|${port}`;
    let index = byV6.get(key);
    if (index === undefined) {
      index = destinations.length;
      destinations.push({ address, port });
      byV6.set(key, index);
    }
    return index;
  };

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
      index = destinationV4(r.remote4, r.remotePort);
    } else {
      const w = r.remote;
      if (classifier.classifyV6(w[0] as number, w[1] as number, w[2] as number, w[3] as number) !== 'public')
        return;
      index = destinationV6(w, r.remotePort);
    }
    if (candidateCount * 2 + 2 > candidates.length) {
      const grown = new Uint32Array(candidates.length * 2);
      grown.set(candidates);
      candidates = grown;
    }
    candidates[candidateCount * 2] = localPort | (state << 16);
    candidates[candidateCount * 2 + 1] = index;
    candidateCount++;
  };

  const scanner = new ProcNetTcpScanner(visit, { columns: 'summary' });

  return {
    counts: scanner.counts,
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
      const sockets = new Uint32Array(destinations.length);
      const states = new Uint32Array(destinations.length * STATE_SLOTS);
      let snatSockets = 0;
      for (let c = 0; c < candidateCount; c++) {
        const packed = candidates[c * 2] as number;
        // A LISTEN seen after sockets on its port (tcp6 after tcp) makes them inbound.
        if (listenPorts[packed & 0xffff] === 1) continue;
        const index = candidates[c * 2 + 1] as number;
        const code = packed >>> 16;
        sockets[index] = (sockets[index] as number) + 1;
        const slot = index * STATE_SLOTS + (code < STATE_CODES ? code : 0);
        states[slot] = (states[slot] as number) + 1;
        snatSockets++;
      }
      const out: DestinationCount[] = [];
      destinations.forEach((d, index) => {
        const n = sockets[index] as number;
        if (n === 0) return;
        const perState: Partial<Record<TcpState, number>> = {};
        for (let code = 0; code < STATE_SLOTS; code++) {
          const k = states[index * STATE_SLOTS + code] as number;
          if (k > 0) perState[STATE_BY_CODE[code] ?? 'UNKNOWN'] = k;
        }
        out.push({
          remote: formatEndpoint(d.address, d.port),
          address: d.address,
          port: d.port,
          sockets: n,
          byState: perState,
        });
      });
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

/** Summary of a stream of chunks; memory stays bounded by the summary, not the input. */
export async function summarizeStream(
  chunks: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  classifier?: AddressClassifier,
): Promise<{ summary: SocketSummary; counts: ScanCounts }> {
  const s = createSummarizer(classifier);
  for await (const chunk of chunks) s.push(chunk);
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
