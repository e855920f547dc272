// Dead exec frames are freed as the output streams (src/cluster/reclaim.ts): every RECLAIM_BYTES read, a
// minor collection. Observed through the runtime's own GC performance entries, not through time.
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { frameRead, RECLAIM_BYTES } from '../../src/cluster/reclaim.js';

async function minorCollections(work: () => void): Promise<number> {
  let minor = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      if ((e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
  });
  observer.observe({ entryTypes: ['gc'] });
  work();
  // GC entries are delivered asynchronously.
  await new Promise((r) => setTimeout(r, 50));
  observer.disconnect();
  return minor;
}

describe('frameRead', () => {
  it('collects the young generation once per RECLAIM_BYTES of exec output (32 KiB frames, as the API server writes)', async () => {
    const frame = 32 * 1024;
    const frames = (3 * RECLAIM_BYTES) / frame;
    const minor = await minorCollections(() => {
      for (let i = 0; i < frames; i++) frameRead(frame);
    });
    expect(minor).toBeGreaterThanOrEqual(3);
  });
});
