// Issue 13: in `replay` and `demo` the simulator runs off the scanner's event loop (in its own process). Shown without timing:
// while this (the scanner's) thread is blocked in spawnSync, a separate process still gets its answers
// from the simulator, which an in-process simulator could not give until the block ended.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { examplePath, packageRoot } from '../../src/paths.js';
import { type SimThread, simWorkerBundle, startSimThread } from '../../src/sim/off-thread.js';

describe('startSimThread', () => {
  let sim: SimThread;
  beforeAll(async () => {
    sim = await startSimThread(examplePath('aks-mongo-leak.yaml'));
  }, 60_000);
  afterAll(() => sim?.close());

  it('answers over HTTPS while the calling thread is blocked (the simulator is not on its event loop)', () => {
    const script = `
      const { request } = require('node:https');
      const tokenFrom = require('node:fs').readFileSync(process.env.KUBECONFIG, 'utf8').match(/token: (\\S+)/)[1];
      request(process.env.URL + '/api/v1/nodes', { headers: { authorization: 'Bearer ' + tokenFrom } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => { process.stdout.write(String(res.statusCode) + ' ' + JSON.parse(body).items.length); });
      }).end();`;
    // spawnSync holds this thread until the child exits: only a simulator on another thread can answer it.
    const r = spawnSync(process.execPath, ['-e', script], {
      env: {
        ...process.env,
        NODE_EXTRA_CA_CERTS: sim.caPath,
        KUBECONFIG: sim.jobKubeconfigPath,
        URL: sim.url,
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`200 ${sim.snapshot.nodes.length}`);
  });

  it('hands the caller the snapshot without its workloads, and node metrics by message', async () => {
    expect(sim.snapshot.metadata.name).toBeTruthy();
    expect(sim.snapshot.workloads).toEqual([]);
    const metrics = await sim.nodeMetrics();
    expect(metrics.map((m) => m.name)).toEqual(sim.snapshot.nodes.map((n) => n.name));
    expect(metrics.some((m) => m.metrics.usedSnatPorts > 0)).toBe(true);
    expect(await sim.received()).toEqual([]);
  });

  it("names the snapshot's cloud once it is parsed, before it is ready (the scanner loads that SDK meanwhile)", async () => {
    const seen: string[] = [];
    const other = await startSimThread(examplePath('eks-conntrack.yaml'), {
      onProvider: (p) => seen.push(p),
    });
    try {
      expect(seen).toEqual(['aws']);
    } finally {
      await other.close();
    }
  });

  it('a snapshot that parses but fails its checks still names its cloud, then rejects', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'snatguard-off-thread-'));
    try {
      const file = join(dir, 'bad.json');
      writeFileSync(
        file,
        JSON.stringify({
          apiVersion: 'snatguard.io/v1',
          kind: 'Snapshot',
          metadata: { name: 'bad' },
          cloud: { provider: 'azure' },
          nodes: [],
        }),
      );
      const seen: string[] = [];
      const e = await startSimThread(file, { onProvider: (p) => seen.push(p) }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ValidationError);
      expect(seen).toEqual(['azure']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a bad snapshot rejects with the same ValidationError loadSnapshot gives', async () => {
    const e = await startSimThread('/nonexistent/snapshot.yaml').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).problems[0]).toMatch(/^cannot read: ENOENT/);
  });
});

// The simulator's process from the one-file bundle `npm run build` writes (scripts/bundle-sim.mjs), built
// here from the sources with the build's own options: it serves what the modules serve, and rejects a bad
// snapshot with the same problems; off-thread.ts takes a build's bundle only when it is not older than tsc.
describe('the simulator bundle', () => {
  let outdir: string;
  let worker: string;
  beforeAll(async () => {
    const root = packageRoot();
    const { simBundleOptions } = (await import(join(root, 'scripts/bundle-sim.mjs'))) as {
      simBundleOptions(entry: string, outdir: string): import('esbuild').BuildOptions;
    };
    const { build } = await import('esbuild');
    outdir = join(root, 'node_modules', '.cache', 'snatguard-test', `sim-bundle-${process.pid}`);
    await build({ ...simBundleOptions(join(root, 'src/sim/worker.ts'), outdir), logLevel: 'silent' });
    worker = join(outdir, 'worker.js');
  }, 60_000);
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('serves the snapshot as the modules do (node metrics, head)', async () => {
    const file = examplePath('aks-mongo-leak.yaml');
    const [fromBundle, fromModules] = await Promise.all([
      startSimThread(file, { worker }),
      startSimThread(file),
    ]);
    try {
      expect(fromBundle.snapshot).toEqual(fromModules.snapshot);
      expect(await fromBundle.nodeMetrics()).toEqual(await fromModules.nodeMetrics());
    } finally {
      await Promise.all([fromBundle.close(), fromModules.close()]);
    }
  });

  it('rejects a bad snapshot with the same problems', async () => {
    const file = examplePath('nope.yaml');
    const [a, b] = await Promise.all(
      [startSimThread(file, { worker }), startSimThread(file)].map((p) => p.catch((e: unknown) => e)),
    );
    expect(a).toBeInstanceOf(ValidationError);
    expect((a as ValidationError).problems).toEqual((b as ValidationError).problems);
  });

  it('is taken from a build only when it is not older than the build', () => {
    const root = mkdtempSync(join(tmpdir(), 'snatguard-sim-bundle-'));
    try {
      const bundle = join(root, 'dist', 'src', 'sim', 'bundle', 'worker.js');
      expect(simWorkerBundle(root)).toBeUndefined();
      mkdirSync(join(root, 'dist', 'src', 'sim', 'bundle'), { recursive: true });
      writeFileSync(bundle, '');
      writeFileSync(join(root, 'dist', '.tsbuildinfo'), '');
      utimesSync(join(root, 'dist', '.tsbuildinfo'), 1000, 1000);
      utimesSync(bundle, 2000, 2000);
      expect(simWorkerBundle(root)).toBe(bundle);
      utimesSync(bundle, 500, 500);
      expect(simWorkerBundle(root)).toBeUndefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
