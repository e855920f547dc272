// One rendering of a RunReport into a channel-neutral Message (pure): every channel formats this, none
// reads the report itself, so Slack, Teams and Discord say the same thing.
import { redactText } from '../log.js';
import type { Action, NodeReport, PressureSignal, RunReport, Severity } from '../model.js';
import type { Item, Message, Notice, RecoveredNode, Section, Span } from './types.js';

const severityRank: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

export const severityAtLeast = (s: Severity, floor: Severity): boolean =>
  severityRank[s] >= severityRank[floor];

export const maxSeverity = (list: Severity[]): Severity =>
  list.reduce<Severity>((a, b) => (severityRank[b] > severityRank[a] ? b : a), 'info');

const text = (t: string): Span => ({ style: 'text', text: t });
const code = (t: string): Span => ({ style: 'code', text: t });
const strong = (t: string): Span => ({ style: 'strong', text: t });

const pct = (ratio: number): string => `${Math.round(ratio * 100)}%`;
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** Signals that mean connections are failing now, not merely close to it. */
function signalIsExhaustion(s: PressureSignal): boolean {
  switch (s.kind) {
    case 'snat-ports':
      return (s.ratio ?? (s.used !== undefined && s.allocated ? s.used / s.allocated : 0)) >= 1;
    case 'snat-failed':
    case 'natgw-port-allocation':
    case 'natgw-packets-dropped':
    case 'conntrack-allowance':
      return (s.value ?? 0) > 0;
    case 'conntrack':
      return (s.ratio ?? 0) >= 1;
    default:
      return false;
  }
}

/** critical: connections are failing (ports or conntrack exhausted); warning: hot; info: not hot. */
export function nodeSeverity(node: NodeReport): Severity {
  if (!node.hot) return 'info';
  const conntrackFull = node.conntrack !== undefined && node.conntrack.max > 0 && node.conntrack.ratio >= 1;
  const conntrackFailing =
    (node.conntrack?.insertFailedDelta ?? 0) > 0 || (node.conntrack?.dropDelta ?? 0) > 0;
  return node.signals.some(signalIsExhaustion) || conntrackFull || conntrackFailing ? 'critical' : 'warning';
}

export function actionSeverity(action: Action): Severity {
  return action.status === 'failed' ? 'critical' : 'warning';
}

/** The severity of a whole report: the worst of its hot nodes, failed actions and recommendations. */
export function reportSeverity(report: RunReport): Severity {
  return maxSeverity([
    ...report.nodes.filter((n) => n.hot).map(nodeSeverity),
    ...report.actions.filter((a) => a.status === 'failed').map(actionSeverity),
    ...report.recommendations.map((r) => r.severity),
  ]);
}

/** A pressure signal in words (`3 NAT gateway port-allocation errors`), never a raw metric id. */
export function signalText(s: PressureSignal): string {
  switch (s.kind) {
    case 'snat-ports':
      return s.used !== undefined && s.allocated !== undefined
        ? `SNAT ports ${s.used}/${s.allocated} (${pct(s.ratio ?? (s.allocated ? s.used / s.allocated : 0))})`
        : `SNAT ports ${pct(s.ratio ?? 0)}`;
    case 'snat-failed':
      return `${plural(s.value ?? 0, 'failed SNAT connection')}`;
    case 'natgw-port-allocation':
      return `${plural(s.value ?? 0, 'NAT gateway port-allocation error')}`;
    case 'natgw-packets-dropped':
      return `${plural(s.value ?? 0, 'NAT gateway packet')} dropped`;
    case 'natgw-active-connections':
      return `${plural(s.value ?? 0, 'NAT gateway active connection')}`;
    case 'conntrack-allowance':
      return `conntrack allowance exceeded ${s.value ?? 0}×`;
    case 'conntrack':
      return s.used !== undefined && s.allocated !== undefined
        ? `conntrack ${s.used}/${s.allocated}`
        : `conntrack ${pct(s.ratio ?? 0)}`;
    default:
      return String(s.kind);
  }
}

function exhaustionKind(report: RunReport): string {
  const hot = report.nodes.filter((n) => n.hot);
  const signals = hot.flatMap((n) => n.signals);
  const snatFailing = signals.some(
    (s) => ['snat-ports', 'snat-failed', 'natgw-port-allocation'].includes(s.kind) && signalIsExhaustion(s),
  );
  if (snatFailing) return 'SNAT exhaustion';
  const conntrack =
    signals.some(
      (s) => (s.kind === 'conntrack-allowance' || s.kind === 'conntrack') && signalIsExhaustion(s),
    ) || hot.some((n) => n.conntrack !== undefined && n.conntrack.ratio >= 1);
  if (conntrack) return 'Conntrack saturation';
  if (hot.length > 0) return 'SNAT pressure';
  if (report.offenders.length > 0 || report.recommendations.length > 0) return 'Outbound connection findings';
  return 'snatguard errors';
}

