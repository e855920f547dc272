// Deduplication (pure): fingerprints of what a report says, compared with what was already sent.
// A fingerprint is one (node, workload, destination, action) — or a recommendation or an error —
// and lives in RunState.notified with firstSeen / lastSent / severity.
import type { NotifyRecord, RunReport, RunState, Severity } from '../model.js';
import { actionSeverity, maxSeverity, nodeSeverity, severityAtLeast } from './render.js';
import type { Notice, NoticeReason, RecoveredNode } from './types.js';

export interface Fingerprint {
  key: string;
  /** The node it is about, when it is about one: a node whose fingerprints are all gone has recovered. */
  node?: string;
  severity: Severity;
}

export interface DedupPolicy {
  /** Re-send a still-open incident after this many minutes; 0 turns re-notifying off. */
  renotifyMinutes: number;
  /** Fingerprints below this severity neither trigger nor get recorded. */
  minSeverity: Severity;
}

export const defaultDedupPolicy: DedupPolicy = { renotifyMinutes: 60, minSeverity: 'warning' };

export interface Decision {
  /** The notice to send, or null for silence. */
  notice: Notice | null;
  /** RunState.notified to save once the notice was delivered to at least one channel (or when silent). */
  next: RunState['notified'];
}

const part = (s: string | undefined): string => (s === undefined || s === '' ? '-' : encodeURIComponent(s));

/** `kind|node|workload|destination|action`; parts are URI-encoded so a hostile name cannot forge a key. */
const makeKey = (
  kind: string,
  node?: string,
  workload?: string,
  destination?: string,
  action?: string,
): string => [kind, part(node), part(workload), part(destination), part(action)].join('|');

