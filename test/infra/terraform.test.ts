// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Terraform interpolations, compared as text.
// infra/terraform: every .tf file parses with @cdktf/hcl2json; the Azure and AWS modules grant exactly
// src/permissions.ts, set the required settings and keep secrets out of plain settings and state;
// `terraform fmt -check` passes where terraform is installed.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { configLeaves, envPassthrough } from '../../src/config/index.js';
import {
  AWS_EKS_ACCESS,
  AWS_IAM,
  type AwsResourceKind,
  AZURE_ROLES,
  type AzureScopeKind,
  DEPLOYMENT_SETTINGS,
  HOST_READ_SETTINGS,
  SECRET_SETTINGS,
} from '../../src/permissions.js';
import {
  block,
  blocks,
  filesUnder,
  type Hcl,
  infraDir,
  locals,
  parseTerraform,
  repoRoot,
  setDiff,
  terraformModule,
} from './helpers.js';

const tfFiles = filesUnder(join(infraDir, 'terraform'), ['.tf']);
const knownEnv = new Set([...configLeaves().map((l) => l.env), ...envPassthrough, ...HOST_READ_SETTINGS]);

describe('Terraform syntax', () => {
  it('finds versions.tf, variables.tf, main.tf and outputs.tf in both modules', () => {
    for (const dir of ['aws', 'azure'])
      for (const f of ['versions.tf', 'variables.tf', 'main.tf', 'outputs.tf'])
        expect(tfFiles).toContain(`infra/terraform/${dir}/${f}`);
  });

  it.each(tfFiles)('%s parses with hcl2json', async (file) => {
    const parsed = await parseTerraform(file);
    expect(Object.keys(parsed).length).toBeGreaterThan(0);
  });

  it('rejects broken HCL (the parse check can fail)', async () => {
    const { parse } = await import('@cdktf/hcl2json');
    await expect(parse('broken.tf', 'resource "a" {{ x = ')).rejects.toThrow();
  });

  const terraform = spawnSync('terraform', ['version'], { encoding: 'utf8' });
  const installed = terraform.status === 0;

  // terraform is on this kind of machine's image but installed by no package: CI must not rely on it
  // (../shared/reference/toolchain-notes.md), so this check runs where it is and is skipped elsewhere.
  it.skipIf(!installed)(
    'terraform fmt -check -recursive passes (skipped where terraform is not installed)',
    () => {
      const fmt = spawnSync('terraform', ['fmt', '-check', '-recursive', '-diff', 'infra/terraform'], {
        cwd: repoRoot,
        encoding: 'utf8',
      });
      expect(fmt.stdout).toBe('');
      expect(fmt.status).toBe(0);
    },
  );
});

