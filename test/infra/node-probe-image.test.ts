// infra/docker/node-probe.Dockerfile: no Docker daemon here, so check what the image is made of: the
// conntrack binary with its libraries on an empty base, the pause binary as its process, and nothing
// that would let NET_ADMIN be used another way (no shell, no package manager in the final stage).
import { describe, expect, it } from 'vitest';
import { CONNTRACK_LIST } from '../../src/cluster/node-flows.js';
import { readRepoFile } from './helpers.js';

const text = readRepoFile('infra/docker/node-probe.Dockerfile');
const lines = text
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const stages = lines.reduce<string[][]>((acc, l) => {
  if (l.startsWith('FROM ')) acc.push([l]);
  else acc.at(-1)?.push(l);
  return acc;
}, []);

describe('infra/docker/node-probe.Dockerfile', () => {
  it('builds conntrack-tools in a pinned Alpine stage and checks the binary runs', () => {
    expect(stages[0]?.[0]).toBe('FROM alpine:3.20 AS tools');
    expect(stages[0]?.join(' ')).toMatch(/apk add --no-cache conntrack-tools/);
    expect(stages[0]?.join(' ')).toMatch(/conntrack --version/);
  });

  it('ends on scratch with only conntrack, its libraries and pause: no shell to use NET_ADMIN with', () => {
    const final = stages.at(-1)!;
    expect(final[0]).toBe('FROM scratch');
    expect(final.filter((l) => l.startsWith('RUN'))).toEqual([]);
    expect(final).toContain('COPY --from=tools /out/ /');
    expect(final).toContain('COPY --from=pause /pause /pause');
    expect(final.at(-1)).toBe('ENTRYPOINT ["/pause"]');
    expect(stages.map((s) => s[0])).toContain('FROM registry.k8s.io/pause:3.10 AS pause');
  });

  it('carries the binary snatguard runs', () => {
    expect(CONNTRACK_LIST[0]).toBe('conntrack');
    expect(text).toContain('cp /usr/sbin/conntrack /out/usr/sbin/conntrack');
  });
});
