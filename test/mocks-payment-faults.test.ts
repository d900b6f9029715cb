/**
 * The payment provider's fault catalogue over real sockets: each fault's effect on the ledger, the
 * journal and the native protocol's answers. The core runs on a manual clock (trade expiry without
 * sleeps), served through the native personality; callbacks go to a real receiver that verifies
 * signatures as a shop would.
 */
import { describe, expect, it } from 'vitest';
import { MemoryJournal } from '../core/journal.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { serveRoutes } from '../mocks/http-transport.js';
import { Correlation } from '../mocks/mock-types.js';
import { PaymentCore } from '../mocks/payment/core.js';
import { CallbackDispatcher } from '../mocks/payment/dispatcher.js';
import { NativePersonality } from '../mocks/payment/personalities/native.js';
import { verifySignature } from '../mocks/signature.js';
import { withTransportFaults } from '../mocks/transport-faults.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { callWithHeaders as call, registerCredentials, type AnswerWithHeaders as Answer } from './helpers/http.js';
import { eventsOf, faultsOf, waitForEvents } from './helpers/journal.js';
import { mockScenario, postTrade, startCallbackReceiver, tradeBody as notifyTradeBody, type Received, type TradeBody } from './helpers/mocks.js';

const SECRET = 'test-secret';
const T0 = Date.parse('2030-01-01T00:00:00Z');

// ---- helpers -------------------------------------------------------------------------------

const defer = cleanupAfterEach();

interface Rig {
  url: string;
  journal: MemoryJournal;
  provider: PaymentCore;
  dispatcher: CallbackDispatcher;
  received: Received[];
  notifyUrl: string;
  /** Moves the provider's clock on. */
  advance(ms: number): void;
  close(): Promise<void>;
}

/** The core on a manual clock and the native personality, wired as createMocks wires them, served over real HTTP. */
async function setup(faults: unknown[]): Promise<Rig> {
  const scenario = mockScenario({ name: 'payment-faults', seed: 11, faults });
  const journal = new MemoryJournal();
  const plan = new FaultPlan(scenario.faults, scenario.seed);
  const context = { journal, plan, correlation: new Correlation() };
  const personality = new NativePersonality({ secret: SECRET });
  const dispatcher = new CallbackDispatcher({ journal, plan, personality, retryDelays: [10, 20, 40, 80], timeoutMs: 1000 });
  let now = T0;
  const provider = new PaymentCore({ ...context, clock: () => now, callbacks: (target, notice) => void dispatcher.dispatch(target, notice) });
  const site = { baseUrl: '' };
  const served = await serveRoutes(withTransportFaults('payment', personality.routes(provider, site), context), { name: 'payment' });
  site.baseUrl = served.url;
  // The shop's requests carry the merchant's bearer secret; the buyers' steps are not guarded here (no route guard).
  defer(registerCredentials(served.url, { authorization: `Bearer ${SECRET}` }));
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      provider.close();
      await dispatcher.close();
      await served.close();
    })());
  defer(close);
  const receiver = await startCallbackReceiver(defer, SECRET);
  return {
    url: served.url,
    journal,
    provider,
    dispatcher,
    received: receiver.received,
    notifyUrl: receiver.url,
    advance: (ms) => {
      now += ms;
    },
    close,
  };
}

function tradeBody(rig: Rig, overrides: Record<string, unknown> = {}): TradeBody {
  return notifyTradeBody(rig.notifyUrl, overrides, 'CN-GD');
}

function createTrade(rig: Rig, overrides: Record<string, unknown> = {}): Promise<{ tradeNo: string; outTradeNo: string; payerId: string }> {
  return postTrade(rig.url, tradeBody(rig, overrides));
}

function pay(rig: Rig, tradeNo: string, payerId: string): Promise<Answer> {
  return call('POST', `${rig.url}/v1/trades/${tradeNo}/pay`, { payerId, method: 'alipay' });
}

// ---- channel faults ------------------------------------------------------------------------

