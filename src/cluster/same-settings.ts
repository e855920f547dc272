// Whether two sets of connection settings (TLS material, server, flags) are the same, without turning
// them into text: the CA and keys arrive as new Buffers on every call (client-node decodes them each
// time), and comparing bytes is far cheaper than encoding them per exec.

/** Same keys with equal values: Buffers by content, arrays element by element, the rest by identity. */
export function sameSettings(a: object | undefined | null, b: object | undefined | null): boolean {
  if (a === b) return true;
  if (a == null || b == null) return a == null && b == null;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = Object.keys(ra).filter((k) => ra[k] !== undefined);
  if (keys.length !== Object.keys(rb).filter((k) => rb[k] !== undefined).length) return false;
  return keys.every((k) => sameValue(ra[k], rb[k]));
}

function sameValue(x: unknown, y: unknown): boolean {
  if (x === y) return true;
  if (Buffer.isBuffer(x) && Buffer.isBuffer(y)) return x.equals(y);
  if (Array.isArray(x) && Array.isArray(y))
    return x.length === y.length && x.every((v, i) => sameValue(v, y[i]));
  return false;
}
