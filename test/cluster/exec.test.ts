// PodExec against a minimal exec WebSocket endpoint on loopback (protocol edge cases the simulator may not
// produce: v5 CLOSE frames, partial output, oversized output). The simulator tests cover the real path.
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { podExec } from '../../src/cluster/exec.js';
import { ExecError } from '../../src/errors.js';
import { testKubeConfig } from './kubeconfig.js';

const frame = (channel: number, data: string | Buffer): Buffer =>
  Buffer.concat([Buffer.from([channel]), Buffer.from(data)]);
const success = frame(3, JSON.stringify({ metadata: {}, status: 'Success' }));
const exitWith = (code: number, message: string): Buffer =>
  frame(
    3,
    JSON.stringify({
      metadata: {},
      status: 'Failure',
      message,
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
    }),
  );

const behaviours: Record<string, (ws: WebSocket, command: string[]) => void> = {
  ok: (ws, command) => {
    ws.send(frame(1, `ran ${command.join(' ')}\n`));
    ws.send(frame(1, 'second chunk\n'));
    ws.send(success);
  },
  'v5-close': (ws) => {
    ws.send(Buffer.from([255, 1]));
    ws.send(frame(1, 'after close frame\n'));
    ws.send(success);
  },
  'no-cat': (ws) => {
    ws.send(
      exitWith(
        127,
        'command terminated with non-zero exit code: error executing command [cat /proc/net/tcp], exit code 127: OCI runtime exec failed: exec failed: unable to start container process: exec: "cat": executable file not found in $PATH: unknown',
      ),
    );
  },
  'no-tcp6': (ws) => {
    ws.send(frame(1, 'tcp table\n'));
    ws.send(frame(2, 'cat: /proc/net/tcp6: No such file or directory\n'));
    ws.send(exitWith(1, 'command terminated with non-zero exit code: exit status 1'));
  },
  denied: (ws) => {
    ws.send(frame(2, 'cat: /proc/net/tcp: Permission denied\n'));
    ws.send(exitWith(1, 'command terminated with non-zero exit code: exit status 1'));
  },
  big: (ws) => {
    for (let i = 0; i < 8; i++) ws.send(frame(1, Buffer.alloc(1024, 0x41)));
    ws.send(success);
  },
  hang: () => {},
  'drop-connection': (ws) => {
    ws.send(frame(1, 'partial'));
    ws.terminate();
  },
};

/** Upgrades the real kube-apiserver refused, as it answered them (test/fixtures/wire/kube-real). */
interface Refusal {
  source: string;
  status: number;
  statusLine: string;
  headers: Record<string, string>;
  body: string;
}
const FIXTURES = new URL('../fixtures/wire/kube-real/', import.meta.url);
const REFUSALS = readdirSync(FIXTURES)
  .filter((f) => f.startsWith('exec-'))
  .map((f) => ({
    name: `refused-${f.replace(/\.json$/, '')}`,
    fixture: JSON.parse(readFileSync(new URL(f, FIXTURES), 'utf8')) as Refusal,
  }));

let server: Server;
let kc: KubeConfig;
const openSockets = new Set<WebSocket>();
const seenQueries: URLSearchParams[] = [];

