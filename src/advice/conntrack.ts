// Advice for a node's conntrack table: CONNTRACK_RAISE_MAX and CONNTRACK_BE_LIBERAL.
import type { NodeReport, Recommendation } from '../model.js';
import { num, pct } from './format.js';
import type { AdviceInput } from './types.js';

/**
 * Entries per hash bucket the advice keeps: current kernels default nf_conntrack_max to
 * nf_conntrack_buckets (Documentation/networking/nf_conntrack-sysctl.rst), one entry per bucket on
 * average. (Older documentation said max = 4 × buckets.)
 */
export const CONNTRACK_ENTRIES_PER_BUCKET = 1;

/** The smallest power of two ≥ n (n ≥ 1). */
export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** A new table size: twice the current max (and twice the count), rounded up to a power of two; buckets = max, as the kernel's default. */
export function conntrackTarget(c: { count: number; max: number }): { max: number; buckets: number } {
  const max = nextPowerOfTwo(Math.max(2 * c.max, 2 * c.count, CONNTRACK_ENTRIES_PER_BUCKET));
  return { max, buckets: max / CONNTRACK_ENTRIES_PER_BUCKET };
}

/** Growth of a counter: the delta when known; on a first run the absolute value, only when the table is under pressure. */
function growth(delta: number | undefined, absolute: number, pressured: boolean): number {
  if (delta !== undefined) return Math.max(0, delta);
  return pressured ? absolute : 0;
}

const byName = (a: NodeReport, b: NodeReport) => a.name.localeCompare(b.name);

/** CONNTRACK_RAISE_MAX: one per node with count/max at or above the threshold. */
export function conntrackRaiseMax(input: AdviceInput): Recommendation[] {
  const out: Recommendation[] = [];
  for (const n of [...input.nodes].sort(byName)) {
    const c = n.conntrack;
    if (!c || c.max <= 0 || c.ratio < input.thresholds.conntrackUsedRatio) continue;
    const target = conntrackTarget(c);
    const drops = growth(c.dropDelta, c.drop, true);
    const full = c.count >= c.max;
    out.push({
      id: 'CONNTRACK_RAISE_MAX',
      severity: full || drops > 0 ? 'critical' : 'warning',
      title: `Conntrack table on ${n.name} is ${pct(c.ratio)} full (${num(c.count)}/${num(c.max)})`,
      detail:
        `nf_conntrack_count ${num(c.count)} of nf_conntrack_max ${num(c.max)} (${pct(c.ratio)}, threshold ${pct(input.thresholds.conntrackUsedRatio)})` +
        (drops > 0 ? `; ${num(drops)} packets dropped for lack of room` : '') +
        `. When the table is full, new connections are dropped or marked INVALID and reset. ` +
        `Raise nf_conntrack_max to ${num(target.max)} and nf_conntrack_buckets to ${num(target.buckets)}: current kernels default the max to the bucket count ` +
        `(one entry per hash bucket on average; raising the max alone lengthens the hash chains). nf_conntrack_buckets can only be written in the node's own network namespace. ` +
        `kube-proxy sets the limit when it starts, so make it last with \`--conntrack-min=${target.max}\` ` +
        `(or \`--conntrack-max-per-core\` × cores ≥ ${num(target.max)}; conntrack.min / maxPerCore in KubeProxyConfiguration).`,
      fix: `sysctl -w net.netfilter.nf_conntrack_max=${target.max} net.netfilter.nf_conntrack_buckets=${target.buckets}`,
      node: n.name,
    });
  }
  return out;
}

/** CONNTRACK_BE_LIBERAL: drops or insert failures grew on a node whose conntrack is strict (be_liberal 0). */
export function conntrackBeLiberal(input: AdviceInput): Recommendation[] {
  const out: Recommendation[] = [];
  for (const n of [...input.nodes].sort(byName)) {
    const c = n.conntrack;
    if (!c || c.beLiberal) continue;
    const pressured = c.max > 0 && c.ratio >= input.thresholds.conntrackUsedRatio;
    const drops = growth(c.dropDelta, c.drop, pressured);
    const insertFailed = growth(c.insertFailedDelta, c.insertFailed, pressured);
    if (drops === 0 && insertFailed === 0) continue;
    const since =
      c.dropDelta !== undefined || c.insertFailedDelta !== undefined ? 'since the last run' : 'since boot';
    const what = [
      drops > 0 ? `drop +${num(drops)}` : '',
      insertFailed > 0 ? `insert_failed +${num(insertFailed)}` : '',
    ].filter(Boolean);
    out.push({
      id: 'CONNTRACK_BE_LIBERAL',
      severity: 'warning',
      title: `Conntrack on ${n.name} drops packets (${what.join(', ')}) with be_liberal off`,
      detail:
        `${n.name}: ${what.join(', ')} ${since}, nf_conntrack_tcp_be_liberal = 0. Packets conntrack marks INVALID ` +
        `(out of window, e.g. after a table overflow or a retransmit) skip the reverse NAT and reach the pod, which answers with a reset: ` +
        `"Connection reset by peer". With be_liberal = 1 only out-of-window RSTs are INVALID. ` +
        `kube-proxy sets it with \`--conntrack-tcp-be-liberal\` on every node it runs on, which survives reboots.` +
        (insertFailed > 0 && drops === 0
          ? ' insert_failed growing on its own is the SNAT port race: on EKS see AWS_RANDOMIZESNAT_PRNG (--random-fully).'
          : ''),
      fix: 'sysctl -w net.netfilter.nf_conntrack_tcp_be_liberal=1',
      node: n.name,
    });
  }
  return out;
}
