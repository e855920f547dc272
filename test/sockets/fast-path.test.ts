// The parser's fast path (src/sockets/parse.ts kernelShape): a line exactly as the kernel prints it is
// read at fixed offsets, 4 and 8 bytes at a time, with memos of the last address and uid/timeout bytes;
// every other line goes to the careful path. Two oracles:
//  - generated kernel lines, whose every column is known, must read back to those values;
//  - any line L ("<sl>: <rest>") and L' ("<sl>:  <rest>", one more space, which the careful path skips
//    and the fast path never takes) must give the same sockets, counts and records: whatever the fast
//    path accepts, the careful path accepts with the same values, and what it refuses it leaves alone.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  kernelShape,
  newRecord,
  ProcNetTcpScanner,
  parseProcNetTcp,
  type RawSocket,
  scanProcNetTcp,
} from '../../src/sockets/parse.js';
import { renderProcNetTcp } from '../../src/sockets/render.js';
import { createSummarizer, summarize } from '../../src/sockets/summary.js';
import { fuzzRuns } from '../faults/fuzz.js';

const hex = (n: number, width: number, lower = false): string => {
  const s = n.toString(16).padStart(width, '0');
  return lower ? s : s.toUpperCase();
};
/** A network-order word as the kernel prints a host-endian (little-endian) u32. */
const hostHex = (w: number, lower = false): string =>
  hex(
    (((w & 0xff) << 24) | (((w >>> 8) & 0xff) << 16) | (((w >>> 16) & 0xff) << 8) | (w >>> 24)) >>> 0,
    8,
    lower,
  );

interface Fields {
  sl: number;
  v6: boolean;
  local: readonly number[];
  localPort: number;
  remote: readonly number[];
  remotePort: number;
  state: number;
  txQueue: number;
  rxQueue: number;
  timerActive: number;
  timerExpires: number;
  retransmits: number;
  uid: number;
  timeout: number;
  inode: number;
  lower: boolean;
  crlf: boolean;
  pad: boolean;
}

/** One line in the kernel's format (tcp4_seq_show / tcp6_seq_show), without its newline. */
function kernelLine(f: Fields): string {
  const address = (words: readonly number[]) => words.map((w) => hostHex(w, f.lower)).join('');
  const line =
    `${String(f.sl).padStart(4)}: ${address(f.local)}:${hex(f.localPort, 4, f.lower)} ` +
    `${address(f.remote)}:${hex(f.remotePort, 4, f.lower)} ${hex(f.state, 2, f.lower)} ` +
    `${hex(f.txQueue, 8, f.lower)}:${hex(f.rxQueue, 8, f.lower)} ${hex(f.timerActive, 2, f.lower)}:` +
    `${hex(f.timerExpires, 8, f.lower)} ${hex(f.retransmits, 8, f.lower)} ${String(f.uid).padStart(5)} ` +
    `${String(f.timeout).padStart(8)} ${f.inode} 1 0000000000000000 20 4 30 10 -1`;
  return (f.pad && !f.v6 ? line.padEnd(149) : line) + (f.crlf ? '\r' : '');
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const mostlyZero = fc.oneof(fc.constant(0), u32);
const fields = (v6: boolean): fc.Arbitrary<Fields> =>
  fc.record({
    sl: fc.oneof(fc.nat(9999), fc.integer({ min: 10_000, max: 99_999_999 })),
    v6: fc.constant(v6),
    local: fc.oneof(
      fc.constant(v6 ? [0, 0, 0xffff, 0x0af0_00ac] : [0x0af0_00ac]),
      fc.array(u32, { minLength: v6 ? 4 : 1, maxLength: v6 ? 4 : 1 }),
    ),
    localPort: fc.integer({ min: 0, max: 65535 }),
    remote: fc.oneof(
      fc.constant(v6 ? [0x2001_0db8, 0, 0, 1] : [0x1467_90c2]),
      fc.array(u32, { minLength: v6 ? 4 : 1, maxLength: v6 ? 4 : 1 }),
    ),
    remotePort: fc.integer({ min: 0, max: 65535 }),
    state: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 255 })),
    txQueue: mostlyZero,
    rxQueue: mostlyZero,
    timerActive: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 })),
    timerExpires: mostlyZero,
    retransmits: mostlyZero,
    uid: fc.oneof(fc.constant(1001), fc.integer({ min: 0, max: 0xffffffff })),
    timeout: fc.oneof(fc.constant(0), fc.integer({ min: -99_999_999, max: 999_999_999 })),
    inode: fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 2 ** 40 })),
    lower: fc.boolean(),
    crlf: fc.boolean(),
    pad: fc.boolean(),
  });
