// AWS's pressure sources: the only module that brings the AWS SDK into a run. Loaded by provider
// (load.ts), so the Functions bundle never reaches it.
import type { PressureSource } from '../ports.js';
import { awsClients } from './aws-clients.js';
import { awsEnaConntrackSource } from './aws-ena-conntrack.js';
import { awsNatGatewaySource } from './aws-nat-gateway.js';
import { awsTarget } from './targets.js';
import type { PressureConfig, PressureDeps } from './types.js';
import { retryOf } from './types.js';

export function awsSources(cfg: PressureConfig, deps: PressureDeps = {}): PressureSource[] {
  const target = awsTarget(cfg, deps);
  const clients = awsClients(target, retryOf(deps), deps);
  return [awsNatGatewaySource(target, deps, clients), awsEnaConntrackSource(target, deps, clients)];
}