describe('payment channel faults', () => {
  it('payment.error: the first `times` calls per buyer and route answer SYSTEM_ERROR and do nothing', async () => {
    const rig = await setup([{ id: 'payment.error', routes: ['create', 'query'], status: 502, times: 1 }]);
    const body = tradeBody(rig);
    const failed = await call('POST', `${rig.url}/v1/trades`, body);
    expect(failed.status).toBe(502);
    expect(failed.body.code).toBe('SYSTEM_ERROR');
    expect(rig.provider.tradeByOrder(body.outTradeNo)).toBeUndefined();
    expect(eventsOf(rig.journal, 'payment.trade.created')).toHaveLength(0);
    expect(eventsOf(rig.journal, 'payment.trade.refused')).toEqual([
      expect.objectContaining({ orderId: body.outTradeNo, code: 'SYSTEM_ERROR', httpStatus: 502 }),
    ]);

    // The buyer's second create goes through; its first query (another route) fails once too.
    const created = await call('POST', `${rig.url}/v1/trades`, body);
    expect(created.status).toBe(201);
    const tradeNo = created.body.tradeNo as string;
    expect((await call('GET', `${rig.url}/v1/trades?outTradeNo=${body.outTradeNo}`)).status).toBe(502);
    expect((await call('GET', `${rig.url}/v1/trades/${tradeNo}`)).status).toBe(200);
    expect(eventsOf(rig.journal, 'payment.trade.queried')).toHaveLength(1);

    // Another buyer has counters of its own.
    const other = tradeBody(rig);
    expect((await call('POST', `${rig.url}/v1/trades`, other)).status).toBe(502);
    expect((await call('POST', `${rig.url}/v1/trades`, other)).status).toBe(201);

    expect(faultsOf(rig, 'payment.error').map((event) => [event.orderId, event.buyerId, event.detail.route, event.detail.call])).toEqual([
      [body.outTradeNo, body.payer.id, 'create', 1],
      [body.outTradeNo, body.payer.id, 'query', 1],
      [other.outTradeNo, other.payer.id, 'create', 1],
    ]);
    // Pay is not listed: it works.
    expect((await pay(rig, tradeNo, body.payer.id)).status).toBe(200);
  });

  it('payment.error 429: RATE_LIMITED with Retry-After in whole seconds, on every call without `times`', async () => {
    const rig = await setup([{ id: 'payment.error', routes: ['pay'], status: 429, retryAfter: '1.5s' }]);
    const { tradeNo, outTradeNo, payerId } = await createTrade(rig);
    for (let n = 1; n <= 2; n++) {
      const limited = await pay(rig, tradeNo, payerId);
      expect(limited.status).toBe(429);
      expect(limited.body.code).toBe('RATE_LIMITED');
      expect(limited.headers.get('retry-after')).toBe('2');
    }
    expect(rig.provider.trade(tradeNo)?.status).toBe('WAIT_BUYER_PAY');
    expect(eventsOf(rig.journal, 'payment.trade.paid')).toHaveLength(0);
    expect(rig.dispatcher.pending()).toBe(0);
    expect(faultsOf(rig, 'payment.error').map((event) => [event.orderId, event.detail.call, event.detail.retryAfterS])).toEqual([
      [outTradeNo, 1, 2],
      [outTradeNo, 2, 2],
    ]);
  });

  it('payment.timeout: the first create hangs with no trade; close() does not wait for it', async () => {
    const rig = await setup([{ id: 'payment.timeout', routes: ['create'], times: 1 }]);
    const body = tradeBody(rig);
    let settled = false;
    const hung = call('POST', `${rig.url}/v1/trades`, body).then(
      (answer) => {
        settled = true;
        return answer;
      },
      (error: unknown) => {
        settled = true;
        throw error;
      },
    );
    const [injected] = await waitForEvents(rig.journal, 'fault.injected');
    expect(injected).toMatchObject({ fault: 'payment.timeout', orderId: body.outTradeNo, buyerId: body.payer.id, detail: { route: 'create', call: 1 } });
    expect(rig.provider.tradeByOrder(body.outTradeNo)).toBeUndefined();

    // The shop's retry (a second call) is answered while the first still hangs.
    const retry = await call('POST', `${rig.url}/v1/trades`, body);
    expect(retry.status).toBe(201);
    expect(settled).toBe(false);
    expect(eventsOf(rig.journal, 'payment.trade.created')).toHaveLength(1);

    const started = performance.now();
    await rig.close();
    expect(performance.now() - started).toBeLessThan(1000);
    await expect(hung).rejects.toThrow();
  });

  it('payment.ambiguous: the trade is created, the connection resets; the shop finds it by querying', async () => {
    const rig = await setup([{ id: 'payment.ambiguous' }]);
    const body = tradeBody(rig);
    await expect(call('POST', `${rig.url}/v1/trades`, body)).rejects.toMatchObject({ cause: { code: 'ECONNRESET' } });
    const [created] = eventsOf(rig.journal, 'payment.trade.created');
    expect(created).toMatchObject({ orderId: body.outTradeNo, repeat: false });
    expect(faultsOf(rig, 'payment.ambiguous')).toEqual([
      expect.objectContaining({ orderId: body.outTradeNo, buyerId: body.payer.id, detail: { tradeNo: created?.tradeNo } }),
    ]);

    const found = await call('GET', `${rig.url}/v1/trades?outTradeNo=${body.outTradeNo}`);
    expect(found.status).toBe(200);
    expect(found.body).toMatchObject({ tradeNo: created?.tradeNo, status: 'WAIT_BUYER_PAY', amount: 3000 });
    // Only the first create per order is lost: a retry answers the same trade.
    const retry = await call('POST', `${rig.url}/v1/trades`, body);
    expect(retry.status).toBe(200);
    expect(retry.body.tradeNo).toBe(created?.tradeNo);
    expect(rig.provider.allTrades()).toHaveLength(1);
  });

  it('payment.cross_border: payers abroad are refused at creation for the blocked methods', async () => {
    const rig = await setup([{ id: 'payment.cross_border', home: 'CN', methods: ['alipay'] }]);
    const abroad = tradeBody(rig, { payer: { id: 'buyer-abroad', region: 'US-CA' } });
    const refused = await call('POST', `${rig.url}/v1/trades`, abroad);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('CROSS_BORDER_BLOCKED');
    expect(rig.provider.tradeByOrder(abroad.outTradeNo)).toBeUndefined();
    expect(eventsOf(rig.journal, 'payment.trade.refused')).toEqual([
      expect.objectContaining({ orderId: abroad.outTradeNo, code: 'CROSS_BORDER_BLOCKED', httpStatus: 403 }),
    ]);
    expect(faultsOf(rig, 'payment.cross_border')).toEqual([
      expect.objectContaining({ orderId: abroad.outTradeNo, buyerId: 'buyer-abroad', detail: { region: 'US-CA', method: 'alipay', home: 'CN' } }),
    ]);
    // Home payers, and other methods, are served.
    await createTrade(rig, { payer: { id: 'buyer-home', region: 'CN-SH' } });
    await createTrade(rig, { payer: { id: 'buyer-card', region: 'US-NY' }, method: 'card' });
    expect(faultsOf(rig, 'payment.cross_border')).toHaveLength(1);
  });
});

