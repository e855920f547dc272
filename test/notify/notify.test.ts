// The notify stage against the simulator's chat sinks over real local HTTP.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotifyError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import type { RunState } from '../../src/model.js';
import { discordPayload } from '../../src/notify/discord.js';
import { channelNotifier, type NotifyConfig, notify } from '../../src/notify/index.js';
import { alertNotice, render } from '../../src/notify/render.js';
import { slackChannel, slackPayload } from '../../src/notify/slack.js';
import { teamsPayload } from '../../src/notify/teams.js';
import { verifyWebhookSignature, webhookHeaders } from '../../src/notify/webhook.js';
import { type SinkServer, startSinkServer } from '../../src/sim/sinks.js';
import { firstIncident, incidentNode, recovered } from './builders.js';
import { validateCard } from './card.js';

const secretToken = 'XyZs3cr3tT0k3n';
const webhookSecret = 'whsec-test-0123456789';
const t0 = new Date('2026-03-02T09:05:21.000Z');
const minutes = (m: number) => new Date(t0.getTime() + m * 60_000);

let sinks: SinkServer;
let logLines: string[];
let sleeps: number[];

const log = () =>
  createLogger({ level: 'debug', destination: { write: (line: string) => void logLines.push(line) } });

function config(over: Partial<NotifyConfig> = {}): NotifyConfig {
  return {
    slack: { webhookUrl: `${sinks.url}/sinks/slack/T0001/B0001/${secretToken}` },
    teams: { webhookUrl: `${sinks.url}/sinks/teams/workflows/${secretToken}?sig=${secretToken}` },
    discord: { webhookUrl: `${sinks.url}/sinks/discord/api/webhooks/123/${secretToken}` },
    webhook: { url: `${sinks.url}/sinks/webhook/${secretToken}`, secret: webhookSecret },
    renotifyMinutes: 60,
    ...over,
  };
}

const deps = () => ({
  log: log(),
  signal: new AbortController().signal,
  sleep: async (ms: number) => void sleeps.push(ms),
});

/** Every URL and secret must be absent from logs, errors and the returned state. */
function expectNoSecrets(...outputs: unknown[]) {
  const text = [...logLines, ...outputs.map((o) => JSON.stringify(o))].join('\n');
  expect(text).not.toContain(secretToken);
  expect(text).not.toContain(webhookSecret);
  expect(text).not.toContain(sinks.url);
}

beforeEach(async () => {
  sinks = await startSinkServer({ webhookSecret, clock: () => t0 });
  logLines = [];
  sleeps = [];
});
afterEach(async () => {
  await sinks.close();
});

