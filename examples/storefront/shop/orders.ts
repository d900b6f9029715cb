/**
 * Orders: checkout turns a cart into an order (`SF-000123`) with its keys reserved, and every
 * later turn — paid and fulfilled, failed, canceled, refunded — is one transaction that changes
 * the order only from the state it expects, moves the keys and queues the buyer's e-mail. A
 * webhook's event id is recorded in the same transaction, so a redelivery changes nothing.
 *
 * Status words: awaiting_payment → fulfilled (paid, keys delivered); awaiting_payment →
 * payment_failed | canceled; paid = money received but not fulfilled (a refund is due); → refunded.
 */
import { ApiError, notFound } from './api-error.js';
import type { Carts } from './carts.js';
import type { Catalog } from './catalog.js';
import type { Db } from './database.js';
import { queueMail } from './mailer.js';
import { keysDelivered, orderCanceled, orderRefunded, paymentFailed, verificationRequired } from './messages.js';
import type { DeliveredKey, KeyStock } from './stock.js';

export const ORDER_STATUSES = ['awaiting_payment', 'paid', 'fulfilled', 'canceled', 'refunded', 'payment_failed'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export interface OrderRow {
  id: number;
  number: string;
  customer_id: number;
  status: OrderStatus;
  status_reason: string | null;
  currency: string;
  subtotal_cents: number;
  discount_cents: number;
  total_cents: number;
  coupon_code: string | null;
  payment_intent_id: string | null;
  client_secret: string | null;
  amount_received_cents: number | null;
  refund_due_cents: number | null;
  refund_id: string | null;
  created_at: number;
  pay_before: number;
  paid_at: number | null;
  fulfilled_at: number | null;
  closed_at: number | null;
}

interface OrderLine {
  sku: string;
  name: string;
  quantity: number;
  unit_price_cents: number;
}

export interface OrderView {
  number: string;
  status: OrderStatus;
  status_reason: string | null;
  currency: string;
  items: Array<OrderLine & { line_total_cents: number }>;
  coupon: string | null;
  subtotal_cents: number;
  discount_cents: number;
  total_cents: number;
  license_keys: DeliveredKey[];
  payment: {
    provider: 'stripe';
    payment_intent: string | null;
    /** Only while the order can be paid. */
    client_secret: string | null;
    publishable_key: string | null;
    amount_received_cents: number | null;
    refunded_cents: number | null;
  };
  created_at: string;
  pay_before: string;
  paid_at: string | null;
  fulfilled_at: string | null;
  closed_at: string | null;
}

/** A payment the provider reports for an order. */
export interface ReportedPayment {
  intentId: string;
  amountCents: number;
  currency: string;
}

/** Why an order was canceled: its window closed, its buyer canceled it, or its PaymentIntent was canceled at Stripe. */
export type CancelReason = 'payment_window_expired' | 'canceled_by_customer' | 'payment_canceled' | 'verification_timeout';

export type PaymentOutcome = 'fulfilled' | 'refund_due' | 'already_settled' | 'duplicate_event' | 'intent_mismatch' | 'unknown_order';

export interface PaymentPolicy {
  /** The webhook's event id, recorded with the change (undefined: the change came from a query). */
  eventId?: string;
  eventType?: string;
  /** Flaw: fulfil an already fulfilled order again. */
  fulfilAgain: boolean;
  /** Flaw: accept any amount. */
  ignoreAmount: boolean;
}

/** The items of a cart or order, in a form two of them can be compared by. */
const lineKey = (lines: readonly OrderLine[]): string =>
  lines
    .map((line) => `${line.sku}×${line.quantity}`)
    .sort()
    .join(',');
const orderNumberOf = (id: number): string => `SF-${String(id).padStart(6, '0')}`;
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export class Orders {
  constructor(
    private readonly db: Db,
    private readonly catalog: Catalog,
    private readonly carts: Carts,
    private readonly stock: KeyStock,
  ) {}

  /**
   * The cart's order: made now, with its keys reserved and the cart closed — or, for a cart
   * already checked out, the order it became (`created: false`), so a retried checkout is harmless.
   */
  checkout(customerId: number, cartId: string, paymentWindowMs: number): { order: OrderRow; created: boolean } {
    return this.db.transaction(() => {
      const cart = this.carts.row(customerId, cartId);
      if (cart.status === 'checked_out') {
        const existing = this.db.prepare<[string], OrderRow>('SELECT * FROM orders WHERE cart_id = ?').get(cart.id);
        if (existing) return { order: existing, created: false };
      }
      const view = this.carts.view(customerId, cart.id);
      if (view.items.length === 0) throw new ApiError(422, 'cart_empty', 'add an item before checking out');
      const coupon = this.carts.couponOf(customerId, cart.id);
      const problem = coupon && this.catalog.couponProblem(coupon, view.subtotal_cents);
      if (problem) throw problem;
      const now = Date.now();
      // The same customer checking out the same items again while an order for them still waits
      // for payment (a second tab, a back button) gets that order, not a second charge.
      const waiting = this.waitingOrderFor(customerId, view.items, coupon?.code ?? null, now);
      if (waiting) {
        this.db.prepare("UPDATE carts SET status = 'checked_out', updated_at = ? WHERE id = ?").run(now, cart.id);
        return { order: waiting, created: false };
      }
      const id = Number(
        this.db
          .prepare(
            `INSERT INTO orders (customer_id, cart_id, status, currency, subtotal_cents, discount_cents, total_cents, coupon_code, created_at, pay_before, updated_at)
             VALUES (?, ?, 'awaiting_payment', ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(customerId, cart.id, view.currency, view.subtotal_cents, view.discount_cents, view.total_cents, coupon?.code ?? null, now, now + paymentWindowMs, now).lastInsertRowid,
      );
      const number = orderNumberOf(id);
      this.db.prepare('UPDATE orders SET number = ? WHERE id = ?').run(number, id);
      const addLine = this.db.prepare('INSERT INTO order_items (order_id, sku, name, quantity, unit_price_cents) VALUES (?, ?, ?, ?, ?)');
      for (const line of view.items) addLine.run(id, line.sku, line.name, line.quantity, line.unit_price_cents);
      // Thrown inside the transaction: the order, its lines and any keys taken so far roll back.
      if (!this.stock.reserveAll(number, view.items)) throw new ApiError(409, 'out_of_stock', 'not enough license keys left for this cart');
      this.db.prepare("UPDATE carts SET status = 'checked_out', updated_at = ? WHERE id = ?").run(now, cart.id);
      return { order: this.row(number) as OrderRow, created: true };
    })();
  }

  private waitingOrderFor(customerId: number, items: readonly OrderLine[], couponCode: string | null, now: number): OrderRow | undefined {
    const wanted = lineKey(items);
    const candidates = this.db
      .prepare<[number, number], OrderRow>("SELECT * FROM orders WHERE customer_id = ? AND status = 'awaiting_payment' AND pay_before > ? ORDER BY id")
      .all(customerId, now);
    return candidates.find((order) => order.coupon_code === couponCode && lineKey(this.lines(order.id)) === wanted);
  }

  row(number: string): OrderRow | undefined {
    return this.db.prepare<[string], OrderRow>('SELECT * FROM orders WHERE number = ?').get(number);
  }

  /** The customer's own order, else 404 (another customer's order does not exist for them). */
  owned(customerId: number, number: string): OrderRow {
    const order = this.row(number);
    if (!order || order.customer_id !== customerId) throw notFound(`order ${number}`);
    return order;
  }

  listFor(customerId: number): OrderRow[] {
    return this.db.prepare<[number], OrderRow>('SELECT * FROM orders WHERE customer_id = ? ORDER BY id DESC LIMIT 100').all(customerId);
  }

  view(order: OrderRow, publishableKey: string | undefined): OrderView {
    const items = this.lines(order.id).map((line) => ({ ...line, line_total_cents: line.quantity * line.unit_price_cents }));
    const payable = order.status === 'awaiting_payment';
    return {
      number: order.number,
      status: order.status,
      status_reason: order.status_reason,
      currency: order.currency,
      items,
      coupon: order.coupon_code,
      subtotal_cents: order.subtotal_cents,
      discount_cents: order.discount_cents,
      total_cents: order.total_cents,
      license_keys: this.stock.delivered(order.number),
      payment: {
        provider: 'stripe',
        payment_intent: order.payment_intent_id,
        client_secret: payable ? order.client_secret : null,
        publishable_key: payable ? (publishableKey ?? null) : null,
        amount_received_cents: order.amount_received_cents,
        refunded_cents: order.status === 'refunded' ? order.refund_due_cents : null,
      },
      created_at: iso(order.created_at) as string,
      pay_before: iso(order.pay_before) as string,
      paid_at: iso(order.paid_at),
      fulfilled_at: iso(order.fulfilled_at),
      closed_at: iso(order.closed_at),
    };
  }

  attachIntent(number: string, intentId: string, clientSecret: string | null): void {
    this.db.prepare('UPDATE orders SET payment_intent_id = ?, client_secret = ?, updated_at = ? WHERE number = ? AND payment_intent_id IS NULL').run(intentId, clientSecret, Date.now(), number);
  }

  /** Orders waiting for their payment, oldest first. */
  awaitingPayment(limit: number): OrderRow[] {
    return this.db.prepare<[number], OrderRow>("SELECT * FROM orders WHERE status = 'awaiting_payment' ORDER BY id LIMIT ?").all(limit);
  }

  /** Orders whose payment window has closed. */
  overdue(now: number, limit: number): OrderRow[] {
    return this.db.prepare<[number, number], OrderRow>("SELECT * FROM orders WHERE status = 'awaiting_payment' AND pay_before <= ? ORDER BY pay_before LIMIT ?").all(now, limit);
  }

  /** Paid orders whose money must go back. */
  refundsDue(limit: number): OrderRow[] {
    return this.db.prepare<[number], OrderRow>("SELECT * FROM orders WHERE status = 'paid' AND refund_due_cents IS NOT NULL ORDER BY id LIMIT ?").all(limit);
  }

  /** A successful payment: fulfil (or, when it cannot be honoured, take it as paid with a refund due). */
  recordPayment(number: string, payment: ReportedPayment, policy: PaymentPolicy): PaymentOutcome {
    return this.db.transaction((): PaymentOutcome => {
      if (policy.eventId !== undefined && !this.recordEvent(policy.eventId, policy.eventType ?? '', number) && !policy.fulfilAgain) return 'duplicate_event';
      const order = this.row(number);
      if (!order) return 'unknown_order';
      if (order.payment_intent_id !== null && order.payment_intent_id !== payment.intentId) return 'intent_mismatch';
      const amountMatches = policy.ignoreAmount || (payment.amountCents === order.total_cents && payment.currency.toLowerCase() === order.currency);
      switch (order.status) {
        case 'awaiting_payment':
          if (!amountMatches) return this.takeForRefund(order, payment, 'amount_mismatch');
          return this.fulfil(order, payment, null);
        case 'canceled':
        case 'payment_failed':
          // Paid after the shop gave up on it: deliver if the keys are still there, else give the money back.
          if (!amountMatches) return this.takeForRefund(order, payment, 'amount_mismatch');
          if (!this.stock.reserveAll(order.number, this.lines(order.id))) return this.takeForRefund(order, payment, 'out_of_stock');
          return this.fulfil(order, payment, 'paid_after_close');
        case 'fulfilled':
          if (!policy.fulfilAgain || !this.stock.reserveAll(order.number, this.lines(order.id))) return 'already_settled';
          return this.fulfil(order, payment, order.status_reason);
        default:
          return 'already_settled';
      }
    })();
  }

  /** A failed payment attempt: the order fails and its keys go back on sale. */
  recordFailure(number: string, intentId: string, reason: string, event?: { id: string; type: string }): 'failed' | 'already_settled' | 'duplicate_event' | 'unknown_order' {
    return this.db.transaction(() => {
      if (event && !this.recordEvent(event.id, event.type, number)) return 'duplicate_event';
      const order = this.row(number);
      if (!order || (order.payment_intent_id !== null && order.payment_intent_id !== intentId)) return 'unknown_order';
      if (!this.close(order, 'payment_failed', reason)) return 'already_settled';
      queueMail(this.db, paymentFailed(this.recipient(order), reason));
      return 'failed';
    })();
  }

  /**
   * The buyer's bank asks them to confirm the payment: the order still awaits payment, now with the
   * reason `verification_required`, and the buyer is told once what to do.
   */
  markVerificationRequired(number: string): boolean {
    return this.db.transaction(() => {
      const order = this.row(number);
      if (!order) return false;
      const changed = this.db
        .prepare("UPDATE orders SET status_reason = 'verification_required', updated_at = ? WHERE id = ? AND status = 'awaiting_payment' AND status_reason IS NULL")
        .run(Date.now(), order.id).changes;
      if (changed === 0) return false;
      queueMail(this.db, verificationRequired(this.recipient(order), order.pay_before));
      return true;
    })();
  }

  /** Cancels an order still awaiting payment: keys back on sale, the buyer told. False when it had moved on. */
  cancel(number: string, reason: CancelReason): boolean {
    return this.db.transaction(() => {
      const order = this.row(number);
      if (!order || !this.close(order, 'canceled', reason)) return false;
      queueMail(this.db, orderCanceled(this.recipient(order), reason));
      return true;
    })();
  }

  /** The refund due on a paid order went through. */
  markRefunded(number: string, refundId: string): boolean {
    return this.db.transaction(() => {
      const order = this.row(number);
      if (!order || order.status !== 'paid') return false;
      const now = Date.now();
      this.db.prepare("UPDATE orders SET status = 'refunded', refund_id = ?, closed_at = ?, updated_at = ? WHERE id = ? AND status = 'paid'").run(refundId, now, now, order.id);
      queueMail(this.db, orderRefunded(this.recipient(order), order.refund_due_cents ?? 0, order.status_reason ?? 'refund'));
      return true;
    })();
  }

  /** Records a webhook event id; false when it was seen before. */
  private recordEvent(eventId: string, type: string, number: string): boolean {
    return this.db.prepare('INSERT OR IGNORE INTO stripe_events (id, type, order_number, received_at) VALUES (?, ?, ?, ?)').run(eventId, type, number, Date.now()).changes === 1;
  }

  private fulfil(order: OrderRow, payment: ReportedPayment, reason: string | null): PaymentOutcome {
    const now = Date.now();
    this.stock.deliverReserved(order.number);
    this.db
      .prepare(
        `UPDATE orders SET status = 'fulfilled', status_reason = ?, payment_intent_id = ?, amount_received_cents = ?,
           paid_at = COALESCE(paid_at, ?), fulfilled_at = ?, closed_at = NULL, updated_at = ? WHERE id = ?`,
      )
      .run(reason, payment.intentId, payment.amountCents, now, now, now, order.id);
    queueMail(this.db, keysDelivered(this.recipient(order), order.total_cents, this.stock.delivered(order.number)));
    return 'fulfilled';
  }

  private takeForRefund(order: OrderRow, payment: ReportedPayment, reason: 'amount_mismatch' | 'out_of_stock'): PaymentOutcome {
    const now = Date.now();
    this.stock.release(order.number);
    this.db
      .prepare(
        `UPDATE orders SET status = 'paid', status_reason = ?, payment_intent_id = ?, amount_received_cents = ?, refund_due_cents = ?,
           paid_at = ?, closed_at = NULL, updated_at = ? WHERE id = ?`,
      )
      .run(reason, payment.intentId, payment.amountCents, payment.amountCents, now, now, order.id);
    return 'refund_due';
  }

  /** awaiting_payment → `status`, releasing the keys; false when the order was no longer awaiting payment. */
  private close(order: OrderRow, status: 'canceled' | 'payment_failed', reason: string): boolean {
    const now = Date.now();
    const changed = this.db
      .prepare("UPDATE orders SET status = ?, status_reason = ?, closed_at = ?, updated_at = ? WHERE id = ? AND status = 'awaiting_payment'")
      .run(status, reason, now, now, order.id).changes;
    if (changed === 0) return false;
    this.stock.release(order.number);
    return true;
  }

  private lines(orderId: number): OrderLine[] {
    return this.db.prepare<[number], OrderLine>('SELECT sku, name, quantity, unit_price_cents FROM order_items WHERE order_id = ? ORDER BY rowid').all(orderId);
  }

  private recipient(order: OrderRow): { orderNumber: string; to: string; name: string } {
    const customer = this.db.prepare<[number], { email: string; name: string }>('SELECT email, name FROM customers WHERE id = ?').get(order.customer_id);
    return { orderNumber: order.number, to: customer?.email ?? '', name: customer?.name ?? 'there' };
  }
}
