// Writable sinks for exec output: bounded in size, never throwing (the text comes from inside a pod).
import { Writable } from 'node:stream';
import { type ConfigurationOptions, Observable, type ObservableMiddleware } from '@kubernetes/client-node';
import { ClusterError } from '../errors.js';

/** Collects bytes up to `maxBytes`; past that it drops data and calls `onOverflow` once. */
export class BoundedSink extends Writable {
  private readonly chunks: Buffer[] = [];
  private total = 0;
  private overflowed = false;

  constructor(
    readonly maxBytes: number,
    private readonly onOverflow: (bytes: number) => void = () => {},
  ) {
    super({ decodeStrings: true });
    // Write-after-end (a frame arriving after the status) must not become an uncaught error.
    this.on('error', () => {});
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.take(chunk);
    callback();
  }

  private take(chunk: Buffer): void {
    if (this.overflowed) return;
    this.total += chunk.length;
    if (this.total > this.maxBytes) {
      this.overflowed = true;
      this.chunks.length = 0;
      this.onOverflow(this.total);
      return;
    }
    this.chunks.push(chunk);
  }

  get bytes(): number {
    return this.total;
  }

  get exceeded(): boolean {
    return this.overflowed;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** Keeps only the last `maxBytes` bytes written (stderr: the tail is what explains a failure). */
export class TailSink extends Writable {
  private buf = Buffer.alloc(0);

  constructor(readonly maxBytes = 4096) {
    super({ decodeStrings: true });
    this.on('error', () => {});
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const joined = Buffer.concat([this.buf, chunk]);
    this.buf = joined.length > this.maxBytes ? joined.subarray(joined.length - this.maxBytes) : joined;
    callback();
  }

  text(): string {
    return this.buf.toString('utf8');
  }
}

// ---------------------------------------------------------------- bounded API calls

/**
 * The time one Kubernetes API call may take: the run's signal (deadline) and the call's own timeout.
 * Every call in reader, lease, restart and state takes one, so a hung API server cannot outlive the run.
 */
export interface CallBudget {
  signal?: AbortSignal;
  timeoutMs: number;
}

/** Default per-call timeout when a caller gives none (cluster.requestTimeoutSeconds overrides). */
export const DEFAULT_CALL_TIMEOUT_MS = 20_000;

export const budgetOf = (signal: AbortSignal | undefined, timeoutMs = DEFAULT_CALL_TIMEOUT_MS): CallBudget =>
  signal === undefined ? { timeoutMs } : { signal, timeoutMs };

/**
 * client-node 1.x per-request options carrying an AbortSignal (its fetch takes `request.getSignal()`), so an
 * abandoned call also closes its socket. Merged with other middleware (e.g. the patch Content-Type).
 */
export function signalOptions(signal: AbortSignal, more?: ConfigurationOptions): ConfigurationOptions {
  const setSignal: ObservableMiddleware = {
    pre: (ctx) => {
      ctx.setSignal(signal);
      return new Observable(Promise.resolve(ctx));
    },
    post: (res) => new Observable(Promise.resolve(res)),
  };
  return {
    ...more,
    middleware: [...(more?.middleware ?? []), setSignal],
    middlewareMergeStrategy: 'append',
  };
}

/**
 * Runs one API call under `budget`: it settles no later than its timeout or the run's abort, whatever the
 * server does. The timer is held here (not only through AbortSignal.any, which Node 20 may collect:
 * nodejs/node#57736) and cleared when the call settles.
 */
export async function boundedCall<T>(
  what: string,
  budget: CallBudget,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const outer = budget.signal;
  if (outer?.aborted)
    throw new ClusterError(`${what}: aborted before it started`, undefined, { cause: outer.reason });
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort(new Error(`timed out after ${budget.timeoutMs} ms`));
  }, budget.timeoutMs);
  const onAbort = (): void => ac.abort(outer?.reason);
  outer?.addEventListener('abort', onAbort, { once: true });
  const stopped = new Promise<never>((_, reject) => {
    ac.signal.addEventListener(
      'abort',
      () =>
        reject(
          new ClusterError(
            timedOut ? `${what}: timed out after ${budget.timeoutMs} ms` : `${what}: aborted (run deadline)`,
            undefined,
            { cause: ac.signal.reason },
          ),
        ),
      { once: true },
    );
  });
  try {
    return await Promise.race([call(ac.signal), stopped]);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onAbort);
  }
}

/**
 * Waits for `p` no longer than `signal` lives: a shared call (one node list per run, read by the cloud
 * sources and the run) keeps its own timeout, and each waiter is released at its own deadline.
 */
export function untilAborted<T>(what: string, p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted)
    return Promise.reject(
      new ClusterError(`${what}: aborted (run deadline)`, undefined, { cause: signal.reason }),
    );
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void =>
      reject(new ClusterError(`${what}: aborted (run deadline)`, undefined, { cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
