// After tsc: the CLI's own modules (cli.js and its static imports) as dist/src/hosts/cli/cli.bundle.js, and
// the modules of `snatguard scan` (dist/src/hosts/cli/run-commands.js and all it imports,
// @kubernetes/client-node included) as one esbuild bundle in dist/src/hosts/cli/bundle/. Loading ~1,000
// small ES modules costs ~450 ms of a scan's start-up on this kind of machine; the same code as one file
// loads in ~130 ms. commands.ts imports it when it is there and not older than the build, else the
// modules themselves. The clouds' SDKs, imported lazily by provider, stay in chunks of their own; the
// serverless bundles' plugins (scripts/package.mjs) leave out what no command can run (~3.3 MB, not 6.6).
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist/src/hosts/cli');

/**
 * The Kubernetes client's config.js imports socks-proxy-agent at its top (with socks, ip-address,
 * smart-buffer, agent-base and debug) for a kubeconfig whose proxy-url is socks5://: evaluating them took
 * ~6 ms of every scan's start, for a proxy almost no cluster has. In the scan bundle that import is a
 * stand-in whose constructor requires the library (bundled as it was, evaluated on first use): a socks
 * proxy gets the same agent, made when the first request needs it.
 */
export const lazySocksProxyAgent = {
  name: 'lazy-socks-proxy-agent',
  setup(b) {
    b.onResolve({ filter: /^socks-proxy-agent$/ }, (args) =>
      args.kind === 'import-statement' && /[\\/]@kubernetes[\\/]client-node[\\/]/.test(args.importer)
        ? { path: 'socks-proxy-agent', namespace: 'lazy-socks-proxy-agent' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-socks-proxy-agent' }, () => ({
      contents:
        "export class SocksProxyAgent { constructor(...args) { const { SocksProxyAgent: Agent } = require('socks-proxy-agent'); return new Agent(...args); } }",
      resolveDir: root,
      loader: 'js',
    }));
  },
};

/**
 * The esbuild options of the scan bundle (test/hosts/cli/scan-bundle.test.ts builds it from the sources
 * too); `plugins`: scripts/package.mjs's.
 */
export function scanBundleOptions(
  entry = join(cli, 'run-commands.js'),
  outdir = join(cli, 'bundle'),
  plugins = [],
) {
  return {
    // As the serverless bundles: paths relative to the package root, the ES module builds of the SDKs.
    absWorkingDir: root,
    mainFields: ['module', 'main'],
    plugins: [...plugins, lazySocksProxyAgent],
    entryPoints: { 'run-commands': entry },
    outdir,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    splitting: true,
    chunkNames: 'chunk-[hash]',
    // Identifiers are shortened, but class and function names kept (errors name themselves after their class).
    minify: true,
    keepNames: true,
    legalComments: 'none',
    // ESM bundles of CommonJS dependencies need require().
    banner: {
      js: "import { createRequire as __sgCreateRequire } from 'node:module'; const require = __sgCreateRequire(import.meta.url);",
    },
    // esbuild: only for the TypeScript sources' simulator worker (off-thread.ts); never reached from dist.
    // commander: the CLI (cli.js) has loaded it before the bundle (it parsed the command line): the bundle takes
    // that module instead of compiling its own copy at every scan's start.
    external: ['esbuild', 'commander'],
    logLevel: 'warning',
  };
}

/** A dynamic import stays as written: the module it names is loaded from beside the bundle, when it runs. */
const dynamicImportsOutside = {
  name: 'dynamic-imports-outside',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) =>
      args.kind === 'dynamic-import' ? { path: args.path, external: true } : undefined,
    );
  },
};

/**
 * The esbuild options of the CLI's own bundle, dist/src/hosts/cli/cli.bundle.js beside cli.js (main.js
 * loads it when it is fresh): cli.js and its static imports (the program, the light commands) as one
 * module. commander stays a package of its own (the scan bundle takes the same one); the commands' dynamic
 * imports stay as written, relative to this same directory, so each command still loads only its modules.
 */
export function cliBundleOptions(entry = join(cli, 'cli.js'), outfile = join(cli, 'cli.bundle.js')) {
  return {
    absWorkingDir: root,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    minify: true,
    keepNames: true,
    legalComments: 'none',
    external: ['commander'],
    plugins: [dynamicImportsOutside],
    logLevel: 'warning',
  };
}

export async function bundleCli() {
  let build;
  let plugins;
  try {
    ({ build } = await import('esbuild'));
    plugins = Object.values((await import('./package.mjs')).plugins);
  } catch {
    // esbuild (and typescript, for the plugins) are dev dependencies: without them the CLI loads its
    // modules one by one (slower, the same code).
    process.stderr.write('bundle-cli: esbuild not installed; scan loads its modules unbundled\n');
    return;
  }
  const options = scanBundleOptions(undefined, undefined, plugins);
  rmSync(options.outdir, { recursive: true, force: true });
  await build(options);
  await build(cliBundleOptions());
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await bundleCli();
