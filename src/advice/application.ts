// Advice for the application: CONNECTION_POOLING and TIME_WAIT_CHURN, from the offenders' destinations.
import type { Offender, Recommendation } from '../model.js';
import { listSome, num, pct, plural, portOf } from './format.js';
import type { AdviceInput } from './types.js';

/** Open (not TIME_WAIT) sockets to one destination from which pooling advice is worth giving. */
export const POOLING_MIN_OPEN_SOCKETS = 10;
/** TIME_WAIT dominates a destination when it holds at least this share of its sockets ... */
export const TIME_WAIT_MIN_SHARE = 0.5;
/** ... and at least this many of them (below it, churn is not what exhausts ports). */
export const TIME_WAIT_MIN_SOCKETS = 100;

interface PortHint {
  service: string;
  fix: string;
}

const HTTP_HINT: PortHint = {
  service: 'HTTP(S)',
  fix: 'reuse HTTP connections: one shared keep-alive agent per process, e.g. `new https.Agent({ keepAlive: true, maxSockets: 50 })` passed to every request (or undici `new Agent({ connections: 50 })`)',
};

/** Well-known destination ports → what pooling means for that client. */
export const PORT_HINTS: Readonly<Record<number, PortHint>> = {
  27017: {
    service: 'MongoDB',
    fix: 'create one MongoClient per process and reuse it; cap its pool with `maxPoolSize` in the connection string, e.g. `mongodb://…/?maxPoolSize=20`',
  },
  5432: {
    service: 'PostgreSQL',
    fix: 'use one shared pool per process with a fixed size, e.g. `new pg.Pool({ max: 10 })`, or put PgBouncer (transaction pooling) in front of the database',
  },
  6379: {
    service: 'Redis',
    fix: 'create one Redis client per process and share it (ioredis and node-redis multiplex commands over one connection); never connect per request',
  },
  6380: {
    service: 'Redis (TLS)',
    fix: 'create one Redis client per process and share it (ioredis and node-redis multiplex commands over one connection); never connect per request',
  },
  3306: {
    service: 'MySQL',
    fix: 'use one shared pool per process, e.g. mysql2 `createPool({ connectionLimit: 10 })`, and release connections after each query',
  },
  1433: {
    service: 'SQL Server',
    fix: 'use one shared `mssql` ConnectionPool per process with `pool: { max: 10 }`',
  },
  443: HTTP_HINT,
  80: HTTP_HINT,
};

const GENERIC_HINT: PortHint = {
  service: 'this destination',
  fix: 'reuse connections: one client with a bounded connection pool per process, created at start-up, not per request',
};

export const hintFor = (remote: string): PortHint => {
  const port = portOf(remote);
  return (port !== undefined ? PORT_HINTS[port] : undefined) ?? GENERIC_HINT;
};

type ReportedOffender = Omit<Offender, 'ref'>;

/** Offenders of one workload across the hot nodes, merged. */
interface WorkloadSockets {
  workload: string;
  nodes: string[];
  pods: number;
  snatSockets: number;
  /** remote → sockets / TIME_WAIT sockets, summed over the workload's offender entries. */
  destinations: Map<string, { sockets: number; timeWait: number }>;
  /** The pods holding the most SNAT sockets across its nodes, most first (empty for a single pod). */
  topPods: { pod: string; sockets: number }[];
}

function byWorkload(offenders: ReportedOffender[]): WorkloadSockets[] {
  const merged = new Map<string, WorkloadSockets>();
  for (const o of offenders) {
    const w: WorkloadSockets = merged.get(o.workload) ?? {
      workload: o.workload,
      nodes: [],
      pods: 0,
      snatSockets: 0,
      destinations: new Map(),
      topPods: [],
    };
    if (!w.nodes.includes(o.node)) w.nodes.push(o.node);
    w.topPods.push(...(o.topPods ?? []));
    w.pods += o.pods.length;
    w.snatSockets += o.snatSockets;
    for (const d of o.topDestinations) {
      const acc = w.destinations.get(d.remote) ?? { sockets: 0, timeWait: 0 };
      acc.sockets += d.sockets;
      acc.timeWait += d.timeWait ?? 0;
      w.destinations.set(d.remote, acc);
    }
    merged.set(o.workload, w);
  }
  for (const w of merged.values()) {
    w.nodes.sort();
    w.topPods = w.topPods.sort((a, b) => b.sockets - a.sockets || a.pod.localeCompare(b.pod)).slice(0, 3);
  }
  return [...merged.values()];
}

