import { describe, expect, it } from 'vitest';
import type { Offender, SkipReason, WorkloadStatus } from '../../src/model.js';
import {
  ANNOTATIONS,
  type PlanPolicy,
  plan,
  type RailsPolicy,
  restartAnnotations,
  restartPatch,
  type WorkloadCheck,
  workloadsToCheck,
} from '../../src/policy/plan.js';
import { anOffender, aWorkloadRef, aWorkloadStatus } from '../builders.js';

const now = new Date('2026-11-20T10:00:00.123Z');
const rails: RailsPolicy = {
  maxRestartsPerRun: 1,
  cooldownMinutes: 60,
  allowSingleReplica: false,
  namespaces: { include: [], exclude: ['kube-system'] },
  selector: '',
};
const restart: PlanPolicy = { mode: 'restart', rails };
const dryRun: PlanPolicy = { mode: 'dry-run', rails };

const ok = (status: Partial<WorkloadStatus> = {}): WorkloadCheck => ({
  ok: true,
  status: aWorkloadStatus(status),
});
const checks = (...entries: [Offender, WorkloadCheck][]) => new Map(entries.map(([o, c]) => [o.workload, c]));

const minutesAgo = (m: number): string => new Date(now.getTime() - m * 60_000).toISOString();

describe('every reason code', () => {
  const orders = anOffender();
  it.each<[SkipReason, Offender, WorkloadCheck | undefined, Partial<PlanPolicy['rails']>]>([
    ['BELOW_THRESHOLD', anOffender({ matched: [] }), ok(), {}],
    ['UNSUPPORTED_KIND', anOffender({ ref: aWorkloadRef({ kind: 'Job', name: 'batch' }) }), ok(), {}],
    ['UNSUPPORTED_KIND', anOffender({ ref: aWorkloadRef({ kind: 'Pod', name: 'debug' }) }), ok(), {}],
    [
      'UNSUPPORTED_KIND',
      anOffender({ ref: { namespace: '', kind: 'Node', name: 'n1' }, workload: 'node/n1' }),
      undefined,
      {},
    ],
    [
      'EXCLUDED_NAMESPACE',
      anOffender({ ref: aWorkloadRef({ namespace: 'kube-system', name: 'coredns' }) }),
      ok(),
      {},
    ],
    ['NOT_SELECTED', orders, ok(), { namespaces: { include: ['payments'], exclude: [] } }],
    ['NOT_SELECTED', orders, ok({ labels: { app: 'orders-api' } }), { selector: 'db=mongo' }],
    ['OPTED_OUT', orders, ok({ annotations: { [ANNOTATIONS.exclude]: 'true' } }), {}],
    ['COOLDOWN', orders, ok({ annotations: { [ANNOTATIONS.restartedAt]: minutesAgo(59) } }), {}],
    ['PAUSED', orders, ok({ paused: true }), {}],
    ['ROLLOUT_IN_PROGRESS', orders, ok({ generation: 5, observedGeneration: 4 }), {}],
    ['ROLLOUT_IN_PROGRESS', orders, ok({ replicas: 3, updatedReplicas: 2 }), {}],
    ['UNHEALTHY', orders, ok({ unavailableReplicas: 1 }), {}],
    ['SINGLE_REPLICA', orders, ok({ replicas: 1, updatedReplicas: 1, availableReplicas: 1 }), {}],
    [
      'RAIL_CHECK_FAILED',
      orders,
      { ok: false, error: 'deployments.apps "orders-api" is forbidden (403)' },
      {},
    ],
    ['RAIL_CHECK_FAILED', orders, undefined, {}],
    ['RAIL_CHECK_FAILED', orders, ok({ annotations: { [ANNOTATIONS.restartedAt]: 'yesterday' } }), {}],
  ])('%s', (code, offender, check, railOverrides) => {
    const policy = { mode: 'restart' as const, rails: { ...rails, ...railOverrides } };
    const workloads = check ? checks([offender, check]) : new Map();
    const [action] = plan([offender], workloads, policy, now);
    expect(action).toMatchObject({
      kind: 'restart',
      workload: offender.workload,
      status: 'skipped',
      skipReason: code,
    });
    expect(action?.reason).not.toBe('');
  });

  it('DRY_RUN: planned with skipReason DRY_RUN', () => {
    const [action] = plan([anOffender()], checks([anOffender(), ok()]), dryRun, now);
    expect(action).toMatchObject({
      status: 'planned',
      skipReason: 'DRY_RUN',
      workload: 'shop/Deployment/orders-api',
    });
  });

  it('restart mode: planned without a skip reason', () => {
    const [action] = plan([anOffender()], checks([anOffender(), ok()]), restart, now);
    expect(action).toEqual({
      kind: 'restart',
      workload: 'shop/Deployment/orders-api',
      status: 'planned',
      node: 'n1',
      snatSockets: 900,
      reason: '900 SNAT sockets (88% of node n1), 900 to 20.103.144.194:27017; threshold',
    });
  });

  it('MAX_PER_RUN: in both modes, only for candidates that would be restarted', () => {
    const a = anOffender({ ref: aWorkloadRef({ name: 'a' }), snatSockets: 900 });
    const b = anOffender({ ref: aWorkloadRef({ name: 'b' }), snatSockets: 800 });
    const c = anOffender({ ref: aWorkloadRef({ name: 'c' }), snatSockets: 700 });
    // a is unhealthy, so b takes the one slot and c hits the limit.
    const workloads = checks([a, ok({ unavailableReplicas: 2 })], [b, ok()], [c, ok()]);
    for (const policy of [restart, dryRun]) {
      const actions = plan([c, a, b], workloads, policy, now);
      expect(actions.map((x) => [x.workload, x.skipReason ?? x.status])).toEqual([
        ['shop/Deployment/a', 'UNHEALTHY'],
        ['shop/Deployment/b', policy.mode === 'dry-run' ? 'DRY_RUN' : 'planned'],
        ['shop/Deployment/c', 'MAX_PER_RUN'],
      ]);
    }
  });

  it('maxRestartsPerRun 0 restarts nothing', () => {
    const [action] = plan(
      [anOffender()],
      checks([anOffender(), ok()]),
      { mode: 'restart', rails: { ...rails, maxRestartsPerRun: 0 } },
      now,
    );
    expect(action?.skipReason).toBe('MAX_PER_RUN');
  });
});

