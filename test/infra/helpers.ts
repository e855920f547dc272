// Readers for the infrastructure code: Bicep through tree-sitter-bicep, Terraform through
// @cdktf/hcl2json, Kubernetes manifests through yaml. Each extractor turns a file into plain data
// that the tests compare with src/permissions.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseHcl } from '@cdktf/hcl2json';
import { Language, type Node, Parser } from 'web-tree-sitter';
import { parseAllDocuments } from 'yaml';
import type { KubernetesRule } from '../../src/permissions.js';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const infraDir = join(repoRoot, 'infra');

/** Files under `dir` whose names end with one of `exts`, repo-relative, sorted; skips .terraform. */
export function filesUnder(dir: string, exts: readonly string[]): string[] {
  const out: string[] = [];
  const visit = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== '.terraform' && entry.name !== 'node_modules') visit(full);
      } else if (exts.some((e) => entry.name.endsWith(e))) {
        out.push(relative(repoRoot, full));
      }
    }
  };
  visit(dir);
  return out.sort();
}

export const readRepoFile = (path: string): string => readFileSync(join(repoRoot, path), 'utf8');

/** Sorted, de-duplicated copy, for set comparisons with readable diffs. */
export const sortedSet = (items: Iterable<string>): string[] => [...new Set(items)].sort();

/** Both directions of a set comparison: what `actual` lacks and what it has beyond `expected`. */
export function setDiff(
  actual: Iterable<string>,
  expected: Iterable<string>,
): { missing: string[]; extra: string[] } {
  const a = new Set(actual);
  const e = new Set(expected);
  return {
    missing: [...e].filter((x) => !a.has(x)).sort(),
    extra: [...a].filter((x) => !e.has(x)).sort(),
  };
}

// ------------------------------------------------------------------------------------------------
// Bicep
// ------------------------------------------------------------------------------------------------

let parserPromise: Promise<Parser> | undefined;

export function bicepParser(): Promise<Parser> {
  parserPromise ??= (async () => {
    await Parser.init();
    const require = createRequire(import.meta.url);
    const language = await Language.load(require.resolve('tree-sitter-bicep/tree-sitter-bicep.wasm'));
    const parser = new Parser();
    parser.setLanguage(language);
    return parser;
  })();
  return parserPromise;
}

export async function parseBicep(text: string): Promise<Node> {
  const tree = (await bicepParser()).parse(text);
  if (!tree) throw new Error('tree-sitter returned no tree');
  return tree.rootNode;
}

export function walk(node: Node, visit: (n: Node) => void): void {
  visit(node);
  for (const child of node.children) if (child) walk(child, visit);
}

/** ERROR and MISSING nodes, as `line:column type text`. */
export function syntaxProblems(root: Node): string[] {
  const problems: string[] = [];
  walk(root, (n) => {
    if (n.isError || n.isMissing) {
      problems.push(
        `${n.startPosition.row + 1}:${n.startPosition.column + 1} ${n.type} ${n.text.slice(0, 40)}`,
      );
    }
  });
  return problems;
}

const named = (n: Node): Node[] => n.namedChildren.filter((c): c is Node => c !== null);

/** The value node of `key` in an `object` node. */
export function prop(object: Node | undefined, key: string): Node | undefined {
  if (object?.type !== 'object') return undefined;
  for (const p of named(object)) {
    if (p.type !== 'object_property') continue;
    const [k, v] = named(p);
    if (k && (k.text === key || k.text === `'${key}'`)) return v;
  }
  return undefined;
}

/** Keys of an `object` node, in order. */
export function keysOf(object: Node): string[] {
  return named(object)
    .filter((p) => p.type === 'object_property')
    .map((p) => named(p)[0]?.text ?? '');
}

/** The body object of a resource/module declaration (also through `if (...) { }` and `[for …: { }]`). */
function bodyOf(decl: Node): Node | undefined {
  for (const c of named(decl)) {
    if (c.type === 'object') return c;
    if (c.type === 'if_statement' || c.type === 'for_statement') {
      const inner = named(c).filter((x) => x.type === 'object' || x.type === 'if_statement');
      const last = inner[inner.length - 1];
      return last?.type === 'object' ? last : last ? bodyOf(last) : undefined;
    }
  }
  return undefined;
}

/** Text of a string node without quotes, or undefined when it is not a plain string. */
export function stringValue(n: Node | undefined): string | undefined {
  if (n?.type !== 'string') return undefined;
  if (named(n).some((c) => c.type === 'interpolation')) return undefined;
  return named(n)
    .filter((c) => c.type === 'string_content')
    .map((c) => c.text)
    .join('');
}

export interface BicepDecl {
  kind: 'resource' | 'module';
  symbol: string;
  /** Resource type with API version, or module path. */
  target: string;
  body: Node | undefined;
  node: Node;
}

