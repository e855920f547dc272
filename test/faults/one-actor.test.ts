// Issue 16 item 3: one actor at a time, never a double restart. Real concurrency: whole runs (compose,
// real clients, the fault proxy) at the same moment against one simulator.
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { leaseLock, SETTLE_ANNOTATION } from '../../src/cluster/lease.js';
import { RestartBlockedError, rolloutRemediator } from '../../src/cluster/restart.js';
import type { RunReport } from '../../src/model.js';
import { aDeployment, aSnapshot } from '../e2e/harness.js';
import { type FaultHarness, faultHarness, twoHogsOnNodeA } from './harness.js';
import { gate, until } from './proxy.js';

const twoOffendersOnOneNode = () => aSnapshot(twoHogsOnNodeA());

const restartFlags = { mode: 'restart', rails: { maxRestartsPerRun: 1 } };
const applied = (reports: RunReport[]) =>
  reports.flatMap((r) => r.actions.filter((a) => a.status === 'applied').map((a) => a.workload));
/** Pod-template changes the simulator saw (each one rolls the workload's pods). */
const templateChanges = (h: FaultHarness, name: string) =>
  h.sim.world.list('replicasets', 'shop').filter((rs) => rs.metadata.name.startsWith(`${name}-`)).length - 1;

let h: FaultHarness | undefined;
/** The Lease's holder in the simulator, once a run has written it. */
const holder = (f: FaultHarness): string | undefined =>
  f.sim.world.list('leases', 'snatguard').find((l) => l.metadata.name === 'snatguard')?.spec?.holderIdentity;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('settle rail (SETTLING)', () => {
  it('a run right after another restarts nothing else on the same node (failed before: billing restarted too)', async () => {
    h = await faultHarness(twoOffendersOnOneNode());
    const first = await h.run(restartFlags);
    const second = await h.run(restartFlags);
    expect(applied([first])).toEqual(['shop/Deployment/orders']);
    expect(applied([second])).toEqual([]);
    const billing = second.actions.find((a) => a.workload === 'shop/Deployment/billing');
    expect(billing?.skipReason).toBe('SETTLING');
    expect(billing?.reason).toMatch(
      /node node-a: shop\/Deployment\/orders restarted 0 min ago \(rails.settleMinutes 10\)/,
    );
    // The record lives in the Lease, where every run reads it before it may act.
    const lease = h.sim.world.get('leases', 'snatguard', 'snatguard');
    expect(JSON.parse(lease.metadata.annotations?.[SETTLE_ANNOTATION] ?? '{}')).toMatchObject({
      'node-a': { workload: 'shop/Deployment/orders', runId: first.runId },
    });
  });

  it.each([2, 4])('%i runs started at the same moment restart one workload on the node, once', async (n) => {
    h = await faultHarness(twoOffendersOnOneNode());
    const reports = await Promise.all(Array.from({ length: n }, () => h!.run(restartFlags)));
    expect(applied(reports)).toHaveLength(1);
    expect(templateChanges(h, 'orders') + templateChanges(h, 'billing')).toBe(1);
    // Every other run either saw the lock held or the node settling.
    for (const r of reports.filter((r) => applied([r]).length === 0)) {
      const skipped = r.skipped === 'locked' || r.actions.every((a) => a.status === 'skipped');
      expect(skipped, JSON.stringify(r.actions)).toBe(true);
    }
  });

  it('with settleMinutes 0 the next run may restart the other workload', async () => {
    h = await faultHarness(twoOffendersOnOneNode());
    const flags = { ...restartFlags, rails: { maxRestartsPerRun: 1, settleMinutes: 0 } };
    await h.run(flags);
    const second = await h.run(flags);
    expect(applied([second])).toEqual(['shop/Deployment/billing']);
  });
});

describe('the Lease is renewed while the run lives', () => {
  it('a run slower than its TTL keeps the lock: a second run cannot take it over (failed before: it took the Lease and planned the same Deployment)', async () => {
    h = await faultHarness(aSnapshot([aDeployment('orders', { replicas: 3, pods: 3, node: 'node-a' })]));
    // Run A's execs are held until run B is over: A outlives its 1 s TTL while inspecting.
    const execs = gate();
    h.fault({ match: /^UPGRADE .*\/exec/, fault: { kind: 'hold', until: execs.until } });
    const flags = { ...restartFlags, lock: { ttlSeconds: 1 } };
    const a = h.run(flags);
    await until(() => holder(h!) !== undefined);
    // Past the TTL of A's first write: only A's renewals keep the Lease A's.
    await new Promise((r) => setTimeout(r, 1500));
    const b = await h.run(flags);
    execs.open();
    const reports = [await a, b];
    expect(b.skipped).toBe('locked');
    expect(applied(reports)).toEqual(['shop/Deployment/orders']);
    expect(templateChanges(h, 'orders')).toBe(1);
  });

  it('a run whose Lease was taken over restarts nothing', async () => {
    h = await faultHarness(aSnapshot([aDeployment('orders', { replicas: 3, pods: 3, node: 'node-a' })]));
    const execs = gate();
    h.fault({ match: /^UPGRADE .*\/exec/, fault: { kind: 'hold', until: execs.until } });
    const running = h.run({ ...restartFlags, lock: { ttlSeconds: 3 } });
    // Another actor takes the Lease while the run inspects (what a takeover after an expiry looks like).
    await until(() => holder(h!) !== undefined);
    const lease = h.sim.world.get('leases', 'snatguard', 'snatguard');
    h.sim.world.update('leases', 'snatguard', 'snatguard', {
      ...lease,
      spec: { ...lease.spec, holderIdentity: 'someone-else' },
    });
    execs.open();
    const report = await running;
    expect(applied([report])).toEqual([]);
    expect(report.actions[0]?.skipReason).toBe('RAIL_CHECK_FAILED');
    expect(report.actions[0]?.reason).toMatch(/^not restarted: the Lease was taken over/);
    expect(report.errors).toContainEqual(expect.objectContaining({ stage: 'lock' }));
    expect(templateChanges(h, 'orders')).toBe(0);
  });
});

