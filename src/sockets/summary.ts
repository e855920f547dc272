// A /proc/net/tcp{,6} table → SocketSummary, as DESIGN.md "Semantics that must be right" defines
// SNAT-consuming sockets: remote public (per the classifier), state not LISTEN/CLOSE, and
// outbound — its local port is not one the same table LISTENs on. tcp6 listeners come after
// tcp's connections when both files are concatenated, so direction is decided at finish; until
// then a candidate is two numbers in a growable Uint32Array, not an object.
import type { DestinationCount, SocketSummary, TcpState } from '../model.js';
import { type AddressClassifier, createClassifier, formatEndpoint, formatIpv4, formatIpv6 } from './address.js';
import { ProcNetTcpScanner, type RawSocket, type ScanCounts } from './parse.js';
import { CODE_CLOSE, CODE_LISTEN, STATE_BY_CODE } from './states.js';

/** State slots per destination: codes 0-12 are known; 13-15 (and codes masked into them) are UNKNOWN. */
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

/** Open-addressing hash of (IPv4 address, port) → destination index: no key objects, no strings. */
class V4Table {
  private addresses = new Uint32Array(1024);
  private ports = new Int32Array(1024).fill(-1);
  private indexes = new Uint32Array(1024);
  private size = 0;

  /** The index of (address, port), or `next` after inserting it with that index. */
  indexOf(address: number, port: number, next: number): number {
    let mask = this.ports.length - 1;
    let slot = hash(address, port) & mask;
    for (;;) {
      const p = this.ports[slot] as number;
      if (p === -1) break;
      if (p === port && this.addresses[slot] === address) return this.indexes[slot] as number;
      slot = (slot + 1) & mask;
    }
    if ((this.size + 1) * 2 > this.ports.length) {
      this.grow();
      mask = this.ports.length - 1;
      slot = hash(address, port) & mask;
      while ((this.ports[slot] as number) !== -1) slot = (slot + 1) & mask;
    }
    this.addresses[slot] = address;
    this.ports[slot] = port;
    this.indexes[slot] = next;
    this.size++;
    return next;
  }

  private grow(): void {
    const { addresses, ports, indexes } = this;
    const capacity = ports.length * 2;
    this.addresses = new Uint32Array(capacity);
    this.ports = new Int32Array(capacity).fill(-1);
    this.indexes = new Uint32Array(capacity);
    const mask = capacity - 1;
    for (let i = 0; i < ports.length; i++) {
      const port = ports[i] as number;
      if (port === -1) continue;
      const address = addresses[i] as number;
      let slot = hash(address, port) & mask;
      while ((this.ports[slot] as number) !== -1) slot = (slot + 1) & mask;
      this.addresses[slot] = address;
      this.ports[slot] = port;
      this.indexes[slot] = indexes[i] as number;
    }
  }
}

