// The loop both young-generation probes run (test/hosts/heap.test.ts, test/hosts/cli/sockets-heap.test.ts),
// as module text: 2M short-lived objects, as streaming makes, while it notes the new space's first and
// largest size in `start` and `max`.
export const YOUNG_GARBAGE = `const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
const start = newSpace();
let max = start;
let young = [];
for (let i = 0; i < 2_000_000; i++) {
  young.push({ i, text: String(i) });
  if (young.length > 5000) young = [];
  if ((i & 1023) === 0) max = Math.max(max, newSpace());
}`;
