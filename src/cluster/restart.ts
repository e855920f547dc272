// Remediator: what `kubectl rollout restart` does (a merge patch of the pod template's restartedAt
// annotation), plus the snatguard cooldown record on the workload. Never deletes pods.
// Right before patching it re-reads the workload and re-checks the rails the caller gives (a restart by
// another actor since planning shows as COOLDOWN), then patches with the resourceVersion it read:
// the API server treats metadata.resourceVersion in a patch body as a precondition and answers 409
// Conflict when the object changed in between (kubernetes/kubernetes#15416; controller-runtime's
// MergeFromWithOptimisticLock, kubernetes-sigs/controller-runtime#969), so two actors cannot both restart one workload.
import {
  AppsV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1DaemonSet,
  type V1Deployment,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { ClusterError } from '../errors.js';
import { type SkipReason, type WorkloadRef, type WorkloadStatus, workloadId } from '../model.js';
import { ANNOTATIONS, RESTARTABLE_KINDS, restartPatch, rfc3339 } from '../policy/plan.js';
import type { Remediator, RestartOutcome, RestartPrecheck } from '../ports.js';
import { boundedCall, DEFAULT_CALL_TIMEOUT_MS, signalOptions } from './bounded.js';
import { clusterError, httpStatusOf, isConflict } from './errors.js';
import { daemonSetStatus, deploymentStatus, statefulSetStatus } from './reader.js';

/** The re-check right before the patch blocked the restart: not an error, a skip with this code. */
export class RestartBlockedError extends ClusterError {
  constructor(
    message: string,
    readonly code: SkipReason,
  ) {
    super(message);
  }
}

// The annotation names and the patch body live with the rails (the cooldown reads what the restart writes).
export const RESTARTED_AT = ANNOTATIONS.templateRestartedAt;
export const SNATGUARD_RESTARTED_AT = ANNOTATIONS.restartedAt;
export const SNATGUARD_REASON = ANNOTATIONS.reason;
export { restartPatch, rfc3339 };

type RestartableKind = 'Deployment' | 'StatefulSet' | 'DaemonSet';
const isRestartable = (kind: string): kind is RestartableKind => RESTARTABLE_KINDS.has(kind);

type Workload = V1Deployment | V1StatefulSet | V1DaemonSet;

export interface RolloutRemediatorOptions {
  /** Per API call (default 20 s); the run's signal bounds it too. */
  timeoutMs?: number;
}

export function rolloutRemediator(
  kc: KubeConfig,
  now: () => Date,
  options: RolloutRemediatorOptions = {},
): Remediator {
  const apps = kc.makeApiClient(AppsV1Api);
  const timeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;

  const patch = (
    kind: RestartableKind,
    namespace: string,
    name: string,
    body: object,
    signal: AbortSignal,
  ): Promise<Workload> => {
    const param = { namespace, name, body, fieldManager: 'snatguard' };
    const opts = setHeaderOptions('Content-Type', PatchStrategy.MergePatch, signalOptions(signal));
    switch (kind) {
      case 'Deployment':
        return apps.patchNamespacedDeployment(param, opts);
      case 'StatefulSet':
        return apps.patchNamespacedStatefulSet(param, opts);
      case 'DaemonSet':
        return apps.patchNamespacedDaemonSet(param, opts);
    }
  };
  const read = (
    kind: RestartableKind,
    namespace: string,
    name: string,
    signal: AbortSignal,
  ): Promise<Workload> => {
    const opts = signalOptions(signal);
    switch (kind) {
      case 'Deployment':
        return apps.readNamespacedDeployment({ namespace, name }, opts);
      case 'StatefulSet':
        return apps.readNamespacedStatefulSet({ namespace, name }, opts);
      case 'DaemonSet':
        return apps.readNamespacedDaemonSet({ namespace, name }, opts);
    }
  };
  const statusOf = (w: WorkloadRef & { kind: RestartableKind }, o: Workload): WorkloadStatus =>
    w.kind === 'Deployment'
      ? deploymentStatus(w, o as V1Deployment)
      : w.kind === 'StatefulSet'
        ? statefulSetStatus(w, o as V1StatefulSet)
        : daemonSetStatus(w, o as V1DaemonSet);

  return {
    async restart(w, reason, signal, precheck?: RestartPrecheck): Promise<RestartOutcome> {
      const id = workloadId(w);
      if (!isRestartable(w.kind))
        throw new ClusterError(`restart ${id}: kind ${w.kind} cannot be rollout-restarted`);
      const kind = w.kind;
      const ref = { ...w, kind };
      const budget = { signal, timeoutMs };
      // Two attempts: a 409 means the object changed since our read; the second read shows why.
      for (let attempt = 0; ; attempt++) {
        if (signal.aborted)
          throw new ClusterError(`restart ${id}: aborted before patching`, undefined, {
            cause: signal.reason,
          });
        let before: Workload;
        try {
          before = await boundedCall(`get ${id}`, budget, (s) => read(kind, w.namespace, w.name, s));
        } catch (e) {
          throw clusterError(`re-read ${id} before patching`, e);
        }
        const blocked = precheck?.(statusOf(ref, before));
        if (blocked)
          throw new RestartBlockedError(`restart ${id} blocked on re-read: ${blocked.detail}`, blocked.code);
        const resourceVersion = before.metadata?.resourceVersion;
        if (!resourceVersion) throw new ClusterError(`restart ${id}: the workload has no resourceVersion`);
        const t = now();
        const at = rfc3339(t);
        const base = restartPatch(reason, t);
        const body = { ...base, metadata: { ...base.metadata, resourceVersion } };
        try {
          await boundedCall(`patch ${id}`, budget, (s) => patch(kind, w.namespace, w.name, body, s));
        } catch (e) {
          if (isConflict(e) && attempt === 0) continue;
          const status = httpStatusOf(e);
          if (isConflict(e) || (status !== undefined && status < 500 && status !== 429))
            throw clusterError(`patch ${id}`, e); // refused: not applied
          // Timed out or 5xx: the patch may have landed; a read tells.
          const seen = await confirm(kind, w, budget).catch(() => undefined);
          if (seen === at)
            return { confirmed: true, detail: `patch ${id} failed but the restart is in place` };
          throw clusterError(`patch ${id}`, e);
        }
        // Read back: the restart is confirmed when the API server holds the new template annotation.
        let seen: string | undefined;
        try {
          seen = await confirm(kind, w, budget);
        } catch (e) {
          return {
            confirmed: false,
            detail: `patch accepted; ${clusterError(`confirm restart of ${id}`, e).message}`,
          };
        }
        if (seen !== at)
          return {
            confirmed: false,
            detail: `patch accepted; ${RESTARTED_AT} now reads ${seen ?? 'absent'}, expected ${at}`,
          };
        return { confirmed: true };
      }
    },
  };

  async function confirm(
    kind: RestartableKind,
    w: WorkloadRef,
    budget: { signal: AbortSignal; timeoutMs: number },
  ): Promise<string | undefined> {
    const current = await boundedCall(`get ${workloadId(w)}`, budget, (s) =>
      read(kind, w.namespace, w.name, s),
    );
    return current.spec?.template?.metadata?.annotations?.[RESTARTED_AT];
  }
}
