// Azure Functions host: the timer handler. Thin: config from app settings, one run, a summary in the log.
import type { InvocationContext, Timer } from '@azure/functions';
import type { Log } from '../ports.js';
import { type JobOptions, runJob } from './job.js';

/** Flex Consumption's default functionTimeout (host.json sets the same): the run stops well before it. */
const FUNCTION_TIMEOUT_MS = 10 * 60_000;

/** InvocationContext's log methods as the stages' logger. */
export function contextLog(ctx: InvocationContext): Log {
  const line = (obj: object, msg: string) => `${msg} ${JSON.stringify(obj)}`;
  return {
    debug: (o, m) => ctx.debug(line(o, m)),
    info: (o, m) => ctx.info(line(o, m)),
    warn: (o, m) => ctx.warn(line(o, m)),
    error: (o, m) => ctx.error(line(o, m)),
  };
}

export function azureHandler(overrides: Partial<JobOptions> = {}) {
  return async (timer: Timer, ctx: InvocationContext): Promise<void> => {
    const log = contextLog(ctx);
    if (timer.isPastDue) log.warn({ last: timer.scheduleStatus?.last }, 'timer is past due');
    const started = Date.now();
    const { report } = await runJob({
      env: process.env,
      log,
      remainingMs: () => FUNCTION_TIMEOUT_MS - (Date.now() - started),
      ...overrides,
    });
    // A run that could not look is an error in the Function's log, with why (status failed).
    (report.status === 'failed' ? log.error : log.info)(
      {
        runId: report.runId,
        status: report.status,
        statusReason: report.statusReason,
        mode: report.mode,
        skipped: report.skipped,
        hotNodes: report.nodes.filter((n) => n.hot).length,
        restarts: report.actions.filter((a) => a.status === 'applied').length,
        errors: report.errors.length,
      },
      report.status === 'failed' ? 'snatguard run failed' : 'snatguard run finished',
    );
  };
}

export const handler = azureHandler();
