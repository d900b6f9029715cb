/**
 * The data the HTML report draws beyond report.json: per-bucket time series, fault windows and
 * order timelines. The harness folds it from a run's journals (harness/output/html-data.ts); the
 * renderer (reports/html.ts) only reads it.
 *
 * Times: series buckets and fault windows are milliseconds since load start (the origin of the
 * scenario's `window`s); timeline event times `t` are on the journal clock, like the incidents'
 * `startedAt` and stage `at` (subtract `loadStart` to get load time).
 */
import type { JournalEventMap } from '../core/journal.js';
import type { Report } from '../core/report-types.js';

/** Where an event of an order's timeline happened. */
export const TIMELINE_LANES = ['buyer', 'shop→payment', 'shop→stock', 'shop→risk', 'shop→notify', 'callback', 'fault', 'status'] as const;
export type TimelineLane = (typeof TIMELINE_LANES)[number];

export interface TimelineEvent {
  /** Journal clock (ms). */
  t: number;
  lane: TimelineLane;
  text: string;
}

/** Everything the journal recorded about one order, in time order. */
export interface OrderTimeline {
  /** The order id, or `buyer:<buyerId>` for a buyer whose order never existed. */
  key: string;
  orderId: string | null;
  buyerId: string | null;
  events: TimelineEvent[];
  /** Events left out past the per-order cap. */
  eventsOmitted: number;
}

/** How a buyer's visit ended (`buyer.finished.outcome`). */
export type BuyerOutcome = JournalEventMap['buyer.finished']['outcome'];
export const BUYER_OUTCOMES: readonly BuyerOutcome[] = ['delivered', 'failed', 'rejected', 'abandoned', 'timeout', 'error'];

export interface TimeSeries {
  /** Bucket width (ms); bucket i covers load time [i·bucketMs, (i+1)·bucketMs). */
  bucketMs: number;
  /** Buyers whose intended arrival falls in the bucket. */
  arrivals: number[];
  /** Arrivals dropped at the in-flight cap. */
  dropped: number[];
  /** Buyers that finished in the bucket, by outcome. */
  finished: Record<BuyerOutcome, number[]>;
  /** Percentiles of `buyer.finished.latencyMs` over the buyers finishing in the bucket (ms); null when none. */
  latency: { p50: Array<number | null>; p95: Array<number | null>; p99: Array<number | null> };
}

/** A stretch of load time where a fault was active. */
export interface FaultWindow {
  fault: string;
  /** Load time (ms). */
  from: number;
  to: number;
  /** `window`: the scenario's configured window; `injected`: first to last injection; `crash`: killed to restarted. */
  source: 'window' | 'injected' | 'crash';
  /** Injections recorded inside the window (for `crash`: orders in flight). */
  injections: number;
}

export interface HtmlScenarioData {
  name: string;
  /** Why the journal or the scenario could not be read (the section then shows the report alone). */
  problem?: string;
  /** Load start on the journal clock (ms). */
  loadStart: number;
  /** Load time of the journal's last event (ms). */
  durationMs: number;
  series: TimeSeries;
  faultWindows: FaultWindow[];
  /** Incident orders first (report order), then orders named by invariant violations. */
  timelines: OrderTimeline[];
  /** Orders the report names whose timelines were left out past the cap. */
  timelinesOmitted: number;
}

export interface HtmlReportData {
  report: Report;
  /** One per `report.scenarios`, same order. */
  scenarios: HtmlScenarioData[];
}

export interface HtmlDataOptions {
  /** Timelines kept per scenario. @default 2000 */
  maxTimelines?: number;
  /** Events kept per timeline. @default 400 */
  maxTimelineEvents?: number;
}

export const MAX_TIMELINES = 2000;
export const MAX_TIMELINE_EVENTS = 400;

/** The timeline key of an incident: its order, else its buyer. */
export function incidentKey(orderId: string | null, buyerId: string | null): string | undefined {
  if (orderId !== null) return orderId;
  return buyerId === null ? undefined : `buyer:${buyerId}`;
}
