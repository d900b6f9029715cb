/**
 * Reconciliation: the loop that keeps every order moving whatever the network did.
 *
 * Every order with work left carries `next_check_at`. Every `scanEvery` the reconciler starts the
 * due orders (and the due messages); `step()` advances one order from its stored state. Retries,
 * timers, the expiry of unpaid orders and work a crash left half-done all resume this one way. At
 * start-up every unfinished order is due at once: callbacks may have been missed while down.
 *
 * An unpaid order is queried from `reconcileAfter`, then every `reconcileEvery`, so a payment
 * whose callback was lost is still found; at its deadline a last query and a close decide between
 * paid and expired (a close answered TRADE_HAS_SUCCESS means the buyer paid just in time).
 *
 * Decisions: `relyOnCallbacksOnly` (no-reconcile), `acknowledgeBeforeCommitting` (ack-before-commit).
 */
import type { OrderReason, OrderRow } from '../db.js';
import { backoff } from '../http-client.js';
import { paymentFor, UNPAID, type StageContext } from './context.js';
import type { Fulfilment } from './fulfilment.js';
import type { Intake } from './intake.js';
import type { Notifications } from './notifications.js';
import type { Orders } from './orders.js';
import type { Payment } from './payment.js';
import type { Refunds } from './refunds.js';
import type { Review } from './review.js';

/** At most this many order tasks started by the reconciler at once. */
const MAX_SCAN_TASKS = 64;

export interface ReconcilerStages {
  orders: Orders;
  notifications: Notifications;
  intake: Intake;
  review: Review;
  payment: Payment;
  fulfilment: Fulfilment;
  refunds: Refunds;
}

