import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/model.js';
import { discordLimits, discordPayload, embedSize } from '../../src/notify/discord.js';
import { alertHeadline, alertNotice, render } from '../../src/notify/render.js';
import { slackLimits, slackPayload } from '../../src/notify/slack.js';
import { teamsLimits, teamsPayload } from '../../src/notify/teams.js';
import { webhookBody } from '../../src/notify/webhook.js';
import { firstIncident, hostile, hostileReport, incidentNode } from './builders.js';
import { validateCard } from './card.js';

const messageOf = (r: RunReport) => render(alertNotice(r));

/** Every string in a JSON value, with the path to it. */
function strings(value: unknown, path = '$'): { path: string; text: string }[] {
  if (typeof value === 'string') return [{ path, text: value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${path}[${i}]`));
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => strings(v, `${path}.${k}`));
  return [];
}

/** Markdown with code blocks and spans removed: what a chat client would parse for markup. */
const outsideCode = (md: string): string => md.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');

function bigReport(): RunReport {
  const r = firstIncident();
  const long = 'x'.repeat(200);
  r.offenders = Array.from({ length: 200 }, (_, i) => ({
    ...r.offenders[0]!,
    workload: `ns-${i}/Deployment/${long}-${i}`,
    topDestinations: Array.from({ length: 5 }, (_, j) => ({
      remote: `20.0.${i % 250}.${j}:443`,
      sockets: 100 - j,
    })),
  }));
  r.actions = r.offenders.map((o) => ({ ...r.actions[0]!, workload: o.workload, reason: `reason ${long}` }));
  r.recommendations = Array.from({ length: 60 }, (_, i) => ({
    ...r.recommendations[0]!,
    title: `title ${i} ${long}`,
    detail: `detail ${'d'.repeat(2000)}`,
    fix: `fix ${i} ${'f'.repeat(1500)}`,
  }));
  r.errors = Array.from({ length: 100 }, (_, i) => ({
    stage: 'inspect',
    target: `ns/pod-${i}`,
    message: `failed ${long}`,
  }));
  return r;
}

describe('render', () => {
  it.each([
    ['dry-run', firstIncident(), 'SNAT exhaustion on aks-prod — 1 hot node, 1 restart planned (dry-run)'],
    [
      'restart',
      firstIncident({ mode: 'restart' }),
      'SNAT exhaustion on aks-prod — 1 hot node, 1 restart applied',
    ],
    [
      'below exhaustion',
      (() => {
        const r = firstIncident();
        r.nodes[0]!.signals = [{ kind: 'snat-ports', used: 900, allocated: 1024, ratio: 900 / 1024 }];
        r.actions = [];
        return r;
      })(),
      'SNAT pressure on aks-prod — 1 hot node, no restart',
    ],
    [
      'conntrack',
      (() => {
        const r = firstIncident();
        r.nodes[0]!.signals = [{ kind: 'conntrack', used: 1200, allocated: 1200, ratio: 1 }];
        return r;
      })(),
      'Conntrack saturation on aks-prod — 1 hot node, 1 restart planned (dry-run)',
    ],
  ])('headline (%s)', (_name, report, expected) => {
    expect(alertHeadline(report)).toBe(expected);
  });

  it('lists hot nodes, offenders with destinations, actions with reason codes, fixes and errors', () => {
    const r = firstIncident();
    r.errors = [{ stage: 'inspect', target: 'shop/orders-api-1', message: 'executable file not found' }];
    const m = messageOf(r);
    expect(m.sections.map((s) => s.key)).toEqual([
      'nodes',
      'offenders',
      'actions',
      'recommendations',
      'errors',
    ]);
    const flat = JSON.stringify(m);
    for (const needle of [
      'SNAT ports 1024/1024 (100%)',
      'conntrack 1190/131072',
      '20.103.144.194:27017',
      '900 SNAT sockets (90% of the node)',
      'DRY_RUN',
      'maxPoolSize=20',
      'executable file not found',
    ]) {
      expect(flat).toContain(needle);
    }
    expect(m.severity).toBe('critical');
  });
});

describe('Slack payload', () => {
  it('stays within Block Kit limits for a huge report and says how much it left out', () => {
    const p = slackPayload(messageOf(bigReport()));
    expect(p.blocks.length).toBeLessThanOrEqual(slackLimits.blocks);
    for (const b of p.blocks) {
      if (b.type === 'header') expect(b.text.text.length).toBeLessThanOrEqual(slackLimits.headerText);
      if (b.type === 'section') expect(b.text.text.length).toBeLessThanOrEqual(slackLimits.sectionText);
    }
    expect(JSON.stringify(p)).toMatch(/…and \d+ more/);
  });

  it('lets no hostile name form a mention, link or formatting', () => {
    const p = slackPayload(messageOf(hostileReport()));
    const mrkdwn = [
      p.text,
      ...p.blocks.flatMap((b) =>
        b.type === 'section' ? [b.text.text] : b.type === 'context' ? b.elements.map((e) => e.text) : [],
      ),
    ];
    for (const t of mrkdwn) {
      expect(t).not.toMatch(/[<>]/);
      expect(outsideCode(t)).not.toMatch(/\*bold\*|_it_|~s~/);
    }
    const all = mrkdwn.join('\n');
    expect(all).toContain('&lt;!channel&gt;');
    expect(all).toContain('&lt;http://evil|click&gt;');
    expect(all).toContain('&lt;script&gt;');
    // The code block's fence cannot be closed from inside.
    expect(all.match(/```/g)!.length % 2).toBe(0);
  });
});

