import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AWS_NATGW_CONNECTIONS_PER_DESTINATION_PER_IP,
  AZURE_NATGW_PORTS_PER_IP,
  allocatedPortsProblems,
  awsNatGatewayIpsFor,
  azureNatGatewayIpsFor,
  azureNatGatewayPlan,
  CapacityError,
  defaultPortsPerIp,
  evaluateLb,
  LB_PORTS_PER_IP,
  maxNodesFor,
  portsPerNode,
  smallestLbSetting,
} from '../../src/advice/capacity.js';

// Numbers from shared/reference/cloud-facts.md §2, §3, §7.
describe('the facts the arithmetic rests on', () => {
  it('64,000 ports per LB frontend IP, 64,512 per NAT gateway IP, 55,000 per AWS NAT IP per destination', () => {
    expect(LB_PORTS_PER_IP).toBe(64_000);
    expect(AZURE_NATGW_PORTS_PER_IP).toBe(64_512);
    expect(AWS_NATGW_CONNECTIONS_PER_DESTINATION_PER_IP).toBe(55_000);
  });
});

describe('defaultPortsPerIp (the default allocation table)', () => {
  it.each([
    [1, 1024],
    [50, 1024],
    [51, 512],
    [100, 512],
    [101, 256],
    [200, 256],
    [201, 128],
    [400, 128],
    [401, 64],
    [800, 64],
    [801, 32],
    [1000, 32],
  ])('%i backend instances → %i ports per IP', (pool, ports) => {
    expect(defaultPortsPerIp(pool)).toBe(ports);
  });

  it.each([1001, 5000, 0, 2.5])('%s backend instances is an error', (pool) => {
    expect(() => defaultPortsPerIp(pool)).toThrow(CapacityError);
  });

  it('says to set allocatedOutboundPorts beyond 1000 nodes', () => {
    expect(() => defaultPortsPerIp(1001)).toThrow(/stops at 1000.*allocatedOutboundPorts/);
  });
});

describe('allocatedPortsProblems', () => {
  it.each([0, 8, 1024, 4000, 64_000])('%i is valid', (p) => expect(allocatedPortsProblems(p)).toEqual([]));
  it.each([
    [12, /multiple of 8/],
    [1020, /multiple of 8/],
    [64_008, /0–64000/],
    [-8, /0–64000/],
    [8.5, /0–64000/],
  ])('%s is rejected', (p, message) => {
    expect(allocatedPortsProblems(p).join()).toMatch(message);
  });
});

describe('portsPerNode', () => {
  it.each([
    ['1 IP, 50 nodes, default', { nodes: 50, outboundIPs: 1, allocatedOutboundPorts: 0 }, 1024],
    ['1 IP, 51 nodes, default', { nodes: 51, outboundIPs: 1, allocatedOutboundPorts: 0 }, 512],
    ['2 IPs, 51 nodes, default: 512 per IP', { nodes: 51, outboundIPs: 2, allocatedOutboundPorts: 0 }, 1024],
    [
      '3 IPs, 100 nodes, default: capped at 1024',
      { nodes: 100, outboundIPs: 3, allocatedOutboundPorts: 0 },
      1024,
    ],
    ['2 IPs, 101 nodes, default', { nodes: 101, outboundIPs: 2, allocatedOutboundPorts: 0 }, 512],
    ['4 IPs, 300 nodes, default', { nodes: 300, outboundIPs: 4, allocatedOutboundPorts: 0 }, 512],
    [
      'explicit 4000 ignores the pool size',
      { nodes: 500, outboundIPs: 40, allocatedOutboundPorts: 4000 },
      4000,
    ],
  ])('%s → %i', (_name, setting, ports) => {
    expect(portsPerNode(setting)).toBe(ports);
  });

  it.each([
    { nodes: 10, outboundIPs: 0, allocatedOutboundPorts: 0 },
    { nodes: 10, outboundIPs: 101, allocatedOutboundPorts: 0 },
    { nodes: 10, outboundIPs: 1, allocatedOutboundPorts: 1001 },
    { nodes: 1001, outboundIPs: 1, allocatedOutboundPorts: 0 },
  ])('rejects %o', (setting) => {
    expect(() => portsPerNode(setting)).toThrow(CapacityError);
  });
});

describe('maxNodesFor: floor(64,000 × IPs / ports)', () => {
  it.each([
    [1, 1024, 62],
    [7, 4000, 112],
    [2, 1024, 125],
    [1, 64_000, 1],
    [100, 8, 800_000],
  ])('%i IPs at %i ports → %i nodes', (ips, ports, nodes) => {
    expect(maxNodesFor(ips, ports)).toBe(nodes);
  });
});

