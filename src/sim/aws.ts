// Simulated AWS: CloudWatch GetMetricData and ListMetrics over the AWS JSON 1.0 protocol that @aws-sdk/client-cloudwatch
// speaks (X-Amz-Target GraniteServiceVersion20100801.*, awsQueryCompatible errors), EKS DescribeCluster
// (REST JSON), EC2 DescribeNatGateways and STS GetCallerIdentity (Query protocol, XML answers), Secrets
// Manager GetSecretValue (AWS JSON 1.1, X-Amz-Target secretsmanager.*).
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  applyFault,
  type CloudRouteOptions,
  type CloudSnapshotView,
  caPem,
  sendJson,
  sendText,
  serverUrl,
  stableHash,
} from './azure.js';
import { type CloudService, type ServiceErrorAnswer, serviceError } from './cloud-errors.js';
import type { SimEarly, SimRoutes, SimWorld } from './types.js';

const CW_TARGET = 'GraniteServiceVersion20100801.';
const SM_TARGET = 'secretsmanager.';
const MAX_QUERIES = 500;
const DEFAULT_MAX_DATAPOINTS = 100_800;
const ACCOUNT = '123456789012';

interface AwsModel {
  region: string;
  cluster: string;
  vpcId: string;
  subnetIds: string[];
  natGateways: {
    id: string;
    subnetId: string;
    errorPortAllocation: number;
    activeConnectionCount: number;
    packetsDropCount: number;
  }[];
  nodes: { name: string; instanceId?: string }[];
  /** Secrets Manager: secrets by name; `value` undefined = created without a value (as Terraform does). */
  secrets: { name: string; value?: string }[];
  /** aws-node as the managed add-on vpc-cni; absent = self-managed (EKS's default bootstrap). */
  vpcCniAddon?: { addonVersion?: string; configurationValues?: string };
}

/** `aws:///eu-west-1a/i-0abc` → `i-0abc`. */
const instanceOf = (providerID?: string): string | undefined =>
  /\/(i-[0-9a-z]+)$/i.exec(providerID ?? '')?.[1];

const hex = (seed: string, len: number): string => {
  let out = '';
  for (let i = 0; out.length < len; i++) out += stableHash(`${seed}:${i}`).toString(16).padStart(8, '0');
  return out.slice(0, len);
};

function awsModel(world: SimWorld): AwsModel | undefined {
  const snap: CloudSnapshotView = world.snapshot;
  const aws = snap.cloud?.aws;
  if (!aws) return undefined;
  const cluster = aws.clusterName ?? snap.metadata?.name ?? 'eks';
  const gws = (aws.natGateways ?? []).map((g, i) => ({
    id: g.id,
    subnetId: `subnet-${hex(`${cluster}:public:${i}`, 17)}`,
    errorPortAllocation: g.errorPortAllocation ?? 0,
    activeConnectionCount: g.activeConnectionCount ?? 0,
    packetsDropCount: g.packetsDropCount ?? 0,
  }));
  const privateSubnets = [0, 1].map((i) => `subnet-${hex(`${cluster}:private:${i}`, 17)}`);
  return {
    region: aws.region ?? 'eu-west-1',
    cluster,
    vpcId: `vpc-${hex(`${cluster}:vpc`, 17)}`,
    subnetIds: [...privateSubnets, ...gws.map((g) => g.subnetId)],
    natGateways: gws,
    nodes: (snap.nodes ?? []).map((n) => ({ name: n.name, instanceId: instanceOf(n.providerID) })),
    secrets: (aws as { secrets?: { name: string; value?: string }[] }).secrets ?? [],
    ...((aws as { vpcCniAddon?: AwsModel['vpcCniAddon'] }).vpcCniAddon
      ? { vpcCniAddon: (aws as { vpcCniAddon?: AwsModel['vpcCniAddon'] }).vpcCniAddon }
      : {}),
  };
}

// ---------------------------------------------------------------- CloudWatch

