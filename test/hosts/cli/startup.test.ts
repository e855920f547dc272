// Start-up stays light: what `snatguard --version`, `--help` and `sockets` load is the static import
// graph of cli.ts, which main.ts loads (every `import … from` that is not `import type`; the commands'
// dynamic imports load only when they run). It must not reach the Kubernetes client, the cloud SDKs, the simulator, the
// config loader (zod, yaml) or the logger. Regression: before commands.ts, program.ts imported every
// command module statically and `--version` loaded all of it (~700 ms).
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');

/** Static value imports (and re-exports) of a TypeScript module: relative ones resolved to .ts paths, packages by name. */
function staticImports(file: string): { local: string[]; packages: string[] } {
  const text = readFileSync(file, 'utf8');
  const local: string[] = [];
  const packages: string[] = [];
  const re = /^(?:import|export)\s+(?!type\s)(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const spec = m[1] as string;
    if (spec.startsWith('.')) local.push(join(dirname(file), spec.replace(/\.js$/, '.ts')));
    else packages.push(spec);
  }
  return { local, packages };
}

function graph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const { local, packages: p } = staticImports(file);
    for (const x of p) packages.add(x);
    local.forEach(visit);
  };
  visit(entry);
  return { files, packages };
}

describe('the commands that need the scanner load it as the scan bundle', () => {
  // replay, demo and snapshot imported their modules themselves: from a build that is the ~2,000
  // modules of the scanner one by one (client-node, the Azure SDK, zod …), ~300 ms more on every replay and
  // on `npm start`, where scan took the one-file bundle (commands.ts runCommands()).
  const text = readFileSync(join(root, 'src/hosts/cli/commands.ts'), 'utf8');
  // Dynamic imports (a type's `typeof import(…)` loads nothing).
  const dynamic = [...text.matchAll(/(?<!typeof )import\((['"])([^'"]+)\1\)/g)].map((m) => m[2]);

  it('run-commands.js is imported only by runCommands() (the bundle when fresh), demo.js and snapshot.js not at all', () => {
    expect(dynamic.filter((s) => s === './run-commands.js')).toHaveLength(1);
    expect(text).toMatch(/return bundle \? import\(bundle\) : import\('\.\/run-commands\.js'\);/);
    expect(dynamic).not.toContain('./demo.js');
    expect(dynamic).not.toContain('./snapshot.js');
    for (const action of ['scanAction', 'replayAction', 'demoAction', 'snapshotAction'])
      expect(text, action).toContain(`(await runCommands()).${action}(`);
  });
});

describe('CLI start-up import graph', () => {
  const { files, packages } = graph(join(root, 'src/hosts/cli/cli.ts'));

  it('main.ts imports only what finds the CLI bundle (the CLI loads as one module when it is fresh)', () => {
    const main = graph(join(root, 'src/hosts/cli/main.ts'));
    expect([...main.files].map((f) => f.slice(root.length + 1)).sort()).toEqual([
      'src/hosts/cli/fresh-bundle.ts',
      'src/hosts/cli/main.ts',
    ]);
    expect([...main.packages].filter((p) => !p.startsWith('node:'))).toEqual([]);
  });
  const rel = [...files].map((f) => f.slice(root.length + 1));

  it('reaches only commander and node built-ins among packages', () => {
    expect([...packages].filter((p) => !p.startsWith('node:'))).toEqual(['commander']);
  });

  it.each([
    'src/cluster/connect.ts',
    'src/run.ts',
    'src/compose.ts',
    'src/sim/server.ts',
    'src/advice/capacity-plan.ts',
    'src/advice/capacity.ts',
    'src/sim/snapshot.ts',
    'src/config/index.ts',
    'src/log.ts',
    'src/hosts/cli/run-commands.ts',
    'src/hosts/cli/sim.ts',
    'src/hosts/cli/demo.ts',
    'src/hosts/cli/snapshot.ts',
    'src/snapshot/read.ts',
  ])('does not load %s at start-up', (heavy) => {
    expect(rel).not.toContain(heavy);
  });

  it('still loads the light commands it serves at once (sockets)', () => {
    expect(rel).toContain('src/hosts/cli/sockets.ts');
    expect(rel).toContain('src/sockets/summary.ts');
  });
});
