// compose: config → the run's dependencies. The only place that chooses implementations.
// Dry-run is decided here and in the rails, never in scattered ifs: in dry-run the plan marks every
// restart DRY_RUN and the Remediator is swapped for one that refuses to patch (defence in depth).

import { randomUUID } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { untilAborted } from './cluster/bounded.js';
import type { ClusterTarget } from './cluster/connect.js';
import {
  clusterReader,
  configMapState,
  leaseLock,
  nodeProbe,
  podExec,
  rolloutRemediator,
} from './cluster/index.js';
import { nodeFlows } from './cluster/node-flows.js';
import { procFallback } from './cluster/proc-fallback.js';
import type { Config } from './config/index.js';
import { SnatguardError } from './errors.js';
import type { PressureReading, RunReport, RunState, TimeWindow } from './model.js';
import { notify } from './notify/index.js';
import type { Log, PressureSource, Remediator } from './ports.js';
import type { PressureTargets } from './pressure/index.js';
import { AZURE_CLOUD_ENDPOINTS } from './pressure/types.js';
import type { NotifyOutcome, RunDeps } from './run.js';
import type { NodeMetrics, SimWorld } from './sim/types.js';

/** The run's cap on exec output in flight, in multiples of exec.maxBytes (issue 16 item 8). */
export const RUN_EXEC_BYTES_FACTOR = 4;

export interface ComposeEnv {
  kubeConfig: KubeConfig;
  log: Log;
  now?: () => Date;
  /** Cloud endpoints, credentials and CA for the pressure sources (the simulator sets all of them). */
  pressure?: Partial<PressureTargets>;
  /** provider none in replay: the snapshot's own node metrics stand in for the cloud. */
  world?: SimWorld;
  /** The same, asked of the simulator's own thread (replay and demo serve the snapshot from a worker). */
  snapshotMetrics?: () => Promise<SnapshotNodeMetrics[]>;
  fetch?: typeof fetch;
  onProgress?: RunDeps['onProgress'];
  /**
   * Called once, as the run's first exec starts: the host settles the process for the exec output
   * that streams from then on (the CLI's scan and runJob hold V8's young generation there: heap.ts).
   */
  beforeExecs?: () => void;
  /** Marks every chat message (`replay of NAME`). */
  notifyTag?: string;
}

export async function compose(config: Config, env: ComposeEnv): Promise<RunDeps> {
  const now = env.now ?? (() => new Date());
  const kc = env.kubeConfig;
  // The run's cap on exec output in flight: four pods' worth of the per-exec cap (256 MiB by default).
  const exec = podExec(kc, {
    maxBytesInFlight: RUN_EXEC_BYTES_FACTOR * config.exec.maxBytes,
    ...(env.beforeExecs ? { beforeFirst: env.beforeExecs } : {}),
  });
  // snatguard's own probe DaemonSet in its namespace; kube-proxy only when named as the fallback.
  const probeTargets = [
    { namespace: config.inspect.probeNamespace || config.namespace, selector: config.inspect.probeSelector },
    { selector: config.inspect.probeFallbackSelector },
  ];
  // Every Kubernetes call has its own timeout, and takes the run's signal from runScan.
  const timeoutMs = config.cluster.requestTimeoutSeconds * 1000;
  const reader = clusterReader(kc, { timeoutMs });
  // The run and the cloud sources (to map instances and subnets to nodes) share one node list per run.
  let nodes: ReturnType<typeof reader.nodes> | undefined;
  // Each caller waits no longer than its own signal (the cloud sources call it without the run's signal).
  const cluster = {
    ...reader,
    nodes: (signal?: AbortSignal) => {
      nodes ??= reader.nodes(signal);
      return untilAborted('list nodes', nodes, signal);
    },
  };
  const pressure: PressureSource[] =
    config.provider === 'none'
      ? env.snapshotMetrics
        ? [snapshotPressure(env.snapshotMetrics)]
        : env.world
          ? [snapshotPressure(worldMetrics(env.world))]
          : []
      : // Only the configured cloud's SDK loads (its own chunk in the serverless bundles).
        await (await import('./pressure/load.js')).loadPressureSources(config, {
          log: env.log,
          // NAT gateways and ENA metrics name instances and subnets, not nodes: the sources map them.
          nodes: () => cluster.nodes(),
          awsNodeEnv: () => cluster.daemonSetEnv('kube-system', 'aws-node'),
          ...env.pressure,
        });
  return {
    log: env.log,
    now,
    runId: randomUUID(),
    cluster,
    exec,
    probe: {
      ...nodeProbe(kc, exec, {
        targets: probeTargets,
        // The probe's output is four numbers and one line per CPU: a small cap is plenty.
        limits: { timeoutMs: config.exec.timeoutSeconds * 1000, maxBytes: 1 << 20 },
        callTimeoutMs: timeoutMs,
      }),
      // The conntrack table: one line per flow, bounded like a pod's socket tables.
      flows: nodeFlows(exec, {
        targets: probeTargets,
        limits: { timeoutMs: config.exec.timeoutSeconds * 1000, maxBytes: config.exec.maxBytes },
      }),
      // Opt-in: distroless pods read on their node through snatguard-node-sockets (hostPID).
      ...(config.inspect.nodeProbeFallback
        ? {
            podSockets: procFallback(exec, {
              namespace: config.inspect.probeNamespace || config.namespace,
              limits: { timeoutMs: config.exec.timeoutSeconds * 1000, maxBytes: config.exec.maxBytes },
            }),
          }
        : {}),
    },
    remediator: config.mode === 'restart' ? rolloutRemediator(kc, now, { timeoutMs }) : refusingRemediator(),
    lock: leaseLock(kc, config.namespace, now, { timeoutMs }),
    state: configMapState(kc, config.namespace, env.log, { timeoutMs }),
    pressure,
    notify: (
      report: RunReport,
      notified: RunState['notified'],
      signal: AbortSignal,
    ): Promise<NotifyOutcome> =>
      notify(
        report,
        notified,
        now(),
        { ...notifyConfigOf(config), ...(env.notifyTag ? { tag: env.notifyTag } : {}) },
        { log: env.log, signal, fetch: env.fetch },
      ),
    onProgress: env.onProgress,
  };
}

