import { describe, expect, it } from 'vitest';
import { analyzeOffenders, findOffenders } from '../../src/analysis/offenders.js';
import type { PodInspection, WorkloadRef } from '../../src/model.js';
import { aDestination, anInspection, aPod, aSummary, aWorkloadRef } from '../builders.js';

const thresholds = {
  minSnatSockets: 100,
  minShare: 0.25,
  destinationRules: [{ port: 27017, maxSocketsPerPod: 10 }],
};
const noRules = { ...thresholds, destinationRules: [] };

const MONGO = '20.103.144.194:27017';
const API = '203.0.113.10:443';
const OTHER = '198.51.100.7:443';

function owned(...entries: [string, WorkloadRef | null][]): Map<string, WorkloadRef | null> {
  return new Map(entries);
}

const orders = aWorkloadRef({ name: 'orders-api' });
const payments = aWorkloadRef({ name: 'payments' });
const catalog = aWorkloadRef({ name: 'catalog' });

describe('thresholds and share', () => {
  it.each([
    ['enough sockets and share', 150, 50, true],
    ['exactly at both bars', 100, 300, true],
    ['too few sockets', 99, 0, false],
    ['enough sockets, share too small', 120, 400, false],
  ])('%s (%i vs %i others)', (_what, mine, others, isOffender) => {
    const inspections = [
      anInspection(aPod({ name: 'orders-1' }), [aDestination(API, mine)]),
      anInspection(aPod({ name: 'payments-1' }), others > 0 ? [aDestination(OTHER, others)] : []),
    ];
    const owners = owned(['shop/orders-1', orders], ['shop/payments-1', payments]);
    const offenders = findOffenders(inspections, owners, noRules, ['n1']);
    const found = offenders.find((o) => o.workload === 'shop/Deployment/orders-api');
    expect(Boolean(found)).toBe(isOffender);
    if (found) expect(found.share).toBeCloseTo(mine / (mine + others));
  });

  it('sums a workload over its pods on the node; the node total covers every inspected namespace', () => {
    const inspections = [
      anInspection(aPod({ name: 'orders-1' }), [aDestination(MONGO, 300)]),
      anInspection(aPod({ name: 'orders-2' }), [aDestination(MONGO, 200), aDestination(API, 50)]),
      anInspection(aPod({ name: 'payments-1' }), [aDestination(API, 450)]),
    ];
    const owners = owned(['shop/orders-1', orders], ['shop/orders-2', orders], ['shop/payments-1', payments]);
    const result = analyzeOffenders(inspections, owners, noRules, [{ name: 'n1' }]);
    expect(result.nodeSnatSockets.get('n1')).toBe(1000);
    expect(result.offenders.map((o) => [o.workload, o.snatSockets, o.share, o.pods])).toEqual([
      ['shop/Deployment/orders-api', 550, 0.55, ['orders-1', 'orders-2']],
      ['shop/Deployment/payments', 450, 0.45, ['payments-1']],
    ]);
    expect(result.offenders[0]!.topDestinations).toEqual([
      { remote: MONGO, sockets: 500, timeWait: 0 },
      { remote: API, sockets: 50, timeWait: 0 },
    ]);
  });

  it('ignores pods on nodes that are not hot and pods that could not be inspected', () => {
    const inspections = [
      anInspection(aPod({ name: 'orders-1', node: 'n2' }), [aDestination(API, 900)]),
      anInspection(aPod({ name: 'orders-2' }), [], {
        status: 'uninspectable',
        reason: 'no cat',
        summary: undefined,
      }),
      anInspection(aPod({ name: 'payments-1' }), [aDestination(API, 10)]),
    ];
    const owners = owned(['shop/orders-1', orders], ['shop/orders-2', orders], ['shop/payments-1', payments]);
    const result = analyzeOffenders(inspections, owners, noRules, ['n1']);
    expect(result.offenders).toEqual([]);
    expect(result.nodeSnatSockets).toEqual(new Map([['n1', 10]]));
  });
});

