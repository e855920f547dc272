// Config loading: defaults < YAML file < SNATGUARD_* env vars < CLI flags, deep-merged, then validated once.
// Every problem (bad value, unknown key, unknown env var, unreadable secret) is collected and thrown together
// as one ValidationError, each line naming the key path and where the value came from.
import { readFileSync } from 'node:fs';
import { isAlias, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { ValidationError } from '../errors.js';
import { type Config, configSchema } from './schema.js';
import { type ConfigLeaf, configLeaves } from './shape.js';

/**
 * SNATGUARD_* variables that are not config keys but are read by the hosts, so they are not "unknown":
 * SNATGUARD_CONFIG (config file path), SNATGUARD_SCHEDULE (Functions timer / CronJob schedule),
 * SNATGUARD_OUTPUT (CLI default output format).
 */
export const envPassthrough: ReadonlySet<string> = new Set([
  'SNATGUARD_CONFIG',
  'SNATGUARD_SCHEDULE',
  'SNATGUARD_OUTPUT',
]);

export interface LoadConfigOptions {
  /** YAML (or JSON) config file. */
  file?: string;
  /** Usually process.env; only SNATGUARD_* names are read (plus the targets of `env:NAME` secrets). */
  env?: Record<string, string | undefined>;
  /** CLI flags: nested objects or dotted keys (`{ 'rails.maxRestartsPerRun': 2 }`); undefined values are ignored. */
  flags?: Record<string, unknown>;
  /** A command's own defaults, below the file (replay: `{ 'log.level': 'warn' }`); same shape as flags. */
  defaults?: Record<string, unknown>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Layer {
  value: Obj;
  /** Names the source of one key path, e.g. `SNATGUARD_RAILS_MAX_RESTARTS_PER_RUN`. */
  sourceOf: (path: string[]) => string;
}

const formatPath = (path: readonly PropertyKey[]): string =>
  path.reduce<string>((acc, seg) => {
    if (typeof seg === 'number') return `${acc}[${seg}]`;
    return acc === '' ? String(seg) : `${acc}.${String(seg)}`;
  }, '');

function setPath(target: Obj, path: readonly string[], value: unknown): void {
  let node = target;
  for (const [i, seg] of path.entries()) {
    if (i === path.length - 1) {
      node[seg] = value;
      return;
    }
    const next = node[seg];
    if (!isObj(next)) node[seg] = {};
    node = node[seg] as Obj;
  }
}

function getPath(source: unknown, path: readonly PropertyKey[]): unknown {
  let node = source;
  for (const seg of path) {
    if (isObj(node) || Array.isArray(node)) node = (node as Record<PropertyKey, unknown>)[seg];
    else return undefined;
  }
  return node;
}

/** Objects merge key by key; arrays and scalars replace; undefined never overrides. */
function deepMerge(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const prev = out[key];
    out[key] = isObj(prev) && isObj(value) ? deepMerge(prev, value) : value;
  }
  return out;
}

/** Records, for every path a layer sets, the layer's source name. */
function recordSources(value: unknown, path: string[], layer: Layer, into: Map<string, string>): void {
  if (isObj(value)) {
    for (const [key, child] of Object.entries(value)) {
      if (child !== undefined) recordSources(child, [...path, key], layer, into);
    }
    if (path.length > 0) into.set(formatPath(path), layer.sourceOf(path));
    return;
  }
  into.set(formatPath(path), layer.sourceOf(path));
}

/** Text (env var or flag string) → the leaf's type; returns a problem message instead when it cannot. */
export function coerce(leaf: ConfigLeaf, text: string): { value: unknown } | { problem: string } {
  const trimmed = text.trim();
  switch (leaf.kind) {
    case 'number': {
      const n = Number(trimmed);
      return trimmed !== '' && Number.isFinite(n) ? { value: n } : { problem: `"${text}" is not a number` };
    }
    case 'boolean': {
      const lower = trimmed.toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(lower)) return { value: true };
      if (['false', '0', 'no', 'off'].includes(lower)) return { value: false };
      return { problem: `"${text}" is not a boolean (true/false)` };
    }
    case 'list':
      return {
        value: trimmed
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== ''),
      };
    case 'json':
      try {
        return { value: JSON.parse(trimmed) };
      } catch (e) {
        return { problem: `not valid JSON (${e instanceof Error ? e.message : String(e)})` };
      }
    default:
      return { value: text };
  }
}

