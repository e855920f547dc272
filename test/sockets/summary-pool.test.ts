// The summarizers' per-port tables are reused from one finished summarizer to the next
// (src/sockets/summary.ts): a scan summarizes 250 pods of a node, and each pair of fresh tables was
// 320 KiB outside the heap. A reused pair must carry nothing of the pod before it.
import { describe, expect, it } from 'vitest';
import { renderProcNetTcp } from '../../src/sockets/render.js';
import { createSummarizer, portTablesAllocated } from '../../src/sockets/summary.js';

const socket = (
  localPort: number,
  remoteAddress: string,
  state: 'LISTEN' | 'ESTABLISHED',
  inode: number,
) => ({
  localAddress: state === 'LISTEN' ? '0.0.0.0' : '10.244.0.10',
  localPort,
  remoteAddress: state === 'LISTEN' ? '0.0.0.0' : remoteAddress,
  remotePort: state === 'LISTEN' ? 0 : 27017,
  state,
  inode,
});

/** A pod serving on 8080: its LISTEN and one client connected to it (inbound). */
const server = renderProcNetTcp(
  [socket(8080, '', 'LISTEN', 1), socket(8080, '20.103.144.194', 'ESTABLISHED', 2)],
  'tcp',
);
/** A pod whose outbound connection happens to have local port 8080 (no LISTEN): an SNAT candidate. */
const client = renderProcNetTcp([socket(8080, '20.103.144.194', 'ESTABLISHED', 3)], 'tcp');

describe('summarizer port tables', () => {
  it("a summarizer after another knows nothing of the ports the one before listened on (its tables are that one's, cleared)", () => {
    const first = createSummarizer();
    first.push(server);
    expect(first.finish()).toMatchObject({ listening: 1, inbound: 1, outbound: 0, snatSockets: 0 });
    const second = createSummarizer();
    second.push(client);
    expect(second.finish()).toMatchObject({ listening: 0, inbound: 0, outbound: 1, snatSockets: 1 });
  });

  it('sequential pods make no new tables once the first are made', () => {
    createSummarizer().finish();
    const before = portTablesAllocated();
    for (let i = 0; i < 100; i++) {
      const s = createSummarizer();
      s.push(i % 2 === 0 ? server : client);
      s.finish();
    }
    expect(portTablesAllocated()).toBe(before);
  });

  it('sixteen at once take sixteen pairs; a finished one reads nothing more into tables now another’s', () => {
    const open = Array.from({ length: 16 }, () => createSummarizer());
    for (const s of open) s.push(server);
    const summaries = open.map((s) => s.finish());
    expect(summaries.every((x) => x.inbound === 1)).toBe(true);
    const next = createSummarizer();
    // Late input to a finished summarizer (the pooled tables may be `next`'s now) is dropped.
    open[15]!.push(server);
    next.push(client);
    expect(next.finish()).toMatchObject({ inbound: 0, outbound: 1, snatSockets: 1 });
    expect(open[15]!.finishCompact()).toMatchObject({ listening: 1, inbound: 1 });
  });
});
