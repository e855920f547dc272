// runScan with fake ports: partial failure is data, rails fail closed, side channels fail open.
import { describe, expect, it, vi } from 'vitest';
import { defaultConfig } from '../src/config/index.js';
import type { NodeInfo, PodInfo, RunState, WorkloadStatus } from '../src/model.js';
import { emptyState } from '../src/model.js';
import type {
  ClusterReader,
  Lock,
  NodeProbe,
  PodExec,
  PressureSource,
  Remediator,
  StateStore,
} from '../src/ports.js';
import { leaseTtlMs, type RunDeps, runScan, WRAP_UP_MS } from '../src/run.js';
import { renderProcNetTcp } from '../src/sockets/index.js';

const node: NodeInfo = {
  name: 'n1',
  internalIP: '10.224.0.4',
  labels: {},
  ready: true,
  podCIDRs: ['10.244.0.0/24'],
};
const pod = (name: string): PodInfo => ({
  namespace: 'shop',
  name,
  node: 'n1',
  ip: '10.244.0.10',
  hostNetwork: false,
  phase: 'Running',
  labels: {},
  annotations: {},
  ownerReferences: [],
  containers: ['app'],
});
const leaking = renderProcNetTcp(
  Array.from({ length: 900 }, (_, i) => ({
    localAddress: '10.244.0.10',
    localPort: 40000 + i,
    remoteAddress: '20.103.144.194',
    remotePort: 27017,
    state: 'ESTABLISHED' as const,
    inode: 1000 + i,
  })),
  'tcp',
);
const healthy: WorkloadStatus = {
  ref: { namespace: 'shop', kind: 'Deployment', name: 'orders-api' },
  labels: {},
  annotations: {},
  replicas: 3,
  updatedReplicas: 3,
  availableReplicas: 3,
  unavailableReplicas: 0,
  paused: false,
  generation: 1,
  observedGeneration: 1,
};

interface Fakes {
  saved: RunState[];
  restarted: string[];
  deps: RunDeps;
}

function fakes(overrides: Partial<RunDeps> = {}): Fakes {
  const saved: RunState[] = [];
  const restarted: string[] = [];
  const pressure: PressureSource = {
    name: 'fake',
    read: async () => ({
      nodes: [
        {
          node: { internalIP: '10.224.0.4' },
          signals: [{ kind: 'snat-ports', used: 1024, allocated: 1024, ratio: 1 }],
        },
      ],
      facts: {},
      errors: [],
    }),
  };
  const cluster: ClusterReader = {
    nodes: async () => [node],
    podsOn: async () => [pod('orders-api-1'), pod('broken-1')],
    ownerOf: async (p) =>
      p.name.startsWith('orders') ? { namespace: 'shop', kind: 'Deployment', name: 'orders-api' } : null,
    workload: async () => healthy,
    daemonSetEnv: async () => null,
  };
  const exec: PodExec = {
    read: async (p) => {
      if (p.name === 'broken-1') throw new Error('connection reset');
      return leaking;
    },
  };
  const probe: NodeProbe = {
    conntrack: async () => ({
      count: 100,
      max: 1000,
      beLiberal: false,
      insertFailed: 0,
      drop: 0,
      earlyDrop: 0,
    }),
  };
  const remediator: Remediator = {
    restart: async (w) => {
      restarted.push(`${w.namespace}/${w.kind}/${w.name}`);
      return { confirmed: true };
    },
  };
  const lock: Lock = {
    acquire: async () => true,
    renew: async () => true,
    settled: () => ({}),
    release: async () => {},
  };
  const state: StateStore = {
    load: async () => emptyState(),
    save: async (s) => {
      saved.push(s);
    },
  };
  const deps: RunDeps = {
    log: { debug() {}, info() {}, warn() {}, error() {} },
    now: () => new Date('2026-11-21T08:00:00Z'),
    runId: 'run-1',
    cluster,
    exec,
    probe,
    remediator,
    lock,
    state,
    pressure: [pressure],
    notify: async (_r, notified) => ({ errors: [], notified }),
    ...overrides,
  };
  return { saved, restarted, deps };
}

const config = (mode: 'dry-run' | 'restart' = 'restart') => ({ ...defaultConfig(), mode });
const signal = () => new AbortController().signal;

