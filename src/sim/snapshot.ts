// The snapshot format (shared/SNAPSHOT.md): schema, loading, defaults and semantic checks.
// Every problem is reported at once, each with its path (`workloads[2].pods[0].sockets[1].state: …`).

import { readFile } from 'node:fs/promises';
import { isIPv4, isIPv6 } from 'node:net';
import { parseDocument } from 'yaml';
import * as z from 'zod';
import { ValidationError } from '../errors.js';
import {
  RECOMMENDATION_IDS,
  type RecommendationId,
  SKIP_REASONS,
  type SkipReason,
  type TcpState,
} from '../model.js';
import { STATE_BY_CODE } from '../sockets/states.js';
import { sha256Hex } from './hash.js';

// ---------------------------------------------------------------- schema (the file as written)

/** Every state name /proc/net/tcp can show (the kernel's codes 1–12). */
const TCP_STATES = STATE_BY_CODE.filter((s) => s !== 'UNKNOWN') as [TcpState, ...TcpState[]];

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'Pod'] as const;

const count = z.number().int().nonnegative();
const stringMap = z.record(z.string(), z.string());

const socketSchema = z
  .object({
    remote: z.string().optional(),
    local: z.string().optional(),
    state: z.enum(TCP_STATES),
    count: z.number().int().nonnegative().max(1_000_000).optional(),
    family: z.enum(['ipv4', 'ipv6', 'ipv4-mapped']).optional(),
  })
  .strict();

const podSchema = z
  .object({
    name: z.string().min(1).optional(),
    node: z.string().min(1),
    ip: z.string().optional(),
    hostNetwork: z.boolean().optional(),
    exec: z.enum(['ok', 'no-cat', 'hang', 'error']).optional(),
    sockets: z.array(socketSchema).optional(),
  })
  .strict();

const workloadSchema = z
  .object({
    kind: z.enum(WORKLOAD_KINDS),
    namespace: z.string().min(1),
    name: z.string().min(1),
    replicas: count.optional(),
    // Deployments: spec.strategy.type (RollingUpdate when absent); the RECREATE_STRATEGY rail reads it.
    strategy: z.enum(['RollingUpdate', 'Recreate']).optional(),
    labels: stringMap.optional(),
    annotations: stringMap.optional(),
    status: z
      .object({
        unavailableReplicas: count.optional(),
        updatedReplicas: count.optional(),
        paused: z.boolean().optional(),
      })
      .strict()
      .optional(),
    pods: z.array(podSchema).optional(),
    afterRestart: z
      .object({ sockets: z.array(socketSchema).optional() })
      .strict()
      .optional(),
  })
  .strict();

const nodeSchema = z
  .object({
    name: z.string().min(1),
    internalIP: z.string().optional(),
    providerID: z.string().optional(),
    metrics: z
      .object({
        usedSnatPorts: count.optional(),
        allocatedSnatPorts: count.optional(),
        failedSnatConnections: count.optional(),
        conntrackAllowanceExceeded: count.optional(),
      })
      .strict()
      .optional(),
    conntrack: z
      .object({
        count,
        max: z.number().int().positive(),
        insertFailed: count.optional(),
        drop: count.optional(),
        earlyDrop: count.optional(),
        beLiberal: z.boolean().optional(),
      })
      .strict()
      .optional(),
    hostSockets: z.array(socketSchema).optional(),
  })
  .strict();