const anyFields = fc.oneof(fields(false), fields(true));

/** What the scanner should report for a generated line (addresses as network-order words). */
function expected(f: Fields) {
  const mapped = (w: readonly number[]) => w.length === 4 && w[0] === 0 && w[1] === 0 && w[2] === 0xffff;
  return {
    sl: f.sl,
    v6: f.v6,
    localV4: !f.v6 || mapped(f.local),
    local4: f.local[f.local.length - 1],
    localPort: f.localPort,
    remoteV4: !f.v6 || mapped(f.remote),
    remote4: f.remote[f.remote.length - 1],
    remotePort: f.remotePort,
    state: f.state,
    txQueue: f.txQueue,
    rxQueue: f.rxQueue,
    timerActive: f.timerActive,
    timerExpires: f.timerExpires,
    retransmits: f.retransmits,
    uid: f.uid,
    timeout: f.timeout,
    inode: f.inode,
    ...(f.v6 ? { local: f.local, remote: f.remote } : {}),
  };
}

/** Every socket of `text` as a plain copy of the reused record, with the counts. */
function records(text: string | Buffer) {
  const out: Record<string, unknown>[] = [];
  // `bytes` is left out: L′ is one byte longer per line.
  const { bytes: _, ...counts } = scanProcNetTcp(text, (r) => out.push(copy(r)));
  return { out, counts };
}
const copy = (r: RawSocket) => ({
  ...r,
  local: [...r.local],
  remote: [...r.remote],
});

/** L' of the header comment: one more space after the first ": " (the careful path reads it alike). */
const widen = (line: string): string => line.replace(': ', ':  ');

/** The fast path's verdict on one line: the index after retrnsmt, or -1. */
function fast(line: string): number {
  const b = Buffer.from(`${line}\n`, 'latin1');
  const colon = b.indexOf(':'.charCodeAt(0));
  return kernelShape(b, new DataView(b.buffer, b.byteOffset, b.length), colon, b.length, newRecord());
}

const tcpLine = kernelLine({
  sl: 0,
  v6: false,
  local: [0x0af0_00ac],
  localPort: 51706,
  remote: [0x1467_90c2],
  remotePort: 27017,
  state: 1,
  txQueue: 0,
  rxQueue: 0,
  timerActive: 2,
  timerExpires: 0xda9,
  retransmits: 0,
  uid: 1001,
  timeout: 0,
  inode: 376439162,
  lower: false,
  crlf: false,
  pad: true,
});
const tcp6Line = renderProcNetTcp(
  [
    {
      localAddress: '::ffff:10.240.0.172',
      localPort: 40002,
      remoteAddress: '2001:db8::1',
      remotePort: 443,
      state: 'TIME_WAIT',
      inode: 3,
    },
  ],
  'tcp6',
).split('\n')[1] as string;

