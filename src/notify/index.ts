// The notify stage: decide (dedup) → render once → post to every configured channel in parallel.
// Side channel: fails open. A channel failure becomes a RunError; nothing here throws.
import { NotifyError } from '../errors.js';
import type { RunError, RunReport, RunState, Severity } from '../model.js';
import type { Log, Notifier } from '../ports.js';
import { decide } from './dedup.js';
import { type DeliveryOptions, type DeliveryResult, deliver } from './deliver.js';
import { discordChannel } from './discord.js';
import { alertNotice, render } from './render.js';
import { slackChannel } from './slack.js';
import { teamsChannel } from './teams.js';
import type { Channel, ChannelName, Message } from './types.js';
import { webhookChannel } from './webhook.js';

export interface NotifyConfig {
  slack?: { webhookUrl: string };
  teams?: { webhookUrl: string };
  discord?: { webhookUrl: string };
  webhook?: { url: string; secret: string };
  /** Re-send a still-open incident after this many minutes (default 60); 0 turns it off. */
  renotifyMinutes: number;
  /** Below this nothing is sent or recorded (default `warning`: errors alone stay quiet). */
  minSeverity?: Severity;
  /** Per attempt (default 10 s). */
  timeoutMs?: number;
  /** Per channel, all attempts and waits together (default 30 s). */
  maxTotalMs?: number;
  /** Attempts per channel, including the first (default 3). */
  maxAttempts?: number;
  /** Marks every message, e.g. `replay of aks-mongo-leak`: `[replay of aks-mongo-leak] headline`. */
  tag?: string;
}

export interface NotifyDeps {
  log: Log;
  fetch?: typeof fetch;
  signal: AbortSignal;
  /** Injected in tests to assert backoff and Retry-After waits without waiting. */
  sleep?: DeliveryOptions['sleep'];
}

export interface NotifyResult {
  errors: RunError[];
  /** The state to save: unchanged when every channel failed, so the next run tries again. */
  notified: RunState['notified'];
  /** Channels that accepted the notice. */
  sent: ChannelName[];
}

/** The channels whose URL is set, in a fixed order. */
export function channelsFrom(cfg: NotifyConfig): Channel[] {
  const out: Channel[] = [];
  if (cfg.slack?.webhookUrl) out.push(slackChannel(cfg.slack.webhookUrl));
  if (cfg.teams?.webhookUrl) out.push(teamsChannel(cfg.teams.webhookUrl));
  if (cfg.discord?.webhookUrl) out.push(discordChannel(cfg.discord.webhookUrl));
  if (cfg.webhook?.url) out.push(webhookChannel(cfg.webhook.url, cfg.webhook.secret));
  return out;
}

function deliveryOptions(cfg: NotifyConfig, deps: NotifyDeps): DeliveryOptions {
  return {
    fetch: deps.fetch ?? globalThis.fetch,
    log: deps.log,
    signal: deps.signal,
    ...(cfg.timeoutMs !== undefined ? { timeoutMs: cfg.timeoutMs } : {}),
    ...(cfg.maxTotalMs !== undefined ? { maxTotalMs: cfg.maxTotalMs } : {}),
    ...(cfg.maxAttempts !== undefined ? { maxAttempts: cfg.maxAttempts } : {}),
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
  };
}

/**
 * Called by run.ts once per run, after the report is built. A notice counts as delivered when at least
 * one channel accepted it; then the returned `notified` marks it sent. When every channel failed, the
 * input `notified` comes back unchanged, so the next run sends again.
 */
export async function notify(
  report: RunReport,
  notified: RunState['notified'],
  now: Date,
  cfg: NotifyConfig,
  deps: NotifyDeps,
): Promise<NotifyResult> {
  const channels = channelsFrom(cfg);
  if (channels.length === 0) return { errors: [], notified, sent: [] };

  const decision = decide(report, notified, now, {
    renotifyMinutes: cfg.renotifyMinutes,
    minSeverity: cfg.minSeverity ?? 'warning',
  });
  const notice = decision.notice;
  if (notice === null) {
    deps.log.debug({ fingerprints: Object.keys(decision.next).length }, 'notification silent');
    return { errors: [], notified: decision.next, sent: [] };
  }
  deps.log.info(
    {
      kind: notice.kind,
      severity: notice.severity,
      reasons: notice.reasons,
      channels: channels.map((c) => c.name),
    },
    'notification decided',
  );

  const options = deliveryOptions(cfg, deps);
  const results = await Promise.all(
    channels.map((c): Promise<DeliveryResult> | DeliveryResult => {
      try {
        return deliver(c.name, c.request(notice, tagged(render(notice), cfg.tag), now), options);
      } catch (e) {
        // Rendering is pure and should not throw; if it does, it is a failure of this channel only.
        deps.log.error(
          { channel: c.name, err: e instanceof Error ? e.name : 'unknown' },
          'notification render failed',
        );
        const error: RunError = { stage: 'notify', target: c.name, message: 'could not build the message' };
        return { ok: false, channel: c.name, attempts: 0, error };
      }
    }),
  );
  const sent = results.filter((r) => r.ok).map((r) => r.channel as ChannelName);
  const errors = results.flatMap((r) => (r.ok ? [] : [r.error]));
  return { errors, notified: sent.length > 0 ? decision.next : notified, sent };
}

/** A message marked for what it is (a replay), in its headline and context, so no one takes it for live. */
export function tagged(message: Message, tag: string | undefined): Message {
  if (!tag) return message;
  return { ...message, headline: `[${tag}] ${message.headline}`, context: `${tag} · ${message.context}` };
}

/**
 * The `Notifier` port for one channel: sends the whole report as an alert, without dedup, and throws a
 * NotifyError (with no URL in it) when delivery failed.
 */
export function channelNotifier(
  channel: Channel,
  options: Omit<DeliveryOptions, 'signal'>,
  now: () => Date,
): Notifier {
  return {
    name: channel.name,
    async send(report, signal) {
      const notice = alertNotice(report);
      const result = await deliver(channel.name, channel.request(notice, render(notice), now()), {
        ...options,
        signal,
      });
      if (!result.ok) throw new NotifyError(`${channel.name}: ${result.error.message}`);
    },
  };
}

export { decide, fingerprints } from './dedup.js';
export type { ChannelName, Message, Notice } from './types.js';
export { verifyWebhookSignature } from './webhook.js';
