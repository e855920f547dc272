// A fault-injecting HTTPS proxy in front of the simulator: every request (Kubernetes API, exec upgrades,
// ARM, Azure Monitor, AWS, chat sinks) passes through it unchanged unless a rule matches, in which case it
// answers with a status, resets the connection, or never answers. A status is answered in the shape of the
// service asked: a Kubernetes Status body for the API (as kube-apiserver writes it); for ARM, Azure Monitor,
// CloudWatch, EC2, EKS and STS what that service sends for the condition (src/sim/cloud-errors.ts, each
// with its source: its own status, headers and protocol, e.g. EC2's 503 RequestLimitExceeded XML for 429);
// for the chat sinks what Slack, Discord and a Teams workflow send (src/sim/sinks.ts `sinkFailure`).
// The simulator stays untouched: the faults are what a network or an overloaded service does to real clients.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { cloudServiceOf, serviceError } from '../../src/sim/cloud-errors.js';
import { kubeconfigYaml, type RunningSim } from '../../src/sim/server.js';
import { type SinkChannel, sinkFailure } from '../../src/sim/sinks.js';
import { generateTls } from '../../src/sim/tls.js';

export type Fault =
  | { kind: 'hang' }
  | { kind: 'reset' }
  | { kind: 'delay'; ms: number }
  /** Forwards once `until` settles (a test opens it when the other side of a race has happened). */
  | { kind: 'hold'; until: Promise<unknown> }
  /** Forwards, then runs `then` once the answer is sent (e.g. delete a pod between list and exec). */
  | { kind: 'after'; run: () => void }
  /** exec upgrades: forwards the first `bytes` bytes of the server's stream, then closes it. */
  | { kind: 'truncate'; bytes: number }
  /** exec upgrades: the server's WebSocket frames keep their shape, their stdout bytes become garbage. */
  | { kind: 'garbage' }
  | { kind: 'status'; status: number; retryAfter?: string; body?: string };

export interface FaultRule {
  /** `METHOD path?query`, e.g. `GET /apis/coordination.k8s.io/v1/namespaces/snatguard/leases/snatguard`. */
  match: RegExp;
  fault: Fault;
  /** How many matching requests it hits (default: all). */
  times?: number;
  /** Requests it hit so far. */
  hits?: number;
}

export interface FaultProxy {
  url: string;
  ca: string;
  rules: FaultRule[];
  /** Requests seen, as `METHOD path?query` (upgrades as `UPGRADE path?query`). */
  seen: string[];
  /**
   * Status faults the proxy could not answer because the service documents no answer for that condition
   * (EC2 has no 409): it answered 501 and a text naming it. A scenario that asks for one is wrong.
   */
  refused: string[];
  /** The cloud error answers the proxy sent for status faults: the service's code and message. */
  answered: { line: string; status: number; code: string; message: string }[];
  /** The sim's job kubeconfig, pointed at the proxy. */
  kubeconfigYaml(): string;
  close(): Promise<void>;
}

// Kubernetes Status bodies for the faults, as kube-apiserver writes them (apimachinery metav1.Status;
// reasons from k8s.io/apimachinery/pkg/apis/meta/v1 StatusReason).
const REASONS: Record<number, string> = {
  404: 'NotFound',
  409: 'Conflict',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

const statusBody = (status: number): string =>
  JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `injected fault: HTTP ${status}`,
    reason: REASONS[status] ?? 'Unknown',
    code: status,
  });

/** The SigV4 credential scope's service (CloudWatch, EC2, EKS share a URL), if the request is signed. */
const awsScopeOf = (req: IncomingMessage): string | undefined =>
  /Credential=[^/,]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1];

/** `METHOD path?query`, with `[aws:SERVICE]` from a SigV4 credential scope. */
function lineOf(req: IncomingMessage): string {
  const scope = awsScopeOf(req);
  return `${req.method} ${req.url}${scope ? ` [aws:${scope}]` : ''}`;
}

/**
 * Server → client bytes of an upgraded exec stream: passes the HTTP 101 head, then parses RFC 6455 frames
 * (server frames are unmasked) and replaces each data frame's payload, after its channel byte
 * (v5.channel.k8s.io), with letters; the status channel (3) passes untouched.
 */
function garbleFrames(out: Socket): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  let headDone = false;
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    if (!headDone) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      out.write(buf.subarray(0, end + 4));
      buf = buf.subarray(end + 4);
      headDone = true;
    }
    for (;;) {
      if (buf.length < 2) return;
      let len = buf[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        at = 10;
      }
      if (buf.length < at + len) return;
      const frame = Buffer.from(buf.subarray(0, at + len));
      const opcode = frame[0]! & 0x0f;
      if ((opcode === 1 || opcode === 2) && len > 1 && frame[at] !== 3) {
        for (let i = at + 1; i < at + len; i++) frame[i] = 0x61 + (i % 26);
      }
      out.write(frame);
      buf = buf.subarray(at + len);
    }
  };
}

