/**
 * The WeChat Pay API v3 personality judged by the official Node client, `wechatpay-axios-plugin`
 * 0.9.6, over real sockets: it signs every request (`WECHATPAY2-SHA256-RSA2048`), verifies every
 * answer against the run's platform certificate (by serial, within its 300 s clock rule), and its
 * own helpers (`Decorator.responseVerifier`, `Rsa`, `Formatter`, `Aes.AesGcm`) verify and decrypt
 * the notifies Ordeal sends. Then each payment fault's WeChat form as the reference shop's
 * gateway meets it, and one end-to-end run with `protocol: 'wechatpay'`.
 */
import { generateKeyPairSync } from 'node:crypto';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Aes, Decorator, Formatter, Rsa, Wechatpay } from 'wechatpay-axios-plugin';
import { MemoryJournal } from '../core/journal.js';
import { loadScenarios } from '../harness/scenario/loader.js';
import { run, type RunResult } from '../harness/drive/run.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { startMocks, type MockSet } from '../mocks/index.js';
import { credentialFiles, newChannel, selfSignedCertificate, type WechatpayCredentials } from '../mocks/payment/credentials.js';
import type { PaymentNotice } from '../mocks/payment/notices.js';
import { NATIVE_FAULT_FORMS } from '../mocks/payment/personalities/native-fault-forms.js';
import { WechatpayPersonality } from '../mocks/payment/personalities/wechatpay.js';
import { signedHeaders } from '../mocks/payment/personalities/wechatpay-wire.js';
import { OutgoingHttp } from '../shop/http-client.js';
import { createWechatpayGateway, WECHATPAY_KEY_FILES, type WechatpayGateway } from '../shop/payment/wechatpay.js';
import { cleanupAfterEach, type Defer } from './helpers/cleanups.js';
import { tempDir } from './helpers/cli.js';
import { eventsOf, faultsOf, waitForEvent, waitForEvents } from './helpers/journal.js';
import { listenOnLoopback, mockScenario, trustMocks } from './helpers/mocks.js';

const defer = cleanupAfterEach();

function wechatpayChannel(): { protocol: 'wechatpay'; credentials: WechatpayCredentials } {
  const channel = newChannel('wechatpay');
  if (channel.protocol !== 'wechatpay') throw new Error('expected a wechatpay channel');
  return channel;
}

/** One run's credentials for every test (2048-bit keys take a moment to make). */
const CHANNEL = wechatpayChannel();
const KEYS = CHANNEL.credentials;

function rsaPrivateKey(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

// ---- the plugin as a shop configures it ----------------------------------------------------------

interface ClientOptions {
  privateKey?: string;
  serial?: string;
  mchid?: string;
  certs?: Record<string, string>;
}

function pluginClient(baseUrl: string, options: ClientOptions = {}): Wechatpay {
  return new Wechatpay({
    mchid: options.mchid ?? KEYS.mchid,
    serial: options.serial ?? KEYS.merchantSerial,
    privateKey: options.privateKey ?? KEYS.merchantPrivateKey,
    certs: options.certs ?? { [KEYS.platformSerial]: KEYS.platformCertificate },
    baseURL: `${baseUrl}/`,
    proxy: false,
  });
}

/** What a plugin call ended with: a verified answer, an HTTP error answer, or the plugin's own refusal (`code`). */
interface Outcome {
  ok: boolean;
  status?: number;
  data?: Record<string, unknown>;
  code?: string;
}

async function outcome(request: Promise<{ status: number; data: unknown }>): Promise<Outcome> {
  try {
    const { status, data } = await request;
    return { ok: true, status, data: (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown> };
  } catch (caught) {
    const error = caught as { code?: string; response?: { status: number; data: unknown } };
    const data = error.response?.data;
    return {
      ok: false,
      ...(error.code === undefined ? {} : { code: error.code }),
      ...(error.response ? { status: error.response.status } : {}),
      ...(typeof data === 'object' && data !== null ? { data: data as Record<string, unknown> } : {}),
    };
  }
}

// ---- a running personality and the shop's notify URL ---------------------------------------------

interface Notify {
  headers: Record<string, string>;
  body: string;
}

interface World {
  mocks: MockSet;
  journal: MemoryJournal;
  paymentUrl: string;
  notifyUrl: string;
  notifies: Notify[];
  client: Wechatpay;
}

/** The mocks serving the wechatpay personality with `faults`, and a notify URL that records each notify and answers `ackStatus`. */
async function startWorld(faults: unknown[] = [], ackStatus = 204): Promise<World> {
  const journal = new MemoryJournal();
  const scenario = mockScenario({ name: 'wechatpay', faults });
  const mocks = await startMocks({ scenario, journal, plan: new FaultPlan(scenario.faults, scenario.seed), channel: CHANNEL });
  defer(() => mocks.close());
  trustMocks(defer, mocks);
  const app = Fastify({ logger: false, forceCloseConnections: true });
  const notifies: Notify[] = [];
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  app.post('/notify', (request, reply) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) if (typeof value === 'string') headers[name] = value;
    notifies.push({ headers, body: String(request.body) });
    return reply.code(ackStatus).send();
  });
  const shopUrl = await listenOnLoopback(app, defer);
  return { mocks, journal, paymentUrl: mocks.urls.payment, notifyUrl: `${shopUrl}/notify`, notifies, client: pluginClient(mocks.urls.payment) };
}

let orderSeq = 0;

