import { describe, expect, it } from 'vitest';
import {
  ConntrackParseError,
  parseConntrackProbe,
  parseConntrackStat,
  renderConntrackProbe,
  renderConntrackStat,
} from '../../src/sockets/conntrack.js';

// Kernel 6.x (this header) and 4.x/5.x before 5.13 (`searched`, `delete_list`), two CPUs each.
const NEW = `entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart
000004a6  00000000 00000000 00000000 0000000c 00000000 00000000 00000000 00000000 00000003 00000002 00000001 00000000  00000000 00000000 00000000 00000000
000004a6  00000000 00000000 00000000 00000004 00000000 00000000 00000000 00000000 0000001d 000000ff 00000010 00000000  00000000 00000000 00000000 00000000
`;
const OLD = `entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart
00000100  00000000 00000000 00000000 00000001 00000000 00000000 00000000 00000000 0000000a 00000000 00000000 00000000  00000000 00000000 00000000 00000000
00000100  00000000 00000000 00000000 00000001 00000000 00000000 00000000 00000000 00000005 00000001 00000000 00000000  00000000 00000000 00000000 00000000
00000100  00000000 00000000 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000002 00000000  00000000 00000000 00000000 00000000
`;

describe('parseConntrackStat', () => {
  it.each([
    [
      'new header',
      NEW,
      { cpus: 2, entries: 0x4a6, insertFailed: 3 + 0x1d, drop: 2 + 0xff, earlyDrop: 1 + 0x10, invalid: 16 },
    ],
    ['old header', OLD, { cpus: 3, entries: 0x100, insertFailed: 15, drop: 1, earlyDrop: 2, invalid: 3 }],
  ])('%s: sums counters over CPUs, never entries', (_name, text, expected) => {
    expect(parseConntrackStat(text)).toMatchObject(expected);
  });

  it('finds columns by name whatever their order', () => {
    const text = 'drop entries insert_failed\n00000001 00000010 00000002\n00000001 00000010 00000002\n';
    expect(parseConntrackStat(text)).toMatchObject({ entries: 16, drop: 2, insertFailed: 4, earlyDrop: 0 });
  });

  it.each([
    ['no header', '00000001 00000002\n'],
    ['no rows', 'entries insert_failed drop\n'],
    ['rows of the wrong width', 'entries insert_failed drop\n00000001 00000002\n'],
  ])('%s is a ConntrackParseError', (_name, text) => {
    expect(() => parseConntrackStat(text)).toThrow(ConntrackParseError);
  });
});

describe('parseConntrackProbe', () => {
  it('reads count, max, tcp_be_liberal, then the table', () => {
    expect(parseConntrackProbe(`1190\n1200\n1\n${NEW}`)).toEqual({
      count: 1190,
      max: 1200,
      beLiberal: true,
      insertFailed: 32,
      drop: 257,
      earlyDrop: 17,
      invalid: 16,
    });
  });

  it('takes tcp_be_liberal as off when the kernel has no such file', () => {
    expect(parseConntrackProbe(`5\n262144\n${OLD}`)).toMatchObject({
      count: 5,
      max: 262144,
      beLiberal: false,
    });
  });

  it('fails when count and max are missing', () => {
    expect(() => parseConntrackProbe(NEW)).toThrow(/nf_conntrack_count/);
  });
});

describe('rendering for the simulator', () => {
  it.each([1, 2, 4, 7])('renderConntrackStat with %i CPUs parses back to the same counters', (cpus) => {
    const text = renderConntrackStat({ entries: 1190, insertFailed: 13, drop: 5, earlyDrop: 3 }, cpus);
    expect(text.split('\n')[0]).toBe(NEW.split('\n')[0]);
    expect(parseConntrackStat(text)).toMatchObject({
      cpus,
      entries: 1190,
      insertFailed: 13,
      drop: 5,
      earlyDrop: 3,
    });
  });

  it('renders rows laid out as the kernel does', () => {
    const [, row] = renderConntrackStat({ entries: 0x4a6, insertFailed: 0, drop: 0, earlyDrop: 0 }, 1).split(
      '\n',
    );
    expect(row).toBe(
      '000004a6  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000',
    );
  });

  it('renderConntrackProbe parses back', () => {
    const reading = {
      count: 1190,
      max: 1200,
      beLiberal: false,
      insertFailed: 4,
      drop: 9,
      earlyDrop: 0,
      invalid: 2,
    };
    expect(parseConntrackProbe(renderConntrackProbe(reading, 3))).toEqual(reading);
  });
});
