/**
 * The callback dispatcher: sends the provider core's notices to the shop's notifyUrl, outside the
 * route handlers, so both transports share it. The personality renders and signs each notice in
 * its protocol and says which answer acknowledges it; everything else is protocol-neutral:
 * retries on a schedule until acknowledged, the callback faults (drop, delay, duplicate,
 * reorder), the forgeries the core asks for (forged, replayed, altered), and a journal entry per
 * attempt.
 */
import { FORGERY_FAULTS } from '../../core/faults/callbacks.js';
import type { JournalSink } from '../../core/journal.js';
import type { FaultPlan } from '../fault-plan.js';
import { CallbackSender } from './callback-sender.js';
import type { CallbackForgery, CallbackForgeryOptions, CallbackNotice, CallbackProtocol, CallbackRequest, CallbackTarget, NoticeSigning, PaymentNotice } from './notices.js';

export type { CallbackForgery, CallbackForgeryKind, CallbackForgeryOptions, CallbackNotice, CallbackProtocol, CallbackStatus, CallbackTarget, PaymentNotice } from './notices.js';

/** A compressed Alipay schedule: 7 attempts in about 16 s. */
export const DEFAULT_CALLBACK_RETRY_DELAYS: readonly number[] = [250, 500, 1000, 2000, 4000, 8000];
export const DEFAULT_CALLBACK_TIMEOUT_MS = 5000;
/** A forgery is retried like any callback (an attacker would retry too), but at most this often in all. */
export const FORGERY_MAX_ATTEMPTS = 3;

export interface CallbackDispatcherOptions {
  journal: JournalSink;
  plan: FaultPlan;
  /** Renders, signs and recognises the acknowledgement of each callback. */
  personality: CallbackProtocol;
  /** Delays between attempts, ms; attempts = delays + 1. @default DEFAULT_CALLBACK_RETRY_DELAYS */
  retryDelays?: readonly number[];
  /** Per-attempt timeout, ms. @default 5000 */
  timeoutMs?: number;
}

/** A `fault.injected` journaled when a delivery is first attempted. */
interface InjectedAtSend {
  fault: (typeof FORGERY_FAULTS)[keyof typeof FORGERY_FAULTS] | 'payment.callback.reorder';
  faultIndex: number;
  buyerId?: string;
  detail: Record<string, string | number | boolean>;
}

/** One copy of a notification being delivered (with its own retries). */
interface Delivery {
  notifyUrl: string;
  notice: PaymentNotice;
  copy: number;
  attempt: number;
  /** Attempts allowed in all (1 + retries). */
  maxAttempts: number;
  /** A request rendered once (forgeries: the attacker sends the same one each time); else rendered and signed per attempt. */
  fixed?: CallbackRequest;
  forgery?: CallbackForgery;
  injected?: InjectedAtSend;
  /** Runs once, after the first attempt was journaled (reorder schedules its stale notice here). */
  afterFirstAttempt?: () => void;
  timer?: NodeJS.Timeout;
  /** Cancels the attempt in flight (set while one is). */
  cancel?: (() => void) | undefined;
}

const GENUINE: NoticeSigning = { kind: 'genuine' };

function nowS(): number {
  return Math.floor(Date.now() / 1000);
}

export class CallbackDispatcher {
  private readonly journal: JournalSink;
  private readonly plan: FaultPlan;
  private readonly personality: CallbackProtocol;
  private readonly retryDelays: readonly number[];
  private readonly sender: CallbackSender;
  private readonly deliveries = new Set<Delivery>();
  private idleWaiters: Array<() => void> = [];
  private notifySeq = 0;
  private closed = false;

  constructor(options: CallbackDispatcherOptions) {
    this.journal = options.journal;
    this.plan = options.plan;
    this.personality = options.personality;
    this.retryDelays = options.retryDelays ?? DEFAULT_CALLBACK_RETRY_DELAYS;
    this.sender = new CallbackSender(options.timeoutMs ?? DEFAULT_CALLBACK_TIMEOUT_MS);
  }

