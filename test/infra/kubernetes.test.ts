// infra/kubernetes: every manifest parses (multi-document YAML) and is valid for its kind (zod schemas
// of the fields we rely on), pods are locked down, the CronJob and the node probe do what the code
// expects (namespace, ServiceAccount, config keys, probe label).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configLeaves, defaultConfig, envPassthrough } from '../../src/config/index.js';
import {
  HOST_READ_SETTINGS,
  KUBERNETES_NAMES,
  KUBERNETES_SETUP_COMMANDS,
  SECRET_SETTINGS,
} from '../../src/permissions.js';
import {
  filesUnder,
  infraDir,
  loadManifests,
  type Manifest,
  readRepoFile,
  repoRoot,
  terraformModule,
} from './helpers.js';

const files = filesUnder(`${infraDir}/kubernetes`, ['.yaml', '.yml']);
const manifestFiles = files.filter((f) => !f.endsWith('kustomization.yaml'));
/** Applied only with the option they serve (not in kustomization.yaml): node-sockets.yaml for inspect.nodeProbeFallback. */
const OPT_IN = ['node-sockets.yaml'];
const all: Manifest[] = manifestFiles.flatMap(loadManifests);
const applied = all.filter((m) => !OPT_IN.includes(m.file.split('/').pop()!));
const ofKind = (kind: string): Manifest[] => all.filter((m) => m.doc.kind === kind);

// ---- structural schemas per kind ---------------------------------------------------------------

const name = z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
const labels = z.record(z.string(), z.string());
const clusterMeta = z.object({ name, labels: labels.optional() });
const namespacedMeta = clusterMeta.extend({ namespace: name });
const quantity = z.union([z.string().regex(/^\d+(\.\d+)?(m|Ki|Mi|Gi)?$/), z.number()]);
const resources = z.object({
  requests: z.object({ cpu: quantity, memory: quantity }),
  limits: z.object({ memory: quantity }).and(z.object({ cpu: quantity.optional() })),
});
const containerSecurity = z.object({
  allowPrivilegeEscalation: z.literal(false),
  readOnlyRootFilesystem: z.literal(true),
  privileged: z.literal(false).optional(),
  // Only the node probe's `conntrack` container adds one (NET_ADMIN: its own test below).
  capabilities: z.object({
    drop: z.tuple([z.literal('ALL')]),
    add: z.tuple([z.literal('NET_ADMIN')]).optional(),
  }),
});
const envVar = z.object({
  name: z.string(),
  value: z.string().optional(),
  valueFrom: z.object({}).passthrough().optional(),
});
const container = z.object({
  name,
  image: z
    .string()
    .regex(/^[^:@]+(:[\w][\w.-]*|@sha256:[0-9a-f]{64})$/)
    .refine((i) => !i.endsWith(':latest'), 'pinned tag'),
  securityContext: containerSecurity,
  resources,
  env: z.array(envVar).optional(),
});
const podSpec = z.object({
  containers: z.array(container).min(1),
  securityContext: z.object({
    runAsNonRoot: z.literal(true),
    runAsUser: z.number().int().positive(),
    seccompProfile: z.object({ type: z.literal('RuntimeDefault') }),
  }),
  // Only node-sockets.yaml (its own test below) is in the host's PID namespace.
  hostPID: z.boolean().optional(),
  hostIPC: z.never().optional(),
});
const podTemplate = z.object({ metadata: z.object({ labels }), spec: podSpec });
const rule = z.object({
  apiGroups: z.array(z.string()).min(1),
  resources: z.array(z.string()).min(1),
  verbs: z
    .array(z.enum(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection']))
    .min(1),
  resourceNames: z.array(z.string()).optional(),
});
const subject = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('ServiceAccount'), name, namespace: name }),
  z.object({
    kind: z.literal('Group'),
    name: z.string().min(1),
    apiGroup: z.literal('rbac.authorization.k8s.io'),
  }),
  z.object({
    kind: z.literal('User'),
    name: z.string().min(1),
    apiGroup: z.literal('rbac.authorization.k8s.io'),
  }),
]);
const roleRef = (kind: string) =>
  z.object({ apiGroup: z.literal('rbac.authorization.k8s.io'), kind: z.literal(kind), name });

