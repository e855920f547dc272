// What `conntrack -L -o extended` prints on a simulated node: one flow per SNAT-consuming socket of the
// node's (non-hostNetwork) pods, source-NATed to the node's InternalIP with a distinct translated port per
// destination, in the tool's format (conntrack-tools 1.4.7, as captured in test/fixtures/conntrack/).
// TCP states map to conntrack's (FIN_WAIT1/2 → FIN_WAIT, CLOSING → CLOSE); IPv6 sockets are translated
// to an IPv6 address derived from the node's InternalIP (fd00::/8 words, like the pods' own IPv6).
import type { TcpState } from '../model.js';
import { isSnatClass } from '../sockets/address.js';
import type { ConcreteSocket } from './kube/sockets.js';
import type { PodRuntime, World } from './world.js';

const STATE: Partial<Record<TcpState, string>> = {
  ESTABLISHED: 'ESTABLISHED',
  SYN_SENT: 'SYN_SENT',
  SYN_RECV: 'SYN_RECV',
  NEW_SYN_RECV: 'SYN_RECV',
  FIN_WAIT1: 'FIN_WAIT',
  FIN_WAIT2: 'FIN_WAIT',
  TIME_WAIT: 'TIME_WAIT',
  CLOSE_WAIT: 'CLOSE_WAIT',
  LAST_ACK: 'LAST_ACK',
  CLOSING: 'CLOSE',
};
/** Seconds left, as the kernel's default timeouts would show them shortly after the state began. */
const TIMEOUT: Record<string, number> = {
  ESTABLISHED: 431999,
  SYN_SENT: 119,
  SYN_RECV: 59,
  FIN_WAIT: 119,
  TIME_WAIT: 119,
  CLOSE_WAIT: 59,
  LAST_ACK: 29,
  CLOSE: 9,
};

function nodeIpv6(ipv4: string): string {
  const [a = 0, b = 0, c = 0, d = 0] = ipv4.split('.').map(Number);
  return `fd00::${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

/** Outbound SNAT-consuming sockets of a pod (public remote, not LISTEN/CLOSE, local port not listened on). */
function snatSockets(world: World, pod: PodRuntime): ConcreteSocket[] {
  const sockets = world.socketsOf(pod);
  const listen = new Set(sockets.filter((s) => s.state === 'LISTEN').map((s) => `${s.table}|${s.localPort}`));
  return sockets.filter(
    (s) =>
      STATE[s.state] !== undefined &&
      !listen.has(`${s.table}|${s.localPort}`) &&
      isSnatClass(world.classifier.classify(s.remoteAddress)),
  );
}

export function renderConntrackTable(world: World, node: string): string {
  const n = world.snapshot.nodes.find((x) => x.name === node);
  if (n === undefined) return '';
  const nextPort = new Map<string, number>();
  const lines: string[] = [];
  for (const pod of world.podsOn(node)) {
    if (pod.hostNetwork) continue;
    for (const s of snatSockets(world, pod)) {
      const v6 = s.remoteAddress.includes(':');
      const translated = v6 ? nodeIpv6(n.internalIP) : n.internalIP;
      const key = `${s.remoteAddress}|${s.remotePort}`;
      const port = nextPort.get(key) ?? 1024;
      nextPort.set(key, port + 1);
      const state = STATE[s.state]!;
      const unreplied = state === 'SYN_SENT' ? ' [UNREPLIED]' : '';
      const assured = state === 'SYN_SENT' || state === 'SYN_RECV' ? '' : ' [ASSURED]';
      lines.push(
        `${v6 ? 'ipv6     10' : 'ipv4     2'} tcp      6 ${TIMEOUT[state] ?? 119} ${state} ` +
          `src=${s.localAddress} dst=${s.remoteAddress} sport=${s.localPort} dport=${s.remotePort}${unreplied} ` +
          `src=${s.remoteAddress} dst=${translated} sport=${s.remotePort} dport=${port}${assured} mark=0 use=1`,
      );
    }
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}
