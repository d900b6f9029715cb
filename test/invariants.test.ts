/** Invariants on the folded ledgers: each holding and broken, with the orders named. */
import { describe, expect, it } from 'vitest';
import { scoreScenario } from '../harness/score.js';
import { violatingOrders } from '../harness/invariants.js';
import type { InvariantResult } from '../harness/report-types.js';
import { INVARIANT_IDS, type InvariantId, type Scenario } from '../harness/scenario-schema.js';
import { JournalBuilder, makeScenario } from './score-journal.js';

async function invariants(builder: JournalBuilder, scenario: Scenario = makeScenario()): Promise<Record<InvariantId, InvariantResult>> {
  const score = await scoreScenario(builder.events, scenario);
  expect(score.invariants.map((invariant) => invariant.id)).toEqual([...INVARIANT_IDS]);
  return Object.fromEntries(score.invariants.map((invariant) => [invariant.id, invariant])) as Record<InvariantId, InvariantResult>;
}

/** A run where every invariant holds: deliveries, a refunded order, a sold-out order, a two-card order. */
function clean(): JournalBuilder {
  return new JournalBuilder()
    .happy(0, 'b1', 'o1')
    .happy(0, 'b2', 'o2', { quantity: 2, amount: 6000 })
    .buyer(0, 'b3')
    .created(10, 'b3', 'o3')
    .paid(100, 'o3')
    .observed(200, 'o3', 'b3', 'refund_pending')
    .refund(300, 'o3')
    .observed(400, 'o3', 'b3', 'refunded')
    .observed(500, 'o3', 'b3', 'refunded')
    .buyer(0, 'b4')
    .created(10, 'b4', 'o4', { status: 'failed', reason: 'out_of_stock' })
    // a late payment moves a failed order on: allowed
    .buyer(0, 'b5')
    .created(10, 'b5', 'o5')
    .observed(100, 'o5', 'b5', 'expired')
    .paid(200, 'o5')
    .observed(300, 'o5', 'b5', 'paid')
    .fulfilled(400, 'o5', ['L1'])
    .fulfilled(450, 'o5', ['L1'], { repeat: true })
    .observed(500, 'o5', 'b5', 'delivered', { cards: 1 });
}

