// `--output openmetrics`: the run's gauges in the OpenMetrics 1.0 text exposition format
// (https://prometheus.io/docs/specs/om/open_metrics_spec/), for a Prometheus textfile collector or a
// pushgateway. Gauges only, no timestamps: the same text is also Prometheus text format 0.0.4, which
// node_exporter's textfile collector reads (`# UNIT` and `# EOF` are comments there).
import { RUN_STATUSES, type RunReport } from '../../model.js';

type Labels = [name: string, value: string][];

interface Family {
  name: string;
  help: string;
  /** OpenMetrics unit; the family name then ends with `_<unit>`. */
  unit?: 'seconds' | 'ratio';
  samples: { labels: Labels; value: number }[];
}

/** Label values and HELP text: backslash, double quote and line feed escaped (OpenMetrics "Escaping"). */
export function escapeOpenMetrics(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** A number as the ABNF's `number`: integers without a point, `+Inf`/`-Inf`/`NaN` spelled out. */
function number(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

function render(families: Family[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# TYPE ${f.name} gauge`);
    if (f.unit) out.push(`# UNIT ${f.name} ${f.unit}`);
    out.push(`# HELP ${f.name} ${escapeOpenMetrics(f.help)}`);
    for (const s of f.samples) {
      const labels = s.labels.map(([k, v]) => `${k}="${escapeOpenMetrics(v)}"`).join(',');
      out.push(`${f.name}${labels ? `{${labels}}` : ''} ${number(s.value)}`);
    }
  }
  out.push('# EOF');
  return `${out.join('\n')}\n`;
}

/** The run's gauges (pure): run status, per node and per workload, each series labelled with the cluster. */
export function openMetricsFamilies(report: RunReport): Family[] {
  const cluster: Labels = [['cluster', report.cluster]];
  const status = report.status ?? 'complete';
  const family = (name: string, help: string, unit?: Family['unit']): Family => ({
    name: `snatguard_${name}`,
    help,
    ...(unit ? { unit } : {}),
    samples: [],
  });

  const runStatus = family(
    'run_status',
    'Run status: 1 for the status of this run (complete, partial, failed: it could not look, skipped), 0 for the others',
  );
  for (const s of RUN_STATUSES)
    runStatus.samples.push({ labels: [...cluster, ['status', s]], value: s === status ? 1 : 0 });
  const finished = family(
    'run_timestamp_seconds',
    'When the run finished, in seconds since the Unix epoch',
    'seconds',
  );
  finished.samples.push({ labels: cluster, value: Date.parse(report.finishedAt) / 1000 });
  const duration = family('run_duration_seconds', 'How long the run took', 'seconds');
  duration.samples.push({
    labels: cluster,
    value: (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000,
  });
  const errors = family('run_errors', 'Entries in the RunReport errors (what could not be read or done)');
  errors.samples.push({ labels: cluster, value: report.errors.length });
  const actions = family(
    'run_actions',
    'Restart actions of the run, by status (planned, applied, skipped, failed)',
  );
  for (const s of ['planned', 'applied', 'skipped', 'failed'] as const)
    actions.samples.push({
      labels: [...cluster, ['status', s]],
      value: report.actions.filter((a) => a.status === s).length,
    });

  const hot = family(
    'node_hot',
    'Whether the node is hot (SNAT or conntrack pressure at or over the thresholds): 1 or 0',
  );
  const nodeSockets = family(
    'node_snat_sockets',
    "SNAT-consuming sockets over the node's inspected pods and its own namespace",
  );
  const nodeBusiest = family(
    'node_busiest_destination_sockets',
    "SNAT-consuming sockets to the node's busiest destination ip:port (SNAT ports are taken per destination)",
  );
  const portsUsed = family(
    'node_snat_ports_used',
    'SNAT ports in use on the node, as the cloud reports them',
  );
  const portsAllocated = family(
    'node_snat_ports_allocated',
    'SNAT ports allocated to the node, as the cloud reports them',
  );
  const ctCount = family(
    'node_conntrack_entries',
    "Entries in the node's conntrack table (nf_conntrack_count)",
  );
  const ctMax = family('node_conntrack_max', "Size of the node's conntrack table (nf_conntrack_max)");
  const ctFill = family('node_conntrack_fill_ratio', 'nf_conntrack_count / nf_conntrack_max', 'ratio');
  const uninspectable = family(
    'node_pods_uninspectable',
    'Pods on the node with no way to read their sockets (no cat)',
  );
  for (const n of report.nodes) {
    const node: Labels = [...cluster, ['node', n.name]];
    hot.samples.push({ labels: node, value: n.hot ? 1 : 0 });
    if (n.snatSockets !== undefined) nodeSockets.samples.push({ labels: node, value: n.snatSockets });
    if (n.busiestDestination)
      nodeBusiest.samples.push({
        labels: [...node, ['destination', n.busiestDestination.remote]],
        value: n.busiestDestination.sockets,
      });
    const ports = n.signals.find((s) => s.kind === 'snat-ports' && s.allocated !== undefined);
    if (ports?.used !== undefined) portsUsed.samples.push({ labels: node, value: ports.used });
    if (ports?.allocated !== undefined) portsAllocated.samples.push({ labels: node, value: ports.allocated });
    if (n.conntrack) {
      ctCount.samples.push({ labels: node, value: n.conntrack.count });
      ctMax.samples.push({ labels: node, value: n.conntrack.max });
      ctFill.samples.push({ labels: node, value: n.conntrack.ratio });
    }
    if (n.podsInspected + n.podsUninspectable > 0)
      uninspectable.samples.push({ labels: node, value: n.podsUninspectable });
  }

  const wlSockets = family(
    'workload_snat_sockets',
    "A workload's SNAT-consuming sockets on a node (its pods there)",
  );
  const wlBusiest = family(
    'workload_busiest_destination_sockets',
    "A workload's sockets to its busiest destination ip:port on a node",
  );
  for (const w of report.workloads ?? []) {
    const labels: Labels = [...cluster, ['node', w.node], ['workload', w.workload]];
    wlSockets.samples.push({ labels, value: w.snatSockets });
    if (w.busiestDestination)
      wlBusiest.samples.push({
        labels: [...labels, ['destination', w.busiestDestination.remote]],
        value: w.busiestDestination.sockets,
      });
  }
  const offender = family(
    'offender_share_ratio',
    "An offender's share of its node's SNAT-consuming sockets",
    'ratio',
  );
  for (const o of report.offenders)
    offender.samples.push({
      labels: [...cluster, ['node', o.node], ['workload', o.workload]],
      value: o.share,
    });

  return [
    runStatus,
    finished,
    duration,
    errors,
    actions,
    hot,
    nodeSockets,
    nodeBusiest,
    portsUsed,
    portsAllocated,
    ctCount,
    ctMax,
    ctFill,
    uninspectable,
    wlSockets,
    wlBusiest,
    offender,
  ];
}

export function renderOpenMetrics(report: RunReport): string {
  return render(openMetricsFamilies(report));
}
