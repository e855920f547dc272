// Issue 16 item 4: the cap on a cloud read must fire even after garbage collection (Node 20's
// AbortSignal.any can lose a timeout signal it alone holds: nodejs/node#57736), and a Retry-After far
// beyond the cap must not hold the read. Assertions are on outcomes (errors, request counts), not on time.

import type { ServerResponse } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import type { TimeWindow } from '../../src/model.js';
import { azurePressureSource } from '../../src/pressure/azure.js';
import { defaultRetry, withBound } from '../../src/pressure/types.js';
import {
  aksNodes,
  azureCloud,
  fakeWorld,
  type Harness,
  metrics,
  recordingCredential,
  startHarness,
} from './harness.js';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

const window: TimeWindow = { start: new Date('2026-11-20T10:00:00Z'), end: new Date('2026-11-20T10:05:00Z') };
const SUB = '11111111-2222-3333-4444-555555555555';

let harness: Harness | undefined;
const held: ServerResponse[] = [];
afterEach(async () => {
  for (const res of held.splice(0)) res.destroy();
  await harness?.close();
  harness = undefined;
});

/** Collects garbage while `work` runs, until it settles. */
async function collectingGarbage<T>(work: Promise<T>): Promise<T> {
  let settled = false;
  const done = work.finally(() => {
    settled = true;
  });
  done.catch(() => undefined); // the caller handles the outcome; this only marks it seen while we loop
  while (!settled) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  return done;
}

describe('the cap on a cloud read (issue 16 item 4, failed before the fix)', () => {
  it('fires after a full garbage collection (the timer is held while the read runs)', async () => {
    const read = withBound(
      new AbortController().signal,
      { ...defaultRetry, totalTimeoutMs: 150 },
      (signal) => {
        return new Promise<never>((_, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        });
      },
    );
    await expect(collectingGarbage(read)).rejects.toThrow(/cap of 150 ms/);
  });

  it('does not wait out ARM’s Retry-After: 3600; the throttling answer becomes the error', async () => {
    const world = fakeWorld(
      azureCloud(),
      aksNodes(1, () => metrics(10, 1024)),
    );
    world.faults.failNext['azure:arm'] = { status: 429, count: 1, retryAfterSeconds: 3600 };
    harness = await startHarness(world);
    // The default policy: a 60 s cap and 8 s at most between attempts.
    const source = azurePressureSource(
      {
        subscriptionId: SUB,
        resourceGroup: 'rg-shop',
        clusterName: 'aks-shop',
        armEndpoint: harness.url,
        metricsEndpoint: harness.url,
      },
      recordingCredential(),
      { ca: harness.ca },
    );

    const reading = await source.read(window, new AbortController().signal);

    expect(reading.errors).toHaveLength(1);
    expect(reading.errors[0]?.message).toMatch(
      /managed cluster lookup failed: .*try again after '3600' seconds/,
    );
    const arm = harness.world.requests.filter((r) => r.service === 'azure');
    expect(arm.map((r) => r.status)).toEqual([429]);
  });

  it('still honours a short Retry-After within the cap', async () => {
    const world = fakeWorld(
      azureCloud(),
      aksNodes(1, () => metrics(10, 1024)),
    );
    world.faults.failNext['azure:arm'] = { status: 429, count: 1, retryAfterSeconds: 0 };
    harness = await startHarness(world);
    const source = azurePressureSource(
      {
        subscriptionId: SUB,
        resourceGroup: 'rg-shop',
        clusterName: 'aks-shop',
        armEndpoint: harness.url,
        metricsEndpoint: harness.url,
      },
      recordingCredential(),
      { ca: harness.ca },
    );

    const reading = await source.read(window, new AbortController().signal);

    expect(reading.errors).toEqual([]);
    expect(reading.nodes).toHaveLength(1);
    expect(harness.world.requests.filter((r) => r.service === 'azure')[0]?.status).toBe(429);
  });
});

describe('the cap on a cloud read, through the SDK', () => {
  it('ends an Azure read whose ARM never answers, with GC running, as an error entry', async () => {
    harness = await startHarness(
      fakeWorld(
        azureCloud(),
        aksNodes(1, () => metrics(10, 1024)),
      ),
      [
        [
          'hang',
          (_req, res) => {
            held.push(res);
            return true;
          },
        ],
      ],
    );
    const source = azurePressureSource(
      {
        subscriptionId: SUB,
        resourceGroup: 'rg-shop',
        clusterName: 'aks-shop',
        armEndpoint: harness.url,
        metricsEndpoint: harness.url,
      },
      recordingCredential(),
      { ca: harness.ca, retry: { maxRetries: 0, baseDelayMs: 5, maxDelayMs: 20, totalTimeoutMs: 200 } },
    );

    const reading = await collectingGarbage(source.read(window, new AbortController().signal));

    expect(reading.nodes).toEqual([]);
    expect(reading.errors).toHaveLength(1);
    expect(reading.errors[0]?.message).toMatch(/managed cluster lookup failed/);
  });
});
