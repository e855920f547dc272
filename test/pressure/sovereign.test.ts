// azure.cloud picks the ARM, metrics and authority endpoints together; explicit endpoint keys override.
import { afterEach, describe, expect, it } from 'vitest';
import { clusterTarget } from '../../src/compose.js';
import { loadConfig } from '../../src/config/index.js';
import type { TimeWindow } from '../../src/model.js';
import { azurePressureSource } from '../../src/pressure/azure.js';
import { azureClients } from '../../src/pressure/azure-clients.js';
import { azureCredentialOptions, azureTarget } from '../../src/pressure/index.js';
import { defaultRetry } from '../../src/pressure/types.js';
import {
  aksNodes,
  azureCloud,
  fakeWorld,
  type Harness,
  metrics,
  recordingCredential,
  startHarness,
} from './harness.js';

const coords = { subscriptionId: 'sub', resourceGroup: 'rg', clusterName: 'aks' };
const hostOf = (client: unknown): string => (client as { $host: string }).$host;

describe('azure.cloud selects the endpoints together', () => {
  it.each([
    {
      cloud: 'AzurePublicCloud' as const,
      arm: 'https://management.azure.com',
      metrics: 'https://westeurope.metrics.monitor.azure.com',
      authority: 'https://login.microsoftonline.com',
    },
    {
      cloud: 'AzureChinaCloud' as const,
      arm: 'https://management.chinacloudapi.cn',
      metrics: 'https://westeurope.metrics.monitor.azure.cn',
      authority: 'https://login.chinacloudapi.cn',
    },
    {
      cloud: 'AzureUSGovernment' as const,
      arm: 'https://management.usgovcloudapi.net',
      metrics: 'https://westeurope.metrics.monitor.azure.us',
      authority: 'https://login.microsoftonline.us',
    },
  ])('$cloud: ARM $arm, metrics $metrics, authority $authority', ({ cloud, arm, metrics: m, authority }) => {
    const cfg = { provider: 'azure' as const, azure: { cloud, ...coords } };
    const clients = azureClients(azureTarget(cfg), recordingCredential(), defaultRetry);

    expect(hostOf(clients.containers)).toBe(arm);
    expect(hostOf(clients.network)).toBe(arm);
    expect(clients.metricsEndpoint('West Europe')).toBe(m);
    expect(azureCredentialOptions(cfg).authorityHost).toBe(authority);
  });

  it('lets the explicit endpoint keys override the cloud’s', () => {
    const cfg = {
      provider: 'azure' as const,
      azure: {
        cloud: 'AzureChinaCloud' as const,
        armEndpoint: 'https://arm.example.test/',
        metricsEndpoint: 'https://metrics.example.test',
        ...coords,
      },
    };
    const clients = azureClients(azureTarget(cfg), recordingCredential(), defaultRetry);

    expect(hostOf(clients.containers)).toBe('https://arm.example.test');
    expect(clients.metricsEndpoint('chinanorth3')).toBe('https://metrics.example.test');
    expect(azureCredentialOptions(cfg).authorityHost).toBe('https://login.chinacloudapi.cn');
  });
});

describe('azure.cloud for the AKS connection', () => {
  it.each([
    { env: { SNATGUARD_AZURE_CLOUD: 'AzureChinaCloud' }, arm: 'https://management.chinacloudapi.cn' },
    {
      env: {
        SNATGUARD_AZURE_CLOUD: 'AzureChinaCloud',
        SNATGUARD_AZURE_ARM_ENDPOINT: 'https://arm.example.test',
      },
      arm: 'https://arm.example.test',
    },
  ])('reaches ARM at $arm with the China authority', ({ env, arm }) => {
    // cluster.connection aks needs the cluster's coordinates (config validation, issue 12).
    const coordinates = {
      SNATGUARD_AZURE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
      SNATGUARD_AZURE_RESOURCE_GROUP: 'rg-shop',
      SNATGUARD_AZURE_CLUSTER_NAME: 'aks-shop',
    };
    const config = loadConfig({ env: { SNATGUARD_CLUSTER_CONNECTION: 'aks', ...coordinates, ...env } });
    expect(clusterTarget(config)).toMatchObject({
      kind: 'aks',
      armEndpoint: arm,
      authorityHost: 'https://login.chinacloudapi.cn',
    });
  });
});

describe('a sovereign cloud through the simulator', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  it('asks for tokens of the cloud’s metrics audience while talking to the overridden endpoints', async () => {
    harness = await startHarness(
      fakeWorld(
        azureCloud(),
        aksNodes(1, () => metrics(900, 1024)),
      ),
    );
    const credential = recordingCredential();
    const window: TimeWindow = { start: new Date(Date.now() - 300_000), end: new Date() };
    const source = azurePressureSource(
      {
        cloud: 'AzureUSGovernment',
        subscriptionId: '11111111-2222-3333-4444-555555555555',
        resourceGroup: 'rg-shop',
        clusterName: 'aks-shop',
        armEndpoint: harness.url,
        metricsEndpoint: harness.url,
      },
      credential,
      { ca: harness.ca, retry: { ...defaultRetry, maxRetries: 0 } },
    );

    const reading = await source.read(window, new AbortController().signal);

    expect(reading.errors).toEqual([]);
    expect(reading.nodes[0]?.signals.find((s) => s.kind === 'snat-ports')).toMatchObject({ used: 900 });
    expect(credential.scopes).toContainEqual(['https://metrics.monitor.azure.us/.default']);
  });
});
