// End-to-end harness: a started simulator and snatguard runs against it through HTTPS, WebSocket and the
// real clients — the same path as `snatguard replay`, in-process so tests can look at the world afterwards.
import { stringify } from 'yaml';
import { connect } from '../../src/cluster/connect.js';
import { compose } from '../../src/compose.js';
import { type Config, loadConfig } from '../../src/config/index.js';
import { configForSnapshot } from '../../src/hosts/cli/run-commands.js';
import { simPressureTargets } from '../../src/hosts/cli/sim-targets.js';
import { createLogger } from '../../src/log.js';
import type { RunReport } from '../../src/model.js';
import { examplePath } from '../../src/paths.js';
import { runScan } from '../../src/run.js';
import { type RunningSim, type StartSimOptions, startSim } from '../../src/sim/server.js';
import { loadSnapshot, parseSnapshot, type Snapshot } from '../../src/sim/snapshot.js';

export interface Harness {
  sim: RunningSim;
  snapshot: Snapshot;
  run(flags?: Record<string, unknown>): Promise<RunReport>;
  close(): Promise<void>;
}

/** Starts a simulator serving `snapshot` (from `example()` or `aSnapshot()`). */
export async function harness(parsed: Snapshot, options: StartSimOptions = {}): Promise<Harness> {
  const sim = await startSim(parsed, options);
  const log = createLogger({ level: 'silent' });
  return {
    sim,
    snapshot: parsed,
    async run(flags = {}) {
      const config: Config = configForSnapshot(loadConfig({ env: {}, flags }), parsed);
      const kubeConfig = await connect({ kind: 'kubeconfig', path: sim.jobKubeconfigPath }, { log });
      const deps = await compose(config, {
        kubeConfig,
        log,
        world: sim.world,
        pressure: simPressureTargets(sim),
      });
      return runScan(config, deps, new AbortController().signal);
    },
    close: () => sim.close(),
  };
}

/** Loads an example snapshot by file name (examples/). */
export async function example(name: string): Promise<Snapshot> {
  return loadSnapshot(examplePath(name));
}

/** A minimal AKS-like snapshot, parsed as the loader would: two nodes, 1,024 ports each; workloads from the test. */
export function aSnapshot(workloads: object[], extra: Record<string, unknown> = {}): Snapshot {
  const doc = {
    apiVersion: 'snatguard.io/v1',
    kind: 'Snapshot',
    metadata: { name: 'e2e' },
    cloud: { provider: 'none' },
    cluster: { version: '1.31', podCIDR: '10.244.0.0/16', serviceCIDR: '10.0.0.0/16' },
    nodes: [
      { name: 'node-a', internalIP: '10.224.0.4' },
      { name: 'node-b', internalIP: '10.224.0.5' },
    ],
    workloads,
    ...extra,
  };
  return parseSnapshot(stringify(doc), 'test');
}

let podIp = 10;
/** A Deployment with pods on node-a holding `sockets` each (outbound to a public peer by default). */
export function aDeployment(
  name: string,
  opts: {
    namespace?: string;
    replicas?: number;
    pods?: number;
    sockets?: object[];
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    status?: object;
    exec?: string;
    kind?: string;
    node?: string;
    afterRestart?: object;
  } = {},
): object {
  const pods = opts.pods ?? 2;
  return {
    kind: opts.kind ?? 'Deployment',
    namespace: opts.namespace ?? 'shop',
    name,
    ...(opts.replicas !== undefined ? { replicas: opts.replicas } : {}),
    labels: opts.labels ?? { app: name },
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
    ...(opts.status ? { status: opts.status } : {}),
    ...(opts.afterRestart ? { afterRestart: opts.afterRestart } : {}),
    pods: Array.from({ length: pods }, () => ({
      node: opts.node ?? 'node-a',
      ip: `10.244.0.${podIp++ % 250}`,
      ...(opts.exec ? { exec: opts.exec } : {}),
      sockets: opts.sockets ?? [{ remote: '20.103.144.194:27017', state: 'ESTABLISHED', count: 300 }],
    })),
  };
}

export const actionOf = (r: RunReport, workload: string) => r.actions.find((a) => a.workload === workload);
