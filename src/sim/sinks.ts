// Simulated chat sinks: Slack, Teams (Workflows), Discord and a generic webhook. They answer as the
// real services do (Slack `ok`, Teams 202, Discord 204, webhook 200), check the limits the real ones
// enforce, record what they received, and honour injected faults (`faults.failNext['sink:slack']`).
//
// Sources:
// - Slack incoming webhooks: 200 and the text `ok`. Errors are text/plain strings with statuses: 400
//   invalid_payload, 403 action_prohibited, 404 channel_not_found, 410 channel_is_archived, 500
//   rollup_error (api.slack.com changelog 2016-05-17 "Improving error conditions for Incoming Webhooks").
//   More than 50 blocks is a 400 `invalid_blocks`, as a real answer shows ("The slack API returned an
//   error: invalid_blocks (HTTP Code 400)", slack-notifier's error, zenn.dev 2021). The block limits are
//   Block Kit's: 50 blocks a message, 3,000 characters of section text, 150 of header text (Block Kit
//   reference: blocks, section, header). Not sourced: `no_text` for a payload without text or blocks (it
//   is chat.postMessage's error name), and the body of a 429. A 429 comes with Retry-After (Slack
//   rate-limits docs), but the body `rate_limited` is a guess.
// - Discord execute webhook: 204 No Content without `?wait=true` (Discord API, Execute Webhook). Errors are
//   JSON `{code, message}` (Discord opcodes and status codes, JSON error codes: 50006 "Cannot send an empty
//   message", 50035 "Invalid Form Body", 10015 "Unknown Webhook"). A 429 has a Retry-After header and the
//   body `{message: "You are being rate limited.", retry_after, global}` (Discord rate-limits topic). The
//   embed limits are Discord's "Embed Limits": 10 embeds; title 256; description 4,096; 25 fields;
//   field name 256 and value 1,024; footer 2,048; 6,000 characters in all.
// - Teams through Workflows ("When a Teams webhook request is received", a Power Automate / Logic Apps
//   Request trigger): 202 Accepted. The trigger rejects a body only when schema validation is on (off by
//   default, Logic Apps Request trigger docs). Otherwise a wrong card fails the run later, and the caller
//   has already had its 202. The simulator is strict so that a wrong card shows, and answers the way a
//   validating trigger does: 400 with the Logic Apps error TriggerInputSchemaMismatch ("The input body for
//   trigger 'manual' of type 'Request' did not match its schema definition. Error details: …", as a real
//   run printed it, quoted in Sandro Pereira's "Response connector do not perform a schema validation at
//   runtime", 2024). No Teams limit is checked here: the 28 KB message limit is src/notify/teams.ts's to
//   respect, and no source for a Workflows limit on card items was found.
// - The generic webhook is snatguard's own protocol (docs: webhook receiver): 200 `{ok: true}`, 401 on a
//   bad signature.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhookSignature, webhookHeaders } from '../notify/webhook.js';
import type { SimFaults, SimRoutes, SimWorld } from './types.js';

export type SinkChannel = 'slack' | 'teams' | 'discord' | 'webhook';

export interface ReceivedMessage {
  channel: SinkChannel;
  path: string;
  headers: Record<string, string>;
  /** The raw body, as signed. */
  body: string;
  /** The parsed body, or undefined when it was not JSON. */
  json: unknown;
  status: number;
  at: number;
}

export interface SinkOptions {
  /** When set, the webhook sink answers 401 to a missing or wrong signature. */
  webhookSecret?: string;
  /** Where received messages go (default: the list `receivedOf(world)` returns). */
  received?: ReceivedMessage[];
  clock?: () => Date;
}

type SinkWorld = Pick<SimWorld, 'faults'> & Partial<Pick<SimWorld, 'requests'>>;

const inboxes = new WeakMap<object, ReceivedMessage[]>();

/** What the sinks mounted on this world received, oldest first. */
export function receivedOf(world: object): ReceivedMessage[] {
  let list = inboxes.get(world);
  if (!list) {
    list = [];
    inboxes.set(world, list);
  }
  return list;
}

const channels: SinkChannel[] = ['slack', 'teams', 'discord', 'webhook'];

