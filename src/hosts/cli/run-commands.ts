// scan, replay and demo: build config, connect, call runScan, print, map the outcome to an exit code.
// Loaded only when one of them runs (commands.ts defines their options without importing this).
import { connect } from '../../cluster/connect.js';
import { clusterTarget, compose } from '../../compose.js';
import { type Config, loadConfig } from '../../config/index.js';
import { ValidationError } from '../../errors.js';
import { createLogger, type Logger } from '../../log.js';
import type { RunReport } from '../../model.js';
import { type SlackPayload, slackPlainText } from '../../notify/slack.js';
import { withContextCluster } from '../../report.js';
import { runScan } from '../../run.js';
import { fetchTrusting } from '../../sim/fetch.js';
import { type SimThread, startSimThread } from '../../sim/off-thread.js';
import { loadSnapshot, type Snapshot } from '../../sim/snapshot.js';
import { keepYoungGenerationSmall } from '../heap.js';
import { couldNotConnect, deadlineSignal } from '../job.js';
import { checkExpectations } from './check.js';
import { EXIT, handleFailure } from './exit.js';
import { type OutputFormat, renderReport, styleFor } from './output.js';
import { progressReporter } from './progress.js';
import { simPressureTargets } from './sim-targets.js';
import type { SnapshotFlags } from './snapshot.js';

// demo runs from this module's bundle too (commands.ts): its modules are this one's.
export { demoAction } from './demo.js';

/** `snatguard snapshot`, from this module's bundle too (commands.ts); its own modules load when it runs. */
export const snapshotAction = async (flags: SnapshotFlags): Promise<void> =>
  (await import('./snapshot.js')).snapshotAction(flags);

export interface RunFlags {
  config?: string;
  mode?: 'dry-run' | 'restart';
  output: OutputFormat;
  provider?: 'azure' | 'aws' | 'none';
  check?: boolean;
  timeline?: boolean;
  notify?: boolean;
}

/** `snatguard scan` (its options: commands.ts). */
export async function scanAction(flags: RunFlags): Promise<void> {
  const log = createLogger();
  try {
    const config = await loadConfig({ file: flags.config, env: process.env, flags: pick(flags) });
    log.level = config.log.level;
    let kubeConfig: Awaited<ReturnType<typeof connect>>;
    try {
      kubeConfig = await connect(clusterTarget(config), { log });
    } catch (e) {
      if (e instanceof ValidationError) throw e;
      // No way into the cluster: the run could not look. It says so in every output, exit 3.
      const report = await couldNotConnect(config, e, log);
      print(report, flags.output);
      process.exitCode = exitFor(report);
      return;
    }
    const named = withContextCluster(config, kubeConfig.getCurrentCluster()?.name);
    // The young generation is held from the first exec on (heap.ts): start-up grows it as V8 likes.
    const report = await execute(
      named,
      { kubeConfig, log, beforeExecs: keepYoungGenerationSmall },
      flags.output,
    );
    print(report, flags.output);
    process.exitCode = exitFor(report);
  } catch (e) {
    handleFailure(e, log);
  }
}

/** The config with every chat channel off. */
export function withoutChannels(config: Config): Config {
  return {
    ...config,
    notify: {
      ...config.notify,
      slack: { ...config.notify.slack, webhookUrl: '' },
      teams: { ...config.notify.teams, webhookUrl: '' },
      discord: { ...config.notify.discord, webhookUrl: '' },
      webhook: { ...config.notify.webhook, url: '' },
    },
  };
}

/** Exit code of a run (shared/DESIGN.md): 3 when it could not look, 0 whatever it found otherwise. */
export function exitFor(report: RunReport): number {
  return report.status === 'failed' ? EXIT.failed : EXIT.ok;
}

/**
 * `snatguard replay SNAPSHOT` (its options: commands.ts). `starting` is the simulator's thread when the
 * caller started it already (commands.ts does, so it seeds the cluster while this module loads).
 */
export async function replayAction(
  file: string,
  flags: RunFlags,
  starting: Promise<SimThread> | undefined = flags.timeline ? undefined : startSimThread(file),
): Promise<void> {
  const log = createLogger({ level: process.env.SNATGUARD_LOG_LEVEL ?? 'warn' });
  let sim: SimThread | undefined;
  try {
    // One exposition holds one run's gauges: a timeline's many runs have no OpenMetrics form here.
    // (No simulator thread was started: a timeline starts its own.)
    if (flags.timeline && flags.output === 'openmetrics')
      throw new ValidationError('replay options', [
        '--output openmetrics prints one run: not with --timeline (use -o json for every frame)',
      ]);
    // The snapshot's problems come first (exit 2), then the config's.
    sim = await starting;
    const snapshot = sim ? sim.snapshot : await loadSnapshot(file);
    // Replay is quiet unless the file or SNATGUARD_LOG_LEVEL says otherwise.
    const loaded = await loadConfig({
      file: flags.config,
      env: process.env,
      flags: pick(flags),
      defaults: { 'log.level': 'warn' },
    });
    log.level = loaded.log.level;
    await sim?.setLogLevel(loaded.log.level);
    // A replay speaks to chat only when asked, and then says it is a replay.
    const config = flags.notify ? loaded : withoutChannels(loaded);
    if (flags.timeline || sim === undefined) {
      await replayTimelineCommand(snapshot, config, log, flags);
      return;
    }
    const { report } = await replaySnapshot(sim, config, log, flags.output, {
      ...(flags.notify ? { notifyTag: `replay of ${snapshot.metadata.name}` } : {}),
    });
    print(report, flags.output);
    process.exitCode = exitFor(report);
    if (flags.check) {
      const diffs = checkExpectations(report, snapshot.expect ?? {});
      if (diffs.length > 0) {
        process.stderr.write(`replay --check: ${diffs.length} difference(s) from expect:\n`);
        for (const d of diffs) process.stderr.write(`  - ${d}\n`);
        process.exitCode = EXIT.checkMismatch;
      } else {
        process.stderr.write('replay --check: the run meets every expectation of the snapshot\n');
      }
    }
  } catch (e) {
    handleFailure(e, log);
  } finally {
    await sim?.close();
  }
}

