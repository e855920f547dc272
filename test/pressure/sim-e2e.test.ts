// The real simulator (startSim) serving the example snapshots, read by the real SDK clients configured
// only with an endpoint override, the simulator's CA and test credentials.
import { afterEach, describe, expect, it } from 'vitest';
import type { NodeInfo, TimeWindow } from '../../src/model.js';
import { createPressureSources } from '../../src/pressure/index.js';
import { instanceIdFromProviderID } from '../../src/pressure/types.js';
import { type RunningSim, startSim } from '../../src/sim/server.js';
import { loadSnapshot } from '../../src/sim/snapshot.js';
import { awsTestCredentials, recordingCredential } from './harness.js';

const window: TimeWindow = { start: new Date(Date.now() - 5 * 60_000), end: new Date() };
let sim: RunningSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

const nodeInfos = (s: RunningSim): NodeInfo[] =>
  s.world.snapshot.nodes.map((n) => ({
    name: n.name,
    internalIP: n.internalIP,
    providerID: n.providerID,
    labels: {},
    ready: true,
    podCIDRs: [],
  }));

describe('pressure sources against the simulator serving the examples', () => {
  it('azure: the AKS incident reads back each node’s SNAT numbers', async () => {
    sim = await startSim(await loadSnapshot('examples/aks-mongo-leak.yaml'));
    const running = sim;
    const az = running.world.snapshot.cloud.azure;
    const [source] = createPressureSources(
      {
        provider: 'azure',
        azure: {
          subscriptionId: az?.subscriptionId,
          resourceGroup: az?.resourceGroup,
          clusterName: az?.clusterName,
        },
      },
      {
        armEndpoint: running.endpoints.arm,
        metricsEndpoint: running.endpoints.metrics,
        ca: running.ca,
        azureCredential: recordingCredential(),
        nodes: async () => nodeInfos(running),
      },
    );
    const reading = await source?.read(window, new AbortController().signal);

    expect(reading?.errors).toEqual([]);
    for (const n of running.world.snapshot.nodes) {
      const m = running.world.nodeMetrics(n.name);
      const signals = reading?.nodes.find((p) => p.node.internalIP === n.internalIP)?.signals ?? [];
      expect(signals.find((s) => s.kind === 'snat-ports')).toMatchObject({
        used: m.usedSnatPorts,
        allocated: m.allocatedSnatPorts,
      });
      expect(signals.find((s) => s.kind === 'snat-failed')?.value).toBe(m.failedSnatConnections);
    }
  });

  it('aws: the EKS incident reads back the NAT gateway and the conntrack node', async () => {
    sim = await startSim(await loadSnapshot('examples/eks-conntrack.yaml'));
    const running = sim;
    const aws = running.world.snapshot.cloud.aws;
    const sources = createPressureSources(
      { provider: 'aws', aws: { region: aws?.region, clusterName: aws?.clusterName } },
      {
        awsEndpoint: running.endpoints.aws,
        ca: running.ca,
        awsCredentials: awsTestCredentials,
        nodes: async () => nodeInfos(running),
      },
    );
    const readings = await Promise.all(sources.map((s) => s.read(window, new AbortController().signal)));

    expect(readings.flatMap((r) => r.errors)).toEqual([]);
    expect(readings[0]?.facts.aws?.natGateways.map(({ ips: _ips, ...g }) => g)).toEqual(aws?.natGateways);
    const allowance = new Map(readings[1]?.nodes.map((p) => [p.node.instanceId, p.signals[0]?.value]));
    for (const n of running.world.snapshot.nodes) {
      expect(allowance.get(instanceIdFromProviderID(n.providerID))).toBe(
        running.world.nodeMetrics(n.name).conntrackAllowanceExceeded,
      );
    }
  });
});
