/**
 * Intake: the buyer's requests — `POST /orders` once validated (`../validation.ts`), and
 * `POST /orders/:id/cancel`.
 *
 * Placing an order: de-duplicate, reserve stock, screen (`review.ts`), create the trade
 * (`payment.ts`), and answer with the first status. De-duplication is by `Idempotency-Key` (the
 * same body: the same order, waiting for a request still running; another body: `key_reused`) and
 * by buying intent: one charge per intent, whatever the key. Another request for the same buyer,
 * SKU, quantity, recipient and coupon while the first order is still open and younger than
 * `orderTtl` gets the first order — two browser windows or a refresh make one purchase.
 *
 * The order row is written (`creating`) before any call goes out, with a `next_check_at`: a crash
 * mid-creation is finished by the reconciler, and a retried request finds the same order.
 *
 * Decision: `treatEverySubmitAsNew` (no-idempotency-key).
 */
import { createHash, randomBytes } from 'node:crypto';
import { backoff } from '../http-client.js';
import { ShuttingDown } from '../tasks.js';
import { canonicalJson, type OrderRequest } from '../validation.js';
import { CANCELLABLE, CREATE_BUDGET_MS, paymentFor, RESERVATION_GRACE, type StageContext } from './context.js';
import type { Fulfilment } from './fulfilment.js';
import type { Notifications } from './notifications.js';
import type { OrderView, Orders } from './orders.js';
import type { Payment } from './payment.js';
import type { Review } from './review.js';

export type CreateOutcome =
  | { kind: 'created'; view: OrderView }
  /** The same Idempotency-Key and body: the first order. */
  | { kind: 'replayed'; view: OrderView }
  /** Another request for the same buying intent while the first order is open: the first order. */
  | { kind: 'same_intent'; view: OrderView }
  | { kind: 'key_reused'; orderId: string };

export type CancelOutcome =
  | { kind: 'cancelled'; view: OrderView }
  | { kind: 'not_found' }
  | { kind: 'not_cancellable'; view: OrderView }
  | { kind: 'unavailable'; message: string };

/** Attempts of a call the buyer waits for (reserve at creation, close at cancel): 1 + 2 retries. */
const BUYER_CALL_ATTEMPTS = 3;
/** A `creating` order not finished by its request (crash) is resumed this long after creation. */
export const CREATE_RESUME_AFTER = 5000;

export function newOrderId(): string {
  return `ord_${randomBytes(16).toString('base64url')}`;
}

