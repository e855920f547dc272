// RBAC as the API server does it: bearer token → user; the user's rules come from the
// (Cluster)Role(Binding)s of infra/kubernetes/rbac.yaml; a request outside them is 403 Forbidden
// worded as a real API server words it.
import { parseAllDocuments } from 'yaml';
import { ValidationError } from '../../errors.js';
import { ApiError, qualified, statusBody } from './status.js';

export interface User {
  name: string;
  groups: string[];
}

export interface RequestAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames: string[];
}

interface Grant {
  /** undefined: every namespace (ClusterRoleBinding). */
  namespace?: string;
  rules: Rule[];
  subjects: { kind: string; name: string; namespace?: string }[];
}

export interface RbacPolicy {
  /** Is `user` allowed to do this? `system:masters` may do everything. */
  allows(user: User, a: RequestAttributes): boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: YAML documents are open JSON
type Doc = any;

/** Parses the RBAC objects of a multi-document YAML file (other kinds are ignored). */
export function parseRbac(text: string, source = 'rbac.yaml'): RbacPolicy {
  const docs = parseAllDocuments(text);
  const problems: string[] = [];
  const objects: Doc[] = [];
  for (const d of Array.isArray(docs) ? docs : [docs]) {
    for (const e of d.errors) problems.push(e.message.split('\n')[0] ?? e.message);
    const js = d.toJS();
    if (js) objects.push(js);
  }
  if (problems.length > 0) throw new ValidationError(source, problems);
  const rules = (o: Doc): Rule[] =>
    ((o.rules ?? []) as Doc[]).map((r) => ({
      apiGroups: r.apiGroups ?? [],
      resources: r.resources ?? [],
      verbs: r.verbs ?? [],
      resourceNames: r.resourceNames ?? [],
    }));
  const clusterRoles = new Map<string, Rule[]>();
  const roles = new Map<string, Rule[]>();
  for (const o of objects) {
    if (o.kind === 'ClusterRole') clusterRoles.set(o.metadata?.name, rules(o));
    if (o.kind === 'Role') roles.set(`${o.metadata?.namespace}/${o.metadata?.name}`, rules(o));
  }
  const grants: Grant[] = [];
  for (const o of objects) {
    if (o.kind !== 'ClusterRoleBinding' && o.kind !== 'RoleBinding') continue;
    const ref = o.roleRef ?? {};
    const ns = o.kind === 'RoleBinding' ? o.metadata?.namespace : undefined;
    const found = ref.kind === 'ClusterRole' ? clusterRoles.get(ref.name) : roles.get(`${ns}/${ref.name}`);
    if (!found) {
      problems.push(`${o.kind} ${o.metadata?.name}: roleRef ${ref.kind} ${ref.name} not found in the file`);
      continue;
    }
    grants.push({ namespace: ns, rules: found, subjects: o.subjects ?? [] });
  }
  if (problems.length > 0) throw new ValidationError(source, problems);
  return {
    allows(user, a) {
      if (user.groups.includes('system:masters')) return true;
      return grants.some(
        (g) =>
          g.subjects.some((s) => subjectMatches(s, user)) &&
          (g.namespace === undefined || g.namespace === a.namespace) &&
          g.rules.some((r) => ruleAllows(r, a)),
      );
    },
  };
}

function subjectMatches(s: { kind: string; name: string; namespace?: string }, user: User): boolean {
  if (s.kind === 'ServiceAccount') return user.name === `system:serviceaccount:${s.namespace}:${s.name}`;
  if (s.kind === 'User') return user.name === s.name;
  if (s.kind === 'Group') return user.groups.includes(s.name);
  return false;
}

function ruleAllows(r: Rule, a: RequestAttributes): boolean {
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const resourceOk = r.resources.some(
    (x) => x === '*' || x === resource || (a.subresource !== undefined && x === `*/${a.subresource}`),
  );
  const namesOk = r.resourceNames.length === 0 || (a.name !== undefined && r.resourceNames.includes(a.name));
  return (
    (r.apiGroups.includes('*') || r.apiGroups.includes(a.group)) &&
    resourceOk &&
    (r.verbs.includes('*') || r.verbs.includes(a.verb)) &&
    namesOk
  );
}

/** The 403 a real API server answers (k8s.io/apiserver/pkg/endpoints/handlers/responsewriters.forbiddenMessage). */
export function forbidden(user: User, a: RequestAttributes): ApiError {
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  const why = `User "${user.name}" cannot ${a.verb} resource "${resource}" in API group "${a.group}" ${scope}`;
  const q = qualified(a.resource, a.group);
  const message = a.name ? `${q} "${a.name}" is forbidden: ${why}` : `${q} is forbidden: ${why}`;
  return new ApiError(
    statusBody(403, 'Forbidden', message, {
      ...(a.name ? { name: a.name } : {}),
      group: a.group,
      kind: a.resource,
    }),
  );
}

export const serviceAccountUser = (namespace: string, name: string): User => ({
  name: `system:serviceaccount:${namespace}:${name}`,
  groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
});

export const adminUser: User = {
  name: 'kubernetes-admin',
  groups: ['system:masters', 'system:authenticated'],
};
