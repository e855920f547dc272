import { describe, expect, it } from 'vitest';
import { prefixLengthFor } from '../../src/advice/azure.js';
import { type AdviceInput, compareRecommendations, recommend } from '../../src/advice/catalogue.js';
import type { Recommendation } from '../../src/model.js';
import { aConntrack, aNode, anAksInput, anEksInput, anOffender, aSnatNode } from './builders.js';

const ids = (input: AdviceInput) => recommend(input).map((r) => r.id);
const only = (input: AdviceInput, id: Recommendation['id']) => recommend(input).filter((r) => r.id === id);
const one = (input: AdviceInput, id: Recommendation['id']): Recommendation => {
  const found = only(input, id);
  expect(found).toHaveLength(1);
  return found[0]!;
};

/** The first incident: a Node.js service leaking MongoDB connections on an AKS node at 1,024/1,024 ports. */
const mongoLeak = (over: Partial<AdviceInput> = {}) =>
  anAksInput({
    target: { resourceGroup: 'rg-demo', cluster: 'aks-demo' },
    nodes: [aSnatNode('node-a', 1024, 1024, 37), aNode({ name: 'node-b' })],
    offenders: [anOffender()],
    ...over,
  });

describe('recommend: which ids fire', () => {
  it.each<[string, AdviceInput, Recommendation['id'][]]>([
    ['healthy AKS cluster', anAksInput(), []],
    ['healthy EKS cluster', anEksInput(), []],
    [
      'healthy EKS cluster with aws-node on hashrandom (no pressure)',
      anEksInput({
        cloud: {
          provider: 'aws',
          aws: { natGateways: [], awsNodeEnv: { AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'hashrandom' } },
        },
      }),
      [],
    ],
    ['AKS Mongo leak', mongoLeak(), ['AZURE_LB_OUTBOUND_PORTS', 'CONNECTION_POOLING']],
    [
      'AKS hot node, no offender: no pooling advice',
      mongoLeak({ offenders: [] }),
      ['AZURE_LB_OUTBOUND_PORTS'],
    ],
    [
      'AKS node at 79% (below 0.8), no failures',
      anAksInput({ nodes: [{ ...aSnatNode('node-a', 809, 1024), hot: false }] }),
      [],
    ],
    [
      'AKS node at 80% exactly',
      anAksInput({ nodes: [aSnatNode('node-a', 820, 1024)] }),
      ['AZURE_LB_OUTBOUND_PORTS'],
    ],
    [
      'AKS node below the threshold but failing SNAT connections',
      anAksInput({ nodes: [aSnatNode('node-a', 300, 1024, 5)] }),
      ['AZURE_LB_OUTBOUND_PORTS'],
    ],
    [
      'AKS on a user-assigned NAT gateway: no load-balancer advice',
      mongoLeak({
        cloud: { provider: 'azure', azure: { outboundType: 'userAssignedNATGateway', outboundIPs: 1 } },
      }),
      ['CONNECTION_POOLING'],
    ],
    [
      'AKS with AWS facts present: no AWS advice',
      mongoLeak({
        cloud: {
          provider: 'azure',
          azure: { outboundType: 'loadBalancer', outboundIPs: 1, allocatedOutboundPorts: 1024 },
          aws: {
            natGateways: [
              { id: 'nat-x', errorPortAllocation: 9, activeConnectionCount: 1, packetsDropCount: 0 },
            ],
            awsNodeEnv: { AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'none' },
          },
        },
        nodes: [
          {
            ...aSnatNode('node-a', 1024, 1024, 37),
            conntrack: aConntrack({ insertFailed: 5, insertFailedDelta: 5 }),
          },
        ],
      }),
      // conntrack advice is provider-neutral: insert_failed grew on node-a
      ['AZURE_LB_OUTBOUND_PORTS', 'CONNECTION_POOLING', 'CONNTRACK_BE_LIBERAL'],
    ],
    [
      'EKS with SNAT-port signals and Azure facts: no Azure advice',
      anEksInput({
        cloud: {
          provider: 'aws',
          azure: { outboundType: 'loadBalancer', outboundIPs: 1 },
          aws: { natGateways: [], awsNodeEnv: { AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'prng' } },
        },
        nodes: [aSnatNode('ip-10-0-1-10', 1024, 1024, 50)],
      }),
      [],
    ],
    [
      'provider none: only provider-neutral advice',
      mongoLeak({ provider: 'none', cloud: { provider: 'none' } }),
      ['CONNECTION_POOLING'],
    ],
  ])('%s', (_name, input, expected) => {
    expect(ids(input)).toEqual(expected);
  });
});

