// nodeProbeFallback's lookup: a pod's processes from its UID in /proc/*/cgroup, on listings of the real
// layouts (test/fixtures/proc-cgroup/README.md names where each comes from), and on this machine's own /proc.
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { findPodProcesses, podSegmentMatches } from '../../src/cluster/proc-cgroup.js';

const POD = '3a7c1f9e-8b2d-4e61-9f0a-5c4d2b1e7a90';
const OTHER = '74c13223-5a00-11e9-b385-42010a80018d';
const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/proc-cgroup/${name}`, import.meta.url), 'utf8');

describe('findPodProcesses', () => {
  it.each([
    ['v1-cgroupfs-containerd.txt', [5200, 5231, 5240], [4100]],
    ['v1-systemd-containerd.txt', [6100, 6120], [4100]],
    ['v2-systemd-containerd.txt', [7001, 7044], [4100]],
    ['v2-systemd-crio.txt', [7310, 7322], [7400]],
    ['v2-private-cgroupns.txt', [7001, 7044], [4100]],
  ])('%s: the pod’s processes (sandbox included), never another pod’s', (file, mine, other) => {
    const text = fixture(file);
    expect(findPodProcesses(text, POD).pids).toEqual(mine);
    expect(findPodProcesses(text, OTHER).pids).toEqual(other);
    expect(findPodProcesses(text, POD).malformed).toBe(0);
  });

  it("excludes CRI-O's conmon: it sits in the pod's slice but in the host's network namespace", () => {
    expect(findPodProcesses(fixture('v2-systemd-crio.txt'), POD).excluded).toEqual([7300]);
  });

  it('finds nothing for an unknown or malformed UID, and counts junk lines', () => {
    const text = `${fixture('v2-systemd-containerd.txt')}garbage line\n== /proc/abc/cgroup\n`;
    expect(findPodProcesses(text, '00000000-0000-0000-0000-000000000000').pids).toEqual([]);
    expect(findPodProcesses(text, '../../etc').pids).toEqual([]);
    expect(findPodProcesses(text, POD).malformed).toBe(2);
  });

  it('matches whole path segments only (a UID inside another name is not the pod)', () => {
    expect(podSegmentMatches(`/kubepods/besteffort/pod${POD}/abc`, POD)).toBe(true);
    expect(podSegmentMatches(`/kubepods/besteffort/pod${POD}x/abc`, POD)).toBe(false);
    expect(
      podSegmentMatches(`/kubepods.slice/kubepods-pod${POD.replaceAll('-', '_')}.slice/x.scope`, POD),
    ).toBe(true);
    expect(podSegmentMatches(`/user.slice/notkube-pod${POD.replaceAll('-', '_')}.slice`, POD)).toBe(false);
  });

  it('bounds the lines it reads', () => {
    const text = fixture('v2-systemd-containerd.txt');
    expect(findPodProcesses(text, POD, 6).pids).toEqual([]);
  });

  it("parses this machine's own /proc/*/cgroup without a malformed line", async () => {
    const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d)).slice(0, 200);
    let listing = '';
    for (const pid of pids) {
      const text = await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => undefined);
      if (text !== undefined) listing += `== /proc/${pid}/cgroup\n${text}`;
    }
    const r = findPodProcesses(listing, POD);
    expect(r.malformed).toBe(0);
    expect(r.pids).toEqual([]);
  });
});
