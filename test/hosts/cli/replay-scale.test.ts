// A generated cluster (test/bench/snapshots.ts: 30 nodes, 900 pods, 3 hot nodes, every hot-node pod of a
// different workload) replayed through the CLI in process: every hot pod inspected, no errors, and no
// MaxListenersExceededWarning (regression: three nodes' execs and then ~30 owner reads at once held more
// abort listeners on the run's signal than its ceiling, and replay printed the warning).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { program } from '../../../src/hosts/cli/program.js';
import { scaleSnapshot } from '../../bench/snapshots.js';

let out = '';
let dir: string;
const warnings: string[] = [];
const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
beforeEach(() => {
  out = '';
  warnings.length = 0;
  dir = mkdtempSync(join(tmpdir(), 'sg-scale-'));
  process.exitCode = undefined;
  process.on('warning', onWarning);
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterEach(() => {
  process.off('warning', onWarning);
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
  process.exitCode = undefined;
});

describe('replay of a generated 30-node cluster', () => {
  it('inspects every pod of the 3 hot nodes with no errors and no MaxListenersExceededWarning', async () => {
    const file = join(dir, 'scale-30.json');
    writeFileSync(file, JSON.stringify(scaleSnapshot({ nodes: 30, pods: 900, hotNodes: 3 })));
    await program().parseAsync(['replay', file, '-o', 'json'], { from: 'user' });
    await new Promise((r) => setImmediate(r));
    const report = JSON.parse(out) as {
      status: string;
      errors: unknown[];
      nodes: { hot: boolean; podsInspected: number }[];
    };
    expect(process.exitCode ?? 0).toBe(0);
    expect(report.errors).toEqual([]);
    expect(report.nodes.filter((n) => n.hot).map((n) => n.podsInspected)).toEqual([31, 31, 31]);
    expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([]);
  }, 60_000);
});
