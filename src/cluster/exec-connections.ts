// The TLS connections of the exec WebSockets. An exec upgrades its connection (HTTP/1.1 101 Switching
// Protocols), so no two execs can share one: each needs its own TCP and TLS connection. Two things keep
// that cheap. The TLS session of the first connection is resumed by every later one (no full
// handshake, as an https.Agent's session cache does). And when the caller has said that more execs will
// follow (inspect announces a node's pods), the connection for the next exec is opened while a running
// exec waits on its pod, so an exec starts on a connection whose handshakes are done: they no longer sit
// between one exec and the next of a concurrency slot, where every slot on a busy node paid them.

import { isIP } from 'node:net';
import { type ConnectionOptions, connect, TLSSocket } from 'node:tls';

/** A spare not taken by then is closed (a real API server keeps idle connections for minutes). */
export const SPARE_IDLE_MS = 10_000;

export interface ExecConnectionStats {
  /** TLS connections opened, for execs and as spares. */
  opened: number;
  /** Of which the TLS session of an earlier one was resumed (no full handshake). */
  resumed: number;
  /** Execs that started on a spare opened before they asked. */
  spareUsed: number;
  /** Spares closed unused (the server closed them, they sat idle too long, or close()). */
  spareUnused: number;
  /** TLS sessions (tickets) received, each resumable by the next connection. */
  sessions: number;
}

export interface ExecConnections {
  /** ws's `createConnection`: a ready spare to the same server with the same TLS settings, else a new connection. */
  connect(options: ConnectionOptions): TLSSocket;
  /** `count` more execs are to start after the ones already asked for (a node's pods, announced once). */
  expect(count: number): void;
  /** The exec on `socket` now waits on its pod: if more execs are expected, open a connection for the next. */
  waiting(socket: TLSSocket): void;
  /**
   * Execs with these connection options (ws's, see exec.ts) are about to start, up to `atOnce` together
   * (default 1): unless one is open or opening already, open one now, and once it has a TLS session, one
   * more for each exec of that first round that has not started yet and finds none open (never more
   * than are announced by then). The first exec takes the first, the others resume its session (execs
   * that start together no longer each negotiate a full one), and the round starts on connections whose
   * handshakes are done (they were made while the caller listed the pods, not as the execs started).
   */
  prepare(options: ConnectionOptions, atOnce?: number): void;
  /** Closes the spares (their sockets never keep the process alive anyway). */
  close(): void;
  readonly stats: ExecConnectionStats;
}

/** tls.TLSSocket's own setSession (not in @types/node): what tls.connect calls with options.session. */
type Settable = TLSSocket & { setSession(session: Buffer): void };

interface Spare {
  socket: TLSSocket;
  key: string;
  timer: NodeJS.Timeout;
  drop: () => void;
}

