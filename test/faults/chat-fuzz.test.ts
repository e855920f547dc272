// Issue 16 item 9 (chat) and the fuzz suite for the renderers: whatever a tenant names its things, the
// payloads stay within each channel's limits, never split a character, never leave a Discord code span
// open, and never form a mention or a link from escaped text. Failed before: truncation split emoji
// (lone surrogates), cut Discord code spans open, and a Teams card could pass 28 KB.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/model.js';
import { discordLimits, discordPayload, embedSize } from '../../src/notify/discord.js';
import { openCodeAt, truncate, truncateMarkdown } from '../../src/notify/escape.js';
import { alertNotice, render } from '../../src/notify/render.js';
import { slackLimits, slackPayload } from '../../src/notify/slack.js';
import { teamsLimits, teamsPayload } from '../../src/notify/teams.js';
import { firstIncident } from '../notify/builders.js';
import { fuzzRuns } from './fuzz.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

/** Markdown outside code spans and blocks: what Discord parses for mentions and links. */
function outsideCode(md: string): string {
  let out = '';
  let i = 0;
  while (i < md.length) {
    if (md[i] === '\\') {
      i += 2;
      continue;
    }
    if (md[i] === '`') {
      let j = i;
      while (md[j] === '`') j++;
      const fence = md.slice(i, j);
      const end = md.indexOf(fence, j);
      if (end < 0) return out + md.slice(i); // open span: everything after is live
      i = end + fence.length;
      continue;
    }
    out += md[i];
    i++;
  }
  return out;
}

const tenantText = fc.array(
  fc.oneof(
    fc.constantFrom(
      '👍🏽',
      '👨‍👩‍👧‍👦',
      '🇩🇪',
      'é',
      '`',
      '```',
      '\\',
      '@everyone',
      '@here',
      '<@123>',
      '<!channel>',
      '[x](http://evil.example)',
      '<http://evil|x>',
      '*',
      '_',
      '~',
      '|',
      '\n',
      ' ',
    ),
    fc.string({ maxLength: 12 }),
    fc.string({ unit: 'grapheme', maxLength: 12 }),
  ),
  { minLength: 1, maxLength: 400 },
);

function reportWith(names: string[]): RunReport {
  const r = firstIncident();
  const pick = (i: number) => names[i % names.length]!;
  const workloads = Array.from({ length: 12 }, (_, i) => `${pick(i)}/Deployment/${pick(i + 1)}`);
  return {
    ...r,
    offenders: workloads.map((workload, i) => ({
      ...r.offenders[0]!,
      workload,
      pods: [pick(i + 2), pick(i + 3)],
      topDestinations: [{ remote: pick(i + 4), sockets: 900 - i }],
    })),
    actions: workloads.map((workload, i) => ({
      kind: 'restart' as const,
      workload,
      status: 'skipped' as const,
      skipReason: 'OPTED_OUT' as const,
      reason: pick(i + 5).repeat(20),
    })),
    recommendations: r.recommendations.map((rec, i) => ({
      ...rec,
      title: pick(i + 6),
      detail: pick(i + 7).repeat(30),
      fix: `kubectl annotate ${pick(i + 8)}`,
    })),
    errors: workloads.map((target, i) => ({
      stage: 'inspect' as const,
      target,
      message: pick(i + 9).repeat(50),
    })),
  };
}

describe(`chat renderers under hostile names (fast-check, ${fuzzRuns(60)} reports)`, () => {
  it('every payload within its limits, no split character, no live mention, link or open code span', () => {
    fc.assert(
      fc.property(
        fc.array(
          tenantText.map((parts) => parts.join('')),
          { minLength: 1, maxLength: 12 },
        ),
        (names) => {
          const message = render(alertNotice(reportWith(names)));
          const slack = slackPayload(message);
          const discord = discordPayload(message);
          const teams = teamsPayload(message);
          for (const text of [...strings(slack), ...strings(discord), ...strings(teams)])
            expect(text).not.toMatch(LONE_SURROGATE);
          // Slack: entities escaped, so no <!channel>, <@U…> or <http…|…> can form.
          expect(slack.blocks.length).toBeLessThanOrEqual(slackLimits.blocks);
          for (const text of strings(slack.blocks)) expect(text).not.toMatch(/<[!@#]|<https?:/);
          // Discord: limits, and outside code neither mentions nor links.
          const embed = discord.embeds[0]!;
          expect(embedSize(embed)).toBeLessThanOrEqual(discordLimits.total);
          expect(embed.description.length).toBeLessThanOrEqual(discordLimits.description);
          for (const f of embed.fields) expect(f.value.length).toBeLessThanOrEqual(discordLimits.fieldValue);
          for (const text of [
            embed.title,
            embed.description,
            ...embed.fields.flatMap((f) => [f.name, f.value]),
          ]) {
            expect(openCodeAt(text, true), text).toBeUndefined();
            const live = outsideCode(text);
            expect(live).not.toMatch(/@(everyone|here)|<@|\]\(http/);
          }
          expect(discord.allowed_mentions).toEqual({ parse: [] });
          // Teams: the whole payload within 28 KB.
          expect(Buffer.byteLength(JSON.stringify(teams))).toBeLessThanOrEqual(teamsLimits.payloadBytes);
        },
      ),
      { numRuns: fuzzRuns(60) },
    );
  });

  it('a Teams card of huge items stays within 28 KB (failed before: 15 items × 3 texts × 2,000 characters)', () => {
    const names = ['🔥'.repeat(3000), 'x'.repeat(5000)];
    const teams = teamsPayload(render(alertNotice(reportWith(names))));
    expect(Buffer.byteLength(JSON.stringify(teams))).toBeLessThanOrEqual(teamsLimits.payloadBytes);
  });
});

describe('truncation', () => {
  it('never splits a surrogate pair or an emoji sequence (failed before: lone surrogate)', () => {
    expect(truncate('ab👍🏽cd', 4)).toBe('ab…');
    expect(truncate('a👨‍👩‍👧‍👦b', 10)).toBe('a…');
    expect(truncate('🇩🇪🇩🇪', 5)).toBe('🇩🇪…');
  });

  it('drops a Discord code span it would leave open (failed before: the span stayed open)', () => {
    const text = 'pod `[x](http://evil.example) @\u200beveryone` end';
    const cut = truncateMarkdown(text, 20);
    expect(openCodeAt(cut, true)).toBeUndefined();
    expect(cut).toBe('pod …');
    expect(truncateMarkdown('a \\` b `c` d', 11)).toBe('a \\` b `c`…');
  });
});
