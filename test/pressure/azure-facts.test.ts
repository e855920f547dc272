// The facts the Azure advice stands on: the outbound IP count (own public IPs and every address of a
// public IP prefix count, issue 11 item 6) and whether the node pools sit in the cluster's own VNet.
import type { ManagedCluster } from '@azure/arm-containerservice';
import type { LoadBalancer } from '@azure/arm-network';
import { describe, expect, it } from 'vitest';
import { vnetFacts } from '../../src/pressure/azure-clients.js';
import { lbFacts, outboundIpCount, outboundPrefixIds } from '../../src/pressure/azure-load-balancer.js';

const NODE_RG = 'MC_rg_aks_westeurope';
const net = `/subscriptions/s/resourceGroups/${NODE_RG}/providers/Microsoft.Network`;
const lbId = `${net}/loadBalancers/kubernetes`;
const prefixId =
  '/subscriptions/s/resourceGroups/rg-egress/providers/Microsoft.Network/publicIPPrefixes/aks-egress';

const cluster = (profile: Record<string, unknown>, subnet?: string): ManagedCluster =>
  ({
    location: 'westeurope',
    nodeResourceGroup: NODE_RG,
    agentPoolProfiles: [{ name: 'nodepool1', ...(subnet ? { vnetSubnetID: subnet } : {}) }],
    networkProfile: { outboundType: 'loadBalancer', loadBalancerProfile: profile },
  }) as ManagedCluster;

/** The `kubernetes` LB with one frontend per given target (a public IP or a prefix). */
const lb = (frontends: ('ip' | 'prefix')[]): LoadBalancer => ({
  id: lbId,
  frontendIPConfigurations: frontends.map((kind, i) => ({
    id: `${lbId}/frontendIPConfigurations/fe-${i}`,
    ...(kind === 'ip'
      ? { publicIPAddress: { id: `${net}/publicIPAddresses/ip-${i}` } }
      : { publicIPPrefix: { id: prefixId } }),
  })),
  outboundRules: [
    {
      name: 'aksOutboundRule',
      allocatedOutboundPorts: 1024,
      frontendIPConfigurations: frontends.map((_, i) => ({ id: `${lbId}/frontendIPConfigurations/fe-${i}` })),
    },
  ],
});

describe('outbound IP count (issue 11 item 6, failed before the fix)', () => {
  it('counts every address of a /28 public IP prefix on the outbound rule, not one per prefix', () => {
    const c = cluster({
      managedOutboundIPs: { count: 1 },
      outboundIPPrefixes: { publicIPPrefixes: [{ id: prefixId }] },
      effectiveOutboundIPs: [{ id: prefixId }],
    });
    const sizes = new Map([[prefixId.toLowerCase(), 16]]);
    expect(outboundIpCount(c, lb(['prefix']), sizes)).toBe(16);
    expect(lbFacts(c, lb(['prefix']), 3, sizes).outboundIPs).toBe(16);
    expect(outboundPrefixIds(c, lb(['prefix']))).toEqual([prefixId]);
  });

  it('counts own public IPs and prefixes from the profile when the load balancer was not read', () => {
    const c = cluster({
      managedOutboundIPs: { count: 1 },
      outboundIPs: { publicIPs: [{ id: 'ip-a' }, { id: 'ip-b' }] },
      outboundIPPrefixes: { publicIPPrefixes: [{ id: prefixId }] },
    });
    expect(outboundIpCount(c, undefined, new Map([[prefixId.toLowerCase(), 4]]))).toBe(6);
  });

  it('mixes public IPs and prefixes on the rule; a prefix of unknown size counts as one', () => {
    expect(outboundIpCount(cluster({}), lb(['ip', 'prefix', 'ip']), new Map())).toBe(3);
    expect(outboundIpCount(cluster({}), lb(['ip', 'prefix']), new Map([[prefixId.toLowerCase(), 8]]))).toBe(
      9,
    );
  });

  it('falls back to the managed IP count', () => {
    expect(outboundIpCount(cluster({ managedOutboundIPs: { count: 3 } }), undefined, new Map())).toBe(3);
  });
});

describe('own VNet or AKS-managed VNet', () => {
  it.each([
    ['no vnetSubnetID (AKS-managed VNet)', undefined, { customVnet: false }],
    [
      'a subnet in the node resource group (the managed VNet)',
      `${net}/virtualNetworks/aks-vnet-1/subnets/aks-subnet`,
      { customVnet: false },
    ],
    [
      'a subnet in another resource group (own VNet)',
      '/subscriptions/s/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/hub/subnets/aks-nodes',
      { customVnet: true, vnetSubnet: { resourceGroup: 'rg-net', vnet: 'hub', subnet: 'aks-nodes' } },
    ],
  ])('%s', (_name, subnet, expected) => {
    expect(vnetFacts(cluster({}, subnet))).toEqual(expected);
  });
});
