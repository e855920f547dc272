// The run's pressure sources, loading only the configured cloud's code (issue 13): esbuild splits each
// dynamic import into its own chunk, so a host loads its own cloud's SDK and never the other's.
import type { PressureSource } from '../ports.js';
import type { PressureConfig, PressureDeps } from './types.js';

export async function loadPressureSources(
  cfg: PressureConfig,
  deps: PressureDeps = {},
): Promise<PressureSource[]> {
  if (cfg.provider === 'azure') return (await import('./azure-sources.js')).azureSources(cfg, deps);
  if (cfg.provider === 'aws') return (await import('./aws-sources.js')).awsSources(cfg, deps);
  return [];
}

/**
 * Loads `provider`'s source modules (its SDK) ahead of loadPressureSources, without running anything: a
 * replay does this while its simulator checks and seeds the snapshot. Never fails (the run loads them
 * again, and reports what goes wrong then).
 */
export async function warmPressureSources(provider: string): Promise<void> {
  try {
    if (provider === 'azure') await import('./azure-sources.js');
    else if (provider === 'aws') await import('./aws-sources.js');
  } catch {
    // loadPressureSources meets the same failure and reports it.
  }
}
