import { describe, expect, it } from 'vitest';
import type { RunReport, RunState } from '../../src/model.js';
import { decide, fingerprints, nodeOfKey, SIGHT_KEY } from '../../src/notify/dedup.js';
import { render } from '../../src/notify/render.js';
import { firstIncident, incidentNode, recovered } from './builders.js';

const at = (minutes: number) => new Date(Date.parse('2026-03-02T09:05:20.000Z') + minutes * 60_000);
const policy = { renotifyMinutes: 60, minSeverity: 'warning' as const };

/** Runs reports through decide() as run.ts would, assuming every notice was delivered. */
function runs(reports: { report: RunReport; minute: number }[], start: RunState['notified'] = {}) {
  let state = start;
  return reports.map(({ report, minute }) => {
    const d = decide(report, state, at(minute), policy);
    state = d.next;
    return { kind: d.notice?.kind ?? 'silence', notice: d.notice, state };
  });
}

describe('fingerprints', () => {
  it('has one per (node, workload, destination, action) plus the recommendation', () => {
    const keys = fingerprints(firstIncident()).map((f) => f.key);
    expect(keys).toEqual([
      `advice|${incidentNode}|shop%2FDeployment%2Forders-api|-|CONNECTION_POOLING`,
      `snat|${incidentNode}|shop%2FDeployment%2Forders-api|20.103.144.194%3A27017|restart%3Aplanned%3ADRY_RUN`,
    ]);
    expect(nodeOfKey(keys[1]!)).toBe(incidentNode);
  });

  it('rates an exhausted node critical and the advice warning', () => {
    const bySeverity = Object.fromEntries(
      fingerprints(firstIncident()).map((f) => [f.key.split('|')[0], f.severity]),
    );
    expect(bySeverity).toEqual({ snat: 'critical', advice: 'warning' });
  });

  it('cannot be forged by a name containing the separator', () => {
    const r = firstIncident();
    r.offenders[0]!.workload = `shop/Deployment/x|other-node`;
    const key = fingerprints(r).find((f) => f.key.startsWith('snat'))!.key;
    expect(key.split('|')).toHaveLength(5);
    expect(nodeOfKey(key)).toBe(incidentNode);
  });
});

