import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SocketEntry } from '../../src/model.js';
import {
  looksLikeProcNetTcp,
  MAX_LINE_BYTES,
  type ParsedProcNetTcp,
  ProcNetTcpScanner,
  parseProcNetTcp,
  SCAN_SLICE,
  scanProcNetTcp,
  toEntry,
} from '../../src/sockets/parse.js';

const fixture = (name: string) => readFileSync(join(__dirname, '../fixtures/proc', name), 'utf8');

const TCP_HEADER =
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
const TCP6_HEADER =
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';

const brief = (e: SocketEntry) =>
  `${e.table} ${e.family} ${e.localAddress}:${e.localPort} ${e.remoteAddress}:${e.remotePort} ${e.state}`;

describe('parseProcNetTcp: the first incident', () => {
  const parsed = parseProcNetTcp(fixture('incident-tcp.txt'));

  it('reads the nine sockets and the header', () => {
    expect(parsed).toMatchObject({ lines: 9, parsed: 9, malformed: 0, headers: 1 });
  });

  it('decodes host-endian addresses and hex ports', () => {
    expect(
      new Set(parsed.entries.map((e) => `${e.localAddress} ${e.remoteAddress}:${e.remotePort} ${e.state}`)),
    ).toEqual(new Set(['10.240.0.172 20.103.144.194:27017 ESTABLISHED']));
    expect(parsed.entries.map((e) => e.localPort)).toEqual([
      0xc9fa, 0xca00, 0x8ed0, 0xca02, 0xc9fe, 0x8760, 0xc9fc, 0xc56c, 0x883c,
    ]);
  });

  it('reads every column of the first line', () => {
    expect(parsed.entries[0]).toEqual({
      sl: 0,
      table: 'tcp',
      family: 'ipv4',
      localAddress: '10.240.0.172',
      localPort: 51706,
      remoteAddress: '20.103.144.194',
      remotePort: 27017,
      state: 'ESTABLISHED',
      txQueue: 0,
      rxQueue: 0,
      timerActive: 2,
      timerExpires: 0xda9,
      retransmits: 0,
      uid: 1001,
      timeout: 0,
      inode: 376439162,
    });
  });
});

describe('parseProcNetTcp: real kernel output, tcp and tcp6 concatenated', () => {
  // Captured on Linux from sockets over loopback: IPv4, IPv6, and a dual-stack listener with an IPv4 peer.
  const parsed = parseProcNetTcp(fixture('loopback-dual-stack.txt'));

  it('finds both headers and all eleven sockets', () => {
    expect(parsed).toMatchObject({ lines: 11, parsed: 11, malformed: 0, headers: 2 });
  });

  it('reads IPv6 words and unmaps ::ffff:a.b.c.d', () => {
    expect(parsed.entries.map(brief)).toEqual([
      'tcp ipv4 127.0.0.1:44529 0.0.0.0:0 LISTEN',
      'tcp ipv4 127.0.0.1:44529 127.0.0.1:54804 ESTABLISHED',
      'tcp ipv4 127.0.0.1:40714 127.0.0.1:45067 ESTABLISHED',
      'tcp ipv4 127.0.0.1:54804 127.0.0.1:44529 ESTABLISHED',
      'tcp6 ipv6 ::1:33031 :::0 LISTEN',
      'tcp6 ipv6 :::45067 :::0 LISTEN',
      'tcp6 ipv6 ::1:48728 ::1:33031 ESTABLISHED',
      'tcp6 ipv6 ::1:56296 ::1:45067 ESTABLISHED',
      'tcp6 ipv6 ::1:33031 ::1:48728 ESTABLISHED',
      'tcp6 ipv4 127.0.0.1:45067 127.0.0.1:40714 ESTABLISHED',
      'tcp6 ipv6 ::1:45067 ::1:56296 ESTABLISHED',
    ]);
    expect(parsed.entries.map((e) => e.inode)).toEqual([
      55165, 55169, 55172, 55168, 55166, 55167, 55170, 55174, 55171, 55173, 55175,
    ]);
  });
});

