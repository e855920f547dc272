import { CommanderError } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CapacityReport } from '../../../src/advice/capacity-plan.js';
import { capacityCommand } from '../../../src/hosts/cli/capacity.js';

async function run(args: string[]): Promise<{ out: string; err: string; exitCode: number }> {
  let out = '';
  let err = '';
  const cmd = capacityCommand({
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
  });
  try {
    await cmd.parseAsync(args, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
  }
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { out, err, exitCode };
}

afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

describe('snatguard capacity: three realistic clusters', () => {
  it('12 nodes on the defaults: 1,024 ports each, 50 nodes before the table halves them', async () => {
    const { out, err, exitCode } = await run(['--nodes', '12']);
    expect(exitCode).toBe(0);
    expect(err).toBe('');
    expect(out).toMatch(/nodes\s+12 \+ 1 surge = 13/);
    expect(out).toMatch(/ports per node\s+1,024 \(during surge: 1,024\)/);
    expect(out).toMatch(/node limit\s+50 nodes before the default table/);
    expect(out).toMatch(/--load-balancer-outbound-ports\s+1024/);
    expect(out).toMatch(/--load-balancer-managed-outbound-ip-count\s+1/);
    expect(out).toContain('62 nodes = floor(64,000 × 1 / 1,024)');
  });

  it('80 nodes + surge 5 wanting 2,048 ports: 512 now, 3 IPs for 2,048 (93 nodes max)', async () => {
    const { out, exitCode } = await run(['--nodes', '80', '--max-surge', '5', '--want-ports', '2048']);
    expect(exitCode).toBe(0);
    expect(out).toMatch(/ports per node\s+512 \(during surge: 512\)/);
    // 85 × 2,048 = 174,080 > 2 × 64,000 → 3 IPs; floor(192,000 / 2,048) = 93.
    expect(out).toMatch(/--load-balancer-managed-outbound-ip-count\s+3/);
    expect(out).toContain('93 nodes = floor(64,000 × 3 / 2,048)');
    expect(out).toContain(
      'az aks update --resource-group <resource-group> --name <cluster> --load-balancer-outbound-ports 2048 --load-balancer-managed-outbound-ip-count 3',
    );
    expect(out).toContain('85 × 2,048 = 174,080');
  });

  it('300 nodes with 4 IPs: 128 per IP × 4 = 512 each; 1,024 needs 5 IPs', async () => {
    const { out, exitCode } = await run([
      '--nodes',
      '300',
      '--outbound-ips',
      '4',
      '--resource-group',
      'rg-shop',
      '--cluster',
      'aks-shop',
    ]);
    expect(exitCode).toBe(0);
    expect(out).toMatch(/ports per node\s+512/);
    expect(out).toMatch(/node limit\s+400 nodes/);
    // 301 × 1,024 = 308,224 → 5 IPs (320,000); floor(320,000 / 1,024) = 312.
    expect(out).toContain('312 nodes = floor(64,000 × 5 / 1,024)');
    expect(out).toContain(
      'az aks update --resource-group rg-shop --name aks-shop --load-balancer-outbound-ports 1024',
    );
  });
});

describe('snatguard capacity: settings and JSON', () => {
  it('--output json prints exactly one document', async () => {
    const { out, exitCode } = await run([
      '--nodes',
      '100',
      '--max-surge',
      '10',
      '--want-ports',
      '1024',
      '--output',
      'json',
    ]);
    expect(exitCode).toBe(0);
    const report = JSON.parse(out) as CapacityReport;
    expect(report.kind).toBe('CapacityPlan');
    expect(report.current).toMatchObject({ portsPerNode: 512, portsPerNodeDuringSurge: 256, fits: false });
    expect(report.loadBalancer).toMatchObject({
      feasible: true,
      allocatedOutboundPorts: 1024,
      outboundIPs: 2,
      maxNodes: 125,
    });
    expect(report.natGateway).toMatchObject({ ips: 2, feasible: true });
  });

  it('an explicit setting reports its node limit and whether the surge fits', async () => {
    const { out } = await run(['--nodes', '62', '--ports', '1024', '--output', 'json']);
    const report = JSON.parse(out) as CapacityReport;
    expect(report.current).toMatchObject({ mode: 'explicit', maxNodes: 62, plannedNodes: 63, fits: false });
    expect(report.input.wantPortsPerNode).toBe(1024);
  });

  it('says when the load balancer cannot do it', async () => {
    const { out, exitCode } = await run([
      '--nodes',
      '400',
      '--ports',
      '8000',
      '--outbound-ips',
      '50',
      '--want-ports',
      '16000',
    ]);
    expect(exitCode).toBe(0);
    expect(out).toContain('401 nodes × 16,000 ports need 101 outbound IPs; the load balancer allows 100');
  });

  it('writes to process.stdout by default', async () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    await capacityCommand().parseAsync(['--nodes', '3', '--output', 'json'], { from: 'user' });
    expect(write).toHaveBeenCalledTimes(1);
    expect(JSON.parse(String(write.mock.calls[0]?.[0])).input.nodes).toBe(3);
  });
});

