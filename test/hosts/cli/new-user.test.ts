// What a new user hit, in a fresh process each (logs go to fd 2, exit codes are the process's):
// SNATGUARD_LOG_LEVEL=verbose exited 3 with pino's message; log.level in the file was ignored;
// cluster.connection aks|eks without coordinates exited 3 with SDK errors; `--help | head -1` crashed
// with EPIPE. Config problems exit 2 naming the key.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { examplePath } from '../../../src/paths.js';
import { runCli, useCliBundle } from '../../cli-bundle.js';

const cli = useCliBundle('snatguard-new-user-');

const home = () => ({ HOME: cli.home });

describe('a new user', () => {
  it('SNATGUARD_LOG_LEVEL=verbose: exit 2 naming log.level and where it came from', async () => {
    const r = await runCli(cli.bundle, ['scan'], { ...home(), SNATGUARD_LOG_LEVEL: 'verbose' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/log\.level: must be one of: .*\(from SNATGUARD_LOG_LEVEL\)/);
    expect(r.stderr).not.toMatch(/unknown level/);
  }, 60_000);

  it('log.level in the config file is honoured (replay: quiet by default, info when the file says so)', async () => {
    const file = join(cli.home, 'info.yaml');
    await writeFile(file, 'log:\n  level: info\n');
    const quiet = await runCli(
      cli.bundle,
      ['replay', examplePath('contract-check.yaml'), '-o', 'json'],
      home(),
    );
    const loud = await runCli(
      cli.bundle,
      ['replay', examplePath('contract-check.yaml'), '-o', 'json', '--config', file],
      home(),
    );
    expect(quiet.code).toBe(0);
    expect(loud.code).toBe(0);
    expect(quiet.stderr).not.toContain('"msg":"run finished"');
    expect(loud.stderr).toContain('"msg":"run finished"');
  }, 60_000);

  it.each([
    ['aks', ['azure.subscriptionId', 'azure.resourceGroup', 'azure.clusterName']],
    ['eks', ['aws.region', 'aws.clusterName']],
  ])(
    'cluster.connection %s without coordinates: exit 2 naming each missing key',
    async (connection, keys) => {
      const r = await runCli(cli.bundle, ['scan'], { ...home(), SNATGUARD_CLUSTER_CONNECTION: connection });
      expect(r.code).toBe(2);
      for (const key of keys)
        expect(r.stderr).toContain(`${key}: required when cluster.connection is ${connection}`);
      expect(r.stdout).toBe('');
    },
    60_000,
  );

  it('`snatguard --help | head -1` ends quietly, exit 0 (was: EPIPE crash)', async () => {
    const result = await new Promise<{ code: number | null; stderr: string; first: string }>((resolve) => {
      const child = spawn(process.execPath, [cli.bundle, '--help'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH ?? '', ...home() },
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString('utf8');
      });
      // head -1: read the first chunk, then close the pipe.
      child.stdout.once('data', (c: Buffer) => {
        const first = c.toString('utf8').split('\n')[0]!;
        child.stdout.destroy();
        child.on('close', (code) => resolve({ code, stderr, first }));
      });
    });
    expect(result.first).toMatch(/^Usage: snatguard/);
    expect(result.stderr).not.toMatch(/EPIPE|Error/);
    expect(result.code).toBe(0);
  }, 60_000);
});
