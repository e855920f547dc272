import { execFileSync } from 'node:child_process';
import {
  closeSync,
  constants,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  isRegularFile,
  jsonPieces,
  readChunks,
  type SocketsReport,
  type SocketsSource,
  socketsCommand,
  standardInput,
  summarizeInputs,
} from '../../../src/hosts/cli/sockets.js';
import type { DestinationCount } from '../../../src/model.js';
import { createClassifier } from '../../../src/sockets/address.js';

const fixtures = join(__dirname, '../../fixtures/proc');
const incident = readFileSync(join(fixtures, 'incident-tcp.txt'));
const dir = mkdtempSync(join(tmpdir(), 'snatguard-sockets-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
});

async function run(args: string[], stdin: (string | Uint8Array)[] = []) {
  let stdout = '';
  let stderr = '';
  const command = socketsCommand({
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stdin: async function* () {
      yield* stdin;
    },
  });
  command.exitOverride();
  await command.parseAsync(args, { from: 'user' });
  const exitCode = process.exitCode ?? 0;
  process.exitCode = undefined;
  return { stdout, stderr, exitCode };
}

describe('snatguard sockets', () => {
  it('prints exactly one JSON document naming 20.103.144.194:27017 with 9 for the incident on stdin', async () => {
    const half = incident.length >> 1;
    const { stdout, stderr, exitCode } = await run(
      ['--output', 'json', '-'],
      [incident.subarray(0, half), incident.subarray(half)],
    );
    expect([exitCode, stderr]).toEqual([0, '']);
    const report = JSON.parse(stdout) as SocketsReport;
    expect(report.destinations).toEqual([
      {
        remote: '20.103.144.194:27017',
        address: '20.103.144.194',
        port: 27017,
        sockets: 9,
        byState: { ESTABLISHED: 9 },
      },
    ]);
    expect(report).toMatchObject({ snatSockets: 9, outbound: 9, malformed: 0 });
    expect(report.inputs).toEqual([
      { name: '-', lines: 9, parsed: 9, malformed: 0, headers: 1, bytes: incident.length },
    ]);
  });

  it('reads stdin when no file is given and prints a table', async () => {
    const { stdout, exitCode } = await run([], [incident]);
    expect(exitCode).toBe(0);
    expect(stdout).toContain('SNAT-consuming sockets: 9 to 1 destination(s)');
    expect(stdout).toMatch(/20\.103\.144\.194:27017\s+9\s+ESTABLISHED 9/);
    expect(stdout).toMatch(/ESTABLISHED\s+9/);
  });

  it('treats several files as one table: a listener in the second makes sockets in the first inbound', async () => {
    const tcp = join(dir, 'tcp');
    const tcp6 = join(dir, 'tcp6');
    writeFileSync(
      tcp,
      '   0: AC00F00A:1F90 C2906714:6989 01 00000000:00000000 00:00000000 00000000     0        0 1 1 0 20 4 0 10 -1\n' +
        '   1: AC00F00A:C000 C2906714:6989 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 0 10 -1', // no newline at the end
    );
    writeFileSync(
      tcp6,
      '   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0\n',
    );
    const { stdout, exitCode } = await run([tcp, tcp6, '--output', 'json']);
    expect(exitCode).toBe(0);
    const report = JSON.parse(stdout) as SocketsReport;
    expect(report).toMatchObject({ parsed: 3, listening: 1, inbound: 1, outbound: 1, snatSockets: 1 });
    expect(report.inputs.map((i) => [i.name, i.parsed])).toEqual([
      [tcp, 2],
      [tcp6, 1],
    ]);
  });

  it('applies --cluster-cidr and --non-snat-cidr (repeatable)', async () => {
    const { stdout } = await run(
      ['--output', 'json', '--non-snat-cidr', '198.51.100.0/24', '--non-snat-cidr', '20.103.0.0/16'],
      [incident],
    );
    expect(JSON.parse(stdout)).toMatchObject({ outbound: 9, snatSockets: 0, destinations: [] });
  });

  it.each([
    ['random bytes', Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 7919) % 251))],
    ['prose', Buffer.from('hello\nworld\n')],
    ['nothing', Buffer.alloc(0)],
  ])('exits 2 with a clear error for a file of %s', async (_name, content) => {
    const junk = join(dir, 'junk');
    writeFileSync(junk, content);
    const { stdout, stderr, exitCode } = await run([junk]);
    expect(exitCode).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(`${junk} is not /proc/net/tcp text`);
  });

  it.each([
    [['--cluster-cidr', '10.0.0.0/33'], /invalid CIDR "10\.0\.0\.0\/33"/],
    [['/nonexistent/tcp'], /ENOENT/],
    [['--top', 'many'], /--top/],
  ])('exits 2 for %j', async (args, message) => {
    const { stderr, exitCode } = await run(args, [incident]);
    expect(exitCode).toBe(2);
    expect(stderr).toMatch(message);
  });

  it('rejects an unknown --output with a usage error', async () => {
    await expect(run(['--output', 'yaml'], [incident])).rejects.toMatchObject({
      code: 'commander.invalidArgument',
    });
  });
});

