// Simulated Azure: ARM (managed cluster, user credentials, `kubernetes` load balancer, NAT gateway, subnet)
// and Azure Monitor metrics (ARM metrics API and the regional `metrics:getBatch` API of
// @azure/monitor-query-metrics), served from the snapshot and the world's current node metrics.

import { X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { defaultPortsPerIp, LB_DEFAULT_MAX_POOL } from '../advice/capacity.js';
import { type ServiceErrorAnswer, serviceError } from './cloud-errors.js';
import { sha256Uint32 } from './hash.js';
import type { SimEarly, SimRoutes, SimWorld } from './types.js';

// ---------------------------------------------------------------- what this module reads of the snapshot

/** The part of a snapshot the cloud routes read (SNAPSHOT.md names; every field optional here). */
export interface CloudSnapshotView {
  metadata?: { name?: string };
  cloud?: {
    provider?: string;
    azure?: {
      subscriptionId?: string;
      resourceGroup?: string;
      clusterName?: string;
      location?: string;
      nodeResourceGroup?: string;
      outboundType?: string;
      loadBalancer?: { allocatedOutboundPorts?: number; outboundIPs?: number; idleTimeoutMinutes?: number };
    };
    aws?: {
      region?: string;
      clusterName?: string;
      natGateways?: {
        id: string;
        errorPortAllocation?: number;
        activeConnectionCount?: number;
        packetsDropCount?: number;
      }[];
    };
  };
  cluster?: { version?: string; podCIDR?: string; serviceCIDR?: string };
  nodes?: { name: string; internalIP?: string; providerID?: string }[];
}

/** Options shared by the cloud route modules. */
export interface CloudRouteOptions {
  /** PEM of the CA that signed the simulator's certificate (for kubeconfigs and DescribeCluster). */
  ca?: string | (() => string | undefined);
}

// ---------------------------------------------------------------- small helpers shared with aws.ts

export const stableHash = sha256Uint32;

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendText(
  res: ServerResponse,
  status: number,
  contentType: string,
  text: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * Applies the world's faults for a service. Returns true when the request was answered (or its socket
 * destroyed). Checks the specific key first (`azure:metrics`), then the service (`azure`).
 */
export function applyFault(
  world: SimWorld,
  keys: string[],
  res: ServerResponse,
  answer: (status: number, headers: Record<string, string>) => void,
): boolean {
  if (keys.some((k) => world.faults.down.has(k))) {
    res.socket?.destroy();
    return true;
  }
  for (const key of keys) {
    const fault = world.faults.failNext[key];
    if (fault && fault.count > 0) {
      fault.count -= 1;
      const headers: Record<string, string> = {};
      if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
      answer(fault.status, headers);
      return true;
    }
  }
  return false;
}

/** The PEM the kubeconfig should trust: the configured CA, else the served certificate itself. */
export function caPem(req: IncomingMessage, opts: CloudRouteOptions): string {
  const given = typeof opts.ca === 'function' ? opts.ca() : opts.ca;
  if (given) return given;
  const raw = (req.socket as TLSSocket).getCertificate?.();
  if (raw && 'raw' in raw && raw.raw) return new X509Certificate(raw.raw).toString();
  return '';
}

export const serverUrl = (req: IncomingMessage): string => `https://${req.headers.host ?? '127.0.0.1'}`;

/** ISO 8601 duration (PT1M, PT5M, PT1H, P1D) → milliseconds; undefined when it is not one. */
export function parseIsoDuration(text: string): number | undefined {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(text.trim());
  if (!m || text.trim().toUpperCase() === 'P' || text.trim().toUpperCase() === 'PT') return undefined;
  const [, d, h, min, s] = m;
  return ((Number(d ?? 0) * 24 + Number(h ?? 0)) * 60 + Number(min ?? 0)) * 60_000 + Number(s ?? 0) * 1000;
}

// ---------------------------------------------------------------- the Azure model of the snapshot

/** Azure's default SNAT ports per backend instance by pool size (the simulator caps pools at 1,000). */
export function defaultPortsPerNode(nodes: number): number {
  return defaultPortsPerIp(Math.min(Math.max(nodes, 1), LB_DEFAULT_MAX_POOL));
}

interface AzureModel {
  sub: string;
  rg: string;
  cluster: string;
  location: string;
  nodeRg: string;
  outboundType: string;
  allocatedOutboundPorts: number;
  outboundIPs: number;
  idleTimeoutMinutes: number;
  nodes: { name: string; internalIP?: string; providerID?: string }[];
  clusterId: string;
  lbId: string;
  natGatewayId: string;
  vnetId: string;
  subnetId: string;
}

function azureModel(world: SimWorld): AzureModel | undefined {
  const snap: CloudSnapshotView = world.snapshot;
  const az = snap.cloud?.azure;
  if (!az) return undefined;
  const sub = az.subscriptionId ?? '00000000-0000-0000-0000-000000000000';
  const rg = az.resourceGroup ?? 'rg';
  const cluster = az.clusterName ?? snap.metadata?.name ?? 'aks';
  const location = az.location ?? 'westeurope';
  const nodeRg = az.nodeResourceGroup ?? `MC_${rg}_${cluster}_${location}`;
  const net = `/subscriptions/${sub}/resourceGroups/${nodeRg}/providers/Microsoft.Network`;
  const vnet = `aks-vnet-${String(stableHash(cluster) % 100_000_000).padStart(8, '0')}`;
  return {
    sub,
    rg,
    cluster,
    location,
    nodeRg,
    outboundType: az.outboundType ?? 'loadBalancer',
    allocatedOutboundPorts: az.loadBalancer?.allocatedOutboundPorts ?? 0,
    outboundIPs: az.loadBalancer?.outboundIPs ?? 1,
    idleTimeoutMinutes: az.loadBalancer?.idleTimeoutMinutes ?? 30,
    nodes: snap.nodes ?? [],
    clusterId: `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.ContainerService/managedClusters/${cluster}`,
    lbId: `${net}/loadBalancers/kubernetes`,
    natGatewayId: `${net}/natGateways/aks-natgw`,
    vnetId: `${net}/virtualNetworks/${vnet}`,
    subnetId: `${net}/virtualNetworks/${vnet}/subnets/aks-subnet`,
  };
}

const isNatGateway = (t: string): boolean => /natgateway/i.test(t);

function frontendIps(m: AzureModel): { name: string; ip: string; id: string }[] {
  return Array.from({ length: Math.max(1, m.outboundIPs) }, (_, i) => ({
    name: `fe-${i}`,
    ip: `20.${50 + (i % 150)}.${stableHash(m.cluster) % 250}.${10 + i}`,
    id: `${m.lbId}/frontendIPConfigurations/fe-${i}`,
  }));
}

function managedCluster(m: AzureModel, world: SimWorld) {
  const snap: CloudSnapshotView = world.snapshot;
  const nat = isNatGateway(m.outboundType);
  return {
    id: m.clusterId,
    location: m.location,
    name: m.cluster,
    type: 'Microsoft.ContainerService/ManagedClusters',
    properties: {
      provisioningState: 'Succeeded',
      powerState: { code: 'Running' },
      kubernetesVersion: snap.cluster?.version ?? '1.31',
      dnsPrefix: m.cluster,
      fqdn: `${m.cluster}-dns-${(stableHash(m.cluster) >>> 0).toString(16)}.hcp.${m.location}.azmk8s.io`,
      nodeResourceGroup: m.nodeRg,
      enableRBAC: true,
      aadProfile: { managed: true, enableAzureRBAC: true },
      agentPoolProfiles: [
        {
          name: 'nodepool1',
          count: m.nodes.length,
          vmSize: 'Standard_D4s_v5',
          mode: 'System',
          osType: 'Linux',
          type: 'VirtualMachineScaleSets',
          vnetSubnetID: m.subnetId,
        },
      ],
      networkProfile: {
        networkPlugin: 'azure',
        networkPluginMode: 'overlay',
        podCidr: snap.cluster?.podCIDR,
        serviceCidr: snap.cluster?.serviceCIDR,
        outboundType: m.outboundType,
        loadBalancerSku: 'standard',
        ...(nat
          ? {
              natGatewayProfile: {
                managedOutboundIPProfile: { count: m.outboundIPs },
                idleTimeoutInMinutes: m.idleTimeoutMinutes,
                effectiveOutboundIPs: [
                  { id: `${m.natGatewayId.replace(/natGateways\/.*/, '')}publicIPAddresses/natgw-ip-0` },
                ],
              },
            }
          : {
              loadBalancerProfile: {
                managedOutboundIPs: { count: m.outboundIPs },
                allocatedOutboundPorts: m.allocatedOutboundPorts,
                idleTimeoutInMinutes: m.idleTimeoutMinutes,
                effectiveOutboundIPs: frontendIps(m).map((f) => ({
                  id: f.id.replace(/loadBalancers\/.*/, `publicIPAddresses/${f.name}`),
                })),
                backendPoolType: 'NodeIP',
              },
            }),
      },
    },
  };
}

/**
 * The kubeconfig inside listClusterUserCredential's CredentialResults (`{kubeconfigs: [{name, value}]}`,
 * base64; the shape is checked against @azure/arm-containerservice's mapper in test/sim/sdk-model.test.ts).
 * Sourced: the cluster and context entries are the kubeconfig v1 format, and snatguard reads only their
 * server and CA. The user is the kubelogin exec plugin with the AKS Microsoft Entra server app id
 * 6dae42f8-… (Azure/kubelogin docs, concepts/aks.md). Not sourced: no captured answer was found, so the
 * rest of the user entry (a real answer's login mode and the other get-token flags) is not from one.
 */
function kubeconfigYaml(m: AzureModel, server: string, ca: string): string {
  const caData = Buffer.from(ca).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${m.cluster}`,
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${caData}`,
    'contexts:',
    `- name: ${m.cluster}`,
    '  context:',
    `    cluster: ${m.cluster}`,
    `    user: clusterUser_${m.rg}_${m.cluster}`,
    `current-context: ${m.cluster}`,
    'users:',
    `- name: clusterUser_${m.rg}_${m.cluster}`,
    '  user:',
    '    exec:',
    '      apiVersion: client.authentication.k8s.io/v1beta1',
    '      command: kubelogin',
    '      args: [get-token, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630, --login, azurecli]',
    '      interactiveMode: IfAvailable',
    '',
  ].join('\n');
}

