// The inspect stage for one hot node: `cat /proc/net/tcp /proc/net/tcp6` in every pod on it, with
// bounded concurrency, each frame of output parsed as it arrives (no pod's text is held whole). hostNetwork pods share the node's
// namespace: it is read once, through one of them, and stands for the node. Failures are data.
import { getMaxListeners, setMaxListeners } from 'node:events';
import { ExecError, messageOf } from '../errors.js';
import type { ExecLimits, PodInfo, PodInspection, PodRef, RunError, SocketSummary } from '../model.js';
import type { Log, PodExec } from '../ports.js';
import type { AddressClassifier } from '../sockets/address.js';
import { createSummarizer, pushYielding } from '../sockets/summary.js';
import { createLimiter } from './limit.js';

export const SOCKET_FILES = ['/proc/net/tcp', '/proc/net/tcp6'];

export interface InspectProgress {
  node: string;
  done: number;
  total: number;
}

export interface InspectDeps {
  exec: PodExec;
  limits: ExecLimits;
  concurrency: number;
  classifier: AddressClassifier;
  signal: AbortSignal;
  log: Log;
  onProgress?: (p: InspectProgress) => void;
  /**
   * One more exec of the node's (its conntrack listing), run in the first of the `concurrency` lanes
   * that is free once every pod's exec has started: it overlaps the last pods' reads instead of following
   * them, and as the youngest exec in flight it never holds the run's byte budget ahead of a pod (the
   * oldest exec is the one that never waits). `podsRead` settles once every pod's read has ended, for a
   * task that must not run beside them. inspectNode waits for it; its outcome is the caller's.
   */
  afterPods?: (podsRead: Promise<void>) => Promise<void>;
}

export interface NodeInspection {
  inspections: PodInspection[];
  errors: RunError[];
}

const podTarget = (p: PodInfo): string => `${p.namespace}/${p.name}`;

type Attempt =
  | { ok: true; summary: SocketSummary; bytes: number; container?: string }
  | { ok: false; error: unknown };

/** One pod's tables, summarized frame by frame as the exec streams them (whole only for a PodExec without stream). */
async function summarizePod(
  ref: PodRef,
  deps: InspectDeps,
): Promise<{ summary: SocketSummary; bytes: number }> {
  const summarizer = createSummarizer(deps.classifier);
  if (deps.exec.stream) {
    const bytes = await deps.exec.stream(ref, SOCKET_FILES, deps.limits, deps.signal, (chunk) =>
      summarizer.push(chunk),
    );
    return { summary: summarizer.finish(), bytes };
  }
  const text = await deps.exec.read(ref, SOCKET_FILES, deps.limits, deps.signal);
  await pushYielding(summarizer, text, deps.signal);
  return { summary: summarizer.finish(), bytes: Buffer.byteLength(text) };
}

/**
 * Runs `read` on the pod's containers, its default one first, until one answers other than "no cat"
 * (they share the pod's network namespace, so any container's tables are the pod's). Also used by
 * `snatguard snapshot`'s capture.
 */
export async function readFromAContainer<T>(
  pod: PodInfo,
  read: (ref: PodRef) => Promise<T>,
): Promise<{ ok: true; value: T; container: string } | { ok: false; error: unknown }> {
  const containers = pod.container
    ? [pod.container, ...pod.containers.filter((c) => c !== pod.container)]
    : [...pod.containers];
  if (containers.length === 0) containers.push('');
  let last: unknown;
  for (const container of containers) {
    const ref = container
      ? { namespace: pod.namespace, name: pod.name, container }
      : { namespace: pod.namespace, name: pod.name };
    try {
      return { ok: true, value: await read(ref), container };
    } catch (e) {
      last = e;
      if (!(e instanceof ExecError && e.kind === 'not-found')) break;
    }
  }
  return { ok: false, error: last };
}

/** Reads the socket tables of one pod; on "no cat" tries its other containers (same network namespace). */
async function readPod(pod: PodInfo, deps: InspectDeps): Promise<Attempt> {
  const read = await readFromAContainer(pod, (ref) => summarizePod(ref, deps));
  if (!read.ok) return read;
  const { summary, bytes } = read.value;
  return read.container
    ? { ok: true, summary, bytes, container: read.container }
    : { ok: true, summary, bytes };
}

