// NodeProbe: a node's own conntrack counters, read through a hostNetwork pod on that node: snatguard's
// own node probe (infra/kubernetes/node-probe.yaml, a DaemonSet found by its pods' label on that node).
// kube-proxy is no reader by default: EKS's image has no `cat`, AKS labels it `component=kube-proxy`,
// and upstream dropped `conntrack`; it can be named as a fallback (inspect.probeFallbackSelector).
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { ClusterError, ExecError, messageOf } from '../errors.js';
import type { ConntrackReading, ExecLimits, PodInfo } from '../model.js';
import { KUBERNETES_NAMES } from '../permissions.js';
import { matchesSelector } from '../policy/selector.js';
import type { NodeProbe, PodExec } from '../ports.js';
import { parseConntrackProbe } from '../sockets/conntrack.js';
import { boundedCall, budgetOf, signalOptions } from './bounded.js';
import { clusterError } from './errors.js';
import { toPodInfo } from './reader.js';

export const CONNTRACK_FILES = [
  '/proc/sys/net/netfilter/nf_conntrack_count',
  '/proc/sys/net/netfilter/nf_conntrack_max',
  '/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal',
  '/proc/net/stat/nf_conntrack',
];

/** Where to look for a probe pod: a label selector (never empty), optionally limited to one namespace. */
export interface ProbeTarget {
  namespace?: string;
  selector: string;
}

/** The label node-probe.yaml puts on its pods. */
export const NODE_PROBE_SELECTOR = `app.kubernetes.io/name=${KUBERNETES_NAMES.nodeProbeLabel}`;

export const DEFAULT_PROBE_TARGETS: readonly ProbeTarget[] = [
  { namespace: KUBERNETES_NAMES.namespace, selector: NODE_PROBE_SELECTOR },
];

/** What to do when no probe answers on a node: said in the report's error. */
export const DEPLOY_PROBE_HINT =
  'deploy snatguard\'s node probe: kubectl apply -f infra/kubernetes/node-probe.yaml (DaemonSet snatguard-node-probe in namespace snatguard; included in "kubectl apply -k infra/kubernetes")';

export interface NodeProbeOptions {
  limits: ExecLimits;
  /** Tried in order; the first matching hostNetwork pod that answers wins. Empty selectors are ignored. */
  targets?: readonly ProbeTarget[];
  /** The pods already listed for a node this run, when the caller does not pass them; undefined → list them. */
  knownPods?: (node: string) => PodInfo[] | undefined;
  /** Per pod-list call (default 20 s, cluster.requestTimeoutSeconds); the run's signal bounds it too. */
  callTimeoutMs?: number;
}

const describeTarget = (t: ProbeTarget): string =>
  `${t.selector} in ${t.namespace ? `namespace ${t.namespace}` : 'any namespace'}`;

/** The running hostNetwork pods on `node` matching the targets, in target order then by name. */
export function probeCandidates(
  node: string,
  pods: readonly PodInfo[],
  targets: readonly ProbeTarget[],
): PodInfo[] {
  const out: PodInfo[] = [];
  for (const t of targets) {
    // An empty selector matches every pod: it names no probe.
    if (t.selector.trim() === '') continue;
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
  const targets = (options.targets ?? DEFAULT_PROBE_TARGETS).filter((t) => t.selector.trim() !== '');

  const budget = (signal: AbortSignal) => budgetOf(signal, options.callTimeoutMs);
  const podsOn = async (
    node: string,
    given: PodInfo[] | undefined,
    signal: AbortSignal,
  ): Promise<PodInfo[]> => {
    const known = given ?? options.knownPods?.(node);
    if (known !== undefined) return known;
    try {
      const list = await boundedCall(`list pods on node ${node}`, budget(signal), (s) =>
        core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` }, signalOptions(s)),
      );
      return list.items.map(toPodInfo);
    } catch (e) {
      throw clusterError(`list pods on node ${node}`, e);
    }
  };

  /**
   * Probe pods meant for the node that are not running, named in the error. A DaemonSet pod the
   * scheduler has not placed has no spec.nodeName yet, only a required node affinity on
   * metadata.name (so a spec.nodeName field selector misses it). Best effort.
   */
  const notRunning = async (node: string, signal: AbortSignal): Promise<string[]> => {
    const out: string[] = [];
    for (const t of targets) {
      try {
        const list = await boundedCall(`list probe pods ${t.selector}`, budget(signal), (s) =>
          t.namespace
            ? core.listNamespacedPod({ namespace: t.namespace, labelSelector: t.selector }, signalOptions(s))
            : core.listPodForAllNamespaces({ labelSelector: t.selector }, signalOptions(s)),
        );
        for (const p of list.items) {
          const pinned =
            p.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms?.some(
              (term) => term.matchFields?.some((f) => f.key === 'metadata.name' && f.values?.includes(node)),
            );
          if (p.spec?.nodeName !== node && !(p.spec?.nodeName === undefined && pinned)) continue;
          const where = p.spec?.nodeName ? '' : ', not scheduled';
          out.push(`${p.metadata?.namespace}/${p.metadata?.name} is ${p.status?.phase ?? 'Unknown'}${where}`);
        }
      } catch {
        // The error already says what is missing; this only adds detail.
      }
    }
    return out;
  };

  return {
    async conntrack(node, signal, podsOnNode): Promise<ConntrackReading> {
      const candidates = probeCandidates(node, await podsOn(node, podsOnNode, signal), targets);
      if (candidates.length === 0) {
        const found = await notRunning(node, signal);
        throw new ClusterError(
          `no node probe answered on node ${node}: no running hostNetwork pod labelled ` +
            `${targets.map(describeTarget).join(', or ') || '(no probe selector configured)'} there` +
            `${found.length > 0 ? ` (${found.join(', ')})` : ''}; ${DEPLOY_PROBE_HINT}`,
        );
      }
      const failures: string[] = [];
      for (const pod of candidates) {
        let text: string;
        try {
          text = await exec.read(pod, CONNTRACK_FILES, options.limits, signal);
        } catch (e) {
          // A pod without cat (a distroless kube-proxy named as fallback): try the next candidate;
          // anything else ends the probe for this node, with the API server's reason.
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
            { cause: e },
          );
        }
      }
      throw new ExecError(
        `no node probe answered on node ${node}: ${failures.join('; ')}; ${DEPLOY_PROBE_HINT}`,
        'not-found',
      );
    },
  };
}
