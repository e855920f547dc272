// The simulator in its own process (issue 13: in `replay` and `demo` it runs off the scanner's event loop,
// and its memory is not the scanner's). This is the child's code: it loads the snapshot (so the scanner
// never holds the cluster's objects), serves it with startSim, and answers the few questions the scanner
// asks over the IPC channel (node metrics for provider none, what the chat sinks received) until told to
// close, or until the scanner goes away. The scanner's side is off-thread.ts; the messages are below.
import { readFile } from 'node:fs/promises';
import { ValidationError } from '../errors.js';
import { createLogger, logLevel } from '../log.js';
import {
  type NodeMetricsRow,
  SIM_CHILD_ENV,
  type WorkerMessage,
  type WorkerRequest,
} from './worker-protocol.js';

function serve(): void {
  const send = process.send?.bind(process);
  if (send === undefined)
    throw new Error('src/sim/worker.ts runs as a child process with an IPC channel only');
  delete process.env[SIM_CHILD_ENV];
  const post = (m: WorkerMessage) => send(m);
  const log = createLogger({ level: process.env.SNATGUARD_LOG_LEVEL ?? 'warn' });
  let sim: Awaited<ReturnType<typeof import('./server.js').startSim>> | undefined;
  let received: ((world: object) => unknown[]) | undefined;
  // The scanner went away (or closed us): nothing is left to serve.
  process.on('disconnect', () => {
    void (sim?.close() ?? Promise.resolve()).finally(() => process.exit(0));
  });
  process.on('message', async (req: WorkerRequest) => {
    const answer = (result?: unknown, error?: string) => post({ type: 'answer', id: req.id, result, error });
    if (req.op === 'start') {
      log.level = logLevel(req.logLevel);
      try {
        // The file is read while the modules that check and serve it load.
        const text = readFile(req.file, 'utf8');
        text.catch(() => {});
        const [{ loadSnapshot }, { startSim, prepareSim }, sinks] = await Promise.all([
          import('./snapshot.js'),
          import('./server.js'),
          import('./sinks.js'),
        ]);
        received = sinks.receivedOf;
        // The certificates are made while the file is read and checked.
        const prepared = prepareSim();
        prepared.catch(() => {});
        // Ready once it listens: the cluster is seeded while the scanner starts (requests that read
        // workloads or pods wait for it; a lease, a config map or a node list does not).
        const onParsed = (data: unknown) => post({ type: 'parsed', provider: providerOf(data) });
        const snapshot = await loadSnapshot(req.file, { onParsed, text });
        sim = await startSim(snapshot, { log, seedInSteps: true, prepared });
      } catch (e) {
        post(
          e instanceof ValidationError
            ? { type: 'failed', validation: { source: e.source, problems: e.problems }, message: e.message }
            : { type: 'failed', message: e instanceof Error ? e.message : String(e) },
        );
        return;
      }
      const s = sim.world.snapshot;
      post({
        type: 'ready',
        head: {
          ...s,
          nodes: s.nodes.map((n) => ({ name: n.name, internalIP: n.internalIP })),
          workloads: [],
        },
        url: sim.url,
        ca: sim.ca,
        caPath: sim.caPath,
        kubeconfigPath: sim.kubeconfigPath,
        jobKubeconfigPath: sim.jobKubeconfigPath,
        endpoints: sim.endpoints,
      });
      return;
    }
    try {
      if (sim === undefined) throw new Error('the simulator is not started');
      const world = sim.world;
      if (req.op === 'nodeMetrics' || req.op === 'received') await world.seeded;
      if (req.op === 'nodeMetrics')
        answer(
          world.snapshot.nodes.map(
            (n): NodeMetricsRow => ({
              name: n.name,
              internalIP: n.internalIP,
              metrics: world.nodeMetrics(n.name),
            }),
          ),
        );
      else if (req.op === 'received') answer(received?.(world) ?? []);
      else if (req.op === 'logLevel') {
        log.level = logLevel(req.level);
        answer();
      } else {
        await sim.close();
        answer();
        process.disconnect();
      }
    } catch (e) {
      answer(undefined, e instanceof Error ? e.message : String(e));
    }
  });
}

/** `cloud.provider` of parsed (unchecked) snapshot data, when it is a string. */
function providerOf(data: unknown): string | undefined {
  const cloud = typeof data === 'object' && data !== null ? (data as { cloud?: unknown }).cloud : undefined;
  const provider =
    typeof cloud === 'object' && cloud !== null ? (cloud as { provider?: unknown }).provider : undefined;
  return typeof provider === 'string' ? provider : undefined;
}

serve();
