// Pure reductions of metric time series: the worst minute of a gauge, the sum of a counter, the increase
// of a cumulative counter. Null points (not yet ingested, or no data) are skipped, never read as zero.

export interface Point {
  t: number;
  v: number | null | undefined;
}

/** The largest non-null value, or undefined when the series has none. */
export function maxOf(points: Point[]): number | undefined {
  let best: number | undefined;
  for (const p of points)
    if (typeof p.v === 'number' && Number.isFinite(p.v) && (best === undefined || p.v > best)) best = p.v;
  return best;
}

/** The sum of the non-null values, or undefined when there is none. */
export function sumOf(points: Point[]): number | undefined {
  let sum: number | undefined;
  for (const p of points) if (typeof p.v === 'number' && Number.isFinite(p.v)) sum = (sum ?? 0) + p.v;
  return sum;
}

export interface WorstMinute {
  t: number;
  used: number;
  allocated: number;
  ratio: number;
}

/**
 * The minute with the highest used/allocated ratio. A minute counts when `used` is known; its allocation
 * is that minute's, else the largest allocation seen in the window (the allocation rarely changes, and a
 * null allocated point must not hide a full minute). Ties go to the earlier minute.
 */
export function worstMinute(used: Point[], allocated: Point[]): WorstMinute | undefined {
  const allocAt = new Map<number, number>();
  for (const p of allocated) if (typeof p.v === 'number' && Number.isFinite(p.v)) allocAt.set(p.t, p.v);
  const fallback = maxOf(allocated);
  let worst: WorstMinute | undefined;
  for (const p of [...used].sort((a, b) => a.t - b.t)) {
    if (typeof p.v !== 'number' || !Number.isFinite(p.v)) continue;
    const alloc = allocAt.get(p.t) ?? fallback;
    if (alloc === undefined) continue;
    const ratio = alloc > 0 ? p.v / alloc : p.v > 0 ? Number.POSITIVE_INFINITY : 0;
    if (!worst || ratio > worst.ratio) worst = { t: p.t, used: p.v, allocated: alloc, ratio };
  }
  return worst;
}

/**
 * The increase of a cumulative counter over the window: the sum of the positive steps between consecutive
 * points in time order; a drop is a reset (e.g. the instance rebooted), after which the new value counts
 * in full. Undefined with fewer than one point.
 */
export function counterIncrease(points: Point[]): number | undefined {
  const known = points
    .filter((p): p is { t: number; v: number } => typeof p.v === 'number' && Number.isFinite(p.v))
    .sort((a, b) => a.t - b.t);
  if (known.length === 0) return undefined;
  let increase = 0;
  for (let i = 1; i < known.length; i++) {
    const prev = known[i - 1] as { v: number };
    const cur = known[i] as { v: number };
    increase += cur.v >= prev.v ? cur.v - prev.v : cur.v;
  }
  return increase;
}
