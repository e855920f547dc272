// After tsc: the simulator's process (dist/src/sim/worker.js and all it imports) as one esbuild bundle in
// dist/src/sim/bundle/. `replay` and `demo` start it as a child process (src/sim/off-thread.ts) and the
// scanner waits for it: its ~200 ms of loading small modules one by one (zod, yaml, the routes) came
// before a large snapshot could be read, on the path of every replay whose simulator is slower to be
// ready than its scanner (a 3,000-node cluster). As one file it loads in ~60 ms. off-thread.ts forks it
// when it is there and not older than the build, else the CLI entry (the modules themselves).
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scanBundleOptions } from './bundle-cli.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The esbuild options of the simulator's bundle (test/sim/off-thread.test.ts builds it from the sources). */
export function simBundleOptions(
  entry = join(root, 'dist/src/sim/worker.js'),
  outdir = join(root, 'dist/src/sim/bundle'),
) {
  // The scan bundle's settings (ES modules, node20, names kept, require() for CommonJS dependencies).
  return { ...scanBundleOptions(entry, outdir, []), entryPoints: { worker: entry } };
}

export async function bundleSim() {
  let build;
  try {
    ({ build } = await import('esbuild'));
  } catch {
    // esbuild is a dev dependency: without it the simulator loads its modules one by one (slower, the same code).
    process.stderr.write('bundle-sim: esbuild not installed; the simulator loads its modules unbundled\n');
    return;
  }
  const options = simBundleOptions();
  rmSync(options.outdir, { recursive: true, force: true });
  await build(options);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await bundleSim();
