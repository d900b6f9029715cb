/**
 * The epay personality (易支付 v1) over real sockets, judged by the published algorithm: MD5 over
 * the sorted `k=v&…` of the non-empty parameters but `sign`/`sign_type`, the key appended with no
 * separator, lower-case hex. The signatures here are computed by the test itself (and pinned as
 * vectors), not by the personality's or the shop's code. Then: submit.php by GET and by form POST,
 * mapi.php, api.php (query, refund), a full submit → cashier → notify → query flow, the notify a
 * shop receives (verified by the shop's own client: genuine accepted, forged and tampered
 * refused), the acknowledgement rule, each fault's epay form, and a run of the reference shop.
 */
import { createHash } from 'node:crypto';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { MemoryJournal } from '../core/journal.js';
import { scenarioSchema, type Scenario } from '../core/scenario-schema.js';
import { run } from '../harness/drive/run.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { startMocks, type MockSet } from '../mocks/index.js';
import type { PaymentChannel } from '../mocks/payment/credentials.js';
import { EPAY_ACK, EPAY_FAULT_FORMS, EPAY_RETRY_GAPS_MS, EpayPersonality } from '../mocks/payment/personalities/epay.js';
import { epaySign } from '../mocks/payment/personalities/epay-wire.js';
import { NATIVE_FAULT_FORMS } from '../mocks/payment/personalities/native-fault-forms.js';
import { signEpay } from '../shop/payment/epay-sign.js';
import { EpayNotifyEndpoint } from '../shop/payment/epay.js';
import type { NotifyRequest, QueryTradeResult } from '../shop/payment/gateway.js';
import { cleanupAfterEach, type Defer } from './helpers/cleanups.js';
import { tempDir } from './helpers/cli.js';
import { eventsOf, faultsOf, waitForEvent, waitForEvents } from './helpers/journal.js';
import { listenOnLoopback, mockScenario, trustMocks } from './helpers/mocks.js';

const defer = cleanupAfterEach();

const PID = '1001';
const KEY = 'k3y';
const CHANNEL: PaymentChannel = { protocol: 'epay', credentials: { pid: PID, key: KEY } };

// ---- the test's own epay signature (the published algorithm, written out) ----------------------

function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

/** The published algorithm, independently of the personality's and the shop's code. */
function sign(params: Record<string, string>, key = KEY): string {
  const text = Object.entries(params)
    .filter(([name, value]) => name !== 'sign' && name !== 'sign_type' && value !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  return md5(text + key);
}

function signed(params: Record<string, string>, key = KEY): Record<string, string> {
  return { ...params, sign: sign(params, key), sign_type: 'MD5' };
}

/** The documented example (彩虹易支付's API page): its parameters and key. */
const DOC_PARAMS = {
  pid: '1001',
  type: 'alipay',
  out_trade_no: 'ORDER20240101001',
  notify_url: 'https://www.example.com/notify',
  return_url: 'https://www.example.com/return',
  name: '测试商品',
  money: '1.50',
};
const DOC_SIGN = '06e448dcc7b382cff8187536e035c80a';
/** A notify of ours: 30.00 yuan for "1 × Monthly card", paid by WeChat. */
const NOTIFY_PARAMS = {
  pid: '1001',
  trade_no: 'T0000000001',
  out_trade_no: 'O-1',
  type: 'wxpay',
  name: '1 × Monthly card',
  money: '30.00',
  trade_status: 'TRADE_SUCCESS',
};
const NOTIFY_SIGN = '71f2be491e5a69a5c7d7eb7d3cf9e758';

// ---- rigs -------------------------------------------------------------------------------------

interface EpayWorld {
  mocks: MockSet;
  journal: MemoryJournal;
  url: string;
}

async function startEpay(scenario: Scenario, callbackRetryDelays?: number[]): Promise<EpayWorld> {
  const journal = new MemoryJournal();
  const plan = new FaultPlan(scenario.faults, scenario.seed);
  const mocks = await startMocks({ scenario, journal, plan, channel: CHANNEL, ...(callbackRetryDelays ? { callbackRetryDelays } : {}) });
  defer(() => mocks.close());
  trustMocks(defer, mocks);
  return { mocks, journal, url: mocks.urls.payment };
}

/** A notify as the shop's notify_url received it: the raw target and its query, decoded as PHP's `$_GET` is. */
interface ReceivedNotify {
  method: string;
  target: string;
  params: Record<string, string>;
}

/** A stand-in for the shop's notify_url (`<url>/notify`): records each notify and answers the next body of `bodies`, then `success`. */
async function startNotifyReceiver(defer: Defer, bodies: string[] = []): Promise<{ url: string; received: ReceivedNotify[] }> {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  const received: ReceivedNotify[] = [];
  const script = [...bodies];
  app.get('/notify', (request, reply) => {
    const target = request.raw.url ?? '';
    const params = Object.fromEntries(new URLSearchParams(target.slice(target.indexOf('?') + 1)));
    received.push({ method: request.method, target, params });
    return reply.type('text/plain').send(script.shift() ?? 'success');
  });
  return { url: `${await listenOnLoopback(app, defer)}/notify`, received };
}

function form(params: Record<string, string>): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params).toString() };
}

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

