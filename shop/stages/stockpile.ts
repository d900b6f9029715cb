/**
 * The local card stockpile: only ever used under the decision `deliverFromLocalStockpile`
 * (no-reservation). It models a shop that buys cards from the supplier in batches and hands them
 * out from its own table instead of fulfilling each order's reservation.
 *
 * The defect is in `take`: it picks unsold cards, awaits (a stock-level call and a slow vault
 * read), and only then marks them sold, so two deliveries in that gap get the same codes.
 */
import type { OrderRow } from '../db.js';
import type { Card } from '../services.js';
import type { StageContext } from './context.js';

/** Cards bought per batch, and the level that triggers the next batch. */
const STOCKPILE_BATCH = 5;
const STOCKPILE_LOW = 2;
/** The await between picking an unsold card and marking it sold. */
const STOCKPILE_GAP_MS = 100;
/** Life of a batch's reservation at the supplier (it is fulfilled at once). */
const BATCH_TTL_MS = 60_000;

export type TakeResult = { kind: 'taken'; cards: Card[] } | { kind: 'short'; restockAt: string | null };

export class Stockpile {
  /** Purchases in flight per SKU (one at a time per SKU). */
  private readonly refills = new Map<string, Promise<void>>();

  constructor(private readonly ctx: StageContext) {}

  /** At start-up: a batch for every SKU that is running low. */
  stockUp(): void {
    for (const sku of this.ctx.catalog.skus) this.topUpIfLow(sku.sku);
  }

  /** Buys the next batch in the background when fewer than `STOCKPILE_LOW` cards are left. */
  topUpIfLow(sku: string): void {
    if (this.ctx.db.countUnsold(sku) < STOCKPILE_LOW) this.ctx.tasks.track(this.refill(sku));
  }

  /** Takes the order's cards from the table (see the race above), buying a batch when it runs short. */
  async take(order: OrderRow): Promise<TakeResult> {
    const { db, stock, tasks } = this.ctx;
    let picked = db.unsoldCards(order.sku, order.quantity);
    if (picked.length < order.quantity) {
      await tasks.call(this.refill(order.sku));
      picked = db.unsoldCards(order.sku, order.quantity);
    }
    if (picked.length < order.quantity) {
      const restockAt = await tasks.call(stock.restockAt(order.sku));
      return { kind: 'short', restockAt: restockAt ?? null };
    }
    await tasks.call(stock.level(order.sku));
    await tasks.pause(STOCKPILE_GAP_MS);
    db.markCardsSold(
      picked.map((card) => card.code),
      order.id,
    );
    return { kind: 'taken', cards: picked.map((card) => ({ code: card.code, pin: card.pin })) };
  }

  /** Buys a batch of cards from the supplier under `stockpile-<SKU>-<n>` (one purchase per SKU at a time). */
  private refill(sku: string): Promise<void> {
    let running = this.refills.get(sku);
    if (!running) {
      running = this.buyBatch(sku).finally(() => this.refills.delete(sku));
      this.refills.set(sku, running);
    }
    return running;
  }

  private async buyBatch(sku: string): Promise<void> {
    const { db, stock, tasks, log } = this.ctx;
    const batch = `stockpile-${sku}-${db.stockpileBatches(sku) + 1}`;
    let reserved = await tasks.call(stock.reserve({ sku, quantity: STOCKPILE_BATCH, orderId: batch, ttlMs: BATCH_TTL_MS }));
    if (reserved.kind === 'sold_out') {
      const level = await tasks.call(stock.level(sku));
      const quantity = Math.min(STOCKPILE_BATCH, level?.available ?? 0);
      if (quantity > 0) reserved = await tasks.call(stock.reserve({ sku, quantity, orderId: batch, ttlMs: BATCH_TTL_MS }));
    }
    if (reserved.kind !== 'reserved') {
      log(`stockpile ${batch}: reserve failed: ${reserved.kind}`);
      return;
    }
    const fulfilled = await tasks.call(stock.fulfil(reserved.reservationId));
    if (fulfilled.kind !== 'fulfilled') {
      log(`stockpile ${batch}: fulfil failed: ${fulfilled.kind}`);
      return;
    }
    db.addToStockpile(sku, batch, fulfilled.cards, Date.now());
  }
}
