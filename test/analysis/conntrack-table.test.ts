// The streaming conntrack reader (issue 13, "no pod's text is held whole"): `conntrack -L -o extended`
// fed chunk by chunk as exec frames arrive, kept as flow groups. On the real table of
// test/fixtures/conntrack/ (its README says how it was captured) and on hostile text.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { attributeFlows } from '../../src/analysis/attribution.js';
import {
  countConntrackFlows,
  createFlowCounter,
  type FlowCounts,
  parseConntrackTable,
} from '../../src/analysis/conntrack-table.js';
import { socketsFromFlows } from '../../src/snapshot/capture.js';
import { createClassifier } from '../../src/sockets/index.js';

const REAL = readFileSync(new URL('../fixtures/conntrack/masquerade-v4-v6.txt', import.meta.url), 'utf8');
const classifier = createClassifier({ clusterCidrs: ['10.244.0.0/16', '10.0.0.0/16', 'fd00:10:244::/64'] });
const NODE = ['198.51.100.2', '2001:db8:1::2'];
const POD_IPS = ['10.244.0.10', 'fd00:10:244::a'];
const PODS = [{ key: 'shop/orders-api-1', ips: POD_IPS, hostNetwork: false }];

/** The fixture's flows, grouped: what the run keeps of it (test/fixtures/conntrack/README.md lists them). */
const REAL_COUNTS: FlowCounts = {
  groups: [
    {
      family: 'ipv4',
      protocol: 'tcp',
      state: 'ESTABLISHED',
      original: { src: '10.244.0.10', dst: '10.0.0.50', dport: 80 },
      reply: { src: '203.0.113.10', dst: '198.51.100.2', sport: 443 },
      count: 1,
    },
    {
      family: 'ipv6',
      protocol: 'tcp',
      state: 'ESTABLISHED',
      original: { src: 'fd00:10:244::a', dst: '2001:db8:ff::10', dport: 27017 },
      reply: { src: '2001:db8:ff::10', dst: '2001:db8:1::2', sport: 27017 },
      count: 2,
    },
    {
      family: 'ipv4',
      protocol: 'tcp',
      state: 'ESTABLISHED',
      original: { src: '10.244.0.10', dst: '203.0.113.10', dport: 27017 },
      reply: { src: '203.0.113.10', dst: '198.51.100.2', sport: 27017 },
      count: 3,
    },
    {
      family: 'ipv4',
      protocol: 'tcp',
      state: 'TIME_WAIT',
      original: { src: '10.244.0.10', dst: '203.0.113.10', dport: 27017 },
      reply: { src: '203.0.113.10', dst: '198.51.100.2', sport: 27017 },
      count: 1,
    },
    {
      family: 'ipv4',
      protocol: 'udp',
      original: { src: '10.244.0.10', dst: '203.0.113.10', dport: 53 },
      reply: { src: '203.0.113.10', dst: '198.51.100.2', sport: 53 },
      count: 1,
    },
  ],
  flows: 8,
  malformed: 0,
  truncated: false,
};

/** One pod's flows to one destination, as conntrack lists them (the fixture's line shape, ports varied). */
function oneDestination(flows: number): string {
  const out: string[] = [];
  for (let i = 0; i < flows; i++)
    out.push(
      `ipv4     2 tcp      6 431998 ESTABLISHED src=10.244.0.10 dst=203.0.113.10 sport=${32768 + (i % 28000)} dport=27017 ` +
        `src=203.0.113.10 dst=198.51.100.2 sport=27017 dport=${1024 + (i % 64000)} [ASSURED] mark=0 use=1\n`,
    );
  return out.join('');
}

const feed = (chunks: readonly (Uint8Array | string)[], limits?: Parameters<typeof createFlowCounter>[0]) => {
  const c = createFlowCounter(limits);
  for (const chunk of chunks) c.push(chunk);
  return c.finish();
};

