import { describe, expect, it } from 'vitest';
import { driftAdvice, forecastAdvice } from '../../src/advice/forecast.js';
import {
  emptyHistory,
  type ForecastInput,
  forecast,
  MAX_POINTS,
  MAX_SERIES,
  MAX_WATCH_NODES,
  nodesToWatch,
  parseHistory,
  sustainedRise,
} from '../../src/analysis/forecast.js';
import type { ForecastHistory, ForecastPoint } from '../../src/model.js';

const T0 = Date.parse('2026-11-23T10:00:00Z');
const at = (min: number): string => new Date(T0 + min * 60_000).toISOString();
const series = (...ys: number[]): ForecastPoint[] => ys.map((y, i) => [at(i * 5), y]);

describe('sustainedRise (noise rejection)', () => {
  it.each([
    ['a steady rise', series(200, 250, 300), 10],
    ['a rise with one dip', series(200, 260, 250, 330, 380), 53 / 6],
    ['a rise with a spike', series(100, 110, 400, 130, 140, 150), 2],
  ])('%s is a trend (Theil–Sen slope %s/min)', (_name, points, slope) => {
    expect(sustainedRise(points)?.slope).toBeCloseTo(slope, 5);
  });

  it.each([
    ['two points', series(200, 300)],
    ['a sawtooth around a level', series(300, 320, 290, 315, 295, 310)],
    ['a single spike on a flat line', series(300, 900, 300, 300)],
    ['a fall', series(400, 350, 300)],
    ['a rise below MIN_RISE', series(300, 301, 302, 303)],
  ])('%s is rejected', (_name, points) => {
    expect(sustainedRise(points)).toBeNull();
  });
});

const base = (over: Partial<ForecastInput> = {}): ForecastInput => ({
  now: new Date(at(10)),
  horizonMinutes: 60,
  history: emptyHistory(),
  nodes: [{ name: 'n1', allocated: 1024, used: 300, hot: false }],
  inspected: new Set(['n1']),
  usage: [
    { node: 'n1', workload: 'shop/Deployment/orders-api', destination: '20.1.2.3:27017', sockets: 300 },
  ],
  nodeDestinations: new Map([['n1', new Map([['20.1.2.3:27017', 310]])]]),
  cluster: { provider: 'azure', nodes: 2, allocatedOutboundPorts: 1024, outboundIPs: 1 },
  ...over,
});

const withSeries = (points: ForecastPoint[], destination = '20.1.2.3:27017'): ForecastHistory => ({
  nodes: {},
  series: { 'n1|shop/Deployment/orders-api': { destination, points } },
});

