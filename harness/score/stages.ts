/**
 * What counts as detect, notify and recover for each incident class (a fault id, or
 * `buyer.<behaviour>`), as a table: default deadlines (a function of the scenario and the fault's
 * parameters) and, per stage, a function from the order's folded state to the time the stage was
 * met.
 *
 * The folded state (`OrderFacts`, `BuyerFacts`, `FoldedRun`) is built by `foldJournal` in score.ts
 * in one pass over the journal. Stage functions count evidence at or after the incident's start,
 * except where a definition says otherwise (evidence that precedes the incident by its nature, such
 * as the delivery a stale out-of-order notice arrives after, is credited at the start).
 */
import type { BuyerBehaviour, FaultSpec, IncidentClass, RiskSignal, Scenario } from '../../core/scenario-schema.js';
import type { JournalEventMap } from '../../core/journal.js';
import type { StageDeadlines, StageName } from '../../core/report-types.js';
import type { CardOwners, FactsTable } from './fold-store.js';
import type { InvariantChecker } from './invariants.js';
import type { BuyerTallier } from './recovery.js';

/** A status the shop reported for an order: in its create answer or seen by the harness later. */
export interface StatusReport {
  t: number;
  status: string;
  reason?: string;
  source: 'answer' | 'observed';
  /** Cards the shop showed with an observed status. */
  cards?: number;
}

/** Why a buyer's create request differs from a plain order (see `order.create.sent`). */
export type CreateIntent = 'order' | 'mistake' | 'correction' | 'second_window';

/**
 * One order, folded from the journal: what the shop said and what the mocks' ledgers recorded.
 *
 * Lists and sets are read-only here: a new order's all start as the shared `NO_ENTRIES` /
 * `NO_CODES` (most stay empty), and only the fold (`JournalFolder`) adds to them.
 */
export interface OrderFacts {
  orderId: string;
  buyerId: string | undefined;
  /** Some buyer's create request was answered with this order id. */
  createdByBuyer: boolean;
  /** The intent of the submission that created it, when the harness named one. */
  intent: CreateIntent | undefined;
  /** The buyer's contact (resolved from `buyer.arrived` once folding is done). */
  contact: string | undefined;
  /** Cards the buyer asked for (resolved from `buyer.arrived`; else the reservation's quantity). */
  quantity: number | undefined;
  sku: string | undefined;
  /** The amount the shop quoted in its create answer (minor units). */
  amount: number | undefined;
  /** The amount of the payment trade the shop created (minor units). */
  tradeAmount: number | undefined;
  reservedQuantity: number | undefined;
  /** First `order.create.answered` with HTTP 201 for this order. */
  created201At: number | undefined;
  statuses: readonly StatusReport[];
  /** Trade creations the provider accepted (`repeat`: the same outTradeNo again). */
  tradeCreations: ReadonlyArray<{ t: number; repeat: boolean }>;
  /** Trade creations the provider refused (cross-border, single limit, …). */
  tradeRefusals: ReadonlyArray<{ t: number; code: string }>;
  /** Money captured from the buyer (`payment.trade.paid`). */
  captures: ReadonlyArray<{ t: number; amount: number; payerId?: string }>;
  /** Payments the provider refused at the cashier. */
  payFailures: ReadonlyArray<{ t: number; code: string }>;
  /** Money returned: ok, non-repeat refunds only. */
  refunds: ReadonlyArray<{ t: number; amount: number }>;
  /** Every refund call the shop made (failed and repeated ones included). */
  refundAttempts: readonly number[];
  queries: readonly number[];
  /** `payment.trade.closed` answered TRADE_HAS_SUCCESS. */
  closedWithSuccess: readonly number[];
  /** `payment.trade.closed` that closed the trade. */
  closes: readonly number[];
  callbacks: ReadonlyArray<{ t: number; acked: boolean; status?: 'TRADE_SUCCESS' | 'PAY_FAILED'; forgery?: 'forged' | 'replayed' | 'stale' }>;
  /** Non-repeat reservations. */
  reservations: readonly number[];
  /** Reservations freed: `released` by the shop, or `expired` (lapsed at the supplier's TTL). */
  releases: ReadonlyArray<{ t: number; reason: 'released' | 'expired' }>;
  stockRefusals: readonly number[];
  /** Non-repeat fulfilments. */
  fulfilments: ReadonlyArray<{ t: number; cards: number }>;
  /** Card-issue calls the supplier failed. */
  fulfilFailures: readonly number[];
  /** Distinct card codes the supplier issued to the order. */
  cards: CardCodes;
  /** Distinct card codes the shop showed the buyer for this order. */
  shownCards: CardCodes;
  /** Messages the gateway accepted (duplicates dropped by the gateway are not kept). */
  messages: ReadonlyArray<{ t: number; to: string; kind: string; reason?: string }>;
  /** Every message the shop tried to send: accepted, dropped as duplicate, or refused. */
  messageAttempts: ReadonlyArray<{ t: number; kind: string; refused: boolean }>;
  /** The buyer's cancel requests and the shop's answers. */
  cancels: ReadonlyArray<{ t: number; httpStatus?: number; status?: string }>;
  /** Risk screening: assessments and resolutions of reviews. */
  risk: ReadonlyArray<{ t: number; decision: 'approve' | 'review' | 'reject' | 'approved' | 'rejected' }>;
  /** Times of every call the shop made to a mock about this order (trade, stock, risk, notify). */
  shopCalls: readonly number[];
}

/** One answer to a buyer's create request. */
export interface SubmissionFacts {
  t: number;
  idempotencyKey: string;
  intent?: CreateIntent;
  httpStatus?: number;
  orderId?: string;
  status?: string;
  errorCode?: string;
  /** Transport error: no HTTP answer. */
  error?: string;
}

export interface BuyerFacts {
  buyerId: string;
  behaviour: BuyerBehaviour | undefined;
  sku: string | undefined;
  quantity: number | undefined;
  contact: string | undefined;
  region: string | undefined;
  signals: RiskSignal[] | undefined;
  intendedAt: number | undefined;
  dropped: boolean;
  /** Orders created for the buyer, in the order they were first seen. */
  orders: readonly string[];
  /** Answers to the buyer's create requests, in journal order. */
  submissions: readonly SubmissionFacts[];
  finished: { outcome: string; latencyMs: number; finalStatus?: string } | undefined;
  /** Its submissions and its orders' incident-only facts were dropped (`compactBuyerFacts`). */
  compacted: boolean;
}

/** The first `fault.injected` for one (class, order) — or (class, buyer) when no order was named. */
export interface FaultHitFacts {
  fault: IncidentClass;
  t: number;
  /** Index in `scenario.faults` (-1 for buyer behaviours). */
  faultIndex: number;
  orderId?: string;
  buyerId?: string;
  /** Every `fault.injected` time for the pair, ascending (a fault may bite more than once). */
  times: number[];
}

/** The `FoldedRun.faultHits` key of the first hit of one class on one order, or on one buyer when the hit named no order. */
export function faultHitKey(target: 'order' | 'buyer', fault: string, id: string): string {
  return `${target}\u0000${fault}\u0000${id}`;
}

/** A whole journal folded into per-order and per-buyer state, plus the supplier's issue ledger. */
export interface FoldedRun {
  /** From `run.started`, when present. */
  run?: { scenario: string; seed: number; replay: string };
  /** Why the run ended, from `run.finished`, when present. */
  finished?: JournalEventMap['run.finished']['reason'];
  /** Reads (`get`, `values`) never bring an archived record back to the heap; see `harness/fold-store.ts`. */
  orders: FactsTable<OrderFacts>;
  buyers: FactsTable<BuyerFacts>;
  /** Card code → the ids the supplier issued it to (orders, or a shop's stockpile); distinct codes per SKU. */
  cardOwners: CardOwners;
  /** Card code → the orders the shop showed it on. */
  shownCardOwners: CardOwners;
  /** First hit per (class, order), then per (class, buyer) for hits naming only a buyer. */
  faultHits: Map<string, FaultHitFacts>;
  /** Ordeal killing and restarting the managed shop (`target.crash`). */
  target: { kills: number[]; restarts: number[] };
  /** The latest event time seen (run clock, ms). */
  endedAt: number;
  counters: {
    arrived: number;
    dropped: number;
    httpErrors: number;
    rejected: number;
    /** From `load.finished`, when present. */
    loadFinished?: { arrivals: number; dropped: number };
  };
  /** Deletes the fold's on-disk archive, once the run is scored (a no-op without one). */
  close(): void;
  /**
   * An archiving fold checks each settled buyer no fault touched as it settles and drops it (and
   * its orders): the invariant checks and the buyer tally holding them, which `scoreFolded` feeds
   * the buyers left in the heap and finishes. Such a run is scored once.
   */
  finalized?: { checker: InvariantChecker; tallier: BuyerTallier; scored: boolean };
}

