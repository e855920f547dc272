// ClusterReader over the Kubernetes API: nodes, the pods of one node, owners, workload status.
// Requests stay O(hot nodes + their pods): pods are listed per node with a field selector; the ReplicaSets
// owning them come from one list (by pod-template-hash) and are cached per run.
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  type KubeConfig,
  Observable,
  type ObservableMiddleware,
  ResponseContext,
  SelfDecodingBody,
  type V1DaemonSet,
  type V1Deployment,
  type V1Node,
  type V1ObjectMeta,
  type V1OwnerReference,
  type V1Pod,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { ClusterError } from '../errors.js';
import type { NodeInfo, OwnerReference, PodInfo, WorkloadRef, WorkloadStatus } from '../model.js';
import type { ClusterReader } from '../ports.js';
import { boundedCall, DEFAULT_CALL_TIMEOUT_MS, signalOptions } from './bounded.js';
import { clusterError, httpStatusOf, isNotFound } from './errors.js';

const PAGE = 500;
/** pod-template-hash values per ReplicaSet list: ~1.2 KB of selector, well under any URL limit. */
const HASHES_PER_LIST = 100;
/** A label value (what may go into a selector unquoted); anything else is left to a GET. */
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

export function toNodeInfo(n: V1Node): NodeInfo {
  const addresses = n.status?.addresses ?? [];
  const ready = (n.status?.conditions ?? []).find((c) => c.type === 'Ready');
  const podCIDRs = n.spec?.podCIDRs?.length ? n.spec.podCIDRs : n.spec?.podCIDR ? [n.spec.podCIDR] : [];
  const info: NodeInfo = {
    name: n.metadata?.name ?? '',
    labels: { ...(n.metadata?.labels ?? {}) },
    ready: ready?.status === 'True',
    podCIDRs: [...podCIDRs],
  };
  const internalIP = addresses.find((a) => a.type === 'InternalIP')?.address;
  if (internalIP) info.internalIP = internalIP;
  if (n.spec?.providerID) info.providerID = n.spec.providerID;
  return info;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The fields of a wire object to keep: `true` keeps a field whole, a shape keeps that much of an object,
 * `[shape]` that much of each object of an array. A field absent stays absent; a value not shaped as the
 * shape expects (not an object, not an array, an array's non-object element) stays as it is, so
 * client-node decodes it as it would have.
 */
type Fields = { readonly [key: string]: true | Fields | readonly [Fields] };

function cutTo(o: Record<string, unknown>, fields: Fields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, keep] of Object.entries(fields)) {
    if (!(k in o)) continue;
    const v = o[k];
    if (keep === true) out[k] = v;
    else if (Array.isArray(keep)) {
      const each = keep[0] as Fields;
      out[k] = Array.isArray(v) ? v.map((e) => (isRecord(e) ? cutTo(e, each) : e)) : v;
    } else out[k] = isRecord(v) ? cutTo(v, keep as Fields) : v;
  }
  return out;
}

/** What toNodeInfo reads: name, labels, pod CIDRs, providerID, addresses and the conditions' type and status. */
const NODE_FIELDS: Fields = {
  apiVersion: true,
  kind: true,
  metadata: { name: true, labels: true },
  spec: { podCIDR: true, podCIDRs: true, providerID: true },
  status: { addresses: true, conditions: [{ type: true, status: true }] },
};

/**
 * What podsOn and toPodInfo read: namespace, name, uid, labels, annotations and owner references; the node,
 * hostNetwork and the containers' names; the phase and the pod's IPs.
 */
const POD_FIELDS: Fields = {
  apiVersion: true,
  kind: true,
  metadata: {
    name: true,
    namespace: true,
    uid: true,
    labels: true,
    annotations: true,
    ownerReferences: true,
  },
  spec: { nodeName: true, hostNetwork: true, containers: [{ name: true }] },
  status: { phase: true, podIP: true, podIPs: [{ ip: true }] },
};

/** A node of a list page (wire JSON) cut to {@link NODE_FIELDS}; anything not shaped like a node stays as it is. */
const nodeFieldsOnly = (item: unknown): unknown => (isRecord(item) ? cutTo(item, NODE_FIELDS) : item);

/** A pod of a list page (wire JSON) cut to {@link POD_FIELDS}; anything not shaped like a pod stays as it is. */
export const podFieldsOnly = (item: unknown): unknown => (isRecord(item) ? cutTo(item, POD_FIELDS) : item);

/**
 * client-node middleware for `list nodes`: a 2xx JSON page reaches client-node's decoder with its nodes cut
 * to nodeFieldsOnly. Its ObjectSerializer walks every field of every object it decodes, and a node is
 * mostly status the scanner never reads (3,000 nodes cost the scan ~0.2 s of decoding on its critical
 * path). The request, its authentication and every other answer (errors, Status bodies, a body that is not
 * JSON) go through client-node unchanged.
 */
