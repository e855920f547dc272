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
class FlowLines {
  malformed = 0;
  truncated = false;
  flows = 0;
  /** The start of a line whose end has not arrived (copied: a chunk may be reused after push). */
  private carry: Buffer[] = [];
  private carried = 0;
  /** The line under way is longer than maxLineLength: skipped to its end, then counted malformed. */
  private overlong = false;

  constructor(
    private readonly limits: TableLimits,
    private readonly onFlow: (flow: ConntrackFlow) => void,
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
  const groups = new Map<string, FlowGroup>();
  const lines = new FlowLines(limits, (flow) => {
    const key = groupKey(flow);
    let g = groups.get(key);
    if (g === undefined) {
      g = groupOf(flow);
      groups.set(key, g);
    }
    g.count = (g.count ?? 0) + 1;
  });
  return {
    push: (chunk) => lines.push(chunk),
    finish: () => {
      lines.end();
      return {
        groups: [...groups.values()],
        flows: lines.flows,
        malformed: lines.malformed,
        truncated: lines.truncated,
      };
    },
    get state() {
      return { groups: groups.size, heldBytes: lines.held };
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