/** A buyer with the orders it owns (`order.buyerId` is the buyer's), each with its first-seen rank among all the run's orders. */
export interface BuyerGroup {
  buyer: BuyerFacts;
  orders: ReadonlyArray<{ order: OrderFacts; rank: number }>;
}

/**
 * Every buyer with the orders it owns, in no promised order: the one pass the end-of-run checks
 * make (an archived fold reads each buyer and its orders from disk once). Sort what is reported by
 * `rank` to keep the first-seen order of orders.
 */
export function* buyerGroups(run: Pick<FoldedRun, 'orders' | 'buyers'>): Generator<BuyerGroup> {
  for (const buyer of run.buyers.values()) {
    const orders: Array<{ order: OrderFacts; rank: number }> = [];
    for (const orderId of buyer.orders) {
      const ranked = run.orders.ranked(orderId);
      if (ranked?.facts.buyerId !== buyer.buyerId) continue;
      resolveFromBuyer(ranked.facts, buyer);
      orders.push({ order: ranked.facts, rank: ranked.rank });
    }
    yield { buyer, orders };
  }
}

/** Fills in what an order takes from its buyer's arrival when nothing of its own said it: contact, quantity, SKU. */
export function resolveFromBuyer(order: OrderFacts, buyer: BuyerFacts): void {
  order.contact ??= buyer.contact;
  order.quantity ??= buyer.quantity;
  order.sku ??= buyer.sku;
}

/** The list every list of a new `OrderFacts` (and `BuyerFacts`) starts as: shared and frozen. */
export const NO_ENTRIES: readonly never[] = Object.freeze([]);

/** Distinct card codes (a `Set<string>` is one). */
export interface CardCodes extends Iterable<string> {
  readonly size: number;
  has(code: string): boolean;
}

/** The card codes every new `OrderFacts` starts with: none, shared, never added to. */
export const NO_CODES: CardCodes = Object.freeze({
  size: 0,
  has: () => false,
  *[Symbol.iterator](): Generator<string> {},
});

/** One card code: what most orders get (a `Set` of one costs some 200 bytes more). */
class OneCode implements CardCodes {
  constructor(readonly code: string) {}
  get size(): number {
    return 1;
  }
  has(code: string): boolean {
    return code === this.code;
  }
  *[Symbol.iterator](): Generator<string> {
    yield this.code;
  }
}

/** `codes` with `code` added: a new value when it held none or one, else the same `Set`. */
export function withCode(codes: CardCodes, code: string): CardCodes {
  if (codes === NO_CODES) return new OneCode(code);
  if (codes instanceof OneCode) return codes.code === code ? codes : new Set([codes.code, code]);
  (codes as Set<string>).add(code);
  return codes;
}

/** `code` as `codes` keeps it when that is its one code (one copy of the string kept), else `code`. */
export function sameCode(codes: CardCodes, code: string): string {
  return codes instanceof OneCode && codes.code === code ? codes.code : code;
}

export function newOrderFacts(orderId: string): OrderFacts {
  return {
    orderId,
    buyerId: undefined,
    createdByBuyer: false,
    intent: undefined,
    contact: undefined,
    quantity: undefined,
    sku: undefined,
    amount: undefined,
    tradeAmount: undefined,
    reservedQuantity: undefined,
    created201At: undefined,
    statuses: NO_ENTRIES,
    tradeCreations: NO_ENTRIES,
    tradeRefusals: NO_ENTRIES,
    captures: NO_ENTRIES,
    payFailures: NO_ENTRIES,
    refunds: NO_ENTRIES,
    refundAttempts: NO_ENTRIES,
    queries: NO_ENTRIES,
    closedWithSuccess: NO_ENTRIES,
    closes: NO_ENTRIES,
    callbacks: NO_ENTRIES,
    reservations: NO_ENTRIES,
    releases: NO_ENTRIES,
    stockRefusals: NO_ENTRIES,
    fulfilments: NO_ENTRIES,
    fulfilFailures: NO_ENTRIES,
    cards: NO_CODES,
    shownCards: NO_CODES,
    messages: NO_ENTRIES,
    messageAttempts: NO_ENTRIES,
    cancels: NO_ENTRIES,
    risk: NO_ENTRIES,
    shopCalls: NO_ENTRIES,
  };
}

export function newBuyerFacts(buyerId: string): BuyerFacts {
  return {
    buyerId,
    behaviour: undefined,
    sku: undefined,
    quantity: undefined,
    contact: undefined,
    region: undefined,
    signals: undefined,
    intendedAt: undefined,
    dropped: false,
    orders: NO_ENTRIES,
    submissions: NO_ENTRIES,
    finished: undefined,
    compacted: false,
  };
}

/** A list trimmed to its length (a list grown by pushes holds spare room). */
function trimmed<T>(list: readonly T[]): readonly T[] {
  return list.length === 0 ? NO_ENTRIES : list.slice();
}

/**
 * Drops, from a settled buyer that no incident concerns, what only the stage functions read: its
 * submissions, and in the orders it owns (`order.buyerId`) everything but what the invariants, the
 * steady state and the recovery rules read — amounts, quantities, statuses, captures, refunds,
 * fulfilments, cards, stock refusals and the `delivered` messages. Kept lists are trimmed to size.
 * Later events for the buyer or its orders are still folded (into lists of their own).
 */
export function compactBuyerFacts(buyer: BuyerFacts, orders: Pick<FactsTable<OrderFacts>, 'find'>): void {
  for (const orderId of buyer.orders) {
    const order = orders.find(orderId);
    if (order?.buyerId === buyer.buyerId) compactOrderFacts(order);
  }
  buyer.orders = trimmed(buyer.orders);
  buyer.submissions = NO_ENTRIES;
  buyer.signals = undefined;
  buyer.compacted = true;
}

function compactOrderFacts(order: OrderFacts): void {
  order.statuses = trimmed(order.statuses);
  order.captures = trimmed(order.captures);
  order.refunds = trimmed(order.refunds);
  order.fulfilments = trimmed(order.fulfilments);
  order.stockRefusals = trimmed(order.stockRefusals);
  order.messages = trimmed(order.messages.filter((message) => message.kind === 'delivered'));
  order.tradeCreations = NO_ENTRIES;
  order.tradeRefusals = NO_ENTRIES;
  order.payFailures = NO_ENTRIES;
  order.refundAttempts = NO_ENTRIES;
  order.queries = NO_ENTRIES;
  order.closedWithSuccess = NO_ENTRIES;
  order.closes = NO_ENTRIES;
  order.callbacks = NO_ENTRIES;
  order.reservations = NO_ENTRIES;
  order.releases = NO_ENTRIES;
  order.fulfilFailures = NO_ENTRIES;
  order.messageAttempts = NO_ENTRIES;
  order.cancels = NO_ENTRIES;
  order.risk = NO_ENTRIES;
  order.shopCalls = NO_ENTRIES;
}


// ---------------------------------------------------------------------------------------------
// Facts about an order

