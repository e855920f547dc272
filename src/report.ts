// RunReport: the JSON contract of shared/DESIGN.md. Built once per run from what the stages found.
import type { Config } from './config/index.js';
import type { RunError, RunReport } from './model.js';
import type { RunContext } from './run.js';

export interface ReportInput extends Partial<RunContext> {
  config: Config;
  runId: string;
  startedAt: Date;
  finishedAt: Date;
  errors: RunError[];
  skipped?: string;
}

export function buildReport(input: ReportInput): RunReport {
  const { config } = input;
  return {
    apiVersion: 'snatguard.io/v1',
    kind: 'RunReport',
    runId: input.runId,
    startedAt: input.startedAt.toISOString(),
    finishedAt: input.finishedAt.toISOString(),
    mode: config.mode,
    cluster: clusterName(config),
    provider: config.provider,
    ...(input.skipped ? { skipped: input.skipped } : {}),
    nodes: input.nodes ?? [],
    offenders: input.offenders ?? [],
    actions: input.actions ?? [],
    recommendations: input.recommendations ?? [],
    errors: input.errors,
    ...(input.stats ? { stats: input.stats } : {}),
  };
}

export function clusterName(config: Config): string {
  return config.cluster.name || config.azure.clusterName || config.aws.clusterName || 'kubernetes';
}