let orderSeq = 0;

/** Signed create parameters for a fresh order (E-1, E-2, …) notifying `notifyUrl`. */
function createParams(notifyUrl: string, overrides: Record<string, string> = {}): Record<string, string> {
  orderSeq += 1;
  return signed({
    pid: PID,
    type: 'alipay',
    out_trade_no: `E-${orderSeq}`,
    notify_url: notifyUrl,
    return_url: 'http://127.0.0.1:1/return',
    name: '1 × Monthly card',
    money: '30.00',
    clientip: '127.0.0.1',
    ...overrides,
  });
}

async function mapiCreate(world: EpayWorld, params: Record<string, string>): Promise<Record<string, unknown>> {
  return json(await fetch(`${world.url}/mapi.php`, form(params)));
}

async function queryOrder(world: EpayWorld, number: Record<string, string>, key = KEY): Promise<Record<string, unknown>> {
  return json(await fetch(`${world.url}/api.php?${new URLSearchParams({ act: 'order', pid: PID, key, ...number }).toString()}`));
}

/** The buyer pays at the cashier the create answer links, as the harness does. */
async function payAt(world: EpayWorld, created: Record<string, unknown>, payerId: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const payUrl = (created.payurl ?? created.qrcode) as string;
  const request = world.mocks.cashier.payRequest({ providerUrl: world.url, tradeNo: '', payUrl, payerId, method: 'alipay' });
  const response = await fetch(request.url, { method: request.method, headers: { 'content-type': 'application/json', ...request.headers }, body: JSON.stringify(request.body) });
  return { status: response.status, body: await json(response) };
}

function notifyRequest(received: ReceivedNotify): NotifyRequest {
  return { method: 'GET', query: received.params, headers: {}, rawBody: '' };
}

// ---- signature --------------------------------------------------------------------------------

