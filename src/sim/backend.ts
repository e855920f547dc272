// SimBackend: a pluggable source of live state behind some of the simulated world's pods and nodes.
// The snapshot answers by default; a backend (the lab's real network namespaces, test/lab/backend.ts)
// answers for the pods and nodes it owns and returns undefined for the rest. The wire protocols, the
// controller and everything the clients see stay the simulator's: only where the answers come from changes.

import type { NodeMetrics } from './types.js';
import type { PodRuntime } from './world.js';

/** What a command run in a container produced: stdout, stderr and the exec Status (channel 3). */
export interface ExecOutcome {
  stdout: string;
  stderr: string;
  status: Record<string, unknown>;
}

/** The workload whose pods a rollout replaced. */
export interface ReplacedWorkload {
  kind: string;
  namespace: string;
  name: string;
}

export interface SimBackend {
  /** Runs `command` in `pod`'s container; undefined → not this backend's pod (the snapshot answers). */
  exec?(pod: PodRuntime, command: readonly string[]): Promise<ExecOutcome | undefined>;
  /** What the cloud reports for `node` now; undefined → derived from the snapshot (SNAPSHOT.md). */
  nodeMetrics?(node: string): NodeMetrics | undefined;
  /** The controller replaced a workload's pods (`before[i]` by `after[i]`, same node). */
  podsReplaced?(
    workload: ReplacedWorkload,
    before: readonly PodRuntime[],
    after: readonly PodRuntime[],
  ): void;
}
