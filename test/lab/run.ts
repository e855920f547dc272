// `npm run lab [-- --json] [-- --only NAME,…]`: the incidents on this machine's kernel, through the product.
// Needs root, iproute2, iptables and conntrack. Without them it says what is missing and exits 0 locally,
// 1 on CI (CI=true): there a skip is a failure. Exits 1 when any scenario's check fails.
import { removeAllNetns, requireRoot } from './netns.js';
import { SCENARIOS, type ScenarioResult } from './scenarios.js';

const FIELDS = [
  'hotNodes',
  'offenders',
  'restarted',
  'recommendations',
  'portsInUseBefore',
  'portsInUseAfter',
  'failedConnectsBefore',
  'recoverySeconds',
  'execSockets',
  'conntrackFlows',
] as const;

function usage(): never {
  process.stderr.write(`usage: npm run lab [-- --json] [-- --only ${Object.keys(SCENARIOS).join(',')}]\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): { json: boolean; only: string[] } {
  let json = false;
  let only = Object.keys(SCENARIOS);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') json = true;
    else if (a === '--only') {
      only = (argv[++i] ?? '').split(',').filter(Boolean);
      const unknown = only.filter((n) => !(n in SCENARIOS));
      if (unknown.length > 0 || only.length === 0) usage();
    } else usage();
  }
  return { json, only };
}

const show = (v: unknown): string => {
  if (v === undefined) return '–';
  if (Array.isArray(v))
    return (
      v
        .map((x) =>
          typeof x === 'object' && x !== null
            ? `${(x as { workload: string }).workload} ${(x as { snatSockets: number }).snatSockets} (${(x as { method?: string }).method ?? '?'})`
            : String(x),
        )
        .join(', ') || 'none'
    );
  return String(v);
};

function table(results: ScenarioResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    out.push(`${r.passed ? 'PASS' : 'FAIL'}  ${r.name}  (${r.durationSeconds} s) — ${r.description}`);
    for (const f of FIELDS) if (r[f] !== undefined) out.push(`      ${f.padEnd(22)} ${show(r[f])}`);
    for (const [k, v] of Object.entries(r.figures)) out.push(`      ${k.padEnd(22)} ${v}`);
    for (const c of r.checks) out.push(`   ${c.ok ? '✓' : '✗'}  ${c.name}: ${c.detail}`);
    if (r.notReproduced) out.push(`   ⚠  not reproduced: ${r.notReproduced}`);
    out.push('');
  }
  const failed = results.filter((r) => !r.passed).length;
  out.push(`${results.length - failed}/${results.length} scenarios passed`);
  return `${out.join('\n')}\n`;
}

// Interrupted: remove every namespace this process created (the lab's programs exit when their stdin closes).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`lab: ${signal}, removing the lab's namespaces\n`);
    void removeAllNetns().finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  const { json, only } = parseArgs(process.argv.slice(2));
  const lab = requireRoot(['ip', 'iptables', 'conntrack']);
  if (lab.missing.length > 0) {
    process.stderr.write(`lab: needs ${lab.missing.join(', ')}\n`);
    process.exit(process.env.CI === 'true' ? 1 : 0);
  }
  const results: ScenarioResult[] = [];
  for (const name of only) {
    if (!json) process.stderr.write(`lab: ${name}…\n`);
    results.push(await SCENARIOS[name]!());
  }
  process.stdout.write(json ? `${JSON.stringify({ scenarios: results }, null, 2)}\n` : table(results));
  process.exitCode = results.every((r) => r.passed) ? 0 : 1;
}

main().catch((e: unknown) => {
  process.stderr.write(`lab: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