/** Statuses that end an order without goods. */
export const FAILED_FINAL_STATUSES: ReadonlySet<string> = new Set(['failed', 'expired', 'cancelled', 'refunded']);
/** Statuses after which a buyer stops waiting. */
const SETTLED: ReadonlySet<string> = new Set(['delivered', 'refunded', 'failed', 'expired', 'cancelled']);
/** Message kinds that tell a buyer the order did not go through. */
export const FAILURE_MESSAGE_KINDS: ReadonlySet<string> = new Set([
  'payment_failed',
  'out_of_stock',
  'cancelled',
  'expired',
  'refunded',
  'review_rejected',
]);
/** Message kinds that tell a buyer the payment went through. */
const SUCCESS_MESSAGE_KINDS: ReadonlySet<string> = new Set(['delivered', 'payment_received']);

export function capturedTotal(order: OrderFacts): number {
  return order.captures.reduce((sum, capture) => sum + capture.amount, 0);
}

export function refundedTotal(order: OrderFacts): number {
  return order.refunds.reduce((sum, refund) => sum + refund.amount, 0);
}

/** Captured − refunded. */
export function netCharge(order: OrderFacts): number {
  return capturedTotal(order) - refundedTotal(order);
}

/** Cards the order should get: the buyer's quantity, else the reservation's, else 1. */
export function quantityOf(order: OrderFacts): number {
  return order.quantity ?? order.reservedQuantity ?? 1;
}

/** The order's value: the shop's quoted amount, else the trade amount, else 0. */
export function amountOf(order: OrderFacts): number {
  return order.amount ?? order.tradeAmount ?? 0;
}

/** The last status the shop reported, if any. */
export function lastStatus(order: OrderFacts): StatusReport | undefined {
  return order.statuses[order.statuses.length - 1];
}

/**
 * How many real cards an order got: the codes the supplier issued to it, plus codes the shop showed
 * on it that the supplier issued to some other id (a shop delivering from its own stockpile).
 */
export function deliveredCount(order: OrderFacts, run: Pick<FoldedRun, 'cardOwners'>): number {
  let count = order.cards.size;
  for (const code of order.shownCards) if (!order.cards.has(code) && run.cardOwners.has(code)) count++;
  return count;
}

/** The earliest time in `times` at or after `start`. */
export function firstAtOrAfter(times: Iterable<number>, start: number): number | undefined {
  let best: number | undefined;
  for (const t of times) if (t >= start && (best === undefined || t < best)) best = t;
  return best;
}

/** The earliest time in `times` strictly after `start`. */
export function firstAfter(times: Iterable<number>, start: number): number | undefined {
  let best: number | undefined;
  for (const t of times) if (t > start && (best === undefined || t < best)) best = t;
  return best;
}

/** The earliest of the defined times. */
export function earliest(...times: Array<number | undefined>): number | undefined {
  let best: number | undefined;
  for (const t of times) if (t !== undefined && (best === undefined || t < best)) best = t;
  return best;
}

/** The latest of the times, or undefined when any is undefined (every condition must hold). */
export function allOf(...times: Array<number | undefined>): number | undefined {
  let best = Number.NEGATIVE_INFINITY;
  for (const t of times) {
    if (t === undefined) return undefined;
    if (t > best) best = t;
  }
  return best;
}

/**
 * When the order's net charge became 0 for good: -Infinity when nothing was ever captured, the
 * time of the refund that brought the refunded total up to the captured total (not before the last
 * capture), undefined when money is still held.
 */
export function netZeroAt(order: OrderFacts): number | undefined {
  const captured = capturedTotal(order);
  if (captured === 0) return Number.NEGATIVE_INFINITY;
  const lastCapture = Math.max(...order.captures.map((capture) => capture.t));
  const refunds = [...order.refunds].sort((a, b) => a.t - b.t);
  let total = 0;
  for (const refund of refunds) {
    total += refund.amount;
    if (total >= captured) return Math.max(refund.t, lastCapture);
  }
  return undefined;
}

/** The time of the ok refund that made the refunded total reach the captured total (captured > 0). */
export function fullRefundAt(order: OrderFacts): number | undefined {
  if (capturedTotal(order) === 0) return undefined;
  return netZeroAt(order);
}

/**
 * When the shop freed the order's stock: -Infinity when it never reserved any, else the first
 * release by the shop (`reason: released`, not a lapse at the supplier's TTL) at or after the
 * later of the last reservation and `start`; undefined when it never did.
 */
export function shopReleaseAt(order: OrderFacts, start: number): number | undefined {
  if (order.reservations.length === 0) return Number.NEGATIVE_INFINITY;
  const from = Math.max(start, ...order.reservations);
  return firstAtOrAfter(
    order.releases.filter((release) => release.reason === 'released').map((release) => release.t),
    from,
  );
}

/** Messages to the buyer (any address when the contact is unknown) at or after `start`. */
function messagesFor(order: OrderFacts, start: number): OrderFacts['messages'] {
  return order.messages.filter((message) => message.t >= start && (order.contact === undefined || message.to === order.contact));
}

type Message = OrderFacts['messages'][number];

export function firstMessage(order: OrderFacts, start: number, fits: (message: Message) => boolean): number | undefined {
  return firstAtOrAfter(
    messagesFor(order, start)
      .filter(fits)
      .map((message) => message.t),
    start,
  );
}

export function firstStatus(order: OrderFacts, start: number, fits: (report: StatusReport) => boolean): number | undefined {
  return firstAtOrAfter(
    order.statuses.filter(fits).map((report) => report.t),
    start,
  );
}

function firstFulfilment(order: OrderFacts, start: number): number | undefined {
  return firstAtOrAfter(
    order.fulfilments.map((fulfilment) => fulfilment.t),
    start,
  );
}

/**
 * When the order had all its cards, at or after `start`: the fulfilment that brought the issued
 * count up to the quantity, or an observed `delivered` showing enough real cards (a shop delivering
 * from its own stockpile); undefined when it never had them.
 */
export function fullDeliveryAt(order: OrderFacts, start: number, run?: Pick<FoldedRun, 'cardOwners'>): number | undefined {
  const quantity = quantityOf(order);
  let issued = 0;
  let byFulfilment: number | undefined;
  for (const fulfilment of [...order.fulfilments].sort((a, b) => a.t - b.t)) {
    issued += fulfilment.cards;
    if (issued >= quantity) {
      byFulfilment = fulfilment.t;
      break;
    }
  }
  let byShown: number | undefined;
  if (run && order.shownCards.size > 0 && deliveredCount(order, run) >= quantity) {
    byShown = order.statuses.find((report) => report.status === 'delivered' && (report.cards ?? 0) >= quantity)?.t;
  }
  const at = earliest(byFulfilment, byShown);
  return at === undefined ? undefined : Math.max(at, start);
}

/** First report of a final failed status, once the order holds no money (run clock), at or after start. */
function cleanFailureAt(order: OrderFacts, start: number): number | undefined {
  const failedAt = firstStatus(order, start, (report) => FAILED_FINAL_STATUSES.has(report.status));
  const zeroAt = netZeroAt(order);
  if (failedAt === undefined || zeroAt === undefined) return undefined;
  return Math.max(failedAt, zeroAt);
}

/**
 * A clean close without goods: a report that fits (at or after start), nothing charged net, and
 * the stock freed by the shop.
 */
function cleanCloseAt(order: OrderFacts, start: number, fits: (report: StatusReport) => boolean): number | undefined {
  return allOf(firstStatus(order, start, fits), netZeroAt(order), shopReleaseAt(order, start));
}

/** Recovered from a missing/late payment confirmation: delivered, or refunded in full. */
function paidRecoveryAt(order: OrderFacts, start: number): number | undefined {
  const refundAt = fullRefundAt(order);
  return earliest(firstFulfilment(order, start), refundAt !== undefined && refundAt >= start ? refundAt : undefined);
}

function paymentConfirmedNotice(order: OrderFacts, start: number): number | undefined {
  const refundAt = fullRefundAt(order);
  const recoveredByRefund = refundAt !== undefined && refundAt >= start && firstFulfilment(order, start) === undefined;
  return firstMessage(
    order,
    start,
    (message) => message.kind === 'payment_received' || message.kind === 'delivered' || (recoveredByRefund && message.kind === 'refunded'),
  );
}