describe('evaluateLb', () => {
  it('default allocation, 50 nodes + 1 surge: 1,024 each now, 512 during the surge, does not fit', () => {
    const e = evaluateLb({ nodes: 50, outboundIPs: 1, allocatedOutboundPorts: 0 });
    expect(e).toMatchObject({
      mode: 'default',
      plannedNodes: 51,
      portsPerNode: 1024,
      portsPerNodeDuringSurge: 512,
      maxNodes: 50,
      fits: false,
    });
  });

  it('default allocation, 49 nodes + 1 surge fits at 1,024', () => {
    expect(evaluateLb({ nodes: 49, outboundIPs: 1, allocatedOutboundPorts: 0 })).toMatchObject({
      portsPerNodeDuringSurge: 1024,
      fits: true,
    });
  });

  it('maxSurge 0 counts no surge node', () => {
    expect(evaluateLb({ nodes: 50, maxSurge: 0, outboundIPs: 1, allocatedOutboundPorts: 0 })).toMatchObject({
      plannedNodes: 50,
      fits: true,
    });
  });

  it('explicit 1,024 ports with 2 IPs serves 100 nodes + 10 surge (limit 125)', () => {
    expect(
      evaluateLb({ nodes: 100, maxSurge: 10, outboundIPs: 2, allocatedOutboundPorts: 1024 }),
    ).toMatchObject({ mode: 'explicit', plannedNodes: 110, portsPerNode: 1024, maxNodes: 125, fits: true });
  });

  it('explicit 1,024 ports with 1 IP cannot serve 100 nodes (limit 62)', () => {
    expect(evaluateLb({ nodes: 100, outboundIPs: 1, allocatedOutboundPorts: 1024 })).toMatchObject({
      maxNodes: 62,
      fits: false,
    });
  });

  it('default allocation with 1000 nodes + surge does not fit, and says why (was: an error)', () => {
    const e = evaluateLb({ nodes: 1000, outboundIPs: 1, allocatedOutboundPorts: 0 });
    expect(e).toMatchObject({ fits: false, portsPerNode: 32, portsPerNodeDuringSurge: 0, maxNodes: 1000 });
    expect(e.problem).toMatch(/serves at most 1,000 nodes and the pool would hold 1,001/);
  });
});

describe('smallestLbSetting', () => {
  it('100 nodes at 1,024 ports with a surge of 10: 1,024 ports and 2 IPs (125 nodes max)', () => {
    expect(smallestLbSetting({ nodes: 100, maxSurge: 10, wantPortsPerNode: 1024 })).toEqual({
      feasible: true,
      plannedNodes: 110,
      allocatedOutboundPorts: 1024,
      outboundIPs: 2, // 110 × 1,024 = 112,640 > 64,000
      maxNodes: 125,
      maxPortsPerNodeWithTheseIPs: 1160, // floor(128,000 / 110) = 1,163 → 1,160
    });
  });

  it('rounds the wanted ports up to a multiple of 8', () => {
    const plan = smallestLbSetting({ nodes: 10, wantPortsPerNode: 1001 });
    expect(plan.allocatedOutboundPorts).toBe(1008);
  });

  it('is not possible above 64,000 ports per node', () => {
    const plan = smallestLbSetting({ nodes: 1, maxSurge: 0, wantPortsPerNode: 64_001 });
    expect(plan.feasible).toBe(false);
  });

  it('is not possible when more than 100 IPs would be needed', () => {
    const plan = smallestLbSetting({ nodes: 400, wantPortsPerNode: 16_000 });
    expect(plan).toMatchObject({ feasible: false, plannedNodes: 401, outboundIPsNeeded: 101 });
  });

  it('is minimal and sufficient for any input (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 1, max: 64_000 }),
        (nodes, maxSurge, want) => {
          const plan = smallestLbSetting({ nodes, maxSurge, wantPortsPerNode: want });
          const planned = nodes + maxSurge;
          expect(plan.allocatedOutboundPorts % 8).toBe(0);
          expect(plan.allocatedOutboundPorts).toBeGreaterThanOrEqual(want);
          expect(plan.allocatedOutboundPorts - want).toBeLessThan(8);
          if (plan.feasible) {
            expect(planned * plan.allocatedOutboundPorts).toBeLessThanOrEqual(
              LB_PORTS_PER_IP * plan.outboundIPs,
            );
            if (plan.outboundIPs > 1)
              expect(planned * plan.allocatedOutboundPorts).toBeGreaterThan(
                LB_PORTS_PER_IP * (plan.outboundIPs - 1),
              );
            expect(plan.maxNodes).toBeGreaterThanOrEqual(planned);
            expect(plan.maxPortsPerNodeWithTheseIPs).toBeGreaterThanOrEqual(plan.allocatedOutboundPorts);
          } else {
            expect(plan.outboundIPsNeeded).toBeGreaterThan(100);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('NAT gateways', () => {
  it.each([
    [0, 1],
    [64_512, 1],
    [64_513, 2],
    [16 * 64_512, 16],
  ])('Azure: %i ports → %i IPs', (ports, ips) => {
    expect(azureNatGatewayIpsFor(ports)).toEqual({ ips, feasible: true });
  });

  it('Azure: more than 16 IPs is not possible', () => {
    expect(azureNatGatewayIpsFor(16 * 64_512 + 1)).toEqual({ ips: 17, feasible: false });
  });

  it('Azure worst-case plan: 63 nodes × 1,024 = 64,512 fit one IP, 64 nodes need two', () => {
    expect(azureNatGatewayPlan({ nodes: 63, maxSurge: 0, wantPortsPerNode: 1024 })).toMatchObject({ ips: 1 });
    expect(azureNatGatewayPlan({ nodes: 64, maxSurge: 0, wantPortsPerNode: 1024 })).toMatchObject({
      ips: 2,
      ports: 129_024,
    });
  });

  it.each([
    [55_000, 1, true],
    [55_001, 2, true],
    [440_000, 8, true],
    [440_001, 9, false],
  ])('AWS: %i connections to one destination → %i IPs (feasible %s)', (connections, ips, feasible) => {
    expect(awsNatGatewayIpsFor(connections)).toEqual({ ips, feasible });
  });
});
