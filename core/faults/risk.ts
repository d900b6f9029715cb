/** Risk-control faults: the screen holds or refuses the order. */
import { z } from 'zod';
import { RISK_SIGNALS, durationSchema } from '../schema-parts.js';
import { defineFault, fixedDeadlines } from './define.js';
import { at, cleanCloseAt, deliveredCount, firstMessage, firstStatus, fullDeliveryAt } from './evidence.js';

export const RISK_FAULTS = [
  defineFault({
    id: 'risk.review',
    family: 'risk',
    params: {
      /** Only buyers showing one of these signals. @default every hit buyer */
      signals: z.array(z.enum(RISK_SIGNALS)).min(1).optional(),
      /** The review resolves this long after the assessment. @default "2s" */
      resolveAfter: durationSchema.default(2000),
      /** How the review ends. @default "approve" */
      outcome: z.enum(['approve', 'reject']).default('approve'),
    },
    injectedBy: 'risk screen',
    recovery: 'deliver-or-refund',
    text: {
      summary: 'risk control holds the order for manual review',
      parameters: '`signals`, `resolveAfter`, `outcome`',
      models: 'order held by risk control',
      expectation: '`under_review` / told, then the decision / delivered, or failed with nothing charged',
    },
    stages: {
      defaults: (_timers, spec) => ({ detect: 2000, notify: 3000, recover: (spec?.resolveAfter ?? 2000) + 3000 }),
      describe: {
        detect: 'the shop reported under_review',
        notify: 'the buyer was told: under_review',
        recover: 'delivered after approval; after a reject, failed / risk_rejected (or refunded) with nothing charged and stock released',
      },
      detect: (order, start) => at(firstStatus(order, start, (report) => report.status === 'under_review')),
      notify: (order, start) => at(firstMessage(order, start, (message) => message.kind === 'under_review')),
      recover: (order, start, context) => {
        const resolution = order.risk.find((entry) => entry.decision === 'approved' || entry.decision === 'rejected');
        const rejected = resolution ? resolution.decision === 'rejected' : context.spec?.outcome === 'reject';
        const from = Math.max(start, resolution?.t ?? start);
        if (!rejected) return at(fullDeliveryAt(order, from, context.run));
        const outcome = at(cleanCloseAt(order, from, (report) => report.reason === 'risk_rejected' && (report.status === 'failed' || report.status === 'refunded')));
        if (outcome.at !== undefined && deliveredCount(order, context.run) > 0) outcome.voided = 'cards issued after a reject';
        return outcome;
      },
    },
  }),
  defineFault({
    id: 'risk.reject',
    family: 'risk',
    params: {
      signals: z.array(z.enum(RISK_SIGNALS)).min(1).optional(),
    },
    injectedBy: 'risk screen',
    recovery: 'release-unpaid',
    text: {
      summary: 'risk control rejects the order',
      parameters: '`signals`',
      models: 'order refused by risk control',
      expectation: '`failed`/`risk_rejected` / `review_rejected` / nothing charged',
    },
    stages: {
      defaults: fixedDeadlines(2000, 3000, 3000),
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
  }),
] as const;