interface Dimension {
  Name?: string;
  Value?: string;
}
interface MetricDataQuery {
  Id?: string;
  Label?: string;
  ReturnData?: boolean;
  Expression?: string;
  MetricStat?: {
    Metric?: { Namespace?: string; MetricName?: string; Dimensions?: Dimension[] };
    Period?: number;
    Stat?: string;
  };
}
interface GetMetricDataInput {
  MetricDataQueries?: MetricDataQuery[];
  StartTime?: number;
  EndTime?: number;
  NextToken?: string;
  ScanBy?: string;
  MaxDatapoints?: number;
}

class AwsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Multipliers for periods that are not the worst one. */
const LOWER = [0.5, 0.8, 0.65, 0.9, 0.7];

/**
 * Datapoints of one metric over the window, oldest first. Sum metrics carry the whole value in one
 * period and zeros elsewhere; Maximum metrics show lower values around the worst period; the ENA counter
 * is cumulative, rising by `value` between the first and the last period. One period of a window of four
 * or more is missing, as CloudWatch leaves gaps.
 */
export function cloudWatchPoints(
  value: number,
  shape: 'sum' | 'max' | 'counter',
  times: number[],
  key: string,
): { t: number; v: number }[] {
  const n = times.length;
  if (n === 0) return [];
  const gap = n >= 4 ? 1 + (stableHash(`${key}:gap`) % (n - 2)) : -1;
  const peak = stableHash(key) % n === gap ? (gap + 1) % n : stableHash(key) % n;
  const base = 1000 + (stableHash(`${key}:base`) % 5000);
  const out: { t: number; v: number }[] = [];
  times.forEach((t, i) => {
    if (i === gap) return;
    let v: number;
    if (shape === 'counter') v = n === 1 ? base + value : base + Math.round((value * i) / (n - 1));
    else if (i === peak) v = value;
    else v = shape === 'sum' ? 0 : Math.floor(value * (LOWER[i % LOWER.length] ?? 0.5));
    out.push({ t, v });
  });
  return out;
}

function metricFor(
  m: AwsModel,
  world: SimWorld,
  q: MetricDataQuery,
): { value: number; shape: 'sum' | 'max' | 'counter' } | undefined {
  const metric = q.MetricStat?.Metric;
  const dims = new Map((metric?.Dimensions ?? []).map((d) => [d.Name ?? '', d.Value ?? '']));
  if (metric?.Namespace === 'AWS/NATGateway') {
    const gw = m.natGateways.find((g) => g.id === dims.get('NatGatewayId'));
    if (!gw || dims.size !== 1) return undefined;
    if (metric.MetricName === 'ErrorPortAllocation') return { value: gw.errorPortAllocation, shape: 'sum' };
    if (metric.MetricName === 'PacketsDropCount') return { value: gw.packetsDropCount, shape: 'sum' };
    if (metric.MetricName === 'ActiveConnectionCount')
      return { value: gw.activeConnectionCount, shape: 'max' };
    return undefined;
  }
  if (metric?.Namespace === ENA_NAMESPACE && metric.MetricName === ENA_METRIC) {
    // CloudWatch matches the exact dimension set: {InstanceId} alone finds nothing the agent published
    // per interface.
    const asked = JSON.stringify([...dims].sort(([a], [b]) => a.localeCompare(b)));
    for (const series of enaPublished(m)) {
      const key = JSON.stringify(
        series.dimensions.map((d) => [d.Name, d.Value]).sort(([a], [b]) => (a ?? '').localeCompare(b ?? '')),
      );
      if (key !== asked) continue;
      const node = m.nodes.find((n) => n.instanceId === series.instanceId);
      if (!node) return undefined;
      return { value: world.nodeMetrics(node.name).conntrackAllowanceExceeded, shape: 'counter' };
    }
  }
  return undefined;
}

const ENA_NAMESPACE = 'CWAgent';
const ENA_METRIC = 'ethtool_conntrack_allowance_exceeded';