describe('epay signature vectors', () => {
  it('the documented example: sorted, raw (not URL-encoded) values, key appended without a separator', () => {
    const text = 'money=1.50&name=测试商品&notify_url=https://www.example.com/notify&out_trade_no=ORDER20240101001&pid=1001&return_url=https://www.example.com/return&type=alipay';
    expect(md5(`${text}abc123key`)).toBe(DOC_SIGN);
    expect(sign(DOC_PARAMS, 'abc123key')).toBe(DOC_SIGN);
    // The personality and the shop's own client both give the published value.
    expect(epaySign(DOC_PARAMS, 'abc123key')).toBe(DOC_SIGN);
    expect(signEpay(DOC_PARAMS, 'abc123key')).toBe(DOC_SIGN);
  });

  it('sign, sign_type and empty values take no part; any other change does', () => {
    const noisy = { ...DOC_PARAMS, sitename: '', param: '', sign: 'ffff', sign_type: 'MD5' };
    expect(epaySign(noisy, 'abc123key')).toBe(DOC_SIGN);
    expect(signEpay(noisy, 'abc123key')).toBe(DOC_SIGN);
    expect(epaySign({ ...DOC_PARAMS, money: '1.5' }, 'abc123key')).not.toBe(DOC_SIGN);
    expect(epaySign(DOC_PARAMS, 'abc123kez')).not.toBe(DOC_SIGN);
  });

  it('a notify: 30.00 yuan for "1 × Monthly card" by wxpay', () => {
    expect(md5('money=30.00&name=1 × Monthly card&out_trade_no=O-1&pid=1001&trade_no=T0000000001&trade_status=TRADE_SUCCESS&type=wxpayk3y')).toBe(NOTIFY_SIGN);
    expect(epaySign(NOTIFY_PARAMS, KEY)).toBe(NOTIFY_SIGN);
    expect(signEpay(NOTIFY_PARAMS, KEY)).toBe(NOTIFY_SIGN);
  });

  it('renders the notify as epay does: GET, sorted, PHP-urlencoded, then sign and sign_type; only successes', () => {
    const personality = new EpayPersonality({ pid: PID, key: KEY });
    const notice = {
      notifyId: 'N0000000001',
      tradeNo: 'T0000000001',
      outTradeNo: 'O-1',
      status: 'TRADE_SUCCESS' as const,
      amount: 3000,
      paidAt: '2030-01-01T00:00:00.000Z',
      currency: 'CNY',
      subject: '1 × Monthly card',
      method: 'wechat',
    };
    const genuine = personality.renderCallback('http://127.0.0.1:9000/payment/notify', notice, { kind: 'genuine' });
    expect(genuine).toEqual({
      method: 'GET',
      url: `http://127.0.0.1:9000/payment/notify?money=30.00&name=1+%C3%97+Monthly+card&out_trade_no=O-1&pid=1001&trade_no=T0000000001&trade_status=TRADE_SUCCESS&type=wxpay&sign=${NOTIFY_SIGN}&sign_type=MD5`,
      headers: { accept: '*/*' },
    });
    // A notify_url with a query of its own gets the parameters after '&'.
    expect(personality.renderCallback('http://127.0.0.1:9000/n?shop=1', notice, { kind: 'genuine' })?.url).toMatch(/^http:\/\/127\.0\.0\.1:9000\/n\?shop=1&money=30\.00&/);
    // Replayed: MD5 signs no time, so a replay is the genuine notify's very bytes.
    expect(personality.renderCallback('http://127.0.0.1:9000/payment/notify', notice, { kind: 'replayed', ageS: 3600 })).toEqual(genuine);
    const forged = personality.renderCallback('http://127.0.0.1:9000/payment/notify', notice, { kind: 'forged' });
    const forgedParams = Object.fromEntries(new URL(forged?.url ?? '').searchParams);
    expect(forgedParams.sign).toMatch(/^[0-9a-f]{32}$/);
    expect(forgedParams.sign).not.toBe(sign(forgedParams));
    // Altered: the order's money, a sign made over 0.01.
    const altered = personality.renderCallback('http://127.0.0.1:9000/payment/notify', notice, { kind: 'altered', signedAmount: 1 });
    const alteredParams = Object.fromEntries(new URL(altered?.url ?? '').searchParams);
    expect(alteredParams.money).toBe('30.00');
    expect(alteredParams.sign).not.toBe(sign(alteredParams));
    expect(alteredParams.sign).toBe(sign({ ...alteredParams, money: '0.01' }));
    // Epay notifies no failed payment.
    expect(personality.renderCallback('http://127.0.0.1:9000/payment/notify', { ...notice, status: 'PAY_FAILED', failCode: 'DECLINED' }, { kind: 'genuine' })).toBeUndefined();
  });
});

// ---- the merchant's requests --------------------------------------------------------------------