/**
 * The AKS `kubernetes` load balancer as Microsoft.Network answers GET loadBalancers. Every field and its
 * nesting (`properties` flattened by the SDK) is one of @azure/arm-network 34.1.0's LoadBalancer mapper
 * (api-version 2024-10-01), checked in test/sim/sdk-model.test.ts. AKS's names come from cloud-facts §3:
 * `kubernetes`, `aksOutboundRule`, `aksOutboundBackendPool`, and nodeIP pools listing
 * loadBalancerBackendAddresses. Values are the snapshot's; no captured answer.
 */
function loadBalancer(m: AzureModel) {
  const fes = frontendIps(m);
  const outboundPool = `${m.lbId}/backendAddressPools/aksOutboundBackendPool`;
  const inboundPool = `${m.lbId}/backendAddressPools/kubernetes`;
  const addresses = m.nodes
    .filter((n) => n.internalIP)
    .map((n) => ({
      name: n.name,
      properties: { ipAddress: n.internalIP, virtualNetwork: { id: m.vnetId } },
    }));
  const nat = isNatGateway(m.outboundType);
  return {
    id: m.lbId,
    name: 'kubernetes',
    type: 'Microsoft.Network/loadBalancers',
    location: m.location,
    sku: { name: 'Standard', tier: 'Regional' },
    properties: {
      provisioningState: 'Succeeded',
      frontendIPConfigurations: fes.map((f) => ({
        id: f.id,
        name: f.name,
        properties: {
          publicIPAddress: { id: f.id.replace(/loadBalancers\/.*/, `publicIPAddresses/${f.name}`) },
          outboundRules: [{ id: `${m.lbId}/outboundRules/aksOutboundRule` }],
        },
      })),
      backendAddressPools: [
        { id: inboundPool, name: 'kubernetes', properties: { loadBalancerBackendAddresses: addresses } },
        ...(nat
          ? []
          : [
              {
                id: outboundPool,
                name: 'aksOutboundBackendPool',
                properties: {
                  loadBalancerBackendAddresses: addresses,
                  outboundRules: [{ id: `${m.lbId}/outboundRules/aksOutboundRule` }],
                },
              },
            ]),
      ],
      outboundRules: nat
        ? []
        : [
            {
              id: `${m.lbId}/outboundRules/aksOutboundRule`,
              name: 'aksOutboundRule',
              properties: {
                allocatedOutboundPorts: m.allocatedOutboundPorts,
                protocol: 'All',
                enableTcpReset: true,
                idleTimeoutInMinutes: m.idleTimeoutMinutes,
                frontendIPConfigurations: fes.map((f) => ({ id: f.id })),
                backendAddressPool: { id: outboundPool },
              },
            },
          ],
      loadBalancingRules: [],
      probes: [],
    },
  };
}