describe('forecast', () => {
  it('projects exhaustion from the third point of a sustained rise', () => {
    // 10 sockets/min; the node holds 310 of 1024 → (1024 - 310) / 10 = 71.4 min: beyond 60 min.
    const far = forecast(
      base({
        history: withSeries([
          [at(0), 200],
          [at(5), 250],
        ]),
      }),
    );
    expect(far.forecasts).toEqual([]);
    expect(far.history.series['n1|shop/Deployment/orders-api']?.points).toEqual([
      [at(0), 200],
      [at(5), 250],
      [at(10), 300],
    ]);
    // With 500 already held to that destination: (1024 - 510) / 10 = 51.4 min, within the horizon.
    const near = forecast(
      base({
        history: withSeries([
          [at(0), 200],
          [at(5), 250],
        ]),
        nodeDestinations: new Map([['n1', new Map([['20.1.2.3:27017', 510]])]]),
      }),
    );
    expect(near.forecasts).toHaveLength(1);
    const f = near.forecasts[0]!;
    expect(f.trend.slope).toBe(10);
    expect(f.minutesToExhaustion).toBeCloseTo(51.4, 5);
    expect(f.exhaustedAt).toBe(new Date(T0 + (10 + 51.4) * 60_000).toISOString());
    const rec = forecastAdvice(f, false);
    expect(rec).toMatchObject({
      id: 'SNAT_EXHAUSTION_FORECAST',
      workload: 'shop/Deployment/orders-api',
      node: 'n1',
    });
    expect(rec.detail).toContain('10 sockets/min');
    expect(rec.detail).toContain('rails.preemptive is false');
  });

  it('needs three points: two are never a forecast however steep', () => {
    const r = forecast(
      base({
        history: withSeries([[at(5), 100]]),
        usage: [
          { node: 'n1', workload: 'shop/Deployment/orders-api', destination: '20.1.2.3:27017', sockets: 900 },
        ],
      }),
    );
    expect(r.forecasts).toEqual([]);
  });

  it('does not forecast for a hot node (the run handles it)', () => {
    const r = forecast(
      base({
        history: withSeries([
          [at(0), 200],
          [at(5), 250],
        ]),
        nodes: [{ name: 'n1', allocated: 1024, used: 900, hot: true }],
        nodeDestinations: new Map([['n1', new Map([['20.1.2.3:27017', 900]])]]),
      }),
    );
    expect(r.forecasts).toEqual([]);
  });

  it('starts the series again when the busiest destination changes', () => {
    const r = forecast(
      base({
        history: withSeries(
          [
            [at(0), 200],
            [at(5), 250],
          ],
          '52.1.1.1:443',
        ),
      }),
    );
    expect(r.history.series['n1|shop/Deployment/orders-api']).toEqual({
      destination: '20.1.2.3:27017',
      points: [[at(10), 300]],
    });
  });

  it('keeps the history bounded: MAX_POINTS per series, MAX_SERIES series', () => {
    const long = Array.from({ length: MAX_POINTS + 5 }, (_, i): ForecastPoint => [at(i - 100), i]);
    const many: ForecastHistory = { nodes: {}, series: {} };
    for (let i = 0; i < MAX_SERIES + 50; i++)
      many.series[`n2|ns/Deployment/w${i}`] = { destination: 'x:1', points: [[at(0), i]] };
    many.series['n1|shop/Deployment/orders-api'] = { destination: '20.1.2.3:27017', points: long };
    const r = forecast(base({ history: many }));
    expect(r.history.series['n1|shop/Deployment/orders-api']?.points).toHaveLength(MAX_POINTS);
    expect(Object.keys(r.history.series)).toHaveLength(MAX_SERIES);
    expect(JSON.stringify(r.history).length).toBeLessThan(64 * 1024);
  });

  it('drops the series of a workload that left an inspected node, keeps those of nodes not read', () => {
    const history: ForecastHistory = {
      nodes: {},
      series: {
        'n1|shop/Deployment/gone': { destination: 'x:1', points: [[at(5), 10]] },
        'n9|shop/Deployment/elsewhere': { destination: 'x:1', points: [[at(5), 10]] },
      },
    };
    const r = forecast(base({ history }));
    expect(Object.keys(r.history.series).sort()).toEqual([
      'n1|shop/Deployment/orders-api',
      'n9|shop/Deployment/elsewhere',
    ]);
  });
});

