// Fuzz of the two loaders a user feeds (issue 16, "config and snapshot loaders: every problem exit 2, never
// a throw"): random YAML-ish text, and a valid document with one value anywhere replaced by a hostile one
// (wrong type, huge number, __proto__, control characters, emoji, nesting) or removed, or an unknown key
// added. Either the document loads, or a ValidationError (exit 2) lists its problems; nothing else is thrown.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { ValidationError } from '../../src/errors.js';
import { examplePath } from '../../src/paths.js';
import { parseSnapshot } from '../../src/sim/snapshot.js';
import { fuzzRuns } from './fuzz.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

/** Every path in `doc` (containers and leaves). */
function pathsOf(doc: Json, at: Path = []): Path[] {
  const out: Path[] = [at];
  if (Array.isArray(doc)) {
    for (const [i, v] of doc.entries()) out.push(...pathsOf(v, [...at, i]));
  } else if (doc !== null && typeof doc === 'object')
    for (const [k, v] of Object.entries(doc)) out.push(...pathsOf(v, [...at, k]));
  return out;
}

type Edit = { op: 'set'; value: Json } | { op: 'delete' } | { op: 'add'; key: string; value: Json };

function edited(doc: Json, path: Path, edit: Edit): Json {
  const copy = structuredClone(doc);
  if (path.length === 0) return edit.op === 'set' ? edit.value : copy;
  let parent = copy as Record<string | number, Json>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, Json>;
  const last = path[path.length - 1]!;
  if (edit.op === 'set') parent[last] = edit.value;
  else if (edit.op === 'delete') {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else {
    const target = parent[last];
    if (target !== null && typeof target === 'object' && !Array.isArray(target))
      Object.defineProperty(target, edit.key, { value: edit.value, enumerable: true, writable: true });
  }
  return copy;
}

const hostileScalar: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(
    null,
    true,
    false,
    0,
    -1,
    1e308,
    -1e308,
    2 ** 53 + 1,
    0.5,
    '',
    ' ',
    '__proto__',
    'constructor',
    '\x1b]8;;http://evil.example\x07link\x1b]8;;\x07',
    '\x1b[2J\x1b[H',
    '👨‍👩‍👧‍👦'.repeat(50),
    'x'.repeat(5000),
    '10.0.0.0/99',
    '999.1.1.1:99999',
    '-5',
    'NaN',
    '1e400',
    'restart',
    'Deployment',
  ),
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.double(),
);
const hostile: fc.Arbitrary<Json> = fc.oneof(
  hostileScalar,
  fc.array(hostileScalar, { maxLength: 4 }),
  fc.dictionary(fc.constantFrom('a', '__proto__', 'name', 'kind', 'count'), hostileScalar, { maxKeys: 3 }),
);
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), value: hostile }),
  fc.constant({ op: 'delete' as const }),
  fc.record({
    op: fc.constant('add' as const),
    key: fc.constantFrom('unknown', '__proto__', 'constructor', 'x-y'),
    value: hostile,
  }),
);

/** Loaded, or a ValidationError with problems; false on any other throw (or a ValidationError without problems). */
function loadsOrNamesProblems(load: () => unknown): boolean {
  try {
    load();
    return true;
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    return e.problems.length > 0 && e.problems.every((p) => typeof p === 'string' && p.length > 0);
  }
}

const yamlish = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        'apiVersion: snatguard.io/v1\n',
        'kind: Snapshot\n',
        'nodes:\n',
        'workloads:\n',
        '  - ',
        'name: ',
        'sockets: ',
        '{',
        '}',
        '[',
        ']',
        '&a ',
        '*a',
        '<<: ',
        '!!binary ',
        '? ',
        '"',
        '\n',
        '  ',
        '#',
        '---\n',
      ),
      fc.string({ maxLength: 8 }),
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(''));