beforeAll(async () => {
  server = createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (p) => (p.has('v5.channel.k8s.io') ? 'v5.channel.k8s.io' : false),
  });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(url.pathname);
    if (m === null || m[2] === 'upgrade-fails') {
      socket.end('HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const refusal = REFUSALS.find((r) => r.name === m[2]);
    if (refusal !== undefined) {
      const { statusLine, headers, body } = refusal.fixture;
      const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
      socket.end(
        `${statusLine}\r\n${lines.join('')}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      return;
    }
    seenQueries.push(url.searchParams);
    wss.handleUpgrade(req, socket, head, (ws) => {
      openSockets.add(ws);
      ws.on('close', () => openSockets.delete(ws));
      behaviours[m[2] ?? '']?.(ws, url.searchParams.getAll('command'));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  kc = testKubeConfig(`http://127.0.0.1:${port}`);
});

afterAll(async () => {
  for (const s of openSockets) s.terminate();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const limits = { timeoutMs: 1000, maxBytes: 4096 };
const read = (name: string, signal = new AbortController().signal, l = limits) =>
  podExec(kc).read(
    { namespace: 'ns', name, container: 'app' },
    ['/proc/net/tcp', '/proc/net/tcp6'],
    l,
    signal,
  );
const kindOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return e instanceof ExecError ? e.kind : `other: ${String(e)}`;
  }
};

describe('podExec (protocol edge cases)', () => {
  it('collects stdout until the Success status and sends the command and container', async () => {
    await expect(read('ok')).resolves.toBe('ran cat /proc/net/tcp /proc/net/tcp6\nsecond chunk\n');
    expect(seenQueries.at(-1)?.get('container')).toBe('app');
  });

  it('ignores a v5 CLOSE frame (and leaves process.stdout alone)', async () => {
    await expect(read('v5-close')).resolves.toBe('after close frame\n');
    expect(process.stdout.writableEnded).toBe(false);
  });

  it('accepts a missing tcp6 (IPv6 disabled) when the rest was printed', async () => {
    await expect(read('no-tcp6')).resolves.toBe('tcp table\n');
  });

  it.each([
    ['no-cat', 'not-found'],
    ['denied', 'failed'],
    ['big', 'too-large'],
    ['hang', 'timeout'],
    ['drop-connection', 'failed'],
    ['upgrade-fails', 'failed'],
  ])('%s → %s', async (name, kind) => {
    expect(await kindOf(read(name))).toBe(kind);
  });

  // Defect #11.5: these failed with "connection closed without an exit status" (the reason was lost).
  it.each(REFUSALS.map((r) => [r.name, r.fixture] as const))(
    'keeps the API server status and message of a refused upgrade: %s',
    async (name, fixture) => {
      expect(fixture.source).toMatch(/kube-apiserver v1\.20\.2/);
      const message = (JSON.parse(fixture.body) as { message: string }).message;
      const e = await read(name).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ExecError);
      expect((e as ExecError).kind).toBe('failed');
      expect((e as ExecError).status).toBe(fixture.status);
      expect((e as ExecError).message).toBe(`exec in ns/${name} failed: HTTP ${fixture.status}: ${message}`);
    },
  );

  it('finds the four refusals the issue names among the real server answers', () => {
    const said = REFUSALS.map((r) => `${r.fixture.status} ${r.fixture.body}`).join('\n');
    expect(said).toMatch(/500 .*error dialing backend: dial tcp/);
    expect(said).toMatch(/400 .*container nope is not valid for pod db-0/);
    expect(said).toMatch(/403 .*cannot get resource \\"pods\/exec\\"/);
    expect(said).toMatch(/404 .*pods \\"nope\\" not found/);
  });

  it('keeps the status of a refusal whose body is not a Status (a proxy page)', async () => {
    const e = await read('upgrade-fails').catch((x: unknown) => x);
    expect((e as ExecError).status).toBe(500);
    expect((e as ExecError).message).toBe('exec in ns/upgrade-fails failed: HTTP 500: no reason given');
  });

  it('keeps the stderr tail in the failure message', async () => {
    await expect(read('denied')).rejects.toThrow(/Permission denied/);
  });

  it('aborts on the signal, before and during the exec', async () => {
    const before = new AbortController();
    before.abort();
    expect(await kindOf(read('ok', before.signal))).toBe('aborted');
    const during = new AbortController();
    const p = read('hang', during.signal, { timeoutMs: 10_000, maxBytes: 4096 });
    setTimeout(() => during.abort(), 30);
    expect(await kindOf(p)).toBe('aborted');
  });

  it('closes every socket it opened', async () => {
    await Promise.allSettled([read('hang'), read('ok'), read('big'), read('no-cat')]);
    for (let i = 0; i < 50 && openSockets.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(openSockets.size).toBe(0);
  });
});
