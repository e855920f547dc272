import { describe, expect, it } from 'vitest';
import { BoundedSink, TailSink } from '../../src/cluster/bounded.js';
import { execFailure, exitCodeOf, onlyMissingFiles } from '../../src/cluster/exec.js';
import { liveHolder } from '../../src/cluster/lease.js';
import { createLimiter } from '../../src/cluster/limit.js';
import { probeCandidates } from '../../src/cluster/node-probe.js';
import { daemonSetStatus, deploymentStatus, toNodeInfo, toPodInfo } from '../../src/cluster/reader.js';
import { RESTARTED_AT, restartPatch, rfc3339 } from '../../src/cluster/restart.js';
import { parseState } from '../../src/cluster/state.js';
import { emptyState, type PodInfo } from '../../src/model.js';

describe('BoundedSink', () => {
  it('keeps everything up to the limit', async () => {
    const sink = new BoundedSink(10);
    sink.write(Buffer.from('hello '));
    sink.write('world');
    expect(sink.exceeded).toBe(true); // 11 bytes > 10
    const small = new BoundedSink(11);
    small.write(Buffer.from('hello '));
    small.write('world');
    expect(small.exceeded).toBe(false);
    expect(small.text()).toBe('hello world');
  });

  it('calls onOverflow once, synchronously, and drops the data', () => {
    const seen: number[] = [];
    const sink = new BoundedSink(4, (n) => seen.push(n));
    sink.write('abc');
    expect(seen).toEqual([]);
    sink.write('de');
    sink.write('fgh');
    expect(seen).toEqual([5]);
    expect(sink.text()).toBe('');
  });

  it('does not throw on write after end', () => {
    const sink = new BoundedSink(100);
    sink.write('a');
    sink.end();
    expect(() => sink.write('b')).not.toThrow();
    expect(sink.text()).toBe('a');
  });
});

describe('TailSink', () => {
  it('keeps the last bytes', () => {
    const sink = new TailSink(5);
    sink.write('0123456789');
    sink.write('ab');
    expect(sink.text()).toBe('789ab');
  });
});

describe('createLimiter', () => {
  it.each([1, 2, 5])('never runs more than %i at once and runs them all', async (n) => {
    const limit = createLimiter(n);
    let running = 0;
    let peak = 0;
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        limit(async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setImmediate(r));
          running--;
          return i * 2;
        }),
      ),
    );
    expect(peak).toBe(n);
    expect(results).toEqual(Array.from({ length: 12 }, (_, i) => i * 2));
  });

  it('keeps going after a rejected or throwing task', async () => {
    const limit = createLimiter(1);
    const a = limit(() => Promise.reject(new Error('boom')));
    const b = limit(() => {
      throw new Error('sync');
    });
    const c = limit(async () => 'ok');
    await expect(a).rejects.toThrow('boom');
    await expect(b).rejects.toThrow('sync');
    await expect(c).resolves.toBe('ok');
  });
});

describe('exec status helpers', () => {
  it.each([
    [{ status: 'Success' }, 0],
    [
      {
        status: 'Failure',
        reason: 'NonZeroExitCode',
        details: { causes: [{ reason: 'ExitCode', message: '126' }] },
      },
      126,
    ],
    [{ status: 'Failure', message: 'internal error' }, undefined],
  ])('exitCodeOf(%j) = %s', (status, code) => {
    expect(exitCodeOf(status)).toBe(code);
  });

  it.each([
    [
      'command terminated with non-zero exit code: exit status 127',
      'OCI runtime exec failed: exec failed: unable to start container process: exec: "cat": executable file not found in $PATH: unknown',
      'not-found',
    ],
    ['exec: "cat": executable file not found in $PATH', '', 'not-found'],
    [
      'command terminated with non-zero exit code: exit status 1',
      'cat: /proc/net/tcp: Permission denied',
      'failed',
    ],
    ['Unexpected server response: 500', '', 'failed'],
  ] as const)('execFailure(%s) is %s', (message, stderr, kind) => {
    const e = execFailure(message, stderr);
    expect(e.kind).toBe(kind);
    if (kind === 'failed' && stderr) expect(e.message).toContain(stderr);
  });

  it.each([
    ['cat: /proc/net/tcp6: No such file or directory\n', 'sl ...', true],
    ['cat: /proc/net/tcp6: No such file or directory\n', '', false],
    ['cat: /proc/net/tcp: Permission denied\n', 'sl ...', false],
    ['', 'sl ...', false],
  ])('onlyMissingFiles(%j, %j) = %s', (stderr, stdout, expected) => {
    expect(onlyMissingFiles(stderr, stdout)).toBe(expected);
  });
});

