// Fault matrix, the run itself: exec that hangs / errors / prints garbage / is cut off / is too large, a
// pod gone between list and exec, the Lease held / stolen / unreadable, two and four runs at once, and
// the deadline striking in every stage. After each: the invariants of ./matrix.ts.
import { afterEach, describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/model.js';
import { aDeployment, aSnapshot } from '../e2e/harness.js';
import { type FaultHarness, faultHarness, hog } from './harness.js';
import { assertInvariants } from './matrix.js';
import { type FaultRule, gate, until } from './proxy.js';

const orders = (extra: Record<string, unknown> = {}) =>
  aDeployment('orders', {
    replicas: 3,
    pods: 3,
    node: 'node-a',
    sockets: [{ remote: '20.103.144.194:27017', state: 'ESTABLISHED', count: 320 }],
    ...extra,
  });
const neighbour = (exec?: string) =>
  aDeployment('cache', {
    replicas: 2,
    pods: 1,
    node: 'node-a',
    sockets: [{ remote: '20.103.144.196:6379', state: 'ESTABLISHED', count: 5 }],
    ...(exec ? { exec } : {}),
  });

let h: FaultHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

// 2 s per exec: long enough that a loaded machine does not time out the pods that answer.
const restart = { mode: 'restart', exec: { timeoutSeconds: 2 }, cluster: { requestTimeoutSeconds: 1 } };
const cacheExec = /^UPGRADE \/api\/v1\/namespaces\/shop\/pods\/cache-/;

describe('fault matrix: exec', () => {
  const cases: { name: string; exec?: string; rule?: FaultRule; flags?: Record<string, unknown> }[] = [
    { name: 'hang (pod never answers)', exec: 'hang' },
    { name: 'error (kubelet unreachable)', exec: 'error' },
    { name: 'no answer to the upgrade', rule: { match: cacheExec, fault: { kind: 'hang' } } },
    { name: 'garbage on stdout', rule: { match: cacheExec, fault: { kind: 'garbage' } } },
    { name: 'truncated stream', rule: { match: cacheExec, fault: { kind: 'truncate', bytes: 300 } } },
    { name: 'huge output (over exec.maxBytes)', flags: { exec: { timeoutSeconds: 2, maxBytes: 20_000 } } },
  ];
  it.each(cases)(
    '$name: an error naming the pod, the offender still handled',
    async ({ exec, rule, flags }) => {
      h = await faultHarness(aSnapshot([orders(), neighbour(exec)]));
      if (rule) h.fault(rule);
      const report = await h.run({ ...restart, ...flags });
      const failed = report.errors.filter((e) => e.stage === 'inspect');
      expect(failed.length, JSON.stringify(report.errors)).toBeGreaterThan(0);
      expect(report.status).toBe('partial');
      if (!flags) {
        // the faulty pod is cache's; orders was read in full and restarted
        expect(failed.map((e) => e.target)).toEqual([expect.stringMatching(/^shop\/cache-/)]);
        expect(report.actions.find((a) => a.workload === 'shop/Deployment/orders')?.status).toBe('applied');
      }
      assertInvariants(h, [report]);
    },
  );

  it('a pod deleted between the pod list and its exec', async () => {
    h = await faultHarness(aSnapshot([orders(), neighbour()]));
    const world = h.sim.world;
    h.fault({
      match: /^GET \/api\/v1\/pods\?/,
      times: 1,
      fault: {
        kind: 'after',
        run: () => {
          const cache = world.list('pods', 'shop').find((p) => p.metadata.name.startsWith('cache-'))!;
          world.delete('pods', 'shop', cache.metadata.name);
        },
      },
    });
    const report = await h.run(restart);
    expect(report.errors).toContainEqual(
      expect.objectContaining({ stage: 'inspect', target: expect.stringMatching(/^shop\/cache-/) }),
    );
    expect(report.actions.find((a) => a.workload === 'shop/Deployment/orders')?.status).toBe('applied');
    assertInvariants(h, [report]);
  });
});

describe('fault matrix: the Lease', () => {
  it('held by another live run: skipped, nothing read, exit 0', async () => {
    h = await faultHarness(aSnapshot([orders()]));
    const now = new Date().toISOString();
    h.sim.world.create('leases', 'snatguard', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'snatguard', namespace: 'snatguard' },
      spec: { holderIdentity: 'other-run', leaseDurationSeconds: 600, renewTime: now, acquireTime: now },
    });
    const report = await h.run(restart);
    expect(report).toMatchObject({ status: 'skipped', skipped: 'locked' });
    expect(h.proxy.seen.some((l) => l.startsWith('GET /api/v1/pods'))).toBe(false);
    assertInvariants(h, [report], { leaseMayStayHeld: true });
  });

  it('stolen while the run inspects: no restart, a lock error', async () => {
    h = await faultHarness(aSnapshot([orders()]));
    const world = h.sim.world;
    const execs = gate();
    h.fault({ match: /^UPGRADE /, fault: { kind: 'hold', until: execs.until } });
    const running = h.run({ ...restart, exec: { timeoutSeconds: 20 }, lock: { ttlSeconds: 3 } });
    await until(() => world.list('leases', 'snatguard').some((l) => l.spec?.holderIdentity));
    const lease = world.get('leases', 'snatguard', 'snatguard');
    world.update('leases', 'snatguard', 'snatguard', {
      ...lease,
      spec: { ...lease.spec, holderIdentity: 'thief' },
    });
    execs.open();
    const report = await running;
    expect(report.actions.filter((a) => a.status === 'applied')).toEqual([]);
    expect(report.errors.map((e) => e.stage)).toContain('lock');
    assertInvariants(h, [report], { leaseMayStayHeld: true });
  });

  it('unreadable (403): failed, exit 3, nothing read', async () => {
    h = await faultHarness(aSnapshot([orders()]));
    h.fault({ match: /leases/, fault: { kind: 'status', status: 403 } });
    const report = await h.run(restart);
    expect(report.status).toBe('failed');
    expect(h.proxy.seen.some((l) => l.startsWith('GET /api/v1/pods'))).toBe(false);
    assertInvariants(h, [report]);
  });
});

