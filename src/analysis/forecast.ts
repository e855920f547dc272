// Pure: early warning across runs. Per workload and node, the SNAT-consuming sockets to its busiest
// destination are kept in the state ConfigMap (bounded); from their growth the run projects when the node's
// allocated ports run out and warns (SNAT_EXHAUSTION_FORECAST) while the node is not hot yet. A drop of the
// ports a node is allocated between runs is its own finding (SNAT_ALLOCATION_DRIFT), with its cause.
//
// Noise rejection: a warning needs at least MIN_POINTS samples of one destination, a Theil–Sen slope above
// zero (the median of the slopes between every pair of samples: one spike or one dip does not move it), at
// least MIN_RISING_SHARE of those pairs rising (Kendall's idea of a monotone trend: a sawtooth around a level
// has about half its pairs rising and is rejected), and a total rise of MIN_RISE sockets or more.
import { defaultPortsPerIp, LB_DEFAULT_MAX_POOL } from '../advice/capacity.js';
import type { ForecastHistory, ForecastPoint } from '../model.js';

export const MIN_POINTS = 3;
export const MAX_POINTS = 12;
export const MAX_SERIES = 200;
export const MIN_RISING_SHARE = 0.75;
export const MIN_RISE = 5;
/** At most this many not-hot nodes are inspected per run for the forecast (exec cost is bounded). */
export const MAX_WATCH_NODES = 10;
/** Node entries and series not refreshed for this long are dropped. */
export const MAX_AGE_MINUTES = 24 * 60;

export const emptyHistory = (): ForecastHistory => ({ nodes: {}, series: {} });

/** A node's SNAT ports this run: the cloud's used/allocated, or provider none's budget and busiest destination. */
export interface NodeAllocation {
  name: string;
  allocated: number;
  used?: number;
  /** Hot this run: a forecast is for nodes that are not (a hot node is handled by the run itself). */
  hot: boolean;
}

export interface Trend {
  /** Theil–Sen slope, sockets per minute. */
  slope: number;
  /** Share of sample pairs where the later sample is higher. */
  risingShare: number;
  first: number;
  last: number;
  points: number;
  minutes: number;
}

const minutesBetween = (a: string, b: string): number => (Date.parse(b) - Date.parse(a)) / 60_000;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** The trend of a series, or null when it is not a sustained rise (see the header). */
export function sustainedRise(points: readonly ForecastPoint[]): Trend | null {
  if (points.length < MIN_POINTS) return null;
  const slopes: number[] = [];
  let rising = 0;
  for (let i = 0; i < points.length; i++)
    for (let j = i + 1; j < points.length; j++) {
      const dt = minutesBetween(points[i]![0], points[j]![0]);
      if (!(dt > 0)) continue;
      const dy = points[j]![1] - points[i]![1];
      slopes.push(dy / dt);
      if (dy > 0) rising++;
    }
  if (slopes.length === 0) return null;
  const slope = median(slopes);
  const risingShare = rising / slopes.length;
  const first = points[0]![1];
  const last = points[points.length - 1]![1];
  if (!(slope > 0) || risingShare < MIN_RISING_SHARE || last - first < MIN_RISE) return null;
  return {
    slope,
    risingShare,
    first,
    last,
    points: points.length,
    minutes: minutesBetween(points[0]![0], points[points.length - 1]![0]),
  };
}

export interface WatchInput {
  now: Date;
  horizonMinutes: number;
  /** Not-hot nodes at or above this used/allocated ratio are inspected for the forecast. */
  watchRatio: number;
  nodes: readonly NodeAllocation[];
  history: ForecastHistory;
}

/**
 * The not-hot nodes to inspect this run so the forecast has socket counts before a node is hot: those at
 * or above the watch ratio, those whose used ports grew since the last run at a pace that exhausts them
 * within twice the horizon (so three samples exist by the time the horizon is reached), and those whose
 * series was rising at the last run. The cloud's node-level figure costs nothing; execs go only where it
 * already shows pressure or growth. At most MAX_WATCH_NODES, highest ratio first.
 */
