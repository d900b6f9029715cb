/**
 * Fulfilment: holding stock for an order (reserve, release) and delivering its cards once paid.
 *
 * Delivery fulfils the order's reservation, reserving again when it lapsed (a late payment, a
 * long review). A fulfil answered SOLD_OUT gives that reservation back and reserves once more —
 * the supplier may have stock under another reservation — before the order is refunded as
 * `out_of_stock`. 5xx and lost answers are retried with backoff (`DELIVERY_ATTEMPTS`, about 10 s),
 * then the order is refunded as `delivery_failed`: a paid order of the resilient shop ends with
 * its cards or its money back.
 *
 * Decisions: `deliverFromLocalStockpile` (no-reservation), `markDeliveredWhenIssueFails`
 * (sold-out-marked-delivered), `failInsteadOfRefunding` (no-refund), `announceDeliveryBeforeIssuing`
 * (announce-delivery-early).
 */
import type { OrderRow } from '../db.js';
import { backoff } from '../http-client.js';
import type { Card, ReserveResult } from '../services.js';
import { DELIVERING, FINAL, RESERVATION_GRACE, type StageContext } from './context.js';
import type { Notifications } from './notifications.js';
import type { Refunds } from './refunds.js';
import type { Stockpile } from './stockpile.js';

/** Failed fulfil attempts (5xx, timeouts) before the order is refunded as `delivery_failed`. */
const DELIVERY_ATTEMPTS = 8;
/** Reservations tried per delivery before a lapsing one counts as a failed attempt. */
const DELIVERY_ROUNDS = 3;

export class Fulfilment {
  constructor(
    private readonly ctx: StageContext,
    private readonly notifications: Notifications,
    private readonly refunds: Refunds,
    private readonly stockpile: Stockpile,
  ) {}

  /** Asks the supplier to hold the order's cards for a little longer than its payment window. */
  reserve(order: OrderRow): Promise<ReserveResult> {
    return this.ctx.stock.reserve({
      sku: order.sku,
      quantity: order.quantity,
      orderId: order.id,
      ttlMs: Math.round(this.ctx.timers.orderTtl + RESERVATION_GRACE),
      buyerId: order.buyer_id,
    });
  }

  /** Gives the reservation back to the supplier when a release is pending; retried by the reconciler. */
  async releaseIfPending(orderId: string): Promise<void> {
    const { db, stock, tasks } = this.ctx;
    const order = db.get(orderId);
    if (!order) return;
    if (!order.release_pending || !order.reservation_id || order.reservation_state !== 'active') {
      if (order.release_pending) db.update(orderId, 'any', { release_pending: 0 });
      this.clearCheckIfIdle(orderId);
      return;
    }
    const result = await tasks.call(stock.release(order.reservation_id));
    const now = Date.now();
    if (result.kind === 'released') {
      db.update(orderId, 'any', { release_pending: 0, reservation_state: 'released' });
      this.clearCheckIfIdle(orderId);
    } else if (order.reservation_expires_at !== null && now > order.reservation_expires_at) {
      // The supplier has let it go by itself.
      db.update(orderId, 'any', { release_pending: 0, reservation_state: 'expired' });
      this.clearCheckIfIdle(orderId);
    } else {
      this.ctx.log(`order ${orderId}: release failed: ${result.detail}`);
      const current = db.get(orderId)!;
      // Orders with work of their own (refund, delivery) keep their schedule; final ones retry the release.
      if (current.status !== 'refund_pending' && !DELIVERING.includes(current.status)) {
        db.update(orderId, [current.status], { attempts: current.attempts + 1, next_check_at: now + backoff(current.attempts, 250, 5000) });
      }
    }
  }

  /** Final orders with nothing pending (no release, no refund owed) need no more checks. */
  private clearCheckIfIdle(orderId: string): void {
    const order = this.ctx.db.get(orderId);
    if (!order || order.refund_due || order.release_pending) return;
    this.ctx.db.update(orderId, FINAL, { next_check_at: null, attempts: 0 });
  }

