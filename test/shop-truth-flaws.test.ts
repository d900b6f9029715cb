/**
 * The reference shop's two flaws about what a buyer reads and is told (issue 14, 13c), beside the
 * resilient shop on the same fault: `reopen-on-duplicate-callback` (a repeated success notify sets
 * a delivered order back to paid) and `announce-delivery-early` ("delivered" told before any card
 * is issued). Real sockets, the real mocks; every wait is a bounded poll for a state.
 */
import { describe, expect, test, type TestContext } from 'vitest';
import type { ShopFlaw } from '../shop/flaws.js';
import { eventsOf } from './helpers/journal.js';
import { getOrder, inbox, pay, placeOrder, signedCallback, startShopRig, waitFor, waitForMessage, waitForStatus, type ShopRig } from './helpers/shop.js';

function setup(t: TestContext, faults: unknown[], flaws: ShopFlaw[]): Promise<ShopRig> {
  return startShopRig((cleanup) => t.onTestFinished(cleanup), { name: 'shop-truth', seed: 9, secret: 'shop-truth-secret', faults, flaws });
}

describe.concurrent('what the buyer reads and is told', () => {
  test('a repeated success notify leaves a delivered order delivered; reopen-on-duplicate-callback puts it back to paid', async (t) => {
    const run = async (flaws: ShopFlaw[]) => {
      const rig = await setup(t, [], flaws);
      const order = await placeOrder(rig, 'repeat-buyer');
      expect((await pay(rig, order.payment!.tradeNo, 'repeat-buyer')).status).toBe(200);
      await waitForStatus(rig, order.orderId, 'delivered');
      // The provider's notice once more (at-least-once delivery): its transition is committed when it is answered.
      const trade = rig.mocks.payment.tradeByOrder(order.orderId)!;
      const again = await signedCallback(rig, { notifyId: `N-${order.orderId}-again`, tradeNo: trade.tradeNo, outTradeNo: order.orderId, status: 'TRADE_SUCCESS', amount: trade.amount, paidAt: trade.paidAt });
      expect(again.status).toBe(200);
      return { rig, after: await getOrder(rig, order.orderId) };
    };
    const [good, bad] = await Promise.all([run([]), run(['reopen-on-duplicate-callback'])]);
    expect(good.after.status).toBe('delivered');
    expect(bad.after.status).toBe('paid');
    // Nothing delivers it again: one set of cards, issued before.
    expect(bad.rig.mocks.stock.issuedCards()).toHaveLength(1);
  });

  test('stock.sold_out_after_payment: the buyer hears "refunded" only; announce-delivery-early told "delivered" first', async (t) => {
    const run = async (flaws: ShopFlaw[]) => {
      const rig = await setup(t, [{ id: 'stock.sold_out_after_payment', restockIn: '2h' }], flaws);
      const order = await placeOrder(rig, 'unlucky');
      expect((await pay(rig, order.payment!.tradeNo, 'unlucky')).status).toBe(200);
      await waitForStatus(rig, order.orderId, 'refunded', 15_000);
      await waitForMessage(rig, order.orderId, 'refunded');
      return { rig, order };
    };
    const [good, bad] = await Promise.all([run([]), run(['announce-delivery-early'])]);
    expect(inbox(good.rig, good.order.orderId, 'delivered')).toEqual([]);
    expect(inbox(bad.rig, bad.order.orderId, 'delivered')).toHaveLength(1);
    expect(bad.rig.mocks.stock.issuedCards()).toEqual([]);
  });

  test('announce-delivery-early on a delivery that succeeds: told twice, the first time with no cards', async (t) => {
    const rig = await setup(t, [], ['announce-delivery-early']);
    const order = await placeOrder(rig, 'eager');
    expect((await pay(rig, order.payment!.tradeNo, 'eager')).status).toBe(200);
    await waitForStatus(rig, order.orderId, 'delivered');
    const delivered = () => eventsOf(rig, 'notify.message', order.orderId).filter((event) => event.kind === 'delivered');
    const told = await waitFor('two "delivered" messages', () => (delivered().length >= 2 ? delivered() : undefined));
    expect(told).toHaveLength(2);
    expect(told.filter((message) => message.text.includes('Cards:'))).toHaveLength(1);
  });
});
