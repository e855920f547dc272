// The conntrack probe: snatguard's own DaemonSet by default, a distroless kube-proxy skipped when named as
// a fallback; and owners the job may not read.
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { podExec } from '../../src/cluster/exec.js';
import { nodeProbe } from '../../src/cluster/node-probe.js';
import { clusterReader } from '../../src/cluster/reader.js';
import { type RunningSim, startSim } from '../../src/sim/server.js';
import { parseSnapshot } from '../../src/sim/snapshot.js';

const SNAPSHOT = `
apiVersion: snatguard.io/v1
kind: Snapshot
metadata: { name: probe-fallback }
cloud: { provider: none }
cluster: { version: "1.31", podCIDR: 10.244.0.0/16, serviceCIDR: 10.0.0.0/16 }
nodes:
  - name: node-a
    internalIP: 10.224.0.4
    conntrack: { count: 500, max: 262144, insertFailed: 17, drop: 0, earlyDrop: 0, beLiberal: true }
workloads:
  - kind: DaemonSet
    namespace: kube-system
    name: kube-proxy
    labels: { k8s-app: kube-proxy }
    pods:
      - { node: node-a, hostNetwork: true, exec: no-cat }
  - kind: DaemonSet
    namespace: snatguard
    name: snatguard-node-probe
    labels: { app.kubernetes.io/name: snatguard-node-probe }
    pods:
      - { node: node-a, hostNetwork: true }
  - kind: Job
    namespace: batch
    name: nightly-export
    pods:
      - { node: node-a }
`;

let sim: RunningSim;
let kc: KubeConfig;
const never = new AbortController().signal;

beforeAll(async () => {
  sim = await startSim(parseSnapshot(SNAPSHOT, 'probe-fallback'));
  kc = new KubeConfig();
  kc.loadFromFile(sim.jobKubeconfigPath);
});

afterAll(async () => {
  await sim?.close();
});

describe('nodeProbe fallback', () => {
  it('reads through the snatguard node probe only, by default', async () => {
    const pods = await clusterReader(kc).podsOn('node-a');
    const before = sim.world.requests.length;
    const reading = await nodeProbe(kc, podExec(kc), {
      limits: { timeoutMs: 2000, maxBytes: 1 << 20 },
      knownPods: () => pods,
    }).conntrack('node-a', never);
    expect(reading).toMatchObject({ count: 500, max: 262144, insertFailed: 17, beLiberal: true });
    const execs = sim.world.requests.slice(before).filter((r) => r.path.endsWith('/exec'));
    expect(execs.map((r) => r.path.split('/')[4])).toEqual(['snatguard']);
  });

  it('skips a distroless kube-proxy named first and reads through the snatguard node probe', async () => {
    const pods = await clusterReader(kc).podsOn('node-a');
    const before = sim.world.requests.length;
    const reading = await nodeProbe(kc, podExec(kc), {
      limits: { timeoutMs: 2000, maxBytes: 1 << 20 },
      targets: [
        { namespace: 'kube-system', selector: 'k8s-app=kube-proxy' },
        { selector: 'app.kubernetes.io/name=snatguard-node-probe' },
      ],
      knownPods: () => pods,
    }).conntrack('node-a', never);
    expect(reading).toMatchObject({ count: 500, max: 262144, insertFailed: 17, beLiberal: true });
    const execs = sim.world.requests.slice(before).filter((r) => r.path.endsWith('/exec'));
    expect(execs.map((r) => r.path.split('/')[4])).toEqual(['kube-system', 'snatguard']);
  });

  it('names the node and what to deploy when only a kube-proxy without cat is there', async () => {
    const pods = (await clusterReader(kc).podsOn('node-a')).filter((p) => p.namespace !== 'snatguard');
    const e = await nodeProbe(kc, podExec(kc), {
      limits: { timeoutMs: 2000, maxBytes: 1 << 20 },
      targets: [{ namespace: 'kube-system', selector: 'k8s-app=kube-proxy' }],
      knownPods: () => pods,
    })
      .conntrack('node-a', never)
      .catch((x: unknown) => x);
    expect((e as Error).message).toMatch(
      /^no node probe answered on node node-a: kube-system\/kube-proxy-\S+: exec in kube-system\/kube-proxy-\S+ failed: cat not available in the container: .*; deploy snatguard's node probe: kubectl apply -f infra\/kubernetes\/node-probe.yaml/,
    );
  });
});

describe('ownerOf a Job pod', () => {
  it('names the Job when the job may not read batch objects', async () => {
    const reader = clusterReader(kc);
    const pod = (await reader.podsOn('node-a')).find((p) => p.namespace === 'batch');
    expect(pod).toBeDefined();
    expect(await reader.ownerOf(pod as NonNullable<typeof pod>)).toEqual({
      namespace: 'batch',
      kind: 'Job',
      name: 'nightly-export',
    });
  });
});