const azureSchema = z
  .object({
    subscriptionId: z.string().optional(),
    resourceGroup: z.string().min(1),
    clusterName: z.string().min(1),
    location: z.string().min(1),
    nodeResourceGroup: z.string().optional(),
    outboundType: z.enum(['loadBalancer', 'managedNATGateway', 'userAssignedNATGateway']).optional(),
    loadBalancer: z
      .object({
        allocatedOutboundPorts: z.number().int().min(0).max(64000).multipleOf(8).optional(),
        outboundIPs: z.number().int().min(1).max(100).optional(),
        idleTimeoutMinutes: z.number().int().min(4).max(120).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const awsSchema = z
  .object({
    region: z.string().min(1),
    clusterName: z.string().min(1),
    natGateways: z
      .array(
        z
          .object({
            id: z.string().min(1),
            errorPortAllocation: count.optional(),
            activeConnectionCount: count.optional(),
            packetsDropCount: count.optional(),
          })
          .strict(),
      )
      .optional(),
    awsNodeEnv: stringMap.optional(),
  })
  .strict();

const expectSchema = z
  .object({
    hotNodes: z.array(z.string()).optional(),
    restart: z.array(z.string()).optional(),
    notRestart: z.array(z.string()).optional(),
    recommendations: z.array(z.enum(RECOMMENDATION_IDS)).optional(),
    skips: z.record(z.string(), z.enum(SKIP_REASONS)).optional(),
  })
  .strict();

/** One frame of a timeline (docs/SNAPSHOT.md "Timeline"): what changed `at` after the snapshot's moment. */
const frameSchema = z
  .object({
    at: z.string(),
    description: z.string().optional(),
    // A node named here that the cluster does not have yet joins it (a scale-out).
    nodes: z.array(nodeSchema).optional(),
    removeNodes: z.array(z.string()).optional(),
    pods: z.array(z.object({ pod: z.string(), sockets: z.array(socketSchema) }).strict()).optional(),
    expect: expectSchema.optional(),
  })
  .strict();

const snapshotSchema = z
  .object({
    apiVersion: z.literal('snatguard.io/v1'),
    kind: z.literal('Snapshot'),
    metadata: z
      .object({
        name: z.string().min(1),
        description: z.string().optional(),
        // Written by `snatguard snapshot` (docs/SNAPSHOT.md "Captured snapshots"); replay ignores it.
        capture: z
          .object({
            at: z.string(),
            nodes: z.string().optional(),
            redacted: z.boolean().optional(),
            keepDestinations: z.boolean().optional(),
            missing: z.array(z.string()).optional(),
          })
          .strict()
          .optional(),
      })
      .strict(),
    cloud: z
      .object({
        provider: z.enum(['azure', 'aws', 'none']),
        azure: azureSchema.optional(),
        aws: awsSchema.optional(),
      })
      .strict()
      .optional(),
    cluster: z
      .object({
        version: z.string().optional(),
        podCIDR: z.string().optional(),
        serviceCIDR: z.string().optional(),
      })
      .strict()
      .optional(),
    nodes: z.array(nodeSchema).min(1),
    workloads: z.array(workloadSchema).optional(),
    expect: expectSchema.optional(),
    timeline: z.array(frameSchema).optional(),
  })
  .strict();

type RawSnapshot = z.output<typeof snapshotSchema>;
type RawSocket = z.output<typeof socketSchema>;

// ---------------------------------------------------------------- the parsed, defaulted form

export type SocketFamily = 'ipv4' | 'ipv6' | 'ipv4-mapped';

export interface SnapshotSocket {
  /** As written, e.g. `20.103.144.194:27017` or `81.2.69.160`. */
  remote?: string;
  local?: string;
  state: TcpState;
  count: number;
  family: SocketFamily;
  /** Parsed `remote`: address in canonical text (IPv4 dotted for ipv4-mapped), port when given. */
  remoteAddress?: string;
  remotePort?: number;
  /** Parsed `local`: address when given (`:8080` gives none), port. */
  localAddress?: string;
  localPort?: number;
}

export type ExecBehaviour = 'ok' | 'no-cat' | 'hang' | 'error';

export interface SnapshotPod {
  name: string;
  node: string;
  /** The pod IP (a hostNetwork pod has its node's internalIP); generated from podCIDR when absent. */
  ip: string;
  hostNetwork: boolean;
  exec: ExecBehaviour;
  sockets: SnapshotSocket[];
}

export type SnapshotWorkloadKind = (typeof WORKLOAD_KINDS)[number];

export interface SnapshotWorkload {
  kind: SnapshotWorkloadKind;
  namespace: string;
  name: string;
  replicas: number;
  /** Deployments: spec.strategy.type. */
  strategy?: 'RollingUpdate' | 'Recreate';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  status: { unavailableReplicas: number; updatedReplicas?: number; paused: boolean };
  /** Deployments: the pod-template-hash of the pods' ReplicaSet (from the given pod names, else generated). */
  templateHash?: string;
  pods: SnapshotPod[];
  afterRestart?: { sockets: SnapshotSocket[] };
}

export interface SnapshotConntrack {
  count: number;
  max: number;
  insertFailed: number;
  drop: number;
  earlyDrop: number;
  beLiberal: boolean;
}

export interface SnapshotNode {
  name: string;
  internalIP: string;
  providerID?: string;
  /** As given; fields left out are derived by the simulator (SNAPSHOT.md "Derived metrics"). */
  metrics?: {
    usedSnatPorts?: number;
    allocatedSnatPorts?: number;
    failedSnatConnections?: number;
    conntrackAllowanceExceeded?: number;
  };
  /** As given; when absent the simulator derives count from the node's sockets (see world.ts). */
  conntrack?: SnapshotConntrack;
  hostSockets: SnapshotSocket[];
}

export interface SnapshotAzure {
  subscriptionId: string;
  resourceGroup: string;
  clusterName: string;
  location: string;
  nodeResourceGroup: string;
  outboundType: 'loadBalancer' | 'managedNATGateway' | 'userAssignedNATGateway';
  loadBalancer: { allocatedOutboundPorts: number; outboundIPs: number; idleTimeoutMinutes: number };
}

export interface SnapshotAws {
  region: string;
  clusterName: string;
  natGateways: {
    id: string;
    errorPortAllocation: number;
    activeConnectionCount: number;
    packetsDropCount: number;
  }[];
  awsNodeEnv: Record<string, string>;
}

export interface SnapshotExpect {
  hotNodes?: string[];
  restart?: string[];
  notRestart?: string[];
  recommendations?: RecommendationId[];
  skips?: Record<string, SkipReason>;
}

export interface SnapshotFrame {
  /** As written (`5m`, `1h30m`, `90s`) and in milliseconds after the snapshot's moment. */
  at: string;
  atMs: number;
  description?: string;
  /** Nodes changed (metrics, conntrack, hostSockets replace what they give) or added (a scale-out). */
  nodes: (Omit<SnapshotNode, 'internalIP'> & { internalIP?: string; given: { hostSockets: boolean } })[];
  removeNodes: string[];
  /** Pods (`namespace/name`) whose sockets become these. */
  pods: { namespace: string; name: string; sockets: SnapshotSocket[] }[];
  expect?: SnapshotExpect;
}

/** How `snatguard snapshot` made the file: when, which nodes, whether redacted, what it could not read. */
export interface SnapshotCapture {
  at: string;
  nodes?: string;
  redacted?: boolean;
  keepDestinations?: boolean;
  /** One line per thing it could not read (`node/X: pods not listed: …`); absent when it read everything. */
  missing?: string[];
}

export interface Snapshot {
  apiVersion: 'snatguard.io/v1';
  kind: 'Snapshot';
  metadata: { name: string; description?: string; capture?: SnapshotCapture };
  cloud: { provider: 'azure' | 'aws' | 'none'; azure?: SnapshotAzure; aws?: SnapshotAws };
  cluster: { version: string; podCIDR: string; serviceCIDR: string };
  nodes: SnapshotNode[];
  workloads: SnapshotWorkload[];
  expect?: SnapshotExpect;
  /** Frames in time order (docs/SNAPSHOT.md "Timeline"); `replay --timeline` runs the job at each. */
  timeline?: SnapshotFrame[];
}

// ---------------------------------------------------------------- loading

export interface LoadOptions {
  /**
   * Called with the file's data once it is parsed, before it is checked (it may be anything): what the
   * file says can be acted on early, e.g. its cloud's modules loaded by the scanner while the simulator
   * checks 100k pods. Not called when the text does not parse.
   */
  onParsed?: (data: unknown) => void;
  /** The file's text being read already (loadSnapshot reads it otherwise); its failure is reported alike. */
  text?: Promise<string>;
}

/** Reads and validates a snapshot file (YAML or JSON); throws ValidationError listing every problem. */
export async function loadSnapshot(path: string, options: LoadOptions = {}): Promise<Snapshot> {
  let text: string;
  try {
    text = await (options.text ?? readFile(path, 'utf8'));
  } catch (cause) {
    throw new ValidationError(path, [`cannot read: ${(cause as Error).message}`]);
  }
  return parseSnapshot(text, path, options);
}

/** Parses snapshot text (YAML or JSON); `source` names it in messages. */
export function parseSnapshot(text: string, source = 'snapshot', options: LoadOptions = {}): Snapshot {
  // JSON (what `snatguard snapshot` and generators write) loads at JSON.parse speed: 20 MB in ~0.1 s
  // instead of ~3 s through the YAML parser. Anything JSON.parse refuses goes the YAML way, for its messages.
  const json = parseJson(text);
  if (json !== undefined) {
    if (json.duplicates.length > 0) throw new ValidationError(source, json.duplicates);
    options.onParsed?.(json.data);
    return validated(json.data, source);
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ValidationError(
      source,
      doc.errors.map((e) => {
        const at = e.linePos?.[0];
        const message = firstLine(e.message).replace(/ at line \d+, column \d+:?$/, '');
        return at ? `line ${at.line}, column ${at.col}: ${message}` : message;
      }),
    );
  }
  let data: unknown;
  try {
    // An alias bomb ("Excessive alias count") or an alias without its anchor is a problem of the file.
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ValidationError(source, [firstLine(e instanceof Error ? e.message : String(e))]);
  }
  options.onParsed?.(data);
  return validated(data, source);
}

/**
 * Parsed data (from JSON or YAML) → the snapshot; throws ValidationError listing every problem. `quick`
 * (default) takes quickParse's fast path for the pods; false checks everything with zod (the tests
 * compare the two).
 */
export function validated(data: unknown, source: string, quick = true): Snapshot {
  const result = (quick ? quickParse(data) : undefined) ?? snapshotSchema.safeParse(data);
  if (!result.success) throw new ValidationError(source, result.error.issues.flatMap(formatIssue));
  const problems: string[] = [];
  const snapshot = complete(result.data, problems);
  if (problems.length > 0) throw new ValidationError(source, problems);
  return snapshot;
}

const firstLine = (s: string): string => s.split('\n')[0] ?? s;

// ---------------------------------------------------------------- the schema's fast path for pods

const POD_KEYS = new Set(['name', 'node', 'ip', 'hostNetwork', 'exec', 'sockets']);
const SOCKET_KEYS = new Set(['remote', 'local', 'state', 'count', 'family']);
const EXEC_BEHAVIOURS = new Set(['ok', 'no-cat', 'hang', 'error']);
const FAMILIES = new Set(['ipv4', 'ipv6', 'ipv4-mapped']);
const STATES = new Set<string>(TCP_STATES);

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** What socketSchema accepts, checked by hand (true only when zod would accept it unchanged). */
function plainSocket(v: unknown): boolean {
  if (!isRecord(v)) return false;
  for (const k in v) if (!SOCKET_KEYS.has(k)) return false;
  const { remote, local, state, count: c, family } = v;
  if (remote !== undefined && typeof remote !== 'string') return false;
  if (local !== undefined && typeof local !== 'string') return false;
  if (typeof state !== 'string' || !STATES.has(state)) return false;
  if (c !== undefined && !(typeof c === 'number' && Number.isSafeInteger(c) && c >= 0 && c <= 1_000_000))
    return false;
  return family === undefined || (typeof family === 'string' && FAMILIES.has(family));
}

/** What podSchema accepts, checked by hand (true only when zod would accept it unchanged). */
function plainPod(v: unknown): boolean {
  if (!isRecord(v)) return false;
  for (const k in v) if (!POD_KEYS.has(k)) return false;
  const { name, node, ip, hostNetwork, exec, sockets } = v;
  if (name !== undefined && !(typeof name === 'string' && name.length >= 1)) return false;
  if (!(typeof node === 'string' && node.length >= 1)) return false;
  if (ip !== undefined && typeof ip !== 'string') return false;
  if (hostNetwork !== undefined && typeof hostNetwork !== 'boolean') return false;
  if (exec !== undefined && !(typeof exec === 'string' && EXEC_BEHAVIOURS.has(exec))) return false;
  if (sockets === undefined) return true;
  if (!Array.isArray(sockets)) return false;
  for (let i = 0; i < sockets.length; i++) if (!plainSocket(sockets[i])) return false;
  return true;
}

/**
 * snapshotSchema.safeParse for a file whose pods all pass plainPod: zod checks everything but the pods
 * (a cluster's bulk: 100k pods took zod most of a second), and the pods join its output as they are
 * (podSchema has no defaults or transforms: its output is its input). Undefined when any pod does not
 * pass, or the file is not shaped for it: then zod checks the whole file and names every problem.
 */
function quickParse(data: unknown): { success: true; data: RawSnapshot } | undefined {
  if (!isRecord(data) || !Array.isArray(data.workloads)) return undefined;
  const pods: unknown[][] = [];
  for (const w of data.workloads) {
    if (!isRecord(w)) return undefined;
    if (w.pods === undefined) pods.push([]);
    else if (Array.isArray(w.pods) && w.pods.every(plainPod)) pods.push(w.pods);
    else return undefined;
  }
  const result = snapshotSchema.safeParse({
    ...data,
    workloads: data.workloads.map((w) => (isRecord(w) && w.pods !== undefined ? { ...w, pods: [] } : w)),
  });
  if (!result.success) return undefined;
  result.data.workloads?.forEach((w, i) => {
    if (w.pods !== undefined) w.pods = pods[i] as NonNullable<typeof w.pods>;
  });
  return { success: true, data: result.data };
}

/**
 * JSON text → its value and the duplicate keys in it (JSON.parse keeps the last one silently; the YAML
 * path rejects them, and so must this one), or undefined when the text is not JSON.
 */
export function parseJson(text: string): { data: unknown; duplicates: string[] } | undefined {
  const start = text.search(/\S/);
  if (start < 0 || (text[start] !== '{' && text[start] !== '[')) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  return { data, duplicates: keysAllDistinct(text, data) ? [] : duplicateKeys(text) };
}

/**
 * True when `text` (valid JSON, parsed to `data`) has no repeated key in any object, proven by counting:
 * every key of the text ends in `":` (a key's closing quote, then its colon), and JSON.parse keeps one
 * key per name, so with a repeated key the text has more `":` than `data` has keys plus the `":` that
 * strings write inside themselves (a string starting with `:`, or a `\"` then `:`); those are counted
 * from `data`'s strings, which the text writes literally when it has no `\u` escape. Five times faster
 * than the scan duplicateKeys does; false (the scan decides) when it cannot tell.
 */
function keysAllDistinct(text: string, data: unknown): boolean {
  if (text.includes('\\u') || /"[ \t\n\r]+:/.test(text)) return false;
  let inText = 0;
  for (let i = text.indexOf('":'); i !== -1; i = text.indexOf('":', i + 2)) inText++;
  return inText === keysAndColons(data);
}

/** Keys of every object in `v`, plus the `":` its strings (keys and values) write inside themselves. */
function keysAndColons(v: unknown): number {
  if (typeof v === 'string') return quoteColons(v);
  if (v === null || typeof v !== 'object') return 0;
  let n = 0;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) n += valueColons(v[i]);
    return n;
  }
  const o = v as Record<string, unknown>;
  for (const k in o) {
    n += 1 + valueColons(o[k]);
    if (k.includes(':')) n += quoteColons(k);
  }
  return n;
}

/** keysAndColons of one value, with no call for the strings without a colon (most of a cluster's). */
function valueColons(x: unknown): number {
  if (typeof x === 'string') return x.includes(':') ? quoteColons(x) : 0;
  return typeof x === 'object' && x !== null ? keysAndColons(x) : 0;
}

/** How often the JSON text of string `s` holds `"` then spaces then `:` (after its opening quote or a `\"`). */
function quoteColons(s: string): number {
  let n = 0;
  for (let j = s.indexOf(':'); j !== -1; j = s.indexOf(':', j + 1)) {
    let k = j - 1;
    while (k >= 0 && s.charCodeAt(k) === 0x20) k--;
    if (k < 0 || s.charCodeAt(k) === 0x22) n++;
  }
  return n;
}

/** One linear pass over valid JSON: `line L, column C: Map keys must be unique` per repeated key in an object. */
function duplicateKeys(text: string): string[] {
  const problems: string[] = [];
  // Per open container: the keys of an object so far, or null for an array.
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const begin = i;
      let escaped = false;
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) {
          escaped = true;
          i++;
        } else if (d === 0x22) break;
      }
      if (expectKey) {
        const raw = text.slice(begin, i + 1);
        const key = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        const keys = stack[stack.length - 1];
        if (keys?.has(key)) {
          const before = text.slice(0, begin);
          const line = before.split('\n').length;
          const col = begin - before.lastIndexOf('\n');
          problems.push(`line ${line}, column ${col}: Map keys must be unique`);
        }
        keys?.add(key);
        expectKey = false;
      }
    } else if (c === 0x7b /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] instanceof Set;
    }
  }
  return problems;
}

