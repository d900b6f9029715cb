/**
 * The shop's own timers. The payment window: an order unpaid after PAYMENT_WINDOW_SECONDS is
 * canceled — its PaymentIntent canceled at Stripe first (which may reveal it was paid after all)
 * and its keys put back on sale. The reconcile job, every RECONCILE_SECONDS: asks Stripe about
 * each order still awaiting payment (a webhook may have been lost), and retries refunds due.
 */
import type { Flaw } from './flaws.js';
import type { OrderRow, Orders } from './orders.js';
import type { PaymentFlow } from './payment-flow.js';
import { stateOf, type Payments } from './payments.js';

/** Orders looked at per pass of each job (the next pass takes the rest). */
const BATCH = 100;

/** How often the payment window is checked: a fifth of it, between 0.2 s and 5 s. */
export function expirySweepMs(paymentWindowMs: number): number {
  return Math.min(5000, Math.max(200, Math.round(paymentWindowMs / 5)));
}

/** A periodic task that never overlaps itself and can be stopped and awaited. */
class Periodic {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly name: string,
    private readonly everyMs: number,
    private readonly task: () => Promise<void>,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.runOnce(), this.everyMs);
  }

  runOnce(): void {
    if (this.running) return;
    this.running = this.task()
      .catch((error: unknown) => this.log(`${this.name} pass failed: ${(error as Error).message}`))
      .finally(() => (this.running = undefined));
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}

export interface JobOptions {
  orders: Orders;
  payments: Payments;
  flow: PaymentFlow;
  flaws: ReadonlySet<Flaw>;
  paymentWindowMs: number;
  reconcileMs: number;
  log: (line: string) => void;
}

export class Jobs {
  private readonly expiry: Periodic;
  private readonly reconcile: Periodic;

  constructor(private readonly options: JobOptions) {
    this.expiry = new Periodic('payment window', expirySweepMs(options.paymentWindowMs), () => this.expireOverdue(), options.log);
    this.reconcile = new Periodic('reconcile', options.reconcileMs, () => this.reconcileOnce(), options.log);
  }

  start(): void {
    this.expiry.start();
    this.reconcile.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.expiry.stop(), this.reconcile.stop()]);
  }

  private async expireOverdue(): Promise<void> {
    const { orders, flaws } = this.options;
    for (const order of orders.overdue(Date.now(), BATCH)) {
      if (flaws.has('no-reconcile')) {
        orders.cancel(order.number, 'payment_window_expired');
        continue;
      }
      try {
        await this.expire(order);
      } catch (error) {
        this.options.log(`could not expire ${order.number}, will retry: ${(error as Error).message}`);
      }
    }
  }

  /** Cancels the order's intent (found by search if its id never arrived), then the order — unless Stripe says it was paid. */
  private async expire(order: OrderRow): Promise<void> {
    const { orders, payments, flow } = this.options;
    const intentId = order.payment_intent_id ?? (await this.adoptLostIntent(order));
    if (intentId === undefined) {
      orders.cancel(order.number, 'payment_window_expired');
      return;
    }
    const state = await payments.cancel(intentId);
    const current = orders.row(order.number) ?? order;
    await flow.applyState(current, state, 'payment_window_expired');
  }

  private async reconcileOnce(): Promise<void> {
    const { orders, payments, flow, flaws, log } = this.options;
    if (!flaws.has('no-reconcile')) {
      for (const order of orders.awaitingPayment(BATCH)) {
        try {
          const intentId = order.payment_intent_id ?? (await this.adoptLostIntent(order));
          if (intentId === undefined) {
            // Its create never succeeded: try again while the window is open.
            if (order.pay_before > Date.now()) await flow.startPayment(order);
            continue;
          }
          const current = orders.row(order.number) ?? order;
          await flow.applyState(current, stateOf(await payments.retrieve(intentId)), 'payment_canceled');
        } catch (error) {
          log(`reconcile of ${order.number} failed: ${(error as Error).message}`);
        }
      }
    }
    for (const order of orders.refundsDue(BATCH)) await flow.refundDue(order);
  }

  /** The intent Stripe has for the order though the shop never learned its id; attached when found. */
  private async adoptLostIntent(order: OrderRow): Promise<string | undefined> {
    const intent = await this.options.payments.findForOrder(order.number);
    if (!intent) return undefined;
    this.options.orders.attachIntent(order.number, intent.id, intent.client_secret);
    return intent.id;
  }
}
