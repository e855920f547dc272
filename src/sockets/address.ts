// IPv4 / IPv6 addresses in a compact numeric form, CIDRs, and the address classes that decide
// whether a flow leaves the node through SNAT (DESIGN.md, "SNAT-consuming socket").

import { SnatguardError } from '../errors.js';
import type { AddressClass } from '../model.js';

/** An IPv4 address as an unsigned 32-bit number: `a.b.c.d` = a·2²⁴ + b·2¹⁶ + c·2⁸ + d. */
export interface Ipv4Address {
  family: 'ipv4';
  value: number;
}

/** An IPv6 address as four unsigned 32-bit words in network order (word 0 is the first 32 bits). */
export interface Ipv6Address {
  family: 'ipv6';
  words: readonly [number, number, number, number];
}

export type IpAddress = Ipv4Address | Ipv6Address;

export interface Cidr {
  family: 'ipv4' | 'ipv6';
  /** Network words in network order (IPv4: one word). Host bits are cleared. */
  words: readonly number[];
  prefix: number;
  /** Canonical text, e.g. `10.0.0.0/8`, `fc00::/7`. */
  text: string;
}

export class InvalidCidrError extends SnatguardError {
  constructor(readonly cidr: string) {
    super(`invalid CIDR "${cidr}": expected a.b.c.d/N (N 0-32) or an IPv6 prefix like fd00::/8 (N 0-128)`);
  }
}

// ---------------------------------------------------------------- parsing and formatting

export function parseIpv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = value * 256 + n;
  }
  return value;
}