describe('decide', () => {
  it('sends one alert for three consecutive dry-run runs of the first incident, then stays silent', () => {
    const out = runs(
      [0, 5, 10].map((minute, i) => ({ report: firstIncident({ runId: `run-${i}` }), minute })),
    );
    expect(out.map((o) => o.kind)).toEqual(['alert', 'silence', 'silence']);
    expect(out[0]!.notice!.reasons).toEqual(['new']);
    expect(Object.keys(out[2]!.state)).toHaveLength(2);
  });

  it('in restart mode sends the alert, then "recovered" once the hot node is gone, then silence', () => {
    const out = runs([
      { report: firstIncident({ mode: 'restart' }), minute: 0 },
      { report: recovered({ mode: 'restart' }), minute: 5 },
      { report: recovered({ mode: 'restart' }), minute: 10 },
    ]);
    expect(out.map((o) => o.kind)).toEqual(['alert', 'recovered', 'silence']);
    expect(out[1]!.notice!.recovered).toEqual([{ node: incidentNode, firstSeen: at(0).toISOString() }]);
    expect(out[1]!.notice!.reasons).toEqual(['resolved']);
    expect(out[1]!.state).toEqual({});
  });

  it('re-notifies once renotifyMinutes have passed, keeping firstSeen', () => {
    const out = runs([0, 30, 59, 60, 65].map((minute) => ({ report: firstIncident(), minute })));
    expect(out.map((o) => o.kind)).toEqual(['alert', 'silence', 'silence', 'alert', 'silence']);
    expect(out[3]!.notice!.reasons).toEqual(['renotify']);
    const record = Object.values(out[3]!.state)[0]!;
    expect(record).toMatchObject({ firstSeen: at(0).toISOString(), lastSent: at(60).toISOString() });
  });

  it('never re-notifies with renotifyMinutes 0', () => {
    let state: RunState['notified'] = {};
    const kinds = [0, 120, 600].map((m) => {
      const d = decide(firstIncident(), state, at(m), { ...policy, renotifyMinutes: 0 });
      state = d.next;
      return d.notice?.kind ?? 'silence';
    });
    expect(kinds).toEqual(['alert', 'silence', 'silence']);
  });

  it('alerts again when severity goes up', () => {
    const warm = firstIncident();
    warm.nodes[0]!.signals = [{ kind: 'snat-ports', used: 900, allocated: 1024, ratio: 900 / 1024 }];
    const out = runs([
      { report: warm, minute: 0 },
      { report: firstIncident(), minute: 5 },
      { report: warm, minute: 10 },
    ]);
    expect(out.map((o) => o.kind)).toEqual(['alert', 'alert', 'silence']);
    expect(out[1]!.notice!.reasons).toEqual(['escalated']);
    expect(out[1]!.notice!.changed).toHaveLength(1);
  });

  it('alerts when the action changes (planned → skipped) and drops the old fingerprint without a "recovered"', () => {
    const cooldown = firstIncident({ mode: 'restart' });
    cooldown.actions = [{ ...cooldown.actions[0]!, status: 'skipped', skipReason: 'COOLDOWN' }];
    const out = runs([
      { report: firstIncident({ mode: 'restart' }), minute: 0 },
      { report: cooldown, minute: 5 },
    ]);
    expect(out.map((o) => o.kind)).toEqual(['alert', 'alert']);
    expect(out[1]!.notice!.recovered).toEqual([]);
    expect(out[1]!.notice!.resolved).toHaveLength(1);
    expect(Object.keys(out[1]!.state).some((k) => k.includes('applied'))).toBe(false);
  });

  it.each([
    [
      'a locked run',
      (r: RunReport): RunReport => ({
        ...r,
        skipped: 'locked',
        nodes: [],
        offenders: [],
        actions: [],
        recommendations: [],
      }),
    ],
    [
      'a run whose pressure read failed',
      (r: RunReport): RunReport => ({
        ...r,
        nodes: [],
        offenders: [],
        actions: [],
        recommendations: [],
        errors: [{ stage: 'pressure', target: 'azure-load-balancer', message: 'HTTP 503' }],
      }),
    ],
  ])('does not call %s a recovery', (_name, blind) => {
    const out = runs([
      { report: firstIncident(), minute: 0 },
      { report: blind(firstIncident()), minute: 5 },
      { report: recovered(), minute: 10 },
    ]);
    expect(out.map((o) => o.kind)).toEqual(['alert', 'silence', 'recovered']);
    expect(Object.keys(out[1]!.state)).toHaveLength(2);
  });

  it('applies the severity floor: errors alone are info and stay quiet by default', () => {
    const errorsOnly = recovered();
    errorsOnly.errors = [
      { stage: 'inspect', target: 'shop/orders-api-1', message: 'executable file not found' },
    ];
    expect(decide(errorsOnly, {}, at(0), policy).notice).toBeNull();
    expect(decide(errorsOnly, {}, at(0), { ...policy, minSeverity: 'info' }).notice?.kind).toBe('alert');
    expect(decide(firstIncident(), {}, at(0), { ...policy, minSeverity: 'critical' }).next).toEqual({
      [fingerprints(firstIncident()).find((f) => f.severity === 'critical')!.key]: {
        firstSeen: at(0).toISOString(),
        lastSent: at(0).toISOString(),
        severity: 'critical',
      },
    });
  });

  it('is silent when nothing happened and nothing was sent before', () => {
    expect(decide(recovered(), {}, at(0), policy)).toEqual({ notice: null, next: {} });
  });
});

