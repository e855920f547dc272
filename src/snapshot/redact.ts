// `snatguard snapshot --redact`: names and addresses replaced so an incident can be shared. Each original
// maps to one replacement through a keyed hash (HMAC-SHA256 with a key made for this file and then
// dropped): stable within the file, so the replay decides the same; not linkable across files.
// What a replacement keeps, and why:
// - addresses keep their class (a private address stays private, inside the same cluster CIDR or private
//   range; a public one becomes a public-class address in 198.18.0.0/15, RFC 2544, never a real peer):
//   the classification that decides SNAT-consuming sockets does not change. Ports are kept.
// - pod names keep their controller's shape (`NAME-HASH-XXXXX`, `NAME-0`) so the workload is still found.
// - Kubernetes' own namespaces (kube-system, …), snatguard's namespace and their workloads, label keys,
//   the cloud region, the cluster CIDRs and every number are kept: nothing in them names the user.
import { createHmac, randomBytes } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { cidrContains, parseCidr } from '../sockets/address.js';
import type { DocSocket, SnapshotDoc } from './capture.js';

export interface RedactOptions {
  /** Keep public (SNAT-consuming) destination addresses as they are. */
  keepDestinations: boolean;
  /** The hash key; a fresh random one per file when absent (tests pass one). */
  key?: Uint8Array;
}

/** Namespaces that are the platform's, not the user's: kept with their workloads' names and labels. */
export const SYSTEM_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease', 'snatguard']);
/** Namespace names that say nothing about the user (their workloads are still redacted in `default`). */
const KEPT_NAMESPACES = new Set([...SYSTEM_NAMESPACES, 'default']);

const PRIVATE_V4 = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'];
const KEPT_V4 = ['127.0.0.0/8', '0.0.0.0/8', '169.254.0.0/16', '224.0.0.0/4'];
const PUBLIC_STAND_IN = '198.18.0.0/15';

const ipv4ToInt = (ip: string): number => ip.split('.').reduce((a, o) => ((a << 8) | Number(o)) >>> 0, 0);
const intToIpv4 = (v: number): string => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');

export function redactSnapshot(doc: SnapshotDoc, options: RedactOptions): SnapshotDoc {
  const r = new Redactor(options.key ?? randomBytes(32), doc, options.keepDestinations);
  return r.run();
}

class Redactor {
  /** original → replacement, per kind; `taken` keeps replacements unique per kind. */
  private readonly maps = new Map<string, Map<string, string>>();
  private readonly taken = new Map<string, Set<string>>();
  /** Kinds whose originals are case-insensitive (ARM names, subscription ids), kept lower-cased. */
  private readonly caseless = new Set<string>();
  private readonly ranges: string[];

  constructor(
    private readonly key: Uint8Array,
    private readonly doc: SnapshotDoc,
    private readonly keepDestinations: boolean,
  ) {
    const cluster = [doc.cluster.podCIDR, doc.cluster.serviceCIDR].filter(
      (c): c is string => !!c && !c.includes(':'),
    );
    // Most specific first: an address in the pod CIDR stays in it.
    this.ranges = [...cluster, ...PRIVATE_V4].sort(
      (a, b) => Number(b.split('/')[1]) - Number(a.split('/')[1]),
    );
  }

  private hash(kind: string, text: string, salt = 0): Buffer {
    return createHmac('sha256', this.key).update(`${kind}\0${text}\0${salt}`).digest();
  }

  /** One replacement per original per kind; `make(hash)` builds it, retried with a new salt on a clash. */
  private replace(kind: string, original: string, make: (h: Buffer) => string): string {
    const map = this.maps.get(kind) ?? new Map<string, string>();
    this.maps.set(kind, map);
    const seen = map.get(original);
    if (seen !== undefined) return seen;
    const taken = this.taken.get(kind) ?? new Set<string>();
    this.taken.set(kind, taken);
    for (let salt = 0; ; salt++) {
      const candidate = make(this.hash(kind, original, salt));
      if (!taken.has(candidate) && (candidate !== original || salt > 50)) {
        taken.add(candidate);
        map.set(original, candidate);
        return candidate;
      }
    }
  }

