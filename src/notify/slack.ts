// Slack incoming webhook: Block Kit blocks plus a `text` fallback (used in notifications), within
// Slack's limits: 50 blocks, 3,000 characters per section text, 150 per header.
import {
  escapeSlackCode,
  escapeSlackText,
  fitLines as fitAnyLines,
  moreText,
  truncate,
  truncateMarkdown,
} from './escape.js';

// Slack has no backslash escapes; untrusted backticks are already look-alikes, so every backtick is ours.
const cutMrkdwn = (text: string, max: number): string => truncateMarkdown(text, max, false);
const fitLines = (lines: string[], max: number): string => fitAnyLines(lines, max, '\n', cutMrkdwn);

import { icon } from './render.js';
import type { Channel, Item, Message, Span } from './types.js';

/**
 * blocks, sectionText, headerText: Slack's Block Kit reference (up to 50 blocks a message; a section's text
 * up to 3,000 characters; a header's up to 150). contextText and fallbackText are snatguard's own bounds,
 * not Slack limits.
 */
export const slackLimits = {
  blocks: 50,
  sectionText: 3000,
  headerText: 150,
  contextText: 2000,
  fallbackText: 3000,
};

type TextObject = { type: 'mrkdwn' | 'plain_text'; text: string; emoji?: boolean };
export type SlackBlock =
  | { type: 'header'; text: TextObject }
  | { type: 'section'; text: TextObject }
  | { type: 'context'; elements: TextObject[] }
  | { type: 'divider' };

export interface SlackPayload {
  text: string;
  blocks: SlackBlock[];
  unfurl_links: false;
  unfurl_media: false;
}

function spansToMrkdwn(spans: Span[]): string {
  return spans
    .map((s) => {
      if (s.text === '') return '';
      if (s.style === 'code') return `\`${escapeSlackCode(s.text)}\``;
      if (s.style === 'strong') return `*${escapeSlackText(s.text)}*`;
      return escapeSlackText(s.text);
    })
    .join('');
}

const codeBlock = (code: string): string => `\`\`\`${escapeSlackCode(code)}\`\`\``;

function itemLine(item: Item): string {
  const line = `• ${spansToMrkdwn(item.spans)}`;
  return item.detail ? `${line}\n      ${escapeSlackText(item.detail)}` : line;
}

/** One recommendation in one section: title, detail, then the fix as a code block; the detail gives way first. */
function recommendationText(title: string | null, item: Item, max: number): string {
  const line = spansToMrkdwn(item.spans);
  const head = cutMrkdwn(title ? `*${title}*\n${line}` : line, max);
  const fix = item.code ? `\n${codeBlock(item.code)}` : '';
  const detail = item.detail ? `\n${escapeSlackText(item.detail)}` : '';
  if (head.length + detail.length + fix.length <= max) return head + detail + fix;
  const room = max - head.length - fix.length;
  if (room >= 0) return head + (room > 1 ? truncate(detail, room) : '') + fix;
  const codeRoom = max - head.length - '\n``````'.length;
  return codeRoom > 1 && item.code
    ? `${head}\n\`\`\`${truncate(escapeSlackCode(item.code), codeRoom)}\`\`\``
    : head;
}

export function slackPayload(message: Message): SlackPayload {
  const headline = `${icon(message, 'slack')} ${message.headline}`;
  const blocks: SlackBlock[] = [
    // plain_text: no mrkdwn, no mentions; emoji shortcodes still render.
    {
      type: 'header',
      text: { type: 'plain_text', text: truncate(headline, slackLimits.headerText), emoji: true },
    },
    {
      type: 'context',
      elements: [
        { type: 'mrkdwn', text: truncate(escapeSlackText(message.context), slackLimits.contextText) },
      ],
    },
  ];
  for (const section of message.sections) {
    blocks.push({ type: 'divider' });
    if (section.key === 'recommendations') {
      section.items.forEach((item, i) => {
        const text = recommendationText(i === 0 ? section.title : null, item, slackLimits.sectionText);
        blocks.push({ type: 'section', text: { type: 'mrkdwn', text } });
      });
      continue;
    }
    const title = `*${section.title}*`;
    const body = fitLines(section.items.map(itemLine), slackLimits.sectionText - title.length - 1);
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `${title}\n${body}` } });
  }
  return {
    text: truncate(escapeSlackText(headline), slackLimits.fallbackText),
    blocks: fitBlocks(blocks, slackLimits.blocks),
    unfurl_links: false,
    unfurl_media: false,
  };
}

/** Keeps at most `max` blocks; the last one then says how many were left out. */
function fitBlocks(blocks: SlackBlock[], max: number): SlackBlock[] {
  if (blocks.length <= max) return blocks;
  const kept = blocks.slice(0, max - 1);
  const omitted = blocks.slice(max - 1).filter((b) => b.type !== 'divider').length;
  kept.push({ type: 'context', elements: [{ type: 'mrkdwn', text: moreText(omitted) }] });
  return kept;
}

/**
 * How the Slack message reads once Slack renders it, as plain text (the README and golden `slack.txt`):
 * markup removed, entities decoded, code blocks indented.
 */
export function slackPlainText(payload: SlackPayload): string {
  const read = (t: string) =>
    t
      .replace(/```([\s\S]*?)```/g, (_m, code: string) => `\n${code.replace(/^/gm, '    ')}`)
      .replace(/`([^`\n]*)`/g, '$1')
      .replace(/\*([^*\n]+)\*/g, '$1')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
  const out: string[] = [];
  for (const block of payload.blocks) {
    if (block.type === 'header') out.push(block.text.text);
    else if (block.type === 'context') out.push(block.elements.map((e) => read(e.text)).join('  '));
    else if (block.type === 'divider') out.push('');
    else out.push(read(block.text.text));
  }
  return `${out.join('\n')}\n`;
}

export function slackChannel(webhookUrl: string): Channel {
  return {
    name: 'slack',
    request: (_notice, message) => ({
      url: webhookUrl,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(slackPayload(message)),
    }),
  };
}
