// `--output openmetrics`: the run's gauges, checked by a strict reader written here from the OpenMetrics 1.0
// text format (ABNF, "Escaping", "MetricFamily", "Gauge" of https://prometheus.io/docs/specs/om/open_metrics_spec/),
// then one replay of an example end to end through the built CLI.

import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMetricsFamilies, renderOpenMetrics } from '../../../src/hosts/cli/openmetrics.js';
import type { RunReport } from '../../../src/model.js';
import { examplePath } from '../../../src/paths.js';
import { bundleCli, runCli } from '../../cli-bundle.js';
import { parseOpenMetrics } from './openmetrics-reader.js';

const aReport = (over: Partial<RunReport> = {}): RunReport => ({
  apiVersion: 'snatguard.io/v1',
  kind: 'RunReport',
  runId: 'r1',
  startedAt: '2026-11-21T08:00:00.000Z',
  finishedAt: '2026-11-21T08:00:02.500Z',
  mode: 'dry-run',
  status: 'complete',
  cluster: 'aks-prod',
  provider: 'azure',
  nodes: [],
  offenders: [],
  actions: [],
  recommendations: [],
  errors: [],
  ...over,
});

describe('the strict reader can fail', () => {
  it.each([
    ['no # EOF', '# TYPE a gauge\na 1\n'],
    ['text after # EOF', '# TYPE a gauge\na 1\n# EOF\na 2\n'],
    ['an unescaped quote in a label', '# TYPE a gauge\na{x="a"b"} 1\n# EOF\n'],
    ['an undefined escape', '# TYPE a gauge\na{x="\\t"} 1\n# EOF\n'],
    ['an interleaved family', '# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x="y"} 2\n# EOF\n'],
    ['the same labels twice', '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n# EOF\n'],
    ['a bad number', '# TYPE a gauge\na 1,5\n# EOF\n'],
    ['a unit that is not the suffix', '# TYPE a gauge\n# UNIT a seconds\na 1\n# EOF\n'],
    ['a comment line', '# TYPE a gauge\n# hello\na 1\n# EOF\n'],
    ['a carriage return', '# TYPE a gauge\r\na 1\n# EOF\n'],
    ['a gauge named like a counter', '# TYPE a_total gauge\na_total 1\n# EOF\n'],
  ])('rejects %s', (_, text) => {
    expect(() => parseOpenMetrics(text)).toThrow();
  });

  it('accepts the spec example of a gauge family with escaped HELP', () => {
    const f = parseOpenMetrics(
      '# TYPE foo gauge\n# HELP foo Some text and \\n some \\" escaping\nfoo{a="bb"} 17.0\nfoo{a="ccc"} 17.0\n# EOF\n',
    );
    expect(f.get('foo')).toMatchObject({ type: 'gauge', help: 'Some text and \n some " escaping' });
  });
});

describe('renderOpenMetrics', () => {
  it('a failed run: status failed is 1, the others 0, no node series; valid to the strict reader', () => {
    const text = renderOpenMetrics(
      aReport({ status: 'failed', statusReason: 'cluster unreachable: ECONNREFUSED' }),
    );
    const f = parseOpenMetrics(text);
    expect(f.get('snatguard_run_status')?.samples).toEqual([
      { labels: { cluster: 'aks-prod', status: 'complete' }, value: 0 },
      { labels: { cluster: 'aks-prod', status: 'partial' }, value: 0 },
      { labels: { cluster: 'aks-prod', status: 'failed' }, value: 1 },
      { labels: { cluster: 'aks-prod', status: 'skipped' }, value: 0 },
    ]);
    expect(f.get('snatguard_node_hot')?.samples).toEqual([]);
    expect(f.get('snatguard_run_duration_seconds')).toMatchObject({
      unit: 'seconds',
      samples: [{ value: 2.5 }],
    });
    expect(text.endsWith('\n# EOF\n')).toBe(true);
  });

  it('escapes hostile names (quote, backslash, line feed) so they read back exactly', () => {
    const hostile = 'shop/Deployment/a"b\\c\nd';
    const text = renderOpenMetrics(
      aReport({
        cluster: 'prod "east"\\1',
        nodes: [
          {
            name: 'node\n1',
            hot: true,
            signals: [{ kind: 'snat-ports', used: 1000, allocated: 1024, ratio: 1000 / 1024 }],
            podsInspected: 2,
            podsUninspectable: 1,
            snatSockets: 950,
            busiestDestination: { remote: '[2001:db8::1]:443', sockets: 900 },
            conntrack: {
              count: 1190,
              max: 1200,
              insertFailed: 0,
              drop: 0,
              earlyDrop: 0,
              beLiberal: false,
              ratio: 1190 / 1200,
            },
          },
        ],
        workloads: [
          {
            workload: hostile,
            node: 'node\n1',
            snatSockets: 900,
            busiestDestination: { remote: '[2001:db8::1]:443', sockets: 900 },
          },
        ],
      }),
    );
    const f = parseOpenMetrics(text);
    expect(f.get('snatguard_workload_snat_sockets')?.samples).toEqual([
      { labels: { cluster: 'prod "east"\\1', node: 'node\n1', workload: hostile }, value: 900 },
    ]);
    expect(f.get('snatguard_node_busiest_destination_sockets')?.samples[0]).toEqual({
      labels: { cluster: 'prod "east"\\1', node: 'node\n1', destination: '[2001:db8::1]:443' },
      value: 900,
    });
    expect(f.get('snatguard_node_conntrack_fill_ratio')?.samples[0]?.value).toBeCloseTo(1190 / 1200);
    expect(f.get('snatguard_node_snat_ports_used')?.samples[0]?.value).toBe(1000);
    expect(f.get('snatguard_node_pods_uninspectable')?.samples[0]?.value).toBe(1);
  });

  it('every family is a snake_case snatguard_ gauge with HELP, in a fixed order', () => {
    const families = openMetricsFamilies(aReport());
    for (const fam of families) {
      expect(fam.name).toMatch(/^snatguard_[a-z0-9]+(_[a-z0-9]+)*$/);
      expect(fam.help.length).toBeGreaterThan(10);
    }
    expect(new Set(families.map((x) => x.name)).size).toBe(families.length);
    const parsed = parseOpenMetrics(renderOpenMetrics(aReport()));
    expect([...parsed.keys()]).toEqual(families.map((x) => x.name));
    expect([...parsed.values()].every((x) => x.type === 'gauge' && x.help)).toBe(true);
  });
});