describe('destination rules ("more than 10 to MongoDB")', () => {
  it.each([
    ['11 from one pod', [11], true],
    ['exactly 10 from one pod', [10], false],
    ['10 + 10 from two pods (per pod, not summed)', [10, 10], false],
    ['3 and 12', [3, 12], true],
  ])('%s', (_what, perPod, isOffender) => {
    const inspections = perPod.map((count, i) =>
      anInspection(aPod({ name: `orders-${i}` }), [aDestination(MONGO, count)]),
    );
    // A big consumer keeps the orders-api share far below the threshold: only the rule can match.
    inspections.push(anInspection(aPod({ name: 'payments-1' }), [aDestination(API, 5000)]));
    const owners = owned(...perPod.map((_, i): [string, WorkloadRef] => [`shop/orders-${i}`, orders]), [
      'shop/payments-1',
      payments,
    ]);
    const found = findOffenders(inspections, owners, thresholds, ['n1']).find(
      (o) => o.ref.name === 'orders-api',
    );
    expect(Boolean(found)).toBe(isOffender);
    if (found) {
      expect(found.matched).toEqual([`port 27017: ${Math.max(...perPod)} > 10 per pod`]);
      expect(found.maxSocketsPerPod).toBe(Math.max(...perPod));
    }
  });

  it('a rule on another port does not match', () => {
    const inspections = [anInspection(aPod({ name: 'orders-1' }), [aDestination('203.0.113.9:5432', 50)])];
    expect(findOffenders(inspections, owned(['shop/orders-1', orders]), thresholds, ['n1'])).toEqual([]);
  });
});

describe('hostNetwork pods', () => {
  it('count the node namespace once, as node/NAME, never per hostNetwork pod', () => {
    const host = [aDestination(API, 400)];
    const inspections = [
      anInspection(aPod({ namespace: 'kube-system', name: 'kube-proxy-x', hostNetwork: true }), host),
      anInspection(aPod({ namespace: 'kube-system', name: 'node-exporter-y', hostNetwork: true }), host),
      anInspection(aPod({ name: 'orders-1' }), [aDestination(MONGO, 200)]),
    ];
    const owners = owned(
      [
        'kube-system/kube-proxy-x',
        aWorkloadRef({ namespace: 'kube-system', kind: 'DaemonSet', name: 'kube-proxy' }),
      ],
      ['shop/orders-1', orders],
    );
    const result = analyzeOffenders(inspections, owners, noRules, ['n1']);
    expect(result.nodeSnatSockets.get('n1')).toBe(600);
    expect(result.offenders.map((o) => [o.workload, o.snatSockets, o.pods])).toEqual([
      ['node/n1', 400, []],
      ['shop/Deployment/orders-api', 200, ['orders-1']],
    ]);
    expect(result.offenders[0]!.ref.kind).toBe('Node');
    expect(result.offenders.some((o) => o.workload.includes('kube-proxy'))).toBe(false);
  });
});

describe('owners', () => {
  it('a pod without an owner stands for itself', () => {
    const inspections = [anInspection(aPod({ name: 'debug-shell' }), [aDestination(API, 200)])];
    const owners = owned(['shop/debug-shell', null]);
    const [offender] = findOffenders(inspections, owners, noRules, ['n1']);
    expect(offender?.workload).toBe('shop/Pod/debug-shell');
    expect(offender?.ref).toEqual({ namespace: 'shop', kind: 'Pod', name: 'debug-shell' });
    // An owner missing from the map is the same as none.
    expect(findOffenders(inspections, new Map(), noRules, ['n1'])[0]?.workload).toBe('shop/Pod/debug-shell');
  });
});