describe('cooldown boundaries', () => {
  it.each([
    [59, 'COOLDOWN'],
    [60, undefined],
    [-5, 'COOLDOWN'], // a clock ahead of ours still counts as recent
  ])('restarted %i minutes ago → %s', (minutes, code) => {
    const check = ok({ annotations: { [ANNOTATIONS.restartedAt]: minutesAgo(minutes) } });
    const [action] = plan([anOffender()], checks([anOffender(), check]), restart, now);
    expect(action?.skipReason).toBe(code);
  });

  it('allowSingleReplica lets a one-replica workload through', () => {
    const check = ok({ replicas: 1, updatedReplicas: 1 });
    const policy = { mode: 'restart' as const, rails: { ...rails, allowSingleReplica: true } };
    expect(plan([anOffender()], checks([anOffender(), check]), policy, now)[0]?.status).toBe('planned');
  });
});

describe('order and grouping', () => {
  it('most SNAT sockets first, then workload id; independent of input order', () => {
    const offenders = [
      anOffender({ ref: aWorkloadRef({ name: 'b' }), snatSockets: 500 }),
      anOffender({ ref: aWorkloadRef({ name: 'a' }), snatSockets: 500 }),
      anOffender({ ref: aWorkloadRef({ name: 'c' }), snatSockets: 900 }),
    ];
    const workloads = new Map(offenders.map((o) => [o.workload, ok()]));
    const policy = { mode: 'restart' as const, rails: { ...rails, maxRestartsPerRun: 10 } };
    const expected = ['shop/Deployment/c', 'shop/Deployment/a', 'shop/Deployment/b'];
    expect(plan(offenders, workloads, policy, now).map((a) => a.workload)).toEqual(expected);
    expect(plan([...offenders].reverse(), workloads, policy, now).map((a) => a.workload)).toEqual(expected);
  });

  it('one action per workload even when it offends on several hot nodes; the sum decides the order', () => {
    const orders = (node: string, snatSockets: number) => anOffender({ node, snatSockets });
    const payments = anOffender({ ref: aWorkloadRef({ name: 'payments' }), snatSockets: 700 });
    const workloads = checks([orders('n1', 1), ok()], [payments, ok()]);
    const actions = plan([payments, orders('n1', 300), orders('n2', 500)], workloads, restart, now);
    expect(actions.map((a) => [a.workload, a.snatSockets, a.node, a.status])).toEqual([
      ['shop/Deployment/orders-api', 800, 'n2', 'planned'],
      ['shop/Deployment/payments', 700, 'n1', 'skipped'],
    ]);
    expect(actions[0]?.reason).toContain('+300 on 1 other hot node');
  });

  it('an offender entry beats a below-threshold entry of the same workload', () => {
    const actions = plan(
      [anOffender({ node: 'n2', matched: [], snatSockets: 50 }), anOffender({ node: 'n1' })],
      checks([anOffender(), ok()]),
      restart,
      now,
    );
    expect(actions).toHaveLength(1);
    expect(actions[0]).toMatchObject({ status: 'planned', node: 'n1', snatSockets: 900 });
  });
});

