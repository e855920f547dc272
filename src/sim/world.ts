// The simulated world: the snapshot plus live Kubernetes objects, resourceVersions, and a controller
// that replaces a workload's pods when its pod template changes (`kubectl rollout restart`).
//
// Besides the snapshot's workloads the world holds what every cluster has: the namespaces default,
// kube-system, kube-public, kube-node-lease and snatguard (the job's); an `aws-node` DaemonSet in
// kube-system (provider aws, env = cloud.aws.awsNodeEnv, one hostNetwork pod per node); and, unless
// the snapshot already has hostNetwork pods, a `kube-proxy` DaemonSet with one hostNetwork pod per node
// (as the clouds ship it: on EKS its image has no `cat`, on AKS its pods are labelled
// `component=kube-proxy`; ../shared/reference/cloud-facts.md); and, unless the snapshot has a workload
// named `snatguard-node-probe` (give it `pods: []` for a cluster without it), snatguard's own node probe
// as infra/kubernetes/node-probe.yaml deploys it, so the conntrack probe has a pod on every node.

import { defaultPortsPerIp, LB_DEFAULT_MAX_POOL } from '../advice/capacity.js';
import type { AddressClass, ConntrackReading } from '../model.js';
import { type AddressClassifier, createClassifier } from '../sockets/address.js';
import type { SimBackend } from './backend.js';
import { sha256Hex } from './hash.js';
import { RESOURCES, type ResourceType } from './kube/resources.js';
import {
  type ConcreteSocket,
  expandSockets,
  renderTables,
  snatByDestination,
  snatBySpec,
} from './kube/sockets.js';
import {
  ApiError,
  alreadyExists,
  conflict,
  invalid,
  notFound,
  qualified,
  statusBody,
} from './kube/status.js';
import {
  checkedPodKeys,
  type ExecBehaviour,
  intToIpv4,
  ipv4ToInt,
  nameChars,
  type Snapshot,
  type SnapshotFrame,
  type SnapshotNode,
  type SnapshotSocket,
  type SnapshotWorkload,
} from './snapshot.js';
import type { NodeMetrics, RecordedRequest, SimFaults, SimWorld } from './types.js';

/** snatguard's node probe DaemonSet (infra/kubernetes/node-probe.yaml). */
const NODE_PROBE = 'snatguard-node-probe';

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are open JSON
export type Json = any;

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  generation?: number;
  creationTimestamp: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: {
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
    blockOwnerDeletion?: boolean;
  }[];
  [k: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Json;
  status?: Json;
  [k: string]: unknown;
}

/** An object as a client sends it: the server fills uid, resourceVersion and timestamps. */
export type NewObject = Omit<KubeObject, 'metadata'> & { metadata: Partial<ObjectMeta> };

/** What the simulator knows about a running pod beyond its object: its sockets and how exec behaves. */
export interface PodRuntime {
  namespace: string;
  name: string;
  /** metadata.uid of the Pod object (the kubelet names the pod's cgroup after it). */
  uid: string;
  node: string;
  ip: string;
  hostNetwork: boolean;
  /** In the host's PID namespace (snatguard-node-sockets, infra/kubernetes/node-sockets.yaml). */
  hostPID?: boolean;
  exec: ExecBehaviour;
  container: string;
  sockets: readonly SnapshotSocket[];
  /** Cached expansion and rendering; a restart makes a new runtime, so nothing goes stale. */
  concrete?: ConcreteSocket[];
  tables?: { tcp: string; tcp6: string };
}

interface WorkloadRuntime {
  kind: 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'ReplicaSet' | 'Job' | 'Pod';
  namespace: string;
  name: string;
  container: string;
  afterRestart?: readonly SnapshotSocket[];
  /** Deployment: pod-template-hash of the current ReplicaSet; StatefulSet/DaemonSet: controller-revision-hash. */
  hash: string;
  revision: number;
  /** Job pods: the uid of the (unserved) Job their ownerReference names. */
  jobUid?: string;
}

export interface WorldOptions {
  now?: () => Date;
  /** Live answers for some pods and nodes (src/sim/backend.ts); the snapshot answers the rest. */
  backend?: SimBackend;
  /**
   * Seed the workloads in steps that yield to the event loop, from startSeeding() on (`nodesSeeded`
   * settles when the namespaces and nodes are, `seeded` when everything is), for a simulator process that
   * says it is ready first and answers its IPC, and the requests that read no workload or pod, while it
   * seeds. `sliceMs`: how long a step runs before it yields (default 2). Default: seeded before the
   * constructor returns.
   */
  seedInSteps?: boolean | { sliceMs: number };
}

const WORKLOAD_RESOURCES: Record<string, string> = {
  Deployment: 'deployments',
  StatefulSet: 'statefulsets',
  DaemonSet: 'daemonsets',
  ReplicaSet: 'replicasets',
};

/** Azure's default SNAT ports per backend instance by pool size (the simulator caps pools at 1,000). */
export function defaultSnatPorts(nodes: number): number {
  return defaultPortsPerIp(Math.min(Math.max(nodes, 1), LB_DEFAULT_MAX_POOL));
}

const DEFAULT_CONNTRACK_MAX = 131072;
/** How long a step of warming (every node's derived metrics, after seeding) runs before it yields. */
const WARM_SLICE_MS = 2;
/**
 * How long a step of seeding (seedInSteps) runs before it yields: node and namespace reads, leases and
 * config maps are answered while the workloads are seeded, and each waits this long at most.
 */
const SEED_SLICE_MS = 2;
const SYSTEM_NAMESPACES = ['default', 'kube-node-lease', 'kube-public', 'kube-system', 'snatguard'];

/**
 * A deep copy of plain JSON data (what Kubernetes objects are): several times faster than structuredClone,
 * which dominated seeding a 30k-pod world. An own `__proto__` key (JSON.parse makes them) stays a key.
 */