describe('summarizeInputs: counting as it goes when the inputs can be read again', () => {
  // A connection from local port 8080 to a public peer, then (second input) a LISTEN on 8080: the listener
  // comes late, so the connection is inbound and consumes no SNAT port.
  const tcp =
    '   0: AC00F00A:1F90 C2906714:6989 01 00000000:00000000 00:00000000 00000000     0        0 1 1 0 20 4 0 10 -1\n' +
    '   1: AC00F00A:C000 C2906714:6989 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 0 10 -1\n';
  const lateListener =
    '   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0\n';
  const otherListener = lateListener.replace(':1F90 ', ':1F91 ');
  const classifier = createClassifier();
  /** Sources over fixed texts that count how often each was read. */
  const sources = (texts: string[], rereadable: boolean) => {
    const reads = texts.map(() => 0);
    const list: SocketsSource[] = texts.map((text, i) => ({
      name: `input-${i}`,
      rereadable,
      chunks: () => {
        reads[i] = (reads[i] ?? 0) + 1;
        // Split inside a line: the pass must carry it across chunks.
        return [text.slice(0, 50), text.slice(50)];
      },
    }));
    return { list, reads };
  };

  it('reads the inputs again (with the log) when a LISTEN comes after SNAT candidates on its port: same report', async () => {
    const once = sources([tcp, lateListener], false);
    const twice = sources([tcp, lateListener], true);
    const want = await summarizeInputs(once.list, classifier);
    const got = await summarizeInputs(twice.list, classifier);
    expect(once.reads).toEqual([1, 1]);
    expect(twice.reads).toEqual([2, 2]);
    expect([...jsonPieces(got)].join('')).toBe([...jsonPieces(want)].join(''));
    expect(got).toMatchObject({ parsed: 3, listening: 1, inbound: 1, outbound: 1, snatSockets: 1 });
  });

  it('reads each input once when no LISTEN comes late: same report as with the log', async () => {
    const once = sources([tcp, otherListener], false);
    const direct = sources([tcp, otherListener], true);
    const want = await summarizeInputs(once.list, classifier);
    const got = await summarizeInputs(direct.list, classifier);
    expect(direct.reads).toEqual([1, 1]);
    expect([...jsonPieces(got)].join('')).toBe([...jsonPieces(want)].join(''));
    expect(got).toMatchObject({ parsed: 3, listening: 1, inbound: 0, outbound: 2, snatSockets: 2 });
  });

  it('never reads standard input twice: one input that cannot be read again keeps every input to one pass', async () => {
    const mixed = sources([tcp, lateListener], true);
    (mixed.list[1] as SocketsSource).rereadable = false;
    const got = await summarizeInputs(mixed.list, classifier);
    expect(mixed.reads).toEqual([1, 1]);
    expect(got).toMatchObject({ inbound: 1, snatSockets: 1 });
  });

  it('counts only regular files as inputs that can be read again', () => {
    const file = join(dir, 'regular');
    writeFileSync(file, tcp);
    expect([
      isRegularFile(file),
      isRegularFile(dir),
      isRegularFile(join(dir, 'missing')),
      isRegularFile('/dev/null'),
    ]).toEqual([true, false, false, false]);
  });
});