/** `['workloads', 2, 'pods', 0, 'name']` → `workloads[2].pods[0].name`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out === '' ? '(root)' : out;
}

function formatIssue(issue: z.core.$ZodIssue): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${formatPath([...issue.path, k])}: unknown field`);
  }
  const message = /received undefined$/.test(issue.message) ? 'required' : issue.message;
  return [`${formatPath(issue.path)}: ${message}`];
}

// ---------------------------------------------------------------- addresses

interface Endpoint {
  address?: string;
  port?: number;
  v6: boolean;
}

/** `a.b.c.d:port`, `a.b.c.d`, `[v6]:port`, `v6`, `::ffff:a.b.c.d`; with `allowPortOnly`, `:port`. */
export function parseEndpoint(text: string, allowPortOnly: boolean): Endpoint | string {
  const port = (p: string): number | string => {
    if (!/^\d{1,5}$/.test(p)) return `bad port "${p}"`;
    const n = Number(p);
    return n >= 1 && n <= 65535 ? n : `port ${p} out of range 1-65535`;
  };
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracket) {
    const [, addr = '', p] = bracket;
    if (!isIPv6(addr)) return `"${addr}" is not an IPv6 address`;
    if (p === undefined) return { ...canonical(addr), port: undefined };
    const n = port(p);
    return typeof n === 'string' ? n : { ...canonical(addr), port: n };
  }
  if (isIPv4(text) || isIPv6(text)) return { ...canonical(text), port: undefined };
  const colon = text.lastIndexOf(':');
  if (colon < 0) return `"${text}" is not IP, IP:PORT${allowPortOnly ? ' or :PORT' : ''}`;
  const addr = text.slice(0, colon);
  const n = port(text.slice(colon + 1));
  if (typeof n === 'string') return n;
  if (addr === '') return allowPortOnly ? { port: n, v6: false } : `"${text}" needs an address`;
  if (!isIPv4(addr)) return `"${addr}" is not an IPv4 address (write IPv6 as [addr]:port)`;
  return { address: addr, port: n, v6: false };
}

