// A strict reader of the OpenMetrics 1.0 text format, written from the spec (ABNF, "Escaping", "MetricFamily",
// "Gauge": https://prometheus.io/docs/specs/om/open_metrics_spec/): it throws on the first rule an exposition
// breaks. Kept strict where the spec only says SHOULD (escapes, gauges only, no timestamps): what snatguard prints.
export interface Sample {
  labels: Record<string, string>;
  value: number;
}
export interface ParsedFamily {
  type?: string;
  help?: string;
  unit?: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// realnumber of the ABNF, and the case-insensitive inf / infinity / nan
const NUMBER =
  /^(?:[+-]?\d+(?:\.\d*)?(?:e[+-]?\d+)?|[+-]?\d*\.\d+(?:e[+-]?\d+)?|[+-]?(?:inf|infinity)|nan)$/i;
const TYPES = ['counter', 'gauge', 'histogram', 'gaugehistogram', 'stateset', 'info', 'summary', 'unknown'];
// Sample names other types own: a gauge family must not end with one (its sample name would clash).
const RESERVED_SUFFIXES = ['_total', '_created', '_count', '_sum', '_bucket', '_gcount', '_gsum', '_info'];

/** Reads an escaped-string up to its closing quote; only \\n, \\" and \\\\ are accepted (we are strict). */
function readEscaped(text: string, at: number, line: number): { value: string; end: number } {
  let value = '';
  for (let i = at; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') return { value, end: i };
    if (c === '\n') throw new Error(`line ${line}: line feed inside a string`);
    if (c === '\\') {
      const next = text[++i];
      if (next === 'n') value += '\n';
      else if (next === '"' || next === '\\') value += next;
      else throw new Error(`line ${line}: undefined escape \\${next ?? ''}`);
      continue;
    }
    value += c;
  }
  throw new Error(`line ${line}: unterminated string`);
}

/** A strict OpenMetrics 1.0 text reader: throws on the first rule broken, else the families by name. */
export function parseOpenMetrics(text: string): Map<string, ParsedFamily> {
  if (text.includes('\r')) throw new Error('carriage return');
  if (text.charCodeAt(0) === 0xfeff) throw new Error('byte order mark');
  if (!text.endsWith('# EOF\n') && !text.endsWith('# EOF')) throw new Error('does not end with # EOF');
  const lines = text.replace(/\n$/, '').split('\n');
  if (lines.pop() !== '# EOF') throw new Error('the last line is not # EOF');
  const families = new Map<string, ParsedFamily>();
  const done = new Set<string>();
  let current: string | undefined;
  let sawSample = false;
  const open = (name: string, line: number): ParsedFamily => {
    if (name !== current) {
      if (done.has(name)) throw new Error(`line ${line}: family ${name} interleaved (seen before)`);
      if (current) done.add(current);
      current = name;
      sawSample = false;
      families.set(name, { samples: [] });
    }
    return families.get(name)!;
  };
  lines.forEach((l, idx) => {
    const line = idx + 1;
    if (l.startsWith('#')) {
      const m = /^# (TYPE|HELP|UNIT) ([^ ]+)(?: (.*))?$/.exec(l);
      if (!m) throw new Error(`line ${line}: a # line that is not TYPE, HELP, UNIT or the final EOF: ${l}`);
      const [, kind, name, rest = ''] = m as unknown as [string, string, string, string?];
      if (!METRIC_NAME.test(name)) throw new Error(`line ${line}: bad metric name ${name}`);
      const f = open(name, line);
      if (sawSample) throw new Error(`line ${line}: metadata after samples of ${name}`);
      if (kind === 'TYPE') {
        if (f.type !== undefined) throw new Error(`line ${line}: second TYPE for ${name}`);
        if (!TYPES.includes(rest)) throw new Error(`line ${line}: unknown type ${rest}`);
        f.type = rest;
      } else if (kind === 'HELP') {
        if (f.help !== undefined) throw new Error(`line ${line}: second HELP for ${name}`);
        const { value, end } = readEscaped(`${rest}"`, 0, line);
        if (end !== rest.length) throw new Error(`line ${line}: unescaped double quote in HELP`);
        f.help = value;
      } else {
        if (f.unit !== undefined) throw new Error(`line ${line}: second UNIT for ${name}`);
        if (!/^[a-zA-Z0-9_:]*$/.test(rest)) throw new Error(`line ${line}: bad unit ${rest}`);
        if (rest && !name.endsWith(`_${rest}`))
          throw new Error(`line ${line}: ${name} does not end with _${rest}`);
        f.unit = rest;
      }
      return;
    }
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)?.[0];
    if (!name) throw new Error(`line ${line}: no metric name: ${l}`);
    // This exposition has gauges only: a gauge sample is named exactly as its family.
    const f = open(name, line);
    if (f.type !== 'gauge') throw new Error(`line ${line}: sample of ${name} without TYPE gauge`);
    sawSample = true;
    let at = name.length;
    const labels: Record<string, string> = {};
    if (l[at] === '{') {
      at++;
      while (l[at] !== '}') {
        const ln = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(l.slice(at))?.[0];
        if (!ln || !LABEL_NAME.test(ln)) throw new Error(`line ${line}: bad label name at ${at}`);
        if (ln.startsWith('__')) throw new Error(`line ${line}: reserved label name ${ln}`);
        if (ln in labels) throw new Error(`line ${line}: label ${ln} twice`);
        at += ln.length;
        if (l.slice(at, at + 2) !== '="') throw new Error(`line ${line}: expected =" after ${ln}`);
        const { value, end } = readEscaped(l, at + 2, line);
        labels[ln] = value;
        at = end + 1;
        if (l[at] === ',') at++;
        else if (l[at] !== '}') throw new Error(`line ${line}: expected , or } at ${at}`);
      }
      at++;
    }
    if (l[at] !== ' ') throw new Error(`line ${line}: expected one space before the value`);
    const parts = l.slice(at + 1).split(' ');
    if (parts.length !== 1)
      throw new Error(`line ${line}: a timestamp or exemplar (this exposition has none)`);
    if (!NUMBER.test(parts[0]!)) throw new Error(`line ${line}: bad number ${parts[0]}`);
    const key = JSON.stringify(Object.entries(labels).sort());
    if (f.samples.some((s) => JSON.stringify(Object.entries(s.labels).sort()) === key))
      throw new Error(`line ${line}: the same labels twice in ${name}`);
    f.samples.push({ labels, value: Number(parts[0]!.replace(/^\+?inf(inity)?$/i, 'Infinity')) });
  });
  for (const [name, f] of families) {
    if (f.type === 'gauge' && RESERVED_SUFFIXES.some((s) => name.endsWith(s)))
      throw new Error(`gauge ${name} ends with a suffix another type's samples use`);
  }
  return families;
}
