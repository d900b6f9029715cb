/**
 * Each mock refuses a state-changing request without the run's credentials, in its own error form,
 * journals it as `mock.outside_request` (never with the credential given), and leaves its ledger
 * as it was: the stock, notify and risk APIs without their bearer key, the native provider without
 * the merchant's bearer secret, the cashier without the buyers' token, the SMS gateway without its
 * signature — and epay, Alipay, WeChat Pay and Stripe requests signed with keys that are not the
 * merchant's, sent by the providers' official clients where there is one.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
// Before alipay-sdk: urllib's socket hook (see test/personality-alipay.test.ts).
import { repairSocketDestroy } from '../shop/payment/socket-destroy-guard.js';
import { AlipaySdk } from 'alipay-sdk';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { Wechatpay } from 'wechatpay-axios-plugin';
import { MemoryJournal, type JournalEventOf } from '../core/journal.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { startMocks, type MockSet } from '../mocks/index.js';
import { newChannel, type PaymentChannel } from '../mocks/payment/credentials.js';
import { BUYER_TOKEN_HEADER } from '../mocks/run-credentials.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { call } from './helpers/http.js';
import { eventsOf } from './helpers/journal.js';
import { mockScenario, startMockWorld, tradeBody, trustMocks } from './helpers/mocks.js';

repairSocketDestroy();

const defer = cleanupAfterEach();

/** A request from outside the run: plain fetch, none of the credentials the test helpers add. */
async function outsider(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { text };
  }
  return { status: response.status, body: (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown> };
}

function outsideEvents(journal: MemoryJournal): JournalEventOf<'mock.outside_request'>[] {
  return eventsOf(journal, 'mock.outside_request');
}

const WRONG = { authorization: 'Bearer sk-not-the-run-key' };

describe('the stock, notify and risk APIs', () => {
  it('refuse state-changing requests without their run key (401), journal them, and change nothing; reads stay open', async () => {
    const { mocks, journal } = await startMockWorld(defer, mockScenario({ name: 'keys' }));
    const reservation = await call('POST', `${mocks.urls.stock}/v1/reservations`, { sku: 'MONTH', quantity: 1, orderId: 'O-run', ttlMs: 60_000 });
    expect(reservation.status).toBe(201);
    const reservationId = reservation.body.reservationId as string;

    const refused = [
      await outsider('POST', `${mocks.urls.stock}/v1/reservations`, { sku: 'MONTH', quantity: 1, orderId: 'O-out', ttlMs: 60_000 }),
      await outsider('POST', `${mocks.urls.stock}/v1/reservations/${reservationId}/fulfil`),
      await outsider('DELETE', `${mocks.urls.stock}/v1/reservations/${reservationId}`, undefined, WRONG),
      await outsider('POST', `${mocks.urls.notify}/v1/messages`, { orderId: 'O-run', to: 'a@b.test', channel: 'email', kind: 'delivered', text: 'x' }),
      await outsider('POST', `${mocks.urls.risk}/v1/assessments`, { orderId: 'O-out', buyer: { id: 'b' }, amount: 3000 }, WRONG),
    ];
    expect(refused.map((answer) => answer.status)).toEqual([401, 401, 401, 401, 401]);
    expect(refused[0]!.body).toMatchObject({ code: 'UNAUTHORIZED' });

    const outside = outsideEvents(journal);
    expect(outside.map((event) => `${event.mock} ${event.method} ${event.path}`)).toEqual([
      'stock POST /v1/reservations',
      `stock POST /v1/reservations/${reservationId}/fulfil`,
      `stock DELETE /v1/reservations/${reservationId}`,
      'notify POST /v1/messages',
      'risk POST /v1/assessments',
    ]);
    expect(outside.map((event) => event.reason)).toEqual([
      expect.stringContaining('no credentials'),
      expect.stringContaining('no credentials'),
      'wrong credentials',
      expect.stringContaining('no credentials'),
      'wrong credentials',
    ]);
    expect(outside[0]!.remoteAddress).toMatch(/127\.0\.0\.1$/);
    expect(JSON.stringify(outside)).not.toContain('sk-not-the-run-key');
    // The ledgers: one reservation (the run's), nothing fulfilled, released, sent or assessed.
    expect(eventsOf(journal, 'stock.reserved').map((event) => event.orderId)).toEqual(['O-run']);
    expect(eventsOf(journal, 'stock.fulfilled')).toEqual([]);
    expect(eventsOf(journal, 'stock.released')).toEqual([]);
    expect(eventsOf(journal, 'notify.message')).toEqual([]);
    expect(eventsOf(journal, 'risk.assessed')).toEqual([]);

    // Reads change nothing: open to anyone, not journaled.
    expect((await outsider('GET', `${mocks.urls.stock}/v1/skus`)).status).toBe(200);
    expect((await outsider('GET', `${mocks.urls.notify}/v1/messages`)).status).toBe(200);
    expect(outsideEvents(journal)).toHaveLength(5);
  });

  it('the SMS gateway refuses an unsigned or wrongly signed send in its own codes, journaled as outside', async () => {
    const { mocks, journal } = await startMockWorld(defer, mockScenario({ name: 'sms' }));
    const timestamp = String(Math.floor(Date.now() / 1000));
    const fields = { account: mocks.sms.credentials.account, mobile: '13800000000', content: 'your order O-1 is delivered', timestamp };
    const wrongSign = createHash('md5').update(`${fields.account}not-the-key${fields.mobile}${fields.content}${timestamp}`).digest('hex');
    const form = (values: Record<string, string>): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(values).toString() });
    const forged = (await (await fetch(mocks.sms.url, form({ ...fields, sign: wrongSign }))).json()) as { code: number };
    const stranger = (await (await fetch(mocks.sms.url, form({ ...fields, account: 'someone-else', sign: wrongSign }))).json()) as { code: number };
    expect([forged.code, stranger.code]).toEqual([102, 101]);
    expect(outsideEvents(journal).map((event) => [event.mock, event.reason])).toEqual([
      ['notify', 'SMS sign does not verify'],
      ['notify', 'unknown SMS account'],
    ]);
    expect(eventsOf(journal, 'notify.sms.received')).toEqual([]);
  });
});

