// runScan: the only place that knows the order of the stages (shared/DESIGN.md, "The pipeline").
// Partial failure is data: every stage's failures become RunReport.errors and the run goes on.
// Rails fail closed (a workload whose state cannot be read is not restarted); side channels fail open.

import { driftAdvice, forecastAdvice } from './advice/forecast.js';
import { type AdviceInput, compareRecommendations, recommend } from './advice/index.js';
import { attributeUninspectable } from './analysis/attribution.js';
import { conntrackFindings } from './analysis/conntrack.js';
import type { FlowCounts } from './analysis/conntrack-table.js';
import {
  emptyHistory,
  type ForecastResult,
  forecast,
  type NodeAllocation,
  nodesToWatch,
} from './analysis/forecast.js';
import { findHotNodes, hotOnEvidence, type NodeEvidence, selectedNodes } from './analysis/hot-nodes.js';
import { analyzeOffenders, type OffenderAnalysis } from './analysis/offenders.js';
import { untilAborted } from './cluster/bounded.js';
import { inspectNode, withListenerHeadroom } from './cluster/inspect.js';
import { keepLease, type LeaseKeeper } from './cluster/lease.js';
import { createLimiter } from './cluster/limit.js';
import { RestartBlockedError } from './cluster/restart.js';
import type { Config } from './config/index.js';
import { messageOf } from './errors.js';
import type {
  Action,
  CloudFacts,
  ConntrackReading,
  HotNode,
  NodeInfo,
  NodePressure,
  NodeReport,
  PodInfo,
  PodInspection,
  RunError,
  RunReport,
  RunState,
  WorkloadRef,
} from './model.js';
import { emptyState, workloadId } from './model.js';
import { type PlanHistory, plan, recheck, type WorkloadCheck, workloadsToCheck } from './policy/plan.js';
import type {
  ClusterReader,
  Lock,
  Log,
  NodeProbe,
  PodExec,
  PressureSource,
  Remediator,
  SettleRecord,
  StateStore,
} from './ports.js';
import { buildReport } from './report.js';
import { createClassifier, summarize } from './sockets/index.js';

export interface NotifyOutcome {
  errors: RunError[];
  notified: RunState['notified'];
}

export interface RunDeps {
  log: Log;
  now: () => Date;
  runId: string;
  cluster: ClusterReader;
  exec: PodExec;
  probe: NodeProbe;
  remediator: Remediator;
  lock: Lock;
  state: StateStore;
  pressure: PressureSource[];
  notify: (report: RunReport, notified: RunState['notified'], signal: AbortSignal) => Promise<NotifyOutcome>;
  onProgress?: (p: { nodesDone: number; nodes: number; podsDone: number; pods: number }) => void;
}

/** Owner reads in flight at once. */
const OWNER_READS = 8;

/** How long the wrap-up (notify, state, unlock) may take in all, whatever the run's signal did. */
export const WRAP_UP_MS = 15_000;
/** Of which notify may take at most this much, so state and unlock keep their share. */
const NOTIFY_MS = 10_000;

/**
 * The Lease TTL follows the deadline: a run's Lease outlives it by the wrap-up and no more (a crashed run
 * frees the lock soon after its deadline), and never exceeds lock.ttlSeconds (renewals keep it alive).
 */
export function leaseTtlMs(config: Pick<Config, 'lock' | 'deadlineSeconds'>): number {
  const ttl = config.lock.ttlSeconds * 1000;
  return config.deadlineSeconds === undefined
    ? ttl
    : Math.min(ttl, config.deadlineSeconds * 1000 + WRAP_UP_MS);
}

/**
 * A node's conntrack table of at most this many flows (its count, read beside the pods; ~200 bytes a flow
 * in the listing) is listed beside the last pods' reads; a longer one after every pod's read.
 */
export const LISTING_BESIDE_PODS_MAX_FLOWS = 20_000;