describe('ranking', () => {
  it('by SNAT sockets, then share of the hottest destinations, then name; the same for any input order', () => {
    // orders-api and catalog tie on sockets; orders-api holds more of the node's busiest destination.
    const inspections: PodInspection[] = [
      anInspection(aPod({ name: 'catalog-1' }), [aDestination(OTHER, 300)]),
      anInspection(aPod({ name: 'orders-1' }), [aDestination(MONGO, 300)]),
      anInspection(aPod({ name: 'payments-1' }), [aDestination(MONGO, 400)]),
      anInspection(aPod({ name: 'zeta-1' }), [aDestination(OTHER, 300)]),
    ];
    const owners = owned(
      ['shop/catalog-1', catalog],
      ['shop/orders-1', orders],
      ['shop/payments-1', payments],
      ['shop/zeta-1', aWorkloadRef({ name: 'zeta' })],
    );
    const loose = { minSnatSockets: 1, minShare: 0, destinationRules: [] };
    const expected = [
      'shop/Deployment/payments',
      'shop/Deployment/orders-api',
      'shop/Deployment/catalog',
      'shop/Deployment/zeta',
    ];
    expect(findOffenders(inspections, owners, loose, ['n1']).map((o) => o.workload)).toEqual(expected);
    expect(findOffenders([...inspections].reverse(), owners, loose, ['n1']).map((o) => o.workload)).toEqual(
      expected,
    );
  });

  it('keeps the top 5 destinations with their TIME_WAIT counts', () => {
    const dests = [
      aDestination('203.0.113.1:443', 60, { TIME_WAIT: 40 }),
      aDestination('203.0.113.2:443', 50),
      aDestination('203.0.113.3:443', 40),
      aDestination('203.0.113.4:443', 30),
      aDestination('203.0.113.5:443', 20, { TIME_WAIT: 20 }),
      aDestination('203.0.113.6:443', 10),
    ];
    const [offender] = findOffenders(
      [anInspection(aPod({ name: 'orders-1' }), dests)],
      owned(['shop/orders-1', orders]),
      noRules,
      ['n1'],
    );
    expect(offender?.topDestinations).toEqual([
      { remote: '203.0.113.1:443', sockets: 60, timeWait: 40 },
      { remote: '203.0.113.2:443', sockets: 50, timeWait: 0 },
      { remote: '203.0.113.3:443', sockets: 40, timeWait: 0 },
      { remote: '203.0.113.4:443', sockets: 30, timeWait: 0 },
      { remote: '203.0.113.5:443', sockets: 20, timeWait: 20 },
    ]);
  });
});

describe('inbound connections never make an offender', () => {
  it('a server with thousands of inbound clients and no outbound SNAT sockets', () => {
    // The socket summary counts inbound (to a listening port) separately and excludes it from snatSockets.
    const summary = aSummary([], { inbound: 5000, listening: 1, parsed: 5001, lines: 5001 });
    const inspections = [anInspection(aPod({ name: 'frontend-1' }), [], { summary })];
    const result = analyzeOffenders(
      inspections,
      owned(['shop/frontend-1', aWorkloadRef({ name: 'frontend' })]),
      thresholds,
      ['n1'],
    );
    expect(result.offenders).toEqual([]);
    expect(result.belowThreshold).toEqual([]);
    expect(result.nodeSnatSockets.get('n1')).toBe(0);
  });
});

describe('below-threshold candidates', () => {
  it('per hot node, the largest non-offending consumer', () => {
    const inspections = [
      anInspection(aPod({ name: 'orders-1' }), [aDestination(MONGO, 500)]),
      anInspection(aPod({ name: 'payments-1' }), [aDestination(API, 60)]),
      anInspection(aPod({ name: 'catalog-1' }), [aDestination(API, 40)]),
      anInspection(aPod({ name: 'catalog-2', node: 'n2' }), [aDestination(API, 40)]),
    ];
    const owners = owned(
      ['shop/orders-1', orders],
      ['shop/payments-1', payments],
      ['shop/catalog-1', catalog],
      ['shop/catalog-2', catalog],
    );
    const result = analyzeOffenders(inspections, owners, noRules, ['n1', 'n2']);
    expect(result.offenders.map((o) => o.workload)).toEqual(['shop/Deployment/orders-api']);
    expect(result.belowThreshold.map((o) => [o.workload, o.node, o.matched])).toEqual([
      ['shop/Deployment/payments', 'n1', []],
      ['shop/Deployment/catalog', 'n2', []],
    ]);
  });
});

describe('topPods', () => {
  it('names the pods holding the most sockets, so a 1,010/12 split is visible (was: an average)', () => {
    const r = analyzeOffenders(
      [
        anInspection(aPod({ name: 'orders-1' }), [aDestination(MONGO, 1010)]),
        anInspection(aPod({ name: 'orders-2' }), [aDestination(MONGO, 12)]),
      ],
      owned(['shop/orders-1', orders], ['shop/orders-2', orders]),
      noRules,
      ['n1'],
    );
    expect(r.offenders[0]?.topPods).toEqual([
      { pod: 'orders-1', sockets: 1010 },
      { pod: 'orders-2', sockets: 12 },
    ]);
  });
});
