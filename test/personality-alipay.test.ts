/**
 * The Alipay personality judged by the official npm client `alipay-sdk` 4.x, over real sockets:
 * `exec` with `validateSign: true` against `gateway.do` (precreate, create, query, close, refund,
 * refund query), `pageExec` links and forms for page.pay / wap.pay, `checkNotifySign` on the
 * notifies Ordeal sends — each accepting the good messages and rejecting the altered, forged and
 * wrongly signed ones — every fault in Alipay's codes, and a whole run with the reference shop.
 */
import { generateKeyPairSync } from 'node:crypto';
// Before alipay-sdk: the run below shares this process with urllib's socket hook.
import { repairSocketDestroy } from '../shop/payment/socket-destroy-guard.js';
import { AlipaySdk, type AlipaySdkCommonResult, type AlipaySdkConfig } from 'alipay-sdk';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { MemoryJournal } from '../core/journal.js';
import { scenarioSchema } from '../core/scenario-schema.js';
import { run } from '../harness/drive/run.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { startMocks, type MockSet } from '../mocks/index.js';
import { newChannel, type AlipayCredentials } from '../mocks/payment/credentials.js';
import type { PaymentNotice } from '../mocks/payment/notices.js';
import { ALIPAY_FAULT_FORMS } from '../mocks/payment/personalities/alipay-codes.js';
import { beijingTime, parseBeijingTime } from '../mocks/payment/personalities/alipay-wire.js';
import { ALIPAY_RETRY_GAPS_MS, AlipayPersonality } from '../mocks/payment/personalities/alipay.js';
import { NATIVE_FAULT_FORMS } from '../mocks/payment/personalities/native-fault-forms.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { tempDir } from './helpers/cli.js';
import { call } from './helpers/http.js';
import { eventsOf, faultsOf, waitForEvent, waitForEvents } from './helpers/journal.js';
import { listenOnLoopback, mockScenario, trustMocks } from './helpers/mocks.js';

repairSocketDestroy();

const defer = cleanupAfterEach();

/** One set of run credentials for every world here (2048-bit keys take a while to make). */
const CHANNEL = newChannel('alipay');
if (CHANNEL.protocol !== 'alipay') throw new Error('expected Alipay credentials');
const CREDENTIALS: AlipayCredentials = CHANNEL.credentials;
/** A key pair that is neither the merchant's nor the gateway's. */
const STRANGER = generateKeyPairSync('rsa', { modulusLength: 2048 });
const STRANGER_PRIVATE = STRANGER.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const STRANGER_PUBLIC = STRANGER.publicKey.export({ type: 'spki', format: 'pem' }).toString();

interface AlipayWorld {
  mocks: MockSet;
  journal: MemoryJournal;
  gateway: string;
}

async function startAlipay(faults: unknown[] = []): Promise<AlipayWorld> {
  const scenario = mockScenario({ name: 'alipay', faults });
  const journal = new MemoryJournal();
  const plan = new FaultPlan(scenario.faults, scenario.seed);
  // Short retry gaps: the real schedule's compression is checked on its own.
  const mocks = await startMocks({ scenario, journal, plan, channel: CHANNEL, callbackRetryDelays: [40, 40] });
  defer(() => mocks.close());
  trustMocks(defer, mocks);
  return { mocks, journal, gateway: `${mocks.urls.payment}/gateway.do` };
}

/** The official client as a shop configures it; `overrides` swap a key or the gateway. */
function sdkFor(world: AlipayWorld, overrides: Partial<AlipaySdkConfig> = {}): AlipaySdk {
  return new AlipaySdk({
    appId: CREDENTIALS.appId,
    privateKey: CREDENTIALS.merchantPrivateKey,
    alipayPublicKey: CREDENTIALS.alipayPublicKey,
    gateway: world.gateway,
    keyType: 'PKCS8',
    timeout: 3000,
    ...overrides,
  });
}

function exec(sdk: AlipaySdk, method: string, bizContent: Record<string, unknown>, extra: Record<string, string> = {}): Promise<AlipaySdkCommonResult> {
  return sdk.exec(method, { ...extra, bizContent }, { validateSign: true });
}

interface ReceivedNotify {
  fields: Record<string, string>;
  contentType: string;
}

/** The shop's notify_url: records each notify and answers what `answer` says (`success` by default). */
async function startNotifyReceiver(answer: (fields: Record<string, string>) => string = () => 'success'): Promise<{ url: string; received: ReceivedNotify[] }> {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  const received: ReceivedNotify[] = [];
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  app.post('/alipay/notify', (request, reply) => {
    const fields = Object.fromEntries(new URLSearchParams(String(request.body)));
    received.push({ fields, contentType: String(request.headers['content-type']) });
    return reply.code(200).type('text/plain').send(answer(fields));
  });
  return { url: `${await listenOnLoopback(app, defer)}/alipay/notify`, received };
}