describe('the restart patch has a precondition', () => {
  it('two actors restarting one Deployment at once: the second gets 409, re-reads, sees the restart (failed before: both applied)', async () => {
    h = await faultHarness(aSnapshot([aDeployment('orders', { replicas: 3, pods: 3, node: 'node-a' })]));
    // A's PATCH (read done, precondition set) is held in flight; B reads, patches and confirms meanwhile.
    const patchA = gate();
    const PATCH = /^PATCH \/apis\/apps\/v1\/namespaces\/shop\/deployments\/orders/;
    h.fault({ match: PATCH, fault: { kind: 'hold', until: patchA.until }, times: 1 });
    const kc = new KubeConfig();
    kc.loadFromString(h.proxy.kubeconfigYaml());
    const ref = { namespace: 'shop', kind: 'Deployment', name: 'orders' };
    const cooldown = (s: { annotations: Record<string, string> }) =>
      s.annotations['snatguard.io/restarted-at']
        ? { code: 'COOLDOWN' as const, detail: 'restarted since planning' }
        : null;
    const signal = new AbortController().signal;
    const a = rolloutRemediator(kc, () => new Date()).restart(ref, 'test A', signal, cooldown);
    await until(() => h!.proxy.seen.some((l) => PATCH.test(l)));
    const b = await rolloutRemediator(kc, () => new Date()).restart(ref, 'test B', signal, cooldown);
    patchA.open();
    expect(b.confirmed).toBe(true);
    await expect(a).rejects.toBeInstanceOf(RestartBlockedError);
    await expect(a).rejects.toMatchObject({ code: 'COOLDOWN' });
    expect(templateChanges(h, 'orders')).toBe(1);
    expect(
      h.sim.world.get('deployments', 'shop', 'orders').metadata.annotations?.['snatguard.io/reason'],
    ).toBe('test B');
  });
});

describe('Lease release', () => {
  it('a release that fails once is retried (failed before: the Lease stayed held for its TTL)', async () => {
    h = await faultHarness(aSnapshot([aDeployment('orders', { node: 'node-a' })]));
    const kc = new KubeConfig();
    kc.loadFromString(h.proxy.kubeconfigYaml());
    const lock = leaseLock(kc, 'snatguard', () => new Date(), { releaseBackoffMs: 10 });
    expect(await lock.acquire('run-1', 60_000)).toBe(true);
    h.fault({
      match: /^PUT \/apis\/coordination\.k8s\.io/,
      fault: { kind: 'status', status: 500 },
      times: 1,
    });
    await lock.release();
    expect(h.sim.world.get('leases', 'snatguard', 'snatguard').spec?.holderIdentity).toBeUndefined();
    expect(await leaseLock(kc, 'snatguard', () => new Date()).acquire('run-2', 60_000)).toBe(true);
  });
});

describe('an unreadable settle record', () => {
  it('is replaced by one holding every node: the run reports and restarts nothing, the record heals (failed before: every run failed, "lock unreadable", for good)', async () => {
    h = await faultHarness(aSnapshot([aDeployment('orders', { replicas: 3, pods: 3, node: 'node-a' })]));
    h.sim.world.create('leases', 'snatguard', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: 'snatguard',
        namespace: 'snatguard',
        annotations: { [SETTLE_ANNOTATION]: '{"node-a": 5}' },
      },
      spec: {},
    });
    const first = await h.run(restartFlags);
    expect(first.status).not.toBe('failed');
    expect(first.nodes.find((n) => n.name === 'node-a')?.podsInspected).toBeGreaterThan(0);
    expect(first.errors).toContainEqual({
      stage: 'lock',
      target: 'lease/snatguard/snatguard',
      message: expect.stringMatching(
        /^annotation snatguard.io\/settle: entry "node-a" is malformed: replaced/,
      ),
    });
    expect(first.actions[0]).toMatchObject({ status: 'skipped', skipReason: 'SETTLING' });
    expect(first.actions[0]?.reason).toMatch(/unknown: the settle record was unreadable/);
    // The next run reads a clean record (no error), still held for the settle time; with 0 it acts.
    const second = await h.run(restartFlags);
    expect(second.errors.filter((e) => e.stage === 'lock')).toEqual([]);
    expect(second.actions[0]?.skipReason).toBe('SETTLING');
    const third = await h.run({ ...restartFlags, rails: { maxRestartsPerRun: 1, settleMinutes: 0 } });
    expect(applied([third])).toEqual(['shop/Deployment/orders']);
    expect(templateChanges(h, 'orders')).toBe(1);
  });
});
