// `snatguard sim SNAPSHOT [--port N]`: serve the simulated control plane until SIGINT/SIGTERM.
// stdout: `KUBECONFIG=/absolute/path` on its own line, then one `NAME=URL` line per endpoint
// (so `eval "$(snatguard sim … | head -n 12)"`-style scripts can pick them up); logs go to stderr.
import { ValidationError } from '../../errors.js';
import { createLogger } from '../../log.js';
import { type RunningSim, startSim } from '../../sim/server.js';
import { loadSnapshot } from '../../sim/snapshot.js';

/** Endpoint key → the name printed (an env var a client or snatguard itself reads). */
export const ENDPOINT_NAMES: Record<string, string> = {
  kubernetes: 'KUBERNETES_API',
  arm: 'AZURE_ARM_ENDPOINT',
  metrics: 'AZURE_METRICS_ENDPOINT',
  aws: 'AWS_ENDPOINT_URL',
  slack: 'SNATGUARD_NOTIFY_SLACK_WEBHOOK_URL',
  teams: 'SNATGUARD_NOTIFY_TEAMS_WEBHOOK_URL',
  discord: 'SNATGUARD_NOTIFY_DISCORD_WEBHOOK_URL',
  webhook: 'SNATGUARD_NOTIFY_WEBHOOK_URL',
  ca: 'NODE_EXTRA_CA_CERTS',
};

/** The lines `snatguard sim` prints on stdout once it serves. */
export function simBanner(
  sim: Pick<RunningSim, 'kubeconfigPath' | 'endpoints' | 'jobKubeconfigPath'>,
): string {
  const lines = [`KUBECONFIG=${sim.kubeconfigPath}`, `SNATGUARD_JOB_KUBECONFIG=${sim.jobKubeconfigPath}`];
  for (const [key, value] of Object.entries(sim.endpoints))
    lines.push(`${ENDPOINT_NAMES[key] ?? key.toUpperCase()}=${value}`);
  return `${lines.join('\n')}\n`;
}

/**
 * `snatguard sim SNAPSHOT` (its options: commands.ts). SIGINT/SIGTERM are handled from the first moment,
 * before the banner says the simulator is ready: a signal while starting stops it as soon as it serves.
 */
export async function simAction(path: string, options: { port?: number }): Promise<void> {
  const log = createLogger();
  let signalled: string | undefined;
  let wake: (() => void) | undefined;
  const onSignal = (signal: string): void => {
    signalled ??= signal;
    wake?.();
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    let snapshot: Awaited<ReturnType<typeof loadSnapshot>>;
    try {
      snapshot = await loadSnapshot(path);
    } catch (e) {
      if (e instanceof ValidationError) {
        process.stderr.write(`snatguard: ${e.message}\n`);
        process.exitCode = 2;
        return;
      }
      throw e;
    }
    const started = performance.now();
    const sim = await startSim(snapshot, {
      ...(options.port !== undefined ? { port: options.port } : {}),
      log,
    });
    log.info(
      { snapshot: snapshot.metadata.name, server: sim.url, ms: Math.round(performance.now() - started) },
      'sim serving',
    );
    if (signalled === undefined) {
      process.stdout.write(simBanner(sim));
      await new Promise<void>((done) => {
        wake = done;
      });
    }
    log.info({ signal: signalled }, 'sim stopping');
    await sim.close().catch(() => undefined);
    process.exitCode = 0;
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}
