import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AKS_SCOPE,
  aksToken,
  clusterOfKubeconfig,
  connect,
  eksToken,
  tokenCache,
} from '../../src/cluster/connect.js';
import { ClusterError } from '../../src/errors.js';
import {
  aksNodes,
  awsTestCredentials,
  azureCloud,
  eksNodes,
  fakeWorld,
  type Harness,
  metrics,
  recordingCredential,
  startHarness,
} from '../pressure/harness.js';

const FIXED = Date.parse('2026-11-20T10:00:00Z');

function decode(token: string): URL {
  expect(token.startsWith('k8s-aws-v1.')).toBe(true);
  const body = token.slice('k8s-aws-v1.'.length);
  expect(body).toMatch(/^[A-Za-z0-9_-]+$/); // base64url, no padding
  return new URL(Buffer.from(body, 'base64url').toString('utf8'));
}

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
const enc = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** SigV4 of a presigned GET, computed independently of @smithy/signature-v4. */
function expectedSignature(url: URL, headers: Record<string, string>, secret: string): string {
  const params = [...url.searchParams]
    .filter(([k]) => k !== 'X-Amz-Signature')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const signed = (url.searchParams.get('X-Amz-SignedHeaders') ?? '').split(';');
  const canonical = [
    'GET',
    '/',
    params.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&'),
    ...signed.map((h) => `${h}:${headers[h]}`),
    '',
    signed.join(';'),
    createHash('sha256').update('').digest('hex'),
  ].join('\n');
  const date = url.searchParams.get('X-Amz-Date') ?? '';
  const scope = `${date.slice(0, 8)}/eu-west-1/sts/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', date, scope, createHash('sha256').update(canonical).digest('hex')].join(
    '\n',
  );
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date.slice(0, 8)), 'eu-west-1'), 'sts'), 'aws4_request');
  return hmac(key, toSign).toString('hex');
}

describe('eksToken', () => {
  it('is a presigned STS GetCallerIdentity URL with a signed x-k8s-aws-id header', async () => {
    const { token, expiresAt } = await eksToken({
      region: 'eu-west-1',
      clusterName: 'eks-shop',
      credentials: awsTestCredentials,
      now: () => FIXED,
    });
    const url = decode(token);

    expect(url.host).toBe('sts.eu-west-1.amazonaws.com');
    expect(url.pathname).toBe('/');
    expect(url.searchParams.get('Action')).toBe('GetCallerIdentity');
    expect(url.searchParams.get('Version')).toBe('2011-06-15');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('60');
    expect(url.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(url.searchParams.get('X-Amz-Date')).toBe('20261120T100000Z');
    expect(url.searchParams.get('X-Amz-Credential')).toBe('AKIDEXAMPLE/20261120/eu-west-1/sts/aws4_request');
    expect(url.searchParams.get('X-Amz-SignedHeaders')?.split(';')).toEqual(['host', 'x-k8s-aws-id']);
    expect(url.searchParams.get('X-Amz-Signature')).toBe(
      expectedSignature(
        url,
        { host: 'sts.eu-west-1.amazonaws.com', 'x-k8s-aws-id': 'eks-shop' },
        awsTestCredentials.secretAccessKey,
      ),
    );
    expect(expiresAt).toBe(FIXED + 15 * 60_000);
  });

  it('is renewed a minute before its 15 minutes are up', async () => {
    let clock = FIXED;
    let fetched = 0;
    const cache = tokenCache(
      async () => {
        fetched += 1;
        return eksToken({
          region: 'eu-west-1',
          clusterName: 'eks-shop',
          credentials: awsTestCredentials,
          now: () => clock,
        });
      },
      () => clock,
    );
    const first = await cache.get();
    clock = FIXED + 13 * 60_000 + 59_000;
    expect(await cache.get()).toBe(first);
    clock = FIXED + 14 * 60_000;
    const renewed = await cache.get();
    expect(renewed).not.toBe(first);
    expect(fetched).toBe(2);
    expect(decode(renewed).searchParams.get('X-Amz-Date')).toBe('20261120T101400Z');
  });
});

describe('aksToken', () => {
  it('asks the credential for the AKS server application scope', async () => {
    const credential = recordingCredential('entra-token');
    const t = await aksToken(credential);
    expect(credential.scopes).toEqual([['6dae42f8-4368-4678-94ff-3960e28e3630/.default']]);
    expect(AKS_SCOPE).toBe('6dae42f8-4368-4678-94ff-3960e28e3630/.default');
    expect(t.token).toBe('entra-token');
  });
});

async function authorization(kc: KubeConfig): Promise<string | undefined> {
  const opts: { headers?: Record<string, string> } = {};
  await kc.applyToHTTPSOptions(opts);
  return opts.headers?.Authorization;
}

describe('connect through the simulated clouds', () => {
  let h: Harness;
  beforeAll(async () => {
    const nodes = [...aksNodes(1, () => metrics(1, 1)), ...eksNodes(1, () => metrics(1, 1))];
    h = await startHarness(
      fakeWorld(
        { ...azureCloud(), aws: { region: 'eu-west-1', clusterName: 'eks-shop', natGateways: [] } },
        nodes,
      ),
    );
  });
  afterAll(async () => {
    await h.close();
  });

  it('AKS: server and CA from listClusterUserCredential, the user replaced by an Entra token', async () => {
    const credential = recordingCredential('entra-token');
    const kc = await connect(
      {
        kind: 'aks',
        subscriptionId: '11111111-2222-3333-4444-555555555555',
        resourceGroup: 'rg-shop',
        clusterName: 'aks-shop',
      },
      { azureCredential: credential, armEndpoint: h.url, ca: h.ca },
    );
    expect(kc.getCurrentCluster()?.server).toBe(h.url);
    expect(Buffer.from(kc.getCurrentCluster()?.caData ?? '', 'base64').toString('utf8')).toBe(h.ca);
    expect(kc.getCurrentUser()?.exec).toBeUndefined();
    expect(await authorization(kc)).toBe('Bearer entra-token');
    expect(credential.scopes).toContainEqual([AKS_SCOPE]);
    expect(
      h.world.requests.some(
        (r) => r.method === 'POST' && r.path.endsWith('/managedClusters/aks-shop/listClusterUserCredential'),
      ),
    ).toBe(true);
  });

  it('EKS: server and CA from DescribeCluster, an IAM token as bearer', async () => {
    const kc = await connect(
      { kind: 'eks', region: 'eu-west-1', clusterName: 'eks-shop' },
      { awsCredentials: awsTestCredentials, awsEndpoint: h.url, ca: h.ca, now: () => FIXED },
    );
    expect(kc.getCurrentCluster()?.server).toBe(h.url);
    const auth = await authorization(kc);
    expect(auth).toMatch(/^Bearer k8s-aws-v1\./);
    expect(decode(auth?.slice('Bearer '.length) ?? '').searchParams.get('X-Amz-Date')).toBe(
      '20261120T100000Z',
    );
  });

  it('EKS: an unknown cluster is a ClusterError with the cause', async () => {
    const err = await connect(
      { kind: 'eks', region: 'eu-west-1', clusterName: 'nope' },
      { awsCredentials: awsTestCredentials, awsEndpoint: h.url, ca: h.ca },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterError);
    expect((err as ClusterError).cause).toMatchObject({ name: 'ResourceNotFoundException' });
  });
});

describe('connect with a kubeconfig file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'snatguard-connect-'));
  const file = join(dir, 'config');
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- { name: a, cluster: { server: "https://127.0.0.1:1111" } }',
      '- { name: b, cluster: { server: "https://127.0.0.1:2222" } }',
      'users: [{ name: u, user: { token: t } }]',
      'contexts:',
      '- { name: ctx-a, context: { cluster: a, user: u } }',
      '- { name: ctx-b, context: { cluster: b, user: u } }',
      'current-context: ctx-a',
    ].join('\n'),
  );
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    { context: undefined, server: 'https://127.0.0.1:1111' },
    { context: 'ctx-b', server: 'https://127.0.0.1:2222' },
  ])('uses context $context', async ({ context, server }) => {
    const kc = await connect({ kind: 'kubeconfig', path: file, ...(context ? { context } : {}) });
    expect(kc.getCurrentCluster()?.server).toBe(server);
  });

  it('rejects an unknown context', async () => {
    await expect(connect({ kind: 'kubeconfig', path: file, context: 'nope' })).rejects.toBeInstanceOf(
      ClusterError,
    );
  });

  it('reads server and CA from a cluster user credential and drops the user', () => {
    const yaml =
      'clusters:\n- name: x\n  cluster:\n    server: https://x:443\n    certificate-authority-data: Q0E=\nusers:\n- name: u\n  user: { exec: { command: kubelogin } }\n';
    expect(clusterOfKubeconfig(yaml)).toEqual({ server: 'https://x:443', caData: 'Q0E=' });
  });
});