export function declarations(root: Node): BicepDecl[] {
  const out: BicepDecl[] = [];
  for (const d of named(root)) {
    if (d.type !== 'resource_declaration' && d.type !== 'module_declaration') continue;
    const [id, target] = named(d);
    out.push({
      kind: d.type === 'resource_declaration' ? 'resource' : 'module',
      symbol: id?.text ?? '',
      target: stringValue(target) ?? '',
      body: bodyOf(d),
      node: d,
    });
  }
  return out;
}

/** Top-level `var NAME = <value>` value nodes by name. */
export function variables(root: Node): Map<string, Node> {
  const out = new Map<string, Node>();
  for (const d of named(root)) {
    if (d.type !== 'variable_declaration') continue;
    const [id, value] = named(d);
    if (id && value) out.set(id.text, value);
  }
  return out;
}

export interface BicepParam {
  name: string;
  secure: boolean;
  /** Text of the default value, when there is one. */
  defaultText?: string;
}

export function params(root: Node): BicepParam[] {
  const out: BicepParam[] = [];
  let decorators: string[] = [];
  for (const d of named(root)) {
    if (d.type === 'decorators') {
      decorators = named(d).map((x) => x.text);
      continue;
    }
    if (d.type === 'parameter_declaration') {
      const children = named(d);
      const def = children.length > 2 ? children[children.length - 1] : undefined;
      out.push({
        name: children[0]?.text ?? '',
        secure: decorators.some((t) => t.startsWith('@secure(')),
        ...(def ? { defaultText: def.text } : {}),
      });
    }
    decorators = [];
  }
  return out;
}

/** Every identifier node in the tree whose text is `name`. */
export function identifierUses(root: Node, name: string): Node[] {
  const out: Node[] = [];
  walk(root, (n) => {
    if (n.type === 'identifier' && n.text === name) out.push(n);
  });
  return out;
}

// ------------------------------------------------------------------------------------------------
// Terraform
// ------------------------------------------------------------------------------------------------

// biome-ignore lint/suspicious/noExplicitAny: hcl2json returns untyped JSON.
export type Hcl = Record<string, any>;

export async function parseTerraform(path: string): Promise<Hcl> {
  return (await parseHcl(path, readRepoFile(path))) as Hcl;
}

/** All .tf files of one module merged the way Terraform reads them (blocks by type and name). */
export async function terraformModule(dir: string): Promise<Hcl> {
  const merged: Hcl = {};
  for (const file of filesUnder(join(infraDir, 'terraform', dir), ['.tf'])) {
    const parsed = await parseTerraform(file);
    for (const [blockType, value] of Object.entries(parsed)) {
      if (Array.isArray(value)) {
        merged[blockType] = [...(merged[blockType] ?? []), ...value];
      } else {
        merged[blockType] ??= {};
        for (const [k, v] of Object.entries(value as Hcl)) {
          merged[blockType][k] = { ...(merged[blockType][k] ?? {}), ...(v as Hcl) };
        }
      }
    }
  }
  return merged;
}

/** The `locals` blocks of a module merged into one object. */
export function locals(module: Hcl): Hcl {
  return Object.assign({}, ...((module.locals ?? []) as Hcl[]));
}

/** One block, e.g. block(module, 'resource', 'aws_lambda_function', 'this'). */
export function block(module: Hcl, kind: string, type: string, name: string): Hcl | undefined {
  const entry = module[kind]?.[type]?.[name];
  return Array.isArray(entry) ? entry[0] : undefined;
}

/** All blocks of a type: name → body. */
export function blocks(module: Hcl, kind: string, type: string): Map<string, Hcl> {
  const out = new Map<string, Hcl>();
  for (const [name, entry] of Object.entries((module[kind]?.[type] ?? {}) as Hcl)) {
    if (Array.isArray(entry) && entry[0]) out.set(name, entry[0]);
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Kubernetes
// ------------------------------------------------------------------------------------------------

export interface Manifest {
  file: string;
  index: number;
  // biome-ignore lint/suspicious/noExplicitAny: manifests are untyped until validated.
  doc: Record<string, any>;
}

/** Every document of a multi-document YAML file; throws on a YAML error. */
export function loadManifests(file: string): Manifest[] {
  const docs = parseAllDocuments(readRepoFile(file));
  const out: Manifest[] = [];
  for (const [index, d] of docs.entries()) {
    if (d.errors.length > 0)
      throw new Error(`${file} document ${index}: ${d.errors.map((e) => e.message).join('; ')}`);
    const value = d.toJS();
    if (value === null || value === undefined) continue;
    out.push({ file, index, doc: value });
  }
  return out;
}

/** A rule as a set of `group/resource[/name]:verb` atoms, so rules compare independent of grouping. */
export function ruleAtoms(rules: readonly KubernetesRule[]): string[] {
  const atoms: string[] = [];
  for (const r of rules) {
    const names = r.resourceNames && r.resourceNames.length > 0 ? r.resourceNames : ['*'];
    for (const g of r.apiGroups)
      for (const res of r.resources)
        for (const v of r.verbs)
          for (const n of names) atoms.push(`${g === '' ? 'core' : g}/${res}[${n}]:${v}`);
  }
  return sortedSet(atoms);
}
