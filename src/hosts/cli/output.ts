// Renders a RunReport for people: a terminal table or Markdown. JSON is the report itself.
// Both lead with the run's status: a run that could not look says so first, in red, and "every node is
// within its limits" is said only of a complete run that found nothing.
import type { Action, NodeReport, RunReport } from '../../model.js';
import { actionsSummary, couldNotCheck, signalText as signalWords } from '../../notify/render.js';
import { stripTerminalDeep } from '../../terminal.js';
import { renderOpenMetrics } from './openmetrics.js';

export type OutputFormat = 'table' | 'json' | 'markdown' | 'openmetrics';

export interface Style {
  bold(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  green(s: string): string;
  dim(s: string): string;
}

const plain: Style = { bold: (s) => s, red: (s) => s, yellow: (s) => s, green: (s) => s, dim: (s) => s };
const ansi = (code: number, reset: number) => (s: string) => `\x1b[${code}m${s}\x1b[${reset}m`;
const colored: Style = {
  bold: ansi(1, 22),
  red: ansi(31, 39),
  yellow: ansi(33, 39),
  green: ansi(32, 39),
  dim: ansi(2, 22),
};

/** Colour only on a TTY and never when NO_COLOR is set (https://no-color.org). */
export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Style {
  return stream.isTTY && !env.NO_COLOR ? colored : plain;
}

export function renderReport(report: RunReport, format: OutputFormat, style: Style = plain): string {
  if (format === 'json') return `${JSON.stringify(report, null, 2)}\n`;
  if (format === 'openmetrics') return renderOpenMetrics(report);
  // Names, reasons and error messages come from the cluster: no control sequence reaches the terminal.
  const safe = stripTerminalDeep(report);
  return format === 'markdown' ? renderMarkdown(safe) : renderTable(safe, style);
}

/** A node's signals in words, as chat shows them (`3 NAT gateway port-allocation errors`), not metric ids. */
function signalText(n: NodeReport): string {
  const parts = n.signals
    .filter((s) => s.kind === 'snat-ports' || s.kind === 'conntrack' || (s.value ?? 0) > 0)
    .map(signalWords);
  if (n.conntrack && !n.signals.some((s) => s.kind === 'conntrack'))
    parts.push(`conntrack ${n.conntrack.count}/${n.conntrack.max}`);
  return parts.join(', ') || (n.reasons ?? []).join(', ');
}

/** `12 (+1 uninspectable, 1 failed)`: the same counts as chat and the advice. */
function podsText(n: NodeReport): string {
  const extra = [
    n.podsUninspectable ? `${n.podsUninspectable} uninspectable` : '',
    n.podsFailed ? `${n.podsFailed} failed` : '',
  ].filter(Boolean);
  return `${n.podsInspected}${extra.length > 0 ? ` (+${extra.join(', ')})` : ''}`;
}

/** The status line every human output starts with. */
export function statusLine(r: RunReport): { level: 'ok' | 'warn' | 'bad'; text: string } {
  switch (r.status) {
    case 'failed':
      return {
        level: 'bad',
        text: `FAILED — ${couldNotCheck(r)}. Nothing was checked: no node's SNAT ports, conntrack or sockets were read.`,
      };
    case 'partial':
      return {
        level: 'warn',
        text: `PARTIAL — ${r.statusReason === 'deadline' ? 'the deadline cut the run short; what was found before it is below' : `not everything was read: ${r.statusReason ?? 'unknown'}`}`,
      };
    case 'skipped':
      return {
        level: 'warn',
        text: `SKIPPED — ${r.statusReason ?? r.skipped ?? 'another run holds the lock'}`,
      };
    default:
      return { level: 'ok', text: 'COMPLETE — every node it meant to read was read' };
  }
}

/** What the Hot nodes section says when it lists none: an all-clear only for a complete run. */
function noHotNodes(r: RunReport): string | null {
  if (r.status === 'failed') return 'unknown: the run could not look';
  if (r.status === 'skipped') return 'unknown: the run was skipped';
  if (r.status === 'partial') return 'none among what was read (the run was partial: see above)';
  return null;
}

function actionText(a: Action): string {
  return a.skipReason ? `${a.status} (${a.skipReason})` : a.status;
}

/** Width on a terminal: escape codes take no columns. */
const visibleWidth = (s: string): number => s.replace(/\x1b\[[0-9;]*m/g, '').length;
const padVisible = (s: string, width: number): string => s + ' '.repeat(Math.max(0, width - visibleWidth(s)));

export function table(rows: string[][], style: Style = plain): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => visibleWidth(r[c] ?? ''))));
  return rows
    .map((r, i) => {
      const line = r.map((cell, c) => (c === r.length - 1 ? cell : padVisible(cell, widths[c]!))).join('  ');
      return i === 0 ? style.bold(line) : line;
    })
    .join('\n');
}

