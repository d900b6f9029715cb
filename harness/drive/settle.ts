/**
 * The settle phase of a scenario run: after the load, keep looking at the orders still open until
 * every one is settled, no callback is pending and the mocks have been quiet briefly — or the
 * scenario's settle time is up.
 */
import { sleep } from '../../core/arrivals.js';
import { SETTLED_STATUSES, type FileJournal } from '../../core/journal.js';
import type { Scenario } from '../../core/scenario-schema.js';
import { settleMsOf } from '../score/credit.js';
import { fetchOrder, FINAL_STATUSES, observeOrder, type BuyerContext, type OrderTrack } from './buyer-flow.js';

/**
 * Settle: keep looking at unsettled orders until every order is in a settled status, no
 * callback is pending and the mocks have been quiet briefly — or the scenario's settle time is up.
 * Then one final sweep records any last change (a late payment moving an expired order on).
 */
export async function settle(context: BuyerContext, pendingCallbacks: () => number | Promise<number>, scenario: Scenario, targetGone: () => boolean): Promise<void> {
  const quietMs = 300;
  let lastActivity = context.journal.now();
  const unsubscribe = (context.journal as FileJournal).subscribe((event) => {
    if (event.type.startsWith('payment.') || event.type.startsWith('stock.') || event.type.startsWith('notify.')) {
      lastActivity = event.t;
    }
  });
  try {
    const deadline = context.journal.now() + settleMsOf(scenario);
    while (context.journal.now() < deadline && !targetGone() && !context.stopped()) {
      const open: OrderTrack[] = [];
      for (const order of context.orders.values()) if (!SETTLED_STATUSES.has(order.status ?? '')) open.push(order);
      await sweep(context, open);
      const quiet = context.journal.now() - lastActivity >= quietMs;
      if (allSettled(context.orders) && quiet && (await pendingCallbacks()) === 0) break;
      await sleep(Math.min(scenario.buyers.pollEvery, Math.max(0, deadline - context.journal.now())));
    }
    // Only orders that could still change are left to look at: the buyers released the final ones.
    if (!targetGone() && !context.stopped()) await sweep(context, [...context.orders.values()]);
  } finally {
    unsubscribe();
  }
}

function allSettled(orders: ReadonlyMap<string, OrderTrack>): boolean {
  for (const order of orders.values()) if (!SETTLED_STATUSES.has(order.status ?? '')) return false;
  return true;
}

/** Looks at each order once (64 at a time); an order seen in a final status is released. */
async function sweep(context: BuyerContext, orders: readonly OrderTrack[]): Promise<void> {
  const batch = 64;
  for (let index = 0; index < orders.length; index += batch) {
    await Promise.all(
      orders.slice(index, index + batch).map(async (order) => {
        const view = await fetchOrder(order.session, order.orderId);
        if (!view) return;
        const track = observeOrder(context, order.buyerId, order.session, view, 'sweep');
        if (FINAL_STATUSES.has(track.status ?? '')) context.orders.delete(track.orderId);
      }),
    );
  }
}