function canonical(addr: string): { address: string; v6: boolean } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  if (mapped?.[1] && isIPv4(mapped[1])) return { address: mapped[1], v6: true };
  return { address: addr, v6: isIPv6(addr) };
}

// ---------------------------------------------------------------- names

/** The alphabet Kubernetes uses for generated names (utilrand.String, SafeEncodeString). */
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** `n` characters from NAME_ALPHABET, a pure function of `seed`. */
export function nameChars(seed: string, n: number): string {
  const hex = sha256Hex(seed);
  let out = '';
  for (let i = 0; i < n; i++) {
    // Byte i of the digest from its two lower-case hex digits (no substring per byte: 100k generated
    // pod names are 500k bytes).
    const j = (i % 32) * 2;
    const byte = hexDigit(hex.charCodeAt(j)) * 16 + hexDigit(hex.charCodeAt(j + 1));
    out += NAME_ALPHABET[byte % NAME_ALPHABET.length];
  }
  return out;
}

/** The value of a lower-case hex digit's char code (`0`–`9`, `a`–`f`). */
const hexDigit = (c: number): number => (c <= 0x39 ? c - 0x30 : c - 0x57);

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

// ---------------------------------------------------------------- IPv4 helpers

export function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

function parseCidr(cidr: string): { base: number; bits: number } | null {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(cidr);
  if (!m?.[1] || !isIPv4(m[1])) return null;
  const bits = Number(m[2]);
  if (bits > 32) return null;
  const size = 2 ** (32 - bits);
  return { base: Math.floor(ipv4ToInt(m[1]) / size) * size, bits };
}

