/**
 * A payment channel's notify route (`/payment/notify/<protocol>`; `/payment/notify` for the
 * primary): read the notify the protocol's way (its signature checked, unless a flaw says not
 * to), and apply the payment result — committed before the answer goes back to the provider,
 * which retries until it is acknowledged. So a crash before the commit costs only a retry, never
 * a payment.
 *
 * Decisions: `acceptUnsignedCallbacks` (no-signature-check), `acceptStaleSignatures`
 * (no-replay-check), `refuseDuplicateNotifies` (nack-duplicate-callbacks: a repeated success for a
 * paid order is answered with an error), `acknowledgeBeforeCommitting` (ack-before-commit: acknowledge at once and
 * process the callback from an in-memory queue 300–600 ms later; a crash in that gap loses it).
 */
import type { ShopDecisions } from './flaws.js';
import type { NotifyAnswer, NotifyEndpoint, NotifyRequest } from './payment/gateway.js';
import type { Pipeline } from './pipeline.js';

export interface CallbackReceiverOptions {
  pipeline: Pipeline;
  /** The payment protocol's notify side: how notifies are read and answered. */
  endpoint: NotifyEndpoint;
  decisions: ShopDecisions;
  log: (line: string) => void;
}

/**
 * Bounds of the in-memory queue's delay under `acknowledgeBeforeCommitting` (ms). Wide enough that
 * crash.yaml (20 orders/s) always finds callbacks in the gap: at 100–300 ms it held ~4 on average,
 * and a crash that caught only one let the flaw look like a near pass.
 */
export const ACK_QUEUE_DELAY_MS = { min: 300, max: 600 } as const;

export class CallbackReceiver {
  private readonly queued = new Map<NodeJS.Timeout, () => Promise<void>>();

  constructor(private readonly options: CallbackReceiverOptions) {}

  /** Handles one notify and says what to answer. */
  async receive(request: NotifyRequest): Promise<NotifyAnswer> {
    if (!this.options.decisions.acknowledgeBeforeCommitting) return this.process(request);
    // Acknowledge first, note the receipt, and leave the real work to a queue in memory.
    const { pipeline, endpoint, log } = this.options;
    const orderId = endpoint.orderIdOf(request);
    if (orderId) pipeline.noteCallbackReceived(orderId);
    const job = async (): Promise<void> => {
      const answer = await this.process(request);
      if (answer.status >= 300) log(`queued callback for ${orderId ?? '?'} failed: ${answer.body}`);
      if (orderId) pipeline.clearCallbackReceived(orderId);
    };
    const { min, max } = ACK_QUEUE_DELAY_MS;
    const timer = setTimeout(() => {
      this.queued.delete(timer);
      job().catch((failure: unknown) => log(`queued callback failed: ${(failure as Error).message}`));
    }, min + Math.random() * (max - min));
    this.queued.set(timer, job);
    return endpoint.acknowledge();
  }

  /** Runs the queued jobs now (a graceful stop; a SIGKILL loses them). */
  async drain(): Promise<void> {
    const jobs = [...this.queued];
    this.queued.clear();
    await Promise.all(
      jobs.map(async ([timer, job]) => {
        clearTimeout(timer);
        try {
          await job();
        } catch (failure) {
          this.options.log(`queued callback failed while draining: ${(failure as Error).message}`);
        }
      }),
    );
  }

  private async process(request: NotifyRequest): Promise<NotifyAnswer> {
    const { endpoint, decisions, pipeline } = this.options;
    const reading = await endpoint.read(request, { signature: !decisions.acceptUnsignedCallbacks, freshness: !decisions.acceptStaleSignatures });
    if (reading.kind === 'bad_signature') return endpoint.refuse(401, 'invalid_signature', reading.detail);
    if (reading.kind === 'malformed') return endpoint.refuse(400, 'invalid_request', reading.detail);
    const { callback } = reading;
    const outcome = pipeline.receivePayment(callback);
    switch (outcome.kind) {
      case 'not_found':
        return endpoint.refuse(404, 'order_not_found', `no order ${callback.outTradeNo}`);
      case 'trade_mismatch':
        return endpoint.refuse(400, 'trade_mismatch', `callback tradeNo does not belong to order ${callback.outTradeNo}`);
      case 'ok':
        // A repeat of a success already applied: acknowledging it is what stops the provider's retries.
        if (!outcome.changed && callback.result.kind === 'paid' && decisions.refuseDuplicateNotifies) {
          return endpoint.refuse(409, 'already_processed', `order ${callback.outTradeNo} has already taken this payment`);
        }
        return endpoint.acknowledge();
    }
  }
}