const sortedDestinations = (w: WorkloadSockets, key: (d: { sockets: number; timeWait: number }) => number) =>
  [...w.destinations.entries()]
    .map(([remote, d]) => ({ remote, ...d, key: key(d) }))
    .sort((a, b) => b.key - a.key || a.remote.localeCompare(b.remote));

/** `; by pod: orders-api-a 1,010, orders-api-b 12 (of 2 pods)`: an average would hide a skew. */
function podsText(w: WorkloadSockets): string {
  if (w.topPods.length === 0) return w.pods === 1 ? ', from its one pod' : '';
  const named = w.topPods.map((p) => `${p.pod} ${num(p.sockets)}`).join(', ');
  return `; SNAT sockets by pod: ${named}${w.pods > w.topPods.length ? ` (top ${w.topPods.length} of ${plural(w.pods, 'pod')})` : ''}`;
}

/** CONNECTION_POOLING: one per offending workload whose busiest destination holds many open sockets. */
export function connectionPooling(input: AdviceInput): Recommendation[] {
  const out: Recommendation[] = [];
  for (const w of byWorkload(input.offenders)) {
    const [top] = sortedDestinations(w, (d) => d.sockets - d.timeWait);
    if (!top || top.key < POOLING_MIN_OPEN_SOCKETS) continue;
    const hint = hintFor(top.remote);
    const share = w.snatSockets > 0 ? top.sockets / w.snatSockets : 1;
    out.push({
      id: 'CONNECTION_POOLING',
      severity: 'warning',
      title: `${w.workload} holds ${num(top.key)} open connections to ${top.remote} (${hint.service})`,
      detail:
        `${w.workload} holds ${plural(w.snatSockets, 'SNAT-consuming socket')} on ${listSome(w.nodes, 3)}; ` +
        `${num(top.key)} open connections (${pct(share)} of them) go to ${top.remote}${podsText(w)}. ` +
        `Every connection to one destination ip:port takes its own SNAT port, so a pool that grows without bound exhausts the node's ports. ` +
        `A restart only frees them until the pool grows again.`,
      fix: hint.fix,
      workload: w.workload,
    });
  }
  return out;
}

/** TIME_WAIT_CHURN: one per workload with a destination dominated by TIME_WAIT sockets. */
export function timeWaitChurn(input: AdviceInput): Recommendation[] {
  const out: Recommendation[] = [];
  for (const w of byWorkload(input.offenders)) {
    const churning = sortedDestinations(w, (d) => d.timeWait).filter(
      (d) =>
        d.timeWait >= TIME_WAIT_MIN_SOCKETS && d.sockets > 0 && d.timeWait / d.sockets >= TIME_WAIT_MIN_SHARE,
    );
    const [top] = churning;
    if (!top) continue;
    const hint = hintFor(top.remote);
    const others = churning.slice(1).map((d) => `${d.remote} (${num(d.timeWait)})`);
    out.push({
      id: 'TIME_WAIT_CHURN',
      severity: 'warning',
      title: `${w.workload} opens and closes connections to ${top.remote}: ${num(top.timeWait)} in TIME_WAIT`,
      detail:
        `${num(top.timeWait)} of the ${num(top.sockets)} sockets (${pct(top.timeWait / top.sockets)}) from ${w.workload} to ${top.remote} are in TIME_WAIT` +
        (others.length > 0 ? `; also ${listSome(others, 3)}` : '') +
        `. A closed connection keeps its SNAT port until TIME_WAIT ends (and the NAT's reuse cooldown after it), ` +
        `so a connection per request exhausts ports even when few are open at once. Keep connections alive and reuse them.`,
      fix: hint === HTTP_HINT ? hint.fix : `${hint.fix}; keep connections open between requests`,
      workload: w.workload,
    });
  }
  return out;
}