// ---------------------------------------------------------------- defaults and semantic checks

const DEFAULT_SUBSCRIPTION = '00000000-0000-0000-0000-000000000000';

/** What checkedPodKeys answers: a workload's namespace, its pods' names, and their `namespace/name` keys. */
export interface CheckedPodKeys {
  namespace: string;
  names: readonly string[];
  keys: readonly string[];
}

const podKeys = new WeakMap<readonly unknown[], CheckedPodKeys>();

/**
 * The `namespace/name` of each pod in a workload's `pods` as the snapshot's checks made it (to find
 * duplicates), for a store keyed the same way to take that string instead of making and hashing its
 * own (100k pods); with the names it was made from, to compare (the array may have been changed since).
 */
export function checkedPodKeys(pods: readonly unknown[]): CheckedPodKeys | undefined {
  return podKeys.get(pods);
}

function complete(raw: RawSnapshot, problems: string[]): Snapshot {
  // Distinct socket lines, parsed once (see completeSockets).
  const lines = new SocketLines();
  const provider = raw.cloud?.provider ?? 'none';
  const cloud: Snapshot['cloud'] = { provider };
  const rawAzure = raw.cloud?.azure;
  if (rawAzure) {
    cloud.azure = {
      subscriptionId: rawAzure.subscriptionId ?? DEFAULT_SUBSCRIPTION,
      resourceGroup: rawAzure.resourceGroup,
      clusterName: rawAzure.clusterName,
      location: rawAzure.location,
      nodeResourceGroup:
        rawAzure.nodeResourceGroup ??
        `MC_${rawAzure.resourceGroup}_${rawAzure.clusterName}_${rawAzure.location}`,
      outboundType: rawAzure.outboundType ?? 'loadBalancer',
      loadBalancer: {
        allocatedOutboundPorts: rawAzure.loadBalancer?.allocatedOutboundPorts ?? 0,
        outboundIPs: rawAzure.loadBalancer?.outboundIPs ?? 1,
        idleTimeoutMinutes: rawAzure.loadBalancer?.idleTimeoutMinutes ?? 30,
      },
    };
  }
  const rawAws = raw.cloud?.aws;
  if (rawAws) {
    cloud.aws = {
      region: rawAws.region,
      clusterName: rawAws.clusterName,
      natGateways: (rawAws.natGateways ?? []).map((g) => ({
        id: g.id,
        errorPortAllocation: g.errorPortAllocation ?? 0,
        activeConnectionCount: g.activeConnectionCount ?? 0,
        packetsDropCount: g.packetsDropCount ?? 0,
      })),
      awsNodeEnv: rawAws.awsNodeEnv ?? {},
    };
  }
  if (provider === 'azure' && !cloud.azure)
    problems.push('cloud.azure: required when cloud.provider is azure');
  if (provider === 'aws' && !cloud.aws) problems.push('cloud.aws: required when cloud.provider is aws');

  const cluster = {
    version: raw.cluster?.version ?? '1.31',
    podCIDR: raw.cluster?.podCIDR ?? '10.244.0.0/16',
    serviceCIDR: raw.cluster?.serviceCIDR ?? '10.0.0.0/16',
  };
  const version = /^v?(\d+)\.(\d+)(\.\d+)?$/.exec(cluster.version);
  if (!version) problems.push(`cluster.version: "${cluster.version}" is not MAJOR.MINOR[.PATCH]`);
  else if (Number(version[1]) !== 1 || Number(version[2]) < 30)
    problems.push(
      `cluster.version: ${cluster.version} is below 1.30 (kubectl needs >= 1.30 for exec over WebSocket)`,
    );
  const podCidr = parseCidr(cluster.podCIDR);
  if (!podCidr) problems.push(`cluster.podCIDR: "${cluster.podCIDR}" is not an IPv4 CIDR`);
  if (!parseCidr(cluster.serviceCIDR))
    problems.push(`cluster.serviceCIDR: "${cluster.serviceCIDR}" is not an IPv4 CIDR`);

  // Nodes.
  const nodeNames = new Map<string, number>();
  const nodes: SnapshotNode[] = raw.nodes.map((n, i) => {
    const at = `nodes[${i}]`;
    if (!DNS_SUBDOMAIN.test(n.name)) problems.push(`${at}.name: "${n.name}" is not a valid node name`);
    if (nodeNames.has(n.name))
      problems.push(`${at}.name: duplicate node "${n.name}" (also nodes[${nodeNames.get(n.name)}])`);
    else nodeNames.set(n.name, i);
    const internalIP = n.internalIP ?? intToIpv4(ipv4ToInt('10.224.0.4') + i);
    if (!isIPv4(internalIP)) problems.push(`${at}.internalIP: "${internalIP}" is not an IPv4 address`);
    const node: SnapshotNode = {
      name: n.name,
      internalIP,
      hostSockets: completeSockets(n.hostSockets ?? [], `${at}.hostSockets`, problems, lines),
    };
    const providerID = n.providerID ?? defaultProviderID(cloud, n.name, i);
    if (providerID) node.providerID = providerID;
    if (n.metrics) node.metrics = { ...n.metrics };
    if (n.conntrack) {
      node.conntrack = {
        count: n.conntrack.count,
        max: n.conntrack.max,
        insertFailed: n.conntrack.insertFailed ?? 0,
        drop: n.conntrack.drop ?? 0,
        earlyDrop: n.conntrack.earlyDrop ?? 0,
        beLiberal: n.conntrack.beLiberal ?? false,
      };
      if (node.conntrack.count > node.conntrack.max)
        problems.push(`${at}.conntrack.count: ${node.conntrack.count} is above max ${node.conntrack.max}`);
    }
    return node;
  });
  const nodeByName = new Map(nodes.map((n) => [n.name, n]));

  // Workloads.
  const workloadIds = new Map<string, number>();
  // namespace/name → its first pod, as an index into podAt (workload, pod index pairs).
  const podNames = new Map<string, number>();
  const podAt: number[] = [];
  // Every IP given (pods', nodes'): built when the first pod without one needs an IP (a generated cluster
  // gives every pod its IP, and 100k of them are a set of 100k strings).
  let usedIps: Set<string> | undefined;
  const podsPerNode = new Map<string, number>();
  const nextPodIp = (node: string): string => {
    const nodeIndex = nodeNames.get(node) ?? 0;
    const base = podCidr?.base ?? ipv4ToInt('10.244.0.0');
    if (usedIps === undefined) {
      usedIps = new Set<string>();
      for (const w of raw.workloads ?? []) for (const p of w.pods ?? []) if (p.ip) usedIps.add(p.ip);
      for (const n of nodes) usedIps.add(n.internalIP);
    }
    for (;;) {
      const k = (podsPerNode.get(node) ?? 0) + 1;
      podsPerNode.set(node, k);
      const ip = intToIpv4(base + nodeIndex * 256 + 10 + k);
      if (!usedIps.has(ip)) {
        usedIps.add(ip);
        return ip;
      }
    }
  };

  const workloads: SnapshotWorkload[] = (raw.workloads ?? []).map((w, wi) => {
    const at = `workloads[${wi}]`;
    const id = `${w.namespace}/${w.kind}/${w.name}`;
    if (workloadIds.has(id))
      problems.push(`${at}: duplicate workload ${id} (also workloads[${workloadIds.get(id)}])`);
    else workloadIds.set(id, wi);
    if (!DNS_LABEL.test(w.namespace))
      problems.push(`${at}.namespace: "${w.namespace}" is not a valid namespace name`);
    const validName = DNS_SUBDOMAIN.test(w.name) && w.name.length <= 63;
    if (!validName) problems.push(`${at}.name: "${w.name}" is not a valid workload name`);
    const rawPods = w.pods ?? [];
    if (w.kind === 'Pod' && rawPods.length !== 1)
      problems.push(`${at}.pods: a Pod workload has exactly one pod`);

    let templateHash: string | undefined;
    if (w.kind === 'Deployment') {
      const prefix = `${w.name}-`;
      for (const p of rawPods) {
        const m = p.name?.startsWith(prefix)
          ? /^([a-z0-9]{1,10})-[a-z0-9]{5}$/.exec(p.name.slice(prefix.length))
          : null;
        if (m?.[1]) {
          templateHash = m[1];
          break;
        }
      }
      templateHash ??= nameChars(`${raw.metadata.name}/${id}/template`, 10);
    }
    const givenNames = new Set(rawPods.flatMap((p) => (p.name ? [p.name] : [])));
    let ordinal = 0;
    const generateName = (pi: number): string => {
      switch (w.kind) {
        case 'Pod':
          return w.name;
        case 'StatefulSet': {
          while (givenNames.has(`${w.name}-${ordinal}`)) ordinal++;
          return `${w.name}-${ordinal++}`;
        }
        case 'Deployment':
          return `${w.name}-${templateHash}-${nameChars(`${raw.metadata.name}/${id}/pod/${pi}`, 5)}`;
        default:
          return `${w.name}-${nameChars(`${raw.metadata.name}/${id}/pod/${pi}`, 5)}`;
      }
    };

    // (A path is written only for a problem: a cluster has 100k pods and few problems.)
    let current = 0;
    const pathOf = (pi = current) => `${at}.pods[${pi}]`;
    const socketsAt = () => `${pathOf()}.sockets`;
    const names: string[] = [];
    const keys: string[] = [];
    const pods: SnapshotPod[] = rawPods.map((p, pi) => {
      current = pi;
      // A name generated from a valid workload name is valid (the workload name, `-`, then digits or
      // NAME_ALPHABET: at most 80 characters); only a given one, or one from an invalid workload name, is
      // checked (100k generated names were 100k regular-expression tests).
      const given = p.name !== undefined;
      const name = p.name ?? generateName(pi);
      if ((given || !validName) && (!DNS_SUBDOMAIN.test(name) || name.length > 253))
        problems.push(`${pathOf()}.name: "${name}" is not a valid pod name`);
      const key = `${w.namespace}/${name}`;
      names.push(name);
      keys.push(key);
      const other = podNames.get(key);
      if (other !== undefined)
        problems.push(
          `${pathOf()}.name: duplicate pod ${key} (also workloads[${podAt[2 * other]}].pods[${podAt[2 * other + 1]}])`,
        );
      else {
        podNames.set(key, podAt.length / 2);
        podAt.push(wi, pi);
      }
      const node = nodeByName.get(p.node);
      if (!node) problems.push(`${pathOf()}.node: unknown node "${p.node}"`);
      const hostNetwork = p.hostNetwork ?? false;
      if (hostNetwork && (p.sockets?.length ?? 0) > 0)
        problems.push(
          `${pathOf()}.sockets: a hostNetwork pod has no sockets of its own (give its node hostSockets)`,
        );
      if (hostNetwork && p.ip && node && p.ip !== node.internalIP)
        problems.push(`${pathOf()}.ip: a hostNetwork pod has its node's IP ${node.internalIP}`);
      if (p.ip && !isIPv4(p.ip)) problems.push(`${pathOf()}.ip: "${p.ip}" is not an IPv4 address`);
      const ip = hostNetwork ? (node?.internalIP ?? p.ip ?? '0.0.0.0') : (p.ip ?? nextPodIp(p.node));
      return {
        name,
        // The node's own name string: 100k pods then name a few thousand strings, and the simulator's
        // index by node (a map keyed by them) hashes each once, not once per pod.
        node: node?.name ?? p.node,
        ip,
        hostNetwork,
        exec: p.exec ?? 'ok',
        sockets: completeSockets(p.sockets ?? [], socketsAt, problems, lines),
      };
    });
    podKeys.set(pods, { namespace: w.namespace, names, keys });

    const workload: SnapshotWorkload = {
      kind: w.kind,
      namespace: w.namespace,
      name: w.name,
      replicas: w.replicas ?? pods.length,
      labels: w.labels ?? { app: w.name },
      annotations: w.annotations ?? {},
      status: {
        unavailableReplicas: w.status?.unavailableReplicas ?? 0,
        paused: w.status?.paused ?? false,
        ...(w.status?.updatedReplicas !== undefined ? { updatedReplicas: w.status.updatedReplicas } : {}),
      },
      pods,
      ...(templateHash ? { templateHash } : {}),
      ...(w.strategy ? { strategy: w.strategy } : {}),
    };
    if (w.strategy && w.kind !== 'Deployment')
      problems.push(`${at}.strategy: only a Deployment has a strategy (spec.strategy.type)`);
    if (w.kind === 'Pod' && workload.replicas !== 1)
      problems.push(`${at}.replicas: a Pod workload has 1 replica`);
    if (workload.status.unavailableReplicas > workload.replicas)
      problems.push(
        `${at}.status.unavailableReplicas: ${workload.status.unavailableReplicas} is above replicas`,
      );
    for (const [k, v] of Object.entries(workload.labels)) {
      if (!/^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(k) || k.length > 316)
        problems.push(`${at}.labels.${k}: not a valid label key`);
      if (v !== '' && (!/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(v) || v.length > 63))
        problems.push(`${at}.labels.${k}: "${v}" is not a valid label value`);
    }
    if (w.afterRestart) {
      if (!['Deployment', 'StatefulSet', 'DaemonSet'].includes(w.kind))
        problems.push(`${at}.afterRestart: only a Deployment, StatefulSet or DaemonSet can be restarted`);
      workload.afterRestart = {
        sockets: completeSockets(w.afterRestart.sockets ?? [], `${at}.afterRestart.sockets`, problems, lines),
      };
    }
    return workload;
  });

  const snapshot: Snapshot = {
    apiVersion: raw.apiVersion,
    kind: raw.kind,
    metadata: { ...raw.metadata },
    cloud,
    cluster,
    nodes,
    workloads,
  };

  if (raw.expect) {
    const e = raw.expect;
    const known = new Set(workloadIds.keys());
    const checkIds = (ids: string[] | undefined, field: string) =>
      ids?.forEach((id, i) => {
        if (!known.has(id))
          problems.push(`expect.${field}[${i}]: unknown workload "${id}" (namespace/Kind/name)`);
      });
    e.hotNodes?.forEach((n, i) => {
      if (!nodeNames.has(n)) problems.push(`expect.hotNodes[${i}]: unknown node "${n}"`);
    });
    checkIds(e.restart, 'restart');
    checkIds(e.notRestart, 'notRestart');
    for (const id of Object.keys(e.skips ?? {}))
      if (!known.has(id)) problems.push(`expect.skips.${id}: unknown workload "${id}" (namespace/Kind/name)`);
    // A workload in both restart and notRestart is a contradiction `replay --check` reports as a mismatch
    // (exit 1), not a malformed file: the file is well-formed, the expectation just cannot hold.
    snapshot.expect = { ...e };
  }
  if (raw.timeline) snapshot.timeline = completeTimeline(raw.timeline, snapshot, problems);
  return snapshot;
}