describe('parseProcNetTcp: hand-written lines', () => {
  it.each<[string, string, string]>([
    [
      'public IPv6 peer',
      '   0: B80D0120000000000000000005000000:C350 00470626000000000000000011110000:01BB 01 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 20 0 0 10 -1',
      'tcp6 ipv6 2001:db8::5:50000 2606:4700::1111:443 ESTABLISHED',
    ],
    [
      'IPv4-mapped public peer',
      '   1: 0000000000000000FFFF0000AC00F00A:C9FA 0000000000000000FFFF0000C2906714:6989 02 00000000:00000000 01:000000C8 00000002  1001        0 2 1 0000000000000000 100 0 0 10 -1',
      'tcp6 ipv4 10.240.0.172:51706 20.103.144.194:27017 SYN_SENT',
    ],
    [
      'sl wider than four digits',
      '123456: AC00F00A:C9FA C2906714:6989 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000',
      'tcp ipv4 10.240.0.172:51706 20.103.144.194:27017 TIME_WAIT',
    ],
    [
      'lowercase hex, negative %08lX timer, CRLF',
      '   7: ac00f00a:c9fa c2906714:6989 08 0000000a:00000001 01:FFFFFFFFFFFFFF9C 00000005  1001       -1 99 1 0000000000000000 20 4 0 10 -1\r',
      'tcp ipv4 10.240.0.172:51706 20.103.144.194:27017 CLOSE_WAIT',
    ],
    [
      'no trailing columns after the inode',
      '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 42',
      'tcp ipv4 127.0.0.1:8080 0.0.0.0:0 LISTEN',
    ],
  ])('%s', (_name, line, expected) => {
    const parsed = parseProcNetTcp(`${line}\n`);
    expect(parsed.malformed).toBe(0);
    expect(parsed.entries.map(brief)).toEqual([expected]);
  });

  it('reads the counters of an unusual line', () => {
    const [entry] = parseProcNetTcp(
      '   7: ac00f00a:c9fa c2906714:6989 08 0000000a:00000001 01:FFFFFFFFFFFFFF9C 00000005  1001       -1 99 1 0\n',
    ).entries;
    expect(entry).toMatchObject({
      sl: 7,
      txQueue: 10,
      rxQueue: 1,
      timerActive: 1,
      retransmits: 5,
      uid: 1001,
      timeout: -1,
      inode: 99,
    });
  });

  it('maps unknown state codes to UNKNOWN', () => {
    const parsed = parseProcNetTcp(
      '   0: 0100007F:1F90 0100007F:1F91 1F 00000000:00000000 00:00000000 00000000     0        0 1\n',
    );
    expect(parsed.entries[0]?.state).toBe('UNKNOWN');
  });
});

describe('malformed lines are counted and skipped, never thrown', () => {
  const good =
    '   0: 0100007F:1F90 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 1 1 0 20 0 0 10 -1';
  it.each([
    ['garbage', 'hello world'],
    ['truncated after the state', '   0: 0100007F:1F90 0100007F:A000 01'],
    ['truncated inside the remote address', '   0: 0100007F:1F90 0100'],
    [
      'truncated before the inode',
      '   0: 0100007F:1F90 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0',
    ],
    [
      '7-digit address',
      '   0: 100007F:1F90 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 1',
    ],
    [
      'mixed address widths',
      '   0: 0100007F:1F90 00000000000000000000000001000000:A000 01 00000000:00000000 00:00000000 00000000 0 0 1',
    ],
    [
      'non-hex address',
      '   0: 0100007G:1F90 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 1',
    ],
    [
      '3-digit port',
      '   0: 0100007F:F90 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 1',
    ],
    [
      '1-digit state',
      '   0: 0100007F:1F90 0100007F:A000 1 00000000:00000000 00:00000000 00000000     0        0 1',
    ],
    ['no sl', '0100007F:1F90 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 1'],
    [
      'negative inode',
      '   0: 0100007F:1F90 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 -1',
    ],
    [
      'letters in the inode',
      '   0: 0100007F:1F90 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 12ab',
    ],
    ['NUL bytes', '\0\0\0\0'],
    ['a header look-alike', '  sl  something else'],
    // Regression (fuzz counterexample, issue 16): a line that fails in the queue/timer columns made the
    // scan jump to the buffer's end, so the good line after it was never seen.
    [
      'non-hex queue (the next line is still read)',
      '   0: 0100007F:1F90 0100007F:A000 01 0000000Z:00000000 00:00000000 00000000     0        0 1',
    ],
    [
      'carriage return before the queues (the next line is still read)',
      '   0: 0100007F:1F90 0100007F:A000 01 \r00000000:00000000 00:00000000 00000000     0        0 1',
    ],
  ])('%s', (_name, bad) => {
    const parsed = parseProcNetTcp(`${TCP_HEADER}\n${good}\n${bad}\n${good}\n`);
    expect(parsed).toMatchObject({ lines: 3, parsed: 2, malformed: 1, headers: 1 });
  });

  it('skips blank lines without counting them', () => {
    expect(parseProcNetTcp(`\n\n   \n${good}\n\n`)).toMatchObject({ lines: 1, parsed: 1, malformed: 0 });
  });

  it('bounds a partial line held between chunks', () => {
    const scanner = new ProcNetTcpScanner(() => {});
    const long = 'x'.repeat(1000);
    for (let i = 0; i < (MAX_LINE_BYTES / 1000) * 3; i++) scanner.push(long);
    scanner.push(`\n${good}\n`);
    expect(scanner.finish()).toMatchObject({ lines: 2, parsed: 1, malformed: 1 });
  });
});