function deliveredMessages(order: OrderFacts): number {
  return order.messages.filter(
    (message) => message.kind === 'delivered' && (order.contact === undefined || message.to === order.contact),
  ).length;
}

/** The shop reported `delivered` but no card was ever issued to the order. */
function falselyDelivered(order: OrderFacts): boolean {
  return order.fulfilments.length === 0 && order.shownCards.size === 0 && order.statuses.some((report) => report.status === 'delivered');
}

/** Why the shop's word on the order was a false success, if it was. */
function falseSuccess(order: OrderFacts): string | undefined {
  if (falselyDelivered(order)) return 'reported delivered without a card issued';
  if (order.captures.length === 0 && order.statuses.some((report) => report.status === 'paid' || report.status === 'delivered')) {
    return 'reported paid with nothing captured';
  }
  return undefined;
}

/**
 * A message that fits the order's final outcome: `delivered` for a delivered order (the last status
 * the shop reported, or — when none was final — all cards issued), a failure kind for a failed end.
 */
function fittingFinalMessageAt(order: OrderFacts, start: number): number | undefined {
  const final = lastStatus(order);
  const delivered = final?.status === 'delivered' || (!SETTLED.has(final?.status ?? '') && fullDeliveryAt(order, start) !== undefined);
  if (delivered) return firstMessage(order, start, (message) => message.kind === 'delivered');
  if (final && FAILED_FINAL_STATUSES.has(final.status)) return firstMessage(order, start, (message) => FAILURE_MESSAGE_KINDS.has(message.kind));
  return undefined;
}

/** The order ended whole: all its cards, or a final failed status with nothing charged. */
function wholeAt(order: OrderFacts, start: number, run?: Pick<FoldedRun, 'cardOwners'>): number | undefined {
  return earliest(fullDeliveryAt(order, start, run), cleanFailureAt(order, start));
}

// ---------------------------------------------------------------------------------------------
// The table

/** When a stage was met; `voided` forces its credit to 0 although it was reached. */
export interface StageOutcome {
  at?: number;
  voided?: string;
}

/** Everything a stage function may look at besides the order. */
export interface StageContext {
  run: FoldedRun;
  scenario: Scenario;
  /** The fault's entry in `scenario.faults` (by the hit's index, else the first with the id); none for buyer classes. */
  spec?: FaultSpec;
  /** The buyer the incident concerns, when known. */
  buyer?: BuyerFacts;
  /** Every `fault.injected` time of the incident, ascending (the first is the start). */
  hits: number[];
}

/** Computes a stage's outcome from the order's folded state and the incident's start. */
export type StageFunction = (order: OrderFacts, start: number, context: StageContext) => StageOutcome;

/** Default deadlines (ms from the incident start) for a scenario and the fault's spec. */
export type DeadlineDefaults = (scenario: Scenario, spec: FaultSpec | undefined) => StageDeadlines;

export interface FaultStages {
  /** Default deadlines; `scenario.expect[class]` overrides them. */
  defaults: DeadlineDefaults;
  /** What each stage means, for reports and docs. */
  describe: Record<StageName, string>;
  /** The order a hit naming only the buyer belongs to. @default the buyer's first order */
  attach?: (buyer: BuyerFacts) => string | undefined;
  detect: StageFunction;
  notify: StageFunction;
  recover: StageFunction;
}

const at = (time: number | undefined): StageOutcome => (time === undefined ? {} : { at: time });
const fixed =
  (detect: number, notify: number, recover: number): DeadlineDefaults =>
  () => ({ detect, notify, recover });
/** Deadlines that wait for the order's expiry: `orderTtl` + the given margins. */
const afterTtl =
  (detect: number, notify: number, recover: number): DeadlineDefaults =>
  (scenario) => ({ detect, notify: scenario.shop.orderTtl + notify, recover: scenario.shop.orderTtl + recover });

function specOf<Id extends FaultSpec['id']>(spec: FaultSpec | undefined, id: Id): Extract<FaultSpec, { id: Id }> | undefined {
  return spec?.id === id ? (spec as Extract<FaultSpec, { id: Id }>) : undefined;
}

const callbackNotify: StageFunction = (order, start) => at(paymentConfirmedNotice(order, start));
const callbackRecover: StageFunction = (order, start) => at(paidRecoveryAt(order, start));

// ---- payment refusals: limits, decline, cross-border -------------------------------------------

function refusal(reason: string, what: string): FaultStages {
  return {
    defaults: fixed(2000, 3000, 3000),
    describe: {
      detect: `the shop reported a status naming ${reason} (${what})`,
      notify: `the buyer was told: payment_failed / ${reason}`,
      recover: 'stock released by the shop and nothing charged',
    },
    detect: (order, start) => at(firstStatus(order, start, (report) => report.reason === reason)),
    notify: (order, start) => at(firstMessage(order, start, (message) => message.kind === 'payment_failed' && message.reason === reason)),
    recover: (order, start) => {
      const zeroAt = netZeroAt(order);
      if (zeroAt === undefined) return {};
      const releasedAt =
        order.reservations.length === 0
          ? firstStatus(order, start, (report) => report.reason === reason)
          : shopReleaseAt(order, start);
      return releasedAt === undefined ? {} : { at: Math.max(releasedAt, zeroAt) };
    },
  };
}

// ---- failing channel: error, timeout, transport ------------------------------------------------

/**
 * The shop's first word after a failing call: a status report, or an answer to the buyer's create
 * request (an honest 4xx/5xx that creates no order counts), at or after the start.
 */
function firstWordAt(order: OrderFacts, start: number, context: StageContext): number | undefined {
  const answers = (context.buyer?.submissions ?? [])
    .filter((submission) => submission.httpStatus !== undefined && (submission.orderId === undefined || submission.orderId === order.orderId))
    .map((submission) => submission.t);
  return earliest(firstAtOrAfter(order.statuses.map((report) => report.t), start), firstAtOrAfter(answers, start));
}

/** The buyer's create request was refused (no order id) at or after start, and the order never shown. */
function refusedAnswerAt(order: OrderFacts, start: number, context: StageContext): number | undefined {
  if (order.statuses.length > 0) return undefined;
  return firstAtOrAfter(
    (context.buyer?.submissions ?? [])
      .filter((submission) => submission.httpStatus !== undefined && submission.httpStatus >= 400 && submission.orderId === undefined)
      .map((submission) => submission.t),
    start,
  );
}

const noFalseSuccessDetect: StageFunction = (order, start, context) => {
  const outcome = at(firstWordAt(order, start, context));
  const note = falseSuccess(order);
  if (outcome.at !== undefined && note !== undefined) outcome.voided = note;
  return outcome;
};

const finalOutcomeNotify: StageFunction = (order, start, context) =>
  at(earliest(fittingFinalMessageAt(order, start), refusedAnswerAt(order, start, context)));

/** Final clean state: delivered with one charge, a clean failure, or a refused create with nothing held. */
const cleanEndRecover: StageFunction = (order, start, context) => {
  const delivered = fullDeliveryAt(order, start, context.run);
  const refused = refusedAnswerAt(order, start, context);
  const outcome = at(
    earliest(delivered, cleanFailureAt(order, start), refused === undefined ? undefined : allOf(refused, netZeroAt(order), shopReleaseAt(order, start))),
  );
  if (outcome.at !== undefined && order.captures.length > 1 && netCharge(order) > amountOf(order)) {
    outcome.voided = `${order.captures.length} trades captured for the order`;
  }
  return outcome;
};

function failingChannel(detect: number, label: string): FaultStages {
  return {
    defaults: afterTtl(detect, 2000, 2000),
    describe: {
      detect: `the shop answered or reported a status after the ${label}, never a false success`,
      notify: 'the buyer was told the final outcome (a fitting message, or an error answer that created no order)',
      recover: 'the order ended cleanly: delivered with exactly one capture, or failed with nothing charged and stock released',
    },
    detect: noFalseSuccessDetect,
    notify: finalOutcomeNotify,
    recover: cleanEndRecover,
  };
}

// ---- retried dependencies: query, refund, fulfil errors ----------------------------------------