// Issue 12: a run that did not look never declares a recovery nor wipes the dedup state; a failed run has
// its own deduplicated notice, and the first run that sees again says so. Each failed on the old code.
describe('dedup of runs that could not look', () => {
  const failed = (reason = 'nodes not listable: nodes is forbidden'): RunReport => ({
    ...recovered(),
    status: 'failed',
    statusReason: reason,
    nodes: [],
    offenders: [],
    actions: [],
    recommendations: [],
    errors: [{ stage: 'nodes', target: 'nodes', message: 'nodes is forbidden' }],
  });

  it('a failed run sends "could not check", keeps every open fingerprint, then stays quiet', () => {
    const [first, blind, again] = runs([
      { report: firstIncident(), minute: 0 },
      { report: failed(), minute: 5 },
      { report: failed('cluster unreachable: connect ECONNREFUSED 127.0.0.1:6443'), minute: 10 },
    ]);
    expect(blind!.kind).toBe('alert');
    expect(blind!.notice!.severity).toBe('critical');
    expect(blind!.notice!.recovered).toEqual([]);
    expect(render(blind!.notice!).headline).toBe(
      'snatguard could not check aks-prod: nodes not listable: nodes is forbidden',
    );
    for (const key of Object.keys(first!.state)) expect(blind!.state[key]).toEqual(first!.state[key]);
    expect(blind!.state[SIGHT_KEY]).toBeDefined();
    expect(again!.kind).toBe('silence');
    expect(again!.state).toEqual(blind!.state);
  });

  it('a failed run is sent again after renotifyMinutes', () => {
    const [, , later] = runs([
      { report: failed(), minute: 0 },
      { report: failed(), minute: 30 },
      { report: failed(), minute: 61 },
    ]);
    expect(later!.notice?.reasons).toEqual(['renotify']);
  });

  it('the first run that sees again says so, and only then may a node recover', () => {
    const [, , back] = runs([
      { report: firstIncident(), minute: 0 },
      { report: failed(), minute: 5 },
      { report: { ...recovered(), status: 'complete' }, minute: 10 },
    ]);
    expect(back!.kind).toBe('recovered');
    expect(back!.notice!.blindSince).toBe(at(5).toISOString());
    expect(back!.notice!.recovered.map((r) => r.node)).toEqual([incidentNode]);
    expect(back!.state[SIGHT_KEY]).toBeUndefined();
    const message = render(back!.notice!);
    expect(message.headline).toBe(`Recovered on aks-prod — node ${incidentNode} recovered`);
    expect(message.sections[0]?.items[0]?.spans.map((s) => s.text).join('')).toMatch(
      /^snatguard can see aks-prod again \(could not since /,
    );
  });

  it('sight restored with nothing to recover: its own short notice', () => {
    const [, back] = runs([
      { report: failed(), minute: 0 },
      { report: { ...recovered(), status: 'complete' }, minute: 5 },
    ]);
    expect(back!.kind).toBe('recovered');
    expect(render(back!.notice!).headline).toBe('snatguard can see aks-prod again');
  });

  it('a partial run that could not read a node never declares that node recovered', () => {
    const cut: RunReport = {
      ...recovered(),
      status: 'partial',
      statusReason: '1 hot node not inspected',
      errors: [{ stage: 'inspect', target: `node/${incidentNode}`, message: 'pods is forbidden' }],
    };
    const [first, partial] = runs([
      { report: firstIncident(), minute: 0 },
      { report: cut, minute: 5 },
    ]);
    expect(partial!.kind).toBe('silence');
    expect(partial!.state).toEqual(first!.state);
  });

  it('a node whose pods could not be read is not declared recovered (failed before: provider none saw no evidence there and said "Recovered")', () => {
    const unread: RunReport = {
      ...recovered(),
      provider: 'none',
      status: 'partial',
      statusReason: '2 pods could not be read',
      nodes: recovered().nodes.map((n) =>
        n.name === incidentNode ? { ...n, signals: [], podsInspected: 1, podsFailed: 2 } : n,
      ),
      errors: [
        { stage: 'inspect', target: 'prod/orders-api-7d4b9c-x2k4q', message: 'exec: kubelet unreachable' },
      ],
    };
    const [first, partial, seen] = runs([
      { report: firstIncident(), minute: 0 },
      { report: unread, minute: 5 },
      { report: { ...recovered(), status: 'complete' }, minute: 10 },
    ]);
    expect(partial!.notice?.recovered ?? []).toEqual([]);
    for (const key of Object.keys(first!.state)) expect(partial!.state[key]).toEqual(first!.state[key]);
    // Read in full again: now it may recover.
    expect(seen!.notice!.recovered.map((r) => r.node)).toEqual([incidentNode]);
  });

  it('a run cut by the deadline resolves nothing', () => {
    const [first, cut] = runs([
      { report: firstIncident(), minute: 0 },
      {
        report: { ...recovered(), status: 'partial', statusReason: 'deadline', skipped: 'deadline' },
        minute: 5,
      },
    ]);
    expect(cut!.kind).toBe('silence');
    expect(cut!.state).toEqual(first!.state);
  });
});
