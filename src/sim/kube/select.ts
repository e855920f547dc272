// Label selectors (`app=web,tier in (a,b),!canary`) and field selectors (`spec.nodeName=n1`).
import type { KubeObject } from '../world.js';
import { badRequest } from './status.js';

type Requirement = (labels: Record<string, string>) => boolean;

/** Splits on commas outside parentheses. */
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

export function labelSelector(text: string): (o: KubeObject) => boolean {
  const reqs: Requirement[] = terms(text).map((t) => {
    let m = /^([^!=\s]+)\s*(==|=|!=)\s*([^\s]*)$/.exec(t);
    if (m) {
      const [, k = '', op, v = ''] = m;
      return op === '!=' ? (l) => l[k] !== v : (l) => l[k] === v;
    }
    m = /^([^\s]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(t);
    if (m) {
      const [, k = '', op, list = ''] = m;
      const values = new Set(list.split(',').map((v) => v.trim()));
      return op === 'in'
        ? (l) => l[k] !== undefined && values.has(l[k])
        : (l) => l[k] === undefined || !values.has(l[k]);
    }
    m = /^(!?)([A-Za-z0-9][-A-Za-z0-9_./]*)$/.exec(t);
    if (m) {
      const [, not, k = ''] = m;
      return not ? (l) => !(k in l) : (l) => k in l;
    }
    throw badRequest(`unable to parse requirement: invalid label selector "${text}"`);
  });
  return (o) => reqs.every((r) => r(o.metadata.labels ?? {}));
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
