// A real SNAT exhaustion in network namespaces this test creates: a "pod" namespace behind a "node"
// namespace that MASQUERADEs to a 10-port range, and an "internet" namespace holding a documentation-range
// server (203.0.113.10). Fifteen connections to one destination need fifteen SNAT ports; the node has ten.
// snatguard's parser must count what the pod holds, and its conntrack probe parser what the node's
// netfilter says: ten flows, and the failed inserts of the SYNs that found no free port.
// Needs root, iproute2, iptables and conntrack (CI installs them; there a missing tool fails the test).
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conntrackFindings } from '../../src/analysis/conntrack.js';
import { createClassifier, parseConntrackProbe, summarize } from '../../src/sockets/index.js';
import { createNetns, type Netns, removeAllNetns, requireRoot, run } from './netns.js';

const lab = requireRoot(['ip', 'iptables', 'conntrack']);
const SERVER = '203.0.113.10';
const PORT = 27017;
const SNAT_PORTS = { from: 40000, to: 40009 };
const CONNECTIONS = 15;
const PROBE_FILES = [
  '/proc/sys/net/netfilter/nf_conntrack_count',
  '/proc/sys/net/netfilter/nf_conntrack_max',
  '/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal',
  '/proc/net/stat/nf_conntrack',
];

/** Holds CONNECTIONS sockets open; prints `ready` once the kernel has had time to settle the handshakes. */
const CLIENT = `
const net = require('node:net');
const socks = [];
for (let i = 0; i < ${CONNECTIONS}; i++) { const s = net.connect(${PORT}, '${SERVER}'); s.on('error', () => {}); socks.push(s); }
setTimeout(() => console.log('ready'), 1500);
process.stdin.on('data', () => {}).on('end', () => process.exit(0));
`;
const SERVER_JS = `require('node:net').createServer(() => {}).listen(${PORT}, '${SERVER}', () => console.log('ready'));
process.stdin.on('data', () => {}).on('end', () => process.exit(0));`;

function startHeld(ns: Netns, script: string): Promise<ChildProcess> {
  const [command, args] = ns.spawnArgs(process.execPath, ['-e', script]);
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no ready line within 10 s')), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('close', (code) => reject(new Error(`exited ${code}`)));
  });
}

