// The exec WebSockets' TLS connections (src/cluster/exec-connections.ts), against a real HTTPS +
// WebSocket exec endpoint on loopback that counts every TLS connection, whether it resumed a session,
// and whether it carried an exec: the session of the first is resumed by the rest, announced execs start
// on connections opened while the one before waited on its pod, and nothing is opened that is not used.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { podExec } from '../../src/cluster/exec.js';
import { inspectNode } from '../../src/cluster/inspect.js';
import type { PodExec } from '../../src/ports.js';
import { generateTls } from '../../src/sim/tls.js';
import { createClassifier } from '../../src/sockets/address.js';
import { aPod } from '../builders.js';
import { testKubeConfig } from './kubeconfig.js';

const frame = (channel: number, data: Buffer): Buffer => Buffer.concat([Buffer.from([channel]), data]);
const tcpTable = Buffer.from(
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n' +
    '   0: AC00F00A:8000 C2906714:6989 01 00000000:00000000 00:00000000 00000000  1001        0 1000 1 0000000000000000 20 4 0 10 -1\n',
);
// The exec endpoint's Status frame on success (kube-apiserver, channel 3).
const success = frame(3, Buffer.from(JSON.stringify({ metadata: {}, status: 'Success' })));

let server: Server;
let kc: KubeConfig;
/** Every TLS connection the server accepted: resumed or full, and whether an exec came on it. */
let accepted: { socket: TLSSocket; resumed: boolean; exec: boolean }[] = [];
/** The Sec-WebSocket-Extensions header of every exec's upgrade request (undefined: none offered). */
let extensions: (string | undefined)[] = [];
const open = new Set<WebSocket>();

