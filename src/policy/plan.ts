// Pure: offenders + the live state of their workloads + policy + now → one restart Action per workload.
// Each safety rail is a small named unit with its reason code (kured's blockers); they run in a fixed
// order, and every limit is applied in one place after a fixed sort (descheduler), so a run is deterministic.
// A rail that cannot be checked fails closed: RAIL_CHECK_FAILED, no restart.
import type { Action, Mode, Offender, SkipReason, WorkloadRef, WorkloadStatus } from '../model.js';
import { matchesSelector } from './selector.js';

/** The live state of a workload as the shell read it just before planning; a read error fails closed. */
export type WorkloadCheck = { ok: true; status: WorkloadStatus } | { ok: false; error: string };

export interface RailsPolicy {
  maxRestartsPerRun: number;
  cooldownMinutes: number;
  allowSingleReplica: boolean;
  namespaces: { include: readonly string[]; exclude: readonly string[] };
  selector: string;
  /** Allow restarting a multi-replica Deployment whose strategy is Recreate (every pod goes down at once). */
  allowRecreate?: boolean;
  /** After a run restarted on a node, later runs restart nothing else there for this long (SETTLING). */
  settleMinutes?: number;
}

export interface PlanPolicy {
  mode: Mode;
  rails: RailsPolicy;
}

/** What earlier runs decided, for the SETTLING rail: node → latest restart (from the Lease), and this run's id. */
export interface PlanHistory {
  settled: Readonly<Record<string, { at: string; workload: string; runId: string }>>;
  runId: string;
}

export const ANNOTATIONS = {
  /** On spec.template.metadata: what `kubectl rollout restart` writes; changing it rolls the pods. */
  templateRestartedAt: 'kubectl.kubernetes.io/restartedAt',
  /** On the workload's metadata: when snatguard restarted it (the cooldown record). */
  restartedAt: 'snatguard.io/restarted-at',
  /** On the workload's metadata: why. */
  reason: 'snatguard.io/reason',
  /** On the workload's metadata: `"true"` opts the workload out. */
  exclude: 'snatguard.io/exclude',
} as const;

export const RESTARTABLE_KINDS: ReadonlySet<string> = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

const MAX_REASON_ANNOTATION = 1024;

/** RFC 3339 in UTC without fractional seconds, as kubectl writes it. */
export const rfc3339 = (now: Date): string => now.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The annotations a restart writes: the template one rolls the pods, the metadata ones record it. */
export function restartAnnotations(
  reason: string,
  now: Date,
): { template: Record<string, string>; metadata: Record<string, string> } {
  const at = rfc3339(now);
  return {
    template: { [ANNOTATIONS.templateRestartedAt]: at },
    metadata: { [ANNOTATIONS.restartedAt]: at, [ANNOTATIONS.reason]: reason.slice(0, MAX_REASON_ANNOTATION) },
  };
}

/** The merge patch body of a restart (Deployment, StatefulSet and DaemonSet alike). */
export function restartPatch(reason: string, now: Date) {
  const a = restartAnnotations(reason, now);
  return {
    metadata: { annotations: a.metadata },
    spec: { template: { metadata: { annotations: a.template } } },
  };
}

// ---------------------------------------------------------------- candidates

