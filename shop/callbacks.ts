/**
 * The payment callback (`POST /payment/notify`): check the signature over the raw body, parse,
 * and apply the payment result — committed before the answer goes back to the provider, which
 * retries until it gets a 2xx. So a crash before the commit costs only a retry, never a payment.
 *
 * Decisions: `acceptUnsignedCallbacks` (no-signature-check), `acceptStaleSignatures`
 * (no-replay-check), `acknowledgeBeforeCommitting` (ack-before-commit: answer 200 at once and
 * process the callback from an in-memory queue 100–300 ms later; a crash in that gap loses it).
 */
import type { ShopDecisions } from './flaws.js';
import { callbackOrderId, parsePaymentCallback } from './payment-client.js';
import type { Pipeline } from './pipeline.js';
import { SIGNATURE_TOLERANCE_S, verifyCallbackSignature, type SignatureRejection } from './signature.js';

/** What the shop answers the provider: status and JSON body. */
export interface CallbackAnswer {
  status: number;
  body: unknown;
}

export interface CallbackReceiverOptions {
  pipeline: Pipeline;
  /** `ORDEAL_PAYMENT_SECRET`. */
  secret: string;
  decisions: ShopDecisions;
  log: (line: string) => void;
}

/** Bounds of the in-memory queue's delay under `acknowledgeBeforeCommitting` (ms). */
export const ACK_QUEUE_DELAY_MS = { min: 100, max: 300 } as const;

const RECEIVED: CallbackAnswer = { status: 200, body: { received: true } };

function error(status: number, code: string, message: string): CallbackAnswer {
  return { status, body: { error: { code, message } } };
}

function parse(raw: string): unknown {
  try {
    return raw.trim() === '' ? undefined : (JSON.parse(raw) as unknown);
  } catch {
    return undefined;
  }
}

export class CallbackReceiver {
  private readonly queued = new Map<NodeJS.Timeout, () => void>();

  constructor(private readonly options: CallbackReceiverOptions) {}

  /** Handles one callback request and says what to answer. */
  receive(raw: string, signature: string | undefined): CallbackAnswer {
    if (!this.options.decisions.acknowledgeBeforeCommitting) return this.process(raw, signature);
    // Acknowledge first, note the receipt, and leave the real work to a queue in memory.
    const { pipeline, log } = this.options;
    const orderId = callbackOrderId(parse(raw));
    if (orderId) pipeline.noteCallbackReceived(orderId);
    const job = (): void => {
      const answer = this.process(raw, signature);
      if (answer.status !== 200) log(`queued callback for ${orderId ?? '?'} failed: ${JSON.stringify(answer.body)}`);
      if (orderId) pipeline.clearCallbackReceived(orderId);
    };
    const { min, max } = ACK_QUEUE_DELAY_MS;
    const timer = setTimeout(() => {
      this.queued.delete(timer);
      job();
    }, min + Math.random() * (max - min));
    this.queued.set(timer, job);
    return RECEIVED;
  }

  /** Runs the queued jobs now (a graceful stop; a SIGKILL loses them). */
  drain(): void {
    for (const [timer, job] of [...this.queued]) {
      clearTimeout(timer);
      this.queued.delete(timer);
      try {
        job();
      } catch (failure) {
        this.options.log(`queued callback failed while draining: ${(failure as Error).message}`);
      }
    }
  }

  /** Why the signature is refused, or undefined when the callback may be processed. */
  private rejection(raw: string, header: string | undefined): SignatureRejection | undefined {
    const { decisions, secret } = this.options;
    if (decisions.acceptUnsignedCallbacks) return undefined;
    const toleranceS = decisions.acceptStaleSignatures ? Number.POSITIVE_INFINITY : SIGNATURE_TOLERANCE_S;
    const verdict = verifyCallbackSignature({ secret, header, rawBody: raw, toleranceS });
    return verdict.valid ? undefined : verdict.reason;
  }

  private process(raw: string, signature: string | undefined): CallbackAnswer {
    const rejected = this.rejection(raw, signature);
    if (rejected) return error(401, 'invalid_signature', `callback signature rejected (${rejected})`);
    const body = parse(raw);
    if (body === undefined) return error(400, 'invalid_request', 'expected a JSON body');
    const callback = parsePaymentCallback(body);
    if (!callback) return error(400, 'invalid_request', 'expected { outTradeNo, tradeNo, status, amount }');
    const outcome = this.options.pipeline.receivePayment(callback);
    switch (outcome.kind) {
      case 'not_found':
        return error(404, 'order_not_found', `no order ${callback.outTradeNo}`);
      case 'trade_mismatch':
        return error(400, 'trade_mismatch', `callback tradeNo does not belong to order ${callback.outTradeNo}`);
      case 'ok':
        return RECEIVED;
    }
  }
}