let orderSeq = 0;

/** A precreate for a fresh order (A-n) and payer (buyer-n); `biz` adds or replaces fields. */
async function precreate(sdk: AlipaySdk, notifyUrl: string, biz: Record<string, unknown> = {}): Promise<{ outTradeNo: string; payerId: string; result: AlipaySdkCommonResult }> {
  orderSeq += 1;
  const outTradeNo = `A-${orderSeq}`;
  const payerId = `buyer-${orderSeq}`;
  const result = await exec(
    sdk,
    'alipay.trade.precreate',
    { outTradeNo, totalAmount: '30.00', subject: 'Monthly card', businessParams: { ordeal_payer_id: payerId }, ...biz },
    { notifyUrl },
  );
  return { outTradeNo, payerId, result };
}

/** The buyer pays at the link Alipay's answer gave. */
function payAt(link: unknown, payerId: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return call('POST', `${String(link)}/pay`, { payerId, method: 'alipay' });
}

describe('alipay-sdk exec against gateway.do', () => {
  it('precreate, pay at the qr_code, query, refund, refund query and close: every answer signed as the client verifies it', async () => {
    const world = await startAlipay();
    const sdk = sdkFor(world);
    const { url } = await startNotifyReceiver();
    const { outTradeNo, payerId, result } = await precreate(sdk, url);
    expect(result).toMatchObject({ code: '10000', msg: 'Success', outTradeNo });
    expect(String(result.qrCode)).toMatch(new RegExp(`^${world.mocks.urls.payment}/cashier/T\\d{10}$`));

    expect(await exec(sdk, 'alipay.trade.query', { outTradeNo })).toMatchObject({ code: '10000', tradeStatus: 'WAIT_BUYER_PAY', totalAmount: '30.00', buyerPayAmount: '0.00' });
    expect((await payAt(result.qrCode, payerId)).body).toMatchObject({ status: 'TRADE_SUCCESS' });
    const paid = await exec(sdk, 'alipay.trade.query', { outTradeNo });
    expect(paid).toMatchObject({ code: '10000', tradeStatus: 'TRADE_SUCCESS', totalAmount: '30.00', receiptAmount: '30.00', outTradeNo });
    expect(parseBeijingTime(paid.sendPayDate)).toBeGreaterThan(Date.now() - 60_000);
    const tradeNo = String(paid.tradeNo);
    // By trade_no too, which wins over out_trade_no.
    expect(await exec(sdk, 'alipay.trade.query', { tradeNo, outTradeNo: 'another' })).toMatchObject({ code: '10000', outTradeNo, tradeStatus: 'TRADE_SUCCESS' });

    expect(await exec(sdk, 'alipay.trade.refund', { outTradeNo, refundAmount: '10.00', outRequestNo: 'R1' })).toMatchObject({ code: '10000', fundChange: 'Y', refundFee: '10.00', tradeNo });
    // The same out_request_no again moves no money.
    expect(await exec(sdk, 'alipay.trade.refund', { outTradeNo, refundAmount: '10.00', outRequestNo: 'R1' })).toMatchObject({ code: '10000', fundChange: 'N', refundFee: '10.00' });
    expect(await exec(sdk, 'alipay.trade.refund', { tradeNo, refundAmount: '25.00', outRequestNo: 'R2' })).toMatchObject({
      code: '40004',
      msg: 'Business Failed',
      subCode: 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL',
    });
    expect(await exec(sdk, 'alipay.trade.fastpay.refund.query', { outTradeNo, outRequestNo: 'R1' })).toMatchObject({
      code: '10000',
      outRequestNo: 'R1',
      refundAmount: '10.00',
      totalAmount: '30.00',
      refundStatus: 'REFUND_SUCCESS',
    });
    // A refund that never happened: a success without refund fields, as Alipay answers.
    const none = await exec(sdk, 'alipay.trade.fastpay.refund.query', { outTradeNo, outRequestNo: 'R2' });
    expect(none).toMatchObject({ code: '10000', outRequestNo: 'R2' });
    expect(none.refundAmount).toBeUndefined();

    // Only an unpaid trade closes.
    expect(await exec(sdk, 'alipay.trade.close', { outTradeNo })).toMatchObject({ code: '40004', subCode: 'ACQ.TRADE_STATUS_ERROR' });
    // Refunded in full, the trade shows closed.
    expect(await exec(sdk, 'alipay.trade.refund', { outTradeNo, refundAmount: '20.00', outRequestNo: 'R3' })).toMatchObject({ code: '10000', refundFee: '30.00' });
    expect(await exec(sdk, 'alipay.trade.query', { outTradeNo })).toMatchObject({ code: '10000', tradeStatus: 'TRADE_CLOSED' });
  });

  it('create answers the trade_no; a closed trade stays closed; an unknown one does not exist', async () => {
    const world = await startAlipay();
    const sdk = sdkFor(world);
    const { url } = await startNotifyReceiver();
    const created = await exec(sdk, 'alipay.trade.create', { outTradeNo: 'C-1', totalAmount: '68.00', subject: '680 gems', buyerId: 'buyer-c1' }, { notifyUrl: url });
    expect(created).toMatchObject({ code: '10000', outTradeNo: 'C-1' });
    const tradeNo = String(created.tradeNo);
    expect(world.mocks.payment.trade(tradeNo)).toMatchObject({ outTradeNo: 'C-1', amount: 6800, payer: { id: 'buyer-c1' } });

    expect(await exec(sdk, 'alipay.trade.close', { tradeNo })).toMatchObject({ code: '10000', tradeNo, outTradeNo: 'C-1' });
    expect(await exec(sdk, 'alipay.trade.query', { tradeNo })).toMatchObject({ code: '10000', tradeStatus: 'TRADE_CLOSED' });
    // The buyer is too late; the shop asking again for the same order is told it is closed.
    expect((await payAt(`${world.mocks.urls.payment}/cashier/${tradeNo}`, 'buyer-c1')).body).toMatchObject({ code: 'TRADE_CLOSED' });
    const again = await exec(sdk, 'alipay.trade.create', { outTradeNo: 'C-1', totalAmount: '68.00', subject: '680 gems' }, { notifyUrl: url });
    expect(again).toMatchObject({ code: '40004', subCode: 'ACQ.TRADE_HAS_CLOSE' });
    // The same order with another amount.
    expect(await exec(sdk, 'alipay.trade.precreate', { outTradeNo: 'C-1', totalAmount: '1.00', subject: 'x' }, { notifyUrl: url })).toMatchObject({
      code: '40004',
      subCode: 'ACQ.CONTEXT_INCONSISTENT',
    });

    for (const method of ['alipay.trade.query', 'alipay.trade.close', 'alipay.trade.refund']) {
      expect(await exec(sdk, method, { outTradeNo: 'nope', refundAmount: '1.00' }), method).toMatchObject({ code: '40004', subCode: 'ACQ.TRADE_NOT_EXIST' });
    }
    expect(await exec(sdk, 'alipay.trade.precreate', { outTradeNo: 'C-2', totalAmount: '12.345', subject: 'x' }, { notifyUrl: url })).toMatchObject({
      code: '40004',
      subCode: 'ACQ.INVALID_PARAMETER',
    });
  });

  it('time_expire and timeout_express become the trade\'s expiry', async () => {
    const world = await startAlipay();
    const sdk = sdkFor(world);
    const { url } = await startNotifyReceiver();
    const closesAt = Math.ceil((Date.now() + 90_000) / 1000) * 1000;
    const byTime = await precreate(sdk, url, { timeExpire: beijingTime(closesAt) });
    const byDuration = await precreate(sdk, url, { timeoutExpress: '2h' });
    const tradeOf = (outTradeNo: string): { createdAt: string; expiresAt: string } => world.mocks.payment.tradeByOrder(outTradeNo)!;
    expect(Math.abs(Date.parse(tradeOf(byTime.outTradeNo).expiresAt) - closesAt)).toBeLessThan(50);
    const { createdAt, expiresAt } = tradeOf(byDuration.outTradeNo);
    expect(Date.parse(expiresAt) - Date.parse(createdAt)).toBe(2 * 3_600_000);
    expect((await precreate(sdk, url, { timeExpire: '2020-01-01 00:00:00' })).result).toMatchObject({ code: '40004', subCode: 'ACQ.INVALID_PARAMETER' });
  });

  it('page.pay by a GET link and wap.pay by a POST form send the buyer\'s browser to the cashier', async () => {
    const world = await startAlipay();
    const sdk = sdkFor(world);
    const { url } = await startNotifyReceiver();
    const link = sdk.pageExec('alipay.trade.page.pay', 'GET', { notifyUrl: url, bizContent: { outTradeNo: 'P-1', totalAmount: '30.00', subject: 'Monthly card', productCode: 'FAST_INSTANT_TRADE_PAY' } });
    expect(link.startsWith(`${world.gateway}?`)).toBe(true);
    const redirected = await fetch(link, { redirect: 'manual' });
    expect(redirected.status).toBe(302);
    const cashier = redirected.headers.get('location') ?? '';
    expect(cashier).toBe(`${world.mocks.urls.payment}/cashier/${world.mocks.payment.tradeByOrder('P-1')?.tradeNo}`);
    const page = await fetch(cashier);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Pay 30.00 CNY');

    const form = sdk.pageExec('alipay.trade.wap.pay', 'POST', { notifyUrl: url, bizContent: { outTradeNo: 'P-2', totalAmount: '12.00', subject: 'Top-up', productCode: 'QUICK_WAP_WAY' } });
    const action = /action="([^"]+)"/.exec(form)?.[1] ?? '';
    const fields = new URLSearchParams();
    for (const match of form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)" \/>/g)) fields.set(match[1] ?? '', (match[2] ?? '').replaceAll('&quot;', '"'));
    expect(fields.get('biz_content')).toContain('"out_trade_no":"P-2"');
    const posted = await fetch(action, { method: 'POST', body: fields, redirect: 'manual' });
    expect(posted.status).toBe(302);
    expect(world.mocks.payment.tradeByOrder('P-2')).toMatchObject({ amount: 1200, status: 'WAIT_BUYER_PAY' });

    // A wrongly signed page payment shows Alipay's error page, and no trade is made.
    const forged = new AlipaySdk({ appId: CREDENTIALS.appId, privateKey: STRANGER_PRIVATE, gateway: world.gateway, keyType: 'PKCS8' });
    const refused = await fetch(forged.pageExec('alipay.trade.page.pay', 'GET', { notifyUrl: url, bizContent: { outTradeNo: 'P-3', totalAmount: '1.00', subject: 'x' } }), { redirect: 'manual' });
    expect(refused.status).toBe(200);
    expect(await refused.text()).toContain('isv.invalid-signature');
    expect(world.mocks.payment.tradeByOrder('P-3')).toBeUndefined();
  });

  it('the client rejects an answer altered on the way, or signed with a key that is not Alipay\'s', async () => {
    const world = await startAlipay();
    const { url } = await startNotifyReceiver();
    const created = await precreate(sdkFor(world), url);
    expect(created.result.code).toBe('10000');

    // A loopback relay that forwards each request and turns an unpaid trade into a paid one.
    const relay = Fastify({ logger: false, forceCloseConnections: true });
    relay.removeAllContentTypeParsers();
    relay.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    relay.post('/gateway.do', async (request, reply) => {
      const answer = await fetch(`${world.mocks.urls.payment}${request.url}`, {
        method: 'POST',
        headers: { 'content-type': String(request.headers['content-type']) },
        body: String(request.body),
      });
      const text = (await answer.text()).replace('WAIT_BUYER_PAY', 'TRADE_SUCCESS');
      return reply.code(answer.status).type('application/json').send(text);
    });
    const relayed = sdkFor(world, { gateway: `${await listenOnLoopback(relay, defer)}/gateway.do` });
    await expect(exec(relayed, 'alipay.trade.query', { outTradeNo: created.outTradeNo })).rejects.toThrow(/验签失败/);
    // Without checking, the same client believes the altered answer: the check is what caught it.
    expect(await relayed.exec('alipay.trade.query', { bizContent: { outTradeNo: created.outTradeNo } })).toMatchObject({ tradeStatus: 'TRADE_SUCCESS' });

    // A shop configured with another "Alipay public key" trusts no answer of this gateway.
    const misconfigured = sdkFor(world, { alipayPublicKey: STRANGER_PUBLIC });
    await expect(exec(misconfigured, 'alipay.trade.query', { outTradeNo: created.outTradeNo })).rejects.toThrow(/验签失败/);
  });

  it('refuses a request signed with another merchant key (40002 isv.invalid-signature), another app_id, an unknown method', async () => {
    const world = await startAlipay();
    const { url } = await startNotifyReceiver();
    const impostor = sdkFor(world, { privateKey: STRANGER_PRIVATE });
    const refused = await exec(impostor, 'alipay.trade.precreate', { outTradeNo: 'X-1', totalAmount: '30.00', subject: 'x' }, { notifyUrl: url });
    // Refused in Alipay's words, under the method's key and signed, so validateSign passes.
    expect(refused).toMatchObject({ code: '40002', msg: 'Invalid Arguments', subCode: 'isv.invalid-signature' });
    expect(world.mocks.payment.tradeByOrder('X-1')).toBeUndefined();
    expect(eventsOf(world.journal, 'payment.trade.created')).toEqual([]);

    const otherApp = sdkFor(world, { appId: '2021000000000000' });
    expect(await exec(otherApp, 'alipay.trade.query', { outTradeNo: 'X-1' })).toMatchObject({ code: '40002', subCode: 'isv.invalid-app-id' });

    // A method the gateway does not know is answered in error_response, which the client returns unverified.
    expect(await sdkFor(world).exec('alipay.trade.pay.nothing', { bizContent: {} })).toMatchObject({ code: '40002', subCode: 'isv.invalid-method' });
  });
});

