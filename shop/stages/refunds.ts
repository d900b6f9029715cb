/**
 * Refunds (payment stage): giving back what was captured for an order that cannot be delivered,
 * or for a payment of the wrong amount.
 *
 * Every refund of an order uses the one refund number `<orderId>-r1`, so the provider's
 * idempotency by refund number makes a retry after a lost answer harmless: the buyer is refunded
 * once, however often the shop asks.
 */
import { backoff } from '../http-client.js';
import { paymentFor, type StageContext } from './context.js';
import type { Notifications } from './notifications.js';

export class Refunds {
  constructor(
    private readonly ctx: StageContext,
    private readonly notifications: Notifications,
  ) {}

  /**
   * Refunds the order: a `refund_pending` order ends `refunded`; an order that owes a refund but
   * keeps its status (`failed`/`amount_mismatch`) just settles it. Retried with backoff until the
   * provider confirms.
   */
  async refund(orderId: string): Promise<void> {
    const { db, tasks } = this.ctx;
    const order = db.get(orderId);
    if (!order || (order.status !== 'refund_pending' && !order.refund_due)) return;
    const payment = paymentFor(this.ctx, order);
    const amount = order.refund_amount ?? order.amount;
    let tradeNo = order.trade_no;
    let done = false;
    let detail = '';
    if (!tradeNo) {
      const found = await tasks.call(payment.queryByOutTradeNo(orderId));
      if (found.kind === 'found') {
        tradeNo = found.trade.tradeNo;
        db.update(orderId, 'any', { trade_no: tradeNo });
      } else {
        detail = found.kind === 'unavailable' ? found.detail : 'no trade for this order';
      }
    }
    if (tradeNo) {
      const result = await tasks.call(payment.refund(tradeNo, `${orderId}-r1`, amount));
      if (result.kind === 'refunded') {
        done = true;
      } else if (result.kind === 'exceeds_paid') {
        // Already refunded (an earlier attempt whose answer was lost)? The trade's total says.
        const found = await tasks.call(payment.queryTrade(tradeNo));
        done = found.kind === 'found' && found.trade.refunded >= amount;
        detail = 'REFUND_EXCEEDS_PAID';
      } else {
        detail = result.kind === 'refused' ? result.code : result.detail;
      }
    }
    if (done) {
      db.transaction(() => {
        const current = db.get(orderId)!;
        const next = current.release_pending ? Date.now() : null;
        if (current.status === 'refund_pending') {
          const reason = order.refund_reason ?? 'out_of_stock';
          if (db.update(orderId, ['refund_pending'], { status: 'refunded', reason, attempts: 0, next_check_at: next })) {
            this.notifications.tell({ order: db.get(orderId)!, kind: 'refunded', reason, restockAt: order.restock_at });
          }
        } else if (current.refund_due) {
          db.update(orderId, [current.status], { refund_due: 0, attempts: 0, next_check_at: next });
          this.notifications.tell({ order: db.get(orderId)!, kind: 'refunded', ...(current.reason ? { reason: current.reason } : {}) });
        }
      });
      return;
    }
    this.ctx.log(`order ${orderId}: refund attempt ${order.attempts + 1} failed: ${detail}`);
    db.update(orderId, [order.status], { attempts: order.attempts + 1, next_check_at: Date.now() + backoff(order.attempts, 250, 5000) });
  }
}
