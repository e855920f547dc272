import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type Config,
  configLeaves,
  defaultConfig,
  describeConfig,
  envNameOf,
  loadConfig,
  parseConfig,
} from '../../src/config/index.js';
import { ValidationError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'snatguard-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(text: string): string {
  const path = join(dir, `config-${n++}.yaml`);
  writeFileSync(path, text);
  return path;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationError) return e.problems;
    throw e;
  }
  throw new Error('expected a ValidationError');
}

describe('defaults', () => {
  it('equal the contract in DESIGN.md', () => {
    const c = defaultConfig();
    expect(c.mode).toBe('dry-run');
    expect(c.provider).toBe('none');
    expect(c.window).toEqual({ minutes: 5 });
    expect(c.thresholds).toEqual({ snatUsedRatio: 0.8, conntrackUsedRatio: 0.9 });
    expect(c.offender).toEqual({
      minSnatSockets: 100,
      minShare: 0.25,
      destinationRules: [{ port: 27017, maxSocketsPerPod: 10 }],
    });
    expect(c.rails).toEqual({
      maxRestartsPerRun: 1,
      cooldownMinutes: 60,
      allowSingleReplica: false,
      allowRecreate: false,
      namespaces: { include: [], exclude: ['kube-system'] },
      selector: '',
      preemptive: false,
      settleMinutes: 10,
    });
    expect(c.network).toEqual({ clusterCidrs: [], nonSnatCidrs: [], snatPortsPerNode: 1024 });
    expect(c.forecast).toEqual({ horizonMinutes: 60 });
    expect(c.azure.cloud).toBe('AzurePublicCloud');
    expect(c.exec).toEqual({ concurrency: 16, timeoutSeconds: 10, maxBytes: 67108864 });
    expect(c.notify).toEqual({
      slack: { webhookUrl: '' },
      teams: { webhookUrl: '' },
      discord: { webhookUrl: '' },
      webhook: { url: '', secret: '' },
      renotifyMinutes: 60,
      timeoutSeconds: 10,
      minSeverity: 'warning',
    });
  });

  it('include the keys the rest of the code needs', () => {
    const c = defaultConfig();
    expect(c.cluster).toEqual({
      name: '',
      connection: 'kubeconfig',
      kubeconfig: '',
      context: '',
      requestTimeoutSeconds: 20,
    });
    expect(c.namespace).toBe('snatguard');
    expect(c.inspect).toEqual({
      nodeSelector: '',
      podSelector: '',
      nodeProbeFallback: false,
      // #11 item 4: snatguard's own probe, in its own namespace; kube-proxy is no default reader.
      probeSelector: 'app.kubernetes.io/name=snatguard-node-probe',
      probeNamespace: '',
      probeFallbackSelector: '',
    });
    expect(c.lock).toEqual({ ttlSeconds: 600 });
    expect(c.log).toEqual({ level: 'info' });
    expect(c.deadlineSeconds).toBeUndefined();
    expect(c.azure).toEqual({ cloud: 'AzurePublicCloud' });
    expect(c.aws).toEqual({});
  });

  it('loadConfig with nothing given is the defaults', () => {
    expect(loadConfig()).toEqual(defaultConfig());
  });
});