export function nodesToWatch(input: WatchInput): string[] {
  const { now, history } = input;
  const rising = new Set<string>();
  for (const [key, s] of Object.entries(history.series)) {
    const p = s.points;
    if (p.length >= 2 && p[p.length - 1]![1] > p[p.length - 2]![1]) rising.add(key.split('|')[0]!);
  }
  const picked: { name: string; ratio: number }[] = [];
  for (const n of input.nodes) {
    if (n.hot || n.allocated <= 0 || n.used === undefined) continue;
    const ratio = n.used / n.allocated;
    let watch = ratio >= input.watchRatio || rising.has(n.name);
    const prev = history.nodes[n.name];
    if (!watch && prev?.used !== undefined) {
      const dt = (now.getTime() - Date.parse(prev.at)) / 60_000;
      const rate = dt > 0 ? (n.used - prev.used) / dt : 0;
      if (rate > 0 && (n.allocated - n.used) / rate <= 2 * input.horizonMinutes) watch = true;
    }
    if (watch) picked.push({ name: n.name, ratio });
  }
  picked.sort((a, b) => b.ratio - a.ratio || (a.name < b.name ? -1 : 1));
  return picked.slice(0, MAX_WATCH_NODES).map((p) => p.name);
}

/** One workload's busiest destination on one inspected node this run. */
export interface BusiestUsage {
  node: string;
  workload: string;
  destination: string;
  sockets: number;
}

export interface ClusterFacts {
  provider: 'azure' | 'aws' | 'none';
  nodes: number;
  /** Azure load balancer: 0 = the default table by pool size. */
  allocatedOutboundPorts?: number;
  outboundIPs?: number;
}

export interface ForecastInput {
  now: Date;
  horizonMinutes: number;
  history: ForecastHistory;
  /** Every node whose allocation is known this run. */
  nodes: readonly NodeAllocation[];
  /** Nodes whose pods were read this run (hot and watched). */
  inspected: ReadonlySet<string>;
  usage: readonly BusiestUsage[];
  /** Per inspected node, SNAT-consuming sockets per destination over all its workloads. */
  nodeDestinations: ReadonlyMap<string, ReadonlyMap<string, number>>;
  cluster: ClusterFacts;
}

export interface Forecast {
  node: string;
  workload: string;
  destination: string;
  /** The workload's sockets to the destination now, and the node's (all workloads). */
  sockets: number;
  nodeSockets: number;
  allocated: number;
  trend: Trend;
  minutesToExhaustion: number;
  /** When the ports run out at this rate (ISO). */
  exhaustedAt: string;
}

export interface Drift {
  nodes: string[];
  from: number;
  to: number;
  cause: string;
  /** The default-table scale-out step (AKS#1673): the node counts before and after. */
  scaleOut?: { from: number; to: number };
}

