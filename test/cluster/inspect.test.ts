import { getMaxListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { inspectNode, SOCKET_FILES } from '../../src/cluster/inspect.js';
import { ExecError } from '../../src/errors.js';
import type { ExecLimits, PodInfo, PodRef } from '../../src/model.js';
import type { Log, PodExec } from '../../src/ports.js';
import { createClassifier } from '../../src/sockets/address.js';
import { renderProcNetTcp } from '../../src/sockets/render.js';

const silent: Log = { debug() {}, info() {}, warn() {}, error() {} };
const limits: ExecLimits = { timeoutMs: 1000, maxBytes: 1 << 20 };

const aPod = (name: string, over: Partial<PodInfo> = {}): PodInfo => ({
  namespace: 'shop',
  name,
  node: 'n1',
  hostNetwork: false,
  phase: 'Running',
  labels: {},
  annotations: {},
  ownerReferences: [],
  containers: ['app'],
  container: 'app',
  ...over,
});

/** Tables with `n` ESTABLISHED sockets to a public MongoDB address. */
const tables = (n: number, local = '10.244.0.17'): string =>
  renderProcNetTcp(
    Array.from({ length: n }, (_, i) => ({
      localAddress: local,
      localPort: 40000 + i,
      remoteAddress: '20.103.144.194',
      remotePort: 27017,
      state: 'ESTABLISHED' as const,
      inode: 1000 + i,
    })),
    'tcp',
  ) + renderProcNetTcp([], 'tcp6');

type Behaviour = (ref: PodRef) => Promise<string>;

function fakeExec(behaviour: Record<string, Behaviour>) {
  const calls: PodRef[] = [];
  let running = 0;
  let peak = 0;
  const exec: PodExec = {
    async read(ref, files) {
      expect(files).toEqual(SOCKET_FILES);
      calls.push(ref);
      running++;
      peak = Math.max(peak, running);
      try {
        await new Promise((r) => setImmediate(r));
        const b = behaviour[ref.name] ?? (async () => tables(1));
        return await b(ref);
      } finally {
        running--;
      }
    },
  };
  return { exec, calls, peak: () => peak };
}

const deps = (exec: PodExec, concurrency = 4) => ({
  exec,
  limits,
  concurrency,
  classifier: createClassifier({ clusterCidrs: ['10.244.0.0/16'] }),
  signal: new AbortController().signal,
  log: silent,
});

describe('inspectNode', () => {
  it('summarizes every pod, with bounded concurrency', async () => {
    const pods = Array.from({ length: 10 }, (_, i) => aPod(`p${i}`));
    const fake = fakeExec({ p3: async () => tables(7) });
    const progress: number[] = [];
    const { inspections, errors } = await inspectNode('n1', pods, {
      ...deps(fake.exec, 3),
      onProgress: (p) => progress.push(p.done),
    });
    expect(errors).toEqual([]);
    expect(inspections.map((i) => i.status)).toEqual(Array(10).fill('ok'));
    expect(inspections.find((i) => i.pod.name === 'p3')?.summary?.snatSockets).toBe(7);
    expect(inspections.find((i) => i.pod.name === 'p0')?.summary?.snatSockets).toBe(1);
    expect(fake.peak()).toBe(3);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('records distroless pods as uninspectable, timeouts and failures as errors, and goes on', async () => {
    const pods = [aPod('distroless'), aPod('hang'), aPod('broken'), aPod('fine')];
    const fake = fakeExec({
      distroless: async () => {
        throw new ExecError('executable file not found', 'not-found');
      },
      hang: async () => {
        throw new ExecError('timed out after 1000 ms', 'timeout');
      },
      broken: async () => {
        throw new Error('socket hang up');
      },
    });
    const { inspections, errors } = await inspectNode('n1', pods, deps(fake.exec));
    const byName = Object.fromEntries(inspections.map((i) => [i.pod.name, i]));
    expect(byName.distroless?.status).toBe('uninspectable');
    expect(byName.distroless?.summary).toBeUndefined();
    expect(byName.hang?.status).toBe('failed');
    expect(byName.broken?.status).toBe('failed');
    expect(byName.fine?.status).toBe('ok');
    expect(errors).toEqual([
      { stage: 'inspect', target: 'shop/hang', message: 'timed out after 1000 ms' },
      { stage: 'inspect', target: 'shop/broken', message: 'socket hang up' },
    ]);
  });

  it('tries the other containers of a pod when the first has no cat', async () => {
    const pod = aPod('multi', { containers: ['app', 'shell'], container: 'app' });
    const fake = fakeExec({
      multi: async (ref) => {
        if (ref.container === 'app') throw new ExecError('executable file not found', 'not-found');
        return tables(2);
      },
    });
    const { inspections } = await inspectNode('n1', [pod], deps(fake.exec));
    expect(fake.calls.map((c) => c.container)).toEqual(['app', 'shell']);
    expect(inspections[0]?.status).toBe('ok');
    expect(inspections[0]?.summary?.snatSockets).toBe(2);
  });

  it('reads the node namespace once through hostNetwork pods, as node level', async () => {
    const pods = [
      aPod('kube-proxy', { namespace: 'kube-system', hostNetwork: true }),
      aPod('aws-node', { namespace: 'kube-system', hostNetwork: true }),
      aPod('app'),
    ];
    const fake = fakeExec({ 'kube-proxy': async () => tables(5, '10.224.0.4') });
    const { inspections } = await inspectNode('n1', pods, deps(fake.exec));
    expect(fake.calls.map((c) => c.name).sort()).toEqual(['app', 'kube-proxy']);
    const nodeLevel = inspections.filter((i) => i.nodeLevel);
    expect(nodeLevel).toHaveLength(1);
    expect(nodeLevel[0]?.pod.name).toBe('kube-proxy');
    expect(nodeLevel[0]?.summary?.snatSockets).toBe(5);
    expect(inspections.filter((i) => !i.nodeLevel).map((i) => i.pod.name)).toEqual(['app']);
  });

  it('falls through to the next hostNetwork pod when the first is distroless', async () => {
    const pods = [aPod('a-distroless', { hostNetwork: true }), aPod('b-shell', { hostNetwork: true })];
    const fake = fakeExec({
      'a-distroless': async () => {
        throw new ExecError('executable file not found', 'not-found');
      },
    });
    const { inspections, errors } = await inspectNode('n1', pods, deps(fake.exec));
    expect(errors).toEqual([]);
    expect(inspections).toHaveLength(1);
    expect(inspections[0]).toMatchObject({ nodeLevel: true, status: 'ok' });
    expect(inspections[0]?.pod.name).toBe('b-shell');
  });
});

describe('inspectNode: listeners on the run signal', () => {
  // Regression: each node raised the signal's listener ceiling to a fixed 2 × concurrency + 10, so with
  // several hot nodes inspected at once (every exec holds two abort listeners on the run's signal),
  // `replay` printed a MaxListenersExceededWarning.
  it('three nodes inspected at once at concurrency 16: no MaxListenersExceededWarning, ceiling given back', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const controller = new AbortController();
      const { signal } = controller;
      const before = getMaxListeners(signal);
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      let inFlight = 0;
      const exec: PodExec = {
        async read() {
          // As the real exec does: one listener for the abort, one for the request.
          const a = () => {};
          const b = () => {};
          signal.addEventListener('abort', a);
          signal.addEventListener('abort', b);
          inFlight++;
          if (inFlight === 48) release();
          await gate;
          signal.removeEventListener('abort', a);
          signal.removeEventListener('abort', b);
          return tables(1);
        },
      };
      const nodes = ['n1', 'n2', 'n3'].map((node) =>
        inspectNode(
          node,
          Array.from({ length: 16 }, (_, i) => aPod(`${node}-p${i}`, { node })),
          { ...deps(exec, 16), signal },
        ),
      );
      const results = await Promise.all(nodes);
      await new Promise((r) => setImmediate(r));
      expect(results.flatMap((r) => r.inspections).filter((i) => i.status === 'ok')).toHaveLength(48);
      expect(warnings.filter((w) => w === 'MaxListenersExceededWarning')).toEqual([]);
      expect(getMaxListeners(signal)).toBe(before);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
