/**
 * The orders in flight, by the journal, for `target.crash`: the orders a kill leaves open are the
 * ones whose recovery the crash puts to the test.
 */
import { SETTLED } from '../../core/faults/evidence.js';
import type { JournalEvent } from '../../core/journal.js';

/**
 * An order is open once stock is reserved or a trade exists for it, until it is delivered,
 * refunded or released unpaid by the ledgers — or, at a shop that holds its own stock (no supplier
 * ledger to show it), until its buyer saw it settle. (A buyer's last poll can be an interval stale.)
 */
export class OpenOrders {
  private readonly open = new Set<string>();
  private readonly captured = new Set<string>();

  note(event: JournalEvent): void {
    switch (event.type) {
      case 'stock.reserved':
      case 'payment.trade.created':
        this.open.add(event.orderId);
        return;
      case 'payment.trade.paid':
        this.captured.add(event.orderId);
        return;
      case 'stock.fulfilled':
        if (!event.repeat) this.open.delete(event.orderId);
        return;
      case 'payment.refund':
        if (event.ok && !event.repeat) this.open.delete(event.orderId);
        return;
      case 'stock.released':
      case 'payment.trade.closed':
        if (!this.captured.has(event.orderId)) this.open.delete(event.orderId);
        return;
      case 'order.observed':
        if (SETTLED.has(event.status)) this.open.delete(event.orderId);
        return;
      default:
    }
  }

  ids(): readonly string[] {
    return [...this.open];
  }
}
