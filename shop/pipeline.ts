/**
 * The order pipeline: builds the stages, ties them together, and is what the HTTP routes call.
 *
 *   intake          POST /orders (idempotency, one charge per intent), cancel   stages/intake.ts
 *   review          risk screening before payment                               stages/review.ts
 *   payment         the trade; payment results from callback, query or close    stages/payment.ts
 *   refunds         giving the money back                                       stages/refunds.ts
 *   fulfilment      reserve, release, deliver the cards                         stages/fulfilment.ts
 *   reconciliation  the loop: step(), timers, expiry, resuming after a crash     stages/reconciliation.ts
 *   notifications   the outbox of buyer messages                                stages/notifications.ts
 *
 * Each order is advanced by one task at a time (`OrderTasks`), its state in the database, every
 * change a compare-and-set. The flaws reach the stages only as `ShopDecisions` (`flaws.ts`).
 */
import type { ShopCatalog, ShopTimers } from './config.js';
import type { ShopDb } from './db.js';
import type { ShopDecisions } from './flaws.js';
import type { PaymentCallback, PaymentRouter } from './payment/gateway.js';
import type { NotifyClient, RiskClient, StockClient } from './services.js';
import type { StageContext } from './stages/context.js';
import { Fulfilment } from './stages/fulfilment.js';
import { Intake, type CancelOutcome, type CreateOutcome } from './stages/intake.js';
import { Notifications } from './stages/notifications.js';
import { Orders, type OrderView } from './stages/orders.js';
import { Payment, type CallbackOutcome } from './stages/payment.js';
import { Reconciler } from './stages/reconciliation.js';
import { Refunds } from './stages/refunds.js';
import { Review } from './stages/review.js';
import { Stockpile } from './stages/stockpile.js';
import { OrderTasks } from './tasks.js';
import type { OrderRequest } from './validation.js';

export type { CallbackOutcome } from './stages/payment.js';
export type { CancelOutcome, CreateOutcome } from './stages/intake.js';
export type { OrderView } from './stages/orders.js';
export { ShuttingDown } from './tasks.js';

export interface PipelineOptions {
  db: ShopDb;
  decisions: ShopDecisions;
  timers: ShopTimers;
  catalog: ShopCatalog;
  /** The payment gateways, by the buyer's method. */
  payments: PaymentRouter;
  stock: StockClient;
  notify: NotifyClient;
  /** Risk screening before payment; absent when `ORDEAL_RISK_URL` is not set. */
  risk?: RiskClient;
  /** The notify URL handed to a protocol's provider; known once the server listens. */
  callbackUrl: (protocol: string) => string;
  /** Aborted when the shop closes. */
  signal: AbortSignal;
  log: (line: string) => void;
  /** Reconciler scan interval (ms). */
  scanEvery: number;
}

export class Pipeline {
  private readonly tasks: OrderTasks;
  private readonly orders: Orders;
  private readonly notifications: Notifications;
  private readonly stockpile: Stockpile;
  private readonly intake: Intake;
  private readonly payment: Payment;
  private readonly reconciler: Reconciler;
  private readonly decisions: ShopDecisions;

  constructor(options: PipelineOptions) {
    this.decisions = options.decisions;
    // The reconciler's step is what a task runs again when its order changed meanwhile.
    this.tasks = new OrderTasks({ signal: options.signal, log: options.log, step: (orderId) => this.reconciler.step(orderId) });
    const ctx: StageContext = {
      db: options.db,
      decisions: options.decisions,
      timers: options.timers,
      catalog: options.catalog,
      payments: options.payments,
      stock: options.stock,
      notify: options.notify,
      risk: options.risk,
      callbackUrl: options.callbackUrl,
      tasks: this.tasks,
      log: options.log,
    };
    this.notifications = new Notifications(ctx);
    this.orders = new Orders(ctx, this.notifications);
    const refunds = new Refunds(ctx, this.notifications);
    this.stockpile = new Stockpile(ctx);
    const fulfilment = new Fulfilment(ctx, this.notifications, refunds, this.stockpile);
    this.payment = new Payment(ctx, this.orders, this.notifications, fulfilment);
    const review = new Review(ctx, this.orders, this.notifications, fulfilment, this.payment);
    this.intake = new Intake(ctx, this.orders, this.notifications, fulfilment, review, this.payment);
    this.reconciler = new Reconciler(
      ctx,
      { orders: this.orders, notifications: this.notifications, intake: this.intake, review, payment: this.payment, fulfilment, refunds },
      options.scanEvery,
    );
  }

  start(): void {
    this.reconciler.resumeUnfinished();
    if (this.decisions.deliverFromLocalStockpile) this.stockpile.stockUp();
    this.reconciler.start();
  }

  /** Stops the loops and waits for running tasks (their network calls are aborted). */
  async stop(): Promise<void> {
    this.tasks.close();
    this.reconciler.stop();
    this.notifications.stop();
    await this.tasks.settle();
  }

  createOrder(request: OrderRequest, idempotency?: { key: string; body: unknown }): Promise<CreateOutcome> {
    return this.intake.place(request, idempotency);
  }

  cancel(orderId: string): Promise<CancelOutcome> {
    return this.intake.cancel(orderId);
  }

  view(orderId: string): OrderView | undefined {
    return this.orders.view(orderId);
  }

  /** A payment callback; its transition is committed when this returns. */
  receivePayment(callback: PaymentCallback): CallbackOutcome {
    return this.payment.receive(callback);
  }

  noteCallbackReceived(orderId: string): void {
    this.payment.noteCallbackReceived(orderId);
  }

  clearCallbackReceived(orderId: string): void {
    this.payment.clearCallbackReceived(orderId);
  }
}
