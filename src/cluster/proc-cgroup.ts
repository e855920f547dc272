// nodeProbeFallback, step 1 (pure): which host process belongs to a pod, from its pod UID in
// /proc/<pid>/cgroup. The kubelet names every pod's cgroup after its UID (pkg/kubelet/cm/cgroup_manager_linux.go):
//   cgroupfs driver   …/kubepods[/besteffort|/burstable]/pod<uid>/<container-id>            (v1 and v2)
//   systemd driver    …/kubepods[-besteffort|-burstable]-pod<uid with _ for ->.slice/<scope>  (v1 and v2)
// with the runtime's scope `cri-containerd-<id>.scope` (containerd), `crio-<id>.scope` (CRI-O) or
// `docker-<id>.scope`. Every process in the pod's cgroup shares the pod's network namespace (the sandbox's
// pause process included) — except CRI-O's `crio-conmon-<id>.scope` monitor, which runs in the host's.
// Seen from a container with a private cgroup namespace, other processes' paths start with `/..`: the match
// is on path segments, not on a fixed prefix. The listing is untrusted text from the node: bounded, never fatal.

/** The probe's listing: `== /proc/<pid>/cgroup` followed by that file's lines, for every process. */
export const CGROUP_LISTING = [
  'sh',
  '-c',
  'for f in /proc/[0-9]*/cgroup; do echo "== $f"; cat "$f" 2>/dev/null; done',
] as const;

const HEADER = /^== \/proc\/(\d{1,10})\/cgroup$/;
/** CRI-O's monitor process (and any other runtime helper) lives in the pod slice but not in its netns. */
const NOT_IN_POD_NETNS = /(^|[-/])(crio-conmon|conmon)-[0-9a-f]+\.scope$/;

/** The path segment of a cgroup line that names pod `uid`, in either driver's spelling. */
export function podSegmentMatches(path: string, uid: string): boolean {
  const dashed = uid.toLowerCase();
  if (!/^[0-9a-f-]{8,64}$/.test(dashed)) return false;
  const underscored = dashed.replaceAll('-', '_');
  for (const segment of path.split('/')) {
    if (segment === `pod${dashed}`) return true; // cgroupfs
    // systemd: kubepods-pod<uid>.slice, kubepods-besteffort-pod<uid>.slice, kubepods-burstable-pod<uid>.slice
    if (segment.endsWith(`-pod${underscored}.slice`) && segment.startsWith('kubepods')) return true;
  }
  return false;
}

export interface PodProcesses {
  /** Processes in the pod's cgroup that share its network namespace, ascending. */
  pids: number[];
  /** Processes in the pod's cgroup that do not (CRI-O's conmon). */
  excluded: number[];
  /** Lines of the listing that were neither a header nor a cgroup line. */
  malformed: number;
}

/**
 * The pod's processes in a {@link CGROUP_LISTING} output. `maxLines` bounds the work on a hostile listing;
 * a process whose cgroup lines name the pod (in any hierarchy, v1 or v2) is the pod's.
 */
export function findPodProcesses(listing: string, uid: string, maxLines = 2_000_000): PodProcesses {
  const pids = new Set<number>();
  const excluded = new Set<number>();
  let malformed = 0;
  let pid: number | undefined;
  let lines = 0;
  for (const raw of listing.split('\n')) {
    if (++lines > maxLines) break;
    const line = raw.trim();
    if (line === '') continue;
    const header = HEADER.exec(line);
    if (header) {
      pid = Number(header[1]);
      continue;
    }
    // hierarchy-ID:controller-list:cgroup-path (man 7 cgroups); v2 is `0::/path`.
    const m = /^(\d+):([^:]*):(\/.*)$/.exec(line);
    if (!m || pid === undefined) {
      malformed++;
      continue;
    }
    const path = m[3]!;
    if (!podSegmentMatches(path, uid)) continue;
    if (NOT_IN_POD_NETNS.test(path)) excluded.add(pid);
    else pids.add(pid);
  }
  for (const p of excluded) pids.delete(p);
  return { pids: [...pids].sort((a, b) => a - b), excluded: [...excluded].sort((a, b) => a - b), malformed };
}
