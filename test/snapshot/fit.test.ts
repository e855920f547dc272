// A capture holds what the cluster holds; what the format cannot (an IPv6-only pod IP, a name longer than
// the format allows, a count past max) is removed at the smallest place and listed as missing, so the file
// still loads and still holds everything else.
import { describe, expect, it } from 'vitest';
import { parseSnapshot } from '../../src/sim/snapshot.js';
import type { SnapshotDoc } from '../../src/snapshot/capture.js';
import { fitToFormat, parsePath } from '../../src/snapshot/fit.js';

const validate = (d: SnapshotDoc) => {
  parseSnapshot(JSON.stringify(d), 'capture');
};

const doc = (): SnapshotDoc => ({
  apiVersion: 'snatguard.io/v1',
  kind: 'Snapshot',
  metadata: { name: 'c', capture: { at: '2026-11-23T00:00:00Z', nodes: 'all' } },
  cloud: { provider: 'none' },
  cluster: { podCIDR: '10.244.0.0/16' },
  nodes: [
    {
      name: 'n1',
      internalIP: '10.224.0.4',
      conntrack: { count: 900, max: 100, insertFailed: 0, drop: 0, earlyDrop: 0, beLiberal: false },
    },
    { name: 'n2', internalIP: 'fd00::5' },
  ],
  workloads: [
    {
      kind: 'Deployment',
      namespace: 'shop',
      name: 'api',
      labels: { app: 'api' },
      annotations: {},
      pods: [
        {
          name: 'api-5d9c7b8f6d-x2k4q',
          node: 'n1',
          ip: 'fd00::17',
          sockets: [{ remote: '20.1.1.1:443', state: 'ESTABLISHED', count: 5 }],
        },
        {
          name: 'api-5d9c7b8f6d-y3l5r',
          node: 'n1',
          ip: '10.244.0.18',
          sockets: [{ remote: '20.1.1.1:443', state: 'ESTABLISHED', count: 7 }],
        },
      ],
    },
    {
      kind: 'Deployment',
      namespace: 'shop',
      name: `x${'a'.repeat(70)}`,
      labels: {},
      annotations: {},
      pods: [{ name: 'p-1', node: 'n2' }],
    },
  ],
});

describe('fitToFormat', () => {
  it('a valid document is returned as it is', () => {
    const d = doc();
    d.nodes[0]!.conntrack!.max = 131072;
    d.nodes[1]!.internalIP = '10.224.0.5';
    d.workloads[0]!.pods[0]!.ip = '10.244.0.17';
    d.workloads.pop();
    expect(fitToFormat(d, validate)).toEqual(d);
  });

  it('removes each problem at the smallest place, lists it, and keeps everything else', () => {
    const fitted = fitToFormat(doc(), validate);
    expect(() => validate(fitted)).not.toThrow();
    expect(fitted.nodes[0]!.conntrack).toBeUndefined(); // count above max: the reading, not the node
    expect(fitted.nodes[1]).toEqual({ name: 'n2' }); // an IPv6 InternalIP: the field
    expect(fitted.workloads[0]!.pods[0]!.ip).toBeUndefined(); // an IPv6 pod IP: the field; its sockets stay
    expect(fitted.workloads[0]!.pods[0]!.sockets).toEqual([
      { remote: '20.1.1.1:443', state: 'ESTABLISHED', count: 5 },
    ]);
    expect(fitted.workloads[0]!.pods[1]!.ip).toBe('10.244.0.18');
    expect(fitted.workloads).toHaveLength(1); // a name the format refuses: the workload
    expect(fitted.metadata.capture.missing).toEqual([
      expect.stringMatching(/^not in the format: nodes\[0\]\.conntrack\.count: 900 is above max 100/),
      expect.stringMatching(/^not in the format: nodes\[1\]\.internalIP: /),
      expect.stringMatching(/^not in the format: workloads\[0\]\.pods\[0\]\.ip: /),
      expect.stringMatching(/^not in the format: workloads\[1\]\.name: /),
    ]);
  });

  it('paths: list indexes, and label keys with dots and slashes kept whole', () => {
    expect(parsePath('workloads[2].pods[0].ip')).toEqual(['workloads', 2, 'pods', 0, 'ip']);
    expect(parsePath('workloads[1].labels.app.kubernetes.io/name')).toEqual([
      'workloads',
      1,
      'labels',
      'app.kubernetes.io/name',
    ]);
  });
});