function leafByKey(): Map<string, ConfigLeaf> {
  return new Map(configLeaves().map((l) => [l.key, l]));
}

function fileLayer(file: string, problems: string[]): Layer | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    problems.push(`${file}: cannot read config file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    return null;
  }
  // uniqueKeys off: the library's check compares every pair of keys (80,000 keys took 69 s); keyProblems
  // checks them in one pass with a set per mapping.
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: false });
  if (doc.errors.length > 0) {
    for (const err of doc.errors) problems.push(`${file}: ${err.message.split('\n')[0]}`);
    return null;
  }
  const keyLines = keyProblems(doc.contents as YamlNode | null);
  if (keyLines.length > 0) {
    for (const line of keyLines) problems.push(`${line} (in ${file})`);
    return null;
  }
  let value: unknown;
  try {
    // Aliases expand here; the library refuses an alias bomb ("Excessive alias count") and an alias whose
    // anchor is missing: both are problems of the file, not crashes.
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    problems.push(`${file}: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  }
  if (value === null || value === undefined) return { value: {}, sourceOf: () => `file ${file}` };
  if (!isObj(value)) {
    problems.push(`${file}: the config file must be a mapping of keys`);
    return null;
  }
  return { value, sourceOf: () => `file ${file}` };
}

/** Keys that would reach an object's prototype instead of being data. */
const FORBIDDEN_KEYS = new Set(['__proto__']);

/**
 * Duplicate and forbidden keys, with their paths, in one pass over the document (an explicit stack: deep
 * nesting cannot overflow it; aliases are not followed, so an alias bomb costs nothing here).
 */
function keyProblems(root: YamlNode | null): string[] {
  const out: string[] = [];
  const stack: { node: unknown; path: PropertyKey[] }[] = [{ node: root, path: [] }];
  while (stack.length > 0 && out.length < 100) {
    const { node, path } = stack.pop()!;
    if (isAlias(node)) continue;
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : pair.key === null ? '' : String(pair.key);
        const at = formatPath([...path, key]) || '(root)';
        if (FORBIDDEN_KEYS.has(key)) out.push(`${at}: key "${key}" is not allowed`);
        else if (seen.has(key)) out.push(`${at}: duplicate key`);
        seen.add(key);
        stack.push({ node: pair.value, path: [...path, key] });
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        stack.push({ node: item, path: [...path, i] });
      });
    }
  }
  return out;
}

function envLayer(env: Record<string, string | undefined>, problems: string[]): Layer {
  const byEnv = new Map(configLeaves().map((l) => [l.env, l]));
  const value: Obj = {};
  const names = new Map<string, string>();
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('SNATGUARD_') || envPassthrough.has(name)) continue;
    const text = env[name];
    const leaf = byEnv.get(name);
    if (!leaf) {
      problems.push(`${name}: unknown environment variable (no config key maps to it)`);
      continue;
    }
    // An empty variable (common in templated manifests) means "not set".
    if (text === undefined || text === '') continue;
    const result = coerce(leaf, text);
    if ('problem' in result) {
      problems.push(`${leaf.key}: ${result.problem} (from ${name})`);
      continue;
    }
    setPath(value, leaf.path, result.value);
    names.set(leaf.key, name);
  }
  return {
    value,
    sourceOf: (path) => names.get(path.join('.')) ?? 'environment',
  };
}

