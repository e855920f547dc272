// Issue 13: one bundle chunk per cloud. Builds both serverless hosts with scripts/package.mjs's own esbuild
// options (in memory) and walks the metafile's import graph: what a host loads at start (its entry, the
// provider loader and its own cloud's sources, with every static import of those) holds only its own
// cloud's SDK. Fails on the old src/pressure/index.ts, which put both SDKs in one chunk.
import { join } from 'node:path';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../src/paths.js';

type ModelClass = { getAttributeTypeMap(): { type: string }[] };

const AZURE_SDK = /node_modules\/@azure\//;
const AWS_SDK = /node_modules\/@(aws-sdk|smithy|aws-crypto)\//;

type Outputs = Metafile['outputs'];

/** The output that holds `source` (a path relative to the package root). */
function outputOf(outputs: Outputs, source: string): string {
  const found = Object.entries(outputs).filter(([, o]) =>
    Object.keys(o.inputs).some((i) => i.endsWith(source)),
  );
  expect(
    found.map(([p]) => p),
    `exactly one output holds ${source}`,
  ).toHaveLength(1);
  return found[0]![0];
}

/** Every output loaded when `starts` load: their static imports, transitively (dynamic imports not followed). */
function staticClosure(outputs: Outputs, starts: string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [...starts];
  while (todo.length > 0) {
    const p = todo.pop()!;
    if (seen.has(p)) continue;
    seen.add(p);
    for (const i of outputs[p]!.imports) {
      if (i.kind === 'import-statement' && !i.external) todo.push(i.path);
    }
  }
  return seen;
}

const inputsOf = (outputs: Outputs, set: Set<string>) =>
  [...set].flatMap((p) => Object.keys(outputs[p]!.inputs));

describe('serverless bundles: one chunk per cloud (issue 13)', () => {
  const metas: Record<'azure' | 'lambda', Outputs> = { azure: {}, lambda: {} };

  beforeAll(async () => {
    const root = packageRoot();
    const { hostBuilds } = (await import(join(root, 'scripts/package.mjs'))) as {
      hostBuilds(dir: string): Record<'azure' | 'lambda', BuildOptions>;
    };
    const builds = hostBuilds(join(root, 'dist', 'package-split-test'));
    for (const host of ['azure', 'lambda'] as const) {
      const r = await build({
        ...builds[host],
        write: false,
        minify: false,
        metafile: true,
        logLevel: 'silent',
      });
      metas[host] = r.metafile!.outputs;
    }
  }, 120_000);

  const hosts = [
    {
      host: 'lambda',
      entry: 'src/hosts/lambda.ts',
      own: 'src/pressure/aws-sources.ts',
      ownSdk: AWS_SDK,
      otherSdk: AZURE_SDK,
    },
    {
      host: 'azure',
      entry: 'functions/scan.ts',
      own: 'src/pressure/azure-sources.ts',
      ownSdk: AZURE_SDK,
      otherSdk: AWS_SDK,
    },
  ] as const;

  for (const h of hosts) {
    it(`${h.host}: entry + provider loader + its cloud's chunk reach no other cloud's SDK code`, () => {
      const outputs = metas[h.host];
      // The host's entry (every dynamic import target is an entry point in the metafile too).
      const entries = Object.entries(outputs).filter(([, o]) => o.entryPoint?.endsWith(h.entry));
      expect(entries).toHaveLength(1);
      const entry = entries[0]![0];
      const loader = outputOf(outputs, 'src/pressure/load.ts');
      const own = outputOf(outputs, h.own);
      // The loader reaches the cloud's chunk only through a dynamic import (chosen by provider).
      expect(outputs[loader]!.imports).toContainEqual(
        expect.objectContaining({ path: own, kind: 'dynamic-import' }),
      );
      expect(staticClosure(outputs, [entry])).not.toContain(own);
      const inputs = inputsOf(outputs, staticClosure(outputs, [entry, loader, own]));
      expect(inputs.filter((i) => h.otherSdk.test(i))).toEqual([]);
      // The check can see SDK code: the host's own cloud's SDK is there.
      expect(inputs.some((i) => h.ownSdk.test(i))).toBe(true);
    });

    it(`${h.host}: no output, with what it imports statically, holds both clouds' SDK code`, () => {
      const outputs = metas[h.host];
      const both = Object.keys(outputs).filter((p) => {
        const inputs = inputsOf(outputs, staticClosure(outputs, [p]));
        return inputs.some((i) => AZURE_SDK.test(i)) && inputs.some((i) => AWS_SDK.test(i));
      });
      expect(both).toEqual([]);
      // Each cloud's sources are in the bundle (configured by provider), each with its own SDK.
      const azure = inputsOf(
        outputs,
        staticClosure(outputs, [outputOf(outputs, 'src/pressure/azure-sources.ts')]),
      );
      expect(azure.some((i) => AZURE_SDK.test(i))).toBe(true);
      const aws = inputsOf(
        outputs,
        staticClosure(outputs, [outputOf(outputs, 'src/pressure/aws-sources.ts')]),
      );
      expect(aws.some((i) => AWS_SDK.test(i))).toBe(true);
    });
  }

  // scripts/package.mjs keeps the client-node models its kept API methods can reach by type name (the
  // serializer passes an unknown type through as plain JSON, silently). Checked here through another path:
  // the real client's classes at run time, from the types snatguard's calls read and write.
  it('every model reachable from the objects snatguard reads and writes is bundled; most others are not', async () => {
    const models = (await import('@kubernetes/client-node/dist/gen/models/all.js')) as unknown as Record<
      string,
      ModelClass
    >;
    // listNamespacedPod/listPodForAllNamespaces, listNode, listReplicaSetForAllNamespaces, read and patch of
    // the workloads, the lease and the state ConfigMap, and the API's error body.
    const roots = ['V1PodList', 'V1NodeList', 'V1ReplicaSetList', 'V1ReplicaSet', 'V1Deployment'];
    roots.push('V1StatefulSet', 'V1DaemonSet', 'V1Job', 'V1Lease', 'V1ConfigMap', 'V1Status');
    const needed = new Set<string>();
    const todo = [...roots];
    while (todo.length > 0) {
      const name = todo.pop()!;
      if (needed.has(name) || !models[name]) continue;
      needed.add(name);
      for (const a of models[name]!.getAttributeTypeMap())
        for (const t of a.type.match(/\w+/g) ?? []) if (models[t]) todo.push(t);
    }
    expect(needed.size).toBeGreaterThan(100);
    for (const host of ['azure', 'lambda'] as const) {
      const bundled = new Set(
        Object.values(metas[host])
          .flatMap((o) => Object.keys(o.inputs))
          .map((i) => /client-node\/dist\/gen\/models\/(\w+)\.js$/.exec(i)?.[1])
          .filter((m): m is string => !!m),
      );
      expect([...needed].filter((m) => !bundled.has(m))).toEqual([]);
      expect(bundled.size).toBeLessThan(Object.keys(models).length / 2);
    }
  });
});
