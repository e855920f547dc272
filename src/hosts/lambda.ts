// AWS Lambda host, invoked by EventBridge Scheduler. Thin: config from env, one run before the deadline.
import type { RunReport } from '../model.js';
import { createLogger } from '../log.js';
import { type JobOptions, runJob } from './job.js';

export interface LambdaContext {
  getRemainingTimeInMillis(): number;
  awsRequestId?: string;
}

export function lambdaHandler(overrides: Partial<JobOptions> = {}) {
  return async (_event: unknown, context: LambdaContext): Promise<RunReport> => {
    const log = overrides.log ?? createLogger();
    const { report } = await runJob({
      env: process.env,
      log,
      remainingMs: () => context.getRemainingTimeInMillis(),
      ...overrides,
    });
    return report;
  };
}

export const handler = lambdaHandler();