/** `1 restart planned (dry-run)`, `1 restart applied, 1 restart skipped`: the same words everywhere. */
export function actionsSummary(report: RunReport): string {
  if (report.actions.length === 0) return 'no restart';
  const order: Action['status'][] = ['applied', 'failed', 'planned', 'skipped'];
  return order
    .map((status) => {
      const n = report.actions.filter((a) => a.status === status).length;
      if (n === 0) return '';
      const suffix = status === 'planned' && report.mode === 'dry-run' ? ' (dry-run)' : '';
      return `${plural(n, 'restart')} ${status}${suffix}`;
    })
    .filter(Boolean)
    .join(', ');
}

/** What a failed run could not check, for people: the first line of its message. */
export function couldNotCheck(report: RunReport): string {
  return `snatguard could not check ${report.cluster}: ${report.statusReason ?? 'unknown reason'}`;
}

export function alertHeadline(report: RunReport): string {
  if (report.status === 'failed') return couldNotCheck(report);
  const hot = report.nodes.filter((n) => n.hot).length;
  return `${exhaustionKind(report)} on ${report.cluster} — ${plural(hot, 'hot node')}, ${actionsSummary(report)}`;
}

export function recoveredHeadline(cluster: string, recovered: RecoveredNode[]): string {
  const what = recovered.length === 1 ? `node ${recovered[0]!.node}` : plural(recovered.length, 'node');
  return `Recovered on ${cluster} — ${what} recovered`;
}

/**
 * What the run could not see, first: a failed run says what was not checked and why; a partial run what it
 * missed; a run after failed ones that it sees again.
 */
function statusSection(report: RunReport, blindSince?: string): Section | null {
  const items: Item[] = [];
  if (report.status === 'failed') {
    items.push({
      spans: [
        strong('Not checked: '),
        text('SNAT ports, conntrack and sockets of every node — nothing was read'),
      ],
      detail: redactText(report.statusReason ?? 'unknown reason'),
    });
  } else if (report.status === 'partial') {
    items.push({
      spans: [
        strong('Partial run: '),
        text(report.statusReason === 'deadline' ? 'the deadline cut it short' : 'not everything was read'),
      ],
      detail: redactText(report.statusReason ?? ''),
    });
  }
  if (blindSince !== undefined) {
    items.push({
      spans: [text(`snatguard can see ${report.cluster} again (could not since ${blindSince})`)],
    });
  }
  return items.length > 0 ? { key: 'status', title: 'Status', items } : null;
}

function nodesSection(report: RunReport): Section | null {
  const hot = report.nodes.filter((n) => n.hot);
  if (hot.length === 0) return null;
  const items = hot.map((n): Item => {
    const facts = n.signals.map(signalText);
    if (n.conntrack && !n.signals.some((s) => s.kind === 'conntrack')) {
      facts.push(`conntrack ${n.conntrack.count}/${n.conntrack.max} (${pct(n.conntrack.ratio)})`);
    }
    if (n.conntrack?.insertFailedDelta) facts.push(`insert_failed +${n.conntrack.insertFailedDelta}`);
    if (n.conntrack?.dropDelta) facts.push(`conntrack drops +${n.conntrack.dropDelta}`);
    const inspected = `${plural(n.podsInspected, 'pod')} inspected${n.podsUninspectable ? `, ${n.podsUninspectable} uninspectable` : ''}${n.podsFailed ? `, ${n.podsFailed} failed` : ''}`;
    return { spans: [code(n.name), text(` — ${[...facts, inspected].join(' · ')}`)] };
  });
  return { key: 'nodes', title: 'Hot nodes', items };
}

