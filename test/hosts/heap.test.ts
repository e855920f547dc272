// keepYoungGenerationSmall, in a fresh process (a flag of V8 is process-wide): short-lived garbage, as a
// scan's streaming makes, no longer doubles the young generation. The same loop without it shows that the
// loop does grow it (so the first check can fail).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { YOUNG_GARBAGE } from './young-garbage.js';

const dir = mkdtempSync(join(tmpdir(), 'snatguard-heap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PROBE = `import v8 from 'node:v8';
import { keepYoungGenerationSmall } from './heap.mjs';
if (process.argv[2] === 'on') keepYoungGenerationSmall();
${YOUNG_GARBAGE}
console.log(JSON.stringify({ start, max }));
`;

async function probe(mode: 'on' | 'off'): Promise<{ start: number; max: number }> {
  const out = spawnSync(process.execPath, [join(dir, 'probe.mjs'), mode], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(out.status).toBe(0);
  return JSON.parse(out.stdout) as { start: number; max: number };
}

describe('keepYoungGenerationSmall', () => {
  it('keeps the semi-spaces near their first size under short-lived garbage; without it they grow', async () => {
    await build({
      entryPoints: [join(__dirname, '../../src/hosts/heap.ts')],
      outfile: join(dir, 'heap.mjs'),
      format: 'esm',
      platform: 'node',
      logLevel: 'silent',
    });
    writeFileSync(join(dir, 'probe.mjs'), PROBE);
    const off = await probe('off');
    const on = await probe('on');
    expect(off.max).toBeGreaterThanOrEqual(8 * off.start);
    expect(on.max).toBeLessThanOrEqual(2 * on.start);
  });
});
