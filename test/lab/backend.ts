// The lab's SimBackend (src/sim/backend.ts): the simulator keeps speaking the real protocols, but for the
// lab's pods and nodes the answers come from the kernel:
//   exec `cat /proc/net/tcp{,6}` in a lab pod   → /proc/<pid>/net/tcp{,6} of the pod's process (its netns)
//   a distroless lab pod                         → the runtime's "executable file not found" for any command
//   exec `cat …` / `conntrack -L …` in the node's hostNetwork probe pod → run in the node namespace
//   Azure Monitor for a lab node                → used / failed SNAT ports from the node's conntrack state
//   a rollout restart of a lab Deployment       → the old pods' processes stop; each new pod gets a new
//                                                 namespace with the new pod IP running the "fixed" program
import { readFile } from 'node:fs/promises';
import { parseConntrackTable } from '../../src/analysis/conntrack-table.js';
import type { ExecOutcome, ReplacedWorkload, SimBackend } from '../../src/sim/backend.js';
import { notFoundStatus } from '../../src/sim/kube/exec.js';
import type { NodeMetrics } from '../../src/sim/types.js';
import type { PodRuntime } from '../../src/sim/world.js';
import { parseConntrackStat } from '../../src/sockets/conntrack.js';
import { run } from './netns.js';
import type { Lab, LabNode, LabPod } from './topology.js';

