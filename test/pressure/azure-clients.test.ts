// seriesOfBatchBody parses each point's timestamp as Date.parse does, also when it reuses the parse of the
// same text at the same point index of an earlier series (issue 13: 3,000 series of one answer share
// their minutes).
import { describe, expect, it } from 'vitest';
import { type MetricQuery, seriesOfBatchBody } from '../../src/pressure/azure-clients.js';

const q: MetricQuery = {
  resourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/kubernetes',
  namespace: 'Microsoft.Network/loadBalancers',
  metric: 'UsedSnatPorts',
  aggregation: 'Average',
};

/** A getBatch answer body (shape: Azure/azure-rest-api-specs MetricBatchExample.json) with these series. */
const body = (series: { ip: string; data: unknown[] }[]) => ({
  values: [
    {
      value: [
        {
          name: { value: 'UsedSnatPorts', localizedValue: 'Used SNAT Ports' },
          errorCode: 'Success',
          timeseries: series.map((s) => ({
            metadatavalues: [
              { name: { value: 'backendipaddress', localizedValue: 'Backend IP Address' }, value: s.ip },
            ],
            data: s.data,
          })),
        },
      ],
    },
  ],
});

describe('seriesOfBatchBody timestamps', () => {
  it('are what Date.parse gives for every point, whether series share their minutes or not', () => {
    const m = (i: number) => `2026-11-24T05:${String(i).padStart(2, '0')}:00Z`;
    const series = [
      { ip: '10.0.0.1', data: [0, 1, 2].map((i) => ({ timeStamp: m(i), average: i })) },
      // The same minutes (the common case), then other ones, a shorter series, odd values.
      { ip: '10.0.0.2', data: [0, 1, 2].map((i) => ({ timeStamp: m(i), average: 2 * i })) },
      { ip: '10.0.0.3', data: [5, 1, 7].map((i) => ({ timeStamp: m(i), average: null })) },
      { ip: '10.0.0.4', data: [{ timeStamp: m(5) }, 'not a point', { timeStamp: 'garbage', average: 3 }] },
      { ip: '10.0.0.5', data: [{ timeStamp: 1_700_000_000_000, average: 1 }, { average: 2 }, {}] },
      { ip: '10.0.0.6', data: [0, 1, 2, 3].map((i) => ({ timeStamp: m(i), average: i })) },
    ];
    const answer = seriesOfBatchBody(body(series), q);
    const expected = series.map((s) =>
      s.data
        .filter((d): d is Record<string, unknown> => typeof d === 'object' && d !== null)
        .map((d) => ({
          t: Date.parse(String(d.timeStamp)),
          v: typeof d.average === 'number' ? d.average : null,
        })),
    );
    expect(answer.series.map((s) => s.points)).toEqual(expected);
    expect(answer.series.map((s) => s.dims.backendipaddress)).toEqual(series.map((s) => s.ip));
  });
});
