// compose chooses implementations from config: the pressure sources by provider, the Remediator by mode.
import { describe, expect, it } from 'vitest';
import { connect } from '../src/cluster/connect.js';
import { compose, refusingRemediator } from '../src/compose.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/log.js';
import { runScan } from '../src/run.js';
import { example, harness } from './e2e/harness.js';

const log = createLogger({ level: 'silent' });

describe('compose', () => {
  it.each([
    [{ provider: 'none' }, []],
    [
      {
        provider: 'azure',
        azure: { subscriptionId: 's', resourceGroup: 'rg', clusterName: 'aks', location: 'westeurope' },
      },
      ['azure'],
    ],
    [
      { provider: 'aws', aws: { region: 'eu-west-1', clusterName: 'eks' } },
      ['aws-nat-gateway', 'aws-ena-conntrack'],
    ],
  ])('provider %j → pressure sources %j', async (flags, names) => {
    const h = await harness(await example('contract-check.yaml'));
    try {
      const kubeConfig = await connect({ kind: 'kubeconfig', path: h.sim.jobKubeconfigPath }, { log });
      const deps = await compose(loadConfig({ env: {}, flags }), { kubeConfig, log });
      expect(deps.pressure.map((p) => p.name)).toEqual(names);
    } finally {
      await h.close();
    }
  });

  it("beforeExecs is called once, as the run's first exec starts, not when composing (was: the CLI and runJob set the heap before loading)", async () => {
    const h = await harness(await example('contract-check.yaml'));
    try {
      const kubeConfig = await connect({ kind: 'kubeconfig', path: h.sim.jobKubeconfigPath }, { log });
      let calls = 0;
      const config = loadConfig({ env: {}, flags: { provider: 'none' } });
      const deps = await compose(config, { kubeConfig, log, beforeExecs: () => void calls++ });
      expect(calls).toBe(0);
      const report = await runScan(config, deps, new AbortController().signal);
      expect(report.nodes.some((n) => n.podsInspected > 0)).toBe(true);
      expect(calls).toBe(1);
    } finally {
      await h.close();
    }
  });

  it('a cloud provider without its coordinates is a config error naming them', async () => {
    const h = await harness(await example('contract-check.yaml'));
    try {
      const kubeConfig = await connect({ kind: 'kubeconfig', path: h.sim.jobKubeconfigPath }, { log });
      await expect(
        compose(loadConfig({ env: {}, flags: { provider: 'azure' } }), { kubeConfig, log }),
      ).rejects.toThrow(/subscriptionId/);
    } finally {
      await h.close();
    }
  });

  it('dry-run gets a Remediator that refuses to patch', async () => {
    await expect(
      refusingRemediator().restart(
        { namespace: 'shop', kind: 'Deployment', name: 'cart' },
        'x',
        new AbortController().signal,
      ),
    ).rejects.toThrow(/dry-run: refusing to restart shop\/Deployment\/cart/);
  });
});
