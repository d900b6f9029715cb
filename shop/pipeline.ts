/**
 * The order pipeline: create (reserve → risk screening → trade), review, payment results (callback
 * or query), delivery, refund, expiry, cancel, and the outbox of buyer messages.
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
import {
  answerLost,
  type Card,
  type CreateTradeRequest,
  type MessageKind,
  type NotifyClient,
  type OutgoingMessage,
  type PaymentClient,
  type ReserveResult,
  type RiskClient,
  type StockClient,
  type TradeInfo,
  type Unavailable,
} from './services.js';
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

/** The callback (or query) said the trade succeeded. */
export interface PaymentSuccess {
  tradeNo: string;
  amount: number;
}

export type CallbackOutcome =
  | { kind: 'ok'; changed: boolean }
  | { kind: 'not_found' }
  | { kind: 'trade_mismatch' };

export interface PipelineOptions {
  db: ShopDb;
  flaws: FlawSet;
  timers: ShopTimers;
  catalog: ShopCatalog;
  payment: PaymentClient;
  stock: StockClient;
  notify: NotifyClient;
  /** Risk screening before payment; absent when `ORDEAL_RISK_URL` is not set. */
  risk?: RiskClient;
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
/** Final statuses a verified payment can still reopen (a late payment). */
const REOPENABLE: readonly StoredStatus[] = ['expired', 'failed', 'cancelled'];
/** Statuses a verified payment moves on to `paid` (the last three: a late payment). */
const PAYABLE: readonly StoredStatus[] = ['creating', 'pending_payment', 'awaiting_verification', 'under_review', ...REOPENABLE];
const CANCELLABLE: readonly StoredStatus[] = ['pending_payment', 'awaiting_verification', 'under_review'];
const DELIVERING: readonly StoredStatus[] = ['paid', 'fulfilling'];
const FINAL: readonly StoredStatus[] = ['delivered', 'refunded', 'failed', 'expired', 'cancelled'];

/** Attempts for a create-time call to the stock supplier (1 + 2 retries). */
const CREATE_ATTEMPTS = 3;
/** Attempts to create the trade (503 / 429 / lost answers), then one last query by outTradeNo. */
const TRADE_CREATE_ATTEMPTS = 4;
/** Attempts to ask risk screening for a decision before the order fails as `service_unavailable`. */
const RISK_ATTEMPTS = 4;
/** Queries by outTradeNo when a trade's creation is in doubt. */
const FIND_TRADE_ATTEMPTS = 3;
/** A Retry-After longer than this is cut short (the buyer is waiting for the answer). */
const RETRY_AFTER_CAP = 3000;
/**
 * Retries while a new order is created stop once they would go past this long after its creation
 * (the buyer waits for the answer; hung calls take a whole request timeout each). The last query
 * by outTradeNo still runs.
 */
const CREATE_BUDGET_MS = 7000;
/** Failed fulfil attempts (5xx, timeouts) before the order is refunded as `delivery_failed`. */
const DELIVERY_ATTEMPTS = 8;
/** Attempts to hand a message to the gateway: about 50 s of retries (backoff 250 ms → 4 s). */
const MESSAGE_ATTEMPTS = 16;
/** Under `no-reservation`: cards bought per batch, and the level that triggers the next batch. */
const STOCKPILE_BATCH = 5;
const STOCKPILE_LOW = 2;
/** Under `no-reservation`: the await between picking an unsold card and marking it sold. */
const STOCKPILE_GAP_MS = 100;
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

/** The money a successful trade actually captured. */
function captured(trade: TradeInfo): number {
  return trade.paidAmount ?? trade.amount;
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
  /** Stockpile purchases in flight per SKU (the `no-reservation` flaw). */
  private readonly refills = new Map<string, Promise<void>>();
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
    if (this.flaws.has('no-reservation')) {
      for (const sku of this.options.catalog.skus) {
        if (this.db.countUnsold(sku.sku) < STOCKPILE_LOW) this.track(this.refillStockpile(sku.sku));
      }
    }
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

  /** Pauses `ms` unless that ends past `deadline`; returns whether it paused (whether to retry). */
  private async pauseWithin(deadline: number, ms: number): Promise<boolean> {
    if (Date.now() + ms >= deadline) return false;
    await this.pause(ms);
    return true;
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
      case 'under_review':
        if (order.trade_no) await this.checkPayment(order);
        else await this.pollReview(order);
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
        if (this.db.get(orderId)?.refund_due) await this.refund(orderId);
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
    } else if (result.kind === 'rejected' || attempts + 1 >= MESSAGE_ATTEMPTS || this.flaws.has('no-notify-retry')) {
      // Flaw `no-notify-retry`: a refused message is dropped at once.
      this.db.markMessageFailed(id, result.detail);
      this.options.log(`message ${message.messageKey} given up: ${result.detail}`);
    } else {
      this.db.markMessageRetry(id, Date.now() + backoff(attempts, 250, 4000), result.detail);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Create

  /**
   * `POST /orders` after validation. With an idempotency key the same body gives the same order
   * (waiting for the first request when it still runs), another body `key_reused`. Without the
   * same key, an open order younger than `orderTtl` for the same intent (buyer, SKU, quantity,
   * recipient, coupon) stands for the new one: two browser windows make one purchase.
   */
  async createOrder(request: OrderRequest, idempotency?: { key: string; body: unknown }): Promise<CreateOutcome> {
    if (this.closed) throw new ShuttingDown();
    // Flaw `no-idempotency-key`: the header is ignored and intents are not compared.
    const dedupe = !this.flaws.has('no-idempotency-key');
    const key = dedupe ? idempotency : undefined;
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
      dedupe ? { since: now - this.timers.orderTtl } : undefined,
    );
    if (inserted.kind === 'existing' || inserted.kind === 'same_intent') {
      if (inserted.kind === 'existing' && !inserted.sameRequest) return { kind: 'key_reused', orderId: inserted.orderId };
      // Wait for the first request's task; finish the creation if nobody is running it (crash).
      await this.exclusive(inserted.orderId, async () => {
        if (this.db.get(inserted.orderId)?.status === 'creating') await this.runCreate(inserted.orderId);
      });
      return { kind: inserted.kind === 'existing' ? 'replayed' : 'same_intent', view: this.mustView(inserted.orderId) };
    }
    await this.exclusive(orderId, () => this.runCreate(orderId, false));
    return { kind: 'created', view: this.mustView(orderId) };
  }

  /** Reserve, screen, then create the trade, and decide the first status. Safe to run again (resume). */
  private async runCreate(orderId: string, resumed = true): Promise<void> {
    let order = this.db.get(orderId);
    if (!order || order.status !== 'creating') return;

    if (order.reservation_state !== 'active') {
      const deadline = order.created_at + CREATE_BUDGET_MS;
      let result = await this.call(this.reserve(order));
      for (let attempt = 1; attempt < CREATE_ATTEMPTS && (result.kind === 'unavailable' || result.kind === 'refused'); attempt++) {
        if (!(await this.pauseWithin(deadline, backoff(attempt - 1, 150, 1000)))) break;
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
        // Nothing is held (a reservation whose answer was lost lapses by its TTL), nothing charged.
        this.failUnpaid(orderId, ['creating'], 'service_unavailable', 'payment_failed');
        return;
      }
      this.db.update(orderId, ['creating'], {
        reservation_id: result.reservationId,
        reservation_state: 'active',
        reservation_expires_at: result.expiresAt ?? order.created_at + this.timers.orderTtl + RESERVATION_GRACE,
      });
      order = this.db.get(orderId)!;
    }

    // An order still `creating` with an assessment was approved (review and reject change the status).
    if (this.options.risk && !order.assessment_id) {
      if (!(await this.screen(order))) return;
    }

    await this.openTrade(orderId, 'creating', resumed);
  }

  private reserve(order: OrderRow): Promise<ReserveResult> {
    return this.options.stock.reserve({
      sku: order.sku,
      quantity: order.quantity,
      orderId: order.id,
      ttlMs: Math.round(this.timers.orderTtl + RESERVATION_GRACE),
      buyerId: order.buyer_id,
    });
  }

  /**
   * Creates the trade of an order that is `from` (a new order, or one whose review was approved),
   * and moves it to `pending_payment`. Returns whether it did.
   */
  private async openTrade(orderId: string, from: 'creating' | 'under_review', resumed: boolean): Promise<boolean> {
    const order = this.db.get(orderId);
    if (!order || order.status !== from) return false;
    const now = Date.now();
    // The payment window starts when the buyer can pay: at creation, or at the review's approval.
    const start = from === 'creating' ? order.created_at : now;
    const expiresAt = order.expires_at ?? start + this.timers.orderTtl;
    let tradeNo = order.trade_no;
    let payUrl = order.pay_url;
    if (!tradeNo) {
      const request: CreateTradeRequest = {
        outTradeNo: order.id,
        amount: order.amount,
        currency: order.currency,
        subject: `${order.quantity} \u00d7 ${order.sku_name}`,
        notifyUrl: this.options.callbackUrl(),
        method: order.payment_method,
        payer: order.buyer_region ? { id: order.buyer_id, region: order.buyer_region } : { id: order.buyer_id },
        // The provider closes the trade when the order expires (a resumed creation gets what is left).
        expiresInMs: resumed ? Math.max(1000, Math.round(expiresAt - now)) : Math.round(this.timers.orderTtl),
      };
      const outcome = await this.createTrade(order, request, (from === 'creating' ? order.created_at : now) + CREATE_BUDGET_MS);
      if (outcome.kind === 'refused') {
        if (this.failUnpaid(orderId, [from], outcome.reason, 'payment_failed')) await this.releaseIfPending(orderId);
        return false;
      }
      if (outcome.kind === 'failed') {
        this.options.log(`order ${orderId}: trade not created: ${outcome.detail}`);
        if (this.failUnpaid(orderId, [from], 'service_unavailable', 'payment_failed')) await this.releaseIfPending(orderId);
        return false;
      }
      tradeNo = outcome.tradeNo;
      payUrl = outcome.payUrl ?? null;
    }
    const firstCheck = this.flaws.has('no-reconcile') ? expiresAt : start + Math.min(this.timers.reconcileAfter, this.timers.orderTtl);
    return this.db.transaction(() => {
      const changed = this.db.update(orderId, [from], {
        status: 'pending_payment',
        trade_no: tradeNo,
        pay_url: payUrl,
        expires_at: expiresAt,
        attempts: 0,
        next_check_at: firstCheck,
      });
      if (changed && from === 'under_review') this.enqueue({ order: this.db.get(orderId)!, kind: 'review_approved' });
      return changed;
    });
  }

  /**
   * `POST /v1/trades`, retried on 503 / 429 (honouring Retry-After) and on lost answers; a lost
   * answer is followed by a query by outTradeNo (the trade may exist: one trade per order, the
   * provider de-duplicates a repeated create by outTradeNo and amount).
   */
  private async createTrade(
    order: OrderRow,
    request: CreateTradeRequest,
    deadline: number,
  ): Promise<{ kind: 'created'; tradeNo: string; payUrl?: string } | { kind: 'refused'; reason: OrderReason } | { kind: 'failed'; detail: string }> {
    const reconcile = !this.flaws.has('no-reconcile');
    let detail = '';
    for (let attempt = 0; attempt < TRADE_CREATE_ATTEMPTS; attempt++) {
      const result = await this.call(this.options.payment.createTrade(request));
      if (result.kind === 'created') return result.payUrl ? { kind: 'created', tradeNo: result.tradeNo, payUrl: result.payUrl } : { kind: 'created', tradeNo: result.tradeNo };
      if (result.kind === 'refused') {
        const reason = createRefusalReason(result.code);
        if (reason) return { kind: 'refused', reason };
        detail = result.code;
        // DUPLICATE_OUT_TRADE_NO and other 4xx: asking again will not help; the query below decides.
        break;
      }
      detail = result.detail;
      if (answerLost(result) && reconcile) {
        const found = await this.findTrade(order, 1);
        if (found) return { kind: 'created', tradeNo: found };
      }
      if (attempt + 1 < TRADE_CREATE_ATTEMPTS) {
        const wait = result.retryAfter ? retryAfterMs(result.retryAfter, 500, RETRY_AFTER_CAP) : backoff(attempt, 200, 1500);
        if (!(await this.pauseWithin(deadline, wait))) break;
      }
    }
    if (reconcile) {
      // Still failing: the trade may exist all the same (an earlier answer lost, or a 503 after the fact).
      const found = await this.findTrade(order, FIND_TRADE_ATTEMPTS);
      if (found) return { kind: 'created', tradeNo: found };
    }
    return { kind: 'failed', detail };
  }

  /** The trade number of the order's trade, asking by outTradeNo (retried), when it exists. */
  private async findTrade(order: OrderRow, attempts: number): Promise<string | undefined> {
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await this.pause(backoff(attempt - 1, 200, 1000));
      const found = await this.call(this.options.payment.queryByOutTradeNo(order.id));
      if (found.kind === 'found') return found.trade.amount === order.amount ? found.trade.tradeNo : undefined;
      if (found.kind === 'not_found') return undefined;
    }
    return undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Risk screening (before payment)

  /**
   * Asks risk screening about a new order. Returns true to go on (approved); otherwise the order
   * is now `under_review` or failed, and its message is queued.
   */
  private async screen(order: OrderRow): Promise<boolean> {
    const risk = this.options.risk!;
    const request = {
      orderId: order.id,
      buyer: JSON.parse(order.buyer_json) as unknown,
      amount: order.amount,
      sku: order.sku,
      recipient: { kind: order.recipient_kind, account: order.recipient_account },
    };
    const deadline = order.created_at + CREATE_BUDGET_MS;
    let result = await this.call(risk.assess(request));
    for (let attempt = 1; attempt < RISK_ATTEMPTS && result.kind === 'unavailable'; attempt++) {
      const wait = result.retryAfter ? retryAfterMs(result.retryAfter, 500, RETRY_AFTER_CAP) : backoff(attempt - 1, 200, 1500);
      if (!(await this.pauseWithin(deadline, wait))) break;
      result = await this.call(risk.assess(request));
    }
    if (result.kind !== 'assessed') {
      this.options.log(`order ${order.id}: risk screening unavailable: ${result.kind === 'refused' ? result.code : result.detail}`);
      if (this.failUnpaid(order.id, ['creating'], 'service_unavailable', 'payment_failed')) await this.releaseIfPending(order.id);
      return false;
    }
    const assessmentId = result.assessmentId;
    switch (result.decision) {
      case 'approve':
        return this.db.update(order.id, ['creating'], { assessment_id: assessmentId });
      case 'review':
        this.db.transaction(() => {
          const now = Date.now();
          if (this.db.update(order.id, ['creating'], { status: 'under_review', assessment_id: assessmentId, attempts: 0, next_check_at: now + this.timers.reconcileEvery })) {
            // Flaw `no-review-notice`: the hold is not told.
            if (!this.flaws.has('no-review-notice')) this.enqueue({ order: this.db.get(order.id)!, kind: 'under_review' });
          }
        });
        return false;
      case 'reject':
        this.db.update(order.id, ['creating'], { assessment_id: assessmentId });
        if (this.failUnpaid(order.id, ['creating'], 'risk_rejected', 'review_rejected')) await this.releaseIfPending(order.id);
        return false;
    }
  }

  /** An order held for review: poll the assessment; approved → trade; rejected → failed. It never expires meanwhile. */
  private async pollReview(order: OrderRow): Promise<void> {
    const risk = this.options.risk;
    let status: 'pending' | 'approved' | 'rejected' = 'approved';
    if (risk && order.assessment_id) {
      const result = await this.call(risk.status(order.assessment_id));
      if (result.kind === 'found') {
        status = result.status;
      } else {
        this.options.log(`order ${order.id}: review status unknown: ${result.kind === 'unavailable' ? result.detail : 'assessment not found'}`);
        status = 'pending';
      }
    }
    if (status === 'rejected') {
      if (this.failUnpaid(order.id, ['under_review'], 'risk_rejected', 'review_rejected')) await this.releaseIfPending(order.id);
      return;
    }
    if (status === 'approved') {
      if (await this.holdStockAfterReview(order.id)) await this.openTrade(order.id, 'under_review', true);
      return;
    }
    this.db.update(order.id, ['under_review'], { next_check_at: Date.now() + this.timers.reconcileEvery });
  }

  /** After a long review the reservation may have lapsed: reserve again. Returns whether stock is held. */
  private async holdStockAfterReview(orderId: string): Promise<boolean> {
    const order = this.db.get(orderId)!;
    if (order.reservation_state === 'active' && (order.reservation_expires_at === null || order.reservation_expires_at > Date.now() + 1000)) return true;
    const result = await this.call(this.reserve(order));
    if (result.kind === 'reserved') {
      this.db.update(orderId, ['under_review'], {
        reservation_id: result.reservationId,
        reservation_state: 'active',
        reservation_expires_at: result.expiresAt ?? Date.now() + this.timers.orderTtl + RESERVATION_GRACE,
      });
      return true;
    }
    if (result.kind === 'sold_out') {
      const restockAt = result.restockAt ?? null;
      this.db.transaction(() => {
        if (this.db.update(orderId, ['under_review'], { status: 'failed', reason: 'out_of_stock', restock_at: restockAt, reservation_state: 'expired', next_check_at: null })) {
          this.enqueue({ order: this.db.get(orderId)!, kind: 'out_of_stock', reason: 'out_of_stock', restockAt });
        }
      });
      return false;
    }
    this.options.log(`order ${orderId}: reserve after review failed: ${result.kind === 'refused' ? result.code : result.detail}`);
    this.db.update(orderId, ['under_review'], { next_check_at: Date.now() + this.timers.reconcileEvery });
    return false;
  }

  // ---------------------------------------------------------------------------------------------
  // Ending unpaid orders, releasing stock

  /**
   * An unpaid order ends: status, reason, the message, and (when a reservation is held) a release
   * marked pending, all in one transaction. Returns whether the order changed.
   */
  private failUnpaid(
    orderId: string,
    from: readonly StoredStatus[],
    reason: OrderReason,
    kind: Extract<MessageKind, 'payment_failed' | 'expired' | 'cancelled' | 'review_rejected'>,
    status: 'failed' | 'expired' | 'cancelled' = 'failed',
  ): boolean {
    return this.db.transaction(() => {
      const order = this.db.get(orderId);
      if (!order) return false;
      // Flaw `no-stock-release`: the reservation is left to lapse by its TTL.
      const release = order.reservation_state === 'active' && !this.flaws.has('no-stock-release');
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

  /** Final orders with nothing pending (no release, no refund owed) need no more checks. */
  private clearCheckIfIdle(orderId: string): void {
    const order = this.db.get(orderId);
    if (!order || order.refund_due || order.release_pending) return;
    this.db.update(orderId, FINAL, { next_check_at: null, attempts: 0 });
  }

  // ---------------------------------------------------------------------------------------------
  // Payment results: callback, query, close

  /**
   * A verified `TRADE_SUCCESS` for the order's amount (callback, query or close). Returns whether
   * the order changed; `late` when it reopened an expired, cancelled or failed order.
   */
  private markPaid(order: OrderRow, success: PaymentSuccess): { changed: boolean; late: boolean } {
    return this.db.transaction(() => {
      const current = this.db.get(order.id);
      // An order paid once is never "paid" again by a repeat (its payment already ran its course).
      if (!current || current.paid_at !== null) return { changed: false, late: false };
      const now = Date.now();
      const patch: OrderPatch = {
        status: 'paid',
        reason: null,
        trade_no: current.trade_no ?? success.tradeNo,
        paid_at: now,
        attempts: 0,
        callback_received: 0,
        next_check_at: now,
      };
      return { changed: this.db.update(order.id, PAYABLE, patch), late: REOPENABLE.includes(current.status) };
    });
  }

  /**
   * A verified success whose amount is not the order's (a tampered payment): no goods; the order
   * fails as `amount_mismatch`, what was captured is refunded, the buyer is told. Returns whether
   * the order changed.
   */
  private markAmountMismatch(order: OrderRow, tradeNo: string, capturedAmount: number): boolean {
    const changed = this.db.transaction(() => {
      const current = this.db.get(order.id);
      if (!current || current.paid_at !== null) return false;
      const now = Date.now();
      const release = current.reservation_state === 'active' && !this.flaws.has('no-stock-release');
      const ok = this.db.update(order.id, PAYABLE, {
        status: 'failed',
        reason: 'amount_mismatch',
        trade_no: current.trade_no ?? tradeNo,
        paid_at: now,
        refund_amount: capturedAmount,
        refund_due: 1,
        release_pending: release ? 1 : 0,
        attempts: 0,
        callback_received: 0,
        next_check_at: now,
      });
      if (ok) this.enqueue({ order: this.db.get(order.id)!, kind: 'payment_failed', reason: 'amount_mismatch', received: capturedAmount });
      return ok;
    });
    if (changed) {
      this.options.log(`order ${order.id}: paid ${capturedAmount} instead of ${order.amount}; refunding`);
      setImmediate(() => this.schedule(order.id));
    }
    return changed;
  }

  /** A verified `PAY_FAILED`. Returns whether the order changed (a paid order ignores it). */
  private markPayFailed(orderId: string, failCode: string | undefined): boolean {
    return this.failUnpaid(orderId, [...UNPAID, 'under_review'], payFailReason(failCode), 'payment_failed');
  }

  /** Under `ack-before-commit`: the callback was acknowledged; its job waits in memory. */
  noteCallbackReceived(orderId: string): void {
    this.db.update(orderId, UNPAID, { callback_received: 1 });
  }

  /** Under `ack-before-commit`: the queued job ran (whatever it found). */
  clearCallbackReceived(orderId: string): void {
    const order = this.db.get(orderId);
    if (order?.callback_received) this.db.update(orderId, 'any', { callback_received: 0 });
  }

  /**
   * A callback whose signature was checked (or not, under the signature flaws). The transition is
   * committed before this returns (and so before the provider is acknowledged); delivery runs
   * afterwards, only when this callback changed the order.
   */
  handleCallback(payload: { tradeNo: string; outTradeNo: string; status: string; amount: number; failCode?: string }): CallbackOutcome {
    const order = this.db.get(payload.outTradeNo);
    if (!order) return { kind: 'not_found' };
    if (order.trade_no && payload.tradeNo && order.trade_no !== payload.tradeNo) return { kind: 'trade_mismatch' };
    if (payload.status === 'TRADE_SUCCESS') {
      const tradeNo = order.trade_no ?? payload.tradeNo;
      // Flaw `no-amount-check`: whatever was paid counts as the order's price.
      if (payload.amount !== order.amount && !this.flaws.has('no-amount-check')) {
        return { kind: 'ok', changed: this.markAmountMismatch(order, tradeNo, payload.amount) };
      }
      if (this.flaws.has('no-idempotent-callbacks')) {
        // Flaw: no check of what already happened; every copy marks paid and delivers again.
        // (next_check_at is a crash safety net only; the delivery below clears it long before.)
        this.db.update(order.id, 'any', {
          status: 'paid',
          reason: null,
          trade_no: tradeNo,
          paid_at: Date.now(),
          next_check_at: Date.now() + FLAWED_DELIVERY_SAFETY_NET,
        });
        setImmediate(() => {
          if (!this.closed) this.track(this.exclusive(order.id, () => this.deliver(order.id, true)));
        });
        return { kind: 'ok', changed: true };
      }
      const late = REOPENABLE.includes(order.status) && order.paid_at === null;
      if (late && this.flaws.has('late-payment-dropped')) {
        // Flaw: the money is kept, nothing is delivered, nobody is told.
        this.options.log(`order ${order.id}: payment after the order ended; ignored`);
        return { kind: 'ok', changed: false };
      }
      if (late && this.flaws.has('late-payment-unchecked')) return { kind: 'ok', changed: this.deliverLateUnchecked(order, tradeNo) };
      const { changed } = this.markPaid(order, { tradeNo: payload.tradeNo, amount: payload.amount });
      if (changed) setImmediate(() => this.schedule(order.id));
      return { kind: 'ok', changed };
    }
    if (payload.status === 'PAY_FAILED') {
      // A stale PAY_FAILED for a paid order (an earlier declined attempt) changes nothing.
      const changed = this.markPayFailed(order.id, payload.failCode);
      if (changed) setImmediate(() => this.schedule(order.id));
      return { kind: 'ok', changed };
    }
    return { kind: 'ok', changed: false };
  }

  /**
   * Flaw `late-payment-unchecked`: a late success is marked delivered at once; the card issue on
   * the long-gone reservation is tried afterwards and fails, so the order shows no cards.
   */
  private deliverLateUnchecked(order: OrderRow, tradeNo: string): boolean {
    const changed = this.db.transaction(() => {
      const now = Date.now();
      const ok = this.db.update(order.id, REOPENABLE, {
        status: 'delivered',
        reason: null,
        trade_no: order.trade_no ?? tradeNo,
        paid_at: now,
        delivered_at: now,
        release_pending: 0,
        attempts: 0,
        next_check_at: null,
      });
      if (ok) this.enqueue({ order: this.db.get(order.id)!, kind: 'delivered', cards: [] });
      return ok;
    });
    const reservationId = order.reservation_id;
    if (changed && reservationId) {
      this.track(
        this.call(this.options.stock.fulfil(reservationId)).then((result) => {
          if (result.kind === 'fulfilled') this.db.insertCards(order.id, reservationId, result.cards, Date.now());
          else this.options.log(`order ${order.id}: late card issue failed: ${result.kind}`);
        }),
      );
    }
    return changed;
  }

  /** A query or close found the trade paid: paid (or `amount_mismatch`), then deliver. */
  private async onTradeSuccess(order: OrderRow, trade: TradeInfo): Promise<void> {
    const paid = captured(trade);
    if (paid !== order.amount && !this.flaws.has('no-amount-check')) {
      this.markAmountMismatch(order, trade.tradeNo, paid);
      return;
    }
    if (this.markPaid(order, { tradeNo: trade.tradeNo, amount: paid }).changed) await this.deliver(order.id, false);
  }

  /** An unpaid order whose check is due: expire it at its deadline, else ask the provider. */
  private async checkPayment(order: OrderRow): Promise<void> {
    const now = Date.now();
    if (this.flaws.has('ack-before-commit') && order.callback_received) {
      // Flaw: "the queue will handle it" — no query, no expiry while a callback job is pending.
      this.db.update(order.id, [...UNPAID, 'under_review'], { next_check_at: now + this.timers.reconcileEvery });
      return;
    }
    const expiresAt = order.expires_at ?? order.created_at + this.timers.orderTtl;
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
        await this.onTradeSuccess(order, trade);
        if (this.db.get(order.id)?.status !== order.status) return;
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

  /** The deadline has passed: close the trade (a payment that beat us means paid), expire, release. */
  private async expire(order: OrderRow): Promise<void> {
    let reason: OrderReason = order.status === 'awaiting_verification' ? 'verification_timeout' : 'expired_unpaid';
    if (!this.flaws.has('no-reconcile') && order.trade_no) {
      if (order.status === 'pending_payment') {
        // A last look: the buyer may be in the middle of a verification the shop has not seen yet.
        const last = await this.call(this.options.payment.queryTrade(order.trade_no));
        if (last.kind === 'found' && last.trade.status === 'VERIFYING') reason = 'verification_timeout';
        if (last.kind === 'found' && last.trade.status === 'TRADE_SUCCESS') {
          await this.onTradeSuccess(order, last.trade);
          return;
        }
      }
      const result = await this.call(this.options.payment.closeTrade(order.trade_no));
      if (result.kind === 'has_success') {
        const current = this.db.get(order.id)!;
        const found = await this.call(this.options.payment.queryTrade(order.trade_no));
        const trade: TradeInfo =
          found.kind === 'found' ? found.trade : { tradeNo: order.trade_no, outTradeNo: order.id, status: 'TRADE_SUCCESS', amount: order.amount, refunded: 0 };
        await this.onTradeSuccess(current, trade);
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
   * a late payment, or — under `no-idempotent-callbacks` — already fulfilled), then fulfil. A
   * fulfil answered SOLD_OUT gives the reservation back and reserves once more before refunding.
   * `force` is the flawed path: no check of the current status.
   */
  private async deliver(orderId: string, force: boolean): Promise<void> {
    const from = force ? 'any' : DELIVERING;
    if (!this.db.update(orderId, from, { status: 'fulfilling' })) return;
    if (this.flaws.has('no-reservation')) {
      await this.deliverFromStockpile(orderId, force);
      return;
    }
    let soldOutOnce = false;
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
          if (this.flaws.has('sold-out-marked-delivered')) {
            this.markDeliveredWithoutCards(orderId, force);
            return;
          }
          this.db.update(orderId, 'any', { reservation_state: 'expired' });
          continue;
        case 'sold_out': {
          if (this.flaws.has('sold-out-marked-delivered')) {
            this.markDeliveredWithoutCards(orderId, force);
            return;
          }
          if (!soldOutOnce) {
            // Give this reservation back and reserve once more: the supplier may still have stock.
            soldOutOnce = true;
            const released = await this.call(this.options.stock.release(reservationId));
            if (released.kind !== 'released') {
              await this.deliveryFailedAttempt(orderId, `release after SOLD_OUT: ${released.detail}`, force);
              return;
            }
            this.db.update(orderId, 'any', { reservation_state: 'released', release_pending: 0 });
            continue;
          }
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
      const order = this.db.get(orderId)!;
      this.db.update(orderId, force ? 'any' : ['fulfilling', 'paid'], {
        status: 'delivered',
        reason: null,
        // Under `no-reservation` the order's own reservation is left to lapse.
        reservation_state: order.reservation_id === reservationId ? 'fulfilled' : order.reservation_state,
        release_pending: 0,
        delivered_at: now,
        attempts: 0,
        next_check_at: null,
      });
      // A second card set only happens under `no-idempotent-callbacks`: it gets its own message.
      const messageKey = earlierSets === 0 ? `${orderId}:delivered` : `${orderId}:delivered:${earlierSets + 1}`;
      this.enqueue({ order: this.db.get(orderId)!, kind: 'delivered', cards, messageKey });
    });
  }

  /** Flaw `sold-out-marked-delivered`: card issue failed, the order says delivered anyway. */
  private markDeliveredWithoutCards(orderId: string, force: boolean): void {
    this.db.transaction(() => {
      const now = Date.now();
      if (this.db.update(orderId, force ? 'any' : ['fulfilling', 'paid'], { status: 'delivered', reason: null, release_pending: 0, delivered_at: now, attempts: 0, next_check_at: null })) {
        this.enqueue({ order: this.db.get(orderId)!, kind: 'delivered', cards: [] });
      }
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
    this.db.update(orderId, force ? 'any' : ['fulfilling'], { status: 'fulfilling', attempts, next_check_at: Date.now() + backoff(attempts - 1, 250, 2000) });
  }

  /** A paid order that cannot get its cards: refund it (or, under `no-refund`, just fail it). */
  private async cannotFulfil(orderId: string, reason: 'out_of_stock' | 'delivery_failed', restockAt: string | null, force: boolean): Promise<void> {
    const from = force ? 'any' : DELIVERING;
    if (reason === 'out_of_stock' && this.flaws.has('sold-out-marked-delivered')) {
      this.markDeliveredWithoutCards(orderId, force);
      return;
    }
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

  /**
   * Refund what was captured under the fixed refund number `<orderId>-r1` (idempotent at the
   * provider): a `refund_pending` order ends `refunded`; an order that owes a refund but keeps its
   * status (`failed`/`amount_mismatch`) just settles it. Retried with backoff until done.
   */
  private async refund(orderId: string): Promise<void> {
    const order = this.db.get(orderId);
    if (!order || (order.status !== 'refund_pending' && !order.refund_due)) return;
    const amount = order.refund_amount ?? order.amount;
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
      const result = await this.call(this.options.payment.refund(tradeNo, `${orderId}-r1`, amount));
      if (result.kind === 'refunded') {
        done = true;
      } else if (result.kind === 'exceeds_paid') {
        // Already refunded (an earlier attempt whose answer was lost)? The trade's total says.
        const found = await this.call(this.options.payment.queryTrade(tradeNo));
        done = found.kind === 'found' && found.trade.refunded >= amount;
        detail = 'REFUND_EXCEEDS_PAID';
      } else {
        detail = result.kind === 'refused' ? result.code : (result as Unavailable).detail;
      }
    }
    if (done) {
      this.db.transaction(() => {
        const current = this.db.get(orderId)!;
        const next = current.release_pending ? Date.now() : null;
        if (current.status === 'refund_pending') {
          const reason = order.refund_reason ?? 'out_of_stock';
          if (this.db.update(orderId, ['refund_pending'], { status: 'refunded', reason, attempts: 0, next_check_at: next })) {
            this.enqueue({ order: this.db.get(orderId)!, kind: 'refunded', reason, restockAt: order.restock_at });
          }
        } else if (current.refund_due) {
          this.db.update(orderId, [current.status], { refund_due: 0, attempts: 0, next_check_at: next });
          this.enqueue({ order: this.db.get(orderId)!, kind: 'refunded', ...(current.reason ? { reason: current.reason } : {}) });
        }
      });
      return;
    }
    this.options.log(`order ${orderId}: refund attempt ${order.attempts + 1} failed: ${detail}`);
    this.db.update(orderId, [order.status], { attempts: order.attempts + 1, next_check_at: Date.now() + backoff(order.attempts, 250, 5000) });
  }

  // ---------------------------------------------------------------------------------------------
  // The local card stockpile (flaw `no-reservation`)

  /**
   * Flaw `no-reservation`: pick unsold cards from the local table, await (a stock-level check and
   * a slow vault read), then mark them sold. Two deliveries in that gap get the same cards.
   */
  private async deliverFromStockpile(orderId: string, force: boolean): Promise<void> {
    const order = this.db.get(orderId)!;
    let picked = this.db.unsoldCards(order.sku, order.quantity);
    if (picked.length < order.quantity) {
      await this.call(this.refillStockpile(order.sku));
      picked = this.db.unsoldCards(order.sku, order.quantity);
    }
    if (picked.length < order.quantity) {
      const restockAt = await this.call(this.options.stock.restockAt(order.sku));
      await this.cannotFulfil(orderId, 'out_of_stock', restockAt ?? null, force);
      return;
    }
    await this.call(this.options.stock.level(order.sku));
    await this.pause(STOCKPILE_GAP_MS);
    this.db.markCardsSold(
      picked.map((card) => card.code),
      orderId,
    );
    this.completeDelivery(
      orderId,
      `local-${orderId}`,
      picked.map((card) => ({ code: card.code, pin: card.pin })),
      force,
    );
    if (this.db.countUnsold(order.sku) < STOCKPILE_LOW) this.track(this.refillStockpile(order.sku));
  }

  /** Buys a batch of cards from the supplier under `stockpile-<SKU>-<n>` (one purchase per SKU at a time). */
  private refillStockpile(sku: string): Promise<void> {
    let running = this.refills.get(sku);
    if (!running) {
      running = this.buyBatch(sku).finally(() => this.refills.delete(sku));
      this.refills.set(sku, running);
    }
    return running;
  }

  private async buyBatch(sku: string): Promise<void> {
    const batch = `stockpile-${sku}-${this.db.stockpileBatches(sku) + 1}`;
    const ttlMs = 60_000;
    let reserved = await this.call(this.options.stock.reserve({ sku, quantity: STOCKPILE_BATCH, orderId: batch, ttlMs }));
    if (reserved.kind === 'sold_out') {
      const level = await this.call(this.options.stock.level(sku));
      const quantity = Math.min(STOCKPILE_BATCH, level?.available ?? 0);
      if (quantity > 0) reserved = await this.call(this.options.stock.reserve({ sku, quantity, orderId: batch, ttlMs }));
    }
    if (reserved.kind !== 'reserved') {
      this.options.log(`stockpile ${batch}: reserve failed: ${reserved.kind}`);
      return;
    }
    const fulfilled = await this.call(this.options.stock.fulfil(reserved.reservationId));
    if (fulfilled.kind !== 'fulfilled') {
      this.options.log(`stockpile ${batch}: fulfil failed: ${fulfilled.kind}`);
      return;
    }
    this.db.addToStockpile(sku, batch, fulfilled.cards, Date.now());
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
          const found = await this.call(this.options.payment.queryTrade(order.trade_no));
          const paid = found.kind === 'found' ? captured(found.trade) : order.amount;
          if (paid !== order.amount && !this.flaws.has('no-amount-check')) this.markAmountMismatch(order, order.trade_no, paid);
          else paidMeanwhile = this.markPaid(this.db.get(orderId)!, { tradeNo: order.trade_no, amount: paid }).changed;
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
