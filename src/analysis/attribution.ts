// Pure: the node's conntrack table → SNAT flows per pod and destination (the `conntrack` attribution
// method, DESIGN.md "Two ways to measure who holds SNAT ports"). A flow was source-NATed by the node
// when its reply goes to one of the node's addresses instead of its original source; it belongs to the
// pod whose IP is the original source; its destination is the peer that answers (after any DNAT). It
// sees every pod, including those without `cat`; hostNetwork pods share the node's address and are
// never attributed (their flows are not translated). TCP flows are counted as exec counts sockets
// (CLOSE excluded); UDP flows hold SNAT ports too and are counted separately.
import type { DestinationCount, PodInfo, PodInspection, SocketSummary, TcpState } from '../model.js';
import { type AddressClassifier, formatIp, isSnatClass, parseIp } from '../sockets/address.js';
import { emptySummary, sortDestinations } from '../sockets/summary.js';
import type { FlowCounts, FlowGroup } from './conntrack-table.js';

export interface AttributablePod {
  /** `namespace/name` */
  key: string;
  ips: readonly string[];
  hostNetwork: boolean;
}

export interface PodFlows {
  /** TCP flows as a socket summary (method `conntrack`): destinations with states, like exec's. */
  summary: SocketSummary;
  /** Source-NATed UDP flows (DNS and the like): they hold SNAT ports too, exec does not see them. */
  udpFlows: number;
}

export interface NodeAttribution {
  /** Every source-NATed flow to a public destination (TCP and UDP), attributed or not. */
  snatFlows: number;
  /** By pod key, only pods that have SNAT flows. */
  byPod: Map<string, PodFlows>;
  /** Source-NATed flows from an address that is no pod on the node (gone, or another node's). */
  unattributed: number;
  /** Translated flows whose original source is a hostNetwork pod's address (not counted for it). */
  hostNetworkFlows: number;
}

const STATES: Record<string, TcpState> = {
  ESTABLISHED: 'ESTABLISHED',
  SYN_SENT: 'SYN_SENT',
  SYN_SENT2: 'SYN_SENT',
  SYN_RECV: 'SYN_RECV',
  FIN_WAIT: 'FIN_WAIT1',
  CLOSE_WAIT: 'CLOSE_WAIT',
  LAST_ACK: 'LAST_ACK',
  TIME_WAIT: 'TIME_WAIT',
  CLOSE: 'CLOSE',
};

/** Canonical text of an address (IPv6 compressed, lower case), or the input when it does not parse. */
export function canonicalIp(text: string): string {
  const a = parseIp(text);
  return a === null ? text : formatIp(a);
}

const endpoint = (address: string, port: number): string =>
  address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;

/**
 * Attributes the SNAT flows of one node's table. `nodeAddresses` are the node's own addresses (the
 * MASQUERADE source); for a family with no address listed, any flow whose source was translated counts.
 * Takes flows or flow groups (a group counts as its `count` flows).
 */
