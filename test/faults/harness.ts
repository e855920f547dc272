// Runs snatguard in-process against the simulator through the fault proxy: the real clients, the real
// compose, real HTTP; the proxy decides which requests fail and how.
import { KubeConfig } from '@kubernetes/client-node';
import { compose } from '../../src/compose.js';
import { type Config, loadConfig } from '../../src/config/index.js';
import { configForSnapshot } from '../../src/hosts/cli/run-commands.js';
import { deadlineSignal } from '../../src/hosts/job.js';
import { createLogger } from '../../src/log.js';
import type { RunReport } from '../../src/model.js';
import { runScan } from '../../src/run.js';
import { fetchTrusting } from '../../src/sim/fetch.js';
import { type RunningSim, startSim } from '../../src/sim/server.js';
import type { Snapshot } from '../../src/sim/snapshot.js';
import { aDeployment } from '../e2e/harness.js';
import { type FaultProxy, type FaultRule, startFaultProxy } from './proxy.js';

export interface FaultHarness {
  sim: RunningSim;
  proxy: FaultProxy;
  /** One run through the proxy; `deadlineSeconds` in flags becomes the run's signal, as the hosts do. */
  run(flags?: Record<string, unknown>): Promise<RunReport>;
  /** Chat endpoints of the simulator, through the proxy. */
  sink(name: 'slack' | 'teams' | 'discord' | 'webhook'): string;
  fault(...rules: FaultRule[]): void;
  clear(): void;
  close(): Promise<void>;
}

export async function faultHarness(snapshot: Snapshot): Promise<FaultHarness> {
  const sim = await startSim(snapshot);
  const proxy = await startFaultProxy(sim);
  const log = createLogger({ level: 'silent' });
  const via = (u: string): string => u.replace(sim.url, proxy.url);
  return {
    sim,
    proxy,
    sink: (name) => via(sim.endpoints[name]!),
    async run(flags = {}) {
      const config: Config = configForSnapshot(loadConfig({ env: {}, flags }), snapshot);
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromString(proxy.kubeconfigYaml());
      const deps = await compose(config, {
        kubeConfig,
        log,
        world: sim.world,
        fetch: fetchTrusting(proxy.ca),
        pressure: {
          armEndpoint: via(sim.endpoints.arm!),
          metricsEndpoint: via(sim.endpoints.metrics!),
          awsEndpoint: via(sim.endpoints.aws!),
          ca: proxy.ca,
          azureCredential: {
            getToken: async () => ({ token: 'snatguard-sim', expiresOnTimestamp: Date.now() + 3_600_000 }),
          },
          awsCredentials: async () => ({ accessKeyId: 'AKIDSNATGUARDSIM', secretAccessKey: 'snatguard-sim' }),
        },
      });
      return runScan(config, deps, deadlineSignal(undefined, 0, config.deadlineSeconds));
    },
    fault: (...rules) => proxy.rules.push(...rules),
    clear: () => {
      proxy.rules.length = 0;
    },
    async close() {
      await proxy.close();
      await sim.close();
    },
  };
}

/**
 * A Deployment of 3 pods on `node`, each holding `count` ESTABLISHED sockets to `remote`: the offender the
 * fault tests restart. `extra` adds aDeployment's other options (exec: 'hang' …).
 */
export function hog(
  name: string,
  node: string,
  remote: string,
  count: number,
  extra: Partial<Parameters<typeof aDeployment>[1]> = {},
): object {
  return aDeployment(name, {
    replicas: 3,
    pods: 3,
    node,
    sockets: [{ remote, state: 'ESTABLISHED', count }],
    ...extra,
  });
}

/** orders (960 sockets) then billing (900) on node-a: each alone keeps node-a hot (of 1,024 ports). */
export const twoHogsOnNodeA = (): object[] => [
  hog('orders', 'node-a', '20.103.144.194:27017', 320),
  hog('billing', 'node-a', '20.103.144.195:443', 300),
];
