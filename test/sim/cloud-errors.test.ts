// Injected cloud faults are each service's own error answer (src/sim/cloud-errors.ts names the sources):
// the real SDKs read the simulator's fault answers as that service's error, by code and status. On the
// old answers (an EKS throttle coded `Throttling`, EC2 throttling as HTTP 429, every ARM failure coded
// InternalServerError) these fail.

import { GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeNatGatewaysCommand } from '@aws-sdk/client-ec2';
import { DescribeClusterCommand } from '@aws-sdk/client-eks';
import { RestError } from '@azure/core-rest-pipeline';
import { afterEach, describe, expect, it } from 'vitest';
import { awsClients } from '../../src/pressure/aws-clients.js';
import { azureClients } from '../../src/pressure/azure-clients.js';
import { CLOUD_SERVICES, type CloudService, serviceError } from '../../src/sim/cloud-errors.js';
import {
  awsTestCredentials,
  azureCloud,
  fakeWorld,
  type Harness,
  metrics,
  rawRequest,
  recordingCredential,
  startHarness,
} from '../pressure/harness.js';

const CONDITIONS = [404, 409, 429, 500, 503];
const cases = CLOUD_SERVICES.flatMap((service) =>
  CONDITIONS.flatMap((condition) => {
    const a = serviceError(service, condition, { path: '/' });
    return a ? [{ service, condition, status: a.status, code: a.code }] : [];
  }),
);

const noRetry = { maxRetries: 0, baseDelayMs: 1, maxDelayMs: 1, totalTimeoutMs: 10_000 };
const SUB = '11111111-2222-3333-4444-555555555555';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const FAULT_KEY: Record<CloudService, string> = {
  arm: 'azure:arm',
  'azure-monitor': 'azure:metrics',
  cloudwatch: 'aws:cloudwatch',
  ec2: 'aws:ec2',
  eks: 'aws:eks',
  sts: 'aws:sts',
};

/** One call of the service's real client; what it threw, as the client names it. */
async function callFailing(service: CloudService, h: Harness): Promise<{ code?: string; status?: number }> {
  const signal = new AbortController().signal;
  const awsTarget = { region: 'eu-west-1', clusterName: 'eks-shop', endpoint: h.url };
  const aws = () => awsClients(awsTarget, noRetry, { ca: h.ca, awsCredentials: awsTestCredentials });
  const azure = () =>
    azureClients(
      {
        subscriptionId: SUB,
        resourceGroup: 'rg-shop',
        clusterName: 'aks-shop',
        armEndpoint: h.url,
        metricsEndpoint: h.url,
      },
      recordingCredential(),
      noRetry,
      h.ca,
    );
  try {
    if (service === 'arm') await azure().containers.managedClusters.get('rg-shop', 'aks-shop');
    else if (service === 'azure-monitor')
      await azure()
        .metrics('westeurope')
        .queryResources(
          [
            `/subscriptions/${SUB}/resourceGroups/MC_rg-shop_aks-shop_westeurope/providers/Microsoft.Network/loadBalancers/kubernetes`,
          ],
          ['UsedSnatPorts'],
          'Microsoft.Network/loadBalancers',
          { startTime: new Date(Date.now() - 300_000), endTime: new Date() },
        );
    else if (service === 'cloudwatch')
      await aws().cloudwatch.send(
        new GetMetricDataCommand({
          MetricDataQueries: [],
          StartTime: new Date(Date.now() - 300_000),
          EndTime: new Date(),
        }),
        { abortSignal: signal },
      );
    else if (service === 'ec2') await aws().ec2.send(new DescribeNatGatewaysCommand({}));
    else if (service === 'eks') await aws().eks.send(new DescribeClusterCommand({ name: 'eks-shop' }));
    else {
      // No STS client is a dependency (the EKS token is a presigned URL, never sent by snatguard): the
      // answer is read as the awsQuery protocol tests lay it out (smithy-aws-protocol-tests awsQuery/
      // xml-errors.smithy): ErrorResponse > Error > Type, Code, Message; RequestId.
      const res = await rawRequest(h, 'POST', '/', {
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261120/eu-west-1/sts/aws4_request',
        },
        body: 'Action=GetCallerIdentity&Version=2011-06-15',
      });
      const m =
        /^<ErrorResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/"><Error><Type>(Sender|Receiver)<\/Type><Code>(\w+)<\/Code><Message>[^<]+<\/Message><\/Error><RequestId>[^<]+<\/RequestId><\/ErrorResponse>$/.exec(
          res.body,
        );
      return m ? { code: m[2], status: res.status } : { status: res.status };
    }
  } catch (e) {
    if (e instanceof RestError) return { code: e.code, status: e.statusCode };
    const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
    return { code: err.name, status: err.$metadata?.httpStatusCode };
  }
  return {};
}

describe('injected cloud faults are the service’s own errors, read by its real client', () => {
  it.each(cases)(
    '$service, condition $condition → $status $code',
    async ({ service, condition, status, code }) => {
      const world = fakeWorld(
        {
          ...azureCloud(),
          aws: { region: 'eu-west-1', clusterName: 'eks-shop', natGateways: [] },
        },
        [{ name: 'aks-a', internalIP: '10.224.0.4', metrics: metrics(3, 1024) }],
      );
      world.faults.failNext[FAULT_KEY[service]] = { status: condition, count: 1 };
      harness = await startHarness(world);

      const got = await callFailing(service, harness);

      expect(world.faults.failNext[FAULT_KEY[service]]?.count).toBe(0);
      expect(got).toEqual({ code, status });
    },
  );

  it('CloudWatch’s throttle is the fixture’s (400, Throttling;Sender), EC2’s a 503, EKS’s a 429', () => {
    expect(serviceError('cloudwatch', 429)).toMatchObject({
      status: 400,
      headers: { 'x-amzn-query-error': 'Throttling;Sender' },
    });
    expect(serviceError('ec2', 429)).toMatchObject({ status: 503, code: 'RequestLimitExceeded' });
    expect(serviceError('eks', 429)).toMatchObject({
      status: 429,
      headers: { 'x-amzn-errortype': 'ThrottlingException' },
    });
    expect(serviceError('ec2', 409)).toBeUndefined();
  });

  it('ARM’s not-found names the resource type, name and group, as ARM writes it', () => {
    const a = serviceError('arm', 404, {
      path: `/subscriptions/${SUB}/resourceGroups/MC_rg_aks_westeurope/providers/Microsoft.Network/loadBalancers/kubernetes?api-version=2024-05-01`,
    });
    expect(JSON.parse(a?.body ?? '{}')).toEqual({
      error: {
        code: 'ResourceNotFound',
        message:
          "The Resource 'Microsoft.Network/loadBalancers/kubernetes' under resource group 'MC_rg_aks_westeurope' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
      },
    });
  });
});
