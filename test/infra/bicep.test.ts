// infra/bicep: every file parses with tree-sitter-bicep (no ERROR/MISSING nodes), and main.bicep
// grants exactly src/permissions.ts, sets every required setting and keeps secrets in Key Vault.

import { beforeAll, describe, expect, it } from 'vitest';
import type { Node } from 'web-tree-sitter';
import { configLeaves, envPassthrough } from '../../src/config/index.js';
import {
  AZURE_ROLES,
  type AzureScopeKind,
  DEPLOYMENT_SETTINGS,
  HOST_READ_SETTINGS,
  SECRET_SETTINGS,
} from '../../src/permissions.js';
import {
  type BicepDecl,
  declarations,
  filesUnder,
  identifierUses,
  infraDir,
  keysOf,
  params,
  parseBicep,
  prop,
  readRepoFile,
  setDiff,
  stringValue,
  syntaxProblems,
  variables,
} from './helpers.js';

const bicepFiles = filesUnder(`${infraDir}/bicep`, ['.bicep']);
const ROLE_ASSIGNMENT = 'Microsoft.Authorization/roleAssignments@';

/** How main.bicep spells each scope kind (a module's `scope:` or a resource's `scope:`). */
const SCOPE_TEXT: Record<AzureScopeKind, string> = {
  'node-resource-group': 'resourceGroup(clusterSubscriptionId, nodeResourceGroup)',
  'network-resource-groups': 'resourceGroup(clusterSubscriptionId, rg)',
  cluster: 'resourceGroup(clusterSubscriptionId, clusterResourceGroup)',
  'key-vault': 'keyVault',
  'storage-account': 'storage',
  'application-insights': 'appInsights',
};

/** `roleIds.X` → X */
const roleKeyOf = (n: Node | undefined): string | undefined => /^roleIds\.(\w+)$/.exec(n?.text ?? '')?.[1];

describe('Bicep syntax', () => {
  it('finds the templates', () => {
    expect(bicepFiles).toEqual(
      expect.arrayContaining([
        'infra/bicep/main.bicep',
        'infra/bicep/modules/cluster-role.bicep',
        'infra/bicep/modules/resource-group-role.bicep',
      ]),
    );
  });

  it.each(bicepFiles)('%s parses without ERROR or MISSING nodes', async (file) => {
    const root = await parseBicep(readRepoFile(file));
    expect(syntaxProblems(root)).toEqual([]);
    expect(root.namedChildCount).toBeGreaterThan(0);
  });

  it('reports broken Bicep (the syntax check can fail)', async () => {
    const root = await parseBicep("param x string = \nresource r 'A/b@2020-01-01' = {\n  name: 'n'\n");
    expect(syntaxProblems(root).length).toBeGreaterThan(0);
  });
});

