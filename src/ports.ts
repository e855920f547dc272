// The ports at the I/O edge (shared/DESIGN.md, "Ports"): each has one real implementation and fakes in tests.
import type { ConntrackTable } from './analysis/conntrack-table.js';
import type {
  ConntrackReading,
  ExecLimits,
  NodeInfo,
  PodInfo,
  PodRef,
  PressureReading,
  RunReport,
  RunState,
  TimeWindow,
  WorkloadRef,
  WorkloadStatus,
} from './model.js';

export interface PressureSource {
  name: string;
  read(window: TimeWindow, signal: AbortSignal): Promise<PressureReading>;
}

export interface ClusterReader {
  nodes(): Promise<NodeInfo[]>;
  podsOn(node: string): Promise<PodInfo[]>;
  ownerOf(pod: PodInfo): Promise<WorkloadRef | null>;
  /** Live spec/status for the rails; throws when it cannot be read (the rail then fails closed). */
  workload(ref: WorkloadRef): Promise<WorkloadStatus>;
  /** Env of a DaemonSet's first container (aws-node), null when absent. */
  daemonSetEnv(namespace: string, name: string): Promise<Record<string, string> | null>;
}

export interface PodExec {
  /** `cat FILES…` in the pod; resolves with stdout, rejects with an ExecError. */
  read(pod: PodRef, files: string[], limits: ExecLimits, signal: AbortSignal): Promise<string>;
  /**
   * Runs one fixed, read-only command (the node probe's `conntrack -L -o extended`); the same bounds and
   * errors as `read`. Optional: a PodExec that cannot run other programs leaves it out.
   */
  run?(pod: PodRef, command: readonly string[], limits: ExecLimits, signal: AbortSignal): Promise<string>;
}

export interface NodeProbe {
  /** Conntrack counters of a node's own network namespace, read through a hostNetwork pod on it. */
  conntrack(node: string, signal: AbortSignal, podsOnNode?: PodInfo[]): Promise<ConntrackReading>;
  /** The node's conntrack table (`conntrack -L`), parsed; absent when the probe cannot list it. */
  flows?(node: string, signal: AbortSignal, podsOnNode: PodInfo[]): Promise<ConntrackTable>;
}

export interface Remediator {
  restart(w: WorkloadRef, reason: string, signal: AbortSignal): Promise<void>;
}

export interface Notifier {
  name: string;
  send(report: RunReport, signal: AbortSignal): Promise<void>;
}

export interface Lock {
  acquire(holder: string, ttlMs: number): Promise<boolean>;
  release(): Promise<void>;
}

export interface StateStore {
  load(): Promise<RunState>;
  save(s: RunState): Promise<void>;
}

/** What stages log through: passed in, never imported (a pino Logger satisfies it). */
export type Log = {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
};
