// infra/docker/Dockerfile: no Docker daemon here, so check its structure against the repository:
// multi-stage node:22-slim, everything the build reads is copied in, runs as `node`, and the
// entrypoint is the package's CLI bin.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRepoFile, repoRoot } from './helpers.js';

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

/** Instructions with line continuations joined and comments dropped; `stage` counts FROMs from 0. */
function instructions(text: string): Instruction[] {
  const joined = text.replace(/\\\n\s*/g, ' ');
  const out: Instruction[] = [];
  let stage = -1;
  for (const line of joined.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const m = /^(\w+)\s+(.*)$/.exec(t);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    if (op === 'FROM') stage++;
    out.push({ op, args: m[2]!, stage });
  }
  return out;
}

const dockerfile = instructions(readRepoFile('infra/docker/Dockerfile'));
const pkg = JSON.parse(readRepoFile('package.json')) as { bin: Record<string, string> };

describe('infra/docker/Dockerfile', () => {
  it('builds on node:22-slim and runs on node:22-slim, in two stages', () => {
    expect(dockerfile.filter((i) => i.op === 'FROM').map((i) => i.args)).toEqual([
      'node:22-slim AS build',
      'node:22-slim',
    ]);
  });

  it('installs with npm ci and builds with npm run build in the build stage', () => {
    const runs = dockerfile.filter((i) => i.op === 'RUN' && i.stage === 0).map((i) => i.args);
    expect(runs.some((r) => r.startsWith('npm ci'))).toBe(true);
    expect(runs.some((r) => r.includes('npm run build'))).toBe(true);
    expect(runs.some((r) => r.includes('npm prune --omit=dev'))).toBe(true);
  });

  it('copies in every file the build reads, and each exists', () => {
    const copied = dockerfile
      .filter((i) => i.op === 'COPY' && i.stage === 0)
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const path of copied) expect(existsSync(join(repoRoot, path)), path).toBe(true);
    const build = JSON.parse(readRepoFile('tsconfig.build.json')) as { include: string[] };
    for (const dir of build.include) expect(copied, `tsconfig.build.json includes ${dir}`).toContain(dir);
    expect(copied).toEqual(
      expect.arrayContaining(['package.json', 'package-lock.json', 'tsconfig.json', 'scripts']),
    );
  });

  it('runs as the non-root node user, the package CLI as entrypoint, scan by default', () => {
    const runtime = dockerfile.filter((i) => i.stage === 1);
    expect(runtime.filter((i) => i.op === 'USER').map((i) => i.args)).toEqual(['node']);
    const entrypoint = JSON.parse(runtime.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
    expect(entrypoint).toEqual(['node', 'dist/src/hosts/cli/main.js']);
    expect(entrypoint[1]).toBe(pkg.bin.snatguard);
    expect(JSON.parse(runtime.find((i) => i.op === 'CMD')!.args)).toEqual(['scan', '--output', 'json']);
    expect(runtime.filter((i) => i.op === 'RUN')).toEqual([]); // nothing installed at runtime
  });
});
