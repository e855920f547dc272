import { describe, expect, it } from 'vitest';
import {
  escapeDiscordCode,
  escapeDiscordText,
  escapeSlackCode,
  escapeSlackText,
  escapeTeamsMarkdown,
  fitLines,
  truncate,
} from '../../src/notify/escape.js';

describe('escapeSlackText', () => {
  it.each([
    ['<!channel>', '&lt;!channel&gt;'],
    ['<http://evil|click>', '&lt;http://evil|click&gt;'],
    ['<@U123>', '&lt;@U123&gt;'],
    ['a & b', 'a &amp; b'],
    ['&lt;', '&amp;lt;'],
    ['*bold*', '\u2217bold\u2217'],
    ['~strike~', '\u223cstrike\u223c'],
    ['_italic_', '\u02cditalic\u02cd'],
    ['nf_conntrack_max', 'nf_conntrack_max'],
    ['`code`', '\u02cbcode\u02cb'],
  ])('%s → %s', (input, expected) => {
    expect(escapeSlackText(input)).toBe(expected);
  });

  it('keeps underscores inside code but still escapes entities and backticks', () => {
    expect(escapeSlackCode('a_b <x> `y` &')).toBe('a_b &lt;x&gt; \u02cby\u02cb &amp;');
  });
});

describe('escapeDiscordText', () => {
  it.each([
    ['@everyone', '@\u200beveryone'],
    ['@here', '@\u200bhere'],
    ['<@123>', '\\<@\u200b123>'],
    ['[x](http://evil)', '\\[x\\]\\(http://evil\\)'],
    [
      '**b** __u__ ~~s~~ `c` ||spoiler||',
      '\\*\\*b\\*\\* \\_\\_u\\_\\_ \\~\\~s\\~\\~ \\`c\\` \\|\\|spoiler\\|\\|',
    ],
    ['# heading', '\\# heading'],
    ['> quote\n- item\n1. first', '\\> quote\n\\- item\n1\\. first'],
    ['aks-prod 20.1.2.3:443', 'aks-prod 20.1.2.3:443'],
    ['back\\slash', 'back\\\\slash'],
  ])('%j → %j', (input, expected) => {
    expect(escapeDiscordText(input)).toBe(expected);
  });

  it('only swaps backticks and @ in code', () => {
    expect(escapeDiscordCode('```@everyone [x](y)')).toBe('\u02cb\u02cb\u02cb@\u200beveryone [x](y)');
  });
});

describe('escapeTeamsMarkdown', () => {
  it.each([
    ['[x](http://evil)', '\\[x\\]\\(http://evil\\)'],
    ['<at>someone</at>', '\\<at\\>someone\\</at\\>'],
    ['**b** _i_', '\\*\\*b\\*\\* \\_i\\_'],
  ])('%s → %s', (input, expected) => {
    expect(escapeTeamsMarkdown(input)).toBe(expected);
  });
});

describe('fitLines', () => {
  it.each([
    { lines: ['a', 'b', 'c'], max: 100, expected: 'a\nb\nc' },
    { lines: ['aaaa', 'bbbb', 'cccc'], max: 20, expected: 'aaaa\n…and 2 more' },
    { lines: ['aaaa', 'bbbb', 'cccc', 'dddd'], max: 22, expected: 'aaaa\nbbbb\n…and 2 more' },
    { lines: ['x'.repeat(50)], max: 10, expected: `${'x'.repeat(9)}…` },
    { lines: ['x'.repeat(50), 'y'], max: 20, expected: `${'x'.repeat(7)}…\n…and 1 more` },
  ])('fits $lines.length lines in $max', ({ lines, max, expected }) => {
    const out = fitLines(lines, max);
    expect(out).toBe(expected);
    expect(out.length).toBeLessThanOrEqual(max);
  });

  it('never exceeds the limit for any count of lines', () => {
    for (let n = 1; n < 60; n++) {
      const lines = Array.from({ length: n }, (_, i) => `line ${i} ${'z'.repeat(i % 17)}`);
      for (const max of [15, 40, 100, 300]) expect(fitLines(lines, max).length).toBeLessThanOrEqual(max);
    }
  });

  it('truncate adds an ellipsis only when cutting', () => {
    expect(truncate('abc', 3)).toBe('abc');
    expect(truncate('abcd', 3)).toBe('ab…');
  });
});
