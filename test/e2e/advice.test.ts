// Each example snapshot's report carries the recommendations its incident calls for, and no irrelevant ones.
import { describe, expect, it } from 'vitest';
import { aDeployment, aSnapshot, example, harness } from './harness.js';

const idsOf = (r: { recommendations: { id: string }[] }) =>
  [...new Set(r.recommendations.map((x) => x.id))].sort();

describe('recommendations on the example snapshots', () => {
  it('AKS MongoDB leak: pooling and outbound ports, nothing from AWS; healthy after the restart', async () => {
    const h = await harness(await example('aks-mongo-leak.yaml'));
    try {
      const first = await h.run({ mode: 'restart' });
      const second = await h.run({ mode: 'restart' });
      expect(idsOf(first)).toEqual(['AZURE_LB_OUTBOUND_PORTS', 'CONNECTION_POOLING']);
      const pooling = first.recommendations.find((r) => r.id === 'CONNECTION_POOLING')!;
      expect(pooling.workload).toBe('shop/Deployment/orders-api');
      expect(pooling.detail).toContain('20.103.144.194:27017');
      expect(pooling.fix).toMatch(/maxPoolSize/);
      expect(second.recommendations).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('EKS conntrack: the VPC CNI, conntrack and NAT gateway advice, nothing from Azure', async () => {
    const h = await harness(await example('eks-conntrack.yaml'));
    try {
      const report = await h.run();
      const ids = idsOf(report);
      expect(ids).toEqual(
        expect.arrayContaining(['AWS_RANDOMIZESNAT_PRNG', 'CONNTRACK_RAISE_MAX', 'AWS_NATGW_ADD_IPS']),
      );
      expect(ids.filter((id) => id.startsWith('AZURE_'))).toEqual([]);
      expect(report.recommendations.find((r) => r.id === 'AWS_RANDOMIZESNAT_PRNG')?.fix).toBe(
        'kubectl set env daemonset aws-node -n kube-system AWS_VPC_K8S_CNI_RANDOMIZESNAT=prng',
      );
      const conntrackNode = report.nodes.find((n) => n.conntrack && n.conntrack.ratio >= 0.9);
      expect(conntrackNode?.name).toBe('ip-10-0-1-23.eu-west-1.compute.internal');
    } finally {
      await h.close();
    }
  });

  it('a healthy cluster gets no advice at all', async () => {
    const calm = aDeployment('calm', {
      sockets: [{ remote: '20.103.144.194:27017', state: 'ESTABLISHED', count: 5 }],
    });
    const h = await harness(aSnapshot([calm]));
    try {
      const report = await h.run();
      expect(report.nodes.filter((n) => n.hot)).toEqual([]);
      expect(report.recommendations).toEqual([]);
      expect(report.offenders).toEqual([]);
    } finally {
      await h.close();
    }
  });
});