/** A NAT gateway as GET natGateways answers: the fields of @azure/arm-network's NatGateway mapper (checked). */
function natGateway(m: AzureModel) {
  return {
    id: m.natGatewayId,
    name: 'aks-natgw',
    type: 'Microsoft.Network/natGateways',
    location: m.location,
    sku: { name: 'Standard' },
    properties: {
      provisioningState: 'Succeeded',
      idleTimeoutInMinutes: m.idleTimeoutMinutes,
      publicIpAddresses: Array.from({ length: Math.max(1, m.outboundIPs) }, (_, i) => ({
        id: `${m.natGatewayId.replace(/natGateways\/.*/, '')}publicIPAddresses/natgw-ip-${i}`,
      })),
      subnets: [{ id: m.subnetId }],
    },
  };
}

/** The node subnet as GET subnets answers: the fields of @azure/arm-network's Subnet mapper (checked). */
function subnet(m: AzureModel) {
  const nat = isNatGateway(m.outboundType);
  return {
    id: m.subnetId,
    name: 'aks-subnet',
    type: 'Microsoft.Network/virtualNetworks/subnets',
    properties: {
      provisioningState: 'Succeeded',
      addressPrefix: '10.224.0.0/16',
      ...(nat ? { natGateway: { id: m.natGatewayId } } : {}),
    },
  };
}

