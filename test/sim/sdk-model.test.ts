// The simulator's cloud answers, field by field, against the models the installed SDKs read them with
// (test/sim/sdk-model.ts): @azure/arm-network 34.1.0 (api-version 2024-10-01) for the load balancer, NAT
// gateway and subnet, @azure/arm-containerservice for the managed cluster and its credentials,
// @aws-sdk/client-eks DescribeCluster/DescribeAddon, @aws-sdk/client-cloudwatch GetMetricData/ListMetrics
// (AWS JSON 1.0) and @aws-sdk/client-ec2 DescribeNatGateways (ec2Query XML). A field the SDK model does not
// have is one the simulator made up.

import { GetMetricDataOutput$, ListMetricsOutput$ } from '@aws-sdk/client-cloudwatch';
import { DescribeNatGatewaysResult$ } from '@aws-sdk/client-ec2';
import { DescribeAddonResponse$, DescribeClusterResponse$ } from '@aws-sdk/client-eks';
import { afterEach, describe, expect, it } from 'vitest';
import {
  awsTestCredentials,
  azureCloud,
  eksNodes,
  fakeWorld,
  type Harness,
  metrics,
  rawRequest,
  startHarness,
} from '../pressure/harness.js';
import {
  type AwsSchema,
  awsJsonProblems,
  awsXmlProblems,
  azureMappers,
  azureModelProblems,
  parseXml,
} from './sdk-model.js';

const SUB = '11111111-2222-3333-4444-555555555555';
const NODE_RG = `/subscriptions/${SUB}/resourceGroups/MC_rg-shop_aks-shop_westeurope/providers/Microsoft.Network`;
const network = azureMappers('@azure/arm-network');
const containers = azureMappers('@azure/arm-containerservice');

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const aksWorld = (outboundType: string) =>
  fakeWorld(azureCloud({ outboundType }), [
    { name: 'aks-a', internalIP: '10.224.0.4', metrics: metrics(3, 1024) },
    { name: 'aks-b', internalIP: '10.224.0.5', metrics: metrics(5, 1024) },
  ]);

async function armGet(h: Harness, path: string, method = 'GET'): Promise<unknown> {
  const res = await rawRequest(h, method, `${path}?api-version=2024-10-01`, {
    headers: { authorization: 'Bearer t' },
  });
  expect(res.status, res.body).toBe(200);
  return JSON.parse(res.body);
}

describe('Azure answers against the SDK mappers', () => {
  it.each([
    ['loadBalancer', `${NODE_RG}/loadBalancers/kubernetes`, 'LoadBalancer'],
    ['userAssignedNATGateway', `${NODE_RG}/natGateways/aks-natgw`, 'NatGateway'],
    ['userAssignedNATGateway', `${NODE_RG}/natGateways`, 'NatGatewayListResult'],
  ])('%s: %s is a %s', async (outboundType, path, className) => {
    harness = await startHarness(aksWorld(outboundType));
    const body = await armGet(harness, path);
    expect(azureModelProblems(network, className, body)).toEqual([]);
  });

  it.each(['loadBalancer', 'userAssignedNATGateway'])(
    '%s: the node subnet is a Subnet',
    async (outboundType) => {
      harness = await startHarness(aksWorld(outboundType));
      const cluster = (await armGet(
        harness,
        `/subscriptions/${SUB}/resourceGroups/rg-shop/providers/Microsoft.ContainerService/managedClusters/aks-shop`,
      )) as { properties: { agentPoolProfiles: { vnetSubnetID: string }[] } };
      expect(azureModelProblems(containers, 'ManagedCluster', cluster)).toEqual([]);
      const subnetId = cluster.properties.agentPoolProfiles[0]?.vnetSubnetID as string;
      expect(azureModelProblems(network, 'Subnet', await armGet(harness, subnetId))).toEqual([]);
    },
  );

  it('listClusterUserCredential is a CredentialResults', async () => {
    harness = await startHarness(aksWorld('loadBalancer'));
    const body = await armGet(
      harness,
      `/subscriptions/${SUB}/resourceGroups/rg-shop/providers/Microsoft.ContainerService/managedClusters/aks-shop/listClusterUserCredential`,
      'POST',
    );
    expect(azureModelProblems(containers, 'CredentialResults', body)).toEqual([]);
  });

  it('the checker finds a field the model lacks and a value of the wrong type', () => {
    expect(
      azureModelProblems(network, 'NatGateway', {
        name: 'x',
        properties: { idleTimeoutInMinutes: '4', snatPorts: 1 },
      }),
    ).toEqual([
      '$.properties.idleTimeoutInMinutes: expected Number, got string',
      '$.properties.snatPorts: not in the model',
    ]);
  });
});

