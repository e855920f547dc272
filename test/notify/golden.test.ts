// Golden files of the first incident's messages, as each channel receives them.
// Update with: UPDATE_GOLDEN=1 npx vitest run test/notify/golden.test.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decide } from '../../src/notify/dedup.js';
import { discordChannel } from '../../src/notify/discord.js';
import { render } from '../../src/notify/render.js';
import { slackChannel, slackPayload, slackPlainText } from '../../src/notify/slack.js';
import { teamsChannel } from '../../src/notify/teams.js';
import { verifyWebhookSignature, webhookChannel, webhookHeaders } from '../../src/notify/webhook.js';
import { firstIncident } from './builders.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'golden');
const update = process.env.UPDATE_GOLDEN === '1';
const now = new Date('2026-03-02T09:05:21.000Z');
const goldenSecret = 'golden-secret';

const notice = decide(firstIncident(), {}, now).notice!;
const message = render(notice);

function golden(name: string, actual: string) {
  const path = join(dir, name);
  if (update) writeFileSync(path, actual);
  const expected = readFileSync(path, 'utf8');
  // JSON is compared as data (the formatter may re-indent the files); text byte for byte.
  if (name.endsWith('.json')) expect(JSON.parse(actual)).toEqual(JSON.parse(expected));
  else expect(actual).toBe(expected);
}

const bodyOf = (req: { body: string }) => JSON.parse(req.body);

describe('golden messages of the first incident', () => {
  it('slack.json', () => {
    golden(
      'slack.json',
      `${JSON.stringify(bodyOf(slackChannel('http://slack.invalid').request(notice, message, now)), null, 2)}\n`,
    );
  });

  it('slack.txt reads as the README shows it', () => {
    golden('slack.txt', slackPlainText(slackPayload(message)));
  });

  it('slack.txt is what src/notify/README.md shows', () => {
    const readme = readFileSync(join(dir, '../../../src/notify/README.md'), 'utf8');
    expect(readme).toContain(readFileSync(join(dir, 'slack.txt'), 'utf8'));
  });

  it('teams.json', () => {
    golden(
      'teams.json',
      `${JSON.stringify(bodyOf(teamsChannel('http://teams.invalid').request(notice, message, now)), null, 2)}\n`,
    );
  });

  it('discord.json', () => {
    golden(
      'discord.json',
      `${JSON.stringify(bodyOf(discordChannel('http://discord.invalid').request(notice, message, now)), null, 2)}\n`,
    );
  });

  it('webhook.json (headers and body), whose signature verifies', () => {
    const req = webhookChannel('http://hook.invalid', goldenSecret).request(notice, message, now);
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([k]) => k.startsWith('x-snatguard-')),
    );
    golden('webhook.json', `${JSON.stringify({ headers, body: bodyOf(req) }, null, 2)}\n`);
    expect(
      verifyWebhookSignature(
        goldenSecret,
        headers[webhookHeaders.timestamp]!,
        req.body,
        headers[webhookHeaders.signature]!,
        now,
      ),
    ).toBe(true);
  });
});