export interface ForecastResult {
  history: ForecastHistory;
  forecasts: Forecast[];
  drifts: Drift[];
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const defaultPorts = (nodes: number): number =>
  defaultPortsPerIp(Math.min(Math.max(nodes, 1), LB_DEFAULT_MAX_POOL));

/** Updates the history with this run and finds the forecasts and drifts it supports. */
export function forecast(input: ForecastInput): ForecastResult {
  const { now, history } = input;
  const at = now.toISOString();
  const fresh = (t: string): boolean => minutesBetween(t, at) <= MAX_AGE_MINUTES;

  // Series: extend those of inspected nodes, drop the ones whose workload left, keep the rest until stale.
  const series: ForecastHistory['series'] = {};
  for (const [key, s] of Object.entries(history.series)) {
    const node = key.split('|')[0]!;
    const last = s.points[s.points.length - 1];
    if (!input.inspected.has(node) && last && fresh(last[0])) series[key] = s;
  }
  for (const u of input.usage) {
    if (!input.inspected.has(u.node)) continue;
    const key = `${u.node}|${u.workload}`;
    const old = history.series[key];
    const last = old?.points[old.points.length - 1];
    // A new busiest destination, or a gap longer than twice the horizon, starts the series again.
    const keep =
      old &&
      old.destination === u.destination &&
      last &&
      minutesBetween(last[0], at) <= 2 * input.horizonMinutes;
    const points: ForecastPoint[] = [...(keep ? old.points : []), [at, u.sockets]];
    series[key] = { destination: u.destination, points: points.slice(-MAX_POINTS) };
  }
  const bounded = Object.entries(series)
    .sort(([ka, a], [kb, b]) => {
      const la = a.points[a.points.length - 1]!;
      const lb = b.points[b.points.length - 1]!;
      return cmp(lb[0], la[0]) || lb[1] - la[1] || cmp(ka, kb);
    })
    .slice(0, MAX_SERIES);

  // Forecasts: a sustained rise on a node that is not hot, projected to exhaust within the horizon.
  const byName = new Map(input.nodes.map((n) => [n.name, n]));
  const forecasts: Forecast[] = [];
  for (const u of input.usage) {
    const node = byName.get(u.node);
    if (!node || node.hot || node.allocated <= 0) continue;
    const s = series[`${u.node}|${u.workload}`];
    const trend = s ? sustainedRise(s.points) : null;
    if (!trend) continue;
    const nodeSockets = Math.max(u.sockets, input.nodeDestinations.get(u.node)?.get(u.destination) ?? 0);
    const remaining = node.allocated - nodeSockets;
    if (remaining <= 0) continue;
    const minutes = remaining / trend.slope;
    if (minutes > input.horizonMinutes) continue;
    forecasts.push({
      node: u.node,
      workload: u.workload,
      destination: u.destination,
      sockets: u.sockets,
      nodeSockets,
      allocated: node.allocated,
      trend,
      minutesToExhaustion: minutes,
      exhaustedAt: new Date(now.getTime() + minutes * 60_000).toISOString(),
    });
  }
  forecasts.sort(
    (a, b) =>
      a.minutesToExhaustion - b.minutesToExhaustion || cmp(a.workload, b.workload) || cmp(a.node, b.node),
  );

  // Drift: fewer allocated ports than at the last run, grouped by (from, to).
  const drops = new Map<string, { from: number; to: number; nodes: string[] }>();
  for (const n of input.nodes) {
    const prev = history.nodes[n.name];
    if (!prev || !(n.allocated < prev.allocated)) continue;
    const k = `${prev.allocated}>${n.allocated}`;
    const d = drops.get(k) ?? { from: prev.allocated, to: n.allocated, nodes: [] };
    d.nodes.push(n.name);
    drops.set(k, d);
  }
  const drifts: Drift[] = [...drops.values()]
    .map((d) => ({ ...d, nodes: d.nodes.sort(cmp), ...driftCause(history.cluster, input.cluster, d) }))
    .sort((a, b) => b.nodes.length - a.nodes.length || b.from - a.from);

  const nodes: ForecastHistory['nodes'] = {};
  for (const [name, n] of Object.entries(history.nodes)) if (fresh(n.at)) nodes[name] = n;
  for (const n of input.nodes)
    nodes[n.name] = { at, allocated: n.allocated, ...(n.used !== undefined ? { used: n.used } : {}) };

  const c = input.cluster;
  return {
    history: {
      nodes,
      cluster: {
        at,
        nodes: c.nodes,
        ...(c.allocatedOutboundPorts !== undefined
          ? { allocatedOutboundPorts: c.allocatedOutboundPorts }
          : {}),
        ...(c.outboundIPs !== undefined ? { outboundIPs: c.outboundIPs } : {}),
      },
      series: Object.fromEntries(bounded),
    },
    forecasts,
    drifts,
  };
}

/** Why a node's allocated ports dropped, from what the cluster looked like at the last run. */
function driftCause(
  before: ForecastHistory['cluster'],
  now: ClusterFacts,
  d: { from: number; to: number },
): { cause: string; scaleOut?: { from: number; to: number } } {
  if (!before)
    return { cause: 'the cloud now reports fewer allocated ports; no earlier cluster record to compare' };
  if (
    now.provider === 'azure' &&
    (now.allocatedOutboundPorts ?? 0) === 0 &&
    now.nodes > before.nodes &&
    defaultPorts(now.nodes) < defaultPorts(before.nodes)
  )
    return {
      cause: `scale-out from ${before.nodes} to ${now.nodes} nodes crossed a step of Azure's default outbound port table (allocatedOutboundPorts 0): ${defaultPorts(before.nodes)} → ${defaultPorts(now.nodes)} ports per node per outbound IP (AKS#1673)`,
      scaleOut: { from: before.nodes, to: now.nodes },
    };
  if (
    before.outboundIPs !== undefined &&
    now.outboundIPs !== undefined &&
    now.outboundIPs < before.outboundIPs
  )
    return { cause: `outbound IPs went from ${before.outboundIPs} to ${now.outboundIPs}` };
  if (
    before.allocatedOutboundPorts !== undefined &&
    now.allocatedOutboundPorts !== undefined &&
    now.allocatedOutboundPorts !== before.allocatedOutboundPorts
  )
    return {
      cause: `allocatedOutboundPorts changed from ${before.allocatedOutboundPorts} to ${now.allocatedOutboundPorts}`,
    };
  if (now.nodes > before.nodes)
    return { cause: `the node count grew from ${before.nodes} to ${now.nodes} while ports per node fell` };
  return {
    cause: `the cloud reports ${d.to} instead of ${d.from} allocated ports; the outbound settings look unchanged`,
  };
}

// ---------------------------------------------------------------- state parsing

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isTime = (v: unknown): v is string => typeof v === 'string' && !Number.isNaN(Date.parse(v));

/** The `history` of a stored state: well-formed entries kept, the rest named in `problems`; bounds applied. */
export function parseHistory(raw: unknown, problems: string[]): ForecastHistory | undefined {
  if (raw === undefined) return undefined;
  if (!isRecord(raw)) {
    problems.push('history: not an object');
    return undefined;
  }
  const out = emptyHistory();
  if (isRecord(raw.nodes)) {
    for (const [name, v] of Object.entries(raw.nodes)) {
      if (isRecord(v) && isTime(v.at) && isCount(v.allocated) && (v.used === undefined || isCount(v.used)))
        out.nodes[name] = { at: v.at, allocated: v.allocated, ...(isCount(v.used) ? { used: v.used } : {}) };
      else problems.push(`history.nodes.${name}: malformed`);
    }
  } else if (raw.nodes !== undefined) problems.push('history.nodes: not an object');
  const c = raw.cluster;
  if (isRecord(c) && isTime(c.at) && isCount(c.nodes)) {
    out.cluster = {
      at: c.at,
      nodes: c.nodes,
      ...(isCount(c.allocatedOutboundPorts) ? { allocatedOutboundPorts: c.allocatedOutboundPorts } : {}),
      ...(isCount(c.outboundIPs) ? { outboundIPs: c.outboundIPs } : {}),
    };
  } else if (c !== undefined) problems.push('history.cluster: malformed');
  if (isRecord(raw.series)) {
    for (const [key, v] of Object.entries(raw.series).slice(0, MAX_SERIES)) {
      const points =
        isRecord(v) && Array.isArray(v.points)
          ? v.points.filter(
              (p): p is ForecastPoint => Array.isArray(p) && p.length === 2 && isTime(p[0]) && isCount(p[1]),
            )
          : [];
      if (isRecord(v) && typeof v.destination === 'string' && key.includes('|') && points.length > 0)
        out.series[key] = { destination: v.destination, points: points.slice(-MAX_POINTS) };
      else problems.push(`history.series.${key}: malformed`);
    }
  } else if (raw.series !== undefined) problems.push('history.series: not an object');
  return out;
}