describe('Alipay notifies and alipay-sdk checkNotifySign', () => {
  it('sends the genuine notify as a signed form POST; only the literal `success` stops the retries', async () => {
    const world = await startAlipay();
    const sdk = sdkFor(world);
    const answers = ['fail', 'success '];
    const receiver = await startNotifyReceiver(() => answers.shift() ?? 'success');
    const { outTradeNo, payerId, result } = await precreate(sdk, receiver.url);
    await payAt(result.qrCode, payerId);
    const sent = await waitForEvents(world.journal, 'payment.callback.sent', (event) => event.orderId === outTradeNo, 3);
    expect(sent.map((event) => event.acked)).toEqual([false, false, true]);
    expect(new Set(sent.map((event) => event.notifyId)).size).toBe(1);

    const notify = receiver.received[2]!;
    expect(notify.contentType).toContain('application/x-www-form-urlencoded');
    expect(notify.fields).toMatchObject({
      notify_type: 'trade_status_sync',
      app_id: CREDENTIALS.appId,
      out_trade_no: outTradeNo,
      trade_status: 'TRADE_SUCCESS',
      total_amount: '30.00',
      receipt_amount: '30.00',
      sign_type: 'RSA2',
      notify_id: sent[0]!.notifyId,
    });
    expect(Math.abs((parseBeijingTime(notify.fields.notify_time) ?? 0) - Date.now())).toBeLessThan(10_000);
    expect(sdk.checkNotifySign(notify.fields)).toBe(true);
    expect(sdk.checkNotifySignV2(notify.fields)).toBe(true);
    // Signed without sign_type, as Alipay does: the client's second try is the one that verifies.
    const { sign_type: _signType, ...withoutSignType } = notify.fields;
    expect(sdk.checkNotifySign(withoutSignType)).toBe(true);

    const personality = new AlipayPersonality({ credentials: CREDENTIALS });
    expect(personality.callbackAck.readBody).toBe(true);
    expect(['success', 'success\n', 'SUCCESS', 'fail', ''].map((body) => personality.callbackAck.acknowledged(200, body))).toEqual([true, false, false, false, false]);
    expect(personality.callbackAck.acknowledged(500, 'success')).toBe(false);
  });

  it('rejects a notify signed with another key (sent over the wire) and one changed after signing', async () => {
    const world = await startAlipay([{ id: 'payment.callback.forged', probability: 1, after: '30ms' }]);
    const sdk = sdkFor(world);
    const receiver = await startNotifyReceiver((fields) => (sdk.checkNotifySign(fields) ? 'success' : 'failure'));
    const { outTradeNo } = await precreate(sdk, receiver.url);
    const forged = await waitForEvents(world.journal, 'payment.callback.sent', (event) => event.orderId === outTradeNo && event.forgery === 'forged', 3);
    expect(forged.every((event) => !event.acked)).toBe(true);
    const delivered = receiver.received[0]!.fields;
    expect(delivered).toMatchObject({ out_trade_no: outTradeNo, trade_status: 'TRADE_SUCCESS', app_id: CREDENTIALS.appId });
    expect(sdk.checkNotifySign(delivered)).toBe(false);
    // A well-formed RSA2 signature (256 bytes), over the right text, only made with another key.
    expect(Buffer.from(delivered.sign ?? '', 'base64')).toHaveLength(256);
    expect(sdk.rsaCheck(signedText(delivered), delivered.sign ?? '')).toBe(false);

    const personality = new AlipayPersonality({ credentials: CREDENTIALS });
    const genuine = fieldsOf(personality.renderCallback(receiver.url, notice(outTradeNo), { kind: 'genuine' }, nowS()).body);
    expect(sdk.checkNotifySign(genuine)).toBe(true);
    for (const [name, value] of [['total_amount', '0.01'], ['trade_status', 'TRADE_FINISHED'], ['out_trade_no', 'A-other']] as const) {
      expect(sdk.checkNotifySign({ ...genuine, [name]: value }), name).toBe(false);
    }
    // payment.callback.altered: signed for 0.01, sent with the order's amount.
    const altered = fieldsOf(personality.renderCallback(receiver.url, notice(outTradeNo), { kind: 'altered', signedAmount: 1 }, nowS()).body);
    expect(altered).toMatchObject({ total_amount: '30.00', receipt_amount: '30.00', buyer_pay_amount: '30.00' });
    expect(sdk.checkNotifySign(altered)).toBe(false);
    const cent = { ...altered, total_amount: '0.01', receipt_amount: '0.01', buyer_pay_amount: '0.01', invoice_amount: '0.01', fund_bill_list: JSON.stringify([{ amount: '0.01', fundChannel: 'ALIPAYACCOUNT' }]) };
    expect(sdk.checkNotifySign(cent)).toBe(true);
  });

  it('a replay is genuinely signed with an old notify_time: the client verifies it, the time gives it away', () => {
    const personality = new AlipayPersonality({ credentials: CREDENTIALS });
    const sdk = new AlipaySdk({ appId: CREDENTIALS.appId, privateKey: CREDENTIALS.merchantPrivateKey, alipayPublicKey: CREDENTIALS.alipayPublicKey, keyType: 'PKCS8' });
    const now = nowS();
    const replayed = fieldsOf(personality.renderCallback('http://127.0.0.1:1/notify', notice('A-r'), { kind: 'replayed', ageS: 3600 }, now).body);
    expect(sdk.checkNotifySign(replayed)).toBe(true);
    expect(parseBeijingTime(replayed.notify_time)).toBe((now - 3600) * 1000);
    const fresh = fieldsOf(personality.renderCallback('http://127.0.0.1:1/notify', notice('A-r'), { kind: 'genuine' }, now).body);
    expect(parseBeijingTime(fresh.notify_time)).toBe(now * 1000);
    expect(replayed.sign).not.toBe(fresh.sign);
  });

  it('runs Alipay\'s documented retry schedule, compressed by the dispatcher', () => {
    const personality = new AlipayPersonality({ credentials: CREDENTIALS });
    expect(personality.callbackRetryGapsMs).toEqual([240_000, 600_000, 600_000, 3_600_000, 7_200_000, 21_600_000, 54_000_000]);
    expect(ALIPAY_RETRY_GAPS_MS).toHaveLength(7);
    expect(new AlipayPersonality({ credentials: CREDENTIALS, retryGapsMs: [120_000] }).callbackRetryGapsMs).toEqual([120_000]);
  });
});

