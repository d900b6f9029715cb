/**
 * The order pipeline: create (reserve → trade), payment results (callback or query), delivery,
 * refund, expiry, cancel, and the outbox of buyer messages.
 *
 * Every order is advanced by one task at a time (`KeyedLock`). Its state lives in the DB with a
 * `next_check_at`; the reconciler loop picks up whatever is due, so retries, timers and work left
 * half-done by a crash all go through the same `step()`. State changes are compare-and-set
 * updates (`ShopDb.update` with the statuses they may start from), each in a transaction with the
 * message it queues.
 *
 * Flaws are consulted at the decision points below (`this.flaws.has(...)`), nowhere else.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ShopCatalog, ShopTimers } from './config.js';
import type { ContractStatus, OrderPatch, OrderReason, OrderRow, ShopDb, StoredStatus } from './db.js';
import type { FlawSet } from './flaws.js';
import { backoff, retryAfterMs, sleep } from './http-client.js';
import { KeyedLock } from './keyed-lock.js';
import { buildMessage, FAILURE_KINDS, type MessageContext } from './messages.js';
import type { Card, NotifyClient, OutgoingMessage, PaymentClient, StockClient, Unavailable } from './services.js';
import { canonicalJson, type OrderRequest } from './validation.js';

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

export type CreateOutcome =
  | { kind: 'created'; view: OrderView }
  | { kind: 'replayed'; view: OrderView }
  | { kind: 'key_reused'; orderId: string };

export type CancelOutcome =
  | { kind: 'cancelled'; view: OrderView }
  | { kind: 'not_found' }
  | { kind: 'not_cancellable'; view: OrderView }
  | { kind: 'unavailable'; message: string };

/** The callback (or query) said the trade succeeded. */
export interface PaymentSuccess {
  tradeNo: string;
  amount: number;
}

export type CallbackOutcome =
  | { kind: 'ok'; changed: boolean }
  | { kind: 'not_found' }
  | { kind: 'amount_mismatch'; expected: number; got: number }
  | { kind: 'trade_mismatch' };

export interface PipelineOptions {
  db: ShopDb;
  flaws: FlawSet;
  timers: ShopTimers;
  catalog: ShopCatalog;
  payment: PaymentClient;
  stock: StockClient;
  notify: NotifyClient;
  /** Base URL of the payment provider (for a cashier link when the provider gave none). */
  paymentUrl: string;
  /** The callback URL handed to the provider; known once the server listens. */
  callbackUrl: () => string;
  /** Aborted when the shop closes. */
  signal: AbortSignal;
  log: (line: string) => void;
  /** Reconciler scan interval (ms). */
  scanEvery: number;
}

/** Thrown inside tasks when the shop is closing: the order stays as it is and resumes on restart. */
export class ShuttingDown extends Error {
  constructor() {
    super('the shop is shutting down');
    this.name = 'ShuttingDown';
  }
}

/** Statuses in which the order waits for the buyer to pay. */
const UNPAID: readonly StoredStatus[] = ['pending_payment', 'awaiting_verification'];
/** Statuses a verified payment moves on to `paid` (the last three: a late payment). */
const PAYABLE: readonly StoredStatus[] = ['creating', 'pending_payment', 'awaiting_verification', 'under_review', 'expired', 'failed', 'cancelled'];
const CANCELLABLE: readonly StoredStatus[] = ['pending_payment', 'awaiting_verification', 'under_review'];
const DELIVERING: readonly StoredStatus[] = ['paid', 'fulfilling'];

/** Attempts for a create-time call to the stock supplier or the provider (1 + 2 retries). */
const CREATE_ATTEMPTS = 3;
/** Failed fulfil attempts (5xx, timeouts) before the order is refunded as `delivery_failed`. */
const DELIVERY_ATTEMPTS = 5;
/** Attempts to hand a message to the gateway. */
const MESSAGE_ATTEMPTS = 10;
/** A `creating` order not finished by its request (crash) is resumed this long after creation. */
const CREATE_RESUME_AFTER = 5000;
/** At most this many order tasks started by the reconciler at once. */
const MAX_SCAN_TASKS = 64;
/** Under `no-idempotent-callbacks`, a paid order is re-checked this late if its delivery never ran (crash). */
const FLAWED_DELIVERY_SAFETY_NET = 10_000;
/** Extra life of a reservation beyond the order's TTL. */
const RESERVATION_GRACE = 5000;

