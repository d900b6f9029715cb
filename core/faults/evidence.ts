/**
 * The vocabulary of evidence rules: pure queries over one order's folded facts (when it was first
 * reported so, when its money came back, when it had all its cards, …) and the stage rules more than
 * one family shares. Every time is on the run clock (ms); "at or after start" unless a query says
 * otherwise.
 */
import type { FaultStages, StageContext, StageOutcome, StageRule } from './define.js';
import { deadlinesAfterTtl } from './define.js';
import type { OrderFacts, RunFacts, StatusReport } from './facts.js';

/** Statuses that end an order without goods. */
export const FAILED_FINAL_STATUSES: ReadonlySet<string> = new Set(['failed', 'expired', 'cancelled', 'refunded']);
/** Statuses after which a buyer stops waiting. */
export const SETTLED: ReadonlySet<string> = new Set(['delivered', 'refunded', 'failed', 'expired', 'cancelled']);
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
export const SUCCESS_MESSAGE_KINDS: ReadonlySet<string> = new Set(['delivered', 'payment_received']);

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
export function deliveredCount(order: OrderFacts, run: Pick<RunFacts, 'cardOwners'>): number {
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
export function messagesFor(order: OrderFacts, start: number): OrderFacts['messages'] {
  return order.messages.filter((message) => message.t >= start && (order.contact === undefined || message.to === order.contact));
}

export type Message = OrderFacts['messages'][number];

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

export function firstFulfilment(order: OrderFacts, start: number): number | undefined {
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
export function fullDeliveryAt(order: OrderFacts, start: number, run?: Pick<RunFacts, 'cardOwners'>): number | undefined {
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
export function cleanFailureAt(order: OrderFacts, start: number): number | undefined {
  const failedAt = firstStatus(order, start, (report) => FAILED_FINAL_STATUSES.has(report.status));
  const zeroAt = netZeroAt(order);
  if (failedAt === undefined || zeroAt === undefined) return undefined;
  return Math.max(failedAt, zeroAt);
}

/**
 * A clean close without goods: a report that fits (at or after start), nothing charged net, and
 * the stock freed by the shop.
 */
export function cleanCloseAt(order: OrderFacts, start: number, fits: (report: StatusReport) => boolean): number | undefined {
  return allOf(firstStatus(order, start, fits), netZeroAt(order), shopReleaseAt(order, start));
}

/** Recovered from a missing/late payment confirmation: delivered, or refunded in full. */
export function paidRecoveryAt(order: OrderFacts, start: number): number | undefined {
  const refundAt = fullRefundAt(order);
  return earliest(firstFulfilment(order, start), refundAt !== undefined && refundAt >= start ? refundAt : undefined);
}

export function paymentConfirmedNotice(order: OrderFacts, start: number): number | undefined {
  const refundAt = fullRefundAt(order);
  const recoveredByRefund = refundAt !== undefined && refundAt >= start && firstFulfilment(order, start) === undefined;
  return firstMessage(
    order,
    start,
    (message) => message.kind === 'payment_received' || message.kind === 'delivered' || (recoveredByRefund && message.kind === 'refunded'),
  );
}

export function deliveredMessages(order: OrderFacts): number {
  return order.messages.filter(
    (message) => message.kind === 'delivered' && (order.contact === undefined || message.to === order.contact),
  ).length;
}

/** The shop reported `delivered` but no card was ever issued to the order. */
export function falselyDelivered(order: OrderFacts): boolean {
  return order.fulfilments.length === 0 && order.shownCards.size === 0 && order.statuses.some((report) => report.status === 'delivered');
}

/** Why the shop's word on the order was a false success, if it was. */
export function falseSuccess(order: OrderFacts): string | undefined {
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
export function fittingFinalMessageAt(order: OrderFacts, start: number): number | undefined {
  const final = lastStatus(order);
  const delivered = final?.status === 'delivered' || (!SETTLED.has(final?.status ?? '') && fullDeliveryAt(order, start) !== undefined);
  if (delivered) return firstMessage(order, start, (message) => message.kind === 'delivered');
  if (final && FAILED_FINAL_STATUSES.has(final.status)) return firstMessage(order, start, (message) => FAILURE_MESSAGE_KINDS.has(message.kind));
  return undefined;
}

/** The order ended whole: all its cards, or a final failed status with nothing charged. */
export function wholeAt(order: OrderFacts, start: number, run?: Pick<RunFacts, 'cardOwners'>): number | undefined {
  return earliest(fullDeliveryAt(order, start, run), cleanFailureAt(order, start));
}

// ---------------------------------------------------------------------------------------------
// Shared stage rules

/** A stage met at `time` (not met when undefined). */
export const at = (time: number | undefined): StageOutcome => (time === undefined ? {} : { at: time });

export const callbackNotify: StageRule = (order, start) => at(paymentConfirmedNotice(order, start));
export const callbackRecover: StageRule = (order, start) => at(paidRecoveryAt(order, start));

// ---- failing channel: error, timeout, transport ------------------------------------------------

/**
 * The shop's first word after a failing call: a status report, or an answer to the buyer's create
 * request (an honest 4xx/5xx that creates no order counts), at or after the start.
 */
export function firstWordAt(order: OrderFacts, start: number, context: StageContext): number | undefined {
  const answers = (context.buyer?.submissions ?? [])
    .filter((submission) => submission.httpStatus !== undefined && (submission.orderId === undefined || submission.orderId === order.orderId))
    .map((submission) => submission.t);
  return earliest(firstAtOrAfter(order.statuses.map((report) => report.t), start), firstAtOrAfter(answers, start));
}

/** The buyer's create request was refused (no order id) at or after start, and the order never shown. */
export function refusedAnswerAt(order: OrderFacts, start: number, context: StageContext): number | undefined {
  if (order.statuses.length > 0) return undefined;
  return firstAtOrAfter(
    (context.buyer?.submissions ?? [])
      .filter((submission) => submission.httpStatus !== undefined && submission.httpStatus >= 400 && submission.orderId === undefined)
      .map((submission) => submission.t),
    start,
  );
}

export const noFalseSuccessDetect: StageRule = (order, start, context) => {
  const outcome = at(firstWordAt(order, start, context));
  const note = falseSuccess(order);
  if (outcome.at !== undefined && note !== undefined) outcome.voided = note;
  return outcome;
};

export const finalOutcomeNotify: StageRule = (order, start, context) =>
  at(earliest(fittingFinalMessageAt(order, start), refusedAnswerAt(order, start, context)));

/** Final clean state: delivered with one charge, a clean failure, or a refused create with nothing held. */
export const cleanEndRecover: StageRule = (order, start, context) => {
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

export function failingChannel(detect: number, label: string): FaultStages {
  return {
    defaults: deadlinesAfterTtl(detect, 2000, 2000),
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
export function retriedHit(context: StageContext, start: number): number | undefined {
  return firstAfter(context.hits, start);
}

/**
 * The second of `attempts` at or after the start: the first is the failed call the incident began
 * with (the mocks journal it right after the `fault.injected`), the second is the retry.
 */
export function secondAtOrAfter(attempts: Iterable<number>, start: number): number | undefined {
  const sorted = [...attempts].filter((t) => t >= start).sort((a, b) => a - b);
  return sorted[1];
}

