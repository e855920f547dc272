// Issue 16 item 9: a pod whose `cat` prints garbage is an inspection error, not "inspected, 0 sockets".
// Failed before: status ok, summary with 0 sockets, no error.
import { describe, expect, it } from 'vitest';
import { inspectNode } from '../../src/cluster/inspect.js';
import type { PodInfo } from '../../src/model.js';
import type { PodExec } from '../../src/ports.js';
import { createClassifier } from '../../src/sockets/address.js';
import { renderProcNetTcp } from '../../src/sockets/render.js';

const pod = (name: string): PodInfo => ({
  namespace: 'shop',
  name,
  node: 'n1',
  hostNetwork: false,
  phase: 'Running',
  labels: {},
  annotations: {},
  ownerReferences: [],
  containers: ['app'],
  container: 'app',
});

const outputs: Record<string, string> = {
  garbage: 'Lorem ipsum dolor sit amet\n\x1b]52;c;ZWNobyBoaQ==\x07\nnot a socket table at all\n',
  binary: Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37) % 256)).toString('latin1'),
  headerOnly: renderProcNetTcp([], 'tcp') + renderProcNetTcp([], 'tcp6'),
};
const exec: PodExec = { read: async (ref) => outputs[ref.name] ?? '' };

describe('garbage from a pod', () => {
  it('is an error with the pod as target; a pod with only headers is a pod without sockets', async () => {
    const result = await inspectNode('n1', Object.keys(outputs).map(pod), {
      exec,
      limits: { timeoutMs: 1000, maxBytes: 1 << 20 },
      concurrency: 2,
      classifier: createClassifier({ clusterCidrs: ['10.244.0.0/16'] }),
      signal: new AbortController().signal,
      log: { debug() {}, info() {}, warn() {}, error() {} },
    });
    const byName = new Map(result.inspections.map((i) => [i.pod.name, i]));
    expect(byName.get('garbage')).toMatchObject({
      status: 'failed',
      reason: expect.stringMatching(/^not \/proc\/net\/tcp output: \d+ unreadable lines?, no socket line$/),
    });
    expect(byName.get('binary')).toMatchObject({ status: 'failed' });
    expect(byName.get('headerOnly')).toMatchObject({
      status: 'ok',
      summary: expect.objectContaining({ snatSockets: 0 }),
    });
    expect(result.errors.map((e) => [e.stage, e.target]).sort()).toEqual([
      ['inspect', 'shop/binary'],
      ['inspect', 'shop/garbage'],
    ]);
  });
});