describe('the native provider', () => {
  it('takes merchant requests only with the bearer secret, and payments only from the run\'s buyers', async () => {
    const { mocks, journal } = await startMockWorld(defer, mockScenario({ name: 'native-keys' }), { secret: 'run-secret' });
    const created = await call('POST', `${mocks.urls.payment}/v1/trades`, tradeBody('http://127.0.0.1:9/cb'));
    expect(created.status).toBe(201);
    const tradeNo = created.body.tradeNo as string;
    const payUrl = `${mocks.urls.payment}/v1/trades/${tradeNo}/pay`;

    // A payment without the buyer token, or with another: refused; the run's buyer pays.
    expect((await outsider('POST', payUrl, { payerId: 'intruder', method: 'alipay' })).status).toBe(401);
    expect((await outsider('POST', payUrl, { payerId: 'intruder', method: 'alipay' }, { [BUYER_TOKEN_HEADER]: 'guess' })).status).toBe(401);
    expect((await outsider('POST', payUrl, { payerId: 'intruder', method: 'alipay' }, { authorization: 'Bearer run-secret' })).status).toBe(401);
    const request = mocks.cashier.payRequest({ providerUrl: mocks.urls.payment, tradeNo, payerId: 'buyer-1', method: 'alipay' });
    expect(request.headers?.[BUYER_TOKEN_HEADER]).toBe(mocks.buyerToken);
    expect((await outsider(request.method, request.url, request.body, request.headers)).body).toMatchObject({ status: 'TRADE_SUCCESS' });

    const refund = await outsider('POST', `${mocks.urls.payment}/v1/trades/${tradeNo}/refunds`, { refundNo: 'R-out', amount: 3000 });
    expect(refund).toEqual({ status: 401, body: { code: 'INVALID_SIGNATURE', message: expect.stringContaining('Authorization: Bearer <ORDEAL_PAYMENT_SECRET>') } });
    expect((await outsider('POST', `${mocks.urls.payment}/v1/trades/${tradeNo}/refunds`, { refundNo: 'R-out', amount: 3000 }, WRONG)).status).toBe(401);
    expect((await outsider('POST', `${mocks.urls.payment}/v1/trades/${tradeNo}/close`)).status).toBe(401);
    expect((await outsider('POST', `${mocks.urls.payment}/v1/trades`, tradeBody('http://127.0.0.1:9/cb'))).status).toBe(401);
    expect((await outsider('POST', `${mocks.urls.payment}/v1/verifications/V0000000001/complete`, {})).status).toBe(401);

    expect(outsideEvents(journal).map((event) => `${event.method} ${event.path.replace(tradeNo, ':tradeNo')} ${event.reason}`)).toEqual([
      `POST /v1/trades/:tradeNo/pay no buyer token (${BUYER_TOKEN_HEADER})`,
      'POST /v1/trades/:tradeNo/pay wrong buyer token',
      `POST /v1/trades/:tradeNo/pay no buyer token (${BUYER_TOKEN_HEADER})`,
      'POST /v1/trades/:tradeNo/refunds no credentials (Authorization: Bearer <the run key>)',
      'POST /v1/trades/:tradeNo/refunds wrong credentials',
      'POST /v1/trades/:tradeNo/close no credentials (Authorization: Bearer <the run key>)',
      'POST /v1/trades no credentials (Authorization: Bearer <the run key>)',
      `POST /v1/verifications/V0000000001/complete no buyer token (${BUYER_TOKEN_HEADER})`,
    ]);
    expect(eventsOf(journal, 'payment.trade.paid').map((event) => event.payerId)).toEqual(['buyer-1']);
    expect(eventsOf(journal, 'payment.refund')).toEqual([]);
    expect(eventsOf(journal, 'payment.trade.closed')).toEqual([]);
    expect(eventsOf(journal, 'payment.trade.created')).toHaveLength(1);
  });
});

