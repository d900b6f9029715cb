/**
 * The license-key stock: keys are reserved for an order at checkout, delivered when it is paid,
 * and go back on sale when it is canceled. Callers run these inside their own transaction.
 */
import type { Db } from './database.js';

export interface DeliveredKey {
  sku: string;
  key: string;
}

export class KeyStock {
  constructor(private readonly db: Db) {}

  /** Reserves `quantity` keys of `sku` for the order; false (and nothing reserved) when fewer are available. */
  reserve(orderNumber: string, sku: string, quantity: number): boolean {
    const ids = this.db
      .prepare<[string, number], { id: number }>("SELECT id FROM license_keys WHERE sku = ? AND state = 'available' ORDER BY id LIMIT ?")
      .all(sku, quantity)
      .map((row) => row.id);
    if (ids.length < quantity) return false;
    const mark = this.db.prepare("UPDATE license_keys SET state = 'reserved', order_number = ?, changed_at = ? WHERE id = ? AND state = 'available'");
    const now = Date.now();
    for (const id of ids) mark.run(orderNumber, now, id);
    return true;
  }

  /** Reserves every line, or nothing. */
  reserveAll(orderNumber: string, lines: ReadonlyArray<{ sku: string; quantity: number }>): boolean {
    for (const line of lines) {
      if (!this.reserve(orderNumber, line.sku, line.quantity)) {
        this.release(orderNumber);
        return false;
      }
    }
    return true;
  }

  /** Puts the order's reserved keys back on sale; how many. */
  release(orderNumber: string): number {
    return this.db.prepare("UPDATE license_keys SET state = 'available', order_number = NULL, changed_at = ? WHERE order_number = ? AND state = 'reserved'").run(Date.now(), orderNumber).changes;
  }

  /** Hands the order's reserved keys to the buyer; how many. */
  deliverReserved(orderNumber: string): number {
    return this.db.prepare("UPDATE license_keys SET state = 'delivered', changed_at = ? WHERE order_number = ? AND state = 'reserved'").run(Date.now(), orderNumber).changes;
  }

  delivered(orderNumber: string): DeliveredKey[] {
    return this.db.prepare<[string], DeliveredKey>("SELECT sku, code AS key FROM license_keys WHERE order_number = ? AND state = 'delivered' ORDER BY id").all(orderNumber);
  }
}
