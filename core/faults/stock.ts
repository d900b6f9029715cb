/** Stock faults: the supplier sold out behind the shop's back, or fails to issue the cards. */
import { z } from 'zod';
import { delaySchema, durationSchema, errorStatus, failingTimes } from '../schema-parts.js';
import { defineFault, fixedDeadlines, type FaultStages } from './define.js';
import {
  at,
  cleanFailureAt,
  deliveredCount,
  earliest,
  falselyDelivered,
  firstAtOrAfter,
  firstMessage,
  firstStatus,
  fullDeliveryAt,
  fullRefundAt,
  retriedHit,
  secondAtOrAfter,
} from './evidence.js';

function staleStock(what: string): FaultStages {
  return {
    defaults: fixedDeadlines(1000, 3000, 3000),
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

export const STOCK_FAULTS = [
  defineFault({
    id: 'stock.stale',
    family: 'stock',
    params: {
      /** Restrict to these SKUs. @default every SKU */
      skus: z.array(z.string()).min(1).optional(),
      /** Restock time the supplier announces on the sold-out answer. @default "10m" */
      restockIn: durationSchema.default(600_000),
    },
    injectedBy: 'stock supplier',
    recovery: 'release-unpaid',
    text: {
      summary: 'stock shown available but the supplier is sold out',
      parameters: '`skus`, `restockIn`',
      models: '"available" shown, supplier sold out',
      expectation: 'fast `out_of_stock` / told, with restock time / nothing charged',
    },
    stages: staleStock('the supplier refused the reservation'),
  }),
  defineFault({
    id: 'stock.lag',
    family: 'stock',
    params: {
      skus: z.array(z.string()).min(1).optional(),
      /** The supplier takes this long to find out it is sold out. */
      delay: delaySchema,
      restockIn: durationSchema.default(600_000),
    },
    injectedBy: 'stock supplier',
    recovery: 'release-unpaid',
    text: {
      summary: 'the supplier finds out slowly that it is sold out',
      parameters: '`skus`, `delay`, `restockIn`',
      models: 'the supplier finds out slowly',
      expectation: 'as stale',
    },
    stages: staleStock('the supplier found out late that it was sold out'),
  }),
  defineFault({
    id: 'stock.sold_out_after_payment',
    family: 'stock',
    params: {
      skus: z.array(z.string()).min(1).optional(),
      restockIn: durationSchema.default(600_000),
    },
    injectedBy: 'stock supplier',
    recovery: 'deliver-or-refund',
    text: {
      summary: 'cards run out after the buyer paid',
      parameters: '`skus`, `restockIn`',
      models: 'card pool runs dry after payment',
      expectation: 'refund / told / never "delivered" without a card',
    },
    stages: {
      defaults: fixedDeadlines(2000, 4000, 5000),
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
  }),
  defineFault({
    id: 'stock.fulfil.error',
    family: 'stock',
    params: {
      /** The first N card-issue attempts for the order fail. @default 2 */
      times: failingTimes.default(2),
      status: errorStatus.default(503),
    },
    injectedBy: 'stock supplier',
    recovery: 'retry-until-done',
    text: {
      summary: 'issuing the cards fails for a while',
      parameters: '`times`, `status`',
      models: 'card issue failing for a while',
      expectation: 'retried / told / delivered',
    },
    stages: {
      defaults: (_timers, spec) => {
        const times = spec?.times ?? 2;
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
  }),
] as const;
