/** The buyers' own mistakes, each scored as an incident class `buyer.<behaviour>`. */
import { defineBuyerClass, fixedDeadlines, type FaultStages, type StageContext } from './define.js';
import {
  SETTLED,
  allOf,
  amountOf,
  at,
  firstAtOrAfter,
  firstMessage,
  firstStatus,
  fittingFinalMessageAt,
  fullDeliveryAt,
  netCharge,
  netZeroAt,
  shopReleaseAt,
  wholeAt,
} from './evidence.js';
import type { BuyerFacts, OrderFacts, SubmissionFacts } from './facts.js';

/** The order the buyer's correcting submission created. */
function correctionOrderOf(buyer: BuyerFacts | undefined): string | undefined {
  return buyer?.submissions.find((submission) => submission.intent === 'correction' && submission.orderId !== undefined)?.orderId;
}

/** Contract v1 refuses bad input with 400; many shops answer 422 Unprocessable Content, which says the same. */
const INPUT_REFUSALS: ReadonlySet<number> = new Set([400, 422]);

function inputMistake(code: string, what: string): FaultStages {
  const rejectedAt = (start: number, context: StageContext): number | undefined =>
    firstAtOrAfter(
      (context.buyer?.submissions ?? [])
        .filter((submission) => submission.intent === 'mistake' && INPUT_REFUSALS.has(submission.httpStatus ?? 0) && submission.errorCode === code)
        .map((submission) => submission.t),
      start,
    );
  return {
    defaults: fixedDeadlines(1000, 1000, 5000),
    describe: {
      detect: `the ${what} was refused up front: 400 (or 422) ${code}`,
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
    defaults: fixedDeadlines(1000, 1000, 5000),
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

export const BUYER_CLASSES = [
  defineBuyerClass({
    behaviour: 'typo_recipient',
    observedThrough: 'recipient',
    injectedBy: 'buyer',
    recovery: 'correct-and-continue',
    text: {
      summary: 'the buyer mistypes the recipient, then corrects it',
      does: 'submits a game id one digit short, then corrects it',
      expectation: '400 `invalid_recipient` up front; the corrected order delivered',
    },
    stages: inputMistake('invalid_recipient', 'mistyped recipient'),
  }),
  defineBuyerClass({
    behaviour: 'wrong_sku_then_cancel',
    observedThrough: 'buyer-cancel',
    injectedBy: 'buyer',
    recovery: 'correct-and-continue',
    text: {
      summary: 'the buyer orders the wrong card, cancels and reorders',
      does: 'orders the wrong card, cancels before paying, orders the right one',
      expectation: 'a working cancel: `cancelled`, told, stock released, nothing charged',
    },
    stages: {
      defaults: fixedDeadlines(1000, 3000, 5000),
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
  }),
  defineBuyerClass({
    behaviour: 'coupon_below_threshold',
    injectedBy: 'buyer',
    recovery: 'correct-and-continue',
    text: {
      summary: 'the buyer uses a coupon below its minimum amount',
      does: 'uses a coupon below its minimum amount, then orders without it',
      expectation: '400 `coupon_below_threshold`',
    },
    stages: inputMistake('coupon_below_threshold', 'coupon below its threshold'),
  }),
  defineBuyerClass({
    behaviour: 'double_submit',
    injectedBy: 'buyer',
    recovery: 'exactly-once',
    text: {
      summary: 'the buyer submits the same order twice',
      does: 'the page is submitted twice with the same Idempotency-Key; pays every order it gets',
      expectation: 'one order, one charge',
    },
    stages: oneOrderPerIntent('second submission with the same key'),
  }),
  defineBuyerClass({
    behaviour: 'multi_window',
    injectedBy: 'buyer',
    recovery: 'exactly-once',
    text: {
      summary: 'the buyer orders the same thing from two windows',
      does: 'two windows, two keys, the same intent; pays every order it gets',
      expectation: 'one charge per intent',
    },
    stages: oneOrderPerIntent('second window'),
  }),
  defineBuyerClass({
    behaviour: 'abandon_payment',
    injectedBy: 'buyer',
    recovery: 'release-unpaid',
    text: {
      summary: 'the buyer never pays',
      does: 'never pays',
      expectation: 'clean expiry: `expired`, told, stock released by the shop',
    },
    stages: {
      defaults: (timers) => ({
        detect: timers.orderTtl + 2000,
        notify: timers.orderTtl + 3000,
        recover: timers.orderTtl + 3000,
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
  }),
  defineBuyerClass({
    behaviour: 'slow_payment',
    injectedBy: 'buyer',
    recovery: 'complete-or-fail-cleanly',
    text: {
      summary: 'the buyer pays just before the order expires',
      does: 'pays just before the order expires',
      expectation: 'delivered once, or expired with nothing charged',
    },
    stages: {
      defaults: fixedDeadlines(3000, 4000, 5000),
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
  }),
] as const;