function headerRecord(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

export type Verdict = { status: number; body: string; contentType: string };
const text = (status: number, body: string): Verdict => ({
  status,
  body,
  contentType: 'text/plain; charset=utf-8',
});
const json = (status: number, body: unknown): Verdict => ({
  status,
  body: JSON.stringify(body),
  contentType: 'application/json',
});

/** Slack's checks on an incoming-webhook payload (a subset: the limits we must respect). */
function slackVerdict(payload: unknown): Verdict {
  if (typeof payload !== 'object' || payload === null) return text(400, 'invalid_payload');
  const p = payload as { text?: unknown; blocks?: unknown };
  if (typeof p.text !== 'string' && !Array.isArray(p.blocks)) return text(400, 'no_text');
  if (Array.isArray(p.blocks)) {
    if (p.blocks.length > 50) return text(400, 'invalid_blocks');
    for (const b of p.blocks as { type?: string; text?: { text?: string } }[]) {
      const t = b.text?.text ?? '';
      if (b.type === 'header' && t.length > 150) return text(400, 'invalid_blocks');
      if (b.type === 'section' && t.length > 3000) return text(400, 'invalid_blocks');
    }
  }
  return text(200, 'ok');
}

function teamsVerdict(payload: unknown): Verdict {
  const p = payload as {
    type?: unknown;
    attachments?: { contentType?: unknown; content?: { type?: unknown } }[];
  };
  const card = Array.isArray(p?.attachments) ? p.attachments[0] : undefined;
  if (
    p?.type !== 'message' ||
    card?.contentType !== 'application/vnd.microsoft.card.adaptive' ||
    card.content?.type !== 'AdaptiveCard'
  ) {
    return json(400, {
      error: {
        code: 'TriggerInputSchemaMismatch',
        message:
          "The input body for trigger 'manual' of type 'Request' did not match its schema definition. Error details: 'expected type message with an attachment of contentType application/vnd.microsoft.card.adaptive'.",
      },
    });
  }
  return text(202, '');
}

/**
 * Discord's 50035 answer: `errors` nests the request's fields down to `_errors`, a list of `{code,
 * message}` (Discord API reference, "Error Messages" example). The inner codes and messages are not from
 * the docs.
 */
const invalidFormBody = (errors: Record<string, unknown>): Verdict =>
  json(400, { code: 50035, errors, message: 'Invalid Form Body' });
const fieldError = (code: string, message: string) => ({ _errors: [{ code, message }] });

/** Discord's embed limits. */
function discordVerdict(payload: unknown): Verdict {
  const p = payload as { content?: unknown; embeds?: Record<string, unknown>[] };
  if (typeof p !== 'object' || p === null || (p.content === undefined && !Array.isArray(p.embeds))) {
    return json(400, { code: 50006, message: 'Cannot send an empty message' });
  }
  const embeds = (p.embeds ?? []) as {
    title?: string;
    description?: string;
    fields?: { name?: string; value?: string }[];
    footer?: { text?: string };
  }[];
  if (embeds.length > 10)
    return invalidFormBody({ embeds: fieldError('BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.') });
  let total = 0;
  for (const e of embeds) {
    const fields = e.fields ?? [];
    const bad =
      (e.title?.length ?? 0) > 256 ||
      (e.description?.length ?? 0) > 4096 ||
      fields.length > 25 ||
      fields.some(
        (f) => (f.name?.length ?? 0) > 256 || (f.value?.length ?? 0) > 1024 || !f.name || !f.value,
      ) ||
      (e.footer?.text?.length ?? 0) > 2048;
    if (bad)
      return invalidFormBody({
        embeds: fieldError('BASE_TYPE_MAX_LENGTH', 'Must be within the embed limits.'),
      });
    total +=
      (e.title?.length ?? 0) +
      (e.description?.length ?? 0) +
      (e.footer?.text?.length ?? 0) +
      fields.reduce((n, f) => n + (f.name?.length ?? 0) + (f.value?.length ?? 0), 0);
  }
  if (total > 6000)
    return invalidFormBody({
      embeds: fieldError('MAX_EMBED_SIZE_EXCEEDED', 'Embed size exceeds maximum size of 6000'),
    });
  return { status: 204, body: '', contentType: 'text/plain' };
}

function webhookVerdict(headers: Record<string, string>, body: string, options: SinkOptions): Verdict {
  if (options.webhookSecret !== undefined) {
    const ok = verifyWebhookSignature(
      options.webhookSecret,
      headers[webhookHeaders.timestamp] ?? '',
      body,
      headers[webhookHeaders.signature] ?? '',
      options.clock?.() ?? new Date(),
    );
    if (!ok) return json(401, { ok: false, error: 'bad signature' });
  }
  return json(200, { ok: true });
}

/**
 * What a chat service answers with `status`, in its own words where its docs give them (sources above):
 * Slack's text strings, Discord's JSON `{code, message}`, the Logic Apps `{error: {code, message}}` of a
 * Teams workflow. For a status the service documents no body for, the body is empty.
 */
export function sinkFailure(
  channel: SinkChannel,
  status: number,
  retryAfterSeconds?: number,
): Verdict & { retryAfterSeconds?: number } {
  const retry = retryAfterSeconds !== undefined ? { retryAfterSeconds } : {};
  if (channel === 'slack') {
    const said = SLACK_ERRORS[status];
    return { ...text(status, said ?? ''), ...retry };
  }
  if (channel === 'discord') {
    if (status === 429)
      return {
        ...json(429, {
          message: 'You are being rate limited.',
          retry_after: retryAfterSeconds ?? 1,
          global: false,
        }),
        ...retry,
      };
    const said = DISCORD_ERRORS[status];
    return { ...(said ? json(status, said) : text(status, '')), ...retry };
  }
  if (channel === 'teams' && status === 400) return { ...teamsVerdict({}), ...retry };
  if (channel === 'webhook') return { ...json(status, { ok: false, error: `HTTP ${status}` }), ...retry };
  return { ...text(status, ''), ...retry };
}

/** Slack incoming-webhook error strings by status (changelog 2016-05-17); 429's is not documented. */
const SLACK_ERRORS: Record<number, string> = {
  400: 'invalid_payload',
  403: 'action_prohibited',
  404: 'channel_not_found',
  410: 'channel_is_archived',
  429: 'rate_limited',
  500: 'rollup_error',
};

/** Discord JSON errors by status (opcodes and status codes, JSON error codes). */
const DISCORD_ERRORS: Record<number, { code: number; message: string }> = {
  400: { code: 50035, message: 'Invalid Form Body' },
  404: { code: 10015, message: 'Unknown Webhook' },
};

/** Consumes one injected failure for this sink, if any. */
function injectedFailure(
  faults: SimFaults,
  channel: SinkChannel,
): (Verdict & { retryAfterSeconds?: number }) | null {
  const key = `sink:${channel}`;
  const f = faults.failNext[key];
  if (!f || f.count <= 0) return null;
  f.count--;
  if (f.count <= 0) delete faults.failNext[key];
  return sinkFailure(channel, f.status, f.retryAfterSeconds);
}

/** The sink routes: POST `/sinks/{slack|teams|discord|webhook}/…`. */
export function sinkRoutes(world: SinkWorld, options: SinkOptions = {}): SimRoutes {
  const received = options.received ?? receivedOf(world);
  return (req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer) => {
    const match = /^\/sinks\/([a-z]+)(\/|$)/.exec(url.pathname);
    const channel = match?.[1] as SinkChannel | undefined;
    if (!channel || !channels.includes(channel)) return false;
    if (world.faults.down.has(`sink:${channel}`) || world.faults.down.has('sink')) {
      req.socket.destroy();
      return true;
    }
    const headers = headerRecord(req);
    const raw = body.toString('utf8');
    const parsed = parseJson(raw);
    let verdict: Verdict & { retryAfterSeconds?: number };
    if (req.method !== 'POST') verdict = text(405, 'method not allowed');
    else {
      verdict =
        injectedFailure(world.faults, channel) ??
        (() => {
          if (parsed === undefined)
            return text(400, channel === 'slack' ? 'invalid_payload' : 'invalid json');
          if (channel === 'slack') return slackVerdict(parsed);
          if (channel === 'teams') return teamsVerdict(parsed);
          if (channel === 'discord') return discordVerdict(parsed);
          return webhookVerdict(headers, raw, options);
        })();
    }
    const at = (options.clock?.() ?? new Date()).getTime();
    received.push({
      channel,
      path: url.pathname,
      headers,
      body: raw,
      json: parsed,
      status: verdict.status,
      at,
    });
    world.requests?.push({
      service: 'sink',
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.search,
      headers: req.headers,
      body: raw,
      status: verdict.status,
      at,
    });
    const responseHeaders: Record<string, string> = { 'content-type': verdict.contentType };
    if (verdict.retryAfterSeconds !== undefined)
      responseHeaders['retry-after'] = String(verdict.retryAfterSeconds);
    res.writeHead(verdict.status, responseHeaders);
    res.end(verdict.status === 204 ? undefined : verdict.body);
    return true;
  };
}

export interface SinkServer {
  /** `http://127.0.0.1:PORT` — append `/sinks/slack/T000/B000/xyz` etc. */
  url: string;
  received: ReceivedMessage[];
  faults: SimFaults;
  /** The next `count` requests to this channel's sink answer `status` (with Retry-After when given). */
  failNext(channel: SinkChannel, status: number, count: number, retryAfterSeconds?: number): void;
  close(): Promise<void>;
}

/** The sinks alone over plain HTTP on 127.0.0.1, for tests. */
export async function startSinkServer(options: Omit<SinkOptions, 'received'> = {}): Promise<SinkServer> {
  const faults: SimFaults = { execLatencyMs: 0, failNext: {}, down: new Set() };
  const received: ReceivedMessage[] = [];
  const routes = sinkRoutes({ faults }, { ...options, received });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      Promise.resolve(routes(req, res, url, Buffer.concat(chunks)))
        .then((handled) => {
          if (!handled) {
            res.writeHead(404, { 'content-type': 'text/plain' });
            res.end('not found');
          }
        })
        .catch(() => {
          res.writeHead(500);
          res.end();
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    faults,
    failNext(channel, status, count, retryAfterSeconds) {
      faults.failNext[`sink:${channel}`] = {
        status,
        count,
        ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
      };
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