// ---------------------------------------------------------------- metrics

type Agg = 'average' | 'total' | 'minimum' | 'maximum' | 'count';

interface MetricDef {
  /** The display name Azure Monitor sends as `name.localizedValue` (supported-metrics tables). */
  display: string;
  dims: string[];
  unit: string;
  /** gauge: lower minutes around the worst; counter: the whole value in one minute, zeros elsewhere; constant: every minute. */
  kind: 'gauge' | 'counter' | 'constant';
  noMinMax?: boolean;
}

/**
 * Display names of the dimensions (`metadatavalues[].name.localizedValue`). The invariant `name.value`
 * comes lower-case, as in Azure/azure-rest-api-specs MetricBatchExample.json ("apiname"); the display
 * names are the portal's ("Backend IP Address"), so a client that reads the SDK's `localizedValue ||
 * value` sees a name it cannot match.
 */
export const DIMENSION_DISPLAY: Record<string, string> = {
  frontendipaddress: 'Frontend IP Address',
  backendipaddress: 'Backend IP Address',
  protocoltype: 'Protocol Type',
  isawaitingremoval: 'Is Awaiting Removal',
  connectionstate: 'Connection State',
  protocol: 'Protocol',
};

// Metric definitions: names, units, dimensions and display names from MicrosoftDocs/azure-reference-other
// supported-metrics tables (microsoft-network-loadbalancers / natgateways metrics includes).
const LB_METRICS: Record<string, MetricDef> = {
  AllocatedSnatPorts: {
    display: 'Allocated SNAT Ports',
    dims: ['FrontendIPAddress', 'BackendIPAddress', 'ProtocolType', 'IsAwaitingRemoval'],
    unit: 'Count',
    kind: 'constant',
  },
  UsedSnatPorts: {
    display: 'Used SNAT Ports',
    dims: ['FrontendIPAddress', 'BackendIPAddress', 'ProtocolType', 'IsAwaitingRemoval'],
    unit: 'Count',
    kind: 'gauge',
  },
  SnatConnectionCount: {
    display: 'SNAT Connection Count',
    dims: ['FrontendIPAddress', 'BackendIPAddress', 'ConnectionState'],
    unit: 'Count',
    kind: 'counter',
    noMinMax: true,
  },
};

const NATGW_METRICS: Record<string, MetricDef> = {
  SNATConnectionCount: {
    display: 'SNAT Connection Count',
    dims: ['Protocol', 'ConnectionState'],
    unit: 'Count',
    kind: 'counter',
    noMinMax: true,
  },
  TotalConnectionCount: {
    display: 'Total SNAT Connection Count',
    dims: ['Protocol'],
    unit: 'Count',
    kind: 'counter',
    noMinMax: true,
  },
  PacketDropCount: { display: 'Dropped Packets', dims: [], unit: 'Count', kind: 'counter', noMinMax: true },
};

/** One elementary series before filtering and grouping: dimension values (lower-case names) and a value. */
interface Atom {
  dims: Record<string, string>;
  instance: string;
  value: number;
}

function lbAtoms(m: AzureModel, world: SimWorld, metric: string): Atom[] {
  const fe = frontendIps(m)[0]?.ip ?? '';
  const atoms: Atom[] = [];
  if (isNatGateway(m.outboundType)) return atoms;
  for (const node of m.nodes) {
    if (!node.internalIP) continue;
    const nm = world.nodeMetrics(node.name);
    const ip = node.internalIP;
    // (Dimension objects written out, not spread from a base: 2–3 per node per query.)
    if (metric === 'SnatConnectionCount') {
      const ok = nm.usedSnatPorts * 3;
      const dims = (connectionstate: string) => ({
        frontendipaddress: fe,
        backendipaddress: ip,
        isawaitingremoval: 'false',
        connectionstate,
      });
      atoms.push({ dims: dims('successful'), instance: ip, value: ok });
      atoms.push({ dims: dims('pending'), instance: ip, value: 0 });
      atoms.push({ dims: dims('failed'), instance: ip, value: nm.failedSnatConnections });
    } else {
      const v = metric === 'UsedSnatPorts' ? nm.usedSnatPorts : nm.allocatedSnatPorts;
      const dims = (protocoltype: string) => ({
        frontendipaddress: fe,
        backendipaddress: ip,
        isawaitingremoval: 'false',
        protocoltype,
      });
      atoms.push({ dims: dims('TCP'), instance: ip, value: v });
      atoms.push({
        dims: dims('UDP'),
        instance: ip,
        value: metric === 'UsedSnatPorts' ? 0 : nm.allocatedSnatPorts,
      });
    }
  }
  return atoms;
}