export const nodeListFieldsOnly: ObservableMiddleware = listFieldsOnly(nodeFieldsOnly);

/**
 * The same for `list pods on node`: a pod is mostly spec and status the scanner never reads (a hot node's
 * 250 pods took ~12 ms of decoding between the list's answer and the first exec).
 */
export const podListFieldsOnly: ObservableMiddleware = listFieldsOnly(podFieldsOnly);

/** client-node middleware: a 2xx JSON list page reaches its decoder with each item cut by `cut`. */
function listFieldsOnly(cutItem: (item: unknown) => unknown): ObservableMiddleware {
  return {
    pre: (ctx) => new Observable(Promise.resolve(ctx)),
    post: (res) =>
      new Observable(
        (async () => {
          if (res.httpStatusCode < 200 || res.httpStatusCode > 299) return res;
          const text = await res.body.text();
          let cut = text;
          try {
            const list: unknown = JSON.parse(text);
            if (isRecord(list) && Array.isArray(list.items))
              cut = JSON.stringify({ ...list, items: list.items.map(cutItem) });
          } catch {
            // Not JSON: client-node says so as it would have.
          }
          return new ResponseContext(
            res.httpStatusCode,
            res.headers,
            new SelfDecodingBody(Promise.resolve(Buffer.from(cut))),
          );
        })(),
      ),
  };
}

const toOwner = (o: V1OwnerReference): OwnerReference => ({
  apiVersion: o.apiVersion,
  kind: o.kind,
  name: o.name,
  uid: o.uid,
  ...(o.controller === undefined ? {} : { controller: o.controller }),
});

/** The container to exec into: the `kubectl.kubernetes.io/default-container` annotation, else the first. */
function defaultContainer(p: V1Pod, names: string[]): string | undefined {
  const annotated = p.metadata?.annotations?.['kubectl.kubernetes.io/default-container'];
  if (annotated && names.includes(annotated)) return annotated;
  return names[0];
}

export function toPodInfo(p: V1Pod): PodInfo {
  const containers = (p.spec?.containers ?? []).map((c) => c.name);
  const info: PodInfo = {
    namespace: p.metadata?.namespace ?? '',
    name: p.metadata?.name ?? '',
    node: p.spec?.nodeName ?? '',
    hostNetwork: p.spec?.hostNetwork === true,
    phase: p.status?.phase ?? 'Unknown',
    labels: { ...(p.metadata?.labels ?? {}) },
    annotations: { ...(p.metadata?.annotations ?? {}) },
    ownerReferences: (p.metadata?.ownerReferences ?? []).map(toOwner),
    containers,
  };
  const container = defaultContainer(p, containers);
  if (container !== undefined) info.container = container;
  if (p.status?.podIP) info.ip = p.status.podIP;
  const ips = (p.status?.podIPs ?? [])
    .map((a) => a.ip)
    .filter((a): a is string => typeof a === 'string' && a !== '');
  if (ips.length > 0) info.ips = ips;
  if (p.metadata?.uid) info.uid = p.metadata.uid;
  return info;
}

/** The controlling owner: the reference with `controller: true` (what kubectl and the controllers use). */
export function controllerOf(
  owners: readonly OwnerReference[] | readonly V1OwnerReference[] | undefined,
): OwnerReference | undefined {
  const c = (owners ?? []).find((o) => o.controller === true);
  return c === undefined ? undefined : toOwner(c as V1OwnerReference);
}

const num = (n: number | undefined): number => (typeof n === 'number' && Number.isFinite(n) ? n : 0);

const meta = (m: V1ObjectMeta | undefined) => ({
  labels: { ...(m?.labels ?? {}) },
  annotations: { ...(m?.annotations ?? {}) },
  generation: num(m?.generation),
  ...(m?.resourceVersion ? { resourceVersion: m.resourceVersion } : {}),
});

export function deploymentStatus(ref: WorkloadRef, d: V1Deployment): WorkloadStatus {
  const replicas = d.spec?.replicas ?? 1;
  const available = num(d.status?.availableReplicas);
  return {
    ref,
    ...meta(d.metadata),
    replicas,
    updatedReplicas: num(d.status?.updatedReplicas),
    availableReplicas: available,
    unavailableReplicas: d.status?.unavailableReplicas ?? Math.max(0, replicas - available),
    paused: d.spec?.paused === true,
    observedGeneration: num(d.status?.observedGeneration),
    // The API server defaults it to RollingUpdate.
    strategy: d.spec?.strategy?.type ?? 'RollingUpdate',
  };
}

