/**
 * The reference shop's Alipay gateway (`shop/payment/alipay.ts`, on alipay-sdk) against the
 * running Alipay personality: each Alipay answer mapped into the shop's terms, and the notify
 * endpoint's checks — what it refuses, and what a flawed shop that skips a check lets through.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { describe, expect, it } from 'vitest';
import { MemoryJournal } from '../core/journal.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { startMocks, type MockSet } from '../mocks/index.js';
import { newChannel } from '../mocks/payment/credentials.js';
import type { NoticeSigning, PaymentNotice } from '../mocks/payment/notices.js';
import { AlipayPersonality } from '../mocks/payment/personalities/alipay.js';
import { OutgoingHttp } from '../shop/http-client.js';
import { AlipayGateway, NOTIFY_TOLERANCE_MS } from '../shop/payment/alipay.js';
import type { CreateTradeRequest, NotifyChecks, NotifyRequest } from '../shop/payment/gateway.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { call } from './helpers/http.js';
import { mockScenario, trustMocks } from './helpers/mocks.js';

const defer = cleanupAfterEach();
const CHANNEL = newChannel('alipay');
if (CHANNEL.protocol !== 'alipay') throw new Error('expected Alipay credentials');
const CREDENTIALS = CHANNEL.credentials;
const KEY_FILES: Readonly<Record<string, string>> = {
  'alipay-app-id.txt': CREDENTIALS.appId,
  'alipay-app-private-key.pem': CREDENTIALS.merchantPrivateKey,
  'alipay-public-key.pem': CREDENTIALS.alipayPublicKey,
};

async function startGateway(faults: unknown[] = []): Promise<{ mocks: MockSet; gateway: AlipayGateway }> {
  const scenario = mockScenario({ name: 'shop-alipay', faults });
  const mocks = await startMocks({ scenario, journal: new MemoryJournal(), plan: new FaultPlan(scenario.faults, scenario.seed), channel: CHANNEL, callbackRetryDelays: [] });
  defer(() => mocks.close());
  trustMocks(defer, mocks);
  const http = new OutgoingHttp();
  defer(() => http.close());
  const keys = { read: (name: string): string => KEY_FILES[name] ?? '' };
  return { mocks, gateway: new AlipayGateway(mocks.urls.payment, keys, { timeoutMs: 2000, http }) };
}

let orderSeq = 0;

function order(overrides: Partial<CreateTradeRequest> = {}): CreateTradeRequest {
  orderSeq += 1;
  return {
    outTradeNo: `S-${orderSeq}`,
    amount: 3000,
    currency: 'CNY',
    subject: '1 × Monthly card',
    notifyUrl: 'http://127.0.0.1:9/payment/notify',
    method: 'alipay',
    payer: { id: `buyer-${orderSeq}`, region: 'CN-GD' },
    expiresInMs: 60_000,
    ...overrides,
  };
}

async function payAt(payUrl: string | undefined, payerId: string): Promise<Record<string, unknown>> {
  return (await call('POST', `${payUrl ?? ''}/pay`, { payerId, method: 'alipay' })).body;
}

describe('the shop\'s Alipay gateway', () => {
  it('creates by precreate (qr_code as the pay link, out_trade_no as the handle), queries, refunds and closes', async () => {
    const { mocks, gateway } = await startGateway();
    const request = order();
    const created = await gateway.createTrade(request);
    expect(created).toMatchObject({ kind: 'created', tradeNo: request.outTradeNo });
    if (created.kind !== 'created') throw new Error('not created');
    expect(created.payUrl).toBe(`${mocks.urls.payment}/cashier/${mocks.payment.tradeByOrder(request.outTradeNo)?.tradeNo}`);
    // time_expire is whole seconds, rounded up: never before the shop's own deadline.
    const expiresAt = Date.parse(mocks.payment.tradeByOrder(request.outTradeNo)?.expiresAt ?? '');
    expect(expiresAt - Date.parse(mocks.payment.tradeByOrder(request.outTradeNo)?.createdAt ?? '')).toBeGreaterThanOrEqual(60_000 - 50);
    expect(mocks.payment.tradeByOrder(request.outTradeNo)).toMatchObject({ payer: { id: request.payer.id, region: 'CN-GD' }, amount: 3000, subject: '1 × Monthly card' });

    expect(await gateway.queryTrade(created.tradeNo)).toMatchObject({ kind: 'found', trade: { result: { kind: 'unpaid' }, amount: 3000 } });
    await payAt(created.payUrl, request.payer.id);
    expect(await gateway.queryByOutTradeNo(request.outTradeNo)).toMatchObject({ kind: 'found', trade: { tradeNo: request.outTradeNo, result: { kind: 'paid', captured: 3000 } } });
    expect(await gateway.refund(created.tradeNo, 'RF-1', 1000)).toEqual({ kind: 'refunded' });
    expect(await gateway.refund(created.tradeNo, 'RF-1', 1000)).toEqual({ kind: 'refunded' });
    expect(await gateway.refund(created.tradeNo, 'RF-2', 5000)).toEqual({ kind: 'exceeds_paid' });
    expect(mocks.payment.trade(mocks.payment.tradeByOrder(request.outTradeNo)?.tradeNo ?? '')?.refunded).toBe(1000);
    // Alipay will not close a paid trade; the shop asks what it is and learns it was paid.
    expect(await gateway.closeTrade(created.tradeNo)).toEqual({ kind: 'has_success' });

    const unpaid = order();
    await gateway.createTrade(unpaid);
    expect(await gateway.closeTrade(unpaid.outTradeNo)).toEqual({ kind: 'closed' });
    expect(await gateway.queryTrade(unpaid.outTradeNo)).toMatchObject({ kind: 'found', trade: { result: { kind: 'closed' } } });
    expect(await gateway.queryTrade('S-none')).toEqual({ kind: 'not_found' });
    expect(await gateway.closeTrade('S-none')).toEqual({ kind: 'not_found' });
  });

  it('names each refusal as the order will: limits, declines, blocked payers abroad, a busy channel', async () => {
    const limited = await startGateway([{ id: 'payment.limit.single', probability: 1 }]);
    const request = order();
    const created = await limited.gateway.createTrade(request);
    if (created.kind !== 'created') throw new Error('not created');
    expect(await payAt(created.payUrl, request.payer.id)).toMatchObject({ status: 'PAY_FAILED' });
    expect(await limited.gateway.queryTrade(created.tradeNo)).toMatchObject({ kind: 'found', trade: { amount: 3000, result: { kind: 'declined', reason: 'payment_limit' } } });

    const declined = await startGateway([{ id: 'payment.decline', probability: 1 }]);
    const second = order();
    const made = await declined.gateway.createTrade(second);
    if (made.kind !== 'created') throw new Error('not created');
    await payAt(made.payUrl, second.payer.id);
    expect(await declined.gateway.queryTrade(made.tradeNo)).toMatchObject({ kind: 'found', trade: { result: { kind: 'declined', reason: 'payment_declined' } } });

    const blocked = await startGateway([{ id: 'payment.cross_border', probability: 1, home: 'CN' }]);
    expect(await blocked.gateway.createTrade(order({ payer: { id: 'buyer-abroad', region: 'US-CA' } }))).toEqual({ kind: 'declined', reason: 'cross_border_blocked' });

    const busy = await startGateway([
      { id: 'payment.error', probability: 1, routes: ['create'], status: 503, times: 1 },
      { id: 'payment.ambiguous', probability: 1 },
    ]);
    const third = order();
    // An answer came (HTTP 200, ACQ.SYSTEM_ERROR): not a lost one.
    expect(await busy.gateway.createTrade(third)).toMatchObject({ kind: 'unavailable', status: 503 });
    // The next create's answer is lost with its connection, and the client asks again by itself.
    expect(await busy.gateway.createTrade(third)).toMatchObject({ kind: 'created', tradeNo: third.outTradeNo });
  });

  it('treats an answer that does not verify as lost, never as a refusal', async () => {
    const { mocks } = await startGateway();
    const http = new OutgoingHttp();
    defer(() => http.close());
    const wrongKeys = { read: (name: string): string => (name === 'alipay-public-key.pem' ? CREDENTIALS.merchantPublicKey : (KEY_FILES[name] ?? '')) };
    const misconfigured = new AlipayGateway(mocks.urls.payment, wrongKeys, { timeoutMs: 2000, http });
    const result = await misconfigured.createTrade(order());
    expect(result).toMatchObject({ kind: 'unavailable' });
    expect(result.kind === 'unavailable' && result.status).toBe(undefined);
  });
});

describe('the shop\'s Alipay notify endpoint', () => {
  const personality = new AlipayPersonality({ credentials: CREDENTIALS });
  const ALL: NotifyChecks = { signature: true, freshness: true };

  function notify(signing: NoticeSigning, overrides: Partial<PaymentNotice> = {}, change: Record<string, string> = {}): NotifyRequest {
    const notice: PaymentNotice = {
      notifyId: 'N0000000001',
      tradeNo: 'T0000000001',
      outTradeNo: 'S-n',
      status: 'TRADE_SUCCESS',
      amount: 3000,
      paidAt: new Date().toISOString(),
      currency: 'CNY',
      subject: '50% off × Monthly card',
      method: 'alipay',
      ...overrides,
    };
    const sent = personality.renderCallback('http://127.0.0.1:9/payment/notify', notice, signing, Math.floor(Date.now() / 1000));
    const fields = new URLSearchParams(sent.body);
    for (const [name, value] of Object.entries(change)) fields.set(name, value);
    return { method: 'POST', query: {}, headers: sent.headers, rawBody: fields.toString() };
  }

  it('takes the genuine notify (a bare % in a value included), and names the order before any check', async () => {
    const { gateway } = await startGateway();
    const endpoint = gateway.notify;
    const genuine = notify({ kind: 'genuine' });
    expect(endpoint.orderIdOf(genuine)).toBe('S-n');
    expect(endpoint.read(genuine, ALL)).toEqual({ kind: 'callback', callback: { tradeNo: 'S-n', outTradeNo: 'S-n', result: { kind: 'paid', captured: 3000 } } });
    expect(endpoint.read(notify({ kind: 'genuine' }, { status: 'PAY_FAILED', paidAt: undefined, failCode: 'DECLINED' }), ALL)).toMatchObject({ callback: { result: { kind: 'closed' } } });
    expect(endpoint.acknowledge()).toMatchObject({ status: 200, body: 'success' });
    expect(endpoint.refuse(401, 'invalid_signature', 'x').body).toBe('failure');
    expect(personality.callbackAck.acknowledged(200, endpoint.acknowledge().body)).toBe(true);
    expect(personality.callbackAck.acknowledged(401, endpoint.refuse(401, 'invalid_signature', 'x').body)).toBe(false);
  });

  it('refuses forged, tampered and replayed notifies; a shop skipping the checks takes them', async () => {
    const { gateway } = await startGateway();
    const endpoint = gateway.notify;
    const forged = notify({ kind: 'forged' });
    const tampered = notify({ kind: 'genuine' }, {}, { total_amount: '0.01' });
    const replayed = notify({ kind: 'replayed', ageS: 3600 });
    expect(endpoint.read(forged, ALL)).toMatchObject({ kind: 'bad_signature' });
    expect(endpoint.read(tampered, ALL)).toMatchObject({ kind: 'bad_signature' });
    expect(endpoint.read(replayed, ALL)).toMatchObject({ kind: 'bad_signature', detail: expect.stringContaining('notify_time') });
    // Within the tolerance, a late copy is still taken.
    expect(endpoint.read(notify({ kind: 'replayed', ageS: NOTIFY_TOLERANCE_MS / 1000 - 30 }), ALL)).toMatchObject({ kind: 'callback' });

    expect(endpoint.read(forged, { signature: false, freshness: true })).toMatchObject({ kind: 'callback' });
    expect(endpoint.read(tampered, { signature: false, freshness: true })).toMatchObject({ kind: 'callback', callback: { result: { kind: 'paid', captured: 1 } } });
    expect(endpoint.read(replayed, { signature: true, freshness: false })).toMatchObject({ kind: 'callback' });
    expect(endpoint.read({ method: 'POST', query: {}, headers: {}, rawBody: 'trade_status=TRADE_SUCCESS' }, { signature: false, freshness: false })).toMatchObject({ kind: 'malformed' });
  });
});

describe('urllib\'s socket hook (loaded with alipay-sdk)', () => {
  it('does not break a pool that closes with two connections open', async () => {
    // Two requests held open, so the pool has two sockets for its one shared destroy error.
    let held = 0;
    let bothHeld: () => void = () => undefined;
    const arrived = new Promise<void>((resolve) => (bothHeld = resolve));
    const server = createServer(() => {
      held += 1;
      if (held === 2) bothHeld();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
    defer(() => server.closeAllConnections());
    const { port } = server.address() as AddressInfo;
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 2 });
    const requests = Promise.allSettled([pool.request({ path: '/', method: 'GET' }), pool.request({ path: '/', method: 'GET' })]);
    await arrived;
    // Without the repair the second socket's destroy throws and this never settles.
    await pool.destroy();
    expect(pool.destroyed).toBe(true);
    for (const outcome of await requests) expect(outcome.status).toBe('rejected');
  });
});
