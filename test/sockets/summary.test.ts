import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SocketSummary } from '../../src/model.js';
import { createClassifier, formatEndpoint } from '../../src/sockets/address.js';
import { parseProcNetTcp } from '../../src/sockets/parse.js';
import { createSummarizer, mergeSummaries, summarize, summarizeStream } from '../../src/sockets/summary.js';
import { fuzzRuns } from '../faults/fuzz.js';

const fixture = (name: string) => readFileSync(join(__dirname, '../fixtures/proc', name), 'utf8');

// Hand-written lines with host-endian words; each constant's comment says what it decodes to.
const line = (sl: number, local: string, remote: string, state: string) =>
  `${String(sl).padStart(4)}: ${local} ${remote} ${state} 00000000:00000000 00:00000000 00000000  1001        0 ${1000 + sl} 1 0000000000000000 20 4 0 10 -1`;
const POD = 'AC00F00A'; // 10.240.0.172
const ANY = '00000000:0000';
const MONGO = 'C2906714:6989'; // 20.103.144.194:27017
const DOC = '0A7100CB:01BB'; // 203.0.113.10:443
const DOC2 = '07643364:01BB'; // 100.51.100.7:443: public (outside 100.64/10)
const PRIVATE = '0500000A:1538'; // 10.0.0.5:5432
const CLUSTER = '0403F40A:0050'; // 10.244.3.4:80
const LINKLOCAL = 'FEA9FEA9:0050'; // 169.254.169.254:80 — bytes A9 FE A9 FE
const SHARED = '01004064:01BB'; // 100.64.0.1:443

describe('summarize: the first incident', () => {
  const summary = summarize(fixture('incident-tcp.txt'));

  it('finds 9 ESTABLISHED outbound sockets to 20.103.144.194:27017, all SNAT-consuming', () => {
    expect(summary).toEqual<SocketSummary>({
      lines: 9,
      parsed: 9,
      malformed: 0,
      byState: { ESTABLISHED: 9 },
      listening: 0,
      inbound: 0,
      outbound: 9,
      snatSockets: 9,
      destinations: [
        {
          remote: '20.103.144.194:27017',
          address: '20.103.144.194',
          port: 27017,
          sockets: 9,
          byState: { ESTABLISHED: 9 },
        },
      ],
    });
  });

  it('counts none of them once 20.103.144.0/24 is a non-SNAT destination', () => {
    const s = summarize(fixture('incident-tcp.txt'), createClassifier({ nonSnatCidrs: ['20.103.144.0/24'] }));
    expect([s.outbound, s.snatSockets, s.destinations]).toEqual([9, 0, []]);
  });
});

describe('summarize: directions', () => {
  it('splits the real dual-stack capture into listening, inbound and outbound', () => {
    const s = summarize(fixture('loopback-dual-stack.txt'));
    expect([s.listening, s.inbound, s.outbound, s.snatSockets]).toEqual([3, 4, 4, 0]);
    expect(s.byState).toEqual({ LISTEN: 3, ESTABLISHED: 8 });
  });

  it('treats a socket on a port LISTENed on as inbound, even when the listener comes later (tcp6 after tcp)', () => {
    const tcp = [line(0, `${POD}:1F90`, MONGO, '01'), line(1, `${POD}:C000`, MONGO, '01')];
    const tcp6 = [
      '   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 9 1 0 100 0 0 10 0',
    ];
    const s = summarize([...tcp, ...tcp6].join('\n'));
    expect([s.listening, s.inbound, s.outbound, s.snatSockets]).toEqual([1, 1, 1, 1]);
    expect(s.destinations.map((d) => [d.remote, d.sockets])).toEqual([['20.103.144.194:27017', 1]]);
  });

  it('treats a socket as inbound when the listener came first', () => {
    const s = summarize([line(0, `${POD}:1F90`, ANY, '0A'), line(1, `${POD}:1F90`, MONGO, '01')].join('\n'));
    expect([s.listening, s.inbound, s.outbound, s.snatSockets]).toEqual([1, 1, 0, 0]);
  });
});

