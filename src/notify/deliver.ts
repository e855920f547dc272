// Delivery of one request to one channel: a per-attempt timeout, retries with exponential backoff that
// honour Retry-After on 429 / 5xx, and a bounded total time. Never throws; a failure is a RunError.
// The URL is secret: it is never logged and never part of an error message.
import { redactText } from '../log.js';
import type { RunError } from '../model.js';
import type { Log } from '../ports.js';
import type { OutboundRequest } from './types.js';

export interface DeliveryOptions {
  fetch: typeof fetch;
  log: Log;
  /** The run's signal: aborting it stops waiting and retrying. */
  signal: AbortSignal;
  /** Per attempt (default 10 s). */
  timeoutMs?: number;
  /** All attempts and waits together (default 30 s). */
  maxTotalMs?: number;
  /** Including the first (default 3). */
  maxAttempts?: number;
  /** First backoff; doubles per retry (default 500 ms), capped at maxDelayMs (default 8 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Injected in tests so Retry-After waits can be asserted without waiting. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Monotonic milliseconds, for the total-time budget. */
  clock?: () => number;
}

export type DeliveryResult =
  | { ok: true; channel: string; attempts: number; status: number }
  | { ok: false; channel: string; attempts: number; error: RunError };

export const deliveryDefaults = {
  timeoutMs: 10_000,
  maxTotalMs: 30_000,
  maxAttempts: 3,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
};

const retryable = (status: number): boolean => status === 429 || status === 408 || status >= 500;

/** Retry-After as seconds or an HTTP date → milliseconds; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, nowMs: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A short, URL-free description of why a fetch failed. */
function describeFetchError(e: unknown, timedOut: boolean, timeoutMs: number, runAborted: boolean): string {
  if (runAborted) return 'aborted';
  if (timedOut) return `timed out after ${timeoutMs} ms`;
  return networkProblem(e);
}

/** Why a request never got an answer, in words with the system's code: refused, DNS, certificate. */
export function networkProblem(e: unknown): string {
  type Coded = { code?: unknown; cause?: Coded; errors?: Coded[] };
  const cause = (e as Coded | undefined)?.cause;
  const codeOf = (c: Coded | undefined): string | undefined =>
    typeof c?.code === 'string' ? c.code : c?.errors?.map(codeOf).find((x) => x !== undefined);
  const code = codeOf(cause) ?? codeOf(cause?.cause);
  if (!code) return 'network error';
  if (code === 'ECONNREFUSED') return 'network error: connection refused (ECONNREFUSED)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `network error: DNS lookup failed (${code})`;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code))
    return `network error: TLS certificate not accepted (${code})`;
  return `network error (${code})`;
}

/** At most this much of an error body is read (a 50 MB answer must not become 50 MB in memory). */
export const MAX_ERROR_BODY_BYTES = 4096;

/** Reads at most `max` bytes of a body, then cancels the rest. Never throws. */
export async function readAtMost(res: Response, max = MAX_ERROR_BODY_BYTES): Promise<string> {
  const reader = res.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // a body cut off mid-way: what was read is enough
  } finally {
    reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}

/**
 * Removes the webhook URL's secret parts from text quoted out of a response: the URL, its path and query
 * (raw and percent-encoded), and each path segment and query value long enough to be a token. Receivers
 * echo the path in their errors ("no_service: /services/T000/B000/XXXX"); the path is the secret.
 */
export function redactWebhookUrl(text: string, url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return text;
  }
  const needles = new Set<string>([
    url,
    u.href,
    `${u.origin}${u.pathname}`,
    `${u.pathname}${u.search}`,
    u.search,
  ]);
  if (u.pathname.length > 1) needles.add(u.pathname);
  for (const seg of u.pathname.split('/')) if (seg.length >= 6) needles.add(seg);
  for (const [k, v] of u.searchParams) {
    if (v.length >= 4) needles.add(v);
    needles.add(`${k}=${v}`);
  }
  for (const n of [...needles]) {
    needles.add(encodeURIComponent(n));
    try {
      needles.add(decodeURIComponent(n));
    } catch {
      // not percent-encoded
    }
  }
  let out = text;
  for (const n of [...needles].filter((n) => n.length >= 4).sort((a, b) => b.length - a.length))
    out = out.split(n).join('[redacted]');
  return out;
}

