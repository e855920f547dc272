// PodExec over the Kubernetes exec WebSocket (client-node 1.4 `Exec`), bounded in size and time.
// The output comes from inside a pod: it is only ever handled as bytes here, never interpreted. stream()
// hands stdout on frame by frame as it arrives (nothing of a pod's text is kept); read() collects it.
// All execs of one PodExec share one set of TLS connections (exec-connections.ts: sessions are resumed,
// not renegotiated; announced execs find their connection open) and one ByteBudget (the run's cap on
// output in flight).
import { Agent as HttpAgent, type IncomingMessage } from 'node:http';
import {
  type ConnectionOptions,
  createSecureContext,
  type SecureContext,
  type SecureContextOptions,
  TLSSocket,
} from 'node:tls';
import { Exec, type KubeConfig, type V1Status } from '@kubernetes/client-node';
import type { WebSocketInterface } from '@kubernetes/client-node/dist/web-socket-handler.js';
import WebSocket from 'ws';
import { ExecError, messageOf } from '../errors.js';
import type { ExecLimits, PodRef } from '../model.js';
import type { PodExec } from '../ports.js';
import { TailSink } from './bounded.js';
import { ByteBudget, type Holder } from './budget.js';
import { type ExecConnections, execConnections } from './exec-connections.js';
import { frameRead } from './reclaim.js';
import { sameSettings } from './same-settings.js';

const STDOUT = 1;
const STDERR = 2;
const STATUS = 3;
const PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
/**
 * The largest frame accepted (ws buffers a frame whole before handing it on). kube-apiserver and the
 * kubelet copy exec streams through 32 KiB buffers, one frame per write (k8s.io/apimachinery
 * httpstream/wsstream, io.Copy), and the framing is theirs, not the pod's: 1 MiB is a wide margin.
 */
export const MAX_FRAME_BYTES = 1 << 20;

/** runc / containerd / CRI-O wording when the binary does not exist in the image (distroless). */
const NOT_FOUND =
  /executable file not found|exec: "[^"]*": (stat [^:]*: )?no such file or directory|no such file or directory: unknown|command not found/i;

/** The exit code a Status from the error channel carries (`details.causes[{reason: ExitCode}]`). */
export function exitCodeOf(status: V1Status): number | undefined {
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  if (cause?.message === undefined) return undefined;
  const n = Number.parseInt(cause.message, 10);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * `cat A B` exits 1 when one file is missing (IPv6 disabled: no /proc/net/tcp6) yet prints the rest.
 * That is a usable answer when every stderr line is a missing-file complaint and stdout is not empty.
 */
export function onlyMissingFiles(stderr: string, stdout: string | number): boolean {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  const stdoutBytes = typeof stdout === 'number' ? stdout : stdout.length;
  return (
    stdoutBytes > 0 &&
    lines.length > 0 &&
    lines.every((l) => /^cat: .+: No such file or directory$/.test(l.trim()))
  );
}

/** Classifies a failed exec from what the API server and runtime said. */
export function execFailure(message: string, stderr: string): ExecError {
  const text = `${message}\n${stderr}`;
  if (NOT_FOUND.test(text))
    return new ExecError(`cat not available in the container: ${oneLine(message || stderr)}`, 'not-found');
  const tail = oneLine(stderr).slice(-500);
  return new ExecError(
    tail ? `${oneLine(message)}; stderr: ${tail}` : oneLine(message) || 'exec failed',
    'failed',
  );
}

function toBuffer(data: WebSocket.RawData, isBinary: boolean): Buffer {
  if (Buffer.isBuffer(data)) return isBinary ? data : Buffer.from(data.toString('utf8'), 'utf8');
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** ws rejects with an ErrorEvent (`message`, `error`), not an Error. */
function upgradeMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'object' && e !== null) {
    const { message, error } = e as { message?: unknown; error?: unknown };
    if (typeof message === 'string' && message) return message;
    if (error instanceof Error) return error.message;
  }
  return String(e) || 'exec upgrade failed';
}

const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** How much of a refused upgrade's body is read: a Status is a few hundred bytes. */
const REFUSAL_BYTES = 16 * 1024;