describe('allocation drift', () => {
  it('names a scale-out across a default-table step as the cause (AKS#1673)', () => {
    const history: ForecastHistory = {
      nodes: { n1: { at: at(5), allocated: 1024, used: 400 }, n2: { at: at(5), allocated: 1024 } },
      cluster: { at: at(5), nodes: 50, allocatedOutboundPorts: 0, outboundIPs: 1 },
      series: {},
    };
    const r = forecast(
      base({
        history,
        nodes: [
          { name: 'n1', allocated: 512, used: 400, hot: true },
          { name: 'n2', allocated: 512, hot: false },
        ],
        cluster: { provider: 'azure', nodes: 51, allocatedOutboundPorts: 0, outboundIPs: 1 },
      }),
    );
    expect(r.drifts).toEqual([
      expect.objectContaining({ nodes: ['n1', 'n2'], from: 1024, to: 512, scaleOut: { from: 50, to: 51 } }),
    ]);
    expect(r.drifts[0]!.cause).toContain('scale-out from 50 to 51 nodes');
    const rec = driftAdvice(r.drifts[0]!, { resourceGroup: 'rg', cluster: 'aks' }, 51);
    expect(rec.id).toBe('SNAT_ALLOCATION_DRIFT');
    expect(rec.fix).toContain('--load-balancer-outbound-ports 1024');
    expect(rec.fix).toContain('--load-balancer-managed-outbound-ip-count 1');
  });

  it.each([
    ['fewer outbound IPs', { outboundIPs: 1 }, { outboundIPs: 2 }, 'outbound IPs went from 2 to 1'],
    [
      'a changed explicit setting',
      { allocatedOutboundPorts: 512 },
      { allocatedOutboundPorts: 1024 },
      'from 1024 to 512',
    ],
  ])('names %s', (_n, now, before, cause) => {
    const r = forecast(
      base({
        history: {
          nodes: { n1: { at: at(5), allocated: 1024 } },
          cluster: { at: at(5), nodes: 2, allocatedOutboundPorts: 1024, outboundIPs: 1, ...before },
          series: {},
        },
        nodes: [{ name: 'n1', allocated: 512, used: 10, hot: false }],
        cluster: { provider: 'azure', nodes: 2, allocatedOutboundPorts: 1024, outboundIPs: 1, ...now },
      }),
    );
    expect(r.drifts[0]?.cause).toContain(cause);
  });

  it('is silent when the allocation holds or grows', () => {
    const history: ForecastHistory = { nodes: { n1: { at: at(5), allocated: 512 } }, series: {} };
    expect(forecast(base({ history })).drifts).toEqual([]);
  });
});

describe('nodesToWatch', () => {
  const history: ForecastHistory = { nodes: { grow: { at: at(0), allocated: 1024, used: 200 } }, series: {} };
  it('watches nodes above the watch ratio or growing toward exhaustion within twice the horizon', () => {
    const watched = nodesToWatch({
      now: new Date(at(5)),
      horizonMinutes: 60,
      watchRatio: 0.5,
      history,
      nodes: [
        { name: 'hot', allocated: 1024, used: 1000, hot: true },
        { name: 'half', allocated: 1024, used: 600, hot: false },
        { name: 'grow', allocated: 1024, used: 250, hot: false }, // 10/min: 774 left → 77 min ≤ 120
        { name: 'calm', allocated: 1024, used: 100, hot: false },
      ],
    });
    expect(watched).toEqual(['half', 'grow']);
  });

  it('watches at most MAX_WATCH_NODES', () => {
    const nodes = Array.from({ length: 30 }, (_, i) => ({
      name: `n${i}`,
      allocated: 100,
      used: 60,
      hot: false,
    }));
    expect(
      nodesToWatch({ now: new Date(at(0)), horizonMinutes: 60, watchRatio: 0.5, history, nodes }),
    ).toHaveLength(MAX_WATCH_NODES);
  });
});

describe('parseHistory', () => {
  it('keeps well-formed entries and names the rest', () => {
    const problems: string[] = [];
    const h = parseHistory(
      {
        nodes: { ok: { at: at(0), allocated: 1024, used: 3 }, bad: { at: 'never', allocated: 1 } },
        cluster: { at: at(0), nodes: 3 },
        series: {
          'n1|a/Deployment/b': {
            destination: 'x:1',
            points: [
              [at(0), 1],
              ['x', 2],
              [at(1), 3],
            ],
          },
          nokey: { destination: 'x:1', points: [[at(0), 1]] },
        },
      },
      problems,
    );
    expect(h).toEqual({
      nodes: { ok: { at: at(0), allocated: 1024, used: 3 } },
      cluster: { at: at(0), nodes: 3 },
      series: {
        'n1|a/Deployment/b': {
          destination: 'x:1',
          points: [
            [at(0), 1],
            [at(1), 3],
          ],
        },
      },
    });
    expect(problems).toEqual(['history.nodes.bad: malformed', 'history.series.nokey: malformed']);
    expect(parseHistory(undefined, problems)).toBeUndefined();
    expect(parseHistory([], problems)).toBeUndefined();
    expect(problems.at(-1)).toBe('history: not an object');
  });
});
