// Walks the config schema into its leaves, so env var names, coercion and the README reference all
// derive from the one schema instead of hand-kept lists.
import type { z } from 'zod';
import { configSchema, secretSchemas } from './schema.js';

export type LeafKind = 'string' | 'number' | 'boolean' | 'enum' | 'list' | 'json';

export interface ConfigLeaf {
  /** Key path, e.g. ['rails', 'maxRestartsPerRun']. */
  path: string[];
  /** `rails.maxRestartsPerRun` */
  key: string;
  /** `SNATGUARD_RAILS_MAX_RESTARTS_PER_RUN` */
  env: string;
  kind: LeafKind;
  /** Allowed values of an enum (or of a list's elements). */
  values?: string[];
  optional: boolean;
  secret: boolean;
  integer: boolean;
  description: string;
}

// zod 4 keeps a schema's definition on `def`; only the parts we walk are typed here.
interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  entries?: Record<string, string>;
}
const defOf = (s: z.ZodType): Def => (s as unknown as { def: Def }).def;

const WRAPPERS = new Set(['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch', 'nonoptional']);

interface Unwrapped {
  core: z.ZodType;
  description?: string;
  secret: boolean;
  optional: boolean;
}

/** Strips default/optional/pipe layers, remembering the outermost description and secret mark. */
function unwrap(schema: z.ZodType): Unwrapped {
  let current = schema;
  let description: string | undefined;
  let secret = false;
  let optional = false;
  for (;;) {
    description ??= current.description;
    secret ||= secretSchemas.has(current);
    const def = defOf(current);
    if (def.type === 'optional') optional = true;
    if (WRAPPERS.has(def.type) && def.innerType) current = def.innerType;
    else if (def.type === 'pipe' && def.in) current = def.in;
    else break;
  }
  return { core: current, description, secret, optional };
}

export const snakeUpper = (segment: string): string =>
  segment
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toUpperCase();

export const envNameOf = (path: readonly string[]): string => `SNATGUARD_${path.map(snakeUpper).join('_')}`;

function leavesOf(schema: z.ZodType, path: string[], out: ConfigLeaf[]): void {
  const u = unwrap(schema);
  const def = defOf(u.core);
  if (def.type === 'object' && def.shape) {
    for (const [key, child] of Object.entries(def.shape)) leavesOf(child, [...path, key], out);
    return;
  }
  const base = {
    path,
    key: path.join('.'),
    env: envNameOf(path),
    optional: u.optional,
    secret: u.secret,
    description: u.description ?? '',
    integer: (u.core as unknown as { isInt?: boolean }).isInt === true,
  };
  if (def.type === 'array' && def.element) {
    const element = unwrap(def.element);
    const elementDef = defOf(element.core);
    if (elementDef.type === 'string') out.push({ ...base, kind: 'list' });
    else if (elementDef.type === 'enum')
      out.push({ ...base, kind: 'list', values: Object.values(elementDef.entries ?? {}) });
    else out.push({ ...base, kind: 'json' });
    return;
  }
  switch (def.type) {
    case 'string':
      out.push({ ...base, kind: 'string' });
      return;
    case 'number':
      out.push({ ...base, kind: 'number' });
      return;
    case 'boolean':
      out.push({ ...base, kind: 'boolean' });
      return;
    case 'enum':
      out.push({ ...base, kind: 'enum', values: Object.values(def.entries ?? {}) });
      return;
    default:
      out.push({ ...base, kind: 'json' });
  }
}

let cached: ConfigLeaf[] | undefined;

/** Every leaf key of the config schema, in schema order. */
export function configLeaves(): ConfigLeaf[] {
  if (!cached) {
    const out: ConfigLeaf[] = [];
    leavesOf(configSchema, [], out);
    cached = out;
  }
  return cached;
}
