// Issue 16 items 5 and 9 against the simulator: a Recreate Deployment is not restarted; the state save
// uses the ConfigMap's resourceVersion (a concurrent save is merged, not overwritten).
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSettle } from '../../src/cluster/lease.js';
import { configMapState, STATE_KEY } from '../../src/cluster/state.js';
import { emptyState } from '../../src/model.js';
import { aDeployment, aSnapshot } from '../e2e/harness.js';
import { type FaultHarness, faultHarness } from './harness.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
let h: FaultHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('RECREATE_STRATEGY in a run (failed before: the Recreate Deployment was restarted)', () => {
  it('skips a 3-replica Deployment with strategy Recreate unless rails.allowRecreate', async () => {
    h = await faultHarness(aSnapshot([aDeployment('orders', { replicas: 3, pods: 3, node: 'node-a' })]));
    const d = h.sim.world.get('deployments', 'shop', 'orders');
    h.sim.world.update('deployments', 'shop', 'orders', {
      ...d,
      spec: { ...d.spec, strategy: { type: 'Recreate' } },
    });
    const report = await h.run({ mode: 'restart' });
    expect(report.actions[0]).toMatchObject({ status: 'skipped', skipReason: 'RECREATE_STRATEGY' });
    const allowed = await h.run({ mode: 'restart', rails: { allowRecreate: true } });
    expect(allowed.actions[0]).toMatchObject({ status: 'applied' });
  });
});

describe('state save with the resourceVersion of the load (failed before: last writer wins)', () => {
  it('two runs that loaded the same state both keep their entries', async () => {
    h = await faultHarness(aSnapshot([aDeployment('orders', { node: 'node-a' })]));
    const kc = new KubeConfig();
    kc.loadFromString(h.proxy.kubeconfigYaml());
    const a = configMapState(kc, 'snatguard', silent);
    const b = configMapState(kc, 'snatguard', silent);
    await a.save(emptyState());
    await Promise.all([a.load(), b.load()]);
    const at = '2026-11-23T22:00:00Z';
    await a.save({
      ...emptyState(),
      notified: { 'alert-a': { firstSeen: at, lastSent: at, severity: 'warning' } },
    });
    await b.save({
      ...emptyState(),
      notified: { 'alert-b': { firstSeen: at, lastSent: at, severity: 'critical' } },
    });
    const cm = h.sim.world.get('configmaps', 'snatguard', 'snatguard-state');
    const saved = JSON.parse(String((cm as { data?: Record<string, string> }).data?.[STATE_KEY]));
    expect(Object.keys(saved.notified).sort()).toEqual(['alert-a', 'alert-b']);
    // b's first write was refused (409) and retried on a's version.
    expect(
      h.proxy.seen.filter((l) => l.startsWith('PUT /api/v1/namespaces/snatguard/configmaps')),
    ).toHaveLength(3);
  });
});

describe('the settle record as read from the Lease', () => {
  it('a node named __proto__ is a plain key; a malformed entry is an error naming it', () => {
    const entry = { at: '2026-11-23T22:00:00Z', workload: 'shop/Deployment/orders', runId: 'r1' };
    const record = parseSettle(`{"__proto__": ${JSON.stringify(entry)}, "node-a": ${JSON.stringify(entry)}}`);
    expect(Object.keys(record).sort()).toEqual(['__proto__', 'node-a']);
    expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(record, '__proto__')?.value).toEqual(entry);
    expect(() => parseSettle('{"node-a": {"at": "yesterday"}}')).toThrow(/entry "node-a" is malformed/);
    expect(() => parseSettle('[]')).toThrow(/not a JSON object/);
  });
});
