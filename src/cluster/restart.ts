// Remediator: what `kubectl rollout restart` does (a merge patch of the pod template's restartedAt
// annotation), plus the snatguard cooldown record on the workload. Never deletes pods.
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
import { type WorkloadRef, workloadId } from '../model.js';
import { ANNOTATIONS, RESTARTABLE_KINDS, restartPatch, rfc3339 } from '../policy/plan.js';
import type { Remediator } from '../ports.js';
import { clusterError } from './errors.js';

// The annotation names and the patch body live with the rails (the cooldown reads what the restart writes).
export const RESTARTED_AT = ANNOTATIONS.templateRestartedAt;
export const SNATGUARD_RESTARTED_AT = ANNOTATIONS.restartedAt;
export const SNATGUARD_REASON = ANNOTATIONS.reason;
export { restartPatch, rfc3339 };

type RestartableKind = 'Deployment' | 'StatefulSet' | 'DaemonSet';
const isRestartable = (kind: string): kind is RestartableKind => RESTARTABLE_KINDS.has(kind);

type Workload = V1Deployment | V1StatefulSet | V1DaemonSet;

export function rolloutRemediator(kc: KubeConfig, now: () => Date): Remediator {
  const apps = kc.makeApiClient(AppsV1Api);
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

  const patch = (kind: RestartableKind, namespace: string, name: string, body: object): Promise<Workload> => {
    const param = { namespace, name, body, fieldManager: 'snatguard' };
    switch (kind) {
      case 'Deployment':
        return apps.patchNamespacedDeployment(param, mergePatch);
      case 'StatefulSet':
        return apps.patchNamespacedStatefulSet(param, mergePatch);
      case 'DaemonSet':
        return apps.patchNamespacedDaemonSet(param, mergePatch);
    }
  };
  const read = (kind: RestartableKind, namespace: string, name: string): Promise<Workload> => {
    switch (kind) {
      case 'Deployment':
        return apps.readNamespacedDeployment({ namespace, name });
      case 'StatefulSet':
        return apps.readNamespacedStatefulSet({ namespace, name });
      case 'DaemonSet':
        return apps.readNamespacedDaemonSet({ namespace, name });
    }
  };

  return {
    async restart(w: WorkloadRef, reason: string, signal: AbortSignal): Promise<void> {
      const id = workloadId(w);
      if (!isRestartable(w.kind))
        throw new ClusterError(`restart ${id}: kind ${w.kind} cannot be rollout-restarted`);
      if (signal.aborted)
        throw new ClusterError(`restart ${id}: aborted before patching`, undefined, { cause: signal.reason });
      const t = now();
      const at = rfc3339(t);
      const body = restartPatch(reason, t);
      try {
        await patch(w.kind, w.namespace, w.name, body);
      } catch (e) {
        throw clusterError(`patch ${id}`, e);
      }
      // Read back: the restart counts only when the API server holds the new template annotation.
      let current: Workload;
      try {
        current = await read(w.kind, w.namespace, w.name);
      } catch (e) {
        throw clusterError(`confirm restart of ${id}`, e);
      }
      const seen = current.spec?.template?.metadata?.annotations?.[RESTARTED_AT];
      if (seen !== at) {
        throw new ClusterError(
          `restart of ${id} not confirmed: ${RESTARTED_AT} is ${seen ?? 'absent'}, expected ${at}`,
        );
      }
    },
  };
}