describe('terraform/azure', () => {
  let mod: Hcl;
  let loc: Hcl;
  beforeAll(async () => {
    mod = await terraformModule('azure');
    loc = locals(mod);
  });

  /** How the module spells each scope kind. */
  const SCOPE: Record<AzureScopeKind, string> = {
    'node-resource-group': '${local.node_resource_group_id}',
    'network-resource-groups': '/subscriptions/${local.cluster_subscription_id}/resourceGroups/${each.value}',
    cluster: '${local.cluster_id}',
    'key-vault': '${azurerm_key_vault.this.id}',
    'storage-account': '${azurerm_storage_account.this.id}',
    'application-insights': '${azurerm_application_insights.this.id}',
  };

  it('declares exactly the role ids of src/permissions.ts (local.role_ids, both ways)', () => {
    const declared = Object.entries(loc.role_ids as Record<string, string>).map(([k, v]) => `${k}=${v}`);
    const expected = AZURE_ROLES.map((r) => `${r.key}=${r.roleDefinitionId}`);
    expect(setDiff(declared, expected)).toEqual({ missing: [], extra: [] });
    expect(declared).toHaveLength(new Set(expected).size);
  });

  it('assigns each role at its scope, and nothing else (both ways)', () => {
    const assigned = [...blocks(mod, 'resource', 'azurerm_role_assignment').values()].map((ra) => {
      const key = /roleDefinitions\/\$\{local\.role_ids\.(\w+)\}$/.exec(ra.role_definition_id)?.[1];
      expect(ra.principal_id).toBe('${azurerm_user_assigned_identity.this.principal_id}');
      return `${key}@${ra.scope}`;
    });
    const expected = AZURE_ROLES.map((r) => `${r.key}@${SCOPE[r.scope]}`);
    expect(setDiff(assigned, expected)).toEqual({ missing: [], extra: [] });
    expect(assigned).toHaveLength(expected.length);
  });

  it('loops the optional network resource group readers over a variable', () => {
    expect(block(mod, 'resource', 'azurerm_role_assignment', 'network_reader')?.for_each).toBe(
      '${toset(var.network_resource_groups)}',
    );
  });

  it('points the cluster scope ids at the node resource group and the managed cluster', () => {
    expect(loc.node_resource_group_id).toMatch(/\/resourceGroups\/\$\{var\.node_resource_group\}$/);
    expect(loc.cluster_id).toMatch(
      /\/providers\/Microsoft\.ContainerService\/managedClusters\/\$\{var\.cluster_name\}$/,
    );
  });

  it('sets every required SNATGUARD_ setting, all known to the config loader, no secret in plain text', () => {
    const app = block(mod, 'resource', 'azurerm_function_app_flex_consumption', 'this');
    expect(app?.app_settings).toBe(
      '${merge(local.host_settings, local.snatguard_settings, local.notify_settings)}',
    );
    const plain = { ...loc.host_settings, ...loc.snatguard_settings } as Record<string, string>;
    const keys = Object.keys(plain);
    expect(
      setDiff(keys, [...DEPLOYMENT_SETTINGS.common, ...DEPLOYMENT_SETTINGS.azureFunctions]).missing,
    ).toEqual([]);
    expect(keys.filter((k) => k.startsWith('SNATGUARD_') && !knownEnv.has(k))).toEqual([]);
    expect(keys.filter((k) => (SECRET_SETTINGS as readonly string[]).includes(k))).toEqual([]);
    expect(plain.SNATGUARD_PROVIDER).toBe('azure');
    expect(plain.SNATGUARD_CLUSTER_CONNECTION).toBe('aks');
  });

  it('wires every secret setting as a Key Vault reference', () => {
    const wired = Object.values(loc.notify_secrets as Record<string, Record<string, string>>).flatMap((m) =>
      Object.values(m),
    );
    expect(setDiff(wired, SECRET_SETTINGS)).toEqual({ missing: [], extra: [] });
    expect(loc.notify_settings).toContain(
      '@Microsoft.KeyVault(SecretUri=${azurerm_key_vault.this.vault_uri}secrets/',
    );
    expect(blocks(mod, 'resource', 'azurerm_key_vault_secret').size).toBe(0); // never in state
  });

  it('runs on Flex Consumption (FC1), Node.js 22, identity-based storage, Key Vault in RBAC mode', () => {
    expect(block(mod, 'resource', 'azurerm_service_plan', 'this')?.sku_name).toBe('FC1');
    const app = block(mod, 'resource', 'azurerm_function_app_flex_consumption', 'this');
    expect(app).toMatchObject({
      runtime_name: 'node',
      runtime_version: '22',
      storage_container_type: 'blobContainer',
      storage_authentication_type: 'UserAssignedIdentity',
      key_vault_reference_identity_id: '${azurerm_user_assigned_identity.this.id}',
    });
    expect(block(mod, 'resource', 'azurerm_key_vault', 'this')?.enable_rbac_authorization).toBe(true);
    expect(block(mod, 'resource', 'azurerm_storage_account', 'this')?.shared_access_key_enabled).toBe(false);
  });

  it('defaults to dry-run every 5 minutes', () => {
    expect(mod.variable.mode[0].default).toBe('dry-run');
    expect(mod.variable.schedule[0].default).toBe('0 */5 * * * *');
  });
});

