import { isIPv4, isIPv6 } from 'node:net';

/** Checks `a.b.c.d/n` or `v6/n`; returns null when valid, else a short message. */
export function cidrProblem(text: string): string | null {
  const slash = text.indexOf('/');
  if (slash < 0) return `"${text}" is not a CIDR (expected address/prefix, e.g. 10.0.0.0/16)`;
  const address = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  const max = isIPv4(address) ? 32 : isIPv6(address) ? 128 : -1;
  if (max < 0) return `"${text}" is not a CIDR: "${address}" is not an IPv4 or IPv6 address`;
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) {
    return `"${text}" is not a CIDR: prefix must be 0–${max}`;
  }
  return null;
}