function clone<T>(o: T): T {
  if (o === null || typeof o !== 'object') return o;
  if (Array.isArray(o)) return o.map(clone) as T;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    const v = clone((o as Record<string, unknown>)[k]);
    if (k === '__proto__')
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return out as T;
}
const canonicalJson = (v: unknown): string =>
  JSON.stringify(v, (_k, val) =>
    val && typeof val === 'object' && !Array.isArray(val)
      ? Object.fromEntries(Object.entries(val).sort(([a], [b]) => (a < b ? -1 : 1)))
      : val,
  );

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Values by key where an entry may still be pending: registered with a number (what its builder needs to
 * find its data) and built by `build` the first time anything reads it. The store holds the objects of
 * each resource this way, and the world its pods' runtimes: a pod seeded from the snapshot costs an
 * index entry until something asks for it (issue 13: a 100k-pod world answers a node list and three
 * nodes' pods without building 100k pod objects). Every read (get, has, iteration, size) sees pending
 * entries as present.
 */
export class Lazy<V> extends Map<string, V> {
  private readonly pending = new Map<string, number>();

  constructor(private readonly build: (key: string, ref: number) => V = unbuildable) {
    super();
  }

  /** Registers an entry that `build(key, ref)` makes when it is first read. */
  defer(key: string, ref: number): void {
    if (super.size > 0) super.delete(key);
    this.pending.set(key, ref);
  }

  /** Entries not built yet. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** The value if it is built, without building it. */
  peek(key: string): V | undefined {
    return super.get(key);
  }

  /** The pending entry's number, if `key` is pending. */
  pendingRef(key: string): number | undefined {
    return this.pending.get(key);
  }

  /** Every key, built or not, without building anything. */
  allKeys(): string[] {
    return [...super.keys(), ...this.pending.keys()];
  }

  override get(key: string): V | undefined {
    const o = super.get(key);
    if (o !== undefined) return o;
    const ref = this.pending.get(key);
    if (ref === undefined) return undefined;
    this.pending.delete(key);
    const built = this.build(key, ref);
    super.set(key, built);
    return built;
  }
  override has(key: string): boolean {
    return super.has(key) || this.pending.has(key);
  }
  override set(key: string, value: V): this {
    this.pending?.delete(key);
    return super.set(key, value);
  }
  override delete(key: string): boolean {
    const pending = this.pending.delete(key);
    return super.delete(key) || pending;
  }
  override clear(): void {
    this.pending.clear();
    super.clear();
  }
  override get size(): number {
    return super.size + this.pending.size;
  }
  private buildAll(): void {
    for (const key of [...this.pending.keys()]) this.get(key);
  }
  override keys(): MapIterator<string> {
    this.buildAll();
    return super.keys();
  }
  override values(): MapIterator<V> {
    this.buildAll();
    return super.values();
  }
  override entries(): MapIterator<[string, V]> {
    this.buildAll();
    return super.entries();
  }
  override [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }
  override forEach(fn: (value: V, key: string, map: Map<string, V>) => void, that?: unknown) {
    this.buildAll();
    super.forEach(fn, that);
  }
}

function unbuildable(key: string): never {
  throw new Error(`nothing builds ${key}`);
}

/**
 * Pods created together (a workload's pods at seeding, or a restart's replacements): what their objects
 * and runtimes are built from, fixed when they are created. Pod `i` has the batch's uid serial and
 * resourceVersion plus `i` (create() would have given it those then).
 */
interface PodBatch {
  kind: WorkloadRuntime['kind'];
  namespace: string;
  workload: string;
  hash: string;
  revision: number;
  container: string;
  jobUid: string;
  /** sha256 of the workload's name: the image digest its pods report (worked out when one is built). */
  imageDigest?: string;
  ownerRef: ReturnType<World['controllerRef']> | undefined;
  templateLabels: Record<string, string>;
  templateAnnotations: Record<string, string>;
  pods: readonly BatchPod[];
  firstSerial: number;
  firstRv: number;
  createdAt: number;
}

interface BatchPod {
  name: string;
  node: string;
  ip: string;
  hostNetwork: boolean;
  exec: ExecBehaviour;
  sockets: readonly SnapshotSocket[];
}

/** What seeding fixes of an object that is built later: the values create() would have given it then. */
interface Reserved {
  uidSerial: number;
  resourceVersion: string;
  /** Epoch ms of its creation. */
  createdAt: number;
}

/**
 * The resourceVersions and uid serials seedWorkload uses for a workload of `kind` with `pods` pods: one
 * of each per object create() writes (the workload, a Deployment's ReplicaSet, each pod), a
 * resourceVersion for the status it then writes (refreshStatus; a bare Pod or Job has none), and a uid
 * for the (unserved) Job a Job's pods name. Keep in step with seedWorkload: World checks the two agree.
 */
function workloadSeedCounts(
  kind: SnapshotWorkload['kind'],
  pods: number,
): { resourceVersions: number; uids: number } {
  switch (kind) {
    case 'Deployment':
      return { resourceVersions: 2 + pods + 1, uids: 2 + pods };
    case 'StatefulSet':
    case 'DaemonSet':
    case 'ReplicaSet':
      return { resourceVersions: 1 + pods + 1, uids: 1 + pods };
    case 'Job':
      return { resourceVersions: pods, uids: pods > 0 ? 1 + pods : 0 };
    case 'Pod':
      return { resourceVersions: pods, uids: pods };
  }
}

export class World implements SimWorld {
  /** The snapshot as the world stands now: a timeline frame replaces it (applyFrame). */
  snapshot: Snapshot;
  readonly requests: RecordedRequest[] = [];
  readonly faults: SimFaults = { execLatencyMs: 0, failNext: {}, down: new Set() };
  /** Requests per key: `kube list pods`, `kube exec pods`, `kube patch deployments`, `azure GET` … */
  readonly requestCounts: Record<string, number> = {};
  readonly classifier: AddressClassifier;
  readonly serverVersion: { major: string; minor: string; gitVersion: string };
  readonly backend: SimBackend | undefined;

  private readonly now: () => Date;
  private readonly store = new Map<string, Lazy<KubeObject>>();
  private readonly pods = new Lazy<PodRuntime>((k, ref) => this.buildPodRuntime(k, ref));
  /** Pod `ref` of the lazy maps: batch and index in it. */
  private readonly podBatches: PodBatch[] = [];
  private readonly podIndexes: number[] = [];
  /** Builders of the objects seeding deferred (a Deployment and its ReplicaSet), by their Lazy ref. */
  private readonly deferred: ((() => KubeObject) | undefined)[] = [];
  /** The labels each deferred object will have (a label selector reads them without building it). */
  private readonly deferredLabels: (Record<string, string> | undefined)[] = [];
  private readonly podRefBatch: number[] = [];
  private readonly workloads = new Map<string, WorkloadRuntime>();
  private readonly hostSockets = new Map<string, ConcreteSocket[]>();
  private rv = 1000;
  private uidCounter = 0;
  /**
   * Pods by spec.nodeName and by owner uid (store keys), kept up to date on every pod write, as a real
   * API server's watch cache is indexed: a field-selector list costs what it returns, not the cluster.
   */
  private readonly podsByNode = new Map<string, Set<string>>();
  private readonly podsByOwner = new Map<string, Set<string>>();
  private readonly nodesByName = new Map<string, Snapshot['nodes'][number]>();
  /** The classifier, remembering each remote address's class (100k pods name a few destinations). */
  private readonly remoteClassifier: AddressClassifier;
  /** nodeDestinations per node until the pods or nodes change (changedPods). */
  private readonly destinations = new Map<string, Map<string, number>>();
  /**
   * While the snapshot's workloads are seeded: each node's SNAT destinations as destinationsOf adds them
   * up (its host sockets, then its pods in the order they are seeded), kept from the end of seeding on;
   * null for a node whose sum needs a pod's sockets expanded (destinationsOf works it out when asked).
   * Undefined at other times, and when a backend answers the metrics.
   */
  private seedSnat: Map<string, Map<string, number> | null> | undefined;
  /** True while the snapshot's workloads are seeded (createPodsOf's pods are the snapshot's). */
  private seedingWorkloads = false;

  constructor(snapshot: Snapshot, opts: WorldOptions = {}) {
    this.snapshot = snapshot;
    for (const n of snapshot.nodes) this.nodesByName.set(n.name, n);
    this.now = opts.now ?? (() => new Date());
    this.backend = opts.backend;
    this.classifier = createClassifier({
      clusterCidrs: [snapshot.cluster.podCIDR, snapshot.cluster.serviceCIDR],
    });
    const classes = new Map<string, AddressClass>();
    const { classifier } = this;
    this.remoteClassifier = {
      ...classifier,
      classify: (address) => {
        if (typeof address !== 'string') return classifier.classify(address);
        let c = classes.get(address);
        if (c === undefined) {
          c = classifier.classify(address);
          classes.set(address, c);
        }
        return c;
      },
    };
    const v = /^v?(\d+)\.(\d+)(?:\.(\d+))?$/.exec(snapshot.cluster.version);
    const major = v?.[1] ?? '1';
    const minor = v?.[2] ?? '31';
    this.serverVersion = { major, minor, gitVersion: `v${major}.${minor}.${v?.[3] ?? '0'}` };
    for (const r of RESOURCES)
      this.store.set(
        r.resource,
        r.resource === 'pods'
          ? new Lazy((k, ref) => this.buildPodObject(k, ref))
          : new Lazy<KubeObject>((_k, ref) => this.buildDeferred(ref)),
      );
    this.seedSnapshot = snapshot;
    // What seeding will make is numbered now: whatever else is made meanwhile comes after it.
    const { resourceVersions, uids } = this.seedCounts();
    this.seedCursor = { rv: this.rv, uid: this.uidCounter };
    this.seedEnd = { rv: this.rv + resourceVersions, uid: this.uidCounter + uids };
    this.rv = this.seedEnd.rv;
    this.uidCounter = this.seedEnd.uid;
    const steps = opts.seedInSteps;
    if (steps) {
      let begin = () => {};
      const sliceMs = steps === true ? SEED_SLICE_MS : steps.sliceMs;
      let warm = () => {};
      this.warmed = new Promise<void>((done) => {
        // Warming runs while the scanner's first requests (lease, state, node list pages) come in, one
        // after the other: it yields every WARM_SLICE_MS, so each waits that long at most, not sliceMs.
        warm = () => void this.inSteps(this.warmSteps(), Math.min(sliceMs, WARM_SLICE_MS)).then(done, done);
      });
      let nodesDone = () => {};
      let nodesFailed = (_e: unknown) => {};
      this.nodesSeeded = new Promise<void>((ok, fail) => {
        nodesDone = ok;
        nodesFailed = fail;
      });
      this.seeded = new Promise<void>((ok, fail) => {
        begin = () =>
          void this.inSteps(this.onReserved(this.seedSteps(() => nodesDone())), sliceMs).then(
            () => {
              ok();
              warm();
            },
            (e: unknown) => {
              // (Settled already when the nodes were seeded: then this does nothing.)
              nodesFailed(e);
              fail(e);
            },
          );
      });
      // (Whoever waits on them handles a failure; these only keep it from being unhandled.)
      this.nodesSeeded.catch(() => {});
      this.startSeeding = () => {
        this.startSeeding = () => {};
        begin();
      };
    } else {
      for (const _ of this.onReserved(this.seedSteps(() => {})));
      this.nodesSeeded = Promise.resolve();
      this.seeded = Promise.resolve();
      this.warmed = Promise.resolve();
    }
  }

  /**
   * With seedInSteps: settles once every node's derived SNAT use is known, worked out in steps after the
   * seeding (while the scanner reads leases and nodes). Every scan asks the cloud's metrics of every node
   * (the load balancer's per backend, the NAT gateway's summed), so the first metrics query no longer
   * derives them on the scan's critical path. At once otherwise (nothing is worked out ahead).
   */
  readonly warmed: Promise<void>;

  /** Nodes whose SNAT destinations are derived and kept (nodeDestinations' cache). */
  get derivedNodes(): number {
    return this.destinations.size;
  }

  /** One step per node: its metrics, derived as nodeMetrics would (and kept until pods change). */
  private *warmSteps(): Generator<void> {
    // Live metrics (a backend's) are read when asked, never ahead.
    if (this.backend?.nodeMetrics) return;
    for (const node of [...this.nodesByName.keys()]) {
      yield;
      this.nodeMetrics(node);
    }
  }

  /** With seedInSteps: begins seeding (once; its server listens first). Otherwise nothing to do. */
  startSeeding: () => void = () => {};

  /** Settles when the world is seeded (at once unless seedInSteps); rejects with what stopped it. */
  readonly seeded: Promise<void>;

  /**
   * Settles when the namespaces and the nodes are seeded, before the first workload (at once unless
   * seedInSteps); rejects with what stopped seeding before that. From then on the world answers what does
   * not read workloads or pods (node and namespace reads, leases, config maps) exactly as it will once
   * seeded: what seeding makes is numbered before it begins (onReserved).
   */
  readonly nodesSeeded: Promise<void>;
  /** The resourceVersion and uid serial seeding has reached, and where it ends (onReserved). */
  private seedCursor: { rv: number; uid: number };
  private readonly seedEnd: { rv: number; uid: number };
  private readonly seedSnapshot: Snapshot;
  private usedIpsSet: Set<string> | undefined;

  /** Every IP a pod or node has had (a restart's new pods take others): built when first needed. */
  private get usedIps(): Set<string> {
    if (this.usedIpsSet === undefined) {
      const s = this.seedSnapshot;
      this.usedIpsSet = new Set();
      for (const w of s.workloads) for (const p of w.pods) this.usedIpsSet.add(p.ip);
      for (const n of s.nodes) this.usedIpsSet.add(n.internalIP);
    }
    return this.usedIpsSet;
  }

  /**
   * Runs the seeding steps on the resourceVersions and uid serials numbered for them before they began
   * (seedCounts): between two steps the world's own counters stand past everything seeding makes, so an
   * object written while the world is seeded in steps (a lease, a config map) gets the numbers it gets
   * once it is seeded, and seeding's objects get theirs, as if nothing had come between. Throws when
   * seeding used other numbers than were counted for it (seedCounts and seedSteps disagree).
   */
  private *onReserved(steps: Generator<void>): Generator<void> {
    for (;;) {
      const own = { rv: this.rv, uid: this.uidCounter };
      this.rv = this.seedCursor.rv;
      this.uidCounter = this.seedCursor.uid;
      let done: boolean | undefined;
      try {
        done = steps.next().done;
      } finally {
        this.seedCursor = { rv: this.rv, uid: this.uidCounter };
        this.rv = own.rv;
        this.uidCounter = own.uid;
      }
      if (done) break;
      yield;
    }
    const { rv, uid } = this.seedCursor;
    if (rv !== this.seedEnd.rv || uid !== this.seedEnd.uid)
      throw new Error(
        `seeding ended at resourceVersion ${rv} and uid serial ${uid}, not at the ${this.seedEnd.rv} and ${this.seedEnd.uid} counted for it`,
      );
  }

  /** Runs `steps`, yielding to the event loop after each `sliceMs` of work. */
  private async inSteps(steps: Generator<void>, sliceMs: number): Promise<void> {
    // Nothing runs in the caller's turn: its server says it is ready first.
    await new Promise<void>((go) => setImmediate(go));
    let since = performance.now();
    for (const _ of steps)
      if (performance.now() - since >= sliceMs) {
        await new Promise<void>((go) => setImmediate(go));
        since = performance.now();
      }
  }

  // ---------------------------------------------------------------- counters

  count(key: string): void {
    this.requestCounts[key] = (this.requestCounts[key] ?? 0) + 1;
  }

  // ---------------------------------------------------------------- store

  private key = (namespace: string | undefined, name: string): string => `${namespace ?? ''}/${name}`;

  private typeOf(resource: string): ResourceType {
    const t = RESOURCES.find((r) => r.resource === resource);
    if (!t)
      throw new ApiError(
        statusBody(404, 'NotFound', `the server could not find the requested resource (${resource})`),
      );
    return t;
  }

  /**
   * Objects of a resource, in one namespace or all; copies, sorted by namespace then name. `nodeName`
   * (pods only) reads the node index: only that node's pods are looked at.
   */
  list(resource: string, namespace?: string, nodeName?: string): KubeObject[] {
    return this.select(resource, { namespace, nodeName }).map(clone);
  }

  /**
   * list() without the copies, for a caller that only reads them before it returns (a response being
   * written): the stored objects that pass `filter`, sorted by namespace then name. Only what the node
   * index or the namespace leaves is looked at, and only what passes `filter` is built.
   */
  select(
    resource: string,
    opts: {
      namespace?: string | undefined;
      nodeName?: string | undefined;
      filter?: (o: KubeObject) => boolean;
      /** A label selector: an unbuilt object whose labels fail it is left out without being built. */
      labels?: (labels: Record<string, string>) => boolean;
    },
  ): readonly KubeObject[] {
    const map = this.store.get(resource);
    if (!map) return [];
    const { namespace, nodeName, filter, labels } = opts;
    const keys =
      resource === 'pods' && nodeName !== undefined
        ? [...(this.podsByNode.get(nodeName) ?? [])]
        : map.allKeys();
    // Store keys are `namespace/name` (`/name` when cluster-scoped): their order is the list's order.
    const prefix = namespace === undefined ? undefined : `${namespace}/`;
    const out: [string, KubeObject][] = [];
    for (const k of keys) {
      if (prefix !== undefined && !k.startsWith(prefix)) continue;
      if (labels !== undefined && resource !== 'pods') {
        const ref = map.pendingRef(k);
        const known = ref === undefined ? undefined : this.deferredLabels[ref];
        if (known !== undefined && !labels(known)) continue;
      }
      const o = map.get(k);
      if (o !== undefined && labels !== undefined && !labels(o.metadata.labels ?? {})) continue;
      if (o !== undefined && (filter === undefined || filter(o))) out.push([k, o]);
    }
    out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return out.map(([, o]) => o);
  }

  /** Keeps the pod indexes in step with one pod write (`before` and/or `after` absent on create/delete). */
  private indexPod(k: string, before: KubeObject | undefined, after: KubeObject | undefined): void {
    const node = (o: KubeObject | undefined): string[] =>
      o?.spec?.nodeName ? [o.spec.nodeName as string] : [];
    const owners = (o: KubeObject | undefined): string[] =>
      (o?.metadata.ownerReferences ?? []).map((r) => r.uid);
    this.indexPodAt(k, node(before), owners(before), node(after), owners(after));
  }

  private addToIndex(index: Map<string, Set<string>>, value: string, k: string): void {
    const set = index.get(value);
    if (set === undefined) index.set(value, new Set([k]));
    else set.add(k);
  }

  /** Moves pod `k` in the indexes: from these nodes and owner uids to those. */
  private indexPodAt(
    k: string,
    fromNodes: string[],
    fromOwners: string[],
    toNodes: string[],
    toOwners: string[],
  ) {
    const move = (index: Map<string, Set<string>>, from: string[], to: string[]): void => {
      for (const v of from) {
        const set = index.get(v);
        set?.delete(k);
        if (set?.size === 0) index.delete(v);
      }
      for (const v of to) {
        const set = index.get(v);
        if (set === undefined) index.set(v, new Set([k]));
        else set.add(k);
      }
    };
    move(this.podsByNode, fromNodes, toNodes);
    move(this.podsByOwner, fromOwners, toOwners);
  }

  /** Objects of `resource` seeded and not built yet (nothing has read them). */
  unbuilt(resource: string): number {
    return this.store.get(resource)?.pendingCount ?? 0;
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject {
    const t = this.typeOf(resource);
    const o = this.store.get(resource)?.get(this.key(t.namespaced ? namespace : undefined, name));
    if (!o) throw notFound(resource, t.group, name);
    return clone(o);
  }

  get resourceVersion(): string {
    return String(this.rv);
  }

  private nextRv(): string {
    this.rv += 1;
    return String(this.rv);
  }

  private uid(seed: string): string {
    this.uidCounter += 1;
    return this.uidOf(seed, this.uidCounter);
  }

  /** The uid of the `serial`th object the world made, from its seed (deterministic per snapshot). */
  private uidOf(seed: string, serial: number): string {
    const h = sha256Hex(`${this.snapshot.metadata.name}/${seed}/${serial}`);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }

  private timestamp(offsetMs = 0): string {
    return this.timestampAt(this.now().getTime() - offsetMs);
  }

  private timestampAt(epochMs: number): string {
    return new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  /**
   * Stores a new object: namespace must exist, name valid and free; sets uid, resourceVersion, timestamps.
   * `fresh`: the body was just built by the world itself and is handed over (not copied in), and the
   * stored object is returned (not a copy) for the caller to read only: seeding a 30k-pod world copied
   * every pod three times.
   */
  create(
    resource: string,
    namespace: string | undefined,
    body: NewObject,
    ageMs = 0,
    fresh = false,
  ): KubeObject {
    const meta = (body.metadata ?? {}) as Partial<ObjectMeta> & { generateName?: string };
    let name = meta.name;
    if (!name && meta.generateName)
      name = `${meta.generateName}${nameChars(`${this.rv}/${meta.generateName}`, 5)}`;
    const { t, ns, k } = this.admit(resource, namespace, name);
    const obj = this.stored(t, ns, k, fresh ? body : clone(body), this.reserve(ageMs));
    this.store.get(resource)!.set(k, obj);
    if (resource === 'pods') this.indexPod(k, undefined, obj);
    return fresh ? obj : clone(obj);
  }

  /** The checks of a create: namespace exists, name given, valid and free. */
  private admit(
    resource: string,
    namespace: string | undefined,
    name: string | undefined,
  ): { t: ResourceType; ns: string | undefined; k: string } {
    const t = this.typeOf(resource);
    const ns = this.admitNamespace(t, namespace);
    return { t, ns, k: this.admitName(t, ns, name) };
  }

  /** admit's first check: the namespace a namespaced object goes into exists. */
  private admitNamespace(t: ResourceType, namespace: string | undefined): string | undefined {
    const ns = t.namespaced ? namespace : undefined;
    if (t.namespaced && ns !== undefined && !this.store.get('namespaces')?.has(this.key(undefined, ns)))
      throw notFound('namespaces', '', ns);
    return ns;
  }

  /** admit's other checks: the name is given, valid and free. Returns the store key. */
  private admitName(t: ResourceType, ns: string | undefined, name: string | undefined): string {
    const k = this.admitNameFormat(t, ns, name);
    if (this.store.get(t.resource)!.has(k)) throw alreadyExists(t.resource, t.group, name!);
    return k;
  }

  /** admitName without the check that the name is free. Returns the store key. */
  private admitNameFormat(t: ResourceType, ns: string | undefined, name: string | undefined): string {
    if (!name)
      throw invalid(t.kind, t.group, '', [
        { field: 'metadata.name', message: 'Required value: name or generateName is required' },
      ]);
    if (!DNS_SUBDOMAIN.test(name) || name.length > 253)
      throw invalid(t.kind, t.group, name, [
        {
          field: 'metadata.name',
          message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
        },
      ]);
    return this.key(ns, name);
  }

  /** The uid, resourceVersion and creation time of a new object (in that order, as create() gives them). */
  private reserve(ageMs: number): Reserved {
    // (The uid itself is hashed when the object is built: uidOf(`${resource}/${key}`, uidSerial).)
    this.uidCounter += 1;
    return {
      uidSerial: this.uidCounter,
      resourceVersion: this.nextRv(),
      createdAt: this.now().getTime() - ageMs,
    };
  }

  /** The object as stored: the body (owned from here on) with the server's fields. */
  private stored(
    t: ResourceType,
    ns: string | undefined,
    k: string,
    body: NewObject,
    reserved: Reserved,
  ): KubeObject {
    const meta = (body.metadata ?? {}) as Partial<ObjectMeta> & { generateName?: string };
    const obj: KubeObject = {
      ...body,
      apiVersion: t.group ? `${t.group}/${t.version}` : t.version,
      kind: t.kind,
      metadata: {
        ...meta,
        name: k.slice(k.indexOf('/') + 1),
        ...(ns !== undefined ? { namespace: ns } : {}),
        uid: this.uidOf(`${t.resource}/${k}`, reserved.uidSerial),
        resourceVersion: reserved.resourceVersion,
        creationTimestamp: this.timestampAt(reserved.createdAt),
      } as ObjectMeta,
    };
    delete (obj.metadata as { generateName?: string }).generateName;
    if (['deployments', 'statefulsets', 'daemonsets', 'replicasets'].includes(t.resource))
      obj.metadata.generation = 1;
    return obj;
  }

  /**
   * Replaces an object (PUT): a stale `metadata.resourceVersion` is a 409 Conflict. Server-managed fields
   * (uid, creationTimestamp, generation, status of workloads) are kept; a spec change bumps generation and
   * runs the controller.
   */
  update(resource: string, namespace: string | undefined, name: string, body: KubeObject): KubeObject {
    const t = this.typeOf(resource);
    const ns = t.namespaced ? namespace : undefined;
    const map = this.store.get(resource)!;
    const k = this.key(ns, name);
    const old = map.get(k);
    if (!old) throw notFound(resource, t.group, name);
    const given = body.metadata?.resourceVersion;
    // Leases allow no unconditional update (their strategy's AllowUnconditionalUpdate is false):
    // kube-apiserver v1.20.2 answers 422 (test/fixtures/wire/kube-real/lease-update-without-resourceversion.json).
    if ((given === undefined || given === '') && resource === 'leases') {
      const message = 'Invalid value: 0x0: must be specified for an update';
      throw new ApiError(
        statusBody(
          422,
          'Invalid',
          `${qualified(resource, t.group)} "${name}" is invalid: metadata.resourceVersion: ${message}`,
          {
            name,
            group: t.group,
            kind: resource,
            causes: [{ reason: 'FieldValueInvalid', message, field: 'metadata.resourceVersion' }],
          },
        ),
      );
    }
    if (given !== undefined && given !== '' && given !== old.metadata.resourceVersion)
      throw conflict(resource, t.group, name);
    if (body.metadata?.name !== undefined && body.metadata.name !== name)
      throw new ApiError(
        statusBody(
          400,
          'BadRequest',
          `the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`,
        ),
      );
    const workload = resource in { deployments: 1, statefulsets: 1, daemonsets: 1, replicasets: 1 };
    const next: KubeObject = {
      ...clone(body),
      apiVersion: old.apiVersion,
      kind: old.kind,
      metadata: {
        ...clone(body.metadata ?? {}),
        name,
        ...(ns !== undefined ? { namespace: ns } : {}),
        uid: old.metadata.uid,
        creationTimestamp: old.metadata.creationTimestamp,
        resourceVersion: old.metadata.resourceVersion,
        ...(old.metadata.generation !== undefined ? { generation: old.metadata.generation } : {}),
      } as ObjectMeta,
    };
    if (workload) next.status = clone(old.status);
    const specChanged = canonicalJson(old.spec) !== canonicalJson(next.spec);
    if (workload && specChanged) next.metadata.generation = (old.metadata.generation ?? 1) + 1;
    if (canonicalJson(old) === canonicalJson(next)) return clone(old);
    next.metadata.resourceVersion = this.nextRv();
    map.set(k, next);
    if (resource === 'pods') this.indexPod(k, old, next);
    if (workload && specChanged) this.reconcile(resource, old, next);
    return clone(map.get(k)!);
  }

  delete(resource: string, namespace: string | undefined, name: string): KubeObject {
    const t = this.typeOf(resource);
    const ns = t.namespaced ? namespace : undefined;
    const map = this.store.get(resource)!;
    const k = this.key(ns, name);
    const old = map.get(k);
    if (!old) throw notFound(resource, t.group, name);
    map.delete(k);
    if (resource === 'pods') {
      this.pods.delete(k);
      this.indexPod(k, old, undefined);
      this.changedPods();
    }
    this.nextRv();
    return clone(old);
  }

  // ---------------------------------------------------------------- pods at run time

  podRuntime(namespace: string, name: string): PodRuntime | undefined {
    return this.pods.get(this.key(namespace, name));
  }

  /** The concrete sockets a pod's network namespace shows (a hostNetwork pod shows its node's). */
  socketsOf(pod: PodRuntime): ConcreteSocket[] {
    if (pod.hostNetwork) return this.nodeHostSockets(pod.node);
    pod.concrete ??= expandSockets(pod.sockets, pod.ip, `${pod.namespace}/${pod.name}`);
    return pod.concrete;
  }

  /** `/proc/net/tcp` and `/proc/net/tcp6` of a pod, rendered once per pod. */
  tablesOf(pod: PodRuntime): { tcp: string; tcp6: string } {
    if (pod.tables) return pod.tables;
    pod.tables = renderTables(this.socketsOf(pod));
    return pod.tables;
  }

  private nodeHostSockets(node: string): ConcreteSocket[] {
    let s = this.hostSockets.get(node);
    if (!s) {
      const n = this.nodesByName.get(node);
      s = n ? expandSockets(n.hostSockets, n.internalIP, `node/${node}`) : [];
      this.hostSockets.set(node, s);
    }
    return s;
  }

  /**
   * What the derived metrics need of each pod on `node` (key, hostNetwork, sockets), from its runtime when
   * built, else from what created it: a metrics query over every node builds no runtime.
   */
  private forPodSocketsOn(
    node: string,
    fn: (key: string, hostNetwork: boolean, sockets: readonly SnapshotSocket[]) => void,
  ): void {
    for (const key of this.podsByNode.get(node) ?? []) {
      const built = this.pods.peek(key);
      if (built !== undefined) {
        if (built.node === node) fn(key, built.hostNetwork, built.sockets);
        continue;
      }
      const ref = this.pods.pendingRef(key);
      if (ref === undefined) continue;
      const pod = this.podBatches[this.podRefBatch[ref]!]!.pods[this.podIndexes[ref]!]!;
      if (pod.node === node) fn(key, pod.hostNetwork, pod.sockets);
    }
  }

  /** The pods the world runs on `node` now (from the node index: what the node has, not the cluster). */
  podsOn(node: string): PodRuntime[] {
    const out: PodRuntime[] = [];
    for (const k of this.podsByNode.get(node) ?? []) {
      const p = this.pods.get(k);
      if (p !== undefined && p.node === node) out.push(p);
    }
    return out;
  }

  /** Conntrack of a node's own network namespace: the snapshot's, else derived from its sockets now. */
  nodeConntrack(node: string): ConntrackReading {
    const n = this.nodesByName.get(node);
    if (n?.conntrack) return { ...n.conntrack };
    let count = this.nodeHostSockets(node).filter((s) => s.state !== 'LISTEN').length;
    this.forPodSocketsOn(node, (_key, hostNetwork, sockets) => {
      if (!hostNetwork) for (const s of sockets) if (s.state !== 'LISTEN') count += s.count;
    });
    return { count, max: DEFAULT_CONNTRACK_MAX, insertFailed: 0, drop: 0, earlyDrop: 0, beLiberal: false };
  }

  /**
   * SNAT-consuming sockets of a node (its pods and host sockets) per destination `ip:port`, now. Kept until
   * a pod or a node changes: the cloud's metrics ask it of every node on every query (the LB's SNAT
   * metrics are per backend), and a real cloud answers those from series it already holds.
   */
  nodeDestinations(node: string): Map<string, number> {
    return new Map(this.destinationsOf(node));
  }

  /** nodeDestinations itself (kept: read only). */
  private destinationsOf(node: string): Map<string, number> {
    const known = this.destinations.get(node);
    if (known) return known;
    const total = snatByDestination(this.nodeHostSockets(node), this.classifier);
    this.forPodSocketsOn(node, (key, hostNetwork, sockets) => {
      // From the snapshot's socket lines when they name every destination; expanded otherwise.
      if (hostNetwork || snatBySpec(sockets, this.remoteClassifier, total)) return;
      for (const [k, v] of snatByDestination(this.socketsOf(this.pods.get(key)!), this.classifier))
        total.set(k, (total.get(k) ?? 0) + v);
    });
    this.destinations.set(node, total);
    return total;
  }

  /** Pods were added, removed or given other sockets: what was derived from them is derived again. */
  private changedPods(): void {
    if (this.destinations.size > 0) this.destinations.clear();
  }

  /** SNAPSHOT.md "Derived metrics"; fields the snapshot gives win. */
  nodeMetrics(node: string): NodeMetrics {
    const live = this.backend?.nodeMetrics?.(node);
    if (live) return live;
    const n = this.nodesByName.get(node);
    const given = n?.metrics ?? {};
    const lb = this.snapshot.cloud.azure?.loadBalancer;
    const perIp =
      lb && lb.allocatedOutboundPorts > 0
        ? lb.allocatedOutboundPorts
        : defaultSnatPorts(this.snapshot.nodes.length);
    const allocated = given.allocatedSnatPorts ?? perIp * (lb?.outboundIPs ?? 1);
    let busiest = 0;
    if (given.usedSnatPorts === undefined || given.failedSnatConnections === undefined)
      for (const v of this.destinationsOf(node).values()) busiest = Math.max(busiest, v);
    return {
      allocatedSnatPorts: allocated,
      usedSnatPorts: given.usedSnatPorts ?? Math.min(busiest, allocated),
      failedSnatConnections: given.failedSnatConnections ?? Math.max(0, busiest - allocated),
      conntrackAllowanceExceeded: given.conntrackAllowanceExceeded ?? 0,
    };
  }

  // ---------------------------------------------------------------- timeline

  /**
   * Applies one timeline frame (docs/SNAPSHOT.md "Timeline") to the live world: node metrics, conntrack and
   * host sockets replaced, nodes added (a scale-out) or removed, pods' sockets replaced. A pod the frame names
   * that a restart has replaced is left alone: its successor holds the sockets `afterRestart` gave it.
   * Returns the pods it could not change, for the caller to say so.
   */
  applyFrame(frame: SnapshotFrame): { gone: string[] } {
    const removed = new Set(frame.removeNodes);
    const nodes: SnapshotNode[] = this.snapshot.nodes.filter((n) => !removed.has(n.name));
    for (const name of removed) {
      for (const p of this.list('pods', undefined, name))
        this.delete('pods', p.metadata.namespace, p.metadata.name);
      this.delete('nodes', undefined, name);
      this.hostSockets.delete(name);
    }
    const added: string[] = [];
    for (const change of frame.nodes) {
      const i = nodes.findIndex((n) => n.name === change.name);
      const old = nodes[i];
      const next: SnapshotNode = {
        name: change.name,
        internalIP: change.internalIP ?? old?.internalIP ?? this.freeNodeIp(nodes),
        hostSockets: change.given.hostSockets ? change.hostSockets : (old?.hostSockets ?? []),
      };
      const providerID = change.providerID ?? old?.providerID;
      if (providerID) next.providerID = providerID;
      const metrics = change.metrics ?? old?.metrics;
      if (metrics) next.metrics = metrics;
      const conntrack = change.conntrack ?? old?.conntrack;
      if (conntrack) next.conntrack = conntrack;
      if (old) nodes[i] = next;
      else {
        nodes.push(next);
        added.push(next.name);
      }
      this.hostSockets.delete(change.name);
    }
    this.snapshot = { ...this.snapshot, nodes };
    // Metrics, conntrack and host sockets are read by name: the changed nodes replace the old ones.
    this.nodesByName.clear();
    for (const n of nodes) this.nodesByName.set(n.name, n);
    for (const name of added) {
      this.usedIps.add(nodes.find((n) => n.name === name)!.internalIP);
      this.create(
        'nodes',
        undefined,
        this.nodeObject(
          name,
          nodes.findIndex((n) => n.name === name),
        ),
        0,
      );
    }
    const gone: string[] = [];
    for (const p of frame.pods) {
      const k = this.key(p.namespace, p.name);
      const rt = this.pods.get(k);
      if (!rt) {
        gone.push(`${p.namespace}/${p.name}`);
        continue;
      }
      this.pods.set(k, { ...rt, sockets: p.sockets, concrete: undefined, tables: undefined });
    }
    this.changedPods();
    return { gone };
  }

  private freeNodeIp(nodes: readonly SnapshotNode[]): string {
    const taken = new Set(nodes.map((n) => n.internalIP));
    for (let k = ipv4ToInt('10.224.0.4'); ; k++) if (!taken.has(intToIpv4(k))) return intToIpv4(k);
  }

  // ---------------------------------------------------------------- building the world from the snapshot

  private nodeIndex(node: string): number {
    return Math.max(
      0,
      this.snapshot.nodes.findIndex((n) => n.name === node),
    );
  }

  private podCidrBase(): number {
    const m = /^(\d+\.\d+\.\d+\.\d+)\//.exec(this.snapshot.cluster.podCIDR);
    return ipv4ToInt(m?.[1] ?? '10.244.0.0');
  }

  private allocateIp(node: string): string {
    const base = this.podCidrBase() + this.nodeIndex(node) * 256;
    for (let k = 2; k < 65536; k++) {
      const ip = intToIpv4(base + k);
      if (!this.usedIps.has(ip)) {
        this.usedIps.add(ip);
        return ip;
      }
    }
    return intToIpv4(base + 1);
  }

  /**
   * How many resourceVersions and uid serials seedSteps uses (it is checked: onReserved). Per object
   * create() writes: one of each; per node, two uids more (nodeObject: systemUUID, bootID); per workload,
   * as seedWorkload makes it (workloadSeedCounts).
   */
  private seedCounts(): { resourceVersions: number; uids: number } {
    const s = this.snapshot;
    const namespaces = new Set([...SYSTEM_NAMESPACES, ...s.workloads.map((w) => w.namespace)]).size;
    let resourceVersions = namespaces + s.nodes.length;
    let uids = namespaces + 3 * s.nodes.length;
    const add = (kind: SnapshotWorkload['kind'], pods: number) => {
      const n = workloadSeedCounts(kind, pods);
      resourceVersions += n.resourceVersions;
      uids += n.uids;
    };
    for (const w of s.workloads) add(w.kind, w.pods.length);
    for (const _ of this.systemDaemonSets()) add('DaemonSet', s.nodes.length);
    return { resourceVersions, uids };
  }

  /** The DaemonSets the simulator adds to the snapshot's workloads (seedSystemDaemonSet), in order. */
  private systemDaemonSets(): {
    name: 'aws-node' | 'kube-proxy' | typeof NODE_PROBE;
    env: Record<string, string>;
  }[] {
    const s = this.snapshot;
    const out: ReturnType<World['systemDaemonSets']> = [];
    if (s.cloud.provider === 'aws') out.push({ name: 'aws-node', env: s.cloud.aws?.awsNodeEnv ?? {} });
    const hasHostNetwork = s.workloads.some((w) => w.pods.some((p) => p.hostNetwork));
    if (!hasHostNetwork && !s.workloads.some((w) => w.namespace === 'kube-system' && w.name === 'kube-proxy'))
      out.push({ name: 'kube-proxy', env: {} });
    if (!s.workloads.some((w) => w.name === NODE_PROBE)) out.push({ name: NODE_PROBE, env: {} });
    return out;
  }

  /**
   * Seeds the world from the snapshot: the namespaces, the nodes (100 per step), then one workload per
   * step. `nodesDone` is called once the namespaces and nodes are seeded.
   */
  private *seedSteps(nodesDone: () => void): Generator<void> {
    const s = this.snapshot;
    const day = 86_400_000;
    const namespaces = new Set([...SYSTEM_NAMESPACES, ...s.workloads.map((w) => w.namespace)]);
    for (const ns of [...namespaces].sort())
      this.create(
        'namespaces',
        undefined,
        {
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns } },
          spec: { finalizers: ['kubernetes'] },
          status: { phase: 'Active' },
        },
        30 * day,
        true,
      );
    for (const [i, n] of s.nodes.entries()) {
      // (A step per node: 3,000 nodes are a tenth of a second.)
      if (i % 100 === 0) yield;
      // (nodeObject builds a new body each call: handed over, not copied in and out.)
      this.create('nodes', undefined, this.nodeObject(n.name, i), 10 * day, true);
    }
    nodesDone();
    this.seedingWorkloads = true;
    if (!this.backend?.nodeMetrics) this.seedSnat = new Map();
    for (const w of s.workloads) {
      yield;
      this.seedWorkload(w);
    }
    yield;
    for (const { name, env } of this.systemDaemonSets()) this.seedSystemDaemonSet(name, env);
    this.seedingWorkloads = false;
    // Every node's derived SNAT use is known as seeding ends (what warming and the first metrics query
    // would otherwise work out from the node index, a lookup per pod).
    for (const [node, total] of this.seedSnat ?? []) if (total !== null) this.destinations.set(node, total);
    this.seedSnat = undefined;
  }

  private nodeObject(name: string, index: number): NewObject {
    const s = this.snapshot;
    const n = s.nodes[index]!;
    const azure = s.cloud.provider === 'azure';
    const aws = s.cloud.provider === 'aws';
    const region = s.cloud.azure?.location ?? s.cloud.aws?.region ?? 'local';
    const zone = aws ? (/^aws:\/\/\/([^/]+)\//.exec(n.providerID ?? '')?.[1] ?? `${region}a`) : '0';
    const podCidr = `${intToIpv4(this.podCidrBase() + index * 256)}/24`;
    const labels: Record<string, string> = {
      'beta.kubernetes.io/arch': 'amd64',
      'beta.kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
      'kubernetes.io/hostname': name,
      'kubernetes.io/os': 'linux',
      'node.kubernetes.io/instance-type': aws ? 'm5.large' : azure ? 'Standard_D4s_v5' : 'standard',
      'topology.kubernetes.io/region': region,
      'topology.kubernetes.io/zone': zone,
    };
    if (azure) {
      labels.agentpool = /^aks-([a-z0-9]+)-/.exec(name)?.[1] ?? 'nodepool1';
      labels['kubernetes.azure.com/cluster'] = s.cloud.azure?.nodeResourceGroup ?? '';
    }
    if (aws) labels['eks.amazonaws.com/nodegroup'] = 'default';
    const heartbeat = this.timestamp();
    const transition = this.timestamp(10 * 86_400_000);
    const ready = {
      type: 'Ready',
      status: 'True',
      reason: 'KubeletReady',
      message: 'kubelet is posting ready status',
    };
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels, annotations: { 'node.alpha.kubernetes.io/ttl': '0' } },
      spec: { podCIDR: podCidr, podCIDRs: [podCidr], ...(n.providerID ? { providerID: n.providerID } : {}) },
      status: {
        addresses: [
          { type: 'InternalIP', address: n.internalIP },
          { type: 'Hostname', address: name },
        ],
        allocatable: { cpu: '3860m', memory: '12698128Ki', pods: '110' },
        capacity: { cpu: '4', memory: '16386064Ki', pods: '110' },
        conditions: [
          { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory' },
          { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure' },
          { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID' },
          ready,
        ].map((c) => ({ ...c, lastHeartbeatTime: heartbeat, lastTransitionTime: transition })),
        nodeInfo: {
          architecture: 'amd64',
          operatingSystem: 'linux',
          kubeletVersion: this.serverVersion.gitVersion,
          kubeProxyVersion: this.serverVersion.gitVersion,
          osImage: aws ? 'Amazon Linux 2023.6.20250115' : azure ? 'Ubuntu 22.04.5 LTS' : 'Ubuntu 24.04 LTS',
          kernelVersion: aws ? '6.1.124-134.200.amzn2023.x86_64' : '5.15.0-1079-azure',
          containerRuntimeVersion: 'containerd://1.7.25',
          machineID: sha256Hex(name).slice(0, 32),
          systemUUID: this.uid(`node-system/${name}`),
          bootID: this.uid(`node-boot/${name}`),
        },
      },
    };
  }

  private seedSystemDaemonSet(
    name: 'aws-node' | 'kube-proxy' | typeof NODE_PROBE,
    env: Record<string, string>,
  ): void {
    const provider = this.snapshot.cloud.provider;
    const namespace = name === NODE_PROBE ? 'snatguard' : 'kube-system';
    const labels: Record<string, string> =
      name === NODE_PROBE
        ? { 'app.kubernetes.io/name': NODE_PROBE, 'app.kubernetes.io/part-of': 'snatguard' }
        : name === 'kube-proxy' && provider === 'azure'
          ? { component: 'kube-proxy', tier: 'node' }
          : { 'k8s-app': name };
    // EKS's kube-proxy image (eks-distro minimal base) has no shell and no `cat`.
    const exec = name === 'kube-proxy' && provider === 'aws' ? ('no-cat' as const) : ('ok' as const);
    const w: SnapshotWorkload = {
      kind: 'DaemonSet',
      namespace,
      name,
      replicas: this.snapshot.nodes.length,
      labels,
      annotations: {},
      status: { unavailableReplicas: 0, paused: false },
      pods: this.snapshot.nodes.map((n) => ({
        name: `${name}-${nameChars(`${this.snapshot.metadata.name}/${namespace}/${name}/${n.name}`, 5)}`,
        node: n.name,
        ip: n.internalIP,
        hostNetwork: true,
        exec,
        sockets: [],
      })),
    };
    this.seedWorkload(w, env);
  }

  private seedWorkload(w: SnapshotWorkload, env: Record<string, string> = {}): void {
    const day = 86_400_000;
    const container = w.name.slice(0, 63);
    const hash =
      w.kind === 'Deployment'
        ? (w.templateHash ?? nameChars(`${w.namespace}/${w.name}`, 10))
        : nameChars(`${this.snapshot.metadata.name}/${w.namespace}/${w.name}/revision`, 10);
    const rt: WorkloadRuntime = {
      kind: w.kind,
      namespace: w.namespace,
      name: w.name,
      container,
      hash,
      revision: 1,
      ...(w.afterRestart ? { afterRestart: w.afterRestart.sockets } : {}),
    };
    this.workloads.set(`${w.kind}/${w.namespace}/${w.name}`, rt);
    const hostNetwork = w.pods.length > 0 && w.pods.every((p) => p.hostNetwork);
    if (w.kind === 'Deployment') {
      this.seedDeployment(w, env, rt, hostNetwork);
      return;
    }
    const { template, selector, meta } = this.seedBodies(w, env, container, hostNetwork);
    let owner: KubeObject | undefined;
    let podOwner: KubeObject | undefined;
    switch (w.kind) {
      case 'StatefulSet':
        owner = this.create(
          'statefulsets',
          w.namespace,
          {
            apiVersion: 'apps/v1',
            kind: 'StatefulSet',
            metadata: meta,
            spec: {
              replicas: w.replicas,
              selector,
              serviceName: w.name,
              template,
              podManagementPolicy: 'OrderedReady',
              updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
              revisionHistoryLimit: 10,
            },
          },
          3 * day,
          true,
        );
        podOwner = owner;
        break;
      case 'DaemonSet':
        owner = this.create(
          'daemonsets',
          w.namespace,
          {
            apiVersion: 'apps/v1',
            kind: 'DaemonSet',
            metadata: {
              ...meta,
              annotations: { ...meta.annotations, 'deprecated.daemonset.template.generation': '1' },
            },
            spec: {
              selector,
              template,
              updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
              revisionHistoryLimit: 10,
            },
          },
          3 * day,
          true,
        );
        podOwner = owner;
        break;
      case 'ReplicaSet':
        owner = this.create(
          'replicasets',
          w.namespace,
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            metadata: meta,
            spec: { replicas: w.replicas, selector, template },
          },
          3 * day,
          true,
        );
        podOwner = owner;
        break;
      default:
        break;
    }
    const snapshotStatus = w.status;
    this.createPods(rt, podOwner, template.metadata.labels, {}, w.pods, 2 * 3_600_000);
    if (owner) this.refreshStatus(owner.metadata.namespace!, rt, snapshotStatus);
  }

  /** A seeded workload's pod template, selector and metadata (new objects each call). */
  private seedBodies(
    w: SnapshotWorkload,
    env: Record<string, string>,
    container: string,
    hostNetwork: boolean,
  ): {
    template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> };
    selector: { matchLabels: Record<string, string> };
    meta: ObjectMeta;
  } {
    const template = {
      metadata: { labels: { ...w.labels } },
      spec: {
        containers: [
          {
            name: container,
            image: `registry.example.com/${w.namespace}/${w.name}:1.0.0`,
            ...(Object.keys(env).length > 0
              ? { env: Object.entries(env).map(([k, value]) => ({ name: k, value })) }
              : {}),
            resources: {},
            terminationMessagePath: '/dev/termination-log',
            terminationMessagePolicy: 'File',
            imagePullPolicy: 'IfNotPresent',
          },
        ],
        ...(hostNetwork
          ? { hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }
          : { dnsPolicy: 'ClusterFirst' }),
        restartPolicy: 'Always',
        schedulerName: 'default-scheduler',
        securityContext: {},
        terminationGracePeriodSeconds: 30,
      },
    };
    const selector = { matchLabels: w.labels.app ? { app: w.labels.app } : { ...w.labels } };
    const meta = { name: w.name, labels: { ...w.labels }, annotations: { ...w.annotations } } as ObjectMeta;
    return { template, selector, meta };
  }

  /**
   * A Deployment of the snapshot and its ReplicaSet, seeded as create() would seed them (the same checks,
   * uids, resourceVersions and times, in the same order) but built when first read, like the pods: a
   * 100k-pod cluster has 10k Deployments, and a scan reads a few of them (issue 13). The pods are created
   * here, and the Deployment's status (refreshStatus) is fixed as it would have been written now.
   */
  private seedDeployment(
    w: SnapshotWorkload,
    env: Record<string, string>,
    rt: WorkloadRuntime,
    hostNetwork: boolean,
  ): void {
    const day = 86_400_000;
    const { namespace, name, replicas } = w;
    const { container, hash } = rt;
    // What the objects are built from, as it is now (the snapshot's workload is not the world's to keep).
    const given = { ...w.status };
    const spec = { ...w, labels: { ...w.labels }, annotations: { ...w.annotations }, status: given };
    const deploymentType = this.typeOf('deployments');
    const replicaSetType = this.typeOf('replicasets');
    const { k: dk } = this.admit('deployments', namespace, name);
    const deploymentReserved = this.reserve(3 * day);
    const deploymentStored = (): KubeObject =>
      this.stored(
        deploymentType,
        namespace,
        dk,
        this.deploymentBody(spec, this.seedBodies(spec, env, container, hostNetwork)),
        deploymentReserved,
      );
    let statusAt = 0;
    let statusRv = '';
    // (Its labels: seedBodies' metadata.labels.)
    this.deferObject('deployments', dk, spec.labels, () => {
      const obj = deploymentStored();
      obj.status = this.deploymentStatus(obj, name, hash, given, this.timestampAt(statusAt));
      obj.metadata.resourceVersion = statusRv;
      return obj;
    });
    const rsName = `${name}-${hash}`;
    const { k: rk } = this.admit('replicasets', namespace, rsName);
    const replicaSetReserved = this.reserve(3 * day);
    // (Its labels: replicaSetBody's, from the template's.)
    this.deferObject('replicasets', rk, { ...spec.labels, 'pod-template-hash': hash }, () =>
      this.stored(
        replicaSetType,
        namespace,
        rk,
        this.replicaSetBody(deploymentStored(), hash, replicas, 1),
        replicaSetReserved,
      ),
    );
    const replicaSetRef = {
      apiVersion: `${replicaSetType.group}/${replicaSetType.version}`,
      kind: replicaSetType.kind,
      name: rsName,
      uid: this.uidOf(`${replicaSetType.resource}/${rk}`, replicaSetReserved.uidSerial),
      controller: true,
      blockOwnerDeletion: true,
    };
    this.createPodsOf(rt, replicaSetRef, spec.labels, {}, w.pods, 2 * 3_600_000);
    // refreshStatus: the time, then a resourceVersion.
    statusAt = this.now().getTime();
    statusRv = this.nextRv();
  }

  /** Registers an object that `build` makes when it is first read (Lazy). */
  private deferObject(
    resource: string,
    k: string,
    labels: Record<string, string>,
    build: () => KubeObject,
  ): void {
    this.deferred.push(build);
    this.deferredLabels.push(labels);
    this.store.get(resource)!.defer(k, this.deferred.length - 1);
  }

  private buildDeferred(ref: number): KubeObject {
    const build = this.deferred[ref];
    if (build === undefined) throw new Error(`nothing builds deferred object ${ref}`);
    this.deferred[ref] = undefined;
    this.deferredLabels[ref] = undefined;
    return build();
  }

  private deploymentBody(
    w: SnapshotWorkload,
    { template, selector, meta }: ReturnType<World['seedBodies']>,
  ): NewObject {
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { ...meta, annotations: { ...meta.annotations, 'deployment.kubernetes.io/revision': '1' } },
      spec: {
        replicas: w.replicas,
        selector,
        template,
        strategy:
          w.strategy === 'Recreate'
            ? { type: 'Recreate' }
            : { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
        revisionHistoryLimit: 10,
        progressDeadlineSeconds: 600,
        ...(w.status.paused ? { paused: true } : {}),
      },
    };
  }

  private createReplicaSet(
    deployment: KubeObject,
    hash: string,
    replicas: number,
    revision: number,
    ageMs: number,
  ): KubeObject {
    const body = this.replicaSetBody(deployment, hash, replicas, revision);
    return this.create('replicasets', deployment.metadata.namespace, body, ageMs, true);
  }

  /** A Deployment's ReplicaSet for pod-template-hash `hash` (what its controller creates). */
  private replicaSetBody(d: KubeObject, hash: string, replicas: number, revision: number): NewObject {
    const template = clone(d.spec.template);
    template.metadata.labels = { ...template.metadata.labels, 'pod-template-hash': hash };
    return {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${d.metadata.name}-${hash}`,
        labels: { ...d.spec.template.metadata.labels, 'pod-template-hash': hash },
        annotations: {
          'deployment.kubernetes.io/desired-replicas': String(d.spec.replicas ?? 1),
          'deployment.kubernetes.io/max-replicas': String(Math.ceil((d.spec.replicas ?? 1) * 1.25)),
          'deployment.kubernetes.io/revision': String(revision),
        },
        ownerReferences: [this.controllerRef(d)],
      },
      spec: {
        replicas,
        selector: { matchLabels: { ...d.spec.selector.matchLabels, 'pod-template-hash': hash } },
        template,
      },
      status: {
        replicas,
        fullyLabeledReplicas: replicas,
        readyReplicas: replicas,
        availableReplicas: replicas,
        observedGeneration: 1,
      },
    };
  }

  private controllerRef(o: KubeObject) {
    return {
      apiVersion: o.apiVersion,
      kind: o.kind,
      name: o.metadata.name,
      uid: o.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    };
  }

  private createPod(
    rt: WorkloadRuntime,
    owner: KubeObject | undefined,
    templateLabels: Record<string, string>,
    templateAnnotations: Record<string, string>,
    name: string,
    node: string,
    ip: string,
    hostNetwork: boolean,
    exec: ExecBehaviour,
    sockets: readonly SnapshotSocket[],
    ageMs: number,
  ): void {
    this.createPods(
      rt,
      owner,
      templateLabels,
      templateAnnotations,
      [{ name, node, ip, hostNetwork, exec, sockets }],
      ageMs,
    );
  }

  /**
   * Creates a workload's pods as create() would, one after the other (the same checks, uids,
   * resourceVersions, creation time), and indexes them; their objects and runtimes are built when first
   * read (buildPodObject, buildPodRuntime), from what is fixed here.
   */
  private createPods(
    rt: WorkloadRuntime,
    owner: KubeObject | undefined,
    templateLabels: Record<string, string>,
    templateAnnotations: Record<string, string>,
    pods: readonly BatchPod[],
    ageMs: number,
  ): void {
    const ownerRef = owner ? this.controllerRef(owner) : undefined;
    this.createPodsOf(rt, ownerRef, templateLabels, templateAnnotations, pods, ageMs);
  }

  /** createPods for an owner known by its reference (its object may not be built: seedDeployment). */
  private createPodsOf(
    rt: WorkloadRuntime,
    ownerRef: ReturnType<World['controllerRef']> | undefined,
    templateLabels: Record<string, string>,
    templateAnnotations: Record<string, string>,
    pods: readonly BatchPod[],
    ageMs: number,
  ): void {
    if (pods.length === 0) return;
    if (rt.kind === 'Job') rt.jobUid ??= this.uid(`job/${rt.namespace}/${rt.name}`);
    const batch: PodBatch = {
      kind: rt.kind,
      namespace: rt.namespace,
      workload: rt.name,
      hash: rt.hash,
      revision: rt.revision,
      container: rt.container,
      jobUid: rt.jobUid ?? '',
      ownerRef,
      // Copies: the workload's template may change after these pods are created.
      templateLabels: { ...templateLabels },
      templateAnnotations: { ...templateAnnotations },
      pods,
      firstSerial: this.uidCounter + 1,
      firstRv: this.rv + 1,
      createdAt: this.now().getTime() - ageMs,
    };
    const b = this.podBatches.length;
    this.podBatches.push(batch);
    const owner = ownerRef ? ownerRef.uid : rt.kind === 'Job' ? batch.jobUid : undefined;
    const store = this.store.get('pods')!;
    // admit() per pod, its namespace check once (a batch is one namespace's).
    const podType = this.typeOf('pods');
    const ns = this.admitNamespace(podType, rt.namespace);
    // The owner's set of pods, looked up once per batch (every pod of a batch has the one owner).
    let owned: Set<string> | undefined;
    // Seeding the snapshot: a name already taken shows as a store that did not grow (the store is the
    // snapshot's pods so far, nothing else writes pods meanwhile, and a failed seeding fails every
    // request), one lookup per pod fewer than admitName's check before it.
    const seeding = this.seedingWorkloads;
    const snat = this.seedSnat;
    // The snapshot's checks made each pod's key already (a valid name: its format is checked there).
    const checked = seeding ? checkedPodKeys(pods) : undefined;
    const keys = checked?.namespace === ns ? checked : undefined;
    for (let i = 0; i < pods.length; i++) {
      const p = pods[i]!;
      const k =
        keys !== undefined && keys.names[i] === p.name
          ? keys.keys[i]!
          : seeding
            ? this.admitNameFormat(podType, ns, p.name)
            : this.admitName(podType, ns, p.name);
      this.uidCounter += 1;
      this.rv += 1;
      const ref = this.podIndexes.length;
      this.podIndexes.push(i);
      this.podRefBatch.push(b);
      const before = store.size;
      store.defer(k, ref);
      if (seeding && store.size === before) throw alreadyExists(podType.resource, podType.group, p.name);
      this.pods.defer(k, ref);
      this.addToIndex(this.podsByNode, p.node, k);
      if (owner !== undefined) {
        owned ??= this.podsByOwner.get(owner);
        if (owned === undefined) {
          owned = new Set();
          this.podsByOwner.set(owner, owned);
        }
        owned.add(k);
      }
      // destinationsOf's sum for the pod's node, pod by pod in the node index's order.
      if (snat !== undefined && !p.hostNetwork) {
        let total = snat.get(p.node);
        if (total === undefined) {
          total = snatByDestination(this.nodeHostSockets(p.node), this.classifier);
          snat.set(p.node, total);
        }
        if (total !== null && snatBySpec(p.sockets, this.remoteClassifier, total) === undefined)
          snat.set(p.node, null);
      }
    }
    this.changedPods();
  }

  private podRefOf(ref: number): { batch: PodBatch; i: number; pod: BatchPod } {
    const batch = this.podBatches[this.podRefBatch[ref]!]!;
    const i = this.podIndexes[ref]!;
    return { batch, i, pod: batch.pods[i]! };
  }

  /** A created pod's IP: a hostNetwork pod has its node's. */
  private podIp(pod: BatchPod): string {
    return pod.hostNetwork ? (this.nodesByName.get(pod.node)?.internalIP ?? pod.ip) : pod.ip;
  }

  private buildPodRuntime(k: string, ref: number): PodRuntime {
    const { batch, i, pod } = this.podRefOf(ref);
    const world = this;
    let uid: string | undefined;
    return {
      namespace: batch.namespace,
      name: pod.name,
      get uid() {
        uid ??= world.uidOf(`pods/${k}`, batch.firstSerial + i);
        return uid;
      },
      node: pod.node,
      ip: this.podIp(pod),
      hostNetwork: pod.hostNetwork,
      ...(batch.templateLabels['app.kubernetes.io/name'] === 'snatguard-node-sockets'
        ? { hostPID: true }
        : {}),
      exec: pod.exec,
      container: batch.container,
      sockets: pod.sockets,
    };
  }

  private buildPodObject(k: string, ref: number): KubeObject {
    const { batch, i, pod } = this.podRefOf(ref);
    const { kind, namespace, workload, hash, revision, container, ownerRef } = batch;
    const { name, node, hostNetwork } = pod;
    const labels: Record<string, string> = { ...batch.templateLabels };
    if (kind === 'Deployment') labels['pod-template-hash'] = hash;
    if (kind === 'StatefulSet') {
      labels['controller-revision-hash'] = `${workload}-${hash}`;
      labels['statefulset.kubernetes.io/pod-name'] = name;
      const ordinal = /-(\d+)$/.exec(name)?.[1];
      if (ordinal) labels['apps.kubernetes.io/pod-index'] = ordinal;
    }
    if (kind === 'DaemonSet') {
      labels['controller-revision-hash'] = hash;
      labels['pod-template-generation'] = String(revision);
    }
    if (kind === 'Job') {
      labels['batch.kubernetes.io/job-name'] = workload;
      labels['job-name'] = workload;
    }
    const ownerReferences = ownerRef
      ? [{ ...ownerRef }]
      : kind === 'Job'
        ? [
            {
              apiVersion: 'batch/v1',
              kind: 'Job',
              name: workload,
              uid: batch.jobUid,
              controller: true,
              blockOwnerDeletion: true,
            },
          ]
        : undefined;
    const n = this.nodesByName.get(node);
    const podIp = this.podIp(pod);
    const started = this.timestampAt(batch.createdAt);
    batch.imageDigest ??= sha256Hex(workload);
    const { imageDigest } = batch;
    const ready = [
      { type: 'PodReadyToStartContainers', status: 'True' },
      { type: 'Initialized', status: 'True' },
      { type: 'Ready', status: 'True' },
      { type: 'ContainersReady', status: 'True' },
      { type: 'PodScheduled', status: 'True' },
    ].map((c) => ({ ...c, lastProbeTime: null, lastTransitionTime: started }));
    const body: NewObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        labels,
        ...(Object.keys(batch.templateAnnotations).length > 0
          ? { annotations: { ...batch.templateAnnotations } }
          : {}),
        ...(ownerReferences ? { ownerReferences } : {}),
      } as ObjectMeta,
      spec: {
        containers: [
          {
            name: container,
            image: `registry.example.com/${namespace}/${workload}:1.0.0`,
            imagePullPolicy: 'IfNotPresent',
          },
        ],
        nodeName: node,
        ...(hostNetwork ? { hostNetwork: true } : {}),
        restartPolicy: kind === 'Job' ? 'Never' : 'Always',
        serviceAccountName: 'default',
        schedulerName: 'default-scheduler',
        terminationGracePeriodSeconds: 30,
      },
      status: {
        phase: 'Running',
        conditions: ready,
        hostIP: n?.internalIP,
        hostIPs: [{ ip: n?.internalIP }],
        podIP: podIp,
        podIPs: [{ ip: podIp }],
        startTime: started,
        qosClass: 'BestEffort',
        containerStatuses: [
          {
            name: container,
            image: `registry.example.com/${namespace}/${workload}:1.0.0`,
            imageID: `registry.example.com/${namespace}/${workload}@sha256:${imageDigest}`,
            containerID: `containerd://${sha256Hex(`${namespace}/${name}`)}`,
            ready: true,
            started: true,
            restartCount: 0,
            state: { running: { startedAt: started } },
          },
        ],
      },
    };
    return this.stored(this.typeOf('pods'), namespace, k, body, {
      uidSerial: batch.firstSerial + i,
      resourceVersion: String(batch.firstRv + i),
      createdAt: batch.createdAt,
    });
  }

  /** How many pods of `namespace` name `ownerUid` as owner (from the index: no pod object is built). */
  private countOwnedBy(namespace: string, ownerUid: string): number {
    let n = 0;
    for (const k of this.podsByOwner.get(ownerUid) ?? []) if (k.startsWith(`${namespace}/`)) n++;
    return n;
  }

  private podsOwnedBy(namespace: string, ownerUid: string): KubeObject[] {
    const map = this.store.get('pods')!;
    const out: KubeObject[] = [];
    for (const k of this.podsByOwner.get(ownerUid) ?? []) {
      const p = map.get(k);
      if (p?.metadata.namespace === namespace) out.push(p);
    }
    out.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
    return out.map(clone);
  }

  /** Writes a workload's status from its spec and pods (server side, no generation change). */
  /** A Deployment's status as its controller writes it (refreshStatus), at `now`. */
  private deploymentStatus(
    obj: KubeObject,
    name: string,
    hash: string,
    given: { unavailableReplicas: number; updatedReplicas?: number; paused: boolean } | undefined,
    now: string,
  ): KubeObject['status'] {
    const generation = obj.metadata.generation ?? 1;
    const unavailable = given?.unavailableReplicas ?? 0;
    const replicas = obj.spec.replicas ?? 1;
    const rsName = `${name}-${hash}`;
    const paused = obj.spec.paused === true;
    return {
      observedGeneration: generation,
      replicas,
      updatedReplicas: given?.updatedReplicas ?? replicas,
      readyReplicas: replicas - unavailable,
      availableReplicas: replicas - unavailable,
      ...(unavailable > 0 ? { unavailableReplicas: unavailable } : {}),
      conditions: [
        {
          type: 'Available',
          status: unavailable > 0 && replicas - unavailable < Math.ceil(replicas * 0.75) ? 'False' : 'True',
          reason: 'MinimumReplicasAvailable',
          message: 'Deployment has minimum availability.',
          lastUpdateTime: now,
          lastTransitionTime: now,
        },
        paused
          ? {
              type: 'Progressing',
              status: 'Unknown',
              reason: 'DeploymentPaused',
              message: 'Deployment is paused',
              lastUpdateTime: now,
              lastTransitionTime: now,
            }
          : {
              type: 'Progressing',
              status: 'True',
              reason: 'NewReplicaSetAvailable',
              message: `ReplicaSet "${rsName}" has successfully progressed.`,
              lastUpdateTime: now,
              lastTransitionTime: now,
            },
      ],
    };
  }

  private refreshStatus(
    namespace: string,
    rt: WorkloadRuntime,
    given?: { unavailableReplicas: number; updatedReplicas?: number; paused: boolean },
  ): void {
    const resource = WORKLOAD_RESOURCES[rt.kind];
    if (!resource) return;
    const map = this.store.get(resource)!;
    const obj = map.get(this.key(namespace, rt.name));
    if (!obj) return;
    const generation = obj.metadata.generation ?? 1;
    const unavailable = given?.unavailableReplicas ?? 0;
    const now = this.timestamp();
    if (rt.kind === 'Deployment') {
      obj.status = this.deploymentStatus(obj, rt.name, rt.hash, given, now);
    } else if (rt.kind === 'StatefulSet') {
      const replicas = obj.spec.replicas ?? 1;
      const revision = `${rt.name}-${rt.hash}`;
      obj.status = {
        observedGeneration: generation,
        replicas,
        readyReplicas: replicas - unavailable,
        currentReplicas: given?.updatedReplicas ?? replicas,
        updatedReplicas: given?.updatedReplicas ?? replicas,
        availableReplicas: replicas - unavailable,
        currentRevision: revision,
        updateRevision: revision,
        collisionCount: 0,
      };
    } else if (rt.kind === 'DaemonSet') {
      const desired = this.countOwnedBy(namespace, obj.metadata.uid);
      obj.status = {
        currentNumberScheduled: desired,
        desiredNumberScheduled: desired,
        numberMisscheduled: 0,
        numberReady: desired - unavailable,
        numberAvailable: desired - unavailable,
        ...(unavailable > 0 ? { numberUnavailable: unavailable } : {}),
        updatedNumberScheduled: given?.updatedReplicas ?? desired,
        observedGeneration: generation,
      };
    } else if (rt.kind === 'ReplicaSet') {
      const replicas = obj.spec.replicas ?? 1;
      obj.status = {
        replicas,
        fullyLabeledReplicas: replicas,
        readyReplicas: replicas - unavailable,
        availableReplicas: replicas - unavailable,
        observedGeneration: generation,
      };
    }
    obj.metadata.resourceVersion = this.nextRv();
  }

  // ---------------------------------------------------------------- the controller

  /** A changed pod template replaces the workload's pods (SNAPSHOT.md "Restarts in the simulator"). */
  private reconcile(resource: string, old: KubeObject, next: KubeObject): void {
    const namespace = next.metadata.namespace!;
    const kind = next.kind as WorkloadRuntime['kind'];
    const rt = this.workloads.get(`${kind}/${namespace}/${next.metadata.name}`);
    const templateChanged = canonicalJson(old.spec?.template) !== canonicalJson(next.spec?.template);
    if (!rt || resource === 'replicasets') {
      if (rt) this.refreshStatus(namespace, rt);
      return;
    }
    if (!templateChanged || (kind === 'Deployment' && next.spec.paused === true)) {
      this.refreshStatus(namespace, rt, this.currentHealth(next));
      return;
    }
    const ownerUid = next.metadata.uid;
    const oldPods =
      kind === 'Deployment'
        ? this.list('replicasets', namespace)
            .filter((rs) => rs.metadata.ownerReferences?.some((r) => r.uid === ownerUid))
            .flatMap((rs) => this.podsOwnedBy(namespace, rs.metadata.uid))
        : this.podsOwnedBy(namespace, ownerUid);
    const templateHash = nameChars(
      `${namespace}/${next.metadata.name}/${canonicalJson(next.spec.template)}`,
      10,
    );
    rt.revision += 1;
    rt.hash = templateHash;
    const template = next.spec.template ?? {};
    const labels: Record<string, string> = { ...(template.metadata?.labels ?? {}) };
    const annotations: Record<string, string> = { ...(template.metadata?.annotations ?? {}) };
    let podOwner: KubeObject = next;
    if (kind === 'Deployment') {
      for (const rs of this.list('replicasets', namespace)) {
        if (!rs.metadata.ownerReferences?.some((r) => r.uid === ownerUid)) continue;
        const stored = this.store.get('replicasets')!.get(this.key(namespace, rs.metadata.name))!;
        stored.spec.replicas = 0;
        stored.status = { replicas: 0, observedGeneration: (stored.metadata.generation ?? 1) + 1 };
        stored.metadata.generation = (stored.metadata.generation ?? 1) + 1;
        stored.metadata.resourceVersion = this.nextRv();
      }
      const existing = this.store
        .get('replicasets')!
        .get(this.key(namespace, `${next.metadata.name}-${templateHash}`));
      podOwner =
        existing ?? this.createReplicaSet(next, templateHash, next.spec.replicas ?? 1, rt.revision, 0);
      const d = this.store.get('deployments')!.get(this.key(namespace, next.metadata.name))!;
      d.metadata.annotations = {
        ...d.metadata.annotations,
        'deployment.kubernetes.io/revision': String(rt.revision),
      };
    }
    if (kind === 'DaemonSet') {
      const d = this.store.get('daemonsets')!.get(this.key(namespace, next.metadata.name))!;
      d.metadata.annotations = {
        ...d.metadata.annotations,
        'deprecated.daemonset.template.generation': String(d.metadata.generation ?? 1),
      };
    }
    const replaced: PodRuntime[] = [];
    const replacements: PodRuntime[] = [];
    oldPods.forEach((p, i) => {
      const before = this.pods.get(this.key(namespace, p.metadata.name));
      if (before) replaced.push(before);
      this.delete('pods', namespace, p.metadata.name);
      const name =
        kind === 'StatefulSet'
          ? p.metadata.name
          : kind === 'Deployment'
            ? `${next.metadata.name}-${templateHash}-${nameChars(`${namespace}/${next.metadata.name}/${templateHash}/${i}`, 5)}`
            : `${next.metadata.name}-${nameChars(`${namespace}/${next.metadata.name}/${templateHash}/${i}`, 5)}`;
      const hostNetwork = before?.hostNetwork ?? false;
      const node = before?.node ?? p.spec.nodeName;
      if (before && !hostNetwork) this.usedIps.delete(before.ip);
      const ip = hostNetwork ? (before?.ip ?? '') : this.allocateIp(node);
      // A distroless image stays distroless; a hung or failing exec is the old pod's trouble.
      const exec: ExecBehaviour = before?.exec === 'no-cat' ? 'no-cat' : 'ok';
      const sockets = hostNetwork ? [] : (rt.afterRestart ?? []);
      this.createPod(rt, podOwner, labels, annotations, name, node, ip, hostNetwork, exec, sockets, 0);
      const after = this.pods.get(this.key(namespace, name));
      if (before && after) replacements.push(after);
    });
    this.refreshStatus(namespace, rt);
    if (replaced.length > 0)
      this.backend?.podsReplaced?.({ kind, namespace, name: next.metadata.name }, replaced, replacements);
  }

  private currentHealth(obj: KubeObject): {
    unavailableReplicas: number;
    paused: boolean;
    updatedReplicas?: number;
  } {
    const s = obj.status ?? {};
    return {
      unavailableReplicas: s.unavailableReplicas ?? s.numberUnavailable ?? 0,
      paused: obj.spec?.paused === true,
      ...(s.updatedReplicas !== undefined ? { updatedReplicas: s.updatedReplicas } : {}),
    };
  }
}
