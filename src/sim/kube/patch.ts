// PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902), and strategic merge patch as far as
// `kubectl rollout restart` and annotation patches need (maps merge, `null` deletes, lists of named
// items — containers, env — merge by `name`, other lists are replaced).
import type { Json } from '../world.js';
import { badRequest, unsupportedMediaType } from './status.js';

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Lists that strategic merge patch merges by a key (patchMergeKey) in the types we serve. */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  ports: 'containerPort',
  conditions: 'type',
  ownerReferences: 'uid',
  tolerations: 'key',
};

export function strategicMergePatch(target: Json, patch: Json, field = ''): Json {
  if (Array.isArray(patch)) {
    const key = MERGE_KEYS[field];
    if (!key || !Array.isArray(target))
      return structuredClone(patch.filter((p) => !(isObject(p) && '$patch' in p)));
    const out = [...target];
    for (const item of patch) {
      if (!isObject(item)) continue;
      const at = out.findIndex((t) => isObject(t) && t[key] === item[key]);
      if (item.$patch === 'delete') {
        if (at >= 0) out.splice(at, 1);
      } else if (at >= 0) out[at] = strategicMergePatch(out[at], item);
      else out.push(structuredClone(item));
    }
    return out;
  }
  if (!isObject(patch)) return structuredClone(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _, ...rest } = patch;
    return structuredClone(rest);
  }
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    if (v === null) delete out[k];
    else out[k] = strategicMergePatch(out[k], v, k);
  }
  return out;
}

interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: unknown;
}

const unescapeToken = (s: string): string => s.replace(/~1/g, '/').replace(/~0/g, '~');

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw badRequest(`json patch: path "${path}" does not start with /`);
  return path.slice(1).split('/').map(unescapeToken);
}

function parentOf(doc: Json, parts: string[]): { parent: Json; key: string } {
  let cur = doc;
  for (const p of parts.slice(0, -1)) {
    cur = Array.isArray(cur) ? cur[Number(p)] : isObject(cur) ? cur[p] : undefined;
    if (cur === undefined) throw badRequest(`json patch: path /${parts.join('/')} does not exist`);
  }
  return { parent: cur, key: parts[parts.length - 1] ?? '' };
}

function getAt(doc: Json, parts: string[]): unknown {
  let cur = doc;
  for (const p of parts) {
    cur = Array.isArray(cur) ? cur[Number(p)] : isObject(cur) ? cur[p] : undefined;
    if (cur === undefined) throw badRequest(`json patch: path /${parts.join('/')} does not exist`);
  }
  return cur;
}

function remove(doc: Json, parts: string[]): unknown {
  const { parent, key } = parentOf(doc, parts);
  if (Array.isArray(parent)) return parent.splice(Number(key), 1)[0];
  if (!isObject(parent) || !(key in parent))
    throw badRequest(`json patch: path /${parts.join('/')} does not exist`);
  const v = parent[key];
  delete parent[key];
  return v;
}

function add(doc: Json, parts: string[], value: unknown): Json {
  if (parts.length === 0) return structuredClone(value);
  const { parent, key } = parentOf(doc, parts);
  if (Array.isArray(parent)) {
    const i = key === '-' ? parent.length : Number(key);
    if (!Number.isInteger(i) || i < 0 || i > parent.length)
      throw badRequest(`json patch: bad array index ${key}`);
    parent.splice(i, 0, structuredClone(value));
  } else if (isObject(parent)) parent[key] = structuredClone(value);
  else throw badRequest(`json patch: cannot add at /${parts.join('/')}`);
  return doc;
}

export function jsonPatch(target: Json, ops: unknown): Json {
  if (!Array.isArray(ops)) throw badRequest('json patch: the body is not an array of operations');
  let doc = structuredClone(target);
  for (const raw of ops as JsonPatchOp[]) {
    const parts = pointer(raw.path);
    switch (raw.op) {
      case 'add':
        doc = add(doc, parts, raw.value);
        break;
      case 'remove':
        remove(doc, parts);
        break;
      case 'replace':
        getAt(doc, parts);
        if (parts.length === 0) doc = structuredClone(raw.value);
        else {
          const { parent, key } = parentOf(doc, parts);
          if (Array.isArray(parent)) parent[Number(key)] = structuredClone(raw.value);
          else parent[key] = structuredClone(raw.value);
        }
        break;
      case 'move': {
        const v = remove(doc, pointer(raw.from ?? ''));
        doc = add(doc, parts, v);
        break;
      }
      case 'copy':
        doc = add(doc, parts, getAt(doc, pointer(raw.from ?? '')));
        break;
      case 'test':
        if (JSON.stringify(getAt(doc, parts)) !== JSON.stringify(raw.value))
          throw badRequest(`json patch: test failed at ${raw.path}`);
        break;
      default:
        throw badRequest(`json patch: unknown op "${String((raw as { op?: unknown }).op)}"`);
    }
  }
  return doc;
}

/** Applies a PATCH body by its content type. */
export function applyPatch(target: Json, contentType: string, body: string): Json {
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  let patch: unknown;
  try {
    patch = JSON.parse(body);
  } catch (cause) {
    throw badRequest(`error decoding patch: ${(cause as Error).message}`);
  }
  switch (type) {
    case 'application/merge-patch+json':
      return mergePatch(target, patch);
    case 'application/strategic-merge-patch+json':
      return strategicMergePatch(target, patch);
    case 'application/json-patch+json':
      return jsonPatch(target, patch);
    default:
      throw unsupportedMediaType(type);
  }
}
