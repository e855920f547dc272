// Issue 16 item 7 against a real local HTTP server: a receiver that echoes the secret path in its error
// body does not leak it into errors or logs, and a huge error body is read only a few KB deep.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliver, MAX_ERROR_BODY_BYTES, redactWebhookUrl } from '../../src/notify/deliver.js';

const SECRET_PATH = '/services/T0SNATGRD/B0SECRET1/x9Yq2ZkLmN3pQr7sT4uV';
let server: Server;
let base: string;
let written = 0;
let aborted = false;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    if (req.url?.startsWith('/huge')) {
      // 50 MB of error body that quotes the path, written as fast as the client takes it.
      res.writeHead(500, { 'content-type': 'text/plain' });
      const chunk = Buffer.from(`no_service for ${req.url} `.repeat(2048));
      res.on('close', () => {
        aborted = !res.writableFinished;
      });
      const pump = (): void => {
        while (written < 50 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return;
    }
    if (req.url?.startsWith('/never')) return; // never answers
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ error: 'no_service', path: req.url, hint: `POST ${req.url} with a valid token` }),
    );
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((ok) => server.close(ok));
});

const logged: unknown[] = [];
const log = {
  debug() {},
  info(o: object) {
    logged.push(o);
  },
  warn(o: object) {
    logged.push(o);
  },
  error(o: object) {
    logged.push(o);
  },
};
const request = (path: string) => ({ url: `${base}${path}?token=abcd1234efgh`, headers: {}, body: '{}' });
const secretParts = ['T0SNATGRD', 'B0SECRET1', 'x9Yq2ZkLmN3pQr7sT4uV', 'abcd1234efgh'];

describe('webhook error bodies (failed before: the path reached RunReport.errors and the log)', () => {
  it('a receiver echoing the secret path: the error names the status, not the path', async () => {
    const r = await deliver('slack', request(SECRET_PATH), {
      fetch,
      log,
      signal: new AbortController().signal,
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.message).toMatch(/^HTTP 404 .*no_service.*\(not retried\)$/);
    const everything = JSON.stringify([r.error, logged]);
    for (const part of secretParts) expect(everything).not.toContain(part);
  });

  it('reads at most a few KB of a 50 MB error body (failed before: all of it)', async () => {
    const r = await deliver('webhook', request(`/huge${SECRET_PATH}`), {
      fetch,
      log,
      signal: new AbortController().signal,
      maxAttempts: 1,
    });
    expect(r.ok).toBe(false);
    await new Promise((ok) => setTimeout(ok, 50));
    expect(aborted).toBe(true);
    expect(written).toBeLessThan(50 * 1024 * 1024);
    if (!r.ok) for (const part of secretParts) expect(r.error.message).not.toContain(part);
  });

  it('a receiver that never answers: the delivery ends at its timeout with a URL-free error', async () => {
    const r = await deliver('teams', request(`/never${SECRET_PATH}`), {
      fetch,
      log,
      signal: new AbortController().signal,
      timeoutMs: 200,
      maxAttempts: 2,
      baseDelayMs: 10,
    });
    expect(r).toMatchObject({ ok: false, attempts: 2 });
    if (!r.ok) expect(r.error.message).toBe('timed out after 200 ms after 2 attempts');
  });

  it('redactWebhookUrl removes the path, its segments, the query and their encodings', () => {
    const url = `https://hooks.example.com${SECRET_PATH}?token=abcd1234efgh`;
    const text = `bad ${SECRET_PATH} / ${encodeURIComponent(SECRET_PATH)} / token=abcd1234efgh / x9Yq2ZkLmN3pQr7sT4uV`;
    const out = redactWebhookUrl(text, url);
    for (const part of secretParts) expect(out).not.toContain(part);
    expect(out).toContain('bad [redacted]');
    expect(MAX_ERROR_BODY_BYTES).toBeLessThanOrEqual(8192);
  });
});