describe('payment faults in Alipay\'s words', () => {
  it('refused payments: a TRADE_CLOSED notify, and the query answers the refusal\'s sub_code', async () => {
    const cases = [
      { fault: { id: 'payment.limit.single', probability: 1 }, subCode: 'ACQ.TOTAL_FEE_EXCEED' },
      { fault: { id: 'payment.limit.daily', probability: 1, limit: 1000 }, subCode: 'ACQ.BUYER_PAYMENT_AMOUNT_DAY_LIMIT_ERROR' },
      { fault: { id: 'payment.decline', probability: 1 }, subCode: 'ACQ.BUYER_BALANCE_NOT_ENOUGH' },
    ];
    for (const { fault, subCode } of cases) {
      const world = await startAlipay([fault]);
      const sdk = sdkFor(world);
      const receiver = await startNotifyReceiver();
      const { outTradeNo, payerId, result } = await precreate(sdk, receiver.url);
      expect((await payAt(result.qrCode, payerId)).body).toMatchObject({ status: 'PAY_FAILED' });
      await waitForEvent(world.journal, 'payment.callback.sent', (event) => event.orderId === outTradeNo && event.acked);
      const notify = receiver.received[0]!.fields;
      expect(notify, fault.id).toMatchObject({ trade_status: 'TRADE_CLOSED', out_trade_no: outTradeNo, total_amount: '30.00' });
      expect(notify.gmt_payment).toBeUndefined();
      expect(sdk.checkNotifySign(notify)).toBe(true);
      expect(await exec(sdk, 'alipay.trade.query', { outTradeNo }), fault.id).toMatchObject({ code: '40004', subCode, outTradeNo, totalAmount: '30.00' });
      // The order can no longer be paid under this out_trade_no.
      expect((await precreate(sdk, receiver.url, { outTradeNo })).result).toMatchObject({ code: '40004', subCode: 'ACQ.TRADE_HAS_CLOSE' });
    }
  });

  it('a verification is invisible: WAIT_BUYER_PAY until the buyer completes it', async () => {
    const world = await startAlipay([{ id: 'payment.verification', probability: 1 }]);
    const sdk = sdkFor(world);
    const receiver = await startNotifyReceiver();
    const { outTradeNo, payerId, result } = await precreate(sdk, receiver.url);
    const held = await payAt(result.qrCode, payerId);
    expect(held.body).toMatchObject({ status: 'VERIFYING' });
    expect(await exec(sdk, 'alipay.trade.query', { outTradeNo })).toMatchObject({ code: '10000', tradeStatus: 'WAIT_BUYER_PAY' });
    await call('POST', `${world.mocks.urls.payment}/cashier/verifications/${String(held.body.verificationId)}/complete`, {});
    expect(await exec(sdk, 'alipay.trade.query', { outTradeNo })).toMatchObject({ code: '10000', tradeStatus: 'TRADE_SUCCESS' });
    expect('inexpressible' in ALIPAY_FAULT_FORMS['payment.verification']).toBe(true);
  });

  it('channel errors: ACQ.SYSTEM_ERROR for a 5xx, 20000 for a 429, ACQ.SYSTEM_ERROR from query and refund', async () => {
    const failing = await startAlipay([
      { id: 'payment.error', probability: 1, routes: ['create'], status: 503, times: 1 },
      { id: 'payment.query.error', probability: 1, times: 1 },
      { id: 'payment.refund.error', probability: 1, times: 1 },
    ]);
    const sdk = sdkFor(failing);
    const receiver = await startNotifyReceiver();
    const first = await precreate(sdk, receiver.url);
    expect(first.result).toMatchObject({ code: '40004', subCode: 'ACQ.SYSTEM_ERROR' });
    const again = await precreate(sdk, receiver.url, { outTradeNo: first.outTradeNo, businessParams: { ordeal_payer_id: first.payerId } });
    expect(again.result).toMatchObject({ code: '10000' });
    expect(await exec(sdk, 'alipay.trade.query', { outTradeNo: first.outTradeNo })).toMatchObject({ code: '40004', subCode: 'ACQ.SYSTEM_ERROR' });
    expect(await exec(sdk, 'alipay.trade.query', { outTradeNo: first.outTradeNo })).toMatchObject({ code: '10000' });
    await payAt(again.result.qrCode, first.payerId);
    expect(await exec(sdk, 'alipay.trade.refund', { outTradeNo: first.outTradeNo, refundAmount: '1.00', outRequestNo: 'R1' })).toMatchObject({ code: '40004', subCode: 'ACQ.SYSTEM_ERROR' });
    expect(await exec(sdk, 'alipay.trade.refund', { outTradeNo: first.outTradeNo, refundAmount: '1.00', outRequestNo: 'R1' })).toMatchObject({ code: '10000', fundChange: 'Y' });

    const throttled = await startAlipay([{ id: 'payment.error', probability: 1, routes: ['create'], status: 429, times: 1 }]);
    expect((await precreate(sdkFor(throttled), receiver.url)).result).toMatchObject({ code: '20000', msg: 'Service Currently Unavailable', subCode: 'isp.unknow-error' });
  });

  it('a reset is re-sent once by the client (urllib\'s socketErrorRetry); a hang is not', async () => {
    const world = await startAlipay([
      { id: 'payment.ambiguous', probability: 1 },
      { id: 'payment.timeout', probability: 1, routes: ['query'], times: 1 },
      { id: 'transport.reset', probability: 1, service: 'payment', routes: ['close'], times: 2 },
    ]);
    const sdk = sdkFor(world, { timeout: 400 });
    const receiver = await startNotifyReceiver();
    // The trade is made, the answer lost with the connection; the client asks again by itself and gets the same trade.
    const { outTradeNo, result } = await precreate(sdk, receiver.url);
    const tradeNo = world.mocks.payment.tradeByOrder(outTradeNo)?.tradeNo;
    expect(result).toMatchObject({ code: '10000', qrCode: `${world.mocks.urls.payment}/cashier/${tradeNo}` });
    expect(faultsOf(world.journal, 'payment.ambiguous')).toHaveLength(1);
    expect(eventsOf(world.journal, 'payment.trade.created', outTradeNo).map((event) => event.repeat)).toEqual([false, true]);

    await expect(exec(sdk, 'alipay.trade.query', { outTradeNo })).rejects.toThrow(/HttpClient Request error/);
    expect(await exec(sdk, 'alipay.trade.query', { outTradeNo })).toMatchObject({ code: '10000' });
    // The transport fault names the operation inside gateway.do: only the close breaks, twice, which outlasts the client's one re-send.
    await expect(exec(sdk, 'alipay.trade.close', { outTradeNo })).rejects.toThrow(/HttpClient Request error/);
    expect(faultsOf(world.journal, 'transport.reset').map((event) => event.detail)).toEqual([
      { service: 'payment', route: 'close', kind: 'reset', call: 1 },
      { service: 'payment', route: 'close', kind: 'reset', call: 2 },
    ]);
    expect(await exec(sdk, 'alipay.trade.close', { outTradeNo })).toMatchObject({ code: '10000' });
  });

  it('cross-border: refused at creation when the shop names the payer\'s region or address', async () => {
    const world = await startAlipay([{ id: 'payment.cross_border', probability: 1, home: 'CN' }]);
    const sdk = sdkFor(world);
    const receiver = await startNotifyReceiver();
    const abroad = await precreate(sdk, receiver.url, { businessParams: { ordeal_payer_id: 'buyer-us', ordeal_payer_region: 'US-CA' } });
    expect(abroad.result).toMatchObject({ code: '40004', subCode: 'ACQ.ERROR_BUYER_CERTIFY_LEVEL_LIMIT' });
    const byAddress = await precreate(sdk, receiver.url, { businessParams: { ordeal_payer_id: 'buyer-sg', mc_create_trade_ip: '43.1.2.3' } });
    expect(byAddress.result).toMatchObject({ code: '40004', subCode: 'ACQ.ERROR_BUYER_CERTIFY_LEVEL_LIMIT' });
    const home = await precreate(sdk, receiver.url, { businessParams: { ordeal_payer_id: 'buyer-gd', ordeal_payer_region: 'CN-GD' } });
    expect(home.result).toMatchObject({ code: '10000' });
    expect(eventsOf(world.journal, 'payment.trade.refused').map((event) => event.code)).toEqual(['CROSS_BORDER_BLOCKED', 'CROSS_BORDER_BLOCKED']);
  });

  it('declares a form for every payment fault', () => {
    expect(Object.keys(ALIPAY_FAULT_FORMS).sort()).toEqual(Object.keys(NATIVE_FAULT_FORMS).sort());
    for (const [fault, form] of Object.entries(ALIPAY_FAULT_FORMS)) {
      const words = 'shopSees' in form ? form.shopSees : form.inexpressible;
      expect(words.length, fault).toBeGreaterThan(10);
    }
  });
});

