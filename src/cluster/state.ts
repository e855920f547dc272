// StateStore on the ConfigMap `snatguard-state` (key `state.json`): what one run leaves for the next
// (conntrack counters, notification dedup). A missing or corrupt state is an empty one, never a crash.
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { parseHistory } from '../analysis/forecast.js';
import { messageOf } from '../errors.js';
import { emptyState, type NotifyRecord, type RunState } from '../model.js';
import type { Log, StateStore } from '../ports.js';
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

export interface ConfigMapStateOptions {
  name?: string;
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

  const read = async (): Promise<V1ConfigMap | undefined> => {
    try {
      return await api.readNamespacedConfigMap({ namespace, name });
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw clusterError(`get ConfigMap ${id}`, e);
    }
  };

  const write = async (data: string): Promise<void> => {
    const current = await read();
    if (current === undefined) {
      await api.createNamespacedConfigMap({
        namespace,
        body: {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name, namespace, labels: { 'app.kubernetes.io/name': 'snatguard' } },
          data: { [STATE_KEY]: data },
        },
      });
      return;
    }
    // resourceVersion from the read: a concurrent save makes this 409.
    await api.replaceNamespacedConfigMap({
      namespace,
      name,
      body: { ...current, data: { ...(current.data ?? {}), [STATE_KEY]: data } },
    });
  };

  return {
    async load() {
      const cm = await read();
      const { state, problems } = parseState(cm?.data?.[STATE_KEY]);
      if (problems.length > 0)
        log.warn({ configMap: id, problems: problems.slice(0, 10) }, 'state ignored where corrupt');
      return state;
    },

    async save(s) {
      const data = JSON.stringify(s);
      try {
        await write(data);
      } catch (e) {
        if (!isConflict(e)) throw clusterError(`save ConfigMap ${id}`, e);
        try {
          await write(data);
        } catch (e2) {
          throw clusterError(`save ConfigMap ${id} (after a conflict)`, e2);
        }
      }
    },
  };
}
