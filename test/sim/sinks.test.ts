import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { signWebhook } from '../../src/notify/webhook.js';
import { receivedOf, type SinkServer, sinkRoutes, startSinkServer } from '../../src/sim/sinks.js';
import type { RecordedRequest, SimFaults } from '../../src/sim/types.js';

const secret = 'sink-secret';
const now = new Date('2026-03-02T09:05:21.000Z');
let sinks: SinkServer;

beforeAll(async () => {
  sinks = await startSinkServer({ webhookSecret: secret, clock: () => now });
});
afterAll(async () => {
  await sinks.close();
});
beforeEach(() => {
  sinks.received.length = 0;
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${sinks.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

const card = { type: 'AdaptiveCard', version: '1.4', body: [] };
const teamsOk = {
  type: 'message',
  attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: card }],
};
const header = (n: number) => ({ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(n) } });
const section = (n: number) => ({ type: 'section', text: { type: 'mrkdwn', text: 's'.repeat(n) } });
const field = (name: number, value: number) => ({ name: 'n'.repeat(name), value: 'v'.repeat(value) });

describe('chat sinks', () => {
  it.each([
    ['/sinks/slack/T1/B1/x', { text: 'hi' }, 200, 'ok'],
    ['/sinks/slack/T1/B1/x', { blocks: [header(150), section(3000)] }, 200, 'ok'],
    ['/sinks/slack/T1/B1/x', { blocks: Array.from({ length: 51 }, () => section(1)) }, 400, 'invalid_blocks'],
    ['/sinks/slack/T1/B1/x', { blocks: [header(151)] }, 400, 'invalid_blocks'],
    ['/sinks/slack/T1/B1/x', { blocks: [section(3001)] }, 400, 'invalid_blocks'],
    ['/sinks/slack/T1/B1/x', {}, 400, 'no_text'],
    ['/sinks/slack/T1/B1/x', 'not json', 400, 'invalid_payload'],
    ['/sinks/teams/flow', teamsOk, 202, ''],
    [
      '/sinks/teams/flow',
      { type: 'message', attachments: [{ contentType: 'text/plain', content: card }] },
      400,
      'TriggerInputSchemaMismatch',
    ],
    ['/sinks/discord/api/webhooks/1/x', { embeds: [{ title: 't', fields: [field(256, 1024)] }] }, 204, ''],
    ['/sinks/discord/api/webhooks/1/x', { embeds: [{ title: 't'.repeat(257) }] }, 400, 'Invalid Form Body'],
    [
      '/sinks/discord/api/webhooks/1/x',
      { embeds: [{ fields: Array.from({ length: 26 }, () => field(1, 1)) }] },
      400,
      'Invalid Form Body',
    ],
    [
      '/sinks/discord/api/webhooks/1/x',
      { embeds: [{ description: 'd'.repeat(4000), fields: [field(256, 1024), field(256, 1024)] }] },
      400,
      'Embed size exceeds maximum size of 6000',
    ],
    ['/sinks/discord/api/webhooks/1/x', {}, 400, 'empty message'],
  ])('POST %s answers as the real service does (%#)', async (path, body, status, answer) => {
    const res = await post(path, body);
    expect(res.status).toBe(status);
    expect(await res.text()).toContain(answer);
    expect(sinks.received.at(-1)).toMatchObject({ path, status });
  });

  it('checks the webhook signature when it knows the secret', async () => {
    const body = JSON.stringify({ kind: 'RunReport' });
    const ts = String(now.getTime() / 1000);
    const good = await post('/sinks/webhook/x', body, {
      'x-snatguard-timestamp': ts,
      'x-snatguard-signature': signWebhook(secret, ts, body),
    });
    const bad = await post('/sinks/webhook/x', body, {
      'x-snatguard-timestamp': ts,
      'x-snatguard-signature': signWebhook('nope', ts, body),
    });
    const none = await post('/sinks/webhook/x', body);
    expect([good.status, bad.status, none.status]).toEqual([200, 401, 401]);
    expect(sinks.received[0]).toMatchObject({ channel: 'webhook', body, json: { kind: 'RunReport' } });
    expect(sinks.received[0]!.headers['x-snatguard-timestamp']).toBe(ts);
  });

  it('answers injected failures with Retry-After, then recovers', async () => {
    sinks.failNext('discord', 429, 2, 3);
    const answers = [];
    for (let i = 0; i < 3; i++) {
      const res = await post('/sinks/discord/x', { content: 'hi' });
      answers.push([res.status, res.headers.get('retry-after')]);
    }
    expect(answers).toEqual([
      [429, '3'],
      [429, '3'],
      [204, null],
    ]);
    expect(sinks.faults.failNext).toEqual({});
  });

  // Failed before: every injected failure answered the text "injected failure" (or "rate_limited"), in no
  // service's words. Sources in src/sim/sinks.ts.
  it.each([
    ['slack', '/sinks/slack/T1/B1/x', 404, 'text/plain', 'channel_not_found'],
    ['slack', '/sinks/slack/T1/B1/x', 410, 'text/plain', 'channel_is_archived'],
    ['slack', '/sinks/slack/T1/B1/x', 500, 'text/plain', 'rollup_error'],
    [
      'discord',
      '/sinks/discord/api/webhooks/1/x',
      404,
      'application/json',
      '{"code":10015,"message":"Unknown Webhook"}',
    ],
    [
      'discord',
      '/sinks/discord/api/webhooks/1/x',
      429,
      'application/json',
      '{"message":"You are being rate limited.","retry_after":3,"global":false}',
    ],
    ['teams', '/sinks/teams/flow', 400, 'application/json', 'TriggerInputSchemaMismatch'],
  ] as const)(
    'an injected %s failure (%s, %i) is the service’s own error',
    async (channel, path, status, type, said) => {
      sinks.failNext(channel, status, 1, 3);
      const res = await post(path, channel === 'teams' ? teamsOk : { content: 'hi', text: 'hi' });
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toContain(type);
      expect(res.headers.get('retry-after')).toBe('3');
      const body = await res.text();
      if (type === 'application/json' && said.startsWith('{'))
        expect(JSON.parse(body)).toEqual(JSON.parse(said));
      else expect(body).toContain(said);
    },
  );

  it('resets the connection of a sink that is down', async () => {
    sinks.faults.down.add('sink:teams');
    try {
      await expect(post('/sinks/teams/flow', teamsOk)).rejects.toThrow();
    } finally {
      sinks.faults.down.delete('sink:teams');
    }
  });

  it('answers 404 outside the sinks and 405 to a GET', async () => {
    expect((await fetch(`${sinks.url}/api/v1/pods`)).status).toBe(404);
    expect((await fetch(`${sinks.url}/sinks/slack/x`)).status).toBe(405);
  });
});

