// Drives the real kubectl against the simulator (admin kubeconfig). Without kubectl: skipped locally,
// a failure in CI (CI=true).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSim, startSim } from '../../src/sim/server.js';
import { loadSnapshot } from '../../src/sim/snapshot.js';

const run = promisify(execFile);
const KUBECTL = process.env.KUBECTL ?? '/usr/bin/kubectl';
const haveKubectl = existsSync(KUBECTL);
const HOT = 'aks-nodepool1-31415926-vmss000000';
const LEAKY = 'orders-api-69875496f8-8bj4f';
/** 20.103.144.194:27017 as /proc/net/tcp prints it on a little-endian host. */
const MONGO = 'C2906714:6989';

const countTo = (table: string, remote: string, state: string) =>
  table.split('\n').filter((l) => {
    const f = l.trim().split(/\s+/);
    return f[2] === remote && f[3] === state;
  }).length;

describe.runIf(haveKubectl || process.env.CI === 'true')('kubectl against the simulator', () => {
  let sim: RunningSim;
  let cache: string;
  const kubectl = async (...args: string[]) => {
    const { stdout } = await run(KUBECTL, args, {
      env: { ...process.env, KUBECONFIG: sim.kubeconfigPath, KUBECACHEDIR: cache, HOME: cache },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 20_000,
    });
    return stdout;
  };

  beforeAll(async () => {
    expect(haveKubectl, `kubectl not found at ${KUBECTL} (CI requires it)`).toBe(true);
    cache = await mkdtemp(join(tmpdir(), 'snatguard-kubectl-'));
    sim = await startSim(await loadSnapshot('examples/aks-mongo-leak.yaml'));
  });
  afterAll(async () => {
    await sim?.close();
    if (cache) await rm(cache, { recursive: true, force: true });
  });

  it('get nodes', async () => {
    const out = await kubectl('get', 'nodes');
    expect(out).toMatch(new RegExp(`^${HOT}\\s+Ready\\s+<none>\\s+\\S+\\s+v1\\.31\\.\\d+$`, 'm'));
    expect(out).toContain('aks-nodepool1-31415926-vmss000001');
  });

  it('get pods -A -o wide', async () => {
    const out = await kubectl('get', 'pods', '-A', '-o', 'wide');
    expect(out.split('\n')[0]).toMatch(/^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s/);
    expect(out).toMatch(
      new RegExp(`^shop\\s+${LEAKY}\\s+1/1\\s+Running\\s+0\\s+\\S+\\s+10\\.244\\.0\\.17\\s+${HOT}\\s`, 'm'),
    );
    expect(out).toMatch(/^kube-system\s+kube-proxy-\S+\s+1\/1\s+Running/m);
  });

  it('exec cat /proc/net/tcp prints the rendered table', async () => {
    const out = await kubectl('exec', '-n', 'shop', LEAKY, '--', 'cat', '/proc/net/tcp');
    expect(out.split('\n')[0]).toMatch(
      /^\s+sl\s+local_address rem_address\s+st tx_queue rx_queue tr tm->when retrnsmt\s+uid\s+timeout inode/,
    );
    expect(countTo(out, MONGO, '01')).toBe(900);
    expect(out).toContain(sim.world.tablesOf(sim.world.podRuntime('shop', LEAKY)!).tcp);
  });

  it('exec with a missing file fails as cat does', async () => {
    const err = await kubectl('exec', '-n', 'shop', LEAKY, '--', 'cat', '/nope').then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toContain('cat: /nope: No such file or directory');
  });

  it('rollout restart deployment replaces the pods', async () => {
    const before = (await kubectl('get', 'pods', '-n', 'shop', '-l', 'app=orders-api', '-o', 'name'))
      .trim()
      .split('\n');
    expect(before).toContain(`pod/${LEAKY}`);
    expect(await kubectl('rollout', 'restart', 'deployment/orders-api', '-n', 'shop')).toContain(
      'deployment.apps/orders-api restarted',
    );
    const after = (await kubectl('get', 'pods', '-n', 'shop', '-l', 'app=orders-api', '-o', 'name'))
      .trim()
      .split('\n');
    expect(after).toHaveLength(3);
    for (const p of after) expect(before).not.toContain(p);
    const onHot = (
      await kubectl(
        'get',
        'pods',
        '-n',
        'shop',
        '-l',
        'app=orders-api',
        '--field-selector',
        `spec.nodeName=${HOT}`,
        '-o',
        'name',
      )
    ).trim();
    const table = await kubectl(
      'exec',
      '-n',
      'shop',
      onHot.replace('pod/', ''),
      '--',
      'cat',
      '/proc/net/tcp',
    );
    expect(countTo(table, MONGO, '01')).toBe(10);
    const deploy = JSON.parse(await kubectl('get', 'deployment', 'orders-api', '-n', 'shop', '-o', 'json'));
    expect(deploy.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt']).toBeTruthy();
    expect(deploy.metadata.generation).toBe(2);
    expect(deploy.status.observedGeneration).toBe(2);
  });
});