const SCHEMAS: Record<string, z.ZodType> = {
  'v1/Namespace': z.object({ metadata: clusterMeta }),
  'v1/ServiceAccount': z.object({ metadata: namespacedMeta }),
  'v1/ConfigMap': z.object({ metadata: namespacedMeta, data: z.record(z.string(), z.string()) }),
  'rbac.authorization.k8s.io/v1/ClusterRole': z.object({
    metadata: clusterMeta,
    rules: z.array(rule).min(1),
  }),
  'rbac.authorization.k8s.io/v1/Role': z.object({ metadata: namespacedMeta, rules: z.array(rule).min(1) }),
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': z.object({
    metadata: clusterMeta,
    roleRef: roleRef('ClusterRole'),
    subjects: z.array(subject).min(1),
  }),
  'rbac.authorization.k8s.io/v1/RoleBinding': z.object({
    metadata: namespacedMeta,
    roleRef: z.union([roleRef('Role'), roleRef('ClusterRole')]),
    subjects: z.array(subject).min(1),
  }),
  'batch/v1/CronJob': z.object({
    metadata: namespacedMeta,
    spec: z.object({
      schedule: z.string().regex(/^(\S+\s+){4}\S+$/), // 5 fields
      concurrencyPolicy: z.literal('Forbid'),
      startingDeadlineSeconds: z.number().int().positive(),
      jobTemplate: z.object({
        spec: z.object({
          backoffLimit: z.literal(0),
          activeDeadlineSeconds: z.number().int().positive(),
          template: podTemplate.extend({
            spec: podSpec.extend({ restartPolicy: z.enum(['Never', 'OnFailure']), serviceAccountName: name }),
          }),
        }),
      }),
    }),
  }),
  'apps/v1/DaemonSet': z.object({
    metadata: namespacedMeta,
    spec: z.object({
      selector: z.object({ matchLabels: labels }),
      template: podTemplate,
    }),
  }),
};

const kindOf = (m: Manifest): string => `${m.doc.apiVersion}/${m.doc.kind}`;

describe('Kubernetes manifests', () => {
  it('finds the manifests', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'infra/kubernetes/cronjob.yaml',
        'infra/kubernetes/namespace.yaml',
        'infra/kubernetes/node-probe.yaml',
        'infra/kubernetes/rbac.yaml',
        'infra/kubernetes/kustomization.yaml',
      ]),
    );
  });

  it.each(files)('%s parses as YAML', (file) => {
    expect(loadManifests(file).length).toBeGreaterThan(0);
  });

  it.each(all.map((m) => [`${m.file}#${m.index} ${m.doc.kind}/${m.doc.metadata?.name}`, m] as const))(
    '%s is valid for its kind',
    (_label, m) => {
      const schema = SCHEMAS[kindOf(m)];
      expect(schema, `no schema for ${kindOf(m)}`).toBeDefined();
      const result = schema!.safeParse(m.doc);
      expect(
        result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
      ).toEqual([]);
    },
  );

  it('rejects a CronJob that allows concurrent runs or runs as root (the validator can fail)', () => {
    const [cron] = ofKind('CronJob');
    const bad = structuredClone(cron!.doc);
    bad.spec.concurrencyPolicy = 'Allow';
    bad.spec.jobTemplate.spec.template.spec.securityContext.runAsNonRoot = false;
    const issues = SCHEMAS['batch/v1/CronJob']!.safeParse(bad).error?.issues.map((i) => i.path.join('.'));
    expect(issues).toEqual(
      expect.arrayContaining([
        'spec.concurrencyPolicy',
        'spec.jobTemplate.spec.template.spec.securityContext.runAsNonRoot',
      ]),
    );
  });

  it('puts every namespaced object in the snatguard namespace, which a manifest creates', () => {
    const namespaces = new Set(all.map((m) => m.doc.metadata.namespace).filter((n) => n !== undefined));
    expect([...namespaces]).toEqual([KUBERNETES_NAMES.namespace]);
    expect(ofKind('Namespace').map((m) => m.doc.metadata.name)).toEqual([KUBERNETES_NAMES.namespace]);
  });

  it('lists every manifest in kustomization.yaml', () => {
    const [k] = loadManifests('infra/kubernetes/kustomization.yaml');
    expect(k?.doc.kind).toBe('Kustomization');
    expect([...((k?.doc.resources ?? []) as string[])].sort()).toEqual(
      manifestFiles
        .map((f) => f.split('/').pop())
        .filter((f) => !OPT_IN.includes(f!))
        .sort(),
    );
  });

  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
  // Skipped without kubectl, except in CI (CI=true), where a missing kubectl fails.
  it.runIf(kubectl || process.env.CI === 'true')(
    'kubectl kustomize builds the whole set (required in CI)',
    () => {
      expect(kubectl, 'kubectl not found (CI requires it)').toBe(true);
      const out = spawnSync('kubectl', ['kustomize', 'infra/kubernetes'], {
        cwd: repoRoot,
        encoding: 'utf8',
      });
      expect(out.stderr).toBe('');
      expect(out.status).toBe(0);
      expect(out.stdout.split(/^---$/m)).toHaveLength(applied.length);
    },
  );
});