describe('liveHolder', () => {
  const at = Date.parse('2025-01-01T12:00:00Z');
  it.each([
    [
      'held and fresh',
      { holderIdentity: 'a', renewTime: '2025-01-01T11:59:30.000000Z', leaseDurationSeconds: 60 },
      'a',
    ],
    [
      'held but expired',
      { holderIdentity: 'a', renewTime: '2025-01-01T11:58:00.000000Z', leaseDurationSeconds: 60 },
      undefined,
    ],
    ['released', { renewTime: '2025-01-01T11:59:30.000000Z', leaseDurationSeconds: 60 }, undefined],
    ['Date renewTime', { holderIdentity: 'b', renewTime: new Date(at - 1000), leaseDurationSeconds: 5 }, 'b'],
    ['no duration', { holderIdentity: 'a', renewTime: '2025-01-01T11:59:30Z' }, undefined],
  ])('%s', (_name, spec, holder) => {
    expect(liveHolder({ spec: spec as never }, at)).toBe(holder);
  });
});

describe('restartPatch', () => {
  it('sets the template annotation and the cooldown record with the same RFC 3339 time', () => {
    const now = new Date('2025-03-04T05:06:07.891Z');
    const body = restartPatch('900 sockets to 20.103.144.194:27017', now) as {
      metadata: { annotations: Record<string, string> };
      spec: { template: { metadata: { annotations: Record<string, string> } } };
    };
    expect(rfc3339(now)).toBe('2025-03-04T05:06:07Z');
    expect(body.spec.template.metadata.annotations[RESTARTED_AT]).toBe('2025-03-04T05:06:07Z');
    expect(body.metadata.annotations['snatguard.io/restarted-at']).toBe('2025-03-04T05:06:07Z');
    expect(body.metadata.annotations['snatguard.io/reason']).toBe('900 sockets to 20.103.144.194:27017');
  });
});

describe('parseState', () => {
  it.each([
    ['missing', undefined, emptyState(), 0],
    ['empty', '', emptyState(), 0],
    ['not JSON', '{"conntrack":', emptyState(), 1],
    ['an array', '[]', emptyState(), 1],
    [
      'valid',
      JSON.stringify({
        conntrack: { n1: { insertFailed: 3, drop: 1, earlyDrop: 0, at: '2025-01-01T00:00:00Z' } },
        notified: { k: { firstSeen: 'a', lastSent: 'b', severity: 'warning' } },
      }),
      {
        conntrack: { n1: { insertFailed: 3, drop: 1, earlyDrop: 0, at: '2025-01-01T00:00:00Z' } },
        notified: { k: { firstSeen: 'a', lastSent: 'b', severity: 'warning' } },
      },
      0,
    ],
    [
      'partly corrupt',
      JSON.stringify({
        conntrack: { n1: { insertFailed: 'x' }, n2: { insertFailed: 1, drop: 2, earlyDrop: 3, at: 't' } },
        notified: 7,
      }),
      { conntrack: { n2: { insertFailed: 1, drop: 2, earlyDrop: 3, at: 't' } }, notified: {} },
      2,
    ],
  ])('%s', (_name, text, state, problems) => {
    const parsed = parseState(text);
    expect(parsed.state).toEqual(state);
    expect(parsed.problems).toHaveLength(problems);
  });
});

