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
  // An ephemeral debug container shares the pod's network namespace, so its `cat` reads the pod's socket
  // tables; node-side reading (inspect.nodeProbeFallback) does it on every run. No setting lowers the severity:
  // these pods reach the advice only when the node's conntrack table could not count them either.
  const onNode = input.nodeProbeFallback
    ? ` Reading them on their node failed too (each reason says why): is snatguard-node-sockets (infra/kubernetes/node-sockets.yaml) running on ${listSome(nodes, 3)}?`
    : ' Or have every run read them on their node: `inspect.nodeProbeFallback: true` with infra/kubernetes/node-sockets.yaml (hostPID, no capabilities).';
  const first = pods[0]!.pod;
  const [ns, name] = first.split('/');
  return [
    {
      id: 'UNINSPECTABLE_PODS',
      severity: 'warning',
      title: `${plural(pods.length, 'pod')} could not be inspected`,
      detail: `${base} Read one by hand through an ephemeral debug container (it shares the pod's network namespace), or give the image a \`cat\`.${onNode}`,
      fix: `kubectl debug -n ${ns} ${name} -q --attach --image=busybox:1.36 -- cat /proc/net/tcp /proc/net/tcp6 | snatguard sockets -`,
    },
  ];
}