describe('summarize: which sockets consume SNAT ports', () => {
  it.each([
    ['ESTABLISHED to a public peer', MONGO, '01', 1],
    ['TIME_WAIT holds the port too', MONGO, '06', 1],
    ['SYN_SENT holds the port too', MONGO, '02', 1],
    ['FIN_WAIT2', MONGO, '05', 1],
    ['CLOSE_WAIT', MONGO, '08', 1],
    ['CLOSE does not', MONGO, '07', 0],
    ['a documentation-range peer is public', DOC, '01', 1],
    ['100.51.100.7 is public', DOC2, '01', 1],
    ['an RFC 1918 peer is not', PRIVATE, '01', 0],
    ['a link-local peer is not', LINKLOCAL, '01', 0],
    ['a 100.64/10 peer is not', SHARED, '01', 0],
    ['a cluster peer (by CIDR) is not', CLUSTER, '01', 0],
  ])('%s', (_name, remote, state, expected) => {
    const classifier = createClassifier({ clusterCidrs: ['10.244.0.0/16'] });
    expect(summarize(line(0, `${POD}:C000`, remote, state), classifier).snatSockets).toBe(expected);
  });

  it('counts IPv6 and IPv4-mapped public peers, per destination and state', () => {
    const text = [
      '   0: B80D0120000000000000000005000000:C350 00470626000000000000000011110000:01BB 01 00000000:00000000 00:00000000 00000000     0        0 1 1 0 20 0 0 10 -1',
      '   1: B80D0120000000000000000005000000:C351 00470626000000000000000011110000:01BB 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0',
      '   2: 0000000000000000FFFF0000AC00F00A:C9FA 0000000000000000FFFF0000C2906714:6989 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 0 0 10 -1',
      '   3: 000080FE00000000000000000100000A:C9FB 000080FE000000000000000002000000:0050 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 20 0 0 10 -1',
      '   4: 0000000000000000FFFF0000AC00F00A:C9FC 0000000000000000FFFF00000500000A:1538 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0 20 0 0 10 -1',
    ].join('\n');
    const s = summarize(text);
    expect(s.snatSockets).toBe(3);
    expect(s.destinations).toEqual([
      {
        remote: '[2606:4700::1111]:443',
        address: '2606:4700::1111',
        port: 443,
        sockets: 2,
        byState: { ESTABLISHED: 1, TIME_WAIT: 1 },
      },
      {
        remote: '20.103.144.194:27017',
        address: '20.103.144.194',
        port: 27017,
        sockets: 1,
        byState: { ESTABLISHED: 1 },
      },
    ]);
  });

  it('sorts destinations by sockets, then remote', () => {
    const text = [
      line(0, `${POD}:C000`, DOC, '01'),
      line(1, `${POD}:C001`, MONGO, '01'),
      line(2, `${POD}:C002`, '0A7100CB:0050', '01'), // 203.0.113.10:80
      line(3, `${POD}:C003`, DOC, '06'),
    ].join('\n');
    expect(summarize(text).destinations.map((d) => `${d.remote}=${d.sockets}`)).toEqual([
      '203.0.113.10:443=2',
      '20.103.144.194:27017=1',
      '203.0.113.10:80=1',
    ]);
  });

  it('counts malformed lines in the summary', () => {
    const s = summarize(`${line(0, `${POD}:C000`, MONGO, '01')}\nnot a socket\n`);
    expect([s.lines, s.parsed, s.malformed, s.snatSockets]).toEqual([2, 1, 1, 1]);
  });
});

describe('streaming and merging', () => {
  const text = fixture('incident-tcp.txt') + fixture('loopback-dual-stack.txt');

  it('a streamed summary equals the whole-text summary', async () => {
    const bytes = Buffer.from(text);
    const chunks = Array.from({ length: Math.ceil(bytes.length / 33) }, (_, i) =>
      bytes.subarray(i * 33, i * 33 + 33),
    );
    const { summary, counts } = await summarizeStream(chunks);
    expect(summary).toEqual(summarize(text));
    expect(counts).toMatchObject({ headers: 3, bytes: bytes.length });
  });

  it('a summarizer can be fed chunk by chunk', () => {
    const s = createSummarizer();
    for (const part of text.split(/(?<=:)/)) s.push(part);
    expect(s.finish()).toEqual(summarize(text));
  });

  it('merges summaries: counts add up and destinations merge by remote', () => {
    const one = summarize(fixture('incident-tcp.txt'));
    const mixed = summarize(
      [line(0, `${POD}:C000`, MONGO, '06'), line(1, `${POD}:C001`, DOC, '01')].join('\n'),
    );
    const merged = mergeSummaries([one, mixed, summarize(fixture('loopback-dual-stack.txt'))]);
    expect(merged).toMatchObject({
      lines: 22,
      parsed: 22,
      listening: 3,
      inbound: 4,
      outbound: 15,
      snatSockets: 11,
    });
    expect(merged.byState).toEqual({ ESTABLISHED: 18, TIME_WAIT: 1, LISTEN: 3 });
    expect(merged.destinations).toEqual([
      {
        remote: '20.103.144.194:27017',
        address: '20.103.144.194',
        port: 27017,
        sockets: 10,
        byState: { ESTABLISHED: 9, TIME_WAIT: 1 },
      },
      {
        remote: '203.0.113.10:443',
        address: '203.0.113.10',
        port: 443,
        sockets: 1,
        byState: { ESTABLISHED: 1 },
      },
    ]);
    // merging does not modify its inputs
    expect(one.destinations[0]?.sockets).toBe(9);
  });
});

