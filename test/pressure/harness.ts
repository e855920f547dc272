// A tiny HTTPS server mounting the simulator's cloud routes over a fake SimWorld, for tests that must
// not wait on the full simulator. Same contract as src/sim/server.ts: routes tried in order, every
// request recorded in world.requests.
import { createServer, type Server } from 'node:https';
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
        { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] },
      ],
    });
    return { ca: ca.cert, key: leaf.private, cert: leaf.cert };
  })();
  return certs;
}

export const metrics = (used: number, allocated: number, failed = 0, conntrackAllowanceExceeded = 0): NodeMetrics => ({
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

export async function startHarness(world: SimWorld): Promise<Harness> {
  const { ca, key, cert } = await certificates();
  const routes: [string, SimRoutes][] = [
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
