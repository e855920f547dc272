// Label selectors (`app=web,tier in (a,b),!canary`) and field selectors (`spec.nodeName=n1`).

import {
  matchesRequirements,
  parseSelector,
  type Requirement,
  SelectorSyntaxError,
} from '../../policy/selector.js';
import type { KubeObject } from '../world.js';
import { badRequest } from './status.js';

/** Splits on commas outside parentheses (field selectors; labels go through the shared parser). */
function terms(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of text) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t !== '');
}

/** The same label-selector grammar the rails use, answered with a 400 Status as the API server does. */
export function labelSelector(text: string): (o: KubeObject) => boolean {
  const matches = labelMatcher(text);
  return (o) => matches(o.metadata.labels ?? {});
}

/** labelSelector on the labels alone (the world answers it for objects it has not built). */
export function labelMatcher(text: string): (labels: Record<string, string>) => boolean {
  let requirements: Requirement[];
  try {
    requirements = parseSelector(text);
  } catch (e) {
    throw badRequest(
      `unable to parse requirement: ${e instanceof SelectorSyntaxError ? e.message : String(e)}`,
    );
  }
  return (labels) => matchesRequirements(requirements, labels);
}

const FIELDS: Record<string, (o: KubeObject) => string | undefined> = {
  'metadata.name': (o) => o.metadata.name,
  'metadata.namespace': (o) => o.metadata.namespace,
  'spec.nodeName': (o) => o.spec?.nodeName ?? '',
  'status.phase': (o) => o.status?.phase,
  'spec.hostNetwork': (o) => String(o.spec?.hostNetwork === true),
  'spec.unschedulable': (o) => String(o.spec?.unschedulable === true),
  'involvedObject.name': (o) => (o.involvedObject as { name?: string } | undefined)?.name,
  'involvedObject.kind': (o) => (o.involvedObject as { kind?: string } | undefined)?.kind,
};

export function fieldSelector(text: string): (o: KubeObject) => boolean {
  const reqs = terms(text).map((t) => {
    const m = /^([^!=\s]+)\s*(==|=|!=)\s*(.*)$/.exec(t);
    if (!m) throw badRequest(`invalid field selector: "${t}"`);
    const [, field = '', op, value = ''] = m;
    const get = FIELDS[field];
    if (!get) throw badRequest(`field label not supported: ${field}`);
    return op === '!=' ? (o: KubeObject) => get(o) !== value : (o: KubeObject) => (get(o) ?? '') === value;
  });
  return (o) => reqs.every((r) => r(o));
}
