// Checks a JSON answer against the model an SDK deserializes it with: the Azure SDKs' mappers (autorest
// `models/mappers.js`: every property's serialized path, `properties.x` flattened, and its type) and the
// AWS SDKs' schemas (Smithy schema arrays: structures with member names and member schemas). A field the
// model does not have, or a value of another type, is a problem: the simulator must answer with the real
// service's fields, not ones of its own.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------- Azure (autorest mappers)

interface MapperType {
  name: string;
  className?: string;
  element?: { type: MapperType };
  value?: { type: MapperType };
  allowedValues?: unknown[];
  modelProperties?: Record<string, { serializedName?: string; type: MapperType }>;
}
type Mappers = Record<string, { type: MapperType }>;

/** The mappers of an installed autorest SDK (not in its package exports: read beside its entry). */
export function azureMappers(pkg: string): Mappers {
  return require(join(dirname(require.resolve(pkg)), 'models/mappers.js')) as Mappers;
}

/** `properties.a\\.b` → ['properties', 'a.b'] (autorest escapes dots that are part of a name). */
const splitPath = (s: string): string[] =>
  s
    .split(/(?<!\\)\./)
    .map((p) => p.replace(/\\\./g, '.'))
    .filter(Boolean);

interface Trie {
  children: Map<string, Trie>;
  type?: MapperType;
}

function trieOf(mappers: Mappers, className: string): Trie {
  const root: Trie = { children: new Map() };
  const mapper = mappers[className];
  if (!mapper) throw new Error(`no mapper ${className}`);
  for (const prop of Object.values(mapper.type.modelProperties ?? {})) {
    if (!prop.serializedName) continue;
    let node = root;
    for (const part of splitPath(prop.serializedName)) {
      let next = node.children.get(part);
      if (!next) {
        next = { children: new Map() };
        node.children.set(part, next);
      }
      node = next;
    }
    node.type = prop.type;
  }
  return root;
}

/** Every field of `value` the mapper `className` lacks or types differently, as `path: problem`. */
export function azureModelProblems(
  mappers: Mappers,
  className: string,
  value: unknown,
  path = '$',
): string[] {
  return checkTrie(mappers, trieOf(mappers, className), value, path);
}

function checkTrie(mappers: Mappers, trie: Trie, value: unknown, path: string): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return [`${path}: expected an object`];
  const out: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const node = trie.children.get(key);
    const p = `${path}.${key}`;
    if (!node) {
      out.push(`${p}: not in the model`);
      continue;
    }
    if (node.type && node.children.size === 0) out.push(...checkType(mappers, node.type, child, p));
    else out.push(...checkTrie(mappers, node, child, p));
  }
  return out;
}

function checkType(mappers: Mappers, type: MapperType, value: unknown, path: string): string[] {
  if (value === null || value === undefined) return [];
  switch (type.name) {
    case 'String':
    case 'DateTime':
    case 'DateTimeRfc1123':
    case 'Uuid':
    case 'ByteArray':
    case 'Base64Url':
      return typeof value === 'string' ? [] : [`${path}: expected ${type.name}, got ${typeof value}`];
    case 'Number':
    case 'UnixTime':
      return typeof value === 'number' ? [] : [`${path}: expected Number, got ${typeof value}`];
    case 'Boolean':
      return typeof value === 'boolean' ? [] : [`${path}: expected Boolean, got ${typeof value}`];
    case 'Enum':
      return type.allowedValues?.includes(value)
        ? []
        : [`${path}: ${JSON.stringify(value)} not one of the enum`];
    case 'Sequence':
      if (!Array.isArray(value)) return [`${path}: expected an array`];
      return value.flatMap((v, i) =>
        type.element ? checkType(mappers, type.element.type, v, `${path}[${i}]`) : [],
      );
    case 'Dictionary':
      if (typeof value !== 'object' || Array.isArray(value)) return [`${path}: expected a map`];
      return Object.entries(value as object).flatMap(([k, v]) =>
        type.value ? checkType(mappers, type.value.type, v, `${path}.${k}`) : [],
      );
    case 'Composite':
      return azureModelProblems(mappers, type.className ?? '', value, path);
    default:
      return [];
  }
}

// ---------------------------------------------------------------- AWS (Smithy schemas of the SDK v3 clients)

/**
 * A schema as the AWS SDK v3 clients export it (`Cluster$`): a number for a simple type (0 string, 1
 * number, 2 boolean, 4–7 timestamps, 15 document, 21 blob; `64 | x` a list of x, `128 | x` a map of x),
 * a structure `[3, ns, name, traits, memberNames, memberSchemas]`, a list `[1, ns, name, traits, member]`,
 * a map `[2, ns, name, traits, key, value]`, a thunk to one of these, or `[schema, traits]` for a member
 * with traits (jsonName `jsonName`, xmlName `xmlName`, ec2QueryName `ec2QueryName`).
 */
export type AwsSchema = number | (() => AwsSchema) | unknown[];

interface Resolved {
  kind: 'simple' | 'struct' | 'list' | 'map';
  code?: number;
  members?: { name: string; schema: AwsSchema; traits: Record<string, unknown> }[];
  element?: AwsSchema;
  elementTraits?: Record<string, unknown>;
  value?: AwsSchema;
}

