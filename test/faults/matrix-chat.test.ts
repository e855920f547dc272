// Fault matrix, chat: 404 / 409 / 429 (Retry-After: 3600) / 500 / no answer / reset from every webhook
// channel. A chat failure is a notify error and changes nothing else (side channels fail open).
import { afterEach, describe, expect, it } from 'vitest';
import { example } from '../e2e/harness.js';
import { type FaultHarness, faultHarness } from './harness.js';
import { assertInvariants } from './matrix.js';
import type { Fault } from './proxy.js';

const chatFaults: [string, Fault][] = [
  ['404', { kind: 'status', status: 404 }],
  ['409', { kind: 'status', status: 409 }],
  ['429 Retry-After 3600', { kind: 'status', status: 429, retryAfter: '3600' }],
  ['500', { kind: 'status', status: 500 }],
  ['timeout', { kind: 'hang' }],
  ['reset', { kind: 'reset' }],
];
const channels = ['slack', 'teams', 'discord', 'webhook'] as const;
// Six runs cover every channel × fault pair: in run k, channel i gets fault (k + i) mod 6.
const chatRounds = chatFaults.map((_, k) => ({
  round: k,
  plan: channels.map((channel, i) => ({ channel, fault: chatFaults[(k + i) % chatFaults.length]! })),
}));

let h: FaultHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('fault matrix: chat channels (every channel × every fault)', () => {
  it.each(chatRounds)('round $round', async ({ plan }) => {
    h = await faultHarness(await example('aks-mongo-leak.yaml'));
    for (const { channel, fault } of plan)
      h.fault({ match: new RegExp(`^POST /sinks/${channel}/`), fault: fault[1] });
    const report = await h.run({
      mode: 'restart',
      notify: {
        timeoutSeconds: 0.3,
        slack: { webhookUrl: h.sink('slack') },
        teams: { webhookUrl: h.sink('teams') },
        discord: { webhookUrl: h.sink('discord') },
        webhook: { url: h.sink('webhook'), secret: 'matrix' },
      },
    });
    // Each faulty channel is one notify error; the run went on (side channels fail open).
    expect(
      report.errors
        .filter((e) => e.stage === 'notify')
        .map((e) => e.target)
        .sort(),
    ).toEqual([...channels].sort());
    expect(report.actions.some((a) => a.status === 'applied')).toBe(true);
    for (const e of report.errors) expect(e.message).not.toMatch(/sinks|simulated|https?:/);
    assertInvariants(h, [report]);
  });
});