/**
 * What a standard CloudWatch agent publishes for ENA: the ethtool input tags each series with the
 * interface and driver (telegraf inputs/ethtool `ethtool.go`), the agent appends InstanceId
 * (amazon-cloudwatch-user-guide CloudWatch-Agent-network-performance.md). Without
 * `aggregation_dimensions` there is no {InstanceId}-only series. Dimension order as the agent sends it.
 */
export function enaPublished(m: { nodes: { instanceId?: string }[] }): {
  instanceId: string;
  dimensions: Dimension[];
}[] {
  return m.nodes.flatMap((n) =>
    n.instanceId
      ? [
          {
            instanceId: n.instanceId,
            dimensions: [
              { Name: 'InstanceId', Value: n.instanceId },
              { Name: 'driver', Value: 'ena' },
              { Name: 'interface', Value: 'eth0' },
            ],
          },
        ]
      : [],
  );
}

interface ListMetricsInput {
  Namespace?: string;
  MetricName?: string;
  Dimensions?: { Name?: string; Value?: string }[];
  NextToken?: string;
  RecentlyActive?: string;
}

/** ListMetrics returns up to 500 results per call (CloudWatch API reference, ListMetrics). */
const LIST_PAGE = 500;

/** The metrics the simulated account has: NAT gateway metrics and the agent's ENA series. */
function listMetrics(m: AwsModel, input: ListMetricsInput) {
  if (input.RecentlyActive !== undefined && input.RecentlyActive !== 'PT3H')
    throw new AwsError(400, 'InvalidParameterValue', 'The only valid value for RecentlyActive is PT3H.');
  const all: { Namespace: string; MetricName: string; Dimensions: Dimension[] }[] = [
    ...m.natGateways.flatMap((g) =>
      ['ErrorPortAllocation', 'ActiveConnectionCount', 'PacketsDropCount'].map((MetricName) => ({
        Namespace: 'AWS/NATGateway',
        MetricName,
        Dimensions: [{ Name: 'NatGatewayId', Value: g.id }],
      })),
    ),
    ...enaPublished(m).map((s) => ({
      Namespace: ENA_NAMESPACE,
      MetricName: ENA_METRIC,
      Dimensions: s.dimensions,
    })),
  ];
  const matches = all.filter(
    (x) =>
      (input.Namespace === undefined || x.Namespace === input.Namespace) &&
      (input.MetricName === undefined || x.MetricName === input.MetricName) &&
      (input.Dimensions ?? []).every((f) =>
        x.Dimensions.some((d) => d.Name === f.Name && (f.Value === undefined || d.Value === f.Value)),
      ),
  );
  let from = 0;
  if (input.NextToken) {
    const mt = /^list:(\d+)$/.exec(Buffer.from(input.NextToken, 'base64').toString('utf8'));
    if (!mt) throw new AwsError(400, 'InvalidNextToken', 'The service cannot process the NextToken.');
    from = Number(mt[1]);
  }
  const page = matches.slice(from, from + LIST_PAGE);
  const next =
    from + LIST_PAGE < matches.length
      ? Buffer.from(`list:${from + LIST_PAGE}`).toString('base64')
      : undefined;
  // OwningAccounts comes back only for a monitoring account asked with IncludeLinkedAccounts.
  return { Metrics: page, ...(next ? { NextToken: next } : {}) };
}

/**
 * GetMetricData over AWS JSON 1.0: the request limits of the CloudWatch API reference (500 queries, 100,800
 * datapoints, NextToken paging, ScanBy). The answer has the members of @aws-sdk/client-cloudwatch's
 * GetMetricDataOutput schema: MetricDataResults[].{Id, Label, Timestamps, Values, StatusCode, Messages},
 * Messages, NextToken (checked in test/sim/sdk-model.test.ts). The validation messages are not from
 * captured answers.
 */
