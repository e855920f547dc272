// V8's young generation for a scan (`snatguard scan`, and the Functions and Lambda runs through runJob),
// from the run's first exec on (compose's beforeExecs). What a scan allocates while exec output streams
// dies young: the tokens of the node's conntrack listing, WebSocket frame wrappers, each pod's summary.
// With V8's default growth (factor 2) the semi-spaces doubled as those bytes flowed, to 8 MB each on one
// pod of 100k sockets, pages the process then kept: that pod added ~18 MB of peak RSS over a small one,
// ~9 MB with the growth held at 1, and a 250-pod scan peaked 12 MB lower in the same time (bench exec).
// Held from the first exec, not from start-up: loading the scan's modules and decoding the pod list in
// a 1 MB young generation took ~30 ms more of scavenges and an early full collection before the first
// exec; the semi-spaces that start-up grows are the same for every scan, small or big (bench exec).
import { setFlagsFromString } from 'node:v8';

/** The semi-spaces' growth factor for a scan (V8's default is 2). */
const SCAN_SEMI_SPACE_GROWTH = 1;

/** Holds the young generation near its first size from here on (V8 reads the factor at each resize). */
export function keepYoungGenerationSmall(): void {
  try {
    setFlagsFromString(`--semi-space-growth-factor=${SCAN_SEMI_SPACE_GROWTH}`);
  } catch {
    // A runtime without the flag keeps V8's default growth.
  }
}