export async function runScan(config: Config, deps: RunDeps, signal: AbortSignal): Promise<RunReport> {
  const { log } = deps;
  const startedAt = deps.now();
  const errors: RunError[] = [];
  const ctx: Partial<RunContext> = {};

  const holder = deps.runId;
  const ttlMs = leaseTtlMs(config);
  let locked = false;
  let lockError: unknown;
  try {
    locked = await deps.lock.acquire(holder, ttlMs, signal);
    const settleProblem = locked ? deps.lock.settleProblem?.() : undefined;
    if (settleProblem)
      errors.push({ stage: 'lock', target: `lease/${config.namespace}/snatguard`, message: settleProblem });
  } catch (e) {
    lockError = e;
    errors.push({ stage: 'lock', target: `lease/${config.namespace}/snatguard`, message: messageOf(e) });
  }
  if (!locked && lockError === undefined) {
    log.info({ holder, reason: 'locked' }, 'run skipped: lock not acquired');
    return buildReport({
      config,
      runId: deps.runId,
      startedAt,
      finishedAt: deps.now(),
      errors,
      skipped: 'locked',
    });
  }

  // The node list does not depend on the state: read beside it (once the lock is held, as before), not after.
  const nodeList = locked ? deps.cluster.nodes(signal) : undefined;
  // Awaited (and its failure reported) in scanAndAct; a run that stops before that leaves it unread.
  nodeList?.catch(() => undefined);

  let state: RunState = emptyState();
  // A state that could not be read is not written back: an empty one would erase the dedup history.
  let stateLoaded = false;
  try {
    state = await deps.state.load(signal);
    stateLoaded = true;
  } catch (e) {
    errors.push({
      stage: 'state',
      target: `configmap/${config.namespace}/snatguard-state`,
      message: messageOf(e),
    });
  }

  let failed: string | undefined;
  // Renewed every third of the TTL while the run lives; a failed renewal stops the act stage.
  const keeper = locked
    ? keepLease(deps.lock, {
        intervalMs: ttlMs / 3,
        onLost: (why) => {
          log.warn({ holder, why }, 'lease lost: no further restarts');
          errors.push({ stage: 'lock', target: `lease/${config.namespace}/snatguard`, message: why });
        },
      })
    : undefined;
  if (!locked || keeper === undefined) {
    // The lock could not even be read: the run cannot look (and must not act). It says so, loudly.
    failed = failureReason('lock', lockError);
    log.error({ reason: failed }, 'run failed: lock unreadable');
  } else {
    try {
      failed = await scanAndAct(config, deps, state, ctx, errors, signal, keeper, nodeList);
    } catch (e) {
      // Stages turn their own failures into errors; what reaches here is a defect, and the run could not finish.
      errors.push({ stage: 'plan', target: 'run', message: messageOf(e) });
      log.error({ err: messageOf(e) }, 'run stage failed');
      if (!signal.aborted) failed = `run failed: ${messageOf(e)}`;
    }
    if (signal.aborted) errors.push({ stage: 'plan', target: 'run', message: 'deadline reached' });
  }

  let report = buildReport({
    config,
    runId: deps.runId,
    startedAt,
    finishedAt: deps.now(),
    errors,
    skipped: !locked ? 'lock-failed' : signal.aborted && !failed ? 'deadline' : undefined,
    ...(failed ? { failed } : {}),
    deadline: locked && signal.aborted,
    ...ctx,
  });

  // The wrap-up has its own time, whatever the run's signal did: a timer held here (not AbortSignal.timeout
  // alone, which Node 20 may collect, nodejs/node#57736), and notify gets only part of it.
  await keeper?.stop();
  const wrapUp = new AbortController();
  const wrapUpTimer = setTimeout(() => wrapUp.abort(new Error('wrap-up time is up')), WRAP_UP_MS);
  const notifyStop = new AbortController();
  const notifyTimer = setTimeout(() => notifyStop.abort(new Error('notify time is up')), NOTIFY_MS);
  wrapUp.signal.addEventListener('abort', () => notifyStop.abort(wrapUp.signal.reason), { once: true });
  let notified = state.notified;
  try {
    const outcome = await bounded(
      deps.notify(report, state.notified, notifyStop.signal),
      notifyStop.signal,
      'notify',
    );
    notified = outcome.notified;
    if (outcome.errors.length > 0) report = { ...report, errors: [...report.errors, ...outcome.errors] };
  } catch (e) {
    report = {
      ...report,
      errors: [...report.errors, { stage: 'notify', target: 'all', message: messageOf(e) }],
    };
  }

  clearTimeout(notifyTimer);
  try {
    if (stateLoaded)
      await bounded(
        deps.state.save(
          {
            conntrack: ctx.conntrackState ?? state.conntrack,
            notified,
            ...((ctx.history ?? state.history) ? { history: ctx.history ?? state.history } : {}),
          },
          wrapUp.signal,
        ),
        wrapUp.signal,
        'state save',
      );
  } catch (e) {
    const target = `configmap/${config.namespace}/snatguard-state`;
    report = { ...report, errors: [...report.errors, { stage: 'state', target, message: messageOf(e) }] };
  }
  if (locked) {
    try {
      await bounded(deps.lock.release(wrapUp.signal), wrapUp.signal, 'lease release');
    } catch (e) {
      const target = `lease/${config.namespace}/snatguard`;
      log.warn({ err: messageOf(e) }, 'lease release failed; it expires on its own');
      report = { ...report, errors: [...report.errors, { stage: 'lock', target, message: messageOf(e) }] };
    }
  }
  clearTimeout(wrapUpTimer);
  log.info(
    {
      runId: report.runId,
      status: report.status,
      statusReason: report.statusReason,
      hotNodes: report.nodes.filter((n) => n.hot).length,
      offenders: report.offenders.length,
      actions: report.actions.map(
        (a) => `${a.workload}:${a.status}${a.skipReason ? `/${a.skipReason}` : ''}`,
      ),
      errors: report.errors.length,
    },
    'run finished',
  );
  return { ...report, finishedAt: deps.now().toISOString() };
}

/** Network failures that mean the API server (or cloud) was never reached, as people name them. */
const UNREACHABLE =
  /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ECONNRESET|certificate|self[- ]signed|socket hang up/i;

/** The statusReason of a failed run: what could not be read, and why. */
export function failureReason(what: 'lock' | 'nodes' | 'pressure' | 'connect', e: unknown): string {
  const message = messageOf(e);
  if (what !== 'pressure' && UNREACHABLE.test(message)) return `cluster unreachable: ${message}`;
  switch (what) {
    case 'lock':
      return `lock unreadable: ${message}`;
    case 'nodes':
      return `nodes not listable: ${message}`;
    case 'connect':
      return `no cluster access: ${message}`;
    default:
      return `no pressure source answered: ${message}`;
  }
}