  /**
   * Schedules the callback for a notice. Callback faults are decided here, for `TRADE_SUCCESS`
   * only (never for a forgery). Returns the notifyId (also when a drop fault means nothing is
   * ever sent).
   */
  dispatch(target: CallbackTarget, notice: CallbackNotice): string {
    const notifyId = this.nextNotifyId();
    if (this.closed) return notifyId;
    const numbered: PaymentNotice = { notifyId, ...notice };
    const orderId = notice.outTradeNo;
    const buyer = target.buyerId === undefined ? {} : { buyerId: target.buyerId };

    if (target.forgery) {
      this.dispatchForgery(target, target.forgery, numbered);
      return notifyId;
    }

    let firstDelay = 0;
    let copies = 1;
    let spacing = 0;
    let afterFirstAttempt: (() => void) | undefined;
    if (notice.status === 'TRADE_SUCCESS') {
      const drop = this.plan.first('payment.callback.drop', target.subject);
      if (drop) {
        this.journal.append('fault.injected', { fault: drop.spec.id, faultIndex: drop.index, orderId, ...buyer, detail: {} });
        return notifyId;
      }
      const delay = this.plan.first('payment.callback.delay', target.subject);
      if (delay) {
        firstDelay = Math.max(0, Math.round(this.plan.delayFor(delay.index, delay.spec.delay, target.subject, `callback:${notice.tradeNo}`)));
        this.journal.append('fault.injected', { fault: delay.spec.id, faultIndex: delay.index, orderId, ...buyer, detail: { delayMs: firstDelay } });
      }
      const duplicate = this.plan.first('payment.callback.duplicate', target.subject);
      if (duplicate) {
        copies = duplicate.spec.copies;
        spacing = duplicate.spec.spacing;
        this.journal.append('fault.injected', { fault: duplicate.spec.id, faultIndex: duplicate.index, orderId, ...buyer, detail: { copies, spacing } });
      }
      const reorder = this.plan.first('payment.callback.reorder', target.subject);
      if (reorder) {
        // The buyer's earlier, declined attempt: its PAY_FAILED notice arrives after the success.
        afterFirstAttempt = () => {
          const { tradeNo, outTradeNo, amount, currency, subject, method } = notice;
          const stale: PaymentNotice = { notifyId: this.nextNotifyId(), tradeNo, outTradeNo, status: 'PAY_FAILED', amount, failCode: 'DECLINED', currency, subject, method };
          const delivery = this.newDelivery(target.notifyUrl, stale, {
            forgery: 'stale',
            injected: {
              fault: reorder.spec.id,
              faultIndex: reorder.index,
              ...buyer,
              detail: { gap: reorder.spec.gap, notifyId: stale.notifyId, successNotifyId: notifyId },
            },
          });
          this.schedule(delivery, reorder.spec.gap);
        };
      }
    }

    for (let copy = 1; copy <= copies; copy++) {
      const delivery = this.newDelivery(target.notifyUrl, numbered, { copy, ...(copy === 1 && afterFirstAttempt ? { afterFirstAttempt } : {}) });
      this.schedule(delivery, firstDelay + (copy - 1) * spacing);
    }
    return notifyId;
  }

  /** Deliveries (copies) scheduled or in flight. */
  pending(): number {
    return this.deliveries.size;
  }

