/** Notification faults: the SMS / e-mail gateway refuses messages. */
import { errorStatus } from '../schema-parts.js';
import { defineFault, fixedDeadlines } from './define.js';
import { at, firstAfter } from './evidence.js';
import type { OrderFacts } from './facts.js';

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

export const NOTIFY_FAULTS = [
  defineFault({
    id: 'notify.error',
    family: 'notify',
    params: {
      status: errorStatus.default(503),
    },
    injectedBy: 'notify gateway',
    recovery: 'retry-until-done',
    // The HTTP gateways refuse; a shop that only e-mails never meets them.
    observedThrough: { notify: ['api', 'sms'] },
    text: {
      summary: 'the SMS/e-mail gateway is down',
      parameters: '`status`',
      models: 'SMS gateway down (use `window`)',
      expectation: 'message retried until it reaches the buyer',
    },
    stages: {
      defaults: fixedDeadlines(2000, 5000, 5000),
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
  }),
] as const;
