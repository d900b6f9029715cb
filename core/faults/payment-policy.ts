/** Payment policy faults: the provider refuses or holds the payment (limits, blocked channel, extra verification, decline). */
import { z } from 'zod';
import { durationSchema, money } from '../schema-parts.js';
import { defineFault, fixedDeadlines, type FaultStages } from './define.js';
import { at, cleanCloseAt, earliest, firstMessage, firstStatus, fullDeliveryAt, netZeroAt, shopReleaseAt } from './evidence.js';

function refusal(reason: string, what: string): FaultStages {
  return {
    defaults: fixedDeadlines(2000, 3000, 3000),
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

export const PAYMENT_POLICY_FAULTS = [
  defineFault({
    id: 'payment.limit.single',
    family: 'payment',
    params: {
      /** Refuse only payments above this amount (minor units). @default every payment of a hit buyer */
      limit: money.optional(),
    },
    injectedBy: 'cashier',
    recovery: 'release-unpaid',
    text: {
      summary: 'the payment exceeds a single quick-pay limit',
      parameters: '`limit`',
      models: 'single quick-pay limit',
      expectation: '`failed`/`payment_limit` / `payment_failed` with a remedy / stock released, nothing charged',
    },
    stages: refusal('payment_limit', 'single-payment limit'),
  }),
  defineFault({
    id: 'payment.limit.daily',
    family: 'payment',
    params: {
      /** Daily quick-pay limit per payer (minor units). */
      limit: money,
      /** What the payer already spent today before the run. @default 0 */
      spentBefore: money.default(0),
    },
    injectedBy: 'cashier',
    recovery: 'release-unpaid',
    text: {
      summary: 'the payment exceeds the payer\'s daily limit',
      parameters: '`limit`, `spentBefore`',
      models: 'cumulative daily limit per payer',
      expectation: 'as `payment.limit.single`',
    },
    stages: refusal('payment_limit', 'daily limit'),
  }),
  defineFault({
    id: 'payment.cross_border',
    family: 'payment',
    params: {
      /** Payers whose region does not start with this are refused at trade creation. @default "CN" */
      home: z.string().min(1).default('CN'),
      /** Only these payment methods are blocked. @default every method */
      methods: z.array(z.string()).min(1).optional(),
    },
    injectedBy: 'payment provider',
    recovery: 'release-unpaid',
    text: {
      summary: 'the channel is blocked for payers abroad',
      parameters: '`home`, `methods`',
      models: 'channel blocked for payers abroad',
      expectation: '`failed`/`cross_border_blocked` / told / released, nothing charged',
    },
    stages: refusal('cross_border_blocked', 'blocked cross-border channel'),
  }),
  defineFault({
    id: 'payment.verification',
    family: 'payment',
    params: {
      /** The buyer completes the extra verification this long after paying. @default never */
      completeAfter: durationSchema.optional(),
    },
    injectedBy: 'cashier',
    recovery: 'release-unpaid',
    text: {
      summary: 'the provider asks for extra verification, completed late or never',
      parameters: '`completeAfter` (absent: never)',
      models: 'extra verification the buyer completes late or never',
      expectation: '`awaiting_verification` / `verification_required` / delivered, or clean expiry (`verification_timeout`)',
    },
    stages: {
      defaults: (timers, spec) => {
        const { orderTtl, reconcileAfter, reconcileEvery } = timers;
        const detect = reconcileAfter + reconcileEvery + 1000;
        const completeAfter = spec?.completeAfter;
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
  }),
  defineFault({
    id: 'payment.decline',
    family: 'payment',
    params: {},
    injectedBy: 'cashier',
    recovery: 'release-unpaid',
    text: {
      summary: 'the payment is declined (insufficient funds)',
      parameters: '—',
      models: 'insufficient funds',
      expectation: '`failed`/`payment_declined` / told / released',
    },
    stages: refusal('payment_declined', 'declined payment'),
  }),
] as const;