describe('AZURE_LB_OUTBOUND_PORTS', () => {
  it('doubles 1,024 to 2,048 ports for 2 nodes + 1 surge on 1 IP, critical when SNAT connections fail', () => {
    const r = one(
      mongoLeak({
        cloud: {
          provider: 'azure',
          azure: { outboundType: 'loadBalancer', allocatedOutboundPorts: 1024, outboundIPs: 1 },
        },
      }),
      'AZURE_LB_OUTBOUND_PORTS',
    );
    expect(r.severity).toBe('critical');
    expect(r.fix).toBe(
      'az aks update --resource-group rg-demo --name aks-demo --load-balancer-outbound-ports 2048 --load-balancer-managed-outbound-ip-count 1',
    );
    // 3 nodes × 2,048 = 6,144 ≤ 64,000; floor(64,000 / 2,048) = 31 nodes.
    expect(r.detail).toContain('2 nodes + 1 surge = 3');
    expect(r.detail).toContain('at most 31 nodes');
    expect(r.detail).toContain('node-a 1,024/1,024 SNAT ports (100%), 37 failed SNAT connections');
    expect(r.detail).toContain('1,010 sockets to 20.61.15.3:27017');
  });

  it('uses placeholders when the resource group and cluster are unknown; warning without failures', () => {
    const r = one(anAksInput({ nodes: [aSnatNode('node-a', 900, 1024)] }), 'AZURE_LB_OUTBOUND_PORTS');
    expect(r.severity).toBe('warning');
    expect(r.fix).toContain('--resource-group <resource-group> --name <cluster>');
  });

  it('sizes for a peak above twice the allocation: 2,500 sockets at 0.8 → 3,128 ports', () => {
    const r = one(
      anAksInput({
        nodes: [aSnatNode('node-a', 1024, 1024, 900)],
        offenders: [anOffender({ topDestinations: [{ remote: '20.61.15.3:27017', sockets: 2500 }] })],
      }),
      'AZURE_LB_OUTBOUND_PORTS',
    );
    // ceil(2,500 / 0.8) = 3,125 → 3,128 (multiple of 8); 3 × 3,128 = 9,384 → 1 IP.
    expect(r.fix).toContain(
      '--load-balancer-outbound-ports 3128 --load-balancer-managed-outbound-ip-count 1',
    );
  });

  it('100 nodes + surge 10 at 512 default ports: 1,024 ports need 2 IPs', () => {
    const r = one(
      anAksInput({
        nodeCount: 100,
        maxSurge: 10,
        cloud: {
          provider: 'azure',
          azure: { outboundType: 'loadBalancer', allocatedOutboundPorts: 0, outboundIPs: 1, nodeCount: 100 },
        },
        nodes: [aSnatNode('node-a', 512, 512)],
      }),
      'AZURE_LB_OUTBOUND_PORTS',
    );
    expect(r.fix).toContain(
      '--load-balancer-outbound-ports 1024 --load-balancer-managed-outbound-ip-count 2',
    );
    expect(r.detail).toContain('at most 125 nodes');
  });

  it('never suggests fewer IPs than the cluster has', () => {
    const r = one(
      anAksInput({
        cloud: {
          provider: 'azure',
          azure: { outboundType: 'loadBalancer', allocatedOutboundPorts: 1024, outboundIPs: 4 },
        },
        nodes: [aSnatNode('node-a', 1024, 1024)],
      }),
      'AZURE_LB_OUTBOUND_PORTS',
    );
    expect(r.fix).toMatch(/--load-balancer-managed-outbound-ip-count 4$/);
    expect(r.detail).toContain('at most 125 nodes'); // floor(256,000 / 2,048)
  });
});

