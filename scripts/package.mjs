// npm run package: esbuild bundles of the two serverless hosts, zipped for deployment.
//   dist/package/snatguard-azure.zip   Function App (host.json, package.json, dist/functions/scan.js + chunks)
//   dist/package/snatguard-lambda.zip  Lambda (index.mjs → handler, chunks)
// Each cloud's SDK is imported lazily by provider (src/pressure/load.ts, connect.ts), so esbuild splits it into
// its own chunks: the Lambda never loads Azure SDK code, the Function App never loads AWS SDK code.
// A cold start compiles everything the first invocation loads, so the plugins below leave out library code
// that invocation can never run (each says why it cannot; test/hosts/bundled.test.ts runs both bundled
// handlers against the simulator, test/package-split.test.ts checks the split and the kept models).
// The build needs the dev dependencies (typescript parses the Kubernetes client's generated API modules).
import { execFileSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

/** The NetworkManagementClient operation groups snatguard calls (src/pressure/azure-*.ts). */
export const NETWORK_GROUPS = ['loadBalancers', 'natGateways', 'publicIPPrefixes', 'subnets'];

/**
 * @azure/arm-network's NetworkManagementClient constructs all of its ~150 operation groups (650 KB of
 * operation classes and specs) though snatguard calls four. The bundle constructs only NETWORK_GROUPS; any
 * other group is a getter that throws, naming itself. The build fails if a bundled source file reaches a
 * group through `network.<group>` that is not bundled, or if the client no longer has the shape rewritten here.
 *
 * Its serializer gets every model mapper of the API (`createSerializer(Mappers)`, 450 KB minified) and
 * finds nested models by class name. The bundled operations get the mappers they (and the client's own
 * methods) name, those of the request parameters they use, and every mapper these reach by `className`
 * or `uberParent`, with the subtypes of each polymorphic one reached, transitively: all a response of
 * theirs can name. (`discriminators` stays whole.)
 */
const armNetworkGroups = {
  name: 'arm-network-groups',
  setup(b) {
    const all = new Set();
    const esm = join(root, 'node_modules', '@azure', 'arm-network', 'dist', 'esm');
    const mappersPath = join(esm, 'models', 'mappers.js');
    let reachable;
    const mappersReached = () => {
      if (reachable) return reachable;
      const blocks = new Map();
      const parts = readFileSync(mappersPath, 'utf8').split(/^export const (\w+) = /m);
      for (let i = 1; i < parts.length; i += 2) blocks.set(parts[i], parts[i + 1]);
      const params = new Map();
      const pparts = readFileSync(join(esm, 'models', 'parameters.js'), 'utf8').split(
        /^export const (\w+) = /m,
      );
      for (let i = 1; i < pparts.length; i += 2) params.set(pparts[i], pparts[i + 1]);
      const todo = [];
      for (const f of [
        join(esm, 'networkManagementClient.js'),
        ...NETWORK_GROUPS.map((g) => join(esm, 'operations', `${g}.js`)),
      ]) {
        const text = readFileSync(f, 'utf8');
        for (const m of text.matchAll(/\bMappers\.(\w+)/g)) todo.push(m[1]);
        for (const m of text.matchAll(/\bParameters\.(\w+)/g))
          for (const n of (params.get(m[1]) ?? '').matchAll(/\b(\w+)Mapper\b/g)) todo.push(n[1]);
      }
      reachable = new Set(['discriminators']);
      const parentOf = (block) => /uberParent: "(\w+)"/.exec(block)?.[1];
      while (todo.length > 0) {
        while (todo.length > 0) {
          const name = todo.pop();
          if (reachable.has(name) || !blocks.has(name)) continue;
          reachable.add(name);
          for (const m of blocks.get(name).matchAll(/(?:className|uberParent): "(\w+)"/g)) todo.push(m[1]);
        }
        // The subtypes of a reached polymorphic model (found through `discriminators` when deserializing).
        for (const [name, block] of blocks)
          if (!reachable.has(name) && reachable.has(parentOf(block))) todo.push(name);
      }
      return reachable;
    };
    b.onLoad(
      {
        filter:
          /[\\/]@azure[\\/]arm-network[\\/]dist[\\/]esm[\\/](networkManagementClient|operations[\\/]\w+)\.js$/,
      },
      (args) => {
        let contents = readFileSync(args.path, 'utf8').replace(
          /^import \* as Mappers from "\.\.?\/models\/mappers\.js";$/m,
          'import * as Mappers from "sg-network-mappers";',
        );
        if (!args.path.endsWith('networkManagementClient.js')) return { contents, loader: 'js' };
        const kept = new Set();
        contents = contents.replace(/this\.(\w+) =\s*new (\w+Impl)\(this\);/g, (whole, group) => {
          all.add(group);
          if (NETWORK_GROUPS.includes(group)) {
            kept.add(group);
            return whole;
          }
          return `Object.defineProperty(this, ${JSON.stringify(group)}, { get() { throw new Error(${JSON.stringify(`NetworkManagementClient.${group} is not in this bundle (scripts/package.mjs NETWORK_GROUPS)`)}); } });`;
        });
        const missing = NETWORK_GROUPS.filter((g) => !kept.has(g));
        if (missing.length > 0 || all.size < 50 || !contents.includes('"sg-network-mappers"'))
          return {
            errors: [
              {
                text: `arm-network: cannot find the operation groups ${missing.join(', ')} to keep (${all.size} groups found), or its mappers import`,
              },
            ],
          };
        return { contents, loader: 'js' };
      },
    );
    b.onResolve({ filter: /^sg-network-mappers$/ }, () => ({
      path: 'mappers',
      namespace: 'sg-network-mappers',
    }));
    b.onLoad({ filter: /.*/, namespace: 'sg-network-mappers' }, () => ({
      contents: `export { ${[...mappersReached()].join(', ')} } from ${JSON.stringify(mappersPath)};`,
      resolveDir: root,
      loader: 'js',
    }));
    b.onEnd((result) => {
      if (!result.metafile || all.size === 0) return;
      const problems = [];
      for (const input of Object.keys(result.metafile.inputs).filter((i) =>
        /^(src|functions)[\\/].*\.ts$/.test(i),
      )) {
        for (const m of readFileSync(join(root, input), 'utf8').matchAll(/\bnetwork\s*\??\.\s*(\w+)/g))
          if (all.has(m[1]) && !NETWORK_GROUPS.includes(m[1])) problems.push(`${input}: network.${m[1]}`);
      }
      if (problems.length > 0)
        return {
          errors: [
            {
              text: `arm-network: groups used but not bundled (add them to NETWORK_GROUPS): ${problems.join('; ')}`,
            },
          ],
        };
    });
  },
};

/** Every identifier in the files under `dir` whose names match `ext` (recursively; `skip`: folders left out). */
function identifiersIn(dir, ext, into = new Set(), skip = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (!skip.includes(e.name)) identifiersIn(p, ext, into, skip);
    } else if (ext.test(e.name))
      for (const m of readFileSync(p, 'utf8').matchAll(/[A-Za-z_$][\w$]*/g)) into.add(m[0]);
  }
  return into;
}

