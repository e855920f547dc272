// The CLI's own bundle (scripts/bundle-cli.mjs, cli.bundle.js beside cli.js), which main.js loads when it
// is fresh: built here from the sources with the build's own options, it is cli.ts and its static imports
// in one module (was: ~20 modules loaded one by one at every command's start, ~13 ms more), commander and
// the commands' own modules stay outside it, and it answers as the CLI does.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshBundle } from '../../../src/hosts/cli/fresh-bundle.js';
import { packageRoot } from '../../../src/paths.js';
import { runNode } from '../../cli-bundle.js';

const root = packageRoot();
// Under the package (as the build's, beside cli.js): the bundle finds commander in node_modules.
const dir = join(root, 'node_modules', '.cache', 'snatguard-test', `cli-own-bundle-${process.pid}`);
const outfile = join(dir, 'cli.bundle.mjs');
let metafile: Metafile;

beforeAll(async () => {
  const { cliBundleOptions } = (await import(join(root, 'scripts/bundle-cli.mjs'))) as {
    cliBundleOptions(entry: string, outfile: string): BuildOptions;
  };
  await mkdir(dir, { recursive: true });
  ({ metafile } = await build({
    ...cliBundleOptions(join(root, 'src/hosts/cli/cli.ts'), outfile),
    logLevel: 'silent',
    metafile: true,
  }));
}, 60_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the CLI's own bundle", () => {
  it("holds cli.ts and its static imports; commander and the commands' modules stay outside", () => {
    const inputs = Object.keys(metafile.inputs);
    for (const f of ['src/hosts/cli/cli.ts', 'src/hosts/cli/program.ts', 'src/hosts/cli/sockets.ts'])
      expect(inputs).toContain(f);
    expect(inputs.filter((f) => f.includes('node_modules/'))).toEqual([]);
    for (const heavy of ['run-commands', 'src/run.ts', 'src/sim/', 'src/cluster/'])
      expect(inputs.filter((f) => f.includes(heavy))).toEqual([]);
    const imports = Object.values(metafile.outputs)[0]!.imports;
    expect(imports.filter((i) => i.kind === 'import-statement').map((i) => i.path)).toContain('commander');
    const dynamic = imports.filter((i) => i.kind === 'dynamic-import').map((i) => i.path);
    // As written in the sources, relative to cli.js's directory, where the bundle is written.
    expect(dynamic).toContain('./run-commands.js');
    expect(dynamic.every((p) => p.startsWith('./') || p.startsWith('../'))).toBe(true);
  });

  it('answers --version and sockets as the CLI does', async () => {
    const version = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')).version as string;
    const v = await runNode([outfile, '--version'], {});
    expect(v).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: '' });
    const table = join(dir, 'tcp');
    await writeFile(
      table,
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n' +
        '   0: AC00F00A:8000 C2906714:6989 01 00000000:00000000 00:00000000 00000000  1001        0 1000 1 0000000000000000 20 4 0 10 -1\n',
    );
    const s = await runNode([outfile, 'sockets', table, '-o', 'json'], {});
    expect(s.code).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ lines: 1, parsed: 1 });
  });

  it('main.js takes it only when fresh (the same rule as the scan bundle: not older than the last tsc run)', () => {
    // From the TypeScript sources there is no bundle beside main.ts: the modules load.
    expect(
      freshBundle('./cli.bundle.js', new URL('../../../src/hosts/cli/main.ts', import.meta.url).href),
    ).toBe(undefined);
  });
});
