/**
 * What every stage says about an order: how the buyer sees it (`GET /orders/:id`, contract v1),
 * and how an unpaid order ends (failed, expired or cancelled), which several stages decide.
 *
 * Decision: `leaveReservationsToLapse` (no-stock-release).
 */
import type { ContractStatus, OrderReason, StoredStatus } from '../db.js';
import type { Card, MessageKind } from '../services.js';
import { paymentFor, type StageContext } from './context.js';
import type { Notifications } from './notifications.js';

/** An order as `GET /orders/:id` shows it (contract v1). */
export interface OrderView {
  orderId: string;
  status: ContractStatus;
  reason?: OrderReason;
  amount: number;
  currency: string;
  updatedAt: string;
  payment?: { tradeNo: string; payUrl: string };
  delivery?: { cards: Card[]; deliveredAt: string };
}

/** The message an unpaid order's end is told with. */
export type EndOfUnpaidKind = Extract<MessageKind, 'payment_failed' | 'expired' | 'cancelled' | 'review_rejected'>;

export class Orders {
  constructor(
    private readonly ctx: StageContext,
    private readonly notifications: Notifications,
  ) {}

  view(orderId: string): OrderView | undefined {
    const order = this.ctx.db.get(orderId);
    if (!order) return undefined;
    const view: OrderView = {
      orderId: order.id,
      // An order whose first status is not decided yet is, to the buyer, waiting for payment.
      status: order.status === 'creating' ? 'pending_payment' : order.status,
      amount: order.amount,
      currency: order.currency,
      updatedAt: new Date(order.updated_at).toISOString(),
    };
    if (order.reason) view.reason = order.reason;
    if (order.trade_no) view.payment = { tradeNo: order.trade_no, payUrl: order.pay_url ?? paymentFor(this.ctx, order).payUrl(order.trade_no) };
    const cards = this.ctx.db.cards(orderId);
    if (cards.length > 0) {
      view.delivery = {
        cards: cards.map((card) => ({ code: card.code, pin: card.pin })),
        deliveredAt: new Date(order.delivered_at ?? cards[0]!.issued_at).toISOString(),
      };
    }
    return view;
  }

  /** The view of an order known to exist. */
  mustView(orderId: string): OrderView {
    const view = this.view(orderId);
    if (!view) throw new Error(`order ${orderId} vanished`);
    return view;
  }

  /**
   * An unpaid order ends: status, reason, the message, and (when a reservation is held) a release
   * marked pending, all in one transaction, so a crash cannot leave the stock held by an ended
   * order without the reconciler knowing. The caller then releases (`Fulfilment.releaseIfPending`).
   * Returns whether the order changed (it may have moved on meanwhile, e.g. paid by a callback).
   */
  endUnpaid(orderId: string, from: readonly StoredStatus[], reason: OrderReason, kind: EndOfUnpaidKind, status: 'failed' | 'expired' | 'cancelled' = 'failed'): boolean {
    const { db, decisions } = this.ctx;
    return db.transaction(() => {
      const order = db.get(orderId);
      if (!order) return false;
      const release = order.reservation_state === 'active' && !decisions.leaveReservationsToLapse;
      const changed = db.update(orderId, from, {
        status,
        reason,
        release_pending: release ? 1 : 0,
        attempts: 0,
        next_check_at: release ? Date.now() : null,
      });
      if (changed) this.notifications.tell({ order: db.get(orderId)!, kind, reason });
      return changed;
    });
  }
}
