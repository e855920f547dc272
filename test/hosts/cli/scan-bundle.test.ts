// `snatguard scan` from the one-file bundle `npm run build` writes (scripts/bundle-cli.mjs): built here
// from the sources with the build's own esbuild options, run as its own process against the simulator,
// it gives the report the modules give; its errors keep their classes (exit codes); and commands.ts takes
// it only when it is not older than the build.
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BuildOptions, build, type Plugin } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCommandsBundle } from '../../../src/hosts/cli/commands.js';
import { scanAction } from '../../../src/hosts/cli/run-commands.js';
import { packageRoot } from '../../../src/paths.js';
import { type CliResult, runNode } from '../../cli-bundle.js';
import { example, type Harness, harness } from '../../e2e/harness.js';

const root = packageRoot();
let outdir: string;
let bundle: string;
/** The source files in what `import(bundle)` loads: its entry chunk and the chunks it imports statically. */
let loadedAtStart: Set<string>;

beforeAll(async () => {
  const { scanBundleOptions } = (await import(join(root, 'scripts/bundle-cli.mjs'))) as {
    scanBundleOptions(entry: string, outdir: string, plugins: Plugin[]): BuildOptions;
  };
  // The same plugins as the build (scripts/package.mjs's: the Kubernetes client's unused parts left out).
  const { plugins } = (await import(join(root, 'scripts/package.mjs'))) as {
    plugins: Record<string, Plugin>;
  };
  outdir = join(root, 'node_modules', '.cache', 'snatguard-test', `scan-bundle-${process.pid}`);
  const { metafile } = await build({
    ...scanBundleOptions(join(root, 'src/hosts/cli/run-commands.ts'), outdir, Object.values(plugins)),
    logLevel: 'silent',
    metafile: true,
  });
  bundle = join(outdir, 'run-commands.js');
  const outputs = metafile.outputs;
  const entry = Object.keys(outputs).find((o) => o.endsWith('/run-commands.js'));
  const chunks = new Set<string>();
  for (const todo = entry ? [entry] : []; todo.length > 0; ) {
    const chunk = todo.pop()!;
    if (chunks.has(chunk)) continue;
    chunks.add(chunk);
    for (const i of outputs[chunk]?.imports ?? [])
      if (i.kind === 'import-statement' && outputs[i.path]) todo.push(i.path);
  }
  loadedAtStart = new Set([...chunks].flatMap((c) => Object.keys(outputs[c]?.inputs ?? {})));
}, 60_000);
afterAll(async () => {
  await rm(outdir, { recursive: true, force: true });
});

/** scanAction of the bundle in a process of its own, with exactly `env` (plus PATH). */
function scanFromBundle(env: Record<string, string>): Promise<CliResult> {
  const code =
    'const m = await import(process.argv[1]); await m.scanAction({ output: "json", provider: "none" });';
  return runNode(['--input-type=module', '-e', code, pathToFileURL(bundle).href], env);
}

/** A report without what differs between any two runs (ids and clock readings). */
function comparable(report: unknown): unknown {
  return JSON.parse(JSON.stringify(report), (key, value) =>
    /^(runId|startedAt|finishedAt|durationMs|elapsedMs|at)$/.test(key) ? undefined : value,
  );
}

const scanEnv = (h: Harness, home: string) => ({
  HOME: home,
  SNATGUARD_CLUSTER_KUBECONFIG: h.sim.jobKubeconfigPath,
  SNATGUARD_NETWORK_CLUSTER_CIDRS: '10.244.0.0/16,10.0.0.0/16',
  SNATGUARD_LOG_LEVEL: 'error',
});

