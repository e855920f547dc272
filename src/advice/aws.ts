// Advice for EKS: AWS_RANDOMIZESNAT_PRNG, AWS_EXTERNALSNAT, AWS_NATGW_ADD_IPS.
import type { NodeReport, Recommendation, Severity } from '../model.js';
import {
  AWS_NATGW_CONNECTIONS_PER_DESTINATION_PER_IP,
  AWS_NATGW_DEFAULT_IP_QUOTA,
  AWS_NATGW_MAX_IPS,
  awsNatGatewayIpsFor,
} from './capacity.js';
import { listSome, num, plural } from './format.js';
import type { AdviceInput } from './types.js';

export const RANDOMIZESNAT = 'AWS_VPC_K8S_CNI_RANDOMIZESNAT';
export const EXTERNALSNAT = 'AWS_VPC_K8S_CNI_EXTERNALSNAT';
/** RANDOMIZESNAT values whose SNAT port choice races under load (aws/amazon-vpc-cni-k8s README). */
const RACY_MODES = new Set(['none', 'hashrandom']);

/**
 * How to set an aws-node variable so that it lasts. On the EKS managed add-on `vpc-cni`, `kubectl set
 * env` is reverted by the next add-on update: the add-on's configuration values carry the env
 * (`aws eks update-addon --configuration-values`, merged into what is configured now). Self-managed:
 * `kubectl set env`. Unknown (DescribeAddon not answered): both, add-on first.
 */
export function awsNodeEnvFix(input: AdviceInput, name: string, value: string): string {
  const cluster = input.target?.cluster ?? '<cluster>';
  const addon = input.cloud.aws?.vpcCniAddon;
  const kubectl = `kubectl set env daemonset aws-node -n kube-system ${name}=${value}`;
  if (addon && !addon.managed) return kubectl;
  let config: Record<string, unknown> = {};
  try {
    const parsed: unknown = addon?.configurationValues ? JSON.parse(addon.configurationValues) : {};
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      config = parsed as Record<string, unknown>;
  } catch {
    // YAML or unreadable configuration values: start from the variable alone and say so below.
  }
  const env = config.env && typeof config.env === 'object' ? (config.env as Record<string, unknown>) : {};
  const values = JSON.stringify({ ...config, env: { ...env, [name]: value } });
  const update = `aws eks update-addon --cluster-name ${cluster} --addon-name vpc-cni --configuration-values '${values}'`;
  return addon ? update : `${update}  # managed add-on vpc-cni; self-managed aws-node: ${kubectl}`;
}

/** The sentence that says which of the two forms applies and why. */
export function awsNodeEnvHow(input: AdviceInput): string {
  const addon = input.cloud.aws?.vpcCniAddon;
  if (addon?.managed)
    return ' aws-node is the EKS managed add-on vpc-cni: set the variable in its configuration values (kubectl set env would be reverted by the next add-on update).';
  if (addon && !addon.managed)
    return ' aws-node is self-managed (no vpc-cni add-on), so kubectl set env lasts.';
  return ' Whether aws-node is the managed add-on vpc-cni is unknown (eks:DescribeAddon did not answer): on the add-on use its configuration values (kubectl set env is reverted by add-on updates); on a self-managed aws-node, kubectl set env.';
}

/**
 * insert_failed growth on a node: the delta since the last run when known; on a first run (no delta)
 * the absolute counter, but only on a hot node, where it is evidence rather than noise since boot.
 */
export function insertFailedGrowth(n: NodeReport): number {
  const c = n.conntrack;
  if (!c) return 0;
  if (c.insertFailedDelta !== undefined) return Math.max(0, c.insertFailedDelta);
  return n.hot ? c.insertFailed : 0;
}

const conntrackPressured = (n: NodeReport, input: AdviceInput) =>
  n.conntrack !== undefined &&
  n.conntrack.max > 0 &&
  n.conntrack.ratio >= input.thresholds.conntrackUsedRatio;

const isTrue = (v: string | undefined) => v?.trim().toLowerCase() === 'true';

