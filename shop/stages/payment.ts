/**
 * Payment: creating the order's trade, and applying payment results — from the signed callback,
 * or found by a query or a close (reconciliation, cancel). Refunds are `refunds.ts`.
 *
 * One trade per order: the order id is the trade's `outTradeNo`, the provider de-duplicates a
 * repeated create by it, and a create whose answer was lost is followed by a query by it.
 *
 * A payment result goes through one idempotent transition whatever brought it: an order is paid
 * once (`paid_at` is set once), so a duplicate callback, a callback racing a query, or a retry
 * changes nothing. The transition commits before a callback is acknowledged (the provider retries
 * until then); delivery runs afterwards, only when this result changed the order.
 *
 * Decisions: `relyOnCallbacksOnly` (no-reconcile), `acceptAnyPaidAmount` (no-amount-check),
 * `deliverOnEveryCallback` (no-idempotent-callbacks), `ignoreLatePayments` (late-payment-dropped),
 * `deliverLatePaymentsWithoutReserving` (late-payment-unchecked), `leaveReservationsToLapse`
 * (no-stock-release), `reopenOnRepeatedSuccess` (reopen-on-duplicate-callback).
 */
import type { OrderPatch, OrderReason, OrderRow } from '../db.js';
import { backoff, retryAfterMs } from '../http-client.js';
import type { CreateTradeRequest, DeclineReason, PaymentCallback } from '../payment/gateway.js';
import { answerLost } from '../services.js';
import { CREATE_BUDGET_MS, PAYABLE, paymentFor, REOPENABLE, RETRY_AFTER_CAP, UNPAID, type StageContext } from './context.js';
import type { Fulfilment } from './fulfilment.js';
import type { Notifications } from './notifications.js';
import type { Orders } from './orders.js';

export type CallbackOutcome = { kind: 'ok'; changed: boolean } | { kind: 'not_found' } | { kind: 'trade_mismatch' };

/** Attempts to create the trade (503 / 429 / lost answers), then one last query by outTradeNo. */
const TRADE_CREATE_ATTEMPTS = 4;
/** Queries by outTradeNo when a trade's creation is in doubt. */
const FIND_TRADE_ATTEMPTS = 3;
/** Under `deliverOnEveryCallback`, a paid order is re-checked this late if its delivery never ran (crash). */
const FLAWED_DELIVERY_SAFETY_NET = 10_000;

type TradeCreation = { kind: 'created'; tradeNo: string; payUrl?: string } | { kind: 'declined'; reason: OrderReason } | { kind: 'failed'; detail: string };

export class Payment {
  constructor(
    private readonly ctx: StageContext,
    private readonly orders: Orders,
    private readonly notifications: Notifications,
    private readonly fulfilment: Fulfilment,
  ) {}

  // ---- the trade --------------------------------------------------------------------------------

