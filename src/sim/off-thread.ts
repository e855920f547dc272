// The scanner's side of the simulator process (worker.ts): `replay` and `demo` serve the snapshot from a
// child process, so the simulator's work (seeding the cluster, rendering /proc/net/tcp, answering every
// request) never runs on the scanner's event loop, and neither holds the other's memory. The scanner
// reaches the simulator as it reaches a real cluster: over HTTPS with the kubeconfig.
import { type ChildProcess, fork } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../errors.js';
import { warmPressureSources } from '../pressure/load.js';
import type { ReceivedMessage } from './sinks.js';
import type { Snapshot } from './snapshot.js';
import {
  type NodeMetricsRow,
  SIM_CHILD_ENV,
  type SimAddresses,
  type WorkerMessage,
  type WorkerRequest,
} from './worker-protocol.js';

export type { NodeMetricsRow } from './worker-protocol.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface SimThread extends SimAddresses {
  /** The snapshot as loaded, without its workloads; nodes hold only name and internalIP. */
  snapshot: Snapshot;
  /** Every node's metrics now (as the simulated cloud would report them): provider none's pressure. */
  nodeMetrics(): Promise<NodeMetricsRow[]>;
  /** What the simulated chat sinks received, oldest first. */
  received(): Promise<ReceivedMessage[]>;
  /** The simulator's log level from now on (the config is read after the simulator starts). */
  setLogLevel(level: string): Promise<void>;
  close(): Promise<void>;
}

let bundled: Promise<string> | undefined;

/**
 * The simulator's one-file bundle that `npm run build` writes after tsc (scripts/bundle-sim.mjs:
 * dist/src/sim/bundle/worker.js under the package root `root`), when it is there and not older than the
 * build's last tsc run; undefined otherwise (then the modules load one by one, ~200 ms instead of ~60).
 * The same rule as the CLI's bundles (src/hosts/cli/fresh-bundle.ts), written out here so that the
 * simulator does not reach into the CLI host: change both together.
 */
export function simWorkerBundle(root: string): string | undefined {
  const bundle = join(root, 'dist', 'src', 'sim', 'bundle', 'worker.js');
  const built = statSync(bundle, { throwIfNoEntry: false })?.mtimeMs;
  if (built === undefined) return undefined;
  // tsc's incremental build info (tsconfig.build.json) is rewritten whenever tsc emits.
  const compiled = statSync(join(root, 'dist', '.tsbuildinfo'), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  return built >= compiled ? bundle : undefined;
}

/**
 * The file the child runs: from a build (this module is JavaScript), the simulator's bundle when it is
 * fresh (simWorkerBundle), else the CLI's entry when the CLI runs (cli.ts runs worker.ts when
 * SIM_CHILD_ENV is set, so a bundle finds it too), else worker.js beside this module. From the TypeScript
 * sources (the tests run them) there is no worker.js: worker.ts is bundled once per process with esbuild
 * (a dev dependency), never taken from a build that may be older than the sources.
 */
async function childEntry(): Promise<string> {
  if (import.meta.url.endsWith('.js')) {
    const { packageRoot } = await import('../paths.js');
    const bundle = simWorkerBundle(packageRoot(fileURLToPath(import.meta.url)));
    if (bundle !== undefined) return bundle;
  }
  const entry = (globalThis as Record<symbol, unknown>)[Symbol.for('snatguard.cli.entry')];
  if (typeof entry === 'string') return fileURLToPath(entry);
  if (import.meta.url.endsWith('.js')) return fileURLToPath(new URL('./worker.js', import.meta.url));
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
    return outfile;
  })();
  return bundled;
}

/**
 * Loads `file` in a new simulator process and serves it there. Rejects with the snapshot's
 * {@link ValidationError} when the file is not a valid snapshot (the same error loadSnapshot throws).
 */
export async function startSimThread(
  file: string,
  options: {
    logLevel?: string;
    /**
     * Called once the simulator has parsed the file (before it checks and seeds it) with the cloud it
     * names. Default: that cloud's pressure modules load meanwhile (warmPressureSources).
     */
    onProvider?: (provider: string) => void;
    /** The file the simulator's process runs (default: childEntry's choice); tests give a bundle here. */
    worker?: string;
  } = {},
): Promise<SimThread> {
  const logLevel = options.logLevel ?? process.env.SNATGUARD_LOG_LEVEL ?? 'warn';
  const onProvider = options.onProvider ?? ((provider: string) => void warmPressureSources(provider));
  const child: ChildProcess = fork(options.worker ?? (await childEntry()), [], {
    env: { ...process.env, [SIM_CHILD_ENV]: '1' },
    // Its stdout is not the scanner's (that is the report); its log lines go to stderr like the scanner's.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    serialization: 'advanced',
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
      child.send({ ...request, id } as WorkerRequest);
    });
  };
  return new Promise<SimThread>((resolve, reject) => {
    let started = false;
    child.on('error', (e) => {
      failAll(e);
      if (!started) reject(e);
    });
    child.on('exit', (code, signal) => {
      failAll(new Error(`the simulator process exited (${signal ?? `code ${code}`})`));
      if (!started)
        reject(new Error(`the simulator process exited before it was ready (${signal ?? `code ${code}`})`));
    });
    child.on('message', (m: WorkerMessage) => {
      if (m.type === 'answer') {
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (m.error !== undefined) p?.fail(new Error(`simulator: ${m.error}`));
        else p?.ok(m.result);
        return;
      }
      if (m.type === 'parsed') {
        // The snapshot's cloud is known before it is checked and seeded: its SDK loads on this side
        // meanwhile (the scan loads it after `ready` otherwise, while the simulator's core seeds).
        if (m.provider !== undefined) onProvider(m.provider);
        return;
      }
      started = true;
      if (m.type === 'failed') {
        child.kill();
        reject(
          m.validation
            ? new ValidationError(m.validation.source, m.validation.problems)
            : new Error(m.message),
        );
        return;
      }
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
            .then(
              () =>
                new Promise<void>((done) => {
                  if (child.exitCode !== null || child.signalCode !== null) return done();
                  child.once('exit', () => done());
                }),
            )),
      });
    });
    child.send({ id: -1, op: 'start', file, logLevel } satisfies WorkerRequest);
  });
}