export class Reconciler {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: StageContext,
    private readonly stages: ReconcilerStages,
    /** Interval of the scan (ms). */
    private readonly scanEvery: number,
  ) {}

  /** Makes every unfinished order due now (what was in flight when the last process stopped). */
  resumeUnfinished(): void {
    const resumed = this.ctx.db.recheckUnfinished(Date.now());
    if (resumed > 0) this.ctx.log(`resuming ${resumed} unfinished orders`);
  }

  start(): void {
    this.timer = setInterval(() => this.scan(), this.scanEvery);
    this.timer.unref();
    this.scan();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass: start the due orders (as many as there is room for) and the due messages. */
  private scan(): void {
    const { db, tasks } = this.ctx;
    if (tasks.closed) return;
    try {
      const room = MAX_SCAN_TASKS - tasks.running;
      if (room > 0) {
        for (const orderId of db.dueOrders(Date.now(), room * 2)) {
          if (tasks.running >= MAX_SCAN_TASKS) break;
          tasks.stepIfIdle(orderId);
        }
      }
      this.stages.notifications.sendDue();
    } catch (error) {
      this.ctx.log(`scan failed: ${(error as Error).stack ?? String(error)}`);
    }
  }

  /** Advances one order according to its stored state, if its `next_check_at` has come. */
  async step(orderId: string): Promise<void> {
    const { intake, review, fulfilment, refunds } = this.stages;
    const order = this.ctx.db.get(orderId);
    if (!order || order.next_check_at === null || order.next_check_at > Date.now()) return;
    switch (order.status) {
      case 'creating':
        await intake.create(orderId);
        return;
      case 'under_review':
        // A trade exists only once the review was approved.
        if (order.trade_no) await this.checkPayment(order);
        else await review.poll(order);
        return;
      case 'pending_payment':
      case 'awaiting_verification':
        await this.checkPayment(order);
        return;
      case 'paid':
      case 'fulfilling':
        await fulfilment.deliver(orderId, false);
        return;
      case 'refund_pending':
        await fulfilment.releaseIfPending(orderId);
        await refunds.refund(orderId);
        return;
      default:
        // Ended orders: a release still pending, or a refund still owed (a payment of the wrong amount).
        await fulfilment.releaseIfPending(orderId);
        if (this.ctx.db.get(orderId)?.refund_due) await refunds.refund(orderId);
        return;
    }
  }

  /** An unpaid order whose check is due: expire it at its deadline, else ask the provider. */
  private async checkPayment(order: OrderRow): Promise<void> {
    const { db, decisions, tasks, timers } = this.ctx;
    const payment = paymentFor(this.ctx, order);
    const now = Date.now();
    if (decisions.acknowledgeBeforeCommitting && order.callback_received) {
      // "The queue will handle it": no query, no expiry while a callback job is pending in memory.
      db.update(order.id, [...UNPAID, 'under_review'], { next_check_at: now + timers.reconcileEvery });
      return;
    }
    const expiresAt = order.expires_at ?? order.created_at + timers.orderTtl;
    if (now >= expiresAt) {
      await this.expire(order);
      return;
    }
    if (decisions.relyOnCallbacksOnly || !order.trade_no) {
      db.update(order.id, UNPAID, { next_check_at: expiresAt });
      return;
    }
    const result = await tasks.call(payment.queryTrade(order.trade_no));
    if (result.kind === 'found') {
      const { tradeNo, result: state } = result.trade;
      switch (state.kind) {
        case 'paid':
          await this.stages.payment.onPaid(order, tradeNo, state.captured);
          if (db.get(order.id)?.status !== order.status) return;
          break;
        case 'declined':
          if (this.stages.payment.markDeclined(order.id, state.reason)) await this.stages.fulfilment.releaseIfPending(order.id);
          return;
        case 'verifying':
          // The buyer must complete a verification: tell them, and keep asking until the deadline.
          if (order.status === 'pending_payment') {
            db.transaction(() => {
              if (db.update(order.id, ['pending_payment'], { status: 'awaiting_verification' })) {
                this.stages.notifications.tell({ order: db.get(order.id)!, kind: 'verification_required' });
              }
            });
          }
          break;
        case 'closed':
          // The provider closed the unpaid trade itself: nothing can be paid any more.
          await this.expire(order);
          return;
        case 'unpaid':
          break;
      }
    } else if (result.kind === 'unavailable') {
      this.ctx.log(`order ${order.id}: query failed: ${result.detail}`);
    }
    db.update(order.id, UNPAID, { next_check_at: Math.min(Date.now() + timers.reconcileEvery, expiresAt) });
  }

  /** The deadline has passed: close the trade (a payment that beat us means paid), expire, release. */
  private async expire(order: OrderRow): Promise<void> {
    const { db, decisions, tasks, timers } = this.ctx;
    const payment = paymentFor(this.ctx, order);
    let reason: OrderReason = order.status === 'awaiting_verification' ? 'verification_timeout' : 'expired_unpaid';
    const tradeNo = order.trade_no;
    if (!decisions.relyOnCallbacksOnly && tradeNo) {
      if (order.status === 'pending_payment') {
        // A last look: the buyer may be in the middle of a verification the shop has not seen yet.
        const last = await tasks.call(payment.queryTrade(tradeNo));
        if (last.kind === 'found' && last.trade.result.kind === 'verifying') reason = 'verification_timeout';
        if (last.kind === 'found' && last.trade.result.kind === 'paid') {
          await this.stages.payment.onPaid(order, last.trade.tradeNo, last.trade.result.captured);
          return;
        }
      }
      const result = await tasks.call(payment.closeTrade(tradeNo));
      if (result.kind === 'has_success') {
        const current = db.get(order.id)!;
        const captured = await this.stages.payment.capturedAfterClose({ ...order, trade_no: tradeNo });
        await this.stages.payment.onPaid(current, tradeNo, captured);
        return;
      }
      if (result.kind === 'unavailable' || result.kind === 'refused') {
        this.ctx.log(`order ${order.id}: close failed: ${result.kind === 'refused' ? result.code : result.detail}`);
        const current = db.get(order.id)!;
        db.update(order.id, UNPAID, {
          attempts: current.attempts + 1,
          next_check_at: Date.now() + Math.min(timers.reconcileEvery, backoff(current.attempts, 200, 2000)),
        });
        return;
      }
    }
    // Relying on callbacks alone, the order lands here directly: expired locally, no close call.
    if (this.stages.orders.endUnpaid(order.id, UNPAID, reason, 'expired', 'expired')) await this.stages.fulfilment.releaseIfPending(order.id);
  }
}
