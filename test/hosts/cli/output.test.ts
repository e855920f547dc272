// The human outputs lead with the run's status; "every node is within its limits" only for a complete run
// that found nothing; colour never breaks alignment. Each case failed on the code before issue 12.
import { describe, expect, it } from 'vitest';
import { checkExpectations } from '../../../src/hosts/cli/check.js';
import { renderReport, styleFor, table } from '../../../src/hosts/cli/output.js';
import type { RunReport } from '../../../src/model.js';
import { firstIncident, recovered } from '../../notify/builders.js';

const ALL_CLEAR = 'every node is within its SNAT and conntrack limits';
const colour = styleFor({ isTTY: true }, {});
const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

const failed = (): RunReport => ({
  ...recovered(),
  status: 'failed',
  statusReason: 'cluster unreachable: connect ECONNREFUSED 127.0.0.1:6443',
  nodes: [],
  errors: [
    { stage: 'lock', target: 'lease/snatguard/snatguard', message: 'connect ECONNREFUSED 127.0.0.1:6443' },
  ],
});

describe('human output of a run', () => {
  it('a failed run says first, in red, what could not be checked and why; never an all-clear', () => {
    const text = renderReport(failed(), 'table', colour);
    const first = text.split('\n')[0]!;
    expect(first).toContain('\x1b[31m');
    expect(strip(first)).toBe(
      "FAILED — snatguard could not check aks-prod: cluster unreachable: connect ECONNREFUSED 127.0.0.1:6443. Nothing was checked: no node's SNAT ports, conntrack or sockets were read.",
    );
    expect(text).not.toContain(ALL_CLEAR);
    expect(strip(text)).toContain('unknown: the run could not look');
    const md = renderReport(failed(), 'markdown');
    expect(md.split('\n')[2]).toMatch(
      /^\*\*FAILED\*\* — snatguard could not check aks-prod: cluster unreachable/,
    );
    expect(md).not.toContain(ALL_CLEAR);
  });

  it('a partial run with no hot node says it saw only part; a complete one gives the all-clear', () => {
    const partial = {
      ...recovered(),
      status: 'partial' as const,
      statusReason: '1 of 2 pressure sources failed',
    };
    expect(renderReport(partial, 'table')).not.toContain(ALL_CLEAR);
    expect(renderReport(partial, 'table').split('\n')[0]).toBe(
      'PARTIAL — not everything was read: 1 of 2 pressure sources failed',
    );
    expect(renderReport(partial, 'markdown')).not.toContain(ALL_CLEAR);
    const complete = { ...recovered(), status: 'complete' as const };
    expect(renderReport(complete, 'table')).toContain(ALL_CLEAR);
    expect(renderReport(complete, 'markdown')).toContain(ALL_CLEAR);
  });

  it('the headline counts restarts as chat does: "1 restart planned (dry-run)" (was "0 restart(s) applied")', () => {
    const text = renderReport({ ...firstIncident(), status: 'complete' }, 'table');
    expect(text.split('\n')[1]).toBe(
      'snatguard dry-run run on aks-prod (azure) — 1 hot node, 1 offender, 1 restart planned (dry-run)',
    );
  });

  it('AWS signals read as words, not metric ids', () => {
    const r: RunReport = {
      ...firstIncident(),
      provider: 'aws',
      nodes: [
        {
          name: 'ip-10-0-1-23.eu-west-1.compute.internal',
          hot: true,
          signals: [
            { kind: 'natgw-port-allocation', value: 3 },
            { kind: 'conntrack-allowance', value: 12 },
          ],
          podsInspected: 4,
          podsUninspectable: 1,
        },
      ],
    };
    const text = renderReport(r, 'table');
    expect(text).toContain('3 NAT gateway port-allocation errors, conntrack allowance exceeded 12×');
    expect(text).not.toMatch(/natgw-port-allocation|conntrack-allowance/);
  });

  it('colour does not misalign columns: padding counts visible width', () => {
    const rows = [
      ['ACTION', 'STATUS', 'WHY'],
      ['restart', colour.green('applied'), 'why-1'],
      ['restart', colour.yellow('skipped (COOLDOWN)'), 'why-2'],
    ];
    const lines = strip(table(rows, colour)).split('\n');
    const column = (l: string) => l.search(/WHY|why-/);
    expect(new Set(lines.map(column)).size).toBe(1);
  });
});

describe('replay --check of a run that could not look', () => {
  it('is a mismatch, even against an expect block a blind run would meet (was: "meets every expectation")', () => {
    expect(checkExpectations(failed(), { notRestart: ['shop/Deployment/orders-api'] })).toEqual([
      'status: the run failed, nothing was checked (cluster unreachable: connect ECONNREFUSED 127.0.0.1:6443)',
    ]);
    expect(checkExpectations(recovered(), { notRestart: ['shop/Deployment/orders-api'] })).toEqual([]);
  });
});
