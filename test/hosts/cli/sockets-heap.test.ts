// `snatguard sockets` holds V8's young generation near its first size (src/hosts/heap.ts), as scan does:
// in a fresh process (a V8 flag is process-wide), short-lived garbage after the command ran leaves the
// semi-spaces as they were; the same garbage without the command doubles them (so the check can fail).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { YOUNG_GARBAGE } from '../young-garbage.js';

const dir = mkdtempSync(join(tmpdir(), 'snatguard-sockets-heap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PROBE = `import v8 from 'node:v8';
import { socketsCommand } from './sockets.mjs';
const out = { write: () => true };
if (process.argv[2] === 'run')
  await socketsCommand({ stdout: out, stderr: out, stdin: async function* () {} }).parseAsync(
    ['-o', 'json', process.argv[3]],
    { from: 'user' },
  );
${YOUNG_GARBAGE}
console.log(JSON.stringify({ start, max, code: process.exitCode ?? 0 }));
`;

describe('sockets and the young generation', () => {
  it('after the command, short-lived garbage leaves the semi-spaces near their size; without it they grow', async () => {
    await build({
      entryPoints: [join(__dirname, '../../../src/hosts/cli/sockets.ts')],
      outfile: join(dir, 'sockets.mjs'),
      bundle: true,
      format: 'esm',
      platform: 'node',
      // commander bundled too (the probe runs outside the package); its require() of built-ins needs one.
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
      logLevel: 'silent',
    });
    writeFileSync(join(dir, 'probe.mjs'), PROBE);
    const table = join(dir, 'tcp');
    writeFileSync(table, readFileSync(join(__dirname, '../../fixtures/proc/incident-tcp.txt')));
    const probe = (mode: 'run' | 'skip') => {
      const out = spawnSync(process.execPath, [join(dir, 'probe.mjs'), mode, table], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(out.stderr).toBe('');
      return JSON.parse(out.stdout) as { start: number; max: number; code: number };
    };
    const without = probe('skip');
    const ran = probe('run');
    expect(ran.code).toBe(0);
    expect(without.max).toBeGreaterThanOrEqual(8 * without.start);
    expect(ran.max).toBeLessThanOrEqual(2 * ran.start);
  });
});
