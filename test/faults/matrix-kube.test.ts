// Fault matrix, Kubernetes API: 404 / 409 / 429 / 500 / no answer from every call a run makes, each in a
// fresh simulator behind the fault proxy, restart mode. After each: the invariants of ./matrix.ts, the
// documented status, and an error naming the stage (where the fault is an error at all).
import { afterEach, describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/model.js';
import { aDeployment, aSnapshot } from '../e2e/harness.js';
import { type FaultHarness, faultHarness, hog } from './harness.js';
import { assertInvariants } from './matrix.js';
import type { Fault } from './proxy.js';

const snapshot = () =>
  aSnapshot([
    hog('orders', 'node-a', '20.103.144.194:27017', 320),
    aDeployment('billing', {
      replicas: 2,
      pods: 2,
      node: 'node-b',
      sockets: [{ remote: '20.103.144.195:443', state: 'ESTABLISHED', count: 10 }],
    }),
  ]);

type Expect = { stage: string | null; status: RunReport['status'] | RunReport['status'][] };
const calls: { call: string; match: RegExp; on: Partial<Record<string, Expect>>; otherwise: Expect }[] = [
  {
    call: 'node list',
    match: /^GET \/api\/v1\/nodes/,
    on: {},
    otherwise: { stage: 'nodes', status: 'failed' },
  },
  {
    call: 'Lease read',
    match: /^GET \/apis\/coordination\.k8s\.io\/v1\/namespaces\/snatguard\/leases\/snatguard/,
    // 404: no Lease yet, it is created
    on: { '404': { stage: null, status: 'complete' } },
    otherwise: { stage: 'lock', status: 'failed' },
  },
  {
    call: 'Lease write',
    match: /^(POST|PUT) \/apis\/coordination\.k8s\.io\/v1\/namespaces\/snatguard\/leases/,
    // 409 on the create: another run created it first; this one stands down
    on: { '409': { stage: null, status: 'skipped' } },
    otherwise: { stage: 'lock', status: 'failed' },
  },
  {
    call: 'pod list',
    match: /^GET \/api\/v1\/pods\?/,
    on: {},
    otherwise: { stage: 'inspect', status: 'partial' },
  },
  {
    // The owners' ReplicaSet list (one, by pod-template-hash) and the GET that follows when it fails.
    call: 'owner read',
    match: /^GET \/apis\/apps\/v1\/(namespaces\/shop\/replicasets\/orders|replicasets\?)/,
    // a deleted ReplicaSet: the pod's owner is the ReplicaSet itself (not restartable), no error
    on: { '404': { stage: null, status: 'complete' } },
    otherwise: { stage: 'owners', status: 'partial' },
  },
  {
    // The list alone fails: each owner is read with its own GET, as before the list; nothing is lost.
    call: 'owner list',
    match: /^GET \/apis\/apps\/v1\/replicasets\?/,
    on: {},
    otherwise: { stage: null, status: 'complete' },
  },
  {
    call: 'workload read',
    match: /^GET \/apis\/apps\/v1\/namespaces\/shop\/deployments\/orders/,
    on: {},
    otherwise: { stage: 'plan', status: ['complete', 'partial'] },
  },
  {
    call: 'restart PATCH',
    match: /^PATCH \/apis\/apps\/v1\/namespaces\/shop\/deployments\/orders/,
    on: {},
    otherwise: { stage: 'act', status: ['complete', 'partial'] },
  },
  {
    call: 'state load',
    match: /^GET \/api\/v1\/namespaces\/snatguard\/configmaps\/snatguard-state/,
    on: { '404': { stage: null, status: 'complete' } },
    otherwise: { stage: 'state', status: ['complete', 'partial'] },
  },
  {
    call: 'state save',
    match: /^(POST|PUT) \/api\/v1\/namespaces\/snatguard\/configmaps/,
    on: {},
    otherwise: { stage: 'state', status: ['complete', 'partial'] },
  },
];
const faults: [string, Fault][] = [
  ['404', { kind: 'status', status: 404 }],
  ['409', { kind: 'status', status: 409 }],
  ['429', { kind: 'status', status: 429, retryAfter: '3600' }],
  ['500', { kind: 'status', status: 500 }],
  ['timeout', { kind: 'hang' }],
];
const cases = calls.flatMap((c) =>
  faults.map(([name, fault]) => ({ ...c, name, fault, want: c.on[name] ?? c.otherwise })),
);

let h: FaultHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('fault matrix: Kubernetes API', () => {
  it.each(cases)('$call → $name', async ({ match, fault, want }) => {
    h = await faultHarness(snapshot());
    h.fault({ match, fault });
    const report = await h.run({
      mode: 'restart',
      cluster: { requestTimeoutSeconds: 0.8 },
      deadlineSeconds: 20,
    });
    const statuses = Array.isArray(want.status) ? want.status : [want.status];
    expect(
      statuses,
      JSON.stringify({ status: report.status, reason: report.statusReason, errors: report.errors }),
    ).toContain(report.status);
    if (want.stage !== null) expect(report.errors.map((e) => e.stage)).toContain(want.stage);
    assertInvariants(h, [report], { leaseMayStayHeld: true });
  });
});
