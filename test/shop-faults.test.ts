/**
 * The reference shop against the real mocks' fault catalogue (harness/scenario-schema.ts): for each
 * flaw, the resilient shop and the flawed one side by side on the same fault; then the resilient
 * shop alone on the faults no flaw is about. Real sockets, real SQLite in temp folders, short
 * timers (TTL 1.5 s); every wait is a bounded poll for a state, never a fixed sleep.
 *
 * Tests run concurrently (each has its own mocks and shop on port 0) to keep the file short.
 */
import { describe, expect, test, type TestContext } from 'vitest';
import type { JournalEventOf } from '../core/journal.js';
import type { ShopFlaw } from '../shop/flaws.js';
import { request } from './helpers/http.js';
import { eventsOf, faultsOf } from './helpers/journal.js';
import { PRICE, getOrder, inbox, orderBody, pay, placeOrder, signedCallback, startShopRig, waitFor, waitForMessage, waitForStatus, type ShopRig as Rig, type OrderAnswer, type ShopRigOptions } from './helpers/shop.js';

type RigOptions = Pick<ShopRigOptions, 'faults' | 'flaws' | 'stock' | 'timers' | 'risk' | 'requestTimeoutMs'>;

/** Mocks and a shop of the test's own, stopped when it finishes (tests here run concurrently). */
function setup(t: TestContext, options: RigOptions = {}): Promise<Rig> {
  return startShopRig((cleanup) => t.onTestFinished(cleanup), {
    name: 'shop-faults',
    seed: 5,
    secret: 'shop-faults-secret',
    callbackRetryDelays: [100, 200, 400, 800],
    ...options,
  });
}

function reservationState(rig: Rig, orderId: string): string | undefined {
  return rig.mocks.stock.reservationsFor(orderId)[0]?.state;
}

/** A shop with `flaws` sent a forged or replayed callback (from 100 ms): the order and the callback's answer. */
async function attacked(t: TestContext, forgery: 'forged' | 'replayed', flaws: ShopFlaw[]): Promise<{ rig: Rig; order: OrderAnswer; sent: JournalEventOf<'payment.callback.sent'> }> {
  const rig = await setup(t, { faults: [{ id: `payment.callback.${forgery}`, after: '100ms' }], flaws });
  const order = await placeOrder(rig, forgery);
  const sent = await waitFor(`the ${forgery} callback to be answered`, () => eventsOf(rig, 'payment.callback.sent', order.orderId).find((event) => event.forgery === forgery));
  return { rig, order, sent };
}

// ---------------------------------------------------------------------------------------------
// Each flaw beside the resilient shop, on the same fault

