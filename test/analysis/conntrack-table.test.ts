// The streaming conntrack reader (issue 13, "no pod's text is held whole"): `conntrack -L -o extended`
// fed chunk by chunk as exec frames arrive, kept as flow groups. On the real table of
// test/fixtures/conntrack/ (its README says how it was captured) and on hostile text.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
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
import { fuzzRuns } from '../faults/fuzz.js';

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

// The counter (lines cut out of frames anywhere, flows folded into groups) against parseConntrackTable's flows
// grouped by the rule FlowGroup documents: same flows, same groups in the same order, same malformed lines, on
// the real fixture, on generated lines and on lines bent every which way, fed whole and in frames of any size.
describe('createFlowCounter reads as parseConntrackTable does', () => {
  /** parseConntrackTable's flows grouped as the counter documents (FlowGroup): the oracle. */
  const oracle = (text: string, limits?: Parameters<typeof parseConntrackTable>[1]): FlowCounts => {
    const table = parseConntrackTable(text, limits);
    const groups = new Map<string, FlowCounts['groups'][number]>();
    for (const f of table.flows) {
      const key = [
        f.protocol,
        f.state ?? '',
        f.original.src,
        f.original.dst,
        f.original.dport ?? '',
        f.reply.src,
        f.reply.dst,
        f.reply.sport ?? '',
      ].join(' ');
      let g = groups.get(key);
      if (g === undefined) {
        g = {
          family: f.family,
          protocol: f.protocol,
          ...(f.state !== undefined ? { state: f.state } : {}),
          original: {
            src: f.original.src,
            dst: f.original.dst,
            ...(f.original.dport !== undefined ? { dport: f.original.dport } : {}),
          },
          reply: {
            src: f.reply.src,
            dst: f.reply.dst,
            ...(f.reply.sport !== undefined ? { sport: f.reply.sport } : {}),
          },
          count: 0,
        };
        groups.set(key, g);
      }
      g.count = (g.count ?? 0) + 1;
    }
    return {
      groups: [...groups.values()],
      flows: table.flows.length,
      malformed: table.malformed,
      truncated: table.truncated,
    };
  };

  const v4 = fc.constantFrom('10.244.0.10', '203.0.113.10', '198.51.100.2', '0.0.0.0', '01.02.03.04');
  const v6 = fc.constantFrom('fd00:10:244::a', '2001:db8:ff::10', '::1', '::ffff:10.0.0.1', 'FE80::1');
  const notAnAddress = fc.constantFrom(
    '1.2.3',
    '1.2.3.4.5',
    '1234.1.1.1',
    'g::1',
    ':',
    '2001:db8::1:2:3:4:5:6:7:8:9:a:b:c:d:e:f',
    '',
  );
  const port = fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max: 65535 }).map(String) },
    { weight: 1, arbitrary: fc.constantFrom('0080', '00000', '65536', '99999', '123456', '', '-1', '1e3') },
  );
  const flag = fc.constantFrom('[ASSURED]', '[UNREPLIED]', '[OFFLOAD]', '[', ']', '[src=1.2.3.4]', '[]');
  const extra = fc.constantFrom(
    'mark=0',
    'use=1',
    'zone=3',
    'id=12345',
    'secctx=system_u:object_r:unlabeled_t:s0',
    '=x',
    'x=',
    'sport=',
    'dst=',
    'dport=7',
    'src=',
  );
  /** Mostly addresses of the line's family; sometimes the other one, or no address at all. */
  const addressOf = (family: 'v4' | 'v6') =>
    fc.oneof(
      { weight: 8, arbitrary: family === 'v4' ? v4 : v6 },
      { weight: 1, arbitrary: family === 'v4' ? v6 : v4 },
      { weight: 1, arbitrary: notAnAddress },
    );
  const tupleOf = (family: 'v4' | 'v6') =>
    fc
      .tuple(addressOf(family), addressOf(family), port, port, fc.constantFrom('ports', 'shuffled', 'none'))
      .map(([s, d, sp, dp, how]) =>
        how === 'ports'
          ? `src=${s} dst=${d} sport=${sp} dport=${dp}`
          : how === 'shuffled'
            ? `dport=${dp} src=${s} sport=${sp} dst=${d}`
            : `src=${s} dst=${d} type=8 code=0 id=1`,
      );
  const line = fc.constantFrom<'v4' | 'v6'>('v4', 'v6').chain((family) =>
    fc
      .tuple(
        fc.constantFrom('ipv4     2 ', 'ipv6     10 ', '', 'ipv4 ', 'IPV4     2 ', 'ipv6'),
        fc.constantFrom('tcp      6', 'udp      17', 'TCP      6', 'icmp     1', 'sctp 132', 'foo 1', 'tcp'),
        fc.constantFrom(' 431999', ' 10', ' x1', ''),
        fc.constantFrom(
          ' ESTABLISHED',
          ' TIME_WAIT',
          ' SYN_SENT',
          ' A',
          ' ABCDEFGHIJKLMNOPQ',
          ' established',
          '',
        ),
        fc.array(
          fc.oneof(
            { weight: 4, arbitrary: tupleOf(family) },
            { weight: 1, arbitrary: flag },
            { weight: 1, arbitrary: extra },
          ),
          {
            minLength: 0,
            maxLength: 7,
          },
        ),
      )
      .map(
        ([prefix, protocol, timeout, state, rest]) =>
          `${prefix}${protocol}${timeout}${state} ${rest.join(' ')}`,
      ),
  );
  /** A flow as conntrack prints it, with at most one thing changed: the declared family, a third direction, the state. */
  const flowLine = fc
    .tuple(
      fc.constantFrom<'v4' | 'v6'>('v4', 'v6'),
      fc.constantFrom('same', 'other', 'none'),
      fc.constantFrom('ESTABLISHED', 'TIME_WAIT', 'A', 'AB', 'SYN_SENT', ''),
      fc.nat(2),
      fc.constantFrom('[ASSURED] ', '', '[UNREPLIED] '),
    )
    .chain(([family, declared, state, extraTuples, flags]) =>
      fc
        .tuple(fc.array(tupleOf(family), { minLength: 2 + extraTuples, maxLength: 2 + extraTuples }))
        .map(([tuples]) => {
          const name =
            declared === 'none'
              ? ''
              : (declared === 'same') === (family === 'v4')
                ? 'ipv4     2 '
                : 'ipv6     10 ';
          return `${name}tcp      6 431999 ${state}${state ? ' ' : ''}${tuples.join(` ${flags}`)} mark=0 use=1`;
        }),
    );
  /** A line bent: whitespace, case, a byte swapped, cut, non-ASCII, the summary phrase. */
  const bent = fc
    .tuple(
      line,
      fc.nat(1000),
      fc.constantFrom('tab', 'spaces', 'cr', 'cut', 'nbsp', 'utf8', 'summary', 'none'),
    )
    .map(([l, at, how]) => {
      const i = l.length === 0 ? 0 : at % l.length;
      switch (how) {
        case 'tab':
          return l.replaceAll(' ', '\t');
        case 'spaces':
          return `  ${l.replaceAll(' ', '   ')}  `;
        case 'cr':
          return `${l}\r`;
        case 'cut':
          return l.slice(0, i);
        case 'nbsp':
          return `${l.slice(0, i)}\u00a0${l.slice(i)}`;
        case 'utf8':
          return `${l} secctx=systéme_u`;
        case 'summary':
          return `${l.slice(0, i)} flow entries have been shown ${l.slice(i)}`;
        default:
          return l;
      }
    });

  it('on the real fixture, and on it repeated past maxFlows', () => {
    expect(countConntrackFlows(REAL)).toEqual(oracle(REAL));
    const limits = { maxFlows: 11, maxLineLength: 2048 };
    expect(countConntrackFlows(`${REAL}${REAL}`, limits)).toEqual(oracle(`${REAL}${REAL}`, limits));
  });

  it('on generated and bent lines, fed whole and in frames cut anywhere', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(line, flowLine, bent, fc.constantFrom(...REAL.trimEnd().split('\n'))), {
          maxLength: 40,
        }),
        fc.nat(60),
        (lines, cut) => {
          const text = `${lines.join('\n')}\n`;
          const expected = oracle(text);
          expect(countConntrackFlows(text)).toEqual(expected);
          const bytes = Buffer.from(text);
          const size = cut + 1;
          const chunks: Uint8Array[] = [];
          for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
          expect(feed(chunks)).toEqual(expected);
        },
      ),
      { numRuns: fuzzRuns(300) },
    );
  });
});
