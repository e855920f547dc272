// Exec output streams (issue 13) under one cap per run (issue 16 item 8), over one TLS agent:
// against a real HTTPS + WebSocket exec endpoint on loopback that frames output as kube-apiserver does
// (one binary frame per write, channel byte first; 32 KiB writes: k8s.io/apimachinery wsstream + io.Copy).
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { ByteBudget } from '../../src/cluster/budget.js';
import { MAX_FRAME_BYTES, podExec } from '../../src/cluster/exec.js';
import { inspectNode } from '../../src/cluster/inspect.js';
import { ExecError } from '../../src/errors.js';
import { generateTls } from '../../src/sim/tls.js';
import { createClassifier } from '../../src/sockets/address.js';
import { aPod } from '../builders.js';
import { testKubeConfig } from './kubeconfig.js';

const FRAME = 32 * 1024;
const frame = (channel: number, data: Buffer): Buffer => Buffer.concat([Buffer.from([channel]), data]);
const success = frame(3, Buffer.from(JSON.stringify({ metadata: {}, status: 'Success' })));

/** A /proc/net/tcp line (tcp): 10.240.0.172:port → 20.103.144.194:27017 ESTABLISHED, padded to 150 bytes. */
const socketLine = (sl: number): string =>
  `${String(sl).padStart(4)}: AC00F00A:${(32768 + (sl % 28000)).toString(16).toUpperCase()} C2906714:6989 01 00000000:00000000 00:00000000 00000000  1001        0 ${1000 + sl} 1 0000000000000000 20 4 0 10 -1`.padEnd(
    149,
  ) + '\n';
const table = (lines: number): Buffer => {
  const out: string[] = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n',
  ];
  for (let i = 0; i < lines; i++) out.push(socketLine(i));
  return Buffer.from(out.join(''));
};

let server: Server;
let kc: KubeConfig;
const reused: boolean[] = [];
const open = new Set<WebSocket>();
/** Pod name → the stdout the endpoint sends, in 32 KiB frames; `gate` pods wait for release(). */
const outputs = new Map<string, Buffer>();
const gates = new Map<string, () => void>();

function send(ws: WebSocket, data: Buffer, then: () => void): void {
  let at = 0;
  const next = (): void => {
    // Paced by the client: each frame goes when the previous one is flushed (as a real server under TCP back-pressure).
    if (ws.readyState !== ws.OPEN) return;
    if (at >= data.length) {
      then();
      return;
    }
    const chunk = data.subarray(at, at + FRAME);
    at += FRAME;
    ws.send(frame(1, chunk), () => setImmediate(next));
  };
  next();
}

