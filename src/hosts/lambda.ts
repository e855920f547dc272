// AWS Lambda host, invoked by EventBridge Scheduler. Thin: config from env, one run before the deadline.
import { messageOf } from '../errors.js';
import { createLogger } from '../log.js';
import type { RunReport } from '../model.js';
import type { Log } from '../ports.js';
import { type JobOptions, runJob } from './job.js';

export interface LambdaContext {
  getRemainingTimeInMillis(): number;
  awsRequestId?: string;
}

/**
 * Reads the notify secret (a JSON object of SNATGUARD_NOTIFY_* keys; webhook URLs never sit in the
 * function's plain env). Resolves undefined when the secret does not exist or has no value stored.
 */
export type SecretReader = (arn: string) => Promise<string | undefined>;

/** The SDK client config a reader gets: the simulator's endpoint, credentials and CA in tests. */
export type SecretsManagerConfig = Record<string, unknown>;

/**
 * Secrets Manager's GetSecretValue. Both "no such secret" and "a secret without a value" (Terraform
 * creates it empty) come back as ResourceNotFoundException ("Secrets Manager can't find the specified
 * secret." / "… secret value for staging label: AWSCURRENT", AWS API reference GetSecretValue).
 */
export function secretsManagerReader(config: SecretsManagerConfig = {}): SecretReader {
  return async (arn) => {
    const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
    try {
      const out = await new SecretsManagerClient(config).send(new GetSecretValueCommand({ SecretId: arn }));
      if (out.SecretString !== undefined) return out.SecretString;
      return out.SecretBinary ? Buffer.from(out.SecretBinary).toString('utf8') : undefined;
    } catch (e) {
      if ((e as { name?: string }).name === 'ResourceNotFoundException') return undefined;
      throw e;
    }
  };
}

/** Why the notify secret gives no chat channels (the log line's `reason`). */
type NoChannels =
  | 'no secret or no value stored'
  | 'empty'
  | 'not a JSON object'
  | 'no SNATGUARD_NOTIFY_* keys';

/**
 * The process env plus the notify secret's keys (only SNATGUARD_NOTIFY_* keys are taken). Notifications
 * are a side channel: a missing, empty, unreadable or malformed secret means no chat channels, said in
 * one log line, and the run goes on.
 */
export async function lambdaEnv(
  env: Record<string, string | undefined>,
  readSecret: SecretReader = secretsManagerReader(
    env.SNATGUARD_AWS_ENDPOINT ? { endpoint: env.SNATGUARD_AWS_ENDPOINT } : {},
  ),
  log: Log = createLogger({ level: 'silent' }),
): Promise<Record<string, string | undefined>> {
  const arn = env.SNATGUARD_AWS_NOTIFY_SECRET_ARN;
  if (!arn) return env;
  const none = (reason: NoChannels, level: 'info' | 'warn' = 'info') => {
    log[level]({ secret: arn, reason }, 'notify secret gives no chat channels; the run goes on');
    return env;
  };
  let text: string | undefined;
  try {
    text = await readSecret(arn);
  } catch (e) {
    log.error(
      { secret: arn, err: messageOf(e) },
      'notify secret unreadable: no chat channels this run; the run goes on',
    );
    return env;
  }
  if (text === undefined) return none('no secret or no value stored');
  if (text.trim() === '') return none('empty');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return none('not a JSON object', 'warn');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return none('not a JSON object', 'warn');
  const notify = Object.fromEntries(
    Object.entries(parsed).filter(
      (e): e is [string, string] =>
        e[0].startsWith('SNATGUARD_NOTIFY_') && typeof e[1] === 'string' && e[1] !== '',
    ),
  );
  if (Object.keys(notify).length === 0) return none('no SNATGUARD_NOTIFY_* keys');
  return { ...env, ...notify };
}

export function lambdaHandler(overrides: Partial<JobOptions> & { readSecret?: SecretReader } = {}) {
  const { readSecret, ...job } = overrides;
  return async (_event: unknown, context: LambdaContext): Promise<RunReport> => {
    const log = job.log ?? createLogger();
    const env = job.env ?? process.env;
    const { report } = await runJob({
      remainingMs: () => context.getRemainingTimeInMillis(),
      ...job,
      env: await lambdaEnv(env, readSecret, log),
      log,
    });
    return report;
  };
}

export const handler = lambdaHandler();