/** What the stages found, handed to buildReport. */
export interface RunContext {
  nodes: NodeReport[];
  offenders: RunReport['offenders'];
  actions: Action[];
  recommendations: RunReport['recommendations'];
  conntrackState: RunState['conntrack'];
  /** Early warning: the history this run leaves for the next. */
  history: NonNullable<RunState['history']>;
  stats: NonNullable<RunReport['stats']>;
  /** What the run meant to read and could not: the counts behind a `partial` status. */
  unseen: Unseen;
  workloads: NonNullable<RunReport['workloads']>;
}

export interface Unseen {
  /** Pressure sources that failed outright, of how many. */
  sourcesFailed: number;
  sources: number;
  /** Metric reads that failed inside sources that otherwise answered. */
  metricErrors: number;
  /** Hot nodes whose pods could not be listed, or whose inspection the deadline cut short. */
  nodesNotInspected: number;
  /** Pods whose inspection failed (exec error, timeout), and pods without a way in (no `cat`). */
  podsFailed: number;
  podsUninspectable: number;
  /** Hot nodes whose conntrack could not be read. */
  conntrackUnread: number;
  /** Pods whose owner could not be read. */
  ownersUnknown: number;
}

const noneUnseen = (): Unseen => ({
  sourcesFailed: 0,
  sources: 0,
  metricErrors: 0,
  nodesNotInspected: 0,
  podsFailed: 0,
  podsUninspectable: 0,
  conntrackUnread: 0,
  ownersUnknown: 0,
});

