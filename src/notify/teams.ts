// Microsoft Teams through a Workflows webhook ("When a Teams webhook request is received"): an
// Adaptive Card in the `message` / `attachments` envelope. Office 365 connectors are retired.
//
// Untrusted text only ever goes into RichTextBlock TextRuns, which render no markdown (no links,
// no emphasis); TextBlocks, which do render markdown, carry only our own fixed titles. Mentions need
// `<at>` plus `msteams.entities`, which the card never has.
import { moreText, truncate } from './escape.js';
import { icon } from './render.js';
import type { Channel, Item, Message, Span } from './types.js';

/**
 * payloadBytes: Teams' message size limit of about 28 KB (learn.microsoft.com: Teams platform, "Create
 * Incoming Webhooks"; the Teams connector's known limitations: above it a post fails with "Request Entity
 * too large"). itemsPerSection and textRun are snatguard's own bounds for a readable card, not Teams limits.
 */
export const teamsLimits = { itemsPerSection: 15, textRun: 2000, payloadBytes: 28_000 };

export const adaptiveCardContentType = 'application/vnd.microsoft.card.adaptive';

type TextRun = {
  type: 'TextRun';
  text: string;
  weight?: 'Bolder';
  fontType?: 'Monospace';
  size?: 'Small' | 'Large';
  color?: 'Attention' | 'Warning' | 'Good' | 'Accent';
  isSubtle?: boolean;
};
type CardElement =
  | { type: 'RichTextBlock'; inlines: TextRun[]; spacing?: 'None' | 'Small' | 'Medium' }
  | {
      type: 'TextBlock';
      text: string;
      wrap: true;
      weight?: 'Bolder';
      size?: 'Medium';
      separator?: boolean;
      spacing?: 'Medium';
      isSubtle?: boolean;
    };

export interface AdaptiveCard {
  $schema: string;
  type: 'AdaptiveCard';
  version: '1.4';
  msteams: { width: 'Full' };
  fallbackText: string;
  body: CardElement[];
}

export interface TeamsPayload {
  type: 'message';
  attachments: { contentType: typeof adaptiveCardContentType; contentUrl: null; content: AdaptiveCard }[];
}

/** How long one TextRun may be; the payload fitting loop lowers it when the card is still too large. */
let textRunMax = teamsLimits.textRun;

const run = (text: string, extra: Omit<TextRun, 'type' | 'text'> = {}): TextRun => ({
  type: 'TextRun',
  text: truncate(text, textRunMax),
  ...extra,
});

function spanRuns(spans: Span[]): TextRun[] {
  return spans
    .filter((s) => s.text !== '')
    .map((s) =>
      s.style === 'code'
        ? run(s.text, { fontType: 'Monospace' })
        : s.style === 'strong'
          ? run(s.text, { weight: 'Bolder' })
          : run(s.text),
    );
}

function itemElements(item: Item): CardElement[] {
  const out: CardElement[] = [{ type: 'RichTextBlock', inlines: [run('• '), ...spanRuns(item.spans)] }];
  if (item.detail)
    out.push({ type: 'RichTextBlock', spacing: 'None', inlines: [run(item.detail, { isSubtle: true })] });
  if (item.code)
    out.push({
      type: 'RichTextBlock',
      spacing: 'Small',
      inlines: [run(item.code, { fontType: 'Monospace' })],
    });
  return out;
}

function headlineColor(message: Message): TextRun['color'] {
  if (message.kind === 'recovered') return 'Good';
  return message.severity === 'critical'
    ? 'Attention'
    : message.severity === 'warning'
      ? 'Warning'
      : 'Accent';
}

export function teamsCard(
  message: Message,
  itemsPerSection = teamsLimits.itemsPerSection,
  textMax = teamsLimits.textRun,
  sections = true,
): AdaptiveCard {
  textRunMax = textMax;
  try {
    return buildCard(message, itemsPerSection, sections);
  } finally {
    textRunMax = teamsLimits.textRun;
  }
}

function buildCard(message: Message, itemsPerSection: number, withSections: boolean): AdaptiveCard {
  const headline = `${icon(message, 'unicode')} ${message.headline}`;
  const body: CardElement[] = [
    {
      type: 'RichTextBlock',
      inlines: [run(headline, { size: 'Large', weight: 'Bolder', color: headlineColor(message) })],
    },
    {
      type: 'RichTextBlock',
      spacing: 'None',
      inlines: [run(message.context, { size: 'Small', isSubtle: true })],
    },
  ];
  const sections = withSections ? message.sections : [];
  if (!withSections && message.sections.length > 0)
    body.push({
      type: 'TextBlock',
      text: 'Details omitted: too large for one Teams message.',
      wrap: true,
      isSubtle: true,
    });
  for (const section of sections) {
    body.push({
      type: 'TextBlock',
      text: section.title,
      wrap: true,
      weight: 'Bolder',
      size: 'Medium',
      separator: true,
      spacing: 'Medium',
    });
    for (const item of section.items.slice(0, itemsPerSection)) body.push(...itemElements(item));
    const left = section.items.length - itemsPerSection;
    if (left > 0) body.push({ type: 'TextBlock', text: moreText(left), wrap: true, isSubtle: true });
  }
  return {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    msteams: { width: 'Full' },
    fallbackText: truncate(headline, 500),
    body,
  };
}

const envelope = (card: AdaptiveCard): TeamsPayload => ({
  type: 'message',
  attachments: [{ contentType: adaptiveCardContentType, contentUrl: null, content: card }],
});
const sizeOf = (p: TeamsPayload): number => Buffer.byteLength(JSON.stringify(p));

/**
 * The Workflows envelope within Teams' ~28 KB message limit, the whole payload counted in UTF-8 bytes:
 * fewer items per section first, then shorter texts, and at last the headline and context alone.
 */
export function teamsPayload(message: Message): TeamsPayload {
  let perSection = teamsLimits.itemsPerSection;
  let textMax = teamsLimits.textRun;
  let payload = envelope(teamsCard(message, perSection, textMax));
  while (sizeOf(payload) > teamsLimits.payloadBytes && perSection > 1) {
    perSection = Math.floor(perSection / 2);
    payload = envelope(teamsCard(message, perSection, textMax));
  }
  while (sizeOf(payload) > teamsLimits.payloadBytes && textMax > 64) {
    textMax = Math.floor(textMax / 2);
    payload = envelope(teamsCard(message, perSection, textMax));
  }
  if (sizeOf(payload) > teamsLimits.payloadBytes) payload = envelope(teamsCard(message, 0, 200, false));
  return payload;
}

export function teamsChannel(webhookUrl: string): Channel {
  return {
    name: 'teams',
    request: (_notice, message) => ({
      url: webhookUrl,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(teamsPayload(message)),
    }),
  };
}