describe('a run with the reference shop on Alipay', () => {
  it('the resilient shop passes; the naive shop fails the gate', async () => {
    const work = await tempDir('ordeal-alipay-');
    defer(() => work.remove());
    const input = {
      name: 'alipay-e2e',
      seed: 23,
      catalog: { skus: [{ sku: 'MONTH_CARD', name: 'Monthly card', price: 3000, stock: 500 }] },
      shop: { orderTtl: '2500ms', reconcileAfter: '500ms', reconcileEvery: '300ms' },
      load: { stages: [{ rate: '12/s', duration: '2s' }], maxInFlight: 100 },
      faults: [
        { id: 'payment.callback.forged', probability: 0.15, after: '200ms' },
        { id: 'payment.callback.replayed', probability: 0.15, after: '200ms' },
        { id: 'payment.callback.tampered', probability: 0.1, paidAmount: 1 },
        { id: 'payment.limit.single', probability: 0.1 },
        { id: 'payment.decline', probability: 0.1 },
        { id: 'payment.callback.drop', probability: 0.15 },
        { id: 'payment.error', probability: 0.1, routes: ['create'], status: 503, times: 1 },
        { id: 'payment.ambiguous', probability: 0.1 },
      ],
      gate: { minScore: 75, steadyState: { successRate: 0.99 } },
      settle: '4s',
    };
    const loaded = { file: 'alipay-e2e.yaml', scenario: scenarioSchema.parse(input), input };
    const [resilient, naive] = await Promise.all([
      run({ scenarios: [loaded], outDir: `${work.path}/resilient`, protocol: 'alipay' }),
      run({ scenarios: [loaded], outDir: `${work.path}/naive`, protocol: 'alipay', flaws: ['naive'] }),
    ]);
    const good = resilient.report.scenarios[0]!;
    expect(good.gate.reasons, resilient.summary).toEqual([]);
    expect(resilient.exitCode).toBe(0);
    expect(naive.report.gate.passed, naive.summary).toBe(false);
    expect(naive.exitCode).toBe(1);
    // The faults reached the shop through Alipay's wire.
    const classes = good.classes as Record<string, { incidents: number } | undefined>;
    for (const fault of ['payment.callback.forged', 'payment.limit.single', 'payment.callback.drop']) expect(classes[fault]?.incidents ?? 0, fault).toBeGreaterThan(0);
  }, 40_000);
});

// ---- helpers ---------------------------------------------------------------------------------

function nowS(): number {
  return Math.floor(Date.now() / 1000);
}

function notice(outTradeNo: string): PaymentNotice {
  return {
    notifyId: 'N0000000042',
    tradeNo: 'T0000000042',
    outTradeNo,
    status: 'TRADE_SUCCESS',
    amount: 3000,
    paidAt: new Date().toISOString(),
    currency: 'CNY',
    subject: 'Monthly card',
    method: 'alipay',
  };
}

function fieldsOf(body: string | undefined): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(body ?? ''));
}

/** What Alipay signs of a notify: every field but sign and sign_type, sorted. */
function signedText(fields: Record<string, string>): string {
  return Object.keys(fields)
    .filter((name) => name !== 'sign' && name !== 'sign_type')
    .sort()
    .map((name) => `${name}=${fields[name]}`)
    .join('&');
}