function nativeOrder(world: World, overrides: Record<string, unknown> = {}): Record<string, unknown> & { out_trade_no: string } {
  orderSeq += 1;
  return {
    appid: KEYS.appid,
    mchid: KEYS.mchid,
    description: 'Monthly card',
    out_trade_no: `ord_wx_${String(orderSeq).padStart(4, '0')}`,
    time_expire: new Date(Date.now() + 600_000).toISOString().replace(/\.\d{3}Z$/, '+00:00'),
    notify_url: world.notifyUrl,
    amount: { total: 3000, currency: 'CNY' },
    scene_info: { payer_client_ip: '203.0.113.7' },
    ...overrides,
  } as Record<string, unknown> & { out_trade_no: string };
}

function queryOrder(world: World, outTradeNo: string, client = world.client): Promise<Outcome> {
  return outcome(client.chain('v3/pay/transactions/out-trade-no/{out_trade_no}').get({ params: { mchid: KEYS.mchid }, out_trade_no: outTradeNo }));
}

/** The buyer pays at Ordeal's cashier, following the code_url as a scan would. */
async function payAtCashier(world: World, codeUrl: string, outTradeNo: string, payerId = 'buyer-wx'): Promise<{ status: number; body: Record<string, unknown> }> {
  const request = world.mocks.cashier.payRequest({ providerUrl: world.paymentUrl, tradeNo: outTradeNo, payUrl: codeUrl, payerId, method: 'wechat' });
  const response = await fetch(request.url, { method: request.method, headers: { 'content-type': 'application/json', ...request.headers }, body: JSON.stringify(request.body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The plugin's own answer verifier, applied to a notify: returns the body, or the plugin's error code. */
function pluginVerifies(notify: Notify, certs: Record<string, string> = { [KEYS.platformSerial]: KEYS.platformCertificate }): { ok: true } | { ok: false; code: string } {
  const keys = Object.fromEntries(Object.entries(certs).map(([serial, pem]) => [serial, Rsa.from(pem, Rsa.KEY_TYPE_PUBLIC)]));
  const verifier = Decorator.responseVerifier(keys) as (this: object, data: string, headers: Record<string, string>, status: number) => unknown;
  const result = verifier.call({}, notify.body, notify.headers, 200);
  return result === notify.body ? { ok: true } : { ok: false, code: String((result as { code?: unknown }).code) };
}

/** The notify's resource decrypted with the plugin's AES-GCM helper and the APIv3 key. */
function decrypted(notify: Notify, apiV3Key = KEYS.apiV3Key): Record<string, unknown> {
  const { resource } = JSON.parse(notify.body) as { resource: { ciphertext: string; nonce: string; associated_data: string } };
  return JSON.parse(Aes.AesGcm.decrypt(resource.ciphertext, apiV3Key, resource.nonce, resource.associated_data)) as Record<string, unknown>;
}

// ---- the protocol -------------------------------------------------------------------------------

describe('wechatpay personality, judged by wechatpay-axios-plugin', () => {
  it('native order → cashier → notify → query (by out_trade_no and id) → refund → refund query; every answer verified by the plugin', async () => {
    const world = await startWorld();
    const order = nativeOrder(world);
    const created = await outcome(world.client.chain('v3/pay/transactions/native').post(order));
    expect(created).toMatchObject({ ok: true, status: 200 });
    const codeUrl = created.data?.code_url as string;
    expect(codeUrl).toMatch(new RegExp(`^${world.paymentUrl}/cashier/T\\d{10}$`));
    // time_expire is the trade's expiry (to the second WeChat counts in).
    const expiresAt = Date.parse(world.mocks.payment.tradeByOrder(order.out_trade_no)?.expiresAt ?? '');
    expect(expiresAt - Date.parse(order.time_expire as string)).toBeGreaterThanOrEqual(0);
    expect(expiresAt - Date.parse(order.time_expire as string)).toBeLessThan(1000);
    const created1 = eventsOf(world.journal, 'payment.trade.created');
    expect(created1).toEqual([expect.objectContaining({ orderId: order.out_trade_no, amount: 3000, method: 'wechat', repeat: false })]);
    // The same order again: the same code_url.
    expect((await outcome(world.client.chain('v3/pay/transactions/native').post(order))).data).toEqual({ code_url: codeUrl });

    const unpaid = await queryOrder(world, order.out_trade_no);
    expect(unpaid).toMatchObject({ ok: true, status: 200, data: { appid: KEYS.appid, mchid: KEYS.mchid, out_trade_no: order.out_trade_no, trade_type: 'NATIVE', trade_state: 'NOTPAY' } });
    expect(unpaid.data?.transaction_id).toBeUndefined();
    expect(unpaid.data?.amount).toMatchObject({ total: 3000, currency: 'CNY' });

    expect(await payAtCashier(world, codeUrl, order.out_trade_no)).toMatchObject({ status: 200, body: { status: 'TRADE_SUCCESS' } });
    await waitForEvent(world.journal, 'payment.callback.sent', (event) => event.orderId === order.out_trade_no && event.acked);
    const [notify] = world.notifies;
    expect(notify).toBeDefined();
    expect(pluginVerifies(notify!)).toEqual({ ok: true });
    expect(JSON.parse(notify!.body)).toMatchObject({ resource_type: 'encrypt-resource', event_type: 'TRANSACTION.SUCCESS', resource: { algorithm: 'AEAD_AES_256_GCM', associated_data: 'transaction', original_type: 'transaction' } });
    expect((JSON.parse(notify!.body) as { resource: { nonce: string } }).resource.nonce).toHaveLength(12);
    const transaction = decrypted(notify!);
    expect(transaction).toMatchObject({ mchid: KEYS.mchid, appid: KEYS.appid, out_trade_no: order.out_trade_no, trade_state: 'SUCCESS', amount: { total: 3000, payer_total: 3000 } });
    expect(transaction.success_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/);

    const paid = await queryOrder(world, order.out_trade_no);
    expect(paid.data).toMatchObject({ trade_state: 'SUCCESS', transaction_id: transaction.transaction_id, amount: { total: 3000, payer_total: 3000 } });
    expect(paid.data?.transaction_id).toMatch(/^\d{28}$/);
    const byId = await outcome(world.client.chain('v3/pay/transactions/id/{transaction_id}').get({ params: { mchid: KEYS.mchid }, transaction_id: paid.data?.transaction_id }));
    expect(byId).toMatchObject({ ok: true, data: { out_trade_no: order.out_trade_no, trade_state: 'SUCCESS' } });

    const refundNo = `${order.out_trade_no}-r1`;
    const refund = { out_trade_no: order.out_trade_no, out_refund_no: refundNo, amount: { refund: 3000, total: 3000, currency: 'CNY' } };
    const refunded = await outcome(world.client.chain('v3/refund/domestic/refunds').post(refund));
    expect(refunded).toMatchObject({ ok: true, status: 200, data: { out_refund_no: refundNo, out_trade_no: order.out_trade_no, status: 'SUCCESS', amount: { refund: 3000, total: 3000 } } });
    expect(refunded.data?.refund_id).toMatch(/^50\d{27}$/);
    // A repeat of the refund number refunds nothing more.
    expect((await outcome(world.client.chain('v3/refund/domestic/refunds').post(refund))).data).toMatchObject({ status: 'SUCCESS', amount: { refund: 3000 } });
    expect(eventsOf(world.journal, 'payment.refund').map((event) => [event.repeat, event.ok])).toEqual([[false, true], [true, true]]);
    expect(await outcome(world.client.chain('v3/refund/domestic/refunds/{out_refund_no}').get({ out_refund_no: refundNo }))).toMatchObject({ ok: true, data: { status: 'SUCCESS', amount: { refund: 3000 } } });
    expect((await queryOrder(world, order.out_trade_no)).data).toMatchObject({ trade_state: 'REFUND' });
  });

  it('close answers a signed 204 the plugin verifies; WeChat error codes and statuses for the refusals', async () => {
    const world = await startWorld();
    const open = nativeOrder(world);
    expect((await outcome(world.client.chain('v3/pay/transactions/native').post(open))).ok).toBe(true);
    const closed = await outcome(world.client.chain('v3/pay/transactions/out-trade-no/{out_trade_no}/close').post({ mchid: KEYS.mchid }, { out_trade_no: open.out_trade_no }));
    expect(closed).toMatchObject({ ok: true, status: 204 });
    expect((await queryOrder(world, open.out_trade_no)).data).toMatchObject({ trade_state: 'CLOSED', trade_state_desc: '订单已关闭' });
    expect(await outcome(world.client.chain('v3/pay/transactions/native').post(open))).toMatchObject({ ok: false, status: 400, data: { code: 'ORDER_CLOSED' } });

    const paid = nativeOrder(world);
    const created = await outcome(world.client.chain('v3/pay/transactions/native').post(paid));
    await payAtCashier(world, created.data?.code_url as string, paid.out_trade_no);
    const closePaid = await outcome(world.client.chain('v3/pay/transactions/out-trade-no/{out_trade_no}/close').post({ mchid: KEYS.mchid }, { out_trade_no: paid.out_trade_no }));
    expect(closePaid).toMatchObject({ ok: false, status: 403, data: { code: 'TRADE_ERROR', message: '订单已支付' } });
    expect(await outcome(world.client.chain('v3/pay/transactions/native').post({ ...paid, amount: { total: 1, currency: 'CNY' } }))).toMatchObject({
      ok: false,
      status: 403,
      data: { code: 'OUT_TRADE_NO_USED' },
    });
    const tooMuch = { out_trade_no: paid.out_trade_no, out_refund_no: 'r-too-much', amount: { refund: 3001, total: 3000, currency: 'CNY' } };
    expect(await outcome(world.client.chain('v3/refund/domestic/refunds').post(tooMuch))).toMatchObject({ ok: false, status: 400, data: { code: 'INVALID_REQUEST', message: '申请退款金额超过订单可退金额' } });
    const unknown = { out_trade_no: 'ord_no_such_order', out_refund_no: 'r-unknown', amount: { refund: 1, total: 1, currency: 'CNY' } };
    expect(await outcome(world.client.chain('v3/refund/domestic/refunds').post(unknown))).toMatchObject({ ok: false, status: 404, data: { code: 'RESOURCE_NOT_EXISTS' } });
    expect(await queryOrder(world, 'ord_no_such_order')).toMatchObject({ ok: false, status: 404, data: { code: 'ORDER_NOT_EXIST', message: '订单不存在' } });
    expect(await outcome(world.client.chain('v3/pay/transactions/id/{transaction_id}').get({ params: { mchid: KEYS.mchid }, transaction_id: '4200000000000000000000009999' }))).toMatchObject({
      ok: false,
      status: 404,
      data: { code: 'ORDER_NOT_EXIST' },
    });
    const missing = nativeOrder(world, { amount: { currency: 'CNY' } });
    expect(await outcome(world.client.chain('v3/pay/transactions/native').post(missing))).toMatchObject({ ok: false, status: 400, data: { code: 'PARAM_ERROR' } });
    expect(eventsOf(world.journal, 'payment.trade.refused')).toEqual(expect.arrayContaining([expect.objectContaining({ orderId: missing.out_trade_no, code: 'INVALID_REQUEST' })]));
    expect(await outcome(world.client.chain('v3/pay/transactions/native').post(nativeOrder(world, { appid: 'wx0000000000000000' })))).toMatchObject({
      ok: false,
      status: 400,
      data: { code: 'APPID_MCHID_NOT_MATCH' },
    });
  });

  it('jsapi and h5 orders: prepay_id, and an h5_url at the cashier; trade_type JSAPI / MWEB', async () => {
    const world = await startWorld();
    const jsapi = nativeOrder(world, { payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' } });
    const prepay = await outcome(world.client.chain('v3/pay/transactions/jsapi').post(jsapi));
    expect(prepay).toMatchObject({ ok: true, status: 200 });
    expect(prepay.data?.prepay_id).toMatch(/^wx[0-9a-f]{34}$/);
    expect((await queryOrder(world, jsapi.out_trade_no)).data).toMatchObject({ trade_type: 'JSAPI', trade_state: 'NOTPAY' });
    expect(await outcome(world.client.chain('v3/pay/transactions/jsapi').post(nativeOrder(world)))).toMatchObject({ ok: false, status: 400, data: { code: 'PARAM_ERROR' } });

    const h5 = nativeOrder(world, { scene_info: { payer_client_ip: '203.0.113.7', h5_info: { type: 'Wap' } } });
    const page = await outcome(world.client.chain('v3/pay/transactions/h5').post(h5));
    const h5Url = page.data?.h5_url as string;
    expect(h5Url.startsWith(`${world.paymentUrl}/cashier/T`)).toBe(true);
    expect(await payAtCashier(world, h5Url, h5.out_trade_no)).toMatchObject({ status: 200, body: { status: 'TRADE_SUCCESS' } });
    expect((await queryOrder(world, h5.out_trade_no)).data).toMatchObject({ trade_type: 'MWEB', trade_state: 'SUCCESS' });
  });

  it('GET /v3/certificates: the platform certificate, decrypted with the APIv3 key', async () => {
    const world = await startWorld();
    const answer = await outcome(world.client.chain('v3/certificates').get());
    const [entry] = answer.data?.data as Array<{ serial_no: string; encrypt_certificate: { ciphertext: string; nonce: string; associated_data: string } }>;
    expect(entry?.serial_no).toBe(KEYS.platformSerial);
    const { ciphertext, nonce, associated_data: aad } = entry!.encrypt_certificate;
    expect(Aes.AesGcm.decrypt(ciphertext, KEYS.apiV3Key, nonce, aad).trim()).toBe(KEYS.platformCertificate.trim());
  });

  it('the plugin rejects answers signed with another key, under a serial it does not know, too old, or unsigned', async () => {
    const world = await startWorld();
    const order = nativeOrder(world);
    // The right serial, another certificate: the signature does not verify.
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const otherKey = other.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const impostor = selfSignedCertificate({ privateKey: otherKey, publicKey: other.publicKey.export({ type: 'spki', format: 'pem' }).toString() }, 'impostor');
    const wrongCert = pluginClient(world.paymentUrl, { certs: { [KEYS.platformSerial]: impostor.pem } });
    expect(await outcome(wrongCert.chain('v3/pay/transactions/native').post(order))).toMatchObject({ ok: false, code: 'EV3_RES_HEADER_SIGNATURE_DIGEST', status: 200 });
    // Only another serial known: the answer's serial is refused.
    const otherSerial = pluginClient(world.paymentUrl, { certs: { [impostor.serial]: KEYS.platformCertificate } });
    expect(await outcome(otherSerial.chain('v3/pay/transactions/native').post(order))).toMatchObject({ ok: false, code: 'EV3_RES_HEADER_PLATFORM_SERIAL' });
    // The same request with the run's certificate goes through: the refusals were the plugin's.
    expect(await outcome(world.client.chain('v3/pay/transactions/native').post(order))).toMatchObject({ ok: true, status: 200 });

    // Answers the plugin must refuse whatever the body: signed too long ago, by a key that is not the platform's, or not at all.
    const app = Fastify({ logger: false, forceCloseConnections: true });
    const body = JSON.stringify({ code_url: 'weixin://wxpay/bizpayurl?pr=forged' });
    const platform = { key: Rsa.from(KEYS.platformPrivateKey, Rsa.KEY_TYPE_PRIVATE), serial: KEYS.platformSerial };
    const forger = { key: Rsa.from(otherKey, Rsa.KEY_TYPE_PRIVATE), serial: KEYS.platformSerial };
    const nowS = Math.floor(Date.now() / 1000);
    app.post('/stale/v3/pay/transactions/native', (_request, reply) => reply.headers(signedHeaders(body, platform, nowS - 301)).type('application/json').send(body));
    app.post('/forged/v3/pay/transactions/native', (_request, reply) => reply.headers(signedHeaders(body, forger, nowS)).type('application/json').send(body));
    app.post('/unsigned/v3/pay/transactions/native', (_request, reply) => reply.type('application/json').send(body));
    app.post('/genuine/v3/pay/transactions/native', (_request, reply) => reply.headers(signedHeaders(body, platform, nowS)).type('application/json').send(body));
    const fake = await listenOnLoopback(app, defer);
    const at = (prefix: string): Promise<Outcome> => outcome(pluginClient(`${fake}/${prefix}`).chain('v3/pay/transactions/native').post(order));
    expect(await at('stale')).toMatchObject({ ok: false, code: 'EV3_RES_HEADER_TIMESTAMP_OFFSET' });
    expect(await at('forged')).toMatchObject({ ok: false, code: 'EV3_RES_HEADER_SIGNATURE_DIGEST' });
    expect(await at('unsigned')).toMatchObject({ ok: false, code: 'EV3_RES_HEADERS_INCOMPLATE' });
    expect(await at('genuine')).toMatchObject({ ok: true, data: { code_url: 'weixin://wxpay/bizpayurl?pr=forged' } });
  });

  it('refuses a request whose Authorization does not verify with 401 SIGN_ERROR, and calls no core operation', async () => {
    const world = await startWorld();
    const order = nativeOrder(world);
    const refused = { ok: false, status: 401, data: { code: 'SIGN_ERROR' } };
    expect(await outcome(pluginClient(world.paymentUrl, { privateKey: rsaPrivateKey() }).chain('v3/pay/transactions/native').post(order))).toMatchObject(refused);
    expect(await outcome(pluginClient(world.paymentUrl, { serial: '1234567890ABCDEF1234567890ABCDEF12345678' }).chain('v3/pay/transactions/native').post(order))).toMatchObject(refused);
    expect(await outcome(pluginClient(world.paymentUrl, { mchid: '1900000109' }).chain('v3/pay/transactions/native').post(order))).toMatchObject(refused);
    expect(await queryOrder(world, order.out_trade_no, pluginClient(world.paymentUrl, { privateKey: rsaPrivateKey() }))).toMatchObject(refused);
    const unsigned = await fetch(`${world.paymentUrl}/v3/pay/transactions/native`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(order) });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toMatchObject({ code: 'SIGN_ERROR' });
    expect(eventsOf(world.journal, 'payment.trade.created')).toEqual([]);
    expect(eventsOf(world.journal, 'payment.trade.queried')).toEqual([]);
  });
});

// ---- notifies -----------------------------------------------------------------------------------

describe('wechatpay notifies', () => {
  const personality = new WechatpayPersonality({ credentials: KEYS });
  const NOW_S = Math.floor(Date.now() / 1000);
  const notice: PaymentNotice = {
    notifyId: 'N0000000042',
    tradeNo: 'T0000000042',
    outTradeNo: 'ord_notify_42',
    status: 'TRADE_SUCCESS',
    amount: 3000,
    paidAt: new Date(NOW_S * 1000).toISOString(),
    currency: 'CNY',
    subject: 'Monthly card',
    method: 'wechat',
  };
  const rendered = (signing: Parameters<WechatpayPersonality['renderCallback']>[2], what = notice): Notify => {
    const request = personality.renderCallback('http://127.0.0.1:9/notify', what, signing, NOW_S);
    if (!request) throw new Error(`no notify rendered for ${what.status}`);
    return { headers: request.headers, body: request.body ?? '' };
  };
  const shopEndpoint = (): WechatpayGateway['notify'] => createWechatpayGateway('http://127.0.0.1:9', keyFolder(KEYS), serviceOptions()).notify;
  const read = (notify: Notify, checks = { signature: true, freshness: true }): ReturnType<WechatpayGateway['notify']['read']> =>
    shopEndpoint().read({ method: 'POST', query: {}, headers: notify.headers, rawBody: notify.body }, checks);

  it('a genuine notify verifies with the plugin, decrypts with its AES-GCM helper, and the shop takes it', () => {
    const genuine = rendered({ kind: 'genuine' });
    expect(genuine.headers).toMatchObject({ 'content-type': 'application/json', 'wechatpay-serial': KEYS.platformSerial, 'wechatpay-timestamp': String(NOW_S), 'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048' });
    expect(pluginVerifies(genuine)).toEqual({ ok: true });
    expect(Rsa.verify(Formatter.response(genuine.headers['wechatpay-timestamp'] ?? '', genuine.headers['wechatpay-nonce'] ?? '', genuine.body), genuine.headers['wechatpay-signature'] ?? '', Rsa.from(KEYS.platformCertificate, Rsa.KEY_TYPE_PUBLIC))).toBe(true);
    expect(decrypted(genuine)).toMatchObject({ out_trade_no: 'ord_notify_42', trade_state: 'SUCCESS', amount: { total: 3000, payer_total: 3000, currency: 'CNY' } });
    expect(read(genuine)).toEqual({ kind: 'callback', callback: { tradeNo: 'ord_notify_42', outTradeNo: 'ord_notify_42', result: { kind: 'paid', captured: 3000 } } });
    // Retries of one notice keep its id.
    expect((JSON.parse(rendered({ kind: 'genuine' }).body) as { id: string }).id).toBe((JSON.parse(genuine.body) as { id: string }).id);
  });

  it('a forged notify fails the plugin\u2019s check (same serial, another key) but decrypts: a shop that skips the signature takes it', () => {
    const forged = rendered({ kind: 'forged' });
    expect(forged.headers['wechatpay-serial']).toBe(KEYS.platformSerial);
    expect(pluginVerifies(forged)).toEqual({ ok: false, code: 'EV3_RES_HEADER_SIGNATURE_DIGEST' });
    expect(decrypted(forged)).toMatchObject({ trade_state: 'SUCCESS' });
    expect(read(forged)).toMatchObject({ kind: 'bad_signature' });
    expect(read(forged, { signature: false, freshness: true })).toMatchObject({ kind: 'callback', callback: { result: { kind: 'paid' } } });
    // A platform certificate the shop does not have: the serial is refused.
    expect(pluginVerifies(rendered({ kind: 'genuine' }), { ABCDEF: KEYS.platformCertificate })).toEqual({ ok: false, code: 'EV3_RES_HEADER_PLATFORM_SERIAL' });
  });

  it('a tampered notify (its ciphertext or another field changed after signing) fails verification; the changed ciphertext does not decrypt', () => {
    const genuine = rendered({ kind: 'genuine' });
    const envelope = JSON.parse(genuine.body) as { event_type: string; resource: { ciphertext: string } };
    const flipped = envelope.resource.ciphertext.startsWith('A') ? `B${envelope.resource.ciphertext.slice(1)}` : `A${envelope.resource.ciphertext.slice(1)}`;
    const cipherChanged: Notify = { headers: genuine.headers, body: JSON.stringify({ ...envelope, resource: { ...envelope.resource, ciphertext: flipped } }) };
    const eventChanged: Notify = { headers: genuine.headers, body: genuine.body.replace('TRANSACTION.SUCCESS', 'TRANSACTION.SUCCES5') };
    for (const tampered of [cipherChanged, eventChanged]) {
      expect(pluginVerifies(tampered)).toEqual({ ok: false, code: 'EV3_RES_HEADER_SIGNATURE_DIGEST' });
      expect(read(tampered)).toMatchObject({ kind: 'bad_signature' });
    }
    expect(() => decrypted(cipherChanged)).toThrow();
    expect(read(cipherChanged, { signature: false, freshness: false })).toMatchObject({ kind: 'bad_signature', detail: expect.stringContaining('decrypt') });
    // payment.callback.altered: the amount changed in the ciphertext under the old tag and signature.
    const altered = rendered({ kind: 'altered', signedAmount: 1 });
    expect(pluginVerifies(altered)).toEqual({ ok: false, code: 'EV3_RES_HEADER_SIGNATURE_DIGEST' });
    expect(() => decrypted(altered)).toThrow();
    expect(read(altered)).toMatchObject({ kind: 'bad_signature' });
    expect(read(altered, { signature: false, freshness: false })).toMatchObject({ kind: 'bad_signature', detail: expect.stringContaining('decrypt') });
    // Encrypted with another APIv3 key, the resource does not open with the merchant's.
    expect(() => decrypted(genuine, 'x'.repeat(32))).toThrow();
  });

  it('a replayed notify is genuinely signed an hour ago: the plugin\u2019s clock rule and the shop refuse it unless told to skip freshness', () => {
    const replayed = rendered({ kind: 'replayed', ageS: 3600 });
    expect(replayed.headers['wechatpay-timestamp']).toBe(String(NOW_S - 3600));
    expect(pluginVerifies(replayed)).toEqual({ ok: false, code: 'EV3_RES_HEADER_TIMESTAMP_OFFSET' });
    // Within the skew it verifies: only its age is wrong.
    const signedAt = replayed.headers['wechatpay-timestamp'] ?? '';
    expect(Rsa.verify(Formatter.response(signedAt, replayed.headers['wechatpay-nonce'] ?? '', replayed.body), replayed.headers['wechatpay-signature'] ?? '', Rsa.from(KEYS.platformCertificate, Rsa.KEY_TYPE_PUBLIC))).toBe(true);
    expect(read(replayed)).toMatchObject({ kind: 'bad_signature', detail: expect.stringContaining('timestamp') });
    expect(read(replayed, { signature: true, freshness: false })).toMatchObject({ kind: 'callback' });
  });

  it('a failed payment is not notified: WeChat sends TRANSACTION.SUCCESS only', () => {
    expect(personality.renderCallback('http://127.0.0.1:9/notify', { ...notice, status: 'PAY_FAILED', paidAt: undefined, failCode: 'LIMIT_SINGLE' }, { kind: 'genuine' }, NOW_S)).toBeUndefined();
    expect(JSON.parse(rendered({ kind: 'genuine' }).body)).toMatchObject({ event_type: 'TRANSACTION.SUCCESS', summary: '支付成功' });
  });

  it('acknowledged by 200 or 204 only; retried on WeChat\u2019s schedule; every payment fault has a form', () => {
    expect([200, 204].map((status) => personality.callbackAck.acknowledged(status, ''))).toEqual([true, true]);
    expect([201, 202, 299, 400, 401, 500].map((status) => personality.callbackAck.acknowledged(status, ''))).toEqual([false, false, false, false, false, false]);
    expect(personality.callbackAck.readBody).toBe(false);
    expect(personality.callbackRetryGapsMs.reduce((sum, gap) => sum + gap, 0)).toBe((24 * 60 + 4) * 60_000);
    expect(personality.callbackRetryGapsMs).toHaveLength(15);
    expect(Object.keys(personality.faultForms).sort()).toEqual(Object.keys(NATIVE_FAULT_FORMS).sort());
    expect(personality.faultForms['payment.cross_border']).toHaveProperty('inexpressible');
    const shop = shopEndpoint();
    expect(shop.acknowledge().status).toBe(204);
    expect(JSON.parse(shop.refuse(401, 'invalid_signature', 'bad signature').body)).toEqual({ code: 'FAIL', message: 'bad signature' });
  });

  it('a notify Ordeal sends over the wire is retried until the shop answers 200 or 204', async () => {
    const world = await startWorld([], 500);
    const order = nativeOrder(world);
    const created = await outcome(world.client.chain('v3/pay/transactions/native').post(order));
    await payAtCashier(world, created.data?.code_url as string, order.out_trade_no);
    const attempts = await waitForEvents(world.journal, 'payment.callback.sent', (event) => event.orderId === order.out_trade_no, 3);
    expect(attempts.slice(0, 3).map((event) => [event.attempt, event.acked, event.httpStatus])).toEqual([
      [1, false, 500],
      [2, false, 500],
      [3, false, 500],
    ]);
    // Every attempt is signed afresh and verifies.
    for (const notify of world.notifies.slice(0, 3)) expect(pluginVerifies(notify)).toEqual({ ok: true });
  });
});

// ---- the faults as the shop sees them -----------------------------------------------------------

function keyFolder(credentials: WechatpayCredentials): { read(name: string): string } {
  const files = new Map(credentialFiles({ protocol: 'wechatpay', credentials }).map((file) => [file.name, file.content.trim()]));
  return {
    read: (name) => {
      const content = files.get(name);
      if (content === undefined) throw new Error(`no key file ${name}`);
      return content;
    },
  };
}

function serviceOptions(register?: Defer): { timeoutMs: number; http: OutgoingHttp } {
  const http = new OutgoingHttp();
  register?.(() => http.close());
  return { timeoutMs: 3000, http };
}

async function shopGateway(world: World): Promise<WechatpayGateway> {
  return createWechatpayGateway(world.paymentUrl, keyFolder(KEYS), serviceOptions(defer));
}

async function shopOrder(world: World, gateway: WechatpayGateway, outTradeNo: string): Promise<string> {
  const created = await gateway.createTrade({
    outTradeNo,
    amount: 3000,
    currency: 'CNY',
    subject: '1 × Monthly card',
    notifyUrl: world.notifyUrl,
    method: 'wechat',
    payer: { id: 'buyer-1', ip: '203.0.113.7' },
    expiresInMs: 60_000,
  });
  expect(created).toMatchObject({ kind: 'created', tradeNo: outTradeNo });
  return (created as { payUrl: string }).payUrl;
}

describe('wechatpay fault forms, as the reference shop\u2019s gateway meets them', () => {
  it('the run\u2019s key files are the ones the shop reads', () => {
    const names = credentialFiles(CHANNEL).map((file) => file.name);
    expect(names).toEqual(expect.arrayContaining(Object.values(WECHATPAY_KEY_FILES)));
  });

  it('limits: the cashier refuses, no notify comes, the query says PAYERROR with the limit; the shop reads payment_limit', async () => {
    const world = await startWorld([{ id: 'payment.limit.single', limit: 1000 }]);
    const gateway = await shopGateway(world);
    const payUrl = await shopOrder(world, gateway, 'ord_wx_limit01');
    expect(await payAtCashier(world, payUrl, 'ord_wx_limit01')).toMatchObject({ status: 402, body: { status: 'PAY_FAILED', code: 'LIMIT_SINGLE' } });
    await world.mocks.callbacksIdle();
    expect(world.notifies).toEqual([]);
    expect(eventsOf(world.journal, 'payment.callback.sent')).toEqual([]);
    expect((await queryOrder(world, 'ord_wx_limit01')).data).toMatchObject({ trade_state: 'PAYERROR', trade_state_desc: '支付失败，超出单笔支付限额' });
    expect(await gateway.queryTrade('ord_wx_limit01')).toMatchObject({ kind: 'found', trade: { result: { kind: 'declined', reason: 'payment_limit' } } });
    expect(faultsOf(world.journal, 'payment.limit.single')).toHaveLength(1);
  });

  it('decline: PAYERROR with 余额不足, which the shop reads as payment_declined', async () => {
    const world = await startWorld([{ id: 'payment.decline' }]);
    const gateway = await shopGateway(world);
    const payUrl = await shopOrder(world, gateway, 'ord_wx_decline');
    await payAtCashier(world, payUrl, 'ord_wx_decline');
    expect((await queryOrder(world, 'ord_wx_decline')).data).toMatchObject({ trade_state: 'PAYERROR', trade_state_desc: '支付失败，银行卡余额不足' });
    expect(await gateway.queryTrade('ord_wx_decline')).toMatchObject({ kind: 'found', trade: { result: { kind: 'declined', reason: 'payment_declined' } } });
  });

  it('verification: USERPAYING until the buyer completes it, then SUCCESS', async () => {
    const world = await startWorld([{ id: 'payment.verification' }]);
    const gateway = await shopGateway(world);
    const payUrl = await shopOrder(world, gateway, 'ord_wx_verify1');
    const paying = await payAtCashier(world, payUrl, 'ord_wx_verify1');
    expect(paying).toMatchObject({ status: 202, body: { status: 'VERIFYING' } });
    expect((await queryOrder(world, 'ord_wx_verify1')).data).toMatchObject({ trade_state: 'USERPAYING' });
    expect(await gateway.queryTrade('ord_wx_verify1')).toMatchObject({ kind: 'found', trade: { result: { kind: 'verifying' } } });
    const complete = world.mocks.cashier.verificationRequest({ providerUrl: world.paymentUrl, verificationId: paying.body.verificationId as string });
    expect((await fetch(complete.url, { method: complete.method, headers: { 'content-type': 'application/json', ...complete.headers }, body: '{}' })).status).toBe(200);
    expect(await gateway.queryTrade('ord_wx_verify1')).toMatchObject({ kind: 'found', trade: { result: { kind: 'paid', captured: 3000 } } });
  });

  it('payment.error and query.error: 500 SYSTEM_ERROR, 429 FREQUENCY_LIMITED — unavailable to the shop, which asks again', async () => {
    const world = await startWorld([
      { id: 'payment.error', routes: ['create'], status: 429, retryAfter: '1s', times: 1 },
      { id: 'payment.query.error', status: 503, times: 1 },
    ]);
    const order = nativeOrder(world);
    expect(await outcome(world.client.chain('v3/pay/transactions/native').post(order))).toMatchObject({ ok: false, status: 429, data: { code: 'FREQUENCY_LIMITED', message: '频率超限' } });
    expect((await outcome(world.client.chain('v3/pay/transactions/native').post(order))).ok).toBe(true);
    expect(await queryOrder(world, order.out_trade_no)).toMatchObject({ ok: false, status: 500, data: { code: 'SYSTEM_ERROR', message: '系统错误' } });
    expect((await queryOrder(world, order.out_trade_no)).ok).toBe(true);

    const gateway = await shopGateway(world);
    expect(await gateway.createTrade({ outTradeNo: 'ord_wx_busy001', amount: 3000, currency: 'CNY', subject: 'x', notifyUrl: world.notifyUrl, method: 'wechat', payer: { id: 'buyer-2' }, expiresInMs: 60_000 })).toMatchObject({
      kind: 'unavailable',
      status: 429,
    });
    expect(await gateway.queryTrade(order.out_trade_no)).toMatchObject({ kind: 'found' });
    expect(faultsOf(world.journal, 'payment.error').length).toBeGreaterThanOrEqual(2);
  });

  it('refund.error: 500 SYSTEM_ERROR, then the refund goes through; the shop refunds a paid order and closes an open one', async () => {
    const world = await startWorld([{ id: 'payment.refund.error', status: 503, times: 1 }]);
    const gateway = await shopGateway(world);
    const payUrl = await shopOrder(world, gateway, 'ord_wx_refund1');
    await payAtCashier(world, payUrl, 'ord_wx_refund1');
    expect(await gateway.refund('ord_wx_refund1', 'ord_wx_refund1-r1', 3000)).toMatchObject({ kind: 'unavailable', status: 500 });
    expect(await gateway.refund('ord_wx_refund1', 'ord_wx_refund1-r1', 3000)).toEqual({ kind: 'refunded' });
    expect(await gateway.refund('ord_wx_refund1', 'ord_wx_refund1-r2', 3000)).toEqual({ kind: 'exceeds_paid' });
    expect(await gateway.closeTrade('ord_wx_refund1')).toEqual({ kind: 'has_success' });
    await shopOrder(world, gateway, 'ord_wx_close01');
    expect(await gateway.closeTrade('ord_wx_close01')).toEqual({ kind: 'closed' });
    expect(await gateway.closeTrade('ord_wx_nothing')).toEqual({ kind: 'not_found' });
    expect(await gateway.queryTrade('ord_wx_nothing')).toEqual({ kind: 'not_found' });
  });

  it('ambiguous create: the answer is lost, the shop places the same order again and gets its code_url', async () => {
    const world = await startWorld([{ id: 'payment.ambiguous' }]);
    const gateway = await shopGateway(world);
    const payUrl = await shopOrder(world, gateway, 'ord_wx_ambig01');
    expect(payUrl.startsWith(`${world.paymentUrl}/cashier/`)).toBe(true);
    expect(eventsOf(world.journal, 'payment.trade.created').map((event) => event.repeat)).toEqual([false, true]);
    expect(faultsOf(world.journal, 'payment.ambiguous')).toHaveLength(1);
  });
});

// ---- end to end ---------------------------------------------------------------------------------

describe('ordeal run with protocol wechatpay against the reference shop', () => {
  let work: { path: string; remove(): Promise<void> };
  let resilient: RunResult;
  let naive: RunResult;

  beforeAll(async () => {
    work = await tempDir('ordeal-wechatpay-');
    const scenarios = await loadScenarios(['test/fixtures/wechatpay-payments.yaml']);
    [resilient, naive] = await Promise.all([
      run({ scenarios, outDir: `${work.path}/resilient`, protocol: 'wechatpay' }),
      run({ scenarios, outDir: `${work.path}/naive`, protocol: 'wechatpay', flaws: ['naive'] }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await work?.remove();
  });

  it('the resilient shop passes the gate; the naive one fails it', () => {
    const good = resilient.report.scenarios[0]!;
    expect(resilient.report.gate.reasons).toEqual([]);
    expect(resilient.exitCode).toBe(0);
    expect(good.invariants.every((invariant) => invariant.ok)).toBe(true);
    expect(Object.keys(good.classes)).toEqual(expect.arrayContaining(['payment.callback.forged', 'payment.callback.replayed', 'payment.limit.single']));
    expect(naive.report.gate.passed).toBe(false);
    expect(naive.exitCode).toBe(1);
    const broken = naive.report.scenarios[0]!.invariants.filter((invariant) => !invariant.ok).map((invariant) => invariant.id);
    expect(broken).toContain('no-delivery-on-forged-callback');
  });
});
