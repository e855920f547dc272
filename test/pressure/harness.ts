// A tiny HTTPS server mounting the simulator's cloud routes over a fake SimWorld, for tests that must
// not wait on the full simulator. Same contract as src/sim/server.ts: routes tried in order, every
// request recorded in world.requests.
import { createServer, request as httpsRequest, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { awsRoutes } from '../../src/sim/aws.js';
import { azureRoutes } from '../../src/sim/azure.js';
import type { NodeMetrics, RecordedRequest, SimFaults, SimRoutes, SimWorld } from '../../src/sim/types.js';

export interface FakeNode {
  name: string;
  internalIP?: string;
  providerID?: string;
  metrics: NodeMetrics;
}

export interface FakeCloud {
  azure?: Record<string, unknown>;
  aws?: Record<string, unknown>;
}

export interface Harness {
  url: string;
  ca: string;
  world: SimWorld;
  close(): Promise<void>;
}

let certs: Promise<{ ca: string; key: string; cert: string }> | undefined;

/** One CA and server certificate per test process (key generation is the slow part). */
function certificates(): Promise<{ ca: string; key: string; cert: string }> {
  certs ??= (async () => {
    const ca = await generate([{ name: 'commonName', value: 'snatguard-test-ca' }], {
      keySize: 2048,
      algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
      ],
    });
    const leaf = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
      keySize: 2048,
      algorithm: 'sha256',
      ca: { key: ca.private, cert: ca.cert },
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            { type: 7, ip: '127.0.0.1' },
            { type: 2, value: 'localhost' },
          ],
        },
      ],
    });
    return { ca: ca.cert, key: leaf.private, cert: leaf.cert };
  })();
  return certs;
}

export const metrics = (
  used: number,
  allocated: number,
  failed = 0,
  conntrackAllowanceExceeded = 0,
): NodeMetrics => ({
  usedSnatPorts: used,
  allocatedSnatPorts: allocated,
  failedSnatConnections: failed,
  conntrackAllowanceExceeded,
});

export function fakeWorld(cloud: FakeCloud, nodes: FakeNode[]): SimWorld {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const faults: SimFaults = { execLatencyMs: 0, failNext: {}, down: new Set() };
  const snapshot = {
    apiVersion: 'snatguard.io/v1',
    kind: 'Snapshot',
    metadata: { name: 'test' },
    cloud: { provider: cloud.azure ? 'azure' : cloud.aws ? 'aws' : 'none', ...cloud },
    cluster: { version: '1.31', podCIDR: '10.244.0.0/16', serviceCIDR: '10.0.0.0/16' },
    nodes: nodes.map(({ metrics: _m, ...n }) => n),
    workloads: [],
  };
  return {
    snapshot: snapshot as unknown as SimWorld['snapshot'],
    nodeMetrics(node) {
      const n = byName.get(node);
      if (!n) throw new Error(`no node ${node}`);
      return n.metrics;
    },
    requests: [] as RecordedRequest[],
    faults,
  };
}

/** `before`: routes tried ahead of the simulator's (a test's own answers, e.g. one that never answers). */
export async function startHarness(world: SimWorld, before: [string, SimRoutes][] = []): Promise<Harness> {
  const { ca, key, cert } = await certificates();
  const routes: [string, SimRoutes][] = [
    ...before,
    ['azure', azureRoutes(world, { ca })],
    ['aws', awsRoutes(world, { ca })],
  ];
  const server: Server = createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', `https://${req.headers.host ?? '127.0.0.1'}`);
      const record: RecordedRequest = {
        service: 'unhandled',
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.search.replace(/^\?/, ''),
        headers: { ...req.headers },
        body: body.toString('utf8'),
        status: 0,
        at: Date.now(),
      };
      world.requests.push(record);
      res.on('finish', () => {
        record.status = res.statusCode;
      });
      for (const [service, handle] of routes) {
        if (await handle(req, res, url, body)) {
          record.service = service;
          return;
        }
      }
      res.writeHead(404).end();
      record.status = 404;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    ca,
    world,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A plain HTTPS request to the harness, trusting its CA (for what the SDKs would hide). */
export function rawRequest(
  h: Harness,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${h.url}${path}`, { method, ca: h.ca, headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A TokenCredential that hands out a fixed token and records the scopes it was asked for. */
export function recordingCredential(token = 'test-token', expiresInMs = 3_600_000) {
  const scopes: string[][] = [];
  return {
    scopes,
    async getToken(s: string | string[]) {
      scopes.push(Array.isArray(s) ? s : [s]);
      return { token, expiresOnTimestamp: Date.now() + expiresInMs };
    },
  };
}

export const awsTestCredentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};

/** Nodes named like AKS VMSS instances with IPs 10.224.0.4… */
export function aksNodes(count: number, metricsOf: (i: number) => NodeMetrics): FakeNode[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `aks-nodepool1-12345678-vmss${String(i).padStart(6, '0')}`,
    internalIP: `10.224.${Math.floor((i + 4) / 256)}.${(i + 4) % 256}`,
    providerID: `azure:///subscriptions/sub/resourceGroups/mc/providers/Microsoft.Compute/virtualMachineScaleSets/vmss/virtualMachines/${i}`,
    metrics: metricsOf(i),
  }));
}

/** Nodes named like EKS nodes with instance ids i-0000…0<i>. */
export function eksNodes(count: number, metricsOf: (i: number) => NodeMetrics): FakeNode[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `ip-10-0-${Math.floor(i / 250)}-${(i % 250) + 1}.eu-west-1.compute.internal`,
    internalIP: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    providerID: `aws:///eu-west-1${'abc'[i % 3]}/i-${(0x1000000 + i).toString(16).padStart(17, '0')}`,
    metrics: metricsOf(i),
  }));
}

export const azureCloud = (over: Record<string, unknown> = {}) => ({
  azure: {
    subscriptionId: '11111111-2222-3333-4444-555555555555',
    resourceGroup: 'rg-shop',
    clusterName: 'aks-shop',
    location: 'westeurope',
    outboundType: 'loadBalancer',
    loadBalancer: { allocatedOutboundPorts: 1024, outboundIPs: 1, idleTimeoutMinutes: 30 },
    ...over,
  },
});
