// A chat delivery that never got an answer names its cause: refused, certificate, DNS (was: a bare
// "network error" through the replay's fetch, and plain http:// URLs failed there outright).
import { createServer as createHttp } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { networkProblem } from '../../src/notify/deliver.js';
import { fetchTrusting } from '../../src/sim/fetch.js';
import { generateTls } from '../../src/sim/tls.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

const listen = async (server: ReturnType<typeof createHttp> | ReturnType<typeof createHttps>) => {
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  closers.push(() => new Promise<void>((ok) => server.close(() => ok())));
  return (server.address() as AddressInfo).port;
};

const closedPort = async () => {
  const s = createHttp();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
};

const failureOf = async (f: typeof fetch, url: string): Promise<unknown> =>
  f(url, { method: 'POST', body: '{}' }).then(
    () => undefined,
    (e: unknown) => e,
  );

describe('networkProblem', () => {
  it.each([
    ['global fetch', () => globalThis.fetch],
    ['replay fetch', () => fetchTrusting('')],
  ])('names a refused connection (%s)', async (_name, f) => {
    const port = await closedPort();
    const e = await failureOf(f(), `https://127.0.0.1:${port}/hook`);
    expect(networkProblem(e)).toBe('network error: connection refused (ECONNREFUSED)');
  });

  it.each([
    ['global fetch', () => globalThis.fetch],
    ['replay fetch', () => fetchTrusting('')],
  ])('names a certificate it does not trust (%s)', async (_name, f) => {
    const tls = await generateTls();
    const port = await listen(createHttps({ key: tls.key, cert: tls.cert }, (_q, r) => r.end('ok')));
    const e = await failureOf(f(), `https://127.0.0.1:${port}/hook`);
    expect(networkProblem(e)).toMatch(/^network error: TLS certificate not accepted \([A-Z_]+\)$/);
  });

  it('names a failed DNS lookup (the error shape undici gives: TypeError, cause with getaddrinfo code)', () => {
    // Built, not provoked: a test must not query DNS for a public name.
    const cause = Object.assign(new Error('getaddrinfo ENOTFOUND hooks.slack.invalid'), {
      code: 'ENOTFOUND',
    });
    expect(networkProblem(new TypeError('fetch failed', { cause }))).toBe(
      'network error: DNS lookup failed (ENOTFOUND)',
    );
  });

  it('the replay fetch posts to a plain http:// receiver (was: "Protocol http: not supported")', async () => {
    let got = '';
    const port = await listen(
      createHttp((q, r) => {
        q.on('data', (c: Buffer) => {
          got += c.toString('utf8');
        });
        q.on('end', () => r.writeHead(200).end('ok'));
      }),
    );
    const res = await fetchTrusting('')(`http://127.0.0.1:${port}/hook`, { method: 'POST', body: '{"a":1}' });
    expect(res.status).toBe(200);
    expect(got).toBe('{"a":1}');
  });
});
