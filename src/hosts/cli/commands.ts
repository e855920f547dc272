// The options and help of the commands whose work needs the heavy modules (the Kubernetes client, the
// cloud SDKs, the simulator). Only commander is imported here: each action imports its module when the
// command runs, so `snatguard --version`, `--help` and `sockets` start as fast as node itself.
import { Command, InvalidArgumentError, Option } from 'commander';
import { freshBundle } from './fresh-bundle.js';
import type { RunFlags } from './run-commands.js';
import type { SnapshotFlags } from './snapshot.js';

type RunCommands = typeof import('./run-commands.js');

/**
 * The one-file bundle of scan's modules that `npm run build` writes after tsc (scripts/bundle-cli.mjs;
 * ~130 ms to load instead of ~450 ms for the same modules one by one), when it is fresh (fresh-bundle.ts).
 * Undefined otherwise: then run-commands.js itself loads.
 */
export function runCommandsBundle(here: string = import.meta.url): string | undefined {
  return freshBundle('./bundle/run-commands.js', here);
}

const runCommands = (): Promise<RunCommands> => {
  const bundle = runCommandsBundle();
  return bundle ? import(bundle) : import('./run-commands.js');
};

const modeOption = () =>
  new Option('--mode <mode>', 'dry-run (default) or restart').choices(['dry-run', 'restart']);
const outputOption = () =>
  new Option('-o, --output <format>', "table, json, markdown or openmetrics (the run's gauges)")
    .choices(['table', 'json', 'markdown', 'openmetrics'])
    .default('table');

export function scanCommand(): Command {
  return new Command('scan')
    .description('one run against the real cluster (kubeconfig, in-cluster, AKS Entra ID or EKS IAM)')
    .option('-c, --config <file>', 'YAML config file')
    .addOption(modeOption())
    .addOption(
      new Option('--provider <provider>', 'where SNAT pressure comes from').choices(['azure', 'aws', 'none']),
    )
    .addOption(outputOption())
    .addHelpText(
      'after',
      `
Examples:
  snatguard scan                                   dry-run, kubeconfig's current context, provider from config
  snatguard scan --provider none -o json           inspect every node, no cloud metrics
  SNATGUARD_PROVIDER=azure SNATGUARD_AZURE_SUBSCRIPTION_ID=… snatguard scan --mode restart`,
    )
    .action(async (flags: RunFlags) => (await runCommands()).scanAction(flags));
}

export function replayCommand(): Command {
  return new Command('replay')
    .description('one run against the simulated control plane serving SNAPSHOT, through the same clients')
    .argument('<snapshot>', 'snapshot file (YAML or JSON, see SNAPSHOT.md)')
    .option('-c, --config <file>', 'YAML config file')
    .addOption(modeOption())
    .addOption(outputOption())
    .option('--check', "compare with the snapshot's expect block; exit 1 on a mismatch")
    .option(
      '--timeline',
      "run the job at the snapshot and at each frame of its timeline, clock advanced, state carried; print each run and the chat messages (--check: each frame's expect)",
    )
    .option(
      '--notify',
      'post to the configured chat channels (marked as a replay); without it, nothing is sent',
    )
    .addHelpText(
      'after',
      `
Examples:
  snatguard replay examples/aks-mongo-leak.yaml
  snatguard replay examples/aks-mongo-leak.yaml --mode restart --check
  snatguard replay examples/aks-leak-forecast.yaml --timeline
  snatguard replay incident.yaml -o json | jq '.offenders[0]'`,
    )
    .action(async (file: string, flags: RunFlags) => {
      // The simulator's thread starts first: it loads and seeds the snapshot on the other core while this
      // thread loads the scanner's modules (--timeline keeps its simulator in process).
      const starting = flags.timeline
        ? undefined
        : (await import('../../sim/off-thread.js')).startSimThread(file);
      starting?.catch(() => {}); // replayAction awaits it and reports its error
      return (await runCommands()).replayAction(file, flags, starting);
    });
}

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'replay the built-in incident (a MongoDB connection leak on AKS), restart, and show recovery',
    )
    .action(async () => {
      const [{ startSimThread }, { examplePath }] = await Promise.all([
        import('../../sim/off-thread.js'),
        import('../../paths.js'),
      ]);
      const starting = startSimThread(examplePath('aks-mongo-leak.yaml'));
      starting.catch(() => {}); // demoAction awaits it and reports its error
      return (await runCommands()).demoAction(starting);
    });
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
    .action(async (path: string, options: { port?: number }) =>
      (await import('./sim.js')).simAction(path, options),
    );
}

export function snapshotCommand(): Command {
  return new Command('snapshot')
    .description(
      'read the live cluster through the same clients as scan and print a snatguard.io/v1 snapshot (replayable) on stdout',
    )
    .option('-c, --config <file>', 'YAML config file')
    .option(
      '--nodes <which>',
      'hot (by the cloud figures), all, or NAME,NAME…: whose pods and sockets are read',
      'all',
    )
    .option(
      '--redact',
      'replace names and addresses consistently (keyed hash, stable within the file) to share it',
    )
    .option('--keep-destinations', 'with --redact: keep public destination addresses as they are')
    .addOption(new Option('-o, --output <format>', 'yaml or json').choices(['yaml', 'json']).default('yaml'))
    .addHelpText(
      'after',
      `
Exit codes: 0 written (metadata.capture.missing lists what could not be read), 3 nothing could be read.
Examples:
  snatguard snapshot > incident.yaml && snatguard replay incident.yaml
  snatguard snapshot --nodes hot --redact --keep-destinations -o json > share.json`,
    )
    .action(async (flags: SnapshotFlags) => (await runCommands()).snapshotAction(flags));
}