describe('AZURE_NAT_GATEWAY', () => {
  it('replaces the LB advice when one node needs more than 64,000 ports', () => {
    const input = anAksInput({
      target: { resourceGroup: 'rg', cluster: 'aks' },
      cloud: {
        provider: 'azure',
        azure: { outboundType: 'loadBalancer', allocatedOutboundPorts: 40_000, outboundIPs: 2 },
      },
      nodes: [aSnatNode('node-a', 40_000, 40_000, 3)],
    });
    expect(ids(input)).toEqual(['AZURE_NAT_GATEWAY']);
    const r = one(input, 'AZURE_NAT_GATEWAY');
    expect(r.severity).toBe('critical');
    // in use 40,000 + 100 on node-b; twice that = 80,200 → 2 IPs of 64,512. The VNet was not read:
    // the managed command, and the own-VNet path after it.
    expect(r.fix).toMatch(
      /^az aks update --resource-group rg --name aks --outbound-type managedNATGateway --nat-gateway-managed-outbound-ip-count 2 {2}# own VNet: /,
    );
    expect(r.detail).toContain("above the load balancer's maximum of 64,000");
  });

  const natInput = (azure: Record<string, unknown>) =>
    anAksInput({
      target: { resourceGroup: 'rg', cluster: 'aks' },
      cloud: {
        provider: 'azure',
        azure: { outboundType: 'loadBalancer', allocatedOutboundPorts: 40_000, outboundIPs: 2, ...azure },
      },
      nodes: [aSnatNode('node-a', 40_000, 40_000, 3)],
    });

  it('AKS-managed VNet: managedNATGateway', () => {
    const r = one(natInput({ customVnet: false }), 'AZURE_NAT_GATEWAY');
    expect(r.fix).toBe(
      'az aks update --resource-group rg --name aks --outbound-type managedNATGateway --nat-gateway-managed-outbound-ip-count 2',
    );
  });

  it('own VNet: a NAT gateway on the node subnet and userAssignedNATGateway, never managedNATGateway (issue 11 item 6, failed before the fix)', () => {
    const r = one(
      natInput({
        customVnet: true,
        vnetSubnet: { resourceGroup: 'rg-net', vnet: 'hub', subnet: 'aks-nodes' },
      }),
      'AZURE_NAT_GATEWAY',
    );
    expect(r.fix).not.toContain('managedNATGateway --');
    expect(r.fix).toBe(
      [
        'az network public-ip prefix create --resource-group rg-net --name aks-natgw-ips --length 31',
        'az network nat gateway create --resource-group rg-net --name aks-natgw --public-ip-prefixes aks-natgw-ips --idle-timeout 4',
        'az network vnet subnet update --resource-group rg-net --vnet-name hub --name aks-nodes --nat-gateway aks-natgw',
        'az aks update --resource-group rg --name aks --outbound-type userAssignedNATGateway',
      ].join(' && '),
    );
    expect(r.detail).toContain('managedNATGateway is not supported');
  });

  it.each([
    [1, 31],
    [2, 31],
    [3, 30],
    [8, 29],
    [16, 28],
  ])('%s IPs fit a /%s prefix', (ips, length) => {
    expect(prefixLengthFor(ips)).toBe(length);
  });

  it('replaces the LB advice when more than 100 IPs would be needed (401 nodes × 16,000)', () => {
    const input = anAksInput({
      nodeCount: 400,
      cloud: {
        provider: 'azure',
        azure: {
          outboundType: 'loadBalancer',
          allocatedOutboundPorts: 8000,
          outboundIPs: 50,
          nodeCount: 400,
        },
      },
      nodes: [aSnatNode('node-a', 8000, 8000)],
    });
    const r = one(input, 'AZURE_NAT_GATEWAY');
    expect(r.detail).toContain('need 101 outbound IPs; the load balancer allows 100');
    expect(only(input, 'AZURE_LB_OUTBOUND_PORTS')).toEqual([]);
  });

  it('is offered as an info alternative when the LB plan needs more than 16 IPs', () => {
    const input = anAksInput({
      nodeCount: 300,
      cloud: {
        provider: 'azure',
        azure: {
          outboundType: 'loadBalancer',
          allocatedOutboundPorts: 2048,
          outboundIPs: 10,
          nodeCount: 300,
        },
      },
      nodes: [aSnatNode('node-a', 2048, 2048)],
    });
    // 301 × 4,096 = 1,232,896 → 20 IPs.
    expect(ids(input)).toEqual(['AZURE_LB_OUTBOUND_PORTS', 'AZURE_NAT_GATEWAY']);
    expect(one(input, 'AZURE_LB_OUTBOUND_PORTS').fix).toContain(
      '--load-balancer-outbound-ports 4096 --load-balancer-managed-outbound-ip-count 20',
    );
    expect(one(input, 'AZURE_NAT_GATEWAY').severity).toBe('info');
  });

  it('adds IPs to a managed NAT gateway that failed SNAT connections', () => {
    const input = anAksInput({
      cloud: {
        provider: 'azure',
        azure: {
          outboundType: 'managedNATGateway',
          natGateway: { failedSnat: 120, totalConnections: 70_000, packetsDropped: 0 },
        },
      },
    });
    const r = one(input, 'AZURE_NAT_GATEWAY');
    // ceil(70,000 / 64,512) + 1 = 3.
    expect(r.fix).toBe(
      'az aks update --resource-group <resource-group> --name <cluster> --nat-gateway-managed-outbound-ip-count 3',
    );
    expect(r.severity).toBe('critical');
  });

  it('says nothing for a managed NAT gateway without failures', () => {
    const input = anAksInput({
      cloud: {
        provider: 'azure',
        azure: {
          outboundType: 'managedNATGateway',
          natGateway: { failedSnat: 0, totalConnections: 70_000, packetsDropped: 0 },
        },
      },
    });
    expect(ids(input)).toEqual([]);
  });
});

