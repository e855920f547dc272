// What every scheduled host does: config from the environment, connect, one run ending before the deadline.
import { randomUUID } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { connect } from '../cluster/connect.js';
import { type ComposeEnv, clusterTarget, compose, notifyConfigOf } from '../compose.js';
import { type Config, loadConfig } from '../config/index.js';
import { messageOf, ValidationError } from '../errors.js';
import type { RunReport } from '../model.js';
import { notify } from '../notify/index.js';
import type { Log } from '../ports.js';
import { buildReport, withContextCluster } from '../report.js';
import { failureReason, runScan } from '../run.js';
import { keepYoungGenerationSmall } from './heap.js';

export interface JobOptions {
  env: Record<string, string | undefined>;
  log: Log;
  /** Milliseconds the host still gives this invocation; the run stops `marginMs` before. */
  remainingMs?: () => number;
  marginMs?: number;
  /** Tests and the simulator inject these; production derives them from config. */
  kubeConfig?: KubeConfig;
  compose?: Partial<Omit<ComposeEnv, 'kubeConfig' | 'log'>>;
}

/** The run's deadline as a signal: it fires `marginMs` before the host would kill the invocation. */
export function deadlineSignal(
  remainingMs: number | undefined,
  marginMs: number,
  configSeconds?: number,
): AbortSignal {
  const budgets = [
    remainingMs !== undefined ? remainingMs - marginMs : undefined,
    configSeconds ? configSeconds * 1000 : undefined,
  ].filter((b): b is number => b !== undefined);
  if (budgets.length === 0) return new AbortController().signal;
  return AbortSignal.timeout(Math.max(1, Math.min(...budgets)));
}

export async function runJob(options: JobOptions): Promise<{ config: Config; report: RunReport }> {
  const config = await loadConfig({ env: options.env });
  // The deadline starts before connecting: a hung ARM or EKS call is cut there, and the failure reported.
  const signal = deadlineSignal(options.remainingMs?.(), options.marginMs ?? 20_000, config.deadlineSeconds);
  let kubeConfig: KubeConfig;
  try {
    kubeConfig = options.kubeConfig ?? (await connect(clusterTarget(config), { log: options.log, signal }));
  } catch (e) {
    if (e instanceof ValidationError) throw e;
    // No way into the cluster: a failed run, reported and sent to chat like any other (was: a throw, silence).
    return { config, report: await couldNotConnect(config, e, options.log, options.compose?.fetch) };
  }
  // The exec output a scan streams would otherwise grow the young generation: held from the first exec (heap.ts).
  const deps = await compose(config, {
    kubeConfig,
    log: options.log,
    beforeExecs: keepYoungGenerationSmall,
    ...options.compose,
  });
  const named = withContextCluster(config, kubeConfig.getCurrentCluster()?.name);
  // Notifications and the state save get their own short budget after the deadline (run.ts).
  const report = await runScan(named, deps, signal);
  return { config: named, report };
}

/**
 * The report of a run that never reached the cluster (status failed), sent to chat. There is no dedup
 * state without the cluster (it lives in a ConfigMap there), so this failure is sent each time it happens.
 */
export async function couldNotConnect(
  config: Config,
  e: unknown,
  log: Log,
  fetchImpl?: typeof fetch,
): Promise<RunReport> {
  const now = new Date();
  const reason = failureReason('connect', e);
  log.error({ reason }, 'run failed: no cluster access');
  const report = buildReport({
    config,
    runId: randomUUID(),
    startedAt: now,
    finishedAt: now,
    errors: [{ stage: 'lock', target: 'cluster', message: messageOf(e) }],
    failed: reason,
  });
  const outcome = await notify(report, {}, now, notifyConfigOf(config), {
    log,
    signal: AbortSignal.timeout(10_000),
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
  return outcome.errors.length > 0 ? { ...report, errors: [...report.errors, ...outcome.errors] } : report;
}