describe('the scan bundle', () => {
  const open: Harness[] = [];
  let home: string;
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'snatguard-scan-bundle-'));
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await Promise.all(open.splice(0).map((h) => h.close()));
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('scans as the modules do: the same report, exit 0', async () => {
    // Each run gets a fresh simulator: a run leaves state (lease, notified) that the next would read.
    const fromModules = await harness(await example('contract-check.yaml'));
    const fromBundle = await harness(await example('contract-check.yaml'));
    open.push(fromModules, fromBundle);

    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out += String(s);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const saved = { ...process.env };
    Object.assign(process.env, scanEnv(fromModules, home));
    try {
      await scanAction({ output: 'json', provider: 'none' });
    } finally {
      process.env = saved;
      process.exitCode = undefined;
      vi.restoreAllMocks();
    }
    const expected = JSON.parse(out);

    const r = await scanFromBundle(scanEnv(fromBundle, home));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.status).toBe('complete');
    expect(report.offenders.length).toBeGreaterThan(0);
    expect(comparable(report)).toEqual(comparable(expected));
  }, 60_000);

  it('restarts as the modules do (mode restart: the rails, the patch, the rollout watch)', async () => {
    const h = await harness(await example('contract-check.yaml'));
    open.push(h);
    const r = await scanFromBundle({ ...scanEnv(h, home), SNATGUARD_MODE: 'restart' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.actions).toContainEqual(
      expect.objectContaining({ workload: 'shop/Deployment/cart', status: 'applied' }),
    );
    expect(h.sim.world.requests.some((q) => q.method === 'PATCH')).toBe(true);
  }, 60_000);

  it('keeps the error classes: a bad config exits 2 with every problem named', async () => {
    const h = await harness(await example('contract-check.yaml'));
    open.push(h);
    const r = await scanFromBundle({ ...scanEnv(h, home), SNATGUARD_EXEC_CONCURRENCY: 'many' });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'snatguard: config is invalid:\n  - exec.concurrency: "many" is not a number (from SNATGUARD_EXEC_CONCURRENCY)\n',
    );
    expect(r.stdout).toBe('');
  }, 60_000);

  it("loads zod's English messages only, not its every locale (was: ~370 KB more to load at each scan's start, as one module imported zod's `z` namespace object as a value)", () => {
    const zod = [...loadedAtStart].filter((f) => f.includes('node_modules/zod/'));
    expect(zod.length).toBeGreaterThan(0);
    expect(zod.filter((f) => f.includes('/locales/'))).toEqual(['node_modules/zod/v4/locales/en.js']);
  });

  it('loads one commander, the one main.js loaded (was: its own copy compiled at every scan)', () => {
    expect([...loadedAtStart].filter((f) => f.includes('node_modules/commander/'))).toEqual([]);
  });

  it("takes the Kubernetes client's modules, not its index, from tsc's output too (was: from dist/src the index, with cp's tar streams)", async () => {
    // An entry outside src/ importing the client as dist/src's modules do.
    const dir = await mkdtemp(join(tmpdir(), 'snatguard-kube-entry-'));
    try {
      const entry = join(dir, 'entry.js');
      await writeFile(entry, "export { KubeConfig, Exec } from '@kubernetes/client-node';\n");
      const { scanBundleOptions } = (await import(join(root, 'scripts/bundle-cli.mjs'))) as {
        scanBundleOptions(entry: string, outdir: string, plugins: Plugin[]): BuildOptions;
      };
      const { plugins } = (await import(join(root, 'scripts/package.mjs'))) as {
        plugins: Record<string, Plugin>;
      };
      const { metafile } = await build({
        ...scanBundleOptions(entry, join(dir, 'out'), Object.values(plugins)),
        logLevel: 'silent',
        metafile: true,
      });
      const inputs = Object.keys(metafile.inputs);
      expect(inputs.some((f) => f.endsWith('@kubernetes/client-node/dist/config.js'))).toBe(true);
      expect(
        inputs.filter((f) => /client-node[\\/]dist[\\/](cp|index)\.js$|[\\/]tar-fs[\\/]/.test(f)),
      ).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("evaluates socks-proxy-agent only when a kubeconfig's proxy-url asks for it (was: at every scan's start, ~6 ms)", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'snatguard-socks-'));
    try {
      // The build's bundle, with socks-proxy-agent's module counting its evaluations.
      const { scanBundleOptions } = (await import(join(root, 'scripts/bundle-cli.mjs'))) as {
        scanBundleOptions(entry: string, outdir: string, plugins: Plugin[]): BuildOptions;
      };
      const { plugins } = (await import(join(root, 'scripts/package.mjs'))) as {
        plugins: Record<string, Plugin>;
      };
      const { readFile } = await import('node:fs/promises');
      const counted: Plugin = {
        name: 'count-socks-proxy-agent',
        setup(b) {
          b.onLoad({ filter: /[\\/]socks-proxy-agent[\\/]dist[\\/]index\.js$/ }, async (args) => ({
            contents: `${await readFile(args.path, 'utf8')}\nglobalThis.__socksAgentModule = (globalThis.__socksAgentModule ?? 0) + 1;\n`,
            loader: 'js',
          }));
        },
      };
      // Under the package, as the build's: the bundle finds commander in node_modules.
      const out = join(root, 'node_modules', '.cache', 'snatguard-test', `socks-bundle-${process.pid}`);
      await build({
        ...scanBundleOptions(join(root, 'src/hosts/cli/run-commands.ts'), out, [
          ...Object.values(plugins),
          counted,
        ]),
        logLevel: 'silent',
      });
      // A cluster behind a SOCKS proxy that refuses: the run fails to connect, through the proxy's agent.
      const kubeconfig = join(dir, 'kubeconfig');
      await writeFile(
        kubeconfig,
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters:',
          '- name: behind-socks',
          '  cluster: { server: "https://127.0.0.1:6443", proxy-url: "socks5://127.0.0.1:9" }',
          'users:',
          '- name: u',
          '  user: { token: t }',
          'contexts:',
          '- name: c',
          '  context: { cluster: behind-socks, user: u }',
          'current-context: c',
          '',
        ].join('\n'),
      );
      const code = [
        'const m = await import(process.argv[1]);',
        'const atStart = globalThis.__socksAgentModule ?? 0;',
        "process.on('exit', () => process.stderr.write(JSON.stringify({ atStart, atEnd: globalThis.__socksAgentModule ?? 0 })));",
        'await m.scanAction({ output: "json", provider: "none" });',
      ].join('\n');
      const r = await runNode(
        ['--input-type=module', '-e', code, pathToFileURL(join(out, 'run-commands.js')).href],
        {
          HOME: home,
          SNATGUARD_CLUSTER_KUBECONFIG: kubeconfig,
          SNATGUARD_LOG_LEVEL: 'silent',
        },
      );
      if (!r.stderr.startsWith('{')) throw new Error(r.stderr);
      expect(JSON.parse(r.stderr)).toEqual({ atStart: 0, atEnd: 1 });
      expect(r.code).toBe(3);
      expect(JSON.stringify(JSON.parse(r.stdout))).toMatch(/127\.0\.0\.1:9/);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await rm(join(root, 'node_modules', '.cache', 'snatguard-test', `socks-bundle-${process.pid}`), {
        recursive: true,
        force: true,
      });
    }
  }, 60_000);

  it('a cluster it cannot reach is a failed run: exit 3 and a report saying why', async () => {
    const r = await scanFromBundle({
      HOME: home,
      SNATGUARD_CLUSTER_KUBECONFIG: '/nonexistent/kubeconfig',
      SNATGUARD_LOG_LEVEL: 'silent',
    });
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: 'RunReport', status: 'failed' });
  }, 60_000);
});

