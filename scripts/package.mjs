// npm run package: esbuild bundles of the two serverless hosts, zipped for deployment.
//   dist/package/snatguard-azure.zip   Function App (host.json, package.json, dist/functions/scan.js + chunks)
//   dist/package/snatguard-lambda.zip  Lambda (index.mjs → handler, chunks)
// Each cloud's SDK is imported lazily by provider (src/pressure/load.ts, connect.ts), so esbuild splits it into
// its own chunks: the Lambda never loads Azure SDK code, the Function App never loads AWS SDK code.
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'package');

// ESM bundles of CommonJS dependencies need require(); the banner gives them one.
const banner = {
  js: "import { createRequire as __sgCreateRequire } from 'node:module'; const require = __sgCreateRequire(import.meta.url);",
};

/**
 * The AWS SDK's generated schema files (dist-es/schemas/schemas_0.js) describe every shape of a service as
 * `export var X$ = [...]` arrays whose trait objects use computed keys of the file's own string constants
 * (`{ [_xN]: _NGI }`, `const _xN = "xmlName"`). esbuild keeps any statement with a computed key (the key
 * could run code when coerced), so it kept every shape of EC2 (~550 KB) for the two operations snatguard
 * calls. Writing each such key as the literal string its constant holds is the same object, and lets esbuild
 * drop the shapes no command in the bundle reaches.
 */
const awsSchemaKeys = {
  name: 'aws-schema-literal-keys',
  setup(b) {
    b.onLoad({ filter: /[\\/]@aws-sdk[\\/][^\\/]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const strings = new Map();
      for (const m of text.matchAll(/^const (_\w+) = ("(?:[^"\\\n]|\\.)*");$/gm)) strings.set(m[1], m[2]);
      const contents = text.replace(/\[(_\w+)\]:/g, (all, id) =>
        strings.has(id) ? `${strings.get(id)}:` : all,
      );
      return { contents, loader: 'js' };
    });
  },
};

/**
 * node-fetch 2 (the Kubernetes client's HTTP) takes `URL` from whatwg-url only where Node has none
 * (`const URL = Url.URL || whatwgUrl.URL`, lib/index.mjs); Node 20 and 22 always have `url.URL`, so
 * whatwg-url and its 260 KB Unicode table (tr46) never run. They are replaced by Node's own URL.
 */
const nodeUrlForNodeFetch = {
  name: 'node-url-for-node-fetch',
  setup(b) {
    b.onResolve({ filter: /^whatwg-url$/ }, (args) =>
      /[\\/]node-fetch[\\/]/.test(args.importer) ? { path: 'whatwg-url', namespace: 'node-url' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'node-url' }, () => ({
      contents: "import { URL } from 'node:url'; export { URL }; export default { URL };",
      loader: 'js',
    }));
  },
};

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  splitting: true,
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  banner,
  // Which source went into which chunk: the bench finds each cloud's chunk by it.
  metafile: true,
  logLevel: 'warning',
  // Provided by the Functions host at run time.
  external: ['@azure/functions-core'],
  // The AWS SDK's ES module builds (dist-es): esbuild drops what snatguard never calls (CommonJS keeps all).
  mainFields: ['module', 'main'],
  plugins: [awsSchemaKeys, nodeUrlForNodeFetch],
};

/** The esbuild options of each host's bundle, written under `dir` (test/package-split.test.ts builds them too). */
export function hostBuilds(dir = out) {
  return {
    azure: {
      ...common,
      entryPoints: { 'dist/functions/scan': join(root, 'functions/scan.ts') },
      outdir: join(dir, 'azure'),
      outExtension: { '.js': '.mjs' },
      chunkNames: 'dist/chunks/[name]-[hash]',
    },
    lambda: {
      ...common,
      entryPoints: { index: join(root, 'src/hosts/lambda.ts') },
      outdir: join(dir, 'lambda'),
      outExtension: { '.js': '.mjs' },
      chunkNames: 'chunks/[name]-[hash]',
    },
  };
}

export async function packageAll() {
  rmSync(out, { recursive: true, force: true });
  const builds = hostBuilds();

  const azureDir = builds.azure.outdir;
  const azure = await build(builds.azure);
  copyFileSync(join(root, 'host.json'), join(azureDir, 'host.json'));
  writeFileSync(
    join(azureDir, 'package.json'),
    JSON.stringify({ name: 'snatguard-functions', type: 'module', main: 'dist/functions/scan.mjs' }, null, 2),
  );

  const lambdaDir = builds.lambda.outdir;
  const lambda = await build(builds.lambda);
  writeFileSync(
    join(lambdaDir, 'package.json'),
    JSON.stringify({ name: 'snatguard-lambda', type: 'module' }, null, 2),
  );

  const zips = {};
  for (const [name, dir] of [
    ['snatguard-azure.zip', azureDir],
    ['snatguard-lambda.zip', lambdaDir],
  ]) {
    const zip = join(out, name);
    execFileSync('zip', ['-qr', zip, '.'], { cwd: dir });
    zips[name] = statSync(zip).size;
  }
  return { azureDir, lambdaDir, zips, metafiles: { azure: azure.metafile, lambda: lambda.metafile } };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { zips } = await packageAll();
  for (const [name, size] of Object.entries(zips)) console.log(`${name}  ${(size / 1024).toFixed(0)} KiB`);
}