function natgwAtoms(m: AzureModel, world: SimWorld, metric: string): Atom[] {
  let failed = 0;
  let used = 0;
  for (const node of m.nodes) {
    const nm = world.nodeMetrics(node.name);
    failed += nm.failedSnatConnections;
    used += nm.usedSnatPorts;
  }
  const gw = 'aks-natgw';
  if (metric === 'SNATConnectionCount') {
    return [
      { dims: { protocol: '6', connectionstate: 'Attempted' }, instance: gw, value: used + failed },
      { dims: { protocol: '6', connectionstate: 'Failed' }, instance: gw, value: failed },
      { dims: { protocol: '17', connectionstate: 'Attempted' }, instance: gw, value: 0 },
      { dims: { protocol: '17', connectionstate: 'Failed' }, instance: gw, value: 0 },
    ];
  }
  if (metric === 'TotalConnectionCount') {
    return [
      { dims: { protocol: '6' }, instance: gw, value: used },
      { dims: { protocol: '17' }, instance: gw, value: 0 },
    ];
  }
  return [{ dims: {}, instance: gw, value: Math.floor(failed / 4) }];
}

/** `A eq 'x' and B eq '*' or B eq 'y'` → dimension (lower-case) → accepted values (lower-case; `*` = split). */
export function parseMetricFilter(filter: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const m of filter.matchAll(/([A-Za-z][\w.]*)\s+eq\s+'([^']*)'/gi)) {
    const name = (m[1] ?? '').toLowerCase();
    const set = out.get(name) ?? new Set<string>();
    set.add((m[2] ?? '').toLowerCase());
    out.set(name, set);
  }
  return out;
}

class MetricsRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface MetricsQuery {
  metricnames: string[];
  aggregations: Agg[];
  intervalMs: number | 'FULL';
  start: number;
  end: number;
  filter?: string;
  top?: number;
  orderby?: string;
}

const AGG_KEYS: Record<string, Agg> = {
  average: 'average',
  total: 'total',
  sum: 'total',
  minimum: 'minimum',
  min: 'minimum',
  maximum: 'maximum',
  max: 'maximum',
  count: 'count',
};

function parseQuery(q: URLSearchParams, now: number): MetricsQuery {
  const get = (name: string): string | undefined => {
    for (const [k, v] of q) if (k.toLowerCase() === name.toLowerCase()) return v;
    return undefined;
  };
  const metricnames = (get('metricnames') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (metricnames.length === 0) throw new MetricsRequestError('BadRequest', 'metricnames is required');
  const aggregations = (get('aggregation') ?? 'Average')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)
    .map((a) => {
      const key = AGG_KEYS[a];
      if (!key) throw new MetricsRequestError('BadRequest', `Invalid aggregation: ${a}`);
      return key;
    });
  const intervalText = get('interval') ?? 'PT1M';
  const intervalMs = intervalText.toUpperCase() === 'FULL' ? 'FULL' : parseIsoDuration(intervalText);
  if (intervalMs === undefined || intervalMs === 0)
    throw new MetricsRequestError('BadRequest', `Invalid interval: ${intervalText}`);
  let start = now - 3_600_000;
  let end = now;
  const timespan = get('timespan');
  const starttime = get('starttime');
  const endtime = get('endtime');
  if (timespan) {
    const [a, b] = timespan.split('/');
    const da = a ? parseIsoDuration(a) : undefined;
    if (b === undefined && da !== undefined) start = end - da;
    else if (a && b) {
      const db = parseIsoDuration(b);
      if (da !== undefined) {
        end = Date.parse(b);
        start = end - da;
      } else if (db !== undefined) {
        start = Date.parse(a);
        end = start + db;
      } else {
        start = Date.parse(a);
        end = Date.parse(b);
      }
    }
  } else {
    if (starttime) start = Date.parse(starttime);
    if (endtime) end = Date.parse(endtime);
    if (starttime && !endtime) end = now;
  }
  if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start)
    throw new MetricsRequestError('BadRequest', 'Invalid timespan');
  const filter = get('$filter') ?? get('filter');
  const topText = get('top');
  const top = topText === undefined ? undefined : Number(topText);
  if (top !== undefined && (!Number.isInteger(top) || top < 1))
    throw new MetricsRequestError('BadRequest', `Invalid top: ${topText}`);
  return {
    metricnames,
    aggregations,
    intervalMs,
    start,
    end,
    filter: filter || undefined,
    top,
    orderby: get('orderby'),
  };
}

