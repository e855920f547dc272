// `snatguard snapshot`'s reads: the same ports `scan` uses (compose.ts: cluster reader, pod exec, node
// probe, pressure sources), every read on its own; what fails is recorded as missing, never the end.
import { getMaxListeners, setMaxListeners } from 'node:events';
import { findHotNodes } from '../analysis/hot-nodes.js';
import { readFromAContainer, SOCKET_FILES } from '../cluster/inspect.js';
import { createLimiter } from '../cluster/limit.js';
import type { Config } from '../config/index.js';
import { ExecError, messageOf } from '../errors.js';
import type {
  CloudFacts,
  ExecLimits,
  NodeInfo,
  NodePressure,
  PodInfo,
  SocketEntry,
  WorkloadRef,
  WorkloadStatus,
} from '../model.js';
import type { RunDeps } from '../run.js';
import { parseProcNetTcp } from '../sockets/parse.js';
import {
  type CapturedNode,
  type CapturedPod,
  type CaptureInput,
  type ExecOutcome,
  socketsFromFlows,
} from './capture.js';

/** `--nodes`: every node, the hot ones (by the cloud's figures), or these names. */
export type NodeSelection = { kind: 'all' } | { kind: 'hot' } | { kind: 'names'; names: string[] };

export function parseNodeSelection(text: string): NodeSelection {
  if (text === 'all') return { kind: 'all' };
  if (text === 'hot') return { kind: 'hot' };
  return {
    kind: 'names',
    names: text
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  };
}

export type CaptureDeps = Pick<RunDeps, 'cluster' | 'exec' | 'probe' | 'pressure' | 'log' | 'now'> & {
  /** The API server's version (`/version`), when it can be read. */
  version?: (signal: AbortSignal) => Promise<string>;
};

