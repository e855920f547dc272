// Generated snapshots for the benchmarks: a cluster of any size on AKS with a few hot nodes, and one hot
// node with many pods. Every pod holds a few sockets; the pods of a hot node's leaky workload hold many.
export interface ScaleOptions {
  nodes: number;
  pods: number;
  hotNodes: number;
  /** Pods per workload (Deployments; one namespace per 50 workloads). */
  podsPerWorkload?: number;
}

const ip = (base: number, i: number) => `${base}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

/** An AKS cluster: `pods` spread over `nodes`; the first `hotNodes` nodes each hold one leaking pod. */
export function scaleSnapshot({ nodes, pods, hotNodes, podsPerWorkload = 10 }: ScaleOptions): object {
  const nodeList = Array.from({ length: nodes }, (_, i) => ({
    name: `aks-nodepool1-27182818-vmss${i.toString(36).padStart(6, '0')}`,
    internalIP: ip(10, (224 << 16) + 4 + i),
    // What Azure Monitor reports for the hot nodes (the simulator derives the rest from their sockets).
    ...(i < hotNodes
      ? { metrics: { usedSnatPorts: 1000, allocatedSnatPorts: 1024, failedSnatConnections: 12 } }
      : {}),
  }));
  const workloads: object[] = [];
  let podIndex = 0;
  for (let w = 0; podIndex < pods; w++) {
    const count = Math.min(podsPerWorkload, pods - podIndex);
    const list = Array.from({ length: count }, () => {
      const i = podIndex++;
      const node = nodeList[i % nodes]!;
      const leaking = i < hotNodes;
      return {
        node: node.name,
        ip: ip(10, (244 << 16) + 2 + i),
        sockets: [
          { local: ':8080', state: 'LISTEN' },
          leaking
            ? { remote: '20.103.144.194:27017', state: 'ESTABLISHED', count: 1000 }
            : { remote: '52.168.1.10:443', state: 'ESTABLISHED', count: 2 },
        ],
      };
    });
    workloads.push({
      kind: 'Deployment',
      namespace: `team-${Math.floor(w / 50)}`,
      name: `svc-${w}`,
      labels: { app: `svc-${w}` },
      pods: list,
    });
  }
  return {
    apiVersion: 'snatguard.io/v1',
    kind: 'Snapshot',
    metadata: {
      name: `scale-${nodes}`,
      description: `generated: ${nodes} nodes, ${pods} pods, ${hotNodes} hot`,
    },
    cloud: {
      provider: 'azure',
      azure: {
        subscriptionId: '00000000-0000-0000-0000-000000000000',
        resourceGroup: 'rg-bench',
        clusterName: 'aks-bench',
        location: 'westeurope',
        outboundType: 'loadBalancer',
        loadBalancer: {
          allocatedOutboundPorts: 1024,
          outboundIPs: Math.ceil((nodes * 1024) / 64000),
          idleTimeoutMinutes: 30,
        },
      },
    },
    cluster: { version: '1.31', podCIDR: '10.244.0.0/14', serviceCIDR: '10.0.0.0/16' },
    nodes: nodeList,
    workloads,
  };
}

/** Sockets to one destination at most (below the 28,232 ephemeral ports of one local address). */
const PER_DESTINATION = 25_000;

/** One node, provider none, `pods` pods; each holds `sockets` ESTABLISHED sockets to public MongoDB hosts. */
export function hotNodeSnapshot(pods: number, sockets: number): object {
  const node = 'hot-node-0';
  return {
    apiVersion: 'snatguard.io/v1',
    kind: 'Snapshot',
    metadata: { name: `hot-${pods}x${sockets}` },
    cloud: { provider: 'none' },
    cluster: { version: '1.31', podCIDR: '10.244.0.0/16', serviceCIDR: '10.0.0.0/16' },
    nodes: [{ name: node, internalIP: '10.224.0.4' }],
    workloads: [
      {
        kind: 'Deployment',
        namespace: 'bench',
        name: 'leaky',
        labels: { app: 'leaky' },
        pods: Array.from({ length: pods }, (_, i) => ({
          name: `leaky-${i}`,
          node,
          ip: `10.244.${i >> 8}.${(i & 255) + 1}`,
          sockets: [
            { local: ':8080', state: 'LISTEN' },
            // One local address reaches one ip:port from at most 28,232 ephemeral ports (32768–60999): a
            // pod with more sockets spreads them over several MongoDB hosts, as a real one must.
            ...Array.from({ length: Math.ceil(sockets / PER_DESTINATION) }, (_, d) => ({
              remote: `20.103.144.${194 + d}:27017`,
              state: 'ESTABLISHED',
              count: Math.min(PER_DESTINATION, sockets - d * PER_DESTINATION),
            })),
          ],
        })),
      },
    ],
  };
}