async function responseSnippet(res: Response, url: string): Promise<string> {
  const body = (await readAtMost(res)).replace(/\s+/g, ' ').trim();
  return redactText(redactWebhookUrl(body, url))
    .replace(/https?:\/\/\S+/g, '[redacted-url]')
    .slice(0, 200);
}

export async function deliver(
  channel: string,
  request: OutboundRequest,
  options: DeliveryOptions,
): Promise<DeliveryResult> {
  const o = { ...deliveryDefaults, ...options };
  const clock = options.clock ?? (() => performance.now());
  const wait = options.sleep ?? sleep;
  const deadline = clock() + o.maxTotalMs;
  let attempts = 0;
  let lastProblem = 'not attempted';

  const fail = (message: string): DeliveryResult => {
    const error: RunError = { stage: 'notify', target: channel, message };
    o.log.error({ channel, attempts, problem: message }, 'notification failed');
    return { ok: false, channel, attempts, error };
  };

  while (attempts < o.maxAttempts) {
    const remaining = deadline - clock();
    if (remaining <= 0)
      return fail(`${lastProblem}; gave up after ${attempts} attempts (${o.maxTotalMs} ms budget)`);
    attempts++;
    const timeoutMs = Math.max(1, Math.floor(Math.min(o.timeoutMs, remaining)));
    // One controller per attempt, its timer held here (not through AbortSignal.any, whose timeout signal
    // Node 20 may collect and never fire: nodejs/node#57736).
    const attempt = new AbortController();
    const timeout = { aborted: false };
    const timer = setTimeout(() => {
      timeout.aborted = true;
      attempt.abort(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const onRunAbort = (): void => attempt.abort(o.signal.reason);
    if (o.signal.aborted) onRunAbort();
    else o.signal.addEventListener('abort', onRunAbort, { once: true });
    let delayMs: number | undefined;
    try {
      const res = await o.fetch(request.url, {
        method: 'POST',
        headers: request.headers,
        body: request.body,
        signal: attempt.signal,
        redirect: 'error',
      });
      if (res.ok) {
        // The body of a success is not needed: a few KB at most, then the rest is dropped.
        await readAtMost(res).catch(() => undefined);
        o.log.info({ channel, status: res.status, attempts }, 'notification sent');
        return { ok: true, channel, attempts, status: res.status };
      }
      const snippet = await responseSnippet(res, request.url);
      lastProblem = `HTTP ${res.status}${snippet ? ` ${snippet}` : ''}`;
      if (!retryable(res.status)) return fail(`${lastProblem} (not retried)`);
      delayMs = retryAfterMs(res.headers.get('retry-after'), Date.now());
    } catch (e) {
      if (o.signal.aborted) return fail(describeFetchError(e, false, timeoutMs, true));
      lastProblem = describeFetchError(e, timeout.aborted, timeoutMs, false);
    } finally {
      clearTimeout(timer);
      o.signal.removeEventListener('abort', onRunAbort);
    }
    if (attempts >= o.maxAttempts) break;
    const backoff = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** (attempts - 1));
    const delay = delayMs ?? backoff;
    if (clock() + delay >= deadline) {
      return fail(`${lastProblem}; next retry in ${delay} ms would pass the ${o.maxTotalMs} ms budget`);
    }
    o.log.warn({ channel, attempt: attempts, problem: lastProblem, delayMs: delay }, 'notification retry');
    try {
      await wait(delay, o.signal);
    } catch {
      return fail('aborted');
    }
  }
  return fail(`${lastProblem} after ${attempts} attempts`);
}