  private alnum(h: Buffer, n: number): string {
    const chars = 'bcdfghjklmnpqrstvwxz2456789';
    let out = '';
    for (let i = 0; i < n; i++) out += chars[h[i % h.length]! % chars.length];
    return out;
  }

  private hex(h: Buffer, n: number): string {
    return h.toString('hex').slice(0, n);
  }

  name(kind: string, original: string, prefix: string): string {
    return this.replace(kind, original, (h) => `${prefix}-${this.hex(h, 8)}`);
  }

  node(name: string): string {
    return this.name('node', name, 'node');
  }

  namespace(ns: string): string {
    return KEPT_NAMESPACES.has(ns) ? ns : this.name('namespace', ns, 'ns');
  }

  /** An address of the same class (see the file's head); undefined → undefined. */
  address(ip: string): string {
    if (isIPv4(ip)) {
      const v = ipv4ToInt(ip);
      if (KEPT_V4.some((c) => cidrContains(parseCidr(c), ip))) return ip;
      const range = this.ranges.find((c) => cidrContains(parseCidr(c), ip));
      if (!range && this.keepDestinations) return ip;
      const block = range ?? PUBLIC_STAND_IN;
      const bits = Number(block.split('/')[1]);
      const base = ipv4ToInt(block.split('/')[0]!) >>> 0;
      const size = 2 ** (32 - bits);
      return this.replace('ip', ip, (h) => {
        // Not the network or broadcast address of the block.
        const host = 1 + (h.readUInt32BE(0) % Math.max(1, size - 2));
        return intToIpv4(
          (base + host) >>> 0 === v ? (base + ((host % (size - 2)) + 1)) >>> 0 : (base + host) >>> 0,
        );
      });
    }
    if (isIPv6(ip)) {
      const lower = ip.toLowerCase();
      if (lower === '::' || lower === '::1' || lower.startsWith('fe80:') || lower.startsWith('ff')) return ip;
      const ula = /^f[cd]/.test(lower);
      if (!ula && this.keepDestinations) return ip;
      return this.replace('ip', ip, (h) => {
        const w = [0, 2, 4, 6, 8, 10].map((i) => h.readUInt16BE(i).toString(16));
        return ula
          ? `fd00:${w.slice(0, 5).join(':')}::${w[5]}`
          : `2001:db8:${w.slice(0, 4).join(':')}::${w[5]}`;
      });
    }
    return this.name('address', ip, 'addr');
  }

  /** `IP:PORT`, `[v6]:PORT`, `IP`, `v6`, `:PORT` with the address replaced. */
  endpoint(text: string): string {
    const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(text);
    if (v6) return `[${this.address(v6[1]!)}]:${v6[2]}`;
    const v4 = /^([\d.]+):(\d+)$/.exec(text);
    if (v4) return `${this.address(v4[1]!)}:${v4[2]}`;
    if (/^:\d+$/.test(text)) return text;
    return this.address(text);
  }

  socket(s: DocSocket): DocSocket {
    return {
      ...s,
      ...(s.remote !== undefined ? { remote: this.endpoint(s.remote) } : {}),
      ...(s.local !== undefined ? { local: this.endpoint(s.local) } : {}),
    };
  }

  /** An Azure or AWS resource-group/cluster-like name. */
  private cloudName(kind: string, name: string, prefix: string): string {
    // ARM names are case-insensitive (MC_rg… vs mc_rg…): one replacement for every spelling.
    this.caseless.add(kind);
    const lower = name.toLowerCase();
    return this.replace(kind, lower, (h) => `${prefix}-${this.hex(h, 8)}`);
  }