/** Resolves `p`, or undefined once `signal` fires (the deadline's wrap-up budget ran out). */
function within<T>(p: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * The stages after the lock. Returns the reason the run could not look at all (status failed), or
 * undefined. The deadline does not throw away what was found: the stages after inspection still run on
 * what was read (within a short wrap-up budget), and restarts happen only where a node was read in full.
 */
async function scanAndAct(
  config: Config,
  deps: RunDeps,
  state: RunState,
  ctx: Partial<RunContext>,
  errors: RunError[],
  signal: AbortSignal,
  keeper: LeaseKeeper,
  nodeList?: Promise<NodeInfo[]>,
): Promise<string | undefined> {
  const { log } = deps;
  const t0 = Date.now();
  const now = deps.now();
  const window = { start: new Date(now.getTime() - config.window.minutes * 60_000), end: now };
  const unseen = noneUnseen();
  ctx.unseen = unseen;
  // After the deadline, the owner and workload reads that turn findings into a report get a short budget.
  let wrapUp: AbortSignal | undefined;
  const after = (): AbortSignal => {
    if (!signal.aborted) return signal;
    wrapUp ??= AbortSignal.timeout(WRAP_UP_MS);
    return wrapUp;
  };

  // pressure: every source on its own; one that fails is an error, not the end of the run
  const pressure: NodePressure[] = [];
  const facts: Partial<CloudFacts> = { provider: config.provider };
  // A source that does not settle by the deadline is released there (its own cap may be longer).
  const readings = await Promise.allSettled(
    deps.pressure.map((s) => untilAborted(`pressure source ${s.name}`, s.read(window, signal), signal)),
  );
  unseen.sources = deps.pressure.length;
  const sourceFailures: string[] = [];
  readings.forEach((r, i) => {
    const source = deps.pressure[i]!.name;
    if (r.status === 'fulfilled') {
      pressure.push(...r.value.nodes);
      mergeFacts(facts, r.value.facts);
      errors.push(...r.value.errors);
      // A source that read nothing and reported only errors did not answer either.
      if (r.value.nodes.length === 0 && r.value.errors.length > 0) {
        unseen.sourcesFailed++;
        sourceFailures.push(`${source}: ${r.value.errors[0]!.message}`);
      } else unseen.metricErrors += r.value.errors.length;
    } else {
      unseen.sourcesFailed++;
      sourceFailures.push(`${source}: ${messageOf(r.reason)}`);
      errors.push({ stage: 'pressure', target: source, message: messageOf(r.reason) });
    }
  });
  if (signal.aborted) return undefined;
  if (config.provider !== 'none' && unseen.sources > 0 && unseen.sourcesFailed === unseen.sources) {
    return failureReason('pressure', sourceFailures.join('; '));
  }

  let allNodes: NodeInfo[] = [];
  try {
    allNodes = await (nodeList ?? deps.cluster.nodes(signal));
  } catch (e) {
    errors.push({ stage: 'nodes', target: 'nodes', message: messageOf(e) });
    return failureReason('nodes', e);
  }
  const selection = selectHotNodes(config, pressure, allNodes, errors);
  // provider none (scan): every selected node is inspected, and hot only on what is measured there.
  // Early warning: not-hot nodes whose cloud figures show pressure or growth are read too (never acted on).
  const watched = nodesToWatch({
    now,
    horizonMinutes: config.forecast.horizonMinutes,
    // Half the hot threshold: far enough below it that three samples exist before the node is hot.
    watchRatio: config.thresholds.snatUsedRatio / 2,
    nodes: nodeAllocations(selection.hot, selection.cool),
    history: state.history ?? emptyHistory(),
  });
  const watchSet = new Set(watched);
  const toInspect = [...selection.hot, ...selection.cool.filter((c) => watchSet.has(c.name))];
  let hotNodes = selection.hot;
  let cool = selection.cool;
  // Pod CIDRs the nodes carry are cluster addresses even when the config does not list them.
  const classifier = createClassifier({
    clusterCidrs: [...new Set([...config.network.clusterCidrs, ...allNodes.flatMap((n) => n.podCIDRs)])],
    nonSnatCidrs: config.network.nonSnatCidrs,
  });
  log.info(
    {
      nodes: allNodes.length,
      [selection.onEvidence ? 'inspect' : 'hot']: selection.hot.map((h) => h.name),
      watched,
    },
    selection.onEvidence ? 'nodes to inspect' : 'hot nodes found',
  );

  // inspect: per node, pods and the node's conntrack, every failure contained to its node or pod
  const inspections: PodInspection[] = [];
  const conntrack = new Map<string, ConntrackReading>();
  // Nodes read in full before the deadline: the only ones a restart may be planned from.
  const complete = new Set<string>();
  const progress = { nodesDone: 0, nodes: toInspect.length, podsDone: 0, pods: 0 };
  let podsListed = 0;
  let execs = 0;
  // A watched node (read for the forecast only) that cannot be read does not make the run partial.
  const miss = (node: string, key: 'nodesNotInspected' | 'conntrackUnread') => {
    if (!watchSet.has(node)) unseen[key]++;
  };
  // The `conntrack` method: the node's table counts the pods exec could not read (DESIGN.md).
  const flowReports = new Map<string, NonNullable<NodeReport['snatFlows']>>();
  // inspect.nodeProbeFallback: pods without cat read on their node (/proc/<pid>/net/tcp by pod UID).
  const readOnNode = async (
    hot: HotNode,
    pods: PodInfo[],
    mine: PodInspection[],
  ): Promise<PodInspection[]> => {
    const unread = mine.filter((i) => i.status === 'uninspectable' && !i.nodeLevel).map((i) => i.pod);
    if (deps.probe.podSockets === undefined || unread.length === 0) return mine;
    let read: Map<string, { text: string } | { error: string }>;
    try {
      read = await deps.probe.podSockets(hot.name, unread, pods, signal);
    } catch (e) {
      read = new Map(unread.map((p) => [`${p.namespace}/${p.name}`, { error: messageOf(e) }]));
    }
    return mine.map((i): PodInspection => {
      const r = read.get(`${i.pod.namespace}/${i.pod.name}`);
      if (i.status !== 'uninspectable' || r === undefined) return i;
      if ('error' in r) return { ...i, reason: `${i.reason ?? 'no cat'}; on the node: ${r.error}` };
      try {
        return {
          ...i,
          status: 'ok',
          method: 'exec',
          summary: summarize(r.text, classifier),
          bytes: Buffer.byteLength(r.text),
          reason: `read on the node through snatguard-node-sockets (exec: ${i.reason ?? 'unavailable'})`,
        };
      } catch (e) {
        return {
          ...i,
          reason: `${i.reason ?? 'no cat'}; on the node: unreadable socket tables: ${messageOf(e)}`,
        };
      }
    });
  };
  const nodeFlows = async (
    hot: HotNode,
    pods: PodInfo[],
    mine: PodInspection[],
    listing: Promise<FlowCounts> | undefined,
  ): Promise<{ inspections: PodInspection[] }> => {
    if (watchSet.has(hot.name)) return { inspections: mine };
    mine = await readOnNode(hot, pods, mine);
    if (deps.probe.flows === undefined) return { inspections: mine };
    const needed = mine.some((i) => i.status === 'uninspectable');
    try {
      const table = await (listing ?? deps.probe.flows(hot.name, signal, pods));
      const address = hot.internalIP ?? allNodes.find((n) => n.name === hot.name)?.internalIP;
      const r = attributeUninspectable(
        mine,
        table,
        address ? [address] : [],
        pods,
        classifier,
        hot.signals.length > 0,
      );
      flowReports.set(hot.name, r.report);
      return r;
    } catch (e) {
      // Only a table that was needed (pods without cat on the node) makes the run partial.
      if (needed)
        errors.push({
          stage: 'conntrack',
          target: `node/${hot.name}`,
          message: `conntrack table: ${messageOf(e)}`,
        });
      else log.debug({ node: hot.name, err: messageOf(e) }, 'conntrack table not read');
      return { inspections: mine };
    }
  };
  // The owners' bulk read needs only the pods: one read of every inspected node's pods, made once each
  // node's pods are listed, runs while their execs wait, not after them (the reader caches what it finds;
  // the owners stage reads only what it missed).
  let ownersAhead: Promise<unknown> | undefined;
  let listsPending = toInspect.length;
  const ownersToRead: PodInfo[] = [];
  const podsListedOn = (pods: readonly PodInfo[]): void => {
    for (const p of pods) if (!p.hostNetwork) ownersToRead.push(p);
    if (--listsPending > 0 || ownersToRead.length === 0 || !deps.cluster.prefetchOwners) return;
    ownersAhead = deps.cluster.prefetchOwners(ownersToRead, signal).catch(() => undefined);
  };
  const perNode = await Promise.allSettled(
    toInspect.map(async (hot) => {
      if (signal.aborted) {
        miss(hot.name, 'nodesNotInspected');
        podsListedOn([]);
        return;
      }
      let pods: PodInfo[];
      try {
        // Execs follow the list, `concurrency` at once: their TLS connections open while it is read.
        deps.exec.prepare?.(config.exec.concurrency);
        pods = await deps.cluster.podsOn(hot.name, signal);
      } catch (e) {
        miss(hot.name, 'nodesNotInspected');
        errors.push({ stage: 'inspect', target: `node/${hot.name}`, message: messageOf(e) });
        podsListedOn([]);
        return;
      }
      podsListed += pods.length;
      podsListedOn(pods);
      // inspectNode reads each pod's namespace, and the node's own (hostNetwork) namespace once.
      progress.pods += pods.filter((p) => !p.hostNetwork).length + (pods.some((p) => p.hostNetwork) ? 1 : 0);
      // The node's counters (conntrack count and max), read beside its pods.
      const probing = watchSet.has(hot.name)
        ? Promise.resolve(undefined)
        : deps.probe.conntrack(hot.name, signal, pods);
      // The node's conntrack listing runs in inspectNode's lanes once every pod's exec has started, never
      // ahead of a pod: a node's listing can be far longer than any pod's tables, and as the oldest exec on
      // the run's byte budget it paused every pod until it ended. A short table (by the count read beside
      // the pods) is listed beside the last pods' reads; a long one, or one whose count is unknown, once
      // every pod's read has ended (beside them, its text took the CPU and the run's budget from them and
      // pods timed out). Its outcome is read by nodeFlows.
      let listing: Promise<FlowCounts> | undefined;
      const listFlows =
        !watchSet.has(hot.name) && deps.probe.flows !== undefined
          ? async (podsRead: Promise<void>) => {
              const counted = await probing.catch(() => undefined);
              if (counted === undefined || counted.count > LISTING_BESIDE_PODS_MAX_FLOWS) await podsRead;
              listing = deps.probe.flows!(hot.name, signal, pods);
              return listing.then(
                () => undefined,
                () => undefined,
              );
            }
          : undefined;
      const [inspected, probed] = await Promise.allSettled([
        inspectNode(hot.name, pods, {
          exec: deps.exec,
          limits: { timeoutMs: config.exec.timeoutSeconds * 1000, maxBytes: config.exec.maxBytes },
          concurrency: config.exec.concurrency,
          classifier,
          signal,
          log,
          onProgress: () => {
            progress.podsDone++;
            deps.onProgress?.(progress);
          },
          ...(listFlows ? { afterPods: listFlows } : {}),
        }),
        probing,
      ]);
      const cut = signal.aborted;
      if (inspected.status === 'fulfilled') {
        const flows = await nodeFlows(hot, pods, inspected.value.inspections, listing);
        inspections.push(...flows.inspections);
        errors.push(...inspected.value.errors);
        execs += inspected.value.inspections.length;
        if (!cut) complete.add(hot.name);
        else miss(hot.name, 'nodesNotInspected');
      } else {
        miss(hot.name, 'nodesNotInspected');
        errors.push({ stage: 'inspect', target: `node/${hot.name}`, message: messageOf(inspected.reason) });
      }
      if (probed.status === 'fulfilled') {
        if (probed.value) conntrack.set(hot.name, probed.value);
      } else {
        miss(hot.name, 'conntrackUnread');
        errors.push({ stage: 'conntrack', target: `node/${hot.name}`, message: messageOf(probed.reason) });
      }
      progress.nodesDone++;
      deps.onProgress?.(progress);
    }),
  );
  for (const r of perNode) {
    if (r.status === 'rejected')
      errors.push({ stage: 'inspect', target: 'nodes', message: messageOf(r.reason) });
  }
  const onHot = inspections.filter((i) => !watchSet.has(i.pod.node));
  unseen.podsFailed = onHot.filter((i) => i.status === 'failed').length;
  unseen.podsUninspectable = onHot.filter((i) => i.status === 'uninspectable').length;

  const ct = conntrackFindings(conntrack, state.conntrack, config.thresholds, now);
  ctx.conntrackState = ct.state;
  if (selection.onEvidence) {
    const measured = hotOnEvidence(
      toInspect,
      evidenceOf(inspections, conntrack),
      config.network.snatPortsPerNode,
      config.thresholds,
    );
    hotNodes = measured.hot;
    cool = measured.cool;
  }

  // owners, with the reader's per-run cache; a few reads at a time (each holds a listener on the run's
  // signal: dozens at once printed MaxListenersExceededWarning, and the API server gains nothing from a burst)
  const owners = new Map<string, WorkloadRef | null>();
  const ownerReads = createLimiter(OWNER_READS);
  const attributed = inspections.filter((i) => i.status === 'ok' && !i.nodeLevel);
  // One bulk read of the owners first (the reader's cache); what it misses, ownerOf reads and reports.
  // The read made beside the execs covered every pod read here; without it (no pod listed), one now.
  if (deps.cluster.prefetchOwners) {
    await within(
      ownersAhead ??
        deps.cluster
          .prefetchOwners(
            attributed.map((i) => i.pod),
            after(),
          )
          .catch(() => undefined),
      after(),
    );
  }
  // Each read holds two listeners on the run's signal (its own bound and the deadline's `within`).
  await withListenerHeadroom(signal, 2 * OWNER_READS + 2, () =>
    Promise.all(
      attributed.map(async (i) => {
        const key = `${i.pod.namespace}/${i.pod.name}`;
        try {
          const owner = await ownerReads(() => within(deps.cluster.ownerOf(i.pod, after()), after()));
          if (owner === undefined) throw new Error('deadline reached before the owner was read');
          owners.set(key, owner);
        } catch (e) {
          owners.set(key, null);
          if (!watchSet.has(i.pod.node)) unseen.ownersUnknown++;
          errors.push({ stage: 'owners', target: key, message: messageOf(e) });
        }
      }),
    ),
  );

  const analysis = analyzeOffenders(inspections, owners, config.offender, hotNodes);
  const { offenders } = analysis;
  // Below-threshold consumers go to plan too, so the report says why they were left alone.
  const candidates = [...offenders, ...analysis.belowThreshold];

  const watchedAnalysis = analyzeOffenders(inspections, owners, config.offender, watched);
  const early = earlyWarning(
    config,
    now,
    state,
    nodeAllocations(hotNodes, cool),
    [...hotNodes.map((h) => h.name), ...watched],
    {
      nodeCount: allNodes.length,
      facts,
      analyses: [analysis, watchedAnalysis],
    },
  );
  ctx.history = early.history;
  // A forecast restarts only when rails.preemptive is true, and then through the same rails.
  if (config.rails.preemptive) {
    const planned = new Set(candidates.map((c) => c.workload));
    for (const f of early.forecasts) {
      const u = watchedAnalysis.usage.find((x) => x.workload === f.workload && x.node === f.node);
      if (!u || u.nodeLevel || planned.has(f.workload)) continue;
      planned.add(f.workload);
      const { hotShare: _h, nodeLevel: _n, ...entry } = u;
      candidates.push({
        ...entry,
        matched: [`forecast: ports to ${f.destination} run out in ~${Math.round(f.minutesToExhaustion)} min`],
      });
    }
  }
  const policy = { mode: config.mode, rails: config.rails };

  // The rails read the live state of exactly the candidates that pass the static rails; a read that
  // fails is recorded and fails closed in plan (RAIL_CHECK_FAILED). A candidate on a node the deadline
  // cut short fails closed the same way: its share was measured against part of the node.
  const checks = new Map<string, WorkloadCheck>();
  const cutShort = new Set(candidates.filter((c) => !complete.has(c.node)).map((c) => c.workload));
  await Promise.all(
    workloadsToCheck(candidates, policy, now).map(async (ref) => {
      const id = workloadId(ref);
      if (cutShort.has(id)) {
        checks.set(id, { ok: false, error: 'the deadline cut the inspection of its node short' });
        return;
      }
      try {
        const status = await within(deps.cluster.workload(ref, after()), after());
        if (status === undefined) throw new Error('deadline reached before the workload was read');
        checks.set(id, { ok: true, status });
      } catch (e) {
        checks.set(id, { ok: false, error: messageOf(e) });
        // The skip (RAIL_CHECK_FAILED) says what was not done; the error says what failed.
        errors.push({ stage: 'plan', target: id, message: messageOf(e) });
      }
    }),
  );
  // SETTLING: what earlier runs restarted, as the Lease recorded it (read when this run took the lock).
  const history: PlanHistory = { settled: deps.lock.settled(), runId: deps.runId };
  const actions = plan(candidates, checks, policy, now, history);

  await act(config, deps, actions, candidates, history, errors, after(), keeper);

  const nodes = nodeReports(hotNodes, cool, allNodes, inspections, analysis.nodeSnatSockets, ct.nodes);
  // Every node whose pods were read, hot or not: its sockets, its busiest destination, each workload's share.
  const measured = analyzeOffenders(inspections, owners, config.offender, toInspect);
  const busiest = evidenceOf(inspections, new Map());
  for (const n of nodes) {
    const flows = flowReports.get(n.name);
    if (flows) n.snatFlows = flows;
    const read = measured.nodeSnatSockets.get(n.name);
    if (n.snatSockets === undefined && read !== undefined) n.snatSockets = read;
    const top = busiest.get(n.name)?.busiest;
    if (top) n.busiestDestination = top;
  }
  ctx.workloads = measured.usage
    .filter((u) => u.snatSockets > 0)
    .map((u) => {
      const top = u.topDestinations[0];
      return {
        workload: u.workload,
        node: u.node,
        snatSockets: u.snatSockets,
        ...(top ? { busiestDestination: { remote: top.remote, sockets: top.sockets } } : {}),
      };
    });
  // The same pods as statusReason and the node rows count: a watched node (read for the forecast) adds none.
  const uninspectable = onHot
    .filter((i) => i.status === 'uninspectable')
    .map((i) => ({
      pod: `${i.pod.namespace}/${i.pod.name}`,
      node: i.pod.node,
      reason: i.reason ?? 'unknown',
    }));
  const publicOffenders = offenders.map(({ ref: _ref, ...o }) => o);
  const adviceInput: AdviceInput = {
    provider: config.provider,
    cloud: facts,
    nodeCount: allNodes.length,
    nodes,
    offenders: publicOffenders,
    uninspectable,
    thresholds: config.thresholds,
    nodeProbeFallback: config.inspect.nodeProbeFallback,
    target: {
      resourceGroup: config.azure.resourceGroup,
      cluster: config.azure.clusterName || config.cluster.name,
    },
  };
  ctx.nodes = nodes;
  ctx.offenders = publicOffenders;
  ctx.actions = actions;
  ctx.recommendations = [
    ...recommend(adviceInput),
    ...early.forecasts.map((f) => forecastAdvice(f, config.rails.preemptive)),
    ...early.drifts.map((d) => driftAdvice(d, adviceInput.target ?? {}, allNodes.length)),
  ].sort(compareRecommendations);
  ctx.stats = { podsListed, execs, durationMs: Date.now() - t0 };
  return undefined;
}

/** Per node: the busiest destination's SNAT-consuming sockets over every pod read there, and conntrack. */
function evidenceOf(
  inspections: readonly PodInspection[],
  conntrack: ReadonlyMap<string, ConntrackReading>,
): Map<string, NodeEvidence> {
  const perNode = new Map<string, Map<string, number>>();
  for (const i of inspections) {
    if (i.status !== 'ok' || !i.summary) continue;
    const dests = perNode.get(i.pod.node) ?? new Map<string, number>();
    for (const d of i.summary.destinations) dests.set(d.remote, (dests.get(d.remote) ?? 0) + d.sockets);
    perNode.set(i.pod.node, dests);
  }
  const out = new Map<string, NodeEvidence>();
  for (const [node, dests] of perNode) {
    let busiest: { remote: string; sockets: number } | undefined;
    for (const [remote, sockets] of dests) {
      if (!busiest || sockets > busiest.sockets || (sockets === busiest.sockets && remote < busiest.remote))
        busiest = { remote, sockets };
    }
    if (busiest) out.set(node, { busiest });
  }
  for (const [node, r] of conntrack)
    out.set(node, { ...out.get(node), conntrack: { count: r.count, max: r.max } });
  return out;
}

/**
 * act: one restart at a time, in plan order; a failure is that action's outcome. Before each patch the
 * settle record (node → this restart) is written into the Lease under its resourceVersion: a run that
 * lost the Lease learns it here and restarts nothing. The Remediator re-reads the workload, re-checks the
 * live rails, and patches with a precondition.
 */
async function act(
  config: Config,
  deps: RunDeps,
  actions: Action[],
  candidates: Parameters<typeof plan>[0],
  history: PlanHistory,
  errors: RunError[],
  signal: AbortSignal,
  keeper: LeaseKeeper,
): Promise<void> {
  const { log } = deps;
  const policy = { mode: config.mode, rails: config.rails };
  const refs = new Map(candidates.map((o) => [o.workload, o.ref] as const));
  let settled: SettleRecord = { ...history.settled };
  for (const action of actions) {
    if (action.status !== 'planned' || action.skipReason) continue;
    const ref = refs.get(action.workload)!;
    const lost = keeper.lost();
    if (lost !== undefined) {
      action.status = 'skipped';
      action.skipReason = 'RAIL_CHECK_FAILED';
      action.reason = `not restarted: ${lost}; ${action.reason}`;
      continue;
    }
    const at = deps.now();
    const nodes = new Set(candidates.filter((o) => o.workload === action.workload).map((o) => o.node));
    const next: SettleRecord = pruneSettled(settled, at, config.rails.settleMinutes);
    for (const node of nodes)
      next[node] = {
        at: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        workload: action.workload,
        runId: deps.runId,
      };
    if (!(await keeper.record(next, signal))) {
      action.status = 'skipped';
      action.skipReason = 'RAIL_CHECK_FAILED';
      action.reason = `not restarted: ${keeper.lost() ?? 'the Lease could not be written'}; ${action.reason}`;
      continue;
    }
    settled = next;
    try {
      const outcome = await deps.remediator.restart(ref, action.reason, signal, (status) =>
        recheck(candidates, action.workload, status, policy, deps.now(), {
          settled: history.settled,
          runId: deps.runId,
        }),
      );
      action.status = 'applied';
      if (!outcome.confirmed) {
        action.unconfirmed = true;
        if (outcome.detail) action.error = outcome.detail;
        log.warn({ workload: action.workload, detail: outcome.detail }, 'restart applied, not confirmed');
      } else log.info({ workload: action.workload, reason: action.reason }, 'restart applied');
    } catch (e) {
      if (e instanceof RestartBlockedError) {
        action.status = 'skipped';
        action.skipReason = e.code;
        action.reason = `${e.message}; ${action.reason}`;
        log.info({ workload: action.workload, code: e.code }, 'restart blocked on re-read');
        continue;
      }
      action.status = 'failed';
      action.error = messageOf(e);
      errors.push({ stage: 'act', target: action.workload, message: messageOf(e) });
      log.error({ workload: action.workload, err: messageOf(e) }, 'restart failed');
    }
  }
}

/** Entries older than the settle time are dropped, so the record stays one entry per recently restarted node. */
function pruneSettled(settled: SettleRecord, now: Date, settleMinutes: number): SettleRecord {
  const out: SettleRecord = {};
  for (const [node, entry] of Object.entries(settled)) {
    if (now.getTime() - Date.parse(entry.at) < settleMinutes * 60_000) out[node] = entry;
  }
  return out;
}

/** Settles no later than `signal`: a wrap-up step that ignores its signal still cannot hold the run. */
function bounded<T>(p: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error(`${what}: no wrap-up time left`));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Error(`${what}: did not finish within the wrap-up time`));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Per node, the SNAT ports its cloud signals report (the fullest signal when there are several). */
function nodeAllocations(hot: readonly HotNode[], cool: readonly HotNode[]): NodeAllocation[] {
  const out: NodeAllocation[] = [];
  const hotNames = new Set(hot.map((h) => h.name));
  for (const n of [...hot, ...cool]) {
    let best: { used?: number; allocated: number; ratio: number } | undefined;
    for (const s of n.signals) {
      if (s.kind !== 'snat-ports' || !s.allocated) continue;
      const ratio = (s.used ?? 0) / s.allocated;
      if (!best || ratio > best.ratio) best = { used: s.used, allocated: s.allocated, ratio };
    }
    if (best)
      out.push({
        name: n.name,
        allocated: best.allocated,
        ...(best.used !== undefined ? { used: best.used } : {}),
        hot: hotNames.has(n.name),
      });
  }
  return out;
}