describe('Discord payload', () => {
  it('stays within embed limits for a huge report', () => {
    const p = discordPayload(messageOf(bigReport()));
    expect(p.embeds.length).toBeLessThanOrEqual(discordLimits.embeds);
    const e = p.embeds[0]!;
    expect(e.title.length).toBeLessThanOrEqual(discordLimits.title);
    expect(e.description.length).toBeLessThanOrEqual(discordLimits.description);
    expect(e.fields.length).toBeLessThanOrEqual(discordLimits.fields);
    for (const f of e.fields) {
      expect(f.name.length).toBeLessThanOrEqual(discordLimits.fieldName);
      expect(f.value.length).toBeLessThanOrEqual(discordLimits.fieldValue);
      expect(f.value.length).toBeGreaterThan(0);
    }
    expect(embedSize(e)).toBeLessThanOrEqual(discordLimits.total);
    expect(e.fields.at(-1)!.value).toMatch(/^…and \d+ more$/);
  });

  it('lets no hostile name form a mention, link or formatting', () => {
    const p = discordPayload(messageOf(hostileReport()));
    expect(p.allowed_mentions).toEqual({ parse: [] });
    const texts = strings(p.embeds).map((s) => s.text);
    for (const t of texts) {
      expect(t).not.toMatch(/@(everyone|here)|<@U/);
      const markup = outsideCode(t);
      expect(markup).not.toMatch(/(?<!\\)\]\(|(?<!\\)<http|(?<!\\)\*bold|(?<!\\)<script/);
    }
    const all = texts.join('\n');
    expect(all).toContain('\\[x\\]\\(http://evil\\)');
    expect(all).toContain('@\u200beveryone');
  });
});

describe('Teams card', () => {
  it('is an Adaptive Card in the Workflows message envelope that the adaptivecards SDK accepts', () => {
    const p = teamsPayload(messageOf(firstIncident()));
    expect(p.type).toBe('message');
    expect(p.attachments).toHaveLength(1);
    expect(p.attachments[0]!.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(p.attachments[0]!.content.version).toBe('1.4');
    expect(validateCard(p.attachments[0]!.content)).toEqual([]);
  });

  it('validation catches a broken card (the check is not a no-op)', () => {
    const card = structuredClone(
      teamsPayload(messageOf(firstIncident())).attachments[0]!.content,
    ) as unknown as {
      body: Record<string, unknown>[];
    };
    card.body.push({ type: 'TextBlock', text: 'x', size: 'Huge' });
    expect(
      validateCard(card)
        .map((e) => e.message)
        .join('\n'),
    ).toMatch(/Huge/);
  });

  it('stays under the Teams message size for a huge report and still validates', () => {
    const p = teamsPayload(messageOf(bigReport()));
    expect(Buffer.byteLength(JSON.stringify(p))).toBeLessThanOrEqual(teamsLimits.payloadBytes);
    expect(validateCard(p.attachments[0]!.content)).toEqual([]);
    expect(JSON.stringify(p)).toMatch(/…and \d+ more/);
  });

  it('puts hostile text only in TextRuns, which render no markdown, and never mentions anyone', () => {
    const p = teamsPayload(messageOf(hostileReport()));
    const card = p.attachments[0]!.content;
    expect(validateCard(card)).toEqual([]);
    expect(JSON.stringify(card)).not.toContain('entities');
    const titles = new Set(['Hot nodes', 'Offenders', 'Actions', 'Recommendations', 'Errors', 'Recovered']);
    for (const el of card.body) {
      if (el.type === 'TextBlock') expect(titles.has(el.text) || /^…and \d+ more$/.test(el.text)).toBe(true);
    }
    const runs = card.body.flatMap((el) =>
      el.type === 'RichTextBlock' ? el.inlines.map((i) => i.text) : [],
    );
    expect(runs.join('\n')).toContain(hostile.link);
    expect(runs.join('\n')).toContain(hostile.channel);
  });
});

describe('webhook body', () => {
  it('carries the report unchanged plus the notice, with <, > and & escaped in the JSON text', () => {
    const report = hostileReport();
    const notice = alertNotice(report);
    const raw = webhookBody(notice, render(notice));
    expect(raw).not.toMatch(/[<>&]/);
    const parsed = JSON.parse(raw);
    const { notice: n, ...rest } = parsed;
    expect(rest).toEqual(report);
    expect(n).toMatchObject({ type: 'alert', severity: 'critical' });
    expect(parsed.nodes[0].name).toBe(hostile.script);
    expect(parsed.offenders[0].node).not.toBe(incidentNode);
  });
});