describe('runCommandsBundle: which scan modules commands.ts loads', () => {
  let dir: string;
  let here: string;
  beforeAll(async () => {
    // The dist layout: dist/.tsbuildinfo, dist/src/hosts/cli/commands.js, …/cli/bundle/run-commands.js.
    dir = await mkdtemp(join(tmpdir(), 'snatguard-bundle-choice-'));
    await mkdir(join(dir, 'src/hosts/cli/bundle'), { recursive: true });
    here = pathToFileURL(join(dir, 'src/hosts/cli/commands.js')).href;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const at = (path: string, seconds: number) => utimes(join(dir, path), seconds, seconds);

  it('the modules when there is no bundle', async () => {
    await writeFile(join(dir, '.tsbuildinfo'), '{}');
    expect(runCommandsBundle(here)).toBeUndefined();
  });

  it('the bundle when it was written after the last tsc run', async () => {
    await writeFile(join(dir, 'src/hosts/cli/bundle/run-commands.js'), '');
    await at('.tsbuildinfo', 1_000);
    await at('src/hosts/cli/bundle/run-commands.js', 2_000);
    expect(runCommandsBundle(here)).toBe(
      pathToFileURL(join(dir, 'src/hosts/cli/bundle/run-commands.js')).href,
    );
  });

  it('the modules when tsc ran after the bundle was written (a stale bundle is never used)', async () => {
    await at('.tsbuildinfo', 3_000);
    expect(runCommandsBundle(here)).toBeUndefined();
  });

  it('the bundle when there is no build info (a package installed without it)', async () => {
    await rm(join(dir, '.tsbuildinfo'));
    expect(runCommandsBundle(here)).toBe(
      pathToFileURL(join(dir, 'src/hosts/cli/bundle/run-commands.js')).href,
    );
  });

  it('the modules from the TypeScript sources (vitest): no bundle beside them', () => {
    expect(runCommandsBundle(pathToFileURL(join(root, 'src/hosts/cli/commands.ts')).href)).toBeUndefined();
  });
});
