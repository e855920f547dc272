// `snatguard sockets [FILE…|-]`: summarize /proc/net/tcp{,6} text, e.g.
//   kubectl exec POD -- cat /proc/net/tcp /proc/net/tcp6 | snatguard sockets -
// All inputs form one table (as `cat a b` would): a port LISTENed on in one makes the other's
// sockets on that port inbound. Exit 2 for a file that is not /proc/net/tcp text or a bad CIDR.
import { closeSync, fstatSync, openSync, read, statSync } from 'node:fs';
import { Command, Option } from 'commander';
import { messageOf, SnatguardError } from '../../errors.js';
import type { DestinationCount, SocketSummary, TcpState } from '../../model.js';
// The modules themselves, not sockets/index.js: every command loads this file, and none needs conntrack or render.
import { type AddressClassifier, createClassifier } from '../../sockets/address.js';
import { looksLikeProcNetTcp, type ScanCounts } from '../../sockets/parse.js';
import { STATE_BY_CODE } from '../../sockets/states.js';
import { createSummarizer, type DestinationList, jsonBytesMax } from '../../sockets/summary.js';
import { keepYoungGenerationSmall } from '../heap.js';

export interface SocketsIo {
  /** Text, or bytes of ASCII or UTF-8 text (`-o json` writes bytes). */
  stdout: { write(s: string | Uint8Array): unknown };
  stderr: { write(s: string): unknown };
  stdin: () => AsyncIterable<Uint8Array | string>;
}

const processIo: SocketsIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: () => standardInput(),
};

export interface SocketsInput extends ScanCounts {
  name: string;
}

/**
 * What `sockets` prints. Its destinations are a {@link DestinationList}: an array, or the summarizer's
 * own arrays made into one object at a time while printing (so a big table never lives as objects).
 */
export interface SocketsReport extends Omit<SocketSummary, 'destinations'> {
  destinations: DestinationList;
  inputs: SocketsInput[];
}

/**
 * Bytes per read: two such buffers, one read into while the other is parsed. 1 MiB: a quarter of the
 * round trips through the thread pool and the event loop of 256 KiB (~150 on the 150 MB table, ~10 ms
 * less in all), for 1.5 MB more peak RSS.
 */
const CHUNK_BYTES = 1 << 20;

const readAt = (fd: number, buffer: Buffer, position: number | null): Promise<number> =>
  new Promise((resolve, reject) =>
    read(fd, buffer, 0, buffer.length, position, (e, n) => (e === null ? resolve(n) : reject(e))),
  );

/**
 * Streams a file through two reused buffers: while the summarizer parses one chunk, the next is read into
 * the other on libuv's thread pool, so the copy from the page cache (a tenth of the work on a big table)
 * runs on another core. The summarizer keeps nothing of a chunk but a partial line, and a buffer is
 * read into again only once the caller asked for the next chunk (it is done with the one before).
 */
export async function* readChunks(path: string, chunkBytes = CHUNK_BYTES): AsyncGenerator<Uint8Array> {
  const fd = openSync(path, 'r');
  try {
    yield* readFd(fd, 0, chunkBytes);
  } finally {
    closeSync(fd);
  }
}

/**
 * The reads of {@link readChunks} on an open descriptor, from `position` on (null: from the descriptor's
 * own offset, as for a pipe). A read under way when the caller stops ends before this returns.
 */
export async function* readFd(
  fd: number,
  position: number | null,
  chunkBytes = CHUNK_BYTES,
): AsyncGenerator<Uint8Array> {
  let pending: Promise<number> | undefined;
  try {
    const buffers = [Buffer.allocUnsafe(chunkBytes), Buffer.allocUnsafe(chunkBytes)];
    let next = 0;
    let at = position;
    pending = readAt(fd, buffers[0] as Buffer, at);
    for (;;) {
      const bytesRead = await pending;
      pending = undefined;
      if (bytesRead === 0) return;
      if (at !== null) at += bytesRead;
      const chunk = buffers[next] as Buffer;
      next ^= 1;
      pending = readAt(fd, buffers[next] as Buffer, at);
      yield chunk.subarray(0, bytesRead);
    }
  } finally {
    // Stopped early (a direct pass turned inexact, or an error): the read under way ends before the caller goes on.
    if (pending !== undefined) await pending.catch(() => 0);
  }
}

