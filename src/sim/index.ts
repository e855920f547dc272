// The simulated control plane (src/sim): public entry points and the wiring of the route modules.
// Order: kube (server.ts), then azure, aws, sinks. A new cloud or sink module is added in cloudRoutes.
import { awsEarly, awsRoutes } from './aws.js';
import { azureEarly, azureRoutes, type CloudRouteOptions } from './azure.js';
import { sinkRoutes } from './sinks.js';
import type { SimEarly, SimRoutes, SimWorld } from './types.js';

export type { ExecOutcome, ReplacedWorkload, SimBackend } from './backend.js';
export type { RunningSim, StartSimOptions } from './server.js';
export { JOB_NAMESPACE, JOB_SERVICE_ACCOUNT, kubeconfigYaml, startSim } from './server.js';
export type { Snapshot } from './snapshot.js';
export { loadSnapshot, parseSnapshot } from './snapshot.js';
export type { NodeMetrics, RecordedRequest, SimEarly, SimFaults, SimRoutes, SimWorld } from './types.js';
export { World } from './world.js';

/**
 * The route modules after the Kubernetes API, in the order the server tries them, each with what it
 * answers before the workloads are seeded (SimEarly; the sinks read no world state but their own).
 */
export function cloudRoutes(
  world: SimWorld,
  opts: CloudRouteOptions,
): { service: string; routes: SimRoutes; early: SimEarly }[] {
  return [
    { service: 'azure', routes: azureRoutes(world, opts), early: azureEarly },
    { service: 'aws', routes: awsRoutes(world, opts), early: awsEarly },
    { service: 'sink', routes: sinkRoutes(world), early: () => true },
  ];
}
