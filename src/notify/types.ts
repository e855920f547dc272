// The channel-neutral shapes of a notification: what dedup decides (Notice) and what render produces (Message).
import type { Mode, RunReport, Severity } from '../model.js';

export type NoticeKind = 'alert' | 'recovered';

/** Why a notice goes out; empty means silence. */
export type NoticeReason = 'new' | 'escalated' | 'renotify' | 'resolved';

export interface RecoveredNode {
  node: string;
  /** When the first alert about this node was sent. */
  firstSeen: string;
}

/** What dedup decided to send for one run. */
export interface Notice {
  kind: NoticeKind;
  severity: Severity;
  reasons: NoticeReason[];
  report: RunReport;
  /** Fingerprints seen for the first time or with a higher severity. */
  changed: string[];
  /** Fingerprints that were alerted before and are gone now. */
  resolved: string[];
  /** Nodes of which every alerted fingerprint is gone and which are no longer hot. */
  recovered: RecoveredNode[];
  /** Set when this run sees the cluster again after failed runs: since when it could not. */
  blindSince?: string;
}

/**
 * Inline text. `text` is untrusted and escaped by each channel; `code` renders as inline code
 * (identifiers: nodes, workloads, destinations); `strong` is bold.
 */
export interface Span {
  style: 'text' | 'code' | 'strong';
  text: string;
}

export interface Item {
  spans: Span[];
  /** A paragraph of free text under the line (a reason, a recommendation's detail, an error). */
  detail?: string;
  /** A preformatted block: the exact command or setting to apply. */
  code?: string;
}

export type SectionKey =
  | 'status'
  | 'nodes'
  | 'offenders'
  | 'actions'
  | 'recommendations'
  | 'errors'
  | 'recovered';

export interface Section {
  key: SectionKey;
  title: string;
  items: Item[];
}

export interface Message {
  kind: NoticeKind;
  severity: Severity;
  cluster: string;
  mode: Mode;
  runId: string;
  /** The run's finishedAt (RFC 3339). */
  at: string;
  /** One line, no icon, no markup: `SNAT exhaustion on aks-prod — 1 hot node, 1 restart planned (dry-run)`. */
  headline: string;
  /** One line of context under the headline: severity, mode, run id. */
  context: string;
  sections: Section[];
}

export type ChannelName = 'slack' | 'teams' | 'discord' | 'webhook';

/** One HTTP request to a channel. `url` is secret: it is never logged, stored or put in an error. */
export interface OutboundRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** A chat channel: turns a decided notice into an HTTP request (pure; the URL lives in a closure). */
export interface Channel {
  readonly name: ChannelName;
  request(notice: Notice, message: Message, now: Date): OutboundRequest;
}