function resolve(schema: AwsSchema): Resolved {
  let s: AwsSchema = schema;
  while (typeof s === 'function') s = s();
  if (typeof s === 'number') {
    if (s & 64) return { kind: 'list', element: s & ~64 };
    if (s & 128) return { kind: 'map', value: s & ~128 };
    return { kind: 'simple', code: s };
  }
  const [tag] = s as [number];
  if (tag === 3 || tag === -3) {
    const names = s[4] as string[];
    const schemas = s[5] as AwsSchema[];
    return {
      kind: 'struct',
      members: names.map((name, i) => {
        const m = schemas[i] as AwsSchema;
        const withTraits =
          Array.isArray(m) && m.length === 2 && typeof m[1] === 'object' && !Array.isArray(m[1]);
        return {
          name,
          schema: withTraits ? (m[0] as AwsSchema) : m,
          traits: withTraits ? (m[1] as Record<string, unknown>) : {},
        };
      }),
    };
  }
  if (tag === 1) {
    const m = s[4] as AwsSchema;
    const withTraits = Array.isArray(m) && m.length === 2 && typeof m[1] === 'object' && !Array.isArray(m[1]);
    return {
      kind: 'list',
      element: withTraits ? (m[0] as AwsSchema) : m,
      elementTraits: withTraits ? (m[1] as Record<string, unknown>) : {},
    };
  }
  if (tag === 2) return { kind: 'map', value: s[5] as AwsSchema };
  // a member schema with traits at the top: [schema, traits]
  return resolve(s[0] as AwsSchema);
}

const simpleOk = (code: number, v: unknown): boolean => {
  if (code === 0 || code === 21) return typeof v === 'string';
  if (code === 1) return typeof v === 'number';
  if (code === 2) return typeof v === 'boolean';
  if (code >= 4 && code <= 7) return typeof v === 'number' || typeof v === 'string';
  return true;
};

/** Every field of a JSON answer (restJson1, awsJson) that `schema` lacks or types differently. */
export function awsJsonProblems(schema: AwsSchema, value: unknown, path = '$'): string[] {
  if (value === null || value === undefined) return [];
  const r = resolve(schema);
  if (r.kind === 'simple') return simpleOk(r.code ?? 0, value) ? [] : [`${path}: unexpected ${typeof value}`];
  if (r.kind === 'list') {
    if (!Array.isArray(value)) return [`${path}: expected a list`];
    return value.flatMap((v, i) => awsJsonProblems(r.element as AwsSchema, v, `${path}[${i}]`));
  }
  if (typeof value !== 'object' || Array.isArray(value)) return [`${path}: expected an object`];
  if (r.kind === 'map')
    return Object.entries(value).flatMap(([k, v]) =>
      awsJsonProblems(r.value as AwsSchema, v, `${path}.${k}`),
    );
  const byWire = new Map((r.members ?? []).map((m) => [String(m.traits.jsonName ?? m.name), m]));
  return Object.entries(value).flatMap(([k, v]) => {
    const m = byWire.get(k);
    return m ? awsJsonProblems(m.schema, v, `${path}.${k}`) : [`${path}.${k}: not in the model`];
  });
}

/** A parsed XML element: its name, child elements and text. */
export interface XmlElement {
  name: string;
  children: XmlElement[];
  text: string;
}

/** A small parser for the simulator's own XML (elements, text, attributes ignored; no CDATA or comments). */
export function parseXml(xml: string): XmlElement {
  const root: XmlElement = { name: '#root', children: [], text: '' };
  const stack = [root];
  for (const m of xml
    .replace(/<\?xml[^>]*\?>/, '')
    .matchAll(/<(\/?)([A-Za-z_][\w.-]*)([^>]*?)(\/?)>|([^<]+)/g)) {
    const top = stack[stack.length - 1] as XmlElement;
    if (m[5] !== undefined) {
      top.text += m[5];
      continue;
    }
    if (m[1]) {
      stack.pop();
      continue;
    }
    const el: XmlElement = { name: m[2] as string, children: [], text: '' };
    top.children.push(el);
    if (!m[4]) stack.push(el);
  }
  return root.children[0] as XmlElement;
}

/** Every element of an ec2Query XML answer that `schema` lacks (element names are the members' xmlName). */
export function awsXmlProblems(schema: AwsSchema, el: XmlElement, path = '$'): string[] {
  const r = resolve(schema);
  if (r.kind === 'simple') return el.children.length === 0 ? [] : [`${path}: expected text`];
  if (r.kind === 'list') {
    const itemName = String(r.elementTraits?.xmlName ?? 'member');
    return el.children.flatMap((c, i) =>
      c.name === itemName
        ? awsXmlProblems(r.element as AwsSchema, c, `${path}[${i}]`)
        : [`${path}.${c.name}: expected <${itemName}>`],
    );
  }
  if (r.kind === 'map') return [];
  const byWire = new Map(
    (r.members ?? []).map((m) => [String(m.traits.xmlName ?? m.traits.ec2QueryName ?? m.name), m]),
  );
  return el.children.flatMap((c) => {
    const m = byWire.get(c.name);
    return m ? awsXmlProblems(m.schema, c, `${path}.${c.name}`) : [`${path}.${c.name}: not in the model`];
  });
}