describe('headers anywhere and concatenated tables', () => {
  it('accepts header lines in the middle (tcp then tcp6)', () => {
    const text = [
      TCP_HEADER.padEnd(149),
      '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0'.padEnd(
        149,
      ),
      TCP6_HEADER,
      '   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0',
      TCP_HEADER,
    ].join('\n');
    const parsed = parseProcNetTcp(text);
    expect(parsed).toMatchObject({ lines: 2, parsed: 2, malformed: 0, headers: 3 });
    expect(parsed.entries.map((e) => e.table)).toEqual(['tcp', 'tcp6']);
  });

  it('parses a last line without a newline', () => {
    expect(
      parseProcNetTcp(
        '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1',
      ).parsed,
    ).toBe(1);
  });
});

describe('streaming', () => {
  const text = fixture('loopback-dual-stack.txt') + fixture('incident-tcp.txt');
  const whole = parseProcNetTcp(text);

  const streamed = (chunks: (string | Uint8Array)[]): ParsedProcNetTcp => {
    const entries: SocketEntry[] = [];
    const scanner = new ProcNetTcpScanner((r) => entries.push(toEntry(r)));
    for (const chunk of chunks) scanner.push(chunk);
    return { entries, ...scanner.finish() };
  };

  it('gives the same result for a split at every 7th byte', () => {
    const bytes = Buffer.from(text);
    for (let at = 0; at <= bytes.length; at += 7) {
      expect(streamed([bytes.subarray(0, at), bytes.subarray(at)])).toEqual(whole);
    }
  });

  it('gives the same result one byte at a time, as strings', () => {
    expect(streamed([...text])).toEqual(whole);
  });

  it('does not keep the chunks it was given (buffers may be reused)', () => {
    const bytes = Buffer.from(text);
    const reused = Buffer.alloc(64);
    const entries: SocketEntry[] = [];
    const scanner = new ProcNetTcpScanner((r) => entries.push(toEntry(r)));
    for (let at = 0; at < bytes.length; at += 64) {
      const n = bytes.copy(reused, 0, at, at + 64);
      scanner.push(reused.subarray(0, n));
      reused.fill(0x41);
    }
    expect({ entries, ...scanner.finish() }).toEqual(whole);
  });
});

describe('looksLikeProcNetTcp', () => {
  it.each([
    ['the incident', fixture('incident-tcp.txt'), true],
    ['a header only', `${TCP_HEADER}\n`, true],
    [
      'one socket line without a header',
      '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n',
      true,
    ],
    ['prose', 'this is not /proc/net/tcp\nat all\n', false],
    ['empty input', '', false],
    ['JSON', '{"sockets": [1, 2, 3]}', false],
  ])('%s: %s', (_name, text, expected) => {
    expect(looksLikeProcNetTcp(scanProcNetTcp(text, () => {}))).toBe(expected);
  });
});

describe('a chunk longer than SCAN_SLICE', () => {
  it('scans in slices that end at newlines: the same sockets and counts as line by line', () => {
    // Lines of several widths and kinds (kernel-shaped, wide columns, headers, malformed, blank), past 3 slices.
    const kinds = [
      (i: number) =>
        `${String(i).padStart(4)}: 0AF000AC:${(40000 + (i % 9000)).toString(16).toUpperCase()} C2906714:6989 01 00000000:00000000 00:00000000 00000000  1001        0 ${1000 + i} 1 0000000000000000 20 4 0 10 -1`.padEnd(
          149,
        ),
      (i: number) =>
        `${i}: 0AF000AC:1F90 0A7100CB:01BB 06 0:0 00:FFFFFFFFFFFFFF9C 0 0 0 ${i} 1 0 20 4 0 10 -1`,
      () =>
        '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      (i: number) => `not a socket ${'x'.repeat(i % 300)}`,
      () => '',
    ];
    const lines: string[] = [];
    let bytes = 0;
    for (let i = 0; bytes < 3.5 * SCAN_SLICE; i++) {
      const text = (kinds[i % 7 < 4 ? 0 : (i % 7) - 3] as (i: number) => string)(i);
      lines.push(text);
      bytes += text.length + 1;
    }
    const whole = Buffer.from(`${lines.join('\n')}\n`, 'latin1');
    const once: SocketEntry[] = [];
    const onceCounts = scanProcNetTcp(whole, (r) => once.push(toEntry(r)));
    const byLine: SocketEntry[] = [];
    const scanner = new ProcNetTcpScanner((r) => byLine.push(toEntry(r)));
    for (const line of lines) scanner.push(Buffer.from(`${line}\n`, 'latin1'));
    expect(onceCounts).toEqual(scanner.finish());
    expect(onceCounts.parsed).toBeGreaterThan(1000);
    expect(onceCounts.malformed).toBeGreaterThan(100);
    expect(once).toEqual(byLine);
  });
});
