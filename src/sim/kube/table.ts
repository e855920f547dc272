// Server-side printing: the `meta.k8s.io/v1` Table that `kubectl get` asks for, with the columns
// a real API server prints for each type (priority 1 columns show with `-o wide`).
import type { KubeObject } from '../world.js';

interface Column {
  name: string;
  type: 'string' | 'integer' | 'date';
  format?: string;
  priority?: number;
  cell: (o: KubeObject, now: number) => string | number;
}

/** Human duration as `kubectl get` prints ages (k8s.io/apimachinery/pkg/util/duration.HumanDuration). */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (h < 192) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

const age = (o: KubeObject, now: number) => humanDuration(now - Date.parse(o.metadata.creationTimestamp));
const name: Column = { name: 'Name', type: 'string', format: 'name', cell: (o) => o.metadata.name };
const ageColumn: Column = { name: 'Age', type: 'string', cell: age };
const containers = (o: KubeObject) =>
  ((o.spec?.template?.spec?.containers ?? []) as { name: string }[]).map((c) => c.name).join(',');
const images = (o: KubeObject) =>
  ((o.spec?.template?.spec?.containers ?? []) as { image: string }[]).map((c) => c.image).join(',');
const selector = (o: KubeObject) =>
  Object.entries((o.spec?.selector?.matchLabels ?? {}) as Record<string, string>)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
const wide = (c: Omit<Column, 'priority'>): Column => ({ ...c, priority: 1 });

