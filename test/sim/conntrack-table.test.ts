// The simulator's `conntrack -L -o extended` (src/sim/conntrack-table.ts), read through the real exec path
// from the node's hostNetwork pod: the product's parser and attribution must find every pod's SNAT sockets.
import { describe, expect, it } from 'vitest';
import { attributeFlows } from '../../src/analysis/attribution.js';
import { parseConntrackTable } from '../../src/analysis/conntrack-table.js';
import { connect } from '../../src/cluster/connect.js';
import { podExec } from '../../src/cluster/exec.js';
import { createLogger } from '../../src/log.js';
import { aDeployment, aSnapshot, harness } from '../e2e/harness.js';

describe('simulated conntrack table', () => {
  it('lists one translated flow per SNAT-consuming socket, attributable to its pod', async () => {
    const h = await harness(
      aSnapshot([
        aDeployment('leaky', {
          pods: 1,
          sockets: [
            { remote: '20.103.144.194:27017', state: 'ESTABLISHED', count: 30 },
            { remote: '20.103.144.194:27017', state: 'TIME_WAIT', count: 5 },
            { remote: '2001:db8::10:443', state: 'ESTABLISHED', count: 2, family: 'ipv6' },
            { remote: '10.0.0.10:53', state: 'ESTABLISHED', count: 4 },
            { local: ':8080', state: 'LISTEN' },
          ],
        }),
      ]),
    );
    try {
      const log = createLogger({ level: 'silent' });
      const kc = await connect({ kind: 'kubeconfig', path: h.sim.jobKubeconfigPath }, { log });
      const proxy = h.sim.world.podsOn('node-a').find((p) => p.hostNetwork)!;
      const leaky = h.sim.world.podsOn('node-a').find((p) => p.name.startsWith('leaky-'))!;
      const text = await podExec(kc).run!(
        { namespace: proxy.namespace, name: proxy.name },
        ['conntrack', '-L', '-o', 'extended'],
        { timeoutMs: 5000, maxBytes: 1 << 20 },
        new AbortController().signal,
      );
      const table = parseConntrackTable(text);
      expect(table.malformed).toBe(0);
      expect(table.flows).toHaveLength(37);
      const a = attributeFlows(
        table.flows,
        ['10.224.0.4'],
        [{ key: `shop/${leaky.name}`, ips: [leaky.ip], hostNetwork: false }],
        h.sim.world.classifier,
      );
      const mine = a.byPod.get(`shop/${leaky.name}`);
      expect(mine?.summary.byState).toEqual({ ESTABLISHED: 30, TIME_WAIT: 5 });
      expect(mine?.summary.destinations[0]?.remote).toBe('20.103.144.194:27017');
      // The IPv6 flows go to the node's IPv6 address, which the node object does not list: still counted.
      expect(a.snatFlows).toBe(37);
      // …but the pod is known here by its IPv4 only: its IPv6 flows stay unattributed.
      expect(a.unattributed).toBe(2);
      const anyNode = attributeFlows(table.flows, [], [], h.sim.world.classifier);
      expect(anyNode.snatFlows).toBe(37);
    } finally {
      await h.close();
    }
  });
});