/** String.prototype.localeCompare without locales is this collator's compare (ECMA-402), made once. */
const collator = new Intl.Collator();

/** Multipliers for the minutes that are not the worst one: deterministic, all below 1. */
const LOWER = [0.5, 0.8, 0.65, 0.9, 0.7];

function timestamps(q: MetricsQuery): number[] {
  if (q.intervalMs === 'FULL') return [q.start];
  const iv = q.intervalMs;
  const out: number[] = [];
  for (let t = Math.floor(q.start / iv) * iv; t < q.end && out.length < 10_000; t += iv) out.push(t);
  return out;
}

/**
 * Points of one series: the worst interval carries the value; gauges show lower values in the other
 * intervals, counters zeros; the most recent interval of a window of three or more is null (not yet ingested).
 */
export function seriesValues(
  value: number,
  n: number,
  key: string,
  kind: 'gauge' | 'counter' | 'constant',
  /** stableHash(key), when the caller has it already (a series' two aggregations share one). */
  keyHash?: number,
): (number | null)[] {
  if (n <= 0) return [];
  if (n === 1) return [value];
  const nullAt = n >= 3 ? n - 1 : -1;
  const complete = nullAt === -1 ? n : n - 1;
  const peak = (keyHash ?? stableHash(key)) % complete;
  // (A loop, not Array.from with a callback: two calls per series, 3,000 series per query at 3,000 nodes.)
  const out: (number | null)[] = [];
  for (let i = 0; i < n; i++) {
    if (i === nullAt) out.push(null);
    else if (i === peak || kind === 'constant') out.push(value);
    else if (kind === 'counter') out.push(0);
    else out.push(Math.floor(value * (LOWER[i % LOWER.length] ?? 0.5)));
  }
  return out;
}

function metricValue(metricDef: MetricDef, name: string, atoms: Atom[], q: MetricsQuery, resourceId: string) {
  const filters = q.filter ? parseMetricFilter(q.filter) : new Map<string, Set<string>>();
  const known = new Set(metricDef.dims.map((d) => d.toLowerCase()));
  for (const dim of filters.keys()) {
    if (!known.has(dim))
      throw new MetricsRequestError('BadRequest', `Dimension '${dim}' is not valid for metric ${name}`);
  }
  if (metricDef.noMinMax && q.aggregations.some((a) => a === 'minimum' || a === 'maximum')) {
    throw new MetricsRequestError(
      'BadRequest',
      `Aggregation Minimum and Maximum are not supported for metric ${name}`,
    );
  }
  // One pass over the atoms: those the filter keeps, grouped by the values of the split dimensions (a split
  // by backend IP has one group per node: 3,000 nodes are 6,000 atoms per query, three queries per scan).
  const conditions = [...filters].filter(([, values]) => !values.has('*'));
  const splitDims = [...filters.keys()];
  const groups = new Map<string, { dims: Record<string, string>; total: number; instances: Set<string> }>();
  for (const a of atoms) {
    let pass = true;
    for (const [dim, values] of conditions)
      if (!values.has((a.dims[dim] ?? '').toLowerCase())) {
        pass = false;
        break;
      }
    if (!pass) continue;
    // The group's values joined by NUL (no dimension value holds one): one key per distinct combination.
    let id = '';
    for (const d of splitDims) id += `${a.dims[d] ?? ''}\u0000`;
    let g = groups.get(id);
    if (g === undefined) {
      g = {
        dims: Object.fromEntries(splitDims.map((d) => [d, a.dims[d] ?? ''])),
        total: 0,
        instances: new Set<string>(),
      };
      groups.set(id, g);
    }
    g.total += a.value;
    g.instances.add(a.instance);
  }
  if (groups.size === 0 && splitDims.length === 0)
    groups.set('', { dims: {}, total: 0, instances: new Set() });
  const ts = timestamps(q);
  const stamps = ts.map((t) => new Date(t).toISOString());
  // Ranked first, points written only for the series kept (a split by backend IP has one per node, and
  // top keeps 10 of them).
  let ranked = [...groups.values()].map((g) => {
    const order = JSON.stringify(g.dims);
    const key = `${resourceId}|${name}|${order}`;
    const keyHash = stableHash(key);
    const totalPoints = seriesValues(g.total, ts.length, key, metricDef.kind, keyHash);
    let rank = 0;
    for (const v of totalPoints) rank += v ?? 0;
    return { g, key, keyHash, totalPoints, rank, order };
  });
  if (splitDims.length > 0) {
    const asc = /\basc\b/i.test(q.orderby ?? '');
    ranked.sort((a, b) => (asc ? a.rank - b.rank : b.rank - a.rank) || collator.compare(a.order, b.order));
    ranked = ranked.slice(0, q.top ?? 10);
  }
  const series = ranked.map(({ g, key, keyHash, totalPoints }) => {
    const perInstance = g.total / Math.max(1, g.instances.size);
    const avgPoints = seriesValues(perInstance, ts.length, key, metricDef.kind, keyHash);
    const data = stamps.map((timeStamp, i) => {
      const point: Record<string, unknown> = { timeStamp };
      const avg = avgPoints[i];
      const tot = totalPoints[i];
      if (avg === null || avg === undefined || tot === null || tot === undefined) return point;
      for (const agg of q.aggregations) {
        if (agg === 'average' || agg === 'minimum' || agg === 'maximum') point[agg] = avg;
        else if (agg === 'total') point[agg] = tot;
        else point[agg] = g.instances.size;
      }
      return point;
    });
    return { dims: g.dims, data };
  });
  return {
    id: `${resourceId}/providers/Microsoft.Insights/metrics/${name}`,
    type: 'Microsoft.Insights/metrics',
    name: { value: name, localizedValue: metricDef.display },
    displayDescription: '',
    unit: metricDef.unit,
    errorCode: 'Success',
    timeseries: series.map((s) => ({
      metadatavalues: Object.entries(s.dims).map(([k, v]) => ({
        name: { value: k, localizedValue: DIMENSION_DISPLAY[k] ?? k },
        value: v,
      })),
      data: s.data,
    })),
  };
}