export function execConnections(options: { spareIdleMs?: number } = {}): ExecConnections {
  const idleMs = options.spareIdleMs ?? SPARE_IDLE_MS;
  const stats: ExecConnectionStats = { opened: 0, resumed: 0, spareUsed: 0, spareUnused: 0, sessions: 0 };
  /** The latest TLS session (ticket) per server and TLS settings: the next connection resumes it. */
  const sessions = new Map<string, Buffer>();
  /** Ready or connecting spares, oldest first. */
  const spares: Spare[] = [];
  /** What each exec's socket was opened with: a spare for its successor is opened the same way. */
  const openedWith = new WeakMap<TLSSocket, { key: string; options: ConnectionOptions }>();
  const contexts = new WeakMap<object, number>();
  let contextCount = 0;
  let expected = 0;
  /** connect() calls per key: how many execs of a prepared round have started. */
  const started = new Map<string, number>();
  /** expect() and close() calls so far (a prepared round checks whether any were announced or closed since). */
  let announced = 0;
  let closes = 0;

  /** Connections are interchangeable only with the same server and the same TLS settings. */
  const keyOf = (o: ConnectionOptions): string => {
    let context = 0;
    if (o.secureContext) {
      context = contexts.get(o.secureContext) ?? ++contextCount;
      contexts.set(o.secureContext, context);
    }
    return JSON.stringify([o.host, o.port, o.servername, o.rejectUnauthorized !== false, context]);
  };

  const open = (options: ConnectionOptions, key: string): TLSSocket => {
    // As ws's own tlsConnect: no path, and SNI only for host names.
    const tlsOptions: ConnectionOptions = { ...options, path: undefined } as ConnectionOptions;
    if (!tlsOptions.servername && tlsOptions.servername !== '')
      tlsOptions.servername = isIP(tlsOptions.host ?? '') ? '' : tlsOptions.host;
    // The session is set on the socket, not given to connect(): Node's tls.connect (20 and 22) hands
    // options.session to the TLSSocket it builds, which sets it, and then sets it again itself; each set
    // parses the session and its server's certificate (~0.15 ms here, twice per exec). The ClientHello
    // goes out once TCP is connected, so a session set here is offered all the same. setSession is the
    // socket method tls.connect calls; a runtime without it gets the session through the options.
    const session = sessions.get(key);
    const settable =
      session !== undefined && typeof (TLSSocket.prototype as Settable).setSession === 'function';
    if (session !== undefined && !settable) tlsOptions.session = session;
    const socket = connect(tlsOptions);
    if (session !== undefined && settable) (socket as Settable).setSession(session);
    stats.opened++;
    socket.on('session', (s: Buffer) => {
      stats.sessions++;
      sessions.set(key, s);
    });
    socket.once('secureConnect', () => {
      if (socket.isSessionReused()) stats.resumed++;
    });
    openedWith.set(socket, { key, options });
    return socket;
  };

  const discard = (spare: Spare): void => {
    const at = spares.indexOf(spare);
    if (at < 0) return;
    spares.splice(at, 1);
    clearTimeout(spare.timer);
    stats.spareUnused++;
    spare.socket.destroy();
  };

  const openSpare = (options: ConnectionOptions, key: string): TLSSocket => {
    const socket = open(options, key);
    // A spare never keeps the process alive, and one the server closes or that fails is dropped.
    socket.unref();
    const drop = (): void => discard(spare);
    const timer = setTimeout(drop, idleMs);
    timer.unref();
    const spare: Spare = { socket, key, timer, drop };
    socket.on('error', drop);
    socket.on('end', drop);
    socket.on('close', drop);
    spares.push(spare);
    return socket;
  };
  const sparesOf = (key: string): number => spares.filter((s) => s.key === key).length;

  const take = (key: string): TLSSocket | undefined => {
    const at = spares.findIndex((s) => s.key === key && !s.socket.destroyed && s.socket.readable);
    if (at < 0) return undefined;
    const [spare] = spares.splice(at, 1);
    if (spare === undefined) return undefined;
    clearTimeout(spare.timer);
    // From here the exec's request handles its errors and end (TLSSocket keeps its own listeners).
    spare.socket.off('error', spare.drop);
    spare.socket.off('end', spare.drop);
    spare.socket.off('close', spare.drop);
    spare.socket.ref();
    stats.spareUsed++;
    return spare.socket;
  };

  return {
    stats,
    connect(options) {
      if (expected > 0) expected--;
      const key = keyOf(options);
      started.set(key, (started.get(key) ?? 0) + 1);
      return take(key) ?? open(options, key);
    },
    expect(count) {
      expected += Math.max(0, Math.floor(count));
      announced++;
      // Connections opened ahead for more execs than are now announced (a prepared round larger than
      // the node's pods) are closed now, not left to idle out.
      for (let extra = spares.length - expected; extra > 0; extra--) discard(spares[spares.length - 1]!);
    },
    waiting(socket) {
      const how = openedWith.get(socket);
      if (how === undefined) return;
      if (sparesOf(how.key) < expected) openSpare(how.options, how.key);
    },
    prepare(options, atOnce = 1) {
      const key = keyOf(options);
      if (sessions.has(key) || spares.some((s) => s.key === key)) return;
      const first = openSpare(options, key);
      const round = Math.floor(atOnce);
      if (!(round > 1)) return;
      const startedBefore = started.get(key) ?? 0;
      const closesBefore = closes;
      first.once('session', () => {
        if (closes !== closesBefore) return;
        // The round's execs that have not started yet, each given a connection (announced ones only, once
        // the caller has announced any).
        let want = round - ((started.get(key) ?? 0) - startedBefore);
        if (announced > 0) want = Math.min(want, expected);
        for (let have = sparesOf(key); have < want; have++) openSpare(options, key);
      });
    },
    close() {
      closes++;
      expected = 0;
      for (const spare of [...spares]) discard(spare);
    },
  };
}
