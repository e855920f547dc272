// `snatguard sim SNAPSHOT [--port N]`: serve the simulated control plane until SIGINT/SIGTERM.
// stdout: `KUBECONFIG=/absolute/path` on its own line, then one `NAME=URL` line per endpoint
// (so `eval "$(snatguard sim … | head -n 12)"`-style scripts can pick them up); logs go to stderr.
import { Command, InvalidArgumentError } from 'commander';
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

const parsePort = (text: string): number => {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535) throw new InvalidArgumentError('a port number 0-65535');
  return n;
};

export function simCommand(): Command {
  return new Command('sim')
    .description(
      'Serve the simulated control plane for SNAPSHOT (Kubernetes API with exec, Azure ARM/Monitor, CloudWatch, chat sinks) until interrupted; prints KUBECONFIG=/path, then the endpoints',
    )
    .argument('<snapshot>', 'snapshot file (YAML or JSON, snatguard.io/v1)')
    .option('--port <n>', 'port on 127.0.0.1 (default: a free one)', parsePort)
    .action(async (path: string, options: { port?: number }) => {
      const log = createLogger();
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
      process.stdout.write(simBanner(sim));
      await new Promise<void>((done) => {
        const stop = (signal: string) => {
          process.off('SIGINT', onInt);
          process.off('SIGTERM', onTerm);
          log.info({ signal }, 'sim stopping');
          sim.close().then(done, done);
        };
        const onInt = () => stop('SIGINT');
        const onTerm = () => stop('SIGTERM');
        process.on('SIGINT', onInt);
        process.on('SIGTERM', onTerm);
      });
      process.exitCode = 0;
    });
}
