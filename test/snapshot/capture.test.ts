// The pure core of `snatguard snapshot`: socket lines → the format's aggregated entries, conntrack flows →
// the sockets of a pod exec could not read, and what is kept of annotations and aws-node env.
import { describe, expect, it } from 'vitest';
import type { ConntrackFlow } from '../../src/analysis/conntrack-table.js';
import type { SocketEntry, TcpState } from '../../src/model.js';
import { aggregate, keptAnnotation, keptEnv, socketsFromFlows } from '../../src/snapshot/capture.js';

let inode = 1000;
const entry = (
  local: string,
  localPort: number,
  remote: string,
  remotePort: number,
  state: TcpState,
  table: 'tcp' | 'tcp6' = 'tcp',
): SocketEntry => ({
  sl: 0,
  table,
  family: remote.includes(':') && !remote.startsWith('::ffff:') ? 'ipv6' : 'ipv4',
  localAddress: local,
  localPort,
  remoteAddress: remote,
  remotePort,
  state,
  txQueue: 0,
  rxQueue: 0,
  timerActive: 0,
  timerExpires: 0,
  retransmits: 0,
  uid: 1000,
  timeout: 0,
  inode: inode++,
});

describe('aggregate', () => {
  it('outbound per remote / state / family; listeners and inbound connections by their local endpoint', () => {
    const pod = '10.244.0.17';
    const lines = [
      entry('0.0.0.0', 8080, '0.0.0.0', 0, 'LISTEN'),
      entry(pod, 8080, '10.244.1.5', 40001, 'ESTABLISHED'),
      entry(pod, 8080, '10.244.1.5', 40002, 'ESTABLISHED'),
      // An IPv6 client of the port listened on in the IPv4 table: inbound too (as the summarizer counts it).
      entry('fd00::17', 8080, '2001:db8:4::17', 40003, 'ESTABLISHED', 'tcp6'),
      entry(pod, 50001, '20.103.144.194', 27017, 'ESTABLISHED'),
      entry(pod, 50002, '20.103.144.194', 27017, 'ESTABLISHED'),
      entry(pod, 50003, '20.103.144.194', 27017, 'ESTABLISHED'),
      entry(pod, 50004, '20.103.144.194', 27017, 'TIME_WAIT'),
      entry('::ffff:10.244.0.17', 50005, '20.103.144.195', 443, 'ESTABLISHED', 'tcp6'),
      entry('fd00::17', 50006, '2001:db8::1', 443, 'SYN_SENT', 'tcp6'),
      entry('127.0.0.1', 50007, '127.0.0.1', 9000, 'ESTABLISHED'),
    ];
    expect(aggregate(lines, pod)).toEqual([
      { local: '0.0.0.0:8080', state: 'LISTEN' },
      { remote: '20.103.144.194:27017', state: 'ESTABLISHED', count: 3 },
      { remote: '10.244.1.5', local: '10.244.0.17:8080', state: 'ESTABLISHED', count: 2 },
      { remote: '2001:db8:4::17', local: '[fd00::17]:8080', state: 'ESTABLISHED', family: 'ipv6' },
      { remote: '20.103.144.194:27017', state: 'TIME_WAIT' },
      { remote: '20.103.144.195:443', state: 'ESTABLISHED', family: 'ipv4-mapped' },
      // The pod's own IPv6 address is the one the simulator derives: not written.
      { remote: '[2001:db8::1]:443', state: 'SYN_SENT', family: 'ipv6' },
      // Another local address than the pod's (loopback): the exact local endpoint is kept.
      { remote: '127.0.0.1:9000', local: '127.0.0.1:50007', state: 'ESTABLISHED' },
    ]);
  });

  it('no lines, no entries', () => {
    expect(aggregate([], '10.0.0.1')).toEqual([]);
  });
});

describe('socketsFromFlows', () => {
  const flow = (
    src: string,
    dst: string,
    dport: number,
    state: string,
    family: 'ipv4' | 'ipv6' = 'ipv4',
  ): ConntrackFlow => ({
    family,
    protocol: 'tcp',
    state,
    original: { src, dst, sport: 40000, dport },
    reply: { src: dst, dst: '10.224.0.4', sport: dport, dport: 1024 },
    flags: ['ASSURED'],
  });

  it("a pod's flows by destination and state (conntrack's FIN_WAIT and CLOSE as socket states); others' ignored", () => {
    const flows = [
      flow('10.244.0.20', '20.1.1.1', 443, 'ESTABLISHED'),
      flow('10.244.0.20', '20.1.1.1', 443, 'ESTABLISHED'),
      flow('10.244.0.20', '20.1.1.1', 443, 'FIN_WAIT'),
      flow('10.244.0.20', '20.1.1.2', 443, 'CLOSE'),
      flow('10.244.0.20', '2001:db8::9', 443, 'TIME_WAIT', 'ipv6'),
      flow('10.244.0.21', '20.1.1.1', 443, 'ESTABLISHED'),
      { ...flow('10.244.0.20', '20.1.1.3', 53, 'ESTABLISHED'), protocol: 'udp', state: undefined },
    ];
    expect(socketsFromFlows(flows, ['10.244.0.20'])).toEqual([
      { remote: '20.1.1.1:443', state: 'ESTABLISHED', count: 2 },
      { remote: '20.1.1.1:443', state: 'FIN_WAIT1' },
      { remote: '20.1.1.2:443', state: 'CLOSING' },
      { remote: '[2001:db8::9]:443', state: 'TIME_WAIT', family: 'ipv6' },
    ]);
  });
});

describe('what is kept', () => {
  it.each([
    ['snatguard.io/exclude', true],
    ['snatguard.io/restarted-at', true],
    ['deployment.kubernetes.io/revision', true],
    ['kubectl.kubernetes.io/restartedAt', true],
    ['kubectl.kubernetes.io/last-applied-configuration', false],
    ['team.example.com/alert-hook', false],
    ['prometheus.io/scrape', false],
  ])('annotation %s: %s', (key, kept) => {
    expect(keptAnnotation(key)).toBe(kept);
  });

  it.each([
    ['AWS_VPC_K8S_CNI_RANDOMIZESNAT', true],
    ['AWS_VPC_K8S_CNI_EXTERNALSNAT', true],
    ['WARM_IP_TARGET', true],
    ['AWS_ACCESS_KEY_ID', false],
    ['AWS_SECRET_ACCESS_KEY', false],
    ['SLACK_TOKEN', false],
    ['DB_PASSWORD', false],
  ])('aws-node env %s: %s', (key, kept) => {
    expect(keptEnv(key)).toBe(kept);
  });
});
