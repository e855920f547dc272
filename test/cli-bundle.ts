// The CLI as a separate process, for what only a fresh process shows (NODE_EXTRA_CA_CERTS is read by Node
// at start; exported environment lines; exit codes). Bundled from source with esbuild (a dependency), into
// node_modules/.cache so the bundle resolves the project's packages; one bundle per test file.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll } from 'vitest';
import { packageRoot } from '../src/paths.js';

/** Bundles the CLI; returns its entry file. Remove `dirname(entry)` when done. */
export async function bundleCli(): Promise<string> {
  const root = packageRoot();
  const dir = join(root, 'node_modules', '.cache', 'snatguard-test');
  await mkdir(dir, { recursive: true });
  const outdir = join(dir, `cli-${process.pid}-${Math.random().toString(36).slice(2)}`);
  // Split at the CLI's dynamic imports, as the real build keeps them: a command loads only its modules.
  await build({
    entryPoints: { main: join(root, 'src/hosts/cli/main.ts') },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outdir,
    outExtension: { '.js': '.mjs' },
    logLevel: 'silent',
  });
  return join(outdir, 'main.mjs');
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * One CLI bundle and one empty home directory (`homePrefix…` under the temp dir) for the test file that
 * calls this at its top: made before its tests, removed after them.
 */
export function useCliBundle(homePrefix: string): { bundle: string; home: string } {
  const cli = { bundle: '', home: '' };
  beforeAll(async () => {
    cli.bundle = await bundleCli();
    cli.home = await mkdtemp(join(tmpdir(), homePrefix));
  });
  afterAll(async () => {
    if (cli.bundle) await rm(dirname(cli.bundle), { recursive: true, force: true });
    if (cli.home) await rm(cli.home, { recursive: true, force: true });
  });
  return cli;
}

/** Runs `node args…` with exactly `env` (plus PATH), stdin closed; the test's event loop stays free. */
export function runNode(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs the bundled CLI with exactly `env` (plus PATH), stdin closed. */
export const runCli = (bundle: string, args: string[], env: Record<string, string>): Promise<CliResult> =>
  runNode([bundle, ...args], env);
