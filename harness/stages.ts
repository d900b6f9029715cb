/**
 * What counts as detect, notify and recover for each fault id, as a table: default deadlines and,
 * per stage, a function from the order's folded state to the time the stage was met.
 *
 * The folded state (`OrderFacts`) is built by `foldJournal` in score.ts in one pass over the
 * journal. Stage functions only count evidence at or after the incident's start.
 */
import type { BuyerBehaviour, FaultId } from './scenario-schema.js';
import type { StageDeadlines, StageName } from './report-types.js';

/** A status the shop reported for an order: in its create answer or seen by the harness later. */
export interface StatusReport {
  t: number;
  status: string;
  reason?: string;
  source: 'answer' | 'observed';
}

/** One order, folded from the journal: what the shop said and what the mocks' ledgers recorded. */
export interface OrderFacts {
  orderId: string;
  buyerId?: string;
  /** The buyer's contact (resolved from `buyer.arrived` once folding is done). */
  contact?: string;
  /** Cards the buyer asked for (resolved from `buyer.arrived`; else the reservation's quantity). */
  quantity?: number;
  sku?: string;
  /** The amount the shop quoted in its create answer (minor units). */
  amount?: number;
  /** The amount of the payment trade the shop created (minor units). */
  tradeAmount?: number;
  reservedQuantity?: number;
  /** First `order.create.answered` with HTTP 201 for this order. */
  created201At?: number;
  statuses: StatusReport[];
  /** Money captured from the buyer (`payment.trade.paid`). */
  captures: Array<{ t: number; amount: number; payerId?: string }>;
  /** Money returned: ok, non-repeat refunds only. */
  refunds: Array<{ t: number; amount: number }>;
  queries: number[];
  /** `payment.trade.closed` answered TRADE_HAS_SUCCESS. */
  closedWithSuccess: number[];
  callbacks: Array<{ t: number; acked: boolean }>;
  /** Non-repeat reservations. */
  reservations: number[];
  releases: number[];
  stockRefusals: number[];
  /** Non-repeat fulfilments. */
  fulfilments: Array<{ t: number; cards: number }>;
  /** Distinct card codes issued to the order. */
  cards: Set<string>;
  /** Messages the gateway accepted (duplicates dropped by the gateway are not kept). */
  messages: Array<{ t: number; to: string; kind: string; reason?: string }>;
}

export interface BuyerFacts {
  buyerId: string;
  behaviour?: BuyerBehaviour;
  sku?: string;
  quantity?: number;
  contact?: string;
  intendedAt?: number;
  dropped: boolean;
  /** Orders created for the buyer, in the order they were first seen. */
  orders: string[];
  finished?: { outcome: string; latencyMs: number; finalStatus?: string };
}

/** The first `fault.injected` for one (fault, order) — or (fault, buyer) when no order was named. */
export interface FaultHitFacts {
  fault: FaultId;
  t: number;
  orderId?: string;
  buyerId?: string;
}

/** A whole journal folded into per-order and per-buyer state, plus the supplier's issue ledger. */
export interface FoldedRun {
  /** From `run.started`, when present. */
  run?: { scenario: string; seed: number; replay: string };
  orders: Map<string, OrderFacts>;
  buyers: Map<string, BuyerFacts>;
  /** Card code → the orders it was issued to. */
  cardOwners: Map<string, Set<string>>;
  /** SKU → the distinct card codes issued for it. */
  issuedBySku: Map<string, Set<string>>;
  /** First hit per (fault, order), then per (fault, buyer) for hits naming only a buyer. */
  faultHits: Map<string, FaultHitFacts>;
  counters: {
    arrived: number;
    dropped: number;
    httpErrors: number;
    rejected: number;
    /** From `load.finished`, when present. */
    loadFinished?: { arrivals: number; dropped: number };
  };
}

export function newOrderFacts(orderId: string): OrderFacts {
  return {
    orderId,
    statuses: [],
    captures: [],
    refunds: [],
    queries: [],
    closedWithSuccess: [],
    callbacks: [],
    reservations: [],
    releases: [],
    stockRefusals: [],
    fulfilments: [],
    cards: new Set(),
    messages: [],
  };
}

// ---------------------------------------------------------------------------------------------
// Facts about an order

/** Statuses that end an order without goods. */
export const FAILED_FINAL_STATUSES: ReadonlySet<string> = new Set(['failed', 'expired', 'cancelled', 'refunded']);
/** Message kinds that tell a buyer the order did not go through. */
export const FAILURE_MESSAGE_KINDS: ReadonlySet<string> = new Set([
  'payment_failed',
  'out_of_stock',
  'cancelled',
  'expired',
  'refunded',
  'review_rejected',
]);

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

/** The earliest time in `times` at or after `start`. */
export function firstAtOrAfter(times: Iterable<number>, start: number): number | undefined {
  let best: number | undefined;
  for (const t of times) if (t >= start && (best === undefined || t < best)) best = t;
  return best;
}