export function requestHash(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

/** The buying intent: who buys what for whom. Two open orders with one intent are one purchase. */
export function intentHash(request: OrderRequest): string {
  return requestHash({
    buyer: request.buyer.id,
    sku: request.sku.sku,
    quantity: request.quantity,
    recipient: { kind: request.recipient.kind, account: request.recipient.account },
    coupon: request.coupon ?? null,
  });
}

export class Intake {
  constructor(
    private readonly ctx: StageContext,
    private readonly orders: Orders,
    private readonly notifications: Notifications,
    private readonly fulfilment: Fulfilment,
    private readonly review: Review,
    private readonly payment: Payment,
  ) {}

  /** `POST /orders` after validation: the order this request stands for, with its first status decided. */
  async place(request: OrderRequest, idempotency?: { key: string; body: unknown }): Promise<CreateOutcome> {
    const { db, tasks } = this.ctx;
    if (tasks.closed) throw new ShuttingDown();
    const dedupe = !this.ctx.decisions.treatEverySubmitAsNew;
    const key = dedupe ? idempotency : undefined;
    const now = Date.now();
    const orderId = newOrderId();
    const inserted = db.insertOrder(
      {
        id: orderId,
        status: 'creating',
        reason: null,
        sku: request.sku.sku,
        sku_name: request.sku.name,
        quantity: request.quantity,
        unit_price: request.sku.price,
        discount: request.discount,
        amount: request.amount,
        currency: request.sku.currency,
        coupon: request.coupon ?? null,
        recipient_kind: request.recipient.kind,
        recipient_account: request.recipient.account,
        buyer_id: request.buyer.id,
        contact: request.buyer.contact,
        buyer_region: request.buyer.region ?? null,
        buyer_json: JSON.stringify(request.buyer),
        payment_method: request.paymentMethod,
        trade_no: null,
        pay_url: null,
        reservation_id: null,
        reservation_state: 'none',
        reservation_expires_at: null,
        release_pending: 0,
        restock_at: null,
        refund_reason: null,
        attempts: 0,
        assessment_id: null,
        expires_at: null,
        intent_hash: dedupe ? intentHash(request) : null,
        refund_amount: null,
        refund_due: 0,
        callback_received: 0,
        next_check_at: now + CREATE_RESUME_AFTER,
        created_at: now,
        paid_at: null,
        delivered_at: null,
      },
      key ? { key: key.key, requestHash: requestHash(key.body) } : undefined,
      dedupe ? { since: now - this.ctx.timers.orderTtl } : undefined,
    );
    if (inserted.kind === 'existing' || inserted.kind === 'same_intent') {
      if (inserted.kind === 'existing' && !inserted.sameRequest) return { kind: 'key_reused', orderId: inserted.orderId };
      // Wait for the first request's task; finish the creation if nobody is running it (crash).
      await tasks.exclusive(inserted.orderId, async () => {
        if (db.get(inserted.orderId)?.status === 'creating') await this.create(inserted.orderId);
      });
      return { kind: inserted.kind === 'existing' ? 'replayed' : 'same_intent', view: this.orders.mustView(inserted.orderId) };
    }
    await tasks.exclusive(orderId, () => this.create(orderId, false));
    return { kind: 'created', view: this.orders.mustView(orderId) };
  }

  /** Reserve, screen, then create the trade, and decide the first status. Safe to run again (resume). */
  async create(orderId: string, resumed = true): Promise<void> {
    const { db, tasks, timers } = this.ctx;
    let order = db.get(orderId);
    if (!order || order.status !== 'creating') return;

    if (order.reservation_state !== 'active') {
      const deadline = order.created_at + CREATE_BUDGET_MS;
      let result = await tasks.call(this.fulfilment.reserve(order));
      for (let attempt = 1; attempt < BUYER_CALL_ATTEMPTS && (result.kind === 'unavailable' || result.kind === 'refused'); attempt++) {
        if (!(await tasks.pauseWithin(deadline, backoff(attempt - 1, 150, 1000)))) break;
        result = await tasks.call(this.fulfilment.reserve(order));
      }
      if (result.kind === 'sold_out') {
        const restockAt = result.restockAt ?? null;
        db.transaction(() => {
          if (db.update(orderId, ['creating'], { status: 'failed', reason: 'out_of_stock', restock_at: restockAt, next_check_at: null })) {
            this.notifications.tell({ order: db.get(orderId)!, kind: 'out_of_stock', reason: 'out_of_stock', restockAt });
          }
        });
        return;
      }
      if (result.kind !== 'reserved') {
        this.ctx.log(`order ${orderId}: stock supplier unavailable: ${result.kind === 'refused' ? result.code : result.detail}`);
        // Nothing is held (a reservation whose answer was lost lapses by its TTL), nothing charged.
        this.orders.endUnpaid(orderId, ['creating'], 'service_unavailable', 'payment_failed');
        return;
      }
      db.update(orderId, ['creating'], {
        reservation_id: result.reservationId,
        reservation_state: 'active',
        reservation_expires_at: result.expiresAt ?? order.created_at + timers.orderTtl + RESERVATION_GRACE,
      });
      order = db.get(orderId)!;
    }

    // An order still `creating` with an assessment was approved (review and reject change the status).
    if (this.review.enabled && !order.assessment_id) {
      if (!(await this.review.screen(order))) return;
    }

    await this.payment.openTrade(orderId, 'creating', resumed);
  }

  /** `POST /orders/:id/cancel`: close the trade first, so a payment that beat the buyer is not lost. */
  async cancel(orderId: string): Promise<CancelOutcome> {
    const { db, tasks } = this.ctx;
    if (tasks.closed) throw new ShuttingDown();
    if (!db.get(orderId)) return { kind: 'not_found' };
    let paidMeanwhile = false;
    const outcome = await tasks.exclusive(orderId, async (): Promise<CancelOutcome> => {
      const order = db.get(orderId)!;
      if (!CANCELLABLE.includes(order.status)) return { kind: 'not_cancellable', view: this.orders.mustView(orderId) };
      const tradeNo = order.trade_no;
      const payment = paymentFor(this.ctx, order);
      if (tradeNo) {
        let result = await tasks.call(payment.closeTrade(tradeNo));
        for (let attempt = 1; attempt < BUYER_CALL_ATTEMPTS && result.kind === 'unavailable'; attempt++) {
          await tasks.pause(backoff(attempt - 1, 150, 1000));
          result = await tasks.call(payment.closeTrade(tradeNo));
        }
        if (result.kind === 'has_success') {
          const captured = await this.payment.capturedAfterClose({ ...order, trade_no: tradeNo });
          paidMeanwhile = this.payment.recordSuccess(order, tradeNo, captured);
          return { kind: 'not_cancellable', view: this.orders.mustView(orderId) };
        }
        if (result.kind === 'unavailable' || result.kind === 'refused') {
          return { kind: 'unavailable', message: `the payment provider could not close the trade (${result.kind === 'refused' ? result.code : result.detail}); try again` };
        }
      }
      if (!this.orders.endUnpaid(orderId, CANCELLABLE, 'cancelled_by_buyer', 'cancelled', 'cancelled')) {
        return { kind: 'not_cancellable', view: this.orders.mustView(orderId) };
      }
      await this.fulfilment.releaseIfPending(orderId);
      return { kind: 'cancelled', view: this.orders.mustView(orderId) };
    });
    // Delivery runs after the buyer has the answer, as its own task.
    if (paidMeanwhile) tasks.schedule(orderId);
    return outcome;
  }
}
