// The serverless hosts, invoked as their platforms invoke them, against the simulator.
import { InvocationContext, type Timer } from '@azure/functions';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/cluster/connect.js';
import { azureHandler } from '../../src/hosts/azure.js';
import { simPressureTargets } from '../../src/hosts/cli/sim-targets.js';
import { deadlineSignal } from '../../src/hosts/job.js';
import { lambdaEnv, lambdaHandler } from '../../src/hosts/lambda.js';
import { createLogger } from '../../src/log.js';
import type { RunReport } from '../../src/model.js';
import { example, type Harness, harness } from '../e2e/harness.js';

const log = createLogger({ level: 'silent' });
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** The app settings a deployment sets for the first incident's cluster. */
const envFor = (h: Harness): Record<string, string> => {
  const azure = h.snapshot.cloud.azure!;
  return {
    SNATGUARD_MODE: 'restart',
    SNATGUARD_PROVIDER: 'azure',
    SNATGUARD_AZURE_SUBSCRIPTION_ID: azure.subscriptionId,
    SNATGUARD_AZURE_RESOURCE_GROUP: azure.resourceGroup,
    SNATGUARD_AZURE_CLUSTER_NAME: azure.clusterName,
    SNATGUARD_AZURE_LOCATION: azure.location,
    SNATGUARD_NETWORK_CLUSTER_CIDRS: '10.244.0.0/16,10.0.0.0/16',
  };
};

const timer: Timer = {
  isPastDue: true,
  schedule: { adjustForDST: false },
  scheduleStatus: {
    last: '2026-11-21T08:00:00Z',
    next: '2026-11-21T08:05:00Z',
    lastUpdated: '2026-11-21T08:00:00Z',
  },
};

