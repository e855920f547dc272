// After tsc: make the CLI entry executable and link it as node_modules/.bin/snatguard, so that in a
// checkout `npx snatguard …` (and tools that call node_modules/.bin/snatguard) run the build, as they
// would in a project that installed the package. npm ci runs this through the prepare script.
// Then bundles the scan command's modules (scripts/bundle-cli.mjs) and the simulator's process
// (scripts/bundle-sim.mjs).
import { chmodSync, existsSync, lstatSync, mkdirSync, symlinkSync, unlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleCli } from './bundle-cli.mjs';
import { bundleSim } from './bundle-sim.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'dist/src/hosts/cli/main.js');
if (existsSync(bin)) {
  chmodSync(bin, 0o755);
  const binDir = join(root, 'node_modules/.bin');
  if (existsSync(join(root, 'node_modules'))) {
    mkdirSync(binDir, { recursive: true });
    const link = join(binDir, 'snatguard');
    try {
      if (lstatSync(link)) unlinkSync(link);
    } catch {
      // no link yet
    }
    symlinkSync(relative(binDir, bin), link);
  }
}

await bundleCli();
await bundleSim();