function getMetricData(m: AwsModel, world: SimWorld, input: GetMetricDataInput) {
  const queries = input.MetricDataQueries ?? [];
  if (queries.length === 0)
    throw new AwsError(400, 'ValidationError', 'The parameter MetricDataQueries is required.');
  if (queries.length > MAX_QUERIES) {
    throw new AwsError(
      400,
      'ValidationError',
      `1 validation error detected: Value at 'metricDataQueries' failed to satisfy constraint: Member must have length less than or equal to ${MAX_QUERIES}`,
    );
  }
  if (
    typeof input.StartTime !== 'number' ||
    typeof input.EndTime !== 'number' ||
    input.EndTime <= input.StartTime
  ) {
    throw new AwsError(
      400,
      'InvalidParameterValue',
      'The parameters StartTime and EndTime are required and StartTime must be before EndTime.',
    );
  }
  const ids = new Set<string>();
  for (const q of queries) {
    if (!q.Id || !/^[a-z][a-zA-Z0-9_]*$/.test(q.Id))
      throw new AwsError(400, 'ValidationError', `Invalid metric data query id: ${q.Id}`);
    if (ids.has(q.Id)) throw new AwsError(400, 'ValidationError', `Duplicate metric data query id: ${q.Id}`);
    ids.add(q.Id);
    if (q.Expression !== undefined)
      throw new AwsError(400, 'ValidationError', 'The simulator does not evaluate metric math expressions.');
    if (!q.MetricStat?.Period || !q.MetricStat.Stat)
      throw new AwsError(400, 'ValidationError', `MetricStat with Period and Stat is required for ${q.Id}`);
  }
  const pageSize = Math.max(1, input.MaxDatapoints ?? DEFAULT_MAX_DATAPOINTS);
  let [qi, pi] = [0, 0];
  if (input.NextToken) {
    const mt = /^sim:(\d+):(\d+)$/.exec(Buffer.from(input.NextToken, 'base64').toString('utf8'));
    if (!mt) throw new AwsError(400, 'InvalidNextToken', 'The service cannot process the NextToken.');
    [qi, pi] = [Number(mt[1]), Number(mt[2])];
  }
  const start = input.StartTime * 1000;
  const end = input.EndTime * 1000;
  const descending = input.ScanBy !== 'TimestampAscending';
  const results: {
    Id: string;
    Label: string;
    Timestamps: number[];
    Values: number[];
    StatusCode: string;
    Messages: unknown[];
  }[] = [];
  let budget = pageSize;
  let next: string | undefined;
  for (; qi < queries.length; qi++, pi = 0) {
    const q = queries[qi] as MetricDataQuery;
    const period = (q.MetricStat?.Period ?? 60) * 1000;
    const times: number[] = [];
    for (let t = Math.ceil(start / period) * period; t < end && times.length < 100_800; t += period)
      times.push(t);
    const found = metricFor(m, world, q);
    let points = found
      ? cloudWatchPoints(
          found.value,
          found.shape,
          times,
          `${q.MetricStat?.Metric?.MetricName}|${JSON.stringify(q.MetricStat?.Metric?.Dimensions)}`,
        )
      : [];
    if (descending) points = points.reverse();
    const take = points.slice(pi, pi + budget);
    budget -= take.length;
    const partial = pi + take.length < points.length;
    if (q.ReturnData !== false) {
      results.push({
        Id: q.Id as string,
        Label: q.Label ?? q.MetricStat?.Metric?.MetricName ?? '',
        Timestamps: take.map((p) => p.t / 1000),
        Values: take.map((p) => p.v),
        StatusCode: partial ? 'PartialData' : 'Complete',
        Messages: [],
      });
    }
    if (partial) {
      next = Buffer.from(`sim:${qi}:${pi + take.length}`).toString('base64');
      break;
    }
    if (budget === 0 && qi + 1 < queries.length) {
      next = Buffer.from(`sim:${qi + 1}:0`).toString('base64');
      break;
    }
  }
  return { MetricDataResults: results, Messages: [], ...(next ? { NextToken: next } : {}) };
}

