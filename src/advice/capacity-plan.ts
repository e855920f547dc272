// The `snatguard capacity` answer: what a load-balancer setting gives, and the smallest setting for a
// wanted number of ports per node (with the NAT gateway alternative). Pure; the CLI only parses and prints.
import {
  AKS_DEFAULT_MAX_SURGE,
  AZURE_NATGW_MAX_IPS,
  AZURE_NATGW_PORTS_PER_IP,
  azureNatGatewayPlan,
  evaluateLb,
  LB_DEFAULT_MAX_PORTS_PER_NODE,
  LB_PORTS_PER_IP,
  type LbEvaluation,
  type LbPlan,
  type NatGatewayPlan,
  smallestLbSetting,
} from './capacity.js';
import { num } from './format.js';

export interface CapacityQuery {
  nodes: number;
  maxSurge?: number;
  outboundIPs?: number;
  /** 0 = the default table. */
  allocatedOutboundPorts?: number;
  /** Default: the explicit setting, else 1,024 (the most the default table gives). */
  wantPortsPerNode?: number;
  resourceGroup?: string;
  cluster?: string;
}

export interface CapacityReport {
  apiVersion: 'snatguard.io/v1';
  kind: 'CapacityPlan';
  input: {
    nodes: number;
    maxSurge: number;
    outboundIPs: number;
    allocatedOutboundPorts: number;
    wantPortsPerNode: number;
  };
  current: LbEvaluation;
  loadBalancer: LbPlan & { command?: string };
  natGateway: NatGatewayPlan & { command: string };
}

/** Throws CapacityError when the numbers are outside what Azure accepts. */
export function planCapacity(q: CapacityQuery): CapacityReport {
  const maxSurge = q.maxSurge ?? AKS_DEFAULT_MAX_SURGE;
  const outboundIPs = q.outboundIPs ?? 1;
  const allocatedOutboundPorts = q.allocatedOutboundPorts ?? 0;
  const wantPortsPerNode =
    q.wantPortsPerNode ??
    (allocatedOutboundPorts > 0 ? allocatedOutboundPorts : LB_DEFAULT_MAX_PORTS_PER_NODE);
  const current = evaluateLb({ nodes: q.nodes, maxSurge, outboundIPs, allocatedOutboundPorts });
  const lb = smallestLbSetting({ nodes: q.nodes, maxSurge, wantPortsPerNode });
  const nat = azureNatGatewayPlan({ nodes: q.nodes, maxSurge, wantPortsPerNode });
  const base = `az aks update --resource-group ${q.resourceGroup ?? '<resource-group>'} --name ${q.cluster ?? '<cluster>'}`;
  return {
    apiVersion: 'snatguard.io/v1',
    kind: 'CapacityPlan',
    input: { nodes: q.nodes, maxSurge, outboundIPs, allocatedOutboundPorts, wantPortsPerNode },
    current,
    loadBalancer: lb.feasible
      ? {
          ...lb,
          command: `${base} --load-balancer-outbound-ports ${lb.allocatedOutboundPorts} --load-balancer-managed-outbound-ip-count ${lb.outboundIPs}`,
        }
      : lb,
    natGateway: {
      ...nat,
      command: `${base} --outbound-type managedNATGateway --nat-gateway-managed-outbound-ip-count ${Math.min(nat.ips, AZURE_NATGW_MAX_IPS)}`,
    },
  };
}

function rows(pairs: [string, string][]): string[] {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
}

/** A readable plain-text table of the report. */
export function renderCapacityTable(r: CapacityReport): string {
  const c = r.current;
  const setting =
    c.mode === 'explicit'
      ? `allocatedOutboundPorts ${num(c.allocatedOutboundPorts)}, ${num(c.outboundIPs)} outbound IP${c.outboundIPs === 1 ? '' : 's'}`
      : `default allocation (allocatedOutboundPorts 0), ${num(c.outboundIPs)} outbound IP${c.outboundIPs === 1 ? '' : 's'}`;
  const limit =
    c.mode === 'explicit'
      ? `${num(c.maxNodes)} nodes = floor(${num(LB_PORTS_PER_IP)} × ${c.outboundIPs} / ${num(c.allocatedOutboundPorts)})`
      : `${num(c.maxNodes)} nodes before the default table lowers every node's ports`;
  const lines = [
    'Azure load balancer outbound SNAT capacity',
    ...rows([
      ['nodes', `${num(c.nodes)} + ${num(c.maxSurge)} surge = ${num(c.plannedNodes)}`],
      ['setting', setting],
      ['ports per node', `${num(c.portsPerNode)} (during surge: ${num(c.portsPerNodeDuringSurge)})`],
      ['node limit', limit],
      [
        'fits with surge',
        c.fits
          ? 'yes'
          : c.problem
            ? `NO: ${c.problem}`
            : `NO: ${num(c.plannedNodes)} nodes > ${num(c.maxNodes)}`,
      ],
    ]),
    '',
  ];
  const lb = r.loadBalancer;
  lines.push(
    `Smallest load-balancer setting for ${num(r.input.wantPortsPerNode)} ports per node × ${num(lb.plannedNodes)} nodes`,
  );
  if (lb.feasible) {
    lines.push(
      ...rows([
        ['--load-balancer-outbound-ports', `${lb.allocatedOutboundPorts}`],
        ['--load-balancer-managed-outbound-ip-count', `${lb.outboundIPs}`],
        [
          'node limit',
          `${num(lb.maxNodes)} nodes = floor(${num(LB_PORTS_PER_IP)} × ${lb.outboundIPs} / ${num(lb.allocatedOutboundPorts)})`,
        ],
        ['most ports these IPs give', `${num(lb.maxPortsPerNodeWithTheseIPs)} per node`],
        ['command', lb.command ?? ''],
      ]),
    );
  } else {
    lines.push(...rows([['not possible', lb.reason]]));
  }
  const nat = r.natGateway;
  lines.push(
    '',
    `NAT gateway alternative (${num(AZURE_NATGW_PORTS_PER_IP)} ports per IP, on demand, up to ${AZURE_NATGW_MAX_IPS} IPs)`,
    ...rows([
      [
        'ports at worst',
        `${num(nat.plannedNodes)} × ${num(r.input.wantPortsPerNode)} = ${num(nat.portsNeeded)}`,
      ],
      [
        'public IPs',
        nat.feasible
          ? `${nat.ips} (${num(nat.ports)} ports)`
          : `${nat.ips} needed, more than ${AZURE_NATGW_MAX_IPS}: bring the demand down`,
      ],
      ['command', nat.command],
    ]),
  );
  return `${lines.join('\n')}\n`;
}