/** Another `fault.injected` for the incident after the first: the shop tried again and failed again. */
function retriedHit(context: StageContext, start: number): number | undefined {
  return firstAfter(context.hits, start);
}

/**
 * The second of `attempts` at or after the start: the first is the failed call the incident began
 * with (the mocks journal it right after the `fault.injected`), the second is the retry.
 */
function secondAtOrAfter(attempts: Iterable<number>, start: number): number | undefined {
  const sorted = [...attempts].filter((t) => t >= start).sort((a, b) => a - b);
  return sorted[1];
}

// ---- forged and replayed callbacks --------------------------------------------------------------

function forgedAttempts(order: OrderFacts, start: number): OrderFacts['callbacks'] {
  return order.callbacks.filter((callback) => callback.t >= start && (callback.forgery === 'forged' || callback.forgery === 'replayed'));
}

const forgedDetect: StageFunction = (order, start) => {
  const attempts = forgedAttempts(order, start);
  if (attempts.length === 0 || attempts.some((attempt) => attempt.acked)) return {};
  return at(Math.min(...attempts.map((attempt) => attempt.t)));
};

function forged(kind: string): FaultStages {
  return {
    defaults: (scenario) => ({ detect: 1000, notify: 1000, recover: scenario.shop.orderTtl + 2000 }),
    describe: {
      detect: `the shop refused every ${kind} notice (non-2xx)`,
      notify: 'no success message (delivered / payment_received) reached the buyer (credited at detect time)',
      recover: 'no card issued and the order ended expired/cancelled (or, by the end of the run, was never delivered)',
    },
    detect: forgedDetect,
    notify: (order, start, context) => {
      const success = firstMessage(order, start, (message) => SUCCESS_MESSAGE_KINDS.has(message.kind));
      if (success !== undefined) return { at: success, voided: `a ${order.messages.find((m) => m.t === success)?.kind ?? 'success'} message after a ${kind} notice` };
      return at(forgedDetect(order, start, context).at);
    },
    recover: (order, start, context) => {
      const cardAt = earliest(...order.fulfilments.map((fulfilment) => fulfilment.t));
      if (cardAt !== undefined || deliveredCount(order, context.run) > 0) {
        return { at: Math.max(cardAt ?? start, start), voided: `cards issued after a ${kind} notice` };
      }
      const believed = order.statuses.find((report) => report.t >= start && (report.status === 'delivered' || report.status === 'paid'));
      if (believed) return { at: believed.t, voided: `reported ${believed.status} after a ${kind} notice` };
      const closedAt = firstStatus(order, start, (report) => report.status === 'expired' || report.status === 'cancelled' || report.status === 'failed');
      return at(closedAt ?? forgedDetect(order, start, context).at);
    },
  };
}

// ---- buyer behaviours -----------------------------------------------------------------------------

/** The order the buyer's correcting submission created. */
function correctionOrderOf(buyer: BuyerFacts | undefined): string | undefined {
  return buyer?.submissions.find((submission) => submission.intent === 'correction' && submission.orderId !== undefined)?.orderId;
}

function inputMistake(code: string, what: string): FaultStages {
  const rejectedAt = (start: number, context: StageContext): number | undefined =>
    firstAtOrAfter(
      (context.buyer?.submissions ?? [])
        .filter((submission) => submission.intent === 'mistake' && submission.httpStatus === 400 && submission.errorCode === code)
        .map((submission) => submission.t),
      start,
    );
  return {
    defaults: fixed(1000, 1000, 5000),
    describe: {
      detect: `the ${what} was refused up front: 400 ${code}`,
      notify: 'the refusal carried the error code and message (same time)',
      recover: 'the corrected order was delivered',
    },
    attach: (buyer) => correctionOrderOf(buyer) ?? buyer.orders[0],
    detect: (_order, start, context) => at(rejectedAt(start, context)),
    notify: (_order, start, context) => at(rejectedAt(start, context)),
    // A mistaken submission the shop accepted is not a recovery, whatever happens to it.
    recover: (_order, start, context) => {
      const correctionId = correctionOrderOf(context.buyer);
      const correction = correctionId === undefined ? undefined : context.run.orders.get(correctionId);
      return at(correction ? fullDeliveryAt(correction, start, context.run) : undefined);
    },
  };
}

/** The buyer's answered submissions of one intent (not the mistakes): the same order twice, or a 409. */
function oneOrderPerIntent(label: string): FaultStages {
  const dedupedAt = (start: number, context: StageContext): number | undefined => {
    const answers = (context.buyer?.submissions ?? [])
      // Answers to the intent's submissions; a 5xx or no answer is retried by the buyer, so it is not the shop's last word.
      .filter(
        (submission) =>
          submission.intent !== 'mistake' && submission.intent !== 'correction' && submission.httpStatus !== undefined && submission.httpStatus < 500,
      )
      .sort((a, b) => a.t - b.t);
    if (answers.length < 2) return undefined;
    const orderIds = new Set(answers.filter((answer) => answer.orderId !== undefined).map((answer) => answer.orderId));
    const ok = answers.every((answer) => answer.orderId !== undefined || answer.httpStatus === 409);
    if (!ok || orderIds.size !== 1) return undefined;
    return Math.max((answers[1] as SubmissionFacts).t, start);
  };
  return {
    defaults: fixed(1000, 1000, 5000),
    describe: {
      detect: `the ${label} got the same order back (or a 409)`,
      notify: 'the answer itself told the buyer (detect time)',
      recover: 'exactly one order charged for the buyer and delivered, net of refunds',
    },
    detect: (_order, start, context) => at(dedupedAt(start, context)),
    notify: (_order, start, context) => at(dedupedAt(start, context)),
    recover: (order, start, context) => {
      const orders = (context.buyer?.orders ?? [order.orderId])
        .map((orderId) => context.run.orders.get(orderId))
        .filter((entry): entry is OrderFacts => entry !== undefined);
      const charged = orders.filter((entry) => entry.captures.length > 0);
      const kept = charged.filter((entry) => netZeroAt(entry) === undefined);
      if (kept.length !== 1) return {};
      const keptOrder = kept[0] as OrderFacts;
      const times = [fullDeliveryAt(keptOrder, start, context.run)];
      for (const other of charged) if (other !== keptOrder) times.push(netZeroAt(other));
      if (keptOrder.captures.length > 1 && netCharge(keptOrder) > amountOf(keptOrder)) times.push(undefined);
      const time = allOf(...times);
      return at(time === undefined ? undefined : Math.max(time, start));
    },
  };
}