describe('sinkRoutes mounted in a simulator world', () => {
  it('records into the world and ignores paths that are not sinks', async () => {
    const world = {
      faults: { execLatencyMs: 0, failNext: {}, down: new Set<string>() } as SimFaults,
      requests: [] as RecordedRequest[],
    };
    const routes = sinkRoutes(world);
    const written: { status?: number; headers?: Record<string, string>; body?: unknown } = {};
    const res = {
      writeHead(status: number, headers: Record<string, string>) {
        written.status = status;
        written.headers = headers;
        return this;
      },
      end(body?: unknown) {
        written.body = body;
        return this;
      },
    };
    const req = { method: 'POST', headers: { 'content-type': 'application/json' }, socket: { destroy() {} } };
    const body = Buffer.from(JSON.stringify({ text: 'hello' }));
    const handled = await routes(
      req as never,
      res as never,
      new URL('https://sim.local/sinks/slack/T/B/x'),
      body,
    );
    const other = await routes(req as never, res as never, new URL('https://sim.local/api/v1/nodes'), body);

    expect([handled, other]).toEqual([true, false]);
    expect(written).toMatchObject({ status: 200, body: 'ok' });
    expect(receivedOf(world)).toMatchObject([{ channel: 'slack', json: { text: 'hello' }, status: 200 }]);
    expect(world.requests).toMatchObject([
      { service: 'sink', method: 'POST', path: '/sinks/slack/T/B/x', status: 200 },
    ]);
  });
});
