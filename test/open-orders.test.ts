/**
 * The orders a `target.crash` finds open: by the ledgers at a shop with a stock supplier, and by
 * what the buyers saw at a shop that holds its own stock (no supplier ledger closes its orders).
 */
import { describe, expect, it } from 'vitest';
import type { JournalEvent } from '../core/journal.js';
import { OpenOrders } from '../harness/drive/open-orders.js';

let seq = 0;
const event = (fields: Record<string, unknown>): JournalEvent => ({ seq: seq++, t: seq, ...fields }) as unknown as JournalEvent;

function openAfter(events: Array<Record<string, unknown>>): readonly string[] {
  const open = new OpenOrders();
  for (const fields of events) open.note(event(fields));
  return open.ids();
}

describe('OpenOrders', () => {
  it('closes an order the supplier fulfilled, a refunded one, and one released or closed unpaid', () => {
    expect(
      openAfter([
        { type: 'stock.reserved', orderId: 'delivered' },
        { type: 'stock.fulfilled', orderId: 'delivered', repeat: false },
        { type: 'payment.trade.created', orderId: 'refunded' },
        { type: 'payment.trade.paid', orderId: 'refunded' },
        { type: 'payment.refund', orderId: 'refunded', ok: true, repeat: false },
        { type: 'stock.reserved', orderId: 'released' },
        { type: 'stock.released', orderId: 'released' },
        { type: 'payment.trade.created', orderId: 'closed' },
        { type: 'payment.trade.closed', orderId: 'closed', result: 'closed' },
        { type: 'payment.trade.created', orderId: 'in-flight' },
      ]),
    ).toEqual(['in-flight']);
  });

  it('keeps open a paid order whose reservation was released, and one whose refund failed', () => {
    expect(
      openAfter([
        { type: 'stock.reserved', orderId: 'paid' },
        { type: 'payment.trade.paid', orderId: 'paid' },
        { type: 'stock.released', orderId: 'paid' },
        { type: 'payment.trade.created', orderId: 'refund-failed' },
        { type: 'payment.refund', orderId: 'refund-failed', ok: false, repeat: false },
      ]),
    ).toEqual(['paid', 'refund-failed']);
  });

  it('at an own-stock shop, closes what the buyer saw settle (delivered, expired, …) and keeps the rest', () => {
    expect(
      openAfter([
        { type: 'payment.trade.created', orderId: 'seen-delivered' },
        { type: 'payment.trade.paid', orderId: 'seen-delivered' },
        { type: 'order.observed', orderId: 'seen-delivered', status: 'delivered', cards: 1 },
        { type: 'payment.trade.created', orderId: 'seen-expired' },
        { type: 'order.observed', orderId: 'seen-expired', status: 'expired', cards: 0 },
        { type: 'payment.trade.created', orderId: 'seen-paid' },
        { type: 'payment.trade.paid', orderId: 'seen-paid' },
        { type: 'order.observed', orderId: 'seen-paid', status: 'paid', cards: 0 },
      ]),
    ).toEqual(['seen-paid']);
  });
});
