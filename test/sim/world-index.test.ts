// The simulator indexes pods by node and by owner (issue 13: a field-selector list costs what it returns),
// and loads JSON snapshots with JSON.parse. The indexes must agree with a full scan after every kind of write.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ValidationError } from '../../src/errors.js';
import { parseSnapshot } from '../../src/sim/snapshot.js';
import { World } from '../../src/sim/world.js';

const yaml = readFileSync('examples/aks-mongo-leak.yaml', 'utf8');

const byNodeFromScan = (world: World, node: string) =>
  world
    .list('pods')
    .filter((p) => p.spec?.nodeName === node)
    .map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
const byNodeFromIndex = (world: World, node: string) =>
  world.list('pods', undefined, node).map((p) => `${p.metadata.namespace}/${p.metadata.name}`);

describe('pods by node', () => {
  it('a node-selected list equals the filtered full list, before and after a rollout restart and a delete', () => {
    const world = new World(parseSnapshot(yaml, 'aks-mongo-leak.yaml'));
    const nodes = world.snapshot.nodes.map((n) => n.name);
    const check = () => {
      for (const n of nodes) expect(byNodeFromIndex(world, n)).toEqual(byNodeFromScan(world, n));
    };
    check();
    expect(byNodeFromIndex(world, nodes[0]!).length).toBeGreaterThan(0);
    // A rollout restart: the pod template changes, the controller replaces the pods.
    const d = world.get('deployments', 'shop', 'orders-api');
    d.spec.template.metadata = {
      ...d.spec.template.metadata,
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-23T22:00:00Z' },
    };
    world.update('deployments', 'shop', 'orders-api', d);
    check();
    const victim = world.list('pods', 'shop')[0]!;
    world.delete('pods', 'shop', victim.metadata.name);
    check();
    expect(byNodeFromIndex(world, 'no-such-node')).toEqual([]);
  });
});

describe('JSON snapshots', () => {
  const asJson = JSON.stringify(parseSnapshotSource());
  function parseSnapshotSource(): unknown {
    // The example as plain data (the YAML parser's view), written back as JSON.
    return parseYaml(yaml);
  }

  it('load through JSON.parse to the same snapshot as the YAML text', () => {
    expect(parseSnapshot(asJson, 'x.json')).toEqual(parseSnapshot(yaml, 'x.yaml'));
  });

  it('still reject a duplicate key, with its line and column', () => {
    const dup = asJson.replace('"kind":"Snapshot"', '"kind":"Snapshot","kind":"Snapshot"');
    expect(() => parseSnapshot(dup, 'dup.json')).toThrow(ValidationError);
    expect(() => parseSnapshot(dup, 'dup.json')).toThrow(/line 1, column \d+: Map keys must be unique/);
  });

  it('name every schema problem as the YAML path does', () => {
    const bad = asJson.replace('"kind":"Snapshot"', '"kind":"Snapshot","typo":1');
    expect(() => parseSnapshot(bad, 'bad.json')).toThrow(/typo/);
  });
});