/** Reads the cluster for a snapshot; `nodes` empty in the result means nothing could be read. */
export async function readCluster(
  config: Config,
  deps: CaptureDeps,
  selection: NodeSelection,
  signal: AbortSignal,
): Promise<CaptureInput> {
  const now = deps.now();
  const missing: string[] = [];
  const window = { start: new Date(now.getTime() - config.window.minutes * 60_000), end: now };

  const pressure: NodePressure[] = [];
  const facts: Partial<CloudFacts> = { provider: config.provider };
  const readings = await Promise.allSettled(deps.pressure.map((s) => s.read(window, signal)));
  readings.forEach((r, i) => {
    const source = deps.pressure[i]!.name;
    if (r.status === 'fulfilled') {
      pressure.push(...r.value.nodes);
      mergeFacts(facts, r.value.facts);
      for (const e of r.value.errors) missing.push(`cloud ${source} ${e.target}: ${e.message}`);
    } else missing.push(`cloud ${source}: ${messageOf(r.reason)}`);
  });

  let nodes: NodeInfo[] = [];
  try {
    nodes = await deps.cluster.nodes(signal);
  } catch (e) {
    missing.push(`nodes: not listed: ${messageOf(e)}`);
  }

  let version: string | undefined;
  if (deps.version) {
    try {
      version = await deps.version(signal);
    } catch (e) {
      deps.log.debug({ err: messageOf(e) }, 'server version not read');
    }
  }

  const chosen = chooseNodes(nodes, selection, pressure, config, missing);
  const limits: ExecLimits = { timeoutMs: config.exec.timeoutSeconds * 1000, maxBytes: config.exec.maxBytes };
  const limit = createLimiter(config.exec.concurrency);
  // Every exec and probe in flight listens on the deadline: not a leak, so no MaxListenersExceededWarning.
  const wanted = 4 * Math.max(1, Math.floor(config.exec.concurrency)) + 4 * Math.max(1, nodes.length) + 10;
  const current = getMaxListeners(signal);
  if (current !== 0 && current < wanted) setMaxListeners(wanted, signal);
  const perNode = new Map<string, CapturedNode>();
  await Promise.all(
    chosen.map(async (node) => {
      const read: CapturedNode = {};
      perNode.set(node.name, read);
      let pods: PodInfo[];
      try {
        pods = await deps.cluster.podsOn(node.name, signal);
      } catch (e) {
        missing.push(`node/${node.name}: pods not listed: ${messageOf(e)}`);
        return;
      }
      const [captured, conntrack] = await Promise.all([
        Promise.all(pods.map((pod) => limit(() => capturePod(pod, deps, limits, signal)))),
        deps.probe.conntrack(node.name, signal, pods).then(
          (r) => r,
          (e: unknown) => {
            missing.push(`node/${node.name}: conntrack not read: ${messageOf(e)}`);
            return undefined;
          },
        ),
      ]);
      read.pods = captured;
      if (conntrack) read.conntrack = conntrack;
      await readUnreadOnNode(node.name, captured, pods, deps, signal, missing);
      // The node's own namespace: what the first hostNetwork pod that answered saw.
      const host = captured.find((c) => c.pod.hostNetwork && c.sockets);
      if (host?.sockets) read.hostSockets = host.sockets;
      else if (pods.some((p) => p.hostNetwork))
        missing.push(`node/${node.name}: host sockets not read (no hostNetwork pod answered exec)`);
      for (const c of captured) {
        if (c.exec === 'ok' || c.pod.hostNetwork) continue;
        const how = c.sockets
          ? 'read on its node through snatguard-node-sockets'
          : c.flowSockets
            ? "its SNAT flows taken from the node's conntrack table"
            : 'not read';
        missing.push(`${c.pod.namespace}/${c.pod.name}: exec ${c.exec}; sockets ${how}`);
      }
    }),
  );

  // Owners, then each workload's live status (labels, annotations, replicas, strategy, rollout).
  const owners = new Map<string, WorkloadRef>();
  // One bulk read into the reader's cache first; what it misses, ownerOf reads and reports below.
  await deps.cluster
    .prefetchOwners?.(
      [...perNode.values()].flatMap((n) => (n.pods ?? []).map((c) => c.pod)),
      signal,
    )
    .catch(() => undefined);
  await Promise.all(
    [...perNode.values()].flatMap((n) =>
      (n.pods ?? []).map(async (c) => {
        try {
          c.owner = await deps.cluster.ownerOf(c.pod, signal);
          if (c.owner) owners.set(`${c.owner.namespace}/${c.owner.kind}/${c.owner.name}`, c.owner);
        } catch (e) {
          c.owner = undefined;
          missing.push(`${c.pod.namespace}/${c.pod.name}: owner not read: ${messageOf(e)}`);
        }
      }),
    ),
  );
  const workloads = new Map<string, WorkloadStatus | { error: string }>();
  await Promise.all(
    [...owners].map(async ([id, ref]) => {
      if (!['Deployment', 'StatefulSet', 'DaemonSet'].includes(ref.kind)) return;
      try {
        workloads.set(id, await deps.cluster.workload(ref, signal));
      } catch (e) {
        workloads.set(id, { error: messageOf(e) });
        missing.push(`${id}: status not read: ${messageOf(e)}`);
      }
    }),
  );

  const selectionText = selection.kind === 'names' ? selection.names.join(',') : selection.kind;
  return {
    name: config.cluster.name || config.azure.clusterName || config.aws.clusterName || 'cluster',
    at: now,
    selection: selectionText,
    provider: config.provider,
    azure: {
      ...(config.azure.subscriptionId ? { subscriptionId: config.azure.subscriptionId } : {}),
      ...(config.azure.resourceGroup ? { resourceGroup: config.azure.resourceGroup } : {}),
      ...(config.azure.clusterName ? { clusterName: config.azure.clusterName } : {}),
      ...(config.azure.location ? { location: config.azure.location } : {}),
    },
    aws: {
      ...(config.aws.region ? { region: config.aws.region } : {}),
      ...(config.aws.clusterName ? { clusterName: config.aws.clusterName } : {}),
    },
    facts,
    clusterCidrs: config.network.clusterCidrs,
    ...(version ? { version } : {}),
    nodes,
    pressure,
    perNode,
    workloads,
    missing: missing.sort(),
  };
}