/** The node of a stored key (`-` → none). */
export function nodeOfKey(key: string): string | undefined {
  const raw = key.split('|')[1];
  if (raw === undefined || raw === '-') return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** Everything a report says that someone may want to hear about, each with a severity. */
export function fingerprints(report: RunReport): Fingerprint[] {
  const out = new Map<string, Fingerprint>();
  const add = (f: Fingerprint) => {
    const prev = out.get(f.key);
    out.set(f.key, prev ? { ...prev, severity: maxSeverity([prev.severity, f.severity]) } : f);
  };
  const nodes = new Map(report.nodes.map((n) => [n.name, n]));
  const offenderNode = new Map(report.offenders.map((o) => [o.workload, o.node]));

  for (const o of report.offenders) {
    const node = nodes.get(o.node);
    const action = report.actions.find((a) => a.workload === o.workload);
    const actionPart = action
      ? [action.kind, action.status, action.skipReason].filter(Boolean).join(':')
      : undefined;
    const severities: Severity[] = [node ? nodeSeverity(node) : 'warning'];
    if (action) severities.push(actionSeverity(action));
    add({
      key: makeKey('snat', o.node, o.workload, o.topDestinations[0]?.remote, actionPart),
      node: o.node,
      severity: maxSeverity(severities.map((s) => (s === 'info' ? 'warning' : s))),
    });
  }
  for (const n of report.nodes) {
    if (!n.hot || report.offenders.some((o) => o.node === n.name)) continue;
    add({ key: makeKey('snat', n.name), node: n.name, severity: nodeSeverity(n) });
  }
  for (const a of report.actions) {
    if (report.offenders.some((o) => o.workload === a.workload)) continue;
    const node = a.node ?? offenderNode.get(a.workload);
    const actionPart = [a.kind, a.status, a.skipReason].filter(Boolean).join(':');
    add({
      key: makeKey('action', node, a.workload, undefined, actionPart),
      severity: actionSeverity(a),
      ...(node ? { node } : {}),
    });
  }
  for (const r of report.recommendations) {
    const node = r.node ?? (r.workload ? offenderNode.get(r.workload) : undefined);
    add({
      key: makeKey('advice', node, r.workload, undefined, r.id),
      severity: r.severity,
      ...(node ? { node } : {}),
    });
  }
  for (const e of report.errors) {
    if (e.stage === 'notify') continue;
    add({ key: makeKey('error', undefined, e.target, undefined, e.stage), severity: 'info' });
  }
  return [...out.values()].sort((a, b) => a.key.localeCompare(b.key));
}

/** The fingerprint of "this cluster could not be checked": one, whatever the reason, so it dedups. */
export const SIGHT_KEY = makeKey('sight', undefined, undefined, undefined, 'failed');

/**
 * A run that did not look everywhere cannot tell that something recovered: it may add alerts but resolves
 * nothing. That is a failed or skipped run, one cut by the deadline, and one whose pressure or lock read
 * failed (it does not know which nodes are hot).
 */
function isBlind(report: RunReport): boolean {
  return (
    report.status === 'failed' ||
    report.status === 'skipped' ||
    report.skipped !== undefined ||
    report.statusReason === 'deadline' ||
    report.errors.some((e) => e.stage === 'pressure' || e.stage === 'lock' || e.stage === 'nodes')
  );
}

/**
 * Nodes this run could not read (a pod list or a probe that failed, or pods whose read failed: without a
 * cloud figure their sockets are the only evidence): nothing about them resolves.
 */
function unseenNodes(report: RunReport): Set<string> {
  const out = new Set<string>();
  for (const n of report.nodes) if ((n.podsFailed ?? 0) > 0) out.add(n.name);
  for (const e of report.errors) {
    if ((e.stage === 'inspect' || e.stage === 'conntrack') && e.target.startsWith('node/'))
      out.add(e.target.slice('node/'.length));
  }
  return out;
}

/**
 * A failed run: the "could not check" notice, deduplicated like a finding (sent when new, then again after
 * renotifyMinutes). Every other fingerprint is kept as it was: a run that did not look resolves nothing.
 */
function decideFailed(
  report: RunReport,
  notified: RunState['notified'],
  now: Date,
  policy: DedupPolicy,
): Decision {
  const prev = notified[SIGHT_KEY];
  const due =
    prev !== undefined &&
    policy.renotifyMinutes > 0 &&
    now.getTime() - Date.parse(prev.lastSent) >= policy.renotifyMinutes * 60_000;
  if (prev !== undefined && !due) return { notice: null, next: notified };
  const nowIso = now.toISOString();
  const next: RunState['notified'] = {
    ...notified,
    [SIGHT_KEY]: { firstSeen: prev?.firstSeen ?? nowIso, lastSent: nowIso, severity: 'critical' },
  };
  const notice: Notice = {
    kind: 'alert',
    severity: 'critical',
    reasons: [prev ? 'renotify' : 'new'],
    report,
    changed: prev ? [] : [SIGHT_KEY],
    resolved: [],
    recovered: [],
  };
  return { notice, next };
}

/**
 * Decide what to send for this run. Sends when a fingerprint is new or its severity went up, when
 * `renotifyMinutes` passed since it was last sent, or when a node recovered; otherwise silence.
 * `next` marks every current fingerprint as sent at `now` (when sending) and drops resolved ones.
 * A failed run sends its own notice (decideFailed); the first run that sees again says so.
 */
export function decide(
  report: RunReport,
  notified: RunState['notified'],
  now: Date,
  policy: DedupPolicy = defaultDedupPolicy,
): Decision {
  if (report.status === 'failed') return decideFailed(report, notified, now, policy);
  const blindSince = notified[SIGHT_KEY]?.firstSeen;
  const all = fingerprints(report);
  const current = all.filter((f) => severityAtLeast(f.severity, policy.minSeverity));
  const currentKeys = new Set(current.map((f) => f.key));
  const nowIso = now.toISOString();
  const renotifyMs = policy.renotifyMinutes * 60_000;

  const escalatedOne = (f: Fingerprint): boolean => {
    const prev = notified[f.key];
    return prev !== undefined && !severityAtLeast(prev.severity, f.severity);
  };
  const changed = current.filter((f) => notified[f.key] === undefined || escalatedOne(f));
  const isNew = current.some((f) => notified[f.key] === undefined);
  const escalated = current.some(escalatedOne);
  const due =
    renotifyMs > 0 &&
    current.some((f) => {
      const prev = notified[f.key];
      return prev !== undefined && now.getTime() - Date.parse(prev.lastSent) >= renotifyMs;
    });

  const blind = isBlind(report);
  const unseen = unseenNodes(report);
  // A fingerprint about a node this run could not read stays open. (A node gone from a list that was
  // read is seen to be gone: it resolves.)
  const seenKey = (k: string): boolean => {
    const node = nodeOfKey(k);
    return node === undefined || !unseen.has(node);
  };
  const resolved = blind
    ? []
    : Object.keys(notified).filter((k) => k !== SIGHT_KEY && !currentKeys.has(k) && seenKey(k));
  const stillMentioned = new Set(all.map((f) => f.node).filter((n): n is string => n !== undefined));
  const hotNodes = new Set(report.nodes.filter((n) => n.hot).map((n) => n.name));
  const recoveredNodes = new Map<string, string>();
  for (const key of resolved) {
    const node = nodeOfKey(key);
    if (node === undefined || stillMentioned.has(node) || hotNodes.has(node)) continue;
    const firstSeen = notified[key]!.firstSeen;
    const known = recoveredNodes.get(node);
    recoveredNodes.set(node, known !== undefined && known < firstSeen ? known : firstSeen);
  }
  const recovered: RecoveredNode[] = [...recoveredNodes]
    .map(([node, firstSeen]) => ({ node, firstSeen }))
    .sort((a, b) => a.node.localeCompare(b.node));
  // The first run after failed ones that looked again (a skipped run did not look).
  const restored = blindSince !== undefined && report.status !== 'skipped';

  const reasons: NoticeReason[] = [];
  if (isNew) reasons.push('new');
  if (escalated) reasons.push('escalated');
  if (due) reasons.push('renotify');
  if (recovered.length > 0 || restored) reasons.push('resolved');

  const kept: RunState['notified'] = {};
  for (const [key, record] of Object.entries(notified)) {
    if (!resolved.includes(key) && !(restored && key === SIGHT_KEY)) kept[key] = record;
  }

  const alerting = isNew || escalated || due;
  if (!alerting && recovered.length === 0 && !restored) {
    // Silence: resolved fingerprints whose node still has others (an action that changed) drop quietly.
    return { notice: null, next: kept };
  }

  const next: RunState['notified'] = { ...kept };
  if (alerting) {
    for (const f of current) {
      const prev: NotifyRecord | undefined = notified[f.key];
      next[f.key] = { firstSeen: prev?.firstSeen ?? nowIso, lastSent: nowIso, severity: f.severity };
    }
  }
  const notice: Notice = {
    kind: alerting ? 'alert' : 'recovered',
    severity: alerting ? maxSeverity(current.map((f) => f.severity)) : 'info',
    reasons,
    report,
    changed: changed.map((f) => f.key),
    resolved: restored ? [...resolved, SIGHT_KEY] : resolved,
    recovered,
    ...(restored ? { blindSince } : {}),
  };
  return { notice, next };
}