beforeAll(async () => {
  const tls = await generateTls();
  server = createServer({ key: tls.key, cert: tls.cert });
  server.on('secureConnection', (s: TLSSocket) => {
    // isSessionReused is known once the handshake is done, which it is at 'secureConnection'.
    reused.push(s.isSessionReused());
  });
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (p) => (p.has('v5.channel.k8s.io') ? 'v5.channel.k8s.io' : false),
  });
  server.on('upgrade', (req, socket, head) => {
    const name = /\/pods\/([^/]+)\/exec/.exec(req.url ?? '')?.[1] ?? '';
    wss.handleUpgrade(req, socket, head, (ws) => {
      open.add(ws);
      ws.on('close', () => open.delete(ws));
      if (name === 'oversized') {
        ws.send(frame(1, Buffer.alloc(MAX_FRAME_BYTES + 1024, 0x41)));
        return;
      }
      const go = () =>
        send(ws, outputs.get(name) ?? Buffer.alloc(0), () => ws.send(success, () => ws.close(1000)));
      if (name.startsWith('gate')) gates.set(name, go);
      else go();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  kc = testKubeConfig(`https://127.0.0.1:${port}`, tls.ca);
});

afterAll(async () => {
  for (const ws of open) ws.terminate();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const FILES = ['/proc/net/tcp', '/proc/net/tcp6'];
const limits = { timeoutMs: 5000, maxBytes: 64 << 20 };
const pod = (name: string) => ({ namespace: 'ns', name, container: 'app' });

describe('PodExec.stream', () => {
  it('hands stdout on frame by frame as it arrives, never the text whole', async () => {
    outputs.set('big', table(20_000)); // ~3 MB: 92 frames of 32 KiB
    const sizes: number[] = [];
    const bytes = await podExec(kc).stream!(pod('big'), FILES, limits, new AbortController().signal, (c) =>
      sizes.push(c.length),
    );
    expect(bytes).toBe(outputs.get('big')!.length);
    expect(sizes.length).toBe(Math.ceil(bytes / FRAME));
    expect(Math.max(...sizes)).toBe(FRAME);
  });

  it('refuses a frame larger than MAX_FRAME_BYTES (frames are the server’s 32 KiB writes; no pod makes one huge)', async () => {
    await expect(
      podExec(kc).stream!(pod('oversized'), FILES, limits, new AbortController().signal, () => {}),
    ).rejects.toBeInstanceOf(ExecError);
  });

  it('a 15 MB pod is summarized in inspect without its text ever existing whole', async () => {
    outputs.set('huge', table(100_000)); // ~15 MB
    const exec = podExec(kc);
    let largest = 0;
    const counting = {
      read: exec.read,
      stream: (...args: Parameters<NonNullable<typeof exec.stream>>) =>
        exec.stream!(args[0], args[1], args[2], args[3], (c) => {
          largest = Math.max(largest, c.length);
          args[4](c);
        }),
    };
    const { inspections } = await inspectNode('n1', [aPod({ name: 'huge', node: 'n1', namespace: 'ns' })], {
      exec: counting,
      limits,
      concurrency: 4,
      classifier: createClassifier(),
      signal: new AbortController().signal,
      log: { debug() {}, info() {}, warn() {}, error() {} },
    });
    expect(inspections[0]?.status).toBe('ok');
    expect(inspections[0]?.summary?.snatSockets).toBe(100_000);
    expect(inspections[0]?.bytes).toBe(outputs.get('huge')!.length);
    expect(largest).toBe(FRAME);
  });
});

describe('one TLS agent for every exec of a run', () => {
  it('resumes the TLS session instead of a full handshake per exec', async () => {
    outputs.set('small', table(10));
    const exec = podExec(kc);
    const before = reused.length;
    for (let i = 0; i < 4; i++) await exec.read(pod('small'), FILES, limits, new AbortController().signal);
    const these = reused.slice(before);
    expect(these).toHaveLength(4);
    // The first handshake is full; every later one resumes its session.
    expect(these.slice(1)).toEqual([true, true, true]);
  });
});

describe('the run cap on exec bytes in flight (issue 16 item 8)', () => {
  it('pauses execs past the cap and still completes every one (the oldest never waits)', async () => {
    for (const n of ['a', 'b', 'c', 'd']) outputs.set(`cap-${n}`, table(3_000)); // ~450 KB each
    const exec = podExec(kc, { maxBytesInFlight: 256 * 1024 });
    const results = await Promise.all(
      ['a', 'b', 'c', 'd'].map((n) =>
        exec.stream!(pod(`cap-${n}`), FILES, limits, new AbortController().signal, () => undefined),
      ),
    );
    for (const r of results) expect(r).toBe(outputs.get('cap-a')!.length);
    const stats = exec.budget.stats;
    expect(stats.waits).toBeGreaterThan(0);
    expect(stats.held).toBe(0);
    // Never more than the cap plus the one exec allowed past it (plus a frame each already on its way).
    expect(stats.peak).toBeLessThanOrEqual(256 * 1024 + outputs.get('cap-a')!.length + 4 * 2 * FRAME);
  });

  it('without the cap the same four run side by side and hold more at once', async () => {
    for (const n of ['a', 'b', 'c', 'd']) {
      outputs.set(`gate-${n}`, table(3_000));
    }
    const exec = podExec(kc);
    const runs = ['a', 'b', 'c', 'd'].map((n) =>
      exec.stream!(pod(`gate-${n}`), FILES, limits, new AbortController().signal, () => undefined),
    );
    while (gates.size < 4) await new Promise((r) => setTimeout(r, 5));
    for (const go of gates.values()) go();
    await Promise.all(runs);
    gates.clear();
    expect(exec.budget.stats.waits).toBe(0);
    expect(exec.budget.stats.peak).toBeGreaterThan(256 * 1024);
  });

  it('a failed exec releases what it held', async () => {
    outputs.set('too-big', table(2_000));
    const exec = podExec(kc, { maxBytesInFlight: 1 << 20 });
    await expect(
      exec.stream!(
        pod('too-big'),
        FILES,
        { ...limits, maxBytes: 100_000 },
        new AbortController().signal,
        () => {},
      ),
    ).rejects.toBeInstanceOf(ExecError);
    expect(exec.budget.stats.held).toBe(0);
  });
});

describe('ByteBudget', () => {
  it('grants under the cap, makes a younger exec wait past it, wakes it when the older one ends', async () => {
    const budget = new ByteBudget(100);
    const old = budget.holder();
    const young = budget.holder();
    expect(old.take(60)).toBe(true);
    expect(young.take(60)).toBe(false); // 120 > 100 and young is not the oldest
    expect(old.take(60)).toBe(true); // the oldest never waits
    let woke = false;
    const waiting = young.whenFree().then(() => {
      woke = true;
    });
    await Promise.resolve();
    expect(woke).toBe(false);
    old.release();
    await waiting;
    expect(woke).toBe(true);
    expect(budget.stats).toEqual({ held: 60, peak: 180, waits: 1 });
    young.release();
    young.release();
    expect(budget.stats.held).toBe(0);
  });
});