describe('CONNECTION_POOLING', () => {
  it.each([
    ['20.61.15.3:27017', 'MongoDB', 'maxPoolSize'],
    ['198.51.100.7:5432', 'PostgreSQL', 'PgBouncer'],
    ['198.51.100.7:6379', 'Redis', 'one Redis client per process'],
    ['198.51.100.7:3306', 'MySQL', 'createPool'],
    ['203.0.113.9:443', 'HTTP(S)', 'new https.Agent({ keepAlive: true, maxSockets'],
    ['203.0.113.9:80', 'HTTP(S)', 'keepAlive: true'],
    ['[2001:db8::5]:8443', 'this destination', 'bounded connection pool'],
  ])('%s → %s hint', (remote, service, fixText) => {
    const r = one(
      anAksInput({ offenders: [anOffender({ topDestinations: [{ remote, sockets: 400, timeWait: 0 }] })] }),
      'CONNECTION_POOLING',
    );
    expect(r.title).toContain(`(${service})`);
    expect(r.fix).toContain(fixText);
    expect(r.workload).toBe('shop/Deployment/cart');
  });

  // Was: "about 511 per pod over 2 pods", which hid that one pod held 1,010 and the other 12.
  it('names the workload, the count, the share and the pods that hold them (not an average)', () => {
    const r = one(
      anAksInput({
        offenders: [
          anOffender({
            pods: ['cart-1', 'cart-2'],
            topPods: [
              { pod: 'cart-1', sockets: 988 },
              { pod: 'cart-2', sockets: 12 },
            ],
            snatSockets: 1000,
            topDestinations: [
              { remote: '20.61.15.3:27017', sockets: 800 },
              { remote: '203.0.113.9:443', sockets: 200 },
            ],
          }),
        ],
      }),
      'CONNECTION_POOLING',
    );
    expect(r.title).toBe('shop/Deployment/cart holds 800 open connections to 20.61.15.3:27017 (MongoDB)');
    expect(r.detail).toContain('1,000 SNAT-consuming sockets on node-a');
    expect(r.detail).toContain('(80% of them)');
    expect(r.detail).toContain('SNAT sockets by pod: cart-1 988, cart-2 12');
    expect(r.detail).not.toMatch(/per pod/);
  });

  it('one recommendation per workload, merging its offenders on several nodes', () => {
    const input = anAksInput({
      offenders: [
        anOffender({
          node: 'node-a',
          snatSockets: 600,
          topDestinations: [{ remote: '20.61.15.3:27017', sockets: 600 }],
        }),
        anOffender({
          node: 'node-b',
          snatSockets: 500,
          topDestinations: [{ remote: '20.61.15.3:27017', sockets: 500 }],
        }),
        anOffender({
          workload: 'shop/Deployment/web',
          topDestinations: [{ remote: '203.0.113.9:443', sockets: 300 }],
        }),
      ],
    });
    const recs = only(input, 'CONNECTION_POOLING');
    expect(recs.map((r) => r.workload)).toEqual(['shop/Deployment/cart', 'shop/Deployment/web']);
    expect(recs[0]!.title).toContain('1,100 open connections');
    expect(recs[0]!.detail).toContain('node-a, node-b');
  });

  it('not for an offender with fewer than 10 open connections to any destination', () => {
    const input = anAksInput({
      offenders: [
        anOffender({ snatSockets: 9, topDestinations: [{ remote: '20.61.15.3:27017', sockets: 9 }] }),
      ],
    });
    expect(only(input, 'CONNECTION_POOLING')).toEqual([]);
  });
});

