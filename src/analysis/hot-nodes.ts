// Pure: cloud pressure + Node objects → the nodes worth inspecting, each with human-readable reasons.
import type { HotNode, NodeInfo, NodeKey, NodePressure, PressureSignal } from '../model.js';
import { matchesSelector } from '../policy/selector.js';

export interface HotNodeThresholds {
  snatUsedRatio: number;
  conntrackUsedRatio: number;
}

export interface HotNodeResult {
  /** Hot nodes, worst first (see rankKey), then by name. */
  hot: HotNode[];
  /** Matched nodes whose signals crossed no threshold (for the report's `hot: false` rows), by name. */
  cool: HotNode[];
  /** Pressure entries that matched no Node object (a report error each, never a guess). */
  unmatched: NodeKey[];
}

/** The EC2 instance id in an AWS providerID `aws:///eu-west-1a/i-0abc…`. */
export function instanceIdOf(providerID: string | undefined): string | undefined {
  if (!providerID?.startsWith('aws://')) return undefined;
  const last = providerID.split('/').pop();
  return last?.startsWith('i-') ? last : undefined;
}

const sameProviderId = (a: string | undefined, b: string | undefined): boolean =>
  // Azure resource ids differ in case between APIs (MC_rg vs mc_rg); ids are case-insensitive there.
  a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();

/** Finds the Node a cloud key names: by internal IP, providerID, instance id, then name. */
export function matchNode(key: NodeKey, nodes: readonly NodeInfo[]): NodeInfo | undefined {
  return (
    (key.internalIP ? nodes.find((n) => n.internalIP === key.internalIP) : undefined) ??
    (key.providerID ? nodes.find((n) => sameProviderId(n.providerID, key.providerID)) : undefined) ??
    (key.instanceId ? nodes.find((n) => instanceIdOf(n.providerID) === key.instanceId) : undefined) ??
    (key.providerID && instanceIdOf(key.providerID)
      ? nodes.find((n) => instanceIdOf(n.providerID) === instanceIdOf(key.providerID))
      : undefined) ??
    (key.name ? nodes.find((n) => n.name === key.name) : undefined)
  );
}

/**
 * matchNode over a fixed node list, with the list indexed once: each lookup costs the same whatever the
 * cluster's size (matchNode scans the list for every key: 3,000 nodes' metrics made 9M comparisons).
 * Same answer as matchNode for every key: the same fields in the same order, the first node in list
 * order where several share a value.
 */
export function nodeMatcher(nodes: readonly NodeInfo[]): (key: NodeKey) => NodeInfo | undefined {
  const byIp = new Map<string, NodeInfo>();
  const byProviderId = new Map<string, NodeInfo>();
  const byInstanceId = new Map<string, NodeInfo>();
  const byName = new Map<string, NodeInfo>();
  const first = <K>(m: Map<K, NodeInfo>, k: K | undefined, n: NodeInfo) => {
    if (k !== undefined && !m.has(k)) m.set(k, n);
  };
  for (const n of nodes) {
    first(byIp, n.internalIP, n);
    first(byProviderId, n.providerID?.toLowerCase(), n);
    first(byInstanceId, instanceIdOf(n.providerID), n);
    first(byName, n.name, n);
  }
  return (key) => {
    const keyInstance = key.providerID ? instanceIdOf(key.providerID) : undefined;
    return (
      (key.internalIP ? byIp.get(key.internalIP) : undefined) ??
      (key.providerID ? byProviderId.get(key.providerID.toLowerCase()) : undefined) ??
      (key.instanceId ? byInstanceId.get(key.instanceId) : undefined) ??
      (keyInstance ? byInstanceId.get(keyInstance) : undefined) ??
      (key.name ? byName.get(key.name) : undefined)
    );
  };
}

const ratioOf = (s: PressureSignal): number | undefined =>
  s.ratio ?? (s.used !== undefined && s.allocated ? s.used / s.allocated : undefined);

const pct = (r: number): string => `${Math.round(r * 100)}%`;
const times = (n: number): string => (n === 1 ? 'once' : `${n} times`);
const via = (s: PressureSignal): string => (s.source ? ` (${s.source})` : '');

/** A human-readable reason when this signal alone makes the node hot; null otherwise. */
export function hotReason(s: PressureSignal, t: HotNodeThresholds): string | null {
  const value = s.value ?? 0;
  switch (s.kind) {
    case 'snat-ports': {
      const r = ratioOf(s);
      if (r === undefined || r < t.snatUsedRatio) return null;
      const counts = s.used !== undefined && s.allocated !== undefined ? `${s.used}/${s.allocated} ` : '';
      return `SNAT ports ${counts}used (${pct(r)} ≥ ${pct(t.snatUsedRatio)})${via(s)}`;
    }
    case 'snat-failed':
      return value > 0 ? `${value} failed SNAT connection${value === 1 ? '' : 's'}${via(s)}` : null;
    case 'natgw-port-allocation':
      return value > 0 ? `NAT gateway could not allocate a source port ${times(value)}${via(s)}` : null;
    case 'conntrack-allowance':
      return value > 0 ? `ENA conntrack allowance exceeded ${times(value)}${via(s)}` : null;
    case 'conntrack': {
      const r = ratioOf(s);
      if (r === undefined || r < t.conntrackUsedRatio) return null;
      const counts = s.used !== undefined && s.allocated !== undefined ? `${s.used}/${s.allocated} ` : '';
      return `conntrack table ${counts}full (${pct(r)} ≥ ${pct(t.conntrackUsedRatio)})${via(s)}`;
    }
    default:
      // Dropped packets and active connection counts are context, not a verdict on their own.
      return null;
  }
}

