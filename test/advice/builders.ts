// Builders for advice inputs: a healthy cluster by default, each test adds the one fact it is about.
import type { AdviceInput } from '../../src/advice/catalogue.js';
import type { NodeReport, Offender } from '../../src/model.js';

type Conntrack = NonNullable<NodeReport['conntrack']>;

export function aConntrack(over: Partial<Conntrack> = {}): Conntrack {
  const count = over.count ?? 1000;
  const max = over.max ?? 262_144;
  return {
    count,
    max,
    beLiberal: false,
    insertFailed: 0,
    drop: 0,
    earlyDrop: 0,
    ratio: count / max,
    ...over,
  };
}

export function aNode(over: Partial<NodeReport> & { name?: string } = {}): NodeReport {
  return {
    name: 'node-a',
    hot: false,
    signals: [{ kind: 'snat-ports', used: 100, allocated: 1024, ratio: 100 / 1024 }],
    podsInspected: 0,
    podsUninspectable: 0,
    ...over,
  };
}

/** A node at `used`/`allocated` SNAT ports, with `failed` failed SNAT connections. */
export function aSnatNode(name: string, used: number, allocated: number, failed = 0): NodeReport {
  return aNode({
    name,
    hot: true,
    signals: [
      { kind: 'snat-ports', used, allocated, ratio: used / allocated },
      ...(failed > 0 ? [{ kind: 'snat-failed' as const, value: failed }] : []),
    ],
  });
}

export function anOffender(over: Partial<Omit<Offender, 'ref'>> = {}): Omit<Offender, 'ref'> {
  return {
    workload: 'shop/Deployment/cart',
    node: 'node-a',
    pods: ['cart-5d9c7b8f6d-x2k4q'],
    snatSockets: 1010,
    share: 0.9,
    topDestinations: [{ remote: '20.61.15.3:27017', sockets: 1010, timeWait: 0 }],
    matched: ['threshold'],
    ...over,
  };
}

export function anAksInput(over: Partial<AdviceInput> = {}): AdviceInput {
  return {
    provider: 'azure',
    cloud: {
      provider: 'azure',
      azure: { outboundType: 'loadBalancer', allocatedOutboundPorts: 0, outboundIPs: 1, nodeCount: 2 },
    },
    nodeCount: 2,
    nodes: [
      aNode({ name: 'node-a', conntrack: aConntrack() }),
      aNode({ name: 'node-b', conntrack: aConntrack() }),
    ],
    offenders: [],
    uninspectable: [],
    thresholds: { snatUsedRatio: 0.8, conntrackUsedRatio: 0.9 },
    nodeProbeFallback: false,
    ...over,
  };
}

export function anEksInput(over: Partial<AdviceInput> = {}): AdviceInput {
  return anAksInput({
    provider: 'aws',
    cloud: {
      provider: 'aws',
      aws: {
        natGateways: [
          { id: 'nat-0a1b2c3d', errorPortAllocation: 0, activeConnectionCount: 1200, packetsDropCount: 0 },
        ],
        awsNodeEnv: { AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'prng', AWS_VPC_K8S_CNI_EXTERNALSNAT: 'false' },
      },
    },
    nodes: [
      aNode({ name: 'ip-10-0-1-10', signals: [], conntrack: aConntrack() }),
      aNode({ name: 'ip-10-0-2-20', signals: [], conntrack: aConntrack() }),
    ],
    ...over,
  });
}
