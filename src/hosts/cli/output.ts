// Renders a RunReport for people: a terminal table or Markdown. JSON is the report itself.
import type { Action, NodeReport, RunReport } from '../../model.js';
import { stripTerminalDeep } from '../../terminal.js';

export type OutputFormat = 'table' | 'json' | 'markdown';

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
  // Names, reasons and error messages come from the cluster: no control sequence reaches the terminal.
  const safe = stripTerminalDeep(report);
  return format === 'markdown' ? renderMarkdown(safe) : renderTable(safe, style);
}

function signalText(n: NodeReport): string {
  const parts: string[] = [];
  for (const s of n.signals) {
    if (s.kind === 'snat-ports') parts.push(`SNAT ports ${s.used ?? '?'}/${s.allocated ?? '?'}`);
    else if (s.value) parts.push(`${s.kind} ${s.value}`);
  }
  if (n.conntrack) parts.push(`conntrack ${n.conntrack.count}/${n.conntrack.max}`);
  return parts.join(', ') || (n.reasons ?? []).join(', ');
}

function actionText(a: Action): string {
  return a.skipReason ? `${a.status} (${a.skipReason})` : a.status;
}

export function table(rows: string[][], style: Style = plain): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r, i) => {
      const line = r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ');
      return i === 0 ? style.bold(line) : line;
    })
    .join('\n');
}

function renderTable(r: RunReport, s: Style): string {
  const out: string[] = [];
  const hot = r.nodes.filter((n) => n.hot);
  const head = `snatguard ${r.mode} run on ${r.cluster} (${r.provider}) — ${hot.length} hot node(s), ${r.offenders.length} offender(s), ${r.actions.filter((a) => a.status === 'applied').length} restart(s) applied`;
  out.push(s.bold(head));
  if (r.skipped) out.push(s.yellow(`run skipped: ${r.skipped}`));
  out.push('');
  out.push(s.bold('Hot nodes'));
  out.push(
    hot.length === 0
      ? s.green('  none: every node is within its SNAT and conntrack limits')
      : table(
          [
            ['NODE', 'PODS', 'SNAT SOCKETS', 'SIGNALS'],
            ...hot.map((n) => [
              n.name,
              `${n.podsInspected}${n.podsUninspectable ? ` (+${n.podsUninspectable} uninspectable)` : ''}`,
              String(n.snatSockets ?? 0),
              signalText(n),
            ]),
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

const md = (s: string) => s.replace(/([\\`*_[\]<>|])/g, '\\$1');

function renderMarkdown(r: RunReport): string {
  const out: string[] = [];
  const hot = r.nodes.filter((n) => n.hot);
  out.push(`## snatguard ${r.mode} run on ${md(r.cluster)}`, '');
  out.push(
    `${hot.length} hot node(s), ${r.offenders.length} offender(s), run \`${r.runId}\` at ${r.startedAt}.`,
    '',
  );
  if (r.skipped) out.push(`**Run skipped:** ${md(r.skipped)}`, '');
  if (hot.length > 0) {
    out.push('| node | pods | SNAT sockets | signals |', '|---|---|---|---|');
    for (const n of hot)
      out.push(`| ${md(n.name)} | ${n.podsInspected} | ${n.snatSockets ?? 0} | ${md(signalText(n))} |`);
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
