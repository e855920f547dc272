// The one table: what each piece of infrastructure grants, against what src/permissions.ts says the
// code needs, compared both ways (nothing missing, nothing extra).
import { beforeAll, describe, expect, it } from 'vitest';
import { envPassthrough } from '../../src/config/index.js';
import {
  AWS_EKS_ACCESS,
  AWS_IAM,
  AZURE_ROLES,
  HOST_READ_SETTINGS,
  KUBERNETES_CLUSTER_RULES,
  KUBERNETES_NAMES,
  KUBERNETES_NAMESPACE_RULES,
  type KubernetesRule,
} from '../../src/permissions.js';
import { parseRbac, type RequestAttributes, serviceAccountUser, type User } from '../../src/sim/kube/rbac.js';
import {
  block,
  type Hcl,
  keysOf,
  loadManifests,
  locals,
  parseBicep,
  prop,
  readRepoFile,
  ruleAtoms,
  setDiff,
  sortedSet,
  stringValue,
  terraformModule,
  variables,
} from './helpers.js';

interface Sources {
  bicepRoleIds: string[];
  tfAzureRoleIds: string[];
  tfAwsActions: Record<'lambda' | 'scheduler', string[]>;
  clusterRole: string[];
  role: string[];
}

const rbac = loadManifests('infra/kubernetes/rbac.yaml').map((m) => m.doc);
const find = (kind: string, name: string) => rbac.find((d) => d.kind === kind && d.metadata.name === name);

let sources: Sources;

beforeAll(async () => {
  const bicep = await parseBicep(readRepoFile('infra/bicep/main.bicep'));
  const roleIds = variables(bicep).get('roleIds');
  const azure = locals(await terraformModule('azure'));
  const aws = await terraformModule('aws');
  const actions = (doc: string): string[] =>
    ((block(aws, 'data', 'aws_iam_policy_document', doc)?.statement ?? []) as Hcl[]).flatMap(
      (s) => s.actions,
    );
  sources = {
    bicepRoleIds: roleIds ? keysOf(roleIds).map((k) => stringValue(prop(roleIds, k)) ?? '') : [],
    tfAzureRoleIds: Object.values(azure.role_ids ?? {}),
    tfAwsActions: { lambda: actions('lambda'), scheduler: actions('scheduler') },
    clusterRole: ruleAtoms(
      (find('ClusterRole', KUBERNETES_NAMES.clusterRole)?.rules ?? []) as KubernetesRule[],
    ),
    role: ruleAtoms((find('Role', KUBERNETES_NAMES.role)?.rules ?? []) as KubernetesRule[]),
  };
});

const azureRoleIds = sortedSet(AZURE_ROLES.map((r) => r.roleDefinitionId));
const awsActions = (p: 'lambda' | 'scheduler') =>
  AWS_IAM.filter((g) => g.principal === p).flatMap((g) => g.actions);

describe('granted = needed (both ways)', () => {
  it.each([
    ['Bicep role ids', () => sources.bicepRoleIds, azureRoleIds],
    ['Terraform azure role ids', () => sources.tfAzureRoleIds, azureRoleIds],
    ['Terraform aws Lambda role actions', () => sources.tfAwsActions.lambda, awsActions('lambda')],
    ['Terraform aws Scheduler role actions', () => sources.tfAwsActions.scheduler, awsActions('scheduler')],
    ['rbac.yaml ClusterRole rules', () => sources.clusterRole, ruleAtoms(KUBERNETES_CLUSTER_RULES)],
    ['rbac.yaml Role rules', () => sources.role, ruleAtoms(KUBERNETES_NAMESPACE_RULES)],
  ] as const)('%s', (_source, granted, needed) => {
    expect(needed.length).toBeGreaterThan(0);
    expect(setDiff(granted(), needed)).toEqual({ missing: [], extra: [] });
  });
});

