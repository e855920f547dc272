// The simulated control plane (src/sim): public entry points and the wiring of the route modules.
// Order: kube (server.ts), then azure, aws, sinks. A new cloud or sink module is added in cloudRoutes.
import { awsRoutes } from './aws.js';
import { azureRoutes, type CloudRouteOptions } from './azure.js';
import { sinkRoutes } from './sinks.js';
import type { SimRoutes, SimWorld } from './types.js';

export type { ExecOutcome, ReplacedWorkload, SimBackend } from './backend.js';
export type { RunningSim, StartSimOptions } from './server.js';
export { JOB_NAMESPACE, JOB_SERVICE_ACCOUNT, kubeconfigYaml, startSim } from './server.js';
export type { Snapshot } from './snapshot.js';
export { loadSnapshot, parseSnapshot } from './snapshot.js';
export type { NodeMetrics, RecordedRequest, SimFaults, SimRoutes, SimWorld } from './types.js';
export { World } from './world.js';

/** The route modules after the Kubernetes API, in the order the server tries them. */
export function cloudRoutes(
  world: SimWorld,
  opts: CloudRouteOptions,
): { service: string; routes: SimRoutes }[] {
  return [
    { service: 'azure', routes: azureRoutes(world, opts) },
    { service: 'aws', routes: awsRoutes(world, opts) },
    { service: 'sink', routes: sinkRoutes(world) },
  ];
}