const COLUMNS: Record<string, Column[]> = {
  pods: [
    name,
    {
      name: 'Ready',
      type: 'string',
      cell: (o) => {
        const cs = (o.status?.containerStatuses ?? []) as { ready: boolean }[];
        return `${cs.filter((c) => c.ready).length}/${(o.spec?.containers ?? []).length}`;
      },
    },
    {
      name: 'Status',
      type: 'string',
      cell: (o) => (o.metadata.deletionTimestamp ? 'Terminating' : (o.status?.phase ?? 'Unknown')),
    },
    {
      name: 'Restarts',
      type: 'string',
      cell: (o) =>
        String(
          ((o.status?.containerStatuses ?? []) as { restartCount: number }[]).reduce(
            (s, c) => s + c.restartCount,
            0,
          ),
        ),
    },
    ageColumn,
    wide({ name: 'IP', type: 'string', cell: (o) => o.status?.podIP ?? '<none>' }),
    wide({ name: 'Node', type: 'string', cell: (o) => o.spec?.nodeName ?? '<none>' }),
    wide({ name: 'Nominated Node', type: 'string', cell: () => '<none>' }),
    wide({ name: 'Readiness Gates', type: 'string', cell: () => '<none>' }),
  ],
  nodes: [
    name,
    {
      name: 'Status',
      type: 'string',
      cell: (o) =>
        ((o.status?.conditions ?? []) as { type: string; status: string }[]).some(
          (c) => c.type === 'Ready' && c.status === 'True',
        )
          ? 'Ready'
          : 'NotReady',
    },
    {
      name: 'Roles',
      type: 'string',
      cell: (o) =>
        Object.keys(o.metadata.labels ?? {})
          .filter((k) => k.startsWith('node-role.kubernetes.io/'))
          .map((k) => k.slice('node-role.kubernetes.io/'.length))
          .join(',') || '<none>',
    },
    ageColumn,
    { name: 'Version', type: 'string', cell: (o) => o.status?.nodeInfo?.kubeletVersion ?? '' },
    wide({
      name: 'Internal-IP',
      type: 'string',
      cell: (o) =>
        ((o.status?.addresses ?? []) as { type: string; address: string }[]).find(
          (a) => a.type === 'InternalIP',
        )?.address ?? '<none>',
    }),
    wide({ name: 'External-IP', type: 'string', cell: () => '<none>' }),
    wide({ name: 'OS-Image', type: 'string', cell: (o) => o.status?.nodeInfo?.osImage ?? '' }),
    wide({ name: 'Kernel-Version', type: 'string', cell: (o) => o.status?.nodeInfo?.kernelVersion ?? '' }),
    wide({
      name: 'Container-Runtime',
      type: 'string',
      cell: (o) => o.status?.nodeInfo?.containerRuntimeVersion ?? '',
    }),
  ],
  namespaces: [name, { name: 'Status', type: 'string', cell: (o) => o.status?.phase ?? 'Active' }, ageColumn],
  deployments: [
    name,
    {
      name: 'Ready',
      type: 'string',
      cell: (o) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}`,
    },
    { name: 'Up-to-date', type: 'integer', cell: (o) => o.status?.updatedReplicas ?? 0 },
    { name: 'Available', type: 'integer', cell: (o) => o.status?.availableReplicas ?? 0 },
    ageColumn,
    wide({ name: 'Containers', type: 'string', cell: containers }),
    wide({ name: 'Images', type: 'string', cell: images }),
    wide({ name: 'Selector', type: 'string', cell: selector }),
  ],
  replicasets: [
    name,
    { name: 'Desired', type: 'integer', cell: (o) => o.spec?.replicas ?? 0 },
    { name: 'Current', type: 'integer', cell: (o) => o.status?.replicas ?? 0 },
    { name: 'Ready', type: 'integer', cell: (o) => o.status?.readyReplicas ?? 0 },
    ageColumn,
    wide({ name: 'Containers', type: 'string', cell: containers }),
    wide({ name: 'Images', type: 'string', cell: images }),
    wide({ name: 'Selector', type: 'string', cell: selector }),
  ],
  statefulsets: [
    name,
    {
      name: 'Ready',
      type: 'string',
      cell: (o) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}`,
    },
    ageColumn,
    wide({ name: 'Containers', type: 'string', cell: containers }),
    wide({ name: 'Images', type: 'string', cell: images }),
  ],
  daemonsets: [
    name,
    { name: 'Desired', type: 'integer', cell: (o) => o.status?.desiredNumberScheduled ?? 0 },
    { name: 'Current', type: 'integer', cell: (o) => o.status?.currentNumberScheduled ?? 0 },
    { name: 'Ready', type: 'integer', cell: (o) => o.status?.numberReady ?? 0 },
    { name: 'Up-to-date', type: 'integer', cell: (o) => o.status?.updatedNumberScheduled ?? 0 },
    { name: 'Available', type: 'integer', cell: (o) => o.status?.numberAvailable ?? 0 },
    { name: 'Node Selector', type: 'string', cell: () => '<none>' },
    ageColumn,
    wide({ name: 'Containers', type: 'string', cell: containers }),
    wide({ name: 'Images', type: 'string', cell: images }),
    wide({ name: 'Selector', type: 'string', cell: selector }),
  ],
  leases: [name, { name: 'Holder', type: 'string', cell: (o) => o.spec?.holderIdentity ?? '' }, ageColumn],
  configmaps: [
    name,
    { name: 'Data', type: 'integer', cell: (o) => Object.keys((o.data as object) ?? {}).length },
    ageColumn,
  ],
  events: [
    {
      name: 'Last Seen',
      type: 'string',
      cell: (o, now) =>
        humanDuration(now - Date.parse(String(o.lastTimestamp ?? o.metadata.creationTimestamp))),
    },
    { name: 'Type', type: 'string', cell: (o) => String(o.type ?? '') },
    { name: 'Reason', type: 'string', cell: (o) => String(o.reason ?? '') },
    {
      name: 'Object',
      type: 'string',
      cell: (o) => {
        const io = (o.involvedObject ?? {}) as { kind?: string; name?: string };
        return `${(io.kind ?? '').toLowerCase()}/${io.name ?? ''}`;
      },
    },
    { name: 'Message', type: 'string', cell: (o) => String(o.message ?? '') },
  ],
};

/** Does the Accept header ask for a Table? */
export const wantsTable = (accept: string | undefined): boolean => /as=Table/.test(accept ?? '');

export function toTable(
  resource: string,
  objects: readonly KubeObject[],
  resourceVersion: string,
  includeObject: string | null,
  now: number,
): unknown {
  const columns = COLUMNS[resource] ?? [name, ageColumn];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: columns.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? '',
      description: c.name,
      priority: c.priority ?? 0,
    })),
    rows: objects.map((o) => ({
      cells: columns.map((c) => c.cell(o, now)),
      ...(includeObject === 'None'
        ? {}
        : {
            object:
              includeObject === 'Object'
                ? o
                : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
          }),
    })),
  };
}