// ---- cashier faults ------------------------------------------------------------------------

describe('payment cashier faults', () => {
  it('payment.limit.daily: refuses once this payer’s spending today would pass the limit', async () => {
    const rig = await setup([{ id: 'payment.limit.daily', limit: 7000, spentBefore: 1000 }]);
    const payer = { id: 'buyer-daily', region: 'CN' };
    const first = await createTrade(rig, { payer });
    const second = await createTrade(rig, { payer });
    const third = await createTrade(rig, { payer });
    expect((await pay(rig, first.tradeNo, payer.id)).status).toBe(200); // 1000 + 3000
    expect((await pay(rig, second.tradeNo, payer.id)).status).toBe(200); // 1000 + 6000 = the limit
    const refused = await pay(rig, third.tradeNo, payer.id); // 10 000 > 7000
    expect(refused.status).toBe(402);
    expect(refused.body).toMatchObject({ code: 'LIMIT_DAILY', status: 'PAY_FAILED' });
    expect(faultsOf(rig, 'payment.limit.daily')).toEqual([
      expect.objectContaining({ orderId: third.outTradeNo, buyerId: payer.id, detail: { amount: 3000, limit: 7000, spent: 7000 } }),
    ]);
    expect(eventsOf(rig.journal, 'payment.trade.pay_failed')).toEqual([expect.objectContaining({ orderId: third.outTradeNo, code: 'LIMIT_DAILY' })]);
    expect((await call('GET', `${rig.url}/v1/trades/${third.tradeNo}`)).body).toMatchObject({ status: 'PAY_FAILED', failCode: 'LIMIT_DAILY' });

    // Another payer starts from spentBefore alone.
    const fresh = await createTrade(rig);
    expect((await pay(rig, fresh.tradeNo, fresh.payerId)).status).toBe(200);

    await waitForEvents(rig.journal, 'payment.callback.sent', (event) => event.status === 'PAY_FAILED');
    await rig.dispatcher.idle();
    const failure = rig.received.find((entry) => entry.body.tradeNo === third.tradeNo);
    expect(failure?.body).toMatchObject({ status: 'PAY_FAILED', failCode: 'LIMIT_DAILY', amount: 3000 });
    expect(failure?.check.ok).toBe(true);
    expect(rig.provider.totals()).toMatchObject({ captured: 9000, paid: 3 });
  });

  it('payment.decline: 402 DECLINED, PAY_FAILED in the ledger and in a signed callback', async () => {
    const rig = await setup([{ id: 'payment.decline' }]);
    const { tradeNo, outTradeNo, payerId } = await createTrade(rig);
    const declined = await pay(rig, tradeNo, payerId);
    expect(declined.status).toBe(402);
    expect(declined.body).toMatchObject({ code: 'DECLINED', status: 'PAY_FAILED' });
    expect(faultsOf(rig, 'payment.decline')).toEqual([expect.objectContaining({ orderId: outTradeNo, buyerId: payerId })]);
    expect(eventsOf(rig.journal, 'payment.trade.pay_failed')).toEqual([expect.objectContaining({ orderId: outTradeNo, tradeNo, code: 'DECLINED' })]);
    const [sent] = await waitForEvents(rig.journal, 'payment.callback.sent');
    expect(sent).toMatchObject({ status: 'PAY_FAILED', acked: true });
    expect(sent?.forgery).toBeUndefined();
    expect(rig.received[0]?.body).toMatchObject({ tradeNo, status: 'PAY_FAILED', failCode: 'DECLINED' });
    expect(rig.received[0]?.check.ok).toBe(true);
    expect(rig.provider.totals().captured).toBe(0);
  });

  it('payment.verification: VERIFYING until completed; completion captures and calls back', async () => {
    const rig = await setup([{ id: 'payment.verification', completeAfter: '100ms' }]);
    const { tradeNo, outTradeNo, payerId } = await createTrade(rig);
    const started = await pay(rig, tradeNo, payerId);
    expect(started.status).toBe(202);
    expect(started.body.status).toBe('VERIFYING');
    const verificationId = started.body.verificationId as string;
    expect(verificationId).toMatch(/^V\d+$/);
    expect(eventsOf(rig.journal, 'payment.verification.started')).toEqual([expect.objectContaining({ orderId: outTradeNo, tradeNo, verificationId })]);
    expect(faultsOf(rig, 'payment.verification')).toEqual([
      expect.objectContaining({ orderId: outTradeNo, buyerId: payerId, detail: { verificationId, completeAfter: 100 } }),
    ]);
    // The shop learns of it only by querying; nothing is captured, no callback.
    expect((await call('GET', `${rig.url}/v1/trades/${tradeNo}`)).body.status).toBe('VERIFYING');
    expect(rig.dispatcher.pending()).toBe(0);
    expect(eventsOf(rig.journal, 'payment.trade.paid')).toHaveLength(0);
    expect((await pay(rig, tradeNo, payerId)).body.code).toBe('TRADE_VERIFYING');

    const done = await call('POST', `${rig.url}/v1/verifications/${verificationId}/complete`);
    expect(done).toMatchObject({ status: 200, body: { status: 'TRADE_SUCCESS' } });
    expect(eventsOf(rig.journal, 'payment.trade.paid')).toEqual([expect.objectContaining({ orderId: outTradeNo, amount: 3000, payerId })]);
    expect(eventsOf(rig.journal, 'payment.verification.completed')).toEqual([
      expect.objectContaining({ orderId: outTradeNo, tradeNo, verificationId, result: 'TRADE_SUCCESS' }),
    ]);
    const [sent] = await waitForEvents(rig.journal, 'payment.callback.sent');
    expect(sent).toMatchObject({ status: 'TRADE_SUCCESS', acked: true });
    expect(rig.received[0]?.check.ok).toBe(true);
    expect((await call('POST', `${rig.url}/v1/verifications/V404/complete`)).status).toBe(404);
  });

  it('payment.verification: completing after expiry, or after the shop closed the trade, gets 409 TRADE_CLOSED', async () => {
    const rig = await setup([{ id: 'payment.verification' }]);
    const expiring = await createTrade(rig, { expiresInMs: 1000 });
    const first = await pay(rig, expiring.tradeNo, expiring.payerId);
    rig.advance(1000);
    const late = await call('POST', `${rig.url}/v1/verifications/${first.body.verificationId as string}/complete`);
    expect(late.status).toBe(409);
    expect(late.body.code).toBe('TRADE_CLOSED');
    expect((await call('GET', `${rig.url}/v1/trades/${expiring.tradeNo}`)).body.status).toBe('TRADE_CLOSED');

    const closing = await createTrade(rig);
    const second = await pay(rig, closing.tradeNo, closing.payerId);
    expect((await call('POST', `${rig.url}/v1/trades/${closing.tradeNo}/close`)).body).toEqual({ status: 'TRADE_CLOSED' });
    expect((await call('POST', `${rig.url}/v1/verifications/${second.body.verificationId as string}/complete`)).status).toBe(409);

    expect(eventsOf(rig.journal, 'payment.verification.completed').map((event) => [event.orderId, event.result])).toEqual([
      [expiring.outTradeNo, 'TRADE_CLOSED'],
      [closing.outTradeNo, 'TRADE_CLOSED'],
    ]);
    expect(eventsOf(rig.journal, 'payment.trade.paid')).toHaveLength(0);
    expect(rig.dispatcher.pending()).toBe(0);
  });

  it('payment.callback.tampered: the buyer pays another amount; capture, callback and query carry it', async () => {
    const rig = await setup([{ id: 'payment.callback.tampered', paidAmount: 1 }]);
    const { tradeNo, outTradeNo, payerId } = await createTrade(rig);
    expect((await pay(rig, tradeNo, payerId)).status).toBe(200);
    expect(eventsOf(rig.journal, 'payment.trade.paid')).toEqual([expect.objectContaining({ orderId: outTradeNo, amount: 1, payerId })]);
    expect(faultsOf(rig, 'payment.callback.tampered')).toEqual([
      expect.objectContaining({ orderId: outTradeNo, buyerId: payerId, detail: { orderedAmount: 3000, paidAmount: 1 } }),
    ]);
    await waitForEvents(rig.journal, 'payment.callback.sent');
    expect(rig.received[0]?.body).toMatchObject({ tradeNo, status: 'TRADE_SUCCESS', amount: 1 });
    expect(rig.received[0]?.check.ok).toBe(true);
    expect((await call('GET', `${rig.url}/v1/trades/${tradeNo}`)).body).toMatchObject({ status: 'TRADE_SUCCESS', amount: 1 });
    expect(rig.provider.trade(tradeNo)).toMatchObject({ amount: 1, orderedAmount: 3000 });
    expect(rig.provider.totals().captured).toBe(1);

    // The shop can refund what was captured, no more; its create retry still matches the ordered amount.
    const refunds = `${rig.url}/v1/trades/${tradeNo}/refunds`;
    expect((await call('POST', refunds, { refundNo: 'R-big', amount: 3000 })).body.code).toBe('REFUND_EXCEEDS_PAID');
    expect((await call('POST', refunds, { refundNo: 'R-all', amount: 1 })).status).toBe(200);
    const again = await call('POST', `${rig.url}/v1/trades`, tradeBody(rig, { outTradeNo, payer: { id: payerId, region: 'CN-GD' } }));
    expect(again.status).toBe(200);
    expect(again.body.tradeNo).toBe(tradeNo);
  });
});

