// Issue 11 item 1: Azure Monitor sends display names (`localizedValue`) next to invariant names, and
// @azure/monitor-query-metrics hands out `localizedValue || value`. A full node must still be found hot
// when its failed-connection count is zero, end to end through the simulator and the real SDKs.
import { describe, expect, it } from 'vitest';
import { aSnapshot, harness } from '../e2e/harness.js';

describe('AKS load balancer usage behind display names (issue 11 item 1, failed before the fix)', () => {
  it('finds a node at 1,024/1,024 used SNAT ports and no failed connections hot', async () => {
    // Prepare: node-a uses every port it has and no connection failed yet; node-b is idle.
    const snapshot = aSnapshot([], {
      cloud: {
        provider: 'azure',
        azure: {
          subscriptionId: '11111111-2222-3333-4444-555555555555',
          resourceGroup: 'rg-shop',
          clusterName: 'aks-shop',
          location: 'westeurope',
          outboundType: 'loadBalancer',
          loadBalancer: { allocatedOutboundPorts: 1024, outboundIPs: 1, idleTimeoutMinutes: 30 },
        },
      },
      nodes: [
        {
          name: 'node-a',
          internalIP: '10.224.0.4',
          metrics: { usedSnatPorts: 1024, allocatedSnatPorts: 1024, failedSnatConnections: 0 },
        },
        {
          name: 'node-b',
          internalIP: '10.224.0.5',
          metrics: { usedSnatPorts: 12, allocatedSnatPorts: 1024, failedSnatConnections: 0 },
        },
      ],
    });
    const h = await harness(snapshot);
    try {
      // Act
      const report = await h.run({ mode: 'dry-run' });

      // Assess: the wire carried display names, and the ports signal was still read.
      const batch = h.sim.world.requests.find(
        (r) =>
          r.path.endsWith('/metrics:getBatch') &&
          (new URLSearchParams(r.query).get('metricnames') ?? '').split(',').includes('UsedSnatPorts'),
      );
      expect(batch?.status).toBe(200);
      expect(report.errors).toEqual([]);
      const nodeA = report.nodes.find((n) => n.name === 'node-a');
      expect(nodeA?.hot).toBe(true);
      expect(nodeA?.signals.find((s) => s.kind === 'snat-ports')).toMatchObject({
        used: 1024,
        allocated: 1024,
        ratio: 1,
      });
      expect(nodeA?.signals.find((s) => s.kind === 'snat-failed')).toMatchObject({ value: 0 });
      expect(report.nodes.find((n) => n.name === 'node-b')?.hot).toBe(false);
    } finally {
      await h.close();
    }
  });
});
