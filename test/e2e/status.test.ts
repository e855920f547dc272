// RunReport.status end to end, against the simulator through the real clients: a run that could not look
// says so (status failed, its own chat message, no "Recovered"), a run cut by its deadline keeps what it
// found. Each of these reported a green all-clear, or threw the findings away, before issue 12.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect } from '../../src/cluster/connect.js';
import { compose } from '../../src/compose.js';
import { type Config, loadConfig } from '../../src/config/index.js';
import { renderReport } from '../../src/hosts/cli/output.js';
import { configForSnapshot } from '../../src/hosts/cli/run-commands.js';
import { simPressureTargets } from '../../src/hosts/cli/sim-targets.js';
import { createLogger } from '../../src/log.js';
import type { RunReport } from '../../src/model.js';
import { type SlackPayload, slackPlainText } from '../../src/notify/slack.js';
import { packageRoot } from '../../src/paths.js';
import { runScan } from '../../src/run.js';
import { fetchTrusting } from '../../src/sim/fetch.js';
import { receivedOf } from '../../src/sim/sinks.js';
import { aDeployment, aSnapshot, example, type Harness, harness } from './harness.js';

const log = createLogger({ level: 'silent' });

/** One scheduled run against the simulator, chat to its Slack sink (the real HTTP path). */
async function run(
  h: Harness,
  flags: Record<string, unknown> = {},
  tweak: (deps: Awaited<ReturnType<typeof compose>>, abort: AbortController) => void = () => {},
): Promise<RunReport> {
  let config: Config = configForSnapshot(loadConfig({ env: {}, flags }), h.snapshot);
  config = { ...config, notify: { ...config.notify, slack: { webhookUrl: h.sim.endpoints.slack! } } };
  const kubeConfig = await connect({ kind: 'kubeconfig', path: h.sim.jobKubeconfigPath }, { log });
  const deps = await compose(config, {
    kubeConfig,
    log,
    world: h.sim.world,
    pressure: simPressureTargets(h.sim),
    fetch: fetchTrusting(h.sim.ca),
  });
  const abort = new AbortController();
  tweak(deps, abort);
  return runScan(config, deps, abort.signal);
}

const slack = (h: Harness): string[] =>
  receivedOf(h.sim.world)
    .filter((m) => m.channel === 'slack' && m.status < 300)
    .map((m) => slackPlainText(m.json as SlackPayload).split('\n')[0]!);

describe('status end to end', () => {
  it('every pressure source failing: failed, "could not check" once, no Recovered, then "can see again"', async () => {
    const h = await harness(await example('aks-mongo-leak.yaml'));
    try {
      const first = await run(h);
      expect(first.status).toBe('complete');
      // Every Azure call refused (403, not retried by the SDKs): no pressure source answers.
      h.sim.world.faults.failNext.azure = { status: 403, count: 10_000 };
      const blind = await run(h);
      const blindAgain = await run(h);
      delete h.sim.world.faults.failNext.azure;
      const back = await run(h);

      expect(blind.status).toBe('failed');
      expect(blind.statusReason).toMatch(/^no pressure source answered: azure/);
      expect(blind.nodes).toEqual([]);
      expect(blindAgain.status).toBe('failed');
      expect(back.status).toBe('complete');
      const heard = slack(h);
      expect(heard).toHaveLength(3);
      expect(heard[0]).toMatch(/SNAT \w+ on aks-shop/);
      expect(heard[1]).toMatch(/snatguard could not check aks-shop: no pressure source answered: azure/);
      expect(heard[2]).toMatch(/snatguard can see aks-shop again/);
      expect(heard.join('\n')).not.toMatch(/Recovered/);
    } finally {
      await h.close();
    }
  });

  it('every AWS source failing (CloudWatch and EC2 refuse): failed once in chat, no Recovered, then "can see again"', async () => {
    const h = await harness(await example('eks-conntrack.yaml'));
    try {
      const first = await run(h);
      expect(first.status).not.toBe('failed');
      h.sim.world.faults.failNext.aws = { status: 403, count: 10_000 };
      const blind = await run(h);
      const blindAgain = await run(h);
      delete h.sim.world.faults.failNext.aws;
      const back = await run(h);

      expect(blind.status).toBe('failed');
      expect(blind.statusReason).toMatch(/^no pressure source answered: /);
      expect(blind.nodes).toEqual([]);
      expect(blindAgain.status).toBe('failed');
      expect(back.status).not.toBe('failed');
      const heard = slack(h);
      const cluster = first.cluster;
      expect(heard.filter((m) => m.includes(`snatguard could not check ${cluster}`))).toHaveLength(1);
      expect(heard.filter((m) => m.includes(`snatguard can see ${cluster} again`))).toHaveLength(1);
      expect(heard.join('\n')).not.toMatch(/Recovered/);
    } finally {
      await h.close();
    }
  });

  it('the Lease read failing (RBAC without leases): failed, "lock unreadable", nothing inspected', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'snatguard-rbac-'));
    const rbac = (await readFile(join(packageRoot(), 'infra/kubernetes/rbac.yaml'), 'utf8')).replace(
      / {2}- apiGroups: \["coordination\.k8s\.io"\]\n {4}resources: \["leases"\]\n {4}verbs: \[[^\]]*\]\n/,
      '',
    );
    expect(rbac).not.toContain('leases');
    await writeFile(join(dir, 'rbac.yaml'), rbac);
    const h = await harness(await example('aks-mongo-leak.yaml'), { rbacPath: join(dir, 'rbac.yaml') });
    try {
      const report = await run(h);
      expect(report.status).toBe('failed');
      expect(report.statusReason).toMatch(/^lock unreadable: .*forbidden/i);
      expect(h.sim.world.requests.some((r) => r.method === 'POST' && /\/exec/.test(r.path))).toBe(false);
      expect(h.sim.world.requests.some((r) => r.path.includes('/exec'))).toBe(false);
      expect(slack(h)[0]).toMatch(/snatguard could not check aks-shop: lock unreadable/);
    } finally {
      await h.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('deadline with a hanging pod beside a hog: partial/deadline, the hog and advice kept, no restart', async () => {
    const h = await harness(
      aSnapshot([
        aDeployment('hog', {
          replicas: 2,
          sockets: [{ remote: '20.103.144.194:27017', state: 'ESTABLISHED', count: 600 }],
        }),
        aDeployment('stuck', { exec: 'hang', pods: 1 }),
      ]),
    );
    try {
      const report = await run(h, { mode: 'restart', exec: { timeoutSeconds: 60 } }, (deps, abort) => {
        // The deadline fires once both hog pods were read (the stuck one never answers): deterministic.
        const exec = deps.exec;
        let hogsRead = 0;
        deps.exec = {
          read: async (pod, files, limits, signal) => {
            const text = await exec.read(pod, files, limits, signal);
            if (pod.name.startsWith('hog-') && ++hogsRead === 2) abort.abort(new Error('deadline'));
            return text;
          },
        };
      });
      expect(report.status).toBe('partial');
      expect(report.statusReason).toBe('deadline');
      expect(report.nodes.find((n) => n.name === 'node-a')).toMatchObject({ hot: true });
      expect(report.offenders.map((o) => [o.workload, o.snatSockets])).toEqual([
        ['shop/Deployment/hog', 1200],
      ]);
      expect(report.recommendations.map((r) => r.id)).toContain('CONNECTION_POOLING');
      expect(report.actions).toEqual([
        expect.objectContaining({
          workload: 'shop/Deployment/hog',
          status: 'skipped',
          skipReason: 'RAIL_CHECK_FAILED',
        }),
      ]);
      expect(h.sim.world.requests.some((r) => r.method === 'PATCH')).toBe(false);
    } finally {
      await h.close();
    }
  });
});