describe('runScan', () => {
  it('restarts the offender although another pod on the node could not be read', async () => {
    const f = fakes();
    const report = await runScan(config(), f.deps, signal());
    expect(f.restarted).toEqual(['shop/Deployment/orders-api']);
    expect(report.errors).toEqual([expect.objectContaining({ stage: 'inspect', target: 'shop/broken-1' })]);
    expect(f.saved).toHaveLength(1);
  });

  it('goes on without the cloud when a pressure source fails (and then has no hot node)', async () => {
    const failing: PressureSource = {
      name: 'azure',
      read: async () => {
        throw new Error('ARM unreachable');
      },
    };
    const f = fakes({ pressure: [failing] });
    const report = await runScan({ ...config(), provider: 'azure' }, f.deps, signal());
    expect(report.errors).toEqual([{ stage: 'pressure', target: 'azure', message: 'ARM unreachable' }]);
    expect(report.nodes.map((n) => [n.name, n.hot])).toEqual([['n1', false]]);
    expect(f.restarted).toEqual([]);
  });

  it('fails closed when the workload cannot be read: RAIL_CHECK_FAILED, no restart', async () => {
    const f = fakes();
    f.deps.cluster.workload = async () => {
      throw new Error('deployments.apps "orders-api" is forbidden');
    };
    const report = await runScan(config(), f.deps, signal());
    expect(report.actions).toEqual([
      expect.objectContaining({ status: 'skipped', skipReason: 'RAIL_CHECK_FAILED' }),
    ]);
    expect(f.restarted).toEqual([]);
  });

  it('a failed restart is that action outcome, the run and the report go on', async () => {
    const f = fakes({
      remediator: {
        restart: async () => {
          throw new Error('409 Conflict');
        },
      },
    });
    const report = await runScan(config(), f.deps, signal());
    expect(report.actions[0]).toMatchObject({ status: 'failed', error: '409 Conflict' });
    expect(report.errors).toContainEqual({
      stage: 'act',
      target: 'shop/Deployment/orders-api',
      message: '409 Conflict',
    });
  });

  it('never calls the Remediator in dry-run', async () => {
    const f = fakes();
    const report = await runScan(config('dry-run'), f.deps, signal());
    expect(report.actions[0]).toMatchObject({ status: 'planned', skipReason: 'DRY_RUN' });
    expect(f.restarted).toEqual([]);
  });

  it('a notifier that throws is an error entry; the state is still saved', async () => {
    const f = fakes({
      notify: async () => {
        throw new Error('boom');
      },
    });
    const report = await runScan(config(), f.deps, signal());
    expect(report.errors).toContainEqual({ stage: 'notify', target: 'all', message: 'boom' });
    expect(f.saved).toHaveLength(1);
  });

  it('does not overwrite a state it could not read', async () => {
    const f = fakes();
    f.deps.state.load = async () => {
      throw new Error('configmaps "snatguard-state" is forbidden');
    };
    const report = await runScan(config(), f.deps, signal());
    expect(report.errors).toContainEqual(expect.objectContaining({ stage: 'state' }));
    expect(f.saved).toEqual([]);
  });

  it('skips everything when another run holds the lock', async () => {
    const f = fakes({
      lock: {
        acquire: async () => false,
        renew: async () => false,
        settled: () => ({}),
        release: async () => {},
      },
    });
    let listed = false;
    f.deps.cluster.nodes = async () => {
      listed = true;
      return [node];
    };
    const report = await runScan(config(), f.deps, signal());
    expect(report.skipped).toBe('locked');
    expect(listed).toBe(false);
    expect(f.saved).toEqual([]);
  });
});

describe('runScan under faults (issue 16)', () => {
  it('a failed rail read is an error too, not only a skip (failed before: only the skip)', async () => {
    const f = fakes();
    f.deps.cluster.workload = async () => {
      throw new Error('get Deployment shop/orders-api: HTTP 500: etcdserver: leader changed');
    };
    const report = await runScan(config(), f.deps, signal());
    expect(report.actions[0]).toMatchObject({ status: 'skipped', skipReason: 'RAIL_CHECK_FAILED' });
    expect(report.errors).toContainEqual({
      stage: 'plan',
      target: 'shop/Deployment/orders-api',
      message: 'get Deployment shop/orders-api: HTTP 500: etcdserver: leader changed',
    });
  });

  it('an applied restart whose read-back failed is applied, unconfirmed (failed before: failed)', async () => {
    const f = fakes({
      remediator: {
        restart: async () => ({ confirmed: false, detail: 'patch accepted; confirm restart: HTTP 503' }),
      },
    });
    const report = await runScan(config(), f.deps, signal());
    expect(report.actions[0]).toMatchObject({
      status: 'applied',
      unconfirmed: true,
      error: 'patch accepted; confirm restart: HTTP 503',
    });
    expect(report.errors.filter((e) => e.stage === 'act')).toEqual([]);
  });

  it('the wrap-up is bounded: a notifier and a state save that never settle do not hold the run (failed before: it hung)', async () => {
    const never = new Promise<never>(() => {});
    const f = fakes({ notify: () => never });
    f.deps.state.save = () => never;
    f.deps.lock.release = () => never;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    try {
      const running = runScan(config(), f.deps, signal());
      await vi.advanceTimersByTimeAsync(60_000);
      const report = await running;
      expect(report.errors.map((e) => e.stage)).toEqual(expect.arrayContaining(['notify', 'state', 'lock']));
      expect(report.actions[0]?.status).toBe('applied');
    } finally {
      vi.useRealTimers();
    }
  });

  it('the Lease TTL follows the deadline, never above lock.ttlSeconds (failed before: always 600 s)', async () => {
    expect(leaseTtlMs({ lock: { ttlSeconds: 600 }, deadlineSeconds: 60 })).toBe(60_000 + WRAP_UP_MS);
    expect(leaseTtlMs({ lock: { ttlSeconds: 600 }, deadlineSeconds: 3600 })).toBe(600_000);
    expect(leaseTtlMs({ lock: { ttlSeconds: 600 }, deadlineSeconds: undefined })).toBe(600_000);
    const f = fakes();
    const ttls: number[] = [];
    f.deps.lock.acquire = async (_holder, ttl) => {
      ttls.push(ttl);
      return true;
    };
    await runScan({ ...config(), deadlineSeconds: 30 }, f.deps, signal());
    expect(ttls).toEqual([30_000 + WRAP_UP_MS]);
  });
});