describe('the summary and the full parse count the same lines (issue 16 item 9)', () => {
  const real = [
    ...fixture('incident-tcp.txt').split('\n').slice(1, 3),
    ...fixture('loopback-dual-stack.txt')
      .split('\n')
      .filter((l) => l.includes(': 0000000000000000FFFF0000')),
  ];
  const good = line(0, `${POD}:C000`, MONGO, '01');

  it.each(real.map((l, i) => [i, l]))(
    'agrees with the full parse on every truncation of real line %i',
    (_i, real) => {
      for (let at = 0; at <= real.length; at++) {
        const text = `${real.slice(0, at)}\n${good}\n`;
        const full = parseProcNetTcp(text);
        const summary = summarize(text);
        expect([at, summary.parsed, summary.malformed]).toEqual([at, full.parsed, full.malformed]);
      }
    },
  );

  // Regression: the summary took a kernel-shaped line on its layout alone, so garbage in a column after
  // st was a socket to it and a malformed line to the full parse.
  it.each([
    ['uid', ' 1001 ', ' 10x1 '],
    ['tx_queue', ' 00000000:00000000 ', ' 0000z000:00000000 '],
    ['tm->when', ' 00:00000000 ', ' 00:0000G000 '],
    ['retrnsmt', ' 00000000  1001', ' 0000-000  1001'],
    ['inode', ' 1000 1 ', ' 1x00 1 '],
    ['timeout', '  1001        0 ', '  1001        x '],
  ])('rejects garbage in the %s column in both', (_column, from, to) => {
    const odd = good.replace(from, to);
    expect(odd).not.toBe(good);
    expect(parseProcNetTcp(odd)).toMatchObject({ parsed: 0, malformed: 1 });
    expect(summarize(odd)).toMatchObject({ parsed: 0, malformed: 1, snatSockets: 0 });
  });

  it('agrees with the full parse on any one-byte change of a real line (fast-check)', () => {
    const base = `${real[0]}\n`;
    fc.assert(
      fc.property(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, byte) => {
        const text = base.slice(0, at) + String.fromCharCode(byte) + base.slice(at + 1);
        const full = parseProcNetTcp(text);
        const summary = summarize(text);
        expect([summary.lines, summary.parsed, summary.malformed]).toEqual([
          full.lines,
          full.parsed,
          full.malformed,
        ]);
      }),
      { numRuns: 2000 },
    );
  });

  it('parses a line in another layout in full', () => {
    const wide = good.replace(' 00000000:00000000 00:00000000 ', ' 0:0 00:FFFFFFFFFFFFFF9C ');
    expect(parseProcNetTcp(wide).parsed).toBe(1);
    expect(summarize(wide)).toMatchObject({ parsed: 1, malformed: 0, snatSockets: 1 });
    const broken = good.replace(' 00000000:00000000 00:00000000 ', ' 0:0 00: ');
    expect(summarize(broken)).toMatchObject({ parsed: 0, malformed: 1 });
  });
});

