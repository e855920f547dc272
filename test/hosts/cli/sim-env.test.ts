// `snatguard sim` prints only lines `scan` reads; exported, they make `scan` (a fresh process) reach the
// simulator exactly as `replay` does: Kubernetes with the job's RBAC, the snapshot's cloud through its
// endpoints, the SDKs' own credential chains, and the CA. Failed before: SNATGUARD_JOB_KUBECONFIG is not a
// config key (scan exited 2), and no Azure credential nor AWS keys nor cloud coordinates were printed.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { simEnv } from '../../../src/hosts/cli/sim.js';
import type { RunReport } from '../../../src/model.js';
import { runCli, useCliBundle } from '../../cli-bundle.js';
import { example, harness } from '../../e2e/harness.js';

const cli = useCliBundle('snatguard-home-');

const decisions = (r: RunReport) => ({
  cluster: r.cluster,
  provider: r.provider,
  hot: r.nodes.filter((n) => n.hot).map((n) => n.name),
  offenders: r.offenders.map((o) => [o.workload, o.node, o.snatSockets]),
  actions: r.actions.map((a) => [a.workload, a.status, a.skipReason]),
  recommendations: r.recommendations.map((x) => x.id),
});

describe('snatguard sim environment lines', () => {
  it.each([
    ['aks-mongo-leak.yaml', 'azure'],
    ['eks-conntrack.yaml', 'aws'],
  ])(
    '%s: exported, they make scan decide what replay decides (%s)',
    async (file, provider) => {
      const h = await harness(await example(file));
      try {
        const lines = simEnv(h.sim, h.snapshot);
        const env = Object.fromEntries(lines);
        // Every line is one scan reads: the SNATGUARD_ ones are config keys (an unknown one fails the load).
        expect(() => loadConfig({ env })).not.toThrow();
        expect(env.SNATGUARD_PROVIDER).toBe(provider);
        expect(lines[0]?.[0]).toBe('KUBECONFIG');

        // A separate simulator for replay: each run writes the state ConfigMap the next one reads.
        const twin = await harness(await example(file));
        const replayed = await twin.run().finally(() => twin.close());
        const scanned = await runCli(cli.bundle, ['scan', '--output', 'json'], { ...env, HOME: cli.home });
        expect(scanned.stderr).not.toMatch(/unknown|invalid/i);
        expect(scanned.code).toBe(0);
        const report = JSON.parse(scanned.stdout) as RunReport;
        expect(report.status).toBe(replayed.status);
        expect(decisions(report)).toEqual(decisions(replayed));
        expect(report.nodes.some((n) => n.hot)).toBe(true);
        // The cloud was asked, with credentials the SDKs found on their own.
        const cloud = h.sim.world.requests.filter((r) => r.service === provider);
        expect(cloud.length).toBeGreaterThan(0);
        if (provider === 'azure')
          expect(h.sim.world.requests.some((r) => r.service === 'identity')).toBe(true);
        else
          expect(
            cloud.every((r) => /Credential=AKIDSNATGUARDSIM\//.test(String(r.headers.authorization))),
          ).toBe(true);
      } finally {
        await h.close();
      }
      // A fresh process per case: generous under a loaded machine (two cores, many suites); not a speed claim.
    },
    90_000,
  );
});