  /** Resolves when no delivery is pending (immediately if none is). */
  idle(): Promise<void> {
    if (this.deliveries.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Cancels every timer and in-flight request and closes the connections; nothing is journaled afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    for (const delivery of this.deliveries) {
      if (delivery.timer) clearTimeout(delivery.timer);
      delivery.cancel?.();
    }
    this.deliveries.clear();
    this.settleIdle();
    await this.sender.close();
  }

  private nextNotifyId(): string {
    this.notifySeq += 1;
    return `N${String(this.notifySeq).padStart(10, '0')}`;
  }

  private newDelivery(notifyUrl: string, notice: PaymentNotice, extra: Partial<Delivery> = {}): Delivery {
    const delivery: Delivery = { notifyUrl, notice, copy: 1, attempt: 0, maxAttempts: this.retryDelays.length + 1, ...extra };
    this.deliveries.add(delivery);
    return delivery;
  }

  /** A notice the provider never issued: rendered once (signed wrongly, long ago, or for another amount), at most FORGERY_MAX_ATTEMPTS attempts. */
  private dispatchForgery(target: CallbackTarget, forgery: CallbackForgeryOptions, notice: PaymentNotice): void {
    const detail: Record<string, string | number | boolean> = { ...forgery.detail, notifyId: notice.notifyId };
    let signing: NoticeSigning;
    if (forgery.kind === 'forged') {
      signing = { kind: 'forged' };
    } else if (forgery.kind === 'altered') {
      signing = { kind: 'altered', signedAmount: forgery.signedAmount ?? 1 };
      detail.signedAmount = signing.signedAmount;
    } else {
      const ageS = Math.max(1, Math.round((forgery.ageMs ?? 3_600_000) / 1000));
      signing = { kind: 'replayed', ageS };
      detail.ageS = ageS;
    }
    // The attacker signs once and sends the same request on every attempt.
    const fixed = this.personality.renderCallback(target.notifyUrl, notice, signing, nowS());
    if (fixed === undefined) return;
    const delivery = this.newDelivery(target.notifyUrl, notice, {
      maxAttempts: Math.min(FORGERY_MAX_ATTEMPTS, this.retryDelays.length + 1),
      fixed,
      forgery: forgery.kind,
      injected: {
        fault: FORGERY_FAULTS[forgery.kind],
        faultIndex: forgery.faultIndex,
        ...(target.buyerId === undefined ? {} : { buyerId: target.buyerId }),
        detail,
      },
    });
    this.schedule(delivery, 0);
  }

  private schedule(delivery: Delivery, delayMs: number): void {
    if (delayMs <= 0) {
      void this.attempt(delivery);
      return;
    }
    delivery.timer = setTimeout(() => {
      delivery.timer = undefined;
      void this.attempt(delivery);
    }, delayMs);
  }

  private finish(delivery: Delivery): void {
    this.deliveries.delete(delivery);
    this.settleIdle();
  }

  private settleIdle(): void {
    if (this.deliveries.size > 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private async attempt(delivery: Delivery): Promise<void> {
    if (this.closed) return;
    const { notice } = delivery;
    const request = delivery.fixed ?? this.personality.renderCallback(delivery.notifyUrl, notice, GENUINE, nowS());
    if (request === undefined) {
      // The protocol has no notify for this notice (epay's are successes only): nothing is sent or
      // journaled, and a fault riding on it (reorder's stale failure) never happens.
      this.finish(delivery);
      return;
    }
    delivery.attempt += 1;
    if (delivery.attempt === 1 && delivery.injected) {
      const { fault, faultIndex, buyerId, detail } = delivery.injected;
      this.journal.append('fault.injected', { fault, faultIndex, orderId: notice.outTradeNo, ...(buyerId === undefined ? {} : { buyerId }), detail });
    }
    const ack = this.personality.callbackAck;
    const started = performance.now();
    const { httpStatus, body, error } = await this.sender.send(request, ack.readBody, delivery);
    if (this.closed) return;
    const acked = error === undefined && httpStatus !== undefined && ack.acknowledged(httpStatus, body ?? '');
    this.journal.append('payment.callback.sent', {
      orderId: notice.outTradeNo,
      tradeNo: notice.tradeNo,
      notifyId: notice.notifyId,
      status: notice.status,
      attempt: delivery.attempt,
      copy: delivery.copy,
      ...(delivery.forgery === undefined ? {} : { forgery: delivery.forgery }),
      acked,
      latencyMs: Math.round((performance.now() - started) * 1000) / 1000,
      ...(httpStatus === undefined ? {} : { httpStatus }),
      ...(error === undefined ? {} : { error }),
    });
    if (delivery.attempt === 1 && delivery.afterFirstAttempt) {
      // Scheduled before this delivery may finish, so pending() never dips to 0 in between.
      const after = delivery.afterFirstAttempt;
      delivery.afterFirstAttempt = undefined;
      after();
    }
    const nextDelay = delivery.attempt < delivery.maxAttempts ? this.retryDelays[delivery.attempt - 1] : undefined;
    if (acked || nextDelay === undefined) {
      this.finish(delivery);
      return;
    }
    this.schedule(delivery, nextDelay);
  }
}