function toInspection(pod: PodInfo, nodeLevel: boolean, attempt: Attempt, startedAt: number): PodInspection {
  const durationMs = Math.round(performance.now() - startedAt);
  if (attempt.ok) {
    const summary = attempt.summary;
    // Output with lines but not one socket line is not a socket table (a pod answering `cat` with
    // garbage): an error, never "inspected, 0 sockets".
    if (summary.parsed === 0 && summary.malformed > 0)
      return {
        pod,
        status: 'failed',
        nodeLevel,
        reason: `not /proc/net/tcp output: ${summary.malformed} unreadable line${summary.malformed === 1 ? '' : 's'}, no socket line`,
        durationMs,
      };
    return { pod, status: 'ok', nodeLevel, summary, bytes: attempt.bytes, durationMs };
  }
  const e = attempt.error;
  if (e instanceof ExecError && e.kind === 'not-found') {
    return { pod, status: 'uninspectable', nodeLevel, reason: e.message, durationMs };
  }
  return { pod, status: 'failed', nodeLevel, reason: messageOf(e), durationMs };
}

/** Inspects every running pod of `node`; never throws for one pod's failure. */
export async function inspectNode(
  node: string,
  pods: readonly PodInfo[],
  deps: InspectDeps,
): Promise<NodeInspection> {
  // Every exec in flight listens on the run's signal (two listeners each): not a leak.
  return withListenerHeadroom(deps.signal, 2 * Math.max(1, Math.floor(deps.concurrency)) + 2, () =>
    inspectPods(node, pods, deps),
  );
}

/**
 * Runs `f` with the signal's listener ceiling raised by `extra` and given back after: work that holds
 * listeners on a run's signal by design (execs, owner reads) prints no MaxListenersExceededWarning. Added
 * to what is allowed already, because several such stages share one signal at once (a fixed ceiling was
 * exceeded as soon as two hot nodes were inspected together).
 */
export async function withListenerHeadroom<T>(
  signal: AbortSignal,
  extra: number,
  f: () => Promise<T>,
): Promise<T> {
  const allowed = getMaxListeners(signal);
  if (allowed !== 0) setMaxListeners(allowed + extra, signal);
  try {
    return await f();
  } finally {
    const now = getMaxListeners(signal);
    if (allowed !== 0 && now > extra) setMaxListeners(now - extra, signal);
  }
}

async function inspectPods(
  node: string,
  pods: readonly PodInfo[],
  deps: InspectDeps,
): Promise<NodeInspection> {
  const limit = createLimiter(deps.concurrency);
  const ordinary = pods.filter((p) => !p.hostNetwork);
  const host = pods.filter((p) => p.hostNetwork);
  const total = ordinary.length + (host.length > 0 ? 1 : 0);
  // The execs to come: their connections can be opened while earlier ones wait on their pods.
  deps.exec.expect?.(total);
  let done = 0;
  const progress = (): void => {
    done++;
    deps.onProgress?.({ node, done, total });
  };

  const inspectOrdinary = (pod: PodInfo): Promise<PodInspection> =>
    limit(async () => {
      const t0 = performance.now();
      const inspection = toInspection(pod, false, await readPod(pod, deps), t0);
      progress();
      return inspection;
    });

  // The node's own namespace: the first hostNetwork pod that answers speaks for all of them.
  const inspectHost = (): Promise<PodInspection | undefined> =>
    host.length === 0
      ? Promise.resolve(undefined)
      : limit(async () => {
          const t0 = performance.now();
          let first: PodInspection | undefined;
          for (const pod of host) {
            const inspection = toInspection(pod, true, await readPod(pod, deps), t0);
            if (inspection.status === 'ok') {
              first = inspection;
              break;
            }
            first ??= inspection;
            if (inspection.status === 'failed' || deps.signal.aborted) break;
          }
          progress();
          return first;
        });

  const all = Promise.all([inspectHost(), ...ordinary.map(inspectOrdinary)]);
  // Queued after every pod: the limiter starts tasks in the order they were queued.
  const podsRead = all.then(
    () => undefined,
    () => undefined,
  );
  const afterPods = deps.afterPods;
  const after = afterPods ? limit(() => afterPods(podsRead)) : undefined;
  const [[hostResult, ...results]] = await Promise.all([all, after]);
  const inspections = hostResult ? [hostResult, ...results] : results;

  const errors: RunError[] = [];
  for (const i of inspections) {
    if (i.status === 'failed') {
      errors.push({ stage: 'inspect', target: podTarget(i.pod), message: i.reason ?? 'inspection failed' });
      deps.log.warn({ node, pod: podTarget(i.pod), reason: i.reason }, 'pod inspection failed');
    } else if (i.status === 'uninspectable') {
      deps.log.info({ node, pod: podTarget(i.pod), reason: i.reason }, 'pod uninspectable');
    }
  }
  deps.log.debug(
    {
      node,
      pods: inspections.length,
      failed: errors.length,
      uninspectable: inspections.filter((i) => i.status === 'uninspectable').length,
    },
    'node inspected',
  );
  return { inspections, errors };
}
