// The ports at the I/O edge (shared/DESIGN.md, "Ports"): each has one real implementation and fakes in tests.
import type { FlowCounts } from './analysis/conntrack-table.js';
import type {
  ConntrackReading,
  ExecLimits,
  NodeInfo,
  PodInfo,
  PodRef,
  PressureReading,
  RunReport,
  RunState,
  SkipReason,
  TimeWindow,
  WorkloadRef,
  WorkloadStatus,
} from './model.js';

export interface PressureSource {
  name: string;
  read(window: TimeWindow, signal: AbortSignal): Promise<PressureReading>;
}

// Every Kubernetes call takes the run's signal (its deadline) and has its own timeout in the implementation.
export interface ClusterReader {
  nodes(signal?: AbortSignal): Promise<NodeInfo[]>;
  podsOn(node: string, signal?: AbortSignal): Promise<PodInfo[]>;
  ownerOf(pod: PodInfo, signal?: AbortSignal): Promise<WorkloadRef | null>;
  /**
   * Optional: reads the owners of these pods in bulk into the reader's cache (one list, not a GET per
   * owner), so the ownerOf calls that follow cost no request. Never throws: what it could not read,
   * ownerOf reads (and reports) itself.
   */
  prefetchOwners?(pods: readonly PodInfo[], signal?: AbortSignal): Promise<void>;
  /** Live spec/status for the rails; throws when it cannot be read (the rail then fails closed). */
  workload(ref: WorkloadRef, signal?: AbortSignal): Promise<WorkloadStatus>;
  /** Env of a DaemonSet's first container (aws-node), null when absent. */
  daemonSetEnv(namespace: string, name: string, signal?: AbortSignal): Promise<Record<string, string> | null>;
}

export interface PodExec {
  /** `cat FILES…` in the pod; resolves with stdout, rejects with an ExecError. */
  read(pod: PodRef, files: string[], limits: ExecLimits, signal: AbortSignal): Promise<string>;
  /**
   * Runs one fixed, read-only command (the node probe's `conntrack -L -o extended`); the same bounds and
   * errors as `read`. Optional: a PodExec that cannot run other programs leaves it out.
   */
  run?(pod: PodRef, command: readonly string[], limits: ExecLimits, signal: AbortSignal): Promise<string>;
  /**
   * `cat FILES…` in the pod, stdout handed to `onStdout` frame by frame as it arrives and not kept;
   * resolves with the byte count once the command succeeded, rejects with an ExecError (whatever was
   * handed on is then to be discarded). Optional: without it, inspect reads the text whole.
   */
  stream?(
    pod: PodRef,
    files: string[],
    limits: ExecLimits,
    signal: AbortSignal,
    onStdout: (chunk: Uint8Array) => void,
  ): Promise<number>;
  /**
   * `run`'s command with its stdout handed on frame by frame as `stream` does (the node's conntrack
   * listing is as long as the node's flows); the same bounds and errors. Optional: without it, the caller
   * reads the text whole through `run`.
   */
  runStream?(
    pod: PodRef,
    command: readonly string[],
    limits: ExecLimits,
    signal: AbortSignal,
    onStdout: (chunk: Uint8Array) => void,
  ): Promise<number>;
  /**
   * `count` more execs are to follow (a node's pods, announced before they start): the PodExec may open
   * their connections ahead of them. Optional: a hint, never needed for correctness.
   */
  expect?(count: number): void;
  /**
   * Execs are about to start, up to `atOnce` together (a node is to be inspected and its pods are being
   * listed; default 1): the PodExec may set up its TLS settings and open their connections now (one
   * first, the others resuming its session once it has one), so that the first execs neither each
   * negotiate a full handshake at once nor open their connections as they start. Optional: a hint,
   * never needed for correctness.
   */
  prepare?(atOnce?: number): void;
}

export interface NodeProbe {
  /** Conntrack counters of a node's own network namespace, read through a hostNetwork pod on it. */
  conntrack(node: string, signal: AbortSignal, podsOnNode?: PodInfo[]): Promise<ConntrackReading>;
  /** The node's conntrack table (`conntrack -L`), counted as it streams; absent when the probe cannot list it. */
  flows?(node: string, signal: AbortSignal, podsOnNode: PodInfo[]): Promise<FlowCounts>;
  /**
   * inspect.nodeProbeFallback: the socket tables of pods without `cat`, read on their node by pod UID
   * (src/cluster/proc-fallback.ts); absent when the fallback is off.
   */
  podSockets?(
    node: string,
    pods: readonly PodInfo[],
    podsOnNode: PodInfo[],
    signal: AbortSignal,
  ): Promise<Map<string, { text: string } | { error: string }>>;
}

/** What a restart did: `confirmed` false when the patch was accepted but the read-back failed. */
export interface RestartOutcome {
  confirmed: boolean;
  detail?: string;
}

export interface Remediator {
  /**
   * Re-reads the workload, re-checks `precheck` on what it read (a restart seen since planning blocks it),
   * then patches with that read's resourceVersion as a precondition (a concurrent writer makes it 409).
   */
  restart(
    w: WorkloadRef,
    reason: string,
    signal: AbortSignal,
    precheck?: RestartPrecheck,
  ): Promise<RestartOutcome>;
}

/** Returns null to go ahead, else why the restart must not happen (thrown as a RestartBlockedError). */
export type RestartPrecheck = (current: WorkloadStatus) => { code: SkipReason; detail: string } | null;

export interface Notifier {
  name: string;
  send(report: RunReport, signal: AbortSignal): Promise<void>;
}

export interface Lock {
  acquire(holder: string, ttlMs: number, signal?: AbortSignal): Promise<boolean>;
  /**
   * Extends the hold by the TTL, and records `settle` (node → when a restart there was decided) in the
   * Lease. Resolves false when the Lease is no longer ours (taken over, deleted): stop acting.
   */
  renew(signal?: AbortSignal, settle?: SettleRecord): Promise<boolean>;
  /** Node → the latest restart decided on it, as read at acquire (and written since). */
  settled(): SettleRecord;
  /** Why the settle record read at acquire was unusable (it was replaced by one holding every node). */
  settleProblem?(): string | undefined;
  release(signal?: AbortSignal): Promise<void>;
}

/** Node name → the latest restart a run decided on it (the SETTLING rail's record). */
export type SettleRecord = Record<string, SettleEntry>;

export interface SettleEntry {
  /** RFC 3339: when the restart was decided (written before the patch). */
  at: string;
  workload: string;
  runId: string;
}

export interface StateStore {
  load(signal?: AbortSignal): Promise<RunState>;
  /** Writes with the resourceVersion of the last load: a concurrent save is merged, never overwritten. */
  save(s: RunState, signal?: AbortSignal): Promise<void>;
}

/** What stages log through: passed in, never imported (a pino Logger satisfies it). */
export type Log = {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
};
