/** Invariants on the folded ledgers: each holding and broken, with the orders named. */
import { describe, expect, it } from 'vitest';
import { scoreScenario } from '../harness/score/score.js';
import { violatingOrders } from '../core/report-reading.js';
import type { InvariantResult } from '../core/report-types.js';
import { INVARIANT_IDS, type InvariantId, type Scenario } from '../core/scenario-schema.js';
import { JournalBuilder, contactOf, makeScenario } from './score-journal.js';

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
    .message(460, 'o5', contactOf('b5'), 'delivered')
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

  it('no-double-charge: a buyer whose extra charge was refunded holds', async () => {
    const journal = clean().created(20, 'b1', 'o1b').paid(300, 'o1b').refund(400, 'o1b');
    expect((await invariants(journal))['no-double-charge'].ok).toBe(true);
  });

  it('no-oversell: one code shown on two orders, though the supplier issued it once', async () => {
    const journal = clean()
      .observed(600, 'o1', 'b1', 'delivered', { cardCodes: ['CARD-o1-0'] })
      .buyer(0, 'b6')
      .created(10, 'b6', 'o6')
      .paid(100, 'o6')
      .observed(700, 'o6', 'b6', 'delivered', { cardCodes: ['CARD-o1-0'] });
    const result = (await invariants(journal))['no-oversell'];
    expect(result.ok).toBe(false);
    expect(result.violations).toEqual([
      { orderIds: ['o1', 'o6'], message: 'card CARD-o1-0 shown on 2 orders: o1, o6 (issued once by the supplier)' },
    ]);
  });

  it('no-oversell: a code issued to two ids is reported once, as issued', async () => {
    const journal = clean()
      .paid(100, 'o4')
      .fulfilled(200, 'o4', ['CARD-o1-0'])
      .observed(600, 'o1', 'b1', 'delivered', { cardCodes: ['CARD-o1-0'] })
      .observed(700, 'o4', 'b4', 'delivered', { cardCodes: ['CARD-o1-0'] });
    const result = (await invariants(journal))['no-oversell'];
    expect(result.violations.map((violation) => violation.message)).toEqual(['card CARD-o1-0 issued to 2 orders: o1, o4']);
  });

  it('scopes payment and delivery rules to orders a buyer created; stockpile issues count only for codes', async () => {
    // The shop fills a stockpile (an id no buyer created), then delivers its codes to b6's order.
    const journal = clean()
      .fulfilled(50, 'stockpile-1', ['P1', 'P2'])
      .buyer(0, 'b6')
      .created(10, 'b6', 'o6')
      .paid(100, 'o6')
      .message(190, 'o6', contactOf('b6'), 'delivered')
      .observed(200, 'o6', 'b6', 'delivered', { cardCodes: ['P1'] });
    const results = await invariants(journal);
    for (const id of INVARIANT_IDS) expect(results[id].violations, id).toEqual([]);

    // The same stockpile code shown on a second order is a double sale.
    const twice = journal.buyer(0, 'b7').created(10, 'b7', 'o7').paid(100, 'o7').observed(300, 'o7', 'b7', 'delivered', { cardCodes: ['P1'] });
    const oversell = (await invariants(twice))['no-oversell'];
    expect(violatingOrders(oversell)).toEqual(['o6', 'o7']);
  });

  it('no-silent-late-delivery: cards after expired, with no delivered message', async () => {
    const journal = clean()
      .buyer(0, 'b6')
      .created(10, 'b6', 'o6')
      .observed(100, 'o6', 'b6', 'expired', { reason: 'expired_unpaid' })
      .paid(200, 'o6')
      .fulfilled(300, 'o6', ['LATE'])
      .buyer(0, 'b7')
      .created(10, 'b7', 'o7')
      .observed(100, 'o7', 'b7', 'cancelled')
      .paid(200, 'o7')
      .fulfilled(300, 'o7', ['LATE7'])
      .message(310, 'o7', 'someone@else.test', 'delivered');
    const result = (await invariants(journal))['no-silent-late-delivery'];
    expect(result.ok).toBe(false);
    expect(result.violations).toEqual([
      { orderIds: ['o6'], message: 'order o6 reported expired, then got 1 card without a delivered message' },
      { orderIds: ['o7'], message: 'order o7 reported cancelled, then got 1 card without a delivered message' },
    ]);
    const told = journal.message(320, 'o6', contactOf('b6'), 'delivered').message(330, 'o7', contactOf('b7'), 'delivered');
    expect((await invariants(told))['no-silent-late-delivery'].ok).toBe(true);
  });

  it('no-silent-late-delivery: a delivery before the expiry report is not a late delivery', async () => {
    const journal = new JournalBuilder()
      .buyer(0, 'b1')
      .created(10, 'b1', 'o1')
      .paid(50, 'o1')
      .fulfilled(60, 'o1', ['A'])
      .observed(100, 'o1', 'b1', 'expired');
    expect((await invariants(journal))['no-silent-late-delivery'].ok).toBe(true);
  });

  it('no-fake-success: delivered without cards, with too few, and success for an order that ends failed', async () => {
    const journal = clean()
      .buyer(0, 'b6')
      .created(10, 'b6', 'o6')
      .paid(100, 'o6')
      .observed(200, 'o6', 'b6', 'delivered', { cards: 1 })
      .buyer(0, 'b7', { quantity: 2 })
      .created(10, 'b7', 'o7', { amount: 6000 })
      .paid(100, 'o7', 6000)
      .fulfilled(150, 'o7', ['H1'])
      .observed(200, 'o7', 'b7', 'delivered', { cards: 2 })
      .buyer(0, 'b8')
      .created(10, 'b8', 'o8')
      .paid(100, 'o8')
      .observed(150, 'o8', 'b8', 'paid')
      .refund(180, 'o8')
      .observed(200, 'o8', 'b8', 'failed', { reason: 'delivery_failed' })
      .buyer(0, 'b9', { quantity: 2 })
      .created(10, 'b9', 'o9', { amount: 6000 })
      .paid(100, 'o9', 6000)
      .fulfilled(150, 'o9', ['N1', 'N2'])
      .observed(200, 'o9', 'b9', 'delivered', { cards: 1 });
    const result = (await invariants(journal))['no-fake-success'];
    expect(result.ok).toBe(false);
    expect(result.violations).toEqual([
      { orderIds: ['o6'], message: 'order o6 reported delivered with no card issued' },
      { orderIds: ['o7'], message: 'order o7 reported delivered with 1/2 cards issued' },
      { orderIds: ['o8'], message: 'order o8 reported paid, then ended failed / delivery_failed' },
      { orderIds: ['o9'], message: 'order o9 showed delivered with 1/2 cards' },
    ]);
  });

  it('no-fake-success: card codes the supplier never issued are made up (they used to score 100)', async () => {
    const journal = clean()
      .buyer(0, 'b1')
      .created(10, 'b1', 'o1')
      .paid(100, 'o1')
      .fulfilled(150, 'o1', ['REAL-1'])
      .observed(200, 'o1', 'b1', 'delivered', { cardCodes: ['FAKE-1'] })
      .buyer(0, 'b2')
      .created(10, 'b2', 'o2')
      .paid(100, 'o2')
      .fulfilled(150, 'o2', ['REAL-2'])
      .observed(200, 'o2', 'b2', 'delivered', { cardCodes: ['REAL-2'] });
    const result = (await invariants(journal))['no-fake-success'];
    expect(result.violations).toEqual([{ orderIds: ['o1'], message: 'order o1 showed 1 card code the supplier never issued (FAKE-1)' }]);
  });

  it('no-fake-success: paid then refunded is honest', async () => {
    const journal = new JournalBuilder()
      .buyer(0, 'b1')
      .created(10, 'b1', 'o1')
      .paid(100, 'o1')
      .observed(150, 'o1', 'b1', 'paid')
      .refund(180, 'o1')
      .observed(200, 'o1', 'b1', 'refunded', { reason: 'out_of_stock' });
    expect((await invariants(journal))['no-fake-success'].ok).toBe(true);
  });

  it('notifies-acknowledged: a genuine notify the shop kept answering without acknowledging, per copy', async () => {
    const journal = clean()
      // o1: the first copy acknowledged, the duplicate copy refused on every retry: broken.
      .callback(110, 'o1', { acked: true })
      .callback(400, 'o1', { copy: 2, acked: false, httpStatus: 409 })
      .callback(700, 'o1', { copy: 2, attempt: 2, acked: false, httpStatus: 409 })
      // o2: refused once (the shop shutting down), then acknowledged: holds.
      .callback(110, 'o2', { acked: false, httpStatus: 503 })
      .callback(400, 'o2', { attempt: 2, acked: true })
      // o3: never answered at all (the shop was down): not this invariant's to judge.
      .callback(110, 'o3', { acked: false, httpStatus: null })
      .callback(400, 'o3', { attempt: 2, acked: false, httpStatus: null })
      // o4: a forged notice refused twice: the shop was right.
      .callback(110, 'o4', { forgery: 'forged', acked: false })
      .callback(400, 'o4', { forgery: 'forged', attempt: 2, acked: false })
      // o5: answered once without an acknowledgement and never again: not enough to blame.
      .callback(510, 'o5', { acked: false, httpStatus: 500 });
    const result = (await invariants(journal))['notifies-acknowledged'];
    expect(result.ok).toBe(false);
    expect(result.violations).toEqual([
      { orderIds: ['o1'], message: "order o1: the provider's TRADE_SUCCESS (copy 2) notify was never acknowledged in 2 attempts (last answer: HTTP 409)" },
    ]);
  });

  it('no-delivery-on-forged-callback: cards on a forged notice or a short payment, named with the fault', async () => {
    const journal = clean()
      .buyer(0, 'b6')
      .created(10, 'b6', 'o6')
      .fault(300, 'payment.callback.forged', { orderId: 'o6', buyerId: 'b6' })
      .callback(300, 'o6', { forgery: 'forged', acked: true })
      .fulfilled(350, 'o6', ['F1'])
      .buyer(0, 'b7')
      .created(10, 'b7', 'o7')
      .fault(100, 'payment.callback.tampered', { orderId: 'o7', buyerId: 'b7' })
      .paid(100, 'o7', 1)
      .fulfilled(150, 'o7', ['T1'])
      // tampered, but the shop refunded and issued nothing: holds
      .buyer(0, 'b8')
      .created(10, 'b8', 'o8')
      .fault(100, 'payment.callback.tampered', { orderId: 'o8', buyerId: 'b8' })
      .paid(100, 'o8', 1)
      .refund(200, 'o8', 1);
    const result = (await invariants(journal))['no-delivery-on-forged-callback'];
    expect(result.ok).toBe(false);
    expect(result.violations).toEqual([
      { orderIds: ['o6'], message: 'order o6 (payment.callback.forged) got 1 card with 0 of 3000 captured' },
      { orderIds: ['o7'], message: 'order o7 (payment.callback.tampered) got 1 card with 1 of 3000 captured' },
    ]);
  });

  it('reports violations in the first-seen order of orders, whatever order the buyers arrived in', async () => {
    // b1 arrives first, but b2's o2 is seen first; o1b is seen (reserved) before b1's o1, yet linked to b1 after it.
    const journal = new JournalBuilder()
      .buyer(0, 'b1')
      .buyer(1, 'b2')
      .created(10, 'b2', 'o2')
      .reserved(15, 'o1b')
      .created(20, 'b1', 'o1')
      .created(30, 'b1', 'o1b', { key: 'key-b1-again' })
      .created(40, 'b2', 'o2b', { key: 'key-b2-again' })
      .paid(100, 'o1')
      .paid(100, 'o1b')
      .paid(100, 'o2')
      .paid(110, 'o2')
      .paid(100, 'o2b')
      // two violations of one order keep their own sequence
      .observed(200, 'o2', 'b2', 'delivered')
      .observed(300, 'o2', 'b2', 'paid')
      .observed(200, 'o1', 'b1', 'delivered');
    const results = await invariants(journal);
    const unsettled = (orderId: string, charged = 3000) =>
      `order ${orderId} paid, neither delivered nor refunded: charged ${charged}, refunded 0, 0/1 cards issued`;
    expect(results['paid-orders-settled'].violations).toEqual([
      { orderIds: ['o2'], message: unsettled('o2', 6000) },
      { orderIds: ['o1b'], message: unsettled('o1b') },
      { orderIds: ['o1'], message: unsettled('o1') },
      { orderIds: ['o2b'], message: unsettled('o2b') },
    ]);
    // Orders charged twice first, then buyers, by their first charged order; a buyer's orders first seen first.
    expect(results['no-double-charge'].violations).toEqual([
      { orderIds: ['o2'], message: 'order o2 charged 2 times (3000 + 3000)' },
      { orderIds: ['o2', 'o2b'], message: 'buyer b2 charged on 2 orders: o2, o2b' },
      { orderIds: ['o1b', 'o1'], message: 'buyer b1 charged on 2 orders: o1b, o1' },
    ]);
    expect(results['truthful-status'].violations).toEqual([
      { orderIds: ['o2'], message: 'order o2 reported delivered with no card issued' },
      { orderIds: ['o2'], message: 'order o2 reported paid after delivered' },
      { orderIds: ['o1'], message: 'order o1 reported delivered with no card issued' },
    ]);
    expect(results.conservation.description).toContain('total: charged 15000, refunded 0, value delivered 0');
  });

  it('no-delivery-on-forged-callback: a forged notice followed by a genuine full payment may deliver', async () => {
    const journal = new JournalBuilder()
      .buyer(0, 'b1')
      .created(10, 'b1', 'o1')
      .fault(300, 'payment.callback.replayed', { orderId: 'o1', buyerId: 'b1' })
      .callback(300, 'o1', { forgery: 'replayed', acked: false })
      .paid(1000, 'o1')
      .fulfilled(1100, 'o1', ['G1']);
    expect((await invariants(journal))['no-delivery-on-forged-callback'].ok).toBe(true);
  });
});
