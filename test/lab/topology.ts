// The lab's network: per lab node a "node" namespace that MASQUERADEs pod traffic to a small source-port
// range (so exhaustion is cheap) towards one shared "internet" namespace serving 203.0.113.0/24
// (documentation range: public as far as SNAT is concerned); pods are namespaces behind a bridge in their
// node's namespace, and real processes run in them. Everything is created under names unique to this
// process (other lab runs may share the machine) and removed by `close()`, also after a failure.
// Needs root, iproute2, iptables and conntrack. The host's own namespace and sysctls are never touched.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createNetns, type Netns, run } from './netns.js';

/** The servers in the internet namespace (ip → ports), mirroring the incidents' peers. */
export const MONGO = { address: '203.0.113.10', port: 27017 };
export const HTTPS = { address: '203.0.113.20', port: 443 };
const SERVERS = [MONGO, HTTPS];

async function ip(...args: string[]): Promise<void> {
  const r = await run('ip', args);
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

export interface LabNode {
  /** The Kubernetes node name the simulator serves. */
  name: string;
  ns: Netns;
  /** The node's address towards the internet: MASQUERADE's source address (conntrack reply destination). */
  address: string;
  /** 10.244.N.0/24 */
  podCidr: string;
  /** The MASQUERADE source-port range. */
  ports: { from: number; to: number };
  index: number;
  nextHost: number;
}

export interface LabPod {
  /** Kubernetes name the simulator serves. */
  name: string;
  node: LabNode;
  ns: Netns;
  ip: string;
  /** The pod's processes; the first is its "container's" main process. */
  processes: LabProcess[];
}

export interface LabProcess {
  child: ChildProcess;
  pid: number;
  /** Latest JSON status line the process printed. */
  status: Record<string, number>;
  stop(): Promise<void>;
}

/** Lab programs, run as `node -e` inside a pod namespace; each prints JSON status lines, exits on stdin end. */
export const PROGRAMS = {
  /** Opens `n` connections to `host:port` one every `gapMs` and never closes them (seed 000's leak). */
  leaky: (host: string, port: number, n: number, gapMs = 5) => `
const net = require('node:net');
const s = { connected: 0, failed: 0, pending: 0 };
let opened = 0;
const socks = [];
const report = () => console.log(JSON.stringify(s));
function open() {
  if (opened >= ${n}) { setTimeout(() => { s.done = 1; report(); }, 1200); return; }
  opened++; s.pending++;
  const c = net.connect({ host: '${host}', port: ${port} });
  let settled = false;
  const timer = setTimeout(() => { if (!settled) { settled = true; s.pending--; s.failed++; report(); } }, 1000);
  c.on('connect', () => { if (!settled) { settled = true; clearTimeout(timer); s.pending--; s.connected++; report(); } });
  c.on('error', () => { if (!settled) { settled = true; clearTimeout(timer); s.pending--; s.failed++; report(); } });
  socks.push(c);
  setTimeout(open, ${gapMs});
}
open();
process.stdin.on('data', () => {}).on('end', () => process.exit(0));
`,
  /** A pool of `size` (≤ 10) connections, each used for a request every second. */
  pooled: (host: string, port: number, size: number) => `
const net = require('node:net');
const s = { connected: 0, failed: 0 };
for (let i = 0; i < ${Math.min(size, 10)}; i++) {
  const c = net.connect({ host: '${host}', port: ${port} }, () => { s.connected++; console.log(JSON.stringify(s)); });
  c.on('error', () => { s.failed++; console.log(JSON.stringify(s)); });
  setInterval(() => { if (!c.destroyed) c.write('ping\\n'); }, 1000).unref();
}
process.stdin.on('data', () => {}).on('end', () => process.exit(0));
`,
  /** Connects, sends one request and closes first (TIME_WAIT on its side), `total` times, `parallel` at once. */
  churner: (host: string, port: number, total: number, parallel = 8) => `
const net = require('node:net');
const s = { connected: 0, failed: 0, closed: 0 };
let started = 0;
function one() {
  if (started >= ${total}) return;
  started++;
  const c = net.connect({ host: '${host}', port: ${port} }, () => { s.connected++; c.end('GET / HTTP/1.0\\r\\n\\r\\n'); });
  c.on('error', () => { s.failed++; });
  c.on('close', () => { s.closed++; if (s.closed + s.failed >= ${total}) { s.done = 1; console.log(JSON.stringify(s)); } one(); });
}
for (let i = 0; i < ${parallel}; i++) one();
process.stdin.on('data', () => {}).on('end', () => process.exit(0));
`,
  /** The internet's servers: accept and hold; close when the client closes. */
  servers: (servers: { address: string; port: number }[]) => `
const net = require('node:net');
let ready = 0;
for (const { address, port } of ${JSON.stringify(servers)}) {
  net.createServer((c) => { c.on('error', () => {}); c.on('data', () => {}); })
    .listen(port, address, () => { if (++ready === ${servers.length}) console.log(JSON.stringify({ ready: 1 })); });
}
process.stdin.on('data', () => {}).on('end', () => process.exit(0));
`,
} as const;

function start(ns: Netns, script: string): LabProcess {
  const [command, args] = ns.spawnArgs(process.execPath, ['-e', script]);
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const proc: LabProcess = {
    child,
    pid: child.pid ?? -1,
    status: {},
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const closed = new Promise<void>((r) => child.once('close', () => r()));
      child.kill('SIGKILL');
      await closed;
    },
  };
  let buffer = '';
  child.stdout?.on('data', (d: Buffer) => {
    buffer += d.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) {
      try {
        proc.status = JSON.parse(line) as Record<string, number>;
      } catch {
        // not a status line
      }
    }
  });
  child.stderr?.on('data', () => {});
  child.stdin?.on('error', () => {});
  return proc;
}

