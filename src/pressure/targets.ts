// The cloud targets and credential options from config: no SDK code, so every host may load it.
import { ValidationError } from '../errors.js';
import type { AwsTarget, AzureTarget, PressureConfig, PressureDeps } from './types.js';
import { AZURE_CLOUD_ENDPOINTS } from './types.js';

/** The Azure target from config and overrides; throws a ValidationError naming every missing key. */
export function azureTarget(cfg: PressureConfig, deps: PressureDeps = {}): AzureTarget {
  const a = cfg.azure ?? {};
  const missing = (['subscriptionId', 'resourceGroup', 'clusterName'] as const)
    .filter((k) => !a[k])
    .map((k) => `azure.${k}: required when provider is azure`);
  if (missing.length > 0) throw new ValidationError('config', missing);
  return {
    ...(a.cloud ? { cloud: a.cloud } : {}),
    subscriptionId: a.subscriptionId as string,
    resourceGroup: a.resourceGroup as string,
    clusterName: a.clusterName as string,
    ...(a.location ? { location: a.location } : {}),
    ...((deps.armEndpoint ?? a.armEndpoint) ? { armEndpoint: deps.armEndpoint ?? a.armEndpoint } : {}),
    ...((deps.metricsEndpoint ?? a.metricsEndpoint)
      ? { metricsEndpoint: deps.metricsEndpoint ?? a.metricsEndpoint }
      : {}),
  };
}

/** The AWS target from config and overrides; throws a ValidationError naming every missing key. */
export function awsTarget(cfg: PressureConfig, deps: PressureDeps = {}): AwsTarget {
  const a = cfg.aws ?? {};
  const missing = (['region', 'clusterName'] as const)
    .filter((k) => !a[k])
    .map((k) => `aws.${k}: required when provider is aws`);
  if (missing.length > 0) throw new ValidationError('config', missing);
  return {
    region: a.region as string,
    clusterName: a.clusterName as string,
    ...((deps.awsEndpoint ?? a.endpoint) ? { endpoint: deps.awsEndpoint ?? a.endpoint } : {}),
    ...(a.natGatewayIds?.length ? { natGatewayIds: a.natGatewayIds } : {}),
  };
}

/** DefaultAzureCredential's options: the cloud's authority, the user-assigned identity when given. */
export function azureCredentialOptions(cfg: PressureConfig): {
  authorityHost: string;
  managedIdentityClientId?: string;
} {
  const clientId = cfg.azure?.clientId;
  return {
    authorityHost: AZURE_CLOUD_ENDPOINTS[cfg.azure?.cloud ?? 'AzurePublicCloud'].authorityHost,
    ...(clientId ? { managedIdentityClientId: clientId } : {}),
  };
}