describe('cronjob.yaml', () => {
  const [cron] = ofKind('CronJob');
  const job = cron?.doc.spec.jobTemplate.spec;
  const pod = job?.template.spec;
  const main = pod?.containers[0];
  const configMapName = main?.envFrom?.find((e: { configMapRef?: unknown }) => e.configMapRef)?.configMapRef
    .name;
  const configMap = ofKind('ConfigMap').find((m) => m.doc.metadata.name === configMapName);

  it('runs `scan --output json` every 5 minutes as the rbac.yaml ServiceAccount, in-cluster', () => {
    expect(cron?.doc.spec.schedule).toBe('*/5 * * * *');
    expect(main?.image).toBe('ghcr.io/snatguard/snatguard:0.1.0');
    expect(main?.args).toEqual(['scan', '--output', 'json']);
    expect(pod?.serviceAccountName).toBe(KUBERNETES_NAMES.serviceAccount);
    const sa = ofKind('ServiceAccount').find((m) => m.doc.metadata.name === pod?.serviceAccountName);
    expect(sa?.file).toBe('infra/kubernetes/rbac.yaml');
    expect(sa?.doc.metadata.namespace).toBe(cron?.doc.metadata.namespace);
    expect(configMap?.doc.data.SNATGUARD_CLUSTER_CONNECTION).toBe('in-cluster');
    expect(configMap?.doc.data.SNATGUARD_MODE).toBe('dry-run');
  });

  it('ends the run (deadlineSeconds) before activeDeadlineSeconds, and that before the next schedule', () => {
    const deadline = Number(configMap?.doc.data.SNATGUARD_DEADLINE_SECONDS);
    expect(deadline).toBeGreaterThan(0);
    expect(deadline).toBeLessThan(job.activeDeadlineSeconds);
    expect(job.activeDeadlineSeconds).toBeLessThanOrEqual(300);
  });

  it('sets only SNATGUARD_ variables the config loader knows, and no secret in the ConfigMap', () => {
    const known = new Set([...configLeaves().map((l) => l.env), ...envPassthrough, ...HOST_READ_SETTINGS]);
    const keys = [
      ...Object.keys(configMap?.doc.data ?? {}),
      ...(main?.env ?? []).map((e: { name: string }) => e.name),
    ];
    expect(keys.filter((k) => !known.has(k))).toEqual([]);
    expect(keys.filter((k) => (SECRET_SETTINGS as readonly string[]).includes(k))).toEqual([]);
  });

  it('takes chat settings from an optional Secret', () => {
    expect(main?.envFrom).toContainEqual({ secretRef: { name: 'snatguard-notify', optional: true } });
  });

  it('takes the namespace of the Lease and state ConfigMap from the pod itself', () => {
    expect(main?.env).toContainEqual({
      name: 'SNATGUARD_NAMESPACE',
      valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } },
    });
  });
});

