import { describe, expect, it } from 'vitest';
import {
  findHotNodes,
  hotOnEvidence,
  instanceIdOf,
  matchNode,
  nodeMatcher,
  selectedNodes,
} from '../../src/analysis/hot-nodes.js';
import type { NodeKey, PressureSignal } from '../../src/model.js';
import { aNode, aNodePressure, aSignal } from '../builders.js';

const thresholds = { snatUsedRatio: 0.8, conntrackUsedRatio: 0.9 };

const azureNode = aNode({
  name: 'aks-nodepool1-12345678-vmss000000',
  internalIP: '10.224.0.4',
  providerID:
    'azure:///subscriptions/0000/resourceGroups/MC_rg-shop_aks-shop_westeurope/providers/Microsoft.Compute/virtualMachineScaleSets/aks-nodepool1-12345678-vmss/virtualMachines/0',
});
const awsNode = aNode({
  name: 'ip-10-0-1-23.eu-west-1.compute.internal',
  internalIP: '10.0.1.23',
  providerID: 'aws:///eu-west-1a/i-0abc123def4567890',
});
const plainNode = aNode({ name: 'kind-worker', internalIP: '172.18.0.3' });
const nodes = [azureNode, awsNode, plainNode];

describe('matching pressure to Node objects', () => {
  it.each<[string, NodeKey, string | undefined]>([
    ['internal IP', { internalIP: '10.224.0.4' }, azureNode.name],
    ['providerID', { providerID: awsNode.providerID! }, awsNode.name],
    ['providerID in another case', { providerID: azureNode.providerID!.toLowerCase() }, azureNode.name],
    ['instance id', { instanceId: 'i-0abc123def4567890' }, awsNode.name],
    ['name', { name: 'kind-worker' }, plainNode.name],
    ['IP first, wrong name ignored', { internalIP: '10.0.1.23', name: 'kind-worker' }, awsNode.name],
    ['nothing matches', { internalIP: '10.9.9.9', name: 'gone' }, undefined],
  ])('%s', (_what, key, expected) => {
    expect(matchNode(key, nodes)?.name).toBe(expected);
  });

  it('nodeMatcher (the index findHotNodes matches through) answers as matchNode for every key', () => {
    // Small value pools so that nodes share IPs, providerIDs (in other cases), instance ids and names, and
    // keys hit, miss and fall through from one field to the next: the first node in list order must win.
    let seed = 7;
    const pick = <T>(xs: readonly T[]): T => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return xs[seed % xs.length]!;
    };
    const ips = [undefined, '', '10.0.0.1', '10.0.0.2', '10.0.0.3'];
    const providerIds = [
      undefined,
      '',
      'aws:///eu-west-1a/i-0aaa',
      'AWS:///eu-west-1b/i-0aaa',
      'aws:///eu-west-1a/i-0bbb',
      'azure:///subscriptions/s/resourceGroups/MC_rg/vm/0',
      'azure:///subscriptions/s/resourcegroups/mc_rg/vm/0',
      'kind://docker/kind/worker',
    ];
    const instanceIds = [undefined, '', 'i-0aaa', 'i-0bbb', 'i-0ccc'];
    const names = [undefined, '', 'a', 'b', 'c'];
    for (let round = 0; round < 200; round++) {
      const list = Array.from({ length: 1 + (round % 9) }, (_, i) =>
        aNode({ name: pick(names) || `n${i}`, internalIP: pick(ips), providerID: pick(providerIds) }),
      );
      const match = nodeMatcher(list);
      for (let k = 0; k < 20; k++) {
        const key: NodeKey = {};
        const ip = pick(ips);
        const providerID = pick(providerIds);
        const instanceId = pick(instanceIds);
        const name = pick(names);
        if (ip !== undefined) key.internalIP = ip;
        if (providerID !== undefined) key.providerID = providerID;
        if (instanceId !== undefined) key.instanceId = instanceId;
        if (name !== undefined) key.name = name;
        expect(match(key), JSON.stringify({ key, list })).toBe(matchNode(key, list));
      }
    }
  });

  it('reads the instance id from an AWS providerID only', () => {
    expect(instanceIdOf('aws:///eu-west-1a/i-0abc')).toBe('i-0abc');
    expect(instanceIdOf(azureNode.providerID)).toBeUndefined();
    expect(instanceIdOf(undefined)).toBeUndefined();
  });

  it('reports pressure that matches no node as unmatched', () => {
    const result = findHotNodes(
      [aNodePressure({ internalIP: '10.9.9.9' }, aSignal('snat-failed', { value: 5 }))],
      nodes,
      thresholds,
    );
    expect(result.hot).toEqual([]);
    expect(result.unmatched).toEqual([{ internalIP: '10.9.9.9' }]);
  });
});

