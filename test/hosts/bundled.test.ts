// The serverless deployables as shipped: scripts/package.mjs's own esbuild options (minified, split, the AWS
// SDK's ES module builds with its schemas reduced to what is called), each bundled handler run once in a
// fresh Node process configured only by environment variables — as the platform runs it — against the
// simulator. The in-process tests (handlers.test.ts) cannot see a bundling fault: a module esbuild dropped
// or rewrote, a chunk that fails to load, an SDK command whose schema went missing.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BuildOptions, build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { simEnv } from '../../src/hosts/cli/sim.js';
import type { RunReport } from '../../src/model.js';
import { packageRoot } from '../../src/paths.js';
import { secretArn } from '../../src/sim/aws.js';
import { receivedOf } from '../../src/sim/sinks.js';
import { example, type Harness, harness } from '../e2e/harness.js';

const root = packageRoot();
const dir = mkdtempSync(join(tmpdir(), 'snatguard-bundled-'));
const entries = {
  lambda: join(dir, 'lambda', 'index.mjs'),
  azure: join(dir, 'azure', 'dist', 'functions', 'scan.mjs'),
};

beforeAll(async () => {
  const { hostBuilds } = (await import(join(root, 'scripts/package.mjs'))) as {
    hostBuilds(dir: string): Record<'azure' | 'lambda', BuildOptions>;
  };
  const builds = hostBuilds(dir);
  await Promise.all([build(builds.lambda), build(builds.azure)]);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Runs `script` (an ES module) in a fresh node with exactly `env` (plus PATH); resolves its exit code and output. */
function runNode(
  script: string,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const file = join(dir, `run-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, script);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** The simulator's variables for `snatguard scan` (the job's kubeconfig, cloud endpoints, CA, chat sinks). */
const envOf = (h: Harness): Record<string, string> => ({
  ...Object.fromEntries(simEnv(h.sim, h.snapshot)),
  SNATGUARD_MODE: 'restart',
});

describe('the bundled serverless handlers, each run once against the simulator', () => {
  it('Lambda: index.mjs → handler reads the notify secret, scans, reads EC2 and CloudWatch, restarts, notifies', async () => {
    const snapshot = await example('eks-conntrack.yaml');
    const sink = 'snatguard/notify';
    // The chat channels come only from the notify secret, as deployed (infra/aws: no webhook URL in env).
    h = await harness(snapshot);
    const aws = h.sim.world.snapshot.cloud.aws as unknown as { secrets?: { name: string; value?: string }[] };
    aws.secrets = [
      {
        name: sink,
        value: JSON.stringify({ SNATGUARD_NOTIFY_WEBHOOK_URL: h.sim.endpoints.webhook }),
      },
    ];
    const env = Object.fromEntries(
      Object.entries(envOf(h)).filter(([k]) => !k.startsWith('SNATGUARD_NOTIFY_')),
    );
    env.SNATGUARD_AWS_NOTIFY_SECRET_ARN = secretArn(snapshot.cloud.aws!.region, sink);
    // The Lambda runtime's own variable (the Secrets Manager client takes its region from it).
    env.AWS_REGION = snapshot.cloud.aws!.region;
    const out = join(dir, 'lambda-report.json');

    const run = await runNode(
      `import { writeFileSync } from 'node:fs';
       const { handler } = await import(${JSON.stringify(entries.lambda)});
       const report = await handler({}, { getRemainingTimeInMillis: () => 600000, awsRequestId: 'bundled-1' });
       writeFileSync(${JSON.stringify(out)}, JSON.stringify(report));`,
      env,
    );

    expect(run.code, run.output).toBe(0);
    const report = JSON.parse(readFileSync(out, 'utf8')) as RunReport;
    expect(report.status).toBe('complete');
    expect(report.errors).toEqual([]);
    expect(report.nodes.filter((n) => n.hot)).toHaveLength(3);
    expect(report.actions.filter((a) => a.status === 'applied').map((a) => a.workload)).toEqual([
      'api/Deployment/gateway',
    ]);
    // Each AWS client of the Lambda's chunks reached the simulator and was answered.
    const aws200 = h.sim.world.requests.filter((r) => r.service === 'aws' && r.status === 200);
    const calls = aws200.map(
      (r) => r.headers['x-amz-target'] ?? r.body.match(/Action=(\w+)/)?.[1] ?? `${r.method} ${r.path}`,
    );
    expect(calls).toEqual(
      expect.arrayContaining([
        'secretsmanager.GetSecretValue',
        'DescribeNatGateways',
        'GraniteServiceVersion20100801.GetMetricData',
        `GET /clusters/${snapshot.cloud.aws!.clusterName}`, // EKS DescribeCluster (the cluster's VPC)
      ]),
    );
    expect(receivedOf(h.sim.world).map((m) => m.channel)).toEqual(['webhook']);
  }, 60_000);

  /** Runs the bundled Functions handler once against `h`; the lines its InvocationContext logged. */
  async function runFunctions(h: Harness): Promise<string[]> {
    const out = join(dir, `azure-log-${Math.random().toString(36).slice(2)}.json`);
    const functions = join(root, 'node_modules/@azure/functions/dist/azure-functions.js');
    const run = await runNode(
      `import { writeFileSync } from 'node:fs';
       import { createRequire } from 'node:module';
       const { InvocationContext } = createRequire(import.meta.url)(${JSON.stringify(functions)});
       const { handler } = await import(${JSON.stringify(entries.azure)});
       const lines = [];
       const ctx = new InvocationContext({
         invocationId: 'bundled-1',
         functionName: 'snatguard-scan',
         logHandler: (level, ...args) => lines.push(level + ' ' + args.join(' ')),
       });
       await handler({ isPastDue: false, schedule: { adjustForDST: false } }, ctx);
       writeFileSync(${JSON.stringify(out)}, JSON.stringify(lines));`,
      envOf(h),
    );
    expect(run.code, run.output).toBe(0);
    return JSON.parse(readFileSync(out, 'utf8')) as string[];
  }

  const azure200 = (h: Harness) =>
    h.sim.world.requests.filter((r) => r.status === 200).map((r) => `${r.service} ${r.path}`);

  it('Functions: dist/functions/scan.mjs → handler scans with a managed identity, reads the load balancer and metrics, restarts', async () => {
    h = await harness(await example('aks-mongo-leak.yaml'));

    const lines = await runFunctions(h);

    const done = lines.find((l) => l.includes('snatguard run finished'));
    expect(done, lines.join('\n')).toMatch(/"status":"complete"/);
    expect(done).toMatch(/"hotNodes":1/);
    expect(done).toMatch(/"restarts":1/);
    expect(done).toMatch(/"errors":0/);
    const paths = azure200(h);
    expect(paths.some((p) => p.startsWith('identity '))).toBe(true);
    expect(paths.some((p) => /^azure .*Microsoft\.ContainerService\/managedClusters\//.test(p))).toBe(true);
    expect(paths.some((p) => /^azure .*Microsoft\.Network\/loadBalancers\//.test(p))).toBe(true);
    expect(paths.some((p) => /metrics/i.test(p))).toBe(true);
    expect(receivedOf(h.sim.world).length).toBeGreaterThan(0);
  }, 60_000);

  it('Functions behind a NAT gateway: the bundled network client reads the subnet, the gateway and its metrics', async () => {
    const snapshot = await example('aks-mongo-leak.yaml');
    snapshot.cloud.azure!.outboundType = 'userAssignedNATGateway';
    h = await harness(snapshot);

    const lines = await runFunctions(h);

    const done = lines.find((l) => l.includes('snatguard run finished'));
    expect(done, lines.join('\n')).toMatch(/"status":"complete"/);
    expect(done).toMatch(/"errors":0/);
    const paths = azure200(h);
    // The gateway found through the node subnet (subnets.get, natGateways.get), then its metrics.
    expect(
      paths.filter((p) => /^azure .*\/(subnets|natGateways)\/[^/]+$/.test(p)).length,
      paths.join('\n'),
    ).toBe(2);
    expect(
      paths.some((p) => /^azure .*\/metrics:getBatch$/.test(p)),
      paths.join('\n'),
    ).toBe(true);
  }, 60_000);
});