function cloudWatch(
  res: ServerResponse,
  action: string,
  body: Buffer,
  m: AwsModel | undefined,
  world: SimWorld,
) {
  const fail = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
    sendJson(
      res,
      status,
      { __type: `com.amazonaws.cloudwatch#${code}`, message },
      {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-query-error': `${code};${status >= 500 ? 'Receiver' : 'Sender'}`,
        ...headers,
      },
    );
  if (action !== 'GetMetricData' && action !== 'ListMetrics')
    return fail(400, 'InvalidAction', `The action ${action} is not valid for this web service.`);
  if (!m) return fail(400, 'InvalidParameterValue', 'The simulated snapshot has no AWS section.');
  let input: GetMetricDataInput & ListMetricsInput;
  try {
    input = JSON.parse(body.toString('utf8') || '{}') as GetMetricDataInput & ListMetricsInput;
  } catch {
    return fail(400, 'SerializationException', 'The request body is not valid JSON.');
  }
  try {
    const answer = action === 'ListMetrics' ? listMetrics(m, input) : getMetricData(m, world, input);
    sendJson(res, 200, answer, { 'content-type': 'application/x-amz-json-1.0' });
  } catch (e) {
    if (e instanceof AwsError) return fail(e.status, e.code, e.message);
    throw e;
  }
}

// ---------------------------------------------------------------- Secrets Manager (AWS JSON 1.1)

/** The ARN Secrets Manager gives a secret: its name plus a dash and six random characters. */
export const secretArn = (region: string, name: string): string =>
  `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:${name}-${hex(`secret:${name}`, 6)}`;

/**
 * GetSecretValue as the service answers (AWS API reference, GetSecretValue): by name or full ARN;
 * ResourceNotFoundException both when the secret does not exist and when it has no value stored yet.
 */