describe('node-probe.yaml', () => {
  const [probe] = ofKind('DaemonSet');
  const pod = probe?.doc.spec.template.spec;

  it('carries the label snatguard looks for by default, on a hostNetwork pod', () => {
    const [key, value] = defaultConfig().inspect.probeSelector.split('=');
    expect(value).toBe('snatguard-node-probe');
    expect(probe?.doc.metadata.namespace).toBe(defaultConfig().namespace);
    expect(probe?.doc.spec.template.metadata.labels[key!]).toBe(value);
    expect(probe?.doc.spec.selector.matchLabels[key!]).toBe(value);
    expect(pod?.hostNetwork).toBe(true);
  });

  it('runs everywhere with the least it needs: no token, no host paths, tiny resources, cat available', () => {
    expect(pod?.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(pod?.automountServiceAccountToken).toBe(false);
    expect(pod?.volumes).toBeUndefined();
    expect(pod?.containers.map((c: { name: string }) => c.name)).toEqual(['probe', 'conntrack']);
    expect(pod?.containers[0].image).toBe('busybox:1.36');
    expect(pod?.containers[0].resources.limits.memory).toBe('32Mi');
  });

  it('lists the conntrack table from a container with NET_ADMIN only, the one capability added anywhere', async () => {
    const { CONNTRACK_CONTAINER } = await import('../../src/cluster/node-flows.js');
    const conntrack = pod?.containers.find((c: { name: string }) => c.name === CONNTRACK_CONTAINER);
    expect(conntrack?.image).toBe('ghcr.io/snatguard/node-probe:0.1.0');
    expect(conntrack?.securityContext).toMatchObject({
      runAsUser: 0,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'], add: ['NET_ADMIN'] },
    });
    expect(pod?.containers[0].securityContext.capabilities).toEqual({ drop: ['ALL'] });
    const adding = all.flatMap((m) => {
      const spec = m.doc.spec?.jobTemplate?.spec?.template?.spec ?? m.doc.spec?.template?.spec;
      return (spec?.containers ?? [])
        .filter(
          (c: { securityContext?: { capabilities?: { add?: string[] } } }) =>
            c.securityContext?.capabilities?.add,
        )
        .map((c: { name: string }) => `${m.doc.metadata.name}/${c.name}`);
    });
    expect(adding).toEqual(['snatguard-node-probe/conntrack']);
  });
});

describe('node-sockets.yaml (opt-in: inspect.nodeProbeFallback)', () => {
  const sockets = ofKind('DaemonSet').find((m) => m.doc.metadata.name === 'snatguard-node-sockets');
  const pod = sockets?.doc.spec.template.spec;

  it('is the only hostPID pod, and has nothing else: no hostNetwork, no capability, no token, no host path, not root', () => {
    expect(
      all.filter((m) => m.doc.spec?.template?.spec?.hostPID === true).map((m) => m.doc.metadata.name),
    ).toEqual(['snatguard-node-sockets']);
    expect(pod?.hostPID).toBe(true);
    expect(pod?.hostNetwork).toBeUndefined();
    expect(pod?.automountServiceAccountToken).toBe(false);
    expect(pod?.volumes).toBeUndefined();
    expect(pod?.securityContext.runAsUser).toBe(65534);
    expect(pod?.containers.map((c: { name: string }) => c.name)).toEqual(['sockets']);
    expect(pod?.containers[0].securityContext.capabilities).toEqual({ drop: ['ALL'] });
  });

  it('carries the label and container the fallback looks for', async () => {
    const { SOCKETS_CONTAINER, SOCKETS_SELECTOR } = await import('../../src/cluster/proc-fallback.js');
    const [key, value] = SOCKETS_SELECTOR.split('=');
    expect(sockets?.doc.spec.template.metadata.labels[key!]).toBe(value);
    expect(pod?.containers[0].name).toBe(SOCKETS_CONTAINER);
  });
});

// #11 item 4: the probe is the conntrack reader, so every deployment path puts it on the cluster.
describe('every deployment path applies the node probe', () => {
  const files = KUBERNETES_SETUP_COMMANDS.flatMap((c) => [...c.matchAll(/-f (\S+)/g)].map((m) => m[1]));

  it('the setup commands apply the namespace, rbac.yaml and node-probe.yaml, which exist', () => {
    expect(files).toEqual([
      'infra/kubernetes/namespace.yaml',
      'infra/kubernetes/rbac.yaml',
      'infra/kubernetes/node-probe.yaml',
    ]);
    for (const f of files) expect(loadManifests(f!).length).toBeGreaterThan(0);
  });

  it('kubectl apply -k (the CronJob path) includes them', () => {
    const [k] = loadManifests('infra/kubernetes/kustomization.yaml');
    for (const f of files) expect(k?.doc.resources).toContain(f!.split('/').pop());
  });

  it('Bicep prints them as the kubernetesSetupCommands output', () => {
    const bicep = readRepoFile('infra/bicep/main.bicep');
    const output = /^output kubernetesSetupCommands array = \[\n([\s\S]*?)\n\]/m.exec(bicep)?.[1] ?? '';
    expect(output.split('\n').map((l) => l.trim().replace(/^'|'$/g, ''))).toEqual([
      ...KUBERNETES_SETUP_COMMANDS,
    ]);
  });

  it.each(['azure', 'aws'])('Terraform (%s) prints them as kubernetes_setup_commands', async (cloud) => {
    const module = await terraformModule(cloud);
    expect(module.output?.kubernetes_setup_commands?.[0]?.value).toEqual([...KUBERNETES_SETUP_COMMANDS]);
  });

  it('infra/README.md gives the command in the Functions and Lambda paths, and apply -k for the CronJob', () => {
    const readme = readRepoFile('infra/README.md');
    for (const c of KUBERNETES_SETUP_COMMANDS) expect(readme).toContain(c);
    expect(readme).toContain('kubectl apply -k infra/kubernetes');
    expect(readme).not.toMatch(/node-probe\.yaml\s+# optional/);
  });
});