describe('terraform/aws', () => {
  let mod: Hcl;
  beforeAll(async () => {
    mod = await terraformModule('aws');
  });

  const RESOURCE: Record<AwsResourceKind, string> = {
    any: '*',
    cluster: '${data.aws_eks_cluster.this.arn}',
    'vpc-cni-addon': '${replace(data.aws_eks_cluster.this.arn, ":cluster/", ":addon/")}/vpc-cni/*',
    'notify-secret': '${aws_secretsmanager_secret.notify.arn}',
    'log-group': '${aws_cloudwatch_log_group.this.arn}:*',
    function: '${aws_lambda_function.this.arn}',
  };

  /** principal → `sid actions@resource` of each statement of its policy document. */
  const granted = (principal: 'lambda' | 'scheduler'): string[] =>
    ((block(mod, 'data', 'aws_iam_policy_document', principal)?.statement ?? []) as Hcl[]).flatMap((s) =>
      (s.actions as string[]).flatMap((a) => (s.resources as string[]).map((r) => `${s.sid} ${a}@${r}`)),
    );

  it.each(['lambda', 'scheduler'] as const)(
    'the %s role has exactly the actions of src/permissions.ts (both ways)',
    (principal) => {
      const expected = AWS_IAM.filter((g) => g.principal === principal).flatMap((g) =>
        g.actions.map((a) => `${g.sid} ${a}@${RESOURCE[g.resource]}`),
      );
      expect(expected.length).toBeGreaterThan(0);
      expect(setDiff(granted(principal), expected)).toEqual({ missing: [], extra: [] });
    },
  );

  it('attaches those documents and nothing else to the two roles', () => {
    const policies = [...blocks(mod, 'resource', 'aws_iam_role_policy').entries()].map(
      ([name, p]) => `${name}:${p.role}:${p.policy}`,
    );
    expect(policies.sort()).toEqual([
      'lambda:${aws_iam_role.lambda.id}:${data.aws_iam_policy_document.lambda.json}',
      'scheduler:${aws_iam_role.scheduler.id}:${data.aws_iam_policy_document.scheduler.json}',
    ]);
    expect(blocks(mod, 'resource', 'aws_iam_role_policy_attachment').size).toBe(0);
    expect([...blocks(mod, 'resource', 'aws_iam_role').keys()].sort()).toEqual(['lambda', 'scheduler']);
    expect(block(mod, 'resource', 'aws_iam_role', 'lambda')?.managed_policy_arns).toBeUndefined();
  });

  it('maps the Lambda role to the Kubernetes group of src/permissions.ts with an EKS access entry', () => {
    expect(block(mod, 'resource', 'aws_eks_access_entry', 'this')).toMatchObject({
      principal_arn: '${aws_iam_role.lambda.arn}',
      kubernetes_groups: [...AWS_EKS_ACCESS.kubernetesGroups],
      type: AWS_EKS_ACCESS.type,
    });
  });

  it('runs the zip of npm run package on nodejs22.x, handler index.handler, logging to a retained log group', () => {
    const fn = block(mod, 'resource', 'aws_lambda_function', 'this');
    expect(fn).toMatchObject({
      runtime: 'nodejs22.x',
      handler: 'index.handler',
      filename: '${var.package_path}',
    });
    expect(mod.variable.package_path[0].default).toBe('../../../dist/package/snatguard-lambda.zip');
    expect(fn?.logging_config?.[0]?.log_group).toBe('${aws_cloudwatch_log_group.this.name}');
    expect(block(mod, 'resource', 'aws_cloudwatch_log_group', 'this')?.retention_in_days).toBe(
      '${var.log_retention_days}',
    );
  });

  it('sets every required SNATGUARD_ variable, all known to the config loader, no secret in plain text', () => {
    const fn = block(mod, 'resource', 'aws_lambda_function', 'this');
    const env = fn?.environment?.[0]?.variables as Record<string, string>;
    const keys = Object.keys(env);
    expect(setDiff(keys, [...DEPLOYMENT_SETTINGS.common, ...DEPLOYMENT_SETTINGS.awsLambda]).missing).toEqual(
      [],
    );
    expect(keys.filter((k) => k.startsWith('SNATGUARD_') && !knownEnv.has(k))).toEqual([]);
    expect(keys.filter((k) => (SECRET_SETTINGS as readonly string[]).includes(k))).toEqual([]);
    expect(env).toMatchObject({ SNATGUARD_PROVIDER: 'aws', SNATGUARD_CLUSTER_CONNECTION: 'eks' });
    expect(env.SNATGUARD_AWS_NOTIFY_SECRET_ARN).toBe('${aws_secretsmanager_secret.notify.arn}');
    expect(blocks(mod, 'resource', 'aws_secretsmanager_secret_version').size).toBe(0); // never in state
  });

  it('schedules every 5 minutes with EventBridge Scheduler, flexible window off, through the invoke role', () => {
    const schedule = block(mod, 'resource', 'aws_scheduler_schedule', 'this');
    expect(schedule?.schedule_expression).toBe('${var.schedule_expression}');
    expect(mod.variable.schedule_expression[0].default).toBe('rate(5 minutes)');
    expect(schedule?.flexible_time_window).toEqual([{ mode: 'OFF' }]);
    expect(schedule?.target?.[0]).toMatchObject({
      arn: '${aws_lambda_function.this.arn}',
      role_arn: '${aws_iam_role.scheduler.arn}',
    });
    expect(mod.variable.mode[0].default).toBe('dry-run');
  });
});