/**
 * The forecast over every inspected node. Nodes without a cloud figure (provider none) are held against
 * network.snatPortsPerNode with their busiest destination as "used", and count as hot at snatUsedRatio.
 */
function earlyWarning(
  config: Config,
  now: Date,
  state: RunState,
  cloud: NodeAllocation[],
  inspectedNodes: string[],
  seen: { nodeCount: number; facts: Partial<CloudFacts>; analyses: OffenderAnalysis[] },
): ForecastResult {
  const { nodeCount, facts, analyses } = seen;
  const usage = analyses.flatMap((a) => a.usage);
  const nodeDestinations = new Map<string, Map<string, number>>();
  for (const u of usage) {
    const dests = nodeDestinations.get(u.node) ?? new Map<string, number>();
    for (const d of u.topDestinations) dests.set(d.remote, (dests.get(d.remote) ?? 0) + d.sockets);
    nodeDestinations.set(u.node, dests);
  }
  const known = new Set(cloud.map((n) => n.name));
  const budget = config.network.snatPortsPerNode;
  const inspected = new Set(inspectedNodes);
  const nodes = [...cloud];
  for (const name of inspected) {
    if (known.has(name)) continue;
    const used = Math.max(0, ...(nodeDestinations.get(name)?.values() ?? []));
    nodes.push({ name, allocated: budget, used, hot: used / budget >= config.thresholds.snatUsedRatio });
  }
  return forecast({
    now,
    horizonMinutes: config.forecast.horizonMinutes,
    history: state.history ?? emptyHistory(),
    nodes,
    inspected,
    usage: usage.flatMap((u) => {
      const top = u.topDestinations[0];
      return top
        ? [{ node: u.node, workload: u.workload, destination: top.remote, sockets: top.sockets }]
        : [];
    }),
    nodeDestinations,
    cluster: {
      provider: config.provider,
      nodes: nodeCount,
      ...(facts.azure?.allocatedOutboundPorts !== undefined
        ? { allocatedOutboundPorts: facts.azure.allocatedOutboundPorts }
        : {}),
      ...(facts.azure?.outboundIPs !== undefined ? { outboundIPs: facts.azure.outboundIPs } : {}),
    },
  });
}