/**
 * Standard input. A redirected file or a pipe (`kubectl exec … cat /proc/net/tcp | snatguard sockets -`) is
 * read like a file argument, through two reused buffers: a `process.stdin` stream allocates a buffer per
 * chunk, and on a big table the garbage peaked at ~95 MB where the file took ~61 MB. A pipe left
 * non-blocking by whoever made it answers EAGAIN: the rest then comes through `process.stdin`, after
 * what was read. A terminal or anything else is `process.stdin` from the start.
 */
export async function* standardInput(
  fd = 0,
  stream: () => AsyncIterable<Uint8Array | string> = () => process.stdin,
): AsyncGenerator<Uint8Array | string> {
  let kind: 'file' | 'pipe' | 'other' = 'other';
  try {
    const st = fstatSync(fd);
    kind = st.isFile() ? 'file' : st.isFIFO() ? 'pipe' : 'other';
  } catch {
    // No such descriptor: the stream says what is wrong.
  }
  if (kind !== 'other')
    try {
      // null for both: a redirected file is read from wherever its offset stands (`cmd < f` after a header read).
      yield* readFd(fd, null);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  yield* stream();
}

export interface SocketsSource {
  name: string;
  chunks: () => AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>;
  /** `chunks` can be called again and gives the input again (a regular file, not standard input or a pipe). */
  rereadable?: boolean;
}

/** True for a path to a regular file (which can be read twice); false for anything else or an error. */
export function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Summarizes the inputs as one table; throws {@link NotProcNetTcpError} for an input that is not /proc/net/tcp
 * text. When every input can be read again, the summarizer first counts SNAT candidates as they come
 * (`direct`: no log of 4 bytes a candidate); in the rare table where a LISTEN comes after candidates on its
 * port, it stops and reads the inputs again with the log. Either way the report is the same.
 */
export async function summarizeInputs(
  inputs: SocketsSource[],
  classifier: AddressClassifier,
): Promise<SocketsReport> {
  if (inputs.length > 0 && inputs.every((input) => input.rereadable === true)) {
    const report = await summarizeOnce(inputs, classifier, true);
    if (report !== undefined) return report;
  }
  return (await summarizeOnce(inputs, classifier, false)) as SocketsReport;
}

/** One pass over the inputs; undefined when a `direct` pass turned out inexact (then it stopped reading). */
async function summarizeOnce(
  inputs: SocketsSource[],
  classifier: AddressClassifier,
  direct: boolean,
): Promise<SocketsReport | undefined> {
  const summarizer = createSummarizer(classifier, { direct });
  const reports: SocketsInput[] = [];
  for (const input of inputs) {
    const before = { ...summarizer.counts };
    const chunks = input.chunks();
    if (Symbol.iterator in chunks) {
      for (const chunk of chunks) {
        summarizer.push(chunk);
        if (!summarizer.exact) break;
      }
    } else
      for await (const chunk of chunks) {
        summarizer.push(chunk);
        if (!summarizer.exact) break;
      }
    if (!summarizer.exact) return undefined;
    summarizer.flush();
    if (!summarizer.exact) return undefined;
    const after = summarizer.counts;
    const counts: ScanCounts = {
      lines: after.lines - before.lines,
      parsed: after.parsed - before.parsed,
      malformed: after.malformed - before.malformed,
      headers: after.headers - before.headers,
      bytes: after.bytes - before.bytes,
    };
    if (!looksLikeProcNetTcp(counts)) throw new NotProcNetTcpError(input.name, counts);
    reports.push({ name: input.name, ...counts });
  }
  return { ...summarizer.finishCompact(), inputs: reports };
}

export class NotProcNetTcpError extends SnatguardError {
  constructor(
    readonly input: string,
    readonly counts: ScanCounts,
  ) {
    super(
      `${input === '-' ? 'standard input' : input} is not /proc/net/tcp text: no header line and no socket line ` +
        `among ${counts.lines} line(s), ${counts.bytes} byte(s)`,
    );
  }
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function socketsCommand(io: SocketsIo = processIo): Command {
  return new Command('sockets')
    .description(
      'Summarize /proc/net/tcp and /proc/net/tcp6 text: states, directions, SNAT-consuming sockets by destination',
    )
    .argument('[files...]', 'files to read; "-" or none reads standard input', [])
    .addOption(
      new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'),
    )
    .option('--cluster-cidr <cidr>', 'pod or service CIDR: never SNAT (repeatable)', collect, [])
    .option(
      '--non-snat-cidr <cidr>',
      'destination reached without SNAT, e.g. a peered VNet (repeatable)',
      collect,
      [],
    )
    .option('--top <n>', 'destinations shown in the table', '10')
    .addHelpText(
      'after',
      '\nExample:\n  kubectl exec POD -- cat /proc/net/tcp /proc/net/tcp6 | snatguard sockets -',
    )
    .action(
      async (
        files: string[],
        options: { output: 'table' | 'json'; clusterCidr: string[]; nonSnatCidr: string[]; top: string },
      ) => {
        // What the command allocates as it goes dies young (a chunk's promises, a piece's buffer): V8's default
        // growth doubled the young generation anyway, ~2 MB of peak RSS on a big table.
        keepYoungGenerationSmall();
        const fail = (message: string) => {
          io.stderr.write(`snatguard sockets: ${message}\n`);
          process.exitCode = 2;
        };
        let classifier: AddressClassifier;
        try {
          classifier = createClassifier({
            clusterCidrs: options.clusterCidr,
            nonSnatCidrs: options.nonSnatCidr,
          });
        } catch (e) {
          fail(messageOf(e));
          return;
        }
        const top = Number(options.top);
        if (!Number.isInteger(top) || top < 0) {
          fail(`--top must be a whole number, got "${options.top}"`);
          return;
        }
        const names = files.length === 0 ? ['-'] : files;
        let report: SocketsReport;
        try {
          report = await summarizeInputs(
            names.map((name) => ({
              name,
              chunks: () => (name === '-' ? io.stdin() : readChunks(name)),
              rereadable: name !== '-' && isRegularFile(name),
            })),
            classifier,
          );
        } catch (e) {
          fail(messageOf(e));
          return;
        }
        if (options.output === 'json') await writeAll(io.stdout, jsonPieces(report, isStream(io.stdout)));
        else io.stdout.write(renderSocketsTable(report, top));
      },
    );
}

const HOLE = '\u0000destinations\u0000';
/** About 60 KB a piece: a few writes of a pipe's capacity (64 KiB on Linux) each. */
const PIECE = 256;

/**
 * `JSON.stringify(report, null, 2)` plus a newline, byte for byte (UTF-8), in pieces of a few hundred
 * destinations: tens of thousands of destinations are never one string (and one buffer) of several MB.
 * The summarizer's list writes its pieces as bytes from its arrays (stdout takes them as they are, where
 * a string would be written into bytes twice: by the list, then by the stream). An array of destinations
 * is written here, each by hand (as `JSON.stringify(d, null, 2)` indented by 4 would be): a few template
 * strings instead of a stringify and a regular expression per destination.
 *
 * `reuse`: the list's pieces take turns in two buffers, so a piece is overwritten when the generator is
 * asked for the second piece after it ({@link writeAll} asks only once its write is done). Otherwise each
 * piece is a buffer of its own, which the collector gives back late (~5 MB held on a big table).
 */
export function* jsonPieces(report: SocketsReport, reuse = false): Generator<Buffer> {
  const whole = JSON.stringify({ ...report, destinations: HOLE }, null, 2);
  const at = whole.indexOf(JSON.stringify(HOLE));
  const list = report.destinations;
  let turns: [Buffer, Buffer] | undefined;
  if (list.length === 0) yield Buffer.from(`${whole.slice(0, at)}[]`, 'utf8');
  else {
    yield Buffer.from(`${whole.slice(0, at)}[\n`, 'utf8');
    for (let i = 0; i < list.length; i += PIECE) {
      const stop = Math.min(list.length, i + PIECE);
      // The summarizer's list puts the `,\n` between pieces itself.
      if (list.json !== undefined) {
        if (reuse) {
          turns ??= [Buffer.allocUnsafe(jsonBytesMax(PIECE)), Buffer.allocUnsafe(jsonBytesMax(PIECE))];
          yield list.json(i, stop, turns[(i / PIECE) & 1]);
        } else yield list.json(i, stop);
      } else {
        let piece = i === 0 ? '' : ',\n';
        for (let j = i; j < stop; j++)
          piece += (j === i ? '' : ',\n') + destinationJson(list.at(j) as DestinationCount);
        yield Buffer.from(piece, 'utf8');
      }
    }
    yield Buffer.from('\n  ]', 'latin1');
  }
  yield Buffer.from(`${whole.slice(at + JSON.stringify(HOLE).length)}\n`, 'utf8');
}

/** A number as JSON writes it. */
const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');

/** `JSON.stringify(d, null, 2)` with every line indented by 4 (an element of the report's array). */
function destinationJson(d: DestinationCount): string {
  let states = '';
  for (const key of Object.keys(d.byState) as TcpState[]) {
    const n = d.byState[key];
    if (n === undefined) continue;
    states += `${states === '' ? '' : ','}\n        ${JSON.stringify(key)}: ${num(n)}`;
  }
  return (
    `    {\n      "remote": ${JSON.stringify(d.remote)},\n      "address": ${JSON.stringify(d.address)},` +
    `\n      "port": ${num(d.port)},\n      "sockets": ${num(d.sockets)},` +
    `\n      "byState": ${states === '' ? '{}' : `{${states}\n      }`}\n    }`
  );
}

/**
 * Writes every piece. To a stream (stdout), piece i + 1 is asked for only once the write of piece i - 1
 * is done: its buffer can then be written into again ({@link jsonPieces}'s `reuse`), and no more than two
 * pieces wait in the stream (a pipe to a slow reader). A failed write (stdout closed: EPIPE, which
 * cli.ts's handler quiets) ends the writing.
 */
async function writeAll(out: SocketsIo['stdout'], pieces: Iterable<string | Uint8Array>): Promise<void> {
  const stream = out as Partial<NodeJS.WritableStream>;
  if (typeof stream.once !== 'function') {
    for (const piece of pieces) out.write(piece);
    return;
  }
  let failed = false;
  let previous: Promise<void> | undefined;
  for (const piece of pieces) {
    const written = new Promise<void>((resolve) =>
      stream.write?.(piece, (e?: Error | null) => {
        if (e) failed = true;
        resolve();
      }),
    );
    await previous;
    if (failed) return;
    previous = written;
  }
  await previous;
}

/** True for a real stream (stdout): {@link writeAll} then tells {@link jsonPieces} when a buffer is free again. */
const isStream = (out: SocketsIo['stdout']): boolean =>
  typeof (out as Partial<NodeJS.WritableStream>).once === 'function';

function columns(rows: string[][]): string {
  const widths = (rows[0] ?? []).map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const statesText = (byState: Partial<Record<TcpState, number>>): string =>
  STATE_BY_CODE.filter((s) => (byState[s] ?? 0) > 0)
    .map((s) => `${s} ${byState[s]}`)
    .join(', ');

export function renderSocketsTable(r: SocketsReport, top = 10): string {
  const out: string[] = [];
  out.push(
    `${r.parsed} socket(s) in ${r.inputs.length} input(s)` +
      (r.malformed > 0 ? `, ${r.malformed} malformed line(s) skipped` : ''),
    '',
  );
  const states = STATE_BY_CODE.filter((s) => (r.byState[s] ?? 0) > 0);
  out.push(columns([['STATE', 'SOCKETS'], ...states.map((s) => [s, String(r.byState[s])])]), '');
  out.push(`listening ${r.listening}   inbound ${r.inbound}   outbound ${r.outbound}`);
  out.push(`SNAT-consuming sockets: ${r.snatSockets} to ${r.destinations.length} destination(s)`);
  if (r.destinations.length > 0 && top > 0) {
    out.push('');
    const shown = Array.from({ length: Math.min(top, r.destinations.length) }, (_, i) =>
      r.destinations.at(i),
    ).filter((d) => d !== undefined);
    out.push(
      columns([
        ['DESTINATION', 'SOCKETS', 'STATES'],
        ...shown.map((d) => [d.remote, String(d.sockets), statesText(d.byState)]),
      ]),
    );
    if (r.destinations.length > shown.length)
      out.push(`… ${r.destinations.length - shown.length} more destination(s)`);
  }
  return `${out.join('\n')}\n`;
}