// ---- callbacks -----------------------------------------------------------------------------

describe('payment callback faults', () => {
  it('payment.callback.reorder: a stale, genuinely signed PAY_FAILED follows the success by `gap`', async () => {
    const rig = await setup([{ id: 'payment.callback.reorder', gap: '40ms' }]);
    const { tradeNo, outTradeNo, payerId } = await createTrade(rig);
    expect((await pay(rig, tradeNo, payerId)).status).toBe(200);
    await waitForEvents(rig.journal, 'payment.callback.sent', () => true, 2);
    await rig.dispatcher.idle();

    const sent = eventsOf(rig.journal, 'payment.callback.sent');
    expect(sent.map((event) => [event.status, event.forgery, event.acked])).toEqual([
      ['TRADE_SUCCESS', undefined, true],
      ['PAY_FAILED', 'stale', true],
    ]);
    expect(sent[0]?.notifyId).not.toBe(sent[1]?.notifyId);
    const [success, stale] = rig.received;
    expect(success?.body).toMatchObject({ tradeNo, outTradeNo, status: 'TRADE_SUCCESS' });
    expect(stale?.body).toMatchObject({ tradeNo, outTradeNo, status: 'PAY_FAILED', failCode: 'DECLINED', amount: 3000 });
    expect(stale?.check.ok).toBe(true);
    expect((stale?.at ?? 0) - (success?.at ?? 0)).toBeGreaterThanOrEqual(39);
    expect(faultsOf(rig, 'payment.callback.reorder')).toEqual([
      expect.objectContaining({ orderId: outTradeNo, buyerId: payerId, detail: expect.objectContaining({ gap: 40, notifyId: sent[1]?.notifyId }) }),
    ]);
    // The ledger is untouched: one capture, still a success.
    expect(rig.provider.trade(tradeNo)?.status).toBe('TRADE_SUCCESS');
    expect(rig.provider.totals()).toMatchObject({ captured: 3000, paid: 1 });
  });

  it('payment.callback.late: the trade stays payable after expiresAt, even after the shop closed it', async () => {
    const rig = await setup([{ id: 'payment.callback.late' }]);
    const late = await createTrade(rig, { expiresInMs: 1000 });
    const closedByShop = await createTrade(rig, { expiresInMs: 1000 });
    const early = await createTrade(rig, { expiresInMs: 1000 });
    expect((await pay(rig, early.tradeNo, early.payerId)).status).toBe(200);
    rig.advance(5000);
    expect((await call('GET', `${rig.url}/v1/trades/${late.tradeNo}`)).body.status).toBe('WAIT_BUYER_PAY');
    expect(rig.provider.trade(late.tradeNo)).toMatchObject({ status: 'WAIT_BUYER_PAY', late: true });

    expect((await pay(rig, late.tradeNo, late.payerId)).status).toBe(200);
    expect(eventsOf(rig.journal, 'payment.trade.paid').map((event) => event.orderId)).toEqual([early.outTradeNo, late.outTradeNo]);
    expect(faultsOf(rig, 'payment.callback.late').map((event) => [event.orderId, event.buyerId, event.detail.lateByMs])).toEqual([
      [early.outTradeNo, early.payerId, -1000],
      [late.outTradeNo, late.payerId, 4000],
    ]);
    await waitForEvents(rig.journal, 'payment.callback.sent', (event) => event.orderId === late.outTradeNo && event.acked);

    // The shop's close is answered, but the late buyer's money was already in the channel.
    expect((await call('POST', `${rig.url}/v1/trades/${closedByShop.tradeNo}/close`)).status).toBe(200);
    const stillPaid = await pay(rig, closedByShop.tradeNo, closedByShop.payerId);
    expect(stillPaid.status).toBe(200);
    expect(rig.provider.trade(closedByShop.tradeNo)).toMatchObject({ status: 'TRADE_SUCCESS' });
    await rig.dispatcher.idle();
  });

  it('payment.callback.forged, .replayed and .altered: unpaid trade, bad signatures, at most 3 attempts, no capture', async () => {
    const rig = await setup([
      { id: 'payment.callback.forged', after: '20ms' },
      { id: 'payment.callback.replayed', after: '30ms', age: '1h' },
      { id: 'payment.callback.altered', after: '40ms', signedAmount: 1 },
    ]);
    const { tradeNo, outTradeNo, payerId } = await createTrade(rig);
    expect(rig.provider.pendingForgeries()).toBe(3);
    const sent = await waitForEvents(rig.journal, 'payment.callback.sent', (event) => event.forgery !== undefined, 9);
    await rig.dispatcher.idle();
    expect(rig.provider.pendingForgeries()).toBe(0);

    for (const kind of ['forged', 'replayed', 'altered'] as const) {
      const attempts = sent.filter((event) => event.forgery === kind);
      expect(attempts.map((event) => [event.status, event.attempt, event.acked, event.httpStatus])).toEqual([
        ['TRADE_SUCCESS', 1, false, 401],
        ['TRADE_SUCCESS', 2, false, 401],
        ['TRADE_SUCCESS', 3, false, 401],
      ]);
      const [injected] = faultsOf(rig, `payment.callback.${kind}`);
      expect(injected).toMatchObject({ orderId: outTradeNo, buyerId: payerId, detail: expect.objectContaining({ notifyId: attempts[0]?.notifyId }) });
      // Journaled at send time: after the trade was created, just before the first attempt.
      expect(injected?.t ?? 0).toBeLessThanOrEqual(attempts[0]?.t ?? 0);
    }
    const mismatched = rig.received.filter((entry) => entry.check.ok === false && entry.check.reason === 'mismatch');
    const replayed = rig.received.filter((entry) => entry.check.ok === false && entry.check.reason === 'stale');
    expect(mismatched).toHaveLength(6);
    expect(replayed).toHaveLength(3);
    for (const entry of [...mismatched, ...replayed]) expect(entry.body).toMatchObject({ tradeNo, outTradeNo, status: 'TRADE_SUCCESS', amount: 3000 });
    // Altered: genuinely signed, over the same notice for 1 cent.
    const signedForACent = (entry: (typeof mismatched)[number]): boolean => {
      const at = Number(/t=(\d+)/.exec(entry.header ?? '')?.[1]);
      return verifySignature(SECRET, entry.header, JSON.stringify({ ...(entry.body as object), amount: 1 }), at).ok;
    };
    expect(mismatched.filter(signedForACent)).toHaveLength(3);
    const forged = mismatched.filter((entry) => !signedForACent(entry));
    // The replay is genuinely signed, an hour ago: valid with that clock, stale now.
    const replayedAt = Number(/t=(\d+)/.exec(replayed[0]?.header ?? '')?.[1]);
    expect(Math.floor(Date.now() / 1000) - replayedAt).toBeGreaterThanOrEqual(3599);
    expect(verifySignature(SECRET, replayed[0]?.header, JSON.stringify(replayed[0]?.body), replayedAt).ok).toBe(true);
    // An attacker retries with the same header.
    expect(new Set(forged.map((entry) => entry.header)).size).toBe(1);

    expect(eventsOf(rig.journal, 'payment.trade.paid')).toHaveLength(0);
    expect(rig.provider.trade(tradeNo)?.status).toBe('WAIT_BUYER_PAY');
    expect(rig.provider.totals().captured).toBe(0);
  });

  it('payment.callback.forged: closing the trade first cancels the forgery', async () => {
    const rig = await setup([{ id: 'payment.callback.forged', after: '5s' }]);
    const { tradeNo } = await createTrade(rig);
    expect(rig.provider.pendingForgeries()).toBe(1);
    expect((await call('POST', `${rig.url}/v1/trades/${tradeNo}/close`)).status).toBe(200);
    expect(rig.provider.pendingForgeries()).toBe(0);
    await createTrade(rig);
    expect(rig.provider.pendingForgeries()).toBe(1);
    rig.provider.close();
    expect(rig.provider.pendingForgeries()).toBe(0);
    expect(faultsOf(rig, 'payment.callback.forged')).toHaveLength(0);
  });
});

