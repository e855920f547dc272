// The README is the newcomer's first screen: keep it true to the code.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeConfig } from '../src/config/index.js';
import { RECOMMENDATION_IDS, SKIP_REASONS } from '../src/model.js';
import { packageRoot } from '../src/paths.js';

const root = packageRoot();
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

describe('README', () => {
  it('says what snatguard is and gives the two commands on its first screen', () => {
    const firstScreen = readme.split('\n').slice(0, 25).join('\n');
    expect(firstScreen).toMatch(/SNAT ports and conntrack entries/);
    expect(firstScreen).toContain('npm ci && npm start');
    expect(firstScreen).toContain('npm test');
    expect(pkg.scripts.start).toMatch(/demo/);
  });

  it.each(describeConfig().map((r) => [r.key, r.env]))('documents config key %s (%s)', (key, env) => {
    expect(readme).toContain(`\`${key}\``);
    expect(readme).toContain(`\`${env}\``);
  });

  it.each([...SKIP_REASONS, ...RECOMMENDATION_IDS])('explains %s', (code) => {
    expect(readme).toContain(`\`${code}\``);
  });

  it('shows the first incident as Slack shows it (the golden file, verbatim)', () => {
    expect(readme).toContain(readFileSync(join(root, 'test/notify/golden/slack.txt'), 'utf8').trimEnd());
  });

  it('runs every command it lists', () => {
    for (const cmd of ['scan', 'replay', 'demo', 'sim', 'sockets', 'capacity'])
      expect(readme).toContain(`snatguard ${cmd}`);
    for (const script of ['test', 'typecheck', 'lint', 'bench', 'package'])
      expect(pkg.scripts[script]).toBeTruthy();
  });
});