describe('TIME_WAIT_CHURN', () => {
  it.each<[string, { sockets: number; timeWait: number }, boolean]>([
    ['800 of 900 in TIME_WAIT', { sockets: 900, timeWait: 800 }, true],
    ['exactly half and 100', { sockets: 200, timeWait: 100 }, true],
    ['300 of 900 (33%)', { sockets: 900, timeWait: 300 }, false],
    ['40 of 50 (too few)', { sockets: 50, timeWait: 40 }, false],
    ['no TIME_WAIT figure', { sockets: 900, timeWait: 0 }, false],
  ])('%s → %s', (_name, d, fires) => {
    const input = anAksInput({
      offenders: [anOffender({ topDestinations: [{ remote: '203.0.113.9:443', ...d }] })],
    });
    expect(only(input, 'TIME_WAIT_CHURN')).toHaveLength(fires ? 1 : 0);
  });

  it('gives the numbers and the keep-alive fix', () => {
    const r = one(
      anAksInput({
        offenders: [
          anOffender({ topDestinations: [{ remote: '203.0.113.9:443', sockets: 900, timeWait: 800 }] }),
        ],
      }),
      'TIME_WAIT_CHURN',
    );
    expect(r.detail).toContain('800 of the 900 sockets (89%)');
    expect(r.fix).toContain('keepAlive: true');
    expect(r.workload).toBe('shop/Deployment/cart');
  });
});

describe('AWS_RANDOMIZESNAT_PRNG', () => {
  const eks = (env: Record<string, string>, over: Partial<AdviceInput> = {}) =>
    anEksInput({
      cloud: { provider: 'aws', aws: { natGateways: [], awsNodeEnv: env } },
      nodes: [
        aNode({
          name: 'ip-10-0-1-10',
          hot: true,
          signals: [{ kind: 'conntrack-allowance', value: 3 }],
          conntrack: aConntrack({ insertFailed: 4000, insertFailedDelta: 120 }),
        }),
      ],
      ...over,
    });

  it.each<[string, Record<string, string>, boolean]>([
    ['hashrandom', { AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'hashrandom' }, true],
    ['none', { AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'none', AWS_VPC_K8S_CNI_EXTERNALSNAT: 'false' }, true],
    ['prng', { AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'prng' }, false],
    ['unset (prng since VPC CNI 1.7)', {}, false],
    [
      'an unknown value (not none or hashrandom: issue 11 item 6, failed before the fix)',
      { AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'random' },
      false,
    ],
    ['HashRandom (case-insensitive)', { AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'HashRandom' }, true],
    [
      'hashrandom with EXTERNALSNAT=true',
      { AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'hashrandom', AWS_VPC_K8S_CNI_EXTERNALSNAT: 'true' },
      false,
    ],
  ])('RANDOMIZESNAT %s → %s', (_name, env, fires) => {
    expect(only(eks(env), 'AWS_RANDOMIZESNAT_PRNG')).toHaveLength(fires ? 1 : 0);
  });

  it('critical when insert_failed grows, with the exact command for a self-managed aws-node', () => {
    const input = eks({ AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'hashrandom' });
    input.cloud.aws = { ...input.cloud.aws!, vpcCniAddon: { managed: false } };
    const r = one(input, 'AWS_RANDOMIZESNAT_PRNG');
    expect(r.severity).toBe('critical');
    expect(r.detail).toContain('insert_failed grew on ip-10-0-1-10 (+120)');
    expect(r.fix).toBe(
      'kubectl set env daemonset aws-node -n kube-system AWS_VPC_K8S_CNI_RANDOMIZESNAT=prng',
    );
  });

  it('on the managed add-on vpc-cni: aws eks update-addon, merged into its configuration (issue 11 item 6, failed before the fix)', () => {
    const input = eks({ AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'none' }, { target: { cluster: 'eks-shop' } });
    input.cloud.aws = {
      ...input.cloud.aws!,
      vpcCniAddon: {
        managed: true,
        configurationValues: '{"env":{"ENABLE_PREFIX_DELEGATION":"true"},"enableNetworkPolicy":"true"}',
      },
    };
    const r = one(input, 'AWS_RANDOMIZESNAT_PRNG');
    expect(r.fix).toBe(
      `aws eks update-addon --cluster-name eks-shop --addon-name vpc-cni --configuration-values '{"env":{"ENABLE_PREFIX_DELEGATION":"true","AWS_VPC_K8S_CNI_RANDOMIZESNAT":"prng"},"enableNetworkPolicy":"true"}'`,
    );
    expect(r.fix).not.toContain('kubectl set env');
    expect(r.detail).toContain('reverted by the next add-on update');
  });

  it('says both forms when it is not known whether aws-node is the managed add-on', () => {
    const r = one(eks({ AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'hashrandom' }), 'AWS_RANDOMIZESNAT_PRNG');
    expect(r.fix).toBe(
      `aws eks update-addon --cluster-name <cluster> --addon-name vpc-cni --configuration-values '{"env":{"AWS_VPC_K8S_CNI_RANDOMIZESNAT":"prng"}}'  # managed add-on vpc-cni; self-managed aws-node: kubectl set env daemonset aws-node -n kube-system AWS_VPC_K8S_CNI_RANDOMIZESNAT=prng`,
    );
    expect(r.detail).toContain('unknown');
  });

  it('warning when the node is hot but insert_failed does not grow', () => {
    const input = eks(
      { AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'hashrandom' },
      {
        nodes: [
          aNode({
            name: 'n',
            hot: true,
            conntrack: aConntrack({ insertFailed: 4000, insertFailedDelta: 0 }),
          }),
        ],
      },
    );
    expect(one(input, 'AWS_RANDOMIZESNAT_PRNG').severity).toBe('warning');
  });

  it('nothing without pressure', () => {
    const input = eks(
      { AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'hashrandom' },
      { nodes: [aNode({ name: 'n', conntrack: aConntrack({ insertFailed: 4000 }) })] },
    );
    expect(ids(input)).toEqual([]);
  });

  it('nothing when the aws-node env could not be read', () => {
    const input = eks({}, { cloud: { provider: 'aws', aws: { natGateways: [] } } });
    expect(ids(input).filter((id) => id.startsWith('AWS_'))).toEqual([]);
  });
});

