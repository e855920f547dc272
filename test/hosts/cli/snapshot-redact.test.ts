// `snatguard snapshot --redact` (issue 15): every name and address field is replaced, consistently within
// the file; a replay of the redacted file decides the same things (under the new names); public
// destinations stay with --keep-destinations. The test walks the captured document, collects every value
// that names something (names, namespaces, label values, addresses, provider ids and their parts, cloud
// coordinates, NAT gateway ids) and asserts none survives anywhere in the redacted text.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../../src/model.js';
import { parseSnapshot } from '../../../src/sim/snapshot.js';
import type { SnapshotDoc } from '../../../src/snapshot/capture.js';
import { redactSnapshot, SYSTEM_NAMESPACES } from '../../../src/snapshot/redact.js';
import { classify } from '../../../src/sockets/address.js';
import { bundleCli } from '../../cli-bundle.js';
import { captureThroughSimEnv, kitchenSinkAzure, parse, replay } from './snapshot-helpers.js';

let bundle: string;
let home: string;
let plain: SnapshotDoc;
beforeAll(async () => {
  bundle = await bundleCli();
  home = await mkdtemp(join(tmpdir(), 'snatguard-home-'));
  const captured = await captureThroughSimEnv(bundle, home, kitchenSinkAzure());
  expect(captured.code).toBe(0);
  plain = JSON.parse(captured.text) as SnapshotDoc;
}, 120_000);
afterAll(async () => {
  await rm(dirname(bundle), { recursive: true, force: true });
  await rm(home, { recursive: true, force: true });
});

const KEY = new Uint8Array(32).fill(7);

/** The address in `IP:PORT`, `[v6]:PORT`, `IP`, `:PORT` (none). */
const addressOf = (endpoint: string): string | undefined => {
  const v6 = /^\[([^\]]+)\]:\d+$/.exec(endpoint);
  if (v6) return v6[1];
  const v4 = /^([\d.]+):\d+$/.exec(endpoint);
  if (v4) return v4[1];
  return endpoint.startsWith(':') ? undefined : endpoint;
};

/** Not identifying, kept on purpose (see redact.ts): loopback, unspecified, link-local. */
const keptAddress = (a: string): boolean => ['loopback', 'unspecified', 'link-local'].includes(classify(a));

/** Every value of the document that names a thing, with where it was found. */
function identifying(doc: SnapshotDoc, options: { keepDestinations: boolean }): Map<string, string> {
  const out = new Map<string, string>();
  const add = (value: string | undefined, at: string) => {
    if (value !== undefined && value !== '') out.set(value, at);
  };
  const addAddress = (endpoint: string | undefined, at: string) => {
    const a = endpoint === undefined ? undefined : addressOf(endpoint);
    if (a === undefined || keptAddress(a)) return;
    if (options.keepDestinations && classify(a) === 'public') return;
    add(a, at);
  };
  add(doc.metadata.name, 'metadata.name');
  const az = doc.cloud.azure;
  if (az) {
    add(az.subscriptionId, 'cloud.azure.subscriptionId');
    add(az.resourceGroup, 'cloud.azure.resourceGroup');
    add(az.clusterName, 'cloud.azure.clusterName');
    add(az.nodeResourceGroup, 'cloud.azure.nodeResourceGroup');
  }
  for (const [i, g] of (doc.cloud.aws?.natGateways ?? []).entries())
    add(g.id, `cloud.aws.natGateways[${i}].id`);
  if (doc.cloud.aws) add(doc.cloud.aws.clusterName, 'cloud.aws.clusterName');
  doc.nodes.forEach((n, i) => {
    add(n.name, `nodes[${i}].name`);
    addAddress(n.internalIP, `nodes[${i}].internalIP`);
    add(n.providerID, `nodes[${i}].providerID`);
    // Each part of a provider id names something too: subscription, resource group, scale set, instance.
    const parts = /subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/.*virtualMachineScaleSets\/([^/]+)/.exec(
      n.providerID ?? '',
    );
    for (const p of parts?.slice(1) ?? []) add(p, `nodes[${i}].providerID`);
    n.hostSockets?.forEach((s, j) => {
      addAddress(s.remote, `nodes[${i}].hostSockets[${j}].remote`);
      addAddress(s.local, `nodes[${i}].hostSockets[${j}].local`);
    });
  });
  doc.workloads.forEach((w, i) => {
    const system = SYSTEM_NAMESPACES.has(w.namespace);
    if (!system && w.namespace !== 'default') add(w.namespace, `workloads[${i}].namespace`);
    if (!system) {
      add(w.name, `workloads[${i}].name`);
      for (const [k, v] of Object.entries(w.labels)) add(v, `workloads[${i}].labels.${k}`);
    }
    w.pods.forEach((p, j) => {
      if (!system) add(p.name, `workloads[${i}].pods[${j}].name`);
      add(p.node, `workloads[${i}].pods[${j}].node`);
      addAddress(p.ip, `workloads[${i}].pods[${j}].ip`);
      p.sockets?.forEach((s, k) => {
        addAddress(s.remote, `workloads[${i}].pods[${j}].sockets[${k}].remote`);
        addAddress(s.local, `workloads[${i}].pods[${j}].sockets[${k}].local`);
      });
    });
  });
  return out;
}