export function attributeFlows(
  flows: Iterable<FlowGroup>,
  nodeAddresses: readonly string[],
  pods: readonly AttributablePod[],
  classifier: AddressClassifier,
): NodeAttribution {
  const node = new Set(nodeAddresses.map(canonicalIp));
  const nodeV6 = [...node].some((a) => a.includes(':'));
  const nodeV4 = [...node].some((a) => !a.includes(':'));
  const byIp = new Map<string, AttributablePod>();
  const hostIps = new Set<string>();
  for (const p of pods) {
    for (const ip of p.ips) {
      if (p.hostNetwork) hostIps.add(canonicalIp(ip));
      else byIp.set(canonicalIp(ip), p);
    }
  }
  const out: NodeAttribution = { snatFlows: 0, byPod: new Map(), unattributed: 0, hostNetworkFlows: 0 };
  const destinations = new Map<string, Map<string, DestinationCount>>();
  const publicCache = new Map<string, boolean>();
  for (const f of flows) {
    const n = f.count ?? 1;
    if (n <= 0) continue;
    const source = canonicalIp(f.original.src);
    const translatedTo = canonicalIp(f.reply.dst);
    if (translatedTo === source) continue; // not source-NATed
    // A family the node has no known address of (IPv6 on a node listed by its IPv4): any translation counts.
    const known = translatedTo.includes(':') ? nodeV6 : nodeV4;
    if (known && !node.has(translatedTo)) continue;
    const peer = canonicalIp(f.reply.src);
    let isPublic = publicCache.get(peer);
    if (isPublic === undefined) {
      isPublic = isSnatClass(classifier.classify(peer));
      publicCache.set(peer, isPublic);
    }
    if (!isPublic) continue;
    if (hostIps.has(source)) {
      out.hostNetworkFlows += n;
      continue;
    }
    const tcp = f.protocol === 'tcp';
    const state = tcp ? (STATES[f.state ?? ''] ?? 'UNKNOWN') : undefined;
    if (state === 'CLOSE') continue;
    out.snatFlows += n;
    const pod = byIp.get(source);
    if (pod === undefined) {
      out.unattributed += n;
      continue;
    }
    let entry = out.byPod.get(pod.key);
    if (entry === undefined) {
      entry = { summary: emptySummary(), udpFlows: 0 };
      out.byPod.set(pod.key, entry);
      destinations.set(pod.key, new Map());
    }
    if (!tcp || state === undefined) {
      entry.udpFlows += n;
      continue;
    }
    const s = entry.summary;
    s.lines += n;
    s.parsed += n;
    s.outbound += n;
    s.snatSockets += n;
    s.byState[state] = (s.byState[state] ?? 0) + n;
    const port = f.reply.sport ?? 0;
    const remote = endpoint(peer, port);
    const dests = destinations.get(pod.key)!;
    let d = dests.get(remote);
    if (d === undefined) {
      d = { remote, address: peer, port, sockets: 0, byState: {} };
      dests.set(remote, d);
    }
    d.sockets += n;
    d.byState[state] = (d.byState[state] ?? 0) + n;
  }
  for (const [key, dests] of destinations) {
    const entry = out.byPod.get(key)!;
    entry.summary.destinations = sortDestinations([...dests.values()]);
  }
  return out;
}

/** What the node's conntrack table said, for NodeReport.snatFlows. */
export interface NodeFlowReport {
  /** Source-NATed flows to public peers (TCP and UDP). */
  snat: number;
  /** Of those, from no pod on the node. */
  unattributed: number;
  /** Pods (without cat) whose sockets were counted from the table. */
  podsAttributed: number;
  /** The table was longer than the parser keeps: nothing was attributed from it. */
  truncated: boolean;
  malformed: number;
  /** Set when the cloud reports pressure but the table shows no SNAT: the datapath hides it. */
  hidden?: string;
}

export const HIDDEN_DATAPATH =
  "the cloud reports SNAT pressure but the node's conntrack table holds no source-NATed flow: the datapath " +
  'translates outside netfilter (Cilium BPF masquerade, AWS_VPC_K8S_CNI_EXTERNALSNAT=true, or a pod-subnet CNI ' +
  'whose pods leave with their own VNet/VPC address), so only exec can attribute on this node';

/**
 * The `conntrack` method for one hot node: pods exec could not read (no `cat`) get their SNAT flows from
 * the node's table. An empty table proves nothing (the datapath may hide SNAT), so nothing is attributed
 * from it; `cloudPressure` says whether the cloud reported pressure on this node (for the hidden note).
 */
export function attributeUninspectable(
  inspections: readonly PodInspection[],
  table: FlowCounts,
  nodeAddresses: readonly string[],
  pods: readonly PodInfo[],
  classifier: AddressClassifier,
  cloudPressure: boolean,
): { inspections: PodInspection[]; report: NodeFlowReport } {
  const attribution = attributeFlows(
    table.groups,
    nodeAddresses,
    pods.map((p) => ({
      key: `${p.namespace}/${p.name}`,
      ips: p.ips ?? (p.ip ? [p.ip] : []),
      hostNetwork: p.hostNetwork,
    })),
    classifier,
  );
  const report: NodeFlowReport = {
    snat: attribution.snatFlows,
    unattributed: attribution.unattributed,
    podsAttributed: 0,
    truncated: table.truncated,
    malformed: table.malformed,
  };
  if (attribution.snatFlows === 0 && cloudPressure) report.hidden = HIDDEN_DATAPATH;
  const usable = !table.truncated && attribution.snatFlows > 0;
  const out = inspections.map((i): PodInspection => {
    if (!usable || i.status !== 'uninspectable' || i.nodeLevel || !i.pod.ip) return i;
    const flows = attribution.byPod.get(`${i.pod.namespace}/${i.pod.name}`);
    report.podsAttributed++;
    return {
      ...i,
      status: 'ok',
      method: 'conntrack',
      summary: flows?.summary ?? emptySummary(),
      reason: `counted from the node's conntrack table (exec: ${i.reason ?? 'unavailable'})`,
    };
  });
  return { inspections: out, report };
}