function offendersSection(report: RunReport): Section | null {
  if (report.offenders.length === 0) return null;
  const items = report.offenders.map((o): Item => {
    const spans: Span[] = [
      code(o.workload),
      text(' on '),
      code(o.node),
      text(
        ` — ${o.snatSockets} SNAT sockets (${pct(o.share)} of the node) in ${plural(o.pods.length, 'pod')}`,
      ),
    ];
    const top = o.topDestinations.slice(0, 3);
    top.forEach((d, i) => {
      spans.push(text(i === 0 ? '; top: ' : ', '), code(d.remote), text(` ×${d.sockets}`));
    });
    if (o.topDestinations.length > top.length)
      spans.push(text(` and ${o.topDestinations.length - top.length} more`));
    // Which pods hold them: an average over pods would hide one pod with 1,010 beside others with 12.
    o.topPods?.forEach((p, i) => {
      spans.push(text(i === 0 ? '; by pod: ' : ', '), code(p.pod), text(` ×${p.sockets}`));
    });
    return { spans };
  });
  return { key: 'offenders', title: 'Offenders', items };
}

function actionsSection(report: RunReport): Section | null {
  if (report.actions.length === 0) return null;
  const items = report.actions.map((a): Item => {
    const spans: Span[] = [text(`${a.kind} `), code(a.workload), text(' — '), strong(a.status)];
    if (a.skipReason) spans.push(text(' '), code(a.skipReason));
    const detail = [a.reason, a.error ? `error: ${redactText(a.error)}` : ''].filter(Boolean).join(' — ');
    return detail ? { spans, detail } : { spans };
  });
  return { key: 'actions', title: 'Actions', items };
}

function recommendationsSection(report: RunReport): Section | null {
  if (report.recommendations.length === 0) return null;
  const items = report.recommendations.map(
    (r): Item => ({
      spans: [code(r.id), text(` ${r.severity} — `), strong(r.title)],
      detail: r.detail,
      code: r.fix,
    }),
  );
  return { key: 'recommendations', title: 'Recommendations', items };
}

function errorsSection(report: RunReport): Section | null {
  if (report.errors.length === 0) return null;
  const items = report.errors.map(
    (e): Item => ({ spans: [code(e.stage), text(' '), code(e.target)], detail: redactText(e.message) }),
  );
  return { key: 'errors', title: 'Errors', items };
}

function recoveredSection(recovered: RecoveredNode[]): Section | null {
  if (recovered.length === 0) return null;
  const items = recovered.map(
    (r): Item => ({
      spans: [text('node '), code(r.node), text(` recovered (alerted since ${r.firstSeen})`)],
    }),
  );
  return { key: 'recovered', title: 'Recovered', items };
}

/** The Message for a decided notice: an alert carries the whole report, a recovered notice the nodes. */
export function render(notice: Notice): Message {
  const report = notice.report;
  const base = {
    kind: notice.kind,
    severity: notice.severity,
    cluster: report.cluster,
    mode: report.mode,
    runId: report.runId,
    at: report.finishedAt,
  };
  if (notice.kind === 'recovered') {
    const headline =
      notice.recovered.length > 0
        ? recoveredHeadline(report.cluster, notice.recovered)
        : `snatguard can see ${report.cluster} again`;
    return {
      ...base,
      headline,
      context: `resolved · ${report.mode} · run ${report.runId} · ${report.finishedAt}`,
      sections: [
        statusSection(report, notice.blindSince),
        recoveredSection(notice.recovered),
        errorsSection(report),
      ].filter((s): s is Section => s !== null),
    };
  }
  return {
    ...base,
    headline: alertHeadline(report),
    context: `${notice.severity} · ${report.mode} · run ${report.runId} · ${report.finishedAt}`,
    sections: [
      statusSection(report, notice.blindSince),
      nodesSection(report),
      offendersSection(report),
      actionsSection(report),
      recommendationsSection(report),
      errorsSection(report),
      recoveredSection(notice.recovered),
    ].filter((s): s is Section => s !== null),
  };
}

/** An alert notice for a report without dedup: what the plain `Notifier.send(report)` port sends. */
export function alertNotice(report: RunReport): Notice {
  return {
    kind: 'alert',
    severity: reportSeverity(report),
    reasons: ['new'],
    report,
    changed: [],
    resolved: [],
    recovered: [],
  };
}

/** The icon in front of a headline, per dialect. */
export function icon(message: Pick<Message, 'kind' | 'severity'>, dialect: 'slack' | 'unicode'): string {
  const slack = { critical: ':rotating_light:', warning: ':warning:', info: ':information_source:' } as const;
  const unicode = { critical: '🚨', warning: '⚠️', info: 'ℹ️' } as const;
  if (message.kind === 'recovered') return dialect === 'slack' ? ':white_check_mark:' : '✅';
  return dialect === 'slack' ? slack[message.severity] : unicode[message.severity];
}

/** Spans as unformatted text (fallbacks, logs, the Teams card which renders no markdown in runs). */
export const plainSpans = (spans: Span[]): string => spans.map((s) => s.text).join('');
