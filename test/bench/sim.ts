// `snatguard sim` start-up (spawn → the KUBECONFIG= line) and Ctrl-C (SIGINT → exit), median of 5.
// Goal: starts in under 2 s and stops cleanly: exit code 0 every time (checked each run, not only once).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../src/paths.js';

function once(): Promise<{ startMs: number; stopMs: number; code: number | null }> {
  const root = packageRoot();
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [join(root, 'dist/src/hosts/cli/main.js'), 'sim', join(root, 'examples/aks-mongo-leak.yaml')],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    let startMs = 0;
    let t1 = 0;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!startMs && /^KUBECONFIG=\//m.test(out)) {
        startMs = performance.now() - t0;
        t1 = performance.now();
        child.kill('SIGINT');
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ startMs, stopMs: performance.now() - t1, code }));
  });
}

export async function run(): Promise<void> {
  const runs = [];
  for (let i = 0; i < 5; i++) runs.push(await once());
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const clean = runs.every((r) => r.code === 0);
  console.log(
    `\nsnatguard sim: start ${median(runs.map((r) => r.startMs)).toFixed(0)} ms (goal < 2000 ms), ` +
      `Ctrl-C → exit ${median(runs.map((r) => r.stopMs)).toFixed(0)} ms, exit codes ${runs.map((r) => r.code ?? 'signal').join(' ')} ` +
      `(every one 0: ${clean ? 'yes → met' : 'NO → MISSED'})`,
  );
}
