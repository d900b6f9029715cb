/**
 * One buyer's journey through the shop, as a real buyer would make it: create the order, pay at
 * the provider's cashier (unless the behaviour says otherwise), then follow the order's status
 * with bounded polling. Everything seen is journaled; nothing the shop does is an exception.
 */
import { randomUUID } from 'node:crypto';
import type { Buyer } from './buyers.js';
import { SETTLED_STATUSES, type JournalSink } from './journal.js';
import type { Scenario } from './scenario-schema.js';
import type { HttpClient, ShopOrderView } from './shop-client.js';
import type { Correlation } from '../mocks/mock-types.js';

export interface OrderTrack {
  orderId: string;
  buyerId: string;
  status?: string;
  reason?: string;
  cards: number;
}

/** What every buyer shares: where the shop and cashier are, and the orders seen so far. */
export interface BuyerContext {
  scenario: Scenario;
  journal: JournalSink;
  client: HttpClient;
  shopUrl: string;
  paymentUrl: string;
  correlation: Correlation;
  /** Orders the harness knows of, by id (used by the settle phase). */
  orders: Map<string, OrderTrack>;
  /** Prefix that keeps Idempotency-Keys unique across runs against a long-lived shop. */
  runId: string;
  /** True once the run is stopping (target gone, or aborted): buyers stop waiting. */
  stopped(): boolean;
  /** Waits `ms` unless the run stops first. */
  pause(ms: number): Promise<void>;
}

export function newRunId(): string {
  return randomUUID().slice(0, 8);
}

/** Journals the order's status when it changed since last seen. */
export function observeOrder(context: BuyerContext, buyerId: string, view: ShopOrderView, source: 'create' | 'poll' | 'sweep'): OrderTrack {
  let track = context.orders.get(view.orderId);
  if (!track) {
    track = { orderId: view.orderId, buyerId, cards: 0 };
    context.orders.set(view.orderId, track);
  }
  const cards = view.delivery?.cards?.length ?? 0;
  if (track.status !== view.status || track.reason !== view.reason || track.cards !== cards) {
    track.status = view.status;
    track.reason = view.reason;
    track.cards = cards;
    context.journal.append('order.observed', {
      orderId: view.orderId,
      buyerId: track.buyerId,
      status: view.status,
      ...(view.reason === undefined ? {} : { reason: view.reason }),
      cards,
      source,
    });
  }
  return track;
}

/** Fetches an order's current view; undefined when the shop gave no usable answer. */
export async function fetchOrder(context: BuyerContext, orderId: string): Promise<ShopOrderView | undefined> {
  const answer = await context.client.send<ShopOrderView>('GET', `${context.shopUrl}/orders/${encodeURIComponent(orderId)}`);
  if (answer.status === 200 && answer.body && typeof answer.body.status === 'string') return answer.body;
  return undefined;
}

function orderBody(buyer: Buyer): Record<string, unknown> {
  return {
    sku: buyer.sku,
    quantity: buyer.quantity,
    recipient: buyer.recipient,
    buyer: {
      id: buyer.id,
      contact: buyer.contact,
      ip: buyer.ip,
      region: buyer.region,
      accountAgeDays: buyer.accountAgeDays,
      deviceId: buyer.deviceId,
    },
    paymentMethod: buyer.paymentMethod,
  };
}

/** Longest a buyer follows one order: expiry plus reconciliation plus slack. */
export function followLimitMs(scenario: Scenario): number {
  const { orderTtl, reconcileAfter, reconcileEvery } = scenario.shop;
  return orderTtl + reconcileAfter + 2 * reconcileEvery + 3000;
}