export function statefulSetStatus(ref: WorkloadRef, s: V1StatefulSet): WorkloadStatus {
  const replicas = s.spec?.replicas ?? 1;
  const available = s.status?.availableReplicas ?? num(s.status?.readyReplicas);
  return {
    ref,
    ...meta(s.metadata),
    replicas,
    updatedReplicas: num(s.status?.updatedReplicas),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, replicas - available),
    paused: false,
    observedGeneration: num(s.status?.observedGeneration),
  };
}

export function daemonSetStatus(ref: WorkloadRef, d: V1DaemonSet): WorkloadStatus {
  const desired = num(d.status?.desiredNumberScheduled);
  const available = d.status?.numberAvailable ?? Math.max(0, desired - num(d.status?.numberUnavailable));
  return {
    ref,
    ...meta(d.metadata),
    replicas: desired,
    updatedReplicas: num(d.status?.updatedNumberScheduled),
    availableReplicas: available,
    unavailableReplicas: d.status?.numberUnavailable ?? Math.max(0, desired - available),
    paused: false,
    observedGeneration: num(d.status?.observedGeneration),
  };
}

export interface ClusterReaderOptions {
  /** Per API call (default 20 s); the caller's signal (the run's deadline) bounds it too. */
  timeoutMs?: number;
}

