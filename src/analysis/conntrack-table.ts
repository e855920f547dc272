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

export interface TableLimits {
  /** Flows kept; the rest are dropped and `truncated` is set. */
  maxFlows: number;
  /** Longer lines are malformed (a real line is under 400 characters). */
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

/** The whole table; never throws. The tool's own summary line (stderr) and blank lines are skipped. */
export function parseConntrackTable(
  text: string,
  limits: TableLimits = DEFAULT_TABLE_LIMITS,
): ConntrackTable {
  const flows: ConntrackFlow[] = [];
  let malformed = 0;
  let truncated = false;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const length = end - start;
    if (length > 0) {
      if (length > limits.maxLineLength) malformed++;
      else {
        const line = text.slice(start, end);
        if (line.trim() !== '' && !/flow entries have been shown/.test(line)) {
          const flow = parseConntrackLine(line);
          if (flow === undefined) malformed++;
          else if (flows.length >= limits.maxFlows) {
            truncated = true;
            break;
          } else flows.push(flow);
        }
      }
    }
    start = end + 1;
  }
  return { flows, malformed, truncated };
}
