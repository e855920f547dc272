// npm run readme: regenerates the README sections between <!-- BEGIN x --> / <!-- END x --> markers from
// the built CLI (npm run build first), so what the README shows is what the commands print.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const cli = (...args) =>
  execFileSync(process.execPath, [join(root, 'dist/src/hosts/cli/main.js'), ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', SNATGUARD_LOG_LEVEL: 'silent' },
    input: args.includes('-') ? readFileSync(join(root, 'test/fixtures/incident-nine-lines.txt')) : undefined,
  });
const fence = (text, lang = 'text') => `\`\`\`${lang}\n${text.trimEnd()}\n\`\`\``;

const { describeConfig } = await import(join(root, 'dist/src/config/index.js'));
const cell = (s) => String(s ?? '').replace(/\|/g, '\\|');
const configTable = [
  '| key | env | default | meaning |',
  '|---|---|---|---|',
  ...describeConfig().map(
    (r) =>
      `| \`${r.key}\` | \`${r.env}\` | ${r.default === undefined ? '' : `\`${cell(r.default)}\``} | ${cell(r.description)}${r.secret ? ' (secret: `file:/path` or `env:NAME` accepted)' : ''} |`,
  ),
].join('\n');

const report = JSON.parse(cli('replay', 'examples/aks-mongo-leak.yaml', '--mode', 'restart', '-o', 'json'));
report.runId = '3f0b6c1e-…';
report.startedAt = '2026-11-21T08:05:00.112Z';
report.finishedAt = '2026-11-21T08:05:00.804Z';
delete report.stats;
for (const r of report.recommendations) r.detail = `${r.detail.slice(0, 120)}…`;

/** Another Markdown file, its headings one level down, its own title dropped, links re-rooted. */
const embed = (file, base) =>
  readFileSync(join(root, file), 'utf8')
    .replace(/^# .*\n+/, '')
    .replace(/^(#{2,5}) /gm, '#$1 ')
    .replace(/\]\((?!https?:|#)([^)]+)\)/g, (_, link) => `](${posix.normalize(base + link)})`)
    .trimEnd();

/** Run ids and clock times differ per run: fixed ones keep the README stable between regenerations. */
const steady = (text) =>
  text
    .replace(/run [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'run 3f0b6c1e-…')
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z/g, '2026-11-21T08:05:00Z');

/** `snatguard snapshot` against `snatguard sim FILE`, reached only through the lines sim prints. */
async function captured(file) {
  const sim = spawn(process.execPath, [join(root, 'dist/src/hosts/cli/main.js'), 'sim', file], {
    cwd: root,
    env: { ...process.env, SNATGUARD_LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    let out = '';
    await new Promise((resolve, reject) => {
      sim.stdout.on('data', (c) => {
        out += c;
        if (/^NODE_EXTRA_CA_CERTS=.*\n/m.test(out)) resolve();
      });
      sim.on('exit', () => reject(new Error(`snatguard sim ${file} exited`)));
    });
    const env = Object.fromEntries(
      out
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    return execFileSync(process.execPath, [join(root, 'dist/src/hosts/cli/main.js'), 'snapshot'], {
      cwd: root,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, SNATGUARD_LOG_LEVEL: 'silent' },
    });
  } finally {
    sim.kill('SIGTERM');
  }
}

/** The capture's head (metadata, cloud, cluster), its first node and one workload: the rest elided. */
const { parse: parseYaml, stringify: toYaml } = await import('yaml');
function snapshotExcerpt(text, workload) {
  const doc = parseYaml(text);
  const comments = text.split('\n').filter((l) => l.startsWith('#'));
  const w = doc.workloads.find((x) => x.name === workload);
  const { nodes, workloads, ...head } = doc;
  const body = toYaml({ ...head, nodes: [nodes[0]] }, { lineWidth: 0 });
  return steady(
    [
      ...comments,
      body.trimEnd(),
      `  # … ${nodes.length - 1} more node(s)`,
      'workloads:',
      `  # … ${workloads.length - 1} more workload(s), among them:`,
      toYaml([w], { lineWidth: 0 }).trimEnd().replace(/^/gm, '  '),
    ].join('\n'),
  );
}

const sections = {
  snapshot: fence(
    `$ snatguard snapshot      # here against: snatguard sim examples/aks-mongo-leak.yaml\n${snapshotExcerpt(await captured('examples/aks-mongo-leak.yaml'), 'orders-api')}`,
    'yaml',
  ),
  timeline: fence(
    `$ snatguard replay examples/aks-leak-forecast.yaml --timeline\n${steady(cli('replay', 'examples/aks-leak-forecast.yaml', '--timeline'))}`,
  ),
  notify: embed('src/notify/README.md', 'src/notify/'),
  deploy: embed('infra/README.md', 'infra/'),
  demo: fence(cli('demo')),
  sockets: fence(`$ kubectl exec POD -- cat /proc/1/net/tcp | snatguard sockets -\n${cli('sockets', '-')}`),
  capacity: [
    '--nodes 12',
    '--nodes 80 --max-surge 5 --want-ports 2048',
    '--nodes 300 --outbound-ips 4 --resource-group rg-shop --cluster aks-shop',
  ]
    .map((a) => fence(`$ snatguard capacity ${a}\n${cli('capacity', ...a.split(' '))}`))
    .join('\n\n'),
  config: configTable,
  runreport: fence(JSON.stringify(report, null, 2), 'json'),
};

let readme = readFileSync(join(root, 'README.md'), 'utf8');
for (const [name, body] of Object.entries(sections)) {
  const re = new RegExp(`(<!-- BEGIN ${name} -->)[\\s\\S]*?(<!-- END ${name} -->)`);
  if (!re.test(readme)) throw new Error(`README has no ${name} markers`);
  readme = readme.replace(re, (_, a, b) => `${a}\n${body}\n${b}`);
}
writeFileSync(join(root, 'README.md'), readme);
console.log(`README.md: ${Object.keys(sections).join(', ')} regenerated`);
