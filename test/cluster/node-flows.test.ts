// The node's conntrack listing through the real exec path (simulator: HTTPS + the exec WebSocket, 32 KiB
// frames as kube-apiserver writes them), streamed into the flow counter frame by frame (issue 13: "no
// pod's text is held whole"), bounded by the exec limits, and abortable mid-stream.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countConntrackFlows } from '../../src/analysis/conntrack-table.js';
import { connect } from '../../src/cluster/connect.js';
import { podExec } from '../../src/cluster/exec.js';
import { CONNTRACK_LIST, nodeFlows } from '../../src/cluster/node-flows.js';
import { DEFAULT_PROBE_TARGETS } from '../../src/cluster/node-probe.js';
import { clusterReader } from '../../src/cluster/reader.js';
import { ExecError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import type { PodInfo } from '../../src/model.js';
import type { PodExec } from '../../src/ports.js';
import { aDeployment, aSnapshot, type Harness, harness } from '../e2e/harness.js';

const SOCKETS = 4_000; // ~800 KB of listing: 25 frames
const limits = { timeoutMs: 10_000, maxBytes: 64 << 20 };

let h: Harness;
let exec: ReturnType<typeof podExec>;
let pods: PodInfo[];

beforeAll(async () => {
  h = await harness(
    aSnapshot([
      aDeployment('hog', {
        pods: 1,
        exec: 'no-cat',
        sockets: [
          { remote: '20.103.144.194:27017', state: 'ESTABLISHED', count: SOCKETS },
          { remote: '20.103.144.195:443', state: 'TIME_WAIT', count: 10 },
        ],
      }),
    ]),
  );
  const kc = await connect(
    { kind: 'kubeconfig', path: h.sim.jobKubeconfigPath },
    { log: createLogger({ level: 'silent' }) },
  );
  exec = podExec(kc);
  pods = await clusterReader(kc).podsOn('node-a');
});

afterAll(() => h.close());

/** The real exec, with what nodeFlows asks of it recorded. */
function recording(options: { abortAfterFrames?: AbortController; withoutStream?: boolean } = {}) {
  const seen = { runs: 0, streams: 0, frames: 0, largest: 0 };
  const wrapped: PodExec = {
    read: exec.read,
    run: (...args) => {
      seen.runs++;
      return exec.run!(...args);
    },
  };
  if (!options.withoutStream)
    wrapped.runStream = (pod, command, l, signal, onStdout) => {
      seen.streams++;
      return exec.runStream!(pod, command, l, signal, (chunk) => {
        seen.frames++;
        seen.largest = Math.max(seen.largest, chunk.length);
        onStdout(chunk);
        if (seen.frames === 1) options.abortAfterFrames?.abort(new Error('deadline'));
      });
    };
  return { exec: wrapped, seen };
}

/** The listing as the probe pod prints it, read whole (for the expected counts only). */
async function wholeListing(): Promise<string> {
  const probe = pods.find((p) => p.hostNetwork && p.namespace === 'snatguard')!;
  return exec.run!(
    probe.containers.includes('conntrack') ? { ...probe, container: 'conntrack' } : probe,
    CONNTRACK_LIST,
    limits,
    new AbortController().signal,
  );
}

describe('nodeFlows', () => {
  it('streams the listing into the counter frame by frame; never reads it whole (was: exec.run, the text whole)', async () => {
    const r = recording();
    const counts = await nodeFlows(r.exec, { targets: DEFAULT_PROBE_TARGETS, limits })(
      'node-a',
      new AbortController().signal,
      pods,
    );
    expect(r.seen.runs).toBe(0);
    expect(r.seen.streams).toBe(1);
    expect(r.seen.frames).toBeGreaterThan(10);
    expect(r.seen.largest).toBe(32 * 1024);
    expect(counts.flows).toBe(SOCKETS + 10);
    // One group per destination and state, not one entry per flow.
    expect(counts.groups.map((g) => [g.reply.src, g.state, g.count])).toEqual([
      ['20.103.144.194', 'ESTABLISHED', SOCKETS],
      ['20.103.144.195', 'TIME_WAIT', 10],
    ]);
    expect(counts).toEqual(countConntrackFlows(await wholeListing()));
  });

  it('a PodExec without runStream still answers, from the whole text (the same counts)', async () => {
    const r = recording({ withoutStream: true });
    const counts = await nodeFlows(r.exec, { targets: DEFAULT_PROBE_TARGETS, limits })(
      'node-a',
      new AbortController().signal,
      pods,
    );
    expect(r.seen.runs).toBe(1);
    expect(counts).toEqual(countConntrackFlows(await wholeListing()));
  });

  it('stops mid-stream when the run is aborted: an aborted ExecError, no partial counts', async () => {
    const abort = new AbortController();
    const r = recording({ abortAfterFrames: abort });
    const read = nodeFlows(r.exec, { targets: DEFAULT_PROBE_TARGETS, limits })('node-a', abort.signal, pods);
    await expect(read).rejects.toBeInstanceOf(ExecError);
    await expect(read).rejects.toMatchObject({ kind: 'aborted' });
    expect(r.seen.frames).toBeLessThan(25);
  });

  it('a listing longer than exec.maxBytes is refused as too large, like a pod’s tables', async () => {
    const r = recording();
    const read = nodeFlows(r.exec, {
      targets: DEFAULT_PROBE_TARGETS,
      limits: { timeoutMs: 10_000, maxBytes: 100_000 },
    })('node-a', new AbortController().signal, pods);
    await expect(read).rejects.toMatchObject({ kind: 'too-large' });
    expect(r.seen.frames).toBeLessThanOrEqual(Math.ceil(100_000 / (32 * 1024)));
  });
});