  private subscription(id: string): string {
    this.caseless.add('subscription');
    return this.replace('subscription', id.toLowerCase(), (h) => {
      const x = this.hex(h, 32);
      return `${x.slice(0, 8)}-${x.slice(8, 12)}-4${x.slice(13, 16)}-a${x.slice(17, 20)}-${x.slice(20, 32)}`;
    });
  }

  providerID(id: string): string {
    const azure =
      /^azure:\/\/\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/virtualMachineScaleSets\/([^/]+)\/virtualMachines\/(\d+)$/i.exec(
        id,
      );
    if (azure)
      return `azure:///subscriptions/${this.subscription(azure[1]!)}/resourceGroups/${this.cloudName('rg', azure[2]!, 'mc-rg')}/providers/Microsoft.Compute/virtualMachineScaleSets/${this.cloudName('vmss', azure[3]!, 'vmss')}/virtualMachines/${azure[4]}`;
    const azureVm =
      /^azure:\/\/\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/virtualMachines\/([^/]+)$/i.exec(
        id,
      );
    if (azureVm)
      return `azure:///subscriptions/${this.subscription(azureVm[1]!)}/resourceGroups/${this.cloudName('rg', azureVm[2]!, 'mc-rg')}/providers/Microsoft.Compute/virtualMachines/${this.cloudName('vm', azureVm[3]!, 'vm')}`;
    const aws = /^aws:\/\/\/([a-z0-9-]+)\/(i-[0-9a-f]+)$/.exec(id);
    if (aws) return `aws:///${aws[1]}/${this.replace('instance', aws[2]!, (h) => `i-${this.hex(h, 17)}`)}`;
    return this.replace('providerID', id, (h) => `redacted:///${this.hex(h, 16)}`);
  }

  /** Pod names keep the shape their controller gives them, under the workload's new name. */
  pod(kind: string, workload: string, newWorkload: string, pod: string): string {
    return this.replace(`pod/${kind}/${workload}`, pod, (h) => {
      const rest = pod.startsWith(`${workload}-`) ? pod.slice(workload.length + 1) : undefined;
      if (rest !== undefined) {
        if (kind === 'StatefulSet' && /^\d+$/.test(rest)) return `${newWorkload}-${rest}`;
        const deployment = /^([a-z0-9]{1,10})-([a-z0-9]{5})$/.exec(rest);
        if (kind === 'Deployment' && deployment)
          // The template hash is shared by the workload's pods: one replacement per (workload, hash).
          return `${newWorkload}-${this.replace(`template/${workload}`, deployment[1]!, (g) => this.alnum(g, deployment[1]!.length))}-${this.alnum(h, 5)}`;
        if (/^[a-z0-9]{5}$/.test(rest)) return `${newWorkload}-${this.alnum(h, 5)}`;
      }
      return kind === 'Pod' ? newWorkload : `${newWorkload}-${this.alnum(h, 5)}`;
    });
  }