/** The notify stage's settings from config: a channel is on when its URL is set. */
export function notifyConfigOf(config: Config) {
  const n = config.notify;
  return {
    slack: n.slack.webhookUrl ? n.slack : undefined,
    teams: n.teams.webhookUrl ? n.teams : undefined,
    discord: n.discord.webhookUrl ? n.discord : undefined,
    webhook: n.webhook.url ? n.webhook : undefined,
    renotifyMinutes: n.renotifyMinutes,
    minSeverity: n.minSeverity,
    timeoutMs: n.timeoutSeconds * 1000,
  };
}

/** The dry-run Remediator: the plan never asks it to act; if it ever did, it refuses. */
export function refusingRemediator(): Remediator {
  return {
    async restart(w) {
      throw new SnatguardError(`dry-run: refusing to restart ${w.namespace}/${w.kind}/${w.name}`);
    },
  };
}

/** One node's metrics as the snapshot gives or derives them (provider none in replay). */
export interface SnapshotNodeMetrics {
  name: string;
  internalIP: string;
  metrics: NodeMetrics;
}

/** Every node's metrics of an in-process simulator world, now. */
export const worldMetrics = (world: SimWorld) => async (): Promise<SnapshotNodeMetrics[]> =>
  world.snapshot.nodes.map((n) => ({
    name: n.name,
    internalIP: n.internalIP,
    metrics: world.nodeMetrics(n.name),
  }));

/** provider none in replay: node metrics as the snapshot gives or derives them. */
export function snapshotPressure(source: () => Promise<SnapshotNodeMetrics[]>): PressureSource {
  return {
    name: 'snapshot',
    async read(_window: TimeWindow): Promise<PressureReading> {
      const nodes = (await source()).map((n) => {
        const m = n.metrics;
        return {
          node: { name: n.name, internalIP: n.internalIP },
          signals: [
            {
              kind: 'snat-ports' as const,
              source: 'snapshot',
              used: m.usedSnatPorts,
              allocated: m.allocatedSnatPorts,
              ratio: m.allocatedSnatPorts > 0 ? m.usedSnatPorts / m.allocatedSnatPorts : 0,
            },
            ...(m.failedSnatConnections > 0
              ? [{ kind: 'snat-failed' as const, source: 'snapshot', value: m.failedSnatConnections }]
              : []),
            ...(m.conntrackAllowanceExceeded > 0
              ? [
                  {
                    kind: 'conntrack-allowance' as const,
                    source: 'snapshot',
                    value: m.conntrackAllowanceExceeded,
                  },
                ]
              : []),
          ],
        };
      });
      return { nodes, facts: { provider: 'none' }, errors: [] };
    },
  };
}

export function clusterTarget(config: Config): ClusterTarget {
  switch (config.cluster.connection) {
    case 'in-cluster':
      return { kind: 'in-cluster' };
    case 'aks':
      return {
        kind: 'aks',
        subscriptionId: config.azure.subscriptionId ?? '',
        resourceGroup: config.azure.resourceGroup ?? '',
        clusterName: config.azure.clusterName ?? '',
        clientId: config.azure.clientId,
        // azure.cloud picks ARM and the authority together; azure.armEndpoint still overrides.
        armEndpoint: config.azure.armEndpoint ?? AZURE_CLOUD_ENDPOINTS[config.azure.cloud].arm,
        authorityHost: AZURE_CLOUD_ENDPOINTS[config.azure.cloud].authorityHost,
      };
    case 'eks':
      return { kind: 'eks', region: config.aws.region ?? '', clusterName: config.aws.clusterName ?? '' };
    default:
      return {
        kind: 'kubeconfig',
        path: config.cluster.kubeconfig || undefined,
        context: config.cluster.context || undefined,
      };
  }
}
