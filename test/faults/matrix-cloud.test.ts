// Fault matrix, cloud: 404 / 409 / 429 (Retry-After: 3600) / 500 / no answer from ARM, Azure Monitor,
// CloudWatch, EC2 and EKS (through the example incidents), each status answered as that service answers the
// condition (src/sim/cloud-errors.ts: its status, headers, protocol and code). A cloud failure is a pressure
// error (the run fails only when no source answered), never an all-clear and never a hang past the deadline.
import { afterEach, describe, expect, it } from 'vitest';
import { type CloudService, serviceError } from '../../src/sim/cloud-errors.js';
import { example } from '../e2e/harness.js';
import { type FaultHarness, faultHarness } from './harness.js';
import { assertInvariants } from './matrix.js';
import type { Fault } from './proxy.js';

// (The AWS services send no Retry-After with a throttle: for them the 429 case is their throttling answer alone.)
const faults: [string, Fault][] = [
  ['404', { kind: 'status', status: 404 }],
  ['409', { kind: 'status', status: 409 }],
  ['429 Retry-After 3600', { kind: 'status', status: 429, retryAfter: '3600' }],
  ['500', { kind: 'status', status: 500 }],
  ['timeout', { kind: 'hang' }],
];

const services: { service: string; cloud: CloudService; snapshot: string; match: RegExp }[] = [
  {
    service: 'ARM',
    cloud: 'arm',
    snapshot: 'aks-mongo-leak.yaml',
    match: /^GET \/subscriptions\/.*\/providers\/Microsoft\.(Network|ContainerService)\//,
  },
  { service: 'Azure Monitor', cloud: 'azure-monitor', snapshot: 'aks-mongo-leak.yaml', match: /metrics/ },
  {
    service: 'CloudWatch',
    cloud: 'cloudwatch',
    snapshot: 'eks-conntrack.yaml',
    match: /\[aws:monitoring\]$/,
  },
  { service: 'EC2', cloud: 'ec2', snapshot: 'eks-conntrack.yaml', match: /\[aws:ec2\]$/ },
  { service: 'EKS', cloud: 'eks', snapshot: 'eks-conntrack.yaml', match: /\[aws:eks\]$/ },
];
// Each service answers a status fault as it does for that condition (src/sim/cloud-errors.ts); a condition
// the service has no answer for (EC2 answers no 409) is not a case.
const cloudCases = services.flatMap((s) =>
  faults
    .filter(([, f]) => f.kind !== 'status' || serviceError(s.cloud, f.status) !== undefined)
    .map(([name, fault]) => ({
      ...s,
      name,
      fault,
      code: fault.kind === 'status' ? serviceError(s.cloud, fault.status)?.code : undefined,
    })),
);

let h: FaultHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

// A hung cloud read ends at the run's deadline; everything else answers at once.
const flags = { mode: 'restart', deadlineSeconds: 2, cluster: { requestTimeoutSeconds: 1.5 } };

describe('fault matrix: cloud', () => {
  it.each(cloudCases)('$service → $name', async ({ snapshot, match, fault, code }) => {
    h = await faultHarness(await example(snapshot));
    h.fault({ match, fault });
    const report = await h.run(flags);
    expect(['complete', 'partial', 'failed']).toContain(report.status);
    const cloudErrors = report.errors.filter((e) => e.stage === 'pressure' || e.stage === 'nodes');
    expect(
      cloudErrors.length + (report.statusReason === 'deadline' ? 1 : 0),
      JSON.stringify(report.errors),
    ).toBeGreaterThan(0);
    // A cloud read that failed is never an all-clear.
    expect(report.status, JSON.stringify(report.errors)).not.toBe('complete');
    if (report.status === 'failed') expect(report.statusReason).toBeTruthy();
    if (code !== undefined) {
      // The proxy answered as the service does (its code), and the report says what the service said, or
      // the SDK kept retrying a retryable answer until the deadline.
      expect(h.proxy.answered.length).toBeGreaterThan(0);
      expect(new Set(h.proxy.answered.map((a) => a.code))).toEqual(new Set([code]));
      const said = h.proxy.answered.map((a) => a.message);
      if (report.statusReason !== 'deadline')
        expect(
          cloudErrors.some((e) => said.some((m) => e.message.includes(m))),
          JSON.stringify(report.errors),
        ).toBe(true);
    }
    assertInvariants(h, [report]);
  });
});
