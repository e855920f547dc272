// main.ts turns on Node's module compile cache where the runtime has one (module.enableCompileCache, Node
// 22.1 and later: production's Node 22), in the default place (os.tmpdir()/node-compile-cache, so TMPDIR
// moves it) and not where NODE_DISABLE_COMPILE_CACHE=1 says no; on Node 20 (no such API) nothing is written.
// CI runs this file on both.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNode, useCliBundle } from '../../cli-bundle.js';

const cli = useCliBundle('snatguard-compile-cache-');
const supported = typeof (module as { enableCompileCache?: unknown }).enableCompileCache === 'function';
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'snatguard-tmpdir-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Files under dir, recursively ([] when it does not exist). */
async function filesUnder(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

describe(`the CLI's compile cache (Node ${process.version}: ${supported ? 'has' : 'has no'} module.enableCompileCache)`, () => {
  it('is written under TMPDIR/node-compile-cache where the runtime has one, and nowhere on Node 20', async () => {
    const own = join(tmp, 'on');
    const r = await runNode([cli.bundle, '--version'], { HOME: cli.home, TMPDIR: own });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const files = await filesUnder(join(own, 'node-compile-cache'));
    if (supported) expect(files.length).toBeGreaterThan(0);
    else expect(files).toEqual([]);
  });

  it('is not written when NODE_DISABLE_COMPILE_CACHE=1', async () => {
    const own = join(tmp, 'off');
    const r = await runNode([cli.bundle, '--version'], {
      HOME: cli.home,
      TMPDIR: own,
      NODE_DISABLE_COMPILE_CACHE: '1',
    });
    expect(r.code).toBe(0);
    expect(await filesUnder(join(own, 'node-compile-cache'))).toEqual([]);
  });
});
