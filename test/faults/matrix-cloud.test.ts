// Fault matrix, cloud: 404 / 409 / 429 (Retry-After: 3600) / 500 / no answer from ARM, Azure Monitor,
// CloudWatch, EC2 and EKS (through the example incidents). A cloud failure is a pressure error (the run
// fails only when no source answered), never a hang past the deadline.
import { afterEach, describe, expect, it } from 'vitest';
import { example } from '../e2e/harness.js';
import { type FaultHarness, faultHarness } from './harness.js';
import { assertInvariants } from './matrix.js';
import type { Fault } from './proxy.js';

const faults: [string, Fault][] = [
  ['404', { kind: 'status', status: 404 }],
  ['409', { kind: 'status', status: 409 }],
  ['429 Retry-After 3600', { kind: 'status', status: 429, retryAfter: '3600' }],
  ['500', { kind: 'status', status: 500 }],
  ['timeout', { kind: 'hang' }],
];

const services = [
  {
    service: 'ARM',
    snapshot: 'aks-mongo-leak.yaml',
    match: /^GET \/subscriptions\/.*\/providers\/Microsoft\.(Network|ContainerService)\//,
  },
  { service: 'Azure Monitor', snapshot: 'aks-mongo-leak.yaml', match: /metrics/ },
  { service: 'CloudWatch', snapshot: 'eks-conntrack.yaml', match: /\[aws:monitoring\]$/ },
  { service: 'EC2', snapshot: 'eks-conntrack.yaml', match: /\[aws:ec2\]$/ },
  { service: 'EKS', snapshot: 'eks-conntrack.yaml', match: /\[aws:eks\]$/ },
];
const cloudCases = services.flatMap((s) => faults.map(([name, fault]) => ({ ...s, name, fault })));

let h: FaultHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

// A hung cloud read ends at the run's deadline; everything else answers at once.
const flags = { mode: 'restart', deadlineSeconds: 2, cluster: { requestTimeoutSeconds: 1.5 } };

describe('fault matrix: cloud', () => {
  it.each(cloudCases)('$service → $name', async ({ snapshot, match, fault }) => {
    h = await faultHarness(await example(snapshot));
    h.fault({ match, fault });
    const report = await h.run(flags);
    expect(['complete', 'partial', 'failed']).toContain(report.status);
    const cloudErrors = report.errors.filter((e) => e.stage === 'pressure' || e.stage === 'nodes');
    expect(
      cloudErrors.length + (report.statusReason === 'deadline' ? 1 : 0),
      JSON.stringify(report.errors),
    ).toBeGreaterThan(0);
    if (report.status === 'failed') expect(report.statusReason).toBeTruthy();
    assertInvariants(h, [report]);
  });
});
