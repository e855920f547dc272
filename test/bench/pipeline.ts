// One run on a generated snapshot: one hot node with 250 pods, 100 ms injected exec latency, next to the
// incident's method (a sequential `kubectl exec … cat /proc/net/tcp` loop over the same pods), and the
// API requests per run from the simulator's log (target: O(hot nodes + their pods), never O(cluster)).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { connect } from '../../src/cluster/connect.js';
import { compose } from '../../src/compose.js';
import { loadConfig } from '../../src/config/index.js';
import { configForSnapshot } from '../../src/hosts/cli/run-commands.js';
import { createLogger } from '../../src/log.js';
import { runScan } from '../../src/run.js';
import { startSim } from '../../src/sim/server.js';
import { parseSnapshot } from '../../src/sim/snapshot.js';

const run$ = promisify(execFile);
const HOT_PODS = 250;
const COLD_NODES = 20;
const PODS_PER_COLD_NODE = 25;
const LATENCY_MS = 100;

export function generatedSnapshot(
  hotPods = HOT_PODS,
  coldNodes = COLD_NODES,
  podsPerCold = PODS_PER_COLD_NODE,
) {
  const nodes = [
    { name: 'hot-node-0', internalIP: '10.224.0.4' },
    ...Array.from({ length: coldNodes }, (_, i) => ({
      name: `cold-node-${i + 1}`,
      internalIP: `10.224.1.${i + 1}`,
    })),
  ];
  const pod = (i: number, node: string, leak: boolean) => ({
    name: `api-${node}-${i}`,
    node,
    ip: `10.244.${nodes.findIndex((n) => n.name === node)}.${(i % 250) + 2}`,
    sockets: [
      {
        remote: leak ? '20.103.144.194:27017' : '52.168.1.10:443',
        state: 'ESTABLISHED',
        count: leak ? 4 : 2,
      },
      { local: ':8080', state: 'LISTEN' },
    ],
  });
  const workloads = [
    {
      kind: 'Deployment',
      namespace: 'bench',
      name: 'leaky',
      labels: { app: 'leaky' },
      pods: Array.from({ length: hotPods }, (_, i) => pod(i, 'hot-node-0', true)),
    },
    ...nodes.slice(1).map((n) => ({
      kind: 'Deployment',
      namespace: 'bench',
      name: `calm-${n.name}`,
      labels: { app: 'calm' },
      pods: Array.from({ length: podsPerCold }, (_, i) => pod(i, n.name, false)),
    })),
  ];
  return stringify({
    apiVersion: 'snatguard.io/v1',
    kind: 'Snapshot',
    metadata: { name: 'bench' },
    cloud: { provider: 'none' },
    cluster: { version: '1.31', podCIDR: '10.244.0.0/16', serviceCIDR: '10.0.0.0/16' },
    nodes,
    workloads,
  });
}

export async function run(): Promise<void> {
  const snapshot = parseSnapshot(generatedSnapshot(), 'bench');
  const sim = await startSim(snapshot, {});
  const log = createLogger({ level: 'silent' });
  try {
    sim.world.faults.execLatencyMs = LATENCY_MS;
    const config = configForSnapshot(await loadConfig({ env: {} }), snapshot);
    const kubeConfig = await connect({ kind: 'kubeconfig', path: sim.jobKubeconfigPath }, { log });
    const deps = await compose(config, { kubeConfig, log, world: sim.world });
    const before = sim.world.requests.length;
    const t0 = performance.now();
    const report = await runScan(config, deps, new AbortController().signal);
    const runMs = performance.now() - t0;
    const kubeRequests = sim.world.requests.slice(before).filter((r) => r.service === 'kube').length;
    const hot = report.nodes.filter((n) => n.hot);
    const pods = hot.reduce((n, h) => n + h.podsInspected + h.podsUninspectable, 0);

    // The incident's method: one kubectl exec after another, against the same simulator.
    const podNames = snapshot.workloads.find((w) => w.name === 'leaky')!.pods.map((p) => p.name!);
    const t1 = performance.now();
    let lines = 0;
    for (const name of podNames) {
      const { stdout } = await run$('kubectl', ['exec', '-n', 'bench', name, '--', 'cat', '/proc/net/tcp'], {
        env: { ...process.env, KUBECONFIG: sim.kubeconfigPath },
        maxBuffer: 64 << 20,
      });
      lines += stdout.split('\n').length;
    }
    const loopMs = performance.now() - t1;
    const clusterPods = snapshot.workloads.reduce((n, w) => n + w.pods.length, 0);
    console.log(
      [
        `cluster: ${snapshot.nodes.length} nodes, ${clusterPods} pods; hot: ${hot.length} node, ${pods} pods, exec latency ${LATENCY_MS} ms`,
        `snatguard run (exec concurrency ${config.exec.concurrency}):  ${(runMs / 1000).toFixed(2)} s`,
        `sequential kubectl exec loop:                 ${(loopMs / 1000).toFixed(2)} s (${podNames.length} execs, ${lines} lines)`,
        `speed-up: ${(loopMs / runMs).toFixed(1)}×   (target ≥ 10×)`,
        `Kubernetes API requests in the run: ${kubeRequests}   (hot nodes + their pods = ${hot.length + pods}; cluster pods = ${clusterPods})`,
      ].join('\n'),
    );
  } finally {
    await sim.close();
  }
}