/** AWS_RANDOMIZESNAT_PRNG: aws-node explicitly set to something other than prng, under pressure. */
export function randomizeSnatPrng(input: AdviceInput): Recommendation[] {
  if (input.provider !== 'aws') return [];
  const env = input.cloud.aws?.awsNodeEnv;
  if (!env) return []; // unknown: never guess
  const mode = env[RANDOMIZESNAT]?.trim() ?? '';
  // Only the two non-random modes: unset means prng (the default since VPC CNI 1.7), any other value is
  // not one aws-node knows; EXTERNALSNAT=true makes the setting moot.
  if (!RACY_MODES.has(mode.toLowerCase()) || isTrue(env[EXTERNALSNAT])) return [];
  const growing = input.nodes.filter((n) => insertFailedGrowth(n) > 0);
  const pressured = input.nodes.filter((n) => n.hot || conntrackPressured(n, input));
  const gatewayErrors = (input.cloud.aws?.natGateways ?? []).filter((g) => g.errorPortAllocation > 0);
  if (growing.length === 0 && pressured.length === 0 && gatewayErrors.length === 0) return [];
  const severity: Severity = growing.length > 0 ? 'critical' : 'warning';
  const evidence = [
    growing.length > 0
      ? `insert_failed grew on ${listSome(
          growing.map((n) => `${n.name} (+${num(insertFailedGrowth(n))})`),
          3,
        )}`
      : '',
    pressured.length > 0 ? `${plural(pressured.length, 'node')} under SNAT or conntrack pressure` : '',
    gatewayErrors.length > 0
      ? `NAT gateway port-allocation errors on ${gatewayErrors.map((g) => g.id).join(', ')}`
      : '',
  ].filter(Boolean);
  return [
    {
      id: 'AWS_RANDOMIZESNAT_PRNG',
      severity,
      title: `aws-node SNATs with ${RANDOMIZESNAT}=${mode}: switch to prng (--random-fully)`,
      detail:
        `${evidence.join('; ')}. aws-node sets ${RANDOMIZESNAT}=${mode}, so its SNAT rule picks source ports ` +
        `${mode.toLowerCase() === 'none' ? 'sequentially' : 'by hash'}; under load two connections race for the same port, ` +
        `the conntrack insert fails (insert_failed grows) and the SYN is retransmitted: connects take exactly 1 s or 3 s. ` +
        `prng (--random-fully) is the VPC CNI default since 1.7 and avoids the race.` +
        awsNodeEnvHow(input),
      fix: awsNodeEnvFix(input, RANDOMIZESNAT, 'prng'),
    },
  ];
}

/**
 * AWS_EXTERNALSNAT — trigger (our decision): provider aws, the aws-node env is known and EXTERNALSNAT is
 * not true, the cluster's egress goes through a NAT gateway (one is in the facts: the nodes sit in
 * private subnets, so a pod's connection is translated twice, by the node's iptables SNAT and by the
 * gateway), and the node-level translation shows the port-allocation race: insert_failed grows on a
 * node. ErrorPortAllocation alone does not trigger it — the gateway's limit is per destination per
 * gateway IP whoever the source is; AWS_NATGW_ADD_IPS covers that. Info when the PRNG fix also applies
 * (try that first), warning when aws-node is already on prng and the race persists.
 */
export function externalSnat(input: AdviceInput): Recommendation[] {
  if (input.provider !== 'aws') return [];
  const env = input.cloud.aws?.awsNodeEnv;
  const gateways = input.cloud.aws?.natGateways ?? [];
  if (!env || isTrue(env[EXTERNALSNAT]) || gateways.length === 0) return [];
  const growing = input.nodes.filter((n) => insertFailedGrowth(n) > 0);
  if (growing.length === 0) return [];
  const mode = env[RANDOMIZESNAT]?.trim().toLowerCase() || 'prng';
  return [
    {
      id: 'AWS_EXTERNALSNAT',
      severity: mode === 'prng' ? 'warning' : 'info',
      title: 'Let the NAT gateway do the only SNAT: AWS_VPC_K8S_CNI_EXTERNALSNAT=true',
      detail:
        `insert_failed grew on ${listSome(
          growing.map((n) => `${n.name} (+${num(insertFailedGrowth(n))})`),
          3,
        )} while egress goes through ${gateways.map((g) => g.id).join(', ')}: ` +
        `each connection is translated twice, first to the node's primary ENI address by aws-node's iptables rule (where the insert race happens), then by the gateway. ` +
        `With ${EXTERNALSNAT}=true aws-node removes its SNAT rule and the gateway translates pod addresses directly. ` +
        `Only for nodes in private subnets whose route to the internet is the NAT gateway: nodes in public subnets lose internet access.` +
        (mode === 'prng'
          ? ''
          : ' Switching RANDOMIZESNAT to prng (AWS_RANDOMIZESNAT_PRNG) is the smaller change; try it first.') +
        awsNodeEnvHow(input),
      fix: awsNodeEnvFix(input, EXTERNALSNAT, 'true'),
    },
  ];
}

