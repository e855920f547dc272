import type { CloudFacts, NodeReport, Offender, Recommendation } from '../model.js';

/** A pod the run could not read (no `cat`, exec refused, …). */
export interface UninspectablePod {
  /** `namespace/name`. */
  pod: string;
  node: string;
  reason: string;
}

/** The facts of one run that the advice looks at. Built by run.ts; every recommendation derives from it alone. */
export interface AdviceInput {
  provider: 'azure' | 'aws' | 'none';
  cloud: Partial<CloudFacts>;
  /** Nodes in the cluster (the load balancer's backend pool), not only the hot ones. */
  nodeCount: number;
  nodes: NodeReport[];
  offenders: Omit<Offender, 'ref'>[];
  uninspectable: UninspectablePod[];
  thresholds: { snatUsedRatio: number; conntrackUsedRatio: number };
  /** Config `inspect.nodeProbeFallback`. */
  nodeProbeFallback: boolean;
  /** Surge nodes during an upgrade (node pool maxSurge); default 1, AKS's one buffer node. */
  maxSurge?: number;
  /** Names for the commands; placeholders (`<resource-group>`, `<cluster>`) when unknown. */
  target?: { resourceGroup?: string; cluster?: string };
}

/** One entry of the catalogue: looks at the input, returns zero or more recommendations. */
export type Rule = (input: AdviceInput) => Recommendation[];