describe('epay submit.php, mapi.php and api.php', () => {
  it('submit.php by GET and by form POST: a good sign creates the trade and redirects to the cashier; a bad one shows epay\'s message', async () => {
    const world = await startEpay(mockScenario({ name: 'epay-submit' }));
    const receiver = await startNotifyReceiver(defer);

    const byGet = createParams(receiver.url, { type: 'wxpay' });
    const got = await fetch(`${world.url}/submit.php?${new URLSearchParams(byGet).toString()}`, { redirect: 'manual' });
    expect(got.status).toBe(302);
    const tradeNo = world.mocks.payment.tradeByOrder(byGet.out_trade_no ?? '')?.tradeNo ?? '';
    expect(got.headers.get('location')).toBe(`${world.url}/cashier/${tradeNo}`);
    expect(world.mocks.payment.tradeByOrder(byGet.out_trade_no ?? '')).toMatchObject({ amount: 3000, currency: 'CNY', subject: '1 × Monthly card', method: 'wechat', notifyUrl: receiver.url });
    // The cashier it leads to is Ordeal's, with the pay form.
    const page = await fetch(got.headers.get('location') ?? '');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Pay 30.00 CNY');

    const byPost = createParams(receiver.url);
    const posted = await fetch(`${world.url}/submit.php`, { ...form(byPost), redirect: 'manual' });
    expect(posted.status).toBe(302);
    expect(world.mocks.payment.tradeByOrder(byPost.out_trade_no ?? '')).toMatchObject({ amount: 3000, method: 'alipay' });

    for (const [how, init, url] of [
      ['GET', { redirect: 'manual' as const }, `${world.url}/submit.php?${new URLSearchParams({ ...createParams(receiver.url), sign: '0'.repeat(32) }).toString()}`],
      ['POST', { ...form({ ...createParams(receiver.url, { money: '0.01' }), money: '30.00' }), redirect: 'manual' as const }, `${world.url}/submit.php`],
    ] as const) {
      const refused = await fetch(url, init);
      expect(refused.status, how).toBe(200);
      expect(await refused.text(), how).toContain('签名校验失败，请返回重试！');
    }
    // Only the two good ones made trades.
    expect(eventsOf(world, 'payment.trade.created').map((event) => event.orderId)).toEqual([byGet.out_trade_no, byPost.out_trade_no]);
  });

  it('mapi.php answers JSON: code 1 with the cashier link; refusals with code -1 and epay\'s msg', async () => {
    const world = await startEpay(mockScenario({ name: 'epay-mapi' }));
    const receiver = await startNotifyReceiver(defer);

    const params = createParams(receiver.url);
    const created = await mapiCreate(world, params);
    expect(created).toEqual({ code: 1, trade_no: expect.stringMatching(/^T\d{10}$/), payurl: `${world.url}/cashier/${String(created.trade_no)}` });
    // The same order again: the same trade (as epay reuses an unpaid order).
    expect(await mapiCreate(world, params)).toEqual(created);
    // WeChat is paid by scanning: a qrcode.
    expect(await mapiCreate(world, createParams(receiver.url, { type: 'wxpay' }))).toMatchObject({ code: 1, qrcode: expect.stringContaining('/cashier/T') });

    // Signed for 1.00, sent for 30.00.
    const raw = await fetch(`${world.url}/mapi.php`, form({ ...params, sign: sign({ ...params, money: '1.00' }) }));
    expect(raw.headers.get('content-type')).toContain('application/json');
    expect(await raw.text()).toBe('{"code":-1,"msg":"签名校验失败，请返回重试！"}');
    expect(await mapiCreate(world, signed({ ...params, money: '31.00' }))).toEqual({ code: -1, msg: `该订单(${params.out_trade_no})支付参数有变化，请更换订单号重新发起支付` });
    expect(await mapiCreate(world, createParams(receiver.url, { clientip: '' }))).toEqual({ code: -1, msg: '用户IP地址(clientip)不能为空' });
    expect(await mapiCreate(world, createParams(receiver.url, { money: 'abc' }))).toEqual({ code: -1, msg: '金额不合法' });
    expect(await mapiCreate(world, createParams('http://203.0.113.9/notify'))).toEqual({ code: -1, msg: '该域名不可发起支付，原因：域名没过白，请前往支付平台授权支付域名' });
    expect(await mapiCreate(world, createParams(receiver.url, { pid: '2002' }))).toEqual({ code: -1, msg: '商户不存在！' });
    expect(await json(await fetch(`${world.url}/mapi.php`, form({ type: 'alipay' })))).toEqual({ code: -4 });
    // Refusals after the order is known are journaled as refused creates, protocol-neutrally.
    // (A bad signature, an unknown pid and a missing pid come before the order is known.)
    expect(eventsOf(world, 'payment.trade.refused').map((event) => event.code)).toEqual(['DUPLICATE_OUT_TRADE_NO', 'INVALID_REQUEST', 'INVALID_REQUEST', 'INVALID_REQUEST']);
  });

  it('api.php?act=order by out_trade_no or trade_no, with pid and key in plain text', async () => {
    const world = await startEpay(mockScenario({ name: 'epay-query' }));
    const receiver = await startNotifyReceiver(defer);
    const params = createParams(receiver.url);
    const created = await mapiCreate(world, params);

    const byOrder = await queryOrder(world, { out_trade_no: params.out_trade_no ?? '' });
    expect(byOrder).toEqual({
      code: 1,
      msg: 'succ',
      trade_no: created.trade_no,
      out_trade_no: params.out_trade_no,
      type: 'alipay',
      pid: 1001,
      addtime: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
      endtime: null,
      name: '1 × Monthly card',
      money: '30.00',
      param: null,
      buyer: null,
      status: 0,
    });
    expect(await queryOrder(world, { trade_no: String(created.trade_no) })).toEqual(byOrder);
    expect(await queryOrder(world, { trade_no: String(created.trade_no) }, 'wrong')).toEqual({ code: -3, msg: '商户密钥错误' });
    expect(await queryOrder(world, { trade_no: 'T9999999999' })).toEqual({ code: -1, msg: '订单号不存在' });
    expect(await queryOrder(world, {})).toEqual({ code: -4, msg: '订单号不能为空' });
    // api.php writes json_encode's escaped Unicode.
    const raw = await (await fetch(`${world.url}/api.php?act=order&pid=${PID}&key=${KEY}`)).text();
    expect(raw).toBe('{"code":-4,"msg":"\\u8ba2\\u5355\\u53f7\\u4e0d\\u80fd\\u4e3a\\u7a7a"}');
  });
});