/** Every string value in the document (keys are the format's, not the cluster's), one per line. */
const valuesText = (doc: unknown): string => {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(doc);
  return out.join('\n');
};

/** Where `value` occurs as a whole token (not inside a longer name or address) in `text`. */
const occurs = (text: string, value: string): boolean => {
  const escaped = value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^A-Za-z0-9.:_-])${escaped}($|[^A-Za-z0-9_-]|\\.[^0-9]|:[^0-9a-f])`, 'im').test(text);
};

/** Decisions with the names taken out: what must not change when only names change. */
const shape = (r: RunReport) => ({
  status: r.status,
  hot: r.nodes.filter((n) => n.hot).length,
  nodes: r.nodes
    .map((n) => [n.hot, n.podsInspected, n.podsUninspectable, n.podsFailed ?? 0, n.snatSockets])
    .sort(),
  offenders: r.offenders
    .map((o) => [o.method, o.snatSockets, o.topDestinations.map((d) => d.sockets)])
    .sort(),
  actions: r.actions.map((a) => [a.status, a.skipReason ?? null]).sort(),
  recommendations: r.recommendations.map((x) => x.id).sort(),
});

describe('snatguard snapshot --redact', () => {
  it('replaces every name and address field: none of the originals survives anywhere in the file', () => {
    const redacted = redactSnapshot(plain, { keepDestinations: false, key: KEY });
    const text = valuesText(redacted);
    const originals = identifying(plain, { keepDestinations: false });
    // The walk found what the cluster has: nodes, pods, addresses, provider id parts, public peers.
    expect(originals.size).toBeGreaterThan(60);
    for (const v of ['aks-sink', 'rg-sink', '20.50.1.10', '2001:db8:5::7', '10.224.0.4', 'orders', 'shop'])
      expect([...originals.keys()], v).toContain(v);
    const survivors = [...originals].filter(([v]) => occurs(text, v)).map(([v, at]) => `${at}: ${v}`);
    expect(survivors).toEqual([]);
    // Free text names things too: the missing lines name pods, and are redacted with them.
    expect(redacted.metadata.capture.missing?.length).toBe(plain.metadata.capture.missing?.length);
    expect(redacted.metadata.capture.redacted).toBe(true);
  });

  it('replaces the case-insensitive cloud names and the subscription in free text in any spelling', () => {
    // ARM names are case-insensitive: AKS reports nodeResourceGroup `MC_Shop-Prod_AksProd_westeurope` and its
    // provider ids say `mc_shop-prod_aksprod_westeurope`. Text may carry either (this failed: only the
    // lower-cased spelling the redactor keeps was replaced in annotations and capture lines).
    const doc = structuredClone(plain);
    const az = doc.cloud.azure!;
    az.subscriptionId = '9F0E1D2C-3B4A-4958-8776-A5B4C3D2E1F0';
    az.resourceGroup = 'Shop-Prod';
    az.clusterName = 'AksProd';
    az.nodeResourceGroup = 'MC_Shop-Prod_AksProd_westeurope';
    const spellings = [
      'MC_Shop-Prod_AksProd_westeurope',
      'mc_shop-prod_aksprod_westeurope',
      'AksProd',
      'AKSPROD',
      'Shop-Prod',
      '9F0E1D2C-3B4A-4958-8776-A5B4C3D2E1F0',
      '9f0e1d2c-3b4a-4958-8776-a5b4c3d2e1f0',
    ];
    doc.workloads[0]!.annotations['example.com/owner'] = `cluster ${spellings.join(', ')}`;
    doc.metadata.capture.missing = [...(doc.metadata.capture.missing ?? []), `node group of ${spellings[1]}`];
    const r = redactSnapshot(doc, { keepDestinations: false, key: KEY });
    const text = valuesText(r);
    const survivors = spellings.filter((v) => text.toLowerCase().includes(v.toLowerCase()));
    expect(survivors).toEqual([]);
    // Each spelling became the one replacement of its original.
    const note = r.workloads[0]!.annotations['example.com/owner']!;
    expect(note).toContain(r.cloud.azure!.nodeResourceGroup!);
    expect(note).toContain(r.cloud.azure!.clusterName!);
    expect(note).toContain(r.cloud.azure!.subscriptionId!);
    expect(r.metadata.capture.missing!.at(-1)).toContain(r.cloud.azure!.nodeResourceGroup!);
  });

  it('is consistent within the file (one replacement per original) and keeps the classes of addresses', () => {
    const r = redactSnapshot(plain, { keepDestinations: false, key: KEY });
    const nodeNames = new Set(r.nodes.map((n) => n.name));
    for (const w of r.workloads) for (const p of w.pods) expect(nodeNames).toContain(p.node);
    // Pods of one Deployment share the template hash; their names stay NAME-HASH-XXXXX under the new name.
    const orders = r.workloads.find((w) => w.pods.length === 3 && w.kind === 'Deployment')!;
    const hashes = new Set(orders.pods.map((p) => p.name.split('-').slice(-2)[0]));
    expect(hashes.size).toBe(1);
    for (const p of orders.pods) expect(p.name.startsWith(`${orders.name}-`)).toBe(true);
    // Same original, same replacement; a different key, different replacements; the same key, the same file.
    expect(redactSnapshot(plain, { keepDestinations: false, key: KEY })).toEqual(r);
    expect(
      redactSnapshot(plain, { keepDestinations: false, key: new Uint8Array(32).fill(9) }).nodes[0]!.name,
    ).not.toBe(r.nodes[0]!.name);
    // Pod IPs stay in the pod CIDR, node IPs private, public peers public.
    for (const w of r.workloads)
      for (const p of w.pods) if (p.ip) expect(p.ip.startsWith('10.244.'), p.ip).toBe(true);
    for (const n of r.nodes) expect(classify(n.internalIP!)).toBe('private');
    const remotes = r.workloads.flatMap((w) => w.pods.flatMap((p) => p.sockets ?? [])).map((s) => s.remote);
    const publicOnes = remotes.filter((x) => x && /^(20\.|198\.1[89]\.|\[2001:db8)/.test(x));
    expect(publicOnes.length).toBeGreaterThan(0);
    for (const x of publicOnes) expect(classify(addressOf(x!)!)).toBe('public');
  });

  it('replays to the same decisions as the plain capture, under the new names', async () => {
    const redacted = redactSnapshot(plain, { keepDestinations: false, key: KEY });
    const [a, b] = await Promise.all([
      replay(parse(plain)),
      replay(parseSnapshot(JSON.stringify(redacted), 'redacted')),
    ]);
    expect(a.offenders.length).toBeGreaterThan(3);
    expect(shape(b)).toEqual(shape(a));
  }, 120_000);

  it('--keep-destinations keeps public destinations and nothing else', () => {
    const r = redactSnapshot(plain, { keepDestinations: true, key: KEY });
    const text = valuesText(r);
    expect(text).toContain('20.50.1.10:27017');
    expect(text).toContain('[2001:db8:5::7]:27017');
    expect(r.metadata.capture.keepDestinations).toBe(true);
    const survivors = [...identifying(plain, { keepDestinations: true })].filter(([v]) => occurs(text, v));
    expect(survivors).toEqual([]);
  });

  it('the CLI flag: a redacted, loadable file without the cluster names', async () => {
    const captured = await captureThroughSimEnv(bundle, home, kitchenSinkAzure(), [
      '--redact',
      '--nodes',
      'hot',
    ]);
    expect(captured.code).toBe(0);
    const s = parseSnapshot(captured.text, 'redacted capture');
    expect(s.metadata.capture).toMatchObject({ redacted: true, nodes: 'hot' });
    expect(captured.text).not.toMatch(/aks-pool-20250101|aks-sink|rg-sink|"shop"|20\.50\.1\.10/);
    // --nodes hot: every node is listed, pods only on the hot two.
    expect(s.nodes).toHaveLength(3);
    expect(new Set(s.workloads.flatMap((w) => w.pods.map((p) => p.node))).size).toBe(2);
  }, 120_000);
});