describe('summarize against DESIGN.md’s definition, computed from the full parse', () => {
  // The reference: every socket as an entry; LISTEN ports from the whole table; SNAT-consuming = not
  // LISTEN or CLOSE, local port not LISTENed on anywhere, public remote.
  function reference(text: string) {
    const { entries } = parseProcNetTcp(text);
    const listen = new Set(entries.filter((e) => e.state === 'LISTEN').map((e) => e.localPort));
    const byRemote = new Map<string, { sockets: number; byState: Record<string, number> }>();
    let inbound = 0;
    let snat = 0;
    for (const e of entries) {
      if (e.state === 'LISTEN') continue;
      if (listen.has(e.localPort)) {
        inbound++;
        continue;
      }
      if (e.state === 'CLOSE' || classifier.classify(e.remoteAddress) !== 'public') continue;
      const remote = formatEndpoint(e.remoteAddress, e.remotePort);
      const d = byRemote.get(remote) ?? { sockets: 0, byState: {} };
      d.sockets++;
      d.byState[e.state] = (d.byState[e.state] ?? 0) + 1;
      byRemote.set(remote, d);
      snat++;
    }
    const destinations = [...byRemote].sort(
      ([ra, a], [rb, b]) => b.sockets - a.sockets || (ra < rb ? -1 : 1),
    );
    return { inbound, snat, destinations: destinations.map(([remote, d]) => [remote, d.sockets, d.byState]) };
  }
  const classifier = createClassifier();
  const hostHex = (w: number) =>
    (((w & 0xff) << 24) | (((w >>> 8) & 0xff) << 16) | (((w >>> 16) & 0xff) << 8) | (w >>> 24)) >>> 0;
  const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, '0');
  const v4 = (sl: number, localPort: number, remote: number, remotePort: number, state: number) =>
    line(
      sl,
      `${POD}:${hex(localPort, 4)}`,
      `${hex(hostHex(remote), 8)}:${hex(remotePort, 4)}`,
      hex(state, 2),
    );
  const v6 = (sl: number, localPort: number, words: number[], remotePort: number, state: number) =>
    `${String(sl).padStart(4)}: 00000000000000000000000000000000:${hex(localPort, 4)} ${words
      .map((w) => hex(hostHex(w), 8))
      .join(
        '',
      )}:${hex(remotePort, 4)} ${hex(state, 2)} 00000000:00000000 00:00000000 00000000     0        0 ${sl} 1 0 20 0 0 10 -1`;
  /** True when some port's first LISTEN comes after a SNAT candidate on that port (a socket direct counted). */
  const lateListen = (text: string): boolean => {
    const listen = new Set<number>();
    const candidates = new Set<number>();
    for (const e of parseProcNetTcp(text).entries) {
      if (e.state === 'LISTEN') {
        if (!listen.has(e.localPort) && candidates.has(e.localPort)) return true;
        listen.add(e.localPort);
      } else if (
        !listen.has(e.localPort) &&
        e.state !== 'CLOSE' &&
        classifier.classify(e.remoteAddress) === 'public'
      )
        candidates.add(e.localPort);
    }
    return false;
  };
  const check = (text: string) => {
    const s = summarize(text, classifier);
    const want = reference(text);
    expect({
      inbound: s.inbound,
      snat: s.snatSockets,
      destinations: s.destinations.map((d) => [d.remote, d.sockets, d.byState]),
    }).toEqual(want);
    // Counting as they come (no log): the same summary, or `exact` false exactly when a LISTEN came late.
    const direct = createSummarizer(classifier, { direct: true });
    direct.push(text);
    direct.flush(); // the last line has no newline
    expect(direct.exact).toBe(!lateListen(text));
    if (direct.exact) expect(direct.finish()).toEqual(s);
    else expect(() => direct.finishCompact()).toThrow(/inexact/);
  };

  it('9,000 destinations (several candidate logs), late LISTENs on some of their ports, tcp and tcp6', () => {
    const lines: string[] = [];
    for (let i = 0; i < 9000; i++) {
      const remote = (0x14000000 + i * 7) >>> 0; // 20.0.0.0 + 7i: public
      for (let j = 0; j <= i % 3; j++) {
        const sl = lines.length;
        lines.push(
          v4(sl, 32768 + ((i * 3 + j) % 28000), remote, 443, [1, 6, 8, 2, 14][(i + j) % 5] as number),
        );
      }
      if (i % 500 === 0) lines.push(v6(lines.length, 40000 + i, [0x20010db8, 0, i, 1], 443, 1));
      if (i % 700 === 0) lines.push(v6(lines.length, 40000 + i, [0, 0, 0xffff, remote], 443, 1));
    }
    // Listeners after everything (tcp6 after tcp): every 97th ephemeral port.
    for (let p = 32768; p < 60768; p += 97) lines.push(v4(lines.length, p, 0, 0, 10));
    const text = lines.join('\n');
    const s = summarize(text, classifier);
    expect(s.destinations.length).toBeGreaterThan(8000);
    expect(s.inbound).toBeGreaterThan(100);
    expect(lateListen(text)).toBe(true);
    check(text);
    // The same listeners first (as the kernel lists them within a file): counted as they come, in several
    // chunks of the direct tally, equal to the logged summary.
    const first = [...lines.slice(-289), ...lines.slice(0, -289)].join('\n');
    expect(first.split('\n')[0]).toContain(' 0A ');
    expect(lateListen(first)).toBe(false);
    check(first);
  });

  it(`any table (fast-check, ${fuzzRuns(100)} tables)`, () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: 1, max: 40 }),
            fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(0x14000001, 0x0a000005)),
            fc.constantFrom(80, 443),
            fc.integer({ min: 0, max: 16 }),
            fc.boolean(),
          ),
          { maxLength: 200 },
        ),
        (rows) => {
          const text = rows
            .map(([port, remote, remotePort, state, six], sl) =>
              six
                ? v6(sl, port, [0, 0, 0xffff, remote], remotePort, state)
                : v4(sl, port, remote, remotePort, state),
            )
            .join('\n');
          check(text);
        },
      ),
      { numRuns: fuzzRuns(100) },
    );
  });
});

