// The node's conntrack table, read through the node probe: `conntrack -L -o extended` (netlink; the
// /proc/net/nf_conntrack file is often absent) in a hostNetwork pod on the node that has the tool and
// NET_ADMIN (kube-proxy, or snatguard's node-probe DaemonSet). Read-only: only the listing is ever run.
// The listing is as long as the node's flows (tens of MB on a busy node): it streams, frame by frame, into
// a flow counter that keeps flow groups (analysis/conntrack-table.ts), as a pod's socket tables stream
// into its summarizer (inspect.ts); bounded by the exec limits and the run's cap on bytes in flight.
import { createFlowCounter, type FlowCounts } from '../analysis/conntrack-table.js';
import { ClusterError, ExecError } from '../errors.js';
import type { ExecLimits, PodInfo, PodRef } from '../model.js';
import type { PodExec } from '../ports.js';
import { pushYielding } from '../sockets/summary.js';
import { type ProbeTarget, probeCandidates } from './node-probe.js';

export const CONNTRACK_LIST = ['conntrack', '-L', '-o', 'extended'] as const;
/** The node probe's container that has conntrack-tools and CAP_NET_ADMIN (infra/kubernetes/node-probe.yaml). */
export const CONNTRACK_CONTAINER = 'conntrack';

export interface NodeFlowsOptions {
  targets: readonly ProbeTarget[];
  limits: ExecLimits;
}

export type NodeFlows = (node: string, signal: AbortSignal, podsOnNode: PodInfo[]) => Promise<FlowCounts>;

/**
 * The listing, counted frame by frame as the exec streams it (whole only for a PodExec without
 * runStream). A failed exec's partial counts are dropped with the counter.
 */
async function countFlows(
  exec: PodExec,
  ref: PodRef,
  limits: ExecLimits,
  signal: AbortSignal,
): Promise<FlowCounts> {
  const counter = createFlowCounter();
  if (exec.runStream) {
    await exec.runStream(ref, CONNTRACK_LIST, limits, signal, (chunk) => counter.push(chunk));
  } else {
    const text = await exec.run!(ref, CONNTRACK_LIST, limits, signal);
    await pushYielding(counter, text, signal);
  }
  return counter.finish();
}

/** Reads a node's conntrack table through the first probe pod that has `conntrack`. */
export function nodeFlows(exec: PodExec, options: NodeFlowsOptions): NodeFlows {
  return async (node, signal, podsOnNode) => {
    if (exec.run === undefined && exec.runStream === undefined)
      throw new ClusterError('this exec cannot run conntrack');
    const candidates = probeCandidates(node, podsOnNode, options.targets);
    if (candidates.length === 0) throw new ClusterError(`no hostNetwork probe pod on node ${node}`);
    const failures: string[] = [];
    for (const pod of candidates) {
      try {
        // snatguard's probe lists the table from its `conntrack` container (NET_ADMIN); another probe, its default one.
        const ref = pod.containers.includes(CONNTRACK_CONTAINER)
          ? { ...pod, container: CONNTRACK_CONTAINER }
          : pod;
        return await countFlows(exec, ref, options.limits, signal);
      } catch (e) {
        // A probe without the conntrack tool: try the next candidate.
        if (e instanceof ExecError && e.kind === 'not-found') {
          failures.push(`${pod.namespace}/${pod.name}: no conntrack`);
          continue;
        }
        throw e;
      }
    }
    throw new ExecError(`no probe pod on node ${node} has conntrack: ${failures.join('; ')}`, 'not-found');
  };
}