describe('env vars', () => {
  it.each<[string, string, (c: Config) => unknown, unknown]>([
    ['SNATGUARD_MODE', 'restart', (c) => c.mode, 'restart'],
    ['SNATGUARD_RAILS_MAX_RESTARTS_PER_RUN', '3', (c) => c.rails.maxRestartsPerRun, 3],
    ['SNATGUARD_OFFENDER_MIN_SNAT_SOCKETS', '250', (c) => c.offender.minSnatSockets, 250],
    ['SNATGUARD_THRESHOLDS_SNAT_USED_RATIO', '0.5', (c) => c.thresholds.snatUsedRatio, 0.5],
    ['SNATGUARD_RAILS_ALLOW_SINGLE_REPLICA', 'true', (c) => c.rails.allowSingleReplica, true],
    ['SNATGUARD_RAILS_ALLOW_SINGLE_REPLICA', 'FALSE', (c) => c.rails.allowSingleReplica, false],
    ['SNATGUARD_INSPECT_NODE_PROBE_FALLBACK', '1', (c) => c.inspect.nodeProbeFallback, true],
    [
      'SNATGUARD_RAILS_NAMESPACES_EXCLUDE',
      'kube-system, istio-system,',
      (c) => c.rails.namespaces.exclude,
      ['kube-system', 'istio-system'],
    ],
    [
      'SNATGUARD_NETWORK_NON_SNAT_CIDRS',
      '10.50.0.0/16,fd00::/8',
      (c) => c.network.nonSnatCidrs,
      ['10.50.0.0/16', 'fd00::/8'],
    ],
    [
      'SNATGUARD_OFFENDER_DESTINATION_RULES',
      '[{"port":5432,"maxSocketsPerPod":20}]',
      (c) => c.offender.destinationRules,
      [{ port: 5432, maxSocketsPerPod: 20 }],
    ],
    [
      'SNATGUARD_NOTIFY_SLACK_WEBHOOK_URL',
      'https://hooks.slack.com/services/T/B/x',
      (c) => c.notify.slack.webhookUrl,
      'https://hooks.slack.com/services/T/B/x',
    ],
    ['SNATGUARD_AZURE_SUBSCRIPTION_ID', 'sub-1', (c) => c.azure.subscriptionId, 'sub-1'],
    ['SNATGUARD_LOG_LEVEL', 'debug', (c) => c.log.level, 'debug'],
    ['SNATGUARD_DEADLINE_SECONDS', '240', (c) => c.deadlineSeconds, 240],
    ['SNATGUARD_CLUSTER_CONNECTION', 'in-cluster', (c) => c.cluster.connection, 'in-cluster'],
  ])('%s=%s', (name, value, pick, expected) => {
    expect(pick(loadConfig({ env: { [name]: value } }))).toEqual(expected);
  });

  it('names every leaf key SNATGUARD_ + upper snake case of its path, without collisions', () => {
    const leaves = configLeaves();
    expect(leaves.length).toBeGreaterThan(40);
    expect(new Set(leaves.map((l) => l.env)).size).toBe(leaves.length);
    expect(envNameOf(['notify', 'slack', 'webhookUrl'])).toBe('SNATGUARD_NOTIFY_SLACK_WEBHOOK_URL');
    expect(leaves.find((l) => l.key === 'rails.maxRestartsPerRun')?.env).toBe(
      'SNATGUARD_RAILS_MAX_RESTARTS_PER_RUN',
    );
  });

  it('an empty variable means not set', () => {
    expect(loadConfig({ env: { SNATGUARD_EXEC_CONCURRENCY: '' } }).exec.concurrency).toBe(16);
  });

  it('unknown SNATGUARD_ variables are errors; passthrough ones and other variables are not', () => {
    const problems = problemsOf(() =>
      loadConfig({
        env: {
          SNATGUARD_RAILS_MAX_RESTART: '2',
          SNATGUARD_CONFIG: '/x',
          SNATGUARD_SCHEDULE: '0 */5 * * * *',
          PATH: '/bin',
        },
      }),
    );
    expect(problems).toEqual([
      expect.stringContaining('SNATGUARD_RAILS_MAX_RESTART: unknown environment variable'),
    ]);
  });

  it.each([
    [
      'SNATGUARD_EXEC_CONCURRENCY',
      'many',
      'exec.concurrency: "many" is not a number (from SNATGUARD_EXEC_CONCURRENCY)',
    ],
    ['SNATGUARD_RAILS_ALLOW_SINGLE_REPLICA', 'maybe', 'rails.allowSingleReplica: "maybe" is not a boolean'],
    ['SNATGUARD_OFFENDER_DESTINATION_RULES', '[{port', 'offender.destinationRules: not valid JSON'],
    ['SNATGUARD_MODE', 'yolo', 'mode: must be one of: dry-run, restart (from SNATGUARD_MODE)'],
    ['SNATGUARD_EXEC_CONCURRENCY', '0', 'exec.concurrency: must be ≥ 1 (from SNATGUARD_EXEC_CONCURRENCY)'],
    [
      'SNATGUARD_EXEC_CONCURRENCY',
      '1.5',
      'exec.concurrency: expected an integer, got number (from SNATGUARD_EXEC_CONCURRENCY)',
    ],
  ])('%s=%s is reported with its source', (name, value, expected) => {
    const problems = problemsOf(() => loadConfig({ env: { [name]: value } }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(expected);
  });
});

describe('precedence: flags > env > file > defaults', () => {
  it.each([
    ['defaults', {}, {}, undefined, 1],
    ['file', {}, {}, 'rails:\n  maxRestartsPerRun: 2\n', 2],
    [
      'env over file',
      { SNATGUARD_RAILS_MAX_RESTARTS_PER_RUN: '3' },
      {},
      'rails:\n  maxRestartsPerRun: 2\n',
      3,
    ],
    [
      'flag over env',
      { SNATGUARD_RAILS_MAX_RESTARTS_PER_RUN: '3' },
      { rails: { maxRestartsPerRun: 4 } },
      'rails:\n  maxRestartsPerRun: 2\n',
      4,
    ],
    ['dotted flag', {}, { 'rails.maxRestartsPerRun': 5 }, undefined, 5],
    ['string flag coerced', {}, { 'rails.maxRestartsPerRun': '6' }, undefined, 6],
    [
      'undefined flag ignored',
      { SNATGUARD_RAILS_MAX_RESTARTS_PER_RUN: '3' },
      { 'rails.maxRestartsPerRun': undefined },
      undefined,
      3,
    ],
  ])('%s', (_name, env, flags, text, expected) => {
    const config = loadConfig({ env, flags, ...(text ? { file: file(text) } : {}) });
    expect(config.rails.maxRestartsPerRun).toBe(expected);
  });

  it('deep-merges objects: sibling keys from lower layers survive', () => {
    const config = loadConfig({
      file: file('rails:\n  cooldownMinutes: 30\n  namespaces:\n    exclude: [kube-system, monitoring]\n'),
      env: { SNATGUARD_RAILS_NAMESPACES_INCLUDE: 'shop' },
      flags: { mode: 'restart' },
    });
    expect(config.mode).toBe('restart');
    expect(config.rails.cooldownMinutes).toBe(30);
    expect(config.rails.maxRestartsPerRun).toBe(1);
    expect(config.rails.namespaces).toEqual({ include: ['shop'], exclude: ['kube-system', 'monitoring'] });
  });

  it('an empty file is the defaults', () => {
    expect(loadConfig({ file: file('') })).toEqual(defaultConfig());
  });
});

describe('every problem at once, with its path', () => {
  it('the contract test file names both maxRestartsPerRun and bogusKey', () => {
    const path = file('rails:\n  maxRestartsPerRun: -1\n  bogusKey: 1\n');
    let error: unknown;
    try {
      loadConfig({ file: path });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    const message = (error as Error).message;
    expect(message).toContain('rails.maxRestartsPerRun: must be ≥ 0');
    expect(message).toContain('rails.bogusKey: unknown key');
    expect(message).toContain(path);
  });

  it('collects problems from the file, env and flags together', () => {
    const path = file(
      [
        'mode: yolo',
        'thresholds: { snatUsedRatio: 1.5 }',
        'offender:',
        '  destinationRules:',
        '    - { port: 70000, maxSocketsPerPod: 10 }',
        '    - { port: 5432 }',
        'network:',
        '  clusterCidrs: [10.244.0.0/16, 10.0.0.0/33, nonsense, "2001:db8::/129"]',
        'rails:',
        '  selector: "a in (x"',
        'notify:',
        '  slack: { webhookUrl: "not a url" }',
        'typo: true',
      ].join('\n'),
    );
    const problems = problemsOf(() =>
      loadConfig({ file: path, env: { SNATGUARD_NOPE: 'x' }, flags: { exec: { concurrency: -2 } } }),
    );
    const paths = problems.map((p) => p.split(':')[0]);
    expect(paths).toEqual(
      expect.arrayContaining([
        'SNATGUARD_NOPE',
        'mode',
        'thresholds.snatUsedRatio',
        'offender.destinationRules[0].port',
        'offender.destinationRules[1].maxSocketsPerPod',
        'network.clusterCidrs[1]',
        'network.clusterCidrs[2]',
        'network.clusterCidrs[3]',
        'rails.selector',
        'notify.slack.webhookUrl',
        'typo',
        'exec.concurrency',
      ]),
    );
    expect(problems).toHaveLength(12);
    expect(problems.find((p) => p.startsWith('exec.concurrency'))).toContain(
      '(from flag --exec.concurrency)',
    );
    expect(problems.find((p) => p.startsWith('offender.destinationRules[1]'))).toContain('required');
    expect(problems.join('\n')).not.toContain('not a url');
  });

  it.each([
    ['10.0.0.0/8', true],
    ['0.0.0.0/0', true],
    ['fd00::/8', true],
    ['2001:db8::/32', true],
    ['10.0.0.0', false],
    ['10.0.0.0/33', false],
    ['300.0.0.0/8', false],
    ['10.0.0.0/x', false],
    ['2001:db8::/129', false],
  ])('CIDR %s valid=%s', (cidr, valid) => {
    const run = () => parseConfig({ network: { nonSnatCidrs: [cidr] } });
    if (valid) expect(run().network.nonSnatCidrs).toEqual([cidr]);
    else
      expect(problemsOf(run)).toEqual([expect.stringMatching(/^network\.nonSnatCidrs\[0\]: .*not a CIDR/)]);
  });

  it('reports a YAML syntax error and an unreadable file', () => {
    expect(problemsOf(() => loadConfig({ file: file('rails: [1,\n') }))[0]).toContain('config-');
    expect(problemsOf(() => loadConfig({ file: join(dir, 'missing.yaml') }))[0]).toContain('ENOENT');
  });

  it('a file that is not a mapping is an error', () => {
    expect(problemsOf(() => loadConfig({ file: file('- a\n- b\n') }))[0]).toContain('must be a mapping');
  });
});

describe('secrets by reference', () => {
  it('file:/path and env:NAME resolve at load', () => {
    const secretFile = join(dir, 'slack-url');
    writeFileSync(secretFile, 'https://hooks.slack.com/services/T/B/fromfile\n');
    const config = loadConfig({
      file: file(
        `notify:\n  slack: { webhookUrl: "file:${secretFile}" }\n  webhook: { url: "env:HOOK_URL", secret: "env:HOOK_SECRET" }\n`,
      ),
      env: { HOOK_URL: 'https://example.com/hook', HOOK_SECRET: 's3cret' },
    });
    expect(config.notify.slack.webhookUrl).toBe('https://hooks.slack.com/services/T/B/fromfile');
    expect(config.notify.webhook).toEqual({ url: 'https://example.com/hook', secret: 's3cret' });
  });

  it('missing references are reported with their key', () => {
    const problems = problemsOf(() =>
      loadConfig({
        env: {
          SNATGUARD_NOTIFY_TEAMS_WEBHOOK_URL: `file:${join(dir, 'nope')}`,
          SNATGUARD_NOTIFY_WEBHOOK_SECRET: 'env:NOT_SET',
        },
      }),
    );
    expect(problems).toEqual([
      expect.stringMatching(
        /^notify\.teams\.webhookUrl: cannot read secret file .*ENOENT.*SNATGUARD_NOTIFY_TEAMS_WEBHOOK_URL/,
      ),
      expect.stringMatching(/^notify\.webhook\.secret: environment variable NOT_SET is not set/),
    ]);
  });
});

describe('describeConfig', () => {
  it('lists every key with env var, default and description', () => {
    const rows = describeConfig();
    expect(rows.map((r) => r.key)).toEqual(configLeaves().map((l) => l.key));
    for (const row of rows) expect(row.description, row.key).not.toBe('');
    expect(rows.find((r) => r.key === 'rails.maxRestartsPerRun')).toMatchObject({
      env: 'SNATGUARD_RAILS_MAX_RESTARTS_PER_RUN',
      type: 'integer',
      default: '1',
    });
    expect(rows.find((r) => r.key === 'mode')?.type).toBe('dry-run | restart');
    expect(rows.find((r) => r.key === 'notify.slack.webhookUrl')?.secret).toBe(true);
    expect(rows.find((r) => r.key === 'deadlineSeconds')?.default).toBeUndefined();
  });
});
