// Scan economy (issue #13): the owners of a hot node's pods cost one ReplicaSet list, not a GET per
// ReplicaSet, with the same attribution; when the list is refused (RBAC without `list`), ownerOf's own
// GETs give exactly the results and errors of a run without the list. Requests counted from the
// simulator's log (world.requests), the real client over HTTPS, held to infra/kubernetes/rbac.yaml.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/model.js';
import { packageRoot } from '../../src/paths.js';
import type { RecordedRequest } from '../../src/sim/types.js';
import { aDeployment, aSnapshot, harness } from './harness.js';

// Six Deployments in two namespaces, two pods each on node-a, 300 SNAT sockets per pod: node-a is hot.
const WORKLOADS = ['shop', 'billing'].flatMap((namespace) =>
  ['api', 'worker', 'cron'].map((name) => ({ namespace, name })),
);
const snapshot = () => aSnapshot(WORKLOADS.map(({ namespace, name }) => aDeployment(name, { namespace })));
const EXPECTED = WORKLOADS.map(({ namespace, name }) => `${namespace}/Deployment/${name}`).sort();

const RS_GET = /^\/apis\/apps\/v1\/namespaces\/[^/]+\/replicasets\/[^/]+$/;
const RS_LIST = /^\/apis\/apps\/v1\/replicasets$/;
const pathOf = (r: RecordedRequest) => r.path.replace(/\?.*$/, '');

async function scan(rbacPath?: string): Promise<{ report: RunReport; kube: RecordedRequest[] }> {
  const h = await harness(snapshot(), rbacPath ? { rbacPath } : {});
  try {
    const before = h.sim.world.requests.length;
    const report = await h.run({ mode: 'dry-run' });
    const kube = h.sim.world.requests.slice(before).filter((r) => r.service === 'kube');
    return { report, kube };
  } finally {
    await h.close();
  }
}

let dir: string;
const rbacVariant = (name: string, verbs: string): string => {
  const text = readFileSync(join(packageRoot(), 'infra', 'kubernetes', 'rbac.yaml'), 'utf8');
  const granted = '    resources: ["replicasets"]\n    verbs: ["get", "list"]';
  if (!text.includes(granted)) throw new Error('rbac.yaml no longer grants get, list on replicasets');
  const file = join(dir, name);
  writeFileSync(file, text.replace(granted, `    resources: ["replicasets"]\n    verbs: [${verbs}]`));
  return file;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'snatguard-economy-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('scan economy: owners', () => {
  it('resolves six ReplicaSets in two namespaces with one list and no ReplicaSet GET (fails on a GET per owner)', async () => {
    // Act
    const { report, kube } = await scan();

    // Assess: the same attribution, one ReplicaSet request in all.
    expect(report.errors).toEqual([]);
    expect(report.nodes.filter((n) => n.hot).map((n) => n.name)).toEqual(['node-a']);
    expect([...new Set(report.offenders.map((o) => o.workload))].sort()).toEqual(EXPECTED);
    expect(kube.filter((r) => RS_GET.test(pathOf(r)))).toEqual([]);
    const lists = kube.filter((r) => RS_LIST.test(pathOf(r)));
    expect(lists).toHaveLength(1);
    expect(lists[0]!.status).toBe(200);
    expect(decodeURIComponent(lists[0]!.query).replace(/\+/g, ' ')).toMatch(
      /labelSelector=pod-template-hash in \(/,
    );
    // Everything but execs: the "≤ execs + hot nodes + a small constant".
    const other = kube.filter((r) => !r.path.includes('/exec'));
    expect(other.length).toBeLessThanOrEqual(1 + 16);
  });

  it('a refused list (RBAC without list) falls back to one GET per ReplicaSet, same owners, no errors', async () => {
    const { report, kube } = await scan(rbacVariant('get-only.yaml', '"get"'));

    expect(report.errors).toEqual([]);
    expect([...new Set(report.offenders.map((o) => o.workload))].sort()).toEqual(EXPECTED);
    expect(kube.filter((r) => RS_LIST.test(pathOf(r))).map((r) => r.status)).toEqual([403]);
    expect(kube.filter((r) => RS_GET.test(pathOf(r)))).toHaveLength(WORKLOADS.length);
  });

  it('when ReplicaSets cannot be read at all, each pod gets the owners error of a GET, as before the list', async () => {
    const { report } = await scan(rbacVariant('none.yaml', ''));

    const owners = report.errors.filter((e) => e.stage === 'owners');
    // Two pods per workload, each with its own error naming the GET that failed.
    expect(owners).toHaveLength(2 * WORKLOADS.length);
    for (const e of owners) expect(e.message).toMatch(/^get ReplicaSet .*403|^get ReplicaSet .*forbidden/i);
    // Without an owner a pod stands for itself (as before): no Deployment is named, none is restarted.
    expect(report.offenders.filter((o) => o.workload.includes('/Deployment/'))).toEqual([]);
    expect(report.actions.filter((a) => a.status === 'applied')).toEqual([]);
  });
});
