// Number formatting for recommendation text: fixed, locale-independent (`2,500`, `88%`).

/** `2500` → `2,500`; non-integers keep up to two decimals. */
export function num(n: number): string {
  const [int = '0', frac] = (Math.round(n * 100) / 100).toString().split('.');
  const sign = int.startsWith('-') ? '-' : '';
  const digits = sign ? int.slice(1) : int;
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${sign}${grouped}${frac ? `.${frac}` : ''}`;
}

/** `0.875` → `88%`. */
export const pct = (ratio: number): string => `${Math.round(ratio * 100)}%`;

/** `1, 'pod'` → `1 pod`; `2, 'pod'` → `2 pods`. */
export const plural = (n: number, word: string, many = `${word}s`): string =>
  `${num(n)} ${n === 1 ? word : many}`;

/** The port of `a.b.c.d:port` or `[v6]:port`; undefined when there is none. */
export function portOf(remote: string): number | undefined {
  const m = /:(\d{1,5})$/.exec(remote);
  return m ? Number(m[1]) : undefined;
}

/** Up to `limit` items joined by `, `, then `…and N more`. */
export function listSome(items: string[], limit: number): string {
  const shown = items.slice(0, limit).join(', ');
  return items.length > limit ? `${shown} …and ${num(items.length - limit)} more` : shown;
}