/** IPv6 text (with `::`, an embedded dotted IPv4 tail, no zone) → four network-order words. */
export function parseIpv6(text: string): [number, number, number, number] | null {
  if (text.length === 0 || text.length > 45 || text.includes('%')) return null;
  let body = text;
  const groups: number[] = [];
  // An embedded IPv4 tail (`::ffff:1.2.3.4`) becomes two 16-bit groups.
  const lastColon = body.lastIndexOf(':');
  if (body.indexOf('.', lastColon) > lastColon) {
    const v4 = parseIpv4(body.slice(lastColon + 1));
    if (v4 === null) return null;
    body = `${body.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return null;
  const parseGroups = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const head = parseGroups(halves[0] ?? '');
  if (head === null) return null;
  if (halves.length === 2) {
    const rest = parseGroups(halves[1] ?? '');
    if (rest === null) return null;
    const missing = 8 - head.length - rest.length;
    if (missing < 1) return null;
    groups.push(...head, ...new Array<number>(missing).fill(0), ...rest);
  } else {
    groups.push(...head);
  }
  if (groups.length !== 8) return null;
  const w = (i: number) => ((groups[i] ?? 0) * 65536 + (groups[i + 1] ?? 0)) >>> 0;
  return [w(0), w(2), w(4), w(6)];
}

export function parseIp(text: string): IpAddress | null {
  if (text.includes(':')) {
    const words = parseIpv6(text);
    return words === null ? null : { family: 'ipv6', words };
  }
  const value = parseIpv4(text);
  return value === null ? null : { family: 'ipv4', value };
}

export function formatIpv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/** Is this IPv6 address `::ffff:a.b.c.d` (IPv4-mapped)? */
export function isMappedV4(w0: number, w1: number, w2: number): boolean {
  return w0 === 0 && w1 === 0 && w2 === 0xffff;
}

/** RFC 5952 text: lowercase, longest run of two or more zero groups compressed (first on a tie), `::ffff:a.b.c.d`. */
export function formatIpv6(w0: number, w1: number, w2: number, w3: number): string {
  if (isMappedV4(w0, w1, w2)) return `::ffff:${formatIpv4(w3)}`;
  const groups = [
    w0 >>> 16,
    w0 & 0xffff,
    w1 >>> 16,
    w1 & 0xffff,
    w2 >>> 16,
    w2 & 0xffff,
    w3 >>> 16,
    w3 & 0xffff,
  ];
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) =>
    groups
      .slice(from, to)
      .map((g) => g.toString(16))
      .join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** Canonical text of an address; an IPv4-mapped IPv6 address is NOT unmapped here. */
export function formatIp(address: IpAddress): string {
  if (address.family === 'ipv4') return formatIpv4(address.value);
  const [w0, w1, w2, w3] = address.words;
  return formatIpv6(w0, w1, w2, w3);
}

/** `a.b.c.d:port` or `[v6]:port`. */
export function formatEndpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

// ---------------------------------------------------------------- CIDRs

const maskOf = (bits: number): number =>
  bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;

/** Parses `a.b.c.d/N` or `v6/N` (a bare address is a host prefix). Throws {@link InvalidCidrError}. */
export function parseCidr(text: string): Cidr {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addrText = slash < 0 ? trimmed : trimmed.slice(0, slash);
  const prefixText = slash < 0 ? undefined : trimmed.slice(slash + 1);
  const address = parseIp(addrText);
  if (address === null) throw new InvalidCidrError(text);
  const max = address.family === 'ipv4' ? 32 : 128;
  let prefix = max;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText)) throw new InvalidCidrError(text);
    prefix = Number(prefixText);
    if (prefix > max) throw new InvalidCidrError(text);
  }
  const raw = address.family === 'ipv4' ? [address.value] : [...address.words];
  const words = raw.map((w, i) => (w & maskOf(prefix - 32 * i)) >>> 0);
  const network: IpAddress =
    address.family === 'ipv4'
      ? { family: 'ipv4', value: words[0] ?? 0 }
      : { family: 'ipv6', words: [words[0] ?? 0, words[1] ?? 0, words[2] ?? 0, words[3] ?? 0] };
  return { family: address.family, words, prefix, text: `${formatIp(network)}/${prefix}` };
}

export function cidrContainsV4(cidr: Cidr, value: number): boolean {
  return cidr.family === 'ipv4' && (value & maskOf(cidr.prefix)) >>> 0 === cidr.words[0];
}

export function cidrContainsV6(cidr: Cidr, w0: number, w1: number, w2: number, w3: number): boolean {
  if (cidr.family !== 'ipv6') return false;
  const ws = [w0, w1, w2, w3];
  for (let i = 0; i < 4; i++) {
    const bits = cidr.prefix - 32 * i;
    if (bits <= 0) return true;
    if (((ws[i] ?? 0) & maskOf(bits)) >>> 0 !== cidr.words[i]) return false;
  }
  return true;
}

export function cidrContains(cidr: Cidr, address: IpAddress | string): boolean {
  const a = typeof address === 'string' ? parseIp(address) : address;
  if (a === null) return false;
  if (a.family === 'ipv4') return cidrContainsV4(cidr, a.value);
  return cidrContainsV6(cidr, ...a.words);
}

// ---------------------------------------------------------------- classes

/** Built-in class of an IPv4 address (no configured CIDRs). */
export function classifyV4(v: number): AddressClass {
  const a = v >>> 24;
  if (a === 127) return 'loopback';
  if (a === 10) return 'private';
  if (a === 0) return 'unspecified';
  const b = (v >>> 16) & 255;
  if (a === 172 && b >= 16 && b <= 31) return 'private';
  if (a === 192 && b === 168) return 'private';
  if (a === 100 && b >= 64 && b <= 127) return 'shared';
  if (a === 169 && b === 254) return 'link-local';
  if (a >= 224 && a <= 239) return 'multicast';
  return 'public';
}

/** Built-in class of an IPv6 address; IPv4-mapped addresses take their IPv4 class. */
export function classifyV6(w0: number, w1: number, w2: number, w3: number): AddressClass {
  if (w0 === 0 && w1 === 0) {
    if (w2 === 0xffff) return classifyV4(w3);
    if (w2 === 0 && w3 === 0) return 'unspecified';
    if (w2 === 0 && w3 === 1) return 'loopback';
  }
  const top = w0 >>> 16;
  if ((top & 0xffc0) === 0xfe80) return 'link-local';
  if ((top & 0xfe00) === 0xfc00) return 'unique-local';
  if ((top & 0xff00) === 0xff00) return 'multicast';
  return 'public';
}

/** Classifies addresses with the cluster's CIDRs and the configured non-SNAT CIDRs. */
export interface AddressClassifier {
  readonly clusterCidrs: readonly Cidr[];
  readonly nonSnatCidrs: readonly Cidr[];
  classify(address: IpAddress | string): AddressClass;
  classifyV4(value: number): AddressClass;
  classifyV6(w0: number, w1: number, w2: number, w3: number): AddressClass;
}

export interface ClassifierOptions {
  clusterCidrs?: readonly (string | Cidr)[];
  nonSnatCidrs?: readonly (string | Cidr)[];
}

/**
 * Configured CIDRs are checked first (`cluster`, then `non-snat`): they are what the operator
 * knows about this network; then the built-in classes; everything else is `public`.
 */
export function createClassifier(options: ClassifierOptions = {}): AddressClassifier {
  const toCidr = (c: string | Cidr): Cidr => (typeof c === 'string' ? parseCidr(c) : c);
  const clusterCidrs = (options.clusterCidrs ?? []).map(toCidr);
  const nonSnatCidrs = (options.nonSnatCidrs ?? []).map(toCidr);
  const v4 = (list: Cidr[]) =>
    list.filter((c) => c.family === 'ipv4').map((c) => ({ mask: maskOf(c.prefix), net: c.words[0] ?? 0 }));
  const cluster4 = v4(clusterCidrs);
  const nonSnat4 = v4(nonSnatCidrs);
  const cluster6 = clusterCidrs.filter((c) => c.family === 'ipv6');
  const nonSnat6 = nonSnatCidrs.filter((c) => c.family === 'ipv6');
  const in4 = (list: { mask: number; net: number }[], v: number) => {
    for (const c of list) if ((v & c.mask) >>> 0 === c.net) return true;
    return false;
  };
  const cv4 = (v: number): AddressClass => {
    if (cluster4.length > 0 && in4(cluster4, v)) return 'cluster';
    if (nonSnat4.length > 0 && in4(nonSnat4, v)) return 'non-snat';
    return classifyV4(v);
  };
  const cv6 = (w0: number, w1: number, w2: number, w3: number): AddressClass => {
    if (isMappedV4(w0, w1, w2)) return cv4(w3);
    for (const c of cluster6) if (cidrContainsV6(c, w0, w1, w2, w3)) return 'cluster';
    for (const c of nonSnat6) if (cidrContainsV6(c, w0, w1, w2, w3)) return 'non-snat';
    return classifyV6(w0, w1, w2, w3);
  };
  return {
    clusterCidrs,
    nonSnatCidrs,
    classifyV4: cv4,
    classifyV6: cv6,
    classify(address) {
      const a = typeof address === 'string' ? parseIp(address) : address;
      if (a === null) throw new SnatguardError(`not an IP address: "${String(address)}"`);
      return a.family === 'ipv4' ? cv4(a.value) : cv6(...a.words);
    },
  };
}

const builtin = createClassifier();

/** Built-in class of an address (text or parsed); throws on text that is not an address. */
export function classify(address: IpAddress | string): AddressClass {
  return builtin.classify(address);
}

/** Only `public` destinations leave through SNAT. */
export const isSnatClass = (c: AddressClass): boolean => c === 'public';
