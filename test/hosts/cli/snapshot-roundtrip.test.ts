// Round trip (issue 15): serve snapshot S with the simulator; capture it with `snatguard snapshot` (a fresh
// process that reaches the simulator ONLY through the lines `snatguard sim` prints); replay the capture C
// and S; the decisions are the same: hot nodes, offenders (with their sockets and destinations), actions
// with skip reasons, recommendation ids.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../../src/paths.js';
import { parseSnapshot, type Snapshot } from '../../../src/sim/snapshot.js';
import { useCliBundle } from '../../cli-bundle.js';
import { example } from '../../e2e/harness.js';
import { captureThroughSimEnv, captureWorld, decisions, replay } from './snapshot-helpers.js';

const cli = useCliBundle('snatguard-home-');

const capture = (snapshot: Snapshot, args: string[] = [], env: Record<string, string> = {}) =>
  captureThroughSimEnv(cli.bundle, cli.home, snapshot, args, env);

const examples = (await readdir(join(packageRoot(), 'examples')))
  .filter((f) => /\.(ya?ml|json)$/.test(f))
  .sort();

describe('snatguard snapshot: round trip of every example', () => {
  it('covers every file in examples/', () => {
    expect(examples.length).toBeGreaterThanOrEqual(5);
  });

  it.each(examples)(
    '%s: replaying the capture decides what replaying the example decides',
    async (file) => {
      const original = await example(file);
      const captured = await capture(original);
      expect(captured.stderr).not.toMatch(/"level":50/);
      expect(captured.code).toBe(0);
      expect(captured.writes).toEqual([]);
      expect(captured.leaked).toEqual([]);
      const snapshot = parseSnapshot(captured.text, `capture of ${file}`);
      // Everything was readable in the simulator: nothing is marked missing.
      expect(snapshot.metadata.capture?.missing).toBeUndefined();
      const [fromOriginal, fromCapture] = await Promise.all([replay(original), replay(snapshot)]);
      // A timeline's first moment may be calm (the leak comes later); every other example has a hot node.
      if (!original.timeline) expect(fromOriginal.nodes.some((n) => n.hot)).toBe(true);
      expect(decisions(fromCapture)).toEqual(decisions(fromOriginal));
      if (file === 'aks-mongo-leak.yaml') {
        // And in restart mode: the same restarts, the same skips.
        const [restartOriginal, restartCapture] = await Promise.all([
          replay(original, { mode: 'restart' }),
          replay(snapshot, { mode: 'restart' }),
        ]);
        expect(restartOriginal.actions.some((a) => a.status === 'applied')).toBe(true);
        expect(decisions(restartCapture)).toEqual(decisions(restartOriginal));
      }
    },
    120_000,
  );
});

// A timeline's later moments: the world with frames applied (a leak grown, nodes added by a scale-out),
// captured and replayed once each, against one run of the simulator at that moment.
const timelineMoments = (
  await Promise.all(
    examples.map(async (file) => {
      const frames = (await example(file)).timeline ?? [];
      const picks = frames.length === 0 ? [] : [...new Set([0, frames.length - 1])];
      return picks.map((i) => [file, i, frames[i]!.at] as const);
    }),
  )
).flat();

describe('snatguard snapshot: round trip of timeline moments', () => {
  it('has timeline examples to cover', () => {
    expect(timelineMoments.length).toBeGreaterThanOrEqual(2);
  });

  it.each(timelineMoments)(
    '%s at frame %i (%s): the capture decides what the simulator at that moment decides',
    async (file, index) => {
      const original = await example(file);
      const frames = original.timeline!.slice(0, index + 1);
      const { text, code, writes, report } = await captureWorld(cli.bundle, cli.home, original, frames);
      expect(code).toBe(0);
      expect(writes).toEqual([]);
      const snapshot = parseSnapshot(text, `capture of ${file} at frame ${index}`);
      expect(snapshot.timeline).toBeUndefined();
      expect(decisions(await replay(snapshot))).toEqual(decisions(report));
    },
    120_000,
  );
});
