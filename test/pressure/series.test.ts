import { describe, expect, it } from 'vitest';
import type { NodeInfo } from '../../src/model.js';
import { enaPressure, enaSeries } from '../../src/pressure/aws-ena-conntrack.js';
import { awsNatNodePressure, natGatewayFacts } from '../../src/pressure/aws-nat-gateway.js';
import { lbPressure } from '../../src/pressure/azure-load-balancer.js';
import { natGatewayPressure } from '../../src/pressure/azure-nat-gateway.js';
import { counterIncrease, maxOf, type Point, sumOf, worstMinute } from '../../src/pressure/series.js';

const pts = (...vs: (number | null)[]): Point[] => vs.map((v, i) => ({ t: i * 60_000, v }));
const node = (name: string, internalIP?: string, providerID?: string): NodeInfo => ({
  name,
  internalIP,
  providerID,
  labels: {},
  ready: true,
  podCIDRs: [],
});

describe('worstMinute', () => {
  it.each([
    {
      used: pts(100, 900, 500),
      alloc: pts(1024, 1024, 1024),
      expected: { t: 60_000, used: 900, allocated: 1024 },
    },
    {
      used: pts(100, null, 500),
      alloc: pts(1024, 1024, 1024),
      expected: { t: 120_000, used: 500, allocated: 1024 },
    },
    // a null allocated point does not hide a full minute: the window's allocation stands in
    {
      used: pts(10, 1024, 5),
      alloc: pts(1024, null, 1024),
      expected: { t: 60_000, used: 1024, allocated: 1024 },
    },
    // the ratio decides, not the raw count: the allocation halved in minute 2
    { used: pts(600, 200), alloc: pts(1024, 512), expected: { t: 0, used: 600, allocated: 1024 } },
    { used: pts(300, 400), alloc: pts(1024, 512), expected: { t: 60_000, used: 400, allocated: 512 } },
  ])('picks $expected.used/$expected.allocated', ({ used, alloc, expected }) => {
    expect(worstMinute(used, alloc)).toMatchObject(expected);
  });

  it.each([
    { used: pts(null, null), alloc: pts(1024, 1024) },
    { used: pts(), alloc: pts() },
    { used: pts(5), alloc: pts(null) },
  ])('is undefined without a known minute', ({ used, alloc }) => {
    expect(worstMinute(used, alloc)).toBeUndefined();
  });
});

describe('counters', () => {
  it.each([
    { points: pts(100, 105, 130), increase: 30 },
    { points: pts(100, null, 130), increase: 30 },
    { points: pts(100, 120, 5, 9), increase: 29 }, // reset after 120: 20 + 5 + 4
    { points: pts(7), increase: 0 },
    { points: pts(null), increase: undefined },
  ])('counterIncrease → $increase', ({ points, increase }) => {
    expect(counterIncrease(points)).toBe(increase);
  });

  it('counts points out of order by time', () => {
    expect(
      counterIncrease([
        { t: 120, v: 30 },
        { t: 0, v: 10 },
        { t: 60, v: 20 },
      ]),
    ).toBe(20);
  });

  it('sums and maxes only known values', () => {
    expect(sumOf(pts(1, null, 2))).toBe(3);
    expect(sumOf(pts(null))).toBeUndefined();
    expect(maxOf(pts(1, null, 9, 2))).toBe(9);
  });
});

describe('lbPressure', () => {
  const series = (metric: string, ip: string, ...vs: (number | null)[]) => ({
    metric,
    dims: { backendipaddress: ip },
    points: pts(...vs),
  });

  it('reports a pool member without data as an error and keeps the others', () => {
    const out = lbPressure(
      {
        used: [
          series('UsedSnatPorts', '10.0.0.4', 1000, 1024, null),
          series('UsedSnatPorts', '10.0.0.6', null, null, null),
        ],
        allocated: [series('AllocatedSnatPorts', '10.0.0.4', 1024, 1024, null)],
        failed: [series('SnatConnectionCount', '10.0.0.4', 0, 37, null)],
      },
      ['10.0.0.4', '10.0.0.5', '10.0.0.6'],
    );
    expect(out.nodes).toEqual([
      {
        node: { internalIP: '10.0.0.4' },
        signals: [
          { kind: 'snat-ports', source: 'azure-load-balancer', used: 1024, allocated: 1024, ratio: 1 },
          { kind: 'snat-failed', source: 'azure-load-balancer', value: 37 },
        ],
      },
    ]);
    expect(out.errors.map((e) => e.target)).toEqual(['ip/10.0.0.5', 'ip/10.0.0.6']);
  });
});

