// The conntrack table parser and the `conntrack` attribution method, on real `conntrack -L -o extended`
// output (test/fixtures/conntrack/README.md says how it was captured) and on hostile text.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { attributeFlows, canonicalIp } from '../../src/analysis/attribution.js';
import { parseConntrackLine, parseConntrackTable } from '../../src/analysis/conntrack-table.js';
import { createClassifier } from '../../src/sockets/index.js';

const REAL = readFileSync(new URL('../fixtures/conntrack/masquerade-v4-v6.txt', import.meta.url), 'utf8');
const classifier = createClassifier({ clusterCidrs: ['10.244.0.0/16', '10.0.0.0/16', 'fd00:10:244::/64'] });
const NODE = ['198.51.100.2', '2001:db8:1::2'];

describe('parseConntrackTable', () => {
  it('reads every flow of the real table, IPv4 and IPv6, with both directions, states and flags', () => {
    const table = parseConntrackTable(REAL);
    expect(table.malformed).toBe(0);
    expect(table.truncated).toBe(false);
    expect(table.flows).toHaveLength(8);
    expect(table.flows.filter((f) => f.family === 'ipv6')).toHaveLength(2);
    expect(table.flows[3]).toEqual({
      family: 'ipv4',
      protocol: 'tcp',
      state: 'ESTABLISHED',
      original: { src: '10.244.0.10', dst: '203.0.113.10', sport: 50036, dport: 27017 },
      reply: { src: '203.0.113.10', dst: '198.51.100.2', sport: 27017, dport: 40000 },
      flags: ['ASSURED'],
    });
    const udp = table.flows.find((f) => f.protocol === 'udp');
    expect(udp?.state).toBeUndefined();
    expect(udp?.flags).toEqual(['UNREPLIED']);
  });

  it.each([
    [
      'the plain format (no family columns)',
      'tcp      6 117 TIME_WAIT src=10.1.0.5 dst=1.2.3.4 sport=1 dport=443 src=1.2.3.4 dst=10.0.0.4 sport=443 dport=2 [ASSURED] mark=0 use=1',
      'TIME_WAIT',
    ],
    [
      'zone and id fields',
      'ipv4     2 tcp      6 30 SYN_SENT src=10.1.0.5 dst=1.2.3.4 sport=1 dport=443 zone=5 [UNREPLIED] src=1.2.3.4 dst=10.0.0.4 sport=443 dport=2 zone=5 mark=0 use=1 id=3405691582',
      'SYN_SENT',
    ],
    [
      'icmp (no ports)',
      'ipv4     2 icmp     1 29 src=10.1.0.5 dst=1.2.3.4 type=8 code=0 id=7 src=1.2.3.4 dst=10.0.0.4 type=0 code=0 id=7 mark=0 use=1',
      undefined,
    ],
  ])('parses %s', (_name, line, state) => {
    const flow = parseConntrackLine(line);
    expect(flow).toBeDefined();
    expect(flow?.state).toBe(state);
    expect(flow?.reply.dst).toBe('10.0.0.4');
  });

  it.each([
    ['garbage', 'hello world'],
    ['one direction only', 'tcp 6 10 ESTABLISHED src=10.1.0.5 dst=1.2.3.4 sport=1 dport=443'],
    [
      'a bad address',
      'tcp 6 10 ESTABLISHED src=10.1.0.5 dst=1.2.3.4 sport=1 dport=443 src=not-an-ip dst=10.0.0.4 sport=1 dport=2',
    ],
    [
      'a port out of range',
      'tcp 6 10 ESTABLISHED src=10.1.0.5 dst=1.2.3.4 sport=1 dport=70000 src=1.2.3.4 dst=10.0.0.4 sport=1 dport=2',
    ],
    [
      'mixed families',
      'tcp 6 10 ESTABLISHED src=10.1.0.5 dst=2001:db8::1 sport=1 dport=2 src=2001:db8::1 dst=10.0.0.4 sport=2 dport=1',
    ],
    [
      'a family column that lies',
      'ipv6     10 tcp 6 10 ESTABLISHED src=10.1.0.5 dst=1.2.3.4 sport=1 dport=2 src=1.2.3.4 dst=10.0.0.4 sport=2 dport=1',
    ],
  ])('rejects %s (counted as malformed, never thrown)', (_name, line) => {
    expect(parseConntrackLine(line)).toBeUndefined();
    expect(parseConntrackTable(`${line}\n`).malformed).toBe(1);
  });

  it('bounds lines and flows: an overlong line is malformed, flows past maxFlows are dropped', () => {
    const long = `tcp 6 10 ESTABLISHED ${'x'.repeat(5000)}`;
    const table = parseConntrackTable(`${long}\n${REAL}`, { maxFlows: 3, maxLineLength: 2048 });
    expect(table.malformed).toBe(1);
    expect(table.flows).toHaveLength(3);
    expect(table.truncated).toBe(true);
  });

  it('skips the tool summary line and blank lines', () => {
    const t = parseConntrackTable(
      `\n\nconntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.\n`,
    );
    expect(t).toEqual({ flows: [], malformed: 0, truncated: false });
  });
});

