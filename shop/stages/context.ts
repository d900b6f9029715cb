/**
 * What every stage works with: the database, the shop's decisions (its flaws, `../flaws.ts`), its
 * timers, the clients of its dependencies and the order tasks, plus the groups of statuses the
 * contract's transitions start from.
 */
import type { ShopCatalog, ShopTimers } from '../config.js';
import type { OrderRow, ShopDb, StoredStatus } from '../db.js';
import type { ShopDecisions } from '../flaws.js';
import type { PaymentGateway, PaymentRouter } from '../payment/gateway.js';
import type { NotifyClient, RiskClient, StockClient } from '../services.js';
import type { OrderTasks } from '../tasks.js';

export interface StageContext {
  readonly db: ShopDb;
  readonly decisions: ShopDecisions;
  readonly timers: ShopTimers;
  readonly catalog: ShopCatalog;
  /** The payment gateways; an order's is the one for its `payment_method` (`paymentFor`). */
  readonly payments: PaymentRouter;
  readonly stock: StockClient;
  readonly notify: NotifyClient;
  /** Risk screening before payment; absent when `ORDEAL_RISK_URL` is not set. */
  readonly risk: RiskClient | undefined;
  /** The notify URL handed to a protocol's provider; known once the server listens. */
  readonly callbackUrl: (protocol: string) => string;
  readonly tasks: OrderTasks;
  readonly log: (line: string) => void;
}

/**
 * The gateway of the channel the order's buyer chose, from its `payment_method` (no column keeps
 * it: the method → protocol routing is a pure function of the configuration, `payment/channels.ts`).
 */
export function paymentFor(ctx: StageContext, order: Pick<OrderRow, 'payment_method'>): PaymentGateway {
  return ctx.payments.forMethod(order.payment_method);
}

/** Statuses in which the order waits for the buyer to pay. */
export const UNPAID: readonly StoredStatus[] = ['pending_payment', 'awaiting_verification'];
/** Final statuses a verified payment can still reopen (a late payment). */
export const REOPENABLE: readonly StoredStatus[] = ['expired', 'failed', 'cancelled'];
/** Statuses a verified payment moves on to `paid` (the last three: a late payment). */
export const PAYABLE: readonly StoredStatus[] = ['creating', 'pending_payment', 'awaiting_verification', 'under_review', ...REOPENABLE];
/** Statuses the buyer may still cancel from (nothing paid yet). */
export const CANCELLABLE: readonly StoredStatus[] = ['pending_payment', 'awaiting_verification', 'under_review'];
/** Paid orders on their way to the buyer's cards. */
export const DELIVERING: readonly StoredStatus[] = ['paid', 'fulfilling'];
export const FINAL: readonly StoredStatus[] = ['delivered', 'refunded', 'failed', 'expired', 'cancelled'];

/**
 * A new order's retries stop once they would go past this long after its creation: the buyer is
 * waiting for the answer, and a hung call takes a whole request timeout. The last query by
 * outTradeNo still runs.
 */
export const CREATE_BUDGET_MS = 7000;
/** A Retry-After longer than this is cut short (the buyer is waiting for the answer). */
export const RETRY_AFTER_CAP = 3000;
/** Extra life of a reservation beyond the order's TTL, so it outlives the payment window. */
export const RESERVATION_GRACE = 5000;