/** Stage definitions per incident class. Every fault id and buyer class must have an entry. */
export const STAGES: Record<IncidentClass, FaultStages> = {
  // ── payment channel ──
  'payment.latency': {
    defaults: fixed(2000, 5000, 5000),
    describe: {
      detect: 'the shop answered the order with 201 (and never claimed a delivery without a card)',
      notify: 'the buyer was told the final outcome',
      recover: 'the order ended cleanly: delivered, or failed with nothing charged',
    },
    // The 201 answer is the shop's first word on the order; when the delay only hit a later call
    // (query, refund) the answer precedes the incident and is credited at the start.
    detect: (order, start) => {
      if (order.created201At === undefined) return {};
      const outcome: StageOutcome = { at: Math.max(order.created201At, start) };
      const note = falseSuccess(order);
      if (note !== undefined) outcome.voided = note;
      return outcome;
    },
    notify: (order, start) => at(fittingFinalMessageAt(order, start)),
    recover: (order, start) => {
      const outcome = at(earliest(firstFulfilment(order, start), cleanFailureAt(order, start)));
      if (outcome.at !== undefined && order.captures.length > 1 && netCharge(order) > amountOf(order)) {
        outcome.voided = `${order.captures.length} trades captured for the order`;
      }
      return outcome;
    },
  },
  'payment.error': failingChannel(2000, 'failed payment call'),
  'payment.timeout': failingChannel(5000, 'payment call that never answered'),
  'payment.ambiguous': {
    defaults: (scenario) => ({
      detect: scenario.shop.reconcileAfter + 1000,
      notify: scenario.shop.orderTtl + 2000,
      recover: scenario.shop.orderTtl + 2000,
    }),
    describe: {
      detect: 'after the reset the shop queried the trade by outTradeNo (or re-created it idempotently)',
      notify: 'the buyer was told the final outcome',
      recover: 'the order ended cleanly with exactly one trade captured',
    },
    detect: (order, start) =>
      at(
        earliest(
          firstAfter(order.queries, start),
          firstAfter(order.tradeCreations.filter((creation) => creation.repeat).map((creation) => creation.t), start),
          firstAfter(order.closes, start),
          firstAfter(order.closedWithSuccess, start),
        ),
      ),
    notify: finalOutcomeNotify,
    recover: cleanEndRecover,
  },
  'payment.limit.single': refusal('payment_limit', 'single-payment limit'),
  'payment.limit.daily': refusal('payment_limit', 'daily limit'),
  'payment.cross_border': refusal('cross_border_blocked', 'blocked cross-border channel'),
  'payment.verification': {
    defaults: (scenario, spec) => {
      const { orderTtl, reconcileAfter, reconcileEvery } = scenario.shop;
      const detect = reconcileAfter + reconcileEvery + 1000;
      const completeAfter = specOf(spec, 'payment.verification')?.completeAfter;
      return { detect, notify: detect + 1000, recover: Math.max(orderTtl, completeAfter ?? 0) + 2000 };
    },
    describe: {
      detect: 'the shop reported awaiting_verification',
      notify: 'the buyer was told: verification_required',
      recover: 'delivered once verified, or a clean expiry: expired / verification_timeout, stock released, nothing charged',
    },
    detect: (order, start) => at(firstStatus(order, start, (report) => report.status === 'awaiting_verification')),
    notify: (order, start) => at(firstMessage(order, start, (message) => message.kind === 'verification_required')),
    recover: (order, start, context) =>
      at(
        earliest(
          fullDeliveryAt(order, start, context.run),
          cleanCloseAt(order, start, (report) => report.status === 'expired' && report.reason === 'verification_timeout'),
        ),
      ),
  },
  'payment.decline': refusal('payment_declined', 'declined payment'),

  // ── callbacks ──
  'payment.callback.drop': {
    defaults: fixed(3000, 5000, 6000),
    describe: {
      detect: 'the shop queried the trade (or closing it found it paid)',
      notify: 'the buyer was told of the payment, the delivery, or the refund',
      recover: 'cards issued, or the capture refunded in full',
    },
    detect: (order, start) => at(earliest(firstAtOrAfter(order.queries, start), firstAtOrAfter(order.closedWithSuccess, start))),
    notify: callbackNotify,
    recover: callbackRecover,
  },
  'payment.callback.delay': {
    defaults: fixed(3000, 5000, 6000),
    describe: {
      detect: 'the shop acknowledged the late callback or queried the trade',
      notify: 'the buyer was told of the payment, the delivery, or the refund',
      recover: 'cards issued, or the capture refunded in full',
    },
    detect: (order, start) =>
      at(
        earliest(
          firstAtOrAfter(
            order.callbacks.filter((callback) => callback.acked && callback.forgery === undefined).map((callback) => callback.t),
            start,
          ),
          firstAtOrAfter(order.queries, start),
        ),
      ),
    notify: callbackNotify,
    recover: callbackRecover,
  },
  'payment.callback.duplicate': {
    defaults: fixed(2000, 4000, 4000),
    describe: {
      detect: 'the shop acknowledged a callback',
      notify: 'the buyer was told of the delivery exactly once',
      recover: 'cards issued, no more than the quantity',
    },
    detect: (order, start) =>
      at(
        firstAtOrAfter(
          order.callbacks.filter((callback) => callback.acked && callback.forgery === undefined).map((callback) => callback.t),
          start,
        ),
      ),
    notify: (order, start) => {
      const outcome = at(firstMessage(order, start, (message) => message.kind === 'delivered'));
      const count = deliveredMessages(order);
      if (outcome.at !== undefined && count > 1) outcome.voided = `${count} delivered messages reached the buyer`;
      return outcome;
    },
    recover: (order, start) => {
      const outcome = at(firstFulfilment(order, start));
      const quantity = quantityOf(order);
      if (outcome.at !== undefined && order.cards.size > quantity) {
        outcome.voided = `${order.cards.size} distinct cards issued for quantity ${quantity}`;
      }
      return outcome;
    },
  },
  'payment.callback.reorder': {
    defaults: fixed(1000, 3000, 3000),
    describe: {
      detect: 'the shop acknowledged both the success notice and the stale PAY_FAILED',
      notify: 'the buyer was told of the delivery, and never of a failure after the stale notice',
      recover: 'delivered, and never observed leaving delivered',
    },
    // The genuine success precedes the stale notice (the start): evidence of it is credited at the start.
    detect: (order, start) => {
      const stale = firstAtOrAfter(
        order.callbacks.filter((callback) => callback.acked && callback.forgery === 'stale').map((callback) => callback.t),
        start,
      );
      const success = earliest(
        ...order.callbacks.filter((callback) => callback.acked && callback.forgery === undefined && callback.status !== 'PAY_FAILED').map((callback) => callback.t),
      );
      const time = allOf(stale, success);
      return at(time === undefined ? undefined : Math.max(time, start));
    },
    notify: (order, start) => {
      const delivered = firstMessage(order, Number.NEGATIVE_INFINITY, (message) => message.kind === 'delivered');
      if (delivered === undefined) return {};
      const outcome: StageOutcome = { at: Math.max(delivered, start) };
      const failure = order.messages.find((message) => message.t >= start && FAILURE_MESSAGE_KINDS.has(message.kind));
      if (failure) outcome.voided = `a ${failure.kind} message after the stale notice`;
      return outcome;
    },
    recover: (order, start, context) => {
      const delivered = fullDeliveryAt(order, Number.NEGATIVE_INFINITY, context.run);
      if (delivered === undefined) return {};
      const outcome: StageOutcome = { at: Math.max(delivered, start) };
      const firstDelivered = order.statuses.findIndex((report) => report.status === 'delivered');
      const left = firstDelivered < 0 ? undefined : order.statuses.slice(firstDelivered).find((report) => report.source === 'observed' && report.status !== 'delivered');
      if (left) outcome.voided = `observed ${left.status} after delivered`;
      else if (lastStatus(order)?.status !== undefined && lastStatus(order)?.status !== 'delivered') outcome.voided = `ended ${lastStatus(order)?.status}`;
      return outcome;
    },
  },
  'payment.callback.late': {
    defaults: fixed(3000, 5000, 5000),
    describe: {
      detect: 'the shop acted on the late capture: a reservation, fulfil or refund attempt',
      notify: 'the buyer was told: delivered or refunded',
      recover: 'delivered, or the capture refunded in full (never left charged)',
    },
    detect: (order, start) =>
      at(
        earliest(
          firstAtOrAfter(order.fulfilments.map((fulfilment) => fulfilment.t), start),
          firstAtOrAfter(order.fulfilFailures, start),
          firstAtOrAfter(order.refundAttempts, start),
          firstAtOrAfter(order.reservations, start),
          firstAtOrAfter(order.stockRefusals, start),
        ),
      ),
    notify: (order, start) => at(firstMessage(order, start, (message) => message.kind === 'delivered' || message.kind === 'refunded')),
    recover: callbackRecover,
  },
  'payment.callback.forged': forged('forged'),
  'payment.callback.replayed': forged('replayed'),
  'payment.callback.tampered': {
    defaults: fixed(2000, 3000, 5000),
    describe: {
      detect: 'the shop reported failed / amount_mismatch, or refunded the short payment',
      notify: 'the buyer was told: amount_mismatch, payment_failed or refunded',
      recover: 'the captured amount refunded in full and no card issued',
    },
    detect: (order, start) =>
      at(
        earliest(
          firstStatus(order, start, (report) => report.reason === 'amount_mismatch' || report.status === 'refund_pending' || report.status === 'refunded'),
          firstAtOrAfter(order.refundAttempts, start),
        ),
      ),
    notify: (order, start) =>
      at(
        firstMessage(
          order,
          start,
          (message) => message.reason === 'amount_mismatch' || message.kind === 'refunded' || message.kind === 'payment_failed',
        ),
      ),
    recover: (order, start, context) => {
      const refundAt = fullRefundAt(order);
      const outcome = at(refundAt !== undefined ? Math.max(refundAt, start) : undefined);
      const cards = deliveredCount(order, context.run);
      if (cards > 0) {
        outcome.at ??= Math.max(earliest(...order.fulfilments.map((fulfilment) => fulfilment.t)) ?? start, start);
        outcome.voided = `${cards} card${cards === 1 ? '' : 's'} issued for an underpaid order`;
      }
      return outcome;
    },
  },
  'payment.query.error': {
    defaults: (scenario, spec) => {
      const { reconcileEvery } = scenario.shop;
      const times = specOf(spec, 'payment.query.error')?.times ?? 2;
      const recover = (times + 1) * reconcileEvery + 3000;
      return { detect: reconcileEvery + 1000, notify: recover, recover };
    },
    describe: {
      detect: 'the shop queried again after the failed query (or settled the order otherwise)',
      notify: 'the buyer was told the final outcome',
      recover: 'the order ended whole: delivered, or failed with nothing charged',
    },
    detect: (order, start, context) =>
      at(earliest(firstAfter(order.queries, start), retriedHit(context, start), wholeAt(order, start, context.run))),
    notify: (order, start) => at(fittingFinalMessageAt(order, start)),
    recover: (order, start, context) => at(wholeAt(order, start, context.run)),
  },
  'payment.refund.error': {
    defaults: (_scenario, spec) => {
      const times = specOf(spec, 'payment.refund.error')?.times ?? 2;
      return { detect: 3000, notify: times * 2000 + 4000, recover: times * 2000 + 4000 };
    },
    describe: {
      detect: 'the shop retried the refund after the failure',
      notify: 'the buyer was told: refunded',
      recover: 'the refund went through: the capture returned in full',
    },
    detect: (order, start, context) => at(earliest(secondAtOrAfter(order.refundAttempts, start), retriedHit(context, start))),
    notify: (order, start) => at(firstMessage(order, start, (message) => message.kind === 'refunded')),
    recover: (order, start) => {
      const refundAt = fullRefundAt(order);
      return at(refundAt !== undefined ? Math.max(refundAt, start) : undefined);
    },
  },

  // ── stock ──
  'stock.stale': staleStock('the supplier refused the reservation'),
  'stock.lag': staleStock('the supplier found out late that it was sold out'),
  'stock.sold_out_after_payment': {
    defaults: fixed(2000, 4000, 5000),
    describe: {
      detect: 'the shop started a refund (or reported refund_pending / refunded)',
      notify: 'the buyer was told: refunded or out_of_stock',
      recover: 'refunded in full, no card issued, never shown delivered',
    },
    detect: (order, start) =>
      at(
        earliest(
          firstAtOrAfter(order.refundAttempts, start),
          firstStatus(order, start, (report) => report.status === 'refund_pending' || report.status === 'refunded'),
        ),
      ),
    notify: (order, start) => at(firstMessage(order, start, (message) => message.kind === 'refunded' || message.kind === 'out_of_stock')),
    recover: (order, start, context) => {
      const refundAt = fullRefundAt(order);
      const outcome = at(refundAt !== undefined ? Math.max(refundAt, start) : undefined);
      if (outcome.at === undefined) return outcome;
      if (deliveredCount(order, context.run) > 0) outcome.voided = 'refunded, yet cards were issued';
      else if (order.statuses.some((report) => report.status === 'delivered')) outcome.voided = 'shown delivered without a card';
      return outcome;
    },
  },
  'stock.fulfil.error': {
    defaults: (_scenario, spec) => {
      const times = specOf(spec, 'stock.fulfil.error')?.times ?? 2;
      return { detect: 2000, notify: times * 1000 + 4000, recover: times * 1000 + 4000 };
    },
    describe: {
      detect: 'the shop retried the card issue (or started a refund)',
      notify: 'the buyer was told: delivered or refunded',
      recover: 'all cards issued, or refunded in full; never shown delivered without a card',
    },
    detect: (order, start, context) =>
      at(
        earliest(
          secondAtOrAfter([...order.fulfilments.map((fulfilment) => fulfilment.t), ...order.fulfilFailures], start),
          retriedHit(context, start),
          firstAtOrAfter(order.refundAttempts, start),
        ),
      ),
    notify: (order, start) => at(firstMessage(order, start, (message) => message.kind === 'delivered' || message.kind === 'refunded')),
    recover: (order, start, context) => {
      const refundAt = fullRefundAt(order);
      const refunded = refundAt !== undefined && deliveredCount(order, context.run) === 0 ? Math.max(refundAt, start) : undefined;
      const outcome = at(earliest(fullDeliveryAt(order, start, context.run), refunded));
      if (outcome.at !== undefined && falselyDelivered(order)) outcome.voided = 'shown delivered without a card';
      return outcome;
    },
  },

  // ── risk ──
  'risk.review': {
    defaults: (_scenario, spec) => ({ detect: 2000, notify: 3000, recover: (specOf(spec, 'risk.review')?.resolveAfter ?? 2000) + 3000 }),
    describe: {
      detect: 'the shop reported under_review',
      notify: 'the buyer was told: under_review',
      recover: 'delivered after approval; after a reject, failed / risk_rejected (or refunded) with nothing charged and stock released',
    },
    detect: (order, start) => at(firstStatus(order, start, (report) => report.status === 'under_review')),
    notify: (order, start) => at(firstMessage(order, start, (message) => message.kind === 'under_review')),
    recover: (order, start, context) => {
      const resolution = order.risk.find((entry) => entry.decision === 'approved' || entry.decision === 'rejected');
      const rejected = resolution ? resolution.decision === 'rejected' : specOf(context.spec, 'risk.review')?.outcome === 'reject';
      const from = Math.max(start, resolution?.t ?? start);
      if (!rejected) return at(fullDeliveryAt(order, from, context.run));
      const outcome = at(cleanCloseAt(order, from, (report) => report.reason === 'risk_rejected' && (report.status === 'failed' || report.status === 'refunded')));
      if (outcome.at !== undefined && deliveredCount(order, context.run) > 0) outcome.voided = 'cards issued after a reject';
      return outcome;
    },
  },
  'risk.reject': {
    defaults: fixed(2000, 3000, 3000),
    describe: {
      detect: 'the shop reported failed / risk_rejected (refunded / risk_rejected when paid)',
      notify: 'the buyer was told: review_rejected',
      recover: 'nothing charged and stock released',
    },
    detect: (order, start) => at(firstStatus(order, start, (report) => report.reason === 'risk_rejected' && (report.status === 'failed' || report.status === 'refunded'))),
    notify: (order, start) => at(firstMessage(order, start, (message) => message.kind === 'review_rejected')),
    recover: (order, start, context) => {
      const outcome = at(cleanCloseAt(order, start, (report) => report.reason === 'risk_rejected' && (report.status === 'failed' || report.status === 'refunded')));
      if (outcome.at !== undefined && deliveredCount(order, context.run) > 0) outcome.voided = 'cards issued after a reject';
      return outcome;
    },
  },

  // ── notify ──
  'notify.error': {
    defaults: fixed(2000, 5000, 5000),
    describe: {
      detect: 'the shop retried the refused message (another attempt of the same kind)',
      notify: 'the message was finally accepted',
      recover: 'the message was finally accepted',
    },
    detect: (order, start) => {
      const refused = notifyRefusal(order, start);
      return at(
        firstAfter(
          order.messageAttempts.filter((attempt) => refused.kind === undefined || attempt.kind === refused.kind).map((attempt) => attempt.t),
          refused.t,
        ),
      );
    },
    notify: (order, start) => {
      const refused = notifyRefusal(order, start);
      return at(firstMessageAfter(order, refused));
    },
    recover: (order, start) => {
      const refused = notifyRefusal(order, start);
      return at(firstMessageAfter(order, refused));
    },
  },

  // ── transport ──
  'transport.reset': failingChannel(3000, 'reset connection'),
  'transport.empty': failingChannel(3000, 'empty answer'),
  'transport.malformed': failingChannel(3000, 'malformed answer'),
  'transport.dribble': failingChannel(5000, 'dribbled answer'),

  // ── target ──
  'target.crash': {
    defaults: (_scenario, spec) => {
      const pause = specOf(spec, 'target.crash')?.pause ?? 1000;
      return { detect: pause + 3000, notify: pause + 5000, recover: pause + 5000 };
    },
    describe: {
      detect: 'after the restart, the shop called a mock about the order again',
      notify: 'the buyer was told: delivered or refunded',
      recover: 'delivered, or the capture refunded in full',
    },
    // The shop is dead from the kill (the incident start) until it runs again, so any call it makes
    // about the order after the start comes from the restarted process — possibly before its
    // /health answers, which is when the harness journals the restart.
    detect: (order, start, context) =>
      at(context.run.target.restarts.length === 0 ? undefined : firstAtOrAfter(order.shopCalls, start + 1)),
    notify: (order, start) => at(firstMessage(order, start, (message) => message.kind === 'delivered' || message.kind === 'refunded')),
    recover: callbackRecover,
  },

  // ── buyer behaviours ──
  'buyer.typo_recipient': inputMistake('invalid_recipient', 'mistyped recipient'),
  'buyer.coupon_below_threshold': inputMistake('coupon_below_threshold', 'coupon below its threshold'),
  'buyer.wrong_sku_then_cancel': {
    defaults: fixed(1000, 3000, 5000),
    describe: {
      detect: 'the cancel was answered: cancelled',
      notify: 'the buyer was told: cancelled',
      recover: 'the wrong order released with nothing charged, and the corrected order delivered',
    },
    detect: (order, start) =>
      at(
        firstAtOrAfter(
          order.cancels
            .filter((cancel) => cancel.status === 'cancelled' && (cancel.httpStatus === undefined || (cancel.httpStatus >= 200 && cancel.httpStatus < 300)))
            .map((cancel) => cancel.t),
          start,
        ),
      ),
    notify: (order, start) => at(firstMessage(order, start, (message) => message.kind === 'cancelled')),
    recover: (order, start, context) => {
      const correctionId = correctionOrderOf(context.buyer);
      const correction = correctionId === undefined ? undefined : context.run.orders.get(correctionId);
      const cancelledAt = firstAtOrAfter(order.cancels.filter((cancel) => cancel.status === 'cancelled').map((cancel) => cancel.t), start);
      const released = order.reservations.length === 0 ? cancelledAt : shopReleaseAt(order, start);
      return at(allOf(released, netZeroAt(order), correction ? fullDeliveryAt(correction, start, context.run) : undefined));
    },
  },
  'buyer.double_submit': oneOrderPerIntent('second submission with the same key'),
  'buyer.multi_window': oneOrderPerIntent('second window'),
  'buyer.abandon_payment': {
    defaults: (scenario) => ({
      detect: scenario.shop.orderTtl + 2000,
      notify: scenario.shop.orderTtl + 3000,
      recover: scenario.shop.orderTtl + 3000,
    }),
    describe: {
      detect: 'the shop reported expired (or cancelled)',
      notify: 'the buyer was told: expired (or cancelled)',
      recover: 'the shop released the reservation itself (not a lapse at the supplier) and nothing was captured',
    },
    detect: (order, start) => at(firstStatus(order, start, (report) => report.status === 'expired' || report.status === 'cancelled')),
    notify: (order, start) => at(firstMessage(order, start, (message) => message.kind === 'expired' || message.kind === 'cancelled')),
    recover: (order, start) =>
      at(
        allOf(
          order.reservations.length === 0
            ? firstStatus(order, start, (report) => report.status === 'expired' || report.status === 'cancelled')
            : shopReleaseAt(order, start),
          netZeroAt(order),
        ),
      ),
  },
  'buyer.slow_payment': {
    defaults: fixed(3000, 4000, 5000),
    describe: {
      detect: 'the shop settled the order (delivered, or expired/failed/refunded)',
      notify: 'the buyer was told the final outcome',
      recover: 'delivered with one capture, or expired with nothing charged',
    },
    detect: (order, start) => at(firstStatus(order, start, (report) => SETTLED.has(report.status))),
    notify: (order, start) => at(fittingFinalMessageAt(order, start)),
    recover: (order, start, context) => {
      const outcome = at(wholeAt(order, start, context.run));
      if (outcome.at !== undefined && netCharge(order) > amountOf(order)) outcome.voided = 'charged more than once';
      return outcome;
    },
  },
};

