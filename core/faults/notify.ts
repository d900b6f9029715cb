/** Notification faults: the SMS / e-mail gateway refuses messages, the mail server is out. */
import { z } from 'zod';
import { delaySchema, errorStatus, type DelayDistribution } from '../schema-parts.js';
import type { StageDeadlines } from '../stages.js';
import { defineFault, fixedDeadlines, type FaultStages } from './define.js';
import { at, firstAfter } from './evidence.js';
import type { OrderFacts } from './facts.js';

/** The message refusal the incident began with: the first at or after the start (its kind, when known: an e-mail refused before its data has none). */
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

/**
 * The stages of a message the channel refused: detect is the shop's next attempt (of the same kind
 * when the refused one's kind is known), notify and recover the message finally accepted. Shared by
 * every notify fault, whatever the channel.
 */
function retriedMessageStages(): Omit<FaultStages, 'defaults'> {
  return {
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
    notify: (order, start) => at(firstMessageAfter(order, notifyRefusal(order, start))),
    recover: (order, start) => at(firstMessageAfter(order, notifyRefusal(order, start))),
  };
}

/** How the SMTP capture server fails a hit mailer. */
export const EMAIL_OUTAGE_MODES = ['refuse', 'tempfail', 'drop', 'slow'] as const;
export type EmailOutageMode = (typeof EMAIL_OUTAGE_MODES)[number];

/** A delay's usual upper end, ms: the fixed value, the uniform maximum, the lognormal's 95th percentile. */
function typicalMaximum(delay: DelayDistribution): number {
  if ('fixed' in delay) return delay.fixed;
  if ('uniform' in delay) return delay.uniform.max;
  return delay.lognormal.median * Math.exp(1.645 * delay.lognormal.sigma);
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
    stages: { ...retriedMessageStages(), defaults: fixedDeadlines(2000, 5000, 5000) },
  }),
  defineFault({
    id: 'notify.email.outage',
    family: 'notify',
    // Only a shop that e-mails its buyers meets the mail server.
    observedThrough: { notify: ['email'] },
    params: {
      /**
       * refuse: the recipient is refused with `code` before any data (421 also closes the
       * connection); tempfail: the message is read, then answered 451; drop: the connection is
       * destroyed after the message's data arrived, before the final reply; slow: every reply
       * Ordeal makes is held back by `delay`. @default "refuse"
       */
      mode: z.enum(EMAIL_OUTAGE_MODES).default('refuse'),
      /** The reply code of `refuse`: 421 (try again later, connection closed) or 554 (transaction failed). @default 421 */
      code: z.union([z.literal(421), z.literal(554)]).default(421),
      /** How long each reply is held back in `slow` mode. @default { fixed: "5s" } */
      delay: delaySchema.default({ fixed: 5000 }),
    },
    injectedBy: 'mail server',
    recovery: 'retry-until-done',
    text: {
      summary: "the shop's SMTP server refuses, defers, drops or stalls its e-mail to buyers",
      parameters: '`mode` (refuse, tempfail, drop, slow), `code`, `delay`',
      models: 'SMTP relay down, greylisting, cut connections, a slow relay (use `window`)',
      expectation: 'e-mail retried until the buyer has it',
    },
    stages: {
      ...retriedMessageStages(),
      // A slow server holds back the greeting, the recipient and the final reply: allow for them.
      defaults: (_timers, spec): StageDeadlines => {
        const held = spec?.mode === 'slow' ? typicalMaximum(spec.delay) * 3 : 0;
        return { detect: 2000 + held, notify: 5000 + held, recover: 5000 + held };
      },
    },
  }),
] as const;
