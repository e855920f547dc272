// snatguard demo: the first incident replayed on the built-in simulator, narrated, then a second run
// that shows the node recovered. Safe anywhere: everything it patches is simulated.
import { loadConfig } from '../../config/index.js';
import { createLogger } from '../../log.js';
import { examplePath } from '../../paths.js';
import { type SimThread, startSimThread } from '../../sim/off-thread.js';
import { EXIT, handleFailure } from './exit.js';
import { renderReport, styleFor } from './output.js';
import { replaySnapshot } from './run-commands.js';

export const DEMO_SNAPSHOT = 'aks-mongo-leak.yaml';

const indent = (text: string) => text.replace(/^/gm, '  │ ');

/**
 * `snatguard demo` (defined in commands.ts, which starts the simulator's thread and then loads this
 * module, so the simulated cluster is seeded while the scanner's modules load).
 */
export async function demoAction(
  starting: Promise<SimThread> = startSimThread(examplePath(DEMO_SNAPSHOT)),
): Promise<void> {
  const log = createLogger({ level: process.env.SNATGUARD_LOG_LEVEL ?? 'warn' });
  const s = styleFor(process.stdout);
  const say = (text: string) => process.stdout.write(`${text}\n`);
  let sim: SimThread | undefined;
  try {
    sim = await starting;
    const snapshot = sim.snapshot;
    // The demo ignores SNATGUARD_* env on purpose: it must show the same thing on every machine.
    const config = await loadConfig({ env: {}, flags: { mode: 'restart' } });
    say(s.bold("snatguard demo — the MongoDB connection leak that exhausted an AKS node's SNAT ports"));
    say(s.dim(snapshot.metadata.description ?? ''));
    say(
      s.dim('A simulated AKS control plane (Kubernetes API + exec, Azure ARM and Azure Monitor) serves the'),
    );
    say(s.dim('incident; snatguard runs against it through the same clients it uses on a real cluster.'));
    say('');
    const { report, second, slack } = await replaySnapshot(sim, config, log, 'table', {
      rerun: true,
      slackToSink: true,
    });
    say(s.bold('Run 1 — Azure Monitor says a node is out of SNAT ports; snatguard finds who holds them:'));
    say(renderReport(report, 'table', s));
    if (slack[0]) say(`${s.bold('What the simulated Slack channel received:')}\n${indent(slack[0])}\n`);
    if (second) {
      say(s.bold('Run 2 — five minutes later, after the rollout restart:'));
      say(renderReport(second, 'table', s));
    }
    if (slack[1]) say(`${s.bold('And in Slack:')}\n${indent(slack[1])}\n`);
    say(
      s.dim(
        'Next: `snatguard replay examples/aks-mongo-leak.yaml -o json`, `snatguard sim examples/aks-mongo-leak.yaml`',
      ),
    );
    say(s.dim('and kubectl against it, or `snatguard scan` on a real cluster (dry-run by default).'));
    process.exitCode = EXIT.ok;
  } catch (e) {
    handleFailure(e, log);
  } finally {
    await sim?.close();
  }
}