function chooseNodes(
  nodes: readonly NodeInfo[],
  selection: NodeSelection,
  pressure: readonly NodePressure[],
  config: Config,
  missing: string[],
): NodeInfo[] {
  if (selection.kind === 'all') return [...nodes];
  if (selection.kind === 'hot') {
    // No cloud figures (provider none, or every source failed): no way to tell hot nodes, so all are read.
    if (pressure.length === 0) return [...nodes];
    const hot = new Set(findHotNodes(pressure, nodes, config.thresholds).hot.map((h) => h.name));
    return nodes.filter((n) => hot.has(n.name));
  }
  const known = new Set(nodes.map((n) => n.name));
  for (const name of selection.names)
    if (!known.has(name) && nodes.length > 0) missing.push(`node/${name}: no such node`);
  return nodes.filter((n) => selection.names.includes(n.name));
}

/**
 * Pods exec could not read: through snatguard-node-sockets when the config enables it (the whole socket
 * table), else their flows in the node's conntrack table (what the run's `conntrack` method counts).
 */
async function readUnreadOnNode(
  node: string,
  captured: CapturedPod[],
  pods: PodInfo[],
  deps: CaptureDeps,
  signal: AbortSignal,
  missing: string[],
): Promise<void> {
  let unread = captured.filter((c) => !c.pod.hostNetwork && !c.sockets);
  if (unread.length === 0) return;
  if (deps.probe.podSockets) {
    try {
      const read = await deps.probe.podSockets(
        node,
        unread.filter((c) => c.exec === 'no-cat').map((c) => c.pod),
        pods,
        signal,
      );
      for (const c of unread) {
        const r = read.get(`${c.pod.namespace}/${c.pod.name}`);
        if (r && 'text' in r) c.sockets = parseProcNetTcp(r.text).entries;
      }
    } catch (e) {
      deps.log.info({ node, err: messageOf(e) }, 'pod sockets not read on the node');
    }
    unread = unread.filter((c) => !c.sockets);
    if (unread.length === 0) return;
  }
  if (!deps.probe.flows) return;
  try {
    const table = await deps.probe.flows(node, signal, pods);
    if (table.truncated) {
      missing.push(`node/${node}: conntrack table truncated; pods without exec recorded without sockets`);
      return;
    }
    for (const c of unread) {
      const ips = c.pod.ips ?? (c.pod.ip ? [c.pod.ip] : []);
      c.flowSockets = socketsFromFlows(table.groups, ips);
    }
  } catch (e) {
    missing.push(`node/${node}: conntrack table not read: ${messageOf(e)}`);
  }
}

/** One pod's socket tables, trying its other containers when one has no `cat` (as inspect does). */
async function capturePod(
  pod: PodInfo,
  deps: CaptureDeps,
  limits: ExecLimits,
  signal: AbortSignal,
): Promise<CapturedPod> {
  const read = await readFromAContainer(pod, async (ref) =>
    parseProcNetTcp(await deps.exec.read(ref, SOCKET_FILES, limits, signal)),
  );
  if (read.ok) {
    const parsed = read.value;
    if (parsed.entries.length === 0 && parsed.malformed > 0) return { pod, owner: undefined, exec: 'error' };
    return { pod, owner: undefined, exec: 'ok', sockets: parsed.entries };
  }
  const last = read.error;
  deps.log.info({ pod: `${pod.namespace}/${pod.name}`, reason: messageOf(last) }, 'pod not read');
  return { pod, owner: undefined, exec: execOutcome(last) };
}

function execOutcome(e: unknown): ExecOutcome {
  if (e instanceof ExecError) {
    if (e.kind === 'not-found') return 'no-cat';
    if (e.kind === 'timeout') return 'hang';
  }
  return 'error';
}

/** Later sources add to earlier ones (as the run merges them). */
function mergeFacts(into: Partial<CloudFacts>, from: Partial<CloudFacts>): void {
  if (from.azure) into.azure = { ...into.azure, ...from.azure };
  if (from.aws) {
    const natGateways = [...(into.aws?.natGateways ?? []), ...(from.aws.natGateways ?? [])];
    into.aws = { ...into.aws, ...from.aws, natGateways };
  }
}

export type { SocketEntry };