describe('AWS_EXTERNALSNAT', () => {
  const growing = aNode({
    name: 'ip-10-0-1-10',
    hot: true,
    conntrack: aConntrack({ insertFailed: 90, insertFailedDelta: 30 }),
  });
  const gw = { id: 'nat-0a1b2c3d', errorPortAllocation: 0, activeConnectionCount: 1200, packetsDropCount: 0 };
  const eks = (env: Record<string, string>, natGateways = [gw], nodes = [growing]) =>
    anEksInput({ cloud: { provider: 'aws', aws: { natGateways, awsNodeEnv: env } }, nodes });

  it('warning when aws-node is on prng, nodes sit behind a NAT gateway and insert_failed grows', () => {
    const input = eks({ AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'prng' });
    input.cloud.aws = { ...input.cloud.aws!, vpcCniAddon: { managed: false } };
    const r = one(input, 'AWS_EXTERNALSNAT');
    expect(r.severity).toBe('warning');
    expect(r.detail).toContain('nat-0a1b2c3d');
    expect(r.fix).toBe('kubectl set env daemonset aws-node -n kube-system AWS_VPC_K8S_CNI_EXTERNALSNAT=true');
    input.cloud.aws.vpcCniAddon = { managed: true };
    expect(one(input, 'AWS_EXTERNALSNAT').fix).toBe(
      `aws eks update-addon --cluster-name <cluster> --addon-name vpc-cni --configuration-values '{"env":{"AWS_VPC_K8S_CNI_EXTERNALSNAT":"true"}}'`,
    );
  });

  it('info, after PRNG, when RANDOMIZESNAT is not prng', () => {
    const input = eks({ AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'hashrandom' });
    expect(ids(input)).toEqual(['AWS_RANDOMIZESNAT_PRNG', 'CONNTRACK_BE_LIBERAL', 'AWS_EXTERNALSNAT']);
    expect(one(input, 'AWS_EXTERNALSNAT').severity).toBe('info');
  });

  it.each<[string, AdviceInput]>([
    ['no NAT gateway (public subnets)', eks({}, [])],
    ['already EXTERNALSNAT=true', eks({ AWS_VPC_K8S_CNI_EXTERNALSNAT: 'true' })],
    [
      'insert_failed not growing',
      eks(
        {},
        [gw],
        [aNode({ name: 'n', hot: true, conntrack: aConntrack({ insertFailed: 90, insertFailedDelta: 0 }) })],
      ),
    ],
    [
      'ErrorPortAllocation alone',
      eks({}, [{ ...gw, errorPortAllocation: 12 }], [aNode({ name: 'n', conntrack: aConntrack() })]),
    ],
  ])('not when %s', (_name, input) => {
    expect(only(input, 'AWS_EXTERNALSNAT')).toEqual([]);
  });
});