/** `5m`, `1h30m`, `90s` → milliseconds; null when it is not such an offset. */
export function parseOffset(text: string): number | null {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (!m || text === '') return null;
  return ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000;
}

function completeTimeline(
  raw: NonNullable<RawSnapshot['timeline']>,
  snapshot: Snapshot,
  problems: string[],
): SnapshotFrame[] {
  const nodes = new Set(snapshot.nodes.map((n) => n.name));
  const pods = new Set(snapshot.workloads.flatMap((w) => w.pods.map((p) => `${w.namespace}/${p.name}`)));
  const hostNetworkPods = new Set(
    snapshot.workloads.flatMap((w) =>
      w.pods.filter((p) => p.hostNetwork).map((p) => `${w.namespace}/${p.name}`),
    ),
  );
  const workloads = new Set(snapshot.workloads.map((w) => `${w.namespace}/${w.kind}/${w.name}`));
  let previous = 0;
  return raw.map((f, fi) => {
    const at = `timeline[${fi}]`;
    const atMs = parseOffset(f.at);
    if (atMs === null) problems.push(`${at}.at: "${f.at}" is not an offset like 30s, 5m or 1h30m`);
    else if (atMs <= previous)
      problems.push(`${at}.at: ${f.at} must come after the previous frame (and after 0)`);
    previous = Math.max(previous, atMs ?? 0);
    const frame: SnapshotFrame = {
      at: f.at,
      atMs: atMs ?? 0,
      nodes: (f.nodes ?? []).map((n, ni) => {
        const nat = `${at}.nodes[${ni}]`;
        if (!DNS_SUBDOMAIN.test(n.name)) problems.push(`${nat}.name: "${n.name}" is not a valid node name`);
        if (n.internalIP !== undefined && !isIPv4(n.internalIP))
          problems.push(`${nat}.internalIP: "${n.internalIP}" is not an IPv4 address`);
        if (n.conntrack && n.conntrack.count > n.conntrack.max)
          problems.push(`${nat}.conntrack.count: ${n.conntrack.count} is above max ${n.conntrack.max}`);
        nodes.add(n.name);
        return {
          name: n.name,
          ...(n.internalIP !== undefined ? { internalIP: n.internalIP } : {}),
          ...(n.providerID !== undefined ? { providerID: n.providerID } : {}),
          ...(n.metrics ? { metrics: { ...n.metrics } } : {}),
          ...(n.conntrack
            ? {
                conntrack: {
                  count: n.conntrack.count,
                  max: n.conntrack.max,
                  insertFailed: n.conntrack.insertFailed ?? 0,
                  drop: n.conntrack.drop ?? 0,
                  earlyDrop: n.conntrack.earlyDrop ?? 0,
                  beLiberal: n.conntrack.beLiberal ?? false,
                },
              }
            : {}),
          hostSockets: completeSockets(n.hostSockets ?? [], `${nat}.hostSockets`, problems),
          given: { hostSockets: n.hostSockets !== undefined },
        };
      }),
      removeNodes: (f.removeNodes ?? []).map((name, ri) => {
        if (!nodes.has(name)) problems.push(`${at}.removeNodes[${ri}]: unknown node "${name}"`);
        nodes.delete(name);
        return name;
      }),
      pods: (f.pods ?? []).map((p, pi) => {
        const pat = `${at}.pods[${pi}]`;
        const [namespace = '', name = '', extra] = p.pod.split('/');
        if (extra !== undefined || !pods.has(`${namespace}/${name}`))
          problems.push(`${pat}.pod: unknown pod "${p.pod}" (namespace/name of a pod in workloads)`);
        if (hostNetworkPods.has(p.pod))
          problems.push(
            `${pat}.pod: a hostNetwork pod has no sockets of its own (change its node's hostSockets)`,
          );
        return { namespace, name, sockets: completeSockets(p.sockets, `${pat}.sockets`, problems) };
      }),
    };
    if (f.description !== undefined) frame.description = f.description;
    if (f.expect) {
      f.expect.hotNodes?.forEach((n, i) => {
        if (!nodes.has(n)) problems.push(`${at}.expect.hotNodes[${i}]: unknown node "${n}"`);
      });
      for (const field of ['restart', 'notRestart'] as const)
        f.expect[field]?.forEach((id, i) => {
          if (!workloads.has(id))
            problems.push(`${at}.expect.${field}[${i}]: unknown workload "${id}" (namespace/Kind/name)`);
        });
      frame.expect = { ...f.expect };
    }
    return frame;
  });
}

