// NodeProbe: a node's own conntrack counters, read through a hostNetwork pod on that node
// (kube-proxy by default, the snatguard node-probe DaemonSet as the fallback).
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { ClusterError, ExecError, messageOf } from '../errors.js';
import type { ConntrackReading, ExecLimits, PodInfo } from '../model.js';
import { matchesSelector } from '../policy/selector.js';
import type { NodeProbe, PodExec } from '../ports.js';
import { parseConntrackProbe } from '../sockets/conntrack.js';
import { clusterError } from './errors.js';
import { toPodInfo } from './reader.js';

export const CONNTRACK_FILES = [
  '/proc/sys/net/netfilter/nf_conntrack_count',
  '/proc/sys/net/netfilter/nf_conntrack_max',
  '/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal',
  '/proc/net/stat/nf_conntrack',
];

/** Where to look for a probe pod: a label selector, optionally limited to one namespace. */
export interface ProbeTarget {
  namespace?: string;
  selector: string;
}

export const DEFAULT_PROBE_TARGETS: readonly ProbeTarget[] = [
  { namespace: 'kube-system', selector: 'k8s-app=kube-proxy' },
  { selector: 'app.kubernetes.io/name=snatguard-node-probe' },
];

export interface NodeProbeOptions {
  limits: ExecLimits;
  /** Tried in order; the first matching hostNetwork pod that answers wins. */
  targets?: readonly ProbeTarget[];
  /** The pods already listed for a node this run, when the caller does not pass them; undefined → list them. */
  knownPods?: (node: string) => PodInfo[] | undefined;
}

/** The hostNetwork pods on `node` matching the targets, in target order then by name. */
export function probeCandidates(
  node: string,
  pods: readonly PodInfo[],
  targets: readonly ProbeTarget[],
): PodInfo[] {
  const out: PodInfo[] = [];
  for (const t of targets) {
    const matching = pods
      .filter(
        (p) =>
          p.hostNetwork &&
          p.node === node &&
          p.phase === 'Running' &&
          (t.namespace === undefined || p.namespace === t.namespace) &&
          matchesSelector(t.selector, p.labels) &&
          !out.includes(p),
      )
      .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
    out.push(...matching);
  }
  return out;
}

export function nodeProbe(kc: KubeConfig, exec: PodExec, options: NodeProbeOptions): NodeProbe {
  const core = kc.makeApiClient(CoreV1Api);
  const targets = options.targets ?? DEFAULT_PROBE_TARGETS;

  const podsOn = async (node: string, given: PodInfo[] | undefined): Promise<PodInfo[]> => {
    const known = given ?? options.knownPods?.(node);
    if (known !== undefined) return known;
    try {
      const list = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` });
      return list.items.map(toPodInfo);
    } catch (e) {
      throw clusterError(`list pods on node ${node}`, e);
    }
  };

  return {
    async conntrack(node, signal, podsOnNode): Promise<ConntrackReading> {
      const candidates = probeCandidates(node, await podsOn(node, podsOnNode), targets);
      if (candidates.length === 0) {
        const wanted = targets
          .map((t) => (t.namespace ? `${t.namespace}:${t.selector}` : t.selector))
          .join(', ');
        throw new ClusterError(`no hostNetwork probe pod on node ${node} (looked for ${wanted})`);
      }
      const failures: string[] = [];
      for (const pod of candidates) {
        let text: string;
        try {
          text = await exec.read(pod, CONNTRACK_FILES, options.limits, signal);
        } catch (e) {
          // A distroless probe pod: try the next candidate; anything else ends the probe for this node.
          if (e instanceof ExecError && e.kind === 'not-found') {
            failures.push(`${pod.namespace}/${pod.name}: ${e.message}`);
            continue;
          }
          throw e;
        }
        try {
          return parseConntrackProbe(text);
        } catch (e) {
          throw new ClusterError(
            `conntrack probe on node ${node} via ${pod.namespace}/${pod.name}: ${messageOf(e)}`,
            undefined,
            {
              cause: e,
            },
          );
        }
      }
      throw new ExecError(`no probe pod on node ${node} could be read: ${failures.join('; ')}`, 'not-found');
    },
  };
}
