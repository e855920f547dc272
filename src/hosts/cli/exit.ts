// Exit codes of the CLI contract (shared/DESIGN.md): 0 completed, 1 --check mismatch, 2 bad usage or config, 3 run failed.
import { CommanderError } from 'commander';
import { messageOf, ValidationError } from '../../errors.js';
import type { Log } from '../../ports.js';
import { stripTerminal } from '../../terminal.js';

export const EXIT = { ok: 0, checkMismatch: 1, usage: 2, failed: 3 } as const;

/** Prints a failure for people on stderr and sets the exit code; never throws. */
export function handleFailure(e: unknown, log?: Pick<Log, 'error'>): void {
  if (e instanceof ValidationError) {
    process.stderr.write(`snatguard: ${stripTerminal(e.message)}\n`);
    process.exitCode = EXIT.usage;
    return;
  }
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    return;
  }
  log?.error({ err: messageOf(e) }, 'run failed');
  process.stderr.write(`snatguard: run failed: ${stripTerminal(messageOf(e))}\n`);
  process.exitCode = EXIT.failed;
}

/**
 * `snatguard --help | head -1`: the reader went away. Nothing more can be shown, and that is no failure:
 * later writes are dropped (the run still finishes, releases its lock and sets its exit code).
 */
export function quietOnBrokenPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
}
