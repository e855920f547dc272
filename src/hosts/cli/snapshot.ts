// `snatguard snapshot`: read a live cluster through the same clients as `scan` and print a snatguard.io/v1
// snapshot on stdout (docs/SNAPSHOT.md "Captured snapshots"). Loaded only when the command runs.
import { type KubeConfig, VersionApi } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { connect } from '../../cluster/connect.js';
import { clusterTarget, compose } from '../../compose.js';
import { loadConfig } from '../../config/index.js';
import { messageOf, ValidationError } from '../../errors.js';
import { createLogger } from '../../log.js';
import { parseSnapshot } from '../../sim/snapshot.js';
import { buildSnapshot, type SnapshotDoc } from '../../snapshot/capture.js';
import { fitToFormat } from '../../snapshot/fit.js';
import { parseNodeSelection, readCluster } from '../../snapshot/read.js';
import { redactSnapshot } from '../../snapshot/redact.js';
import { deadlineSignal } from '../job.js';
import { EXIT, handleFailure } from './exit.js';

export interface SnapshotFlags {
  config?: string;
  nodes: string;
  redact?: boolean;
  keepDestinations?: boolean;
  output: 'yaml' | 'json';
}

/** `snatguard snapshot` (its options: commands.ts). */
export async function snapshotAction(flags: SnapshotFlags): Promise<void> {
  const log = createLogger();
  try {
    const config = await loadConfig({ file: flags.config, env: process.env });
    log.level = config.log.level;
    let kubeConfig: KubeConfig;
    try {
      kubeConfig = await connect(clusterTarget(config), { log });
    } catch (e) {
      if (e instanceof ValidationError) throw e;
      process.stderr.write(`snatguard snapshot: no access to the cluster: ${messageOf(e)}\n`);
      process.exitCode = EXIT.failed;
      return;
    }
    const deps = await compose(config, { kubeConfig, log });
    const signal = deadlineSignal(undefined, 0, config.deadlineSeconds);
    const read = await readCluster(
      config,
      { ...deps, version: (s) => serverVersion(kubeConfig, s) },
      parseNodeSelection(flags.nodes),
      signal,
    );
    if (read.nodes.length === 0) {
      // Nothing to write: a snapshot has at least one node.
      process.stderr.write(
        `snatguard snapshot: nothing could be read:\n${read.missing.map((m) => `  - ${m}\n`).join('') || '  - the cluster has no nodes\n'}`,
      );
      process.exitCode = EXIT.failed;
      return;
    }
    // What is printed is a snapshot replay loads: what the format cannot hold is removed and said so.
    let doc: SnapshotDoc = fitToFormat(buildSnapshot(read), (d) => {
      parseSnapshot(JSON.stringify(d), 'captured snapshot');
    });
    if (flags.redact) doc = redactSnapshot(doc, { keepDestinations: flags.keepDestinations === true });
    const text = render(doc, flags.output);
    parseSnapshot(text, 'captured snapshot');
    process.stdout.write(text);
    const missing = doc.metadata.capture.missing ?? [];
    if (missing.length > 0)
      log.warn(
        { missing: missing.length, first: missing[0] },
        'snapshot written without some of the cluster',
      );
    process.exitCode = EXIT.ok;
  } catch (e) {
    handleFailure(e, log);
  }
}

function render(doc: SnapshotDoc, output: 'yaml' | 'json'): string {
  if (output === 'json') return `${JSON.stringify(doc, null, 2)}\n`;
  const missing = doc.metadata.capture.missing ?? [];
  const head = [
    `# Captured by snatguard snapshot at ${doc.metadata.capture.at} (nodes: ${doc.metadata.capture.nodes}).`,
    ...(missing.length > 0
      ? [`# Not read (${missing.length}; see metadata.capture.missing): the file holds the rest.`]
      : []),
    '# Replay it with: snatguard replay FILE',
  ];
  return `${head.join('\n')}\n${stringify(doc, { lineWidth: 0 })}`;
}

async function serverVersion(kc: KubeConfig, signal: AbortSignal): Promise<string> {
  const info = await Promise.race([
    kc.makeApiClient(VersionApi).getCode(),
    new Promise<never>((_, reject) => {
      const t = setTimeout(() => reject(new Error('timed out')), 10_000);
      signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      t.unref?.();
    }),
  ]);
  const major = info.major.replace(/\D+$/, '');
  const minor = info.minor.replace(/\D+$/, '');
  return `${major}.${minor}`;
}