describe('createFlowCounter', () => {
  it('counts the real table as flow groups: the ports the node picked are left out, the rest kept', () => {
    expect(countConntrackFlows(REAL)).toEqual(REAL_COUNTS);
  });

  it('gives the same counts however the text is cut: two chunks at every byte boundary, and byte by byte', () => {
    const bytes = Buffer.from(REAL);
    for (let at = 0; at <= bytes.length; at++)
      expect(feed([bytes.subarray(0, at), bytes.subarray(at)]), `cut at ${at}`).toEqual(REAL_COUNTS);
    const single = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
    expect(feed(single)).toEqual(REAL_COUNTS);
  });

  it('joins a line split over three frames, also inside a multi-byte character', () => {
    // A real line with a (hand-made) non-ASCII secctx: conntrack prints the label it is given.
    const line =
      'ipv4     2 tcp      6 431998 ESTABLISHED src=10.244.0.10 dst=203.0.113.10 sport=50036 dport=27017 ' +
      'src=203.0.113.10 dst=198.51.100.2 sport=27017 dport=40000 [ASSURED] mark=0 secctx=systéme_u use=1\n';
    const bytes = Buffer.from(line);
    const e = bytes.indexOf(0xc3); // the first byte of 'é'
    const counts = feed([bytes.subarray(0, 40), bytes.subarray(40, e + 1), bytes.subarray(e + 1)]);
    expect(counts.flows).toBe(1);
    expect(counts.malformed).toBe(0);
    expect(counts.groups[0]).toMatchObject({ original: { src: '10.244.0.10', dport: 27017 }, count: 1 });
  });

  it('counts garbage lines as malformed wherever they fall, and keeps counting the flows around them', () => {
    const lines = REAL.trimEnd().split('\n');
    const text = [
      'hello world',
      lines[0],
      '\u0000\u0001binary',
      ...lines.slice(1, 4),
      'tcp 6 10 ESTABLISHED src=10.1.0.5 dst=1.2.3.4 sport=1 dport=70000 src=1.2.3.4 dst=10.0.0.4 sport=1 dport=2',
      ...lines.slice(4),
      '   ',
      'conntrack v1.4.7 (conntrack-tools): 8 flow entries have been shown.',
      'trailing garbage without a newline',
    ].join('\n');
    const bytes = Buffer.from(text);
    for (const size of [1, 7, 64, 1 << 20]) {
      const chunks: Uint8Array[] = [];
      for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
      expect(feed(chunks), `chunks of ${size}`).toEqual({ ...REAL_COUNTS, malformed: 4 });
    }
  });

  it('bounds what it holds: an overlong line is dropped as it arrives and counted once; maxFlows truncates', () => {
    const limits = { maxFlows: 1_000, maxLineLength: 2048 };
    const c = createFlowCounter(limits);
    const filler = Buffer.alloc(1000, 0x78);
    let most = 0;
    c.push('tcp 6 10 ESTABLISHED ');
    for (let i = 0; i < 100; i++) {
      c.push(filler); // 100 KB of one line, never held
      most = Math.max(most, c.state.heldBytes);
    }
    c.push(`\n${REAL}`);
    expect(most).toBeLessThanOrEqual(limits.maxLineLength);
    expect(c.state.heldBytes).toBe(0);
    expect(c.finish()).toEqual({ ...REAL_COUNTS, malformed: 1 });

    // As parseConntrackTable: the flows past maxFlows are dropped and the table says so.
    const cut = countConntrackFlows(`${REAL}${REAL}`, { maxFlows: 10, maxLineLength: 2048 });
    expect(cut.flows).toBe(10);
    expect(cut.truncated).toBe(true);
    expect(parseConntrackTable(`${REAL}${REAL}`, { maxFlows: 10, maxLineLength: 2048 }).flows).toHaveLength(
      10,
    );
  });

  it('holds the same whatever the number of flows of one pod to one destination (the listing is never kept)', () => {
    const states = [1_000, 100_000].map((n) => {
      const text = Buffer.from(oneDestination(n));
      const c = createFlowCounter();
      let held = 0;
      // Cut as the API server frames exec output (32 KiB writes): lines cross frames.
      for (let at = 0; at < text.length; at += 32 * 1024) {
        c.push(text.subarray(at, at + 32 * 1024));
        held = Math.max(held, c.state.heldBytes);
      }
      const groups = c.state.groups;
      const counts = c.finish();
      expect(counts.flows).toBe(n);
      expect(counts.groups).toHaveLength(1);
      expect(counts.groups[0]?.count).toBe(n);
      return { groups, held };
    });
    expect(states[1]?.groups).toBe(states[0]?.groups);
    // At most one line between frames.
    expect(states[1]?.held).toBeLessThan(300);
  });

  it('the groups attribute and capture exactly as the flows they stand for', () => {
    for (const text of [REAL, `${REAL}${oneDestination(5_000)}`]) {
      const flows = parseConntrackTable(text).flows;
      const counts = countConntrackFlows(text);
      expect(counts.flows).toBe(flows.length);
      expect(attributeFlows(counts.groups, NODE, PODS, classifier)).toEqual(
        attributeFlows(flows, NODE, PODS, classifier),
      );
      expect(attributeFlows(counts.groups, [], [], classifier)).toEqual(
        attributeFlows(flows, [], [], classifier),
      );
      expect(socketsFromFlows(counts.groups, POD_IPS)).toEqual(socketsFromFlows(flows, POD_IPS));
    }
  });
});
