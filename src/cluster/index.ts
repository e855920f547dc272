// Kubernetes I/O for one run: factories of the ports in src/ports.ts (the KubeConfig comes from ./connect.ts).
export { clusterError, httpStatusOf, isConflict, isNotFound } from './errors.js';
export { podExec } from './exec.js';
export {
  type InspectDeps,
  type InspectProgress,
  inspectNode,
  type NodeInspection,
  SOCKET_FILES,
} from './inspect.js';
export { LEASE_NAME, leaseLock, liveHolder } from './lease.js';
export { createLimiter, type Limiter } from './limit.js';
export {
  CONNTRACK_FILES,
  DEFAULT_PROBE_TARGETS,
  type NodeProbeOptions,
  nodeProbe,
  type ProbeTarget,
  probeCandidates,
} from './node-probe.js';
export { clusterReader, toNodeInfo, toPodInfo } from './reader.js';
export {
  RESTARTED_AT,
  restartPatch,
  rfc3339,
  rolloutRemediator,
  SNATGUARD_REASON,
  SNATGUARD_RESTARTED_AT,
} from './restart.js';
export { configMapState, parseState, STATE_CONFIGMAP, STATE_KEY } from './state.js';
