import { describe, expect, it } from 'vitest';
import { CONNTRACK_STATE_MAX_AGE_MS, conntrackFindings } from '../../src/analysis/conntrack.js';
import type { ConntrackReading, RunState } from '../../src/model.js';
import { aConntrackReading } from '../builders.js';

const now = new Date('2026-11-20T10:00:00Z');
const earlier = '2026-11-20T09:55:00Z';
const thresholds = { conntrackUsedRatio: 0.9 };

const run = (reading: ConntrackReading, previous: RunState['conntrack'] = {}) =>
  conntrackFindings(new Map([['n1', reading]]), previous, thresholds, now);

describe('conntrack findings', () => {
  it.each([
    ['below the ratio', { count: 899, max: 1000 }, []],
    ['at the ratio', { count: 900, max: 1000 }, ['conntrack 900/1000 (90% ≥ 90%)']],
    ['full', { count: 1190, max: 1200 }, ['conntrack 1190/1200 (99% ≥ 90%)']],
    ['max unknown (0)', { count: 5, max: 0 }, []],
  ])('%s', (_what, fields, reasons) => {
    const result = run(aConntrackReading(fields));
    expect(result.findings.flatMap((f) => f.reasons)).toEqual(reasons);
    expect(result.nodes.get('n1')?.ratio).toBeCloseTo(fields.max > 0 ? fields.count / fields.max : 0);
  });

  it.each([
    [
      'no previous run: no delta, no finding',
      undefined,
      { insertFailed: 50, drop: 7 },
      undefined,
      undefined,
      [],
    ],
    [
      'insert_failed and drop grew',
      { insertFailed: 10, drop: 2 },
      { insertFailed: 22, drop: 5 },
      12,
      3,
      ['insert_failed grew by 12 since the last run', 'drop grew by 3 since the last run'],
    ],
    ['unchanged', { insertFailed: 10, drop: 2 }, { insertFailed: 10, drop: 2 }, 0, 0, []],
    [
      'counter reset (reboot): 0 delta',
      { insertFailed: 500, drop: 90 },
      { insertFailed: 3, drop: 0 },
      0,
      0,
      [],
    ],
  ])('%s', (_what, before, current, insertFailedDelta, dropDelta, reasons) => {
    const previous: RunState['conntrack'] = before ? { n1: { ...before, earlyDrop: 0, at: earlier } } : {};
    const result = run(aConntrackReading(current), previous);
    const node = result.nodes.get('n1')!;
    expect(node.insertFailedDelta).toBe(insertFailedDelta);
    expect(node.dropDelta).toBe(dropDelta);
    expect(result.findings.flatMap((f) => f.reasons)).toEqual(reasons);
  });

  it('returns the report values with the reading', () => {
    const reading = aConntrackReading({
      count: 950,
      max: 1000,
      beLiberal: true,
      insertFailed: 4,
      drop: 1,
      earlyDrop: 2,
    });
    expect(run(reading).nodes.get('n1')).toEqual({ ...reading, ratio: 0.95 });
  });

  it('new state: this run’s counters, earlier nodes kept while young, old ones dropped', () => {
    const old = new Date(now.getTime() - CONNTRACK_STATE_MAX_AGE_MS - 1000).toISOString();
    const previous: RunState['conntrack'] = {
      n1: { insertFailed: 1, drop: 1, earlyDrop: 1, at: earlier },
      n2: { insertFailed: 2, drop: 2, earlyDrop: 2, at: earlier },
      gone: { insertFailed: 3, drop: 3, earlyDrop: 3, at: old },
    };
    const result = run(aConntrackReading({ insertFailed: 9, drop: 8, earlyDrop: 7 }), previous);
    expect(result.state).toEqual({
      n1: { insertFailed: 9, drop: 8, earlyDrop: 7, at: now.toISOString() },
      n2: previous.n2,
    });
  });

  it('orders findings by node name', () => {
    const full = aConntrackReading({ count: 1000, max: 1000 });
    const result = conntrackFindings(
      new Map([
        ['b', full],
        ['a', full],
        ['c', aConntrackReading()],
      ]),
      {},
      thresholds,
      now,
    );
    expect(result.findings.map((f) => f.node)).toEqual(['a', 'b']);
  });
});
