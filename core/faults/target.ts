/** Target faults: Ordeal kills the managed shop mid-run and restarts it. */
import { durationSchema } from '../schema-parts.js';
import { defineUntargetedFault } from './define.js';
import { at, callbackRecover, firstAtOrAfter, firstMessage } from './evidence.js';

export const TARGET_FAULTS = [
  defineUntargetedFault({
    id: 'target.crash',
    family: 'target',
    params: {
      /** Load time at which Ordeal SIGKILLs the managed shop. */
      at: durationSchema,
      /** How long the shop stays down before Ordeal restarts it. @default "1s" */
      pause: durationSchema.default(1000),
    },
    injectedBy: 'target supervisor',
    // Its effect ends when the shop is back: recovery rules count from the end of the pause.
    windowEnd: (spec) => spec.at + spec.pause,
    recovery: 'deliver-or-refund',
    text: {
      summary: 'the shop is killed mid-run and restarted',
      parameters: '`at`, `pause`',
      models: 'the shop is SIGKILLed mid-run and restarted on the same port and data',
      expectation: 'no paid order lost, no duplicate',
    },
    stages: {
      // From the restart: the shop cannot act while it is down, and how long its start-up takes
      // depends on the machine as much as on the shop (the journal keeps it: target.restarted downMs).
      defaults: () => ({ detect: 3000, notify: 5000, recover: 5000 }),
      clockFrom: (start, context) => context.run.target.restarts.find((restartedAt) => restartedAt >= start) ?? start + (context.spec?.pause ?? 1000),
      describe: {
        detect: 'after the restart, the shop called a mock about the order again',
        notify: 'the buyer was told: delivered or refunded',
        recover: 'delivered, or the capture refunded in full',
      },
      // The shop is dead from the kill (the incident start) until it runs again, so any call it makes
      // about the order after the start comes from the restarted process — possibly before its
      // /health answers, which is when the harness journals the restart.
      detect: (order, start, context) =>
        at(context.run.target.restarts.length === 0 ? undefined : firstAtOrAfter(order.shopCalls, start + 1)),
      notify: (order, start) => at(firstMessage(order, start, (message) => message.kind === 'delivered' || message.kind === 'refunded')),
      recover: callbackRecover,
    },
  }),
] as const;