describe('the fast path takes the kernel shape and nothing else', () => {
  it.each([
    ['tcp', tcpLine],
    ['tcp6', tcp6Line],
    ['a wide sl (100000 sockets and more)', tcpLine.replace('   0:', '123456:')],
    ['lowercase hex', tcpLine.replace('AC00F00A', 'ac00f00a')],
    ['CRLF', `${tcpLine}\r`],
  ])('%s: taken', (_name, line) => {
    expect(fast(line)).toBeGreaterThan(0);
    expect(parseProcNetTcp(line)).toMatchObject({ parsed: 1, malformed: 0 });
  });

  it.each([
    ['an extra space after the colon', widen(tcpLine), 1],
    ['a 16-digit (negative) tm->when', tcpLine.replace('02:00000DA9', '02:FFFFFFFFFFFFFF9C'), 1],
    ['a 7-digit local address', tcpLine.replace('AC00F00A', 'AC00F00'), 0],
    ['a tab for the space before the state', tcpLine.replace(':6989 01', ':6989\t01'), 0],
    ['a colon for the space after rx_queue', tcpLine.replace('00000000 02:', '00000000:02:'), 0],
    ['a space for the colon in tr:tm->when', tcpLine.replace('02:00000DA9', '02 00000DA9'), 0],
    ['a non-hex byte in the remote address', tcpLine.replace('C2906714', 'C29G6714'), 0],
    ['a byte ≥ 0x80 in a port', tcpLine.replace(':C9FA', ':C9\u00ffA'), 0],
    ['a non-hex byte in tx_queue', tcpLine.replace(' 01 00000000', ' 01 0000000x'), 0],
    ['a newline inside the fixed columns', tcpLine.replace(' 01 00000000', ' 01 000\n0000'), 0],
  ])('%s: refused, the careful path decides', (_name, line, sockets) => {
    expect(fast(line)).toBe(-1);
    expect(parseProcNetTcp(line).parsed).toBe(sockets);
  });

  it('a line cut short of the space after retrnsmt is refused without reading past the buffer', () => {
    // tcpLine's retrnsmt ends at 74, the space after it is 75.
    expect(tcpLine.slice(55, 76)).toBe('02:00000DA9 00000000 ');
    for (let cut = 0; cut <= 75; cut++) {
      const b = Buffer.from(`${tcpLine.slice(0, cut)}\n`, 'latin1');
      const colon = b.indexOf(':'.charCodeAt(0));
      if (colon < 0) continue;
      const dv = new DataView(b.buffer, b.byteOffset, b.length);
      expect(kernelShape(b, dv, colon, b.length, newRecord())).toBe(-1);
    }
  });

  it('every truncation of the last line (no newline) parses as the careful path does', () => {
    for (let cut = 0; cut <= tcpLine.length; cut++) {
      const line = tcpLine.slice(0, cut);
      expect(records(line)).toEqual(records(widen(line)));
    }
  });
});

describe(`kernel lines read back to their columns (fast-check, ${fuzzRuns(300)} tables)`, () => {
  it('every column, tcp and tcp6, in any chunking', () => {
    fc.assert(
      fc.property(fc.array(anyFields, { minLength: 1, maxLength: 20 }), fc.nat(), (lines, cut) => {
        const text = Buffer.from(`${lines.map(kernelLine).join('\n')}\n`, 'latin1');
        const want = lines.map(expected);
        expect(records(text).out).toMatchObject(want);
        // The same, split at one point (a partial line is held between chunks).
        const at = cut % (text.length + 1);
        const got: Record<string, unknown>[] = [];
        const scanner = new ProcNetTcpScanner((r) => got.push(copy(r)));
        scanner.push(text.subarray(0, at));
        scanner.push(text.subarray(at));
        expect(scanner.finish()).toMatchObject({ parsed: lines.length, malformed: 0 });
        expect(got).toMatchObject(want);
      }),
      { numRuns: fuzzRuns(300) },
    );
  });
});

const mutate = (line: string) =>
  fc
    .tuple(
      fc.nat(200),
      fc.constantFrom('', ' ', ':', 'Z', '0', 'f', '\t', '\u00ff', '\r', '\n', '-', '9'),
      fc.nat(2),
    )
    .map(([at, insert, drop]) => {
      const i = at % (line.length + 1);
      return line.slice(0, i) + insert + line.slice(i + drop);
    });