function renderTable(r: RunReport, s: Style): string {
  const out: string[] = [];
  const hot = r.nodes.filter((n) => n.hot);
  const status = statusLine(r);
  const colour = status.level === 'bad' ? s.red : status.level === 'warn' ? s.yellow : s.green;
  out.push(s.bold(colour(status.text)));
  const head = `snatguard ${r.mode} run on ${r.cluster} (${r.provider}) — ${plural(hot.length, 'hot node')}, ${plural(r.offenders.length, 'offender')}, ${actionsSummary(r)}`;
  out.push(s.bold(head));
  out.push('');
  out.push(s.bold('Hot nodes'));
  const unknown = noHotNodes(r);
  out.push(
    hot.length === 0
      ? unknown
        ? (r.status === 'failed' ? s.red : s.yellow)(`  ${unknown}`)
        : s.green('  none: every node is within its SNAT and conntrack limits')
      : table(
          [
            ['NODE', 'PODS', 'SNAT SOCKETS', 'SIGNALS'],
            ...hot.map((n) => [n.name, podsText(n), String(n.snatSockets ?? 0), signalText(n)]),
          ],
          s,
        ),
  );
  if (r.offenders.length > 0) {
    out.push('', s.bold('Offenders'));
    out.push(
      table(
        [
          ['WORKLOAD', 'NODE', 'SNAT SOCKETS', 'SHARE', 'TOP DESTINATIONS'],
          ...r.offenders.map((o) => [
            o.workload,
            o.node,
            String(o.snatSockets),
            `${Math.round(o.share * 100)}%`,
            o.topDestinations
              .slice(0, 3)
              .map((d) => `${d.remote} ×${d.sockets}`)
              .join(', '),
          ]),
        ],
        s,
      ),
    );
  }
  if (r.actions.length > 0) {
    out.push('', s.bold('Actions'));
    out.push(
      table(
        [
          ['ACTION', 'WORKLOAD', 'STATUS', 'WHY'],
          ...r.actions.map((a) => {
            const status = actionText(a);
            const colour = a.status === 'applied' ? s.green : a.status === 'failed' ? s.red : s.yellow;
            return [a.kind, a.workload, colour(status), a.error ?? a.reason];
          }),
        ],
        s,
      ),
    );
  }
  if (r.recommendations.length > 0) {
    out.push('', s.bold('Recommendations'));
    for (const rec of r.recommendations) {
      const sev = rec.severity === 'critical' ? s.red : rec.severity === 'warning' ? s.yellow : s.dim;
      out.push(`  ${sev(rec.severity.toUpperCase())} ${rec.id} — ${rec.title}`);
      out.push(`    ${rec.detail}`);
      out.push(`    fix: ${rec.fix}`);
    }
  }
  if (r.errors.length > 0) {
    out.push('', s.bold(`Errors (${r.errors.length})`));
    for (const e of r.errors.slice(0, 20)) out.push(s.red(`  [${e.stage}] ${e.target}: ${e.message}`));
    if (r.errors.length > 20) out.push(`  …and ${r.errors.length - 20} more (see --output json)`);
  }
  return `${out.join('\n')}\n`;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

const md = (s: string) => s.replace(/([\\`*_[\]<>|])/g, '\\$1');

function renderMarkdown(r: RunReport): string {
  const out: string[] = [];
  const hot = r.nodes.filter((n) => n.hot);
  out.push(`## snatguard ${r.mode} run on ${md(r.cluster)}`, '');
  const status = statusLine(r);
  const [word, ...rest] = status.text.split(' — ');
  out.push(`**${word}** — ${md(rest.join(' — '))}`, '');
  out.push(
    `${plural(hot.length, 'hot node')}, ${plural(r.offenders.length, 'offender')}, ${actionsSummary(r)}; run \`${r.runId}\` at ${r.startedAt}.`,
    '',
  );
  const unknown = noHotNodes(r);
  if (hot.length === 0)
    out.push(
      unknown
        ? `Hot nodes: ${md(unknown)}.`
        : 'Hot nodes: none — every node is within its SNAT and conntrack limits.',
      '',
    );
  if (hot.length > 0) {
    out.push('| node | pods | SNAT sockets | signals |', '|---|---|---|---|');
    for (const n of hot)
      out.push(`| ${md(n.name)} | ${md(podsText(n))} | ${n.snatSockets ?? 0} | ${md(signalText(n))} |`);
    out.push('');
  }
  if (r.offenders.length > 0) {
    out.push('| workload | node | SNAT sockets | share | top destinations |', '|---|---|---|---|---|');
    for (const o of r.offenders) {
      const dests = o.topDestinations.map((d) => `${d.remote} ×${d.sockets}`).join(', ');
      out.push(
        `| ${md(o.workload)} | ${md(o.node)} | ${o.snatSockets} | ${Math.round(o.share * 100)}% | ${md(dests)} |`,
      );
    }
    out.push('');
  }
  if (r.actions.length > 0) {
    out.push('| action | workload | status | why |', '|---|---|---|---|');
    for (const a of r.actions)
      out.push(`| ${a.kind} | ${md(a.workload)} | ${actionText(a)} | ${md(a.error ?? a.reason)} |`);
    out.push('');
  }
  for (const rec of r.recommendations) {
    out.push(
      `- **${rec.id}** (${rec.severity}) — ${md(rec.title)}: ${md(rec.detail)}`,
      `  \`${rec.fix.replace(/`/g, "'")}\``,
    );
  }
  if (r.errors.length > 0) {
    out.push('', `**Errors (${r.errors.length})**`, '');
    for (const e of r.errors) out.push(`- [${e.stage}] ${md(e.target)}: ${md(e.message)}`);
  }
  return `${out.join('\n')}\n`;
}
