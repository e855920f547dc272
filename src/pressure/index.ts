// Chooses the pressure sources by provider. Config gives the cluster's coordinates; deps give endpoint
// overrides, the simulator's CA, credentials and the node list (gateway-level and ENA sources need it).
// This module loads both clouds' SDKs; a run loads only its own through load.ts (loadPressureSources).
import type { PressureSource } from '../ports.js';
import { awsSources } from './aws-sources.js';
import { azureSources } from './azure-sources.js';
import type { PressureConfig, PressureDeps } from './types.js';

export { loadPressureSources } from './load.js';
export { awsTarget, azureCredentialOptions, azureTarget } from './targets.js';
export type {
  AwsTarget,
  AzureCloud,
  AzureTarget,
  PressureConfig,
  PressureDeps,
  PressureTargets,
  Provider,
  RetryPolicy,
} from './types.js';
export { AZURE_CLOUD_ENDPOINTS, instanceIdFromProviderID } from './types.js';

export function createPressureSources(cfg: PressureConfig, deps: PressureDeps = {}): PressureSource[] {
  if (cfg.provider === 'azure') return azureSources(cfg, deps);
  if (cfg.provider === 'aws') return awsSources(cfg, deps);
  return [];
}
