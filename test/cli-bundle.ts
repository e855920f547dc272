// The CLI as a separate process, for what only a fresh process shows (NODE_EXTRA_CA_CERTS is read by Node
// at start; exported environment lines; exit codes). Bundled from source with esbuild (a dependency), into
// node_modules/.cache so the bundle resolves the project's packages; one bundle per test file.
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { packageRoot } from '../src/paths.js';

export async function bundleCli(): Promise<string> {
  const root = packageRoot();
  const dir = join(root, 'node_modules', '.cache', 'snatguard-test');
  await mkdir(dir, { recursive: true });
  const outfile = join(dir, `cli-${process.pid}-${Math.random().toString(36).slice(2)}.mjs`);
  await build({
    entryPoints: [join(root, 'src/hosts/cli/main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile,
    logLevel: 'silent',
  });
  return outfile;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the bundled CLI with exactly `env` (plus PATH), stdin closed; the test's event loop stays free. */
export function runCli(bundle: string, args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle, ...args], {
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
