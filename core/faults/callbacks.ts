/** Payment notice faults: the provider's notice to the shop is dropped, late, repeated, out of order, or not genuine. */
import { z } from 'zod';
import { delaySchema, durationSchema } from '../schema-parts.js';
import { defineFault, fixedDeadlines, type FaultStages, type StageOutcome, type StageRule } from './define.js';
import {
  FAILURE_MESSAGE_KINDS,
  SUCCESS_MESSAGE_KINDS,
  allOf,
  amountOf,
  at,
  callbackNotify,
  callbackRecover,
  capturedTotal,
  deliveredCount,
  deliveredMessages,
  earliest,
  firstAtOrAfter,
  firstFulfilment,
  firstMessage,
  firstStatus,
  fullDeliveryAt,
  fullRefundAt,
  lastStatus,
  quantityOf,
} from './evidence.js';
import type { OrderFacts } from './facts.js';

/**
 * The notices the provider never issued, by the name `payment.callback.sent` gives them, and the
 * fault that sends each: the buyer of such an order never pays it.
 */
export const FORGERY_FAULTS = {
  forged: 'payment.callback.forged',
  replayed: 'payment.callback.replayed',
  altered: 'payment.callback.altered',
} as const;
export type ForgeryKind = keyof typeof FORGERY_FAULTS;

function forgedAttempts(order: OrderFacts, start: number): OrderFacts['callbacks'] {
  return order.callbacks.filter((callback) => callback.t >= start && callback.forgery !== undefined && callback.forgery !== 'stale');
}

const forgedDetect: StageRule = (order, start) => {
  const attempts = forgedAttempts(order, start);
  if (attempts.length === 0 || attempts.some((attempt) => attempt.acked)) return {};
  return at(Math.min(...attempts.map((attempt) => attempt.t)));
};