const examples = ['aks-mongo-leak.yaml', 'eks-conntrack.yaml'].map(
  (f) => parse(readFileSync(examplePath(f), 'utf8')) as Json,
);
const dir = mkdtempSync(join(tmpdir(), 'snatguard-fuzz-config-'));
let n = 0;
const file = (text: string): string => {
  const path = join(dir, `c${n++}.yaml`);
  writeFileSync(path, text);
  return path;
};
const aConfig: Json = {
  mode: 'restart',
  deadlineSeconds: 60,
  rails: {
    maxRestartsPerRun: 1,
    cooldownMinutes: 60,
    settleMinutes: 10,
    namespaces: { exclude: ['kube-system'] },
  },
  thresholds: { snatUsedRatio: 0.8 },
  notify: { slack: { webhookUrl: 'https://hooks.slack.example/services/T/B/X' } },
  network: { clusterCidrs: ['10.244.0.0/16'] },
  lock: { ttlSeconds: 600 },
  cluster: { requestTimeoutSeconds: 20 },
};

describe('hostile snapshot files (found by the fuzz below)', () => {
  const problemsOf = (text: string): string[] => {
    try {
      parseSnapshot(text, 'hostile.yaml');
    } catch (e) {
      if (e instanceof ValidationError) return e.problems;
      throw e;
    }
    return [];
  };
  it('an unresolved alias is a problem of the file (failed before: ReferenceError, exit 3)', () => {
    expect(problemsOf('apiVersion: *a\n')).toEqual([expect.stringMatching(/Unresolved alias.*a/)]);
  });
  it('an alias bomb is a problem of the file (failed before: ReferenceError, exit 3)', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
      'e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]',
    ].join('\n');
    expect(problemsOf(bomb)).toEqual([expect.stringMatching(/Excessive alias count/)]);
  });
});

describe('snapshot loader under fuzz', () => {
  it(`any text: a Snapshot or a ValidationError (fast-check, ${fuzzRuns(300)} cases)`, () => {
    fc.assert(
      fc.property(yamlish, (text) => loadsOrNamesProblems(() => parseSnapshot(text, 'fuzz.yaml'))),
      { numRuns: fuzzRuns(300) },
    );
  });

  it(`an example with one value changed anywhere: a Snapshot or a ValidationError (fast-check, ${fuzzRuns(100)} cases)`, () => {
    const cases = fc
      .constantFrom(...examples)
      .chain((doc) => fc.tuple(fc.constant(doc), fc.constantFrom(...pathsOf(doc)), edit));
    fc.assert(
      fc.property(cases, ([doc, path, e]) =>
        loadsOrNamesProblems(() => parseSnapshot(stringify(edited(doc, path, e)), 'fuzz.yaml')),
      ),
      { numRuns: fuzzRuns(100) },
    );
  });
});

describe('config loader under fuzz', () => {
  it(`a config file with one value changed anywhere: a Config or a ValidationError (fast-check, ${fuzzRuns(300)} cases)`, () => {
    fc.assert(
      fc.property(fc.constantFrom(...pathsOf(aConfig)), edit, (path, e) =>
        loadsOrNamesProblems(() => loadConfig({ file: file(stringify(edited(aConfig, path, e))), env: {} })),
      ),
      { numRuns: fuzzRuns(300) },
    );
  });

  it(`SNATGUARD_* variables with any name and value: a Config or a ValidationError (fast-check, ${fuzzRuns(300)} cases)`, () => {
    const name = fc.oneof(
      fc.constantFrom(
        'SNATGUARD_MODE',
        'SNATGUARD_RAILS_MAX_RESTARTS_PER_RUN',
        'SNATGUARD_RAILS_SETTLE_MINUTES',
        'SNATGUARD_DEADLINE_SECONDS',
        'SNATGUARD_NETWORK_CLUSTER_CIDRS',
        'SNATGUARD_LOG_LEVEL',
        'SNATGUARD___PROTO__',
        'SNATGUARD_',
        'SNATGUARD_NOTIFY_SLACK_WEBHOOK_URL',
      ),
      fc.string({ maxLength: 12 }).map((s) => `SNATGUARD_${s.toUpperCase()}`),
    );
    fc.assert(
      fc.property(
        fc.dictionary(name, fc.oneof(fc.string({ maxLength: 30 }), hostileScalar.map(String))),
        (env) => loadsOrNamesProblems(() => loadConfig({ env })),
      ),
      { numRuns: fuzzRuns(300) },
    );
  });

  it('the valid base documents load (the fuzz starts from something that works)', () => {
    for (const doc of examples) expect(() => parseSnapshot(stringify(doc), 'example.yaml')).not.toThrow();
    expect(() => loadConfig({ file: file(stringify(aConfig)), env: {} })).not.toThrow();
  });
});
