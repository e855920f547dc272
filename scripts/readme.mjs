// npm run readme: regenerates the README sections between <!-- BEGIN x --> / <!-- END x --> markers from
// the built CLI (npm run build first), so what the README shows is what the commands print.
import { execFileSync } from 'node:child_process';
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

const sections = {
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