export function createSummarizer(classifier: AddressClassifier = defaultClassifier): Summarizer {
  const stateCounts = new Float64Array(256);
  const listenPorts = new Uint8Array(65536);
  /** Sockets not in LISTEN, per local port: inbound/outbound is decided from these at finish. */
  const nonListenByPort = new Float64Array(65536);
  /** SNAT candidates counted so far, per local port: a later LISTEN on such a port needs a correction. */
  const candidatesByPort = new Uint32Array(65536);
  let lateListen = false;
  const destinations: Destination[] = [];
  const v4Destinations = new V4Table();
  const byV6 = new Map<string, number>();
  /** Per destination: sockets, and sockets per state code (STATE_SLOTS per destination). */
  let sockets = new Float64Array(1024);
  let states = new Float64Array(1024 * STATE_SLOTS);
  /** Candidates, kept only to undo a count if a later LISTEN makes them inbound: (localPort | state << 16, destination). */
  let candidates = new Uint32Array(2048);
  let candidateCount = 0;
  const publicV4 = (v: number): boolean => classifier.classifyV4(v) === 'public';

  const added = (): void => {
    if (destinations.length <= sockets.length) return;
    const grownSockets = new Float64Array(sockets.length * 2);
    grownSockets.set(sockets);
    sockets = grownSockets;
    const grownStates = new Float64Array(states.length * 2);
    grownStates.set(states);
    states = grownStates;
  };

  const destinationV4 = (address: number, port: number): number => {
    const index = v4Destinations.indexOf(address, port, destinations.length);
    if (index === destinations.length) {
      destinations.push({ address: formatIpv4(address), port });
      added();
    }
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
      added();
    }
    return index;
  };

  const visit = (r: RawSocket): void => {
    const state = r.state;
    stateCounts[state] = (stateCounts[state] as number) + 1;
    const localPort = r.localPort;
    if (state === CODE_LISTEN) {
      if (listenPorts[localPort] === 0) {
        listenPorts[localPort] = 1;
        if (candidatesByPort[localPort] !== 0) lateListen = true;
      }
      return;
    }
    nonListenByPort[localPort] = (nonListenByPort[localPort] as number) + 1;
    // A port already known to be listened on makes the socket inbound.
    if (state === CODE_CLOSE || listenPorts[localPort] === 1) return;
    let index: number;
    if (r.remoteV4) {
      if (!publicV4(r.remote4)) return;
      index = destinationV4(r.remote4, r.remotePort);
    } else {
      const w = r.remote;
      if (classifier.classifyV6(w[0] as number, w[1] as number, w[2] as number, w[3] as number) !== 'public') return;
      index = destinationV6(w, r.remotePort);
    }
    sockets[index] = (sockets[index] as number) + 1;
    const slot = index * STATE_SLOTS + (state & (STATE_SLOTS - 1));
    states[slot] = (states[slot] as number) + 1;
    candidatesByPort[localPort] = (candidatesByPort[localPort] as number) + 1;
    if (candidateCount * 2 + 2 > candidates.length) {
      const grown = new Uint32Array(candidates.length * 2);
      grown.set(candidates);
      candidates = grown;
    }
    candidates[candidateCount * 2] = localPort | (state << 16);
    candidates[candidateCount * 2 + 1] = index;
    candidateCount++;
  };

  const scanner = new ProcNetTcpScanner(visit);

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
      let snatSockets = candidateCount;
      if (lateListen) {
        // A LISTEN seen after sockets on its port (tcp6 after tcp): those sockets were inbound.
        for (let c = 0; c < candidateCount; c++) {
          const packed = candidates[c * 2] as number;
          if (listenPorts[packed & 0xffff] === 0) continue;
          const index = candidates[c * 2 + 1] as number;
          sockets[index] = (sockets[index] as number) - 1;
          const slot = index * STATE_SLOTS + ((packed >>> 16) & (STATE_SLOTS - 1));
          states[slot] = (states[slot] as number) - 1;
          snatSockets--;
        }
      }
      const out: DestinationCount[] = [];
      destinations.forEach((d, index) => {
        const n = sockets[index] as number;
        if (n === 0) return;
        const perState: Partial<Record<TcpState, number>> = {};
        for (let code = 0; code < STATE_SLOTS; code++) {
          const k = states[index * STATE_SLOTS + code] as number;
          if (k > 0) perState[STATE_BY_CODE[code] ?? 'UNKNOWN'] = (perState[STATE_BY_CODE[code] ?? 'UNKNOWN'] ?? 0) + k;
        }
        out.push({ remote: formatEndpoint(d.address, d.port), address: d.address, port: d.port, sockets: n, byState: perState });
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
  return { lines: 0, parsed: 0, malformed: 0, byState: {}, listening: 0, inbound: 0, outbound: 0, snatSockets: 0, destinations: [] };
}

const addStates = (into: Partial<Record<TcpState, number>>, from: Partial<Record<TcpState, number>>): void => {
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
