// `snatguard sim SNAPSHOT [--port N]`: serve the simulated control plane until SIGINT/SIGTERM.
// stdout: `KUBECONFIG=/absolute/path` on its own line, then `KEY=value` lines that `scan` reads (see
// simEnv); logs go to stderr.
import { ValidationError } from '../../errors.js';
import { createLogger } from '../../log.js';
import { type RunningSim, startSim } from '../../sim/server.js';
import { loadSnapshot, type Snapshot } from '../../sim/snapshot.js';

/**
 * The `KEY=value` lines `snatguard sim` prints: each is a variable `snatguard scan` (or a client it uses)
 * reads, so `export`ing them all makes scan reach the simulator exactly as replay does — the job's
 * kubeconfig (held to rbac.yaml), the snapshot's cloud coordinates and endpoints, credentials the SDKs find
 * on their own (an App Service managed identity for Azure, static keys for AWS), the CA (Node reads
 * NODE_EXTRA_CA_CERTS at start), and the chat sinks. KUBECONFIG (the admin one, for kubectl) comes first.
 */
export function simEnv(
  sim: Pick<RunningSim, 'kubeconfigPath' | 'endpoints' | 'jobKubeconfigPath' | 'identityHeader'>,
  snapshot: Snapshot,
): [string, string][] {
  const e = sim.endpoints;
  const { cloud } = snapshot;
  const lines: [string, string][] = [
    ['KUBECONFIG', sim.kubeconfigPath],
    ['SNATGUARD_CLUSTER_KUBECONFIG', sim.jobKubeconfigPath],
    ['SNATGUARD_CLUSTER_NAME', cloud.azure?.clusterName ?? cloud.aws?.clusterName ?? snapshot.metadata.name],
    ['SNATGUARD_PROVIDER', cloud.provider],
  ];
  const cidrs = [snapshot.cluster?.podCIDR, snapshot.cluster?.serviceCIDR].filter((c): c is string => !!c);
  if (cidrs.length > 0) lines.push(['SNATGUARD_NETWORK_CLUSTER_CIDRS', cidrs.join(',')]);
  if (cloud.azure) {
    lines.push(
      ['SNATGUARD_AZURE_SUBSCRIPTION_ID', cloud.azure.subscriptionId],
      ['SNATGUARD_AZURE_RESOURCE_GROUP', cloud.azure.resourceGroup],
      ['SNATGUARD_AZURE_CLUSTER_NAME', cloud.azure.clusterName],
    );
    if (cloud.azure.location) lines.push(['SNATGUARD_AZURE_LOCATION', cloud.azure.location]);
  }
  if (e.arm) lines.push(['SNATGUARD_AZURE_ARM_ENDPOINT', e.arm]);
  if (e.metrics) lines.push(['SNATGUARD_AZURE_METRICS_ENDPOINT', e.metrics]);
  if (e.identity) lines.push(['IDENTITY_ENDPOINT', e.identity], ['IDENTITY_HEADER', sim.identityHeader]);
  if (cloud.aws) {
    lines.push(
      ['SNATGUARD_AWS_REGION', cloud.aws.region],
      ['SNATGUARD_AWS_CLUSTER_NAME', cloud.aws.clusterName],
    );
  }
  if (e.aws) {
    lines.push(
      ['SNATGUARD_AWS_ENDPOINT', e.aws],
      ['AWS_ACCESS_KEY_ID', 'AKIDSNATGUARDSIM'],
      ['AWS_SECRET_ACCESS_KEY', 'snatguard-sim'],
    );
  }
  if (e.slack) lines.push(['SNATGUARD_NOTIFY_SLACK_WEBHOOK_URL', e.slack]);
  if (e.teams) lines.push(['SNATGUARD_NOTIFY_TEAMS_WEBHOOK_URL', e.teams]);
  if (e.discord) lines.push(['SNATGUARD_NOTIFY_DISCORD_WEBHOOK_URL', e.discord]);
  if (e.webhook) lines.push(['SNATGUARD_NOTIFY_WEBHOOK_URL', e.webhook]);
  if (e.ca) lines.push(['NODE_EXTRA_CA_CERTS', e.ca]);
  return lines;
}

/** The lines `snatguard sim` prints on stdout once it serves. */
export function simBanner(
  sim: Pick<RunningSim, 'kubeconfigPath' | 'endpoints' | 'jobKubeconfigPath' | 'identityHeader'>,
  snapshot: Snapshot,
): string {
  return `${simEnv(sim, snapshot)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
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
      process.stdout.write(simBanner(sim, snapshot));
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
