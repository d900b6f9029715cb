/**
 * The payment provider as the harness starts it (`startMocks`: the core spoken through the native
 * personality) over real sockets: trades, captures and signed callbacks, queries, close, refunds,
 * the callback faults, and the cashier seam the buyers pay through.
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { MemoryJournal, type JournalEvent } from '../core/journal.js';
import { HttpClient } from '../core/http-client.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { startMocks, type MockSet } from '../mocks/index.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { call, credentialsFor } from './helpers/http.js';
import { eventsOf, waitForEvents } from './helpers/journal.js';
import { lastTradeSeq, mockScenario, postTrade, startCallbackReceiver, startMockWorld, tradeBody, type MockWorld, type Received } from './helpers/mocks.js';

const SECRET = 'test-secret';

// ---- helpers -------------------------------------------------------------------------------

const defer = cleanupAfterEach();

async function setup(
  faults: unknown[] = [],
  options: { retryDelays?: number[]; script?: number[] } = {},
): Promise<MockWorld & { notifyUrl: string; received: Received[] }> {
  const world = await startMockWorld(defer, mockScenario({ name: 'payment-test', faults }), {
    secret: SECRET,
    callbackRetryDelays: options.retryDelays ?? [20, 40, 80],
    callbackTimeoutMs: 1000,
  });
  const receiver = await startCallbackReceiver(defer, SECRET, options.script);
  return { ...world, notifyUrl: receiver.url, received: receiver.received };
}

/** A loopback port nobody listens on (just released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === 'string') throw new Error('no address');
  return address.port;
}

function createTrade(mocks: MockSet, notifyUrl: string, overrides: Record<string, unknown> = {}): Promise<{ tradeNo: string; outTradeNo: string; payerId: string }> {
  return postTrade(mocks.urls.payment, tradeBody(notifyUrl, overrides));
}

// ---- tests ---------------------------------------------------------------------------------

describe('payment provider: trades', () => {
  it('creates a trade, repeats it idempotently, and refuses another amount', async () => {
    const { mocks, journal, notifyUrl } = await setup();
    const body = tradeBody(notifyUrl);
    const first = await call('POST', `${mocks.urls.payment}/v1/trades`, body);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ outTradeNo: body.outTradeNo, status: 'WAIT_BUYER_PAY' });
    const tradeNo = first.body.tradeNo as string;
    expect(first.body.payUrl).toBe(`${mocks.urls.payment}/cashier/${tradeNo}`);
    const expiresIn = Date.parse(first.body.expiresAt as string) - Date.now();
    expect(expiresIn).toBeGreaterThan(14 * 60_000);
    expect(expiresIn).toBeLessThanOrEqual(15 * 60_000);

    const again = await call('POST', `${mocks.urls.payment}/v1/trades`, body);
    expect(again.status).toBe(200);
    expect(again.body.tradeNo).toBe(tradeNo);

    const other = await call('POST', `${mocks.urls.payment}/v1/trades`, { ...body, amount: 4000 });
    expect(other.status).toBe(409);
    expect(other.body.code).toBe('DUPLICATE_OUT_TRADE_NO');

    const created = eventsOf(journal, 'payment.trade.created');
    expect(created.map((event) => event.repeat)).toEqual([false, true]);
    expect(created[0]).toMatchObject({ orderId: body.outTradeNo, tradeNo, amount: 3000, method: 'alipay', payerId: 'buyer-' + String(lastTradeSeq()) });
    expect(eventsOf(journal, 'payment.trade.refused')[0]).toMatchObject({ orderId: body.outTradeNo, code: 'DUPLICATE_OUT_TRADE_NO', httpStatus: 409 });
    expect(mocks.payment.tradeByOrder(body.outTradeNo as string)?.tradeNo).toBe(tradeNo);
    expect(mocks.correlation.buyerOf(body.outTradeNo as string)).toBe(`buyer-${lastTradeSeq()}`);
  });

  it('refuses bad bodies and non-loopback notify URLs', async () => {
    const { mocks, notifyUrl } = await setup();
    const url = `${mocks.urls.payment}/v1/trades`;
    for (const bad of [
      { amount: -1 },
      { amount: 1.5 },
      { currency: 'yuan' },
      { outTradeNo: '' },
      { notifyUrl: 'http://example.com/callback' },
      { notifyUrl: 'ftp://127.0.0.1/x' },
      { notifyUrl: 'not a url' },
      { payer: { region: 'CN' } },
    ]) {
      const answer = await call('POST', url, tradeBody(notifyUrl, bad));
      expect(answer.status, JSON.stringify(bad)).toBe(400);
      expect(answer.body.code).toBe('INVALID_REQUEST');
    }
    expect((await call('POST', url, [1, 2])).status).toBe(400);
    const empty = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...credentialsFor(url) } });
    expect(empty.status).toBe(400);
    const broken = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"outTradeNo":' });
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { code: string }).code).toBe('INVALID_REQUEST');
    // localhost and ::1 are loopback too.
    expect((await call('POST', url, tradeBody('http://localhost:9/cb'))).status).toBe(201);
    expect((await call('POST', url, tradeBody('http://[::1]:9/cb'))).status).toBe(201);
  });

  it('captures a payment and sends a signed callback', async () => {
    const { mocks, journal, notifyUrl, received } = await setup();
    const { tradeNo, outTradeNo, payerId } = await createTrade(mocks, notifyUrl);
    const paid = await call('POST', `${mocks.urls.payment}/v1/trades/${tradeNo}/pay`, { payerId, method: 'alipay' });
    expect(paid).toEqual({ status: 200, body: { status: 'TRADE_SUCCESS' } });

    const [sent] = await waitForEvents(journal, 'payment.callback.sent');
    expect(sent).toMatchObject({ orderId: outTradeNo, tradeNo, status: 'TRADE_SUCCESS', attempt: 1, copy: 1, acked: true, httpStatus: 200 });
    expect(received).toHaveLength(1);
    expect(received[0]?.check.ok).toBe(true);
    expect(received[0]?.body).toMatchObject({ notifyId: sent?.notifyId, tradeNo, outTradeNo, status: 'TRADE_SUCCESS', amount: 3000 });
    expect(typeof received[0]?.body.paidAt).toBe('string');
    await mocks.callbacksIdle();
    expect(mocks.pendingCallbacks()).toBe(0);

    // Paying again neither captures twice nor calls back again.
    const again = await call('POST', `${mocks.urls.payment}/v1/trades/${tradeNo}/pay`, { payerId, method: 'alipay' });
    expect(again).toEqual({ status: 200, body: { status: 'TRADE_SUCCESS' } });
    expect(eventsOf(journal, 'payment.trade.paid')).toHaveLength(1);
    expect(mocks.pendingCallbacks()).toBe(0);
    expect(mocks.payment.totals()).toMatchObject({ captured: 3000, paid: 1 });

    expect((await call('POST', `${mocks.urls.payment}/v1/trades/T404/pay`, { payerId, method: 'alipay' })).body.code).toBe('TRADE_NOT_EXIST');
    expect((await call('POST', `${mocks.urls.payment}/v1/trades/${tradeNo}/pay`, { method: 'alipay' })).status).toBe(400);
  });

  it('retries the callback until the shop answers 2xx, with a stable notifyId', async () => {
    const { mocks, journal, notifyUrl, received } = await setup([], { script: [500, 500] });
    const { tradeNo, payerId } = await createTrade(mocks, notifyUrl);
    await call('POST', `${mocks.urls.payment}/v1/trades/${tradeNo}/pay`, { payerId, method: 'alipay' });
    expect(mocks.pendingCallbacks()).toBe(1);
    await mocks.callbacksIdle();
    const sent = eventsOf(journal, 'payment.callback.sent');
    expect(sent.map((event) => [event.attempt, event.httpStatus, event.acked])).toEqual([
      [1, 500, false],
      [2, 500, false],
      [3, 200, true],
    ]);
    expect(new Set(sent.map((event) => event.notifyId)).size).toBe(1);
    expect(received.map((entry) => entry.raw)).toEqual([received[0]?.raw, received[0]?.raw, received[0]?.raw]);
    expect(received.every((entry) => entry.check.ok)).toBe(true);
    // Spaced by the schedule (20 ms, then 40 ms).
    expect((received[1]?.at ?? 0) - (received[0]?.at ?? 0)).toBeGreaterThanOrEqual(18);
    expect((received[2]?.at ?? 0) - (received[1]?.at ?? 0)).toBeGreaterThanOrEqual(38);
  });

  it('gives up after the schedule is exhausted, and journals network errors', async () => {
    const { mocks, journal, notifyUrl } = await setup([], { retryDelays: [5, 5], script: [503, 503, 503, 503] });
    const { tradeNo, payerId } = await createTrade(mocks, notifyUrl);
    await call('POST', `${mocks.urls.payment}/v1/trades/${tradeNo}/pay`, { payerId, method: 'alipay' });
    await mocks.callbacksIdle();
    expect(eventsOf(journal, 'payment.callback.sent').map((event) => event.acked)).toEqual([false, false, false]);

    // Nobody listens on a port just released: every attempt is a network error.
    const dead = await createTrade(mocks, `http://127.0.0.1:${await closedPort()}/callback`);
    await call('POST', `${mocks.urls.payment}/v1/trades/${dead.tradeNo}/pay`, { payerId: dead.payerId, method: 'alipay' });
    await mocks.callbacksIdle();
    const failed = eventsOf(journal, 'payment.callback.sent').filter((event) => event.tradeNo === dead.tradeNo);
    expect(failed).toHaveLength(3);
    expect(failed[0]?.httpStatus).toBeUndefined();
    expect(failed[0]?.error).toBe('ECONNREFUSED');
  });

  it('answers queries by trade number and by outTradeNo', async () => {
    const { mocks, journal, notifyUrl } = await setup();
    const { tradeNo, outTradeNo, payerId } = await createTrade(mocks, notifyUrl);
    const waiting = await call('GET', `${mocks.urls.payment}/v1/trades/${tradeNo}`);
    expect(waiting).toEqual({ status: 200, body: { tradeNo, outTradeNo, status: 'WAIT_BUYER_PAY', amount: 3000, refunded: 0 } });
    await call('POST', `${mocks.urls.payment}/v1/trades/${tradeNo}/pay`, { payerId, method: 'alipay' });
    const paid = await call('GET', `${mocks.urls.payment}/v1/trades?outTradeNo=${outTradeNo}`);
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ tradeNo, status: 'TRADE_SUCCESS', amount: 3000, refunded: 0 });
    expect(typeof paid.body.paidAt).toBe('string');

    expect((await call('GET', `${mocks.urls.payment}/v1/trades/T0`)).body.code).toBe('TRADE_NOT_EXIST');
    const missing = await call('GET', `${mocks.urls.payment}/v1/trades?outTradeNo=nope`);
    expect(missing.status).toBe(404);
    expect((await call('GET', `${mocks.urls.payment}/v1/trades`)).status).toBe(400);
    expect(eventsOf(journal, 'payment.trade.queried').map((event) => event.status)).toEqual([
      'WAIT_BUYER_PAY',
      'TRADE_SUCCESS',
      'NOT_FOUND',
      'NOT_FOUND',
    ]);
    expect(eventsOf(journal, 'payment.trade.queried')[3]).toMatchObject({ orderId: 'nope', status: 'NOT_FOUND' });
    await mocks.callbacksIdle();
  });

  it('closes unpaid trades, refuses to close paid ones, and expires unpaid trades lazily', async () => {
    const { mocks, journal, notifyUrl } = await setup();
    const open = await createTrade(mocks, notifyUrl);
    // Empty body with a JSON content type, as shops send it.
    const closed = await fetch(`${mocks.urls.payment}/v1/trades/${open.tradeNo}/close`, { method: 'POST', headers: { 'content-type': 'application/json', ...credentialsFor(mocks.urls.payment) } });
    expect(closed.status).toBe(200);
    expect(await closed.json()).toEqual({ status: 'TRADE_CLOSED' });
    const payClosed = await call('POST', `${mocks.urls.payment}/v1/trades/${open.tradeNo}/pay`, { payerId: open.payerId, method: 'alipay' });
    expect(payClosed.status).toBe(409);
    expect(payClosed.body.code).toBe('TRADE_CLOSED');

    const paid = await createTrade(mocks, notifyUrl);
    await call('POST', `${mocks.urls.payment}/v1/trades/${paid.tradeNo}/pay`, { payerId: paid.payerId, method: 'alipay' });
    const refused = await call('POST', `${mocks.urls.payment}/v1/trades/${paid.tradeNo}/close`);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('TRADE_HAS_SUCCESS');
    expect(eventsOf(journal, 'payment.trade.closed').map((event) => [event.orderId, event.result])).toEqual([
      [open.outTradeNo, 'closed'],
      [paid.outTradeNo, 'has_success'],
    ]);

    const short = await createTrade(mocks, notifyUrl, { expiresInMs: 1 });
    const deadline = Date.now() + 2000;
    let status = '';
    while (status !== 'TRADE_CLOSED' && Date.now() < deadline) {
      status = (await call('GET', `${mocks.urls.payment}/v1/trades/${short.tradeNo}`)).body.status as string;
    }
    expect(status).toBe('TRADE_CLOSED');
    const late = await call('POST', `${mocks.urls.payment}/v1/trades/${short.tradeNo}/pay`, { payerId: short.payerId, method: 'alipay' });
    expect(late.body.code).toBe('TRADE_CLOSED');
    await mocks.callbacksIdle();
  });

  it('refunds idempotently by refund number and never beyond the paid amount', async () => {
    const { mocks, journal, notifyUrl } = await setup();
    const { tradeNo, outTradeNo, payerId } = await createTrade(mocks, notifyUrl);
    const base = `${mocks.urls.payment}/v1/trades/${tradeNo}/refunds`;
    const early = await call('POST', base, { refundNo: 'R0', amount: 100 });
    expect(early.status).toBe(409);
    expect(early.body.code).toBe('TRADE_NOT_PAID');
    await call('POST', `${mocks.urls.payment}/v1/trades/${tradeNo}/pay`, { payerId, method: 'alipay' });

    expect(await call('POST', base, { refundNo: 'R1', amount: 1000 })).toEqual({ status: 200, body: { refundNo: 'R1', amount: 1000, status: 'SUCCESS' } });
    expect(await call('POST', base, { refundNo: 'R1', amount: 1000 })).toEqual({ status: 200, body: { refundNo: 'R1', amount: 1000, status: 'SUCCESS' } });
    expect(mocks.payment.trade(tradeNo)?.refunded).toBe(1000);
    const exceeds = await call('POST', base, { refundNo: 'R2', amount: 2500 });
    expect(exceeds.status).toBe(409);
    expect(exceeds.body.code).toBe('REFUND_EXCEEDS_PAID');
    expect((await call('POST', base, { refundNo: 'R3', amount: 2000 })).status).toBe(200);
    expect((await call('GET', `${mocks.urls.payment}/v1/trades/${tradeNo}`)).body.refunded).toBe(3000);
    expect((await call('POST', base, { refundNo: 'R4', amount: 1 })).body.code).toBe('REFUND_EXCEEDS_PAID');
    expect((await call('POST', base, { refundNo: 'R5' })).status).toBe(400);
    expect((await call('POST', `${mocks.urls.payment}/v1/trades/T0/refunds`, { refundNo: 'R6', amount: 1 })).status).toBe(404);

    const refunds = eventsOf(journal, 'payment.refund');
    expect(refunds.map((event) => [event.refundNo, event.amount, event.repeat, event.ok, event.code])).toEqual([
      ['R0', 100, false, false, 'TRADE_NOT_PAID'],
      ['R1', 1000, false, true, undefined],
      ['R1', 1000, true, true, undefined],
      ['R2', 2500, false, false, 'REFUND_EXCEEDS_PAID'],
      ['R3', 2000, false, true, undefined],
      ['R4', 1, false, false, 'REFUND_EXCEEDS_PAID'],
    ]);
    expect(refunds.every((event) => event.orderId === outTradeNo)).toBe(true);
    expect(mocks.payment.totals()).toMatchObject({ captured: 3000, refunded: 3000 });
    await mocks.callbacksIdle();
  });
});

describe('payment provider: faults', () => {
  it('payment.limit.single refuses payments above the limit and calls back PAY_FAILED', async () => {
    const { mocks, journal, notifyUrl, received } = await setup([{ id: 'payment.limit.single', limit: 5000 }]);
    const small = await createTrade(mocks, notifyUrl, { amount: 3000 });
    expect((await call('POST', `${mocks.urls.payment}/v1/trades/${small.tradeNo}/pay`, { payerId: small.payerId, method: 'alipay' })).status).toBe(200);

    const big = await createTrade(mocks, notifyUrl, { amount: 6000 });
    const refused = await call('POST', `${mocks.urls.payment}/v1/trades/${big.tradeNo}/pay`, { payerId: big.payerId, method: 'alipay' });
    expect(refused.status).toBe(402);
    expect(refused.body).toMatchObject({ code: 'LIMIT_SINGLE', status: 'PAY_FAILED' });
    expect(eventsOf(journal, 'fault.injected')).toEqual([
      expect.objectContaining({ fault: 'payment.limit.single', faultIndex: 0, orderId: big.outTradeNo, buyerId: big.payerId }),
    ]);
    expect(eventsOf(journal, 'payment.trade.pay_failed')).toEqual([
      expect.objectContaining({ orderId: big.outTradeNo, tradeNo: big.tradeNo, code: 'LIMIT_SINGLE' }),
    ]);
    await mocks.callbacksIdle();
    const failure = received.find((entry) => entry.body.tradeNo === big.tradeNo);
    expect(failure?.body).toMatchObject({ status: 'PAY_FAILED', failCode: 'LIMIT_SINGLE', amount: 6000 });
    expect(failure?.check.ok).toBe(true);

    const retry = await call('POST', `${mocks.urls.payment}/v1/trades/${big.tradeNo}/pay`, { payerId: big.payerId, method: 'alipay' });
    expect(retry.status).toBe(402);
    expect(retry.body.code).toBe('LIMIT_SINGLE');
    expect(eventsOf(journal, 'payment.trade.paid').map((event) => event.tradeNo)).toEqual([small.tradeNo]);
    expect((await call('GET', `${mocks.urls.payment}/v1/trades/${big.tradeNo}`)).body).toMatchObject({ status: 'PAY_FAILED', failCode: 'LIMIT_SINGLE' });
  });

  it('payment.callback.drop: captured, but no callback attempt is ever made', async () => {
    const { mocks, journal, notifyUrl, received } = await setup([{ id: 'payment.callback.drop' }]);
    const { tradeNo, outTradeNo, payerId } = await createTrade(mocks, notifyUrl);
    expect((await call('POST', `${mocks.urls.payment}/v1/trades/${tradeNo}/pay`, { payerId, method: 'alipay' })).status).toBe(200);
    expect(mocks.pendingCallbacks()).toBe(0);
    await mocks.callbacksIdle();
    expect(received).toHaveLength(0);
    expect(eventsOf(journal, 'payment.callback.sent')).toHaveLength(0);
    expect(eventsOf(journal, 'fault.injected')).toEqual([
      expect.objectContaining({ fault: 'payment.callback.drop', faultIndex: 0, orderId: outTradeNo, buyerId: payerId, detail: {} }),
    ]);
    expect(mocks.payment.trade(tradeNo)?.status).toBe('TRADE_SUCCESS');
  });

  it('payment.callback.delay holds the first attempt back by the sampled delay', async () => {
    const { mocks, journal, notifyUrl } = await setup([{ id: 'payment.callback.delay', delay: { fixed: '150ms' } }]);
    const { tradeNo, payerId } = await createTrade(mocks, notifyUrl);
    await call('POST', `${mocks.urls.payment}/v1/trades/${tradeNo}/pay`, { payerId, method: 'alipay' });
    const [injected] = eventsOf(journal, 'fault.injected');
    expect(injected).toMatchObject({ fault: 'payment.callback.delay', detail: { delayMs: 150 } });
    const [sent] = await waitForEvents(journal, 'payment.callback.sent');
    const [paid] = eventsOf(journal, 'payment.trade.paid');
    expect((sent?.t ?? 0) - (sent?.latencyMs ?? 0) - (paid?.t ?? 0)).toBeGreaterThanOrEqual(148);
    expect(sent?.acked).toBe(true);
  });

  it('payment.callback.duplicate sends independent copies, spaced', async () => {
    const { mocks, journal, notifyUrl, received } = await setup(
      [{ id: 'payment.callback.duplicate', copies: 3, spacing: '30ms' }],
      { script: [500] },
    );
    const { tradeNo, payerId } = await createTrade(mocks, notifyUrl);
    await call('POST', `${mocks.urls.payment}/v1/trades/${tradeNo}/pay`, { payerId, method: 'alipay' });
    expect(eventsOf(journal, 'fault.injected')[0]).toMatchObject({ fault: 'payment.callback.duplicate', detail: { copies: 3, spacing: 30 } });
    expect(mocks.pendingCallbacks()).toBe(3);
    await mocks.callbacksIdle();
    const sent = eventsOf(journal, 'payment.callback.sent');
    const acked = sent.filter((event) => event.acked);
    expect(acked.map((event) => event.copy).sort()).toEqual([1, 2, 3]);
    // Copy 1 met the scripted 500 and retried on its own schedule.
    expect(sent.filter((event) => event.copy === 1).map((event) => event.attempt)).toEqual([1, 2]);
    expect(new Set(sent.map((event) => event.notifyId)).size).toBe(1);
    expect(received).toHaveLength(4);
    expect(new Set(received.map((entry) => entry.body.notifyId)).size).toBe(1);
    const firstOf = (copy: number): number => {
      const event = sent.find((candidate) => candidate.copy === copy && candidate.attempt === 1);
      return (event?.t ?? 0) - (event?.latencyMs ?? 0);
    };
    expect(firstOf(3) - firstOf(1)).toBeGreaterThanOrEqual(58);
  });

  it('payment.latency delays the chosen routes by the sampled delay, deterministically', async () => {
    const { mocks, journal, plan, notifyUrl } = await setup([
      { id: 'payment.latency', delay: { lognormal: { median: '60ms', sigma: 0.5 } }, routes: ['create', 'query'] },
    ]);
    const started = performance.now();
    const { tradeNo, payerId } = await createTrade(mocks, notifyUrl);
    const createMs = performance.now() - started;
    const [createFault] = eventsOf(journal, 'fault.injected');
    expect(createFault).toMatchObject({ fault: 'payment.latency', buyerId: payerId, detail: { route: 'create' } });
    const createDelay = createFault?.detail.delayMs as number;
    expect(createDelay).toBe(Math.round(plan.delayFor(0, { lognormal: { median: 60, sigma: 0.5 } }, payerId, 'create#1')));
    expect(createMs).toBeGreaterThanOrEqual(createDelay - 1);

    for (let n = 1; n <= 2; n++) {
      const before = performance.now();
      expect((await call('GET', `${mocks.urls.payment}/v1/trades/${tradeNo}`)).status).toBe(200);
      const elapsed = performance.now() - before;
      const fault = eventsOf(journal, 'fault.injected').filter((event) => event.detail.route === 'query')[n - 1];
      expect(fault?.detail.delayMs).toBe(Math.round(plan.delayFor(0, { lognormal: { median: 60, sigma: 0.5 } }, payerId, `query#${n}`)));
      expect(elapsed).toBeGreaterThanOrEqual((fault?.detail.delayMs as number) - 1);
    }
    // Pay is not among the routes: no latency there.
    await call('POST', `${mocks.urls.payment}/v1/trades/${tradeNo}/pay`, { payerId, method: 'alipay' });
    expect(eventsOf(journal, 'fault.injected').filter((event) => event.detail.route === 'pay')).toHaveLength(0);
    await mocks.callbacksIdle();
  });

  it('close() with a delayed callback pending cancels it: no timers left, nothing journaled after', async () => {
    const timersBefore = process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const { mocks, journal, notifyUrl, received } = await setup([{ id: 'payment.callback.delay', delay: { fixed: '5s' } }]);
    const { tradeNo, payerId } = await createTrade(mocks, notifyUrl);
    await call('POST', `${mocks.urls.payment}/v1/trades/${tradeNo}/pay`, { payerId, method: 'alipay' });
    expect(mocks.pendingCallbacks()).toBe(1);
    const idle = mocks.callbacksIdle();
    await mocks.close();
    await idle;
    expect(mocks.pendingCallbacks()).toBe(0);
    const count = journal.count;
    const late: JournalEvent[] = [];
    const unsubscribe = journal.subscribe((event) => late.push(event));
    await new Promise((resolve) => setImmediate(resolve));
    unsubscribe();
    expect(late).toEqual([]);
    expect(journal.count).toBe(count);
    expect(received).toHaveLength(0);
    const timersAfter = process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    expect(timersAfter).toBeLessThanOrEqual(timersBefore);
    // Closing twice is fine.
    await mocks.close();
  });
});

describe('the cashier seam', () => {
  it('the mock set hands out its personality’s cashier: its requests pay and verify, its reading names the outcome', async () => {
    const { mocks, journal, notifyUrl } = await setup([{ id: 'payment.verification' }]);
    const client = new HttpClient({ connections: 2 });
    defer(() => client.close());
    const { tradeNo, outTradeNo, payerId } = await createTrade(mocks, notifyUrl);
    const payRequest = mocks.cashier.payRequest({ providerUrl: mocks.urls.payment, tradeNo, payerId, method: 'alipay' });
    const paid = await client.send(payRequest.method, payRequest.url, payRequest.body, payRequest.headers);
    const started = mocks.cashier.readPayAnswer(paid.status, paid.body);
    expect(started).toEqual({ outcome: 'verifying', verificationId: expect.stringMatching(/^V\d+$/) });

    const verifyRequest = mocks.cashier.verificationRequest({ providerUrl: mocks.urls.payment, verificationId: started.verificationId ?? '' });
    const verified = await client.send(verifyRequest.method, verifyRequest.url, verifyRequest.body, verifyRequest.headers);
    expect(mocks.cashier.readVerificationAnswer(verified.status, verified.body)).toEqual({ outcome: 'paid' });
    expect(eventsOf(journal, 'payment.trade.paid')).toEqual([expect.objectContaining({ orderId: outTradeNo, tradeNo, payerId })]);

    // Paying a trade that is gone reads as not known, with the refusal's code.
    const missing = mocks.cashier.payRequest({ providerUrl: mocks.urls.payment, tradeNo: 'T0000009999', payerId, method: 'alipay' });
    const gone = await client.send(missing.method, missing.url, missing.body, missing.headers);
    expect(mocks.cashier.readPayAnswer(gone.status, gone.body)).toEqual({ outcome: 'unknown', code: 'TRADE_NOT_EXIST' });
    await mocks.callbacksIdle();
  });
});

describe('startMocks', () => {
  it('refuses a non-loopback host', async () => {
    const scenario = mockScenario({ name: 'payment-test' });
    await expect(
      startMocks({ scenario, journal: new MemoryJournal(), plan: new FaultPlan([], 1), secret: SECRET, host: '0.0.0.0' }),
    ).rejects.toMatchObject({ code: 'ORDEAL_ERR_UNSAFE_TARGET' });
  });
});
