// A fetch that trusts the simulator's CA, for the chat sinks it serves over HTTPS. Node's global fetch
// takes its CAs from the process (NODE_EXTRA_CA_CERTS at start-up); this one takes them per call.
// Plain http:// goes to the global fetch; a failure rejects as fetch does (TypeError with the socket
// error as `cause`, whose `code` names it: ECONNREFUSED, ENOTFOUND, SELF_SIGNED_CERT_IN_CHAIN…).
import { request } from 'node:https';
import { rootCertificates } from 'node:tls';

export function fetchTrusting(ca: string): typeof fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    if (url.protocol !== 'https:') return globalThis.fetch(input, init);
    const body = typeof init.body === 'string' ? init.body : init.body ? String(init.body) : undefined;
    return new Promise<Response>((resolve, reject) => {
      const req = request(
        url,
        {
          method: init.method ?? 'GET',
          headers: headersOf(init.headers),
          ca: [...rootCertificates, ca],
          signal: init.signal ?? undefined,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const headers = new Headers();
            for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
            const status = res.statusCode ?? 500;
            const payload = status === 204 || status === 304 ? null : Buffer.concat(chunks);
            resolve(new Response(payload, { status, headers }));
          });
          res.on('error', (e) => reject(new TypeError('fetch failed', { cause: e })));
        },
      );
      req.on('error', (e) => reject(init.signal?.aborted ? e : new TypeError('fetch failed', { cause: e })));
      req.end(body);
    });
  }) as typeof fetch;
}

function headersOf(init: RequestInit['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(init).forEach((value, key) => {
    out[key] = value;
  });
  return out;
}