describe('notify', () => {
  it('posts the first incident to every channel, each receiving its own payload', async () => {
    const result = await notify(firstIncident(), {}, t0, config(), deps());

    expect(result.errors).toEqual([]);
    expect(result.sent).toEqual(['slack', 'teams', 'discord', 'webhook']);
    expect(Object.keys(result.notified)).toHaveLength(2);
    const message = render(alertNotice(firstIncident()));
    const by = Object.fromEntries(sinks.received.map((r) => [r.channel, r]));
    expect(sinks.received.map((r) => [r.channel, r.status])).toEqual(
      expect.arrayContaining([
        ['slack', 200],
        ['teams', 202],
        ['discord', 204],
        ['webhook', 200],
      ]),
    );
    expect(by.slack!.json).toEqual(slackPayload(message));
    expect(by.teams!.json).toEqual(teamsPayload(message));
    expect(validateCard((by.teams!.json as ReturnType<typeof teamsPayload>).attachments[0]!.content)).toEqual(
      [],
    );
    expect(by.discord!.json).toEqual(discordPayload(message));
    expect(by.webhook!.json).toMatchObject({
      kind: 'RunReport',
      runId: 'run-0001',
      notice: { type: 'alert' },
    });
    expect(by.slack!.headers['content-type']).toMatch(/^application\/json/);
    expectNoSecrets(result);
  });

  it('signs the generic webhook so that the documented procedure verifies it', async () => {
    await notify(
      firstIncident(),
      {},
      t0,
      config({ slack: { webhookUrl: '' }, teams: { webhookUrl: '' }, discord: { webhookUrl: '' } }),
      deps(),
    );
    const [hook] = sinks.received;
    expect(hook?.status).toBe(200);
    const ts = hook!.headers[webhookHeaders.timestamp]!;
    const sig = hook!.headers[webhookHeaders.signature]!;
    expect(sig).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(ts).toBe(String(t0.getTime() / 1000));
    expect(verifyWebhookSignature(webhookSecret, ts, hook!.body, sig, t0)).toBe(true);
    // Each part matters: the body, the timestamp, the secret, and the clock.
    expect(verifyWebhookSignature(webhookSecret, ts, hook!.body.replace('dry-run', 'restart'), sig, t0)).toBe(
      false,
    );
    expect(verifyWebhookSignature(webhookSecret, String(Number(ts) + 1), hook!.body, sig, t0)).toBe(false);
    expect(verifyWebhookSignature('other-secret', ts, hook!.body, sig, t0)).toBe(false);
    expect(verifyWebhookSignature(webhookSecret, ts, hook!.body, sig, minutes(6))).toBe(false);
    expect(verifyWebhookSignature(webhookSecret, ts, hook!.body, `v1=${'0'.repeat(64)},${sig}`, t0)).toBe(
      true,
    );
    expect(verifyWebhookSignature(webhookSecret, ts, hook!.body, 'v1=zz', t0)).toBe(false);
  });

  it('passes the verification snippet documented in src/notify/README.md', async () => {
    await notify(
      firstIncident(),
      {},
      t0,
      config({ slack: { webhookUrl: '' }, teams: { webhookUrl: '' }, discord: { webhookUrl: '' } }),
      deps(),
    );
    const readme = readFileSync(new URL('../../src/notify/README.md', import.meta.url), 'utf8');
    const snippet = /```js\n([\s\S]*?)```/.exec(readme)![1]!.replace(/^import .*$/m, '');
    type Verify = (secret: string, ts: string, body: string, sig: string, now?: number) => boolean;
    const verify = new Function('createHmac', 'timingSafeEqual', 'Buffer', `${snippet}\nreturn verify;`)(
      createHmac,
      timingSafeEqual,
      Buffer,
    ) as Verify;
    const hook = sinks.received[0]!;
    const args = [
      hook.headers[webhookHeaders.timestamp]!,
      hook.body,
      hook.headers[webhookHeaders.signature]!,
    ] as const;
    expect(verify(webhookSecret, ...args, t0.getTime())).toBe(true);
    expect(verify('wrong', ...args, t0.getTime())).toBe(false);
    expect(verify(webhookSecret, ...args, minutes(10).getTime())).toBe(false);
  });

  it('waits as Retry-After says after a 429, then succeeds', async () => {
    sinks.failNext('slack', 429, 1, 2);
    const result = await notify(firstIncident(), {}, t0, config(), deps());

    expect(result.errors).toEqual([]);
    expect(result.sent).toContain('slack');
    expect(sleeps).toEqual([2000]);
    expect(sinks.received.filter((r) => r.channel === 'slack').map((r) => r.status)).toEqual([429, 200]);
    expect(logLines.join('\n')).toContain('notification retry');
    expectNoSecrets(result);
  });

  it('three 500s: an error for that channel, state untouched when it was the only channel', async () => {
    sinks.failNext('slack', 500, 3);
    const before: RunState['notified'] = {};
    const cfg = config({
      teams: { webhookUrl: '' },
      discord: { webhookUrl: '' },
      webhook: { url: '', secret: '' },
    });
    const result = await notify(firstIncident(), before, t0, cfg, deps());

    expect(result.errors).toEqual([
      { stage: 'notify', target: 'slack', message: expect.stringMatching(/HTTP 500.*3 attempts/) },
    ]);
    expect(result.sent).toEqual([]);
    expect(result.notified).toBe(before);
    expect(sleeps).toEqual([500, 1000]);
    expect(sinks.received.map((r) => r.status)).toEqual([500, 500, 500]);
    expect(logLines.join('\n')).toContain('notification failed');
    expectNoSecrets(result);

    // The next run sends again, because nothing was recorded as sent.
    const retry = await notify(firstIncident(), result.notified, minutes(5), cfg, deps());
    expect(retry.sent).toEqual(['slack']);
  });

  it('three 500s on one channel: the others deliver and the notice counts as sent', async () => {
    sinks.failNext('slack', 500, 3);
    const result = await notify(firstIncident(), {}, t0, config(), deps());
    expect(result.errors.map((e) => e.target)).toEqual(['slack']);
    expect(result.sent).toEqual(['teams', 'discord', 'webhook']);
    expect(Object.keys(result.notified)).toHaveLength(2);
  });

  it('does not retry a 4xx other than 429', async () => {
    sinks.failNext('discord', 404, 5);
    const result = await notify(firstIncident(), {}, t0, config(), deps());
    expect(result.errors).toEqual([
      { stage: 'notify', target: 'discord', message: expect.stringMatching(/HTTP 404.*not retried/) },
    ]);
    expect(sinks.received.filter((r) => r.channel === 'discord')).toHaveLength(1);
  });

  it('gives up when Retry-After exceeds the total budget, without waiting', async () => {
    sinks.failNext('teams', 429, 1, 120);
    const result = await notify(firstIncident(), {}, t0, config({ maxTotalMs: 5_000 }), deps());
    expect(result.errors).toEqual([
      { stage: 'notify', target: 'teams', message: expect.stringMatching(/HTTP 429.*budget/) },
    ]);
    expect(sleeps).toEqual([]);
  });

  it('three dry-run runs of the incident: one message per channel, then silence', async () => {
    let state: RunState['notified'] = {};
    const sent: string[][] = [];
    for (const m of [0, 5, 10]) {
      const r = await notify(firstIncident({ runId: `run-${m}` }), state, minutes(m), config(), deps());
      state = r.notified;
      sent.push(r.sent);
    }
    expect(sent).toEqual([['slack', 'teams', 'discord', 'webhook'], [], []]);
    expect(sinks.received).toHaveLength(4);
  });

  it('restart mode: the alert, then "recovered" after the hot node is gone', async () => {
    const first = await notify(firstIncident({ mode: 'restart' }), {}, t0, config(), deps());
    const second = await notify(
      recovered({ mode: 'restart', runId: 'run-0002' }),
      first.notified,
      minutes(5),
      config(),
      deps(),
    );

    expect(second.sent).toHaveLength(4);
    expect(second.notified).toEqual({});
    const slack = sinks.received
      .filter((r) => r.channel === 'slack')
      .map((r) => r.json as ReturnType<typeof slackPayload>);
    expect(slack.map((p) => p.text)).toEqual([
      ':rotating_light: SNAT exhaustion on aks-prod — 1 hot node, 1 restart applied',
      `:white_check_mark: Recovered on aks-prod — node ${incidentNode} recovered`,
    ]);
    const hook = sinks.received.filter((r) => r.channel === 'webhook').at(-1)!;
    expect(hook.headers[webhookHeaders.event]).toBe('recovered');
    expect(hook.json).toMatchObject({ notice: { type: 'recovered', recovered: [{ node: incidentNode }] } });
  });

  it('reports a connection refused and a timeout as errors, never throwing and never naming the URL', async () => {
    const hanging: Server = createServer(() => undefined);
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    const hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hooks/${secretToken}`;
    const closed = await startSinkServer();
    const closedUrl = `${closed.url}/sinks/slack/${secretToken}`;
    await closed.close();
    try {
      const cfg = config({
        slack: { webhookUrl: closedUrl },
        teams: { webhookUrl: hangingUrl },
        discord: { webhookUrl: '' },
        webhook: { url: '', secret: '' },
        timeoutMs: 200,
        maxAttempts: 2,
      });
      const result = await notify(firstIncident(), {}, t0, cfg, deps());
      expect(result.errors).toEqual([
        {
          stage: 'notify',
          target: 'slack',
          message: expect.stringMatching(/network error: connection refused \(ECONNREFUSED\).*2 attempts/),
        },
        {
          stage: 'notify',
          target: 'teams',
          message: expect.stringMatching(/timed out after 200 ms.*2 attempts/),
        },
      ]);
      expectNoSecrets(result);
      expect(logLines.join('\n')).not.toContain(hangingUrl);
    } finally {
      hanging.closeAllConnections();
      await new Promise<void>((r) => hanging.close(() => r()));
    }
  });

  it('stops at once when the run is aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('deadline'));
    const result = await notify(
      firstIncident(),
      {},
      t0,
      config({ teams: { webhookUrl: '' }, discord: { webhookUrl: '' }, webhook: { url: '', secret: '' } }),
      {
        ...deps(),
        signal: controller.signal,
      },
    );
    expect(result.errors).toEqual([{ stage: 'notify', target: 'slack', message: 'aborted' }]);
    expect(result.notified).toEqual({});
  });

  it('does nothing without channels', async () => {
    const before = {};
    const result = await notify(firstIncident(), before, t0, { renotifyMinutes: 60 }, deps());
    expect(result).toEqual({ errors: [], notified: before, sent: [] });
    expect(sinks.received).toEqual([]);
  });
});

describe('channelNotifier (the Notifier port)', () => {
  it('sends the report and throws a NotifyError without the URL when delivery fails', async () => {
    const url = `${sinks.url}/sinks/slack/T0001/B0001/${secretToken}`;
    const notifier = channelNotifier(slackChannel(url), { fetch, log: log(), maxAttempts: 1 }, () => t0);
    await notifier.send(firstIncident(), new AbortController().signal);
    expect(sinks.received.map((r) => r.status)).toEqual([200]);

    sinks.failNext('slack', 503, 1);
    const failure = await notifier
      .send(firstIncident(), new AbortController().signal)
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(NotifyError);
    expect((failure as Error).message).toMatch(/^slack: HTTP 503/);
    expectNoSecrets((failure as Error).message);
  });
});
