/**
 * The shapes scoring produces and reports carry. `report.json` is a `Report`; its schema is
 * versioned by `schemaVersion` and changes only with a version bump.
 *
 * Units: times (`at`, `startedAt`) are milliseconds since the run's clock origin; durations
 * (`ms`, `p50`, deadlines, latencies) are milliseconds; money is in integer minor units; class and
 * overall scores are 0–100; incident scores and stage credits are 0–1.
 */
import type { FaultId, IncidentClass } from './faults/index.js';
import type { PaymentProtocol } from './schema-parts.js';
import type { NotInjectedCause } from './journal.js';
import type { InvariantId } from './invariant-ids.js';
import type { RunInterruption } from './interruption.js';

export type { InterruptSignal, RunInterruption } from './interruption.js';

export const REPORT_SCHEMA_VERSION = 1 as const;

export { STAGE_NAMES, type StageDeadlines, type StageName } from './stages.js';
import type { StageDeadlines, StageName } from './stages.js';

/** How one stage of one incident went. */
export interface IncidentStage {
  /** When the stage was met (run clock, ms); absent when it never was. */
  at?: number;
  /** Time from the incident's start to `at` (ms); absent when never met. */
  ms?: number;
  /** 0–1: 1 within the deadline, falling linearly to 0 at twice the deadline. */
  credit: number;
  /** Why the credit was forced to 0 although the stage was reached (e.g. a duplicate delivery). */
  note?: string;
  /** Present (false) when the target cannot show this stage (a shop that never tells buyers): not scored. */
  observable?: false;
}

/** One fault hitting one order. */
export interface IncidentReport {
  /** The incident class: a fault id, or `buyer.<behaviour>` for a buyer's own mistake. */
  class: IncidentClass;
  /** The shop's order id; null when the fault hit a buyer whose order never existed. */
  orderId: string | null;
  buyerId: string | null;
  /** The first `fault.injected` for (fault, order), run clock (ms). */
  startedAt: number;
  /** Money at risk: the order's amount (minor units), 0 when unknown. */
  amount: number;
  stages: Record<StageName, IncidentStage>;
  /** 0–1: 0.3·detect + 0.2·notify + 0.5·recover (the stages the target cannot show left out, the rest re-weighted). */
  score: number;
}

/** Stage figures over a class's incidents. */
export interface StageSummary {
  /** Incidents whose stage earned credit within the deadline. */
  met: number;
  /** Incidents whose stage was met at all (late or voided included). */
  reached: number;
  /** Time to the stage (ms) over the reached incidents; null when none reached it. */
  p50: number | null;
  p95: number | null;
  /** Present (false) when the target cannot show this stage: `n/a`, not scored. */
  observable?: false;
}

export interface ClassScore {
  /** 0–100: the mean incident score × 100; null when the target cannot show the class (`observable: false`). */
  score: number | null;
  /** Present (false) when the target cannot show this class at all: `n/a`, weight 0, out of the overall score. */
  observable?: false;
  /** Why the class is not observable on this target. */
  reason?: string;
  /** Weight in the overall score: `scenario.weights[class]`, else the money at risk (min 1). */
  weight: number;
  incidents: number;
  /** Deadlines used (ms), after `scenario.expect` overrides. */
  deadlines: StageDeadlines;
  stages: Record<StageName, StageSummary>;
}

export interface InvariantViolation {
  orderIds: string[];
  message: string;
}

export interface InvariantResult {
  id: InvariantId;
  ok: boolean;
  description: string;
  violations: InvariantViolation[];
}

export interface LatencyPercentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** Fault-free orders of normal buyers. */
export interface SteadyState {
  orders: number;
  succeeded: number;
  /** 0–1; 1 when there were no such orders. */
  successRate: number;
  /** From intended arrival to delivered (ms), over the delivered orders. */
  latency: LatencyPercentiles;
  thresholds: { successRate: number; p95?: number };
  ok: boolean;
  /**
   * Fault-free orders the supplier genuinely refused for lack of stock (the shop answered
   * `out_of_stock`, no stock fault involved): a correct answer, left out of `orders`. Absent when none.
   */
  soldOut?: number;
  /**
   * Orders of normal buyers that were shopping while a `target.crash` had the shop down (arriving to
   * a dead shop, or waiting through its restart): the crash's, not the steady state's, left out of
   * `orders`. Absent when none.
   */
  caughtByCrash?: number;
}