  /**
   * Creates the trade of an order that is `from` (a new order, or one whose review was approved),
   * and moves it to `pending_payment`. Returns whether it did.
   */
  async openTrade(orderId: string, from: 'creating' | 'under_review', resumed: boolean): Promise<boolean> {
    const { db, decisions, timers } = this.ctx;
    const order = db.get(orderId);
    if (!order || order.status !== from) return false;
    const now = Date.now();
    // The payment window starts when the buyer can pay: at creation, or at the review's approval.
    const start = from === 'creating' ? order.created_at : now;
    const expiresAt = order.expires_at ?? start + timers.orderTtl;
    let tradeNo = order.trade_no;
    let payUrl = order.pay_url;
    if (!tradeNo) {
      const request: CreateTradeRequest = {
        outTradeNo: order.id,
        amount: order.amount,
        currency: order.currency,
        subject: `${order.quantity} \u00d7 ${order.sku_name}`,
        notifyUrl: this.ctx.callbackUrl(paymentFor(this.ctx, order).protocol),
        method: order.payment_method,
        payer: order.buyer_region ? { id: order.buyer_id, region: order.buyer_region } : { id: order.buyer_id },
        // The provider closes the trade when the order expires (a resumed creation gets what is left).
        expiresInMs: resumed ? Math.max(1000, Math.round(expiresAt - now)) : Math.round(timers.orderTtl),
      };
      const outcome = await this.createTrade(order, request, start + CREATE_BUDGET_MS);
      if (outcome.kind !== 'created') {
        if (outcome.kind === 'failed') this.ctx.log(`order ${orderId}: trade not created: ${outcome.detail}`);
        const reason = outcome.kind === 'declined' ? outcome.reason : 'service_unavailable';
        if (this.orders.endUnpaid(orderId, [from], reason, 'payment_failed')) await this.fulfilment.releaseIfPending(orderId);
        return false;
      }
      tradeNo = outcome.tradeNo;
      payUrl = outcome.payUrl ?? null;
    }
    // Relying on callbacks alone, the order is next looked at when it expires.
    const firstCheck = decisions.relyOnCallbacksOnly ? expiresAt : start + Math.min(timers.reconcileAfter, timers.orderTtl);
    return db.transaction(() => {
      const changed = db.update(orderId, [from], { status: 'pending_payment', trade_no: tradeNo, pay_url: payUrl, expires_at: expiresAt, attempts: 0, next_check_at: firstCheck });
      if (changed && from === 'under_review') this.notifications.tell({ order: db.get(orderId)!, kind: 'review_approved' });
      return changed;
    });
  }

  /**
   * `POST /v1/trades`, retried on 503 / 429 (honouring Retry-After) and on lost answers; a lost
   * answer is followed by a query by outTradeNo, since the trade may exist.
   */
  private async createTrade(order: OrderRow, request: CreateTradeRequest, deadline: number): Promise<TradeCreation> {
    const { tasks } = this.ctx;
    const payment = paymentFor(this.ctx, order);
    const lookUp = !this.ctx.decisions.relyOnCallbacksOnly;
    let detail = '';
    for (let attempt = 0; attempt < TRADE_CREATE_ATTEMPTS; attempt++) {
      const result = await tasks.call(payment.createTrade(request));
      if (result.kind === 'created') return result.payUrl ? { kind: 'created', tradeNo: result.tradeNo, payUrl: result.payUrl } : { kind: 'created', tradeNo: result.tradeNo };
      if (result.kind === 'declined') return result;
      if (result.kind === 'refused') {
        // DUPLICATE_OUT_TRADE_NO and other 4xx: asking again will not help; the query below decides.
        detail = result.code;
        break;
      }
      detail = result.detail;
      if (answerLost(result) && lookUp) {
        const found = await this.findTrade(order, 1);
        if (found) return { kind: 'created', tradeNo: found };
      }
      if (attempt + 1 < TRADE_CREATE_ATTEMPTS) {
        const wait = result.retryAfter ? retryAfterMs(result.retryAfter, 500, RETRY_AFTER_CAP) : backoff(attempt, 200, 1500);
        if (!(await tasks.pauseWithin(deadline, wait))) break;
      }
    }
    if (lookUp) {
      // Still failing: the trade may exist all the same (an earlier answer lost, or a 503 after the fact).
      const found = await this.findTrade(order, FIND_TRADE_ATTEMPTS);
      if (found) return { kind: 'created', tradeNo: found };
    }
    return { kind: 'failed', detail };
  }