// Was: exit 2 ("the default port allocation stops at 1000"); a large pool is a question with an answer.
describe('snatguard capacity: a pool past the default table', () => {
  it.each([['999'], ['1000'], ['3000']])(
    '--nodes %s recommends more IPs or a NAT gateway, exit 0',
    async (nodes) => {
      const { out, err, exitCode } = await run(['--nodes', nodes]);
      expect(exitCode).toBe(0);
      expect(err).toBe('');
      expect(out).toMatch(/--load-balancer-managed-outbound-ip-count \d+/);
      expect(out).toMatch(/--outbound-type managedNATGateway/);
    },
  );

  it('--nodes 1000 says the default allocation cannot serve the pool', async () => {
    const { out } = await run(['--nodes', '1000']);
    expect(out).toMatch(
      /fits with surge +NO: the default allocation serves at most 1,000 nodes and the pool would hold 1,001/,
    );
  });

  it('-o json prints the plan as one JSON document (was: unknown option -o)', async () => {
    const { out, exitCode } = await run(['--nodes', '3000', '-o', 'json']);
    expect(exitCode).toBe(0);
    const plan = JSON.parse(out);
    expect(plan).toMatchObject({ kind: 'CapacityPlan', current: { fits: false, portsPerNode: 0 } });
    expect(plan.loadBalancer.feasible).toBe(true);
    expect(plan.loadBalancer.outboundIPs).toBeGreaterThan(1);
  });
});

describe('snatguard capacity: bad input exits 2 with every problem', () => {
  it.each<[string[], RegExp[]]>([
    [[], [/--nodes is required/]],
    [['--nodes', 'twelve'], [/--nodes must be an integer/]],
    [['--nodes', '10', '--ports', '1020'], [/--ports must be a multiple of 8, got 1020/]],
    [['--nodes', '10', '--ports', '64008'], [/--ports must be an integer 0–64000/]],
    [['--nodes', '10', '--outbound-ips', '101'], [/--outbound-ips must be an integer 1–100/]],
    [['--nodes', '10', '--output', 'xml'], [/--output must be table or json/]],
    [
      ['--nodes', '0', '--max-surge', '-1', '--want-ports', '99999'],
      [/--nodes/, /--max-surge/, /--want-ports/],
    ],
  ])('%j', async (args, messages) => {
    const { out, err, exitCode } = await run(args);
    expect(exitCode).toBe(2);
    expect(out).toBe('');
    for (const m of messages) expect(err).toMatch(m);
  });

  it('an unknown option is a usage error too', async () => {
    const { err, exitCode } = await run(['--nodes', '10', '--frobnicate']);
    expect(exitCode).toBe(2);
    expect(err).toMatch(/unknown option/);
  });
});
