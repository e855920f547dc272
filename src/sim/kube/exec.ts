// pods/exec over WebSocket (v5.channel.k8s.io / v4.channel.k8s.io): one binary frame per write, the first
// byte the channel (1 stdout, 2 stderr, 3 error: a Status JSON). Only `cat` exists in the simulated
// containers; what it reads comes from the snapshot.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { messageOf } from '../../errors.js';
import { renderConntrackStat } from '../../sockets/conntrack.js';
import type { ExecOutcome } from '../backend.js';
import { renderConntrackTable } from '../conntrack-table.js';
import { hostProcFile, isCgroupListing, renderCgroupListing } from '../host-proc.js';
import type { PodRuntime, World } from '../world.js';

export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const FRAME_BYTES = 32 * 1024;

/** The file a path names in a pod, or undefined when it does not exist there. */
export function podFile(world: World, pod: PodRuntime, path: string): string | undefined {
  const net = /^\/proc\/(?:net|self\/net|thread-self\/net|\d+\/net)\/(.+)$/.exec(path)?.[1];
  if (net === 'tcp' || net === 'tcp6') return world.tablesOf(pod)[net];
  const node = world.nodeConntrack(pod.node);
  const ct = pod.hostNetwork
    ? node
    : {
        ...node,
        count: world.socketsOf(pod).filter((s) => s.state !== 'LISTEN').length,
        insertFailed: 0,
        drop: 0,
        earlyDrop: 0,
      };
  if (net === 'stat/nf_conntrack')
    return renderConntrackStat({
      entries: ct.count,
      insertFailed: ct.insertFailed,
      drop: ct.drop,
      earlyDrop: ct.earlyDrop,
    });
  switch (path) {
    case '/proc/sys/net/netfilter/nf_conntrack_count':
      return `${ct.count}\n`;
    case '/proc/sys/net/netfilter/nf_conntrack_max':
      return `${ct.max}\n`;
    case '/proc/sys/net/netfilter/nf_conntrack_buckets':
      return `${Math.max(1, Math.floor(ct.max / 4))}\n`;
    case '/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal':
      return `${ct.beLiberal ? 1 : 0}\n`;
    case '/proc/sys/net/ipv4/ip_local_port_range':
      return '32768\t60999\n';
    default:
      return undefined;
  }
}

const success = { metadata: {}, status: 'Success' };

/** The Status kubelet reports when the runtime cannot start the process. */
export function notFoundStatus(pod: PodRuntime, command: string): Record<string, unknown> {
  const cause =
    `error executing command in container: failed to exec in container: failed to start exec "${pod.name}-exec": ` +
    `OCI runtime exec failed: exec failed: unable to start container process: exec: "${command}": executable file not found in $PATH: unknown`;
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${cause}`,
    reason: 'InternalError',
    details: { causes: [{ message: cause }] },
    code: 500,
  };
}

export function runCommand(world: World, pod: PodRuntime, command: string[]): ExecOutcome {
  const [program = '', ...args] = command;
  const base = program.split('/').pop() ?? program;
  // The node's conntrack table, listed (never changed) from a hostNetwork pod (kube-proxy ships conntrack).
  if (
    pod.exec !== 'no-cat' &&
    pod.hostNetwork &&
    base === 'conntrack' &&
    ['-L', '--dump'].includes(args[0] ?? '')
  ) {
    const stdout = renderConntrackTable(world, pod.node);
    const flows = stdout === '' ? 0 : stdout.split('\n').length - 1;
    return {
      stdout,
      stderr: `conntrack v1.4.7 (conntrack-tools): ${flows} flow entries have been shown.\n`,
      status: success,
    };
  }
  // A hostPID pod sees the node's processes: the cgroup listing and their /proc/<pid>/net/tcp{,6}.
  if (pod.hostPID && pod.exec !== 'no-cat') {
    if (isCgroupListing(command))
      return { stdout: renderCgroupListing(world, pod.node), stderr: '', status: success };
    if (
      base === 'cat' &&
      args.length > 0 &&
      args.every((a) => hostProcFile(world, pod.node, a) !== undefined)
    )
      return {
        stdout: args.map((a) => hostProcFile(world, pod.node, a)).join(''),
        stderr: '',
        status: success,
      };
  }
  if (pod.exec === 'no-cat' || base !== 'cat')
    return { stdout: '', stderr: '', status: notFoundStatus(pod, program) };
  let stdout = '';
  let stderr = '';
  for (const file of args) {
    const text = podFile(world, pod, file);
    if (text === undefined) stderr += `cat: ${file}: No such file or directory\n`;
    else stdout += text;
  }
  if (stderr === '') return { stdout, stderr, status: success };
  return {
    stdout,
    stderr,
    status: {
      metadata: {},
      status: 'Failure',
      message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code 1`,
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '1' }] },
    },
  };
}

/** The backend's answer for its pods (src/sim/backend.ts), the snapshot's for the rest. */
async function liveOrSnapshot(world: World, pod: PodRuntime, command: string[]): Promise<ExecOutcome> {
  if (world.backend?.exec) {
    try {
      const live = await world.backend.exec(pod, command);
      if (live) return live;
    } catch (e) {
      // As a kubelet reports a runtime failure: a Status with the message, never a crashed server.
      return {
        stdout: '',
        stderr: '',
        status: {
          metadata: {},
          status: 'Failure',
          message: `Internal error occurred: ${messageOf(e)}`,
          reason: 'InternalError',
          code: 500,
        },
      };
    }
  }
  return runCommand(world, pod, command);
}

function send(ws: WebSocket, channel: number, text: string): void {
  const data = Buffer.from(text, 'utf8');
  for (let at = 0; at < data.length; at += FRAME_BYTES) {
    const chunk = data.subarray(at, at + FRAME_BYTES);
    ws.send(Buffer.concat([Buffer.from([channel]), chunk]));
  }
}

export function createExecServer(world: World) {
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (offered) => EXEC_PROTOCOLS.find((p) => offered.has(p)) ?? false,
  });
  const open = new Set<WebSocket>();
  return {
    /** Upgrades and runs the command; resolves with the HTTP status of the upgrade (101). */
    upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, pod: PodRuntime, command: string[]): void {
      wss.handleUpgrade(req, socket, head, (ws) => {
        open.add(ws);
        ws.on('close', () => open.delete(ws));
        ws.on('error', () => ws.terminate());
        if (pod.exec === 'hang') return; // never answers; the socket closes when the client goes away
        const answer = async () => {
          if (ws.readyState !== ws.OPEN) return;
          const out = await liveOrSnapshot(world, pod, command);
          if (ws.readyState !== ws.OPEN) return;
          if (out.stdout) send(ws, STDOUT, out.stdout);
          if (out.stderr) send(ws, STDERR, out.stderr);
          send(ws, ERROR, JSON.stringify(out.status));
          ws.close(1000);
        };
        const delay = world.faults.execLatencyMs;
        if (delay > 0) {
          const timer = setTimeout(() => void answer(), delay);
          ws.on('close', () => clearTimeout(timer));
        } else void answer();
      });
    },
    /** Protocols the client offers that we speak. */
    speaks(req: IncomingMessage): boolean {
      const offered = String(req.headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((p) => p.trim());
      return EXEC_PROTOCOLS.some((p) => offered.includes(p));
    },
    close(): void {
      for (const ws of open) ws.terminate();
      wss.close();
    },
  };
}

export type ExecServer = ReturnType<typeof createExecServer>;