describe('AWS_NATGW_ADD_IPS', () => {
  const gw = (over: object = {}) => ({
    id: 'nat-0a1b2c3d',
    errorPortAllocation: 42,
    activeConnectionCount: 54_000,
    packetsDropCount: 0,
    ...over,
  });
  const eks = (natGateways: ReturnType<typeof gw>[], offenders = [anOffender({ node: 'ip-10-0-1-10' })]) =>
    anEksInput({
      cloud: { provider: 'aws', aws: { natGateways, awsNodeEnv: { AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'prng' } } },
      offenders,
    });

  it('adds one IP when the gateway has one', () => {
    const r = one(eks([gw({ ips: 1 })]), 'AWS_NATGW_ADD_IPS');
    expect(r.severity).toBe('critical');
    expect(r.fix).toBe(
      'aws ec2 associate-nat-gateway-address --nat-gateway-id nat-0a1b2c3d --allocation-ids <eipalloc-1>',
    );
    expect(r.detail).toContain('55,000 simultaneous connections to one destination');
    expect(r.detail).toContain('2 IPs carry 110,000 connections per destination');
  });

  it('sizes for the busiest destination: 120,000 sockets → 3 IPs, with the quota note', () => {
    const r = one(
      eks(
        [gw({ ips: 1 })],
        [anOffender({ topDestinations: [{ remote: '203.0.113.9:443', sockets: 120_000 }] })],
      ),
      'AWS_NATGW_ADD_IPS',
    );
    expect(r.fix).toMatch(/--allocation-ids <eipalloc-1> <eipalloc-2>$/);
    expect(r.detail).toContain('raised quota');
  });

  it('says the IP count was assumed when unknown', () => {
    expect(one(eks([gw()]), 'AWS_NATGW_ADD_IPS').detail).toContain('1 IP (assumed');
  });

  it('splits the egress when the gateway already has 8 IPs', () => {
    const r = one(eks([gw({ ips: 8 })]), 'AWS_NATGW_ADD_IPS');
    expect(r.title).toContain('all 8 IPs');
    expect(r.fix).toContain('aws ec2 create-nat-gateway');
  });

  it('one per failing gateway, none for a healthy one', () => {
    const recs = only(
      eks([gw({ id: 'nat-b' }), gw({ id: 'nat-a', errorPortAllocation: 0 }), gw({ id: 'nat-c' })]),
      'AWS_NATGW_ADD_IPS',
    );
    expect(recs.map((r) => r.fix.split(' ')[4])).toEqual(['nat-b', 'nat-c']);
  });
});

describe('CONNTRACK_RAISE_MAX', () => {
  const withConntrack = (c: Parameters<typeof aConntrack>[0]) =>
    anAksInput({ nodes: [aNode({ name: 'node-a', conntrack: aConntrack(c) })] });

  it.each<[string, number, number, boolean]>([
    ['99%', 1190, 1200, true],
    ['90% exactly', 117_965, 131_072, true],
    ['85%', 1020, 1200, false],
  ])('%s → %s', (_name, count, max, fires) => {
    expect(only(withConntrack({ count, max }), 'CONNTRACK_RAISE_MAX')).toHaveLength(fires ? 1 : 0);
  });

  it('doubles the max to a power of two with buckets = max, the kernel default (issue 11 item 6, failed before the fix)', () => {
    const r = one(withConntrack({ count: 1190, max: 1200 }), 'CONNTRACK_RAISE_MAX');
    // 2 × 1,200 = 2,400 → 4,096; current kernels default nf_conntrack_max to nf_conntrack_buckets.
    expect(r.fix).toBe(
      'sysctl -w net.netfilter.nf_conntrack_max=4096 net.netfilter.nf_conntrack_buckets=4096',
    );
    expect(r.detail).toContain('default the max to the bucket count');
    expect(r.detail).not.toMatch(/4 × buckets/);
    expect(r.detail).toContain('--conntrack-min=4096');
    expect(r.node).toBe('node-a');
    expect(r.severity).toBe('warning');
  });

  it('262,144 at 95% → 524,288 and 524,288 buckets; critical when full', () => {
    const r = one(withConntrack({ count: 262_144, max: 262_144 }), 'CONNTRACK_RAISE_MAX');
    expect(r.fix).toBe(
      'sysctl -w net.netfilter.nf_conntrack_max=524288 net.netfilter.nf_conntrack_buckets=524288',
    );
    expect(r.severity).toBe('critical');
  });
});

describe('CONNTRACK_BE_LIBERAL', () => {
  const withConntrack = (c: Parameters<typeof aConntrack>[0]) =>
    anAksInput({ nodes: [aNode({ name: 'node-a', conntrack: aConntrack(c) })] });

  it.each<[string, Parameters<typeof aConntrack>[0], boolean]>([
    ['drop grew', { drop: 50, dropDelta: 5 }, true],
    ['insert_failed grew', { insertFailed: 50, insertFailedDelta: 7 }, true],
    ['drop grew but be_liberal on', { drop: 50, dropDelta: 5, beLiberal: true }, false],
    [
      'counters since boot but no growth',
      { drop: 50, dropDelta: 0, insertFailed: 9, insertFailedDelta: 0 },
      false,
    ],
    ['first run, counters since boot, table not under pressure', { drop: 50, insertFailed: 9 }, false],
    ['first run, counters since boot, table 99% full', { count: 1190, max: 1200, drop: 50 }, true],
  ])('%s → %s', (_name, c, fires) => {
    expect(only(withConntrack(c), 'CONNTRACK_BE_LIBERAL')).toHaveLength(fires ? 1 : 0);
  });

  it('gives the sysctl and the kube-proxy flag', () => {
    const r = one(withConntrack({ drop: 50, dropDelta: 5 }), 'CONNTRACK_BE_LIBERAL');
    expect(r.fix).toBe('sysctl -w net.netfilter.nf_conntrack_tcp_be_liberal=1');
    expect(r.detail).toContain('--conntrack-tcp-be-liberal');
    expect(r.detail).toContain('drop +5 since the last run');
  });
});

