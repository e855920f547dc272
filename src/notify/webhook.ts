// Generic signed webhook (PagerDuty / Opsgenie / in-house automation): the RunReport JSON plus a
// `notice` member, signed with HMAC-SHA256 over `timestamp + "." + body`. See README.md beside this file.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { RunReport } from '../model.js';
import type { Channel, Message, Notice } from './types.js';

export const webhookHeaders = {
  timestamp: 'x-snatguard-timestamp',
  signature: 'x-snatguard-signature',
  event: 'x-snatguard-event',
  delivery: 'x-snatguard-delivery',
} as const;

export interface WebhookNotice {
  type: Notice['kind'];
  severity: Notice['severity'];
  headline: string;
  reasons: Notice['reasons'];
  changed: string[];
  resolved: string[];
  recovered: Notice['recovered'];
}

export type WebhookBody = RunReport & { notice: WebhookNotice };

/**
 * The exact bytes sent. `<`, `>`, `&` and U+2028/9 are written as \u escapes: the JSON parses to the
 * same values, and stays inert if a receiver pastes it into HTML or a script.
 */
export function webhookBody(notice: Notice, message: Message): string {
  const body: WebhookBody = {
    ...notice.report,
    notice: {
      type: notice.kind,
      severity: notice.severity,
      headline: message.headline,
      reasons: notice.reasons,
      changed: notice.changed,
      resolved: notice.resolved,
      recovered: notice.recovered,
    },
  };
  return JSON.stringify(body).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** `v1=` + hex HMAC-SHA256(secret, `${timestamp}.${body}`); `timestamp` is Unix seconds as sent. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

/**
 * The receiver's check: the timestamp is within `toleranceSeconds` of `now` (replay protection) and one
 * of the `v1=` signatures in the header (comma-separated, for secret rotation) equals the HMAC of
 * `timestamp + "." + body`, compared in constant time. `body` is the raw request body, before parsing.
 */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string,
  body: string,
  signature: string,
  now: Date,
  toleranceSeconds = 300,
): boolean {
  if (!/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(now.getTime() / 1000 - Number(timestamp)) > toleranceSeconds) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body).slice(3), 'hex');
  return signature
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('v1=') && /^[0-9a-f]{64}$/i.test(s.slice(3)))
    .some((s) => timingSafeEqual(Buffer.from(s.slice(3), 'hex'), expected));
}

export function webhookChannel(url: string, secret: string): Channel {
  return {
    name: 'webhook',
    request: (notice, message, now) => {
      const body = webhookBody(notice, message);
      const timestamp = String(Math.floor(now.getTime() / 1000));
      return {
        url,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          [webhookHeaders.timestamp]: timestamp,
          [webhookHeaders.signature]: signWebhook(secret, timestamp, body),
          [webhookHeaders.event]: notice.kind,
          // Stable per run and notice: receivers can drop a retried duplicate.
          [webhookHeaders.delivery]: `${notice.report.runId}:${notice.kind}`,
        },
        body,
      };
    },
  };
}
