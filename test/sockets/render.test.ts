import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SocketEntry, TcpState } from '../../src/model.js';
import { formatIpv4, formatIpv6, parseIp } from '../../src/sockets/address.js';
import {
  MAX_LINE_BYTES,
  ProcNetTcpScanner,
  parseProcNetTcp,
  scanProcNetTcp,
} from '../../src/sockets/parse.js';
import { type RenderSocket, renderProcNetTcp } from '../../src/sockets/render.js';
import { STATE_BY_CODE } from '../../src/sockets/states.js';

const incident = readFileSync(join(__dirname, '../fixtures/proc/incident-tcp.txt'), 'utf8').split('\n');

describe('renderProcNetTcp', () => {
  it('prints a line exactly as the kernel printed the incident (up to the inode)', () => {
    const text = renderProcNetTcp(
      [
        {
          localAddress: '10.240.0.172',
          localPort: 0xc9fa,
          remoteAddress: '20.103.144.194',
          remotePort: 27017,
          state: 'ESTABLISHED',
          inode: 376439162,
          uid: 1001,
        },
      ],
      'tcp',
    );
    const [header, first] = text.split('\n');
    expect(header?.trimEnd()).toBe(incident[0]);
    // the incident's line had a keepalive timer running; the rest is column for column the same
    expect(first?.replace(' 00:00000000 ', ' 02:00000DA9 ').slice(0, 100)).toBe(incident[1]?.slice(0, 100));
    expect(first).toHaveLength(149);
  });

  it('renders IPv4 peers in tcp6 as ::ffff:a.b.c.d and IPv6 words host-endian', () => {
    const text = renderProcNetTcp(
      [
        {
          localAddress: '::1',
          localPort: 80,
          remoteAddress: '127.0.0.1',
          remotePort: 5,
          state: 'TIME_WAIT',
          inode: 0,
        },
        {
          localAddress: '2001:db8::5',
          localPort: 50000,
          remoteAddress: '2606:4700::1111',
          remotePort: 443,
          state: 'ESTABLISHED',
          inode: 7,
        },
      ],
      'tcp6',
    );
    expect(text.split('\n').slice(1, 3)).toEqual([
      '   0: 00000000000000000000000001000000:0050 0000000000000000FFFF00000100007F:0005 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000',
      '   1: B80D0120000000000000000005000000:C350 00470626000000000000000011110000:01BB 01 00000000:00000000 00:00000000 00000000     0        0 7 2 0000000000000000 21 4 0 10 -1',
    ]);
  });

  it.each([
    ['an IPv6 address in tcp', { localAddress: '::1', remoteAddress: '::1' }, 'tcp'],
    ['a bad address', { localAddress: '1.2.3', remoteAddress: '1.2.3.4' }, 'tcp6'],
    ['a bad port', { localAddress: '1.2.3.4', remoteAddress: '1.2.3.4', localPort: 70000 }, 'tcp'],
  ] as const)('rejects %s', (_name, override, table) => {
    const socket: RenderSocket = { localPort: 1, remotePort: 2, state: 'ESTABLISHED', inode: 1, ...override };
    expect(() => renderProcNetTcp([socket], table)).toThrow();
  });
});

// ---------------------------------------------------------------- properties

const ipv4 = fc.integer({ min: 0, max: 0xffffffff }).map(formatIpv4);
const ipv6 = fc
  .tuple(fc.nat(), fc.nat(), fc.nat(), fc.nat())
  .map(([a, b, c, d]) => formatIpv6(a >>> 0, b >>> 0, (c * 3) >>> 0, d >>> 0));
const mapped = ipv4.map((a) => `::ffff:${a}`);
const state = fc.constantFrom<TcpState>(...STATE_BY_CODE.filter((s) => s !== 'UNKNOWN'));
const socketOf = (address: fc.Arbitrary<string>) =>
  fc.record<RenderSocket>({
    localAddress: address,
    localPort: fc.integer({ min: 0, max: 65535 }),
    remoteAddress: address,
    remotePort: fc.integer({ min: 0, max: 65535 }),
    state,
    inode: fc.integer({ min: 0, max: 2 ** 40 }),
    uid: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  });