describe('readChunks', () => {
  it('streams a file through two small reused buffers', async () => {
    const path = join(dir, 'chunks');
    writeFileSync(path, incident);
    const parts: string[] = [];
    for await (const chunk of readChunks(path, 100)) parts.push(Buffer.from(chunk).toString('latin1'));
    expect(parts.length).toBe(Math.ceil(incident.length / 100));
    expect(parts.join('')).toBe(incident.toString('latin1'));
  });

  it('reads ahead into the other buffer only: a chunk stays as it was until the next one is asked for', async () => {
    const path = join(dir, 'ahead');
    const text = Buffer.from(
      Array.from({ length: 1000 }, (_, i) => String.fromCharCode(65 + (i % 26))).join(''),
    );
    writeFileSync(path, text);
    const chunks = readChunks(path, 64);
    for (let at = 0; at < text.length; at += 64) {
      const { value, done } = await chunks.next();
      expect(done).toBe(false);
      const copy = Buffer.from(value as Uint8Array);
      // The read of the next chunk (under way on the thread pool) has time to finish.
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(Buffer.from(value as Uint8Array)).toEqual(copy);
      expect(copy.toString('latin1')).toBe(text.subarray(at, at + 64).toString('latin1'));
    }
    expect((await chunks.next()).done).toBe(true);
  });

  it('closes the file when the caller stops early, after the read under way', async () => {
    const path = join(dir, 'early');
    writeFileSync(path, incident);
    const open = () => readdirSync('/proc/self/fd').length;
    const before = open();
    for (let round = 0; round < 20; round++) {
      for await (const _chunk of readChunks(path, 100)) break;
    }
    expect(open()).toBe(before);
  });
});

describe('standardInput', () => {
  const text = async (chunks: AsyncIterable<Uint8Array | string>) => {
    const parts: string[] = [];
    for await (const c of chunks) parts.push(typeof c === 'string' ? c : Buffer.from(c).toString('latin1'));
    return parts;
  };
  const noStream = () => {
    throw new Error('process.stdin was used');
  };

  it('reads a redirected file by its descriptor from where its offset stands, without the stream', async () => {
    const path = join(dir, 'redirected');
    writeFileSync(path, incident);
    const fd = openSync(path, 'r');
    try {
      readSync(fd, Buffer.alloc(10), 0, 10, null); // someone read a little first
      expect((await text(standardInput(fd, noStream))).join('')).toBe(
        incident.subarray(10).toString('latin1'),
      );
    } finally {
      closeSync(fd);
    }
  });

  it('reads a pipe by its descriptor, and goes on with the stream after what it read when the pipe answers EAGAIN', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(fifo, 'w');
    try {
      writeSync(writer, 'first part\n');
      // Non-blocking and empty with a writer open: the next read answers EAGAIN.
      const parts = await text(
        standardInput(reader, async function* () {
          yield 'the rest\n';
        }),
      );
      expect(parts).toEqual(['first part\n', 'the rest\n']);
    } finally {
      closeSync(writer);
      closeSync(reader);
    }
  });

  it('reads a blocking pipe to its end by its descriptor', async () => {
    const fifo = join(dir, 'fifo2');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(fifo, 'w');
    writeSync(writer, incident);
    closeSync(writer);
    try {
      expect((await text(standardInput(reader, noStream))).join('')).toBe(incident.toString('latin1'));
    } finally {
      closeSync(reader);
    }
  });

  it('takes the stream for anything else (a directory here; a terminal or a socket alike)', async () => {
    const fd = openSync(dir, 'r');
    try {
      const parts = await text(
        standardInput(fd, async function* () {
          yield 'from the stream';
        }),
      );
      expect(parts).toEqual(['from the stream']);
    } finally {
      closeSync(fd);
    }
  });
});