  run(): SnapshotDoc {
    const d = this.doc;
    const out: SnapshotDoc = {
      apiVersion: d.apiVersion,
      kind: d.kind,
      metadata: {
        name: this.name('snapshot', d.metadata.name, 'snapshot'),
        capture: {
          ...d.metadata.capture,
          redacted: true,
          ...(this.keepDestinations ? { keepDestinations: true } : {}),
        },
      },
      cloud: this.cloud(d.cloud),
      cluster: { ...d.cluster },
      nodes: d.nodes.map((n) => ({
        ...n,
        name: this.node(n.name),
        ...(n.internalIP ? { internalIP: this.address(n.internalIP) } : {}),
        ...(n.providerID ? { providerID: this.providerID(n.providerID) } : {}),
        ...(n.hostSockets ? { hostSockets: n.hostSockets.map((s) => this.socket(s)) } : {}),
      })),
      workloads: d.workloads.map((w) => {
        const kept = SYSTEM_NAMESPACES.has(w.namespace);
        const name = kept ? w.name : this.name('workload', `${w.namespace}/${w.kind}/${w.name}`, 'w');
        return {
          ...w,
          namespace: this.namespace(w.namespace),
          name,
          labels: kept
            ? { ...w.labels }
            : Object.fromEntries(
                Object.entries(w.labels).map(([k, v]) => [k, v === '' ? v : this.name('label', v, 'v')]),
              ),
          annotations: { ...w.annotations },
          pods: w.pods.map((p) => ({
            ...p,
            name: kept ? p.name : this.pod(w.kind, w.name, name, p.name),
            node: this.node(p.node),
            ...(p.ip ? { ip: this.address(p.ip) } : {}),
            ...(p.sockets ? { sockets: p.sockets.map((s) => this.socket(s)) } : {}),
          })),
        };
      }),
    };
    // Free text (annotation values, what was missing) may name anything replaced above: every original
    // that was replaced is replaced there too, longest first.
    const text = this.textRedactor();
    for (const w of out.workloads)
      for (const k of Object.keys(w.annotations)) w.annotations[k] = text(w.annotations[k]!);
    if (out.metadata.capture.missing) out.metadata.capture.missing = out.metadata.capture.missing.map(text);
    return out;
  }

  private cloud(c: SnapshotDoc['cloud']): SnapshotDoc['cloud'] {
    const out: SnapshotDoc['cloud'] = { provider: c.provider };
    if (c.azure) {
      const a = c.azure;
      out.azure = {
        ...a,
        ...(a.subscriptionId ? { subscriptionId: this.subscription(a.subscriptionId) } : {}),
        resourceGroup: this.cloudName('user-rg', a.resourceGroup, 'rg'),
        clusterName: this.cloudName('cluster', a.clusterName, 'aks'),
        ...(a.nodeResourceGroup
          ? { nodeResourceGroup: this.cloudName('rg', a.nodeResourceGroup, 'mc-rg') }
          : {}),
      };
    }
    if (c.aws) {
      const a = c.aws;
      out.aws = {
        ...a,
        clusterName: this.cloudName('cluster', a.clusterName, 'eks'),
        ...(a.natGateways
          ? {
              natGateways: a.natGateways.map((g) => ({
                ...g,
                id: this.replace('nat', g.id, (h) => `nat-${this.hex(h, 17)}`),
              })),
            }
          : {}),
        ...(a.awsNodeEnv ? { awsNodeEnv: { ...a.awsNodeEnv } } : {}),
      };
    }
    return out;
  }

  /**
   * Replaces, in free text, every original this file replaced (names, addresses, ids), longest first; the
   * case-insensitive ones (resource groups, clusters, subscriptions: kept lower-cased) in any spelling, as
   * an annotation or a capture line may write `MC_Shop_Aks_westeurope` for `mc_shop_aks_westeurope`.
   */
  private textRedactor(): (s: string) => string {
    const pairs: { from: string; to: string; anyCase: boolean }[] = [];
    for (const [kind, map] of this.maps)
      for (const [from, to] of map)
        if (from !== to) pairs.push({ from, to, anyCase: this.caseless.has(kind) });
    // Workload maps are keyed by namespace/Kind/name: the bare name is what text mentions.
    for (const [from, to] of this.maps.get('workload') ?? [])
      pairs.push({ from: from.split('/')[2]!, to, anyCase: false });
    for (const [from, to] of this.maps.get('namespace') ?? []) pairs.push({ from, to, anyCase: false });
    pairs.sort((a, b) => b.from.length - a.from.length);
    const replacers = pairs
      .filter((p) => p.from.length > 0)
      .map(({ from, to, anyCase }) => {
        if (!anyCase) return (s: string) => s.split(from).join(to);
        const re = new RegExp(from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi');
        return (s: string) => s.replace(re, () => to);
      });
    return (s: string) => {
      let out = s;
      for (const replace of replacers) out = replace(out);
      return out;
    };
  }
}
