// The API calls of one connected KubeConfig share one https.Agent (connect.ts sharedAgents), against a
// real HTTPS server on loopback that counts full and resumed TLS handshakes. client-node 1.4 alone builds a
// new Agent per request: every call was a full handshake.
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect, sharedAgents } from '../../src/cluster/connect.js';
import { generateTls, type SimTls } from '../../src/sim/tls.js';
import { testKubeConfig } from './kubeconfig.js';

let server: Server;
let tls: SimTls;
let url: string;
let handshakes: boolean[] = [];

beforeAll(async () => {
  tls = await generateTls();
  server = createServer({ key: tls.key, cert: tls.cert }, (_req, res) => {
    // An empty NodeList, as kube-apiserver answers GET /api/v1/nodes on a cluster without nodes.
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ kind: 'NodeList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [] }),
    );
  });
  server.on('secureConnection', (s: TLSSocket) => handshakes.push(s.isSessionReused()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  handshakes = [];
});

const kubeConfig = (): KubeConfig => testKubeConfig(url, tls.ca);

describe('API calls of one KubeConfig', () => {
  it('resume the first TLS session instead of a full handshake each (was: a new Agent per call)', async () => {
    const api = sharedAgents(kubeConfig()).makeApiClient(CoreV1Api);
    for (let i = 0; i < 3; i++) expect((await api.listNode()).items).toEqual([]);
    expect(handshakes).toEqual([false, true, true]);
  });

  it('client-node alone: a full handshake per call (what sharedAgents changes)', async () => {
    const api = kubeConfig().makeApiClient(CoreV1Api);
    for (let i = 0; i < 3; i++) await api.listNode();
    expect(handshakes).toEqual([false, false, false]);
  });

  it('connect() returns a KubeConfig whose clients share their agent, across API groups', async () => {
    const file = join(tmpdir(), `snatguard-agents-${process.pid}.yaml`);
    await writeFile(
      file,
      `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "${url}", certificate-authority-data: ${Buffer.from(tls.ca).toString('base64')} } }]
users: [{ name: u, user: { token: t } }]
contexts: [{ name: x, context: { cluster: c, user: u } }]
current-context: x
`,
    );
    const kc = await connect({ kind: 'kubeconfig', path: file });
    await kc.makeApiClient(CoreV1Api).listNode();
    await kc.makeApiClient(CoreV1Api).listNode();
    expect(handshakes).toEqual([false, true]);
  });

  it('another server or other TLS settings get an agent of their own', async () => {
    const kc = sharedAgents(kubeConfig());
    const api = kc.makeApiClient(CoreV1Api);
    await api.listNode();
    // skip-tls-verify changes the agent's settings: not the same agent (its own full handshake).
    kc.clusters = kc.clusters.map((c) => ({ ...c, skipTLSVerify: true }));
    await kc.makeApiClient(CoreV1Api).listNode();
    expect(handshakes).toEqual([false, false]);
  });
});