/** The earliest of the defined times. */
export function earliest(...times: Array<number | undefined>): number | undefined {
  let best: number | undefined;
  for (const t of times) if (t !== undefined && (best === undefined || t < best)) best = t;
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

/** Messages to the buyer (any address when the contact is unknown) at or after `start`. */
function messagesFor(order: OrderFacts, start: number): OrderFacts['messages'] {
  return order.messages.filter((message) => message.t >= start && (order.contact === undefined || message.to === order.contact));
}

function firstMessage(
  order: OrderFacts,
  start: number,
  fits: (message: OrderFacts['messages'][number]) => boolean,
): number | undefined {
  return firstAtOrAfter(
    messagesFor(order, start)
      .filter(fits)
      .map((message) => message.t),
    start,
  );
}

function firstStatus(order: OrderFacts, start: number, fits: (report: StatusReport) => boolean): number | undefined {
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

/** First report of a final failed status, once the order holds no money (run clock), at or after start. */
function cleanFailureAt(order: OrderFacts, start: number): number | undefined {
  const failedAt = firstStatus(order, start, (report) => FAILED_FINAL_STATUSES.has(report.status));
  const zeroAt = netZeroAt(order);
  if (failedAt === undefined || zeroAt === undefined) return undefined;
  return Math.max(failedAt, zeroAt);
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
  return order.fulfilments.length === 0 && order.statuses.some((report) => report.status === 'delivered');
}

// ---------------------------------------------------------------------------------------------
// The table

/** When a stage was met; `voided` forces its credit to 0 although it was reached. */
export interface StageOutcome {
  at?: number;
  voided?: string;
}

/** Computes a stage's outcome from the order's folded state and the incident's start. */
export type StageFunction = (order: OrderFacts, start: number) => StageOutcome;

export interface FaultStages {
  /** Default deadlines (ms from the incident start); `scenario.expect[fault]` overrides them. */
  defaults: StageDeadlines;
  /** What each stage means, for reports and docs. */
  describe: Record<StageName, string>;
  detect: StageFunction;
  notify: StageFunction;
  recover: StageFunction;
}

const at = (time: number | undefined): StageOutcome => (time === undefined ? {} : { at: time });

const callbackNotify: StageFunction = (order, start) => at(paymentConfirmedNotice(order, start));
const callbackRecover: StageFunction = (order, start) => at(paidRecoveryAt(order, start));

/** Stage definitions per fault id. Every fault id in the scenario schema must have an entry. */
export const STAGES: Record<FaultId, FaultStages> = {
  'payment.callback.drop': {
    defaults: { detect: 3000, notify: 5000, recover: 6000 },
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
    defaults: { detect: 3000, notify: 5000, recover: 6000 },
    describe: {
      detect: 'the shop acknowledged the late callback or queried the trade',
      notify: 'the buyer was told of the payment, the delivery, or the refund',
      recover: 'cards issued, or the capture refunded in full',
    },
    detect: (order, start) =>
      at(
        earliest(
          firstAtOrAfter(
            order.callbacks.filter((callback) => callback.acked).map((callback) => callback.t),
            start,
          ),
          firstAtOrAfter(order.queries, start),
        ),
      ),
    notify: callbackNotify,
    recover: callbackRecover,
  },
  'payment.callback.duplicate': {
    defaults: { detect: 2000, notify: 4000, recover: 4000 },
    describe: {
      detect: 'the shop acknowledged a callback',
      notify: 'the buyer was told of the delivery exactly once',
      recover: 'cards issued, no more than the quantity',
    },
    detect: (order, start) =>
      at(
        firstAtOrAfter(
          order.callbacks.filter((callback) => callback.acked).map((callback) => callback.t),
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
  'payment.limit.single': {
    defaults: { detect: 2000, notify: 3000, recover: 3000 },
    describe: {
      detect: 'the shop reported failed / payment_limit',
      notify: 'the buyer was told: payment_failed / payment_limit',
      recover: 'stock released and nothing charged',
    },
    detect: (order, start) => at(firstStatus(order, start, (report) => report.status === 'failed' && report.reason === 'payment_limit')),
    notify: (order, start) =>
      at(firstMessage(order, start, (message) => message.kind === 'payment_failed' && message.reason === 'payment_limit')),
    recover: (order, start) => {
      const zeroAt = netZeroAt(order);
      if (zeroAt === undefined) return {};
      const releasedAt =
        order.reservations.length === 0
          ? firstStatus(order, start, (report) => report.status === 'failed' && report.reason === 'payment_limit')
          : firstAtOrAfter(order.releases, start);
      return releasedAt === undefined ? {} : { at: Math.max(releasedAt, zeroAt) };
    },
  },
  'stock.stale': {
    defaults: { detect: 1000, notify: 3000, recover: 3000 },
    describe: {
      detect: 'the shop reported out_of_stock',
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
  },
  'payment.latency': {
    defaults: { detect: 2000, notify: 5000, recover: 5000 },
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
      if (falselyDelivered(order)) outcome.voided = 'reported delivered without a card issued';
      return outcome;
    },
    notify: (order, start) => {
      const final = lastStatus(order);
      if (!final) return {};
      if (final.status === 'delivered') return at(firstMessage(order, start, (message) => message.kind === 'delivered'));
      if (FAILED_FINAL_STATUSES.has(final.status)) return at(firstMessage(order, start, (message) => FAILURE_MESSAGE_KINDS.has(message.kind)));
      return {};
    },
    recover: (order, start) => at(earliest(firstFulfilment(order, start), cleanFailureAt(order, start))),
  },
};

/** The deadlines for a fault: its defaults with the scenario's `expect` overrides. */
export function deadlinesFor(fault: FaultId, expect: Partial<Record<FaultId, Partial<StageDeadlines>>> | undefined): StageDeadlines {
  const defaults = STAGES[fault].defaults;
  const override = expect?.[fault] ?? {};
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