describe('the guard sits outside the transport faults', () => {
  it('an outside request is refused before a fault could be decided for the order it names', async () => {
    const faults = [
      { id: 'transport.reset', service: 'payment', routes: ['refund', 'close'] },
      { id: 'transport.reset', service: 'stock', routes: ['fulfil'] },
    ];
    const { mocks, journal } = await startMockWorld(defer, mockScenario({ name: 'guard-first', faults }), { secret: 'run-secret' });
    const created = await call('POST', `${mocks.urls.payment}/v1/trades`, tradeBody('http://127.0.0.1:9/cb'));
    const tradeNo = created.body.tradeNo as string;
    expect((await outsider('POST', `${mocks.urls.payment}/v1/trades/${tradeNo}/refunds`, { refundNo: 'R-out', amount: 3000 })).body).toMatchObject({ code: 'INVALID_SIGNATURE' });
    expect((await outsider('POST', `${mocks.urls.payment}/v1/trades/${tradeNo}/close`)).status).toBe(401);
    expect((await outsider('POST', `${mocks.urls.stock}/v1/reservations/R0000000001/fulfil`)).status).toBe(401);
    expect(outsideEvents(journal)).toHaveLength(3);
    expect(eventsOf(journal, 'fault.injected')).toEqual([]);
  });
});

/** Mocks speaking `channel`'s protocol, the tests' own requests trusted. */
async function startChannel(channel: PaymentChannel): Promise<{ mocks: MockSet; journal: MemoryJournal }> {
  const scenario = mockScenario({ name: `${channel.protocol}-keys` });
  const journal = new MemoryJournal();
  const mocks = await startMocks({ scenario, journal, plan: new FaultPlan(scenario.faults, scenario.seed), channel });
  defer(() => mocks.close());
  trustMocks(defer, mocks);
  return { mocks, journal };
}