/** Sockets per destination over all offenders: the most to one destination, cluster-wide. */
function busiestDestination(input: AdviceInput): { remote: string; sockets: number } | undefined {
  const perRemote = new Map<string, number>();
  for (const o of input.offenders)
    for (const d of o.topDestinations) perRemote.set(d.remote, (perRemote.get(d.remote) ?? 0) + d.sockets);
  const [top] = [...perRemote.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return top ? { remote: top[0], sockets: top[1] } : undefined;
}

/** AWS_NATGW_ADD_IPS: one per NAT gateway with ErrorPortAllocation > 0. */
export function natGatewayAddIps(input: AdviceInput): Recommendation[] {
  if (input.provider !== 'aws') return [];
  const busiest = busiestDestination(input);
  const out: Recommendation[] = [];
  for (const g of input.cloud.aws?.natGateways ?? []) {
    if (g.errorPortAllocation <= 0) continue;
    const current = g.ips ?? 1;
    const forBusiest = busiest ? awsNatGatewayIpsFor(busiest.sockets).ips : 1;
    const target = Math.min(AWS_NATGW_MAX_IPS, Math.max(current + 1, forBusiest));
    const known = g.ips !== undefined ? `${plural(current, 'IP')}` : '1 IP (assumed: the count was not read)';
    const base =
      `NAT gateway ${g.id} failed to allocate a source port ${plural(g.errorPortAllocation, 'time')} (ErrorPortAllocation), ` +
      `with ${num(g.activeConnectionCount)} active connections and ${known}. Each IP carries ${num(AWS_NATGW_CONNECTIONS_PER_DESTINATION_PER_IP)} ` +
      `simultaneous connections to one destination (ip, port, protocol), up to ${AWS_NATGW_MAX_IPS} IPs per gateway` +
      (busiest
        ? `; the busiest destination seen is ${busiest.remote} with ${num(busiest.sockets)} sockets`
        : '') +
      '.';
    if (current >= AWS_NATGW_MAX_IPS) {
      out.push({
        id: 'AWS_NATGW_ADD_IPS',
        severity: 'critical',
        title: `NAT gateway ${g.id} is out of ports with all ${AWS_NATGW_MAX_IPS} IPs: split the egress`,
        detail: `${base} It already has the maximum; spread the subnets over more NAT gateways (one per availability zone) and bring the connections per destination down (CONNECTION_POOLING).`,
        fix: `aws ec2 create-nat-gateway --subnet-id <public-subnet-id> --allocation-id <eipalloc-id>  # then route a share of the private subnets to it`,
      });
      continue;
    }
    const add = target - current;
    const allocations = Array.from({ length: add }, (_, i) => `<eipalloc-${i + 1}>`).join(' ');
    out.push({
      id: 'AWS_NATGW_ADD_IPS',
      severity: 'critical',
      title: `Add ${plural(add, 'secondary IP')} to NAT gateway ${g.id} (${current} → ${target})`,
      detail:
        `${base} ${target} IPs carry ${num(target * AWS_NATGW_CONNECTIONS_PER_DESTINATION_PER_IP)} connections per destination. ` +
        `Allocate the addresses first with \`aws ec2 allocate-address --domain vpc\`` +
        (target > AWS_NATGW_DEFAULT_IP_QUOTA
          ? `; more than ${AWS_NATGW_DEFAULT_IP_QUOTA} IPs per gateway needs a raised quota (Elastic IP addresses per NAT gateway).`
          : '.'),
      fix: `aws ec2 associate-nat-gateway-address --nat-gateway-id ${g.id} --allocation-ids ${allocations}`,
    });
  }
  return out;
}
