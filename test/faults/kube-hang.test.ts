// Issue 16 item 2: a hung Kubernetes API must not hold a run past its deadline. Before the fix every one
// of these hung until the test timed out (no call carried a signal or a timeout). 0.8 s per call: short,
// yet long enough that the calls that do answer make it on a loaded machine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aDeployment, aSnapshot } from '../e2e/harness.js';
import { type FaultHarness, faultHarness } from './harness.js';

const LEASE = /^(GET|PUT|POST) \/apis\/coordination\.k8s\.io\/v1\/namespaces\/snatguard\/leases/;
const cases: { call: string; match: RegExp; stage: string; target: RegExp }[] = [
  { call: 'node list', match: /^GET \/api\/v1\/nodes/, stage: 'nodes', target: /nodes/ },
  { call: 'Lease read', match: LEASE, stage: 'lock', target: /lease\/snatguard\/snatguard/ },
  { call: 'pod list', match: /^GET \/api\/v1\/pods\?/, stage: 'inspect', target: /node\/node-a/ },
  {
    call: 'workload read',
    match: /^GET \/apis\/apps\/v1\/namespaces\/shop\/deployments\/orders/,
    stage: 'plan',
    target: /shop\/Deployment\/orders/,
  },
  {
    call: 'restart PATCH',
    match: /^PATCH \/apis\/apps\/v1\/namespaces\/shop\/deployments\/orders/,
    stage: 'act',
    target: /shop\/Deployment\/orders/,
  },
  {
    call: 'state load',
    match: /^GET \/api\/v1\/namespaces\/snatguard\/configmaps\/snatguard-state/,
    stage: 'state',
    target: /configmap\/snatguard\/snatguard-state/,
  },
  {
    call: 'state save',
    match: /^(PUT|POST) \/api\/v1\/namespaces\/snatguard\/configmaps/,
    stage: 'state',
    target: /configmap\/snatguard\/snatguard-state/,
  },
];

describe('a Kubernetes API that never answers (issue 16 item 2)', () => {
  let h: FaultHarness;
  beforeAll(async () => {
    h = await faultHarness(
      aSnapshot([aDeployment('orders', { replicas: 3, pods: 3, node: 'node-a' })], {
        cluster: { version: '1.31', podCIDR: '10.244.0.0/16', serviceCIDR: '10.0.0.0/16' },
      }),
    );
  });
  afterAll(() => h.close());

  it.each(cases)('$call: the run ends with an error naming $stage', async ({ match, stage, target }) => {
    h.clear();
    h.fault({ match, fault: { kind: 'hang' } });
    const report = await h.run({
      mode: 'restart',
      cluster: { requestTimeoutSeconds: 0.8 },
      deadlineSeconds: 20,
    });
    const error = report.errors.find((e) => e.stage === stage && target.test(e.target));
    expect(error, JSON.stringify(report.errors)).toBeDefined();
    expect(error!.message).toMatch(/timed out after 800 ms/);
    // Restart mode: the restart happened only where its calls answered.
    const action = report.actions.find((a) => a.workload === 'shop/Deployment/orders');
    if (stage === 'act') expect(action?.status).toBe('failed');
    h.clear();
  });
});
