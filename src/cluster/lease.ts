// Lock on a coordination.k8s.io/v1 Lease: one run acts at a time. Optimistic concurrency through
// resourceVersion: whoever loses a write race gets 409 and backs off (like kured's daemonset lock).
import { CoordinationV1Api, type KubeConfig, type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import type { Lock } from '../ports.js';
import { clusterError, isConflict, isNotFound } from './errors.js';

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
  let heldBy: string | undefined;

  const read = async (): Promise<V1Lease | undefined> => {
    try {
      return await api.readNamespacedLease({ namespace, name });
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw clusterError(`get Lease ${id}`, e);
    }
  };

  return {
    async acquire(holder, ttlMs) {
      const at = now();
      const durationSeconds = Math.max(1, Math.ceil(ttlMs / 1000));
      const current = await read();
      if (current === undefined) {
        try {
          await api.createNamespacedLease({
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
          });
        } catch (e) {
          if (isConflict(e)) return false; // another run created it first
          throw clusterError(`create Lease ${id}`, e);
        }
        heldBy = holder;
        return true;
      }

      const live = liveHolder(current, at.getTime());
      if (live !== undefined && live !== holder) return false;
      const previous = current.spec?.holderIdentity;
      const takeover = previous !== holder;
      const body: V1Lease = {
        ...current,
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
        await api.replaceNamespacedLease({ namespace, name, body });
      } catch (e) {
        if (isConflict(e)) return false;
        throw clusterError(`update Lease ${id}`, e);
      }
      heldBy = holder;
      return true;
    },

    async release() {
      const holder = heldBy;
      if (holder === undefined) return;
      heldBy = undefined;
      // One retry: a 409 here can only be a concurrent write, re-read and decide again.
      for (let attempt = 0; attempt < 2; attempt++) {
        const current = await read();
        if (current === undefined || current.spec?.holderIdentity !== holder) return; // not ours any more
        const { holderIdentity: _dropped, ...spec } = current.spec ?? {};
        try {
          await api.replaceNamespacedLease({ namespace, name, body: { ...current, spec } });
          return;
        } catch (e) {
          if (isConflict(e)) continue;
          throw clusterError(`release Lease ${id}`, e);
        }
      }
    },
  };
}