describe('a small table takes little memory (a scan keeps one summarizer per pod in flight)', () => {
  it('50 finished summarizers of one destination each hold under 64 KiB of arrays apiece', () => {
    const text = line(0, `${POD}:C000`, MONGO, '01');
    const kept: unknown[] = [];
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 50; i++) {
      const s = createSummarizer();
      s.push(text);
      const summary = s.finishCompact();
      expect(summary.snatSockets).toBe(1);
      kept.push(s, summary); // alive: every array they hold counts
    }
    // The per-destination rows and key words start at 64 destinations (4 KiB and 768 bytes), not 4,096.
    expect((process.memoryUsage().arrayBuffers - before) / 50).toBeLessThan(64 << 10);
    expect(kept.length).toBe(100);
  });

  it('a table growing past the first chunk keeps every destination (64, 128 … 4,096 rows, then chunks of 4,096)', () => {
    const lines: string[] = [];
    const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, '0');
    // 9,000 destinations (20.0.x.y:443), one socket each, then a second socket to every 7th.
    for (let i = 0; i < 9000; i++)
      lines.push(
        line(
          lines.length,
          `${POD}:${hex(32768 + (i % 28000), 4)}`,
          `${hex(((0x14 | (i << 8)) >>> 0) & 0xffffffff, 8)}:01BB`,
          '01',
        ),
      );
    for (let i = 0; i < 9000; i += 7)
      lines.push(
        line(
          lines.length,
          `${POD}:${hex(40000 + (i % 20000), 4)}`,
          `${hex(((0x14 | (i << 8)) >>> 0) & 0xffffffff, 8)}:01BB`,
          '06',
        ),
      );
    for (const direct of [false, true]) {
      const s = createSummarizer(undefined, { direct });
      s.push(`${lines.join('\n')}\n`);
      const summary = s.finish();
      expect(summary.destinations.length).toBe(9000);
      expect(summary.snatSockets).toBe(9000 + Math.ceil(9000 / 7));
      expect(summary.destinations[0]).toEqual({
        remote: '20.0.0.0:443',
        address: '20.0.0.0',
        port: 443,
        sockets: 2,
        byState: { ESTABLISHED: 1, TIME_WAIT: 1 },
      });
      expect(summary.destinations.filter((d) => d.sockets === 2).length).toBe(Math.ceil(9000 / 7));
    }
  });
});

