/**
 * Notifications: the outbox of buyer messages (contract v1, "Notifications").
 *
 * A message is written to the outbox in the same transaction as the transition it reports, keyed
 * `<orderId>:<kind>`, so a transition and its message exist together or not at all, and a repeat
 * of the transition cannot queue the message twice. Sending happens afterwards, retried with
 * backoff for about 50 s: a gateway down for a window gets the message once it is back. The key
 * goes along as `messageKey`, so the gateway can drop a retry it already has.
 *
 * Decisions: `keepQuietAboutFailures` (no-failure-notice), `sendMessagesOnlyOnce` (no-notify-retry).
 */
import { backoff } from '../http-client.js';
import { buildMessage, FAILURE_KINDS, type MessageContext } from '../messages.js';
import type { OutgoingMessage } from '../services.js';
import type { StageContext } from './context.js';

/** Attempts to hand a message to the gateway: about 50 s of retries (backoff 250 ms → 4 s). */
const MESSAGE_ATTEMPTS = 16;
/** Messages started per pass over the outbox. */
const SEND_BATCH = 100;

export class Notifications {
  /** Outbox rows being sent right now (a pass must not start a second send of one). */
  private readonly sending = new Set<number>();
  private kick: NodeJS.Immediate | undefined;

  constructor(private readonly ctx: StageContext) {}

  /** Queues a message; call it inside the transaction of the transition it reports. */
  tell(context: MessageContext): void {
    if (FAILURE_KINDS.has(context.kind) && this.ctx.decisions.keepQuietAboutFailures) return;
    const message = buildMessage(context);
    this.ctx.db.enqueueMessage(message.messageKey, message.orderId, message, Date.now());
    this.sendSoon();
  }

  /** Starts sending every message that is due (the reconciler calls this on each pass). */
  sendDue(): void {
    for (const row of this.ctx.db.dueMessages(Date.now(), SEND_BATCH)) {
      if (this.sending.has(row.id)) continue;
      this.sending.add(row.id);
      this.ctx.tasks.track(this.send(row.id, JSON.parse(row.payload) as OutgoingMessage, row.attempts).finally(() => this.sending.delete(row.id)));
    }
  }

  /** Stops the pending kick (the shop is closing; unsent messages wait in the outbox). */
  stop(): void {
    if (this.kick) clearImmediate(this.kick);
    this.kick = undefined;
  }

  /**
   * Sends once the current transaction has committed and the current task yields: the buyer hears
   * of a transition at once rather than at the next reconciler pass.
   */
  private sendSoon(): void {
    if (this.ctx.tasks.closed || this.kick) return;
    this.kick = setImmediate(() => {
      this.kick = undefined;
      if (this.ctx.tasks.closed) return;
      try {
        this.sendDue();
      } catch (error) {
        this.ctx.log(`outbox failed: ${(error as Error).stack ?? String(error)}`);
      }
    });
  }

  private async send(id: number, message: OutgoingMessage, attempts: number): Promise<void> {
    const { db, decisions, log, tasks } = this.ctx;
    const result = await tasks.call(this.ctx.notify.send(message));
    if (result.kind === 'accepted') {
      db.markMessageSent(id, Date.now());
    } else if (result.kind === 'rejected' || attempts + 1 >= MESSAGE_ATTEMPTS || decisions.sendMessagesOnlyOnce) {
      db.markMessageFailed(id, result.detail);
      log(`message ${message.messageKey} given up: ${result.detail}`);
    } else {
      db.markMessageRetry(id, Date.now() + backoff(attempts, 250, 4000), result.detail);
    }
  }
}
