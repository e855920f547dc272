// Issue 13: a 100k-pod JSON snapshot loads at JSON.parse speed. Two fast paths stand in for slow exact
// ones, and must never accept what those reject: the duplicate-key proof by counting (else the scan) and
// the hand check of pods (else zod on the whole file). Every problem is still named with its path.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ValidationError } from '../../src/errors.js';
import { parseSnapshot, validated } from '../../src/sim/snapshot.js';
import { scaleSnapshot } from '../bench/snapshots.js';

const problemsOf = (text: string): string[] => {
  try {
    parseSnapshot(text, 'bad.json');
  } catch (e) {
    if (e instanceof ValidationError) return e.problems;
    throw e;
  }
  throw new Error('expected a ValidationError');
};

const base = () => ({
  apiVersion: 'snatguard.io/v1',
  kind: 'Snapshot',
  metadata: { name: 't' },
  nodes: [{ name: 'n1' }, { name: 'n2' }],
  workloads: [
    {
      kind: 'Deployment',
      namespace: 'shop',
      name: 'api',
      pods: [
        { node: 'n1', sockets: [{ local: ':8080', state: 'LISTEN' }] },
        { node: 'n2', sockets: [{ remote: '20.103.144.194:27017', state: 'ESTABLISHED', count: 3 }] },
      ],
    },
  ],
});

describe('duplicate keys in JSON', () => {
  const dup = 'line 1, column';
  it.each([
    ['a repeated key', '{"a":1,"a":2}'],
    // Strings that write `":` inside themselves must not hide a repeated key from the count.
    ['a repeated key beside a value starting with a colon', '{"l":":8080","l":":8080"}'],
    ['a repeated key beside a quote-colon inside a string', '{"x":"say \\":\\" twice","x":1}'],
    ['a repeated key whose dropped value held a colon', '{"x":":a","x":"b"}'],
    ['a repeated key in a nested object', '{"a":{"b":1,"c":{"d":1,"d":1}}}'],
    ['a repeated key written with \\u escapes', '{"a":"\\u0022:","a":1}'],
    ['a repeated key with space before its colon', '{"a" :1,"a" :2}'],
    ['a repeated key in pretty-printed JSON', '{\n  "a": 1,\n  "a": 2\n}'],
    ['a repeated key whose name writes a quote-colon', '{"k\\":":1,"k\\":":2}'],
    ['a repeated key beside keys whose names hold colons', '{"a:b":1,"c: d":{"e":1,"e":2}}'],
  ])('%s is reported', (_what, text) => {
    expect(problemsOf(text).some((p) => p.startsWith('line') && p.endsWith('Map keys must be unique'))).toBe(
      true,
    );
    expect(problemsOf(text).join('\n')).toContain(text.includes('\n') ? 'line 3' : dup);
  });

  it('distinct keys with colons, quotes and escapes in their strings are not reported', () => {
    const s = base();
    const text = JSON.stringify({
      ...s,
      metadata: { name: 't', description: ':a "b": \\":" c:\u0001 ::' },
    });
    expect(parseSnapshot(text, 'ok.json').metadata.description).toBe(':a "b": \\":" c:\u0001 ::');
    // Keys whose names hold colons and quote-colons: no repeated key (other problems, as zod finds them).
    const odd = JSON.stringify({ ...s, metadata: { name: 't', 'x":': 1, 'y:': 2, ':z': 3 } });
    expect(problemsOf(odd).some((p) => p.endsWith('Map keys must be unique'))).toBe(false);
    expect(problemsOf(odd).length).toBeGreaterThan(0);
  });
});