const SUCCESS = { metadata: {}, status: 'Success' };
const exitStatus = (command: readonly string[], code: number) => ({
  metadata: {},
  status: 'Failure',
  message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${code}`,
  reason: 'NonZeroExitCode',
  details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
});

/** What the node's conntrack says about SNAT right now. */
export interface NodeSample {
  at: number;
  /** Translated ports in use per destination `ip:port` (every state but CLOSE; TIME_WAIT included). */
  portsByDestination: Map<string, number>;
  /** Same, without TIME_WAIT: ports a new connection cannot take (this kernel's NAT reuses TIME_WAIT tuples). */
  openByDestination: Map<string, number>;
  insertFailed: number;
  drop: number;
  count: number;
}

export interface LabBackendOptions {
  /** The MASQUERADE range size, reported as allocated SNAT ports. */
  allocatedPorts: number;
  /** The program a replacement pod of this workload runs (the fixed image), or undefined for none. */
  afterRestart: (workload: ReplacedWorkload) => ((pod: LabPod) => string) | undefined;
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;

export class LabBackend implements SimBackend {
  private readonly pods = new Map<string, { pod: LabPod; distroless: boolean }>();
  private readonly nodes = new Map<string, LabNode>();
  private readonly metrics = new Map<string, NodeMetrics>();
  private readonly lastFailed = new Map<string, number>();
  private readonly pending: Promise<unknown>[] = [];
  /** Per restart: when the controller replaced the pods (ms since epoch). */
  readonly restarts: { workload: string; at: number; newPods: LabPod[] }[] = [];
  readonly failures: string[] = [];

  constructor(
    private readonly lab: Lab,
    private readonly options: LabBackendOptions,
  ) {}

  bindNode(node: LabNode): void {
    this.nodes.set(node.name, node);
  }

  bindPod(namespace: string, name: string, pod: LabPod, distroless = false): void {
    this.pods.set(key(namespace, name), { pod, distroless });
  }

  labPod(namespace: string, name: string): LabPod | undefined {
    return this.pods.get(key(namespace, name))?.pod;
  }

  async exec(pod: PodRuntime, command: readonly string[]): Promise<ExecOutcome | undefined> {
    const program = (command[0] ?? '').split('/').pop() ?? '';
    const bound = this.pods.get(key(pod.namespace, pod.name));
    if (bound) {
      if (bound.distroless || program !== 'cat')
        return { stdout: '', stderr: '', status: notFoundStatus(pod, command[0] ?? '') };
      return this.catInPod(bound.pod, command);
    }
    const node = this.nodes.get(pod.node);
    if (node && pod.hostNetwork) return this.inNode(node, command);
    return undefined;
  }

  /** `cat` of the pod's network tables: /proc/<pid>/net/* of its main process shows its namespace. */
  private async catInPod(pod: LabPod, command: readonly string[]): Promise<ExecOutcome> {
    const pid = pod.processes.find((p) => p.child.exitCode === null)?.pid;
    let stdout = '';
    let stderr = '';
    for (const file of command.slice(1)) {
      const net = /^\/proc\/(?:net|self\/net|thread-self\/net|\d+\/net)\/(tcp6?)$/.exec(file)?.[1];
      const text =
        net && pid ? await readFile(`/proc/${pid}/net/${net}`, 'utf8').catch(() => undefined) : undefined;
      if (text === undefined) stderr += `cat: ${file}: No such file or directory\n`;
      else stdout += text;
    }
    return { stdout, stderr, status: stderr === '' ? SUCCESS : exitStatus(command, 1) };
  }

  /** The node's hostNetwork probe: `cat` and read-only `conntrack -L` run in the node namespace. */
  private async inNode(node: LabNode, command: readonly string[]): Promise<ExecOutcome> {
    const [program = '', ...args] = command;
    const base = program.split('/').pop();
    const readOnlyConntrack = base === 'conntrack' && (args[0] === '-L' || args[0] === '--dump');
    if (base !== 'cat' && !readOnlyConntrack)
      return { stdout: '', stderr: '', status: notFoundStatus({ name: node.name } as PodRuntime, program) };
    const r = await run('ip', ['netns', 'exec', node.ns.name, base, ...args]);
    return {
      stdout: r.stdout,
      stderr: r.stderr,
      status: r.code === 0 ? SUCCESS : exitStatus(command, r.code ?? 1),
    };
  }

  /** Reads a lab node's conntrack table and counters now. */
  async sample(node: LabNode): Promise<NodeSample> {
    const [table, stat, count] = await Promise.all([
      node.ns.exec('conntrack', ['-L', '-o', 'extended']),
      node.ns.exec('cat', ['/proc/net/stat/nf_conntrack']),
      node.ns.exec('cat', ['/proc/sys/net/netfilter/nf_conntrack_count']),
    ]);
    const portsByDestination = new Map<string, number>();
    const openByDestination = new Map<string, number>();
    for (const f of parseConntrackTable(table).flows) {
      if (f.reply.dst !== node.address || f.original.src === node.address || f.state === 'CLOSE') continue;
      const d = `${f.reply.src}:${f.reply.sport ?? 0}`;
      portsByDestination.set(d, (portsByDestination.get(d) ?? 0) + 1);
      if (f.state !== 'TIME_WAIT') openByDestination.set(d, (openByDestination.get(d) ?? 0) + 1);
    }
    const s = parseConntrackStat(stat);
    return {
      at: Date.now(),
      portsByDestination,
      openByDestination,
      insertFailed: s.insertFailed,
      drop: s.drop,
      count: Number(count.trim()),
    };
  }

  /** Starts the failed-connection window of every node now (call before the workload starts). */
  async baseline(): Promise<void> {
    for (const node of this.nodes.values())
      this.lastFailed.set(node.name, (await this.sample(node)).insertFailed);
  }

  /**
   * Samples every lab node and sets what "Azure Monitor" reports until the next refresh: used SNAT ports =
   * the busiest destination's translated ports, failed SNAT connections = insert_failed since the last
   * refresh (each SYN that found no free port, retransmits included). Returns the samples by node.
   */
  async refresh(): Promise<Map<string, NodeSample>> {
    const out = new Map<string, NodeSample>();
    for (const node of this.nodes.values()) {
      const s = await this.sample(node);
      out.set(node.name, s);
      const used = Math.max(0, ...s.portsByDestination.values());
      const before = this.lastFailed.get(node.name) ?? s.insertFailed;
      this.lastFailed.set(node.name, s.insertFailed);
      this.metrics.set(node.name, {
        allocatedSnatPorts: this.options.allocatedPorts,
        usedSnatPorts: Math.min(used, this.options.allocatedPorts),
        failedSnatConnections: Math.max(0, s.insertFailed - before),
        conntrackAllowanceExceeded: 0,
      });
    }
    return out;
  }

  nodeMetrics(node: string): NodeMetrics | undefined {
    return this.metrics.get(node);
  }

  podsReplaced(
    workload: ReplacedWorkload,
    before: readonly PodRuntime[],
    after: readonly PodRuntime[],
  ): void {
    const program = this.options.afterRestart(workload);
    const at = Date.now();
    const newPods: LabPod[] = [];
    this.restarts.push({ workload: `${workload.namespace}/${workload.kind}/${workload.name}`, at, newPods });
    before.forEach((old, i) => {
      const bound = this.pods.get(key(old.namespace, old.name));
      const next = after[i];
      if (!bound || !next) return;
      this.pods.delete(key(old.namespace, old.name));
      const node = bound.pod.node;
      // The kubelet stops the old container (its sockets close) and starts the new pod in a new namespace.
      const work = (async () => {
        await Promise.all(bound.pod.processes.map((p) => p.stop()));
        const pod = await this.lab.addPod(node, next.name, next.ip);
        if (program) this.lab.startIn(pod, program(pod));
        this.bindPod(next.namespace, next.name, pod, bound.distroless);
        newPods.push(pod);
      })().catch((e: unknown) => {
        this.failures.push(`replace ${old.name}: ${(e as Error).message}`);
      });
      this.pending.push(work);
    });
  }

  /** Resolves when every replacement the controller asked for has its namespace and process. */
  async settled(): Promise<void> {
    await Promise.all(this.pending.splice(0));
  }
}