describe.concurrent('flaws against the resilient shop', () => {
  test('payment.callback.forged: rejected 401 and expired unpaid; no-signature-check delivers', async (t) => {
    const [good, bad] = await Promise.all([attacked(t, 'forged', []), attacked(t, 'forged', ['no-signature-check'])]);

    expect(good.sent).toMatchObject({ acked: false, httpStatus: 401 });
    const expired = await waitForStatus(good.rig, good.order.orderId, 'expired');
    expect(expired.reason).toBe('expired_unpaid');
    expect(expired.delivery).toBeUndefined();
    expect(good.rig.mocks.stock.issuedCards()).toHaveLength(0);
    expect(inbox(good.rig, good.order.orderId, 'delivered')).toHaveLength(0);

    expect(bad.sent).toMatchObject({ acked: true, httpStatus: 200 });
    const delivered = await waitForStatus(bad.rig, bad.order.orderId, 'delivered');
    expect(delivered.delivery!.cards).toHaveLength(1);
    expect(bad.rig.mocks.payment.tradeByOrder(bad.order.orderId)?.paidAt).toBeUndefined();
  });

  test('payment.callback.replayed: a stale signature is rejected; no-replay-check delivers', async (t) => {
    const [good, bad] = await Promise.all([attacked(t, 'replayed', []), attacked(t, 'replayed', ['no-replay-check'])]);

    expect(good.sent).toMatchObject({ acked: false, httpStatus: 401 });
    expect(await waitForStatus(good.rig, good.order.orderId, 'expired')).toMatchObject({ reason: 'expired_unpaid' });
    expect(good.rig.mocks.stock.issuedCards()).toHaveLength(0);

    expect(bad.sent).toMatchObject({ acked: true });
    expect((await waitForStatus(bad.rig, bad.order.orderId, 'delivered')).delivery!.cards).toHaveLength(1);
  });

  test('payment.callback.tampered: failed/amount_mismatch and the captured 1 fen refunded; no-amount-check delivers', async (t) => {
    const run = async (flaws: ShopFlaw[]) => {
      const rig = await setup(t, { faults: [{ id: 'payment.callback.tampered', paidAmount: 1 }], flaws });
      const order = await placeOrder(rig, 'tamperer');
      expect((await pay(rig, order.payment!.tradeNo, 'tamperer')).status).toBe(200);
      return { rig, order };
    };
    const [good, bad] = await Promise.all([run([]), run(['no-amount-check'])]);

    const failed = await waitForStatus(good.rig, good.order.orderId, 'failed');
    expect(failed.reason).toBe('amount_mismatch');
    expect(failed.delivery).toBeUndefined();
    const notice = await waitForMessage(good.rig, good.order.orderId, 'payment_failed');
    expect(notice.reason).toBe('amount_mismatch');
    expect(notice.text).toContain('0.01 CNY');
    const refunded = await waitForMessage(good.rig, good.order.orderId, 'refunded');
    expect(refunded.reason).toBe('amount_mismatch');
    expect(good.rig.mocks.payment.tradeByOrder(good.order.orderId)).toMatchObject({ amount: 1, orderedAmount: PRICE, refunded: 1 });
    await waitFor('the reservation released', () => (reservationState(good.rig, good.order.orderId) === 'released' ? true : undefined));
    expect(good.rig.mocks.stock.issuedCards()).toHaveLength(0);

    const delivered = await waitForStatus(bad.rig, bad.order.orderId, 'delivered');
    expect(delivered.delivery!.cards).toHaveLength(1);
    expect(bad.rig.mocks.payment.tradeByOrder(bad.order.orderId)).toMatchObject({ amount: 1, refunded: 0 });
  });

  test('buyer double submit and two windows: one order, one charge; no-idempotency-key makes two and charges twice', async (t) => {
    const run = async (flaws: ShopFlaw[]) => {
      const rig = await setup(t, { flaws });
      // The same submit twice (one key), and a second window (its own key), all at once.
      const answers = await Promise.all([
        request('POST', `${rig.shop.url}/orders`, orderBody('twice'), { 'idempotency-key': 'window-1' }),
        request('POST', `${rig.shop.url}/orders`, orderBody('twice'), { 'idempotency-key': 'window-1' }),
        request('POST', `${rig.shop.url}/orders`, orderBody('twice'), { 'idempotency-key': 'window-2' }),
      ]);
      expect(answers.map((answer) => answer.status)).toEqual([201, 201, 201]);
      const orders = answers.map((answer) => answer.body as unknown as OrderAnswer);
      // The buyer pays in every window that shows a cashier.
      const tradeNos = [...new Set(orders.map((order) => order.payment!.tradeNo))];
      for (const tradeNo of tradeNos) expect((await pay(rig, tradeNo, 'twice')).status).toBe(200);
      const ids = [...new Set(orders.map((order) => order.orderId))];
      for (const id of ids) await waitForStatus(rig, id, 'delivered');
      return { rig, ids };
    };
    const [good, bad] = await Promise.all([run([]), run(['no-idempotency-key'])]);

    expect(good.ids).toHaveLength(1);
    expect(good.rig.mocks.payment.allTrades()).toHaveLength(1);
    expect(good.rig.mocks.payment.totals()).toMatchObject({ captured: PRICE, paid: 1 });

    expect(bad.ids).toHaveLength(3);
    expect(bad.rig.mocks.payment.totals()).toMatchObject({ captured: 3 * PRICE, paid: 3 });
  });

  test('concurrent deliveries get their own cards; no-reservation hands one code to two orders', async (t) => {
    const run = async (flaws: ShopFlaw[]) => {
      const rig = await setup(t, { faults: [{ id: 'payment.callback.drop' }], flaws, timers: { orderTtl: 30_000, reconcileAfter: 30_000 } });
      const orders = await Promise.all([placeOrder(rig, 'first-buyer'), placeOrder(rig, 'second-buyer')]);
      await Promise.all(orders.map((order, index) => pay(rig, order.payment!.tradeNo, index === 0 ? 'first-buyer' : 'second-buyer')));
      // The callbacks were dropped: both arrive at once now, signed by the provider's secret.
      await Promise.all(
        orders.map((order) => {
          const trade = rig.mocks.payment.tradeByOrder(order.orderId)!;
          return signedCallback(rig, { notifyId: `N-${order.orderId}`, tradeNo: trade.tradeNo, outTradeNo: order.orderId, status: 'TRADE_SUCCESS', amount: trade.amount, paidAt: trade.paidAt });
        }),
      );
      const delivered = await Promise.all(orders.map((order) => waitForStatus(rig, order.orderId, 'delivered')));
      return { rig, codes: delivered.map((order) => order.delivery!.cards[0]!.code) };
    };
    const [good, bad] = await Promise.all([run([]), run(['no-reservation'])]);

    expect(new Set(good.codes).size).toBe(2);
    expect(bad.codes[0]).toBe(bad.codes[1]);
    // The flawed shop's cards were bought in a batch, not issued for these orders.
    const issuedTo = new Set(bad.rig.mocks.stock.issuedCards().map((card) => card.orderId));
    expect([...issuedTo]).toEqual(['stockpile-MONTH_CARD-1']);
  });

  test('stock.sold_out_after_payment: re-reserve, then refund (through refund errors) with the restock time; sold-out-marked-delivered says delivered without cards', async (t) => {
    const run = async (flaws: ShopFlaw[]) => {
      const rig = await setup(t, { faults: [{ id: 'stock.sold_out_after_payment', restockIn: '2h' }, { id: 'payment.refund.error', times: 3 }], flaws });
      const order = await placeOrder(rig, 'unlucky');
      expect((await pay(rig, order.payment!.tradeNo, 'unlucky')).status).toBe(200);
      return { rig, order };
    };
    const [good, bad] = await Promise.all([run([]), run(['sold-out-marked-delivered'])]);

    const refunded = await waitForStatus(good.rig, good.order.orderId, 'refunded', 15_000);
    expect(refunded.reason).toBe('out_of_stock');
    expect(refunded.delivery).toBeUndefined();
    // One more reservation was tried after the SOLD_OUT fulfil, and refused.
    expect(eventsOf(good.rig, 'stock.refused', good.order.orderId)).toHaveLength(1);
    expect(eventsOf(good.rig, 'payment.refund', good.order.orderId).filter((event) => !event.ok)).toHaveLength(3);
    expect(good.rig.mocks.payment.tradeByOrder(good.order.orderId)).toMatchObject({ refunded: PRICE });
    const message = await waitForMessage(good.rig, good.order.orderId, 'refunded');
    expect(message.reason).toBe('out_of_stock');
    const restockAt = eventsOf(good.rig, 'stock.refused', good.order.orderId)[0]!.restockAt!;
    expect(message.text).toContain(restockAt);

    const delivered = await waitForStatus(bad.rig, bad.order.orderId, 'delivered');
    expect(delivered.delivery).toBeUndefined();
    expect(bad.rig.mocks.payment.tradeByOrder(bad.order.orderId)).toMatchObject({ status: 'TRADE_SUCCESS', refunded: 0 });
  });

  describe('payment.callback.late', () => {
    /** The order expires (its trade closed); the channel still takes the buyer's payment; the success arrives late. */
    const run = async (t: TestContext, flaws: ShopFlaw[], stock?: number) => {
      const rig = await setup(t, { faults: [{ id: 'payment.callback.late' }], flaws, ...(stock === undefined ? {} : { stock }) });
      const order = await placeOrder(rig, 'latecomer');
      await waitForStatus(rig, order.orderId, 'expired');
      expect(eventsOf(rig, 'payment.trade.closed', order.orderId)).toMatchObject([{ result: 'closed' }]);
      await waitForMessage(rig, order.orderId, 'expired');
      await waitFor('the reservation released', () => (reservationState(rig, order.orderId) === 'released' ? true : undefined));
      // With a short stock, another buyer takes what the expired order gave back.
      if (stock !== undefined) expect((await placeOrder(rig, 'quicker-buyer')).status).toBe('pending_payment');
      expect((await pay(rig, order.payment!.tradeNo, 'latecomer')).status).toBe(200);
      const sent = await waitFor('the late callback acknowledged', () => eventsOf(rig, 'payment.callback.sent', order.orderId).find((event) => event.acked));
      return { rig, order, sent };
    };

    test('delivered after reserving again; late-payment-dropped keeps the money silently', async (t) => {
      const [good, bad] = await Promise.all([run(t, []), run(t, ['late-payment-dropped'])]);
      const delivered = await waitForStatus(good.rig, good.order.orderId, 'delivered');
      expect(delivered.delivery!.cards).toHaveLength(1);
      expect(good.rig.mocks.stock.reservationsFor(good.order.orderId)).toHaveLength(2);
      await waitForMessage(good.rig, good.order.orderId, 'delivered');

      const dropped = await getOrder(bad.rig, bad.order.orderId);
      expect(dropped).toMatchObject({ status: 'expired', reason: 'expired_unpaid' });
      expect(bad.rig.mocks.payment.tradeByOrder(bad.order.orderId)).toMatchObject({ status: 'TRADE_SUCCESS', refunded: 0 });
      expect(bad.rig.mocks.stock.reservationsFor(bad.order.orderId)).toHaveLength(1);
      expect(inbox(bad.rig, bad.order.orderId).map((message) => message.kind)).toEqual(['expired']);
    });

    test('no stock left: refunded and told; late-payment-unchecked says delivered with no cards', async (t) => {
      const [good, bad] = await Promise.all([run(t, [], 1), run(t, ['late-payment-unchecked'], 1)]);
      const refunded = await waitForStatus(good.rig, good.order.orderId, 'refunded');
      expect(refunded.reason).toBe('out_of_stock');
      expect(good.rig.mocks.payment.tradeByOrder(good.order.orderId)).toMatchObject({ refunded: PRICE });
      expect((await waitForMessage(good.rig, good.order.orderId, 'refunded')).text).toMatch(/restock expected at/);

      const delivered = await waitForStatus(bad.rig, bad.order.orderId, 'delivered');
      expect(delivered.delivery).toBeUndefined();
      await waitFor('the card issue on the old reservation to fail', () => eventsOf(bad.rig, 'stock.fulfil_failed', bad.order.orderId)[0]);
      expect(bad.rig.mocks.stock.issuedCards()).toHaveLength(0);
      expect(bad.rig.mocks.payment.tradeByOrder(bad.order.orderId)).toMatchObject({ status: 'TRADE_SUCCESS', refunded: 0 });
    });
  });

  test('payment.decline: failed/payment_declined with a remedy and the stock released; no-stock-release holds it', async (t) => {
    const run = async (flaws: ShopFlaw[]) => {
      const rig = await setup(t, { faults: [{ id: 'payment.decline' }], flaws });
      const order = await placeOrder(rig, 'broke');
      expect(await pay(rig, order.payment!.tradeNo, 'broke')).toMatchObject({ status: 402, body: { code: 'DECLINED' } });
      const failed = await waitForStatus(rig, order.orderId, 'failed');
      const message = await waitForMessage(rig, order.orderId, 'payment_failed');
      return { rig, order, failed, message };
    };
    const [good, bad] = await Promise.all([run([]), run(['no-stock-release'])]);

    expect(good.failed.reason).toBe('payment_declined');
    expect(good.message).toMatchObject({ reason: 'payment_declined' });
    expect(good.message.text).toMatch(/another payment method/);
    await waitFor('the reservation released', () => (reservationState(good.rig, good.order.orderId) === 'released' ? true : undefined));
    expect(good.rig.mocks.stock.available('MONTH_CARD')).toBe(20);

    expect(bad.failed.reason).toBe('payment_declined');
    expect(reservationState(bad.rig, bad.order.orderId)).toBe('active');
    expect(bad.rig.mocks.stock.available('MONTH_CARD')).toBe(19);
    expect(eventsOf(bad.rig, 'stock.released', bad.order.orderId)).toHaveLength(0);
  });

  test('notify.error for a window: messages retried until it is up; no-notify-retry drops them', async (t) => {
    const run = async (flaws: ShopFlaw[]) => {
      const rig = await setup(t, { faults: [{ id: 'notify.error', window: '0s..2s' }], flaws });
      const order = await placeOrder(rig, 'unreachable');
      expect((await pay(rig, order.payment!.tradeNo, 'unreachable')).status).toBe(200);
      await waitForStatus(rig, order.orderId, 'delivered');
      await waitFor('a refused message', () => eventsOf(rig, 'notify.refused', order.orderId)[0]);
      return { rig, order };
    };
    const [good, bad] = await Promise.all([run([]), run(['no-notify-retry'])]);

    const message = await waitForMessage(good.rig, good.order.orderId, 'delivered');
    expect(Date.now() - good.rig.startedAt).toBeGreaterThanOrEqual(2000);
    expect(message.text).toContain(good.order.orderId);
    expect(inbox(good.rig, good.order.orderId)).toHaveLength(1);

    // The good shop's message got through after the window; the flawed one had the same window.
    expect(eventsOf(bad.rig, 'notify.refused', bad.order.orderId)).toHaveLength(1);
    expect(inbox(bad.rig, bad.order.orderId)).toHaveLength(0);
  });

  test('risk.review longer than the TTL: held, told, never expired, then approved and paid; no-review-notice tells nothing of the hold', async (t) => {
    const run = async (flaws: ShopFlaw[]) => {
      const rig = await setup(t, { faults: [{ id: 'risk.review', resolveAfter: '2s' }], flaws, risk: true });
      const order = await placeOrder(rig, 'suspect');
      expect(order).toMatchObject({ status: 'under_review' });
      expect(order.payment).toBeUndefined();
      const resolved = await waitFor('the review to resolve', () => eventsOf(rig, 'risk.resolved', order.orderId)[0]);
      expect(resolved.status).toBe('approved');
      // Held past its TTL (1.5 s) without expiring, and no trade before the approval.
      const approved = await waitForStatus(rig, order.orderId, 'pending_payment');
      expect(eventsOf(rig, 'payment.trade.created', order.orderId)).toHaveLength(1);
      expect(rig.journal.events.findIndex((event) => event.type === 'payment.trade.created')).toBeGreaterThan(rig.journal.events.indexOf(resolved));
      await waitForMessage(rig, order.orderId, 'review_approved');
      expect((await pay(rig, approved.payment!.tradeNo, 'suspect')).status).toBe(200);
      await waitForStatus(rig, order.orderId, 'delivered');
      await waitForMessage(rig, order.orderId, 'delivered');
      return { rig, order };
    };
    const [good, bad] = await Promise.all([run([]), run(['no-review-notice'])]);

    const held = inbox(good.rig, good.order.orderId, 'under_review');
    expect(held).toHaveLength(1);
    expect(held[0]!.text).toMatch(/usually takes/);
    expect(inbox(good.rig, good.order.orderId).map((message) => message.kind)).toEqual(['under_review', 'review_approved', 'delivered']);

    expect(inbox(bad.rig, bad.order.orderId).map((message) => message.kind)).toEqual(['review_approved', 'delivered']);
  });

  test('payment.verification never completed: awaiting_verification, told, expired as verification_timeout; no-reconcile never notices', async (t) => {
    const run = async (flaws: ShopFlaw[]) => {
      const rig = await setup(t, { faults: [{ id: 'payment.verification' }], flaws });
      const order = await placeOrder(rig, 'verifier');
      expect(await pay(rig, order.payment!.tradeNo, 'verifier')).toMatchObject({ status: 202, body: { status: 'VERIFYING' } });
      const expired = await waitForStatus(rig, order.orderId, 'expired');
      await waitForMessage(rig, order.orderId, 'expired');
      return { rig, order, expired };
    };
    const [good, bad] = await Promise.all([run([]), run(['no-reconcile'])]);

    expect(good.expired.reason).toBe('verification_timeout');
    expect((await waitForMessage(good.rig, good.order.orderId, 'verification_required')).text).toMatch(/verification/);
    expect(inbox(good.rig, good.order.orderId, 'expired')[0]!.reason).toBe('verification_timeout');
    expect(eventsOf(good.rig, 'payment.trade.queried', good.order.orderId).some((event) => event.status === 'VERIFYING')).toBe(true);
    expect(eventsOf(good.rig, 'payment.trade.closed', good.order.orderId)).toMatchObject([{ result: 'closed' }]);

    expect(bad.expired.reason).toBe('expired_unpaid');
    expect(inbox(bad.rig, bad.order.orderId, 'verification_required')).toHaveLength(0);
    expect(eventsOf(bad.rig, 'payment.trade.queried', bad.order.orderId)).toHaveLength(0);
  });
});

