// Snapshot sockets → concrete sockets (addresses, chosen ports, inodes) → /proc/net/tcp{,6} text,
// and the count of SNAT-consuming sockets per destination that the derived metrics need.
import type { TcpState } from '../../model.js';
import type { AddressClassifier } from '../../sockets/address.js';
import { isSnatClass } from '../../sockets/address.js';
import { type RenderSocket, renderProcNetTcp } from '../../sockets/render.js';
import { sha256Uint32 } from '../hash.js';
import type { SnapshotSocket } from '../snapshot.js';

export interface ConcreteSocket extends RenderSocket {
  table: 'tcp' | 'tcp6';
}

const EPHEMERAL_LOW = 32768;
const EPHEMERAL_SPAN = 60999 - 32768 + 1; // 28232 = 2^3 · 3529
/** Coprime with EPHEMERAL_SPAN, so stepping by it visits every port once before repeating. */
const PORT_STEP = 7919;

const seedOf = sha256Uint32;

/** IPv6 address a pod uses for ipv6 sockets without a local address: fd00:: plus its IPv4 words. */
function podIpv6(ipv4: string): string {
  const [a = 0, b = 0, c = 0, d = 0] = ipv4.split('.').map(Number);
  return `fd00::${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

/**
 * Expands a namespace's sockets (a pod's, or a node's host sockets) into concrete sockets:
 * LISTEN first (as the kernel lists them), ephemeral ports 32768–60999 chosen deterministically from
 * `seed`, never repeating a 4-tuple, distinct inodes (0 for TIME_WAIT and SYN_RECV, as Linux prints them).
 */
export function expandSockets(
  sockets: readonly SnapshotSocket[],
  localIp: string,
  seed: string,
): ConcreteSocket[] {
  const listening = new Set(sockets.filter((s) => s.state === 'LISTEN').map((s) => s.localPort ?? 0));
  const used = new Set<string>();
  let cursor = seedOf(`${seed}/ports`) % EPHEMERAL_SPAN;
  let inode = 100_000_000 + (seedOf(`${seed}/inodes`) % 300_000_000);
  const nextPort = (other: string, fixedPort: number | undefined, isLocal: boolean): number => {
    for (let tries = 0; tries < EPHEMERAL_SPAN * 2; tries++) {
      cursor = (cursor + PORT_STEP) % EPHEMERAL_SPAN;
      const port = EPHEMERAL_LOW + cursor;
      if (isLocal && listening.has(port)) continue;
      const key = isLocal ? `${port}|${other}|${fixedPort}` : `${fixedPort}|${other}|${port}`;
      if (used.has(key)) continue;
      used.add(key);
      return port;
    }
    return EPHEMERAL_LOW + cursor;
  };
  const ordered = [
    ...sockets.filter((s) => s.state === 'LISTEN'),
    ...sockets.filter((s) => s.state !== 'LISTEN'),
  ];
  const out: ConcreteSocket[] = [];
  for (const s of ordered) {
    const table = s.family === 'ipv4' ? 'tcp' : 'tcp6';
    const any = s.family === 'ipv4' ? '0.0.0.0' : '::';
    const ownIp = s.family === 'ipv6' ? podIpv6(localIp) : localIp;
    const noInode = s.state === 'TIME_WAIT' || s.state === 'SYN_RECV' || s.state === 'NEW_SYN_RECV';
    for (let i = 0; i < s.count; i++) {
      let localAddress: string;
      let localPort: number;
      let remoteAddress: string;
      let remotePort: number;
      if (s.state === 'LISTEN') {
        localAddress = s.localAddress ?? any;
        localPort = s.localPort ?? 0;
        remoteAddress = any;
        remotePort = 0;
      } else if (s.localPort !== undefined) {
        // Inbound: a fixed local port, the client's port chosen per socket.
        localAddress = s.localAddress ?? ownIp;
        localPort = s.localPort;
        remoteAddress = s.remoteAddress ?? any;
        remotePort = s.remotePort ?? nextPort(`${remoteAddress}`, localPort, false);
      } else {
        // Outbound: our ephemeral port to the destination.
        localAddress = ownIp;
        remoteAddress = s.remoteAddress ?? any;
        remotePort = s.remotePort ?? (seedOf(`${seed}/rport/${out.length}`) % EPHEMERAL_SPAN) + EPHEMERAL_LOW;
        localPort = nextPort(remoteAddress, remotePort, true);
      }
      out.push({
        table,
        localAddress,
        localPort,
        remoteAddress,
        remotePort,
        state: s.state,
        inode: noInode ? 0 : inode++,
      });
    }
  }
  return out;
}

/** The two files, rendered by the sockets module's renderer. */
export function renderTables(sockets: readonly ConcreteSocket[]): { tcp: string; tcp6: string } {
  return {
    tcp: renderProcNetTcp(
      sockets.filter((s) => s.table === 'tcp'),
      'tcp',
    ),
    tcp6: renderProcNetTcp(
      sockets.filter((s) => s.table === 'tcp6'),
      'tcp6',
    ),
  };
}

const NOT_SNAT_STATES: ReadonlySet<TcpState> = new Set(['LISTEN', 'CLOSE']);

/**
 * SNAT-consuming sockets per destination `ip:port` (DESIGN.md): public remote per the classifier,
 * state not LISTEN/CLOSE, outbound (local port not LISTENed on in the same table).
 */
export function snatByDestination(
  sockets: readonly ConcreteSocket[],
  classifier: AddressClassifier,
): Map<string, number> {
  const listen = new Set(sockets.filter((s) => s.state === 'LISTEN').map((s) => `${s.table}|${s.localPort}`));
  const classes = new Map<string, boolean>();
  const out = new Map<string, number>();
  for (const s of sockets) {
    if (NOT_SNAT_STATES.has(s.state) || listen.has(`${s.table}|${s.localPort}`)) continue;
    let snat = classes.get(s.remoteAddress);
    if (snat === undefined) {
      snat = isSnatClass(classifier.classify(s.remoteAddress));
      classes.set(s.remoteAddress, snat);
    }
    if (!snat) continue;
    const key = s.remoteAddress.includes(':')
      ? `[${s.remoteAddress}]:${s.remotePort}`
      : `${s.remoteAddress}:${s.remotePort}`;
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

/**
 * snatByDestination of expandSockets(sockets, …) without expanding them, when every socket line that can
 * take SNAT names its destination (remote address and port) and no local port (outbound): then each line
 * adds its count to its destination, since an outbound socket's local port is an ephemeral one that no
 * LISTEN line holds. Undefined when a line leaves its remote port to the expansion or is inbound, or
 * when the lines hold more sockets than free ephemeral ports (the expansion reuses ports then). With
 * `into`, the counts are added to it (nothing is added when the answer is undefined) and it is returned.
 */
export function snatBySpec(
  sockets: readonly SnapshotSocket[],
  classifier: AddressClassifier,
  into?: Map<string, number>,
): Map<string, number> | undefined {
  let total = 0;
  let listening = 0;
  for (const s of sockets) {
    if (s.state === 'LISTEN') listening++;
    if (NOT_SNAT_STATES.has(s.state)) continue;
    if (s.remoteAddress === undefined || s.remotePort === undefined || s.localPort !== undefined)
      return undefined;
    total += s.count;
  }
  // (Per destination the bound is the free ports; over all lines it is a stricter, simpler test.)
  if (total > EPHEMERAL_SPAN - listening) return undefined;
  const out = into ?? new Map<string, number>();
  for (const s of sockets) {
    if (NOT_SNAT_STATES.has(s.state) || s.count === 0) continue;
    // A parsed line is shared by every pod that writes it (snapshot.ts): its destination is worked out once.
    let dest = destinations.get(s);
    if (dest === undefined || dest.classifier !== classifier) {
      const address = s.remoteAddress!;
      dest = {
        classifier,
        key: isSnatClass(classifier.classify(address))
          ? address.includes(':')
            ? `[${address}]:${s.remotePort}`
            : `${address}:${s.remotePort}`
          : undefined,
      };
      destinations.set(s, dest);
    }
    if (dest.key !== undefined) out.set(dest.key, (out.get(dest.key) ?? 0) + s.count);
  }
  return out;
}

/** Per socket line: its SNAT destination (`ip:port`, undefined when not SNAT) under one classifier. */
const destinations = new WeakMap<
  SnapshotSocket,
  { classifier: AddressClassifier; key: string | undefined }
>();
