// #11 item 4: snatguard's own node probe is the conntrack reader on AKS and EKS, and a hot node without
// one is an error in the report naming the node and what to deploy (never silence).
import { describe, expect, it } from 'vitest';
import { aDeployment, aSnapshot, example, harness } from './harness.js';

const execNamespaces = (paths: string[]): string[] =>
  [...new Set(paths.filter((p) => p.endsWith('/exec')).map((p) => p.split('/')[4] ?? ''))].sort();

describe("the node probe on the clouds' own kube-proxy", () => {
  it.each([
    // AKS labels kube-proxy component=kube-proxy; EKS's kube-proxy image has no cat (the simulator serves both).
    ['aks-mongo-leak.yaml', { component: 'kube-proxy' }],
    ['eks-conntrack.yaml', { 'k8s-app': 'kube-proxy' }],
  ])('%s: every hot node read through snatguard-node-probe', async (file, proxyLabels) => {
    const h = await harness(await example(file));
    try {
      const proxy = h.sim.world
        .list('pods', 'kube-system')
        .find((p) => p.metadata.name.startsWith('kube-proxy'));
      expect(proxy?.metadata.labels).toMatchObject(proxyLabels);
      const before = h.sim.world.requests.length;
      const report = await h.run();
      const hot = report.nodes.filter((n) => n.hot);
      expect(hot.length).toBeGreaterThan(0);
      for (const n of hot) expect(n.conntrack?.max, n.name).toBeGreaterThan(0);
      expect(report.errors.filter((e) => e.stage === 'conntrack')).toEqual([]);
      // Conntrack files are read in snatguard's namespace; kube-proxy is never exec'd into for them.
      const conntrackReads = h.sim.world.requests
        .slice(before)
        .filter(
          (r) => r.path.endsWith('/exec') && decodeURIComponent(r.query ?? '').includes('nf_conntrack'),
        );
      expect(execNamespaces(conntrackReads.map((r) => r.path))).toEqual(['snatguard']);
    } finally {
      await h.close();
    }
  });
});

describe('a hot node without the probe', () => {
  it('is an error naming the node and what to deploy, and the run goes on', async () => {
    // The DaemonSet runs on node-b only (say a nodeSelector left node-a out); node-a is the hot one.
    const probe = {
      kind: 'DaemonSet',
      namespace: 'snatguard',
      name: 'snatguard-node-probe',
      labels: { 'app.kubernetes.io/name': 'snatguard-node-probe' },
      pods: [{ node: 'node-b', hostNetwork: true }],
    };
    const nodes = [
      {
        name: 'node-a',
        internalIP: '10.224.0.4',
        metrics: { usedSnatPorts: 1000, allocatedSnatPorts: 1024 },
      },
      { name: 'node-b', internalIP: '10.224.0.5' },
    ];
    const h = await harness(aSnapshot([aDeployment('orders-api'), probe], { nodes }));
    try {
      const report = await h.run();
      expect(report.nodes.find((n) => n.name === 'node-a')?.hot).toBe(true);
      const errors = report.errors.filter((e) => e.stage === 'conntrack');
      expect(errors).toEqual([
        {
          stage: 'conntrack',
          target: 'node/node-a',
          message: expect.stringMatching(
            /^no node probe answered on node node-a: .*snatguard-node-probe.*; deploy snatguard's node probe: kubectl apply -f infra\/kubernetes\/node-probe\.yaml/,
          ),
        },
      ]);
      // Still a finished run: the offender is found from the pods' own socket tables.
      expect(report.offenders.map((o) => o.workload)).toContain('shop/Deployment/orders-api');
    } finally {
      await h.close();
    }
  });
});