// ---- a whole payment ----------------------------------------------------------------------------

describe('epay submit → cashier → notify → query → refund', () => {
  it('the buyer pays at the cashier; the shop gets a GET notify that verifies with the merchant key; the query says paid; one refund', async () => {
    const world = await startEpay(mockScenario({ name: 'epay-flow' }));
    const receiver = await startNotifyReceiver(defer);
    const params = createParams(receiver.url, { type: 'wxpay' });
    const submitted = await fetch(`${world.url}/submit.php`, { ...form(params), redirect: 'manual' });
    const cashier = submitted.headers.get('location') ?? '';
    const tradeNo = cashier.slice(cashier.lastIndexOf('/') + 1);

    const paid = await payAt(world, { payurl: cashier }, 'buyer-flow');
    expect(paid).toEqual({ status: 200, body: { status: 'TRADE_SUCCESS', tradeNo } });
    await waitForEvent(world, 'payment.callback.sent', (event) => event.orderId === params.out_trade_no && event.acked);

    expect(receiver.received).toHaveLength(1);
    const notify = receiver.received[0]!;
    expect(notify.method).toBe('GET');
    expect(notify.params).toEqual({
      money: '30.00',
      name: '1 × Monthly card',
      out_trade_no: params.out_trade_no,
      pid: PID,
      trade_no: tradeNo,
      trade_status: 'TRADE_SUCCESS',
      type: 'wxpay',
      sign: sign(notify.params),
      sign_type: 'MD5',
    });

    expect(await queryOrder(world, { trade_no: tradeNo })).toMatchObject({ status: 1, buyer: 'buyer-flow', endtime: expect.stringMatching(/^\d{4}-/) });

    const refund = (fields: Record<string, string>): Promise<Record<string, unknown>> =>
      fetch(`${world.url}/api.php?act=refund`, form({ pid: PID, key: KEY, ...fields })).then(json);
    expect(await refund({ trade_no: tradeNo, money: '31.00' })).toEqual({ code: -1, msg: '退款金额不能大于订单金额' });
    expect(await refund({ out_trade_no: params.out_trade_no ?? '', money: '30.00' })).toEqual({ code: 1, msg: '退款成功', money: '30.00' });
    // Epay refunds a trade once: its status is 2 now.
    expect(await refund({ trade_no: tradeNo, money: '30.00' })).toEqual({ code: -1, msg: '只支持退款已支付状态的订单' });
    expect(await queryOrder(world, { trade_no: tradeNo })).toMatchObject({ status: 2 });
    expect(eventsOf(world, 'payment.refund').map(({ amount, ok, repeat }) => ({ amount, ok, repeat }))).toEqual([
      { amount: 3100, ok: false, repeat: false },
      { amount: 3000, ok: true, repeat: false },
      { amount: 3000, ok: true, repeat: true },
    ]);
  });

  it('the shop\'s own client accepts the genuine notify and refuses a forged and a tampered one', async () => {
    // Every trade gets a forgery 400 ms after its creation, unless paid by then (as the first one is at once).
    const world = await startEpay(mockScenario({ name: 'epay-verify', faults: [{ id: 'payment.callback.forged', probability: 1, after: 400 }] }));
    const receiver = await startNotifyReceiver(defer);
    const paidParams = createParams(receiver.url);
    const created = await mapiCreate(world, paidParams);
    await payAt(world, created, 'buyer-paid');
    const genuine = await waitForEvent(world, 'payment.callback.sent', (event) => event.orderId === paidParams.out_trade_no && event.forgery === undefined);
    const unpaidParams = createParams(receiver.url);
    await mapiCreate(world, unpaidParams);
    await waitForEvent(world, 'payment.callback.sent', (event) => event.orderId === unpaidParams.out_trade_no && event.forgery === 'forged');

    const query = (tradeNo: string): Promise<QueryTradeResult> =>
      Promise.resolve({ kind: 'found', trade: { tradeNo, outTradeNo: '', amount: 3000, result: { kind: 'paid', captured: 3000 }, refunded: 0 } });
    const shop = new EpayNotifyEndpoint(KEY, query);
    const checks = { signature: true, freshness: false };
    const real = receiver.received.find((notify) => notify.params.out_trade_no === paidParams.out_trade_no)!;
    expect(real.params.trade_no).toBe(genuine.tradeNo);
    expect(await shop.read(notifyRequest(real), checks)).toEqual({
      kind: 'callback',
      callback: { tradeNo: genuine.tradeNo, outTradeNo: paidParams.out_trade_no, result: { kind: 'paid', captured: 3000 } },
    });

    const forged = receiver.received.find((notify) => notify.params.out_trade_no === unpaidParams.out_trade_no)!;
    expect(forged.params.sign).not.toBe(sign(forged.params));
    expect(await shop.read(notifyRequest(forged), checks)).toMatchObject({ kind: 'bad_signature' });

    const tampered = { ...real, params: { ...real.params, money: '0.01' } };
    expect(await shop.read(notifyRequest(tampered), checks)).toMatchObject({ kind: 'bad_signature' });
    // A shop that checks no signature believes them all (the no-signature-check flaw).
    expect(await shop.read(notifyRequest(forged), { signature: false, freshness: true })).toMatchObject({ kind: 'callback' });
    // The answers epay understands.
    expect(EPAY_ACK.acknowledged(200, shop.acknowledge().body)).toBe(true);
    expect(EPAY_ACK.acknowledged(200, shop.refuse(401).body)).toBe(false);
  });

  it('a replayed notify verifies; the shop\'s freshness check asks api.php and refuses it for an unpaid trade', async () => {
    const world = await startEpay(mockScenario({ name: 'epay-replay', faults: [{ id: 'payment.callback.replayed', probability: 1, after: 50 }] }));
    const receiver = await startNotifyReceiver(defer);
    const params = createParams(receiver.url);
    const created = await mapiCreate(world, params);
    await waitForEvent(world, 'payment.callback.sent', (event) => event.forgery === 'replayed');
    const replay = receiver.received[0]!;
    expect(replay.params.sign).toBe(sign(replay.params));
    expect(faultsOf(world, 'payment.callback.replayed', params.out_trade_no)).toHaveLength(1);

    // The shop's own query, against the personality.
    const confirm = async (tradeNo: string): Promise<QueryTradeResult> => {
      const body = await queryOrder(world, { trade_no: tradeNo });
      const paid = body.status === 1 || body.status === 2;
      return { kind: 'found', trade: { tradeNo, outTradeNo: String(body.out_trade_no), amount: 3000, result: paid ? { kind: 'paid', captured: 3000 } : { kind: 'unpaid' }, refunded: 0 } };
    };
    const shop = new EpayNotifyEndpoint(KEY, confirm);
    expect(await shop.read(notifyRequest(replay), { signature: true, freshness: false })).toMatchObject({ kind: 'callback' });
    expect(await shop.read(notifyRequest(replay), { signature: true, freshness: true })).toMatchObject({ kind: 'bad_signature', detail: expect.stringContaining('unpaid') });
    // Once the buyer really pays, the same notify is confirmed.
    await payAt(world, created, 'buyer-replay');
    expect(await shop.read(notifyRequest(replay), { signature: true, freshness: true })).toMatchObject({ kind: 'callback' });
  });
});