describe(`fast path and careful path agree on any line (fast-check, ${fuzzRuns(400)} tables)`, () => {
  const table = fc.array(
    anyFields.chain((f) => fc.oneof(fc.constant(kernelLine(f)), mutate(kernelLine(f)))),
    { minLength: 1, maxLength: 12 },
  );

  it('L and L′ give the same records and counts, whole and in summaries', () => {
    fc.assert(
      fc.property(table, (lines) => {
        const text = `${lines.join('\n')}\n`;
        const careful = `${lines.map(widen).join('\n')}\n`;
        expect(records(text)).toEqual(records(careful));
        expect(summarize(text)).toEqual(summarize(careful));
      }),
      { numRuns: fuzzRuns(400) },
    );
  });

  it('repeated addresses and uid/timeout columns (the memos) read as the careful path reads them', () => {
    // Lines sharing bytes with the line before, one column changed at a time: a memo may answer only
    // for exactly the bytes it saw.
    fc.assert(
      fc.property(
        fields(false),
        fc.array(fc.tuple(fc.nat(5), u32, fc.boolean()), { maxLength: 12 }),
        (f, steps) => {
          const lines: string[] = [kernelLine(f)];
          let cur = { ...f };
          for (const [which, value, lower] of steps) {
            if (which === 0) cur = { ...cur, local: [value], lower };
            else if (which === 1) cur = { ...cur, remote: [value], lower };
            else if (which === 2) cur = { ...cur, uid: value % 200_000 };
            else if (which === 3) cur = { ...cur, timeout: (value % 20_000_000) - 10_000_000 };
            // The same bytes in the other address column.
            else if (which === 4) cur = { ...cur, remote: cur.local };
            else cur = { ...cur, local: cur.remote };
            lines.push(kernelLine(cur));
          }
          const text = `${lines.join('\n')}\n`;
          expect(records(text)).toEqual(records(`${lines.map(widen).join('\n')}\n`));
        },
      ),
      { numRuns: fuzzRuns(300) },
    );
  });

  it('chunk boundaries anywhere give what the whole text gives', () => {
    fc.assert(
      fc.property(table, fc.array(fc.nat(), { maxLength: 4 }), (lines, cuts) => {
        const text = Buffer.from(`${lines.join('\n')}\n`, 'latin1');
        const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const s = createSummarizer();
        let from = 0;
        for (const p of points) {
          s.push(text.subarray(from, p));
          from = p;
        }
        s.push(text.subarray(from));
        expect(s.finish()).toEqual(summarize(text));
      }),
      { numRuns: fuzzRuns(200) },
    );
  });
});

// The jump to a line's end (scanLines): the kernel pads its lines to one width, so the scanner first tries
// the byte where the line would end if it were as long as the one before, and takes it only when that
// byte is a newline and none comes before it. Oracle: each line scanned on its own, where no line comes
// before and the jump is never predicted.
describe('the line end predicted from the last line: a newline before it ends the line there', () => {
  /** A record without the 128-bit address words a tcp line leaves as the line before left them (the record is reused). */
  const own = (r: Record<string, unknown>) => {
    if (r.v6 === true) return r;
    const { local: _l, remote: _r, ...rest } = r;
    return rest;
  };
  const scanned = (text: string) => {
    const { out, counts } = records(text);
    return { out: out.map(own), counts };
  };
  /** The records and counts of `text`'s lines, each scanned alone. */
  function lineByLine(text: string) {
    const out: Record<string, unknown>[] = [];
    const counts = { lines: 0, parsed: 0, malformed: 0, headers: 0 };
    for (const piece of text.split('\n')) {
      const one = scanned(`${piece}\n`);
      out.push(...one.out);
      for (const k of Object.keys(counts) as (keyof typeof counts)[]) counts[k] += one.counts[k];
    }
    return { out, counts };
  }

  it('a newline at any byte of a line as long as the one before (149 columns, tcp)', () => {
    expect(tcpLine.length).toBe(149);
    const other = tcpLine.replace('376439162', '376439163');
    for (let at = 0; at < tcpLine.length; at++) {
      const cut = `${tcpLine.slice(0, at)}\n${tcpLine.slice(at + 1)}`; // as long as tcpLine
      const text = `${tcpLine}\n${cut}\n${other}\n`;
      const got = scanned(text);
      expect(got).toEqual(lineByLine(text));
      // Cut inside the columns the scanner reads or inside the tail's words: two lines, or one refused.
      expect(got.counts.lines).toBeGreaterThanOrEqual(3);
    }
  });

  it('a newline in the tail of a tcp6 line (178 columns) and at its last byte', () => {
    for (let at = 110; at < tcp6Line.length; at++) {
      const cut = `${tcp6Line.slice(0, at)}\n${tcp6Line.slice(at + 1)}`;
      const text = `${tcp6Line}\n${cut}\n${tcp6Line}\n`;
      expect(scanned(text)).toEqual(lineByLine(text));
    }
  });

  it(`lines of any length after one another, in any chunking (fast-check, ${fuzzRuns(300)} tables)`, () => {
    const line = anyFields.chain((f) =>
      fc.tuple(
        fc.oneof(fc.constant(kernelLine(f)), mutate(kernelLine(f))),
        // A tail cut or lengthened by a few bytes, or a newline put in place of one of its bytes.
        fc.integer({ min: -12, max: 12 }),
        fc.option(fc.nat(200)),
      ),
    );
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 12 }), fc.nat(), (rows, cut) => {
        const lines = rows.map(([l, grow, newlineAt]) => {
          const sized = grow >= 0 ? l + ' '.repeat(grow) : l.slice(0, Math.max(0, l.length + grow));
          if (newlineAt === null || sized.length === 0) return sized;
          const at = newlineAt % sized.length;
          return `${sized.slice(0, at)}\n${sized.slice(at + 1)}`;
        });
        const text = `${lines.join('\n')}\n`;
        const want = lineByLine(text);
        expect(scanned(text)).toEqual(want);
        const at = cut % (text.length + 1);
        const got: Record<string, unknown>[] = [];
        const scanner = new ProcNetTcpScanner((r) => got.push(own(copy(r))));
        scanner.push(Buffer.from(text.slice(0, at), 'latin1'));
        scanner.push(Buffer.from(text.slice(at), 'latin1'));
        const { bytes: _, ...counts } = scanner.finish();
        expect({ out: got, counts }).toEqual(want);
      }),
      { numRuns: fuzzRuns(300) },
    );
  });
});