describe('gateway-level pressure', () => {
  it('azure: nodes outside the gateway subnets are not candidates', () => {
    const nodes = [node('a', '10.224.0.4'), node('b', '10.225.0.4'), node('c')];
    const out = natGatewayPressure('gw', { failedSnat: 3, totalConnections: 10, packetsDropped: 1 }, nodes, [
      '10.224.0.0/16',
    ]);
    expect(out.map((n) => n.node.name)).toEqual(['a', 'c']);
    expect(out[0]?.signals.map((s) => [s.kind, s.value])).toEqual([
      ['natgw-port-allocation', 3],
      ['natgw-active-connections', 10],
      ['natgw-packets-dropped', 1],
    ]);
  });

  it('aws: gateway totals reach every node, keyed by instance id', () => {
    const points = new Map([
      ['e0', pts(0, 4, null)],
      ['a0', pts(10, 50)],
      ['e1', pts(1)],
    ]);
    const facts = natGatewayFacts(['nat-a', 'nat-b'], points, new Map([['nat-a', 2]]));
    expect(facts).toEqual([
      { id: 'nat-a', errorPortAllocation: 4, activeConnectionCount: 50, packetsDropCount: 0, ips: 2 },
      { id: 'nat-b', errorPortAllocation: 1, activeConnectionCount: 0, packetsDropCount: 0 },
    ]);
    const out = awsNatNodePressure(facts, [node('n1', '10.0.0.1', 'aws:///eu-west-1a/i-0abc')]);
    expect(out[0]?.node).toEqual({ name: 'n1', instanceId: 'i-0abc', internalIP: '10.0.0.1' });
    expect(out[0]?.signals.find((s) => s.kind === 'natgw-port-allocation')?.value).toBe(5);
  });

  it('aws ENA: increase per instance, summed over its interfaces; missing instances listed', () => {
    const dims = (id: string, iface?: string) => [
      { Name: 'InstanceId', Value: id },
      ...(iface ? [{ Name: 'interface', Value: iface }] : []),
    ];
    const series = [
      { instanceId: 'i-1', dimensions: dims('i-1', 'eth0') },
      { instanceId: 'i-1', dimensions: dims('i-1', 'eth1') },
      { instanceId: 'i-2', dimensions: dims('i-2') },
    ];
    const out = enaPressure(
      [
        { node: node('n1'), instanceId: 'i-1' },
        { node: node('n2'), instanceId: 'i-2' },
      ],
      series,
      new Map([
        ['c0', pts(10, 15, 40)],
        ['c1', pts(5, 7)],
      ]),
    );
    expect(out.nodes).toEqual([
      {
        node: { name: 'n1', instanceId: 'i-1' },
        signals: [{ kind: 'conntrack-allowance', source: 'aws-ena-conntrack', value: 32 }],
      },
    ]);
    expect(out.missing).toEqual(['i-2']);
  });

  it('aws ENA: per-interface series win over the aggregated one; other instances and metrics ignored', () => {
    const m = (
      dimensions: { Name: string; Value: string }[],
      name = 'ethtool_conntrack_allowance_exceeded',
    ) => ({
      Namespace: 'CWAgent',
      MetricName: name,
      Dimensions: dimensions,
    });
    const agent = (id: string, iface: string) => [
      { Name: 'InstanceId', Value: id },
      { Name: 'interface', Value: iface },
      { Name: 'driver', Value: 'ena' },
    ];
    const found = enaSeries(
      [
        m([{ Name: 'InstanceId', Value: 'i-1' }]),
        m(agent('i-1', 'eth0')),
        m(agent('i-1', 'eth1')),
        m(agent('i-1', 'eth1')), // listed twice (pages overlap): read once
        m([{ Name: 'InstanceId', Value: 'i-2' }]),
        m(agent('i-9', 'eth0')), // not a node of this cluster
        m(agent('i-2', 'eth0'), 'ethtool_bw_in_allowance_exceeded'),
      ],
      ['i-1', 'i-2', 'i-3'],
    );
    expect(found.get('i-1')?.map((s) => s.dimensions.find((d) => d.Name === 'interface')?.Value)).toEqual([
      'eth0',
      'eth1',
    ]);
    expect(found.get('i-2')).toEqual([
      { instanceId: 'i-2', dimensions: [{ Name: 'InstanceId', Value: 'i-2' }] },
    ]);
    expect(found.has('i-3')).toBe(false);
    expect(found.has('i-9')).toBe(false);
  });
});
