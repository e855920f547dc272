// runScan with fake ports: partial failure is data, rails fail closed, side channels fail open.
import { describe, expect, it, vi } from 'vitest';
import { defaultConfig } from '../src/config/index.js';
import { ExecError } from '../src/errors.js';
import type { NodeInfo, PodInfo, RunReport, RunState, WorkloadStatus } from '../src/model.js';
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
import { LISTING_BESIDE_PODS_MAX_FLOWS, leaseTtlMs, type RunDeps, runScan, WRAP_UP_MS } from '../src/run.js';
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

  it('a run whose only pressure source failed is status failed and does not inspect (was: green all-clear)', async () => {
    const failing: PressureSource = {
      name: 'azure',
      read: async () => {
        throw new Error('ARM unreachable');
      },
    };
    const f = fakes({ pressure: [failing] });
    let listedPods = false;
    f.deps.cluster.podsOn = async () => {
      listedPods = true;
      return [];
    };
    const report = await runScan({ ...config(), provider: 'azure' }, f.deps, signal());
    expect(report.errors).toEqual([{ stage: 'pressure', target: 'azure', message: 'ARM unreachable' }]);
    expect(report.status).toBe('failed');
    expect(report.statusReason).toBe('no pressure source answered: azure: ARM unreachable');
    expect(listedPods).toBe(false);
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

// Issue 12: a run that could not look says so. Each of these failed on the code before RunReport.status.
describe('runScan status', () => {
  const everyPodReadable = (f: Fakes) => {
    f.deps.cluster.podsOn = async () => [pod('orders-api-1')];
  };

  it('complete: everything it meant to read was read', async () => {
    const f = fakes();
    everyPodReadable(f);
    const report = await runScan(config(), f.deps, signal());
    expect(report.status).toBe('complete');
    expect(report.statusReason).toBeUndefined();
  });

  it('partial: a pod that could not be read is counted', async () => {
    const f = fakes();
    const report = await runScan(config(), f.deps, signal());
    expect(report.status).toBe('partial');
    expect(report.statusReason).toBe('1 pod could not be read');
    expect(f.restarted).toEqual(['shop/Deployment/orders-api']);
  });

  it('partial: one of two pressure sources failed, the other found the hot node', async () => {
    const broken: PressureSource = {
      name: 'aws-ena-conntrack',
      read: async () => {
        throw new Error('AccessDenied');
      },
    };
    const f = fakes();
    everyPodReadable(f);
    f.deps.pressure = [...f.deps.pressure, broken];
    const report = await runScan({ ...config(), provider: 'aws' }, f.deps, signal());
    expect(report.status).toBe('partial');
    expect(report.statusReason).toBe('1 of 2 pressure sources failed');
    expect(report.nodes.filter((n) => n.hot).map((n) => n.name)).toEqual(['n1']);
  });

  it('failed: every pressure source answered only with errors while a provider is set', async () => {
    const empty: PressureSource = {
      name: 'aws-nat-gateway',
      read: async () => ({
        nodes: [],
        facts: {},
        errors: [{ stage: 'pressure', target: 'nat-0abc', message: 'GetMetricData: ThrottlingException' }],
      }),
    };
    const f = fakes({ pressure: [empty] });
    const report = await runScan({ ...config(), provider: 'aws' }, f.deps, signal());
    expect(report.status).toBe('failed');
    expect(report.statusReason).toMatch(/^no pressure source answered: aws-nat-gateway: GetMetricData/);
  });

  it('failed: nodes not listable; the notifier hears of it and the dedup state is kept', async () => {
    const f = fakes();
    const previous: RunState = {
      conntrack: {},
      notified: {
        'snat|n1|shop%2FDeployment%2Forders-api|-|-': {
          firstSeen: '2026-11-21T07:00:00Z',
          lastSent: '2026-11-21T07:00:00Z',
          severity: 'critical',
        },
      },
    };
    f.deps.state.load = async () => previous;
    f.deps.cluster.nodes = async () => {
      throw new Error('nodes is forbidden: User "system:serviceaccount:snatguard:snatguard" cannot list');
    };
    const heard: RunReport[] = [];
    f.deps.notify = async (r, notified) => {
      heard.push(r);
      return { errors: [], notified };
    };
    const report = await runScan(config(), f.deps, signal());
    expect(report.status).toBe('failed');
    expect(report.statusReason).toMatch(/^nodes not listable: nodes is forbidden/);
    expect(heard.map((r) => r.status)).toEqual(['failed']);
    expect(f.saved[0]?.notified).toEqual(previous.notified);
  });

  it('failed: the Lease read fails (API server refused); nothing is listed, the lock is not released', async () => {
    let released = false;
    const f = fakes({
      lock: {
        renew: async () => false,
        settled: () => ({}),
        acquire: async () => {
          throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
        },
        release: async () => {
          released = true;
        },
      },
    });
    let listed = false;
    f.deps.cluster.nodes = async () => {
      listed = true;
      return [node];
    };
    const heard: RunReport[] = [];
    f.deps.notify = async (r, notified) => {
      heard.push(r);
      return { errors: [], notified };
    };
    const report = await runScan(config(), f.deps, signal());
    expect(report.status).toBe('failed');
    expect(report.statusReason).toBe('cluster unreachable: connect ECONNREFUSED 127.0.0.1:6443');
    expect(report.skipped).toBe('lock-failed');
    expect(listed).toBe(false);
    expect(released).toBe(false);
    expect(heard).toHaveLength(1);
  });

  it('failed: a Lease read refused by RBAC is "lock unreadable"', async () => {
    const f = fakes({
      lock: {
        renew: async () => false,
        settled: () => ({}),
        acquire: async () => {
          throw new Error('leases.coordination.k8s.io "snatguard" is forbidden');
        },
        release: async () => {},
      },
    });
    const report = await runScan(config(), f.deps, signal());
    expect(report).toMatchObject({
      status: 'failed',
      statusReason: expect.stringMatching(/^lock unreadable: /),
    });
  });

  it('skipped: another live run holds the lock', async () => {
    const f = fakes({
      lock: {
        acquire: async () => false,
        renew: async () => false,
        settled: () => ({}),
        release: async () => {},
      },
    });
    const report = await runScan(config(), f.deps, signal());
    expect(report).toMatchObject({ status: 'skipped', skipped: 'locked' });
  });

  it('deadline with a hanging pod beside a hog: keeps the hot node, offender and advice; restarts nothing there', async () => {
    const deadline = new AbortController();
    let hogRead!: () => void;
    const hogDone = new Promise<void>((r) => {
      hogRead = r;
    });
    const f = fakes();
    f.deps.cluster.podsOn = async () => [pod('orders-api-1'), { ...pod('hang-1'), ip: '10.244.0.11' }];
    f.deps.exec = {
      read: async (p, _files, _limits, s) => {
        if (p.name === 'orders-api-1') {
          hogRead();
          return leaking;
        }
        // The hanging pod: answers only when the deadline fires, which it does once the hog was read.
        return new Promise<string>((_, reject) => {
          s.addEventListener('abort', () => reject(new ExecError('exec aborted', 'aborted')), { once: true });
          void hogDone.then(() => deadline.abort(new Error('deadline')));
        });
      },
    };
    const report = await runScan(config(), f.deps, deadline.signal);
    expect(report.status).toBe('partial');
    expect(report.statusReason).toBe('deadline');
    expect(report.nodes.find((n) => n.name === 'n1')).toMatchObject({ hot: true, podsInspected: 1 });
    expect(report.offenders.map((o) => [o.workload, o.snatSockets])).toEqual([
      ['shop/Deployment/orders-api', 900],
    ]);
    expect(report.recommendations.length).toBeGreaterThan(0);
    expect(report.actions).toEqual([
      expect.objectContaining({
        workload: 'shop/Deployment/orders-api',
        status: 'skipped',
        skipReason: 'RAIL_CHECK_FAILED',
      }),
    ]);
    expect(f.restarted).toEqual([]);
    expect(report.errors).toContainEqual(expect.objectContaining({ message: 'deadline reached' }));
  });

  it('deadline: a node read in full before it may still be acted on; the cut node is not', async () => {
    const deadline = new AbortController();
    const n2: NodeInfo = { ...node, name: 'n2', internalIP: '10.224.0.5', podCIDRs: ['10.244.1.0/24'] };
    const f = fakes();
    let firstDone!: () => void;
    const n1Done = new Promise<void>((r) => {
      firstDone = r;
    });
    f.deps.cluster.nodes = async () => [node, n2];
    f.deps.pressure = [
      {
        name: 'fake',
        read: async () => ({
          nodes: ['10.224.0.4', '10.224.0.5'].map((ip) => ({
            node: { internalIP: ip },
            signals: [{ kind: 'snat-ports' as const, used: 1024, allocated: 1024, ratio: 1 }],
          })),
          facts: {},
          errors: [],
        }),
      },
    ];
    f.deps.cluster.podsOn = async (name) =>
      name === 'n1' ? [pod('orders-api-1')] : [{ ...pod('hang-1'), node: 'n2', ip: '10.244.1.9' }];
    f.deps.probe = {
      conntrack: async (name, s) => {
        if (name === 'n1') {
          firstDone();
          return { count: 1, max: 1000, beLiberal: false, insertFailed: 0, drop: 0, earlyDrop: 0 };
        }
        return new Promise((_, reject) => {
          s.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
        });
      },
    };
    f.deps.exec = {
      read: async (p, _files, _limits, s) => {
        if (p.name === 'orders-api-1') return leaking;
        return new Promise<string>((_, reject) => {
          s.addEventListener('abort', () => reject(new ExecError('exec aborted', 'aborted')), { once: true });
          void n1Done.then(() => setImmediate(() => deadline.abort(new Error('deadline'))));
        });
      },
    };
    const report = await runScan(config(), f.deps, deadline.signal);
    expect(report).toMatchObject({ status: 'partial', statusReason: 'deadline' });
    expect(
      report.nodes
        .filter((n) => n.hot)
        .map((n) => n.name)
        .sort(),
    ).toEqual(['n1', 'n2']);
    expect(f.restarted).toEqual(['shop/Deployment/orders-api']);
  });
});

describe('runScan: the PodExec prepares while the pods are listed', () => {
  it('asks the PodExec to prepare its connection before the pods of a node to inspect are listed (was: the first execs all opened theirs at once)', async () => {
    const f = fakes();
    const order: string[] = [];
    f.deps.exec = { ...f.deps.exec, prepare: () => void order.push('prepare') };
    const podsOn = f.deps.cluster.podsOn;
    f.deps.cluster.podsOn = async (node, s) => {
      order.push('podsOn');
      return podsOn(node, s);
    };
    await runScan(config('dry-run'), f.deps, signal());
    expect(order).toEqual(['prepare', 'podsOn']);
  });

  it('lists the nodes beside the state read, once the lock is held (was: after the state had been read)', async () => {
    const f = fakes();
    const order: string[] = [];
    const acquire = f.deps.lock.acquire;
    f.deps.lock.acquire = async (...a) => {
      order.push('lock');
      return acquire(...a);
    };
    let listedDuringStateRead = false;
    let nodeLists = 0;
    const nodes = f.deps.cluster.nodes;
    f.deps.cluster.nodes = async (s) => {
      nodeLists++;
      order.push('nodes');
      return nodes(s);
    };
    f.deps.state.load = async () => {
      order.push('state');
      await new Promise<void>((r) => setImmediate(r));
      listedDuringStateRead = nodeLists > 0;
      return emptyState();
    };
    const report = await runScan(config('dry-run'), f.deps, signal());
    expect(listedDuringStateRead).toBe(true);
    expect(order).toEqual(['lock', 'nodes', 'state']);
    expect(nodeLists).toBe(1);
    expect(report.status).not.toBe('failed');
  });

  it('lists no nodes when the lock is held by another run', async () => {
    const f = fakes();
    let nodeLists = 0;
    f.deps.lock.acquire = async () => false;
    f.deps.cluster.nodes = async () => {
      nodeLists++;
      return [];
    };
    await runScan(config('dry-run'), f.deps, signal());
    expect(nodeLists).toBe(0);
  });

  it('reads the owners in bulk once the pods are listed, beside their execs, once, with every pod to inspect (was: after the last exec)', async () => {
    const f = fakes();
    let reading = 0;
    let readsDone = 0;
    f.deps.exec = {
      read: async () => {
        reading++;
        await new Promise<void>((r) => setImmediate(r));
        await new Promise<void>((r) => setImmediate(r));
        reading--;
        readsDone++;
        return leaking;
      },
    };
    const calls: { pods: string[]; reading: number; readsDone: number }[] = [];
    f.deps.cluster.prefetchOwners = async (pods) => {
      calls.push({ pods: pods.map((p) => p.name), reading, readsDone });
    };
    const report = await runScan(config('dry-run'), f.deps, signal());
    expect(calls).toEqual([{ pods: ['orders-api-1', 'broken-1'], reading: 0, readsDone: 0 }]);
    expect(readsDone).toBe(2);
    expect(report.offenders.map((o) => o.workload)).toContain('shop/Deployment/orders-api');
  });

  it('does not when there is no node to inspect', async () => {
    const f = fakes();
    let prepared = 0;
    f.deps.exec = { ...f.deps.exec, prepare: () => void prepared++ };
    f.deps.cluster.nodes = async () => [];
    await runScan(config('dry-run'), f.deps, signal());
    expect(prepared).toBe(0);
  });
});

describe("runScan: the node's conntrack table (probe.flows)", () => {
  const emptyTable = { groups: [], flows: 0, malformed: 0, truncated: false };
  const tick = () => new Promise<void>((r) => setImmediate(r));

  /** A PodExec whose reads take a few turns of the event loop, counting reads started, ended and in flight. */
  const countingExec = () => {
    const n = { started: 0, ended: 0, inFlight: 0, maxInFlight: 0 };
    const exec: PodExec = {
      read: async () => {
        n.started++;
        n.inFlight++;
        n.maxInFlight = Math.max(n.maxInFlight, n.inFlight);
        await tick();
        await tick();
        n.inFlight--;
        n.ended++;
        return leaking;
      },
    };
    return { n, exec };
  };

  it("is listed once every pod's exec has started, never ahead of a pod (was: listed first, it held the run's exec budget as the oldest exec and every pod timed out behind a long listing)", async () => {
    const f = fakes();
    const { n, exec } = countingExec();
    f.deps.exec = exec;
    let startedWhenListed: number | undefined;
    f.deps.probe = {
      ...f.deps.probe,
      flows: async () => {
        startedWhenListed = n.started;
        return emptyTable;
      },
    };
    const report = await runScan(config('dry-run'), f.deps, signal());
    expect(n.started).toBe(2);
    expect(startedWhenListed).toBe(2);
    expect(report.nodes.find((n) => n.name === 'n1')?.snatFlows).toBeDefined();
  });

  it("overlaps the last pods' reads in a free exec lane (was: listed only after every pod's read had ended: one more exec latency per hot node)", async () => {
    const f = fakes();
    const { n, exec } = countingExec();
    f.deps.exec = exec;
    let readingWhenListed: number | undefined;
    f.deps.probe = {
      ...f.deps.probe,
      flows: async () => {
        readingWhenListed = n.inFlight;
        await tick();
        return emptyTable;
      },
    };
    const report = await runScan(config('dry-run'), f.deps, signal());
    // Concurrency 16, two pods: both are still being read when the third lane lists the table.
    expect(readingWhenListed).toBe(2);
    expect(report.nodes.find((n) => n.name === 'n1')?.snatFlows).toBeDefined();
    expect(report.errors).toEqual([]);
  });

  it("lists a long table (count above the bound) or one of unknown length only once every pod's read has ended (was: beside them, and pods timed out under its text)", async () => {
    for (const counters of ['long', 'unread'] as const) {
      const f = fakes();
      const { n, exec } = countingExec();
      f.deps.exec = exec;
      const conntrack = f.deps.probe.conntrack;
      f.deps.probe = {
        ...f.deps.probe,
        conntrack: async (...a) => {
          if (counters === 'unread') throw new Error('no probe pod');
          return { ...(await conntrack(...a)), count: LISTING_BESIDE_PODS_MAX_FLOWS + 1, max: 1 << 20 };
        },
        flows: async () => {
          readingWhenListed.push(n.inFlight);
          return emptyTable;
        },
      };
      const readingWhenListed: number[] = [];
      await runScan(config('dry-run'), f.deps, signal());
      expect(readingWhenListed).toEqual([0]);
      expect(n.ended).toBe(2);
    }
  });

  it('takes one of the exec.concurrency lanes: with every lane busy it waits for one to free', async () => {
    const f = fakes();
    const { n, exec } = countingExec();
    f.deps.exec = exec;
    f.deps.cluster.podsOn = async () => [pod('orders-api-1'), pod('orders-api-2'), pod('orders-api-3')];
    let listing = 0;
    let maxBusy = 0;
    let startedWhenListed: number | undefined;
    let endedWhenListed: number | undefined;
    f.deps.probe = {
      ...f.deps.probe,
      flows: async () => {
        startedWhenListed = n.started;
        endedWhenListed = n.ended;
        listing++;
        maxBusy = Math.max(maxBusy, n.inFlight + listing);
        await tick();
        listing--;
        return emptyTable;
      },
    };
    const c = config('dry-run');
    await runScan({ ...c, exec: { ...c.exec, concurrency: 2 } }, f.deps, signal());
    expect(n.maxInFlight).toBe(2);
    expect(maxBusy).toBeLessThanOrEqual(2);
    expect(startedWhenListed).toBe(3);
    // Pods 1 and 2 fill both lanes; pod 3 takes the first that frees, the listing the next.
    expect(endedWhenListed).toBe(2);
  });

  it('a listing that fails is an error when pods needed it', async () => {
    const f = fakes();
    f.deps.exec = {
      read: async (p) => {
        await tick();
        if (p.name === 'broken-1') throw new ExecError('cat not available in the container', 'not-found');
        return leaking;
      },
    };
    f.deps.probe = {
      ...f.deps.probe,
      flows: async () => {
        throw new Error('conntrack: Operation not permitted');
      },
    };
    const report = await runScan(config('dry-run'), f.deps, signal());
    expect(report.errors).toContainEqual({
      stage: 'conntrack',
      target: 'node/n1',
      message: 'conntrack table: conntrack: Operation not permitted',
    });
  });

  it('a listing that fails when no pod needed it is no error (and no unhandled rejection)', async () => {
    const f = fakes();
    f.deps.exec = { read: async () => leaking };
    f.deps.probe = {
      ...f.deps.probe,
      flows: async () => {
        throw new Error('conntrack: Operation not permitted');
      },
    };
    const report = await runScan(config('dry-run'), f.deps, signal());
    expect(report.errors).toEqual([]);
    expect(report.status).toBe('complete');
  });

  it('is not listed on a node whose pods cannot be listed', async () => {
    const f = fakes();
    let listed = 0;
    f.deps.cluster.podsOn = async () => {
      throw new Error('pods is forbidden');
    };
    f.deps.probe = {
      ...f.deps.probe,
      flows: async () => {
        listed++;
        return emptyTable;
      },
    };
    const report = await runScan(config('dry-run'), f.deps, signal());
    expect(listed).toBe(0);
    expect(report.errors).toContainEqual({
      stage: 'inspect',
      target: 'node/n1',
      message: 'pods is forbidden',
    });
  });
});