describe('attributeFlows', () => {
  const pods = [
    { key: 'shop/orders-api-1', ips: ['10.244.0.10', 'fd00:10:244:0:0:0:0:a'], hostNetwork: false },
    { key: 'kube-system/kube-proxy-x', ips: ['198.51.100.2'], hostNetwork: true },
  ];

  it('counts the real table per pod and destination: IPv4, IPv6 and the DNATed peer', () => {
    const a = attributeFlows(parseConntrackTable(REAL).flows, NODE, pods, classifier);
    const mine = a.byPod.get('shop/orders-api-1');
    expect(a.snatFlows).toBe(8);
    expect(a.unattributed).toBe(0);
    expect(mine?.udpFlows).toBe(1);
    expect(mine?.summary.snatSockets).toBe(7);
    expect(mine?.summary.byState).toEqual({ ESTABLISHED: 6, TIME_WAIT: 1 });
    expect(mine?.summary.destinations.map((d) => [d.remote, d.sockets, d.byState])).toEqual([
      ['203.0.113.10:27017', 4, { ESTABLISHED: 3, TIME_WAIT: 1 }],
      ['[2001:db8:ff::10]:27017', 2, { ESTABLISHED: 2 }],
      ['203.0.113.10:443', 1, { ESTABLISHED: 1 }],
    ]);
  });

  it('excludes hostNetwork sources, non-translated flows, other addresses, private peers and CLOSE', () => {
    const line = (src: string, peer: string, replyDst: string, state = 'ESTABLISHED') =>
      `tcp 6 10 ${state} src=${src} dst=${peer} sport=1000 dport=443 src=${peer} dst=${replyDst} sport=443 dport=40000`;
    const text = [
      line('198.51.100.2', '203.0.113.5', '198.51.100.2'), // the node's own flow: not translated
      line('10.244.0.99', '203.0.113.5', '198.51.100.2'), // a pod that is not on this node any more
      line('10.244.0.10', '203.0.113.5', '192.0.2.77'), // translated to another address (not this node's)
      line('10.244.0.10', '10.0.5.5', '198.51.100.2'), // a cluster peer (service masquerade)
      line('10.244.0.10', '203.0.113.5', '198.51.100.2', 'CLOSE'),
      line('10.244.0.10', '203.0.113.5', '198.51.100.2', 'SYN_SENT'),
    ].join('\n');
    const withHost = [...pods, { key: 'x/host', ips: ['10.244.0.50'], hostNetwork: true }];
    const hostLine = line('10.244.0.50', '203.0.113.5', '198.51.100.2');
    const a = attributeFlows(parseConntrackTable(`${text}\n${hostLine}`).flows, NODE, withHost, classifier);
    expect(a.snatFlows).toBe(2);
    expect(a.unattributed).toBe(1);
    expect(a.hostNetworkFlows).toBe(1);
    expect(a.byPod.get('shop/orders-api-1')?.summary.byState).toEqual({ SYN_SENT: 1 });
  });

  it('without node addresses, any translated source counts', () => {
    const a = attributeFlows(parseConntrackTable(REAL).flows, [], pods, classifier);
    expect(a.snatFlows).toBe(8);
  });

  it('compares IPv6 addresses in canonical form', () => {
    expect(canonicalIp('FD00:10:244:0:0:0:0:A')).toBe('fd00:10:244::a');
    expect(canonicalIp('not an ip')).toBe('not an ip');
  });
});
