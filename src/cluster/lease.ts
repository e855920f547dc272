// Lock on a coordination.k8s.io/v1 Lease: one run acts at a time. Optimistic concurrency through
// resourceVersion: whoever loses a write race gets 409 and backs off (like kured's daemonset lock).
// The holder renews it while the run lives (run.ts); every write carries the resourceVersion last seen,
// so a run whose Lease was taken over learns it on its next write and stops acting.
// The Lease also carries the settle record (annotation snatguard.io/settle: node → time of the latest
// restart decided there): it is read in the same step that grants the right to act, and written under the
// same precondition, so no run can act without having seen every earlier run's record.
import { CoordinationV1Api, type KubeConfig, type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import type { Lock, SettleEntry, SettleRecord } from '../ports.js';
import { boundedCall, type CallBudget, DEFAULT_CALL_TIMEOUT_MS, signalOptions } from './bounded.js';
import { clusterError, isConflict, isNotFound } from './errors.js';

/** The Lease annotation holding the settle record (JSON object, node → { at, workload, runId }). */
export const SETTLE_ANNOTATION = 'snatguard.io/settle';

/** Reads the settle record; a malformed one is an error (the rail fails closed on it). */
export function parseSettle(text: string | undefined): SettleRecord {
  if (text === undefined || text.trim() === '') return {};
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`annotation ${SETTLE_ANNOTATION} is not JSON`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new Error(`annotation ${SETTLE_ANNOTATION} is not a JSON object`);
  const out: SettleRecord = {};
  for (const [node, v] of Object.entries(raw as Record<string, unknown>)) {
    const e = v as Partial<SettleEntry> | null;
    if (
      typeof e !== 'object' ||
      e === null ||
      typeof e.at !== 'string' ||
      Number.isNaN(Date.parse(e.at)) ||
      typeof e.workload !== 'string' ||
      typeof e.runId !== 'string'
    )
      throw new Error(
        `annotation ${SETTLE_ANNOTATION}: entry ${JSON.stringify(node).slice(0, 80)} is malformed`,
      );
    // defineProperty: a node named __proto__ stays a plain key.
    Object.defineProperty(out, node, {
      value: { at: e.at, workload: e.workload, runId: e.runId },
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/**
 * The settle record's entry for every node: written in place of a record that could not be read (hand
 * edited, truncated), so the runs that follow hold every node for rails.settleMinutes (what was restarted
 * recently is unknown), and then the record heals itself (pruned like any entry). No node is named `*`.
 */
export const EVERY_NODE = '*';
export const UNREADABLE_SETTLE_WORKLOAD = '(unknown: the settle record was unreadable)';

export const LEASE_NAME = 'snatguard';

/** client-node 1.4 reads MicroTime back as a string; accepts either. */
const timeOf = (t: unknown): number | undefined => {
  if (t instanceof Date) return t.getTime();
  if (typeof t === 'string') {
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
};

/** Whether `lease` is held by someone (anyone) at `nowMs`: holder set and renewTime + duration not past. */
export function liveHolder(lease: V1Lease, nowMs: number): string | undefined {
  const spec = lease.spec;
  const holder = spec?.holderIdentity;
  if (!holder) return undefined;
  const renewed = timeOf(spec?.renewTime) ?? timeOf(spec?.acquireTime);
  const duration = spec?.leaseDurationSeconds;
  if (renewed === undefined || duration === undefined) return undefined;
  return renewed + duration * 1000 > nowMs ? holder : undefined;
}

export interface LeaseLockOptions {
  name?: string;
  /** Per API call (default 20 s); the run's signal bounds it too. */
  timeoutMs?: number;
  /** Attempts of release on a transient failure (default 3): a Lease left held blocks runs for its TTL. */
  releaseAttempts?: number;
  /** Wait between release attempts (default 500 ms). */
  releaseBackoffMs?: number;
}

export function leaseLock(
  kc: KubeConfig,
  namespace: string,
  now: () => Date,
  options: LeaseLockOptions = {},
): Lock {
  const api = kc.makeApiClient(CoordinationV1Api);
  const name = options.name ?? LEASE_NAME;
  const id = `${namespace}/${name}`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const budget = (signal?: AbortSignal): CallBudget => (signal ? { signal, timeoutMs } : { timeoutMs });
  let heldBy: string | undefined;
  let durationSeconds = 0;
  /** The Lease as last written or read by this holder: its resourceVersion is the next write's precondition. */
  let mine: V1Lease | undefined;
  let settle: SettleRecord = {};
  let settleProblem: string | undefined;

  const read = async (signal?: AbortSignal): Promise<V1Lease | undefined> => {
    try {
      return await boundedCall(`get Lease ${id}`, budget(signal), (s) =>
        api.readNamespacedLease({ namespace, name }, signalOptions(s)),
      );
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw clusterError(`get Lease ${id}`, e);
    }
  };
  const replace = (body: V1Lease, what: string, signal?: AbortSignal): Promise<V1Lease> =>
    boundedCall(`${what} Lease ${id}`, budget(signal), (s) =>
      api.replaceNamespacedLease({ namespace, name, body }, signalOptions(s)),
    );
  const withSettle = (lease: V1Lease, record: SettleRecord): V1Lease => ({
    ...lease,
    metadata: {
      ...lease.metadata,
      annotations: { ...(lease.metadata?.annotations ?? {}), [SETTLE_ANNOTATION]: JSON.stringify(record) },
    },
  });

  return {
    async acquire(holder, ttlMs, signal) {
      const at = now();
      durationSeconds = Math.max(1, Math.ceil(ttlMs / 1000));
      const current = await read(signal);
      if (current === undefined) {
        let created: V1Lease;
        try {
          created = await boundedCall(`create Lease ${id}`, budget(signal), (s) =>
            api.createNamespacedLease(
              {
                namespace,
                body: {
                  apiVersion: 'coordination.k8s.io/v1',
                  kind: 'Lease',
                  metadata: { name, namespace },
                  spec: {
                    holderIdentity: holder,
                    leaseDurationSeconds: durationSeconds,
                    acquireTime: new V1MicroTime(at),
                    renewTime: new V1MicroTime(at),
                    leaseTransitions: 0,
                  },
                },
              },
              signalOptions(s),
            ),
          );
        } catch (e) {
          if (isConflict(e)) return false; // another run created it first
          throw clusterError(`create Lease ${id}`, e);
        }
        heldBy = holder;
        mine = created;
        settle = {};
        settleProblem = undefined;
        return true;
      }

      const live = liveHolder(current, at.getTime());
      if (live !== undefined && live !== holder) return false;
      // A record that cannot be read is replaced, in the same write that takes the lock, by one that holds
      // every node for the settle time (fail closed on the rail, without blocking every run for good).
      let record: SettleRecord;
      let problem: string | undefined;
      try {
        record = parseSettle(current.metadata?.annotations?.[SETTLE_ANNOTATION]);
      } catch (e) {
        problem =
          `${e instanceof Error ? e.message : String(e)}: replaced by an entry that holds every node ` +
          'for rails.settleMinutes (SETTLING); restarts resume after that';
        record = {
          [EVERY_NODE]: {
            at: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
            workload: UNREADABLE_SETTLE_WORKLOAD,
            // Not this run's id: the SETTLING rail holds this run too.
            runId: 'settle-record-replaced',
          },
        };
      }
      const previous = current.spec?.holderIdentity;
      const takeover = previous !== holder;
      const base = problem === undefined ? current : withSettle(current, record);
      const body: V1Lease = {
        ...base,
        spec: {
          ...current.spec,
          holderIdentity: holder,
          leaseDurationSeconds: durationSeconds,
          renewTime: new V1MicroTime(at),
          acquireTime: takeover ? new V1MicroTime(at) : (current.spec?.acquireTime ?? new V1MicroTime(at)),
          leaseTransitions: (current.spec?.leaseTransitions ?? 0) + (takeover && previous ? 1 : 0),
        },
      };
      try {
        // metadata.resourceVersion from the read: a concurrent writer makes this 409.
        mine = await replace(body, 'update', signal);
      } catch (e) {
        if (isConflict(e)) return false;
        throw clusterError(`update Lease ${id}`, e);
      }
      heldBy = holder;
      settle = record;
      settleProblem = problem;
      return true;
    },

    async renew(signal, record) {
      if (heldBy === undefined || mine === undefined) return false;
      const at = now();
      const next = record === undefined ? mine : withSettle(mine, record);
      const body: V1Lease = {
        ...next,
        spec: { ...next.spec, leaseDurationSeconds: durationSeconds, renewTime: new V1MicroTime(at) },
      };
      try {
        mine = await replace(body, 'renew', signal);
      } catch (e) {
        // 409: someone wrote the Lease since our last write (a takeover after it expired): it is not ours.
        // 404: deleted. Either way this run must stop acting.
        if (isConflict(e) || isNotFound(e)) {
          heldBy = undefined;
          mine = undefined;
          return false;
        }
        throw clusterError(`renew Lease ${id}`, e);
      }
      if (record !== undefined) settle = { ...record };
      return true;
    },

    settled: () => ({ ...settle }),
    settleProblem: () => settleProblem,

    async release(signal) {
      const holder = heldBy;
      if (holder === undefined) return;
      const attempts = Math.max(1, options.releaseAttempts ?? 3);
      let lastError: unknown;
      // The Lease as this lock last wrote it (acquire, renew): dropping the holder with that
      // resourceVersion frees it in one write when nobody wrote it since (was: read, then write). A 409
      // says someone did: then it is read and released only if still ours, as below.
      // Dropping the holder frees the Lease; the settle record (an annotation) stays for the next run.
      const dropHolder = async (lease: V1Lease): Promise<void> => {
        const { holderIdentity: _dropped, ...spec } = lease.spec ?? {};
        await replace({ ...lease, spec }, 'release', signal);
        heldBy = undefined;
        mine = undefined;
      };
      if (mine !== undefined && mine.spec?.holderIdentity === holder) {
        try {
          await dropHolder(mine);
          return;
        } catch (e) {
          lastError = e;
          if (signal?.aborted) throw clusterError(`release Lease ${id}`, e);
        }
      }
      // A transient failure is retried: a Lease left held blocks every run until it expires.
      for (let attempt = 0; attempt < attempts; attempt++) {
        if (attempt > 0) await pause(options.releaseBackoffMs ?? 500, signal);
        try {
          const current = await read(signal);
          if (current === undefined || current.spec?.holderIdentity !== holder) {
            heldBy = undefined;
            return; // not ours any more
          }
          await dropHolder(current);
          return;
        } catch (e) {
          lastError = e;
          if (signal?.aborted) break;
        }
      }
      throw clusterError(`release Lease ${id}`, lastError);
    },
  };
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Keeps a held Lease alive while the run lives; every write to the Lease goes through it, one at a time. */
export interface LeaseKeeper {
  /** Writes `settle` into the Lease (with the renewal). False when the Lease is lost: do not act. */
  record(settle: SettleRecord, signal?: AbortSignal): Promise<boolean>;
  /** Why the Lease was lost (taken over, deleted, a renewal that failed), or undefined while held. */
  lost(): string | undefined;
  stop(): Promise<void>;
}

export interface KeepLeaseOptions {
  /** Between renewals: a third of the TTL leaves two chances before it expires. */
  intervalMs: number;
  onLost?: (why: string) => void;
}

/**
 * Renews `lock` every `intervalMs` until stopped. A renewal that fails, for any reason, marks the Lease lost:
 * the run stops acting (it cannot prove it still holds the lock; fail closed), and goes on reporting.
 * The renewals live as long as the run, not its deadline (after the deadline a run still acts, within its
 * wrap-up time, on nodes read in full): each is bounded by its own call timeout, and stop() cuts the last.
 */
export function keepLease(lock: Lock, options: KeepLeaseOptions): LeaseKeeper {
  let lostWhy: string | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  const stopped = new AbortController();
  const lose = (why: string): void => {
    if (lostWhy !== undefined) return;
    lostWhy = why;
    options.onLost?.(why);
  };
  const write = (settle?: SettleRecord, signal?: AbortSignal): Promise<boolean> => {
    const next = chain.then(async () => {
      if (lostWhy !== undefined) return false;
      if (stopped.signal.aborted) return false;
      try {
        const ok = await lock.renew(signal ?? stopped.signal, settle);
        if (!ok) lose('the Lease was taken over or deleted');
        return ok;
      } catch (e) {
        // A renewal cut by stop() is the run ending, not the Lease lost.
        if (stopped.signal.aborted && signal === undefined) return false;
        lose(`Lease renewal failed: ${e instanceof Error ? e.message : String(e)}`);
        return false;
      }
    });
    chain = next;
    return next;
  };
  const timer = setInterval(() => void write(), Math.max(100, options.intervalMs));
  timer.unref();
  return {
    record: (settle, signal) => write(settle, signal),
    lost: () => lostWhy,
    async stop() {
      clearInterval(timer);
      stopped.abort(new Error('the run is over'));
      await chain.catch(() => {});
    },
  };
}
