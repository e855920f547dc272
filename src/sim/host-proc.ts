// The host's /proc as the node probe's `sockets` container (hostPID) sees it on a simulated node: one
// process per pod, in a cgroup v2 systemd/containerd layout named after the pod's UID (the layout of
// test/fixtures/proc-cgroup/v2-systemd-containerd.txt), and /proc/<pid>/net/tcp{,6} showing that pod's
// network namespace. Used by the nodeProbeFallback path of exec (src/cluster/proc-fallback.ts).
import { createHash } from 'node:crypto';
import { CGROUP_LISTING } from '../cluster/proc-cgroup.js';
import type { PodRuntime, World } from './world.js';

/** A stable pid per pod on its node (the sandbox's pause process). */
function pidOf(pods: readonly PodRuntime[], pod: PodRuntime): number {
  return 1000 + 10 * pods.indexOf(pod);
}

const containerId = (pod: PodRuntime): string =>
  createHash('sha256').update(`${pod.namespace}/${pod.name}`).digest('hex');

/** True when `command` is the probe's cgroup listing. */
export const isCgroupListing = (command: readonly string[]): boolean =>
  command.length === CGROUP_LISTING.length && command.every((c, i) => c === CGROUP_LISTING[i]);

export function renderCgroupListing(world: World, node: string): string {
  const pods = world.podsOn(node);
  const lines = [
    '== /proc/1/cgroup',
    '0::/init.scope',
    '== /proc/733/cgroup',
    '0::/system.slice/containerd.service',
  ];
  for (const pod of pods) {
    if (pod.hostNetwork) continue;
    const qos = 'besteffort';
    lines.push(
      `== /proc/${pidOf(pods, pod)}/cgroup`,
      `0::/kubepods.slice/kubepods-${qos}.slice/kubepods-${qos}-pod${pod.uid.replaceAll('-', '_')}.slice/cri-containerd-${containerId(pod)}.scope`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** `/proc/<pid>/net/tcp{,6}` of a pod's process on `node`, or undefined when no pod has that pid. */
export function hostProcFile(world: World, node: string, path: string): string | undefined {
  const m = /^\/proc\/(\d+)\/net\/(tcp6?)$/.exec(path);
  if (!m) return undefined;
  const pods = world.podsOn(node);
  const pod = pods.find((p) => !p.hostNetwork && pidOf(pods, p) === Number(m[1]));
  return pod ? world.tablesOf(pod)[m[2] as 'tcp' | 'tcp6'] : undefined;
}
