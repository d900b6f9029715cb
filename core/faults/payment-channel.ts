/** Payment channel faults: the provider's answers to the shop are slow, failing, hanging or lost. */
import { z } from 'zod';
import { PAYMENT_ROUTES, delaySchema, durationSchema, errorStatus, failingTimes } from '../schema-parts.js';
import { defineFault, fixedDeadlines, type StageOutcome } from './define.js';
import {
  amountOf,
  at,
  cleanEndRecover,
  cleanFailureAt,
  earliest,
  failingChannel,
  falseSuccess,
  finalOutcomeNotify,
  firstAfter,
  firstFulfilment,
  fittingFinalMessageAt,
  netCharge,
} from './evidence.js';

export const PAYMENT_CHANNEL_FAULTS = [
  defineFault({
    id: 'payment.latency',
    family: 'payment',
    params: {
      delay: delaySchema,
      /** Which payment routes slow down. @default ["create", "query", "close", "refund"] */
      routes: z.array(z.enum(PAYMENT_ROUTES)).min(1).default(['create', 'query', 'close', 'refund']),
    },
    injectedBy: 'payment provider',
    recovery: 'complete-or-fail-cleanly',
    text: {
      summary: 'the payment channel answers slowly',
      parameters: '`delay` (`fixed` / `uniform` / `lognormal`), `routes`',
      models: 'congested channel',
      expectation: 'no false success / tells the outcome / completes or fails cleanly, never stuck',
    },
    stages: {
      defaults: fixedDeadlines(2000, 5000, 5000),
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
  }),
  defineFault({
    id: 'payment.error',
    family: 'payment',
    params: {
      /** Which routes fail. @default ["create"] */
      routes: z.array(z.enum(PAYMENT_ROUTES)).min(1).default(['create']),
      /** 5xx answers SYSTEM_ERROR; 429 answers RATE_LIMITED with Retry-After. @default 503 */
      status: z.union([errorStatus, z.literal(429)]).default(503),
      /** Retry-After on 429 answers. @default "1s" */
      retryAfter: durationSchema.default(1000),
      /** Fail only the first N calls per buyer and route. @default every call */
      times: failingTimes.optional(),
    },
    injectedBy: 'payment provider',
    recovery: 'complete-or-fail-cleanly',
    text: {
      summary: 'the payment channel answers with errors (5xx, or 429 rate limits)',
      parameters: '`routes`, `status` (5xx, or 429 with `retryAfter`), `times`',
      models: 'failing channel',
      expectation: 'retries or fails cleanly / tells / one trade, nothing stuck',
    },
    stages: failingChannel(2000, 'failed payment call'),
  }),
  defineFault({
    id: 'payment.timeout',
    family: 'payment',
    params: {
      /** Which routes hang (no answer ever). @default ["create"] */
      routes: z.array(z.enum(PAYMENT_ROUTES)).min(1).default(['create']),
      /** Hang only the first N calls per buyer and route. @default 1 */
      times: failingTimes.default(1),
    },
    injectedBy: 'payment provider',
    recovery: 'complete-or-fail-cleanly',
    text: {
      summary: 'a payment call never answers',
      parameters: '`routes`, `times`',
      models: 'a call that never answers',
      expectation: 'times out and checks / tells / one trade',
    },
    stages: failingChannel(5000, 'payment call that never answered'),
  }),
  defineFault({
    id: 'payment.ambiguous',
    family: 'payment',
    params: {},
    injectedBy: 'payment provider',
    recovery: 'exactly-once',
    text: {
      summary: 'the trade is created but the answer is lost',
      parameters: '—',
      models: 'trade created, answer lost (TCP reset)',
      expectation: 'queries by `outTradeNo` / tells / exactly one charge',
    },
    stages: {
      defaults: (timers) => ({
        detect: timers.reconcileAfter + 1000,
        notify: timers.orderTtl + 2000,
        recover: timers.orderTtl + 2000,
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
  }),
] as const;

