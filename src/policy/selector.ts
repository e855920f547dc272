// A Kubernetes label selector (the string form kubectl takes): `a=b`, `a==b`, `a!=b`, `a`, `!a`,
// `a in (x,y)`, `a notin (x)`, comma-separated, all must hold. Empty matches everything.

export type Requirement =
  | { key: string; op: 'eq' | 'ne'; value: string }
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | 'absent' };

export class SelectorSyntaxError extends Error {
  constructor(
    readonly selector: string,
    detail: string,
  ) {
    super(`invalid label selector "${selector}": ${detail}`);
    this.name = 'SelectorSyntaxError';
  }
}

// Label keys may carry a DNS prefix (`app.kubernetes.io/name`); values are at most 63 chars of [A-Za-z0-9_.-].
const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Splits on commas that are not inside parentheses. */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(current);
      current = '';
    } else current += ch;
  }
  terms.push(current);
  return terms.map((t) => t.trim());
}

function checkKey(selector: string, key: string): string {
  if (!KEY.test(key)) throw new SelectorSyntaxError(selector, `bad key "${key}"`);
  return key;
}

function checkValue(selector: string, value: string): string {
  if (value.length > 63 || !VALUE.test(value))
    throw new SelectorSyntaxError(selector, `bad value "${value}"`);
  return value;
}

/** Parses a selector; throws SelectorSyntaxError on anything it does not understand. */
export function parseSelector(selector: string): Requirement[] {
  if (selector.trim() === '') return [];
  return splitTerms(selector).map((term): Requirement => {
    if (term === '') throw new SelectorSyntaxError(selector, 'empty term');
    const set = /^(\S+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(term);
    if (set) {
      const values = set[3]!.split(',').map((v) => checkValue(selector, v.trim()));
      return { key: checkKey(selector, set[1]!), op: set[2] as 'in' | 'notin', values };
    }
    const cmp = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
    if (cmp) {
      return {
        key: checkKey(selector, cmp[1]!),
        op: cmp[2] === '!=' ? 'ne' : 'eq',
        value: checkValue(selector, cmp[3]!),
      };
    }
    if (term.startsWith('!')) return { key: checkKey(selector, term.slice(1).trim()), op: 'absent' };
    return { key: checkKey(selector, term), op: 'exists' };
  });
}

export function matchesRequirements(requirements: Requirement[], labels: Record<string, string>): boolean {
  return requirements.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    const value = labels[r.key];
    switch (r.op) {
      case 'eq':
        return has && value === r.value;
      case 'ne':
        return !has || value !== r.value;
      case 'in':
        return has && r.values.includes(value!);
      case 'notin':
        return !has || !r.values.includes(value!);
      case 'exists':
        return has;
      case 'absent':
        return !has;
    }
    return false;
  });
}

/** True when `labels` satisfy `selector`; throws SelectorSyntaxError for a bad selector. */
export function matchesSelector(selector: string, labels: Record<string, string>): boolean {
  return matchesRequirements(parseSelector(selector), labels);
}
