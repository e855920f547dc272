// AWS Lambda host, invoked by EventBridge Scheduler. Thin: config from env, one run before the deadline.
import { createLogger } from '../log.js';
import type { RunReport } from '../model.js';
import { type JobOptions, runJob } from './job.js';

export interface LambdaContext {
  getRemainingTimeInMillis(): number;
  awsRequestId?: string;
}

/** Reads a JSON secret of SNATGUARD_NOTIFY_* keys; a webhook URL never sits in the function's plain env. */
export type SecretReader = (arn: string) => Promise<string>;

const secretsManager: SecretReader = async (arn) => {
  const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
  const out = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: arn }));
  return out.SecretString ?? '{}';
};

/** The process env plus the notify secret's keys (only SNATGUARD_NOTIFY_* keys are taken). */
export async function lambdaEnv(
  env: Record<string, string | undefined>,
  readSecret: SecretReader = secretsManager,
): Promise<Record<string, string | undefined>> {
  const arn = env.SNATGUARD_AWS_NOTIFY_SECRET_ARN;
  if (!arn) return env;
  const parsed = JSON.parse(await readSecret(arn)) as Record<string, unknown>;
  const notify = Object.fromEntries(
    Object.entries(parsed).filter(
      (e): e is [string, string] =>
        e[0].startsWith('SNATGUARD_NOTIFY_') && typeof e[1] === 'string' && e[1] !== '',
    ),
  );
  return { ...env, ...notify };
}

export function lambdaHandler(overrides: Partial<JobOptions> & { readSecret?: SecretReader } = {}) {
  const { readSecret, ...job } = overrides;
  return async (_event: unknown, context: LambdaContext): Promise<RunReport> => {
    const log = job.log ?? createLogger();
    const { report } = await runJob({
      remainingMs: () => context.getRemainingTimeInMillis(),
      ...job,
      env: await lambdaEnv(job.env ?? process.env, readSecret),
      log,
    });
    return report;
  };
}

export const handler = lambdaHandler();
