// The simulator answers the requests snatguard makes with the Status bodies a real kube-apiserver sends:
// each fixture in test/fixtures/wire/kube-real was captured from v1.20.2 (../shared/tools/kube-real)
// and is replayed here, unchanged, against the simulator. Only the user name differs (the simulator's
// job runs as its ServiceAccount, the capture as the certificate user "snatguard").
import { readdirSync, readFileSync } from 'node:fs';
import https from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSim, startSim } from '../../src/sim/server.js';
import { parseSnapshot } from '../../src/sim/snapshot.js';

interface Fixture {
  source: string;
  request: { method: string; path: string; body?: unknown };
  status: number;
  /** A Status body, verbatim. */
  body?: string;
  /** A list page: its envelope verbatim, the items cut to their names. */
  envelope?: { kind: string; apiVersion: string; metadata: Record<string, unknown>; itemNames: string[] };
}

const DIR = new URL('../fixtures/wire/kube-real/', import.meta.url);
const fixtures = readdirSync(DIR)
  .filter((f) => f.endsWith('.json') && !f.startsWith('exec-'))
  .map((f) => [f, JSON.parse(readFileSync(new URL(f, DIR), 'utf8')) as Fixture] as const);

const SNAPSHOT = `
apiVersion: snatguard.io/v1
kind: Snapshot
metadata: { name: kube-real-status }
cloud: { provider: none }
cluster: { version: "1.31", podCIDR: 10.244.0.0/16, serviceCIDR: 10.0.0.0/16 }
nodes:
  - { name: node-a, internalIP: 10.224.0.4 }
  - { name: node-b, internalIP: 10.224.0.5 }
workloads:
  - kind: Deployment
    namespace: shop
    name: web
    pods: [{ node: node-a }]
`;

let sim: RunningSim;
let kc: KubeConfig;

async function send(method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const server = kc.getCurrentCluster()?.server ?? '';
  return new Promise((resolve, reject) => {
    const req = https.request(`${server}${path}`, {
      ...opts,
      method,
      headers: { ...opts.headers, 'content-type': 'application/json', accept: 'application/json' },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString('utf8');
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

beforeAll(async () => {
  sim = await startSim(parseSnapshot(SNAPSHOT, 'kube-real-status'));
  kc = new KubeConfig();
  kc.loadFromFile(sim.jobKubeconfigPath);
  // The captures ran after creating the Lease "fz" once.
  const lease = fixtures.find(([f]) => f === 'lease-create-exists.json')?.[1];
  if (lease) expect((await send('POST', lease.request.path, lease.request.body)).status).toBe(201);
});

afterAll(async () => {
  await sim?.close();
});

const asJob = (text: string): unknown =>
  JSON.parse(text.replaceAll('User \\"snatguard\\"', 'User \\"system:serviceaccount:snatguard:snatguard\\"'));

describe('Status bodies as kube-apiserver v1.20.2 sends them', () => {
  it('has the captures snatguard depends on', () => {
    expect(fixtures.map(([f]) => f).sort()).toEqual([
      'deployment-not-found.json',
      'lease-create-exists.json',
      'lease-create-millisecond-time.json',
      'lease-list-forbidden.json',
      'lease-update-stale.json',
      'lease-update-without-resourceversion.json',
      'list-nodes-page.json',
      'list-pods-field-label-not-supported.json',
      'list-pods-field-selector-page.json',
    ]);
  });

  it.each(fixtures)('%s', async (_file, f) => {
    expect(f.source).toMatch(/^kube-apiserver v1\.20\.2/);
    const answer = await send(f.request.method, f.request.path, f.request.body);
    expect(answer.status).toBe(f.status);
    if (f.body !== undefined) {
      expect(JSON.parse(answer.body)).toEqual(asJob(f.body));
      return;
    }
    // A list page: the same kind, the same metadata fields (continue, and remainingItemCount only
    // when no selector filtered the list), as many items; tokens and versions are the server's own.
    const page = JSON.parse(answer.body) as {
      kind: string;
      apiVersion: string;
      metadata: object;
      items: unknown[];
    };
    expect({ kind: page.kind, apiVersion: page.apiVersion }).toEqual({
      kind: f.envelope?.kind,
      apiVersion: f.envelope?.apiVersion,
    });
    expect(Object.keys(page.metadata).sort()).toEqual(Object.keys(f.envelope?.metadata ?? {}).sort());
    expect(page.items).toHaveLength(f.envelope?.itemNames.length ?? -1);
  });
});
