// `snatguard scan` against a cluster reached through a kubeconfig (the simulator's, with the job's RBAC).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { program } from '../../../src/hosts/cli/program.js';
import { aDeployment, aSnapshot, example, type Harness, harness } from '../../e2e/harness.js';

/** A port nothing listens on: bound, read, closed. */
const closedPort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

let h: Harness;
let out: string;
const saved = { ...process.env };
beforeEach(async () => {
  h = await harness(await example('contract-check.yaml'));
  out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  process.exitCode = undefined;
});
afterEach(async () => {
  vi.restoreAllMocks();
  process.env = { ...saved };
  process.exitCode = undefined;
  await h.close();
});

describe('snatguard scan', () => {
  it('provider none inspects the nodes the selector names and reports in dry-run', async () => {
    process.env.SNATGUARD_CLUSTER_KUBECONFIG = h.sim.jobKubeconfigPath;
    process.env.SNATGUARD_NETWORK_CLUSTER_CIDRS = '10.244.0.0/16,10.0.0.0/16';
    process.env.SNATGUARD_INSPECT_NODE_SELECTOR = 'kubernetes.io/hostname=aks-nodepool1-27182818-vmss000000';

    await program().parseAsync(['scan', '--provider', 'none', '--output', 'json'], { from: 'user' });

    const report = JSON.parse(out);
    expect(process.exitCode ?? 0).toBe(0);
    expect(report).toMatchObject({ kind: 'RunReport', mode: 'dry-run', provider: 'none' });
    expect(report.nodes.filter((n: { hot: boolean }) => n.hot).map((n: { name: string }) => n.name)).toEqual([
      'aks-nodepool1-27182818-vmss000000',
    ]);
    expect(report.actions).toContainEqual(
      expect.objectContaining({ workload: 'shop/Deployment/cart', status: 'planned', skipReason: 'DRY_RUN' }),
    );
    expect(h.sim.world.requests.some((r) => r.method === 'PATCH')).toBe(false);
  });

  it('no kubeconfig is a failed run: exit 3 and a RunReport saying why (was: no report at all)', async () => {
    process.env.SNATGUARD_CLUSTER_KUBECONFIG = '/nonexistent/kubeconfig';
    await program().parseAsync(['scan', '--provider', 'none', '--output', 'json'], { from: 'user' });
    expect(process.exitCode).toBe(3);
    const report = JSON.parse(out);
    expect(report).toMatchObject({ kind: 'RunReport', status: 'failed', nodes: [] });
    expect(report.statusReason).toMatch(/^no cluster access: .*nonexistent/);
  });

  it('an API server on a closed port is a failed run, exit 3 (was: green all-clear, exit 0)', async () => {
    const port = await closedPort();
    const dir = await mkdtemp(join(tmpdir(), 'snatguard-closed-'));
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters: [{name: prod-east, cluster: {server: "https://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: prod-east, user: u}}]\ncurrent-context: c\n`,
    );
    process.env.KUBECONFIG = kubeconfig;
    delete process.env.SNATGUARD_CLUSTER_KUBECONFIG;
    await program().parseAsync(['scan', '--provider', 'none', '--output', 'json'], { from: 'user' });
    await rm(dir, { recursive: true, force: true });
    expect(process.exitCode).toBe(3);
    const report = JSON.parse(out);
    expect(report.status).toBe('failed');
    expect(report.statusReason).toMatch(/^cluster unreachable: .*ECONNREFUSED/);
    // Empty cluster.name: the kube context's cluster names the run (was: "kubernetes").
    expect(report.cluster).toBe('prod-east');
  });
});

describe('snatguard scan --provider none on a healthy cluster', () => {
  it('marks no node hot and sends no alert (was: every node hot, an alert)', async () => {
    const healthy = await harness(
      aSnapshot([
        aDeployment('web', { sockets: [{ remote: '20.103.144.194:443', state: 'ESTABLISHED', count: 40 }] }),
        aDeployment('api', {
          node: 'node-b',
          sockets: [{ remote: '20.103.144.194:27017', state: 'ESTABLISHED', count: 8 }],
        }),
      ]),
    );
    const { createServer } = await import('node:http');
    const posts: string[] = [];
    const server = createServer((q, r) => {
      posts.push(q.url ?? '');
      q.resume();
      q.on('end', () => r.writeHead(200).end('ok'));
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    try {
      process.env.SNATGUARD_CLUSTER_KUBECONFIG = healthy.sim.jobKubeconfigPath;
      process.env.SNATGUARD_NETWORK_CLUSTER_CIDRS = '10.244.0.0/16,10.0.0.0/16';
      process.env.SNATGUARD_NOTIFY_WEBHOOK_URL = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
      process.env.SNATGUARD_NOTIFY_WEBHOOK_SECRET = 'healthy';
      await program().parseAsync(['scan', '--provider', 'none', '--output', 'json'], { from: 'user' });
      const report = JSON.parse(out);
      expect(process.exitCode ?? 0).toBe(0);
      expect(report.status).toBe('complete');
      expect(
        report.nodes.map((n: { name: string; hot: boolean; podsInspected: number }) => [
          n.name,
          n.hot,
          n.podsInspected,
        ]),
      ).toEqual([
        // every node inspected: its two pods and its own (hostNetwork) namespace, through the node probe
        ['node-a', false, 3],
        ['node-b', false, 3],
      ]);
      expect(report.offenders).toEqual([]);
      expect(posts).toEqual([]);
    } finally {
      await new Promise<void>((ok) => server.close(() => ok()));
      await healthy.close();
    }
  });
});