// ---- reconciliation ------------------------------------------------------------------------

describe('payment reconciliation faults', () => {
  it('payment.query.error: the first `times` queries about the order fail, either form', async () => {
    const rig = await setup([{ id: 'payment.query.error', times: 2, status: 502 }]);
    const { tradeNo, outTradeNo, payerId } = await createTrade(rig);
    const byNumber = await call('GET', `${rig.url}/v1/trades/${tradeNo}`);
    expect(byNumber.status).toBe(502);
    expect(byNumber.body.code).toBe('SYSTEM_ERROR');
    expect((await call('GET', `${rig.url}/v1/trades?outTradeNo=${outTradeNo}`)).status).toBe(502);
    const third = await call('GET', `${rig.url}/v1/trades?outTradeNo=${outTradeNo}`);
    expect(third.status).toBe(200);
    expect(third.body.status).toBe('WAIT_BUYER_PAY');
    expect(eventsOf(rig.journal, 'payment.trade.queried')).toHaveLength(1);
    expect(faultsOf(rig, 'payment.query.error').map((event) => [event.orderId, event.buyerId, event.detail.call, event.detail.status])).toEqual([
      [outTradeNo, payerId, 1, 502],
      [outTradeNo, payerId, 2, 502],
    ]);
    // The other routes are untouched.
    expect((await pay(rig, tradeNo, payerId)).status).toBe(200);
    await rig.dispatcher.idle();
  });

  it('payment.refund.error: the first `times` refunds fail without refunding; the retry refunds once', async () => {
    const rig = await setup([{ id: 'payment.refund.error', times: 1 }]);
    const { tradeNo, outTradeNo, payerId } = await createTrade(rig);
    await pay(rig, tradeNo, payerId);
    const url = `${rig.url}/v1/trades/${tradeNo}/refunds`;
    const failed = await call('POST', url, { refundNo: 'R1', amount: 3000 });
    expect(failed.status).toBe(503);
    expect(failed.body.code).toBe('SYSTEM_ERROR');
    expect(rig.provider.trade(tradeNo)?.refunded).toBe(0);
    expect(await call('POST', url, { refundNo: 'R1', amount: 3000 })).toMatchObject({ status: 200, body: { refundNo: 'R1', amount: 3000, status: 'SUCCESS' } });
    expect(rig.provider.totals()).toMatchObject({ captured: 3000, refunded: 3000 });
    expect(eventsOf(rig.journal, 'payment.refund').map((event) => [event.refundNo, event.ok, event.repeat, event.code])).toEqual([
      ['R1', false, false, 'SYSTEM_ERROR'],
      ['R1', true, false, undefined],
    ]);
    expect(faultsOf(rig, 'payment.refund.error')).toEqual([
      expect.objectContaining({ orderId: outTradeNo, buyerId: payerId, detail: { route: 'refund', status: 503, call: 1 } }),
    ]);
    await rig.dispatcher.idle();
  });
});