// The inode's first 8 digits are read 4 at a time (scanLines): any text in the inode column must read as
// digit by digit: 1-20 digits then a space or the line's end is an inode of that value (rounded as
// v·10 + d one digit after another), anything else makes the line malformed.
describe('the inode and sl columns, read 4 digits at a time', () => {
  const withInode = (inode: string) => tcpLine.replace(' 376439162 ', ` ${inode} `);
  const digitByDigit = (text: string) => [...text].reduce((v, d) => v * 10 + Number(d), 0);
  const read = (inode: string) => {
    const { out, counts } = records(`${withInode(inode)}\n${withInode(inode)}\n`);
    return { parsed: counts.parsed, malformed: counts.malformed, inodes: out.map((r) => r.inode) };
  };

  it('1 to 21 digits: the value for up to 20, malformed beyond', () => {
    for (let n = 1; n <= 21; n++) {
      const inode = '98765432109876543210123'.slice(0, n);
      expect(read(inode)).toEqual(
        n <= 20
          ? { parsed: 2, malformed: 0, inodes: [digitByDigit(inode), digitByDigit(inode)] }
          : { parsed: 0, malformed: 2, inodes: [] },
      );
    }
  });

  it('sl, also read 4 digits at a time: 1 to 15 digits are its value, 16 make the line malformed', () => {
    for (let n = 1; n <= 16; n++) {
      const sl = '9876543210987654'.slice(0, n);
      const { out, counts } = records(`${tcpLine.replace('   0:', `${sl}:`)}\n`);
      expect([counts.parsed, out.map((r) => r.sl)]).toEqual(n <= 15 ? [1, [digitByDigit(sl)]] : [0, []]);
    }
  });

  it('a byte that is not a digit at any of the first 9 places ends the inode there', () => {
    for (const bad of ['/', ':', 'a', '\u00ff', '\t', '-', '\u0000']) {
      for (let at = 0; at < 9; at++) {
        const inode = `${'123456789'.slice(0, at)}${bad}${'123456789'.slice(at + 1)}`;
        // Digits then a tab end the inode (a tab may follow it, as a space may); anything else: malformed.
        const ok = at > 0 && bad === '\t';
        const value = digitByDigit('123456789'.slice(0, at));
        expect(read(inode)).toEqual(
          ok ? { parsed: 2, malformed: 0, inodes: [value, value] } : { parsed: 0, malformed: 2, inodes: [] },
        );
      }
    }
  });
});