function flagLayer(flags: Record<string, unknown>, problems: string[]): Layer {
  const leaves = leafByKey();
  const value: Obj = {};
  const visit = (v: unknown, path: string[]): void => {
    if (v === undefined) return;
    const leaf = leaves.get(path.join('.'));
    if (isObj(v) && !leaf) {
      for (const [k, child] of Object.entries(v)) visit(child, [...path, ...k.split('.')]);
      return;
    }
    if (leaf && typeof v === 'string' && leaf.kind !== 'string' && leaf.kind !== 'enum') {
      const result = coerce(leaf, v);
      if ('problem' in result) {
        problems.push(`${leaf.key}: ${result.problem} (from flag --${leaf.key})`);
        return;
      }
      setPath(value, path, result.value);
      return;
    }
    setPath(value, path, v);
  };
  for (const [k, v] of Object.entries(flags)) visit(v, k.split('.'));
  return { value, sourceOf: (path) => `flag --${path.join('.')}` };
}

/** Resolves `file:/path` and `env:NAME` references of secret keys (webhook URLs, the signing secret). */
function resolveSecrets(
  merged: Obj,
  env: Record<string, string | undefined>,
  problems: string[],
  sources: Map<string, string>,
): void {
  for (const leaf of configLeaves()) {
    if (!leaf.secret) continue;
    const raw = getPath(merged, leaf.path);
    if (typeof raw !== 'string') continue;
    const from = sources.get(leaf.key);
    const suffix = from ? ` (from ${from})` : '';
    if (raw.startsWith('file:')) {
      const file = raw.slice('file:'.length);
      try {
        setPath(merged, leaf.path, readFileSync(file, 'utf8').trim());
      } catch (e) {
        setPath(merged, leaf.path, ''); // reported here; not again as "not a URL"
        problems.push(
          `${leaf.key}: cannot read secret file ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})${suffix}`,
        );
      }
    } else if (raw.startsWith('env:')) {
      const name = raw.slice('env:'.length);
      const value = env[name];
      if (value === undefined) problems.push(`${leaf.key}: environment variable ${name} is not set${suffix}`);
      setPath(merged, leaf.path, value?.trim() ?? '');
    }
  }
}

const describeValue = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** One zod issue → `path: message` lines (an unrecognized_keys issue yields one line per key). */
function issueLines(issue: z.core.$ZodIssue, input: unknown): { path: PropertyKey[]; message: string }[] {
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path: [...issue.path, key], message: 'unknown key' }));
    case 'too_small': {
      const min = String(issue.minimum);
      if (issue.origin === 'string') return [{ path: issue.path, message: 'must not be empty' }];
      if (issue.origin === 'array') return [{ path: issue.path, message: `must have at least ${min} items` }];
      return [{ path: issue.path, message: `must be ${issue.inclusive ? '≥' : '>'} ${min}` }];
    }
    case 'too_big':
      return [
        { path: issue.path, message: `must be ${issue.inclusive ? '≤' : '<'} ${String(issue.maximum)}` },
      ];
    case 'invalid_type': {
      const got = getPath(input, issue.path);
      if (got === undefined) return [{ path: issue.path, message: `required (${issue.expected})` }];
      const expected = issue.expected === 'int' ? 'an integer' : issue.expected;
      return [{ path: issue.path, message: `expected ${expected}, got ${describeValue(got)}` }];
    }
    case 'invalid_value':
      return [{ path: issue.path, message: `must be one of: ${issue.values.map(String).join(', ')}` }];
    default:
      return [{ path: issue.path, message: issue.message }];
  }
}

function sourceFor(path: readonly PropertyKey[], sources: Map<string, string>): string | undefined {
  for (let n = path.length; n > 0; n--) {
    const found = sources.get(formatPath(path.slice(0, n)));
    if (found) return found;
  }
  return undefined;
}