/**
 * What the API server said when it answered the upgrade with an HTTP error instead of 101: a Status
 * (`{"kind":"Status","code":500,"message":"error dialing backend: …"}`), or any text a proxy sends.
 */
export function refusalMessage(httpStatus: number, body: string): string {
  let message: string | undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null) {
      const { message: m, reason } = parsed as { message?: unknown; reason?: unknown };
      if (typeof m === 'string' && m) message = m;
      else if (typeof reason === 'string' && reason) message = reason;
    }
  } catch {
    message = oneLine(body).slice(0, 300) || undefined;
  }
  return `HTTP ${httpStatus}: ${oneLine(message ?? 'no reason given')}`;
}

export interface PodExecOptions {
  /** The run's cap on exec output in flight (compose.ts: 4 × exec.maxBytes); shared by this PodExec's execs. */
  maxBytesInFlight?: number;
  /**
   * Called once, as the first exec of this PodExec starts (before its connection is asked for): the
   * host's moment to settle the process for the output that streams from then on (heap.ts).
   */
  beforeFirst?: () => void;
}

/** A PodExec that runs `cat FILES…` through the API server's exec WebSocket. */
export function podExec(
  kc: KubeConfig,
  options: PodExecOptions = {},
): PodExec & { budget: ByteBudget; connections: ExecConnections } {
  const budget = new ByteBudget(options.maxBytesInFlight ?? Number.POSITIVE_INFINITY);
  // One set of TLS connections per PodExec: the TLS session of the first exec is resumed by the next
  // (no full handshake), and announced execs find their connection open (exec-connections.ts).
  const connections = execConnections();
  let http: HttpAgent | undefined;
  const transportFor = (uri: string): Pick<WebSocket.ClientOptions, 'agent' | 'createConnection'> => {
    if (uri.startsWith('wss:')) return { agent: undefined, createConnection: connections.connect as never };
    http ??= new HttpAgent({ keepAlive: true });
    return { agent: http };
  };
  // One TLS context per PodExec too: with ca/cert/key in each request's options, every connection built
  // a new SecureContext (parsing the CA and key again); the same material now reuses the first one.
  let context: { material: Record<string, unknown>; value: SecureContext } | undefined;
  const tlsOf = (opts: WebSocket.ClientOptions): WebSocket.ClientOptions => {
    const { ca, cert, key, pfx, passphrase, ...rest } = opts as WebSocket.ClientOptions &
      Record<string, unknown>;
    if (pfx !== undefined || (ca === undefined && cert === undefined && key === undefined)) return opts;
    const material = { ca, cert, key, passphrase };
    if (context === undefined || !sameSettings(context.material, material))
      context = { material, value: createSecureContext(material as SecureContextOptions) };
    return { ...rest, secureContext: context.value } as WebSocket.ClientOptions;
  };
  let beforeFirst = options.beforeFirst;
  const shared: Shared = {
    budget,
    transportFor,
    tlsOf,
    connections,
    starting: () => {
      const f = beforeFirst;
      beforeFirst = undefined;
      f?.();
    },
  };
  let prepared = false;
  return {
    budget,
    connections,
    expect: (count) => connections.expect(count),
    prepare: (atOnce = 1) => {
      if (prepared) return;
      prepared = true;
      connectionOptions(kc, tlsOf).then(
        (options) => {
          if (options) connections.prepare(options, atOnce);
        },
        // A hint only: the execs build their own options and report what fails.
        () => undefined,
      );
    },
    read: (pod, files, limits, signal) => collect(kc, pod, ['cat', ...files], limits, signal, shared),
    run: (pod, command, limits, signal) => collect(kc, pod, [...command], limits, signal, shared),
    stream: (pod, files, limits, signal, onStdout) =>
      execCommand(kc, pod, ['cat', ...files], limits, signal, onStdout, shared),
    runStream: (pod, command, limits, signal, onStdout) =>
      execCommand(kc, pod, [...command], limits, signal, onStdout, shared),
  };
}

/**
 * The TLS connection options ws gives `createConnection` for an exec of `kc`'s cluster (ws 8's
 * initAsClient: host without brackets, the URL's port or 443, the TLS settings), without a request
 * path; undefined when the cluster is not served over TLS.
 */
