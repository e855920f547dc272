// The Azure pressure source: reads the managed cluster, then the pressure of its outbound path — the
// `kubernetes` load balancer (outboundType loadBalancer) or its NAT gateway (managed / user-assigned).
import type { ManagedCluster } from '@azure/arm-containerservice';
import type { TokenCredential } from '@azure/core-auth';
import type { NodeInfo, PressureReading, TimeWindow } from '../model.js';
import type { PressureSource } from '../ports.js';
import { type AzureClients, azureClients } from './azure-clients.js';
import { readLoadBalancer } from './azure-load-balancer.js';
import { readNatGateway } from './azure-nat-gateway.js';
import { type AzureTarget, type PressureDeps, pressureError, retryOf, withBound } from './types.js';

export function azurePressureSource(
  target: AzureTarget,
  credential: TokenCredential,
  deps: PressureDeps = {},
): PressureSource & { clients: AzureClients } {
  const policy = retryOf(deps);
  const clients = azureClients(target, credential, policy, deps.ca);
  return {
    name: 'azure',
    clients,
    read: (window, callerSignal) =>
      withBound(callerSignal, policy, (signal) => readAzure(clients, deps, window, callerSignal, signal)),
  };
}

async function readAzure(
  clients: AzureClients,
  deps: PressureDeps,
  window: TimeWindow,
  callerSignal: AbortSignal,
  signal: AbortSignal,
): Promise<PressureReading> {
  const target = clients.target;
  const clusterTarget = `azure/${target.resourceGroup}/managedClusters/${target.clusterName}`;
  let cluster: ManagedCluster;
  try {
    cluster = await clients.containers.managedClusters.get(target.resourceGroup, target.clusterName, {
      abortSignal: signal,
    });
  } catch (e) {
    return {
      nodes: [],
      facts: { provider: 'azure' },
      errors: [pressureError(callerSignal, clusterTarget, 'managed cluster lookup failed', e)],
    };
  }
  const outboundType = cluster.networkProfile?.outboundType ?? 'loadBalancer';
  deps.log?.debug(
    { cluster: target.clusterName, outboundType, nodeResourceGroup: cluster.nodeResourceGroup },
    'azure cluster read',
  );
  try {
    if (/natgateway/i.test(outboundType))
      return await readNatGateway(clients, cluster, window, signal, deps.nodes);
    if (outboundType === 'loadBalancer') {
      let known: NodeInfo[] = [];
      if (deps.nodes) known = await deps.nodes().catch(() => []);
      return await readLoadBalancer(clients, cluster, window, signal, known.length);
    }
  } catch (e) {
    return {
      nodes: [],
      facts: { provider: 'azure', azure: { outboundType } },
      errors: [pressureError(callerSignal, clusterTarget, 'pressure read failed', e)],
    };
  }
  return {
    nodes: [],
    facts: { provider: 'azure', azure: { outboundType } },
    errors: [
      {
        stage: 'pressure',
        target: clusterTarget,
        message: `outbound type ${outboundType} has no SNAT metrics to read`,
      },
    ],
  };
}