/** Keys a value of another key makes required: a cloud connection needs the cluster's coordinates. */
function crossKeyProblems(c: Config, sources: Map<string, string>): string[] {
  const need = (connection: string, keys: [string, string | undefined][]): string[] =>
    keys
      .filter(([, v]) => !v)
      .map(([key]) => {
        const from = sources.get('cluster.connection');
        return `${key}: required when cluster.connection is ${connection}${from ? ` (cluster.connection from ${from})` : ''}`;
      });
  if (c.cluster.connection === 'aks')
    return need('aks', [
      ['azure.subscriptionId', c.azure.subscriptionId],
      ['azure.resourceGroup', c.azure.resourceGroup],
      ['azure.clusterName', c.azure.clusterName],
    ]);
  if (c.cluster.connection === 'eks')
    return need('eks', [
      ['aws.region', c.aws.region],
      ['aws.clusterName', c.aws.clusterName],
    ]);
  return [];
}

function validate(merged: Obj, sources: Map<string, string>, problems: string[], source = 'config'): Config {
  // Interpreted, not zod's JIT: a run parses its config once, and compiling the object schemas' fast
  // paths (new Function per object) took a scan's start ~5 ms more than checking the keys (~2.5 ms).
  const result = configSchema.safeParse(merged, { jitless: true });
  if (result.success) problems.push(...crossKeyProblems(result.data, sources));
  if (result.success && problems.length === 0) return result.data;
  if (!result.success) {
    for (const issue of result.error.issues) {
      for (const { path, message } of issueLines(issue, merged)) {
        const from = sourceFor(path, sources);
        problems.push(`${formatPath(path) || '(root)'}: ${message}${from ? ` (from ${from})` : ''}`);
      }
    }
  }
  throw new ValidationError(source, problems);
}

/**
 * Loads the config: flags > env > file > defaults. Throws one ValidationError listing every problem.
 * Secret keys (notify.*.webhookUrl, notify.webhook.url, notify.webhook.secret) may be `file:/path`
 * (file content, trimmed) or `env:NAME` (that variable of `env`), resolved here.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const problems: string[] = [];
  const env = options.env ?? {};
  const layers: Layer[] = [];
  if (options.defaults) layers.push(flagLayer(options.defaults, problems));
  if (options.file) {
    const layer = fileLayer(options.file, problems);
    if (layer) layers.push(layer);
  }
  layers.push(envLayer(env, problems));
  if (options.flags) layers.push(flagLayer(options.flags, problems));

  let merged: Obj = {};
  const sources = new Map<string, string>();
  for (const layer of layers) {
    merged = deepMerge(merged, layer.value);
    recordSources(layer.value, [], layer, sources);
  }
  resolveSecrets(merged, env, problems, sources);
  return validate(merged, sources, problems);
}

/** Validates an already-built object (tests, hosts that build config in code). */
export function parseConfig(input: unknown, source = 'config'): Config {
  if (!isObj(input)) throw new ValidationError(source, ['(root): the config must be a mapping of keys']);
  return validate(input, new Map(), [], source);
}

/** The defaults alone. */
export const defaultConfig = (): Config => configSchema.parse({});

export interface ConfigKeyDoc {
  key: string;
  env: string;
  type: string;
  /** JSON text of the default; undefined for optional keys without one. */
  default: string | undefined;
  description: string;
  secret: boolean;
}

/** Every key with its env var, type, default and description: the README reference table. */
export function describeConfig(): ConfigKeyDoc[] {
  const defaults = defaultConfig();
  return configLeaves().map((leaf) => {
    const value = getPath(defaults, leaf.path);
    const type =
      leaf.kind === 'enum'
        ? (leaf.values ?? []).join(' | ')
        : leaf.kind === 'list'
          ? 'string[] (env: comma-separated)'
          : leaf.kind === 'json'
            ? 'JSON'
            : leaf.integer
              ? 'integer'
              : leaf.kind;
    return {
      key: leaf.key,
      env: leaf.env,
      type,
      default: value === undefined ? undefined : JSON.stringify(value),
      description: leaf.description,
      secret: leaf.secret,
    };
  });
}
