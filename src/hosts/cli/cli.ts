// The snatguard CLI: parses the command line and runs the command. main.ts (package.json "bin") loads this
// module, as the one-file bundle of its static imports that `npm run build` writes when it is fresh.
import { CommanderError } from 'commander';
import { EXIT, handleFailure, quietOnBrokenPipe } from './exit.js';
import { program } from './program.js';

export async function main(argv: string[]): Promise<void> {
  quietOnBrokenPipe(process.stdout);
  try {
    await program().parseAsync(argv);
  } catch (e) {
    if (
      e instanceof CommanderError &&
      (e.code === 'commander.helpDisplayed' || e.code === 'commander.version')
    ) {
      process.exitCode = EXIT.ok;
      return;
    }
    if (e instanceof CommanderError && e.code === 'commander.help') {
      process.exitCode = EXIT.ok;
      return;
    }
    handleFailure(e);
  }
}

// The simulator's process (src/sim/off-thread.ts) runs this same file: one entry whether built by tsc or
// bundled, so the child always finds its code beside the CLI's.
if (process.env.SNATGUARD_SIM_CHILD === '1' && process.send !== undefined)
  await import('../../sim/worker.js');
else {
  (globalThis as Record<symbol, unknown>)[Symbol.for('snatguard.cli.entry')] = import.meta.url;
  await main(process.argv);
}