describe('which signals make a node hot', () => {
  it.each<[string, PressureSignal, string | null]>([
    [
      'SNAT ports at the ratio',
      aSignal('snat-ports', { used: 820, allocated: 1024 }),
      'SNAT ports 820/1024 used (80% ≥ 80%)',
    ],
    [
      'SNAT ports exhausted',
      aSignal('snat-ports', { used: 1024, allocated: 1024 }),
      'SNAT ports 1024/1024 used (100% ≥ 80%)',
    ],
    ['SNAT ports below the ratio', aSignal('snat-ports', { used: 700, allocated: 1024 }), null],
    ['ratio given directly', aSignal('snat-ports', { ratio: 0.95 }), 'SNAT ports used (95% ≥ 80%)'],
    ['failed SNAT connections', aSignal('snat-failed', { value: 37 }), '37 failed SNAT connections'],
    ['no failed SNAT connections', aSignal('snat-failed', { value: 0 }), null],
    [
      'ENA conntrack allowance exceeded',
      aSignal('conntrack-allowance', { value: 12 }),
      'ENA conntrack allowance exceeded 12 times',
    ],
    [
      'NAT gateway port allocation failure',
      aSignal('natgw-port-allocation', { value: 1, source: 'aws-nat-gateway:nat-0a1b' }),
      'NAT gateway could not allocate a source port once (aws-nat-gateway:nat-0a1b)',
    ],
    [
      'conntrack table near full',
      aSignal('conntrack', { used: 1190, allocated: 1200 }),
      'conntrack table 1190/1200 full (99% ≥ 90%)',
    ],
    ['dropped packets alone', aSignal('natgw-packets-dropped', { value: 50 }), null],
    ['active connections alone', aSignal('natgw-active-connections', { value: 50000 }), null],
  ])('%s', (_what, signal, reason) => {
    const { hot, cool } = findHotNodes([aNodePressure({ name: 'kind-worker' }, signal)], nodes, thresholds);
    if (reason === null) {
      expect(hot).toEqual([]);
      expect(cool.map((n) => n.name)).toEqual(['kind-worker']);
    } else {
      expect(hot).toEqual([
        { name: 'kind-worker', internalIP: '172.18.0.3', signals: [signal], reasons: [reason] },
      ]);
    }
  });

  it('merges several entries for one node (load balancer + NAT gateway)', () => {
    const { hot } = findHotNodes(
      [
        aNodePressure({ internalIP: '10.0.1.23' }, aSignal('conntrack-allowance', { value: 3 })),
        aNodePressure({ instanceId: 'i-0abc123def4567890' }, aSignal('natgw-port-allocation', { value: 2 })),
      ],
      nodes,
      thresholds,
    );
    expect(hot).toHaveLength(1);
    expect(hot[0]!.reasons).toEqual([
      'ENA conntrack allowance exceeded 3 times',
      'NAT gateway could not allocate a source port 2 times',
    ]);
  });
});

describe('order', () => {
  it('worst first: ratio, then node failures, then gateway failures, then name', () => {
    const gateway = aSignal('natgw-port-allocation', { value: 4 });
    const pressure = [
      aNodePressure({ name: 'a' }, gateway),
      aNodePressure({ name: 'b' }, gateway, aSignal('conntrack-allowance', { value: 1 })),
      aNodePressure({ name: 'c' }, aSignal('snat-ports', { used: 900, allocated: 1024 })),
      aNodePressure({ name: 'd' }, aSignal('snat-ports', { used: 1024, allocated: 1024 })),
      aNodePressure({ name: 'e' }, gateway),
      aNodePressure(
        { name: 'f' },
        aSignal('snat-ports', { used: 1024, allocated: 1024 }),
        aSignal('snat-failed', { value: 9 }),
      ),
    ];
    const all = ['a', 'b', 'c', 'd', 'e', 'f'].map((name) => aNode({ name }));
    const names = (p: typeof pressure) => findHotNodes(p, all, thresholds).hot.map((n) => n.name);
    expect(names(pressure)).toEqual(['f', 'd', 'c', 'b', 'a', 'e']);
    expect(names([...pressure].reverse())).toEqual(['f', 'd', 'c', 'b', 'a', 'e']);
  });
});

describe('selectedNodes (provider none)', () => {
  it('inspects the nodes matching the selector, by name', () => {
    const all = [
      aNode({ name: 'n2', labels: { pool: 'user' } }),
      aNode({ name: 'n1', labels: { pool: 'user' } }),
      aNode({ name: 's1', labels: { pool: 'system' } }),
    ];
    expect(selectedNodes(all, 'pool=user').map((n) => n.name)).toEqual(['n1', 'n2']);
    expect(selectedNodes(all, '').map((n) => n.name)).toEqual(['n1', 'n2', 's1']);
    expect(selectedNodes(all, 'pool=user')[0]!.reasons).toEqual(['inspected: matches "pool=user"']);
  });
});

// provider none: hot only on what was measured on the node (was: every inspected node was hot).
describe('hotOnEvidence', () => {
  const inspected = selectedNodes([aNode({ name: 'a' }), aNode({ name: 'b' }), aNode({ name: 'c' })], '');
  it.each([
    ['busiest destination at 80% of 1024', { busiest: { remote: '20.1.2.3:443', sockets: 820 } }, true],
    ['busiest destination below', { busiest: { remote: '20.1.2.3:443', sockets: 818 } }, false],
    ['conntrack at 90%', { conntrack: { count: 900, max: 1000 } }, true],
    ['conntrack below', { conntrack: { count: 899, max: 1000 } }, false],
    ['nothing measured', {}, false],
  ])('%s → hot %s', (_name, evidence, hot) => {
    const r = hotOnEvidence(inspected.slice(0, 1), new Map([['a', evidence]]), 1024, thresholds);
    expect(r.hot.map((n) => n.name)).toEqual(hot ? ['a'] : []);
    expect(r.cool.map((n) => n.name)).toEqual(hot ? [] : ['a']);
  });

  it('says why, with the destination, and keeps the others cool', () => {
    const r = hotOnEvidence(
      inspected,
      new Map([
        ['a', { busiest: { remote: '20.61.15.3:27017', sockets: 1010 } }],
        ['b', { busiest: { remote: '20.61.15.3:27017', sockets: 12 } }],
      ]),
      1024,
      thresholds,
    );
    expect(r.hot).toEqual([
      expect.objectContaining({
        name: 'a',
        reasons: ['SNAT ports 1010/1024 used (99% ≥ 80%) (busiest destination 20.61.15.3:27017)'],
      }),
    ]);
    expect(r.cool.map((n) => n.name)).toEqual(['b', 'c']);
  });
});
