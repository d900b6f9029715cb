/** Reconciliation faults: the shop's queries and refunds fail for a while. */
import { errorStatus, failingTimes } from '../schema-parts.js';
import { defineFault } from './define.js';
import {
  at,
  earliest,
  firstAfter,
  firstMessage,
  fittingFinalMessageAt,
  fullRefundAt,
  retriedHit,
  secondAtOrAfter,
  wholeAt,
} from './evidence.js';

export const RECONCILIATION_FAULTS = [
  defineFault({
    id: 'payment.query.error',
    family: 'payment',
    params: {
      /** The first N queries about the order fail. @default 2 */
      times: failingTimes.default(2),
      status: errorStatus.default(503),
    },
    injectedBy: 'payment provider',
    recovery: 'retry-until-done',
    text: {
      summary: 'the shop\'s payment status queries fail for a while',
      parameters: '`times`, `status`',
      models: 'reconciliation queries failing',
      expectation: 'retried until done',
    },
    stages: {
      defaults: (timers, spec) => {
        const { reconcileEvery } = timers;
        const times = spec?.times ?? 2;
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
  }),
  defineFault({
    id: 'payment.refund.error',
    family: 'payment',
    params: {
      /** The first N refund attempts for the order fail. @default 2 */
      times: failingTimes.default(2),
      status: errorStatus.default(503),
    },
    injectedBy: 'payment provider',
    recovery: 'retry-until-done',
    text: {
      summary: 'refunds fail for a while',
      parameters: '`times`, `status`',
      models: 'refunds failing',
      expectation: 'retried until done',
    },
    stages: {
      defaults: (_timers, spec) => {
        const times = spec?.times ?? 2;
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
  }),
] as const;