/** A reader for one run: its owner cache lives as long as the reader. */
export function clusterReader(kc: KubeConfig, options: ClusterReaderOptions = {}): ClusterReader {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  // namespace/Kind/name of an intermediate owner (ReplicaSet, Job) → its controller, as a promise.
  const parents = new Map<string, Promise<OwnerReference | undefined>>();

  /** One API call bounded by its own timeout and the run's signal; `f` gets client-node options carrying both. */
  const call = async <T>(
    what: string,
    signal: AbortSignal | undefined,
    f: (opts: ReturnType<typeof signalOptions>) => Promise<T>,
  ): Promise<T> => {
    try {
      return await boundedCall(what, signal ? { signal, timeoutMs } : { timeoutMs }, (s) =>
        f(signalOptions(s)),
      );
    } catch (e) {
      throw clusterError(what, e);
    }
  };

  /** The controller of a ReplicaSet or Job; a deleted one (404) has none. */
  const parentOf = (
    namespace: string,
    kind: 'ReplicaSet' | 'Job',
    name: string,
    signal: AbortSignal | undefined,
  ): Promise<OwnerReference | undefined> => {
    const key = `${namespace}/${kind}/${name}`;
    let p = parents.get(key);
    if (p === undefined) {
      p = (async () => {
        try {
          const obj = await call<{ metadata?: V1ObjectMeta }>(`get ${kind} ${key}`, signal, (o) =>
            kind === 'ReplicaSet'
              ? apps.readNamespacedReplicaSet({ namespace, name }, o)
              : batch.readNamespacedJob({ namespace, name }, o),
          );
          return controllerOf(obj.metadata?.ownerReferences);
        } catch (e) {
          // Deleted (404); or a Job the job's RBAC may not read (infra/kubernetes/rbac.yaml grants no batch
          // access: Jobs and CronJobs are never restarted, so the Job itself is a good enough name).
          if (isNotFound(e) || (kind === 'Job' && httpStatusOf(e) === 403)) return undefined;
          throw clusterError(`get ${kind} ${key}`, e);
        }
      })();
      // A failure is not cached: the next pod asks again.
      p.catch(() => parents.delete(key));
      parents.set(key, p);
    }
    return p;
  };

  /**
   * One cluster-wide list of the ReplicaSets that own these pods, selected by their `pod-template-hash`
   * label (the Deployment controller puts it on the ReplicaSet and its pods): requests O(1) per
   * HASHES_PER_LIST owners instead of one GET each, and a response of just those ReplicaSets. Each
   * ReplicaSet found goes into the owner cache; one not found (a bare ReplicaSet, one created since) and
   * every one after a failed list is left to ownerOf's own GET, so results and errors are today's.
   */
  const prefetchReplicaSets = async (pods: readonly PodInfo[], signal: AbortSignal | undefined) => {
    const wanted = new Map<string, { namespace: string; name: string }>();
    const hashes = new Set<string>();
    for (const pod of pods) {
      const owner = controllerOf(pod.ownerReferences);
      const hash = pod.labels['pod-template-hash'];
      if (owner?.kind !== 'ReplicaSet' || !hash || !LABEL_VALUE.test(hash)) continue;
      const key = `${pod.namespace}/ReplicaSet/${owner.name}`;
      if (parents.has(key)) continue;
      wanted.set(key, { namespace: pod.namespace, name: owner.name });
      hashes.add(hash);
    }
    const all = [...hashes].sort();
    for (let i = 0; i < all.length; i += HASHES_PER_LIST) {
      const selector = `pod-template-hash in (${all.slice(i, i + HASHES_PER_LIST).join(',')})`;
      let cont: string | undefined;
      try {
        do {
          const list = await call('list ReplicaSets by pod-template-hash', signal, (o) =>
            apps.listReplicaSetForAllNamespaces(
              { labelSelector: selector, limit: PAGE, ...(cont ? { _continue: cont } : {}) },
              o,
            ),
          );
          for (const rs of list.items) {
            const key = `${rs.metadata?.namespace ?? ''}/ReplicaSet/${rs.metadata?.name ?? ''}`;
            if (!wanted.has(key) || parents.has(key)) continue;
            parents.set(key, Promise.resolve(controllerOf(rs.metadata?.ownerReferences)));
          }
          cont = list.metadata?._continue || undefined;
        } while (cont);
      } catch {
        // Partial failure is data: the owners not cached are read one by one by ownerOf, whose
        // errors (or successes) are exactly those of a run without this list.
      }
    }
  };

  return {
    async prefetchOwners(pods, signal) {
      await prefetchReplicaSets(pods, signal);
    },

    async nodes(signal) {
      const out: NodeInfo[] = [];
      let cont: string | undefined;
      do {
        const list = await call('list nodes', signal, (o) =>
          core.listNode(
            { limit: PAGE, ...(cont ? { _continue: cont } : {}) },
            { ...o, middleware: [...(o.middleware ?? []), nodeListFieldsOnly] },
          ),
        );
        out.push(...list.items.map(toNodeInfo));
        cont = list.metadata?._continue || undefined;
      } while (cont);
      return out;
    },

    async podsOn(node, signal) {
      const out: PodInfo[] = [];
      let cont: string | undefined;
      do {
        const list = await call(`list pods on node ${node}`, signal, (o) =>
          core.listPodForAllNamespaces(
            {
              fieldSelector: `spec.nodeName=${node}`,
              limit: PAGE,
              ...(cont ? { _continue: cont } : {}),
            },
            { ...o, middleware: [...(o.middleware ?? []), podListFieldsOnly] },
          ),
        );
        for (const p of list.items) {
          // Only running pods hold sockets worth reading; the field selector is the server's promise, checked anyway.
          if (p.status?.phase !== 'Running' || p.spec?.nodeName !== node) continue;
          out.push(toPodInfo(p));
        }
        cont = list.metadata?._continue || undefined;
      } while (cont);
      out.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
      return out;
    },

    async ownerOf(pod, signal) {
      const owner = controllerOf(pod.ownerReferences);
      if (owner === undefined) return null;
      const ns = pod.namespace;
      if (owner.kind === 'ReplicaSet' || owner.kind === 'Job') {
        // Pod → ReplicaSet → Deployment, Pod → Job → CronJob; a bare ReplicaSet or Job is the workload itself.
        const parent = await parentOf(ns, owner.kind, owner.name, signal);
        if (parent !== undefined) return { namespace: ns, kind: parent.kind, name: parent.name };
      }
      // A mirror pod's "owner" is its Node: no workload to act on.
      if (owner.kind === 'Node') return null;
      return { namespace: ns, kind: owner.kind, name: owner.name };
    },

    async workload(ref, signal) {
      const what = `get ${ref.kind} ${ref.namespace}/${ref.name}`;
      const { namespace, name } = ref;
      switch (ref.kind) {
        case 'Deployment':
          return deploymentStatus(
            ref,
            await call(what, signal, (o) => apps.readNamespacedDeployment({ namespace, name }, o)),
          );
        case 'StatefulSet':
          return statefulSetStatus(
            ref,
            await call(what, signal, (o) => apps.readNamespacedStatefulSet({ namespace, name }, o)),
          );
        case 'DaemonSet':
          return daemonSetStatus(
            ref,
            await call(what, signal, (o) => apps.readNamespacedDaemonSet({ namespace, name }, o)),
          );
        default:
          throw new ClusterError(`${what}: kind ${ref.kind} has no restartable status`);
      }
    },

    async daemonSetEnv(namespace, name, signal) {
      let ds: V1DaemonSet;
      try {
        ds = await call(`get DaemonSet ${namespace}/${name}`, signal, (o) =>
          apps.readNamespacedDaemonSet({ namespace, name }, o),
        );
      } catch (e) {
        if (isNotFound(e)) return null;
        throw clusterError(`get DaemonSet ${namespace}/${name}`, e);
      }
      const env: Record<string, string> = {};
      for (const v of ds.spec?.template?.spec?.containers?.[0]?.env ?? []) {
        if (v.value !== undefined) env[v.name] = v.value;
      }
      return env;
    },
  };
}