export async function runBuyer(context: BuyerContext, buyer: Buyer, intendedAt: number): Promise<void> {
  const { journal, client, scenario } = context;
  const finish = (outcome: 'delivered' | 'failed' | 'timeout' | 'rejected' | 'error' | 'abandoned', orderId?: string, finalStatus?: string): void => {
    journal.append('buyer.finished', {
      buyerId: buyer.id,
      ...(orderId === undefined ? {} : { orderId }),
      ...(finalStatus === undefined ? {} : { finalStatus }),
      outcome,
      latencyMs: Math.max(0, journal.now() - intendedAt),
    });
  };

  const idempotencyKey = `${context.runId}-${buyer.id}`;
  const body = orderBody(buyer);
  const submit = async (attempt: number) => {
    journal.append('order.create.sent', { buyerId: buyer.id, idempotencyKey, attempt });
    const answer = await client.send<ShopOrderView>('POST', `${context.shopUrl}/orders`, body, { 'idempotency-key': idempotencyKey });
    const view = answer.body;
    journal.append('order.create.answered', {
      buyerId: buyer.id,
      idempotencyKey,
      latencyMs: Math.round(answer.latencyMs * 1000) / 1000,
      ...(answer.status === undefined ? {} : { httpStatus: answer.status }),
      ...(answer.error === undefined ? {} : { error: answer.error }),
      ...(view?.orderId ? { orderId: view.orderId } : {}),
      ...(view?.status ? { status: view.status } : {}),
      ...(view?.reason ? { reason: view.reason } : {}),
      ...(typeof view?.amount === 'number' ? { amount: view.amount } : {}),
      ...(view?.payment?.tradeNo ? { tradeNo: view.payment.tradeNo } : {}),
      ...(view?.error?.code ? { errorCode: view.error.code } : {}),
    });
    return answer;
  };

  // A double submit is two windows (or a refresh) sending the same intent with the same key at once.
  const answers = buyer.behaviour === 'double_submit' ? await Promise.all([submit(1), submit(2)]) : [await submit(1)];
  const created = answers.find((answer) => (answer.status === 201 || answer.status === 200) && answer.body?.orderId);
  if (!created?.body) {
    const rejected = answers.some((answer) => answer.status !== undefined && answer.status >= 400 && answer.status < 500);
    finish(rejected ? 'rejected' : 'error');
    return;
  }
  const orderId = created.body.orderId;
  context.correlation.link(orderId, buyer.id);
  let track = observeOrder(context, buyer.id, created.body, 'create');

  const tradeNo = created.body.payment?.tradeNo;
  if (track.status === 'pending_payment' && tradeNo && buyer.behaviour !== 'abandon_payment') {
    await context.pause(scenario.buyers.payAfter);
    if (!context.stopped()) {
      const pay = await client.send<{ status?: string; code?: string }>(
        'POST',
        `${context.paymentUrl}/v1/trades/${encodeURIComponent(tradeNo)}/pay`,
        { payerId: buyer.id, method: buyer.paymentMethod },
      );
      const status = pay.body?.status;
      journal.append('cashier.paid', {
        buyerId: buyer.id,
        orderId,
        tradeNo,
        latencyMs: Math.round(pay.latencyMs * 1000) / 1000,
        ...(pay.status === undefined ? {} : { httpStatus: pay.status }),
        result: status === 'TRADE_SUCCESS' || status === 'PAY_FAILED' || status === 'VERIFYING' ? status : 'error',
        ...(pay.body?.code ? { code: pay.body.code } : {}),
      });
    }
  }

  const deadline = journal.now() + followLimitMs(scenario);
  while (!SETTLED_STATUSES.has(track.status ?? '') && journal.now() < deadline && !context.stopped()) {
    await context.pause(scenario.buyers.pollEvery);
    const view = await fetchOrder(context, orderId);
    if (view) track = observeOrder(context, buyer.id, view, 'poll');
  }

  const status = track.status;
  if (status === 'delivered') finish('delivered', orderId, status);
  else if (status !== undefined && SETTLED_STATUSES.has(status)) {
    finish(buyer.behaviour === 'abandon_payment' && (status === 'expired' || status === 'cancelled') ? 'abandoned' : 'failed', orderId, status);
  } else finish('timeout', orderId, status);
}