/**
 * Socket lines as written → their parsed form, with the problems of each (`at` their path). The same line
 * (a cluster's pods repeat a few) is parsed once: `seen` remembers each distinct line's parsed form (shared
 * by every pod that writes it; nothing changes a parsed line) and its problems, as path suffixes.
 */
function completeSockets(
  raw: RawSocket[],
  at: string | (() => string),
  problems: string[],
  seen: SocketLines = new SocketLines(),
): SnapshotSocket[] {
  const out: SnapshotSocket[] = [];
  for (let i = 0; i < raw.length; i++) {
    const s = raw[i]!;
    const known = seen.of(s);
    for (const p of known.problems) problems.push(`${typeof at === 'string' ? at : at()}[${i}]${p}`);
    out.push(known.socket);
  }
  return out;
}

/**
 * Socket lines parsed once each: a line is its five fields (state, remote, local, count, family), looked up
 * field by field (no key string is built per line: 100k pods write 200k lines, most of them alike).
 */
class SocketLines {
  private readonly byState = new Map<
    string,
    Map<unknown, Map<unknown, Map<unknown, Map<unknown, { socket: SnapshotSocket; problems: string[] }>>>>
  >();

  of(s: RawSocket): { socket: SnapshotSocket; problems: string[] } {
    const byRemote = child(this.byState, s.state);
    const byLocal = child(byRemote, s.remote);
    const byCount = child(byLocal, s.local);
    const byFamily = child(byCount, s.count);
    let known = byFamily.get(s.family);
    if (known === undefined) {
      const own: string[] = [];
      known = { socket: completeSocket(s, own), problems: own };
      byFamily.set(s.family, known);
    }
    return known;
  }
}

