// Which build output the CLI loads: a one-file bundle that `npm run build` writes after tsc
// (scripts/bundle-cli.mjs), when it is there and not older than the build's last tsc run.
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * `name` (a path relative to `here`, a module of dist/src/hosts/cli/) when that file exists and is not older
 * than dist/.tsbuildinfo, which tsc (tsconfig.build.json) rewrites whenever it emits; else undefined (the
 * TypeScript sources under vitest, a tsc run without the bundle step, a build without esbuild).
 */
export function freshBundle(name: string, here: string): string | undefined {
  const bundle = new URL(name, here);
  if (bundle.protocol !== 'file:') return undefined;
  const mtime = (url: URL): number | undefined =>
    statSync(fileURLToPath(url), { throwIfNoEntry: false })?.mtimeMs;
  const built = mtime(bundle);
  if (built === undefined) return undefined;
  return built >= (mtime(new URL('../../../.tsbuildinfo', here)) ?? 0) ? bundle.href : undefined;
}