describe('what a run shows of what it found', () => {
  it('a bare Pod holding 300 sockets appears, skipped with UNSUPPORTED_KIND, in JSON, table and chat', async () => {
    const h = await harness(
      aSnapshot([
        aDeployment('hog', {
          pods: 2,
          sockets: [{ remote: '20.103.144.194:27017', state: 'ESTABLISHED', count: 300 }],
        }),
        aDeployment('lonely', {
          kind: 'Pod',
          pods: 1,
          sockets: [{ remote: '20.103.144.194:27017', state: 'ESTABLISHED', count: 300 }],
        }),
      ]),
    );
    try {
      const report = await run(h, { mode: 'restart' });
      expect(report.actions).toContainEqual(
        expect.objectContaining({
          workload: 'shop/Pod/lonely',
          status: 'skipped',
          skipReason: 'UNSUPPORTED_KIND',
        }),
      );
      expect(renderReport(report, 'table')).toMatch(/shop\/Pod\/lonely +skipped \(UNSUPPORTED_KIND\)/);
      const chat = receivedOf(h.sim.world)
        .map((m) => slackPlainText(m.json as SlackPayload))
        .join('\n');
      expect(chat).toContain('shop/Pod/lonely');
      expect(chat).toContain('UNSUPPORTED_KIND');
    } finally {
      await h.close();
    }
  });
});

describe('one count of uninspectable pods everywhere', () => {
  it('table, Markdown, chat, advice and statusReason give the same number; a watched node adds none (failed before: the advice counted the watched node)', async () => {
    const snapshot = aSnapshot([
      // node-a (hot): three pods without `cat` and no SNAT flow the node's table could count them by,
      // one whose exec errors; node-b (watched for the forecast only, 45% used): one more without `cat`.
      aDeployment('distroless', { pods: 3, exec: 'no-cat', sockets: [] }),
      aDeployment('broken', { pods: 1, exec: 'error', sockets: [] }),
      aDeployment('quiet', { node: 'node-b', pods: 1, exec: 'no-cat', sockets: [] }),
    ]);
    snapshot.nodes[0]!.metrics = { usedSnatPorts: 1024, allocatedSnatPorts: 1024, failedSnatConnections: 12 };
    snapshot.nodes[1]!.metrics = { usedSnatPorts: 460, allocatedSnatPorts: 1024, failedSnatConnections: 0 };
    const h = await harness(snapshot);
    try {
      const report = await run(h);
      const nodeA = report.nodes.find((n) => n.name === 'node-a');
      expect(nodeA).toMatchObject({ hot: true, podsUninspectable: 3, podsFailed: 1 });
      expect(report.nodes.find((n) => n.name === 'node-b')?.hot).toBe(false);
      expect(report.status).toBe('partial');
      expect(report.statusReason).toContain('3 pods uninspectable');
      expect(report.statusReason).toContain('1 pod could not be read');
      const advice = report.recommendations.find((r) => r.id === 'UNINSPECTABLE_PODS');
      expect(advice?.title).toBe('3 pods could not be inspected');
      expect(advice?.detail).toMatch(/^3 pods on node-a could not be read/);
      expect(renderReport(report, 'table')).toMatch(/node-a +\S+ \(\+3 uninspectable, 1 failed\)/);
      expect(renderReport(report, 'markdown')).toContain('| node-a | 1 (+3 uninspectable, 1 failed) |');
      const chat = receivedOf(h.sim.world)
        .map((m) => slackPlainText(m.json as SlackPayload))
        .join('\n');
      expect(chat).toMatch(/node-a — .*3 uninspectable, 1 failed/);
      expect(chat).toContain('3 pods could not be inspected');
    } finally {
      await h.close();
    }
  });
});