describe('fault matrix: runs started at the same moment', () => {
  it.each([2, 4])('%i runs: one restart on the node, once', async (n) => {
    h = await faultHarness(aSnapshot([orders(), hog('billing', 'node-a', '20.103.144.195:443', 300)]));
    const reports = await Promise.all(Array.from({ length: n }, () => h!.run(restart)));
    expect(reports.flatMap((r) => r.actions.filter((a) => a.status === 'applied'))).toHaveLength(1);
    assertInvariants(h, reports);
  });
});

describe('fault matrix: the deadline in every stage', () => {
  // Each stage's call is held past the run's 1 s deadline (its own timeout is longer): the deadline ends it.
  const stages: { stage: string; match: RegExp; status: RunReport['status'][] }[] = [
    { stage: 'lock', match: /^GET \/apis\/coordination/, status: ['failed'] },
    {
      stage: 'state load',
      match: /^GET \/api\/v1\/namespaces\/snatguard\/configmaps/,
      status: ['partial', 'failed'],
    },
    { stage: 'nodes', match: /^GET \/api\/v1\/nodes/, status: ['partial', 'failed'] },
    { stage: 'pod list', match: /^GET \/api\/v1\/pods\?/, status: ['partial'] },
    { stage: 'exec', match: /^UPGRADE /, status: ['partial'] },
    // The owners' ReplicaSet list (by pod-template-hash) and any GET after it.
    {
      stage: 'owners',
      match: /^GET \/apis\/apps\/v1\/(namespaces\/shop\/)?replicasets/,
      status: ['partial'],
    },
    { stage: 'rails', match: /^GET \/apis\/apps\/v1\/namespaces\/shop\/deployments/, status: ['partial'] },
    { stage: 'restart', match: /^PATCH /, status: ['partial'] },
  ];
  it.each(stages)('$stage', async ({ match, status }) => {
    h = await faultHarness(aSnapshot([orders()]));
    h.fault({ match, fault: { kind: 'delay', ms: 2500 } });
    const report = await h.run({
      ...restart,
      exec: { timeoutSeconds: 10 },
      cluster: { requestTimeoutSeconds: 10 },
      deadlineSeconds: 1,
    });
    expect(
      status,
      JSON.stringify({ status: report.status, reason: report.statusReason, errors: report.errors }),
    ).toContain(report.status);
    assertInvariants(h, [report], { leaseMayStayHeld: true });
  });
});
