// The scanner's side of the simulator thread (worker.ts): `replay` and `demo` serve the snapshot from a
// worker, so the simulator's work (seeding the cluster, rendering /proc/net/tcp, answering every request)
// never runs on the scanner's event loop, and the scanner's thread never holds the simulated objects.
// The scanner reaches the simulator as it reaches a real cluster: over HTTPS with the kubeconfig.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ValidationError } from '../errors.js';
import type { ReceivedMessage } from './sinks.js';
import type { Snapshot } from './snapshot.js';
import type { NodeMetricsRow, SimWorkerData, WorkerMessage, WorkerRequest } from './worker.js';

export type { NodeMetricsRow } from './worker.js';

let bundled: Promise<URL> | undefined;

/**
 * The file the worker runs: the CLI's entry when the CLI runs (main.ts starts worker.ts for role sim, so
 * a bundle finds it too), else worker.js beside this module. From the TypeScript sources (the tests run
 * them) there is no worker.js: worker.ts is bundled once per process with esbuild (a dev dependency).
 */
async function workerEntry(): Promise<URL> {
  const entry = (globalThis as Record<symbol, unknown>)[Symbol.for('snatguard.cli.entry')];
  if (typeof entry === 'string') return new URL(entry);
  if (import.meta.url.endsWith('.js')) return new URL('./worker.js', import.meta.url);
  bundled ??= (async () => {
    const [{ build }, { packageRoot }] = await Promise.all([import('esbuild'), import('../paths.js')]);
    const outfile = join(
      packageRoot(),
      'node_modules',
      '.cache',
      'snatguard-sim-worker',
      `worker-${process.pid}.mjs`,
    );
    await build({
      entryPoints: [fileURLToPath(new URL('./worker.ts', import.meta.url))],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      outfile,
      logLevel: 'silent',
    });
    process.once('exit', () => rmSync(outfile, { force: true }));
    return pathToFileURL(outfile);
  })();
  return bundled;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface SimThread {
  /** The snapshot as loaded, without its workloads; nodes hold only name and internalIP. */
  snapshot: Snapshot;
  url: string;
  ca: string;
  caPath: string;
  kubeconfigPath: string;
  jobKubeconfigPath: string;
  endpoints: Record<string, string>;
  /** Every node's metrics now (as the simulated cloud would report them): provider none's pressure. */
  nodeMetrics(): Promise<NodeMetricsRow[]>;
  /** What the simulated chat sinks received, oldest first. */
  received(): Promise<ReceivedMessage[]>;
  /** The simulator's log level from now on (the config is read after the thread starts). */
  setLogLevel(level: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Loads `file` in a new worker thread and serves it there. Rejects with the snapshot's
 * {@link ValidationError} when the file is not a valid snapshot (the same error loadSnapshot throws).
 */
export async function startSimThread(file: string, options: { logLevel?: string } = {}): Promise<SimThread> {
  const logLevel = options.logLevel ?? process.env.SNATGUARD_LOG_LEVEL ?? 'warn';
  const worker = new Worker(await workerEntry(), {
    workerData: { role: 'sim', file, logLevel } satisfies SimWorkerData,
    // The simulator's log goes to stderr like the scanner's; its stdout is the scanner's stdout.
    stdout: false,
    stderr: false,
  });
  const pending = new Map<number, { ok: (v: unknown) => void; fail: (e: Error) => void }>();
  let nextId = 0;
  let gone: Error | undefined;
  const failAll = (e: Error) => {
    gone = e;
    for (const p of pending.values()) p.fail(e);
    pending.clear();
  };
  const ask = <T>(request: DistributiveOmit<WorkerRequest, 'id'>): Promise<T> => {
    if (gone) return Promise.reject(gone);
    const id = nextId++;
    return new Promise<T>((ok, fail) => {
      pending.set(id, { ok: ok as (v: unknown) => void, fail });
      worker.postMessage({ ...request, id } satisfies WorkerRequest);
    });
  };
  return new Promise<SimThread>((resolve, reject) => {
    let started = false;
    worker.on('error', (e) => {
      failAll(e);
      if (!started) reject(e);
    });
    worker.on('exit', (code) => {
      failAll(new Error(`the simulator thread exited (code ${code})`));
      if (!started) reject(new Error(`the simulator thread exited before it was ready (code ${code})`));
    });
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'answer') {
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (m.error !== undefined) p?.fail(new Error(`simulator: ${m.error}`));
        else p?.ok(m.result);
        return;
      }
      if (m.type === 'failed') {
        started = true;
        void worker.terminate();
        reject(
          m.validation
            ? new ValidationError(m.validation.source, m.validation.problems)
            : new Error(m.message),
        );
        return;
      }
      started = true;
      let closing: Promise<void> | undefined;
      resolve({
        snapshot: m.head as Snapshot,
        url: m.url,
        ca: m.ca,
        caPath: m.caPath,
        kubeconfigPath: m.kubeconfigPath,
        jobKubeconfigPath: m.jobKubeconfigPath,
        endpoints: m.endpoints,
        nodeMetrics: () => ask<NodeMetricsRow[]>({ op: 'nodeMetrics' }),
        received: () => ask<ReceivedMessage[]>({ op: 'received' }),
        setLogLevel: (level) => ask<void>({ op: 'logLevel', level }),
        close: () =>
          (closing ??= ask<void>({ op: 'close' })
            .catch(() => undefined)
            .then(async () => {
              await worker.terminate();
            })),
      });
    });
  });
}