describe('the Azure Functions timer handler', () => {
  it('runs a full scan with a real InvocationContext, and its logs reach the context', async () => {
    // Prepare
    h = await harness(await example('aks-mongo-leak.yaml'));
    const lines: string[] = [];
    const ctx = new InvocationContext({
      invocationId: 'test-1',
      functionName: 'snatguard-scan',
      logHandler: (level, ...args) => lines.push(`${level} ${args.join(' ')}`),
    });
    const kubeConfig = await connect({ kind: 'kubeconfig', path: h.sim.jobKubeconfigPath }, { log });
    const handler = azureHandler({
      env: envFor(h),
      kubeConfig,
      compose: { pressure: simPressureTargets(h.sim) },
    });

    // Act
    await handler(timer, ctx);

    // Assess
    expect(lines.some((l) => l.startsWith('warning timer is past due'))).toBe(true);
    const done = lines.find((l) => l.includes('snatguard run finished'));
    expect(done).toMatch(/"restarts":1/);
    expect(done).toMatch(/"hotNodes":1/);
    const deployment = h.sim.world.requests.filter(
      (r) => r.method === 'PATCH' && r.path.endsWith('/deployments/orders-api'),
    );
    expect(deployment).toHaveLength(1);
  });

  it('a run that could not look is logged at error with its status and why (was: info "snatguard run complete")', async () => {
    const lines: string[] = [];
    const ctx = new InvocationContext({
      invocationId: 'test-2',
      functionName: 'snatguard-scan',
      logHandler: (level, ...args) => lines.push(`${level} ${args.join(' ')}`),
    });
    await azureHandler({
      env: { SNATGUARD_PROVIDER: 'none', SNATGUARD_CLUSTER_KUBECONFIG: '/nonexistent/kubeconfig' },
    })(timer, ctx);
    const done = lines.find((l) => l.includes('snatguard run failed'));
    expect(done).toMatch(/^error /);
    expect(done).toMatch(/"status":"failed"/);
    expect(done).toMatch(/"statusReason":"no cluster access: /);
  });
});

describe('the Lambda handler', () => {
  it('runs a full scan and returns the RunReport', async () => {
    h = await harness(await example('aks-mongo-leak.yaml'));
    const kubeConfig = await connect({ kind: 'kubeconfig', path: h.sim.jobKubeconfigPath }, { log });
    const handler = lambdaHandler({
      env: envFor(h),
      kubeConfig,
      log,
      compose: { pressure: simPressureTargets(h.sim) },
    });

    const report: RunReport = await handler({}, { getRemainingTimeInMillis: () => 600_000 });

    expect(report.kind).toBe('RunReport');
    expect(report.actions.filter((a) => a.status === 'applied').map((a) => a.workload)).toEqual([
      'shop/Deployment/orders-api',
    ]);
    expect(report.skipped).toBeUndefined();
  });

  it('ends cleanly with a partial report when the deadline is shorter than the run', async () => {
    h = await harness(await example('aks-mongo-leak.yaml'));
    h.sim.world.faults.execLatencyMs = 5_000;
    const kubeConfig = await connect({ kind: 'kubeconfig', path: h.sim.jobKubeconfigPath }, { log });
    // 20 s margin + 500 ms: the run gets half a second, the execs need five.
    const handler = lambdaHandler({
      env: envFor(h),
      kubeConfig,
      log,
      compose: { pressure: simPressureTargets(h.sim) },
    });

    const report = await handler({}, { getRemainingTimeInMillis: () => 20_500 });

    expect(report.skipped).toBe('deadline');
    expect(report.actions.filter((a) => a.status === 'applied')).toEqual([]);
    expect(report.errors.some((e) => /deadline/.test(e.message))).toBe(true);
    expect(Date.parse(report.finishedAt) - Date.parse(report.startedAt)).toBeLessThan(20_000);
    // the lock was released: a later run can act
    h.sim.world.faults.execLatencyMs = 0;
    const again = await lambdaHandler({
      env: envFor(h),
      kubeConfig,
      log,
      compose: { pressure: simPressureTargets(h.sim) },
    })({}, { getRemainingTimeInMillis: () => 600_000 });
    expect(again.skipped).toBeUndefined();
  });

  it('a cluster it cannot reach is a failed RunReport sent to chat, not a throw (failed before: it threw, chat heard nothing)', async () => {
    const { createServer } = await import('node:http');
    const posts: string[] = [];
    const server = createServer((q, r) => {
      let body = '';
      q.on('data', (c) => {
        body += c;
      });
      q.on('end', () => {
        posts.push(body);
        r.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    try {
      const port = (server.address() as { port: number }).port;
      const handler = lambdaHandler({
        env: {
          SNATGUARD_PROVIDER: 'none',
          SNATGUARD_CLUSTER_NAME: 'eks-prod',
          SNATGUARD_CLUSTER_KUBECONFIG: '/nonexistent/kubeconfig',
          SNATGUARD_NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${port}/hook`,
          SNATGUARD_NOTIFY_WEBHOOK_SECRET: 'test',
        },
        log,
      });

      const report = await handler({}, { getRemainingTimeInMillis: () => 600_000 });

      expect(report).toMatchObject({ kind: 'RunReport', status: 'failed', nodes: [] });
      expect(report.statusReason).toMatch(/^no cluster access: .*nonexistent/);
      expect(posts).toHaveLength(1);
      expect(JSON.parse(posts[0]!)).toMatchObject({ status: 'failed', cluster: 'eks-prod' });
    } finally {
      await new Promise<void>((ok) => server.close(() => ok()));
    }
  });

  it('reads webhook URLs from the notify secret, keeping only SNATGUARD_NOTIFY_* keys', async () => {
    const env = await lambdaEnv(
      { SNATGUARD_AWS_NOTIFY_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:sg' },
      async (arn) => {
        expect(arn).toBe('arn:aws:secretsmanager:eu-west-1:1:secret:sg');
        return JSON.stringify({
          SNATGUARD_NOTIFY_SLACK_WEBHOOK_URL: 'https://hooks.slack.test/x',
          SNATGUARD_MODE: 'restart',
        });
      },
    );
    expect(env.SNATGUARD_NOTIFY_SLACK_WEBHOOK_URL).toBe('https://hooks.slack.test/x');
    expect(env.SNATGUARD_MODE).toBeUndefined();
  });
});

describe('deadlineSignal', () => {
  it.each([
    [undefined, undefined, false],
    [60_000, undefined, false],
    [20_001, undefined, true],
    [undefined, 0.001, true],
  ])('remaining %s ms, config %s s → fires soon: %s', async (remaining, configSeconds, fires) => {
    const signal = deadlineSignal(remaining, 20_000, configSeconds);
    await new Promise((r) => setTimeout(r, 50));
    expect(signal.aborted).toBe(fires);
  });
});