function payFailReason(failCode: string | undefined): OrderReason {
  switch (failCode) {
    case 'LIMIT_SINGLE':
    case 'LIMIT_DAILY':
      return 'payment_limit';
    case 'CROSS_BORDER_BLOCKED':
      return 'cross_border_blocked';
    case 'VERIFICATION_TIMEOUT':
      return 'verification_timeout';
    default:
      return 'payment_declined';
  }
}

function createRefusalReason(code: string): OrderReason | undefined {
  switch (code) {
    case 'LIMIT_SINGLE':
    case 'LIMIT_DAILY':
      return 'payment_limit';
    case 'CROSS_BORDER_BLOCKED':
      return 'cross_border_blocked';
    case 'DECLINED':
      return 'payment_declined';
    default:
      return undefined;
  }
}

export function newOrderId(): string {
  return `ord_${randomBytes(16).toString('base64url')}`;
}

export function requestHash(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

export class Pipeline {
  private readonly db: ShopDb;
  private readonly flaws: FlawSet;
  private readonly timers: ShopTimers;
  private readonly locks = new KeyedLock();
  /** Orders whose state changed while their task ran: step them again before letting go. */
  private readonly rerun = new Set<string>();
  private readonly sending = new Set<number>();
  private readonly background = new Set<Promise<unknown>>();
  private scanTimer: NodeJS.Timeout | undefined;
  private outboxKick: NodeJS.Immediate | undefined;
  private closed = false;

  constructor(private readonly options: PipelineOptions) {
    this.db = options.db;
    this.flaws = options.flaws;
    this.timers = options.timers;
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  start(): void {
    // Whatever was in flight when the last process stopped (or crashed) is looked at again now.
    const resumed = this.db.recheckUnfinished(Date.now());
    if (resumed > 0) this.options.log(`resuming ${resumed} unfinished orders`);
    this.scanTimer = setInterval(() => this.scan(), this.options.scanEvery);
    this.scanTimer.unref();
    this.scan();
  }

  /** Stops the loops and waits for running tasks (their network calls are aborted). */
  async stop(): Promise<void> {
    this.closed = true;
    if (this.scanTimer) clearInterval(this.scanTimer);
    if (this.outboxKick) clearImmediate(this.outboxKick);
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
    await this.locks.idle();
  }

  private track<T>(promise: Promise<T>): void {
    const tracked = promise.catch((error: unknown) => {
      if (!(error instanceof ShuttingDown)) this.options.log(`task failed: ${(error as Error).stack ?? String(error)}`);
    });
    this.background.add(tracked);
    void tracked.finally(() => this.background.delete(tracked));
  }

  /** Awaits a dependency call; when the shop closed meanwhile, abandons the task. */
  private async call<T>(promise: Promise<T>): Promise<T> {
    if (this.closed) throw new ShuttingDown();
    const result = await promise;
    if (this.closed) throw new ShuttingDown();
    return result;
  }

  private async pause(ms: number): Promise<void> {
    await sleep(ms, this.options.signal);
    if (this.closed) throw new ShuttingDown();
  }

  /** Runs `task` as the order's only task, then any step requested meanwhile. */
  private exclusive<T>(orderId: string, task: () => Promise<T>): Promise<T> {
    return this.locks.run(orderId, async () => {
      try {
        return await task();
      } finally {
        while (!this.closed && this.rerun.delete(orderId)) {
          await this.step(orderId).catch((error: unknown) => {
            if (!(error instanceof ShuttingDown)) this.options.log(`step ${orderId} failed: ${(error as Error).stack ?? String(error)}`);
          });
        }
      }
    });
  }

  /** Asks for the order to be advanced now (or right after its running task). */
  schedule(orderId: string): void {
    if (this.closed) return;
    if (this.locks.busy(orderId)) {
      this.rerun.add(orderId);
      return;
    }
    this.track(this.exclusive(orderId, () => this.step(orderId)));
  }

  /** The reconciler: every `scanEvery`, start the due orders and the due messages. */
  private scan(): void {
    if (this.closed) return;
    try {
      const now = Date.now();
      const room = MAX_SCAN_TASKS - this.locks.size;
      if (room > 0) {
        for (const orderId of this.db.dueOrders(now, room * 2)) {
          if (this.locks.size >= MAX_SCAN_TASKS) break;
          if (!this.locks.busy(orderId)) this.track(this.exclusive(orderId, () => this.step(orderId)));
        }
      }
      this.sendDueMessages();
    } catch (error) {
      this.options.log(`scan failed: ${(error as Error).stack ?? String(error)}`);
    }
  }

  /** Advances one order according to its stored state, if its `next_check_at` has come. */
  private async step(orderId: string): Promise<void> {
    const order = this.db.get(orderId);
    if (!order || order.next_check_at === null || order.next_check_at > Date.now()) return;
    switch (order.status) {
      case 'creating':
        await this.runCreate(orderId);
        return;
      case 'pending_payment':
      case 'awaiting_verification':
        await this.checkPayment(order);
        return;
      case 'paid':
      case 'fulfilling':
        await this.deliver(orderId, false);
        return;
      case 'refund_pending':
        await this.releaseIfPending(orderId);
        await this.refund(orderId);
        return;
      default:
        await this.releaseIfPending(orderId);
        return;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Views

  view(orderId: string): OrderView | undefined {
    const order = this.db.get(orderId);
    if (!order) return undefined;
    const view: OrderView = {
      orderId: order.id,
      status: order.status === 'creating' ? 'pending_payment' : order.status,
      amount: order.amount,
      currency: order.currency,
      updatedAt: new Date(order.updated_at).toISOString(),
    };
    if (order.reason) view.reason = order.reason;
    if (order.trade_no) {
      view.payment = { tradeNo: order.trade_no, payUrl: order.pay_url ?? `${this.options.paymentUrl}/v1/trades/${encodeURIComponent(order.trade_no)}/pay` };
    }
    const cards = this.db.cards(orderId);
    if (cards.length > 0) {
      view.delivery = {
        cards: cards.map((card) => ({ code: card.code, pin: card.pin })),
        deliveredAt: new Date(order.delivered_at ?? cards[0]!.issued_at).toISOString(),
      };
    }
    return view;
  }

  private mustView(orderId: string): OrderView {
    const view = this.view(orderId);
    if (!view) throw new Error(`order ${orderId} vanished`);
    return view;
  }

  // ---------------------------------------------------------------------------------------------
  // Messages (outbox)

  /** Queues a message in the caller's transaction; flaws decide whether it is written at all. */
  private enqueue(context: MessageContext): void {
    if (FAILURE_KINDS.has(context.kind) && this.flaws.has('no-failure-notice')) return;
    const message = buildMessage(context);
    this.db.enqueueMessage(message.messageKey, message.orderId, message, Date.now());
    this.kickOutbox();
  }

  private kickOutbox(): void {
    if (this.closed || this.outboxKick) return;
    this.outboxKick = setImmediate(() => {
      this.outboxKick = undefined;
      if (this.closed) return;
      try {
        this.sendDueMessages();
      } catch (error) {
        this.options.log(`outbox failed: ${(error as Error).stack ?? String(error)}`);
      }
    });
  }

  private sendDueMessages(): void {
    for (const row of this.db.dueMessages(Date.now(), 100)) {
      if (this.sending.has(row.id)) continue;
      this.sending.add(row.id);
      this.track(this.sendMessage(row.id, JSON.parse(row.payload) as OutgoingMessage, row.attempts).finally(() => this.sending.delete(row.id)));
    }
  }

  private async sendMessage(id: number, message: OutgoingMessage, attempts: number): Promise<void> {
    const result = await this.call(this.options.notify.send(message));
    if (result.kind === 'accepted') {
      this.db.markMessageSent(id, Date.now());
    } else if (result.kind === 'rejected' || attempts + 1 >= MESSAGE_ATTEMPTS) {
      this.db.markMessageFailed(id, result.detail);
      this.options.log(`message ${message.messageKey} given up: ${result.detail}`);
    } else {
      this.db.markMessageRetry(id, Date.now() + backoff(attempts, 200, 5000), result.detail);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Create

  /**
   * `POST /orders` after validation. With an idempotency key the same body gives the same order
   * (waiting for the first request when it still runs), another body `key_reused`.
   */
  async createOrder(request: OrderRequest, idempotency?: { key: string; body: unknown }): Promise<CreateOutcome> {
    if (this.closed) throw new ShuttingDown();
    const now = Date.now();
    const orderId = newOrderId();
    const inserted = this.db.insertOrder(
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
        next_check_at: now + CREATE_RESUME_AFTER,
        created_at: now,
        paid_at: null,
        delivered_at: null,
      },
      idempotency ? { key: idempotency.key, requestHash: requestHash(idempotency.body) } : undefined,
    );
    if (inserted.kind === 'existing') {
      if (!inserted.sameRequest) return { kind: 'key_reused', orderId: inserted.orderId };
      // Wait for the first request's task; finish the creation if nobody is running it (crash).
      await this.exclusive(inserted.orderId, async () => {
        if (this.db.get(inserted.orderId)?.status === 'creating') await this.runCreate(inserted.orderId);
      });
      return { kind: 'replayed', view: this.mustView(inserted.orderId) };
    }
    await this.exclusive(orderId, () => this.runCreate(orderId, false));
    return { kind: 'created', view: this.mustView(orderId) };
  }

  /** Reserve, then create the trade, then decide the first status. Safe to run again (resume). */
  private async runCreate(orderId: string, resumed = true): Promise<void> {
    let order = this.db.get(orderId);
    if (!order || order.status !== 'creating') return;

    if (order.reservation_state !== 'active') {
      let result = await this.call(this.reserve(order));
      for (let attempt = 1; attempt < CREATE_ATTEMPTS && (result.kind === 'unavailable' || result.kind === 'refused'); attempt++) {
        await this.pause(backoff(attempt - 1, 150, 1000));
        result = await this.call(this.reserve(order));
      }
      if (result.kind === 'sold_out') {
        const restockAt = result.restockAt ?? null;
        this.db.transaction(() => {
          if (this.db.update(orderId, ['creating'], { status: 'failed', reason: 'out_of_stock', restock_at: restockAt, next_check_at: null })) {
            this.enqueue({ order: this.db.get(orderId)!, kind: 'out_of_stock', reason: 'out_of_stock', restockAt });
          }
        });
        return;
      }
      if (result.kind !== 'reserved') {
        this.options.log(`order ${orderId}: stock supplier unavailable: ${result.kind === 'refused' ? result.code : result.detail}`);
        this.db.update(orderId, ['creating'], { status: 'failed', reason: 'service_unavailable', next_check_at: null });
        return;
      }
      this.db.update(orderId, ['creating'], {
        reservation_id: result.reservationId,
        reservation_state: 'active',
        reservation_expires_at: result.expiresAt ?? order.created_at + this.timers.orderTtl + RESERVATION_GRACE,
      });
      order = this.db.get(orderId)!;
    }

    if (!order.trade_no) {
      const request = {
        outTradeNo: order.id,
        amount: order.amount,
        currency: order.currency,
        subject: `${order.quantity} \u00d7 ${order.sku_name}`,
        notifyUrl: this.options.callbackUrl(),
        method: order.payment_method,
        payer: order.buyer_region ? { id: order.buyer_id, region: order.buyer_region } : { id: order.buyer_id },
        // The provider closes the trade when the order expires (a resumed creation gets what is left).
        expiresInMs: resumed ? Math.max(1000, Math.round(order.created_at + this.timers.orderTtl - Date.now())) : Math.round(this.timers.orderTtl),
      };
      let result = await this.call(this.options.payment.createTrade(request));
      for (let attempt = 1; attempt < CREATE_ATTEMPTS && result.kind === 'unavailable'; attempt++) {
        const wait = result.retryAfter ? retryAfterMs(result.retryAfter, 500, 2000) : backoff(attempt - 1, 150, 1000);
        await this.pause(wait);
        result = await this.call(this.options.payment.createTrade(request));
      }
      if (result.kind === 'refused') {
        const reason = createRefusalReason(result.code);
        if (reason) {
          this.failUnpaid(orderId, ['creating'], reason, 'payment_failed');
          await this.releaseIfPending(orderId);
          return;
        }
      }
      let tradeNo: string | undefined;
      let payUrl: string | undefined;
      if (result.kind === 'created') {
        tradeNo = result.tradeNo;
        payUrl = result.payUrl;
      } else if (!this.flaws.has('no-reconcile')) {
        // The trade may exist although its answer was lost: ask before giving up.
        const found = await this.call(this.options.payment.queryByOutTradeNo(order.id));
        if (found.kind === 'found' && found.trade.amount === order.amount) tradeNo = found.trade.tradeNo;
      }
      if (!tradeNo) {
        this.options.log(`order ${orderId}: trade not created: ${result.kind === 'refused' ? result.code : result.kind === 'unavailable' ? result.detail : ''}`);
        this.failUnpaid(orderId, ['creating'], 'service_unavailable', 'payment_failed');
        await this.releaseIfPending(orderId);
        return;
      }
      this.db.update(orderId, ['creating'], { trade_no: tradeNo, pay_url: payUrl ?? null });
    }

    const firstCheck = this.flaws.has('no-reconcile')
      ? order.created_at + this.timers.orderTtl
      : order.created_at + Math.min(this.timers.reconcileAfter, this.timers.orderTtl);
    this.db.update(orderId, ['creating'], { status: 'pending_payment', attempts: 0, next_check_at: firstCheck });
  }

  private reserve(order: OrderRow): ReturnType<StockClient['reserve']> {
    return this.options.stock.reserve({
      sku: order.sku,
      quantity: order.quantity,
      orderId: order.id,
      ttlMs: Math.round(this.timers.orderTtl + RESERVATION_GRACE),
      buyerId: order.buyer_id,
    });
  }

  /**
   * An unpaid order ends: status, reason, the message, and (when a reservation is held) a release
   * marked pending, all in one transaction. Returns whether the order changed.
   */
  private failUnpaid(
    orderId: string,
    from: readonly StoredStatus[],
    reason: OrderReason,
    kind: 'payment_failed' | 'expired' | 'cancelled',
    status: 'failed' | 'expired' | 'cancelled' = 'failed',
  ): boolean {
    return this.db.transaction(() => {
      const order = this.db.get(orderId);
      if (!order) return false;
      const release = order.reservation_state === 'active';
      const changed = this.db.update(orderId, from, {
        status,
        reason,
        release_pending: release ? 1 : 0,
        attempts: 0,
        next_check_at: release ? Date.now() : null,
      });
      if (changed) this.enqueue({ order: this.db.get(orderId)!, kind, reason });
      return changed;
    });
  }

  /** Gives the reservation back to the supplier when a release is pending; retried by the reconciler. */
  private async releaseIfPending(orderId: string): Promise<void> {
    const order = this.db.get(orderId);
    if (!order) return;
    if (!order.release_pending || !order.reservation_id || order.reservation_state !== 'active') {
      if (order.release_pending) this.db.update(orderId, 'any', { release_pending: 0 });
      this.clearCheckIfIdle(orderId);
      return;
    }
    const result = await this.call(this.options.stock.release(order.reservation_id));
    const now = Date.now();
    if (result.kind === 'released') {
      this.db.update(orderId, 'any', { release_pending: 0, reservation_state: 'released' });
      this.clearCheckIfIdle(orderId);
    } else if (order.reservation_expires_at !== null && now > order.reservation_expires_at) {
      // The supplier has let it go by itself.
      this.db.update(orderId, 'any', { release_pending: 0, reservation_state: 'expired' });
      this.clearCheckIfIdle(orderId);
    } else {
      this.options.log(`order ${orderId}: release failed: ${result.detail}`);
      const current = this.db.get(orderId)!;
      // Orders with work of their own (refund) keep their schedule; final ones retry the release.
      if (current.status !== 'refund_pending' && !DELIVERING.includes(current.status)) {
        this.db.update(orderId, [current.status], { attempts: current.attempts + 1, next_check_at: now + backoff(current.attempts, 250, 5000) });
      }
    }
  }

  /** Final orders with nothing pending need no more checks. */
  private clearCheckIfIdle(orderId: string): void {
    this.db.update(orderId, ['delivered', 'refunded', 'failed', 'expired', 'cancelled'], { next_check_at: null, attempts: 0 });
  }

  // ---------------------------------------------------------------------------------------------
  // Payment results: callback, query, close

  /** A verified `TRADE_SUCCESS` (callback, query or close). Returns whether the order changed. */
  private markPaid(order: OrderRow, success: PaymentSuccess): boolean {
    return this.db.transaction(() => {
      const current = this.db.get(order.id);
      // An order paid once is never "paid" again by a repeat (its payment already ran its course).
      if (!current || current.paid_at !== null) return false;
      const now = Date.now();
      const patch: OrderPatch = { status: 'paid', reason: null, trade_no: current.trade_no ?? success.tradeNo, paid_at: now, attempts: 0, next_check_at: now };
      return this.db.update(order.id, PAYABLE, patch);
    });
  }

  /** A verified `PAY_FAILED`. Returns whether the order changed. */
  private markPayFailed(orderId: string, failCode: string | undefined): boolean {
    return this.failUnpaid(orderId, [...UNPAID, 'under_review'], payFailReason(failCode), 'payment_failed');
  }

  /**
   * The signed callback. The transition is committed before this returns (and so before the
   * provider is acknowledged); delivery runs afterwards, only when this callback changed the order.
   */
  handleCallback(payload: { tradeNo: string; outTradeNo: string; status: string; amount: number; failCode?: string }): CallbackOutcome {
    const order = this.db.get(payload.outTradeNo);
    if (!order) return { kind: 'not_found' };
    if (order.trade_no && payload.tradeNo && order.trade_no !== payload.tradeNo) return { kind: 'trade_mismatch' };
    if (payload.amount !== order.amount) return { kind: 'amount_mismatch', expected: order.amount, got: payload.amount };
    if (payload.status === 'TRADE_SUCCESS') {
      if (this.flaws.has('no-idempotent-callbacks')) {
        // Flaw: no check of what already happened; every copy marks paid and delivers again.
        // (next_check_at is a crash safety net only; the delivery below clears it long before.)
        this.db.update(order.id, 'any', {
          status: 'paid',
          reason: null,
          trade_no: order.trade_no ?? payload.tradeNo,
          paid_at: Date.now(),
          next_check_at: Date.now() + FLAWED_DELIVERY_SAFETY_NET,
        });
        setImmediate(() => {
          if (!this.closed) this.track(this.exclusive(order.id, () => this.deliver(order.id, true)));
        });
        return { kind: 'ok', changed: true };
      }
      const changed = this.markPaid(order, { tradeNo: payload.tradeNo, amount: payload.amount });
      if (changed) setImmediate(() => this.schedule(order.id));
      return { kind: 'ok', changed };
    }
    if (payload.status === 'PAY_FAILED') {
      const changed = this.markPayFailed(order.id, payload.failCode);
      if (changed) setImmediate(() => this.schedule(order.id));
      return { kind: 'ok', changed };
    }
    return { kind: 'ok', changed: false };
  }

  /** An unpaid order whose check is due: expire it at its TTL, else ask the provider. */
  private async checkPayment(order: OrderRow): Promise<void> {
    const now = Date.now();
    const expiresAt = order.created_at + this.timers.orderTtl;
    if (now >= expiresAt) {
      await this.expire(order);
      return;
    }
    if (this.flaws.has('no-reconcile') || !order.trade_no) {
      this.db.update(order.id, UNPAID, { next_check_at: expiresAt });
      return;
    }
    const result = await this.call(this.options.payment.queryTrade(order.trade_no));
    if (result.kind === 'found') {
      const trade = result.trade;
      if (trade.status === 'TRADE_SUCCESS') {
        if (trade.amount !== order.amount) {
          this.options.log(`order ${order.id}: provider reports ${trade.amount} paid, order is ${order.amount}; not marked paid`);
        } else if (this.markPaid(order, { tradeNo: trade.tradeNo, amount: trade.amount })) {
          await this.deliver(order.id, false);
          return;
        }
      } else if (trade.status === 'PAY_FAILED') {
        if (this.markPayFailed(order.id, trade.failCode)) await this.releaseIfPending(order.id);
        return;
      } else if (trade.status === 'VERIFYING' && order.status === 'pending_payment') {
        this.db.transaction(() => {
          if (this.db.update(order.id, ['pending_payment'], { status: 'awaiting_verification' })) {
            this.enqueue({ order: this.db.get(order.id)!, kind: 'verification_required' });
          }
        });
      } else if (trade.status === 'TRADE_CLOSED') {
        // The provider closed the unpaid trade itself: nothing can be paid any more.
        await this.expire(order);
        return;
      }
    } else if (result.kind === 'unavailable') {
      this.options.log(`order ${order.id}: query failed: ${result.detail}`);
    }
    this.db.update(order.id, UNPAID, { next_check_at: Math.min(Date.now() + this.timers.reconcileEvery, expiresAt) });
  }

  /** The TTL has passed: close the trade (a payment that beat us means paid), expire, release. */
  private async expire(order: OrderRow): Promise<void> {
    const reason: OrderReason = order.status === 'awaiting_verification' ? 'verification_timeout' : 'expired_unpaid';
    if (!this.flaws.has('no-reconcile') && order.trade_no) {
      const result = await this.call(this.options.payment.closeTrade(order.trade_no));
      if (result.kind === 'has_success') {
        const current = this.db.get(order.id)!;
        if (this.markPaid(current, { tradeNo: order.trade_no, amount: order.amount })) await this.deliver(order.id, false);
        return;
      }
      if (result.kind === 'unavailable' || result.kind === 'refused') {
        this.options.log(`order ${order.id}: close failed: ${result.kind === 'refused' ? result.code : result.detail}`);
        const current = this.db.get(order.id)!;
        this.db.update(order.id, UNPAID, {
          attempts: current.attempts + 1,
          next_check_at: Date.now() + Math.min(this.timers.reconcileEvery, backoff(current.attempts, 200, 2000)),
        });
        return;
      }
    }
    // Flaw `no-reconcile` lands here directly: expired locally, no close call.
    if (this.failUnpaid(order.id, UNPAID, reason, 'expired', 'expired')) await this.releaseIfPending(order.id);
  }

  // ---------------------------------------------------------------------------------------------
  // Delivery

  /**
   * Issue the cards: use the order's active reservation, or reserve again (expired, released on
   * a late payment, or — under `no-idempotent-callbacks` — already fulfilled), then fulfil.
   * `force` is the flawed path: no check of the current status.
   */
  private async deliver(orderId: string, force: boolean): Promise<void> {
    const from = force ? 'any' : DELIVERING;
    if (!this.db.update(orderId, from, { status: 'fulfilling' })) return;
    for (let round = 0; round < 3; round++) {
      const order = this.db.get(orderId)!;
      let reservationId = order.reservation_state === 'active' ? order.reservation_id : null;
      if (reservationId && order.release_pending) this.db.update(orderId, 'any', { release_pending: 0 });
      if (!reservationId) {
        const reserved = await this.call(this.reserve(order));
        if (reserved.kind === 'sold_out') {
          const restockAt = reserved.restockAt ?? (await this.call(this.options.stock.restockAt(order.sku)));
          await this.cannotFulfil(orderId, 'out_of_stock', restockAt ?? null, force);
          return;
        }
        if (reserved.kind !== 'reserved') {
          await this.deliveryFailedAttempt(orderId, reserved.kind === 'refused' ? reserved.code : reserved.detail, force);
          return;
        }
        reservationId = reserved.reservationId;
        this.db.update(orderId, 'any', {
          reservation_id: reservationId,
          reservation_state: 'active',
          reservation_expires_at: reserved.expiresAt ?? Date.now() + this.timers.orderTtl + RESERVATION_GRACE,
          release_pending: 0,
        });
      }
      const result = await this.call(this.options.stock.fulfil(reservationId));
      switch (result.kind) {
        case 'fulfilled':
          this.completeDelivery(orderId, reservationId, result.cards, force);
          return;
        case 'expired':
        case 'not_found':
          this.db.update(orderId, 'any', { reservation_state: 'expired' });
          continue;
        case 'sold_out': {
          const restockAt = result.restockAt ?? (await this.call(this.options.stock.restockAt(order.sku)));
          await this.cannotFulfil(orderId, 'out_of_stock', restockAt ?? null, force);
          return;
        }
        case 'refused':
          await this.deliveryFailedAttempt(orderId, result.code, force);
          return;
        case 'unavailable':
          await this.deliveryFailedAttempt(orderId, result.detail, force);
          return;
      }
    }
    await this.deliveryFailedAttempt(orderId, 'reservation kept expiring', force);
  }

  private completeDelivery(orderId: string, reservationId: string, cards: Card[], force: boolean): void {
    this.db.transaction(() => {
      const earlierSets = this.db.cardSets(orderId);
      const now = Date.now();
      this.db.insertCards(orderId, reservationId, cards, now);
      this.db.update(orderId, force ? 'any' : ['fulfilling', 'paid'], {
        status: 'delivered',
        reason: null,
        reservation_state: 'fulfilled',
        release_pending: 0,
        delivered_at: now,
        attempts: 0,
        next_check_at: null,
      });
      const order = this.db.get(orderId)!;
      // A second card set only happens under `no-idempotent-callbacks`: it gets its own message.
      const messageKey = earlierSets === 0 ? `${orderId}:delivered` : `${orderId}:delivered:${earlierSets + 1}`;
      this.enqueue({ order, kind: 'delivered', cards, messageKey });
    });
  }

  private async deliveryFailedAttempt(orderId: string, detail: string, force: boolean): Promise<void> {
    const order = this.db.get(orderId)!;
    const attempts = order.attempts + 1;
    this.options.log(`order ${orderId}: delivery attempt ${attempts} failed: ${detail}`);
    if (attempts >= DELIVERY_ATTEMPTS) {
      await this.cannotFulfil(orderId, 'delivery_failed', order.restock_at, force);
      return;
    }
    this.db.update(orderId, force ? 'any' : ['fulfilling'], { status: 'fulfilling', attempts, next_check_at: Date.now() + backoff(attempts - 1, 250, 4000) });
  }

  /** A paid order that cannot get its cards: refund it (or, under `no-refund`, just fail it). */
  private async cannotFulfil(orderId: string, reason: 'out_of_stock' | 'delivery_failed', restockAt: string | null, force: boolean): Promise<void> {
    const from = force ? 'any' : DELIVERING;
    const order = this.db.get(orderId)!;
    const release = order.reservation_state === 'active' ? 1 : 0;
    if (this.flaws.has('no-refund')) {
      this.db.transaction(() => {
        if (this.db.update(orderId, from, { status: 'failed', reason, restock_at: restockAt, release_pending: release, attempts: 0, next_check_at: release ? Date.now() : null })) {
          this.enqueue({ order: this.db.get(orderId)!, kind: 'out_of_stock', reason: 'out_of_stock', restockAt });
        }
      });
      await this.releaseIfPending(orderId);
      return;
    }
    if (!this.db.update(orderId, from, { status: 'refund_pending', refund_reason: reason, restock_at: restockAt, release_pending: release, attempts: 0, next_check_at: Date.now() })) return;
    await this.releaseIfPending(orderId);
    await this.refund(orderId);
  }

  /** Refund in full under the fixed refund number `<orderId>-r1` (idempotent at the provider). */
  private async refund(orderId: string): Promise<void> {
    const order = this.db.get(orderId);
    if (!order || order.status !== 'refund_pending') return;
    let tradeNo = order.trade_no;
    let done = false;
    let detail = '';
    if (!tradeNo) {
      const found = await this.call(this.options.payment.queryByOutTradeNo(orderId));
      if (found.kind === 'found') {
        tradeNo = found.trade.tradeNo;
        this.db.update(orderId, 'any', { trade_no: tradeNo });
      } else {
        detail = found.kind === 'unavailable' ? found.detail : 'no trade for this order';
      }
    }
    if (tradeNo) {
      const result = await this.call(this.options.payment.refund(tradeNo, `${orderId}-r1`, order.amount));
      if (result.kind === 'refunded') {
        done = true;
      } else if (result.kind === 'exceeds_paid') {
        // Already refunded (an earlier attempt whose answer was lost)? The trade's total says.
        const found = await this.call(this.options.payment.queryTrade(tradeNo));
        done = found.kind === 'found' && found.trade.refunded >= order.amount;
        detail = 'REFUND_EXCEEDS_PAID';
      } else {
        detail = result.kind === 'refused' ? result.code : (result as Unavailable).detail;
      }
    }
    if (done) {
      this.db.transaction(() => {
        const reason = order.refund_reason ?? 'out_of_stock';
        const current = this.db.get(orderId)!;
        if (this.db.update(orderId, ['refund_pending'], { status: 'refunded', reason, attempts: 0, next_check_at: current.release_pending ? Date.now() : null })) {
          this.enqueue({ order: this.db.get(orderId)!, kind: 'refunded', reason, restockAt: order.restock_at });
        }
      });
      return;
    }
    this.options.log(`order ${orderId}: refund attempt ${order.attempts + 1} failed: ${detail}`);
    this.db.update(orderId, ['refund_pending'], { attempts: order.attempts + 1, next_check_at: Date.now() + backoff(order.attempts, 250, 5000) });
  }

  // ---------------------------------------------------------------------------------------------
  // Cancel

  async cancel(orderId: string): Promise<CancelOutcome> {
    if (this.closed) throw new ShuttingDown();
    if (!this.db.get(orderId)) return { kind: 'not_found' };
    let paidMeanwhile = false;
    const outcome = await this.exclusive(orderId, async (): Promise<CancelOutcome> => {
      const order = this.db.get(orderId)!;
      if (!CANCELLABLE.includes(order.status)) return { kind: 'not_cancellable', view: this.mustView(orderId) };
      if (order.trade_no) {
        let result = await this.call(this.options.payment.closeTrade(order.trade_no));
        for (let attempt = 1; attempt < CREATE_ATTEMPTS && result.kind === 'unavailable'; attempt++) {
          await this.pause(backoff(attempt - 1, 150, 1000));
          result = await this.call(this.options.payment.closeTrade(order.trade_no));
        }
        if (result.kind === 'has_success') {
          paidMeanwhile = this.markPaid(this.db.get(orderId)!, { tradeNo: order.trade_no, amount: order.amount });
          return { kind: 'not_cancellable', view: this.mustView(orderId) };
        }
        if (result.kind === 'unavailable' || result.kind === 'refused') {
          return { kind: 'unavailable', message: `the payment provider could not close the trade (${result.kind === 'refused' ? result.code : result.detail}); try again` };
        }
      }
      if (!this.failUnpaid(orderId, CANCELLABLE, 'cancelled_by_buyer', 'cancelled', 'cancelled')) {
        return { kind: 'not_cancellable', view: this.mustView(orderId) };
      }
      await this.releaseIfPending(orderId);
      return { kind: 'cancelled', view: this.mustView(orderId) };
    });
    if (paidMeanwhile) this.schedule(orderId);
    return outcome;
  }
}
