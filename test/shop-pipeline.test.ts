/**
 * The reference shop against the real mocks, over real sockets, with real SQLite in temp folders.
 * Timers are short (TTL 1.5 s) so expiry and reconciliation happen within a test; every wait is a
 * bounded poll for a state, never a fixed sleep.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startShop } from '../shop/app.js';
import type { ShopFlaw } from '../shop/flaws.js';
import { signBody } from '../mocks/signature.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { credentialsFor, request } from './helpers/http.js';
import { eventsOf } from './helpers/journal.js';
import { SHOP_TIMERS, getOrder, inbox, orderBody, pay, placeOrder, signedCallback, startShopRig, waitFor, waitForMessage, waitForStatus, type OrderAnswer, type ShopRig as World, type ShopRigOptions } from './helpers/shop.js';

const SECRET = 'shop-test-secret';

const defer = cleanupAfterEach();

interface SetupOptions extends Pick<ShopRigOptions, 'faults' | 'flaws' | 'stock' | 'timers' | 'dataDir' | 'requestTimeoutMs'> {
  /** Put a proxy between the shop and a mock that may answer instead of it. */
  intercept?: { service: 'payment' | 'stock' | 'notify'; answer: Intercept };
}

/** Returns a reply to send instead of forwarding, or undefined to forward. */
type Intercept = (request: { method: string; path: string; body: string }) => { status: number; body?: unknown } | undefined;

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A loopback proxy in front of `target` that lets `intercept` answer some requests itself. */
async function startProxy(target: string, intercept: Intercept): Promise<string> {
  const server = createServer((request, response) => {
    void (async () => {
      const body = await readBody(request);
      const path = request.url ?? '/';
      const method = request.method ?? 'GET';
      const own = intercept({ method, path, body });
      if (own) {
        response.writeHead(own.status, { 'content-type': 'application/json' });
        response.end(own.body === undefined ? '' : JSON.stringify(own.body));
        return;
      }
      // The shop's key goes on with its request, as a reverse proxy passes it.
      const authorization = request.headers.authorization;
      const init: RequestInit = { method, headers: authorization === undefined ? {} : { authorization } };
      if (body) {
        init.body = body;
        init.headers = { ...init.headers, 'content-type': 'application/json' };
      }
      const forwarded = await fetch(`${target}${path}`, init);
      const text = await forwarded.text();
      response.writeHead(forwarded.status, { 'content-type': forwarded.headers.get('content-type') ?? 'application/json' });
      response.end(text);
    })().catch((error: unknown) => {
      response.writeHead(502);
      response.end(String(error));
    });
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  defer(() => new Promise<void>((resolveClose) => server.close(() => resolveClose())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Mocks and a shop of the test's own (SAVE5 takes 500 off orders of 5000 or more); waits give up after 8 s. */
function setup(options: SetupOptions = {}): Promise<World> {
  const { intercept, ...rest } = options;
  return startShopRig(defer, {
    name: 'shop-test',
    seed: 11,
    secret: SECRET,
    coupons: [{ code: 'SAVE5', discount: 500, minAmount: 5000 }],
    waitMs: 8000,
    ...rest,
    ...(intercept === undefined
      ? {}
      : { shopUrls: async (mocks) => ({ ...mocks.urls, [intercept.service]: await startProxy(mocks.urls[intercept.service], intercept.answer) }) }),
  });
}

// ---------------------------------------------------------------------------------------------

describe('shop contract v1', () => {
  it('answers health and catalog', async () => {
    const world = await setup();
    expect(await request('GET', `${world.shop.url}/health`)).toMatchObject({ status: 200 });
    const catalog = await request('GET', `${world.shop.url}/catalog`);
    expect(catalog.body).toEqual({
      skus: [{ sku: 'MONTH_CARD', name: 'Monthly card', price: 3000, currency: 'CNY' }],
      coupons: [{ code: 'SAVE5', discount: 500, minAmount: 5000 }],
    });
    expect(await request('GET', `${world.shop.url}/orders/ord_unknown`)).toMatchObject({ status: 404, body: { error: { code: 'order_not_found' } } });
    expect(await request('POST', `${world.shop.url}/orders/ord_unknown/cancel`)).toMatchObject({ status: 404 });
  });

  it('rejects bad input with a code and creates nothing', async () => {
    const world = await setup();
    const cases: Array<[unknown, string]> = [
      [orderBody('v1', { sku: 'YEAR_CARD' }), 'invalid_sku'],
      [orderBody('v1', { quantity: 0 }), 'invalid_quantity'],
      [orderBody('v1', { recipient: { kind: 'game_id', account: '1234567' } }), 'invalid_recipient'],
      [orderBody('v1', { recipient: { kind: 'phone', account: '1380013800' } }), 'invalid_recipient'],
      [orderBody('v1', { coupon: 'SAVE5' }), 'coupon_below_threshold'],
      [orderBody('v1', { buyer: 'nobody' }), 'invalid_request'],
      ['{"sku": ', 'invalid_request'],
    ];
    for (const [body, code] of cases) {
      const answer = await request('POST', `${world.shop.url}/orders`, body, { 'idempotency-key': `bad-${code}` });
      expect(answer.status, code).toBe(400);
      expect(answer.body).toMatchObject({ error: { code } });
      expect(typeof (answer.body.error as { message: unknown }).message).toBe('string');
    }
    expect(world.mocks.stock.allReservations()).toHaveLength(0);
    expect(world.mocks.payment.allTrades()).toHaveLength(0);
  });

  it('prices with a coupon above its threshold', async () => {
    const world = await setup();
    const order = await placeOrder(world, 'coupon-buyer', { quantity: 2, coupon: 'SAVE5' });
    expect(order).toMatchObject({ status: 'pending_payment', amount: 5500 });
    expect(world.mocks.payment.tradeByOrder(order.orderId)?.amount).toBe(5500);
  });

  it('makes one order per idempotency key, even for concurrent requests, and refuses the key for another body', async () => {
    const world = await setup();
    const body = orderBody('idem-buyer');
    const headers = { 'idempotency-key': 'key-1' };
    const [first, second] = await Promise.all([
      request('POST', `${world.shop.url}/orders`, body, headers),
      request('POST', `${world.shop.url}/orders`, { ...body, buyer: { ...(body.buyer as object) } }, headers),
    ]);
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.orderId).toBe(first.body.orderId);
    expect(second.body.status).toBe('pending_payment');
    const orderId = first.body.orderId as string;
    expect(orderId).toMatch(/^ord_[A-Za-z0-9_-]{20,}$/);
    expect(world.mocks.payment.allTrades()).toHaveLength(1);
    expect(world.mocks.stock.reservationsFor(orderId)).toHaveLength(1);

    const again = await request('POST', `${world.shop.url}/orders`, body, headers);
    expect(again.body.orderId).toBe(orderId);

    const other = await request('POST', `${world.shop.url}/orders`, orderBody('idem-buyer', { quantity: 2 }), headers);
    expect(other).toMatchObject({ status: 409, body: { error: { code: 'idempotency_key_reused' } } });

    // Without the key, the same intent (buyer, SKU, quantity, recipient, coupon) is still the open first order.
    const noKey = await Promise.all([request('POST', `${world.shop.url}/orders`, body), request('POST', `${world.shop.url}/orders`, body)]);
    expect(noKey.map((answer) => answer.status)).toEqual([201, 201]);
    expect(noKey.map((answer) => answer.body.orderId)).toEqual([orderId, orderId]);
    const otherIntent = await request('POST', `${world.shop.url}/orders`, orderBody('idem-buyer', { recipient: { kind: 'game_id', account: '9876543210' } }));
    expect(otherIntent.status).toBe(201);
    expect(otherIntent.body.orderId).not.toBe(orderId);
  });
});

describe('shop pipeline', () => {
  it('delivers a paid order with the supplier\u2019s cards and tells the buyer', async () => {
    const world = await setup();
    const order = await placeOrder(world, 'happy', { quantity: 2 });
    expect(order).toMatchObject({ status: 'pending_payment', amount: 6000, payment: { tradeNo: expect.any(String), payUrl: expect.any(String) } });
    const reservation = world.mocks.stock.reservationsFor(order.orderId)[0]!;
    expect(reservation).toMatchObject({ quantity: 2, buyerId: 'happy', state: 'active' });
    expect(world.mocks.payment.tradeByOrder(order.orderId)).toMatchObject({
      amount: 6000,
      payer: { id: 'happy', region: 'CN' },
      notifyUrl: `${world.shop.url}/payment/notify`,
    });

    expect((await pay(world, order.payment!.tradeNo, 'happy')).body).toMatchObject({ status: 'TRADE_SUCCESS' });
    const delivered = await waitForStatus(world, order.orderId, 'delivered');
    const issued = world.mocks.stock.issuedCards().filter((card) => card.orderId === order.orderId);
    expect(issued).toHaveLength(2);
    expect(delivered.delivery!.cards).toEqual(issued.map((card) => ({ code: card.code, pin: card.pin })));
    expect(delivered.reason).toBeUndefined();
    const message = await waitForMessage(world, order.orderId, 'delivered');
    expect(message.to).toBe('13800138000');
    expect(message.text).toContain(issued[0]!.code);
    expect(await request('POST', `${world.shop.url}/orders/${order.orderId}/cancel`)).toMatchObject({ status: 409, body: { error: { code: 'not_cancellable' } } });
  });

  it('reconciles a charge whose callback was dropped', async () => {
    const world = await setup({ faults: [{ id: 'payment.callback.drop' }] });
    const order = await placeOrder(world, 'dropped');
    await pay(world, order.payment!.tradeNo, 'dropped');
    const delivered = await waitForStatus(world, order.orderId, 'delivered');
    expect(delivered.delivery!.cards).toHaveLength(1);
    expect(eventsOf(world, 'payment.callback.sent', order.orderId)).toHaveLength(0);
    expect(eventsOf(world, 'payment.trade.queried', order.orderId).some((event) => event.status === 'TRADE_SUCCESS')).toBe(true);
    await waitForMessage(world, order.orderId, 'delivered');
  });

  it('with no-reconcile, expires a charged order whose callback was dropped: neither delivered nor refunded', async () => {
    const world = await setup({ faults: [{ id: 'payment.callback.drop' }], flaws: ['no-reconcile'] });
    const order = await placeOrder(world, 'dropped-flawed');
    await pay(world, order.payment!.tradeNo, 'dropped-flawed');
    const expired = await waitForStatus(world, order.orderId, 'expired');
    expect(expired.reason).toBe('expired_unpaid');
    expect(expired.delivery).toBeUndefined();
    expect(world.mocks.payment.tradeByOrder(order.orderId)).toMatchObject({ status: 'TRADE_SUCCESS', refunded: 0 });
    expect(eventsOf(world, 'payment.trade.queried', order.orderId)).toHaveLength(0);
    expect(eventsOf(world, 'payment.trade.closed', order.orderId)).toHaveLength(0);
    await waitForMessage(world, order.orderId, 'expired');
  });

  it('delivers once for duplicate callbacks', async () => {
    const world = await setup({ faults: [{ id: 'payment.callback.duplicate', copies: 2, spacing: '300ms' }] });
    const order = await placeOrder(world, 'dup');
    await pay(world, order.payment!.tradeNo, 'dup');
    await waitForStatus(world, order.orderId, 'delivered');
    await waitFor('both callback copies acknowledged', () => (eventsOf(world, 'payment.callback.sent', order.orderId).filter((e) => e.acked).length >= 2 ? true : undefined), world.waitMs);
    const final = await getOrder(world, order.orderId);
    expect(final.status).toBe('delivered');
    expect(final.delivery!.cards).toHaveLength(1);
    expect(world.mocks.stock.reservationsFor(order.orderId)).toHaveLength(1);
    expect(world.mocks.stock.issuedCards().filter((card) => card.orderId === order.orderId)).toHaveLength(1);
    expect(inbox(world, order.orderId, 'delivered')).toHaveLength(1);
  });

  it('with no-idempotent-callbacks, delivers twice for duplicate callbacks', async () => {
    const world = await setup({ faults: [{ id: 'payment.callback.duplicate', copies: 2, spacing: '300ms' }], flaws: ['no-idempotent-callbacks'] });
    const order = await placeOrder(world, 'dup-flawed');
    await pay(world, order.payment!.tradeNo, 'dup-flawed');
    const twice = await waitFor('two card sets', async () => {
      const current = await getOrder(world, order.orderId);
      return current.delivery && current.delivery.cards.length === 2 && current.status === 'delivered' ? current : undefined;
    }, world.waitMs);
    expect(new Set(twice.delivery!.cards.map((card) => card.code)).size).toBe(2);
    expect(world.mocks.stock.reservationsFor(order.orderId)).toHaveLength(2);
    await waitFor('two delivered messages', () => (inbox(world, order.orderId, 'delivered').length === 2 ? true : undefined), world.waitMs);
  });

  it('fails fast on stale stock, tells the buyer with the restock time, and charges nothing', async () => {
    const world = await setup({ faults: [{ id: 'stock.stale', restockIn: '2h' }] });
    const order = await placeOrder(world, 'stale');
    expect(order).toMatchObject({ status: 'failed', reason: 'out_of_stock' });
    expect(order.payment).toBeUndefined();
    expect(world.mocks.payment.allTrades()).toHaveLength(0);
    const refused = eventsOf(world, 'stock.refused', order.orderId)[0]!;
    const message = await waitForMessage(world, order.orderId, 'out_of_stock');
    expect(message.reason).toBe('out_of_stock');
    expect(message.text).toContain(refused.restockAt!);
  });

  it('with no-failure-notice, fails on stale stock silently', async () => {
    const world = await setup({ faults: [{ id: 'stock.stale' }], flaws: ['no-failure-notice'] });
    const order = await placeOrder(world, 'stale-silent');
    expect(order).toMatchObject({ status: 'failed', reason: 'out_of_stock' });
    // The outbox still works (a cancellation is a failure notice too, so use a forged-free path:
    // the gateway sees nothing at all for this order).
    await waitFor('the stock refusal to be journaled', () => eventsOf(world, 'stock.refused', order.orderId)[0], world.waitMs);
    expect(inbox(world, order.orderId)).toHaveLength(0);
  });

  it('names a payment limit, releases the stock and tells the buyer', async () => {
    const world = await setup({ faults: [{ id: 'payment.limit.single' }] });
    const order = await placeOrder(world, 'limited');
    const paid = await pay(world, order.payment!.tradeNo, 'limited');
    expect(paid).toMatchObject({ status: 402, body: { code: 'LIMIT_SINGLE' } });
    const failed = await waitForStatus(world, order.orderId, 'failed');
    expect(failed.reason).toBe('payment_limit');
    await waitFor('reservation released', () => (world.mocks.stock.reservationsFor(order.orderId)[0]?.state === 'released' ? true : undefined), world.waitMs);
    const message = await waitForMessage(world, order.orderId, 'payment_failed');
    expect(message.reason).toBe('payment_limit');
    expect(message.text).toMatch(/another payment method|split/);
    expect(world.mocks.stock.available('MONTH_CARD')).toBe(20);
  });

  it('expires an unpaid order: closes the trade, releases the stock, tells the buyer', async () => {
    const world = await setup();
    const order = await placeOrder(world, 'idle');
    const expired = await waitForStatus(world, order.orderId, 'expired');
    expect(expired.reason).toBe('expired_unpaid');
    expect(eventsOf(world, 'payment.trade.closed', order.orderId)).toMatchObject([{ result: 'closed' }]);
    await waitFor('reservation released', () => (world.mocks.stock.reservationsFor(order.orderId)[0]?.state === 'released' ? true : undefined), world.waitMs);
    await waitForMessage(world, order.orderId, 'expired');
    expect(world.mocks.stock.available('MONTH_CARD')).toBe(20);
  });

  it('cancels an unpaid order once', async () => {
    const world = await setup({ timers: { orderTtl: 60_000, reconcileAfter: 60_000 } });
    const order = await placeOrder(world, 'canceller', { buyer: { id: 'canceller', contact: 'canceller@example.com' } });
    const cancelled = await request('POST', `${world.shop.url}/orders/${order.orderId}/cancel`);
    expect(cancelled).toMatchObject({ status: 200, body: { orderId: order.orderId, status: 'cancelled' } });
    expect(await getOrder(world, order.orderId)).toMatchObject({ status: 'cancelled', reason: 'cancelled_by_buyer' });
    expect(world.mocks.payment.tradeByOrder(order.orderId)?.status).toBe('TRADE_CLOSED');
    expect(world.mocks.stock.reservationsFor(order.orderId)[0]?.state).toBe('released');
    const message = await waitForMessage(world, order.orderId, 'cancelled');
    expect(message).toMatchObject({ to: 'canceller@example.com' });
    expect(world.mocks.notify.inbox({ orderId: order.orderId })[0]?.channel).toBe('email');
    expect(await request('POST', `${world.shop.url}/orders/${order.orderId}/cancel`)).toMatchObject({ status: 409, body: { error: { code: 'not_cancellable' } } });
  });

  it('rejects a callback with a bad signature and does not mark the order paid', async () => {
    const world = await setup({ timers: { orderTtl: 60_000, reconcileAfter: 60_000 } });
    const order = await placeOrder(world, 'forged');
    const payload = { notifyId: 'N-forged', tradeNo: order.payment!.tradeNo, outTradeNo: order.orderId, status: 'TRADE_SUCCESS', amount: order.amount };
    expect(await signedCallback(world, payload, 'wrong-secret')).toMatchObject({ status: 401 });
    expect(await request('POST', `${world.shop.url}/payment/notify`, payload)).toMatchObject({ status: 401 });
    const raw = JSON.stringify(payload);
    const tampered = await request('POST', `${world.shop.url}/payment/notify`, raw.replace(String(order.amount), '1'), { 'ordeal-signature': signBody(SECRET, raw) });
    expect(tampered.status).toBe(401);
    const stale = await request('POST', `${world.shop.url}/payment/notify`, raw, { 'ordeal-signature': signBody(SECRET, raw, Math.floor(Date.now() / 1000) - 3600) });
    expect(stale.status).toBe(401);
    expect(await signedCallback(world, { ...payload, outTradeNo: 'ord_nope' })).toMatchObject({ status: 404 });
    expect(await getOrder(world, order.orderId)).toMatchObject({ status: 'pending_payment' });
    expect(world.mocks.stock.issuedCards()).toHaveLength(0);
    expect(inbox(world, order.orderId)).toHaveLength(0);
  });

  describe('a late payment when the stock is gone', () => {
    /**
     * The buyer pays but the callback is lost and the shop is not reconciling yet; meanwhile the
     * reservation disappears and another buyer takes the last card. The callback then arrives.
     */
    async function lateCallbackWithoutStock(flaws: ShopFlaw[]): Promise<{ world: World; order: OrderAnswer }> {
      const world = await setup({ faults: [{ id: 'payment.callback.drop' }], flaws, stock: 1, timers: { orderTtl: 60_000, reconcileAfter: 60_000 } });
      const order = await placeOrder(world, 'late');
      await pay(world, order.payment!.tradeNo, 'late');
      const reservation = world.mocks.stock.reservationsFor(order.orderId)[0]!;
      expect((await fetch(`${world.mocks.urls.stock}/v1/reservations/${reservation.reservationId}`, { method: 'DELETE', headers: credentialsFor(world.mocks.urls.stock) })).status).toBe(204);
      const other = await placeOrder(world, 'other-buyer');
      expect(other.status).toBe('pending_payment');
      const trade = world.mocks.payment.tradeByOrder(order.orderId)!;
      const answer = await signedCallback(world, { notifyId: 'N-late', tradeNo: trade.tradeNo, outTradeNo: order.orderId, status: 'TRADE_SUCCESS', amount: trade.amount, paidAt: trade.paidAt });
      expect(answer.status).toBe(200);
      return { world, order };
    }

    it('refunds the buyer, says why, and gives the restock time', async () => {
      const { world, order } = await lateCallbackWithoutStock([]);
      const refunded = await waitForStatus(world, order.orderId, 'refunded');
      expect(refunded.reason).toBe('out_of_stock');
      expect(refunded.delivery).toBeUndefined();
      expect(world.mocks.payment.tradeByOrder(order.orderId)).toMatchObject({ refunded: 3000, refunds: [{ refundNo: `${order.orderId}-r1`, amount: 3000 }] });
      const message = await waitForMessage(world, order.orderId, 'refunded');
      expect(message.reason).toBe('out_of_stock');
      expect(message.text).toMatch(/restock expected at \d{4}-/);
    });

    it('with no-refund, marks it failed and keeps the money', async () => {
      const { world, order } = await lateCallbackWithoutStock(['no-refund']);
      const failed = await waitForStatus(world, order.orderId, 'failed');
      expect(failed.reason).toBe('out_of_stock');
      expect(world.mocks.payment.tradeByOrder(order.orderId)).toMatchObject({ status: 'TRADE_SUCCESS', refunded: 0 });
      expect(eventsOf(world, 'payment.refund', order.orderId)).toHaveLength(0);
    });
  });

  it('finds a trade whose creation answer was lost, and charges once', async () => {
    const world = await setup({ faults: [{ id: 'payment.latency', delay: { fixed: '400ms' }, routes: ['create'] }], requestTimeoutMs: 150 });
    const order = await placeOrder(world, 'ambiguous');
    expect(order.status).toBe('pending_payment');
    expect(world.mocks.payment.allTrades()).toHaveLength(1);
    expect(order.payment!.tradeNo).toBe(world.mocks.payment.tradeByOrder(order.orderId)!.tradeNo);
    expect(eventsOf(world, 'payment.trade.queried', order.orderId)).toHaveLength(1);
    await pay(world, order.payment!.tradeNo, 'ambiguous');
    await waitForStatus(world, order.orderId, 'delivered');
  });

  it('fails cleanly when the stock supplier is down', async () => {
    const world = await setup({ intercept: { service: 'stock', answer: () => ({ status: 503, body: { code: 'SYSTEM_ERROR' } }) } });
    const order = await placeOrder(world, 'no-stock-service');
    expect(order).toMatchObject({ status: 'failed', reason: 'service_unavailable' });
    expect(world.mocks.payment.allTrades()).toHaveLength(0);
  });

  it('refunds as delivery_failed when card issue keeps failing, and releases the stock', async () => {
    const world = await setup({
      intercept: { service: 'stock', answer: ({ path }) => (path.endsWith('/fulfil') ? { status: 503, body: { code: 'SYSTEM_ERROR' } } : undefined) },
    });
    const order = await placeOrder(world, 'fulfil-broken');
    await pay(world, order.payment!.tradeNo, 'fulfil-broken');
    const refunded = await waitForStatus(world, order.orderId, 'refunded', 12_000);
    expect(refunded.reason).toBe('delivery_failed');
    expect(world.mocks.payment.tradeByOrder(order.orderId)?.refunded).toBe(3000);
    // Eight attempts outlast the reservation's TTL: released by the shop, or lapsed at the supplier.
    expect(['released', 'expired']).toContain(world.mocks.stock.reservationsFor(order.orderId)[0]?.state);
    expect((await waitForMessage(world, order.orderId, 'refunded')).reason).toBe('delivery_failed');
  });

  it('retries messages while the gateway is down', async () => {
    let refusals = 0;
    const world = await setup({
      intercept: { service: 'notify', answer: ({ method }) => (method === 'POST' && refusals++ < 3 ? { status: 503, body: { code: 'SYSTEM_ERROR' } } : undefined) },
    });
    const order = await placeOrder(world, 'gateway-down');
    await pay(world, order.payment!.tradeNo, 'gateway-down');
    await waitForStatus(world, order.orderId, 'delivered');
    const message = await waitForMessage(world, order.orderId, 'delivered');
    expect(message.kind).toBe('delivered');
    expect(refusals).toBeGreaterThanOrEqual(3);
    expect(inbox(world, order.orderId)).toHaveLength(1);
  });

  it('carries on after a restart from the same data folder', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shop-restart-'));
    defer(() => rmSync(dataDir, { recursive: true, force: true }));
    const world = await setup({ faults: [{ id: 'payment.callback.drop' }], dataDir, timers: { orderTtl: 60_000, reconcileAfter: 60_000 } });
    const order = await placeOrder(world, 'restart');
    await pay(world, order.payment!.tradeNo, 'restart');
    await world.shop.close();
    await expect(fetch(`${world.shop.url}/health`)).rejects.toThrow();

    const shop = await startShop({ ...world.config, timers: SHOP_TIMERS });
    defer(() => shop.close());
    const restarted: World = { ...world, shop };
    const delivered = await waitForStatus(restarted, order.orderId, 'delivered');
    expect(delivered.delivery!.cards).toHaveLength(1);
    expect(world.mocks.stock.reservationsFor(order.orderId)).toHaveLength(1);
  });
});
