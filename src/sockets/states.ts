// TCP state codes as the kernel prints them in /proc/net/tcp (include/net/tcp_states.h).
import type { TcpState } from '../model.js';

/** Index = kernel state code; code 0 and codes above 12 are `UNKNOWN`. */
export const STATE_BY_CODE: readonly TcpState[] = [
  'UNKNOWN',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
  'NEW_SYN_RECV',
];

export const CODE_LISTEN = 10;
export const CODE_CLOSE = 7;
export const STATE_CODES = STATE_BY_CODE.length;

export function stateOf(code: number): TcpState {
  return STATE_BY_CODE[code] ?? 'UNKNOWN';
}

export function codeOf(state: TcpState): number {
  const code = STATE_BY_CODE.indexOf(state);
  return Math.max(0, code);
}