/**
 * Points config at the simulator (served from its own thread) and runs once (twice with `rerun`).
 * The caller closes the simulator.
 */
export async function replaySnapshot(
  sim: SimThread,
  base: Config,
  log: Logger,
  output: OutputFormat,
  options: { rerun?: boolean; slackToSink?: boolean; notifyTag?: string } = {},
): Promise<{ report: RunReport; second?: RunReport; slack: string[] }> {
  let config = configForSnapshot(base, sim.snapshot);
  if (options.slackToSink) {
    // The demo's alerts go to the simulator's Slack sink, through the real HTTP path.
    config = { ...config, notify: { ...config.notify, slack: { webhookUrl: sim.endpoints.slack! } } };
  }
  const kubeConfig = await connect({ kind: 'kubeconfig', path: sim.jobKubeconfigPath }, { log });
  const env = {
    kubeConfig,
    log,
    snapshotMetrics: sim.nodeMetrics,
    pressure: simPressureTargets(sim),
    fetch: fetchTrusting(sim.ca),
    ...(options.notifyTag ? { notifyTag: options.notifyTag } : {}),
  };
  const report = await execute(config, env, output);
  const second = options.rerun ? await execute(config, env, output) : undefined;
  const slack = (await sim.received())
    .filter((m) => m.channel === 'slack' && m.status < 300)
    .map((m) => slackPlainText(m.json as SlackPayload));
  return { report, second, slack };
}

/** The snapshot says which cloud and cluster it is; the config says how to act. */
export function configForSnapshot(config: Config, snapshot: Snapshot): Config {
  const { cloud } = snapshot;
  const cidrs = [snapshot.cluster?.podCIDR, snapshot.cluster?.serviceCIDR].filter((c): c is string => !!c);
  return {
    ...config,
    provider: cloud.provider,
    cluster: {
      ...config.cluster,
      name: cloud.azure?.clusterName ?? cloud.aws?.clusterName ?? snapshot.metadata.name,
    },
    azure: cloud.azure
      ? {
          ...config.azure,
          subscriptionId: cloud.azure.subscriptionId,
          resourceGroup: cloud.azure.resourceGroup,
          clusterName: cloud.azure.clusterName,
          location: cloud.azure.location,
        }
      : config.azure,
    aws: cloud.aws
      ? { ...config.aws, region: cloud.aws.region, clusterName: cloud.aws.clusterName }
      : config.aws,
    network: { ...config.network, clusterCidrs: [...new Set([...config.network.clusterCidrs, ...cidrs])] },
  };
}

async function replayTimelineCommand(snapshot: Snapshot, config: Config, log: Logger, flags: RunFlags) {
  const { checkTimeline, renderTimeline, replayTimeline } = await import('./timeline.js');
  const timeline = await replayTimeline(snapshot, config, log);
  process.stdout.write(
    flags.output === 'json' ? `${JSON.stringify(timeline, null, 2)}\n` : renderTimeline(timeline),
  );
  process.exitCode = EXIT.ok;
  if (flags.check) {
    const diffs = checkTimeline(timeline);
    if (diffs.length > 0) {
      process.stderr.write(`replay --timeline --check: ${diffs.length} difference(s) from expect:\n`);
      for (const d of diffs) process.stderr.write(`  - ${d}\n`);
      process.exitCode = EXIT.checkMismatch;
    } else process.stderr.write("replay --timeline --check: every run meets its frame's expectations\n");
  }
}

export async function execute(
  config: Config,
  env: Omit<Parameters<typeof compose>[1], 'onProgress'>,
  output: OutputFormat,
): Promise<RunReport> {
  const progress = output === 'json' ? undefined : progressReporter(process.stderr);
  const deps = await compose(config, { ...env, onProgress: progress?.update });
  const deadline = deadlineSignal(undefined, 0, config.deadlineSeconds);
  try {
    return await runScan(config, deps, deadline);
  } finally {
    progress?.done();
  }
}

function print(report: RunReport, output: OutputFormat): void {
  process.stdout.write(renderReport(report, output, styleFor(process.stdout)));
}

function pick(flags: RunFlags): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (flags.mode) out.mode = flags.mode;
  if (flags.provider) out.provider = flags.provider;
  return out;
}