// ---- acknowledgement ----------------------------------------------------------------------------

describe('epay acknowledgement', () => {
  it('a body containing success, SUCCESS or Success, whatever the HTTP status; nothing else', () => {
    expect(EPAY_ACK.readBody).toBe(true);
    expect(['success', 'SUCCESS', 'Success', '{"result":"success"}', 'ok success'].map((body) => EPAY_ACK.acknowledged(500, body))).toEqual([true, true, true, true, true]);
    expect(['fail', '', 'ok', 'sUccess', 'SUCCES'].map((body) => EPAY_ACK.acknowledged(200, body))).toEqual([false, false, false, false, false]);
    expect(EPAY_RETRY_GAPS_MS).toEqual([60_000, 120_000, 960_000, 2_160_000]);
  });

  it('a body `fail` is retried; `SUCCESS` ends it', async () => {
    const world = await startEpay(mockScenario({ name: 'epay-ack' }), [20, 20, 20, 20]);
    const receiver = await startNotifyReceiver(defer, ['fail', 'SUCCESS']);
    const params = createParams(receiver.url);
    await payAt(world, await mapiCreate(world, params), 'buyer-ack');
    await waitForEvents(world, 'payment.callback.sent', (event) => event.orderId === params.out_trade_no, 2);
    await world.mocks.callbacksIdle();
    expect(eventsOf(world, 'payment.callback.sent', params.out_trade_no).map(({ attempt, acked }) => ({ attempt, acked }))).toEqual([
      { attempt: 1, acked: false },
      { attempt: 2, acked: true },
    ]);
    expect(receiver.received.map((notify) => notify.target)).toEqual([receiver.received[0]!.target, receiver.received[0]!.target]);
  });
});

