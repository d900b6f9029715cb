/**
 * Review: risk screening before payment (contract v1, "Risk screening"), when `ORDEAL_RISK_URL`
 * is set. The trade is created only after approval, so a rejected order never charges the buyer.
 *
 * `review` holds the order `under_review` (no trade yet, never expired meanwhile) and polls the
 * assessment every `reconcileEvery`. Approved: reserve again if the reservation lapsed, create the
 * trade, `pending_payment` (its payment window starts now). Rejected, at once or after review:
 * `failed`/`risk_rejected`, stock released. Screening unreachable after retries:
 * `failed`/`service_unavailable`.
 *
 * Decision: `holdForReviewSilently` (no-review-notice).
 */
import type { OrderRow } from '../db.js';
import { backoff, retryAfterMs } from '../http-client.js';
import type { AssessmentStatus } from '../services.js';
import { CREATE_BUDGET_MS, RESERVATION_GRACE, RETRY_AFTER_CAP, type StageContext } from './context.js';
import type { Fulfilment } from './fulfilment.js';
import type { Notifications } from './notifications.js';
import type { Orders } from './orders.js';
import type { Payment } from './payment.js';

/** Attempts to ask risk screening for a decision before the order fails as `service_unavailable`. */
const RISK_ATTEMPTS = 4;
/** A held reservation with less life left than this is renewed before the trade is created. */
const RESERVATION_MARGIN_MS = 1000;

export class Review {
  constructor(
    private readonly ctx: StageContext,
    private readonly orders: Orders,
    private readonly notifications: Notifications,
    private readonly fulfilment: Fulfilment,
    private readonly payment: Payment,
  ) {}

  /** Whether orders are screened at all. */
  get enabled(): boolean {
    return this.ctx.risk !== undefined;
  }

  /**
   * Asks risk screening about a new order. Returns true to go on (approved); otherwise the order
   * is now `under_review` or failed, and its message is queued.
   */
  async screen(order: OrderRow): Promise<boolean> {
    const { db, decisions, tasks, timers } = this.ctx;
    const risk = this.ctx.risk!;
    const request = {
      orderId: order.id,
      buyer: JSON.parse(order.buyer_json) as unknown,
      amount: order.amount,
      sku: order.sku,
      recipient: { kind: order.recipient_kind, account: order.recipient_account },
    };
    const deadline = order.created_at + CREATE_BUDGET_MS;
    let result = await tasks.call(risk.assess(request));
    for (let attempt = 1; attempt < RISK_ATTEMPTS && result.kind === 'unavailable'; attempt++) {
      const wait = result.retryAfter ? retryAfterMs(result.retryAfter, 500, RETRY_AFTER_CAP) : backoff(attempt - 1, 200, 1500);
      if (!(await tasks.pauseWithin(deadline, wait))) break;
      result = await tasks.call(risk.assess(request));
    }
    if (result.kind !== 'assessed') {
      this.ctx.log(`order ${order.id}: risk screening unavailable: ${result.kind === 'refused' ? result.code : result.detail}`);
      if (this.orders.endUnpaid(order.id, ['creating'], 'service_unavailable', 'payment_failed')) await this.fulfilment.releaseIfPending(order.id);
      return false;
    }
    const assessmentId = result.assessmentId;
    switch (result.decision) {
      case 'approve':
        return db.update(order.id, ['creating'], { assessment_id: assessmentId });
      case 'review':
        db.transaction(() => {
          const now = Date.now();
          if (db.update(order.id, ['creating'], { status: 'under_review', assessment_id: assessmentId, attempts: 0, next_check_at: now + timers.reconcileEvery })) {
            if (!decisions.holdForReviewSilently) this.notifications.tell({ order: db.get(order.id)!, kind: 'under_review' });
          }
        });
        return false;
      case 'reject':
        db.update(order.id, ['creating'], { assessment_id: assessmentId });
        if (this.orders.endUnpaid(order.id, ['creating'], 'risk_rejected', 'review_rejected')) await this.fulfilment.releaseIfPending(order.id);
        return false;
    }
  }

  /** An order held for review: poll the assessment; approved → trade; rejected → failed. */
  async poll(order: OrderRow): Promise<void> {
    const risk = this.ctx.risk;
    // With no screening configured (or no assessment to ask about) there is nobody to wait for: go on.
    let status: AssessmentStatus = 'approved';
    if (risk && order.assessment_id) {
      const result = await this.ctx.tasks.call(risk.status(order.assessment_id));
      if (result.kind === 'found') {
        status = result.status;
      } else {
        this.ctx.log(`order ${order.id}: review status unknown: ${result.kind === 'unavailable' ? result.detail : 'assessment not found'}`);
        status = 'pending';
      }
    }
    if (status === 'rejected') {
      if (this.orders.endUnpaid(order.id, ['under_review'], 'risk_rejected', 'review_rejected')) await this.fulfilment.releaseIfPending(order.id);
      return;
    }
    if (status === 'approved') {
      if (await this.holdStockAfterReview(order.id)) await this.payment.openTrade(order.id, 'under_review', true);
      return;
    }
    this.ctx.db.update(order.id, ['under_review'], { next_check_at: Date.now() + this.ctx.timers.reconcileEvery });
  }

  /** After a long review the reservation may have lapsed: reserve again. Returns whether stock is held. */
  private async holdStockAfterReview(orderId: string): Promise<boolean> {
    const { db, tasks, timers } = this.ctx;
    const order = db.get(orderId)!;
    if (order.reservation_state === 'active' && (order.reservation_expires_at === null || order.reservation_expires_at > Date.now() + RESERVATION_MARGIN_MS)) return true;
    const result = await tasks.call(this.fulfilment.reserve(order));
    if (result.kind === 'reserved') {
      db.update(orderId, ['under_review'], {
        reservation_id: result.reservationId,
        reservation_state: 'active',
        reservation_expires_at: result.expiresAt ?? Date.now() + timers.orderTtl + RESERVATION_GRACE,
      });
      return true;
    }
    if (result.kind === 'sold_out') {
      const restockAt = result.restockAt ?? null;
      db.transaction(() => {
        if (db.update(orderId, ['under_review'], { status: 'failed', reason: 'out_of_stock', restock_at: restockAt, reservation_state: 'expired', next_check_at: null })) {
          this.notifications.tell({ order: db.get(orderId)!, kind: 'out_of_stock', reason: 'out_of_stock', restockAt });
        }
      });
      return false;
    }
    this.ctx.log(`order ${orderId}: reserve after review failed: ${result.kind === 'refused' ? result.code : result.detail}`);
    db.update(orderId, ['under_review'], { next_check_at: Date.now() + timers.reconcileEvery });
    return false;
  }
}
