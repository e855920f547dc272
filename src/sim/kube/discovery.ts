// /version and the legacy discovery documents (kubectl falls back to them when the server does not
// answer the aggregated discovery media type).
import { GROUPS, groupVersion, RESOURCES } from './resources.js';

export function versionInfo(v: { major: string; minor: string; gitVersion: string }) {
  return {
    major: v.major,
    minor: v.minor,
    gitVersion: v.gitVersion,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-01-15T00:00:00Z',
    goVersion: 'go1.23.4',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

export const apiVersions = (serverAddress: string) => ({
  kind: 'APIVersions',
  versions: ['v1'],
  serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
});

export const apiGroupList = () => ({
  kind: 'APIGroupList',
  apiVersion: 'v1',
  groups: GROUPS.map((g) => apiGroup(g)),
});

export const apiGroup = (group: string) => ({
  kind: 'APIGroup',
  apiVersion: 'v1',
  name: group,
  versions: [{ groupVersion: `${group}/v1`, version: 'v1' }],
  preferredVersion: { groupVersion: `${group}/v1`, version: 'v1' },
});

const SUBRESOURCE_KINDS: Record<string, string> = { exec: 'PodExecOptions', scale: 'Scale' };

/** APIResourceList of a group version, or undefined when the server does not serve it. */
export function apiResourceList(group: string, version: string) {
  const resources = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (resources.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: groupVersion({ group, version }),
    resources: resources.flatMap((r) => [
      {
        name: r.resource,
        singularName: r.singular,
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: r.verbs,
        ...(r.shortNames ? { shortNames: r.shortNames } : {}),
        ...(r.categories ? { categories: r.categories } : {}),
      },
      ...(r.subresources ?? []).map((sub) => ({
        name: `${r.resource}/${sub}`,
        singularName: '',
        namespaced: r.namespaced,
        kind: SUBRESOURCE_KINDS[sub] ?? r.kind,
        verbs: sub === 'exec' ? ['create', 'get'] : ['get', 'patch', 'update'],
      })),
    ]),
  };
}
