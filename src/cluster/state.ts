// StateStore on the ConfigMap `snatguard-state` (key `state.json`): what one run leaves for the next
// (conntrack counters, notification dedup). A missing or corrupt state is an empty one, never a crash.
// A save writes with the resourceVersion of the load (no last-writer-wins): on 409 it re-reads, merges
// the other writer's entries with its own (newest wins per key) and tries again.
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { parseHistory } from '../analysis/forecast.js';
import { ClusterError, messageOf } from '../errors.js';
import { emptyState, type NotifyRecord, type RunState } from '../model.js';
import type { Log, StateStore } from '../ports.js';
import { boundedCall, DEFAULT_CALL_TIMEOUT_MS, signalOptions } from './bounded.js';
import { clusterError, isConflict, isNotFound } from './errors.js';

export const STATE_CONFIGMAP = 'snatguard-state';
export const STATE_KEY = 'state.json';

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const SEVERITIES = new Set(['info', 'warning', 'critical']);

/**
 * Parses the stored JSON, keeping every well-formed entry and dropping the rest.
 * Returns the state and the problems found (for one warning), never throws.
 */
export function parseState(text: string | undefined): { state: RunState; problems: string[] } {
  const state = emptyState();
  if (text === undefined || text.trim() === '') return { state, problems: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { state, problems: [`not JSON: ${messageOf(e)}`] };
  }
  if (!isRecord(raw)) return { state, problems: ['not a JSON object'] };
  const problems: string[] = [];
  if (isRecord(raw.conntrack)) {
    for (const [node, v] of Object.entries(raw.conntrack)) {
      if (
        isRecord(v) &&
        isCount(v.insertFailed) &&
        isCount(v.drop) &&
        isCount(v.earlyDrop) &&
        typeof v.at === 'string'
      ) {
        state.conntrack[node] = {
          insertFailed: v.insertFailed,
          drop: v.drop,
          earlyDrop: v.earlyDrop,
          at: v.at,
        };
      } else problems.push(`conntrack.${node}: malformed`);
    }
  } else if (raw.conntrack !== undefined) problems.push('conntrack: not an object');
  if (isRecord(raw.notified)) {
    for (const [key, v] of Object.entries(raw.notified)) {
      if (
        isRecord(v) &&
        typeof v.firstSeen === 'string' &&
        typeof v.lastSent === 'string' &&
        SEVERITIES.has(String(v.severity))
      ) {
        state.notified[key] = {
          firstSeen: v.firstSeen,
          lastSent: v.lastSent,
          severity: v.severity as NotifyRecord['severity'],
        };
      } else problems.push(`notified.${key}: malformed`);
    }
  } else if (raw.notified !== undefined) problems.push('notified: not an object');
  const history = parseHistory(raw.history, problems);
  if (history) state.history = history;
  return { state, problems };
}

/** Two states merged entry by entry: the newer record of each key wins (ISO times compare as strings). */
export function mergeStates(mine: RunState, theirs: RunState): RunState {
  const conntrack = { ...theirs.conntrack };
  for (const [node, v] of Object.entries(mine.conntrack)) {
    const other = conntrack[node];
    if (other === undefined || other.at <= v.at) conntrack[node] = v;
  }
  const notified = { ...theirs.notified };
  for (const [key, v] of Object.entries(mine.notified)) {
    const other = notified[key];
    if (other === undefined || other.lastSent <= v.lastSent) notified[key] = v;
  }
  return { ...theirs, ...mine, conntrack, notified };
}

export interface ConfigMapStateOptions {
  name?: string;
  /** Per API call (default 20 s); the run's signal bounds it too. */
  timeoutMs?: number;
}

export function configMapState(
  kc: KubeConfig,
  namespace: string,
  log: Log,
  options: ConfigMapStateOptions = {},
): StateStore {
  const api = kc.makeApiClient(CoreV1Api);
  const name = options.name ?? STATE_CONFIGMAP;
  const id = `${namespace}/${name}`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const budget = (signal?: AbortSignal) => (signal ? { signal, timeoutMs } : { timeoutMs });
  /** What load() saw: the ConfigMap (its resourceVersion is the save's precondition), or null when absent. */
  let loaded: V1ConfigMap | null | undefined;

  const read = async (signal?: AbortSignal): Promise<V1ConfigMap | undefined> => {
    try {
      return await boundedCall(`get ConfigMap ${id}`, budget(signal), (s) =>
        api.readNamespacedConfigMap({ namespace, name }, signalOptions(s)),
      );
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw clusterError(`get ConfigMap ${id}`, e);
    }
  };

  const parse = (cm: V1ConfigMap | undefined): RunState => {
    const { state, problems } = parseState(cm?.data?.[STATE_KEY]);
    if (problems.length > 0)
      log.warn({ configMap: id, problems: problems.slice(0, 10) }, 'state ignored where corrupt');
    return state;
  };

  /** Creates (when `base` is null) or replaces `base` with its resourceVersion: a concurrent writer → 409. */
  const write = async (
    base: V1ConfigMap | null,
    data: string,
    signal?: AbortSignal,
  ): Promise<V1ConfigMap> => {
    if (base === null)
      return boundedCall(`create ConfigMap ${id}`, budget(signal), (s) =>
        api.createNamespacedConfigMap(
          {
            namespace,
            body: {
              apiVersion: 'v1',
              kind: 'ConfigMap',
              metadata: { name, namespace, labels: { 'app.kubernetes.io/name': 'snatguard' } },
              data: { [STATE_KEY]: data },
            },
          },
          signalOptions(s),
        ),
      );
    return boundedCall(`replace ConfigMap ${id}`, budget(signal), (s) =>
      api.replaceNamespacedConfigMap(
        { namespace, name, body: { ...base, data: { ...(base.data ?? {}), [STATE_KEY]: data } } },
        signalOptions(s),
      ),
    );
  };

  return {
    async load(signal) {
      const cm = await read(signal);
      loaded = cm ?? null;
      return parse(cm);
    },

    async save(s, signal) {
      // Without a load, the current object is the base (its entries are merged in, never dropped).
      let base: V1ConfigMap | null = loaded === undefined ? ((await read(signal)) ?? null) : loaded;
      let state = loaded === undefined && base !== null ? mergeStates(s, parse(base)) : s;
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          loaded = await write(base, JSON.stringify(state), signal);
          return;
        } catch (e) {
          if (!isConflict(e)) throw clusterError(`save ConfigMap ${id}`, e);
          // Someone saved since our load: merge their entries with ours and try on their version.
          const current = await read(signal);
          base = current ?? null;
          state = mergeStates(state, parse(current));
        }
      }
      throw new ClusterError(`save ConfigMap ${id}: still conflicting after 3 attempts`, 409);
    },
  };
}
