// RunReport: the JSON contract of shared/DESIGN.md. Built once per run from what the stages found.
// Its status says what the run saw: a run never reports an all-clear it did not see.
import type { Config } from './config/index.js';
import type { RunError, RunReport, RunStatus } from './model.js';
import type { RunContext, Unseen } from './run.js';

export interface ReportInput extends Partial<RunContext> {
  config: Config;
  runId: string;
  startedAt: Date;
  finishedAt: Date;
  errors: RunError[];
  skipped?: string;
  /** The run could not look: why (status failed). */
  failed?: string;
  /** The deadline cut the run short (status partial, reason deadline). */
  deadline?: boolean;
  /** The kube context's cluster name, used when no name is configured. */
  contextCluster?: string;
}

export function buildReport(input: ReportInput): RunReport {
  const { config } = input;
  const { status, statusReason } = runStatus(input);
  return {
    apiVersion: 'snatguard.io/v1',
    kind: 'RunReport',
    runId: input.runId,
    startedAt: input.startedAt.toISOString(),
    finishedAt: input.finishedAt.toISOString(),
    mode: config.mode,
    status,
    ...(statusReason ? { statusReason } : {}),
    cluster: clusterName(config, input.contextCluster),
    provider: config.provider,
    ...(input.skipped ? { skipped: input.skipped } : {}),
    nodes: input.nodes ?? [],
    offenders: input.offenders ?? [],
    actions: input.actions ?? [],
    recommendations: input.recommendations ?? [],
    errors: input.errors,
    ...(input.workloads ? { workloads: input.workloads } : {}),
    ...(input.stats ? { stats: input.stats } : {}),
  };
}

const count = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** The status of a run (pure): failed and skipped first, then the deadline, then what was not seen. */
export function runStatus(input: {
  skipped?: string;
  failed?: string;
  deadline?: boolean;
  unseen?: Unseen;
}): { status: RunStatus; statusReason?: string } {
  if (input.failed) return { status: 'failed', statusReason: input.failed };
  if (input.skipped === 'locked')
    return { status: 'skipped', statusReason: 'locked: another live run holds the lock' };
  if (input.deadline) return { status: 'partial', statusReason: 'deadline' };
  const parts = unseenParts(input.unseen);
  return parts.length > 0 ? { status: 'partial', statusReason: parts.join('; ') } : { status: 'complete' };
}

/** What a partial run did not see, in words, with counts. */
export function unseenParts(u: Unseen | undefined): string[] {
  if (!u) return [];
  const parts: string[] = [];
  if (u.sourcesFailed > 0) parts.push(`${u.sourcesFailed} of ${count(u.sources, 'pressure source')} failed`);
  if (u.metricErrors > 0) parts.push(`${count(u.metricErrors, 'metric read')} failed`);
  if (u.nodesNotInspected > 0) parts.push(`${count(u.nodesNotInspected, 'node')} not inspected`);
  if (u.podsFailed > 0) parts.push(`${count(u.podsFailed, 'pod')} could not be read`);
  if (u.podsUninspectable > 0) parts.push(`${count(u.podsUninspectable, 'pod')} uninspectable`);
  if (u.conntrackUnread > 0) parts.push(`conntrack unread on ${count(u.conntrackUnread, 'node')}`);
  if (u.ownersUnknown > 0) parts.push(`owner unknown for ${count(u.ownersUnknown, 'pod')}`);
  return parts;
}

/** `cluster.name`, else the cloud cluster name, else the kube context's cluster, else `kubernetes`. */
export function clusterName(config: Config, contextCluster?: string): string {
  return (
    config.cluster.name ||
    config.azure.clusterName ||
    config.aws.clusterName ||
    contextCluster ||
    'kubernetes'
  );
}

/** Empty `cluster.name` (and no cloud cluster name): the kube context's cluster names the run. */
export function withContextCluster(config: Config, contextCluster: string | undefined): Config {
  if (config.cluster.name || config.azure.clusterName || config.aws.clusterName || !contextCluster)
    return config;
  return { ...config, cluster: { ...config.cluster, name: contextCluster } };
}