async function connectionOptions(
  kc: KubeConfig,
  tlsOf: (opts: WebSocket.ClientOptions) => WebSocket.ClientOptions,
): Promise<ConnectionOptions | undefined> {
  const server = kc.getCurrentCluster()?.server;
  if (!server?.startsWith('https:')) return undefined;
  const url = new URL(server);
  const opts: WebSocket.ClientOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const { headers: _headers, ...tls } = tlsOf(opts) as WebSocket.ClientOptions & { headers?: unknown };
  return {
    ...(tls as ConnectionOptions),
    host: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: (url.port || 443) as number,
  };
}

interface Shared {
  budget: ByteBudget;
  transportFor(uri: string): Pick<WebSocket.ClientOptions, 'agent' | 'createConnection'>;
  tlsOf(opts: WebSocket.ClientOptions): WebSocket.ClientOptions;
  connections: ExecConnections;
  /** An exec starts (PodExecOptions.beforeFirst, the first time). */
  starting(): void;
}

/** The command's whole stdout as text (bounded by limits.maxBytes like every exec). */
async function collect(
  kc: KubeConfig,
  pod: PodRef,
  command: string[],
  limits: ExecLimits,
  signal: AbortSignal,
  shared: Shared,
): Promise<string> {
  const chunks: Buffer[] = [];
  await execCommand(
    kc,
    pod,
    command,
    limits,
    signal,
    (chunk) => void chunks.push(Buffer.from(chunk)),
    shared,
  );
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs `command` in the pod; stdout goes to `onStdout` frame by frame; resolves with its byte count. */
function execCommand(
  kc: KubeConfig,
  pod: PodRef,
  command: string[],
  limits: ExecLimits,
  signal: AbortSignal,
  onStdout: (chunk: Uint8Array) => void,
  shared: Shared,
): Promise<number> {
  const target = `${pod.namespace}/${pod.name}`;
  if (signal.aborted) return Promise.reject(new ExecError(`exec in ${target} aborted`, 'aborted'));
  shared.starting();

  return new Promise<number>((resolve, reject) => {
    let socket: WebSocket | undefined;
    let settled = false;
    let status: V1Status | undefined;
    let stdoutBytes = 0;
    let tooLarge = false;
    const holder: Holder = shared.budget.holder();

    const closeSocket = (hard: boolean): void => {
      const s = socket;
      if (s === undefined || s.readyState === WebSocket.CLOSED) return;
      // A hung peer never completes the close handshake: terminate drops the TCP connection at once.
      if (hard || s.readyState !== WebSocket.OPEN) s.terminate();
      else s.close(1000);
    };

    const finish = (error: ExecError | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      holder.release();
      closeSocket(error !== null);
      if (error !== null) reject(error);
      else resolve(stdoutBytes);
    };

    /** One stdout frame: counted against the exec's cap and the run's budget, handed on, dropped. */
    const onStdoutFrame = (s: WebSocket, data: Buffer): void => {
      stdoutBytes += data.length;
      if (stdoutBytes > limits.maxBytes) {
        tooLarge = true;
        finish(
          new ExecError(
            `exec output from ${target} exceeded ${limits.maxBytes} bytes (${stdoutBytes} so far)`,
            'too-large',
          ),
        );
        return;
      }
      onStdout(data);
      frameRead(data.length);
      if (!holder.take(data.length) && !s.isPaused) {
        s.pause();
        holder.whenFree().then(() => {
          if (!settled) s.resume();
        });
      }
    };
    const stderr = new TailSink(4096);

    const onStatus = (s: V1Status): void => {
      status = s;
      if (tooLarge) return;
      const code = exitCodeOf(s);
      if (code === 0) {
        finish(null);
        return;
      }
      if (code === 1 && onlyMissingFiles(stderr.text(), stdoutBytes)) {
        finish(null);
        return;
      }
      const err = execFailure(s.message ?? `exit code ${code ?? 'unknown'}`, stderr.text());
      finish(new ExecError(`exec in ${target} failed: ${err.message}`, err.kind));
    };

    const timer = setTimeout(
      () => finish(new ExecError(`exec in ${target} timed out after ${limits.timeoutMs} ms`, 'timeout')),
      limits.timeoutMs,
    );
    const onAbort = (): void =>
      finish(new ExecError(`exec in ${target} aborted`, 'aborted', { cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });

    // Our own WebSocketInterface (client-node 1.4's handler ends process.stdout on a v5 CLOSE frame
    // and cannot be cancelled during the handshake): we hold the socket from the first moment.
    const wsInterface: WebSocketInterface = {
      connect: async (path, _textHandler, binaryHandler) => {
        const server = kc.getCurrentCluster()?.server;
        if (!server) throw new Error('no cluster in kubeconfig');
        const uri = server.replace(/^http/, 'ws').replace(/\/+$/, '') + path;
        const opts: WebSocket.ClientOptions = {};
        await kc.applyToHTTPSOptions(opts);
        if (settled) throw new Error('exec cancelled');
        return new Promise<WebSocket>((resolveOpen, rejectOpen) => {
          const s = new WebSocket(uri, PROTOCOLS, {
            ...shared.tlsOf(opts),
            ...shared.transportFor(uri),
            handshakeTimeout: limits.timeoutMs,
            // Plus the channel byte.
            maxPayload: MAX_FRAME_BYTES + 1,
            // kube-apiserver never negotiates permessage-deflate on exec streams (nor does kubectl offer
            // it): ws's default offer only built a compressor per exec and a header the server ignores.
            perMessageDeflate: false,
          });
          socket = s;
          // Upgraded: the exec now waits on its pod, the time to open the next exec's connection.
          s.on('upgrade', (res: IncomingMessage) => {
            if (res.socket instanceof TLSSocket) shared.connections.waiting(res.socket);
          });
          s.on('open', () => resolveOpen(s));
          // The API server refused the upgrade (RBAC 403, 400 bad container, 500 kubelet unreachable):
          // keep its status and Status message instead of ws's bare "Unexpected server response".
          s.on('unexpected-response', (req, res: IncomingMessage) => {
            const code = res.statusCode ?? 0;
            const chunks: Buffer[] = [];
            let size = 0;
            const refused = (): void => {
              const err = execFailure(refusalMessage(code, Buffer.concat(chunks).toString('utf8')), '');
              finish(new ExecError(`exec in ${target} failed: ${err.message}`, err.kind, { status: code }));
              req.destroy();
            };
            res.on('data', (chunk: Buffer) => {
              if (size < REFUSAL_BYTES) chunks.push(chunk);
              size += chunk.length;
            });
            res.on('end', refused);
            res.on('error', refused);
          });
          s.on('error', (e) => rejectOpen(e));
          s.on('close', () => {
            rejectOpen(new Error('connection closed during the upgrade'));
            if (status === undefined)
              finish(new ExecError(`exec in ${target}: connection closed without an exit status`, 'failed'));
          });
          s.on('message', (data, isBinary) => {
            if (settled || binaryHandler === null) return;
            const buff = toBuffer(data, isBinary);
            if (buff.length < 1) return;
            const stream = buff.readUInt8(0);
            if (stream !== STDOUT && stream !== STDERR && stream !== STATUS) return; // CLOSE frames, resize echoes
            if (stream === STDOUT) {
              onStdoutFrame(s, buff.subarray(1));
              return;
            }
            try {
              if (!binaryHandler(stream, buff.subarray(1))) s.close(1000);
            } catch (e) {
              finish(
                new ExecError(`exec in ${target}: unreadable status: ${messageOf(e)}`, 'failed', {
                  cause: e,
                }),
              );
            }
          });
          if (settled) s.terminate();
        });
      },
    };

    new Exec(kc, wsInterface)
      .exec(pod.namespace, pod.name, pod.container ?? '', command, null, stderr, null, false, onStatus)
      .then(
        (ws) => {
          socket = ws as unknown as WebSocket;
          if (settled) closeSocket(true);
        },
        (e: unknown) => {
          const message = upgradeMessage(e);
          const err = execFailure(message, '');
          finish(new ExecError(`exec in ${target} failed: ${err.message}`, err.kind, { cause: e }));
        },
      );
  });
}
