// The recommendation catalogue: run facts in, recommendations out. Pure and deterministic.
// Each rule lives in a small module; this file only lists them and fixes the order.
import type { Recommendation, Severity } from '../model.js';
import { connectionPooling, timeWaitChurn } from './application.js';
import { externalSnat, natGatewayAddIps, randomizeSnatPrng } from './aws.js';
import { azureOutbound } from './azure.js';
import { conntrackBeLiberal, conntrackRaiseMax } from './conntrack.js';
import type { AdviceInput, Rule } from './types.js';
import { uninspectablePods } from './uninspectable.js';

export type { AdviceInput, UninspectablePod } from './types.js';

export const RULES: readonly Rule[] = [
  connectionPooling,
  timeWaitChurn,
  azureOutbound,
  randomizeSnatPrng,
  externalSnat,
  natGatewayAddIps,
  conntrackRaiseMax,
  conntrackBeLiberal,
  uninspectablePods,
];

const SEVERITY_RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

const subject = (r: Recommendation): string => r.workload ?? (r.node !== undefined ? `node/${r.node}` : '');

/** Severity (critical first), then id, then subject (workload or node), then title. */
export function compareRecommendations(a: Recommendation, b: Recommendation): number {
  return (
    SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
    a.id.localeCompare(b.id) ||
    subject(a).localeCompare(subject(b)) ||
    a.title.localeCompare(b.title)
  );
}

/** Every recommendation the facts justify, in a fixed order. */
export function recommend(input: AdviceInput): Recommendation[] {
  return RULES.flatMap((rule) => rule(input)).sort(compareRecommendations);
}