describe('workloadsToCheck', () => {
  it('lists only candidates past the static rails, once each, in plan order', () => {
    const offenders = [
      anOffender({ ref: aWorkloadRef({ name: 'small' }), snatSockets: 10, matched: [] }),
      anOffender({ ref: aWorkloadRef({ namespace: 'kube-system', name: 'coredns' }) }),
      anOffender({ ref: aWorkloadRef({ kind: 'Job', name: 'batch' }) }),
      anOffender({ node: 'n1', snatSockets: 100 }),
      anOffender({ node: 'n2', snatSockets: 200 }),
      anOffender({ ref: aWorkloadRef({ kind: 'StatefulSet', name: 'db' }), snatSockets: 1000 }),
    ];
    expect(workloadsToCheck(offenders, restart, now)).toEqual([
      aWorkloadRef({ kind: 'StatefulSet', name: 'db' }),
      aWorkloadRef(),
    ]);
  });
});

describe('restart annotations', () => {
  it('writes RFC 3339 restartedAt on the template and the cooldown record on metadata', () => {
    expect(restartAnnotations('900 SNAT sockets', now)).toEqual({
      template: { 'kubectl.kubernetes.io/restartedAt': '2026-11-20T10:00:00Z' },
      metadata: {
        'snatguard.io/restarted-at': '2026-11-20T10:00:00Z',
        'snatguard.io/reason': '900 SNAT sockets',
      },
    });
    expect(restartPatch('r', now)).toEqual({
      metadata: {
        annotations: { 'snatguard.io/restarted-at': '2026-11-20T10:00:00Z', 'snatguard.io/reason': 'r' },
      },
      spec: {
        template: {
          metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-20T10:00:00Z' } },
        },
      },
    });
  });

  it('what a restart writes puts the workload in cooldown on the next run', () => {
    const written = restartAnnotations('x', now).metadata;
    const later = new Date(now.getTime() + 5 * 60_000);
    const [action] = plan(
      [anOffender()],
      checks([anOffender(), ok({ annotations: written })]),
      restart,
      later,
    );
    expect(action?.skipReason).toBe('COOLDOWN');
  });

  it('bounds the reason annotation', () => {
    expect(restartAnnotations('x'.repeat(5000), now).metadata['snatguard.io/reason']).toHaveLength(1024);
  });
});

describe('RECREATE_STRATEGY (issue 16 item 5; failed before: a Recreate Deployment was planned)', () => {
  const orders = anOffender();
  const recreate = (replicas: number) => ok({ strategy: 'Recreate', replicas, updatedReplicas: replicas });

  it('skips a multi-replica Deployment with strategy Recreate', () => {
    const [action] = plan([orders], checks([orders, recreate(3)]), restart, now);
    expect(action).toMatchObject({ status: 'skipped', skipReason: 'RECREATE_STRATEGY' });
    expect(action?.reason).toMatch(/all 3 pods down at once \(rails.allowRecreate\)/);
  });

  it('lets it through with rails.allowRecreate, and never blocks RollingUpdate', () => {
    const allowed = { mode: 'restart' as const, rails: { ...rails, allowRecreate: true } };
    expect(plan([orders], checks([orders, recreate(3)]), allowed, now)[0]?.status).toBe('planned');
    expect(plan([orders], checks([orders, ok({ strategy: 'RollingUpdate' })]), restart, now)[0]?.status).toBe(
      'planned',
    );
  });

  it('a single replica is SINGLE_REPLICA, not RECREATE_STRATEGY', () => {
    const [action] = plan([orders], checks([orders, recreate(1)]), restart, now);
    expect(action?.skipReason).toBe('SINGLE_REPLICA');
  });
});

describe('SETTLING (issue 16 item 3)', () => {
  const orders = anOffender();
  const settleRails = { mode: 'restart' as const, rails: { ...rails, settleMinutes: 10 } };
  const history = (at: string, workload = 'shop/Deployment/billing', runId = 'run-0') => ({
    settled: { n1: { at, workload, runId } },
    runId: 'run-1',
  });

  it.each([
    ['another workload restarted on the node 9 min ago', history(minutesAgo(9)), 'SETTLING'],
    ['… 10 min ago (settled)', history(minutesAgo(10)), undefined],
    [
      'the same workload (COOLDOWN governs it)',
      history(minutesAgo(1), 'shop/Deployment/orders-api'),
      undefined,
    ],
    [
      'this run restarted it (maxRestartsPerRun governs)',
      history(minutesAgo(0), 'x/Deployment/y', 'run-1'),
      undefined,
    ],
  ])('%s', (_name, h, code) => {
    const [action] = plan([orders], checks([orders, ok()]), settleRails, now, h);
    expect(action?.skipReason).toBe(code);
  });

  it('a record naming another node does not block', () => {
    const h = {
      settled: { n2: { at: minutesAgo(1), workload: 'shop/Deployment/billing', runId: 'run-0' } },
      runId: 'run-1',
    };
    expect(plan([orders], checks([orders, ok()]), settleRails, now, h)[0]?.status).toBe('planned');
  });

  it('an unreadable record fails closed', () => {
    const [action] = plan([orders], checks([orders, ok()]), settleRails, now, history('soon'));
    expect(action?.skipReason).toBe('RAIL_CHECK_FAILED');
  });
});