/**
 * The Kubernetes client's generated API classes (gen/apis/*.js: a request factory and a response processor
 * per API group; gen/types/*API.js: the Observable, Promise and object-parameter layers over them) have a
 * method per operation: CoreV1Api alone is ~400 KB minified, and esbuild keeps a class whole. The bundle
 * keeps a method only when its operation's name (`listNamespacedPod`, with or without `WithHttpInfo`)
 * appears as an identifier in snatguard's sources or in the client's own non-generated modules — a superset
 * of what can be called by name. The classes, their constructors and everything else stay as shipped.
 */
const kubeApiMethods = {
  name: 'kube-api-methods',
  setup(b) {
    const kube = join(root, 'node_modules', '@kubernetes', 'client-node', 'dist');
    const models = join(kube, 'gen', 'models');
    let used;
    // The generated modules (gen/) are not evidence of use: only their callers are.
    const usedNames = () => {
      used ??= identifiersIn(kube, /\.js$/, identifiersIn(join(root, 'src'), /\.ts$/), ['gen']);
      return used;
    };
    const pruned = new Map();
    /** A generated API module without the methods of operations nothing names. */
    const prune = async (path) => {
      if (pruned.has(path)) return pruned.get(path);
      const ts = (await import('typescript')).default;
      const text = readFileSync(path, 'utf8');
      const file = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, false, ts.ScriptKind.JS);
      let contents = '';
      let at = 0;
      for (const s of file.statements) {
        if (!ts.isClassDeclaration(s)) continue;
        for (const m of s.members) {
          if (!ts.isMethodDeclaration(m) || !m.name || !ts.isIdentifier(m.name)) continue;
          if (usedNames().has(m.name.text.replace(/WithHttpInfo$/, ''))) continue;
          contents += text.slice(at, m.getFullStart());
          at = m.end;
        }
      }
      pruned.set(path, contents + text.slice(at));
      return pruned.get(path);
    };
    b.onLoad(
      {
        filter:
          /[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/]gen[\\/](apis[\\/]\w+Api\.js|types[\\/](Observable|ObjectParam|Promise)API\.js)$/,
      },
      async (args) => ({ contents: await prune(args.path), loader: 'js' }),
    );

    // The models (gen/models: ~700 classes, 340 KB) are all imported by ObjectSerializer, which (de)serializes
    // by type name: it keeps a model when its name is written in a kept API method (the type it reads or
    // writes), in snatguard's sources or the client's own modules, or in a kept model (its attribute types),
    // transitively. A type it does not know it passes through as plain JSON, so every reachable one is kept.
    let modelsOnce;
    const modelsReached = () => {
      modelsOnce ??= reachModels();
      return modelsOnce;
    };
    const reachModels = async () => {
      const all = new Set(
        readdirSync(models)
          .filter((f) => f.endsWith('.js') && f !== 'ObjectSerializer.js' && f !== 'all.js')
          .map((f) => f.slice(0, -3)),
      );
      const todo = [...usedNames()].filter((n) => all.has(n));
      for (const f of readdirSync(join(kube, 'gen', 'apis')).filter((f) => /Api\.js$/.test(f))) {
        if (!usedNames().has(f.slice(0, -3))) continue; // an API class no source names is not bundled
        for (const m of (await prune(join(kube, 'gen', 'apis', f))).matchAll(/\w+/g))
          if (all.has(m[0])) todo.push(m[0]);
      }
      const reached = new Set();
      while (todo.length > 0) {
        const name = todo.pop();
        if (reached.has(name)) continue;
        reached.add(name);
        for (const m of readFileSync(join(models, `${name}.js`), 'utf8').matchAll(/\w+/g))
          if (all.has(m[0])) todo.push(m[0]);
      }
      return { all, reached };
    };
    b.onLoad(
      {
        filter:
          /[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/]gen[\\/]models[\\/](ObjectSerializer|all)\.js$/,
      },
      async (args) => {
        const { all, reached } = await modelsReached();
        let dropped = 0;
        const model = (name) => {
          if (!all.has(name) || reached.has(name)) return true;
          dropped++;
          return false;
        };
        const contents = readFileSync(args.path, 'utf8')
          .split('\n')
          .filter((line) => {
            const m =
              /^export \* from '\.\.\/models\/(\w+)\.js';$/.exec(line) ??
              /^import \{ (\w+) \} from '\.\.\/models\/\1\.js';$/.exec(line) ??
              /^ {4}"(\w+)": \1,?$/.exec(line);
            return !m || model(m[1]);
          })
          .join('\n');
        // The shape this relies on: one line per model (a re-export or import, or a type map entry).
        if (dropped === 0)
          return { errors: [{ text: `client-node models: no model line of ${args.path} recognised` }] };
        return { contents, loader: 'js' };
      },
    );
  },
};