describe('pods checked by hand, then by zod', () => {
  const withPod = (pod: unknown) => {
    const s = base();
    (s.workloads[0]!.pods as unknown[])[1] = pod;
    return JSON.stringify(s);
  };
  const socket = { remote: '20.103.144.194:27017', state: 'ESTABLISHED' };
  it.each([
    ['count not an integer', { node: 'n2', sockets: [{ ...socket, count: 1.5 }] }, 'sockets[0].count'],
    ['count negative', { node: 'n2', sockets: [{ ...socket, count: -1 }] }, 'sockets[0].count'],
    ['count above its cap', { node: 'n2', sockets: [{ ...socket, count: 1_000_001 }] }, 'sockets[0].count'],
    ['count a string', { node: 'n2', sockets: [{ ...socket, count: '3' }] }, 'sockets[0].count'],
    ['an unknown state', { node: 'n2', sockets: [{ ...socket, state: 'OPEN' }] }, 'sockets[0].state'],
    ['an unknown family', { node: 'n2', sockets: [{ ...socket, family: 'ip4' }] }, 'sockets[0].family'],
    ['an unknown socket field', { node: 'n2', sockets: [{ ...socket, port: 1 }] }, 'sockets[0].port'],
    ['a socket that is not an object', { node: 'n2', sockets: [null] }, 'sockets[0]'],
    ['sockets not a list', { node: 'n2', sockets: { a: 1 } }, 'sockets'],
    ['remote not a string', { node: 'n2', sockets: [{ ...socket, remote: 5 }] }, 'sockets[0].remote'],
    ['an empty name', { node: 'n2', name: '' }, 'name'],
    ['no node', { sockets: [] }, 'node'],
    ['an empty node', { node: '' }, 'node'],
    ['ip not a string', { node: 'n2', ip: 10 }, 'ip'],
    ['hostNetwork not a boolean', { node: 'n2', hostNetwork: 'yes' }, 'hostNetwork'],
    ['an unknown exec behaviour', { node: 'n2', exec: 'maybe' }, 'exec'],
    ['an unknown pod field', { node: 'n2', nodeName: 'n2' }, 'nodeName'],
    ['a pod that is not an object', 'n2', ''],
  ])('%s is named with its path', (_what, pod, field) => {
    const at = `workloads[0].pods[1]${field === '' ? '' : field.startsWith('[') ? field : `.${field}`}`;
    const problems = problemsOf(withPod(pod));
    expect(problems.some((p) => p.startsWith(`${at}:`))).toBe(true);
  });

  it('a problem outside the pods is still named when every pod is fine, and every problem at once', () => {
    const s = base() as Record<string, unknown>;
    s.nodes = [{ name: 'n1', color: 'red' }, { name: 'n2' }];
    const problems = problemsOf(JSON.stringify(s));
    expect(problems).toEqual(['nodes[0].color: unknown field']);
    (s.workloads as { pods: unknown[] }[])[0]!.pods[0] = { node: 'n1', sockets: [{ state: 'NOPE' }] };
    expect(problemsOf(JSON.stringify(s))).toEqual(
      expect.arrayContaining([
        'nodes[0].color: unknown field',
        expect.stringMatching(/^workloads\[0\]\.pods\[0\]\.sockets\[0\]\.state:/),
      ]),
    );
  });

  it('a socket line written by many pods is parsed once, and its problem is named at each of them', () => {
    const s = base();
    const bad = { remote: '20.103.144.194:99999', state: 'ESTABLISHED' };
    s.workloads[0]!.pods = [
      { node: 'n1', sockets: [{ local: ':8080', state: 'LISTEN' }, bad] },
      { node: 'n2', sockets: [bad] },
    ] as never;
    expect(problemsOf(JSON.stringify(s))).toEqual([
      'workloads[0].pods[0].sockets[1].remote: port 99999 out of range 1-65535',
      'workloads[0].pods[1].sockets[0].remote: port 99999 out of range 1-65535',
    ]);
  });

  it('loads every example and a generated cluster exactly as zod alone does', () => {
    const files = readdirSync('examples').filter((f) => /\.ya?ml$/.test(f));
    const data = [
      ...files.map((f) => parseYaml(readFileSync(`examples/${f}`, 'utf8')) as unknown),
      scaleSnapshot({ nodes: 30, pods: 900, hotNodes: 3 }),
    ];
    for (const d of data) expect(validated(d, 'x', true)).toEqual(validated(d, 'x', false));
  });
});