export async function startFaultProxy(sim: RunningSim): Promise<FaultProxy> {
  const tls = await generateTls();
  const target = new URL(sim.url);
  const rules: FaultRule[] = [];
  const seen: string[] = [];
  const refused: string[] = [];
  const answered: FaultProxy['answered'] = [];
  const sockets = new Set<Socket>();

  const ruleFor = (line: string): FaultRule | undefined => {
    const rule = rules.find((r) => r.match.test(line) && (r.times === undefined || (r.hits ?? 0) < r.times));
    if (rule) rule.hits = (rule.hits ?? 0) + 1;
    return rule;
  };

  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const up = httpsRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host },
        ca: sim.ca,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  };

  const server = createHttpsServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const line = lineOf(req);
    seen.push(line);
    const rule = ruleFor(line);
    if (!rule) return forward(req, res);
    const f = rule.fault;
    if (f.kind === 'hang') return; // never answers; closed with the proxy
    if (f.kind === 'delay') return void setTimeout(() => forward(req, res), f.ms);
    if (f.kind === 'hold') return void f.until.finally(() => forward(req, res));
    if (f.kind === 'after') {
      res.on('finish', f.run);
      return forward(req, res);
    }
    if (f.kind === 'truncate' || f.kind === 'garbage') return forward(req, res);
    if (f.kind === 'reset') return void req.socket.destroy();
    req.resume();
    const service = cloudServiceOf(req.url ?? '/', awsScopeOf(req));
    if (service !== undefined && f.body === undefined) {
      const answer = serviceError(service, f.status, {
        path: req.url ?? '/',
        ...(f.retryAfter !== undefined ? { retryAfterSeconds: Number(f.retryAfter) } : {}),
      });
      if (!answer) {
        refused.push(`${line}: ${service} has no documented answer for ${f.status}`);
        res.writeHead(501, { 'content-type': 'text/plain' });
        return void res.end(`fault proxy: ${service} has no documented answer for ${f.status}`);
      }
      answered.push({ line, status: answer.status, code: answer.code, message: answer.message });
      res.writeHead(answer.status, answer.headers);
      return void res.end(answer.body);
    }
    const sink = /^\/sinks\/(slack|teams|discord|webhook)\//.exec(req.url ?? '')?.[1] as
      | SinkChannel
      | undefined;
    if (sink !== undefined && f.body === undefined) {
      // The chat service's own error for the status (src/sim/sinks.ts names the sources).
      const said = sinkFailure(sink, f.status, f.retryAfter !== undefined ? Number(f.retryAfter) : undefined);
      res.writeHead(said.status, {
        'content-type': said.contentType,
        ...(f.retryAfter !== undefined ? { 'retry-after': f.retryAfter } : {}),
      });
      return void res.end(said.body);
    }
    res.writeHead(f.status, {
      'content-type': 'application/json',
      ...(f.retryAfter !== undefined ? { 'retry-after': f.retryAfter } : {}),
    });
    res.end(f.body ?? statusBody(f.status));
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // exec: WebSocket upgrades pass through as raw bytes after the request head.
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const line = `UPGRADE ${req.url}`;
    seen.push(line);
    const rule = ruleFor(line);
    const f = rule?.fault;
    if (f?.kind === 'hang') return;
    if (f?.kind === 'reset' || f?.kind === 'status') return void socket.destroy();
    if (f?.kind === 'hold') return void f.until.finally(() => pipeUpgrade(req, socket, head, f));
    const delay = f?.kind === 'delay' ? f.ms : 0;
    setTimeout(() => pipeUpgrade(req, socket, head, f), delay);
  });
  const pipeUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer, f?: Fault): void => {
    const up = tlsConnect({
      host: target.hostname,
      port: Number(target.port),
      ca: sim.ca,
      servername: 'localhost',
    });
    sockets.add(up);
    up.on('close', () => sockets.delete(up));
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
    up.on('secureConnect', () => {
      const headers = Object.entries({ ...req.headers, host: target.host })
        .flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => `${k}: ${x}`) : [`${k}: ${v}`]))
        .join('\r\n');
      up.write(`${req.method} ${req.url} HTTP/1.1\r\n${headers}\r\n\r\n`);
      if (head.length > 0) up.write(head);
      socket.pipe(up);
      if (f?.kind === 'truncate') {
        let left = f.bytes;
        up.on('data', (chunk: Buffer) => {
          if (left <= 0) return;
          socket.write(chunk.subarray(0, left));
          left -= chunk.length;
          if (left <= 0) {
            socket.destroy();
            up.destroy();
          }
        });
      } else if (f?.kind === 'garbage') up.on('data', garbleFrames(socket));
      else up.pipe(socket);
    });
  };
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    ca: tls.ca,
    rules,
    seen,
    refused,
    answered,
    kubeconfigYaml: () => kubeconfigYaml(url, tls.ca, 'snatguard', sim.jobToken, 'snatguard'),
    async close() {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

/** A promise a test opens by hand: the `until` of a hold fault. */
export function gate(): { until: Promise<void>; open(): void } {
  let open = (): void => {};
  const until = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { until, open };
}

/** Resolves once `cond()` holds, polling every 10 ms (a state to wait for, not a time). */
export async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}
