// What a cluster holds but the snapshot format cannot (an IPv6-only pod IP, a workload name longer than
// the format allows, a count past its bounds): the capture must still be a file replay loads, and still
// hold everything else. Each problem the loader names is removed at the smallest place that fixes it (an
// optional field; else the list entry holding a bad required field), and said in metadata.capture.missing.
import { ValidationError } from '../errors.js';
import type { SnapshotDoc } from './capture.js';

/** Fields the format requires: a bad one removes the entry holding it, not just the field. */
const REQUIRED = new Set(['name', 'namespace', 'kind', 'node', 'state', 'id', 'count', 'max', 'at', 'pod']);

type Segment = string | number;

/** `workloads[2].pods[0].ip` → `['workloads', 2, 'pods', 0, 'ip']`; keys with dots (labels) stay whole at the end. */
export function parsePath(path: string): Segment[] {
  const out: Segment[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]/g;
  let m: RegExpExecArray | null = re.exec(path);
  while (m !== null) {
    if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(m[1]!);
    // labels / annotations / awsNodeEnv keys may hold dots and slashes: the rest of the path is the key.
    const last = out[out.length - 1];
    if (last === 'labels' || last === 'annotations' || last === 'awsNodeEnv') {
      const rest = path.slice(re.lastIndex + 1);
      if (rest) out.push(rest);
      break;
    }
    m = re.exec(path);
  }
  return out;
}

/** Removes what `problem` (`path: message`) names; false when it names nothing removable. */
function remove(doc: unknown, problem: string): boolean {
  const colon = problem.indexOf(': ');
  if (colon <= 0) return false;
  const path = parsePath(problem.slice(0, colon));
  if (path.length < 2) return false;
  // Walk to the parent of the last segment, remembering the innermost list entry on the way.
  const parents: { holder: unknown; key: Segment }[] = [];
  let node: unknown = doc;
  for (const seg of path) {
    if (node === null || typeof node !== 'object') return false;
    parents.push({ holder: node, key: seg });
    node = (node as Record<string | number, unknown>)[seg];
  }
  if (node === undefined) return false;
  const last = parents[parents.length - 1]!;
  const keyIsRequired = typeof last.key === 'string' && REQUIRED.has(last.key) && !Array.isArray(last.holder);
  // A bad required field takes its holder with it: the list entry (a pod, a node) or the optional
  // object (a node's conntrack) that holds it.
  const target = keyIsRequired ? parents[parents.length - 2] : last;
  if (!target) return false;
  if (Array.isArray(target.holder)) target.holder.splice(target.key as number, 1);
  else delete (target.holder as Record<string, unknown>)[target.key as string];
  return true;
}

/**
 * Returns `doc` as `validate` accepts it: each problem it reports removed, at most `rounds` times (a node
 * removed makes its pods' `node` unknown in the next round), each written to metadata.capture.missing.
 * Throws the last ValidationError when problems remain that name nothing removable.
 */
export function fitToFormat(doc: SnapshotDoc, validate: (doc: SnapshotDoc) => void, rounds = 5): SnapshotDoc {
  const out = structuredClone(doc);
  for (let round = 0; ; round++) {
    try {
      validate(out);
      return out;
    } catch (e) {
      if (!(e instanceof ValidationError) || round >= rounds) throw e;
      const removed: string[] = [];
      // Last first: removing a list entry must not shift the indexes of the problems still to remove.
      for (const problem of [...e.problems].sort().reverse()) if (remove(out, problem)) removed.push(problem);
      if (removed.length === 0) throw e;
      const missing = out.metadata.capture.missing ?? [];
      out.metadata.capture.missing = [...missing, ...removed.sort().map((p) => `not in the format: ${p}`)];
    }
  }
}