/** The map under `key` in `m`, made when absent. */
function child<K, V>(m: Map<K, Map<unknown, V>>, key: K): Map<unknown, V> {
  let v = m.get(key);
  if (v === undefined) {
    v = new Map();
    m.set(key, v);
  }
  return v;
}

/** One line parsed; its problems pushed as path suffixes (`.remote: …`, or `: …` for the line). */
function completeSocket(s: RawSocket, problems: string[]): SnapshotSocket {
  const out: SnapshotSocket = { state: s.state, count: s.count ?? 1, family: s.family ?? 'ipv4' };
  let v6 = false;
  let v4 = false;
  if (s.remote === undefined && s.local === undefined) problems.push(`: needs remote, local or both`);
  if (s.remote !== undefined) {
    out.remote = s.remote;
    const r = parseEndpoint(s.remote, false);
    if (typeof r === 'string') problems.push(`.remote: ${r}`);
    else {
      out.remoteAddress = r.address;
      if (r.port !== undefined) out.remotePort = r.port;
      if (r.v6 && r.address && !isIPv4(r.address)) v6 = true;
      else v4 = true;
      if (r.v6 && r.address && isIPv4(r.address) && !s.family) out.family = 'ipv4-mapped';
    }
  }
  if (s.local !== undefined) {
    out.local = s.local;
    const l = parseEndpoint(s.local, true);
    if (typeof l === 'string') problems.push(`.local: ${l}`);
    else if (l.port === undefined) problems.push(`.local: needs a port (IP:PORT or :PORT)`);
    else {
      out.localPort = l.port;
      if (l.address !== undefined) {
        out.localAddress = l.address;
        if (l.v6 && !isIPv4(l.address)) v6 = true;
        else v4 = true;
      }
    }
  }
  if (!s.family && v6) out.family = 'ipv6';
  if (out.family === 'ipv6' && v4) problems.push(`.family: ipv6 with an IPv4 address`);
  if (out.family !== 'ipv6' && v6) problems.push(`.family: ${out.family} with an IPv6 address`);
  if (s.state === 'LISTEN' && s.remote !== undefined)
    problems.push(`.remote: a LISTEN socket has only local (IP:PORT or :PORT)`);
  if (s.state === 'LISTEN' && s.local === undefined) problems.push(`.local: a LISTEN socket needs local`);
  return out;
}

function defaultProviderID(cloud: Snapshot['cloud'], name: string, index: number): string | undefined {
  if (cloud.provider === 'azure' && cloud.azure) {
    const a = cloud.azure;
    const vmss = /^(.*vmss)([0-9a-z]{6})$/.exec(name);
    const scaleSet = vmss?.[1] ?? `${name}-vmss`;
    const instance = vmss?.[2] ? Number.parseInt(vmss[2], 36) : index;
    return `azure:///subscriptions/${a.subscriptionId}/resourceGroups/${a.nodeResourceGroup.toLowerCase()}/providers/Microsoft.Compute/virtualMachineScaleSets/${scaleSet}/virtualMachines/${instance}`;
  }
  if (cloud.provider === 'aws' && cloud.aws) {
    const id = sha256Hex(`${cloud.aws.clusterName}/${name}`).slice(0, 17);
    return `aws:///${cloud.aws.region}a/i-${id}`;
  }
  return undefined;
}
