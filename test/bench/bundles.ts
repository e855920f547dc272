// The serverless deployables: bundle sizes, and the cold start as a host pays it — a fresh process that
// imports the handler's entry and then that cloud's chunk (the pressure sources and their SDK), measured
// whole (spawn to exit), interleaved with `node -e 0`. Target: ≤ 250 ms.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { packageRoot } from '../../src/paths.js';
import { interleaved, median, msRange, node, rounds, table, verdict } from './proc.js';

interface Metafile {
  outputs: Record<string, { inputs: Record<string, unknown>; imports: { path: string; kind: string }[] }>;
}

function dirSize(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((n, e) => {
    const p = join(dir, e.name);
    return n + (e.isDirectory() ? dirSize(p) : statSync(p).size);
  }, 0);
}

/** The output chunks that hold `source` (a path relative to the package root). */
function chunksWith(meta: Metafile, root: string, source: string): string[] {
  return Object.entries(meta.outputs)
    .filter(([, o]) => Object.keys(o.inputs).some((i) => i.endsWith(source)))
    .map(([path]) => join(root, path));
}

const ROUNDS = rounds(7);

export async function run(): Promise<void> {
  const root = packageRoot();
  const { packageAll } = (await import(join(root, 'scripts/package.mjs'))) as {
    packageAll(): Promise<{
      azureDir: string;
      lambdaDir: string;
      zips: Record<string, number>;
      metafiles: { azure: Metafile; lambda: Metafile };
    }>;
  };
  const { azureDir, lambdaDir, zips, metafiles } = await packageAll();
  const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  const hosts = [
    {
      name: 'Functions (azure)',
      entry: join(azureDir, 'dist/functions/scan.mjs'),
      dir: azureDir,
      zip: zips['snatguard-azure.zip']!,
      chunks: chunksWith(metafiles.azure, root, 'src/pressure/azure.ts'),
      other: chunksWith(metafiles.azure, root, 'src/pressure/aws-nat-gateway.ts'),
    },
    {
      name: 'Lambda (aws)',
      entry: join(lambdaDir, 'index.mjs'),
      dir: lambdaDir,
      zip: zips['snatguard-lambda.zip']!,
      chunks: chunksWith(metafiles.lambda, root, 'src/pressure/aws-nat-gateway.ts'),
      other: chunksWith(metafiles.lambda, root, 'src/pressure/azure.ts'),
    },
  ];
  const variants: Parameters<typeof interleaved>[0] = { 'node -e 0': () => node(['-e', '0']) };
  for (const h of hosts) {
    const script = `await import(${JSON.stringify(h.entry)});${h.chunks.map((c) => `await import(${JSON.stringify(c)});`).join('')}`;
    // The Functions library warns that no host is present: expected here.
    variants[h.name] = () => node(['--input-type=module', '-e', script]);
  }
  const r = await interleaved(variants, ROUNDS);
  const rows: [string, string][] = [['node -e 0', msRange(r['node -e 0']!)]];
  for (const h of hosts) {
    const samples = r[h.name]!;
    const ms = median(samples.map((s) => s.ms));
    const own = h.chunks.map((c) => relative(h.dir, c)).join(', ');
    const shared = h.chunks.some((c) => h.other.includes(c));
    rows.push([
      `${h.name} cold start`,
      `${msRange(samples)}  target ≤ 250 ms → ${verdict(ms <= 250 && samples.every((s) => s.code === 0))}`,
    ]);
    rows.push([
      `  ${h.name} sizes`,
      `entry ${kib(statSync(h.entry).size)}, all chunks ${kib(dirSize(h.dir))}, zip ${kib(h.zip)}; cloud chunk ${own} (${kib(h.chunks.reduce((n, c) => n + statSync(c).size, 0))}) ${shared ? 'SHARED with the other cloud' : 'holds only this cloud'}`,
    ]);
  }
  table(`serverless cold start, whole process (median [min–max] of ${ROUNDS} interleaved runs)`, rows);
}
