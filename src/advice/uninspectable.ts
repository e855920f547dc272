// Advice when pods on hot nodes could not be read: UNINSPECTABLE_PODS.
import type { Recommendation } from '../model.js';
import { listSome, num, plural } from './format.js';
import type { AdviceInput } from './types.js';

/** Pods named in the detail before `…and N more`. */
export const UNINSPECTABLE_LIST_LIMIT = 5;

export function uninspectablePods(input: AdviceInput): Recommendation[] {
  if (input.uninspectable.length === 0) return [];
  const pods = [...input.uninspectable].sort(
    (a, b) => a.pod.localeCompare(b.pod) || a.node.localeCompare(b.node),
  );
  const reasons = new Map<string, number>();
  for (const p of pods) reasons.set(p.reason, (reasons.get(p.reason) ?? 0) + 1);
  const reasonText = [...reasons.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([r, n]) => `${r} (${num(n)})`)
    .join('; ');
  const nodes = [...new Set(pods.map((p) => p.node))].sort();
  const names = pods.map((p) => p.pod);
  const base =
    `${plural(pods.length, 'pod')} on ${listSome(nodes, 3)} could not be read: ${listSome(names, UNINSPECTABLE_LIST_LIMIT)}. ` +
    `Reasons: ${reasonText}. Their sockets are not counted, so an offender may hide among them (a distroless image has no \`cat\`).`;
  if (!input.nodeProbeFallback) {
    return [
      {
        id: 'UNINSPECTABLE_PODS',
        severity: 'warning',
        title: `${plural(pods.length, 'pod')} could not be inspected`,
        detail: `${base} The opt-in node-probe fallback reads such pods through snatguard's node probe instead of exec into them.`,
        fix: 'inspect.nodeProbeFallback: true  (env SNATGUARD_INSPECT_NODE_PROBE_FALLBACK=true)',
      },
    ];
  }
  return [
    {
      id: 'UNINSPECTABLE_PODS',
      severity: 'info',
      title: `${plural(pods.length, 'pod')} could not be inspected, even through the node probe`,
      detail: `${base} The node-probe fallback is on but did not reach them: check that the probe DaemonSet runs on ${listSome(nodes, 3)}.`,
      fix: 'kubectl apply -f infra/kubernetes/node-probe.yaml',
    },
  ];
}
