// The lab in the test suite (root; CI runs it and a missing tool fails it): the distroless incident on
// this machine's kernel, through the product. `npm run lab` runs every scenario (test/lab/scenarios.ts).
import { describe, expect, it } from 'vitest';
import { requireRoot } from './netns.js';
import { distroless } from './scenarios.js';

const lab = requireRoot(['ip', 'iptables', 'conntrack']);

describe.skipIf(lab.skip)('lab: a distroless hog on a real MASQUERADE (root)', () => {
  it('is found, attributed through conntrack, restarted, and exec and conntrack agree', {
    timeout: 60_000,
  }, async () => {
    lab.check();
    const r = await distroless();
    const failed = r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    expect(failed).toEqual([]);
    expect(r.passed).toBe(true);
    expect(r.offenders?.[0]).toMatchObject({ workload: 'shop/Deployment/orders-api', method: 'conntrack' });
    expect(r.restarted).toEqual(['shop/Deployment/orders-api']);
    expect(r.portsInUseBefore).toBe(64);
    expect(r.failedConnectsBefore).toBeGreaterThan(0);
    expect(r.execSockets).toBeGreaterThan(0);
    expect(Math.abs((r.execSockets ?? 0) - (r.conntrackFlows ?? 0))).toBeLessThanOrEqual(
      0.02 * (r.execSockets ?? 0),
    );
  });
});