beforeAll(async () => {
  const tls = await generateTls();
  server = createServer({ key: tls.key, cert: tls.cert });
  server.on('secureConnection', (s: TLSSocket) => {
    accepted.push({ socket: s, resumed: s.isSessionReused(), exec: false });
  });
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (p) => (p.has('v5.channel.k8s.io') ? 'v5.channel.k8s.io' : false),
  });
  server.on('upgrade', (req, socket, head) => {
    const c = accepted.find((a) => a.socket === socket);
    if (c) c.exec = true;
    extensions.push(req.headers['sec-websocket-extensions']);
    wss.handleUpgrade(req, socket, head, (ws) => {
      open.add(ws);
      ws.on('close', () => open.delete(ws));
      // As a kubelet does: the command's output, then its Status, then the close.
      ws.send(frame(1, tcpTable), () => ws.send(success, () => ws.close(1000)));
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

beforeEach(() => {
  accepted = [];
  extensions = [];
});

const FILES = ['/proc/net/tcp', '/proc/net/tcp6'];
const limits = { timeoutMs: 5000, maxBytes: 1 << 20 };
const pod = (name: string) => ({ namespace: 'ns', name, container: 'app' });
const read = (exec: PodExec, name: string) =>
  exec.read(pod(name), FILES, limits, new AbortController().signal);

describe('exec connections', () => {
  it('announced execs start on connections opened while the one before waited: all used, sessions resumed', async () => {
    const exec = podExec(kc);
    exec.expect!(4);
    for (let i = 0; i < 4; i++) expect(await read(exec, `p${i}`)).toBe(tcpTable.toString());
    // One exec's own connection, then three opened ahead of the execs that took them; none left over.
    expect(exec.connections.stats).toMatchObject({ opened: 4, spareUsed: 3, spareUnused: 0 });
    expect(accepted).toHaveLength(4);
    expect(accepted.every((a) => a.exec)).toBe(true);
    // The first handshake is full; every later one resumed its session.
    expect(accepted.map((a) => a.resumed)).toEqual([false, true, true, true]);
  });

  it('sixteen at once, then the rest: every connection carries an exec (none opened beyond the announced)', async () => {
    const exec = podExec(kc);
    const names = Array.from({ length: 40 }, (_, i) => `q${i}`);
    exec.expect!(names.length);
    let running = 0;
    const queue = [...names];
    // Sixteen slots, each taking the next pod when its exec ends (inspect's limiter).
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
          running++;
          await read(exec, name);
          running--;
        }
      }),
    );
    expect(running).toBe(0);
    expect(accepted).toHaveLength(40);
    expect(accepted.filter((a) => !a.exec)).toEqual([]);
    expect(exec.connections.stats.spareUnused).toBe(0);
    expect(exec.connections.stats.spareUsed).toBeGreaterThan(0);
    // Only the first connections (opened together, before any session existed) are full handshakes.
    expect(accepted.filter((a) => !a.resumed).length).toBeLessThanOrEqual(16);
  });

  it('execs nobody announced (the node probe, the conntrack listing) open no connection ahead', async () => {
    const exec = podExec(kc);
    for (let i = 0; i < 3; i++) await read(exec, `u${i}`);
    expect(exec.connections.stats).toMatchObject({ opened: 3, spareUsed: 0, spareUnused: 0 });
    expect(accepted.map((a) => a.resumed)).toEqual([false, true, true]);
  });

  it('a connection the server closed before it was taken is dropped: the exec opens its own and succeeds', async () => {
    const exec = podExec(kc);
    exec.expect!(2);
    await read(exec, 'c0');
    // The spare opened for the second exec: the server drops it (an idle timeout, a restart).
    await vi.waitFor(() => expect(accepted.filter((a) => !a.exec)).toHaveLength(1));
    for (const a of accepted.filter((x) => !x.exec)) a.socket.destroy();
    await vi.waitFor(() => expect(exec.connections.stats.spareUnused).toBe(1));
    expect(await read(exec, 'c1')).toBe(tcpTable.toString());
    expect(exec.connections.stats).toMatchObject({ spareUsed: 0, spareUnused: 1 });
    expect(accepted.filter((a) => a.exec)).toHaveLength(2);
  });

  it('prepare(): the first exec takes the connection opened ahead, and the execs started together after its handshake all resume its session (was: as many full handshakes at once as execs started)', async () => {
    const exec = podExec(kc);
    exec.prepare!();
    exec.prepare!(); // once is enough
    await vi.waitFor(() => expect(exec.connections.stats.sessions).toBeGreaterThan(0));
    expect(accepted).toHaveLength(1);
    expect(accepted[0]!.exec).toBe(false);
    const names = ['r0', 'r1', 'r2', 'r3', 'r4'];
    exec.expect!(names.length);
    const texts = await Promise.all(names.map((n) => read(exec, n)));
    expect(texts.every((t) => t === tcpTable.toString())).toBe(true);
    expect(exec.connections.stats).toMatchObject({ opened: 5, spareUsed: 1, spareUnused: 0 });
    expect(accepted.every((a) => a.exec)).toBe(true);
    // One full handshake, ahead of the execs; each of theirs resumed its session.
    expect(accepted.map((a) => a.resumed)).toEqual([false, true, true, true, true]);
  });

  it('a resumed connection parses its session once (was: twice, tls.connect sets options.session in the socket it builds and again after)', async () => {
    // Every set of a session reaches the TLS handle's native setSession (which parses it and the
    // server's certificate): counted on the handles' shared prototype, the real method still called.
    const probe = new TLSSocket(undefined as never, {});
    const handles = Object.getPrototypeOf((probe as unknown as { _handle: object })._handle) as {
      setSession(this: unknown, session: Buffer): void;
    };
    probe.destroy();
    const real = handles.setSession;
    let sets = 0;
    handles.setSession = function (this: unknown, session: Buffer) {
      sets++;
      return real.call(this, session);
    };
    try {
      const exec = podExec(kc);
      for (let i = 0; i < 3; i++) await read(exec, `o${i}`);
      expect(accepted.map((a) => a.resumed)).toEqual([false, true, true]);
      expect(sets).toBe(2);
    } finally {
      handles.setSession = real;
    }
  });

  it('prepare(5): the first five execs each start on a connection opened ahead, the four after the first resuming its session (was: one opened ahead, four opened as the execs started)', async () => {
    const exec = podExec(kc);
    exec.prepare!(5);
    // Before any exec: one full handshake, then four that resume its session.
    await vi.waitFor(() => expect(accepted).toHaveLength(5));
    expect(accepted.map((a) => a.resumed)).toEqual([false, true, true, true, true]);
    expect(accepted.some((a) => a.exec)).toBe(false);
    const names = ['t0', 't1', 't2', 't3', 't4'];
    exec.expect!(names.length);
    const texts = await Promise.all(names.map((n) => read(exec, n)));
    expect(texts.every((t) => t === tcpTable.toString())).toBe(true);
    expect(exec.connections.stats).toMatchObject({ opened: 5, spareUsed: 5, spareUnused: 0 });
    expect(accepted.every((a) => a.exec)).toBe(true);
  });

  it('prepare(6) for a node of two pods: the connections beyond the announced execs are closed when they are announced', async () => {
    const exec = podExec(kc);
    exec.prepare!(6);
    await vi.waitFor(() => expect(exec.connections.stats.opened).toBe(6));
    exec.expect!(2);
    expect(exec.connections.stats.spareUnused).toBe(4);
    await Promise.all([read(exec, 'w0'), read(exec, 'w1')]);
    expect(exec.connections.stats).toMatchObject({ opened: 6, spareUsed: 2, spareUnused: 4 });
  });

  it('prepare(6) announced as two pods before the first session: only the announced are opened', async () => {
    const exec = podExec(kc);
    exec.prepare!(6);
    exec.expect!(2);
    await vi.waitFor(() => expect(exec.connections.stats.sessions).toBeGreaterThan(0));
    await vi.waitFor(() => expect(exec.connections.stats.opened).toBe(2));
    await Promise.all([read(exec, 'v0'), read(exec, 'v1')]);
    expect(exec.connections.stats).toMatchObject({ opened: 2, spareUsed: 2, spareUnused: 0 });
  });

  it('prepare() opens nothing more once a session exists or a connection is open ahead', async () => {
    const exec = podExec(kc);
    await read(exec, 's0');
    exec.prepare!();
    await read(exec, 's1');
    expect(exec.connections.stats).toMatchObject({ opened: 2, spareUsed: 0, spareUnused: 0 });
  });

  it('beforeFirst is called once, as the first exec starts and before its connection is opened', async () => {
    const seen: number[] = [];
    const exec = podExec(kc, { beforeFirst: () => void seen.push(accepted.length) });
    expect(seen).toEqual([]);
    await read(exec, 'b0');
    await read(exec, 'b1');
    expect(seen).toEqual([0]);
  });

  it('offers no permessage-deflate (kube-apiserver never negotiates it on exec; was: offered on every exec)', async () => {
    const exec = podExec(kc);
    await read(exec, 'x0');
    expect(extensions).toEqual([undefined]);
  });

  it('close() closes the connections opened ahead and no more are opened', async () => {
    const exec = podExec(kc);
    exec.expect!(10);
    await read(exec, 'd0');
    exec.connections.close();
    expect(exec.connections.stats.spareUnused).toBe(1);
    await read(exec, 'd1');
    expect(exec.connections.stats).toMatchObject({ opened: 3, spareUsed: 0, spareUnused: 1 });
  });
});

describe('inspectNode announces its execs', () => {
  it("tells the PodExec how many pods' execs are to come, once, before the first", async () => {
    const announced: number[] = [];
    let readsWhenAnnounced: number | undefined;
    let reads = 0;
    const exec: PodExec = {
      expect: (n) => {
        announced.push(n);
        readsWhenAnnounced = reads;
      },
      read: async () => {
        reads++;
        return tcpTable.toString();
      },
    };
    const pods = [
      aPod({ name: 'a' }),
      aPod({ name: 'b' }),
      aPod({ name: 'h1', hostNetwork: true }),
      aPod({ name: 'h2', hostNetwork: true }),
    ];
    await inspectNode('n1', pods, {
      exec,
      limits,
      concurrency: 16,
      classifier: createClassifier({ clusterCidrs: ['10.244.0.0/16'] }),
      signal: new AbortController().signal,
      log: { debug() {}, info() {}, warn() {}, error() {} },
    });
    // Two pods of their own plus the node's namespace, read once through a hostNetwork pod.
    expect(announced).toEqual([3]);
    expect(readsWhenAnnounced).toBe(0);
    expect(reads).toBe(3);
  });
});