describe('object mapping', () => {
  it('maps a Node', () => {
    const info = toNodeInfo({
      metadata: { name: 'n1', labels: { pool: 'a' } },
      spec: { providerID: 'azure:///x/0', podCIDR: '10.244.0.0/24' },
      status: {
        addresses: [
          { type: 'Hostname', address: 'n1' },
          { type: 'InternalIP', address: '10.224.0.4' },
        ],
        conditions: [{ type: 'Ready', status: 'True' } as never],
      },
    });
    expect(info).toEqual({
      name: 'n1',
      labels: { pool: 'a' },
      ready: true,
      podCIDRs: ['10.244.0.0/24'],
      internalIP: '10.224.0.4',
      providerID: 'azure:///x/0',
    });
  });

  it('maps a Pod and picks the default container', () => {
    const info = toPodInfo({
      metadata: {
        namespace: 'shop',
        name: 'p',
        annotations: { 'kubectl.kubernetes.io/default-container': 'app' },
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u', controller: true },
        ],
      },
      spec: { nodeName: 'n1', hostNetwork: false, containers: [{ name: 'sidecar' }, { name: 'app' }] },
      status: { phase: 'Running', podIP: '10.244.0.9' },
    });
    expect(info.container).toBe('app');
    expect(info.containers).toEqual(['sidecar', 'app']);
    expect(info.ip).toBe('10.244.0.9');
    expect(info.ownerReferences[0]?.kind).toBe('ReplicaSet');
  });

  it('derives unavailable replicas of a Deployment without the field', () => {
    const s = deploymentStatus(
      { namespace: 'a', kind: 'Deployment', name: 'd' },
      {
        metadata: { generation: 4 },
        spec: { replicas: 3, paused: true, selector: {}, template: {} },
        status: { availableReplicas: 1, observedGeneration: 3 },
      },
    );
    expect(s).toMatchObject({
      replicas: 3,
      availableReplicas: 1,
      unavailableReplicas: 2,
      paused: true,
      generation: 4,
      observedGeneration: 3,
    });
  });

  it('maps DaemonSet counters', () => {
    const s = daemonSetStatus(
      { namespace: 'kube-system', kind: 'DaemonSet', name: 'aws-node' },
      {
        status: {
          desiredNumberScheduled: 5,
          updatedNumberScheduled: 4,
          numberUnavailable: 1,
          currentNumberScheduled: 5,
          numberMisscheduled: 0,
          numberReady: 4,
        },
      },
    );
    expect(s).toMatchObject({
      replicas: 5,
      updatedReplicas: 4,
      unavailableReplicas: 1,
      availableReplicas: 4,
    });
  });
});

describe('probeCandidates', () => {
  const pod = (name: string, over: Partial<PodInfo>): PodInfo => ({
    namespace: 'kube-system',
    name,
    node: 'n1',
    hostNetwork: true,
    phase: 'Running',
    labels: {},
    annotations: {},
    ownerReferences: [],
    containers: ['c'],
    ...over,
  });
  it('orders by target, skips pod-network and other-node pods', () => {
    const pods = [
      pod('probe-1', {
        namespace: 'snatguard',
        labels: { 'app.kubernetes.io/name': 'snatguard-node-probe' },
      }),
      pod('kube-proxy-b', { labels: { 'k8s-app': 'kube-proxy' } }),
      pod('kube-proxy-x', { labels: { 'k8s-app': 'kube-proxy' }, node: 'n2' }),
      pod('kube-proxy-pn', { labels: { 'k8s-app': 'kube-proxy' }, hostNetwork: false }),
      pod('kube-proxy-other-ns', { namespace: 'default', labels: { 'k8s-app': 'kube-proxy' } }),
    ];
    const names = probeCandidates('n1', pods, [
      { namespace: 'kube-system', selector: 'k8s-app=kube-proxy' },
      { selector: 'app.kubernetes.io/name=snatguard-node-probe' },
    ]).map((p) => p.name);
    expect(names).toEqual(['kube-proxy-b', 'probe-1']);
  });
});
