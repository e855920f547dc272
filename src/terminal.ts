// Text from the cluster (pod names, exec stderr, annotations, error messages) reaches a terminal in the
// table and Markdown outputs. Terminals act on control sequences: cursor movement, OSC 8 hyperlinks,
// OSC 52 clipboard writes, title changes. Every untrusted string is stripped of them before printing.

/**
 * ECMA-48 sequences, 7-bit and 8-bit: CSI (ESC [ … final, or 0x9B), OSC (ESC ] … BEL/ST, or 0x9D), DCS,
 * SOS, PM, APC (ESC P/X/^/_ … ST, or 0x90/0x98/0x9E/0x9F), and two-character escapes (ESC + one byte,
 * with intermediates). An unterminated string sequence runs to the end of the text and is dropped whole.
 */
const SEQUENCE =
  /\x1b\[[0-?]*[ -/]*[@-~]?|\x9b[0-?]*[ -/]*[@-~]?|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|\x1b[ -/]*[0-~]?/g;

/**
 * What remains and still acts on a terminal or misleads a reader: C0 controls (but tab and newline),
 * DEL, C1 controls, and the Unicode bidirectional overrides and isolates (text that displays reordered).
 */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every terminal control sequence and control character removed (tab and newline stay). */
export function stripTerminal(text: string): string {
  return text.replace(SEQUENCE, '').replace(CONTROL, '');
}

/** A value with every string in it stripped (objects and arrays copied, other values as they are). */
export function stripTerminalDeep<T>(value: T): T {
  if (typeof value === 'string') return stripTerminal(value) as T;
  if (Array.isArray(value)) return value.map((v) => stripTerminalDeep(v)) as T;
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[stripTerminal(k)] = stripTerminalDeep(v);
    return out as T;
  }
  return value;
}