function selectHotNodes(
  config: Config,
  pressure: NodePressure[],
  nodes: NodeInfo[],
  errors: RunError[],
): { hot: HotNode[]; cool: HotNode[]; onEvidence?: boolean } {
  if (config.provider === 'none' && pressure.length === 0) {
    // No cloud to ask: inspect every node the selector names (scan --provider none); hot on evidence.
    return { hot: selectedNodes(nodes, config.inspect.nodeSelector), cool: [], onEvidence: true };
  }
  const { hot, cool, unmatched } = findHotNodes(pressure, nodes, config.thresholds);
  for (const key of unmatched) {
    const target = key.name ?? key.internalIP ?? key.instanceId ?? key.providerID ?? 'unknown';
    errors.push({ stage: 'nodes', target, message: 'cloud metrics name a node that is not in the cluster' });
  }
  return { hot, cool };
}

function nodeReports(
  hot: HotNode[],
  cool: HotNode[],
  all: NodeInfo[],
  inspections: PodInspection[],
  snatSockets: ReadonlyMap<string, number>,
  conntrack: ReadonlyMap<string, NonNullable<NodeReport['conntrack']>>,
): NodeReport[] {
  const reports: NodeReport[] = hot.map((h) => {
    const mine = inspections.filter((i) => i.pod.node === h.name);
    const report: NodeReport = {
      name: h.name,
      hot: true,
      signals: h.signals,
      reasons: h.reasons,
      podsInspected: mine.filter((i) => i.status === 'ok').length,
      // One count of uninspectable pods everywhere (table, chat, advice): pods with no way in. Pods whose
      // read failed are counted apart (podsFailed) and named in errors.
      podsUninspectable: mine.filter((i) => i.status === 'uninspectable').length,
      snatSockets: snatSockets.get(h.name) ?? 0,
    };
    const failed = mine.filter((i) => i.status === 'failed').length;
    if (failed > 0) report.podsFailed = failed;
    const ct = conntrack.get(h.name);
    if (ct) report.conntrack = ct;
    return report;
  });
  // Nodes the cloud reported on without crossing a threshold, then the rest: the report lists every node.
  const listed = new Set([...hot, ...cool].map((n) => n.name));
  for (const n of cool) {
    const mine = inspections.filter((i) => i.pod.node === n.name);
    const report: NodeReport = {
      name: n.name,
      hot: false,
      signals: n.signals,
      podsInspected: mine.filter((i) => i.status === 'ok').length,
      podsUninspectable: mine.filter((i) => i.status === 'uninspectable').length,
    };
    const failed = mine.filter((i) => i.status === 'failed').length;
    if (failed > 0) report.podsFailed = failed;
    const ct = conntrack.get(n.name);
    if (ct) report.conntrack = ct;
    reports.push(report);
  }
  for (const n of all) {
    if (!listed.has(n.name))
      reports.push({ name: n.name, hot: false, signals: [], podsInspected: 0, podsUninspectable: 0 });
  }
  return reports;
}

function mergeFacts(into: Partial<CloudFacts>, from: Partial<CloudFacts>): void {
  if (from.azure) into.azure = { ...into.azure, ...from.azure };
  if (from.aws) {
    const natGateways = [...(into.aws?.natGateways ?? []), ...from.aws.natGateways];
    into.aws = { ...into.aws, ...from.aws, natGateways };
  }
}
