// inspect.nodeProbeFallback: a pod without `cat` (distroless) is read on its node instead. The node probe's
// `sockets` container (hostPID, non-root, no capabilities, no host mounts: /proc of the host PID namespace
// is enough) lists /proc/*/cgroup, finds a process of the pod by the pod's UID (proc-cgroup.ts), and
// `cat`s /proc/<pid>/net/tcp and tcp6: every process of a pod shows the pod's network namespace there.
import { ExecError, messageOf } from '../errors.js';
import type { ExecLimits, PodInfo } from '../model.js';
import { matchesSelector } from '../policy/selector.js';
import type { PodExec } from '../ports.js';
import { CGROUP_LISTING, findPodProcesses } from './proc-cgroup.js';

/** The DaemonSet of infra/kubernetes/node-sockets.yaml (hostPID, nothing else) and its container. */
export const SOCKETS_SELECTOR = 'app.kubernetes.io/name=snatguard-node-sockets';
export const SOCKETS_CONTAINER = 'sockets';

export interface ProcFallbackOptions {
  /** snatguard's namespace, where node-sockets.yaml runs. */
  namespace: string;
  limits: ExecLimits;
}

/** The running node-sockets pod on `node`, if any (it is not hostNetwork: the node probe's finder does not apply). */
export function socketsPodOn(node: string, pods: readonly PodInfo[], namespace: string): PodInfo | undefined {
  return pods
    .filter(
      (p) =>
        p.node === node &&
        p.phase === 'Running' &&
        p.namespace === namespace &&
        matchesSelector(SOCKETS_SELECTOR, p.labels),
    )
    .sort((a, b) => a.name.localeCompare(b.name))[0];
}

/** Per pod (`namespace/name`): its /proc/net/tcp{,6} text, or why it could not be read. */
export type PodSocketsOnNode = (
  node: string,
  pods: readonly PodInfo[],
  podsOnNode: PodInfo[],
  signal: AbortSignal,
) => Promise<Map<string, { text: string } | { error: string }>>;

export function procFallback(exec: PodExec, options: ProcFallbackOptions): PodSocketsOnNode {
  return async (node, pods, podsOnNode, signal) => {
    const out = new Map<string, { text: string } | { error: string }>();
    const probe = socketsPodOn(node, podsOnNode, options.namespace);
    const run = exec.run;
    if (probe === undefined || run === undefined) {
      const why =
        probe === undefined
          ? `no snatguard-node-sockets pod on node ${node} (kubectl apply -f infra/kubernetes/node-sockets.yaml)`
          : 'this exec cannot list processes';
      for (const p of pods) out.set(`${p.namespace}/${p.name}`, { error: why });
      return out;
    }
    const ref = {
      namespace: probe.namespace,
      name: probe.name,
      ...(probe.containers.includes(SOCKETS_CONTAINER) ? { container: SOCKETS_CONTAINER } : {}),
    };
    // One listing per node serves every pod on it.
    let listing: string;
    try {
      listing = await run.call(exec, ref, CGROUP_LISTING, options.limits, signal);
    } catch (e) {
      for (const p of pods) out.set(`${p.namespace}/${p.name}`, { error: `node probe: ${messageOf(e)}` });
      return out;
    }
    for (const pod of pods) {
      const key = `${pod.namespace}/${pod.name}`;
      if (!pod.uid) {
        out.set(key, { error: 'the pod has no UID' });
        continue;
      }
      const pid = findPodProcesses(listing, pod.uid).pids[0];
      if (pid === undefined) {
        out.set(key, { error: `no process of the pod (UID ${pod.uid}) on node ${node}` });
        continue;
      }
      try {
        const text = await exec.read(
          ref,
          [`/proc/${pid}/net/tcp`, `/proc/${pid}/net/tcp6`],
          options.limits,
          signal,
        );
        out.set(key, { text });
      } catch (e) {
        out.set(key, { error: `node probe: ${e instanceof ExecError ? e.message : messageOf(e)}` });
      }
    }
    return out;
  };
}
