// The snatguard CLI's commands, assembled. Importing this loads commander and the light commands
// (sockets, capacity) only; scan, replay, demo and sim load their modules when they run (commands.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { packageRoot } from '../../paths.js';
import { capacityCommand } from './capacity.js';
import { demoCommand, replayCommand, scanCommand, simCommand, snapshotCommand } from './commands.js';
import { socketsCommand } from './sockets.js';

export function program(): Command {
  const version = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version as string;
  const root = new Command('snatguard')
    .description(
      'Find the Kubernetes workloads that exhaust SNAT ports or conntrack, restart them safely, say what to fix.',
    )
    .version(version)
    .addCommand(scanCommand())
    .addCommand(replayCommand())
    .addCommand(demoCommand())
    .addCommand(simCommand())
    .addCommand(snapshotCommand())
    .addCommand(socketsCommand())
    .addCommand(capacityCommand())
    .addHelpText(
      'after',
      `
Exit codes: 0 run completed (whatever it found), 1 replay --check mismatch, 2 bad usage or config, 3 run failed.
Logs go to stderr as JSON lines (SNATGUARD_LOG_LEVEL); --output json prints exactly one document on stdout.

Examples:
  snatguard demo
  snatguard replay examples/aks-mongo-leak.yaml --mode restart --check
  kubectl exec POD -- cat /proc/net/tcp /proc/net/tcp6 | snatguard sockets -
  snatguard capacity --nodes 80 --max-surge 5 --want-ports 2048`,
    );
  // Usage errors exit 2 (commander's default is 1, which the contract reserves for --check).
  const override = (c: Command) => {
    c.exitOverride();
    c.commands.forEach(override);
  };
  override(root);
  return root;
}