// ---------------------------------------------------------------------------------------------
// The resilient shop on the rest of the catalogue

describe.concurrent('the resilient shop', () => {
  test('payment.verification completed: awaiting_verification, then delivered', async (t) => {
    const rig = await setup(t, { faults: [{ id: 'payment.verification' }], timers: { orderTtl: 10_000 } });
    const order = await placeOrder(rig, 'verified');
    const started = await pay(rig, order.payment!.tradeNo, 'verified');
    expect(started.status).toBe(202);
    await waitForStatus(rig, order.orderId, 'awaiting_verification');
    await waitForMessage(rig, order.orderId, 'verification_required');
    const verificationId = started.body.verificationId as string;
    expect((await request('POST', `${rig.mocks.urls.payment}/v1/verifications/${verificationId}/complete`)).status).toBe(200);
    expect((await waitForStatus(rig, order.orderId, 'delivered')).delivery!.cards).toHaveLength(1);
  });

  test('payment.cross_border: failed/cross_border_blocked at once, another method suggested, stock released, no trade', async (t) => {
    const rig = await setup(t, { faults: [{ id: 'payment.cross_border' }] });
    const order = await placeOrder(rig, 'abroad', {}, { region: 'US' });
    expect(order).toMatchObject({ status: 'failed', reason: 'cross_border_blocked' });
    expect(order.payment).toBeUndefined();
    expect(rig.mocks.payment.allTrades()).toHaveLength(0);
    const message = await waitForMessage(rig, order.orderId, 'payment_failed');
    expect(message.reason).toBe('cross_border_blocked');
    expect(message.text).toMatch(/another payment method/);
    await waitFor('the reservation released', () => (reservationState(rig, order.orderId) === 'released' ? true : undefined));
  });

  test('payment.limit.daily: failed/payment_limit, told to split or change method', async (t) => {
    const rig = await setup(t, { faults: [{ id: 'payment.limit.daily', limit: 5000, spentBefore: 4000 }] });
    const order = await placeOrder(rig, 'spender');
    expect(await pay(rig, order.payment!.tradeNo, 'spender')).toMatchObject({ status: 402, body: { code: 'LIMIT_DAILY' } });
    expect((await waitForStatus(rig, order.orderId, 'failed')).reason).toBe('payment_limit');
    const message = await waitForMessage(rig, order.orderId, 'payment_failed');
    expect(message.reason).toBe('payment_limit');
    expect(message.text).toMatch(/split|another payment method/);
  });

  test('payment.error 503 on create: retried with backoff, one trade', async (t) => {
    const rig = await setup(t, { faults: [{ id: 'payment.error', status: 503, times: 2 }] });
    const order = await placeOrder(rig, 'congested');
    expect(order.status).toBe('pending_payment');
    expect(eventsOf(rig, 'payment.trade.refused', order.orderId)).toHaveLength(2);
    expect(rig.mocks.payment.allTrades()).toHaveLength(1);
  });

  test('payment.error 429 on create: waits for Retry-After, then one trade', async (t) => {
    const rig = await setup(t, { faults: [{ id: 'payment.error', status: 429, retryAfter: '1s', times: 1 }] });
    const started = Date.now();
    const order = await placeOrder(rig, 'throttled');
    expect(order.status).toBe('pending_payment');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(rig.mocks.payment.allTrades()).toHaveLength(1);
  });

  test('payment.error that does not clear: asks by outTradeNo, then failed/service_unavailable, stock released, told', async (t) => {
    const rig = await setup(t, { faults: [{ id: 'payment.error', status: 503 }] });
    const order = await placeOrder(rig, 'hopeless');
    expect(order).toMatchObject({ status: 'failed', reason: 'service_unavailable' });
    expect(eventsOf(rig, 'payment.trade.refused', order.orderId)).toHaveLength(4);
    expect(eventsOf(rig, 'payment.trade.queried', order.orderId).map((event) => event.status)).toEqual(['NOT_FOUND']);
    expect((await waitForMessage(rig, order.orderId, 'payment_failed')).reason).toBe('service_unavailable');
    await waitFor('the reservation released', () => (reservationState(rig, order.orderId) === 'released' ? true : undefined));
  });

  test('payment.ambiguous: the created trade is found by outTradeNo, one charge', async (t) => {
    const rig = await setup(t, { faults: [{ id: 'payment.ambiguous' }] });
    const order = await placeOrder(rig, 'lost-answer');
    expect(order.status).toBe('pending_payment');
    expect(rig.mocks.payment.allTrades()).toHaveLength(1);
    expect(order.payment!.tradeNo).toBe(rig.mocks.payment.tradeByOrder(order.orderId)!.tradeNo);
    expect((await pay(rig, order.payment!.tradeNo, 'lost-answer')).status).toBe(200);
    await waitForStatus(rig, order.orderId, 'delivered');
    expect(rig.mocks.payment.totals().captured).toBe(PRICE);
  });

  test('payment.timeout on create: the shop times out, asks, creates again, one trade', async (t) => {
    const rig = await setup(t, { faults: [{ id: 'payment.timeout', routes: ['create'], times: 1 }], requestTimeoutMs: 300 });
    const order = await placeOrder(rig, 'hung');
    expect(order.status).toBe('pending_payment');
    expect(rig.mocks.payment.allTrades()).toHaveLength(1);
  });

  test('payment.timeout on every create: retries stop within the creation budget, failed/service_unavailable, no charge', async (t) => {
    const rig = await setup(t, { faults: [{ id: 'payment.timeout', routes: ['create'], times: 100 }], requestTimeoutMs: 1500 });
    const started = Date.now();
    const order = await placeOrder(rig, 'black-hole');
    expect(Date.now() - started).toBeLessThan(9000);
    expect(order).toMatchObject({ status: 'failed', reason: 'service_unavailable' });
    expect(faultsOf(rig, 'payment.timeout', order.orderId).length).toBeGreaterThanOrEqual(2);
    expect(rig.mocks.payment.allTrades()).toHaveLength(0);
    // With a 1.5 s TTL the reservation may have lapsed at the supplier before the shop gave it back.
    await waitFor('the reservation given back', () => (['released', 'expired'].includes(reservationState(rig, order.orderId) ?? '') ? true : undefined));
  });

  test('payment.callback.reorder: a stale PAY_FAILED after the success is acknowledged and ignored', async (t) => {
    const rig = await setup(t, { faults: [{ id: 'payment.callback.reorder', gap: '100ms' }] });
    const order = await placeOrder(rig, 'reordered');
    expect((await pay(rig, order.payment!.tradeNo, 'reordered')).status).toBe(200);
    await waitForStatus(rig, order.orderId, 'delivered');
    const stale = await waitFor('the stale PAY_FAILED answered', () => eventsOf(rig, 'payment.callback.sent', order.orderId).find((event) => event.forgery === 'stale'));
    expect(stale).toMatchObject({ status: 'PAY_FAILED', acked: true });
    expect(await getOrder(rig, order.orderId)).toMatchObject({ status: 'delivered' });
    expect(inbox(rig, order.orderId, 'payment_failed')).toHaveLength(0);
  });

  test('payment.query.error with a dropped callback: queries retried until the payment is found', async (t) => {
    const rig = await setup(t, { faults: [{ id: 'payment.callback.drop' }, { id: 'payment.query.error', times: 4 }], timers: { orderTtl: 5000 } });
    const order = await placeOrder(rig, 'unqueryable');
    expect((await pay(rig, order.payment!.tradeNo, 'unqueryable')).status).toBe(200);
    await waitForStatus(rig, order.orderId, 'delivered');
    expect(faultsOf(rig, 'payment.query.error', order.orderId)).toHaveLength(4);
  });

  test('stock.fulfil.error: card issue retried until it works', async (t) => {
    const rig = await setup(t, { faults: [{ id: 'stock.fulfil.error', times: 4 }] });
    const order = await placeOrder(rig, 'patient');
    expect((await pay(rig, order.payment!.tradeNo, 'patient')).status).toBe(200);
    const delivered = await waitForStatus(rig, order.orderId, 'delivered');
    expect(delivered.delivery!.cards).toHaveLength(1);
    expect(eventsOf(rig, 'stock.fulfil_failed', order.orderId)).toHaveLength(4);
  });

  test('risk.review ending in a rejection: failed/risk_rejected, told, stock released, never a trade', async (t) => {
    const rig = await setup(t, { faults: [{ id: 'risk.review', resolveAfter: '300ms', outcome: 'reject' }], risk: true });
    const order = await placeOrder(rig, 'rejected-later');
    expect(order.status).toBe('under_review');
    expect((await waitForStatus(rig, order.orderId, 'failed')).reason).toBe('risk_rejected');
    expect((await waitForMessage(rig, order.orderId, 'review_rejected')).reason).toBe('risk_rejected');
    await waitFor('the reservation released', () => (reservationState(rig, order.orderId) === 'released' ? true : undefined));
    expect(rig.mocks.payment.allTrades()).toHaveLength(0);
  });

  test('risk.reject: failed/risk_rejected at once, told, stock released', async (t) => {
    const rig = await setup(t, { faults: [{ id: 'risk.reject' }], risk: true });
    const order = await placeOrder(rig, 'rejected');
    expect(order).toMatchObject({ status: 'failed', reason: 'risk_rejected' });
    expect((await waitForMessage(rig, order.orderId, 'review_rejected')).text).toMatch(/review/);
    await waitFor('the reservation released', () => (reservationState(rig, order.orderId) === 'released' ? true : undefined));
    expect(rig.mocks.payment.allTrades()).toHaveLength(0);
  });

  test('risk screening unreachable: retried, then failed/service_unavailable, told, stock released', async (t) => {
    const rig = await setup(t, { faults: [{ id: 'transport.reset', service: 'risk' }], risk: true });
    const order = await placeOrder(rig, 'unscreened');
    expect(order).toMatchObject({ status: 'failed', reason: 'service_unavailable' });
    expect(faultsOf(rig, 'transport.reset', order.orderId)).toHaveLength(4);
    expect((await waitForMessage(rig, order.orderId, 'payment_failed')).reason).toBe('service_unavailable');
    await waitFor('the reservation released', () => (reservationState(rig, order.orderId) === 'released' ? true : undefined));
  });

  test('risk screening approves: the order is payable at once', async (t) => {
    const rig = await setup(t, { risk: true });
    const order = await placeOrder(rig, 'trusted');
    expect(order.status).toBe('pending_payment');
    expect(rig.mocks.risk.assessmentFor(order.orderId)).toMatchObject({ decision: 'approve', buyerId: 'trusted', amount: PRICE, sku: 'MONTH_CARD' });
  });

  test('broken connections on every service: reset, empty, malformed, dribble; still one trade, one card set, one message', async (t) => {
    const rig = await setup(t, {
      faults: [
        { id: 'transport.malformed', service: 'stock', routes: ['reserve'], times: 1 },
        { id: 'transport.malformed', service: 'payment', routes: ['create'], times: 1 },
        { id: 'transport.reset', service: 'stock', routes: ['fulfil'], times: 2 },
        { id: 'transport.dribble', service: 'payment', routes: ['query'], times: 1 },
        { id: 'transport.empty', service: 'notify', times: 2 },
        { id: 'payment.callback.drop' },
      ],
      timers: { orderTtl: 5000 },
    });
    const order = await placeOrder(rig, 'bad-line');
    expect(order.status).toBe('pending_payment');
    expect(rig.mocks.payment.allTrades()).toHaveLength(1);
    expect(rig.mocks.stock.reservationsFor(order.orderId)).toHaveLength(1);
    expect((await pay(rig, order.payment!.tradeNo, 'bad-line')).status).toBe(200);
    const delivered = await waitForStatus(rig, order.orderId, 'delivered');
    expect(delivered.delivery!.cards).toHaveLength(1);
    await waitForMessage(rig, order.orderId, 'delivered');
    expect(inbox(rig, order.orderId)).toHaveLength(1);
    const kinds = new Set(faultsOf(rig, 'transport.reset').concat(faultsOf(rig, 'transport.malformed'), faultsOf(rig, 'transport.empty'), faultsOf(rig, 'transport.dribble')).map((event) => event.fault));
    expect(kinds.size).toBe(4);
  });
});