export interface LoadFigures {
  /** Arrivals the open model produced (dropped ones included). */
  arrivals: number;
  /** Arrivals dropped at the in-flight cap. */
  dropped: number;
  /** Distinct orders the shop created. */
  ordersCreated: number;
  /** Order-create requests answered with 5xx, not answered at all, or answered 2xx without a readable order. */
  httpErrors: number;
  /** Order-create requests answered with 4xx (bad input, key reuse). */
  rejected: number;
  /** Faults injected on a buyer whose order could not be found (scored as incidents with orderId null). */
  unattachedFaults: number;
}

/** The equations of the accounting line (`Accounting`). */
export const ACCOUNTING_CHECKS = ['arrivals', 'requests', 'orders', 'money', 'cards'] as const;
export type AccountingCheck = (typeof ACCOUNTING_CHECKS)[number];

/** One equation of the accounting line that does not add up: by how much, and the orders that show it. */
export interface AccountingGap {
  check: AccountingCheck;
  /** How far apart the two sides are: arrivals, requests, orders or cards (`money`: orders). */
  difference: number;
  /** The difference, named (order ids are the shop's: render them escaped). */
  message: string;
  /** The first orders that show it (at most `ACCOUNTING_NAMED_ORDERS`), first seen first; empty for counts no order carries. */
  orderIds: string[];
}

/** How many order ids an accounting gap names. */
export const ACCOUNTING_NAMED_ORDERS = 10;

/**
 * The scenario's accounting line, from the journal alone: every arrival, request, order, payment
 * and card accounted for. `balanced` is false when an equation does not add up (`gaps` names the
 * difference); then the gate fails.
 */
export interface Accounting {
  balanced: boolean;
  /** planned = sent + dropped. `planned` is the load's own count (`load.finished`); a run cut before the load finished has none, then it is sent + dropped. */
  arrivals: { planned: number; sent: number; dropped: number };
  /**
   * Order-create requests (one per buyer and idempotency key, retries included): sent = created +
   * rejected + failed + unanswered, by each request's last answer — created: a 2xx naming an order;
   * rejected: a 4xx; failed: a 5xx or a 2xx without an order; unanswered: no HTTP answer (a
   * transport error, or still in flight when the run ended).
   */
  requests: { sent: number; created: number; rejected: number; failed: number; unanswered: number; inFlight: number };
  /** Orders named in create answers (distinct per buyer) = settled (last status final) + unsettled at the end. */
  orders: { created: number; settled: number; unsettled: number };
  /**
   * The payment ledger against the shop's answers, over the orders buyers created: money captured
   * and refunded (minor units); orders holding money (captured − refunded > 0) against orders the
   * shop shows paid (`paid`, `fulfilling`, `delivered`, `refund_pending`). `inTransit`: orders
   * holding money the shop does not show paid yet — unsettled ones, and in a run that did not
   * complete, ones that ended failed, expired or cancelled (a late payment not refunded yet). `elsewhere`: money captured for ids no
   * buyer was answered with (reported, not balanced).
   */
  money: { captured: number; refunded: number; ordersHoldingMoney: number; ordersShownPaid: number; inTransit: number; elsewhere: number };
  /**
   * The supplier's card ledger against the codes the shop showed buyers, over the orders buyers
   * created. `inTransit`: cards issued to unsettled orders not shown yet; `elsewhere`: cards issued
   * to ids no buyer was answered with. `observable: false` when the shop holds its own stock (what
   * it shows is what it issued): n/a.
   */
  cards: { issued: number; shown: number; inTransit: number; elsewhere: number; observable?: false };
  gaps: AccountingGap[];
}

/** Endpoints whose every request is measured: order create, cancel, and the cashier's pay and verify. */
export const ENDPOINT_NAMES = ['create', 'pay', 'cancel', 'verify'] as const;
export type EndpointName = (typeof ENDPOINT_NAMES)[number];

/** Stages of an order, each measured from its buyer's intended arrival. */
export const ORDER_STAGE_NAMES = ['created', 'paid', 'delivered', 'completed'] as const;
export type OrderStageName = (typeof ORDER_STAGE_NAMES)[number];

/**
 * An HDR histogram of durations, in a mergeable form: `encoded` is the histogram itself (HdrHistogram's
 * compressed V2 encoding, base64; values recorded in microseconds, 3 significant digits, 1 µs to 1 h),
 * the other fields are read from it, in milliseconds. Two of them add up with `mergeEncoded`.
 */
export interface EncodedHistogram {
  /** The histogram, HdrHistogram compressed base64 (values in µs). */
  encoded: string;
  /** Samples recorded. */
  count: number;
  /** Smallest sample (ms); null when there is none. */
  min: number | null;
  /** Largest sample (ms, at the histogram's precision); null when there is none. */
  max: number | null;
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  p999: number | null;
}

