// Points the cloud pressure sources at the simulator: its endpoints, its CA, test credentials.
import type { PressureTargets } from '../../pressure/index.js';
import type { RunningSim } from '../../sim/server.js';

export function simPressureTargets(sim: Pick<RunningSim, 'endpoints' | 'ca'>): Partial<PressureTargets> {
  return {
    armEndpoint: sim.endpoints.arm,
    metricsEndpoint: sim.endpoints.metrics,
    awsEndpoint: sim.endpoints.aws,
    ca: sim.ca,
    azureCredential: {
      getToken: async () => ({ token: 'snatguard-sim', expiresOnTimestamp: Date.now() + 3_600_000 }),
    },
    awsCredentials: async () => ({ accessKeyId: 'AKIDSNATGUARDSIM', secretAccessKey: 'snatguard-sim' }),
  };
}
