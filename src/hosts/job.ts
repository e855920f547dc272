// What every scheduled host does: config from the environment, connect, one run ending before the deadline.
import type { KubeConfig } from '@kubernetes/client-node';
import { connect } from '../cluster/connect.js';
import { type ComposeEnv, clusterTarget, compose } from '../compose.js';
import { type Config, loadConfig } from '../config/index.js';
import type { RunReport } from '../model.js';
import type { Log } from '../ports.js';
import { withContextCluster } from '../report.js';
import { runScan } from '../run.js';

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
  const kubeConfig = options.kubeConfig ?? (await connect(clusterTarget(config), { log: options.log }));
  const deps = await compose(config, { kubeConfig, log: options.log, ...options.compose });
  const named = withContextCluster(config, kubeConfig.getCurrentCluster()?.name);
  // Notifications and the state save get their own short budget after the deadline (run.ts).
  const signal = deadlineSignal(options.remainingMs?.(), options.marginMs ?? 20_000, config.deadlineSeconds);
  const report = await runScan(named, deps, signal);
  return { config: named, report };
}