function staleStock(what: string): FaultStages {
  return {
    defaults: fixed(1000, 3000, 3000),
    describe: {
      detect: `the shop reported out_of_stock (${what})`,
      notify: 'the buyer was told: out_of_stock (or refunded / out_of_stock)',
      recover: 'the order ended failed with nothing charged',
    },
    // `refund_pending` / `refunded` with out_of_stock count too: a shop that took the money first
    // names the same reason on the refund path.
    detect: (order, start) =>
      at(
        firstStatus(
          order,
          start,
          (report) => report.reason === 'out_of_stock' && (report.status === 'failed' || report.status === 'refund_pending' || report.status === 'refunded'),
        ),
      ),
    notify: (order, start) =>
      at(
        firstMessage(
          order,
          start,
          (message) => message.kind === 'out_of_stock' || (message.kind === 'refunded' && message.reason === 'out_of_stock'),
        ),
      ),
    recover: (order, start) => at(cleanFailureAt(order, start)),
  };
}

/** The message refusal the incident began with: the first at or after the start (its kind, when known). */
function notifyRefusal(order: OrderFacts, start: number): { t: number; kind?: string } {
  const refusal = order.messageAttempts.filter((attempt) => attempt.refused && attempt.t >= start).sort((a, b) => a.t - b.t)[0];
  return refusal ? { t: refusal.t, kind: refusal.kind } : { t: start };
}

