// A fault-injecting HTTPS proxy in front of the simulator: every request (Kubernetes API, exec upgrades,
// ARM, Azure Monitor, AWS, chat sinks) passes through it unchanged unless a rule matches, in which case it
// answers with a status (a Kubernetes Status body for the API, as kube-apiserver writes it), resets the
// connection, or never answers. The simulator stays untouched: the faults are what a network or an
// overloaded API server does to real clients.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { kubeconfigYaml, type RunningSim } from '../../src/sim/server.js';
import { generateTls } from '../../src/sim/tls.js';

export type Fault =
  | { kind: 'hang' }
  | { kind: 'reset' }
  | { kind: 'delay'; ms: number }
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

export async function startFaultProxy(sim: RunningSim): Promise<FaultProxy> {
  const tls = await generateTls();
  const target = new URL(sim.url);
  const rules: FaultRule[] = [];
  const seen: string[] = [];
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
    const line = `${req.method} ${req.url}`;
    seen.push(line);
    const rule = ruleFor(line);
    if (!rule) return forward(req, res);
    const f = rule.fault;
    if (f.kind === 'hang') return; // never answers; closed with the proxy
    if (f.kind === 'delay') return void setTimeout(() => forward(req, res), f.ms);
    if (f.kind === 'reset') return void req.socket.destroy();
    req.resume();
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
    if (rule?.fault.kind === 'hang') return;
    if (rule && rule.fault.kind !== 'delay') return void socket.destroy();
    const delay = rule?.fault.kind === 'delay' ? rule.fault.ms : 0;
    setTimeout(() => pipeUpgrade(req, socket, head), delay);
  });
  const pipeUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
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
      up.pipe(socket);
      socket.pipe(up);
    });
  };
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    ca: tls.ca,
    rules,
    seen,
    kubeconfigYaml: () => kubeconfigYaml(url, tls.ca, 'snatguard', sim.jobToken, 'snatguard'),
    async close() {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
