// The messages between the scanner (off-thread.ts) and the simulator's process (worker.ts).
import type { NodeMetrics } from './types.js';

/** Set in the child's environment by off-thread.ts: the CLI's entry then runs this module. */
export const SIM_CHILD_ENV = 'SNATGUARD_SIM_CHILD';

/** What the scanner's side needs of a node for the snapshot pressure source (provider none). */
export interface NodeMetricsRow {
  name: string;
  internalIP: string;
  metrics: NodeMetrics;
}

export type WorkerRequest =
  | { id: number; op: 'start'; file: string; logLevel: string }
  | { id: number; op: 'nodeMetrics' | 'received' | 'close' }
  | { id: number; op: 'logLevel'; level: string };

/** Where the simulator serves and the files a client needs to reach it. */
export interface SimAddresses {
  url: string;
  ca: string;
  caPath: string;
  kubeconfigPath: string;
  jobKubeconfigPath: string;
  endpoints: Record<string, string>;
}

export type WorkerMessage =
  | ({
      type: 'ready';
      /** The snapshot without its workloads and with nodes cut to name and address (all the host reads). */
      head: unknown;
    } & SimAddresses)
  /**
   * The snapshot is parsed (not yet checked): the cloud it names, if any, for the scanner to load that
   * cloud's modules while the simulator checks the file and seeds the cluster. A hint only: `ready` or
   * `failed` follows.
   */
  | { type: 'parsed'; provider?: string }
  | { type: 'failed'; validation?: { source: string; problems: string[] }; message: string }
  | { type: 'answer'; id: number; result?: unknown; error?: string };