/** Waits until `test(status)` holds, at most `ms`; resolves with whether it did. */
export async function waitFor(
  test: () => boolean | Promise<boolean>,
  ms: number,
  stepMs = 50,
): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (await test()) return true;
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export interface Lab {
  tag: string;
  internet: Netns;
  nodes: LabNode[];
  pods: LabPod[];
  addNode(name: string, ports?: { from: number; to: number }): Promise<LabNode>;
  /** A pod namespace behind the node's bridge; `ip` defaults to the next free address of the node's /24. */
  addPod(node: LabNode, name: string, ip?: string): Promise<LabPod>;
  /** Starts a program in a pod namespace. */
  startIn(pod: LabPod, script: string): LabProcess;
  /** Stops a pod's processes and removes its namespace. */
  removePod(pod: LabPod): Promise<void>;
  close(): Promise<void>;
}

/** Creates the internet namespace with its servers; add nodes and pods, then `close()` (in finally). */
export async function createLab(): Promise<Lab> {
  const tag = randomBytes(3).toString('hex');
  const namespaces: Netns[] = [];
  const processes: LabProcess[] = [];
  const nodes: LabNode[] = [];
  const pods: LabPod[] = [];
  let podCounter = 0;
  const internet = await createNetns(`sg-lab-wan-${tag}`);
  namespaces.push(internet);
  const lab: Lab = {
    tag,
    internet,
    nodes,
    pods,
    async addNode(name, ports = { from: 40000, to: 40063 }) {
      const index = nodes.length;
      const ns = await createNetns(`sg-lab-node${index}-${tag}`);
      namespaces.push(ns);
      const up = `up${index}`;
      const wan = `wan${index}`;
      const base = 4 * index;
      const address = `198.51.100.${base + 2}`;
      await ip(
        'link',
        'add',
        up,
        'netns',
        ns.name,
        'type',
        'veth',
        'peer',
        'name',
        wan,
        'netns',
        internet.name,
      );
      await ip('-n', ns.name, 'addr', 'add', `${address}/30`, 'dev', up);
      await ip('-n', ns.name, 'link', 'set', up, 'up');
      await ip('-n', ns.name, 'route', 'add', 'default', 'via', `198.51.100.${base + 1}`);
      await ip('-n', internet.name, 'addr', 'add', `198.51.100.${base + 1}/30`, 'dev', wan);
      await ip('-n', internet.name, 'link', 'set', wan, 'up');
      const podCidr = `10.244.${index}.0/24`;
      await ip('-n', ns.name, 'link', 'add', 'cbr0', 'type', 'bridge');
      await ip('-n', ns.name, 'addr', 'add', `10.244.${index}.1/24`, 'dev', 'cbr0');
      await ip('-n', ns.name, 'link', 'set', 'cbr0', 'up');
      await ns.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      // The node's SNAT, as kubenet/Azure CNI's ip-masq-agent does it, but with a small port range.
      for (const proto of ['tcp', 'udp']) {
        await ns.exec('iptables', [
          ...['-t', 'nat', '-A', 'POSTROUTING', '-s', '10.244.0.0/16', '-o', up, '-p', proto],
          ...['-j', 'MASQUERADE', '--to-ports', `${ports.from}-${ports.to}`],
        ]);
      }
      const node: LabNode = { name, ns, address, podCidr, ports, index, nextHost: 10 };
      nodes.push(node);
      return node;
    },
    async addPod(node, name, given) {
      const podIp = given ?? `10.244.${node.index}.${node.nextHost++}`;
      const n = podCounter++;
      const ns = await createNetns(`sg-lab-pod-${tag}-${n}`);
      namespaces.push(ns);
      const host = `veth${n}`;
      await ip(
        'link',
        'add',
        'eth0',
        'netns',
        ns.name,
        'type',
        'veth',
        'peer',
        'name',
        host,
        'netns',
        node.ns.name,
      );
      await ip('-n', ns.name, 'addr', 'add', `${podIp}/24`, 'dev', 'eth0');
      await ip('-n', ns.name, 'link', 'set', 'eth0', 'up');
      await ip('-n', ns.name, 'route', 'add', 'default', 'via', `10.244.${node.index}.1`);
      await ip('-n', node.ns.name, 'link', 'set', host, 'master', 'cbr0');
      await ip('-n', node.ns.name, 'link', 'set', host, 'up');
      const pod: LabPod = { name, node, ns, ip: podIp, processes: [] };
      pods.push(pod);
      return pod;
    },
    startIn(pod, script) {
      const p = start(pod.ns, script);
      pod.processes.push(p);
      processes.push(p);
      return p;
    },
    async removePod(pod) {
      await Promise.all(pod.processes.map((p) => p.stop()));
      await pod.ns.remove();
      pods.splice(pods.indexOf(pod), 1);
    },
    async close() {
      await Promise.allSettled(processes.map((p) => p.stop()));
      await Promise.allSettled(namespaces.map((n) => n.remove()));
    },
  };
  try {
    await internet.exec('ip', ['link', 'set', 'lo', 'up']);
    for (const s of SERVERS) await internet.exec('ip', ['addr', 'add', `${s.address}/32`, 'dev', 'lo']);
    const server = start(internet, PROGRAMS.servers(SERVERS));
    processes.push(server);
    if (!(await waitFor(() => server.status.ready === 1, 10_000)))
      throw new Error('the internet namespace servers did not start within 10 s');
  } catch (e) {
    await lab.close();
    throw e;
  }
  return lab;
}
