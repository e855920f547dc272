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
