// `snatguard capacity`: the AKS outbound-port arithmetic on the command line. Thin: parse, plan, print.
// The planner loads when the command runs: program.ts builds every command, and `sockets` or `--version`
// need none of advice/ (~4 ms of module loading at each start).
import { Command, type CommanderError } from 'commander';
import type { CapacityQuery, planCapacity } from '../../advice/capacity-plan.js';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: CliIo = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

interface RawOptions {
  nodes?: string;
  maxSurge?: string;
  outboundIps?: string;
  ports?: string;
  wantPorts?: string;
  resourceGroup?: string;
  cluster?: string;
  output: string;
}

/** Parses and checks every option, collecting all problems at once. */
export function parseCapacityOptions(raw: RawOptions): {
  query?: CapacityQuery;
  output: string;
  problems: string[];
} {
  const problems: string[] = [];
  const int = (flag: string, value: string | undefined, min: number, max: number): number | undefined => {
    if (value === undefined) return undefined;
    if (!/^\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max) {
      problems.push(`${flag} must be an integer ${min}–${max}, got "${value}"`);
      return undefined;
    }
    return Number(value);
  };
  if (raw.nodes === undefined) problems.push('--nodes is required');
  const nodes = int('--nodes', raw.nodes, 1, 5000);
  const maxSurge = int('--max-surge', raw.maxSurge, 0, 5000);
  const outboundIPs = int('--outbound-ips', raw.outboundIps, 1, 100);
  const ports = int('--ports', raw.ports, 0, 64000);
  if (ports !== undefined && ports % 8 !== 0) problems.push(`--ports must be a multiple of 8, got ${ports}`);
  const wantPortsPerNode = int('--want-ports', raw.wantPorts, 1, 64000);
  if (raw.output !== 'table' && raw.output !== 'json')
    problems.push(`--output must be table or json, got "${raw.output}"`);
  if (problems.length > 0 || nodes === undefined) return { output: raw.output, problems };
  const query: CapacityQuery = { nodes };
  if (maxSurge !== undefined) query.maxSurge = maxSurge;
  if (outboundIPs !== undefined) query.outboundIPs = outboundIPs;
  if (ports !== undefined) query.allocatedOutboundPorts = ports;
  if (wantPortsPerNode !== undefined) query.wantPortsPerNode = wantPortsPerNode;
  if (raw.resourceGroup) query.resourceGroup = raw.resourceGroup;
  if (raw.cluster) query.cluster = raw.cluster;
  return { query, output: raw.output, problems };
}

/**
 * `snatguard capacity`. Usage errors set process.exitCode = 2; commander's own parse errors (unknown
 * option) also set it and then reject parseAsync with a CommanderError, as `exitOverride` requires.
 */
export function capacityCommand(io: CliIo = processIo): Command {
  return new Command('capacity')
    .description(
      'Azure load-balancer SNAT arithmetic: ports per node and the node count a setting allows, and the smallest setting for a wanted number of ports per node',
    )
    .option('--nodes <n>', 'nodes in the cluster (the backend pool)')
    .option('--max-surge <n>', 'surge nodes during upgrades (default 1: AKS adds one buffer node)')
    .option('--outbound-ips <k>', 'managed outbound IPs now (1–100)', '1')
    .option(
      '--ports <p>',
      'allocatedOutboundPorts now: 0 = default table, else a multiple of 8 up to 64000',
      '0',
    )
    .option('--want-ports <w>', 'wanted ports per node (default: --ports, or 1024)')
    .option('--resource-group <rg>', 'resource group, for the printed command')
    .option('--cluster <name>', 'cluster name, for the printed command')
    .option('-o, --output <format>', 'table or json', 'table')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride((e: CommanderError) => {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      throw e;
    })
    .action(async (raw: RawOptions) => {
      const parsed = parseCapacityOptions(raw);
      if (!parsed.query) {
        for (const p of parsed.problems) io.err(`snatguard capacity: ${p}\n`);
        process.exitCode = 2;
        return;
      }
      const [{ CapacityError }, { planCapacity, renderCapacityTable }] = await Promise.all([
        import('../../advice/capacity.js'),
        import('../../advice/capacity-plan.js'),
      ]);
      let report: ReturnType<typeof planCapacity>;
      try {
        report = planCapacity(parsed.query);
      } catch (e) {
        if (!(e instanceof CapacityError)) throw e;
        io.err(`snatguard capacity: ${e.message}\n`);
        process.exitCode = 2;
        return;
      }
      io.out(parsed.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderCapacityTable(report));
    });
}
