// The simulator on its own thread (issue 13: in `replay` and `demo` it runs off the scanner's event loop).
// This is the worker's entry: it loads the snapshot (so the scanner's thread never holds the cluster's
// objects), serves it with startSim, and answers the few questions the scanner's process asks
// (node metrics for provider none, what the chat sinks received) until it is told to close.
// The host side is off-thread.ts; the messages are the types below.
import { parentPort, workerData } from 'node:worker_threads';
import { ValidationError } from '../errors.js';
import { createLogger, logLevel } from '../log.js';
import type { NodeMetrics } from './types.js';

export interface SimWorkerData {
  /** What the CLI's entry (which a worker also runs) is to do: serve a simulator. */
  role: 'sim';
  /** The snapshot file to load and serve. */
  file: string;
  /** Log level of the simulator's own log lines (stderr) until a `logLevel` request changes it. */
  logLevel: string;
}

/** What the scanner's side needs of a node for the snapshot pressure source (provider none). */
export interface NodeMetricsRow {
  name: string;
  internalIP: string;
  metrics: NodeMetrics;
}

export type WorkerRequest =
  | { id: number; op: 'nodeMetrics' | 'received' | 'close' }
  | { id: number; op: 'logLevel'; level: string };

export type WorkerMessage =
  | {
      type: 'ready';
      /** The snapshot without its workloads and with nodes cut to name and address (all the host reads). */
      head: unknown;
      url: string;
      ca: string;
      caPath: string;
      kubeconfigPath: string;
      jobKubeconfigPath: string;
      endpoints: Record<string, string>;
    }
  | { type: 'failed'; validation?: { source: string; problems: string[] }; message: string }
  | { type: 'answer'; id: number; result?: unknown; error?: string };

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('src/sim/worker.ts runs as a worker thread only');
  const data = workerData as SimWorkerData;
  const log = createLogger({ level: data.logLevel });
  const [{ loadSnapshot }, { startSim }, { receivedOf }] = await Promise.all([
    import('./snapshot.js'),
    import('./server.js'),
    import('./sinks.js'),
  ]);
  let sim: Awaited<ReturnType<typeof startSim>>;
  try {
    const snapshot = await loadSnapshot(data.file);
    sim = await startSim(snapshot, { log });
  } catch (e) {
    const failed: WorkerMessage =
      e instanceof ValidationError
        ? { type: 'failed', validation: { source: e.source, problems: e.problems }, message: e.message }
        : { type: 'failed', message: e instanceof Error ? e.message : String(e) };
    port.postMessage(failed);
    port.close();
    return;
  }
  const s = sim.world.snapshot;
  const head = {
    ...s,
    nodes: s.nodes.map((n) => ({ name: n.name, internalIP: n.internalIP })),
    workloads: [],
  };
  port.on('message', async (req: WorkerRequest) => {
    const answer = (result?: unknown, error?: string) =>
      port.postMessage({ type: 'answer', id: req.id, result, error } satisfies WorkerMessage);
    try {
      if (req.op === 'nodeMetrics')
        answer(
          sim.world.snapshot.nodes.map(
            (n): NodeMetricsRow => ({
              name: n.name,
              internalIP: n.internalIP,
              metrics: sim.world.nodeMetrics(n.name),
            }),
          ),
        );
      else if (req.op === 'received') answer(receivedOf(sim.world));
      else if (req.op === 'logLevel') {
        log.level = logLevel(req.level);
        answer();
      } else {
        await sim.close();
        answer();
        port.close();
      }
    } catch (e) {
      answer(undefined, e instanceof Error ? e.message : String(e));
    }
  });
  port.postMessage({
    type: 'ready',
    head,
    url: sim.url,
    ca: sim.ca,
    caPath: sim.caPath,
    kubeconfigPath: sim.kubeconfigPath,
    jobKubeconfigPath: sim.jobKubeconfigPath,
    endpoints: sim.endpoints,
  } satisfies WorkerMessage);
}

await main();