function firstMessageAfter(order: OrderFacts, refused: { t: number; kind?: string }): number | undefined {
  return firstAfter(
    order.messages
      .filter((message) => (refused.kind === undefined || message.kind === refused.kind) && (order.contact === undefined || message.to === order.contact))
      .map((message) => message.t),
    refused.t,
  );
}

/** The fault's spec for an incident: `scenario.faults[faultIndex]` when it has the class's id, else the first with it. */
export function specFor(scenario: Scenario, incidentClass: IncidentClass, faultIndex?: number): FaultSpec | undefined {
  const indexed = faultIndex !== undefined && faultIndex >= 0 ? scenario.faults[faultIndex] : undefined;
  if (indexed?.id === incidentClass) return indexed;
  return scenario.faults.find((spec) => spec.id === incidentClass);
}

/** The deadlines for an incident class: its defaults for the scenario (and spec), with `scenario.expect` overrides. */
export function deadlinesFor(incidentClass: IncidentClass, scenario: Scenario, spec?: FaultSpec): StageDeadlines {
  const defaults = STAGES[incidentClass].defaults(scenario, spec ?? specFor(scenario, incidentClass));
  const override = scenario.expect[incidentClass] ?? {};
  return {
    detect: override.detect ?? defaults.detect,
    notify: override.notify ?? defaults.notify,
    recover: override.recover ?? defaults.recover,
  };
}

/** Credit for a stage met `ms` after the start: 1 ≤ D, linear to 0 at 2D, 0 if never. */
export function stageCredit(ms: number | undefined, deadline: number): number {
  if (ms === undefined || !Number.isFinite(ms)) return 0;
  if (ms <= deadline) return 1;
  if (ms >= 2 * deadline) return 0;
  return 1 - (ms - deadline) / deadline;
}

/** Stage weights in the incident score. */
export const STAGE_WEIGHTS: Record<StageName, number> = { detect: 0.3, notify: 0.2, recover: 0.5 };
