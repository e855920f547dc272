// `snatguard replay --check` and the CLI contract, in-process through commander.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { program } from '../../../src/hosts/cli/program.js';
import { examplePath } from '../../../src/paths.js';

let out: string;
let err: string;
let dir: string;
beforeEach(() => {
  out = '';
  err = '';
  dir = mkdtempSync(join(tmpdir(), 'sg-cli-'));
  process.exitCode = undefined;
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err += String(s);
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
  process.exitCode = undefined;
});

async function cli(...args: string[]): Promise<number> {
  try {
    await program().parseAsync(args, { from: 'user' });
  } catch {
    // commander errors set process.exitCode through exitOverride handling in main(); usage → 2
    if (process.exitCode === undefined) process.exitCode = 2;
  }
  return Number(process.exitCode ?? 0);
}

describe('snatguard replay --check', () => {
  it.each(['aks-mongo-leak.yaml', 'eks-conntrack.yaml', 'contract-check.yaml'])(
    '%s meets its expect in both modes',
    async (name) => {
      expect(await cli('replay', examplePath(name), '--check')).toBe(0);
      expect(await cli('replay', examplePath(name), '--mode', 'restart', '--check')).toBe(0);
      expect(err).toContain('meets every expectation');
    },
  );

  it('a wrong expect fails with a readable difference and exit 1', async () => {
    const wrong = readFileSync(examplePath('aks-mongo-leak.yaml'), 'utf8').replace(
      /restart: \[shop\/Deployment\/orders-api\]/,
      'restart: [shop/Deployment/payments]',
    );
    expect(wrong).toContain('restart: [shop/Deployment/payments]');
    writeFileSync(join(dir, 'wrong.yaml'), wrong);

    const code = await cli('replay', join(dir, 'wrong.yaml'), '--mode', 'restart', '--check');

    expect(code).toBe(1);
    expect(err).toContain(
      'restart: expected exactly shop/Deployment/payments, got shop/Deployment/orders-api',
    );
  });

  it('--output json prints exactly one RunReport document', async () => {
    expect(await cli('replay', examplePath('aks-mongo-leak.yaml'), '--output', 'json')).toBe(0);
    const report = JSON.parse(out);
    expect(report).toMatchObject({ apiVersion: 'snatguard.io/v1', kind: 'RunReport', mode: 'dry-run' });
  });

  it('a bad snapshot names every problem with its path and exits 2', async () => {
    writeFileSync(
      join(dir, 'bad.yaml'),
      'apiVersion: snatguard.io/v1\nkind: Snapshot\nmetadata: {}\nnodes: [{ name: n1, bogus: 1 }]\n',
    );
    expect(await cli('replay', join(dir, 'bad.yaml'))).toBe(2);
    expect(err).toMatch(/metadata\.name/);
    expect(err).toMatch(/nodes\[0\]\.bogus/);
    expect(out).toBe('');
  });

  it('a bad config exits 2 naming every key', async () => {
    writeFileSync(join(dir, 'bad.yaml'), 'rails:\n  maxRestartsPerRun: -1\n  bogusKey: 1\n');
    expect(await cli('replay', examplePath('contract-check.yaml'), '--config', join(dir, 'bad.yaml'))).toBe(
      2,
    );
    expect(err).toContain('rails.maxRestartsPerRun');
    expect(err).toContain('rails.bogusKey');
  });
});

describe('snatguard replay and chat', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  /** A plain http:// receiver on loopback that records each POST body. */
  async function receiver() {
    const { createServer } = await import('node:http');
    const bodies: string[] = [];
    const server = createServer((q, r) => {
      let body = '';
      q.on('data', (c: Buffer) => {
        body += c.toString('utf8');
      });
      q.on('end', () => {
        bodies.push(body);
        r.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const { port } = server.address() as { port: number };
    return {
      url: `http://127.0.0.1:${port}/hook`,
      bodies,
      close: () => new Promise<void>((ok) => server.close(() => ok())),
    };
  }

  it('sends nothing without --notify, although SNATGUARD_NOTIFY_* is set (was: posted to it)', async () => {
    const r = await receiver();
    try {
      process.env.SNATGUARD_NOTIFY_WEBHOOK_URL = r.url;
      process.env.SNATGUARD_NOTIFY_WEBHOOK_SECRET = 'replay-test';
      expect(await cli('replay', examplePath('aks-mongo-leak.yaml'), '-o', 'json')).toBe(0);
      expect(r.bodies).toEqual([]);
      expect(JSON.parse(out).errors.filter((e: { stage: string }) => e.stage === 'notify')).toEqual([]);
    } finally {
      await r.close();
    }
  });

  it('with --notify reaches a plain http:// receiver, marked as a replay', async () => {
    const r = await receiver();
    try {
      process.env.SNATGUARD_NOTIFY_WEBHOOK_URL = r.url;
      process.env.SNATGUARD_NOTIFY_WEBHOOK_SECRET = 'replay-test';
      expect(await cli('replay', examplePath('aks-mongo-leak.yaml'), '--notify', '-o', 'json')).toBe(0);
      expect(r.bodies).toHaveLength(1);
      const body = JSON.parse(r.bodies[0]!);
      expect(body.notice.headline).toMatch(/^\[replay of aks-mongo-leak\] SNAT \w+ on aks-shop/);
      expect(body.kind).toBe('RunReport');
    } finally {
      await r.close();
    }
  });
});