/** What the parser must give back: the same socket, `::ffff:a.b.c.d` unmapped. */
const canonical = (address: string): string => {
  const a = parseIp(address);
  if (a === null) throw new Error(address);
  if (a.family === 'ipv4') return formatIpv4(a.value);
  const [w0, w1, w2, w3] = a.words;
  return w0 === 0 && w1 === 0 && w2 === 0xffff ? formatIpv4(w3) : formatIpv6(w0, w1, w2, w3);
};
const expected = (s: RenderSocket) => ({
  localAddress: canonical(s.localAddress),
  localPort: s.localPort,
  remoteAddress: canonical(s.remoteAddress),
  remotePort: s.remotePort,
  state: s.state,
  inode: s.inode,
  uid: s.uid ?? 0,
});
const actual = (e: SocketEntry) => ({
  localAddress: e.localAddress,
  localPort: e.localPort,
  remoteAddress: e.remoteAddress,
  remotePort: e.remotePort,
  state: e.state,
  inode: e.inode,
  uid: e.uid,
});

describe('properties', () => {
  it('render → parse round-trips tcp and tcp6 tables, concatenated', () => {
    fc.assert(
      fc.property(
        fc.array(socketOf(ipv4), { maxLength: 20 }),
        fc.array(socketOf(fc.oneof(ipv6, mapped, ipv4)), { maxLength: 20 }),
        (tcp, tcp6) => {
          const text = renderProcNetTcp(tcp, 'tcp') + renderProcNetTcp(tcp6, 'tcp6');
          const parsed = parseProcNetTcp(text);
          expect(parsed).toMatchObject({ malformed: 0, headers: 2, parsed: tcp.length + tcp6.length });
          expect(parsed.entries.map(actual)).toEqual([...tcp, ...tcp6].map(expected));
          expect(parsed.entries.map((e) => e.table)).toEqual([
            ...tcp.map(() => 'tcp'),
            ...tcp6.map(() => 'tcp6'),
          ]);
          expect(parsed.entries.map((e) => e.family)).toEqual(
            [...tcp, ...tcp6].map((s) => (canonical(s.remoteAddress).includes(':') ? 'ipv6' : 'ipv4')),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('arbitrary bytes never throw, and every non-blank line is counted', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 1, max: 64 }), (bytes, chunk) => {
        let visited = 0;
        const counts = scanProcNetTcp(bytes, () => {
          visited++;
        });
        expect(counts.parsed).toBe(visited);
        expect(counts.lines).toBe(counts.parsed + counts.malformed);
        // The same bytes in chunks give the same counts.
        const scanner = new ProcNetTcpScanner(() => {});
        for (let at = 0; at < bytes.length; at += chunk) scanner.push(bytes.subarray(at, at + chunk));
        expect(scanner.finish()).toEqual(counts);
      }),
      { numRuns: 500 },
    );
  });

  it('work stays linear: a pushed chunk leaves at most MAX_LINE_BYTES pending, whatever the input', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(fc.uint8Array({ maxLength: 3000 }), fc.constant(Buffer.from(renderProcNetTcp([], 'tcp')))),
          {
            maxLength: 12,
          },
        ),
        (chunks) => {
          const scanner = new ProcNetTcpScanner(() => {});
          for (const chunk of chunks) {
            scanner.push(chunk);
            expect(scanner.pendingBytes).toBeLessThanOrEqual(MAX_LINE_BYTES);
          }
          scanner.finish();
          expect(scanner.pendingBytes).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('rendered lines with bytes flipped never throw', () => {
    fc.assert(
      fc.property(
        fc.array(socketOf(fc.oneof(ipv6, mapped)), { minLength: 1, maxLength: 5 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        (sockets, flips) => {
          const bytes = Buffer.from(renderProcNetTcp(sockets, 'tcp6'));
          for (const [at, value] of flips) bytes[at % bytes.length] = value;
          const parsed = parseProcNetTcp(bytes);
          expect(parsed.lines).toBe(parsed.parsed + parsed.malformed);
          expect(parsed.parsed).toBeLessThanOrEqual(sockets.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});
