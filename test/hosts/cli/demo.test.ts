// `snatguard demo` (npm start): the first incident, the restart, the Slack alert, then the recovery.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { program } from '../../../src/hosts/cli/program.js';

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

describe('snatguard demo', () => {
  it('narrates detect → restart → alert → recovered, all through the simulator', async () => {
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out += String(s);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);

    await program().parseAsync(['demo'], { from: 'user' });

    expect(process.exitCode ?? 0).toBe(0);
    const [run1, run2] = out.split('Run 2 —');
    expect(run1).toMatch(/shop\/Deployment\/orders-api\s+applied/);
    expect(run1).toContain('20.103.144.194:27017 ×900');
    expect(run1).toContain('What the simulated Slack channel received:');
    expect(run1).toContain('CONNECTION_POOLING');
    expect(run2).toContain('0 hot nodes');
    expect(run2).toMatch(/Recovered on aks-shop — node aks-nodepool1-\d+-vmss000000 recovered/);
  });
});
