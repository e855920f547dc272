// Issue 11 item 3: the notify secret Terraform creates has no value until someone stores one. A missing
// secret, a secret with no value, or one without chat keys means "no chat channels": one log line, and
// the run goes on. Read through the real Secrets Manager client against the simulator, which answers as
// the service does (ResourceNotFoundException for both "no secret" and "no value").
import { Agent } from 'node:https';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/cluster/connect.js';
import { simPressureTargets } from '../../src/hosts/cli/sim-targets.js';
import { lambdaEnv, lambdaHandler, secretsManagerReader } from '../../src/hosts/lambda.js';
import { createLogger } from '../../src/log.js';
import type { Log } from '../../src/ports.js';
import { secretArn } from '../../src/sim/aws.js';
import { type Harness as E2eHarness, harness as e2eHarness, example } from '../e2e/harness.js';
import {
  awsTestCredentials,
  eksNodes,
  fakeWorld,
  type Harness,
  metrics,
  rawRequest,
  startHarness,
} from '../pressure/harness.js';

function recordingLog(): Log & { lines: { level: string; obj: object; msg: string }[] } {
  const lines: { level: string; obj: object; msg: string }[] = [];
  const at = (level: string) => (obj: object, msg: string) => lines.push({ level, obj, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const secrets = [
  { name: 'snatguard/notify' }, // created by Terraform, no value stored
  { name: 'snatguard/empty-json', value: '{}' },
  { name: 'snatguard/blank', value: '' },
  { name: 'snatguard/broken', value: '{"SNATGUARD_NOTIFY_SLACK_WEBHOOK_URL": ' },
  {
    name: 'snatguard/slack',
    value: JSON.stringify({
      SNATGUARD_NOTIFY_SLACK_WEBHOOK_URL: 'https://hooks.slack.test/x',
      SNATGUARD_MODE: 'restart',
    }),
  },
];

let h: Harness | undefined;
let e2e: E2eHarness | undefined;
afterEach(async () => {
  await h?.close();
  await e2e?.close();
  h = undefined;
  e2e = undefined;
});

const reader = (endpoint: string, ca: string) =>
  secretsManagerReader({
    region: 'eu-west-1',
    endpoint,
    credentials: awsTestCredentials,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca }) }),
  });

describe('the notify secret (issue 11 item 3, failed before the fix)', () => {
  it.each([
    { secret: 'snatguard/does-not-exist', reason: 'no secret or no value stored', level: 'info' },
    { secret: 'snatguard/notify', reason: 'no secret or no value stored', level: 'info' },
    { secret: 'snatguard/empty-json', reason: 'no SNATGUARD_NOTIFY_* keys', level: 'info' },
    { secret: 'snatguard/blank', reason: 'empty', level: 'info' },
    { secret: 'snatguard/broken', reason: 'not a JSON object', level: 'warn' },
  ])('$secret → no chat channels ($reason), one log line', async ({ secret, reason, level }) => {
    h = await startHarness(
      fakeWorld(
        { aws: { region: 'eu-west-1', clusterName: 'eks-shop', secrets } },
        eksNodes(1, () => metrics(0, 0)),
      ),
    );
    const log = recordingLog();
    const arn = secretArn('eu-west-1', secret);
    const env = { SNATGUARD_PROVIDER: 'aws', SNATGUARD_AWS_NOTIFY_SECRET_ARN: arn };

    const out = await lambdaEnv(env, reader(h.url, h.ca), log);

    expect(out).toEqual(env);
    expect(log.lines).toEqual([
      { level, obj: { secret: arn, reason }, msg: 'notify secret gives no chat channels; the run goes on' },
    ]);
  });

  it('takes only the SNATGUARD_NOTIFY_* keys of a stored secret', async () => {
    h = await startHarness(
      fakeWorld(
        { aws: { region: 'eu-west-1', clusterName: 'eks-shop', secrets } },
        eksNodes(1, () => metrics(0, 0)),
      ),
    );
    const log = recordingLog();

    const out = await lambdaEnv(
      { SNATGUARD_AWS_NOTIFY_SECRET_ARN: secretArn('eu-west-1', 'snatguard/slack') },
      reader(h.url, h.ca),
      log,
    );

    expect(out.SNATGUARD_NOTIFY_SLACK_WEBHOOK_URL).toBe('https://hooks.slack.test/x');
    expect(out.SNATGUARD_MODE).toBeUndefined();
    expect(log.lines).toEqual([]);
  });

  it('the simulator answers as Secrets Manager does (AWS JSON 1.1, ResourceNotFoundException)', async () => {
    h = await startHarness(
      fakeWorld(
        { aws: { region: 'eu-west-1', clusterName: 'eks-shop', secrets } },
        eksNodes(1, () => metrics(0, 0)),
      ),
    );
    // Signed like the SDK; the body is what the SDK sends.
    const post = (secretId: string) =>
      rawRequest(h as Harness, 'POST', '/', {
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': 'secretsmanager.GetSecretValue',
          authorization:
            'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261120/eu-west-1/secretsmanager/aws4_request',
        },
        body: JSON.stringify({ SecretId: secretId }),
      });
    const missing = await post('nope');
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.body)).toEqual({
      __type: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret.",
    });
    const noValue = await post('snatguard/notify');
    expect(JSON.parse(noValue.body)).toEqual({
      __type: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT",
    });
    const ok = JSON.parse((await post(secretArn('eu-west-1', 'snatguard/slack'))).body);
    expect(Object.keys(ok).sort()).toEqual([
      'ARN',
      'CreatedDate',
      'Name',
      'SecretString',
      'VersionId',
      'VersionStages',
    ]);
    expect(ok.ARN).toMatch(/^arn:aws:secretsmanager:eu-west-1:\d{12}:secret:snatguard\/slack-[0-9a-f]{6}$/);
  });

  it('the Lambda run goes on when Terraform’s secret has no value yet', async () => {
    e2e = await e2eHarness(await example('aks-mongo-leak.yaml'));
    const log = createLogger({ level: 'silent' });
    const kubeConfig = await connect({ kind: 'kubeconfig', path: e2e.sim.jobKubeconfigPath }, { log });
    const azure = e2e.snapshot.cloud.azure!;
    const handler = lambdaHandler({
      env: {
        SNATGUARD_PROVIDER: 'azure',
        SNATGUARD_AZURE_SUBSCRIPTION_ID: azure.subscriptionId,
        SNATGUARD_AZURE_RESOURCE_GROUP: azure.resourceGroup,
        SNATGUARD_AZURE_CLUSTER_NAME: azure.clusterName,
        SNATGUARD_AZURE_LOCATION: azure.location,
        SNATGUARD_AWS_NOTIFY_SECRET_ARN: secretArn('eu-west-1', 'snatguard/notify'),
      },
      kubeConfig,
      log,
      compose: { pressure: simPressureTargets(e2e.sim) },
      readSecret: reader(e2e.sim.endpoints.aws as string, e2e.sim.ca),
    });

    const report = await handler({}, { getRemainingTimeInMillis: () => 600_000 });

    expect(report.kind).toBe('RunReport');
    expect(report.offenders.map((o) => o.workload)).toContain('shop/Deployment/orders-api');
  });
});