// ---- faults -------------------------------------------------------------------------------------

describe('epay fault forms', () => {
  it('names every payment fault, in epay\'s words or as inexpressible', () => {
    expect(Object.keys(EPAY_FAULT_FORMS).sort()).toEqual(Object.keys(NATIVE_FAULT_FORMS).sort());
    for (const [fault, form] of Object.entries(EPAY_FAULT_FORMS)) expect('shopSees' in form ? form.shopSees : form.inexpressible, fault).not.toBe('');
    expect(EPAY_FAULT_FORMS['payment.error']).toEqual({ shopSees: expect.stringContaining('创建订单失败，请返回重试！') });
    expect(EPAY_FAULT_FORMS['payment.decline']).toEqual({ inexpressible: expect.stringContaining('status: 0') });
  });

  it('limit and decline: the cashier refuses, no notify goes out, the query stays at status 0', async () => {
    for (const fault of [{ id: 'payment.limit.single', probability: 1 }, { id: 'payment.decline', probability: 1 }]) {
      const world = await startEpay(mockScenario({ name: `epay-${fault.id}`, faults: [fault] }));
      const receiver = await startNotifyReceiver(defer);
      const params = createParams(receiver.url);
      const created = await mapiCreate(world, params);
      const paid = await payAt(world, created, `buyer-${fault.id}`);
      expect(paid.body, fault.id).toMatchObject({ status: 'PAY_FAILED' });
      await waitForEvent(world, 'payment.trade.pay_failed');
      await world.mocks.callbacksIdle();
      expect(eventsOf(world, 'payment.callback.sent'), fault.id).toEqual([]);
      expect(receiver.received, fault.id).toEqual([]);
      expect(await queryOrder(world, { trade_no: String(created.trade_no) }), fault.id).toMatchObject({ code: 1, status: 0 });
    }
  });

  it('system errors: mapi.php\'s own message on create; nginx\'s 502 on the query; the refund\'s 退款失败', async () => {
    const world = await startEpay(
      mockScenario({
        name: 'epay-errors',
        faults: [
          { id: 'payment.error', probability: 1, routes: ['create'], times: 1 },
          { id: 'payment.error', probability: 1, routes: ['query'], status: 429, times: 1 },
          { id: 'payment.query.error', probability: 1, times: 1 },
          { id: 'payment.refund.error', probability: 1, times: 1 },
        ],
      }),
    );
    const receiver = await startNotifyReceiver(defer);
    const params = createParams(receiver.url);
    const first = await fetch(`${world.url}/mapi.php`, form(params));
    expect(first.status).toBe(200);
    expect(await first.text()).toBe('{"code":-1,"msg":"创建订单失败，请返回重试！"}');
    const created = await mapiCreate(world, params);
    expect(created).toMatchObject({ code: 1 });
    const tradeNo = String(created.trade_no);

    const url = `${world.url}/api.php?${new URLSearchParams({ act: 'order', pid: PID, key: KEY, trade_no: tradeNo }).toString()}`;
    const limited = await fetch(url);
    expect(limited.status).toBe(503);
    expect(await limited.text()).toContain('503 Service Temporarily Unavailable');
    const down = await fetch(url);
    expect(down.status).toBe(502);
    expect(await down.text()).toContain('<center><h1>502 Bad Gateway</h1></center>');
    expect(await json(await fetch(url))).toMatchObject({ code: 1, status: 0 });

    await payAt(world, created, 'buyer-errors');
    const refund = (): Promise<Record<string, unknown>> => fetch(`${world.url}/api.php?act=refund`, form({ pid: PID, key: KEY, trade_no: tradeNo, money: '30.00' })).then(json);
    expect(await refund()).toEqual({ code: -1, msg: '退款失败：[SYSTEM_ERROR]系统繁忙，请稍后再试' });
    expect(await refund()).toEqual({ code: 1, msg: '退款成功', money: '30.00' });
  });

  it('forged and underpaid notifies as the shop receives them (replayed: above)', async () => {
    const world = await startEpay(
      mockScenario({
        name: 'epay-notifies',
        faults: [
          { id: 'payment.callback.forged', probability: 1, after: 400 },
          { id: 'payment.callback.underpaid', probability: 1, paidShare: 0.9 },
        ],
      }),
    );
    const receiver = await startNotifyReceiver(defer);
    const forgedOrder = createParams(receiver.url);
    await mapiCreate(world, forgedOrder);
    await waitForEvent(world, 'payment.callback.sent', (event) => event.forgery === 'forged');
    const forged = receiver.received.find((notify) => notify.params.out_trade_no === forgedOrder.out_trade_no)!;
    expect(forged.params).toMatchObject({ trade_status: 'TRADE_SUCCESS', money: '30.00' });
    expect(forged.params.sign).not.toBe(sign(forged.params));

    const short = createParams(receiver.url);
    await payAt(world, await mapiCreate(world, short), 'buyer-short');
    await waitForEvent(world, 'payment.callback.sent', (event) => event.orderId === short.out_trade_no);
    const underpaid = receiver.received.find((notify) => notify.params.out_trade_no === short.out_trade_no)!;
    expect(underpaid.params).toMatchObject({ trade_status: 'TRADE_SUCCESS', money: '27.00' });
    expect(underpaid.params.sign).toBe(sign(underpaid.params));
  });
});

