// Builders for notify tests: the first incident (story 1) as a RunReport, and its recovery.
import type { Mode, RunReport } from '../../src/model.js';

export const incidentNode = 'aks-nodepool1-12345678-vmss000000';
export const incidentWorkload = 'shop/Deployment/orders-api';

export interface IncidentOptions {
  mode?: Mode;
  runId?: string;
  /** finishedAt; startedAt is 20 s earlier. */
  at?: string;
}

/** Node 1024/1024 SNAT ports; orders-api holds 900 sockets to MongoDB at 20.103.144.194:27017. */
export function firstIncident(o: IncidentOptions = {}): RunReport {
  const mode = o.mode ?? 'dry-run';
  const at = o.at ?? '2026-03-02T09:05:20.000Z';
  return {
    apiVersion: 'snatguard.io/v1',
    kind: 'RunReport',
    runId: o.runId ?? 'run-0001',
    startedAt: new Date(Date.parse(at) - 20_000).toISOString(),
    finishedAt: at,
    mode,
    cluster: 'aks-prod',
    provider: 'azure',
    nodes: [
      {
        name: incidentNode,
        hot: true,
        signals: [
          { kind: 'snat-ports', source: 'azure-load-balancer', used: 1024, allocated: 1024, ratio: 1 },
        ],
        reasons: ['snat ports 1024/1024'],
        podsInspected: 12,
        podsUninspectable: 0,
        snatSockets: 1000,
        conntrack: {
          count: 1190,
          max: 131072,
          beLiberal: false,
          insertFailed: 0,
          drop: 0,
          earlyDrop: 0,
          ratio: 0.009,
        },
      },
      {
        name: 'aks-nodepool1-12345678-vmss000001',
        hot: false,
        signals: [],
        podsInspected: 0,
        podsUninspectable: 0,
      },
    ],
    offenders: [
      {
        workload: incidentWorkload,
        node: incidentNode,
        pods: ['orders-api-7d9f8b6c5-x2x4k', 'orders-api-7d9f8b6c5-q8w7e', 'orders-api-7d9f8b6c5-m3n5b'],
        snatSockets: 900,
        share: 0.9,
        topDestinations: [{ remote: '20.103.144.194:27017', sockets: 900 }],
        matched: ['threshold', 'port 27017 > 10 per pod'],
        maxSocketsPerPod: 310,
      },
    ],
    actions: [
      mode === 'dry-run'
        ? {
            kind: 'restart',
            workload: incidentWorkload,
            status: 'planned',
            skipReason: 'DRY_RUN',
            reason: '900 SNAT sockets (90% of the node) to 20.103.144.194:27017',
            node: incidentNode,
            snatSockets: 900,
          }
        : {
            kind: 'restart',
            workload: incidentWorkload,
            status: 'applied',
            reason: '900 SNAT sockets (90% of the node) to 20.103.144.194:27017',
            node: incidentNode,
            snatSockets: 900,
          },
    ],
    recommendations: [
      {
        id: 'CONNECTION_POOLING',
        severity: 'warning',
        title: 'Reuse MongoDB connections in shop/Deployment/orders-api',
        detail:
          '3 pods hold 900 sockets to 20.103.144.194:27017 (up to 310 per pod); one pooled client per process needs 10-20.',
        fix: 'Create one MongoClient per process and cap its pool: mongodb+srv://HOST/?maxPoolSize=20&maxIdleTimeMS=60000',
        workload: incidentWorkload,
        node: incidentNode,
      },
    ],
    errors: [],
    stats: { podsListed: 14, execs: 12, durationMs: 20_000 },
  };
}

/** The run after the restart: the node is cool, nothing to do. */
export function recovered(o: IncidentOptions = {}): RunReport {
  const r = firstIncident(o);
  return {
    ...r,
    nodes: r.nodes.map((n) =>
      n.name === incidentNode
        ? {
            ...n,
            hot: false,
            signals: [{ kind: 'snat-ports', used: 40, allocated: 1024, ratio: 40 / 1024 }],
            reasons: [],
          }
        : n,
    ),
    offenders: [],
    actions: [],
    recommendations: [],
  };
}

export const hostile = {
  channel: '<!channel>',
  everyone: '@everyone',
  link: '[x](http://evil)',
  script: '<script>alert(1)</script>',
  slackLink: '<http://evil|click>',
};

/** Every name a cluster tenant controls, made hostile. */
export function hostileReport(): RunReport {
  const r = firstIncident();
  const workload = `${hostile.channel}/Deployment/${hostile.everyone}`;
  return {
    ...r,
    cluster: 'aks-prod',
    nodes: r.nodes.map((n) => (n.name === incidentNode ? { ...n, name: hostile.script } : n)),
    offenders: [
      {
        ...r.offenders[0]!,
        workload,
        node: hostile.script,
        pods: [hostile.link, '@here'],
        topDestinations: [{ remote: '*bold* _it_ ~s~ `code`', sockets: 900 }],
      },
    ],
    actions: [
      {
        kind: 'restart',
        workload,
        status: 'skipped',
        skipReason: 'OPTED_OUT',
        reason: `annotation says ${hostile.slackLink} ${hostile.link} @here <@U123> *bold* \`tick\``,
      },
    ],
    recommendations: [
      {
        ...r.recommendations[0]!,
        title: `Pool ${hostile.link} ${hostile.everyone}`,
        detail: `${hostile.script} ${hostile.channel} # heading | pipe > quote`,
        fix: `kubectl -n '${hostile.channel}' set env deploy/x URL='${hostile.link}' \`\`\` @everyone`,
        workload,
      },
    ],
    errors: [
      {
        stage: 'inspect',
        target: `${hostile.everyone}/${hostile.link}`,
        message: `exec failed: ${hostile.channel} <b>x</b>`,
      },
    ],
  };
}