  /** The trade number of the order's trade, asking by outTradeNo (retried), when it exists. */
  private async findTrade(order: OrderRow, attempts: number): Promise<string | undefined> {
    const { tasks } = this.ctx;
    const payment = paymentFor(this.ctx, order);
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await tasks.pause(backoff(attempt - 1, 200, 1000));
      const found = await tasks.call(payment.queryByOutTradeNo(order.id));
      if (found.kind === 'found') return found.trade.amount === order.amount ? found.trade.tradeNo : undefined;
      if (found.kind === 'not_found') return undefined;
    }
    return undefined;
  }

  // ---- payment results --------------------------------------------------------------------------

  /**
   * A payment callback (its signature checked by the caller, unless a decision says not to). Its
   * transition is committed when this returns; delivery is scheduled after it.
   */
  receive(callback: PaymentCallback): CallbackOutcome {
    const { db, decisions } = this.ctx;
    const order = db.get(callback.outTradeNo);
    if (!order) return { kind: 'not_found' };
    if (order.trade_no && callback.tradeNo && order.trade_no !== callback.tradeNo) return { kind: 'trade_mismatch' };
    const result = callback.result;
    if (result.kind === 'paid') {
      const tradeNo = order.trade_no ?? callback.tradeNo;
      if (result.captured !== order.amount && !decisions.acceptAnyPaidAmount) return { kind: 'ok', changed: this.markAmountMismatch(order, tradeNo, result.captured) };
      if (decisions.deliverOnEveryCallback) return { kind: 'ok', changed: this.markPaidAndDeliverRegardless(order, tradeNo) };
      const late = REOPENABLE.includes(order.status) && order.paid_at === null;
      if (late && decisions.ignoreLatePayments) {
        this.ctx.log(`order ${order.id}: payment after the order ended; ignored`);
        return { kind: 'ok', changed: false };
      }
      if (late && decisions.deliverLatePaymentsWithoutReserving) return { kind: 'ok', changed: this.markLatePaymentDelivered(order, tradeNo) };
      const changed = this.markPaid(order, tradeNo);
      if (changed) setImmediate(() => this.ctx.tasks.schedule(order.id));
      else if (decisions.reopenOnRepeatedSuccess) this.reopenDelivered(order.id);
      return { kind: 'ok', changed };
    }
    if (result.kind === 'declined') {
      // A stale decline for a paid order (an earlier attempt of the buyer's) changes nothing.
      const changed = this.markDeclined(order.id, result.reason);
      if (changed) setImmediate(() => this.ctx.tasks.schedule(order.id));
      return { kind: 'ok', changed };
    }
    return { kind: 'ok', changed: false };
  }

  /** A query or close found the trade paid: record it, then deliver. */
  async onPaid(order: OrderRow, tradeNo: string, captured: number): Promise<void> {
    if (this.recordSuccess(order, tradeNo, captured)) await this.fulfilment.deliver(order.id, false);
  }

  /** A verified success found by a query or a close. Returns whether the order is now paid (by this call). */
  recordSuccess(order: OrderRow, tradeNo: string, captured: number): boolean {
    if (captured !== order.amount && !this.ctx.decisions.acceptAnyPaidAmount) {
      this.markAmountMismatch(order, tradeNo, captured);
      return false;
    }
    return this.markPaid(order, tradeNo);
  }

  /** After a close answered that the trade is paid: what it captured (the order's amount when the query fails). */
  async capturedAfterClose(order: OrderRow & { trade_no: string }): Promise<number> {
    const found = await this.ctx.tasks.call(paymentFor(this.ctx, order).queryTrade(order.trade_no));
    if (found.kind !== 'found') return order.amount;
    return found.trade.result.kind === 'paid' ? found.trade.result.captured : found.trade.amount;
  }

  /** A verified decline. Returns whether the order changed (a paid order ignores it). */
  markDeclined(orderId: string, reason: DeclineReason): boolean {
    return this.orders.endUnpaid(orderId, [...UNPAID, 'under_review'], reason, 'payment_failed');
  }

  /** Under `acknowledgeBeforeCommitting`: the callback was acknowledged; its job waits in memory. */
  noteCallbackReceived(orderId: string): void {
    this.ctx.db.update(orderId, UNPAID, { callback_received: 1 });
  }

  /** Under `acknowledgeBeforeCommitting`: the queued job ran (whatever it found). */
  clearCallbackReceived(orderId: string): void {
    const order = this.ctx.db.get(orderId);
    if (order?.callback_received) this.ctx.db.update(orderId, 'any', { callback_received: 0 });
  }

  /** The one transition to `paid` (a late payment reopens an ended order). Returns whether the order changed. */
  private markPaid(order: OrderRow, tradeNo: string): boolean {
    const { db } = this.ctx;
    return db.transaction(() => {
      const current = db.get(order.id);
      // An order paid once is never "paid" again by a repeat (its payment already ran its course).
      if (!current || current.paid_at !== null) return false;
      const now = Date.now();
      const patch: OrderPatch = { status: 'paid', reason: null, trade_no: current.trade_no ?? tradeNo, paid_at: now, attempts: 0, callback_received: 0, next_check_at: now };
      return db.update(order.id, PAYABLE, patch);
    });
  }

  /**
   * A verified success whose amount is not the order's (a tampered payment): no goods; the order
   * fails as `amount_mismatch`, what was captured is refunded, the buyer is told. Returns whether
   * the order changed.
   */
  private markAmountMismatch(order: OrderRow, tradeNo: string, captured: number): boolean {
    const { db, decisions } = this.ctx;
    const changed = db.transaction(() => {
      const current = db.get(order.id);
      if (!current || current.paid_at !== null) return false;
      const now = Date.now();
      const release = current.reservation_state === 'active' && !decisions.leaveReservationsToLapse;
      const ok = db.update(order.id, PAYABLE, {
        status: 'failed',
        reason: 'amount_mismatch',
        trade_no: current.trade_no ?? tradeNo,
        paid_at: now,
        refund_amount: captured,
        refund_due: 1,
        release_pending: release ? 1 : 0,
        attempts: 0,
        callback_received: 0,
        next_check_at: now,
      });
      if (ok) this.notifications.tell({ order: db.get(order.id)!, kind: 'payment_failed', reason: 'amount_mismatch', received: captured });
      return ok;
    });
    if (changed) {
      this.ctx.log(`order ${order.id}: paid ${captured} instead of ${order.amount}; refunding`);
      setImmediate(() => this.ctx.tasks.schedule(order.id));
    }
    return changed;
  }

  /** Decision `reopenOnRepeatedSuccess`: a repeated success sets a delivered order back to paid; nothing picks it up again. */
  private reopenDelivered(orderId: string): void {
    if (this.ctx.db.update(orderId, ['delivered'], { status: 'paid' })) this.ctx.log(`order ${orderId}: repeated success notify; status set to paid again`);
  }

  /** Decision `deliverOnEveryCallback`: no look at what already happened; every copy marks paid and delivers again. */
  private markPaidAndDeliverRegardless(order: OrderRow, tradeNo: string): boolean {
    const { db, tasks } = this.ctx;
    // next_check_at is a crash safety net only; the delivery below clears it long before.
    db.update(order.id, 'any', { status: 'paid', reason: null, trade_no: tradeNo, paid_at: Date.now(), next_check_at: Date.now() + FLAWED_DELIVERY_SAFETY_NET });
    setImmediate(() => {
      if (!tasks.closed) tasks.track(tasks.exclusive(order.id, () => this.fulfilment.deliver(order.id, true)));
    });
    return true;
  }

  /**
   * Decision `deliverLatePaymentsWithoutReserving`: a late success is marked delivered at once; the
   * card issue on the long-gone reservation is tried afterwards and fails, so the order shows no cards.
   */
  private markLatePaymentDelivered(order: OrderRow, tradeNo: string): boolean {
    const { db, stock, tasks } = this.ctx;
    const changed = db.transaction(() => {
      const now = Date.now();
      const ok = db.update(order.id, REOPENABLE, {
        status: 'delivered',
        reason: null,
        trade_no: order.trade_no ?? tradeNo,
        paid_at: now,
        delivered_at: now,
        release_pending: 0,
        attempts: 0,
        next_check_at: null,
      });
      if (ok) this.notifications.tell({ order: db.get(order.id)!, kind: 'delivered', cards: [] });
      return ok;
    });
    const reservationId = order.reservation_id;
    if (changed && reservationId) {
      tasks.track(
        tasks.call(stock.fulfil(reservationId)).then((result) => {
          if (result.kind === 'fulfilled') db.insertCards(order.id, reservationId, result.cards, Date.now());
          else this.ctx.log(`order ${order.id}: late card issue failed: ${result.kind}`);
        }),
      );
    }
    return changed;
  }
}