async function ip(...args: string[]): Promise<void> {
  const r = await run('ip', args);
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

describe.skipIf(lab.skip)('SNAT exhaustion in network namespaces (root)', () => {
  let pod: Netns;
  let node: Netns;
  let internet: Netns;
  const held: ChildProcess[] = [];

  beforeAll(async () => {
    lab.check();
    [pod, node, internet] = await Promise.all([
      createNetns('sg-pod'),
      createNetns('sg-node'),
      createNetns('sg-wan'),
    ]);
    const tag = pod.name.slice(-4);
    await ip(
      'link',
      'add',
      `p${tag}`,
      'netns',
      pod.name,
      'type',
      'veth',
      'peer',
      'name',
      `n${tag}`,
      'netns',
      node.name,
    );
    await ip(
      'link',
      'add',
      `u${tag}`,
      'netns',
      node.name,
      'type',
      'veth',
      'peer',
      'name',
      `w${tag}`,
      'netns',
      internet.name,
    );
    await ip('-n', pod.name, 'addr', 'add', '10.244.0.2/24', 'dev', `p${tag}`);
    await ip('-n', pod.name, 'link', 'set', `p${tag}`, 'up');
    await ip('-n', pod.name, 'route', 'add', 'default', 'via', '10.244.0.1');
    await ip('-n', node.name, 'addr', 'add', '10.244.0.1/24', 'dev', `n${tag}`);
    await ip('-n', node.name, 'link', 'set', `n${tag}`, 'up');
    await ip('-n', node.name, 'addr', 'add', '198.51.100.2/24', 'dev', `u${tag}`);
    await ip('-n', node.name, 'link', 'set', `u${tag}`, 'up');
    await ip('-n', node.name, 'route', 'add', 'default', 'via', '198.51.100.1');
    await ip('-n', internet.name, 'addr', 'add', '198.51.100.1/24', 'dev', `w${tag}`);
    await ip('-n', internet.name, 'link', 'set', `w${tag}`, 'up');
    await ip('-n', internet.name, 'addr', 'add', `${SERVER}/32`, 'dev', 'lo');
    await node.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    // The node's SNAT: pod traffic leaves with the node's address and one of ten source ports.
    await node.exec('iptables', [
      ...['-t', 'nat', '-A', 'POSTROUTING', '-s', '10.244.0.0/16', '-o', `u${tag}`, '-p', 'tcp'],
      ...['-j', 'MASQUERADE', '--to-ports', `${SNAT_PORTS.from}-${SNAT_PORTS.to}`],
    ]);
    held.push(await startHeld(internet, SERVER_JS));
    held.push(await startHeld(pod, CLIENT));
  }, 30_000);

  afterAll(async () => {
    for (const child of held) child.stdin?.end();
    await removeAllNetns();
  });

  it('the pod holds 15 SNAT-consuming sockets to one destination: 10 connected, 5 stuck in SYN_SENT', async () => {
    const tables = await pod.exec('cat', ['/proc/self/net/tcp', '/proc/self/net/tcp6']);
    const summary = summarize(tables, createClassifier({ clusterCidrs: ['10.244.0.0/16'] }));

    expect(summary.snatSockets).toBe(CONNECTIONS);
    expect(summary.destinations).toHaveLength(1);
    expect(summary.destinations[0]).toMatchObject({
      remote: `${SERVER}:${PORT}`,
      sockets: CONNECTIONS,
      byState: { ESTABLISHED: SNAT_PORTS.to - SNAT_PORTS.from + 1, SYN_SENT: 5 },
    });
  });

  it("the node's conntrack holds ten translated flows, one per SNAT port, and counts the failed inserts", async () => {
    const reading = parseConntrackProbe(await node.exec('cat', PROBE_FILES));
    const flows = await node.exec('conntrack', ['-L', '-p', 'tcp', '--orig-dst', SERVER]);
    const replyPorts = [
      ...flows.matchAll(/src=203\.0\.113\.10 dst=198\.51\.100\.2 sport=27017 dport=(\d+)/g),
    ].map((m) => Number(m[1]));

    expect(reading.count).toBe(10);
    expect(reading.max).toBeGreaterThan(reading.count);
    expect(reading.insertFailed).toBeGreaterThan(0);
    expect(reading.drop).toBeGreaterThan(0);
    expect(replyPorts.sort((a, b) => a - b)).toEqual(
      Array.from({ length: 10 }, (_, i) => SNAT_PORTS.from + i),
    );
  });

  it('a later reading shows insert_failed growing while the SYNs retransmit: a conntrack finding', {
    timeout: 20_000,
  }, async () => {
    const first = parseConntrackProbe(await node.exec('cat', PROBE_FILES));
    const before = {
      node: {
        insertFailed: first.insertFailed,
        drop: first.drop,
        earlyDrop: first.earlyDrop,
        at: '2026-11-21T08:00:00Z',
      },
    };
    // The stuck SYNs retransmit 1 s, 3 s, 7 s, 15 s after connect: each retransmit fails to insert again.
    let later = first;
    for (let i = 0; i < 20 && later.insertFailed === first.insertFailed; i++) {
      await new Promise((r) => setTimeout(r, 500));
      later = parseConntrackProbe(await node.exec('cat', PROBE_FILES));
    }

    const result = conntrackFindings(
      new Map([['node', later]]),
      before,
      { conntrackUsedRatio: 0.9 },
      new Date('2026-11-21T08:05:00Z'),
    );

    expect(later.insertFailed).toBeGreaterThan(first.insertFailed);
    expect(result.nodes.get('node')?.insertFailedDelta).toBe(later.insertFailed - first.insertFailed);
    expect(result.findings.map((f) => f.node)).toEqual(['node']);
  });

  it("the node's own socket table has none of it: forwarded flows are not sockets, so pods must be read", async () => {
    const summary = summarize(await node.exec('cat', ['/proc/self/net/tcp', '/proc/self/net/tcp6']));
    expect(summary.snatSockets).toBe(0);
  });
});
