// Issue 16 item 2, before the run: connecting to AKS (ARM listClusterUserCredential) or EKS
// (DescribeCluster) is bounded by the run's deadline and its own timeout. Failed before: a hung ARM or
// EKS answer held the host until it was killed, with no report (the deadline started after connecting).
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/cluster/connect.js';
import { ClusterError } from '../../src/errors.js';
import { example } from '../e2e/harness.js';
import { type FaultHarness, faultHarness } from './harness.js';

let h: FaultHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const via = (f: FaultHarness, url: string): string => url.replace(f.sim.url, f.proxy.url);
const azureCredential = {
  getToken: async () => ({ token: 'snatguard-sim', expiresOnTimestamp: Date.now() + 3_600_000 }),
};
const awsCredentials = async () => ({ accessKeyId: 'AKIDSNATGUARDSIM', secretAccessKey: 'snatguard-sim' });

async function aks(f: FaultHarness, more: { signal?: AbortSignal; timeoutMs?: number }) {
  const az = f.sim.world.snapshot.cloud.azure!;
  return connect(
    {
      kind: 'aks',
      subscriptionId: az.subscriptionId,
      resourceGroup: az.resourceGroup,
      clusterName: az.clusterName,
    },
    { azureCredential, armEndpoint: via(f, f.sim.endpoints.arm!), ca: f.proxy.ca, ...more },
  );
}
async function eks(f: FaultHarness, more: { signal?: AbortSignal; timeoutMs?: number }) {
  const aws = f.sim.world.snapshot.cloud.aws!;
  return connect(
    { kind: 'eks', region: aws.region, clusterName: aws.clusterName },
    { awsCredentials, awsEndpoint: via(f, f.sim.endpoints.aws!), ca: f.proxy.ca, ...more },
  );
}

describe('connecting is bounded (issue 16 item 2)', () => {
  it.each([
    ['AKS', 'aks-mongo-leak.yaml', /listClusterUserCredential/, aks],
    ['EKS', 'eks-conntrack.yaml', /\[aws:eks\]$/, eks],
  ] as const)(
    '%s: an answer that never comes ends at the deadline (failed before: it never ended)',
    async (_n, file, match, how) => {
      h = await faultHarness(await example(file));
      h.fault({ match, fault: { kind: 'hang' } });
      const err = await how(h, { signal: AbortSignal.timeout(500) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClusterError);
      expect((err as Error).message).toMatch(/^cannot connect \((aks|eks)\): aborted \(run deadline\)/);
    },
  );

  it.each([
    ['AKS', 'aks-mongo-leak.yaml', /listClusterUserCredential/, aks],
    ['EKS', 'eks-conntrack.yaml', /\[aws:eks\]$/, eks],
  ] as const)('%s: and at its own timeout without a deadline', async (_n, file, match, how) => {
    h = await faultHarness(await example(file));
    h.fault({ match, fault: { kind: 'hang' } });
    const err = await how(h, { timeoutMs: 500 }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^cannot connect \((aks|eks)\): timed out after 500 ms/);
  });

  it.each([
    ['AKS', 'aks-mongo-leak.yaml', aks],
    ['EKS', 'eks-conntrack.yaml', eks],
  ] as const)('%s: without a fault it connects (the bound changes nothing else)', async (_n, file, how) => {
    h = await faultHarness(await example(file));
    const kc = await how(h, { signal: AbortSignal.timeout(20_000) });
    expect(kc.getCurrentCluster()?.server).toBeTruthy();
  });
});
