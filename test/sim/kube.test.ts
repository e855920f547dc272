// The pieces of the simulated API server: patches, selectors, RBAC decisions and their wording.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { applyPatch, jsonPatch, mergePatch, strategicMergePatch } from '../../src/sim/kube/patch.js';
import { adminUser, forbidden, parseRbac, serviceAccountUser } from '../../src/sim/kube/rbac.js';
import { fieldSelector, labelSelector } from '../../src/sim/kube/select.js';
import type { ApiError } from '../../src/sim/kube/status.js';
import { humanDuration } from '../../src/sim/kube/table.js';
import type { KubeObject } from '../../src/sim/world.js';

const deployment = {
  metadata: { name: 'd', annotations: { keep: 'me' } },
  spec: {
    template: {
      metadata: { annotations: { a: '1' } },
      spec: {
        containers: [
          { name: 'app', image: 'x:1' },
          { name: 'side', image: 'y:1' },
        ],
      },
    },
  },
};

describe('patches', () => {
  it('merge patch adds the restart annotation, keeps the others, null deletes', () => {
    const out = mergePatch(deployment, {
      metadata: { annotations: { keep: null, 'snatguard.io/reason': 'r' } },
      spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': 't' } } } },
    });
    expect(out.metadata.annotations).toEqual({ 'snatguard.io/reason': 'r' });
    expect(out.spec.template.metadata.annotations).toEqual({
      a: '1',
      'kubectl.kubernetes.io/restartedAt': 't',
    });
    expect(out.spec.template.spec.containers).toHaveLength(2);
  });

  it('strategic merge patch merges containers by name', () => {
    const out = strategicMergePatch(deployment, {
      spec: { template: { spec: { containers: [{ name: 'side', image: 'y:2' }] } } },
    });
    expect(out.spec.template.spec.containers).toEqual([
      { name: 'app', image: 'x:1' },
      { name: 'side', image: 'y:2' },
    ]);
    // a merge patch replaces the list
    expect(
      mergePatch(deployment, { spec: { template: { spec: { containers: [] } } } }).spec.template.spec
        .containers,
    ).toEqual([]);
  });

  it('json patch applies add / replace / remove / test', () => {
    const out = jsonPatch(deployment, [
      { op: 'test', path: '/metadata/name', value: 'd' },
      {
        op: 'add',
        path: '/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt',
        value: 't',
      },
      { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'x:2' },
      { op: 'remove', path: '/metadata/annotations/keep' },
    ]);
    expect(out.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt']).toBe('t');
    expect(out.spec.template.spec.containers[0].image).toBe('x:2');
    expect(out.metadata.annotations).toEqual({});
    expect(deployment.metadata.annotations).toEqual({ keep: 'me' });
  });

  it.each([
    ['application/json-patch+json', '[{"op":"test","path":"/metadata/name","value":"other"}]', 400],
    ['application/json-patch+json', '[{"op":"remove","path":"/nope/deeper"}]', 400],
    ['application/merge-patch+json', '{not json', 400],
    ['application/apply-patch+yaml', '{}', 415],
  ])('%s %s → %i', (type, body, code) => {
    expect(() => applyPatch(deployment, type, body)).toThrow(
      expect.objectContaining({ status: code }) as unknown as ApiError,
    );
  });
});

describe('selectors', () => {
  const pod = (labels: Record<string, string>, nodeName = 'n1') =>
    ({ metadata: { name: 'p', namespace: 'a', labels }, spec: { nodeName } }) as unknown as KubeObject;
  it.each([
    ['app=web', { app: 'web' }, true],
    ['app==web,tier!=db', { app: 'web', tier: 'fe' }, true],
    ['app=web,tier!=db', { app: 'web', tier: 'db' }, false],
    ['tier in (fe, be)', { tier: 'be' }, true],
    ['tier notin (fe,be)', { tier: 'be' }, false],
    ['db', { db: 'mongo' }, true],
    ['!db', { db: 'mongo' }, false],
  ])('label selector %s on %j → %s', (sel, labels, match) => {
    expect(labelSelector(sel)(pod(labels))).toBe(match);
  });

  it('field selector spec.nodeName, and an unsupported field is a 400', () => {
    expect(fieldSelector('spec.nodeName=n1')(pod({}))).toBe(true);
    expect(fieldSelector('spec.nodeName=n2')(pod({}))).toBe(false);
    expect(fieldSelector('spec.nodeName!=n2,metadata.namespace=a')(pod({}))).toBe(true);
    expect(() => fieldSelector('spec.colour=red')).toThrow('field label not supported: spec.colour');
  });
});

describe('rbac.yaml', () => {
  const policy = parseRbac(readFileSync('infra/kubernetes/rbac.yaml', 'utf8'));
  const job = serviceAccountUser('snatguard', 'snatguard');
  it.each([
    ['list', '', 'nodes', undefined, true],
    ['list', '', 'pods', undefined, true],
    ['get', '', 'pods', 'shop', true],
    ['get', '', 'pods/exec', 'shop', true],
    ['create', '', 'pods/exec', 'shop', true],
    ['get', 'apps', 'replicasets', 'shop', true],
    ['patch', 'apps', 'deployments', 'shop', true],
    ['patch', 'apps', 'statefulsets', 'shop', true],
    ['get', 'apps', 'daemonsets', 'kube-system', true],
    ['update', 'coordination.k8s.io', 'leases', 'snatguard', true],
    ['create', '', 'configmaps', 'snatguard', true],
    ['delete', '', 'pods', 'shop', false],
    ['update', 'apps', 'deployments', 'shop', false],
    ['patch', 'apps', 'replicasets', 'shop', false],
    ['get', '', 'secrets', 'shop', false],
    ['update', 'coordination.k8s.io', 'leases', 'shop', false],
    ['get', '', 'configmaps', 'kube-system', false],
    ['list', '', 'namespaces', undefined, false],
  ])('%s %s/%s in %s → %s', (verb, group, res, namespace, allowed) => {
    const [resource = '', subresource] = res.split('/');
    const a = {
      verb,
      group,
      resource,
      ...(subresource ? { subresource } : {}),
      ...(namespace ? { namespace } : {}),
    };
    expect(policy.allows(job, a)).toBe(allowed);
    expect(policy.allows(adminUser, a)).toBe(true);
  });

  it('words a 403 as the API server does', () => {
    const e = forbidden(job, { verb: 'list', group: '', resource: 'pods' });
    expect(e.status).toBe(403);
    expect(e.body.message).toBe(
      'pods is forbidden: User "system:serviceaccount:snatguard:snatguard" cannot list resource "pods" in API group "" at the cluster scope',
    );
    expect(
      forbidden(job, {
        verb: 'create',
        group: '',
        resource: 'pods',
        subresource: 'exec',
        namespace: 'a',
        name: 'p',
      }).body.message,
    ).toBe(
      'pods "p" is forbidden: User "system:serviceaccount:snatguard:snatguard" cannot create resource "pods/exec" in API group "" in the namespace "a"',
    );
  });

  it('rejects a binding to a role the file does not define', () => {
    expect(() =>
      parseRbac(
        'kind: RoleBinding\nmetadata: { name: b, namespace: x }\nroleRef: { kind: Role, name: missing }\nsubjects: []\n',
      ),
    ).toThrow(/roleRef Role missing not found/);
  });
});

it.each([
  [5_000, '5s'],
  [150_000, '2m30s'],
  [3 * 3_600_000, '3h'],
  [2 * 3_600_000 + 60_000, '121m'],
  [3 * 86_400_000, '3d'],
])('ages print as kubectl prints them: %i ms → %s', (ms, text) => {
  expect(humanDuration(ms)).toBe(text);
});
