// `snatguard sim`: the banner on stdout, a clean stop on SIGINT (temp files removed), exit 2 on a bad snapshot.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { simCommand } from '../../src/hosts/cli/commands.js';

const captured = () => {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c) => {
    out += String(c);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c) => {
    err += String(c);
    return true;
  });
  const restore = () => {
    o.mockRestore();
    e.mockRestore();
  };
  return { out: () => out, err: () => err, restore };
};

const waitFor = async (ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
};

describe('snatguard sim', () => {
  const savedExit = process.exitCode;
  afterEach(() => {
    process.exitCode = savedExit;
    vi.restoreAllMocks();
  });

  it('prints KUBECONFIG=/absolute/path then NAME=URL lines, serves, and stops cleanly on SIGINT', async () => {
    const io = captured();
    const running = simCommand().parseAsync(['examples/aks-mongo-leak.yaml', '--port', '0'], {
      from: 'user',
    });
    await waitFor(() => /^KUBECONFIG=/m.test(io.out()));
    const lines = io.out().trim().split('\n');
    const kubeconfig = /^KUBECONFIG=(\/.+)$/.exec(lines[0] ?? '')?.[1];
    expect(kubeconfig).toBeDefined();
    expect(existsSync(kubeconfig!)).toBe(true);
    for (const l of lines) expect(l).toMatch(/^[A-Z_]+=\S+$/);
    expect(lines).toContainEqual(expect.stringMatching(/^SNATGUARD_CLUSTER_KUBECONFIG=\/.+job-kubeconfig$/));
    expect(lines).toContainEqual('SNATGUARD_PROVIDER=azure');
    expect(lines).toContainEqual(
      expect.stringMatching(/^SNATGUARD_AZURE_ARM_ENDPOINT=https:\/\/127\.0\.0\.1:\d+$/),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^SNATGUARD_AWS_ENDPOINT=https:/));
    expect(lines).toContainEqual(expect.stringMatching(/^IDENTITY_ENDPOINT=https:.*\/msi\/token$/));
    // Only lines scan reads (was: SNATGUARD_JOB_KUBECONFIG, KUBERNETES_API, which nothing reads).
    const names = lines.map((l) => l.split('=')[0]);
    expect(names).not.toContain('SNATGUARD_JOB_KUBECONFIG');
    expect(names).not.toContain('KUBERNETES_API');
    expect(lines).toContainEqual(
      expect.stringMatching(/^SNATGUARD_NOTIFY_SLACK_WEBHOOK_URL=https:.*\/sinks\/slack\//),
    );
    process.emit('SIGINT');
    await running;
    io.restore();
    expect(process.exitCode).toBe(0);
    expect(existsSync(kubeconfig!)).toBe(false);
  });

  it('exits 0 on a SIGINT that arrives while it is still starting (the handler comes first)', async () => {
    // Regression: the handler was installed after the banner, so a Ctrl-C during start-up was lost (or,
    // in a real process, killed it with the signal instead of exit 0).
    const io = captured();
    const running = simCommand().parseAsync(['examples/aks-mongo-leak.yaml', '--port', '0'], {
      from: 'user',
    });
    // The first moment a handler exists; the old code installed it only after printing the banner.
    await waitFor(() => process.listenerCount('SIGINT') > 0);
    const bannerAlready = /KUBECONFIG=/.test(io.out());
    process.emit('SIGINT');
    await running;
    io.restore();
    expect(bannerAlready).toBe(false);
    expect(process.exitCode).toBe(0);
    expect(io.out()).toBe('');
    expect(process.listenerCount('SIGINT')).toBe(0);
  });

  it('exits 2 naming every problem of a bad snapshot', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'snatguard-sim-cli-'));
    const bad = join(dir, 'bad.yaml');
    await writeFile(
      bad,
      'apiVersion: snatguard.io/v1\nkind: Snapshot\nmetadata: { name: x, typo: 1 }\nnodes: []\n',
    );
    const io = captured();
    await simCommand().parseAsync([bad], { from: 'user' });
    io.restore();
    await rm(dir, { recursive: true, force: true });
    expect(process.exitCode).toBe(2);
    expect(io.out()).toBe('');
    expect(io.err()).toContain('metadata.typo: unknown field');
    expect(io.err()).toMatch(/nodes: /);
  });
});