/** Every request to one endpoint. */
export interface EndpointMetrics {
  /** Requests answered (or failed in transport). */
  count: number;
  /** Requests answered 5xx or not answered at all. */
  errors: number;
  /** From when the buyer meant to send the request to its answer (no coordinated omission). */
  responseTime: EncodedHistogram;
  /** From when the request was actually sent to its answer. */
  serviceTime: EncodedHistogram;
}

/** One second of the run, counted from load start (the first intended arrival). */
export interface SecondMetrics {
  /** Seconds since load start: this entry covers [second, second + 1). */
  second: number;
  /** Arrivals the open model intended in this second (dropped ones included). */
  arrivals: number;
  /** Of those, dropped at the in-flight cap. */
  dropped: number;
  /** Order-create requests the buyers meant to send in this second. */
  requests: number;
  /** Of those, answered 5xx or not answered at all. */
  errors: number;
  /** Buyers whose order was delivered, by when they saw it. */
  completed: number;
  /** Buyers who finished without goods for any reason but abandoning, by when they gave up. */
  failed: number;
  /** Response time of this second's order-create requests, from intended start (ms); null when there were none. */
  p50: number | null;
  p95: number | null;
  p99: number | null;
  /** Those response times as an HDR histogram (compressed base64, µs), to merge seconds of two runs. */
  encoded: string;
}

/** Latency and throughput of a scenario: mergeable with another run's (`mergeScenarioMetrics`). */
export interface ScenarioMetrics {
  endpoints: Record<EndpointName, EndpointMetrics>;
  /** Per order stage, from the buyer's intended arrival: first 201, capture, first delivered seen, buyer done with goods. */
  stages: Record<OrderStageName, EncodedHistogram>;
  /** One entry per second from load start to the last event measured, empty seconds included. */
  perSecond: SecondMetrics[];
}

/** Everything `scoreScenario` computes: a pure function of (journal, scenario). */
/** A scenario fault the run's payment protocol cannot express: never injected, so it has no class. */
export interface NotInjectedFault {
  /** Its index in the scenario's `faults`. */
  faultIndex: number;
  fault: FaultId;
  /** Why the protocol cannot express it, and what the shop meets instead. */
  reason: string;
  /** Present when the target, not the protocol, is why: `attached` — Ordeal does not run the shop, so it cannot crash it. */
  cause?: NotInjectedCause;
}


/** The payment provider a run played: its wire protocol, and the faults that protocol could not carry. */
export interface ProviderFigures {
  protocol: PaymentProtocol;
  /** The channels beside the primary, when the shop offered several. */
  channels?: PaymentProtocol[];
  notInjected: NotInjectedFault[];
}

/** One request the mocks refused for lacking the run's credentials (journal `mock.outside_request`). */
export interface OutsideRequestExample {
  /** Run clock, ms. */
  t: number;
  /** Which mock: `payment`, `stock`, `notify`, `risk`, `payment (alipay)`. */
  mock: string;
  method: string;
  /** The path, without its query string. */
  path: string;
  remoteAddress?: string;
  reason: string;
}

/** Requests to the mocks without the run's credentials: refused, never on a ledger, never the shop's. */
export interface OutsideRequests {
  count: number;
  /** How many each mock refused, by its name (`payment`, `stock`, …). */
  byMock: Record<string, number>;
  /** The first few (at most 5). */
  examples: OutsideRequestExample[];
}

export interface ScenarioScore {
  scenario: string;
  /** The run's seed (from `run.started`, else the scenario's). */
  seed: number;
  /**
   * Overall score 0–100; null when every incident class of the scenario is one the target cannot
   * show (`observable: false`) — `n/a`, never a 100 for what was not seen.
   */
  score: number | null;
  /** Present (false) when nothing the scenario injects is observable on the target. */
  observable?: false;
  classes: Partial<Record<IncidentClass, ClassScore>>;
  incidents: IncidentReport[];
  invariants: InvariantResult[];
  steadyState: SteadyState;
  load: LoadFigures;
  /** One result per `gate.recovery` rule, in the scenario's order; absent when the scenario has none. */
  recovery?: RecoveryResult[];
  /** Latency (HDR histograms, from intended start) and throughput; absent when scored from a fold without them. */
  metrics?: ScenarioMetrics;
  /** Absent for journals that name no protocol (written before there was a choice: native). */
  provider?: ProviderFigures;
  /** The accounting line: every arrival, request, order, payment and card accounted for. */
  accounting: Accounting;
  /** Requests the mocks refused for lacking the run's credentials; absent when there were none. */
  outsideRequests?: OutsideRequests;
}