function secretsManager(res: ServerResponse, action: string, body: Buffer, m: AwsModel | undefined) {
  const fail = (status: number, code: string, message: string) =>
    sendJson(res, status, { __type: code, message }, { 'content-type': 'application/x-amz-json-1.1' });
  if (action !== 'GetSecretValue')
    return fail(400, 'InvalidAction', `The action ${action} is not valid for this web service.`);
  let input: { SecretId?: string; VersionStage?: string };
  try {
    input = JSON.parse(body.toString('utf8') || '{}') as typeof input;
  } catch {
    return fail(400, 'SerializationException', 'The request body is not valid JSON.');
  }
  const region = m?.region ?? 'eu-west-1';
  const secret = (m?.secrets ?? []).find(
    (x) => x.name === input.SecretId || secretArn(region, x.name) === input.SecretId,
  );
  if (!secret)
    return fail(400, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
  const stage = input.VersionStage ?? 'AWSCURRENT';
  if (secret.value === undefined || stage !== 'AWSCURRENT')
    return fail(
      400,
      'ResourceNotFoundException',
      `Secrets Manager can't find the specified secret value for staging label: ${stage}`,
    );
  sendJson(
    res,
    200,
    {
      ARN: secretArn(region, secret.name),
      Name: secret.name,
      VersionId: `${hex(`version:${secret.name}`, 8)}-${hex(`v2:${secret.name}`, 4)}-4${hex(`v3:${secret.name}`, 3)}-8${hex(`v4:${secret.name}`, 3)}-${hex(`v5:${secret.name}`, 12)}`,
      SecretString: secret.value,
      VersionStages: ['AWSCURRENT'],
      CreatedDate: 1_700_000_000.123,
    },
    { 'content-type': 'application/x-amz-json-1.1' },
  );
}

// ---------------------------------------------------------------- EKS

/**
 * DescribeCluster (GET /clusters/{name}, restJson1). Every member and its type are those of
 * @aws-sdk/client-eks's DescribeClusterResponse schema (checked in test/sim/sdk-model.test.ts). Timestamps
 * are epoch seconds, restJson1's default. The 404 message is the one the AWS CLI prints. Values are the
 * snapshot's; no captured answer.
 */
function describeCluster(
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  m: AwsModel | undefined,
  world: SimWorld,
  opts: CloudRouteOptions,
) {
  if (!m || name !== m.cluster) {
    return sendJson(
      res,
      404,
      { message: `No cluster found for name: ${name}.` },
      { 'x-amzn-errortype': 'ResourceNotFoundException' },
    );
  }
  const snap: CloudSnapshotView = world.snapshot;
  sendJson(res, 200, {
    cluster: {
      name: m.cluster,
      arn: `arn:aws:eks:${m.region}:${ACCOUNT}:cluster/${m.cluster}`,
      createdAt: 1_700_000_000,
      version: snap.cluster?.version ?? '1.31',
      endpoint: serverUrl(req),
      roleArn: `arn:aws:iam::${ACCOUNT}:role/eks-cluster-role`,
      resourcesVpcConfig: {
        subnetIds: m.subnetIds,
        securityGroupIds: [`sg-${hex(`${m.cluster}:sg`, 17)}`],
        clusterSecurityGroupId: `sg-${hex(`${m.cluster}:csg`, 17)}`,
        vpcId: m.vpcId,
        endpointPublicAccess: true,
        endpointPrivateAccess: true,
        publicAccessCidrs: ['0.0.0.0/0'],
      },
      kubernetesNetworkConfig: {
        serviceIpv4Cidr: snap.cluster?.serviceCIDR ?? '172.20.0.0/16',
        ipFamily: 'ipv4',
      },
      status: 'ACTIVE',
      certificateAuthority: { data: Buffer.from(caPem(req, opts)).toString('base64') },
      platformVersion: 'eks.10',
      accessConfig: { authenticationMode: 'API_AND_CONFIG_MAP' },
      tags: {},
    },
  });
}

/**
 * EKS DescribeAddon (GET /clusters/{name}/addons/{addonName}, EKS API reference): the add-on, or 404
 * ResourceNotFoundException when it is not installed as a managed add-on.
 */
function describeAddon(res: ServerResponse, cluster: string, addonName: string, m: AwsModel | undefined) {
  if (!m || cluster !== m.cluster)
    return sendJson(
      res,
      404,
      { message: `No cluster found for name: ${cluster}.` },
      { 'x-amzn-errortype': 'ResourceNotFoundException' },
    );
  const addon = addonName === 'vpc-cni' ? m.vpcCniAddon : undefined;
  if (!addon)
    return sendJson(
      res,
      404,
      { clusterName: cluster, addonName, message: `No addon: ${addonName} found in cluster: ${cluster}` },
      { 'x-amzn-errortype': 'ResourceNotFoundException' },
    );
  sendJson(res, 200, {
    addon: {
      addonName,
      clusterName: cluster,
      status: 'ACTIVE',
      addonVersion: addon.addonVersion ?? 'v1.19.2-eksbuild.1',
      health: { issues: [] },
      addonArn: `arn:aws:eks:${m.region}:${ACCOUNT}:addon/${cluster}/${addonName}/${hex(`${cluster}:${addonName}`, 8)}-${hex(`a:${cluster}`, 4)}-${hex(`b:${cluster}`, 4)}-${hex(`c:${cluster}`, 4)}-${hex(`d:${cluster}`, 12)}`,
      createdAt: 1_700_000_000,
      modifiedAt: 1_700_000_000,
      tags: {},
      ...(addon.configurationValues ? { configurationValues: addon.configurationValues } : {}),
    },
  });
}

// ---------------------------------------------------------------- EC2 and STS (Query protocol)

const xmlEscape = (s: string): string => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** `Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-1` → [{ name: 'vpc-id', values: ['vpc-1'] }]. */
export function queryFilters(form: URLSearchParams): { name: string; values: string[] }[] {
  const byIndex = new Map<string, { name: string; values: string[] }>();
  for (const [k, v] of form) {
    const mt = /^Filter\.(\d+)\.(Name|Value\.\d+)$/.exec(k);
    if (!mt) continue;
    const f = byIndex.get(mt[1] as string) ?? { name: '', values: [] };
    if (mt[2] === 'Name') f.name = v;
    else f.values.push(v);
    byIndex.set(mt[1] as string, f);
  }
  return [...byIndex.values()];
}

function ec2Error(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendText(
    res,
    status,
    'text/xml;charset=UTF-8',
    `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error></Errors><RequestID>sim</RequestID></Response>`,
    headers,
  );
}

/**
 * DescribeNatGateways in ec2Query XML: `<DescribeNatGatewaysResponse>` with requestId and natGatewaySet
 * items. The element names are the xmlName traits of @aws-sdk/client-ec2's DescribeNatGatewaysResult
 * schema (checked in test/sim/sdk-model.test.ts). The filters are the EC2 API reference's (vpc-id,
 * subnet-id, nat-gateway-id, state).
 */
function describeNatGateways(res: ServerResponse, form: URLSearchParams, m: AwsModel | undefined): void {
  const filters = queryFilters(form);
  const ids = [...form].filter(([k]) => /^NatGatewayId\.\d+$/.test(k)).map(([, v]) => v);
  const gws = (m?.natGateways ?? []).filter((g) => {
    if (ids.length > 0 && !ids.includes(g.id)) return false;
    return filters.every((f) => {
      if (f.name === 'vpc-id') return f.values.includes(m?.vpcId ?? '');
      if (f.name === 'subnet-id') return f.values.includes(g.subnetId);
      if (f.name === 'nat-gateway-id') return f.values.includes(g.id);
      if (f.name === 'state') return f.values.includes('available');
      return false;
    });
  });
  const items = gws
    .map(
      (g, i) =>
        `<item><natGatewayId>${xmlEscape(g.id)}</natGatewayId><subnetId>${g.subnetId}</subnetId><vpcId>${m?.vpcId}</vpcId><state>available</state><connectivityType>public</connectivityType><createTime>2024-01-01T00:00:00.000Z</createTime><natGatewayAddressSet><item><allocationId>eipalloc-${hex(`${g.id}:eip`, 17)}</allocationId><networkInterfaceId>eni-${hex(`${g.id}:eni`, 17)}</networkInterfaceId><privateIp>10.0.${100 + i}.10</privateIp><publicIp>198.51.100.${10 + i}</publicIp><isPrimary>true</isPrimary><status>succeeded</status></item></natGatewayAddressSet><tagSet/></item>`,
    )
    .join('');
  sendText(
    res,
    200,
    'text/xml;charset=UTF-8',
    `<?xml version="1.0" encoding="UTF-8"?>\n<DescribeNatGatewaysResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>sim</requestId><natGatewaySet>${items}</natGatewaySet></DescribeNatGatewaysResponse>`,
  );
}

/**
 * GetCallerIdentity in awsQuery XML, laid out as the STS API reference's example answer:
 * GetCallerIdentityResponse > GetCallerIdentityResult > Arn, UserId, Account, then ResponseMetadata >
 * RequestId. An assumed role's UserId is `<role id>:<session>`. No SDK schema is installed to check it
 * against (no STS client is a dependency).
 */
function getCallerIdentity(res: ServerResponse): void {
  sendText(
    res,
    200,
    'text/xml',
    `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:sts::${ACCOUNT}:assumed-role/snatguard/sim</Arn><UserId>AROASIMULATED:sim</UserId><Account>${ACCOUNT}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>sim</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
  );
}

// ---------------------------------------------------------------- routing

const signed = (req: IncomingMessage, url: URL): boolean =>
  /^AWS4-HMAC-SHA256 Credential=\S+/.test(req.headers.authorization ?? '') ||
  url.searchParams.has('X-Amz-Signature');

/**
 * SimEarly of the AWS routes: everything but CloudWatch (its ENA series come from the nodes' pods) is
 * answered from the snapshot alone.
 */
export const awsEarly: SimEarly = (req) => !String(req.headers['x-amz-target'] ?? '').startsWith(CW_TARGET);

/**
 * Routes of simulated AWS, told apart from Kubernetes and Azure by an `X-Amz-Target` header (CloudWatch),
 * `/clusters/` paths (EKS) and an `Action=` form body or query (EC2, STS).
 */
export function awsRoutes(world: SimWorld, opts: CloudRouteOptions = {}): SimRoutes {
  return (req, res, url, body) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const contentType = String(req.headers['content-type'] ?? '');
    const form =
      req.method === 'POST' && contentType.startsWith('application/x-www-form-urlencoded')
        ? new URLSearchParams(body.toString('utf8'))
        : url.searchParams;
    const action = form.get('Action') ?? '';
    const eks = /^\/clusters\/([^/]+)(?:\/addons\/([^/]+))?$/.exec(url.pathname);
    let service: string;
    if (target.startsWith(CW_TARGET)) service = 'aws:cloudwatch';
    else if (target.startsWith(SM_TARGET)) service = 'aws:secretsmanager';
    else if (eks) service = 'aws:eks';
    else if (url.pathname === '/' && action === 'GetCallerIdentity') service = 'aws:sts';
    else if (url.pathname === '/' && action) service = 'aws:ec2';
    else return false;

    if (
      applyFault(world, [service, 'aws'], res, (status, headers) => {
        if (service === 'aws:secretsmanager') {
          sendJson(
            res,
            status,
            {
              __type: status === 429 ? 'ThrottlingException' : 'InternalServiceError',
              message: `simulated ${status}`,
            },
            { 'content-type': 'application/x-amz-json-1.1', ...headers },
          );
          return;
        }
        // The service's own answer for the condition, in its protocol (cloud-errors.ts names each source:
        // CloudWatch throttles with 400 Throttling, EC2 with 503 RequestLimitExceeded, EKS with 429
        // ThrottlingException); a status it documents no answer for is its internal error.
        const svc = service.slice('aws:'.length) as CloudService;
        const answer =
          serviceError(svc, status, { path: url.pathname }) ??
          (serviceError(svc, 500, { path: url.pathname }) as ServiceErrorAnswer);
        // (No Retry-After: the AWS answers carry none, test/fixtures/wire/aws/cloudwatch-throttled.json.)
        sendText(
          res,
          answer.status,
          answer.headers['content-type'] ?? 'application/json',
          answer.body,
          answer.headers,
        );
      })
    ) {
      return true;
    }
    if (!signed(req, url)) {
      if (service === 'aws:cloudwatch' || service === 'aws:secretsmanager') {
        sendJson(
          res,
          403,
          { __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' },
          { 'x-amzn-query-error': 'MissingAuthenticationToken;Sender' },
        );
      } else if (service === 'aws:eks')
        sendJson(
          res,
          403,
          { message: 'Missing Authentication Token' },
          { 'x-amzn-errortype': 'MissingAuthenticationTokenException' },
        );
      else ec2Error(res, 403, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
      return true;
    }
    const m = awsModel(world);
    if (service === 'aws:cloudwatch') cloudWatch(res, target.slice(CW_TARGET.length), body, m, world);
    else if (service === 'aws:secretsmanager') secretsManager(res, target.slice(SM_TARGET.length), body, m);
    else if (service === 'aws:eks') {
      if (req.method !== 'GET')
        sendJson(res, 405, { message: 'GET only' }, { 'x-amzn-errortype': 'InvalidRequestException' });
      else if (eks?.[2]) describeAddon(res, decodeURIComponent(eks[1] ?? ''), decodeURIComponent(eks[2]), m);
      else describeCluster(req, res, decodeURIComponent(eks?.[1] ?? ''), m, world, opts);
    } else if (service === 'aws:sts') getCallerIdentity(res);
    else if (action === 'DescribeNatGateways') describeNatGateways(res, form, m);
    else ec2Error(res, 400, 'InvalidAction', `The action ${action} is not valid for this web service.`);
    return true;
  };
}
