// Helpers for lab tests that run in network namespaces the test creates (needs root and iproute2).
//
// Locally, a lab test skips when it cannot run (not root, `ip` missing). On CI (CI=true) it must
// not skip silently: `requireRoot().skip` is then false and `check()` throws, so the test fails.
import { type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export const isRoot = (): boolean => process.getuid?.() === 0;

export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

export interface LabRequirement {
  /** Pass to `describe.skipIf` / `it.skipIf`: true only when the lab cannot run and this is not CI. */
  skip: boolean;
  /** What is missing (empty when the lab can run). */
  missing: string[];
  /** Call first in the test (or in beforeAll): throws on CI when something is missing. */
  check(): void;
}

export function requireRoot(tools: string[] = ['ip']): LabRequirement {
  const missing = [...(isRoot() ? [] : ['root']), ...tools.filter((t) => !hasTool(t))];
  const ci = process.env.CI === 'true';
  return {
    skip: missing.length > 0 && !ci,
    missing,
    check() {
      if (missing.length > 0) {
        throw new Error(`lab test needs ${missing.join(', ')} (CI=true: failing instead of skipping)`);
      }
    },
  };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; never rejects on a non-zero exit (look at `code`). */
export function run(command: string, args: string[], options: SpawnOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function must(command: string, args: string[]): Promise<string> {
  const r = await run(command, args);
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

const created = new Set<string>();

export interface Netns {
  name: string;
  /** Runs `ip netns exec NAME command args…` to completion and fails on a non-zero exit. */
  exec(command: string, args: string[]): Promise<string>;
  /** `ip netns exec NAME command args…`, arguments for spawn. */
  spawnArgs(command: string, args: string[]): [string, string[]];
  remove(): Promise<void>;
}

/** Creates `sg-test-<random>` with loopback up. Remove it in afterAll (or call {@link removeAllNetns}). */
export async function createNetns(prefix = 'sg-test'): Promise<Netns> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  await must('ip', ['netns', 'add', name]);
  created.add(name);
  await must('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return {
    name,
    exec: (command, args) => must('ip', ['netns', 'exec', name, command, ...args]),
    spawnArgs: (command, args) => ['ip', ['netns', 'exec', name, command, ...args]],
    async remove() {
      created.delete(name);
      await run('ip', ['netns', 'del', name]);
    },
  };
}

/** Deletes every namespace this process created and has not removed yet (safe in afterAll after a failure). */
export async function removeAllNetns(): Promise<void> {
  await Promise.all([...created].map((name) => run('ip', ['netns', 'del', name])));
  created.clear();
}