function strangerKey(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

describe('the providers\' own protocols', () => {
  it('epay: a refund with another key and a create signed with another key are refused and journaled; the cashier wants the buyer token', async () => {
    const channel = newChannel('epay');
    if (channel.protocol !== 'epay') throw new Error('expected epay');
    const { mocks, journal } = await startChannel(channel);
    const { pid } = channel.credentials;
    const form = (fields: Record<string, string>): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
    const refund = (await (await fetch(`${mocks.urls.payment}/api.php?act=refund`, form({ pid, key: 'not-the-key', out_trade_no: 'O-1', money: '30.00' }))).json()) as Record<string, unknown>;
    expect(refund).toEqual({ code: -3, msg: '商户密钥错误' });
    const params = { pid, type: 'alipay', out_trade_no: 'O-2', notify_url: 'http://127.0.0.1:9/n', name: 'card', money: '30.00', clientip: '127.0.0.1' };
    const text = Object.keys(params).sort().map((name) => `${name}=${params[name as keyof typeof params]}`).join('&');
    const sign = createHash('md5').update(`${text}forged-key`).digest('hex');
    const created = (await (await fetch(`${mocks.urls.payment}/mapi.php`, form({ ...params, sign, sign_type: 'MD5' }))).json()) as Record<string, unknown>;
    expect(created).toMatchObject({ code: -1 });
    expect((await outsider('POST', `${mocks.urls.payment}/cashier/T0000000001/pay`, { payerId: 'intruder' })).status).toBe(401);
    expect(outsideEvents(journal).map((event) => [event.path, event.reason])).toEqual([
      ['/api.php', 'wrong merchant key'],
      ['/mapi.php', 'MD5 sign does not verify'],
      ['/cashier/T0000000001/pay', `no buyer token (${BUYER_TOKEN_HEADER})`],
    ]);
    expect(JSON.stringify(outsideEvents(journal))).not.toContain('not-the-key');
    expect(eventsOf(journal, 'payment.trade.created')).toEqual([]);
  });

  it('Alipay: alipay-sdk signing with a key that is not the merchant\'s gets isv.invalid-signature, journaled as outside', async () => {
    const channel = newChannel('alipay');
    if (channel.protocol !== 'alipay') throw new Error('expected Alipay');
    const { mocks, journal } = await startChannel(channel);
    const sdk = new AlipaySdk({ appId: channel.credentials.appId, privateKey: strangerKey(), alipayPublicKey: channel.credentials.alipayPublicKey, gateway: `${mocks.urls.payment}/gateway.do`, keyType: 'PKCS8', timeout: 3000 });
    const result = await sdk.exec('alipay.trade.refund', { bizContent: { out_trade_no: 'O-1', refund_amount: '30.00' } }, { validateSign: true });
    expect(result).toMatchObject({ code: '40002', subCode: 'isv.invalid-signature' });
    expect(outsideEvents(journal)).toEqual([expect.objectContaining({ mock: 'payment', path: '/gateway.do', reason: 'rejected by the gateway: isv.invalid-signature' })]);
    expect(eventsOf(journal, 'payment.refund')).toEqual([]);
  });

  it('WeChat Pay: wechatpay-axios-plugin signing with a key that is not the merchant\'s gets 401 SIGN_ERROR, journaled as outside', async () => {
    const channel = newChannel('wechatpay');
    if (channel.protocol !== 'wechatpay') throw new Error('expected WeChat Pay');
    const { mocks, journal } = await startChannel(channel);
    const keys = channel.credentials;
    const client = new Wechatpay({ mchid: keys.mchid, serial: keys.merchantSerial, privateKey: strangerKey(), certs: { [keys.platformSerial]: keys.platformCertificate }, baseURL: `${mocks.urls.payment}/`, proxy: false });
    const failed = await client
      .chain('v3/refund/domestic/refunds')
      .post({ out_trade_no: 'O-1', out_refund_no: 'R-1', amount: { refund: 3000, total: 3000, currency: 'CNY' } })
      .then(
        () => undefined,
        (error: { response?: { status: number; data: unknown } }) => error.response,
      );
    expect(failed).toMatchObject({ status: 401, data: { code: 'SIGN_ERROR' } });
    expect(outsideEvents(journal)).toEqual([expect.objectContaining({ mock: 'payment', method: 'POST', path: '/v3/refund/domestic/refunds', reason: 'Authorization: the signature does not verify' })]);
    expect(eventsOf(journal, 'payment.refund')).toEqual([]);
  });

  it('Stripe: the stripe client with another secret key, a publishable-key confirm without the client secret, and 3-D Secure without the buyer token are refused and journaled', async () => {
    const channel = newChannel('stripe');
    if (channel.protocol !== 'stripe') throw new Error('expected Stripe');
    const { mocks, journal } = await startChannel(channel);
    const url = new URL(mocks.urls.payment);
    const settings = { host: url.hostname, port: Number(url.port), protocol: 'http' as const, maxNetworkRetries: 0, telemetry: false };
    const stranger = new Stripe('sk_test_notTheMerchantsKey', settings);
    const error = await stranger.refunds.create({ payment_intent: 'pi_T0000000001' }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);

    const merchant = new Stripe(channel.credentials.secretKey, settings);
    const intent = await merchant.paymentIntents.create({ amount: 3000, currency: 'cny', metadata: { order_id: 'O-1' } });
    const confirm = await outsider('POST', `${mocks.urls.payment}/v1/payment_intents/${intent.id}/confirm`, 'payment_method=pm_card_visa', {
      authorization: `Bearer ${channel.credentials.publishableKey}`,
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(confirm.status).toBe(400);
    expect((await outsider('POST', `${mocks.urls.payment}/three_d_secure/V0000000001/complete`, {})).status).toBe(401);

    expect(outsideEvents(journal).map((event) => [event.path.replace(intent.id, ':intent'), event.reason])).toEqual([
      ['/v1/refunds', 'wrong API key'],
      ['/v1/payment_intents/:intent/confirm', 'publishable key without a client_secret'],
      ['/three_d_secure/V0000000001/complete', `no buyer token (${BUYER_TOKEN_HEADER})`],
    ]);
    expect(JSON.stringify(outsideEvents(journal))).not.toContain('notTheMerchantsKey');
    expect(eventsOf(journal, 'payment.trade.paid')).toEqual([]);
  });
});