describe('sockets -o json in pieces', () => {
  const classifier = createClassifier();
  const report = (n: number): SocketsReport => ({
    lines: n,
    parsed: n,
    malformed: 0,
    byState: { ESTABLISHED: n },
    listening: 0,
    inbound: 0,
    outbound: n,
    snatSockets: n,
    destinations: Array.from({ length: n }, (_, i) => ({
      remote: `20.0.${i >> 8}.${i & 255}:443`,
      address: `20.0.${i >> 8}.${i & 255}`,
      port: 443,
      sockets: 1,
      byState: { ESTABLISHED: 1 },
    })),
    inputs: [{ name: '-', lines: n, parsed: n, malformed: 0, headers: 1, bytes: 150 * n }],
  });
  it.each([0, 1, 999, 1000, 2500])('%i destinations: byte for byte JSON.stringify(report, null, 2)', (n) => {
    const r = report(n);
    expect([...jsonPieces(r)].join('')).toBe(`${JSON.stringify(r, null, 2)}\n`);
  });

  it("the summarizer's list, 700 destinations across pieces, a non-ASCII input name: bytes of JSON.stringify as UTF-8", async () => {
    // 700 public peers (a few sockets each, in two states), so the list spans several pieces of its own JSON.
    const lines = Array.from({ length: 1400 }, (_, i) => {
      const peer = (i % 700) + 1;
      const remote =
        `${(peer & 255).toString(16).padStart(2, '0')}${(peer >> 8).toString(16).padStart(2, '0')}0714`.toUpperCase();
      const state = i < 700 ? '01' : '06';
      return `${String(i).padStart(4)}: AC00F00A:${(40000 + i).toString(16).toUpperCase()} ${remote}:01BB ${state} 00000000:00000000 00:00000000 00000000     0        0 ${i + 1} 1 0 20 4 0 10 -1`;
    });
    const name = 'nœud-7/tcp ✓';
    const r = await summarizeInputs([{ name, chunks: () => [`${lines.join('\n')}\n`] }], classifier);
    expect(r.destinations.length).toBe(700);
    const pieces = [...jsonPieces(r)];
    expect(pieces.length).toBeGreaterThan(4);
    expect(pieces.every((p) => Buffer.isBuffer(p))).toBe(true);
    const objects = { ...r, destinations: Array.from({ length: 700 }, (_, i) => r.destinations.at(i)) };
    expect(Buffer.concat(pieces).equals(Buffer.from(`${JSON.stringify(objects, null, 2)}\n`, 'utf8'))).toBe(
      true,
    );
  });

  it('to a slow stream, the pieces written into two reused buffers arrive as JSON.stringify wrote them', async () => {
    // A stream that keeps a copy of each piece when it takes it and says it is done a turn later: a piece
    // written into again before its write was done would arrive changed.
    const lines = Array.from({ length: 2000 }, (_, i) => {
      const peer = i + 1;
      const remote =
        `${(peer & 255).toString(16).padStart(2, '0')}${(peer >> 8).toString(16).padStart(2, '0')}0714`.toUpperCase();
      return `${String(i).padStart(4)}: AC00F00A:${(40000 + i).toString(16).toUpperCase()} ${remote}:01BB 01 00000000:00000000 00:00000000 00000000     0        0 ${i + 1} 1 0 20 4 0 10 -1`;
    });
    const path = join(dir, 'many-destinations');
    writeFileSync(path, `${lines.join('\n')}\n`);
    const parts: Buffer[] = [];
    const stdout = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _encoding, done) {
        parts.push(Buffer.from(chunk));
        setImmediate(done);
      },
    });
    const command = socketsCommand({ stdout, stderr: process.stderr, stdin: async function* () {} });
    command.exitOverride();
    await command.parseAsync(['-o', 'json', path], { from: 'user' });
    const { stdout: want } = await run(['-o', 'json', path]);
    expect(parts.length).toBeGreaterThan(8);
    expect(Buffer.concat(parts).toString('utf8')).toBe(want);
    const report = JSON.parse(want) as SocketsReport & { destinations: DestinationCount[] };
    expect(report.destinations).toHaveLength(2000);
    expect(`${JSON.stringify(report, null, 2)}\n`).toBe(want);
  });

  it('IPv6 destinations, several states, an empty byState: byte for byte JSON.stringify (written by hand)', () => {
    const r = report(3);
    r.destinations = [
      {
        remote: '[2001:db8::1]:443',
        address: '2001:db8::1',
        port: 443,
        sockets: 7,
        byState: { ESTABLISHED: 4, TIME_WAIT: 2, UNKNOWN: 1 },
      },
      { remote: '20.0.0.1:80', address: '20.0.0.1', port: 80, sockets: 0, byState: {} },
      { remote: '20.0.0.2:0', address: '20.0.0.2', port: 0, sockets: 1, byState: { CLOSE_WAIT: 1 } },
    ];
    expect([...jsonPieces(r)].join('')).toBe(`${JSON.stringify(r, null, 2)}\n`);
  });
});
