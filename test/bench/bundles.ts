// Bundle sizes of the deployables and the cold import time of each bundle (goal ≤ 250 ms on this machine).
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/paths.js';

function dirSize(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((n, e) => {
    const p = join(dir, e.name);
    return n + (e.isDirectory() ? dirSize(p) : statSync(p).size);
  }, 0);
}

/** Median of several fresh `node` processes importing the bundle (process start excluded). */
function coldImportMs(entry: string, runs = 5): number {
  const script = `const t=performance.now();await import(${JSON.stringify(entry)});console.log(performance.now()-t)`;
  const times = Array.from({ length: runs }, () =>
    Number(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        encoding: 'utf8',
        // The Functions library warns that no host is present: expected here, noise in the figures.
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim(),
    ),
  ).sort((a, b) => a - b);
  return times[Math.floor(runs / 2)]!;
}

export async function run(): Promise<void> {
  const root = packageRoot();
  const { packageAll } = (await import(join(root, 'scripts/package.mjs'))) as {
    packageAll(): Promise<{ azureDir: string; lambdaDir: string; zips: Record<string, number> }>;
  };
  const { azureDir, lambdaDir, zips } = await packageAll();
  const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  const rows = [
    ['azure', join(azureDir, 'dist/functions/scan.mjs'), azureDir, zips['snatguard-azure.zip']!],
    ['lambda', join(lambdaDir, 'index.mjs'), lambdaDir, zips['snatguard-lambda.zip']!],
  ] as const;
  for (const [name, entry, dir, zip] of rows) {
    const entrySize = statSync(entry).size;
    console.log(
      `${name.padEnd(7)} entry ${kib(entrySize).padStart(9)}  all chunks ${kib(dirSize(dir)).padStart(9)}  zip ${kib(zip).padStart(9)}  cold import ${coldImportMs(entry).toFixed(0)} ms (goal ≤ 250 ms)`,
    );
  }
}
