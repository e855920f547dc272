#!/usr/bin/env node
// The snatguard CLI entry point (package.json "bin").
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

await main(process.argv);
