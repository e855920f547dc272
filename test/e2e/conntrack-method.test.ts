// The `conntrack` attribution method end to end on the simulator: pods without `cat` are counted from the
// node's conntrack table (read with `conntrack -L -o extended` in the node's hostNetwork pod), every
// offender says which method measured it, and a node whose table hides SNAT says so.
import { describe, expect, it } from 'vitest';
import { aDeployment, aSnapshot, harness } from './harness.js';

const MONGO = '20.103.144.194:27017';

describe('offenders measured from the node conntrack table', () => {
  it('a distroless hog is found, attributed and restarted through conntrack; exec offenders say exec', async () => {
    const h = await harness(
      aSnapshot([
        aDeployment('hog', {
          replicas: 2,
          pods: 2,
          exec: 'no-cat',
          sockets: [
            { remote: MONGO, state: 'ESTABLISHED', count: 500 },
            { remote: MONGO, state: 'TIME_WAIT', count: 20 },
          ],
        }),
        aDeployment('chatty', {
          pods: 2,
          sockets: [{ remote: '198.51.100.9:443', state: 'ESTABLISHED', count: 200 }],
        }),
      ]),
    );
    try {
      const report = await h.run({ mode: 'restart', offender: { minSnatSockets: 100, minShare: 0.1 } });

      const hog = report.offenders.find((o) => o.workload === 'shop/Deployment/hog');
      const chatty = report.offenders.find((o) => o.workload === 'shop/Deployment/chatty');
      expect(hog).toMatchObject({ method: 'conntrack', snatSockets: 1040 });
      expect(hog?.topDestinations[0]).toEqual({ remote: MONGO, sockets: 1040, timeWait: 40 });
      expect(chatty).toMatchObject({ method: 'exec', snatSockets: 400 });
      expect(report.offenders.every((o) => o.method === 'exec' || o.method === 'conntrack')).toBe(true);
      expect(report.actions.find((a) => a.workload === 'shop/Deployment/hog')?.status).toBe('applied');
      const node = report.nodes.find((n) => n.name === 'node-a');
      expect(node?.podsUninspectable).toBe(0);
      expect(node?.snatFlows).toMatchObject({
        snat: 1440,
        unattributed: 0,
        podsAttributed: 2,
        truncated: false,
      });
      expect(node?.snatFlows?.hidden).toBeUndefined();
      expect(report.recommendations.map((r) => r.id)).not.toContain('UNINSPECTABLE_PODS');
      expect(report.errors).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('says when the datapath hides SNAT from conntrack, and then attributes nothing from an empty table', async () => {
    // The cloud says the node is out of ports, but no pod holds a public socket the node translates
    // (a CNI that masquerades in BPF, or pods with VNet addresses): the table has no SNAT flow.
    const snapshot = aSnapshot([aDeployment('quiet', { pods: 1, exec: 'no-cat', sockets: [] })]);
    snapshot.nodes[0]!.metrics = { usedSnatPorts: 1024, allocatedSnatPorts: 1024, failedSnatConnections: 12 };
    const h = await harness(snapshot);
    try {
      const report = await h.run({});
      const node = report.nodes.find((n) => n.name === 'node-a');
      expect(node?.hot).toBe(true);
      expect(node?.snatFlows?.snat).toBe(0);
      expect(node?.snatFlows?.hidden).toMatch(/Cilium BPF masquerade.*EXTERNALSNAT/);
      expect(node?.podsUninspectable).toBe(1);
      expect(report.recommendations.map((r) => r.id)).toContain('UNINSPECTABLE_PODS');
    } finally {
      await h.close();
    }
  });

  it('inspect.nodeProbeFallback reads a distroless pod on its node by pod UID (method exec); without the DaemonSet, conntrack', async () => {
    const sockets = {
      kind: 'DaemonSet',
      namespace: 'snatguard',
      name: 'snatguard-node-sockets',
      labels: { 'app.kubernetes.io/name': 'snatguard-node-sockets' },
      pods: [{ node: 'node-a', ip: '10.244.0.250', sockets: [] }],
    };
    const hog = aDeployment('hog', {
      replicas: 2,
      pods: 1,
      exec: 'no-cat',
      sockets: [
        { remote: MONGO, state: 'ESTABLISHED', count: 900 },
        { remote: MONGO, state: 'SYN_SENT', count: 7 },
      ],
    });
    const withDaemonSet = await harness(aSnapshot([hog, sockets]));
    const without = await harness(aSnapshot([hog]));
    try {
      const read = await withDaemonSet.run({ inspect: { nodeProbeFallback: true } });
      const counted = await without.run({ inspect: { nodeProbeFallback: true } });

      // On the node, the pod's own tables: SYN_SENT included, as exec would have read them.
      expect(read.offenders.find((o) => o.workload === 'shop/Deployment/hog')).toMatchObject({
        method: 'exec',
        snatSockets: 907,
      });
      expect(read.nodes.find((n) => n.name === 'node-a')?.snatFlows?.podsAttributed).toBe(0);
      // No node-sockets pod: the conntrack table still counts it.
      expect(counted.offenders.find((o) => o.workload === 'shop/Deployment/hog')).toMatchObject({
        method: 'conntrack',
        snatSockets: 907,
      });
      expect(read.errors).toEqual([]);
    } finally {
      await withDaemonSet.close();
      await without.close();
    }
  });
});
