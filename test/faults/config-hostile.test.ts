// Issue 16 item 9 (config): hostile YAML is a problem of the file (ValidationError → exit 2), never a crash
// (exit 3) and never a minute of CPU. Each of these failed before: ReferenceError (exit 3) for the two
// alias cases, __proto__ silently ignored, 80,000 keys took 69 s (the library's pairwise duplicate check).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ValidationError } from '../../src/errors.js';
import { fuzzRuns } from './fuzz.js';

const dir = mkdtempSync(join(tmpdir(), 'snatguard-hostile-config-'));
let n = 0;
const file = (text: string): string => {
  const path = join(dir, `c${n++}.yaml`);
  writeFileSync(path, text);
  return path;
};
const problemsOf = (text: string): string[] => {
  try {
    loadConfig({ file: file(text), env: {} });
  } catch (e) {
    if (e instanceof ValidationError) return e.problems;
    throw e;
  }
  return [];
};

const bomb = [
  'a: &a [x, x, x, x, x, x, x, x, x, x]',
  'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
  'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
  'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
  'e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]',
].join('\n');

describe('hostile config files', () => {
  it('an alias bomb is a problem of the file', () => {
    expect(problemsOf(bomb)).toEqual([expect.stringMatching(/Excessive alias count/)]);
  });

  it('an unresolved alias is a problem of the file', () => {
    expect(problemsOf('mode: *nothing\n')).toEqual([expect.stringMatching(/Unresolved alias.*nothing/)]);
  });

  it('a top-level __proto__ key is rejected, and a nested one', () => {
    expect(problemsOf('__proto__: { mode: restart }\n')).toEqual([
      expect.stringMatching(/^__proto__: key "__proto__" is not allowed/),
    ]);
    expect(problemsOf('rails:\n  __proto__: { maxRestartsPerRun: 9 }\n')).toEqual([
      expect.stringMatching(/^rails\.__proto__: key "__proto__" is not allowed/),
    ]);
  });

  it('80,000 keys load in one pass and a duplicate among them is named with its path', () => {
    const lines = ['rails:', '  big:'];
    for (let i = 0; i < 80_000; i++) lines.push(`    k${i}: ${i}`);
    lines.push('    k17: again');
    expect(problemsOf(lines.join('\n'))).toEqual([expect.stringMatching(/^rails\.big\.k17: duplicate key/)]);
  });

  it('duplicate keys at any depth, each named', () => {
    expect(
      problemsOf('mode: restart\nmode: dry-run\nrails:\n  cooldownMinutes: 1\n  cooldownMinutes: 2\n').sort(),
    ).toEqual([
      expect.stringMatching(/^mode: duplicate key/),
      expect.stringMatching(/^rails\.cooldownMinutes: duplicate key/),
    ]);
  });

  it(`any text: a Config or a ValidationError, never another throw (fast-check, ${fuzzRuns(300)} cases)`, () => {
    const yamlish = fc.array(
      fc.oneof(
        fc.constantFrom(
          'mode:',
          'rails:',
          '  ',
          '- ',
          '&a ',
          '*a',
          '<<: ',
          '__proto__',
          '{',
          '}',
          '[',
          ']',
          ':',
          '"',
          "'",
          '\n',
          '#',
          '!!js/function',
          '%YAML 1.2\n---\n',
          '? ',
        ),
        fc.string({ maxLength: 8 }),
      ),
      { maxLength: 40 },
    );
    fc.assert(
      fc.property(yamlish, (parts) => {
        try {
          loadConfig({ file: file(parts.join('')), env: {} });
        } catch (e) {
          return e instanceof ValidationError && e.problems.length > 0;
        }
        return true;
      }),
      { numRuns: fuzzRuns(300) },
    );
  });
});