export interface GateResult {
  passed: boolean;
  reasons: string[];
}

/** A recovery rule as evaluated: `gate.recovery[i]` with its fault resolved and defaults filled in. */
export interface RecoveryRule {
  /** Index of the fault in the scenario's `faults` whose window end starts the clock. */
  after: number;
  /** That fault's id. */
  fault: FaultId;
  /** Longest acceptable time from the window end to recovery (ms). */
  within: number;
  /** The window's p95 completion time must be at most this (ms); absent when not checked. */
  p95?: number;
  /** The window's share of orders delivered must be at least this (0–1); absent when not checked. */
  successRate?: number;
  /** Length of the sliding window of completions (ms). */
  window: number;
}

/** The completions in one window (from, to], in load time (ms since load start). */
export interface RecoveryWindow {
  from: number;
  to: number;
  /** Orders completed in the window (normal buyers; genuine stock-outs left out). */
  completions: number;
  /** Of those, delivered. */
  delivered: number;
  /** delivered / completions, 0–1. */
  successRate: number;
  /** p95 completion time: intended arrival to the outcome the buyer saw (ms). */
  p95: number;
}

/** How a recovery rule went. Times are load time (ms since load start, the clock fault windows use). */
export interface RecoveryResult {
  rule: RecoveryRule;
  /** When the fault's window ended. */
  windowEnd: number;
  /** Completions after the window end the rule looked at. */
  completions: number;
  /** From then on, every window met the rule until the last completion; absent when never. */
  recoveredAt?: number;
  /** recoveredAt − windowEnd (ms); absent when never recovered. */
  timeToRecoverMs?: number;
  /** Recovered within `rule.within`. */
  met: boolean;
  /** The window at `recoveredAt`; when never recovered, the last window that failed; absent when nothing completed after the window end. */
  figures?: RecoveryWindow;
}

/** A scenario's gate as the report carries it: the verdict, and the minimum it was held to. */
export interface ScenarioGateResult extends GateResult {
  /** The overall-score minimum (0–100) the scenario was gated at: `gate.minScore`, or `--min-score`. */
  minScore?: number;
}

export interface ScenarioReport {
  name: string;
  description?: string;
  seed: number;
  /** Null when nothing the scenario injects is observable on the target. */
  score: number | null;
  observable?: false;
  classes: Partial<Record<IncidentClass, ClassScore>>;
  invariants: InvariantResult[];
  steadyState: SteadyState;
  load: LoadFigures;
  incidents: IncidentReport[];
  gate: ScenarioGateResult;
  /** One result per `gate.recovery` rule; absent when the scenario has none. */
  recovery?: RecoveryResult[];
  /** Latency per endpoint and order stage (mergeable HDR histograms, from intended start) and per second; absent in reports written before it was recorded. */
  metrics?: ScenarioMetrics;
  /** The payment protocol the run spoke and the faults it could not express; absent in reports of runs before protocols could be chosen. */
  provider?: ProviderFigures;
  /** The accounting line; absent in reports written before it was recorded. */
  accounting?: Accounting;
  /** Requests the mocks refused for lacking the run's credentials, reported apart; absent when there were none. */
  outsideRequests?: OutsideRequests;
}

/** `report.json`; its JSON Schema is `reportSchema` in `report-schema.ts` (`docs/report.schema.json`). */
export interface Report {
  schemaVersion: typeof REPORT_SCHEMA_VERSION;
  tool: { name: 'ordeal'; version: string };
  /** ISO 8601. */
  createdAt: string;
  seed: number;
  /** The command that replays the run. */
  replay: string;
  scenarios: ScenarioReport[];
  gate: GateResult;
  /** Present when the run was stopped before its end (Ctrl-C, SIGTERM): what it cut and did not run. Its gate never passes. */
  interrupted?: RunInterruption;
}

export interface ReportMeta {
  /** The run's seed (`--seed`, else the first scenario's). */
  seed: number;
  /** The command that replays the run. */
  replay: string;
  /** Ordeal's version. */
  version: string;
  /** ISO 8601. */
  createdAt: string;
  /** The `--min-score` override the scenarios were gated at, if any. @default each scenario's `gate.minScore` */
  minScore?: number;
  /** How the run was interrupted, when it was. */
  interrupted?: RunInterruption;
}