describe('invariants', () => {
  it('all hold on a clean run', async () => {
    const results = await invariants(clean());
    for (const id of INVARIANT_IDS) {
      expect(results[id].ok, id).toBe(true);
      expect(results[id].violations).toEqual([]);
      expect(results[id].description.length).toBeGreaterThan(0);
    }
  });

  it('no-double-charge: two captures on one order', async () => {
    const results = await invariants(clean().paid(1000, 'o1'));
    expect(results['no-double-charge'].ok).toBe(false);
    expect(results['no-double-charge'].violations).toEqual([{ orderIds: ['o1'], message: 'order o1 charged 2 times (3000 + 3000)' }]);
  });

  it('no-double-charge: one buyer charged on two orders', async () => {
    const journal = clean().created(20, 'b1', 'o1b').paid(300, 'o1b');
    const result = (await invariants(journal))['no-double-charge'];
    expect(result.ok).toBe(false);
    expect(violatingOrders(result)).toEqual(['o1', 'o1b']);
    expect(result.violations[0]?.message).toBe('buyer b1 charged on 2 orders: o1, o1b');
  });

  it('no-oversell: one card code issued to two orders', async () => {
    const result = (await invariants(clean().paid(100, 'o4').fulfilled(200, 'o4', ['CARD-o1-0'])))['no-oversell'];
    expect(result.ok).toBe(false);
    expect(result.violations).toEqual([{ orderIds: ['o1', 'o4'], message: 'card CARD-o1-0 issued to 2 orders: o1, o4' }]);
  });

  it('no-oversell: more cards issued than the initial stock', async () => {
    const scenario = makeScenario({ catalog: { skus: [{ sku: 'MONTH_CARD', name: 'Monthly card', price: 3000, stock: 3 }] } });
    const result = (await invariants(clean(), scenario))['no-oversell'];
    expect(result.ok).toBe(false);
    expect(result.violations).toEqual([{ orderIds: ['o1', 'o2', 'o5'], message: 'SKU MONTH_CARD: 4 cards issued, initial stock 3' }]);
    const enough = makeScenario({ catalog: { skus: [{ sku: 'MONTH_CARD', name: 'Monthly card', price: 3000, stock: 4 }] } });
    expect((await invariants(clean(), enough))['no-oversell'].ok).toBe(true);
  });

  it('no-double-delivery: more distinct cards than the quantity', async () => {
    const result = (await invariants(clean().fulfilled(1000, 'o1', ['EXTRA'])))['no-double-delivery'];
    expect(result.ok).toBe(false);
    expect(result.violations).toEqual([{ orderIds: ['o1'], message: 'order o1 got 2 cards for quantity 1' }]);
  });

  it('paid-orders-settled: paid, neither delivered nor refunded (a partial refund is not enough)', async () => {
    const journal = clean()
      .buyer(0, 'b6')
      .created(10, 'b6', 'o6')
      .paid(100, 'o6')
      .buyer(0, 'b7')
      .created(10, 'b7', 'o7')
      .paid(100, 'o7')
      .refund(200, 'o7', 1000);
    const result = (await invariants(journal))['paid-orders-settled'];
    expect(result.ok).toBe(false);
    expect(violatingOrders(result)).toEqual(['o6', 'o7']);
    expect(result.violations[0]?.message).toBe('order o6 paid, neither delivered nor refunded: charged 3000, refunded 0, 0/1 cards issued');
  });

  it('paid-orders-settled: a two-card order with one card is not settled', async () => {
    const journal = new JournalBuilder().buyer(0, 'b1', { quantity: 2 }).created(10, 'b1', 'o1', { amount: 6000 }).paid(100, 'o1', 6000).fulfilled(200, 'o1', ['A']);
    const results = await invariants(journal);
    expect(violatingOrders(results['paid-orders-settled'])).toEqual(['o1']);
    expect(violatingOrders(results.conservation)).toEqual(['o1']);
  });

  it('no-delivery-without-payment: cards issued with no capture', async () => {
    const result = (await invariants(clean().fulfilled(100, 'o4', ['FREE'])))['no-delivery-without-payment'];
    expect(result.ok).toBe(false);
    expect(result.violations).toEqual([{ orderIds: ['o4'], message: 'order o4: 1 card issued, nothing captured' }]);
  });

  it('conservation: charged − refunded = value delivered, with totals in the description', async () => {
    const holds = (await invariants(clean())).conservation;
    expect(holds.ok).toBe(true);
    // o1 3000 + o2 6000 + o3 3000 (refunded) + o5 3000 charged; o3's 3000 refunded; 12000 delivered.
    expect(holds.description).toContain('total: charged 15000, refunded 3000, value delivered 12000');

    const partial = new JournalBuilder()
      .buyer(0, 'b1', { quantity: 2 })
      .created(10, 'b1', 'o1', { amount: 6000 })
      .paid(100, 'o1', 6000)
      .fulfilled(200, 'o1', ['A'])
      .refund(300, 'o1', 3000);
    expect((await invariants(partial)).conservation.ok).toBe(true);

    const broken = (await invariants(clean().refund(1000, 'o1', 500))).conservation;
    expect(broken.ok).toBe(false);
    expect(broken.violations).toEqual([{ orderIds: ['o1'], message: 'order o1: captured − refunded = 2500, value delivered = 3000 (1/1 cards of 3000)' }]);

    // Doubled goods are value handed out that nobody paid for.
    const doubled = (await invariants(clean().fulfilled(1100, 'o1', ['EXTRA']))).conservation;
    expect(doubled.ok).toBe(false);
    expect(doubled.violations[0]!.message).toBe('order o1: captured − refunded = 3000, value delivered = 6000 (2/1 cards of 3000)');
  });

  it('truthful-status: delivered reported with no card issued', async () => {
    const journal = clean().buyer(0, 'b6').created(10, 'b6', 'o6').paid(100, 'o6').observed(200, 'o6', 'b6', 'delivered', { cards: 1 });
    const result = (await invariants(journal))['truthful-status'];
    expect(result.ok).toBe(false);
    expect(result.violations).toEqual([{ orderIds: ['o6'], message: 'order o6 reported delivered with no card issued' }]);
  });

  it('truthful-status: a final status moving backwards', async () => {
    const journal = clean().observed(2000, 'o1', 'b1', 'paid').observed(2000, 'o3', 'b3', 'delivered');
    const result = (await invariants(journal))['truthful-status'];
    expect(result.ok).toBe(false);
    expect(result.violations).toEqual([
      { orderIds: ['o1'], message: 'order o1 reported paid after delivered' },
      { orderIds: ['o3'], message: 'order o3 reported delivered with no card issued' },
      { orderIds: ['o3'], message: 'order o3 reported delivered after refunded' },
    ]);
    expect(violatingOrders(result)).toEqual(['o1', 'o3']);
  });
});