function forged(kind: string): FaultStages {
  return {
    defaults: (timers) => ({ detect: 1000, notify: 1000, recover: timers.orderTtl + 2000 }),
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

/**
 * A genuine, correctly signed notice for less money than the order's: not payment for the goods.
 * A good shop does not deliver, tells the buyer, and refunds what it received — or, where the
 * channel lets the buyer pay the rest (`restPaid`), delivers once the whole amount is in.
 */
function shortPayment(meaning: { detect: string; recover: string; restPaid: boolean }): FaultStages {
  return {
    defaults: fixedDeadlines(2000, 3000, 5000),
    describe: { detect: meaning.detect, notify: 'the buyer was told: amount_mismatch, payment_failed or refunded', recover: meaning.recover },
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
      const paidInFull = meaning.restPaid && capturedTotal(order) >= amountOf(order);
      const outcome = at(earliest(refundAt !== undefined ? Math.max(refundAt, start) : undefined, paidInFull ? fullDeliveryAt(order, start, context.run) : undefined));
      const cards = deliveredCount(order, context.run);
      if (cards > 0 && !paidInFull) {
        outcome.at ??= Math.max(earliest(...order.fulfilments.map((fulfilment) => fulfilment.t)) ?? start, start);
        outcome.voided = `${cards} card${cards === 1 ? '' : 's'} issued for an underpaid order`;
      }
      return outcome;
    },
  };
}

export const CALLBACKS_FAULTS = [
  defineFault({
    id: 'payment.callback.drop',
    family: 'callback',
    params: {},
    injectedBy: 'callback dispatcher',
    recovery: 'deliver-or-refund',
    text: {
      summary: 'the buyer is charged but the payment callback never arrives',
      parameters: '—',
      models: 'charged, callback never arrives',
      expectation: 'queries the provider / tells / delivers or refunds',
    },
    stages: {
      defaults: fixedDeadlines(3000, 5000, 6000),
      describe: {
        detect: 'the shop queried the trade (or closing it found it paid)',
        notify: 'the buyer was told of the payment, the delivery, or the refund',
        recover: 'cards issued, or the capture refunded in full',
      },
      detect: (order, start) => at(earliest(firstAtOrAfter(order.queries, start), firstAtOrAfter(order.closedWithSuccess, start))),
      notify: callbackNotify,
      recover: callbackRecover,
    },
  }),
  defineFault({
    id: 'payment.callback.delay',
    family: 'callback',
    params: {
      delay: delaySchema,
    },
    injectedBy: 'callback dispatcher',
    recovery: 'deliver-or-refund',
    text: {
      summary: 'the payment callback arrives late',
      parameters: '`delay`',
      models: 'slow callback',
      expectation: 'learns of the payment / tells / delivers',
    },
    stages: {
      defaults: fixedDeadlines(3000, 5000, 6000),
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
  }),
  defineFault({
    id: 'payment.callback.duplicate',
    family: 'callback',
    params: {
      /** How many copies of the success callback the shop receives. @default 2 */
      copies: z.number().int().min(2).max(20).default(2),
      /** Time between copies; 0 sends them at once. @default 0 */
      spacing: durationSchema.default(0),
    },
    injectedBy: 'callback dispatcher',
    recovery: 'exactly-once',
    text: {
      summary: 'the payment callback arrives several times',
      parameters: '`copies`, `spacing`',
      models: 'at-least-once delivery',
      expectation: 'one set of cards, one "delivered" message',
    },
    stages: {
      defaults: fixedDeadlines(2000, 4000, 4000),
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
  }),
  defineFault({
    id: 'payment.callback.reorder',
    family: 'callback',
    params: {
      /** A stale PAY_FAILED (from the buyer's earlier, declined attempt) arrives this long after the success. @default "200ms" */
      gap: durationSchema.default(200),
    },
    injectedBy: 'callback dispatcher',
    recovery: 'exactly-once',
    text: {
      summary: 'a stale "payment failed" notice arrives after the success',
      parameters: '`gap`',
      models: 'a stale PAY_FAILED after the success',
      expectation: 'acknowledges and ignores it; the order stays delivered',
    },
    stages: {
      defaults: fixedDeadlines(1000, 3000, 3000),
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
  }),
  defineFault({
    id: 'payment.callback.late',
    family: 'callback',
    params: {
      /** The buyer pays this long after the order was created. @default the shop's orderTtl + 1s */
      after: durationSchema.optional(),
    },
    injectedBy: 'cashier',
    recovery: 'deliver-or-refund',
    text: {
      summary: 'the payment succeeds after the shop expired the order',
      parameters: '`after`',
      models: 'success after the shop expired the order',
      expectation: 'delivers if stock allows, else refunds; never silent',
    },
    stages: {
      defaults: fixedDeadlines(3000, 5000, 5000),
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
  }),
  defineFault({
    id: 'payment.callback.forged',
    family: 'callback',
    params: {
      /** The forged success arrives this long after the trade was created; the buyer never pays. @default "300ms" */
      after: durationSchema.default(300),
    },
    injectedBy: 'callback dispatcher',
    recovery: 'refuse-the-notice',
    text: {
      summary: 'a "paid" notice signed with the wrong key',
      parameters: '`after`',
      models: 'success signed with the wrong key',
      expectation: 'rejected; nothing delivered; no success message',
    },
    stages: forged('forged'),
  }),
  defineFault({
    id: 'payment.callback.replayed',
    family: 'callback',
    params: {
      /** The replayed success arrives this long after the trade was created; the buyer never pays. @default "300ms" */
      after: durationSchema.default(300),
      /** Age of the replayed signature's timestamp (beyond the 300 s tolerance). @default "1h" */
      age: durationSchema.default(3_600_000),
    },
    injectedBy: 'callback dispatcher',
    recovery: 'refuse-the-notice',
    text: {
      summary: 'a genuine "paid" notice replayed an hour later',
      parameters: '`after`, `age`',
      models: 'a genuine success replayed an hour later',
      expectation: 'rejected (timestamp tolerance); nothing delivered',
    },
    stages: forged('replayed'),
  }),
  defineFault({
    id: 'payment.callback.altered',
    family: 'callback',
    params: {
      /** The altered success arrives this long after the trade was created; the buyer never pays. @default "300ms" */
      after: durationSchema.default(300),
      /** What the provider signed the notice for (minor units) before its amount was raised to the order's. @default 1 */
      signedAmount: z.number().int().positive().default(1),
    },
    injectedBy: 'callback dispatcher',
    recovery: 'refuse-the-notice',
    text: {
      summary: 'a genuine "paid" notice whose amount was changed after signing',
      parameters: '`after`, `signedAmount`',
      models: 'a notice signed for a cent, its amount raised to the order\'s on the way',
      expectation: 'rejected (the signature no longer matches); nothing delivered',
    },
    stages: forged('altered'),
  }),
  defineFault({
    id: 'payment.callback.tampered',
    family: 'callback',
    params: {
      /** The buyer altered the amount at the cashier and pays this much instead (minor units). @default 1 */
      paidAmount: z.number().int().positive().default(1),
    },
    injectedBy: 'cashier',
    recovery: 'refuse-the-notice',
    text: {
      summary: 'the buyer paid a different amount than the order',
      parameters: '`paidAmount`',
      models: 'the buyer altered the amount at the cashier',
      expectation: '`failed`/`amount_mismatch`; the amount paid refunded; nothing delivered',
    },
    stages: shortPayment({
      detect: 'the shop reported failed / amount_mismatch, or refunded the short payment',
      recover: 'the captured amount refunded in full and no card issued',
      restPaid: false,
    }),
  }),
  defineFault({
    id: 'payment.callback.underpaid',
    family: 'callback',
    params: {
      /**
       * Share of the order's amount the buyer actually sends (0 < share < 1); the provider reports
       * that amount in a correctly signed notice. @default 0.9
       */
      paidShare: z.number().gt(0).lt(1).default(0.9),
    },
    injectedBy: 'cashier',
    recovery: 'refuse-the-notice',
    text: {
      summary: 'the buyer sent less than the order and the provider says so, correctly signed',
      parameters: '`paidShare`',
      models: 'an underpaying crypto or aggregator payment (fees taken, short transfer)',
      expectation: '`amount_mismatch` / told / the short payment refunded (or the rest asked for and paid); never delivered on the short payment',
    },
    stages: shortPayment({
      detect: 'the shop reported amount_mismatch (failed, or waiting for the rest), or refunded the short payment',
      recover: 'the short payment refunded in full with no card issued, or the rest paid and then delivered',
      restPaid: true,
    }),
  }),
] as const;