const eks = { region: 'eu-west-1', clusterName: 'eks-shop' };
const signed = (service: string) => ({
  authorization: `AWS4-HMAC-SHA256 Credential=${awsTestCredentials.accessKeyId}/20261120/eu-west-1/${service}/aws4_request`,
});

describe('AWS answers against the SDK schemas', () => {
  const awsWorld = () =>
    fakeWorld(
      {
        aws: {
          ...eks,
          natGateways: [
            { id: 'nat-0a1b2c3d', errorPortAllocation: 4, activeConnectionCount: 10, packetsDropCount: 0 },
          ],
          vpcCniAddon: { configurationValues: '{}' },
        },
      },
      eksNodes(2, () => metrics(0, 0, 0, 5)),
    );

  it.each([
    ['/clusters/eks-shop', DescribeClusterResponse$],
    ['/clusters/eks-shop/addons/vpc-cni', DescribeAddonResponse$],
  ])('EKS GET %s', async (path, schema) => {
    harness = await startHarness(awsWorld());
    const res = await rawRequest(harness, 'GET', path, { headers: signed('eks') });
    expect(res.status).toBe(200);
    expect(awsJsonProblems(schema as AwsSchema, JSON.parse(res.body))).toEqual([]);
  });

  it.each([
    [
      'GetMetricData',
      GetMetricDataOutput$,
      {
        MetricDataQueries: [
          {
            Id: 'q0',
            MetricStat: {
              Metric: {
                Namespace: 'AWS/NATGateway',
                MetricName: 'ErrorPortAllocation',
                Dimensions: [{ Name: 'NatGatewayId', Value: 'nat-0a1b2c3d' }],
              },
              Period: 60,
              Stat: 'Sum',
            },
          },
        ],
        StartTime: 1_763_632_800,
        EndTime: 1_763_633_400,
      },
    ],
    ['ListMetrics', ListMetricsOutput$, { Namespace: 'CWAgent' }],
  ])('CloudWatch %s', async (action, schema, input) => {
    harness = await startHarness(awsWorld());
    const res = await rawRequest(harness, 'POST', '/', {
      headers: {
        ...signed('monitoring'),
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `GraniteServiceVersion20100801.${action}`,
      },
      body: JSON.stringify(input),
    });
    expect(res.status, res.body).toBe(200);
    const body = JSON.parse(res.body) as Record<string, unknown>;
    expect(Object.keys(body).length).toBeGreaterThan(0);
    expect(awsJsonProblems(schema as AwsSchema, body)).toEqual([]);
  });

  it('EC2 DescribeNatGateways (ec2Query XML)', async () => {
    harness = await startHarness(awsWorld());
    const res = await rawRequest(harness, 'POST', '/', {
      headers: { ...signed('ec2'), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=DescribeNatGateways&Version=2016-11-15',
    });
    expect(res.status, res.body).toBe(200);
    const root = parseXml(res.body);
    expect(root.name).toBe('DescribeNatGatewaysResponse');
    // requestId is the ec2Query response metadata, beside the result's members.
    const result = { ...root, children: root.children.filter((c) => c.name !== 'requestId') };
    expect(result.children.map((c) => c.name)).toContain('natGatewaySet');
    expect(awsXmlProblems(DescribeNatGatewaysResult$ as AwsSchema, result)).toEqual([]);
  });

  it('the checkers find a member the schema lacks', () => {
    expect(
      awsJsonProblems(DescribeClusterResponse$ as AwsSchema, { cluster: { name: 'x', nodes: 3 } }),
    ).toEqual(['$.cluster.nodes: not in the model']);
    expect(
      awsXmlProblems(
        DescribeNatGatewaysResult$ as AwsSchema,
        parseXml('<R><natGatewaySet><item><snat>1</snat></item></natGatewaySet></R>'),
      ),
    ).toEqual(['$.natGatewaySet[0].snat: not in the model']);
  });
});