function resourceMetrics(m: AzureModel, world: SimWorld, resourceId: string, q: MetricsQuery) {
  const id = resourceId.toLowerCase();
  let defs: Record<string, MetricDef>;
  let atomsOf: (metric: string) => Atom[];
  let namespace: string;
  if (id === m.lbId.toLowerCase()) {
    defs = LB_METRICS;
    atomsOf = (metric) => lbAtoms(m, world, metric);
    namespace = 'Microsoft.Network/loadBalancers';
  } else if (id === m.natGatewayId.toLowerCase() && isNatGateway(m.outboundType)) {
    defs = NATGW_METRICS;
    atomsOf = (metric) => natgwAtoms(m, world, metric);
    namespace = 'Microsoft.Network/natGateways';
  } else {
    throw new MetricsRequestError('ResourceNotFound', `The Resource '${resourceId}' was not found.`);
  }
  const value = q.metricnames.map((name) => {
    const key = Object.keys(defs).find((k) => k.toLowerCase() === name.toLowerCase());
    const def = key ? defs[key] : undefined;
    if (!key || !def) {
      throw new MetricsRequestError(
        'BadRequest',
        `Failed to find metric configuration for provider: Microsoft.Network, metric: ${name}, Valid metrics: ${Object.keys(defs).join(', ')}`,
      );
    }
    return metricValue(def, key, atomsOf(key), q, resourceId);
  });
  const interval = q.intervalMs === 'FULL' ? 'FULL' : `PT${Math.round(q.intervalMs / 60_000)}M`;
  return { value, namespace, interval, resourceregion: m.location };
}

// ---------------------------------------------------------------- routing

const armError = (code: string, message: string) => ({ error: { code, message } });

const statusOf = (e: MetricsRequestError): number => (e.code === 'ResourceNotFound' ? 404 : 400);

/** An Azure Monitor metrics path (ARM's or the regional `metrics:getBatch`), from its lower-case form. */
const isMetricsPath = (lower: string): boolean =>
  lower.includes('/providers/microsoft.insights/metrics') || lower.endsWith('/metrics:getbatch');

/**
 * SimEarly of the Azure routes: everything but the metrics (the load balancer's and NAT gateway's come
 * from the nodes' pods) is answered from the snapshot alone.
 */
export const azureEarly: SimEarly = (_req, url) =>
  !isMetricsPath(decodeURIComponent(url.pathname).toLowerCase());

