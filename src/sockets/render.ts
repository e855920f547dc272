// The inverse of the parser: sockets → /proc/net/tcp{,6} text exactly as Linux prints it
// (net/ipv4/tcp_ipv4.c get_tcp4_sock / get_timewait4_sock, net/ipv6/tcp_ipv6.c get_tcp6_sock),
// on a little-endian host. Used by the simulator and by the round-trip property tests.

import { SnatguardError } from '../errors.js';
import type { TcpState } from '../model.js';
import { isMappedV4, parseIp } from './address.js';
import { codeOf } from './states.js';

export interface RenderSocket {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  state: TcpState;
  inode: number;
  uid?: number;
}

export const TCP_HEADER =
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
export const TCP6_HEADER =
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';

/** tcp lines are padded with spaces to 149 columns (seq_pad to TMPSZ - 1); tcp6 lines are not. */
const TCP_LINE_WIDTH = 149;

const hex = (n: number, width: number): string => n.toString(16).toUpperCase().padStart(width, '0');

/** A network-order word printed as the kernel prints a host-endian (little-endian) u32. */
const hostWord = (w: number): string =>
  hex((((w & 0xff) << 24) | (((w >>> 8) & 0xff) << 16) | (((w >>> 16) & 0xff) << 8) | (w >>> 24)) >>> 0, 8);

function wordsOf(text: string, table: 'tcp' | 'tcp6'): number[] {
  const a = parseIp(text);
  if (a === null) throw new SnatguardError(`renderProcNetTcp: not an IP address: "${text}"`);
  if (table === 'tcp6') return a.family === 'ipv4' ? [0, 0, 0xffff, a.value] : [...a.words];
  if (a.family === 'ipv4') return [a.value];
  const [w0, w1, w2, w3] = a.words;
  if (isMappedV4(w0, w1, w2)) return [w3];
  throw new SnatguardError(`renderProcNetTcp: IPv6 address "${text}" cannot appear in /proc/net/tcp`);
}

const port = (p: number): string => {
  if (!Number.isInteger(p) || p < 0 || p > 65535) throw new SnatguardError(`renderProcNetTcp: bad port ${p}`);
  return hex(p, 4);
};

/** The columns after the inode, as the kernel prints them for a socket in this state. */
function trailer(state: TcpState): { timer: string; rest: string } {
  switch (state) {
    case 'LISTEN':
      return { timer: '00:00000000', rest: '1 0000000000000000 100 0 0 10 0' };
    case 'TIME_WAIT':
      return { timer: '03:00001770', rest: '3 0000000000000000' };
    case 'SYN_RECV':
    case 'NEW_SYN_RECV':
      return { timer: '01:000000C8', rest: '0 0000000000000000' };
    case 'SYN_SENT':
      return { timer: '01:000000C8', rest: '2 0000000000000000 100 0 0 10 -1' };
    case 'CLOSE':
      return { timer: '00:00000000', rest: '2 0000000000000000 20 0 0 10 -1' };
    default:
      return { timer: '00:00000000', rest: '2 0000000000000000 21 4 0 10 -1' };
  }
}

export function renderProcNetTcp(sockets: Iterable<RenderSocket>, table: 'tcp' | 'tcp6'): string {
  const out: string[] = [table === 'tcp' ? TCP_HEADER.padEnd(TCP_LINE_WIDTH) : TCP6_HEADER];
  let sl = 0;
  for (const s of sockets) {
    const local = wordsOf(s.localAddress, table).map(hostWord).join('');
    const remote = wordsOf(s.remoteAddress, table).map(hostWord).join('');
    const { timer, rest } = trailer(s.state);
    const uid = String(s.uid ?? 0).padStart(5);
    const line =
      `${String(sl).padStart(4)}: ${local}:${port(s.localPort)} ${remote}:${port(s.remotePort)} ` +
      `${hex(codeOf(s.state), 2)} 00000000:00000000 ${timer} 00000000 ${uid}        0 ${s.inode} ${rest}`;
    out.push(table === 'tcp' ? line.padEnd(TCP_LINE_WIDTH) : line);
    sl++;
  }
  return `${out.join('\n')}\n`;
}