describe('finishCompact', () => {
  const text = [
    line(0, `${POD}:C000`, MONGO, '01'),
    line(1, `${POD}:C001`, MONGO, '06'),
    line(2, `${POD}:C002`, MONGO, '0E'), // an unknown state code: UNKNOWN
    line(3, `${POD}:C003`, DOC, '08'),
    line(4, `${POD}:C004`, '0A7100CB:0000', '02'), // port 0
    '   5: 00000000000000000000000000000000:C350 B80D0120000000000000000001000000:01BB 01 00000000:00000000 00:00000000 00000000     0        0 1 1 0 20 0 0 10 -1',
    '   6: 00000000000000000000000000000000:C351 0000000000000000FFFF0000C2906714:6989 05 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 0 0 10 -1',
  ].join('\n');

  it('lists what finish lists, and writes its JSON as JSON.stringify does (elements indented by 4)', () => {
    const a = createSummarizer();
    a.push(text);
    const objects = a.finish().destinations;
    const b = createSummarizer();
    b.push(text);
    const compact = b.finishCompact();
    const list = compact.destinations;
    expect(Array.from({ length: list.length }, (_, i) => list.at(i))).toEqual(objects);
    expect(list.at(list.length)).toBeUndefined();
    expect(objects.map((d) => d.remote)).toEqual([
      '20.103.144.194:27017',
      '203.0.113.10:0',
      '203.0.113.10:443',
      '[2001:db8::1]:443',
    ]);
    const element = (d: unknown) => `    ${JSON.stringify(d, null, 2).replace(/\n/g, '\n    ')}`;
    const json = (from: number, to: number) => list.json?.(from, to).toString('latin1');
    expect(json(0, list.length)).toBe(objects.map(element).join(',\n'));
    // A piece after the list's first element starts with the separator: pieces concatenate to the list.
    expect(json(1, 3)).toBe(`,\n${objects.slice(1, 3).map(element).join(',\n')}`);
    expect(json(2, 2)).toBe('');
    expect([json(0, 1), json(1, 3), json(3, list.length)].join('')).toBe(objects.map(element).join(',\n'));
  });
});

describe('destination order', () => {
  // Host-endian hex of a.b.c.d (tcp's %08X of the address as the kernel holds it).
  const v4 = (a: number, b: number, c: number, d: number) =>
    [d, c, b, a]
      .map((x) => x.toString(16).padStart(2, '0'))
      .join('')
      .toUpperCase();
  const hex4 = (n: number) => n.toString(16).padStart(4, '0').toUpperCase();

  it('most sockets first, then by remote as strings compare, when remotes share their first bytes (fast-check)', () => {
    // Octets and ports whose texts are prefixes of one another (1, 10, 100, 101 …): ties go past the first 6 bytes.
    const octet = fc.constantFrom(1, 10, 100, 101, 11, 110, 2, 20, 200, 203);
    const port = fc.constantFrom(8, 80, 443, 4430, 44, 8080);
    const destination = fc.tuple(octet, octet, octet, octet, port, fc.integer({ min: 1, max: 3 }));
    // The same first octets, so that the last octet's and the port's texts decide.
    const near = fc.tuple(
      fc.constant(20),
      fc.constantFrom(1, 10),
      fc.constant(7),
      octet,
      port,
      fc.integer({ min: 1, max: 2 }),
    );
    const anyOctet = fc.integer({ min: 1, max: 255 });
    const anyPort = fc.integer({ min: 0, max: 65535 });
    const anyDestination = fc.tuple(
      anyOctet,
      anyOctet,
      anyOctet,
      anyOctet,
      anyPort,
      fc.integer({ min: 1, max: 3 }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.oneof(destination, near, anyDestination), { minLength: 1, maxLength: 60 }),
        (list) => {
          let sl = 0;
          const lines: string[] = [];
          for (const [a, b, c, d, p, n] of list)
            for (let k = 0; k < n; k++)
              lines.push(line(sl++, `${POD}:${hex4(40000 + sl)}`, `${v4(a, b, c, d)}:${hex4(p)}`, '01'));
          // A few IPv6 peers (tcp6 lines), after every IPv4 one in the order, and sorted among themselves.
          for (const [a, b, , , p, n] of list.slice(0, 3))
            for (let k = 0; k < n; k++)
              lines.push(
                line(
                  sl++,
                  `0000000000000000FFFF0000${POD}:${hex4(40000 + sl)}`,
                  `B80D0120000000000000000000${a.toString(16).padStart(2, '0')}${b.toString(16).padStart(2, '0')}00:${hex4(p)}`.toUpperCase(),
                  '01',
                ),
              );
          const got = summarize(`${lines.join('\n')}\n`).destinations;
          const want = [...got].sort(
            (x, y) => y.sockets - x.sockets || (x.remote < y.remote ? -1 : x.remote > y.remote ? 1 : 0),
          );
          expect(got.some((x) => x.remote.startsWith('['))).toBe(true);
          expect(got.map((x) => x.remote)).toEqual(want.map((x) => x.remote));
        },
      ),
      { numRuns: fuzzRuns(300) },
    );
  });
});
