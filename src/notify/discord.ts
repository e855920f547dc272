// Discord webhook: one embed within Discord's limits (title 256, description 4,096, 25 fields,
// field name 256 / value 1,024, footer 2,048, 6,000 characters in total) and no mentions at all.
import {
  escapeDiscordCode,
  escapeDiscordText,
  fitLines as fitAnyLines,
  moreText,
  truncate,
  truncateMarkdown,
} from './escape.js';

// Every cut of Discord markdown drops a code span it would leave open.
const fitLines = (lines: string[], max: number): string => fitAnyLines(lines, max, '\n', truncateMarkdown);
const cutMarkdown = (text: string, max: number): string => truncateMarkdown(text, max);

import { icon } from './render.js';
import type { Channel, Item, Message, Span } from './types.js';

/** Discord's "Embed Limits" (Discord API reference, Channel resource: Embed Limits; 10 embeds per message). */
export const discordLimits = {
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  total: 6000,
  embeds: 10,
};

export interface DiscordField {
  name: string;
  value: string;
  inline?: boolean;
}

export interface DiscordEmbed {
  title: string;
  description: string;
  color: number;
  fields: DiscordField[];
  footer: { text: string };
  timestamp: string;
}

export interface DiscordPayload {
  username: string;
  allowed_mentions: { parse: never[] };
  embeds: DiscordEmbed[];
}

const colors = { critical: 0xe01e5a, warning: 0xecb22e, info: 0x3aa3e3, recovered: 0x2eb67d };

function spansToMarkdown(spans: Span[]): string {
  return spans
    .map((s) => {
      if (s.text === '') return '';
      if (s.style === 'code') return `\`${escapeDiscordCode(s.text)}\``;
      if (s.style === 'strong') return `**${escapeDiscordText(s.text)}**`;
      return escapeDiscordText(s.text);
    })
    .join('');
}

function itemLine(item: Item): string {
  const line = `• ${spansToMarkdown(item.spans)}`;
  return item.detail ? `${line}\n  ${escapeDiscordText(item.detail)}` : line;
}

function recommendationField(item: Item): DiscordField {
  const name = cutMarkdown(spansToMarkdown(item.spans), discordLimits.fieldName);
  const fix = item.code ? `\`\`\`\n${escapeDiscordCode(item.code)}\n\`\`\`` : '';
  const detail = item.detail ? escapeDiscordText(item.detail) : '';
  const max = discordLimits.fieldValue;
  let value: string;
  if (detail.length + 1 + fix.length <= max) value = [detail, fix].filter(Boolean).join('\n');
  else if (fix.length + 2 < max) value = `${cutMarkdown(detail, max - fix.length - 1)}\n${fix}`;
  else value = `\`\`\`\n${truncate(escapeDiscordCode(item.code ?? ''), max - 8)}\n\`\`\``;
  return { name, value: value || '—' };
}

/** Characters Discord counts towards an embed's 6,000 total. */
export const embedSize = (e: DiscordEmbed): number =>
  e.title.length + e.description.length + e.footer.text.length + fieldsSize(e.fields);

export function discordEmbed(message: Message): DiscordEmbed {
  const title = cutMarkdown(
    `${icon(message, 'unicode')} ${escapeDiscordText(message.headline)}`,
    discordLimits.title,
  );
  const descriptionLines = [escapeDiscordText(message.context)];
  const fields: DiscordField[] = [];
  for (const section of message.sections) {
    if (section.key === 'nodes') {
      descriptionLines.push('', `**${section.title}**`, fitLines(section.items.map(itemLine), 3000));
    } else if (section.key === 'recommendations') {
      fields.push(...section.items.map(recommendationField));
    } else {
      fields.push({
        name: section.title,
        value: fitLines(section.items.map(itemLine), discordLimits.fieldValue),
      });
    }
  }
  const description = cutMarkdown(descriptionLines.join('\n'), discordLimits.description);
  const footer = {
    text: cutMarkdown(`snatguard · ${message.cluster} · run ${message.runId}`, discordLimits.footer),
  };
  // The 6,000-character total: fields first (they say what to do), then as much description as fits.
  const fixed = title.length + footer.text.length;
  const chosen = chooseFields(fields, discordLimits.total - fixed - Math.min(description.length, 1000));
  return {
    title,
    description: cutMarkdown(description, Math.max(1, discordLimits.total - fixed - fieldsSize(chosen))),
    color: message.kind === 'recovered' ? colors.recovered : colors[message.severity],
    fields: chosen,
    footer,
    timestamp: message.at,
  };
}

const fieldsSize = (fields: DiscordField[]): number =>
  fields.reduce((n, f) => n + f.name.length + f.value.length, 0);

/** As many fields as fit in `budget` characters and the 25-field limit; a last field counts the rest. */
function chooseFields(all: DiscordField[], budget: number): DiscordField[] {
  for (let keep = Math.min(all.length, discordLimits.fields); keep >= 0; keep--) {
    const cut = keep < all.length;
    if (cut && keep + 1 > discordLimits.fields) continue;
    const candidate = cut ? [...all.slice(0, keep), { name: '…', value: moreText(all.length - keep) }] : all;
    if (fieldsSize(candidate) <= budget) return candidate;
  }
  return [];
}

export function discordPayload(message: Message): DiscordPayload {
  return { username: 'snatguard', allowed_mentions: { parse: [] }, embeds: [discordEmbed(message)] };
}

export function discordChannel(webhookUrl: string): Channel {
  return {
    name: 'discord',
    request: (_notice, message) => ({
      url: webhookUrl,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(discordPayload(message)),
    }),
  };
}
