/**
 * The payment callback (`POST /payment/notify`): signature and timestamp check over the raw body,
 * parse, and the pipeline's transition — committed before the answer goes back to the provider.
 *
 * Flaws consulted here: `no-signature-check` (no verification at all), `no-replay-check` (the
 * signature, but not its age), `ack-before-commit` (answer 200 at once, process the callback from
 * an in-memory queue 100–300 ms later; a crash in that gap loses it).
 */
import { SIGNATURE_TOLERANCE_S, verifySignature } from '../mocks/signature.js';
import type { FlawSet } from './flaws.js';
import { numberField, stringField } from './http-client.js';
import type { Pipeline } from './pipeline.js';

/** What the shop answers the provider: status and JSON body. */
export interface CallbackAnswer {
  status: number;
  body: unknown;
}

export interface CallbackReceiverOptions {
  pipeline: Pipeline;
  /** `ORDEAL_PAYMENT_SECRET`. */
  secret: string;
  flaws: FlawSet;
  log: (line: string) => void;
}

/** Bounds of the in-memory queue's delay under `ack-before-commit` (ms). */
export const ACK_QUEUE_DELAY_MS = { min: 100, max: 300 } as const;

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
    if (!this.options.flaws.has('ack-before-commit')) return this.process(raw, signature);
    // Flaw: acknowledge first, note the receipt, and leave the real work to a queue in memory.
    const outTradeNo = stringField(parse(raw), 'outTradeNo');
    if (outTradeNo) this.options.pipeline.noteCallbackReceived(outTradeNo);
    const job = (): void => {
      const answer = this.process(raw, signature);
      if (answer.status !== 200) this.options.log(`queued callback for ${outTradeNo ?? '?'} failed: ${JSON.stringify(answer.body)}`);
      if (outTradeNo) this.options.pipeline.clearCallbackReceived(outTradeNo);
    };
    const { min, max } = ACK_QUEUE_DELAY_MS;
    const timer = setTimeout(() => {
      this.queued.delete(timer);
      job();
    }, min + Math.random() * (max - min));
    this.queued.set(timer, job);
    return { status: 200, body: { received: true } };
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

  private verify(raw: string, signature: string | undefined): string | undefined {
    const flaws = this.options.flaws;
    if (flaws.has('no-signature-check')) return undefined;
    // Flaw `no-replay-check`: any age is accepted.
    const tolerance = flaws.has('no-replay-check') ? Number.POSITIVE_INFINITY : SIGNATURE_TOLERANCE_S;
    const check = verifySignature(this.options.secret, signature, raw, Math.floor(Date.now() / 1000), tolerance);
    return check.ok ? undefined : check.reason;
  }

  private process(raw: string, signature: string | undefined): CallbackAnswer {
    const rejected = this.verify(raw, signature);
    if (rejected) return error(401, 'invalid_signature', `callback signature rejected (${rejected})`);
    const body = parse(raw);
    if (body === undefined) return error(400, 'invalid_request', 'expected a JSON body');
    const outTradeNo = stringField(body, 'outTradeNo');
    const status = stringField(body, 'status');
    const amount = numberField(body, 'amount');
    if (!outTradeNo || !status || amount === undefined) return error(400, 'invalid_request', 'expected { outTradeNo, tradeNo, status, amount }');
    const payload: Parameters<Pipeline['handleCallback']>[0] = { tradeNo: stringField(body, 'tradeNo') ?? '', outTradeNo, status, amount };
    const failCode = stringField(body, 'failCode');
    if (failCode) payload.failCode = failCode;
    const outcome = this.options.pipeline.handleCallback(payload);
    switch (outcome.kind) {
      case 'not_found':
        return error(404, 'order_not_found', `no order ${outTradeNo}`);
      case 'trade_mismatch':
        return error(400, 'trade_mismatch', `callback tradeNo does not belong to order ${outTradeNo}`);
      case 'ok':
        return { status: 200, body: { received: true } };
    }
  }
}