/** Routes of simulated Azure. Handles paths under `/subscriptions/`; anything else falls through. */
export function azureRoutes(world: SimWorld, opts: CloudRouteOptions = {}): SimRoutes {
  return (req, res, url, body) => {
    const path = decodeURIComponent(url.pathname);
    const lower = path.toLowerCase();
    if (!lower.startsWith('/subscriptions/')) return false;
    const isMetrics = isMetricsPath(lower);
    const keys = isMetrics ? ['azure:metrics', 'azure'] : ['azure:arm', 'azure'];
    if (
      applyFault(world, keys, res, (status, headers) => {
        // The service's own answer for the condition (cloud-errors.ts names each source); a status it
        // documents no answer for is its internal error.
        const retryAfter = headers['retry-after'];
        const answer =
          serviceError(isMetrics ? 'azure-monitor' : 'arm', status, {
            path,
            ...(retryAfter !== undefined ? { retryAfterSeconds: Number(retryAfter) } : {}),
          }) ?? (serviceError(isMetrics ? 'azure-monitor' : 'arm', 500, { path }) as ServiceErrorAnswer);
        sendText(res, answer.status, answer.headers['content-type'] ?? 'application/json', answer.body, {
          ...answer.headers,
          ...headers,
        });
      })
    ) {
      return true;
    }
    const auth = req.headers.authorization ?? '';
    if (!/^Bearer\s+\S+/i.test(auth)) {
      sendJson(
        res,
        401,
        armError(
          'AuthenticationFailed',
          'Authentication failed. The Authorization header is missing or invalid.',
        ),
      );
      return true;
    }
    const m = azureModel(world);
    if (!m) {
      sendJson(
        res,
        404,
        armError('SubscriptionNotFound', `The subscription in '${path}' could not be found.`),
      );
      return true;
    }
    try {
      route(req, res, url, path, body, m, world, opts);
    } catch (e) {
      if (e instanceof MetricsRequestError) sendJson(res, statusOf(e), armError(e.code, e.message));
      else sendJson(res, 500, armError('InternalServerError', e instanceof Error ? e.message : String(e)));
    }
    return true;
  };
}

function route(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  path: string,
  body: Buffer,
  m: AzureModel,
  world: SimWorld,
  opts: CloudRouteOptions,
) {
  const lower = path.toLowerCase();
  const method = req.method ?? 'GET';
  const notFound = () =>
    sendJson(res, 404, armError('ResourceNotFound', `The Resource '${path}' was not found.`));

  if (lower.endsWith('/metrics:getbatch')) {
    if (method !== 'POST') return sendJson(res, 405, armError('MethodNotAllowed', 'POST only'));
    const sub = lower.split('/')[2];
    if (sub !== m.sub.toLowerCase()) return notFound();
    const q = parseQuery(url.searchParams, Date.now());
    if (!url.searchParams.get('metricnamespace'))
      throw new MetricsRequestError('BadRequest', 'metricnamespace is required');
    let ids: unknown;
    try {
      ids = (JSON.parse(body.toString('utf8') || '{}') as { resourceids?: unknown }).resourceids;
    } catch {
      throw new MetricsRequestError('BadRequest', 'The request body is not valid JSON');
    }
    if (!Array.isArray(ids) || ids.length === 0)
      throw new MetricsRequestError('BadRequest', 'resourceids is required');
    if (ids.length > 50) throw new MetricsRequestError('BadRequest', 'At most 50 resource ids per batch');
    const values = ids.map((id) => {
      const r = resourceMetrics(m, world, String(id), q);
      return {
        starttime: new Date(q.start).toISOString(),
        endtime: new Date(q.end).toISOString(),
        interval: r.interval,
        namespace: r.namespace,
        resourceregion: r.resourceregion,
        resourceid: String(id),
        value: r.value,
      };
    });
    return sendJson(res, 200, { values });
  }

  const metricsIdx = lower.indexOf('/providers/microsoft.insights/metrics');
  if (metricsIdx > 0) {
    if (method !== 'GET') return sendJson(res, 405, armError('MethodNotAllowed', 'GET only'));
    const resourceId = path.slice(0, metricsIdx);
    const q = parseQuery(url.searchParams, Date.now());
    const r = resourceMetrics(m, world, resourceId, q);
    return sendJson(res, 200, {
      cost: 0,
      timespan: `${new Date(q.start).toISOString()}/${new Date(q.end).toISOString()}`,
      interval: r.interval,
      value: r.value,
      namespace: r.namespace,
      resourceregion: r.resourceregion,
    });
  }

  const clusterId = m.clusterId.toLowerCase();
  if (lower === clusterId && method === 'GET') return sendJson(res, 200, managedCluster(m, world));
  if (lower === `${clusterId}/listclusterusercredential` && method === 'POST') {
    const yaml = kubeconfigYaml(m, serverUrl(req), caPem(req, opts));
    return sendJson(res, 200, {
      kubeconfigs: [{ name: 'clusterUser', value: Buffer.from(yaml).toString('base64') }],
    });
  }
  if (lower === m.lbId.toLowerCase() && method === 'GET') return sendJson(res, 200, loadBalancer(m));
  const nat = isNatGateway(m.outboundType);
  const natList = m.natGatewayId.toLowerCase().replace(/\/aks-natgw$/, '');
  if (lower === natList && method === 'GET') return sendJson(res, 200, { value: nat ? [natGateway(m)] : [] });
  if (lower === m.natGatewayId.toLowerCase() && method === 'GET' && nat)
    return sendJson(res, 200, natGateway(m));
  if (lower === m.subnetId.toLowerCase() && method === 'GET') return sendJson(res, 200, subnet(m));
  return notFound();
}