// Signals a NAT gateway reports for every node behind it: they make each a candidate but do not rank them.
const GATEWAY_LEVEL = new Set<PressureSignal['kind']>(['natgw-port-allocation', 'natgw-packets-dropped']);
const NODE_FAILURES = new Set<PressureSignal['kind']>(['snat-failed', 'conntrack-allowance']);

/** Worst first: highest used ratio, then node-specific failures, then gateway-level failures. */
function rankKey(node: HotNode): [number, number, number] {
  let ratio = 0;
  let nodeFailures = 0;
  let gatewayFailures = 0;
  for (const s of node.signals) {
    if (s.kind === 'snat-ports' || s.kind === 'conntrack') ratio = Math.max(ratio, ratioOf(s) ?? 0);
    if (NODE_FAILURES.has(s.kind)) nodeFailures += s.value ?? 0;
    if (GATEWAY_LEVEL.has(s.kind)) gatewayFailures += s.value ?? 0;
  }
  return [ratio, nodeFailures, gatewayFailures];
}

export function compareHotNodes(a: HotNode, b: HotNode): number {
  const ka = rankKey(a);
  const kb = rankKey(b);
  for (let i = 0; i < ka.length; i++) {
    const d = kb[i]! - ka[i]!;
    if (d !== 0) return d;
  }
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Matches pressure to Node objects (several entries for one node merge) and keeps the hot ones. */
export function findHotNodes(
  pressure: readonly NodePressure[],
  nodes: readonly NodeInfo[],
  thresholds: HotNodeThresholds,
): HotNodeResult {
  const byName = new Map<string, { node: NodeInfo; signals: PressureSignal[] }>();
  const unmatched: NodeKey[] = [];
  const match = nodeMatcher(nodes);
  for (const entry of pressure) {
    const node = match(entry.node);
    if (!node) {
      unmatched.push(entry.node);
      continue;
    }
    const seen = byName.get(node.name) ?? { node, signals: [] };
    seen.signals.push(...entry.signals);
    byName.set(node.name, seen);
  }
  const hot: HotNode[] = [];
  const cool: HotNode[] = [];
  for (const { node, signals } of byName.values()) {
    const reasons = signals.map((s) => hotReason(s, thresholds)).filter((r): r is string => r !== null);
    const entry: HotNode = { name: node.name, signals, reasons };
    if (node.internalIP !== undefined) entry.internalIP = node.internalIP;
    (reasons.length > 0 ? hot : cool).push(entry);
  }
  hot.sort(compareHotNodes);
  cool.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { hot, cool, unmatched };
}

/** What was measured on a node itself: its busiest destination's SNAT-consuming sockets, its conntrack. */
export interface NodeEvidence {
  busiest?: { remote: string; sockets: number };
  conntrack?: { count: number; max: number };
}

/**
 * provider none: a node inspected for want of cloud metrics is hot only on what was measured on it — the
 * sockets of its busiest destination against the per-node SNAT budget (`network.snatPortsPerNode`; ports
 * run out per destination) at `snatUsedRatio`, or its conntrack table at `conntrackUsedRatio`.
 */
export function hotOnEvidence(
  inspected: readonly HotNode[],
  evidence: ReadonlyMap<string, NodeEvidence>,
  snatPortsPerNode: number,
  thresholds: HotNodeThresholds,
): { hot: HotNode[]; cool: HotNode[] } {
  const hot: HotNode[] = [];
  const cool: HotNode[] = [];
  for (const node of inspected) {
    const e = evidence.get(node.name);
    const signals: PressureSignal[] = [];
    if (e?.busiest && snatPortsPerNode > 0) {
      signals.push({
        kind: 'snat-ports',
        source: `busiest destination ${e.busiest.remote}`,
        used: e.busiest.sockets,
        allocated: snatPortsPerNode,
        ratio: e.busiest.sockets / snatPortsPerNode,
      });
    }
    if (e?.conntrack && e.conntrack.max > 0) {
      signals.push({
        kind: 'conntrack',
        source: 'node probe',
        used: e.conntrack.count,
        allocated: e.conntrack.max,
        ratio: e.conntrack.count / e.conntrack.max,
      });
    }
    const reasons = signals.map((s) => hotReason(s, thresholds)).filter((r): r is string => r !== null);
    const entry: HotNode = { ...node, signals, reasons: reasons.length > 0 ? reasons : node.reasons };
    (reasons.length > 0 ? hot : cool).push(entry);
  }
  hot.sort(compareHotNodes);
  return { hot, cool };
}

/**
 * provider none: no cloud metrics, so every node matching `inspect.nodeSelector` is inspected.
 * Throws SelectorSyntaxError for a bad selector (config validation normally catches it first).
 */
export function selectedNodes(nodes: readonly NodeInfo[], nodeSelector: string): HotNode[] {
  const reason =
    nodeSelector.trim() === ''
      ? 'inspected: no pressure source (all nodes)'
      : `inspected: matches "${nodeSelector}"`;
  return nodes
    .filter((n) => matchesSelector(nodeSelector, n.labels))
    .map((n): HotNode => {
      const entry: HotNode = { name: n.name, signals: [], reasons: [reason] };
      if (n.internalIP !== undefined) entry.internalIP = n.internalIP;
      return entry;
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