/** The client-node modules whose exports snatguard's sources import (a name not among them fails the build). */
const KUBE_MODULES = ['config.js', 'exec.js', 'types.js', 'patch.js', 'middleware.js', 'gen/index.js'];

/**
 * `@kubernetes/client-node`'s index re-exports every helper (cp's tar streams, top, metrics, informers,
 * port-forward, …), and esbuild keeps the CommonJS ones it reaches (they may have side effects). For
 * snatguard's modules (src/, and dist/src/ for the CLI's scan bundle: was src/ only, so that bundle kept
 * cp's tar streams) the package name means the modules above: the same classes, without the rest.
 */
const kubeClientModules = {
  name: 'kube-client-modules',
  setup(b) {
    // snatguard's own modules: the TypeScript sources, and their tsc output (the CLI's scan bundle is
    // built from dist/src); the client's own imports of its index (none today) stay as they are.
    b.onResolve({ filter: /^@kubernetes\/client-node$/ }, (args) =>
      /[\\/]node_modules[\\/]/.test(args.importer)
        ? undefined
        : { path: 'client-node', namespace: 'kube-modules' },
    );
    b.onLoad({ filter: /.*/, namespace: 'kube-modules' }, () => ({
      contents: KUBE_MODULES.map((m) => `export * from '@kubernetes/client-node/dist/${m}';`).join('\n'),
      resolveDir: root,
      loader: 'js',
    }));
  },
};

/** The plugins, for other bundles of snatguard (their checks read the TypeScript sources under src/). */
export const plugins = {
  awsSchemaKeys,
  nodeUrlForNodeFetch,
  armNetworkGroups,
  kubeApiMethods,
  kubeClientModules,
};

const common = {
  bundle: true,
  // Paths in the metafile are relative to the package root, wherever the build runs from.
  absWorkingDir: root,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  splitting: true,
  minify: true,
  // Class and function names kept: errors name themselves after their class (src/errors.ts), and an error
  // class matches its instances by that name across copies of the module.
  keepNames: true,
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
  plugins: [awsSchemaKeys, nodeUrlForNodeFetch, armNetworkGroups, kubeApiMethods, kubeClientModules],
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
