// Escaping for each chat dialect. Names of pods, namespaces and workloads, annotation text and error
// messages come from whoever deploys into the cluster: none of it may form a mention, a link or formatting.

const ZWSP = '\u200b';
/** U+02CB MODIFIER LETTER GRAVE ACCENT: looks like a backtick, cannot close a code span. */
const SAFE_BACKTICK = '\u02cb';

/**
 * Slack mrkdwn entities. With `&`, `<`, `>` escaped, `<!channel>`, `<@U123>` and `<http://x|y>`
 * cannot form (Slack documents these three as the only characters to escape).
 */
export function escapeSlackEntities(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Free text in Slack mrkdwn. Slack has no backslash escape, so formatting markers are swapped for
 * look-alikes: `*` → `∗`, `~` → `∼`, a backtick → `ˋ`, and an underscore at a word boundary → `ˍ`
 * (an underscore inside a word, as in `nf_conntrack_max`, never formats and stays).
 */
export function escapeSlackText(text: string): string {
  return escapeSlackEntities(text)
    .replace(/`/g, SAFE_BACKTICK)
    .replace(/\*/g, '\u2217')
    .replace(/~/g, '\u223c')
    .replace(/(^|[^A-Za-z0-9])_/g, '$1\u02cd')
    .replace(/_(?=[^A-Za-z0-9]|$)/g, '\u02cd');
}

/** Text inside a Slack code span or block: entities still apply; a backtick would end the span. */
export function escapeSlackCode(text: string): string {
  return escapeSlackEntities(text).replace(/`/g, SAFE_BACKTICK);
}

/**
 * Discord markdown: inline markdown punctuation gets a backslash (Discord honours `\` before any
 * punctuation), as do heading / list / quote markers at the start of a line; `@` is followed by a
 * zero-width space so `@everyone`, `@here` and `<@id>` cannot form. Payloads also carry `allowed_mentions: { parse: [] }`.
 */
export function escapeDiscordText(text: string): string {
  const inline = text.replace(/[\\*_~`|[\]()<]/g, '\\$&');
  // Headings, lists and quotes only form at the start of a line.
  const blocks = inline.replace(/^(\s*)([#>\-+])/gm, '$1\\$2').replace(/^(\s*\d+)\./gm, '$1\\.');
  return neutraliseDiscordMentions(blocks);
}

/** Text inside a Discord code span or block: markdown is off there, but mentions are neutralised anyway. */
export function escapeDiscordCode(text: string): string {
  return neutraliseDiscordMentions(text.replace(/`/g, SAFE_BACKTICK));
}

function neutraliseDiscordMentions(text: string): string {
  return text.replace(/@/g, `@${ZWSP}`);
}

/**
 * Adaptive Card TextBlock markdown (CommonMark subset): backslash before the characters that form
 * links, emphasis, HTML-ish tags and lists. The Teams card puts untrusted text in `TextRun`s, which
 * render no markdown at all; this is for the few places a TextBlock carries dynamic text.
 */
export function escapeTeamsMarkdown(text: string): string {
  return text.replace(/[\\[\]()*_~`<>#|!-]/g, '\\$&');
}

/** Made on first use: building a Segmenter loads ICU's break rules (~1.5 ms), a cost every run paid at import. */
let graphemes: Intl.Segmenter | undefined;

/**
 * The longest prefix of whole grapheme clusters within `max` UTF-16 units: never half a surrogate pair,
 * never an emoji cut from its modifier or ZWJ sequence.
 */
export function prefixWithin(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = 0;
  graphemes ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  for (const { segment, index } of graphemes.segment(text.slice(0, max + 64))) {
    if (index + segment.length > max) break;
    end = index + segment.length;
  }
  return text.slice(0, end);
}

/** Shortens to `max` characters (UTF-16 units), at a grapheme boundary, ending in `…` when cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 1) return '…'.slice(0, max);
  return `${prefixWithin(text, max - 1)}…`;
}

/**
 * Where a code span or fence opened in `text` is left open (CommonMark: it closes with a run of as many
 * backticks), or undefined. With `backslashEscapes`, `\`` outside code is a literal backtick (Discord).
 */
export function openCodeAt(text: string, backslashEscapes: boolean): number | undefined {
  let openAt: number | undefined;
  let fence = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (openAt === undefined && backslashEscapes && c === '\\') {
      i += 2;
      continue;
    }
    if (c === '`') {
      let j = i;
      while (text[j] === '`') j++;
      if (openAt === undefined) {
        openAt = i;
        fence = j - i;
      } else if (j - i === fence) openAt = undefined;
      i = j;
      continue;
    }
    i++;
  }
  return openAt;
}

/**
 * truncate for markdown that holds code spans of escaped text: a cut inside a span drops the span
 * instead of leaving it open (an open span turns the code-escaped text after it into live markdown).
 */
export function truncateMarkdown(text: string, max: number, backslashEscapes = true): string {
  const cut = truncate(text, max);
  if (cut === text) return text;
  const body = cut.slice(0, -1);
  const open = openCodeAt(body, backslashEscapes);
  if (open === undefined) return cut;
  return `${body.slice(0, open)}…`;
}

/**
 * Joins as many lines as fit in `max` characters; when some are left out, ends with `…and N more`.
 * A first line longer than `max` is itself truncated.
 */
export function fitLines(
  lines: string[],
  max: number,
  separator = '\n',
  cut: (text: string, max: number) => string = truncate,
): string {
  const out: string[] = [];
  let length = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const remaining = lines.length - i - 1;
    const added = (out.length > 0 ? separator.length : 0) + line.length;
    const tail = remaining > 0 ? separator.length + moreText(remaining).length : 0;
    if (length + added + tail <= max) {
      out.push(line);
      length += added;
      continue;
    }
    const left = lines.length - i;
    const more = moreText(left);
    if (out.length === 0) {
      // Not even one line fits with the tail: show a cut first line, then the count of the rest.
      if (left === 1) return cut(line, max);
      const room = max - separator.length - moreText(left - 1).length;
      if (room > 1) return `${cut(line, room)}${separator}${moreText(left - 1)}`;
      return truncate(more, max);
    }
    out.push(more);
    return out.join(separator);
  }
  return out.join(separator);
}

export const moreText = (n: number): string => `…and ${n} more`;
