// Simulated chat sinks: Slack, Teams (Workflows), Discord and a generic webhook. They answer as the
// real services do (Slack `ok`, Teams 202, Discord 204, webhook 200), check the limits the real ones
// enforce, record what they received, and honour injected faults (`faults.failNext['sink:slack']`).
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

type Verdict = { status: number; body: string; contentType: string };
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
        code: 'InvalidRequestContent',
        message: 'expected a message with an Adaptive Card attachment',
      },
    });
  }
  return text(202, '');
}

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
    return json(400, { code: 50035, message: 'Invalid Form Body', errors: { embeds: 'max 10' } });
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
    if (bad) return json(400, { code: 50035, message: 'Invalid Form Body' });
    total +=
      (e.title?.length ?? 0) +
      (e.description?.length ?? 0) +
      (e.footer?.text?.length ?? 0) +
      fields.reduce((n, f) => n + (f.name?.length ?? 0) + (f.value?.length ?? 0), 0);
  }
  if (total > 6000)
    return json(400, { code: 50035, message: 'Invalid Form Body', errors: { embeds: 'total > 6000' } });
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
  return {
    ...text(f.status, f.status === 429 ? 'rate_limited' : 'injected failure'),
    ...(f.retryAfterSeconds !== undefined ? { retryAfterSeconds: f.retryAfterSeconds } : {}),
  };
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