describe('src/permissions.ts', () => {
  it('names each Azure role by one key and a built-in role GUID, and grants it once per scope', () => {
    const keyToId = new Map(AZURE_ROLES.map((r) => [r.key, r.roleDefinitionId]));
    for (const r of AZURE_ROLES) {
      expect(keyToId.get(r.key)).toBe(r.roleDefinitionId);
      expect(r.roleDefinitionId).toMatch(/^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/);
    }
    expect(new Set(keyToId.values()).size).toBe(keyToId.size);
    expect(sortedSet(AZURE_ROLES.map((r) => `${r.key}@${r.scope}`))).toHaveLength(AZURE_ROLES.length);
  });

  it('grants each AWS action once, as service:Action', () => {
    const all = AWS_IAM.flatMap((g) => g.actions);
    expect(sortedSet(all)).toHaveLength(all.length);
    for (const a of all) expect(a).toMatch(/^[a-z0-9-]+:[A-Z][A-Za-z]+$/);
  });

  it('never grants secrets, deletes or escalation verbs in Kubernetes', () => {
    const atoms = ruleAtoms([...KUBERNETES_CLUSTER_RULES, ...KUBERNETES_NAMESPACE_RULES]);
    expect(
      atoms.filter((a) =>
        /\/secrets\[|:delete|:deletecollection|:escalate|:bind|:impersonate|\*/.test(a.replace('[*]', '')),
      ),
    ).toEqual([]);
  });

  it('lets the hosts read every host-read setting (in the config loader envPassthrough)', () => {
    expect(HOST_READ_SETTINGS.filter((s) => !envPassthrough.has(s))).toEqual([]);
  });
});

describe('infra/README.md', () => {
  const readme = readRepoFile('infra/README.md');

  it.each(AZURE_ROLES.map((r) => [r.roleName, r.roleDefinitionId] as const))(
    'explains %s (%s)',
    (roleName, id) => {
      expect(readme).toContain(roleName);
      expect(readme).toContain(id);
    },
  );

  it.each(AWS_IAM.flatMap((g) => g.actions))('explains %s', (action) => {
    expect(readme).toContain(`\`${action}\``);
  });

  it.each([...KUBERNETES_CLUSTER_RULES, ...KUBERNETES_NAMESPACE_RULES].flatMap((r) => r.resources))(
    'explains the Kubernetes rule on %s',
    (resource) => {
      expect(readme).toMatch(new RegExp(`\`[^\`]*\\b${resource.replace('/', '\\/')}\\b[^\`]*\``));
    },
  );
});

/**
 * The README's Kubernetes permissions table as rule atoms: rows like
 * "| `apps/deployments,statefulsets,daemonsets` get, patch | cluster | why |".
 */
function readmeKubernetesAtoms(readme: string): { cluster: string[]; namespace: string[] } {
  const start = readme.indexOf('### Kubernetes (`infra/kubernetes/rbac.yaml`, every path)');
  const table = readme.slice(start, readme.indexOf('\n\n', readme.indexOf('|---', start)));
  const out = { cluster: [] as KubernetesRule[], namespace: [] as KubernetesRule[] };
  for (const line of table.split('\n')) {
    const m = /^\| `([^`]+)` ([^|]+)\| ([^|]+)\|/.exec(line);
    if (!m) continue;
    const [path, verbs, scope] = [m[1]!, m[2]!, m[3]!.trim()];
    const slash = path.lastIndexOf('/');
    // `pods/exec` is a core subresource; `apps/…` and `coordination.k8s.io/…` name a group.
    const grouped = slash > 0 && (path.startsWith('apps/') || path.includes('.'));
    const rule: KubernetesRule = {
      apiGroups: [grouped ? path.slice(0, slash) : ''],
      resources: (grouped ? path.slice(slash + 1) : path).split(','),
      verbs: verbs.split(',').map((v) => v.trim()),
    };
    (scope === 'cluster' ? out.cluster : out.namespace).push(rule);
  }
  return { cluster: ruleAtoms(out.cluster), namespace: ruleAtoms(out.namespace) };
}

// #11 item 7: the table listed `events` create, which nothing grants or uses.
describe("infra/README.md's Kubernetes table = src/permissions.ts (both ways)", () => {
  const atoms = readmeKubernetesAtoms(readRepoFile('infra/README.md'));

  it('cluster-scoped rows', () => {
    expect(atoms.cluster.length).toBeGreaterThan(0);
    expect(setDiff(atoms.cluster, ruleAtoms(KUBERNETES_CLUSTER_RULES))).toEqual({ missing: [], extra: [] });
  });

  it('namespace-scoped rows', () => {
    expect(setDiff(atoms.namespace, ruleAtoms(KUBERNETES_NAMESPACE_RULES))).toEqual({
      missing: [],
      extra: [],
    });
  });

  it('a stale row is caught (the comparison can fail)', () => {
    const stale = readmeKubernetesAtoms(
      readRepoFile('infra/README.md').replace(
        '| `configmaps` get, create, update |',
        '| `events` create | namespace `snatguard` | x |\n| `configmaps` get, create, update |',
      ),
    );
    expect(setDiff(stale.namespace, ruleAtoms(KUBERNETES_NAMESPACE_RULES)).extra).toEqual([
      'core/events[*]:create',
    ]);
  });
});

describe('rbac.yaml bindings', () => {
  it.each([
    ['ClusterRoleBinding', 'ClusterRole'],
    ['RoleBinding', 'Role'],
  ])('a %s binds the %s to the ServiceAccount and to the EKS access entry group', (bindingKind, roleKind) => {
    const bindings = rbac.filter(
      (d) => d.kind === bindingKind && d.roleRef?.name === KUBERNETES_NAMES.clusterRole,
    );
    expect(bindings.every((b) => b.roleRef.kind === roleKind)).toBe(true);
    const subjects = bindings.flatMap(
      (b) => b.subjects as { kind: string; name: string; namespace?: string }[],
    );
    expect(subjects).toContainEqual({
      kind: 'ServiceAccount',
      name: KUBERNETES_NAMES.serviceAccount,
      namespace: KUBERNETES_NAMES.namespace,
    });
    const groups = subjects.filter((s) => s.kind === 'Group').map((s) => s.name);
    expect(setDiff(groups, AWS_EKS_ACCESS.kubernetesGroups).missing).toEqual([]);
  });
});

describe('rbac.yaml as the simulator enforces it', () => {
  const policy = parseRbac(readRepoFile('infra/kubernetes/rbac.yaml'));
  const ns = KUBERNETES_NAMES.namespace;

  /** Every request permissions.ts lists, as the API server's request attributes. */
  const requests = (rules: readonly KubernetesRule[], namespace: string): RequestAttributes[] =>
    rules.flatMap((r) =>
      r.apiGroups.flatMap((group) =>
        r.resources.flatMap((res) => {
          const [resource, subresource] = res.split('/') as [string, string | undefined];
          return r.verbs.map((verb) => ({
            verb,
            group,
            resource,
            namespace,
            ...(subresource ? { subresource } : {}),
          }));
        }),
      ),
    );
  const needed = [...requests(KUBERNETES_CLUSTER_RULES, 'prod'), ...requests(KUBERNETES_NAMESPACE_RULES, ns)];
  const show = (a: RequestAttributes) =>
    `${a.verb} ${a.group || 'core'}/${a.resource}${a.subresource ? `/${a.subresource}` : ''} in ${a.namespace}`;

  const serviceAccount = serviceAccountUser(ns, KUBERNETES_NAMES.serviceAccount);
  const lambdaRole: User = {
    name: 'arn:aws:sts::111122223333:assumed-role/snatguard-lambda/snatguard',
    groups: [...AWS_EKS_ACCESS.kubernetesGroups, 'system:authenticated'],
  };

  it('allows the ServiceAccount every request the code makes', () => {
    expect(needed.filter((a) => !policy.allows(serviceAccount, a)).map(show)).toEqual([]);
  });

  it('allows the EKS access entry group every request the code makes', () => {
    expect(needed.filter((a) => !policy.allows(lambdaRole, a)).map(show)).toEqual([]);
  });

  it.each([
    { verb: 'get', group: '', resource: 'secrets', namespace: 'prod' },
    { verb: 'delete', group: '', resource: 'pods', namespace: 'prod' },
    { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: 'prod' },
    { verb: 'update', group: '', resource: 'configmaps', namespace: 'kube-system' },
    { verb: 'patch', group: '', resource: 'nodes', namespace: undefined },
  ] satisfies RequestAttributes[])('denies $verb $resource in $namespace', (a) => {
    expect(policy.allows(serviceAccount, a)).toBe(false);
    expect(policy.allows(lambdaRole, a)).toBe(false);
  });
});
