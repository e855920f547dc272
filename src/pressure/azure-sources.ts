// Azure's pressure sources: the only module that brings the Azure SDK into a run. Loaded by provider
// (load.ts), so the Lambda bundle never reaches it.
import { DefaultAzureCredential } from '@azure/identity';
import type { PressureSource } from '../ports.js';
import { azurePressureSource } from './azure.js';
import { azureCredentialOptions, azureTarget } from './targets.js';
import type { PressureConfig, PressureDeps } from './types.js';

export function azureSources(cfg: PressureConfig, deps: PressureDeps = {}): PressureSource[] {
  const credential = deps.azureCredential ?? new DefaultAzureCredential(azureCredentialOptions(cfg));
  return [azurePressureSource(azureTarget(cfg, deps), credential, deps)];
}