describe('UNINSPECTABLE_PODS', () => {
  const pods = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      pod: `shop/distroless-${String.fromCharCode(97 + ((n - i) % 26))}${i}`,
      node: 'node-a',
      reason: 'executable file not found: cat',
    }));

  it('lists up to 5 pods, then "…and N more", and how to read one by hand', () => {
    const r = one(anAksInput({ uninspectable: pods(7) }), 'UNINSPECTABLE_PODS');
    expect(r.detail).toContain('7 pods on node-a could not be read');
    expect(r.detail).toContain('…and 2 more');
    expect(r.detail).toContain('executable file not found: cat (7)');
    expect(r.fix).toMatch(
      /^kubectl debug -n shop distroless-\S+ -q --attach --image=busybox:1\.36 -- cat \/proc\/net\/tcp \/proc\/net\/tcp6 \| snatguard sockets -$/,
    );
    expect(r.severity).toBe('warning');
  });

  // The node-side fallback exists (infra/kubernetes/node-sockets.yaml): advised when off, diagnosed when on;
  // the severity never drops (the pods were not counted either way).
  it.each([
    [false, /inspect\.nodeProbeFallback: true.*node-sockets\.yaml/],
    [true, /failed too.*snatguard-node-sockets.*node-a/],
  ])('the node-side fallback (on: %s) is named, and the severity stays', (on, text) => {
    const r = one(anAksInput({ uninspectable: pods(1), nodeProbeFallback: on }), 'UNINSPECTABLE_PODS');
    expect(r.severity).toBe('warning');
    expect(r.detail).toMatch(text);
    expect(r.fix).toMatch(/^kubectl debug /);
  });

  it('nothing when every pod was read', () => {
    expect(only(anAksInput({ uninspectable: [] }), 'UNINSPECTABLE_PODS')).toEqual([]);
  });
});

describe('order', () => {
  const busy = () =>
    mongoLeak({
      nodes: [
        {
          ...aSnatNode('node-b', 1024, 1024, 3),
          conntrack: aConntrack({ count: 1100, max: 1200, dropDelta: 2 }),
        },
        { ...aSnatNode('node-a', 1024, 1024, 3), conntrack: aConntrack({ count: 1150, max: 1200 }) },
      ],
      offenders: [
        anOffender({
          workload: 'shop/Deployment/web',
          topDestinations: [{ remote: '203.0.113.9:443', sockets: 300, timeWait: 250 }],
        }),
        anOffender(),
      ],
      uninspectable: [{ pod: 'shop/x', node: 'node-a', reason: 'no cat' }],
    });

  it('is severity, then id, then subject', () => {
    const recs = recommend(busy());
    expect(recs.map((r) => `${r.severity} ${r.id} ${r.workload ?? r.node ?? ''}`)).toEqual([
      'critical AZURE_LB_OUTBOUND_PORTS ',
      'critical CONNTRACK_RAISE_MAX node-b',
      'warning CONNECTION_POOLING shop/Deployment/cart',
      'warning CONNECTION_POOLING shop/Deployment/web',
      'warning CONNTRACK_BE_LIBERAL node-b',
      'warning CONNTRACK_RAISE_MAX node-a',
      'warning TIME_WAIT_CHURN shop/Deployment/web',
      'warning UNINSPECTABLE_PODS ',
    ]);
    expect([...recs].sort(compareRecommendations)).toEqual(recs);
  });

  it('does not depend on the order of the input', () => {
    const a = busy();
    const b = { ...a, nodes: [...a.nodes].reverse(), offenders: [...a.offenders].reverse() };
    expect(recommend(b)).toEqual(recommend(a));
  });

  it('every recommendation carries a title, a detail with digits and a fix', () => {
    for (const r of recommend(busy())) {
      expect(r.title.length).toBeGreaterThan(10);
      expect(r.detail).toMatch(/\d/);
      expect(r.fix.length).toBeGreaterThan(10);
    }
  });
});