// ---- the reference shop, end to end -------------------------------------------------------------

describe('ordeal run with protocol epay', () => {
  const input = {
    name: 'epay-attacks',
    seed: 23,
    catalog: { skus: [{ sku: 'MONTH_CARD', name: 'Monthly card', price: 3000, stock: 500 }] },
    shop: { orderTtl: '2s', reconcileAfter: '600ms', reconcileEvery: '400ms' },
    load: { stages: [{ rate: '10/s', duration: '2s' }], maxInFlight: 100 },
    faults: [
      { id: 'payment.callback.forged', probability: 0.15, after: '300ms' },
      { id: 'payment.callback.replayed', probability: 0.15, after: '300ms' },
      { id: 'payment.callback.tampered', probability: 0.15, paidAmount: 1 },
      { id: 'payment.callback.duplicate', probability: 0.2 },
      { id: 'payment.callback.drop', probability: 0.15 },
      // epay cannot express a decline: never injected, and the report says so.
      { id: 'payment.decline', probability: 0.3 },
    ],
    gate: { minScore: 80, steadyState: { successRate: 0.99 } },
    settle: '5s',
  };
  const scenario = scenarioSchema.parse(input);

  it('the resilient shop passes; the naive one fails the gate; without the replay check (the query) replays deliver', async () => {
    const work = await tempDir('ordeal-epay-');
    defer(() => work.remove());
    const runWith = (flaws: string[]) =>
      run({ scenarios: [{ file: 'epay-attacks.yaml', scenario, input }], outDir: `${work.path}/${flaws.join('-') || 'resilient'}`, protocol: 'epay', flaws });
    const [resilient, naive, noReplayCheck] = await Promise.all([runWith([]), runWith(['naive']), runWith(['no-replay-check'])]);
    const [scored] = resilient.report.scenarios;
    expect(resilient.report.gate.reasons, resilient.summary).toEqual([]);
    expect(resilient.report.gate.passed).toBe(true);
    expect(naive.report.gate.passed, naive.summary).toBe(false);
    // Each fault hit orders under epay, and the resilient shop handled them.
    const classes = new Set<string>(scored?.incidents.map((incident) => incident.class) ?? []);
    for (const fault of ['payment.callback.forged', 'payment.callback.replayed', 'payment.callback.tampered', 'payment.callback.duplicate', 'payment.callback.drop']) {
      expect(classes.has(fault), fault).toBe(true);
    }
    expect(scored?.provider).toEqual({
      protocol: 'epay',
      notInjected: [{ faultIndex: 5, fault: 'payment.decline', reason: (EPAY_FAULT_FORMS['payment.decline'] as { inexpressible: string }).inexpressible }],
    });
    expect(classes.has('payment.decline')).toBe(false);
    expect(resilient.summary).toContain('payment.decline not injected: epay cannot express it');
    // MD5 signs no time: a shop that believes every verified notify delivers the replays, and only those.
    expect(noReplayCheck.report.gate.passed, noReplayCheck.summary).toBe(false);
    const incidents = noReplayCheck.report.scenarios[0]?.incidents ?? [];
    const replays = incidents.filter((incident) => incident.class === 'payment.callback.replayed');
    expect(replays.map((incident) => incident.score)).toEqual(replays.map(() => 0));
    const replayedOrders = new Set(replays.map((incident) => incident.orderId));
    const forgeriesAlone = incidents.filter((incident) => incident.class === 'payment.callback.forged' && !replayedOrders.has(incident.orderId));
    expect(forgeriesAlone.length).toBeGreaterThan(0);
    expect(forgeriesAlone.map((incident) => incident.score)).toEqual(forgeriesAlone.map(() => 1));
  }, 30_000);
});