  /**
   * Issues the cards of a paid order. `force` is the path of the decision `deliverOnEveryCallback`
   * (no-idempotent-callbacks): no check of the current status, and a reservation already fulfilled
   * is replaced by a new one.
   */
  async deliver(orderId: string, force: boolean): Promise<void> {
    const { db, decisions, stock, tasks } = this.ctx;
    if (!db.update(orderId, force ? 'any' : DELIVERING, { status: 'fulfilling' })) return;
    if (decisions.announceDeliveryBeforeIssuing) this.notifications.tell({ order: db.get(orderId)!, kind: 'delivered', cards: [], messageKey: `${orderId}:delivered:announced` });
    if (decisions.deliverFromLocalStockpile) {
      const order = db.get(orderId)!;
      const taken = await this.stockpile.take(order);
      if (taken.kind === 'short') {
        await this.cannotFulfil(orderId, 'out_of_stock', taken.restockAt, force);
        return;
      }
      this.completeDelivery(orderId, `local-${orderId}`, taken.cards, force);
      this.stockpile.topUpIfLow(order.sku);
      return;
    }
    let soldOutOnce = false;
    for (let round = 0; round < DELIVERY_ROUNDS; round++) {
      const order = db.get(orderId)!;
      let reservationId = order.reservation_state === 'active' ? order.reservation_id : null;
      if (reservationId && order.release_pending) db.update(orderId, 'any', { release_pending: 0 });
      if (!reservationId) {
        const reserved = await tasks.call(this.reserve(order));
        if (reserved.kind === 'sold_out') {
          const restockAt = reserved.restockAt ?? (await tasks.call(stock.restockAt(order.sku)));
          await this.cannotFulfil(orderId, 'out_of_stock', restockAt ?? null, force);
          return;
        }
        if (reserved.kind !== 'reserved') {
          await this.failedAttempt(orderId, reserved.kind === 'refused' ? reserved.code : reserved.detail, force);
          return;
        }
        reservationId = reserved.reservationId;
        db.update(orderId, 'any', {
          reservation_id: reservationId,
          reservation_state: 'active',
          reservation_expires_at: reserved.expiresAt ?? Date.now() + this.ctx.timers.orderTtl + RESERVATION_GRACE,
          release_pending: 0,
        });
      }
      const result = await tasks.call(stock.fulfil(reservationId));
      switch (result.kind) {
        case 'fulfilled':
          this.completeDelivery(orderId, reservationId, result.cards, force);
          return;
        case 'expired':
        case 'not_found':
          if (decisions.markDeliveredWhenIssueFails) {
            this.markDeliveredWithoutCards(orderId, force);
            return;
          }
          db.update(orderId, 'any', { reservation_state: 'expired' });
          continue;
        case 'sold_out': {
          if (decisions.markDeliveredWhenIssueFails) {
            this.markDeliveredWithoutCards(orderId, force);
            return;
          }
          if (!soldOutOnce) {
            // Give this reservation back and reserve once more: the supplier may still have stock.
            soldOutOnce = true;
            const released = await tasks.call(stock.release(reservationId));
            if (released.kind !== 'released') {
              await this.failedAttempt(orderId, `release after SOLD_OUT: ${released.detail}`, force);
              return;
            }
            db.update(orderId, 'any', { reservation_state: 'released', release_pending: 0 });
            continue;
          }
          const restockAt = result.restockAt ?? (await tasks.call(stock.restockAt(order.sku)));
          await this.cannotFulfil(orderId, 'out_of_stock', restockAt ?? null, force);
          return;
        }
        case 'refused':
          await this.failedAttempt(orderId, result.code, force);
          return;
        case 'unavailable':
          await this.failedAttempt(orderId, result.detail, force);
          return;
      }
    }
    await this.failedAttempt(orderId, 'reservation kept expiring', force);
  }

  private completeDelivery(orderId: string, reservationId: string, cards: Card[], force: boolean): void {
    const { db } = this.ctx;
    db.transaction(() => {
      const earlierSets = db.cardSets(orderId);
      const now = Date.now();
      db.insertCards(orderId, reservationId, cards, now);
      const order = db.get(orderId)!;
      db.update(orderId, force ? 'any' : ['fulfilling', 'paid'], {
        status: 'delivered',
        reason: null,
        // Cards from the local stockpile leave the order's own reservation to lapse.
        reservation_state: order.reservation_id === reservationId ? 'fulfilled' : order.reservation_state,
        release_pending: 0,
        delivered_at: now,
        attempts: 0,
        next_check_at: null,
      });
      // A second card set only happens under `deliverOnEveryCallback`: it gets its own message.
      const messageKey = earlierSets === 0 ? `${orderId}:delivered` : `${orderId}:delivered:${earlierSets + 1}`;
      this.notifications.tell({ order: db.get(orderId)!, kind: 'delivered', cards, messageKey });
    });
  }

  /** Decision `markDeliveredWhenIssueFails`: card issue failed, the order says delivered anyway. */
  private markDeliveredWithoutCards(orderId: string, force: boolean): void {
    const { db } = this.ctx;
    db.transaction(() => {
      const now = Date.now();
      if (db.update(orderId, force ? 'any' : ['fulfilling', 'paid'], { status: 'delivered', reason: null, release_pending: 0, delivered_at: now, attempts: 0, next_check_at: null })) {
        this.notifications.tell({ order: db.get(orderId)!, kind: 'delivered', cards: [] });
      }
    });
  }

  private async failedAttempt(orderId: string, detail: string, force: boolean): Promise<void> {
    const { db } = this.ctx;
    const order = db.get(orderId)!;
    const attempts = order.attempts + 1;
    this.ctx.log(`order ${orderId}: delivery attempt ${attempts} failed: ${detail}`);
    if (attempts >= DELIVERY_ATTEMPTS) {
      await this.cannotFulfil(orderId, 'delivery_failed', order.restock_at, force);
      return;
    }
    db.update(orderId, force ? 'any' : ['fulfilling'], { status: 'fulfilling', attempts, next_check_at: Date.now() + backoff(attempts - 1, 250, 2000) });
  }

  /** A paid order that cannot get its cards: refund it. */
  private async cannotFulfil(orderId: string, reason: 'out_of_stock' | 'delivery_failed', restockAt: string | null, force: boolean): Promise<void> {
    const { db, decisions } = this.ctx;
    const from = force ? 'any' : DELIVERING;
    if (reason === 'out_of_stock' && decisions.markDeliveredWhenIssueFails) {
      this.markDeliveredWithoutCards(orderId, force);
      return;
    }
    const order = db.get(orderId)!;
    const release = order.reservation_state === 'active' ? 1 : 0;
    if (decisions.failInsteadOfRefunding) {
      db.transaction(() => {
        if (db.update(orderId, from, { status: 'failed', reason, restock_at: restockAt, release_pending: release, attempts: 0, next_check_at: release ? Date.now() : null })) {
          this.notifications.tell({ order: db.get(orderId)!, kind: 'out_of_stock', reason: 'out_of_stock', restockAt });
        }
      });
      await this.releaseIfPending(orderId);
      return;
    }
    if (!db.update(orderId, from, { status: 'refund_pending', refund_reason: reason, restock_at: restockAt, release_pending: release, attempts: 0, next_check_at: Date.now() })) return;
    await this.releaseIfPending(orderId);
    await this.refunds.refund(orderId);
  }
}