/** One workload, possibly an offender on several hot nodes. */
export interface Candidate {
  workload: string;
  ref: WorkloadRef;
  /** Its entries, most SNAT-consuming sockets first. */
  entries: Offender[];
  /** Summed over its hot nodes. */
  snatSockets: number;
  /** No entry crossed the offender bar (`matched` empty everywhere). */
  belowThreshold: boolean;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Groups entries by workload and sorts: most SNAT-consuming sockets first, then workload id. */
export function candidatesOf(offenders: readonly Offender[]): Candidate[] {
  const byWorkload = new Map<string, Offender[]>();
  for (const o of offenders) byWorkload.set(o.workload, [...(byWorkload.get(o.workload) ?? []), o]);
  const out: Candidate[] = [];
  for (const [workload, all] of byWorkload) {
    const matched = all.filter((o) => o.matched.length > 0);
    const entries = (matched.length > 0 ? matched : all).sort(
      (a, b) => b.snatSockets - a.snatSockets || cmp(a.node, b.node),
    );
    out.push({
      workload,
      ref: entries[0]!.ref,
      entries,
      snatSockets: entries.reduce((s, o) => s + o.snatSockets, 0),
      belowThreshold: matched.length === 0,
    });
  }
  return out.sort((a, b) => b.snatSockets - a.snatSockets || cmp(a.workload, b.workload));
}

const pct = (r: number): string => `${Math.round(r * 100)}%`;

/** Why this workload is a candidate, e.g. `900 SNAT sockets (88% of node aks-…), 900 to 20.103.144.194:27017`. */
export function candidateReason(c: Candidate): string {
  const top = c.entries[0]!;
  const parts = [`${top.snatSockets} SNAT sockets (${pct(top.share)} of node ${top.node})`];
  const dest = top.topDestinations[0];
  if (dest) parts[0] += `, ${dest.sockets} to ${dest.remote}`;
  if (c.entries.length > 1) {
    const rest = c.entries.length - 1;
    parts.push(`+${c.snatSockets - top.snatSockets} on ${rest} other hot node${rest === 1 ? '' : 's'}`);
  }
  const rules = [...new Set(c.entries.flatMap((e) => e.matched))];
  if (rules.length > 0) parts.push(rules.join('; '));
  return parts.join('; ');
}

// ---------------------------------------------------------------- rails

interface RailContext {
  candidate: Candidate;
  policy: PlanPolicy;
  now: Date;
  history?: PlanHistory;
}

interface Rail {
  code: SkipReason;
  /** Null when the rail lets the restart through, else what blocks it. */
  blocks(ctx: RailContext): string | null;
}

interface LiveRail {
  code: SkipReason;
  blocks(ctx: RailContext, status: WorkloadStatus): string | null;
}

/** Rails decided by the offender and the config alone (no read of the workload needed). */
export const staticRails: readonly Rail[] = [
  {
    code: 'BELOW_THRESHOLD',
    blocks: ({ candidate }) => (candidate.belowThreshold ? 'below the offender thresholds' : null),
  },
  {
    code: 'UNSUPPORTED_KIND',
    blocks: ({ candidate: { ref } }) =>
      RESTARTABLE_KINDS.has(ref.kind)
        ? null
        : ref.kind === 'Node'
          ? 'node-level sockets (hostNetwork): nothing to restart'
          : `${ref.kind} cannot be rollout-restarted (only Deployment, StatefulSet, DaemonSet)`,
  },
  {
    code: 'EXCLUDED_NAMESPACE',
    blocks: ({ candidate: { ref }, policy }) =>
      policy.rails.namespaces.exclude.includes(ref.namespace)
        ? `namespace ${ref.namespace} is excluded`
        : null,
  },
  {
    code: 'NOT_SELECTED',
    blocks: ({ candidate: { ref }, policy }) => {
      const include = policy.rails.namespaces.include;
      return include.length > 0 && !include.includes(ref.namespace)
        ? `namespace ${ref.namespace} is not in rails.namespaces.include`
        : null;
    },
  },
];

/** Rails that look at the workload's live state, in order. */
export const liveRails: readonly LiveRail[] = [
  {
    code: 'NOT_SELECTED',
    blocks: ({ policy }, status) =>
      matchesSelector(policy.rails.selector, status.labels)
        ? null
        : `labels do not match rails.selector "${policy.rails.selector}"`,
  },
  {
    code: 'OPTED_OUT',
    blocks: (_ctx, status) =>
      status.annotations[ANNOTATIONS.exclude]?.trim().toLowerCase() === 'true'
        ? `annotation ${ANNOTATIONS.exclude}: "true"`
        : null,
  },
  {
    code: 'COOLDOWN',
    blocks: ({ policy, now }, status) => {
      const value = status.annotations[ANNOTATIONS.restartedAt];
      if (value === undefined) return null;
      const at = Date.parse(value);
      // Fail closed: an unreadable cooldown record must not allow a restart loop.
      if (!Number.isFinite(at))
        throw new Error(`annotation ${ANNOTATIONS.restartedAt} is not a time: "${value}"`);
      const ageMinutes = (now.getTime() - at) / 60_000;
      return ageMinutes < policy.rails.cooldownMinutes
        ? `restarted ${Math.max(0, Math.floor(ageMinutes))} min ago (cooldown ${policy.rails.cooldownMinutes} min)`
        : null;
    },
  },
  {
    // Cloud metrics and idle timeouts lag the socket counts: after an earlier run restarted a workload on
    // one of this workload's hot nodes, wait for the node to settle. Within one run maxRestartsPerRun governs.
    code: 'SETTLING',
    blocks: ({ candidate, policy, now, history }) => {
      const minutes = policy.rails.settleMinutes ?? 0;
      if (history === undefined || minutes <= 0) return null;
      for (const node of new Set(candidate.entries.map((e) => e.node))) {
        // `*`: every node (the record was unreadable and replaced; see cluster/lease.ts EVERY_NODE).
        const key = Object.hasOwn(history.settled, node) ? node : '*';
        const entry = Object.hasOwn(history.settled, key) ? history.settled[key] : undefined;
        if (entry === undefined || entry.runId === history.runId || entry.workload === candidate.workload)
          continue;
        const at = Date.parse(entry.at);
        if (!Number.isFinite(at))
          throw new Error(`settle record of node ${node} is not a time: "${entry.at}"`);
        const age = (now.getTime() - at) / 60_000;
        if (age < minutes)
          return `node ${node}: ${entry.workload} restarted ${Math.max(0, Math.floor(age))} min ago (rails.settleMinutes ${minutes})`;
      }
      return null;
    },
  },
  {
    code: 'PAUSED',
    blocks: (_ctx, status) => (status.paused ? 'rollouts are paused' : null),
  },
  {
    code: 'ROLLOUT_IN_PROGRESS',
    blocks: (_ctx, s) =>
      s.observedGeneration < s.generation
        ? `generation ${s.generation} not yet observed (${s.observedGeneration})`
        : s.updatedReplicas < s.replicas
          ? `${s.updatedReplicas}/${s.replicas} replicas updated`
          : null,
  },
  {
    code: 'UNHEALTHY',
    blocks: (_ctx, s) => (s.unavailableReplicas > 0 ? `${s.unavailableReplicas} replicas unavailable` : null),
  },
  {
    code: 'SINGLE_REPLICA',
    blocks: ({ policy }, s) =>
      s.replicas <= 1 && !policy.rails.allowSingleReplica
        ? `${s.replicas} replica${s.replicas === 1 ? '' : 's'}: a restart would be an outage (rails.allowSingleReplica)`
        : null,
  },
  {
    code: 'RECREATE_STRATEGY',
    blocks: ({ policy }, s) =>
      s.ref.kind === 'Deployment' &&
      s.strategy === 'Recreate' &&
      s.replicas > 1 &&
      policy.rails.allowRecreate !== true
        ? `strategy Recreate: a restart takes all ${s.replicas} pods down at once (rails.allowRecreate)`
        : null,
  },
];

type Verdict = { code: SkipReason; detail: string } | null;

function runStatic(ctx: RailContext): Verdict {
  for (const rail of staticRails) {
    try {
      const detail = rail.blocks(ctx);
      if (detail !== null) return { code: rail.code, detail };
    } catch (e) {
      return {
        code: 'RAIL_CHECK_FAILED',
        detail: `${rail.code} check failed: ${e instanceof Error ? e.message : String(e)}`,
      };
    }
  }
  return null;
}

function runLive(ctx: RailContext, check: WorkloadCheck | undefined): Verdict {
  if (!check) return { code: 'RAIL_CHECK_FAILED', detail: 'workload state was not read' };
  if (!check.ok) return { code: 'RAIL_CHECK_FAILED', detail: `cannot read workload: ${check.error}` };
  return liveVerdict(ctx, check.status);
}

function liveVerdict(ctx: RailContext, status: WorkloadStatus): Verdict {
  for (const rail of liveRails) {
    try {
      const detail = rail.blocks(ctx, status);
      if (detail !== null) return { code: rail.code, detail };
    } catch (e) {
      return {
        code: 'RAIL_CHECK_FAILED',
        detail: `${rail.code} check failed: ${e instanceof Error ? e.message : String(e)}`,
      };
    }
  }
  return null;
}

/**
 * The live rails again, on the workload as re-read right before its patch (a restart by another actor
 * since planning shows as COOLDOWN; a node settled since, as SETTLING). Null: go ahead.
 */
export function recheck(
  offenders: readonly Offender[],
  workload: string,
  status: WorkloadStatus,
  policy: PlanPolicy,
  now: Date,
  history?: PlanHistory,
): { code: SkipReason; detail: string } | null {
  const candidate = candidatesOf(offenders).find((c) => c.workload === workload);
  if (candidate === undefined) return { code: 'RAIL_CHECK_FAILED', detail: `${workload} is not a candidate` };
  return liveVerdict(history ? { candidate, policy, now, history } : { candidate, policy, now }, status);
}

/**
 * The workloads whose live state plan() needs (those that pass the static rails), in plan order.
 * The shell reads exactly these, so API requests stay O(candidates).
 */
export function workloadsToCheck(
  offenders: readonly Offender[],
  policy: PlanPolicy,
  now: Date,
): WorkloadRef[] {
  return candidatesOf(offenders)
    .filter((candidate) => runStatic({ candidate, policy, now }) === null)
    .map((c) => c.ref);
}

/**
 * One Action per workload, in a fixed order (most SNAT-consuming sockets first, then workload id).
 * Entries with `matched: []` (analyzeOffenders' belowThreshold) become BELOW_THRESHOLD skips.
 * restart mode: passing actions are `planned` (the act stage makes them applied / failed).
 * dry-run: passing actions are `planned` with skipReason DRY_RUN. rails.maxRestartsPerRun applies in both
 * modes, so a dry run shows exactly what restart mode would do.
 */
export function plan(
  offenders: readonly Offender[],
  workloads: ReadonlyMap<string, WorkloadCheck>,
  policy: PlanPolicy,
  now: Date,
  history?: PlanHistory,
): Action[] {
  let passing = 0;
  return candidatesOf(offenders).map((candidate): Action => {
    const ctx: RailContext = history ? { candidate, policy, now, history } : { candidate, policy, now };
    const why = candidateReason(candidate);
    const base = {
      kind: 'restart' as const,
      workload: candidate.workload,
      node: candidate.entries[0]!.node,
      snatSockets: candidate.snatSockets,
    };
    const verdict =
      runStatic(ctx) ??
      runLive(ctx, workloads.get(candidate.workload)) ??
      (passing >= policy.rails.maxRestartsPerRun
        ? {
            code: 'MAX_PER_RUN' as const,
            detail: `rails.maxRestartsPerRun ${policy.rails.maxRestartsPerRun} reached`,
          }
        : null);
    if (verdict)
      return { ...base, status: 'skipped', skipReason: verdict.code, reason: `${verdict.detail}; ${why}` };
    passing++;
    if (policy.mode === 'dry-run') {
      return { ...base, status: 'planned', skipReason: 'DRY_RUN', reason: `dry-run, would restart: ${why}` };
    }
    return { ...base, status: 'planned', reason: why };
  });
}