describe('main.bicep', () => {
  let root: Node;
  let decls: BicepDecl[];
  let vars: Map<string, Node>;

  beforeAll(async () => {
    root = await parseBicep(readRepoFile('infra/bicep/main.bicep'));
    decls = declarations(root);
    vars = variables(root);
  });

  const resource = (typePrefix: string): BicepDecl[] => decls.filter((d) => d.target.startsWith(typePrefix));

  it('declares exactly the role ids of src/permissions.ts (var roleIds, both ways)', () => {
    const roleIds = vars.get('roleIds');
    expect(roleIds?.type).toBe('object');
    const declared = keysOf(roleIds!).map((k) => `${k}=${stringValue(prop(roleIds, k))}`);
    const expected = AZURE_ROLES.map((r) => `${r.key}=${r.roleDefinitionId}`);
    expect(setDiff(declared, expected)).toEqual({ missing: [], extra: [] });
    expect(declared).toHaveLength(new Set(expected).size);
  });

  it('uses no role definition GUID outside var roleIds', () => {
    const guid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
    for (const file of bicepFiles) {
      const text = readRepoFile(file);
      const roleIdsBlock = /var roleIds = \{[^}]*\}/.exec(text)?.[0] ?? '';
      expect(text.replace(roleIdsBlock, '').match(guid) ?? [], file).toEqual([]);
    }
  });

  it('loops the optional network resource group readers over a parameter', () => {
    const loop = decls.find((d) => d.symbol === 'networkReaders');
    expect(loop?.node.text).toMatch(/= \[for rg in networkResourceGroups: \{/);
  });

  it('assigns each role at its scope, and nothing else (both ways)', () => {
    const assigned: string[] = [];
    for (const d of resource(ROLE_ASSIGNMENT)) {
      const roleDefinitionId = prop(prop(d.body, 'properties'), 'roleDefinitionId');
      expect(roleDefinitionId?.text, d.symbol).toMatch(
        /^subscriptionResourceId\('Microsoft\.Authorization\/roleDefinitions', roleIds\.\w+\)$/,
      );
      const key = roleKeyOf(
        roleDefinitionId?.type === 'call_expression'
          ? (roleDefinitionId.lastNamedChild?.lastNamedChild ?? undefined)
          : undefined,
      );
      assigned.push(`${key}@${prop(d.body, 'scope')?.text}`);
    }
    for (const d of decls.filter((x) => x.kind === 'module')) {
      const key = roleKeyOf(prop(prop(d.body, 'params'), 'roleDefinitionId'));
      if (key !== undefined) assigned.push(`${key}@${prop(d.body, 'scope')?.text}`);
    }
    const expected = AZURE_ROLES.map((r) => `${r.key}@${SCOPE_TEXT[r.scope]}`);
    expect(setDiff(assigned, expected)).toEqual({ missing: [], extra: [] });
    expect(assigned).toHaveLength(expected.length);
  });

  it('assigns the cluster role on the cluster resource itself (existing reference)', async () => {
    const mod = await parseBicep(readRepoFile('infra/bicep/modules/cluster-role.bicep'));
    const d = declarations(mod);
    const cluster = d.find((x) => x.target.startsWith('Microsoft.ContainerService/managedClusters@'));
    expect(cluster?.node.text).toMatch(/\bexisting\b/);
    const assignment = d.find((x) => x.target.startsWith(ROLE_ASSIGNMENT));
    expect(prop(assignment?.body, 'scope')?.text).toBe(cluster?.symbol);
  });

  it.each(['infra/bicep/modules/cluster-role.bicep', 'infra/bicep/modules/resource-group-role.bicep'])(
    '%s assigns the role id it is given, to a service principal',
    async (file) => {
      const mod = await parseBicep(readRepoFile(file));
      const assignments = declarations(mod).filter((x) => x.target.startsWith(ROLE_ASSIGNMENT));
      expect(assignments).toHaveLength(1);
      const properties = prop(assignments[0]!.body, 'properties');
      expect(prop(properties, 'roleDefinitionId')?.text).toBe(
        "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)",
      );
      expect(stringValue(prop(properties, 'principalType'))).toBe('ServicePrincipal');
    },
  );

  /** Every app setting: key → value text, through `union(var, …)` and `cond ? {} : { … }` vars. */
  const appSettings = (): Map<string, string> => {
    const settings = resource('Microsoft.Web/sites/config@').find(
      (d) => stringValue(prop(d.body, 'name')) === 'appsettings',
    );
    const value = prop(settings?.body, 'properties');
    expect(value?.type).toBe('call_expression');
    expect(value?.firstNamedChild?.text).toBe('union');
    const out = new Map<string, string>();
    const args = value!.lastNamedChild!.namedChildren.filter((n): n is Node => n !== null);
    for (const arg of args) {
      let obj = arg.type === 'identifier' ? vars.get(arg.text) : arg;
      if (obj?.type === 'ternary_expression') obj = obj.lastNamedChild ?? undefined;
      expect(obj?.type, arg.text).toBe('object');
      for (const k of keysOf(obj!)) out.set(k, prop(obj, k)!.text);
    }
    return out;
  };

  it('sets every required SNATGUARD_ setting, for the aks connection and the azure provider', () => {
    const s = appSettings();
    const required = [...DEPLOYMENT_SETTINGS.common, ...DEPLOYMENT_SETTINGS.azureFunctions];
    expect(setDiff(s.keys(), required).missing).toEqual([]);
    expect(s.get('SNATGUARD_PROVIDER')).toBe("'azure'");
    expect(s.get('SNATGUARD_CLUSTER_CONNECTION')).toBe("'aks'");
    expect(s.get('SNATGUARD_MODE')).toBe('mode');
    expect(s.has('FUNCTIONS_WORKER_RUNTIME')).toBe(false); // not allowed on Flex Consumption
  });

  it('sets only SNATGUARD_ variables the config loader knows', () => {
    const known = new Set([...configLeaves().map((l) => l.env), ...envPassthrough, ...HOST_READ_SETTINGS]);
    const unknown = [...appSettings().keys()].filter((k) => k.startsWith('SNATGUARD_') && !known.has(k));
    expect(unknown).toEqual([]);
  });

  it('wires every secret setting as a Key Vault reference', () => {
    const s = appSettings();
    for (const key of SECRET_SETTINGS) {
      expect(s.get(key), key).toMatch(/^'@Microsoft\.KeyVault\(SecretUri=\$\{secretsUri\}\/[a-z-]+\/\)'$/);
    }
  });

  it('uses @secure() parameters only as Key Vault secret values or in empty() checks', () => {
    const secure = params(root).filter((p) => p.secure);
    expect(secure.map((p) => p.name).sort()).toEqual(
      ['discordWebhookUrl', 'slackWebhookUrl', 'teamsWebhookUrl', 'webhookSecret', 'webhookUrl'].sort(),
    );
    for (const p of secure) {
      const uses = identifierUses(root, p.name).filter((n) => n.parent?.type !== 'parameter_declaration');
      expect(uses.length, p.name).toBeGreaterThan(0);
      for (const use of uses) {
        const inEmpty =
          use.parent?.type === 'arguments' && use.parent.parent?.firstNamedChild?.text === 'empty';
        const asSecretValue =
          use.parent?.type === 'object_property' &&
          use.parent.firstNamedChild?.text === 'value' &&
          declarations(root).some((d) => {
            const decl = ancestorDecl(use);
            return (
              d.target.startsWith('Microsoft.KeyVault/vaults/secrets@') &&
              decl !== null &&
              d.node.equals(decl)
            );
          });
        expect(inEmpty || asSecretValue, `${p.name} at line ${use.startPosition.row + 1}`).toBe(true);
      }
    }
  });

  it('defaults to dry-run every 5 minutes', () => {
    const p = new Map(params(root).map((x) => [x.name, x.defaultText]));
    expect(p.get('mode')).toBe("'dry-run'");
    expect(p.get('schedule')).toBe("'0 */5 * * * *'");
  });

  it('runs on Flex Consumption (FC1), Node.js 22, identity-based deployment storage', () => {
    const [plan] = resource('Microsoft.Web/serverfarms@');
    expect(stringValue(prop(prop(plan?.body, 'sku'), 'name'))).toBe('FC1');
    expect(stringValue(prop(prop(plan?.body, 'sku'), 'tier'))).toBe('FlexConsumption');
    const [site] = resource('Microsoft.Web/sites@');
    const properties = prop(site?.body, 'properties');
    const config = prop(properties, 'functionAppConfig');
    expect(stringValue(prop(prop(config, 'runtime'), 'name'))).toBe('node');
    expect(stringValue(prop(prop(config, 'runtime'), 'version'))).toBe('22');
    const storage = prop(prop(config, 'deployment'), 'storage');
    expect(stringValue(prop(storage, 'type'))).toBe('blobContainer');
    expect(stringValue(prop(prop(storage, 'authentication'), 'type'))).toBe('UserAssignedIdentity');
    expect(keysOf(prop(config, 'scaleAndConcurrency')!)).toEqual(
      expect.arrayContaining(['maximumInstanceCount', 'instanceMemoryMB']),
    );
    expect(prop(properties, 'keyVaultReferenceIdentity')?.text).toBe('identity.id');
  });

  it('keeps the Key Vault in RBAC mode and the storage account keyless', () => {
    const [vault] = resource('Microsoft.KeyVault/vaults@');
    expect(prop(prop(vault?.body, 'properties'), 'enableRbacAuthorization')?.text).toBe('true');
    const [storage] = resource('Microsoft.Storage/storageAccounts@');
    expect(prop(prop(storage?.body, 'properties'), 'allowSharedKeyAccess')?.text).toBe('false');
  });
});

describe('main.bicepparam', () => {
  it('sets only parameters main.bicep declares, and every one without a default', async () => {
    const text = readRepoFile('infra/bicep/main.bicepparam');
    expect(text).toMatch(/^using '\.\/main\.bicep'$/m);
    const set = [...text.matchAll(/^param (\w+) =/gm)].map((m) => m[1]!);
    const declared = params(await parseBicep(readRepoFile('infra/bicep/main.bicep')));
    expect(
      setDiff(
        set,
        declared.map((p) => p.name),
      ).extra,
    ).toEqual([]);
    const required = declared.filter((p) => p.defaultText === undefined).map((p) => p.name);
    expect(setDiff(set, required).missing).toEqual([]);
    expect(text).not.toMatch(/https:\/\/hooks\./); // webhook URLs come from the environment
  });
});

function ancestorDecl(n: Node): Node | null {
  let cur: Node | null = n;
  while (cur && cur.type !== 'resource_declaration') cur = cur.parent;
  return cur;
}
