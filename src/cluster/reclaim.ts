// Exec output streams frame by frame and nothing keeps it, but it still sat in memory: every TLS record
// and WebSocket frame it arrives in is an ArrayBuffer outside the JS heap, which V8 frees only when a
// garbage collection finds its small wrapper dead, and parsing frames allocates so little on the heap that
// no collection comes. Measured on `snatguard scan` (bench exec, one pod of 100k sockets = 15 MB of text):
// ~30 MB of dead frames stayed resident until V8's external-memory limit (64 MB) forced a collection.
// So every RECLAIM_BYTES of exec output read by this process, a minor collection (a scavenge: young
// objects only, about a millisecond) frees the frames read since the one before. One counter per
// process, as the heap is: every PodExec of the process shares it.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Exec output read between two scavenges: what may lie dead at once. */
export const RECLAIM_BYTES = 2 << 20;

type Collect = (options?: { type?: 'major' | 'minor' }) => void;

let pending = 0;
/** undefined: not looked up yet; null: this runtime gives none (then frames wait for V8's own GC). */
let collect: Collect | null | undefined;

function collector(): Collect | null {
  if (collect !== undefined) return collect;
  const exposed = (globalThis as { gc?: Collect }).gc;
  if (typeof exposed === 'function') collect = exposed;
  else {
    try {
      // The flag applies to contexts created after it: this one only; the process's own global stays as it was.
      setFlagsFromString('--expose-gc');
      const fromContext: unknown = runInNewContext('gc');
      collect = typeof fromContext === 'function' ? (fromContext as Collect) : null;
    } catch {
      collect = null;
    }
  }
  return collect;
}

/** Records `bytes` of exec output read (and handed on); collects the young generation every RECLAIM_BYTES. */
export function frameRead(bytes: number): void {
  pending += bytes;
  if (pending < RECLAIM_BYTES) return;
  pending = 0;
  collector()?.({ type: 'minor' });
}