describe('snatguard replay -o openmetrics', () => {
  let bundle: string;
  beforeAll(async () => {
    bundle = await bundleCli();
  });
  afterAll(async () => {
    await rm(dirname(bundle), { recursive: true, force: true });
  });

  it('the first incident: the hot node, the leaking workload and its destination, conntrack fill, status complete', async () => {
    const r = await runCli(
      bundle,
      ['replay', examplePath('aks-mongo-leak.yaml'), '--output', 'openmetrics'],
      {},
    );
    expect(r.code).toBe(0);
    const f = parseOpenMetrics(r.stdout);
    const node = 'aks-nodepool1-31415926-vmss000000';
    const at = (name: string, labels: Record<string, string>) =>
      f.get(name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(at('snatguard_run_status', { status: 'complete' })).toBe(1);
    expect(at('snatguard_run_status', { status: 'failed' })).toBe(0);
    expect(at('snatguard_node_hot', { node })).toBe(1);
    expect(at('snatguard_node_snat_sockets', { node })).toBe(932);
    expect(
      at('snatguard_node_busiest_destination_sockets', { node, destination: '20.103.144.194:27017' }),
    ).toBe(906);
    expect(at('snatguard_workload_snat_sockets', { node, workload: 'shop/Deployment/orders-api' })).toBe(900);
    expect(
      at('snatguard_workload_busiest_destination_sockets', {
        node,
        workload: 'shop/Deployment/orders-api',
        destination: '20.103.144.194:27017',
      }),
    ).toBe(900);
    expect(at('snatguard_workload_snat_sockets', { node, workload: 'shop/Deployment/payments' })).toBe(26);
    expect(at('snatguard_node_conntrack_fill_ratio', { node })).toBeCloseTo(1199 / 131072);
    expect(at('snatguard_node_snat_ports_used', { node })).toBe(906);
    expect(at('snatguard_run_actions', { status: 'planned' })).toBe(1);
    expect(at('snatguard_run_actions', { status: 'skipped' })).toBe(1);
    // A node whose pods were not read has no socket series (no figure is made up), but its cloud figures.
    const cool = 'aks-nodepool1-31415926-vmss000001';
    expect(at('snatguard_node_hot', { node: cool })).toBe(0);
    expect(at('snatguard_node_snat_sockets', { node: cool })).toBeUndefined();
    expect(at('snatguard_node_snat_ports_used', { node: cool })).toBe(23);
    expect(f.get('snatguard_run_status')?.samples.every((s) => s.labels.cluster === 'aks-shop')).toBe(true);
  }, 60_000);

  it('with --timeline: refused, exit 2 (a timeline is many runs; was: human text under -o openmetrics)', async () => {
    const r = await runCli(
      bundle,
      ['replay', examplePath('aks-mongo-leak.yaml'), '--timeline', '--output', 'openmetrics'],
      {},
    );
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/--output openmetrics prints one run: not with --timeline/);
  }, 60_000);
});
