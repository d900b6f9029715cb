/**
 * The native personality alone (README, "Mock wire protocol v1"): callback rendering and signing round trips, the
 * acknowledgement rule, each refusal's wire form, the cashier's requests and how its answers are
 * read, and request parsing into core operations — route handlers called directly, no HTTP.
 */
import { describe, expect, it } from 'vitest';
import { MemoryJournal } from '../core/journal.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { Correlation, type MockRequest } from '../mocks/mock-types.js';
import { PAY_FAIL_MESSAGES, refusal, type RefusalCode } from '../mocks/payment/answers.js';
import { PaymentCore } from '../mocks/payment/core.js';
import type { PaymentNotice } from '../mocks/payment/dispatcher.js';
import { renderAnswer, type PaymentSite } from '../mocks/payment/personality.js';
import { NATIVE_CASHIER, NativePersonality } from '../mocks/payment/personalities/native.js';
import { verifySignature } from '../mocks/signature.js';
import type { SubjectAwareRoute } from '../mocks/transport-faults.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { eventsOf } from './helpers/journal.js';
import { request as unsignedRequest } from './helpers/ledger-rig.js';
import { mockScenario } from './helpers/mocks.js';

const SECRET = 'native-secret';
const NOW_S = 1_900_000_000;
const native = new NativePersonality({ secret: SECRET });
/** A request as the shop sends it: the merchant's secret as the bearer key. */
function request(...args: Parameters<typeof unsignedRequest>): MockRequest {
  return { ...unsignedRequest(...args), headers: { authorization: `Bearer ${SECRET}` } };
}
const defer = cleanupAfterEach();

function notice(overrides: Partial<PaymentNotice> = {}): PaymentNotice {
  return {
    notifyId: 'N0000000007',
    tradeNo: 'T0000000003',
    outTradeNo: 'ord-3',
    status: 'TRADE_SUCCESS',
    amount: 3000,
    paidAt: '2030-01-01T00:00:01.000Z',
    currency: 'CNY',
    subject: 'Monthly card',
    method: 'alipay',
    ...overrides,
  };
}

describe('native callbacks', () => {
  it('renders a JSON POST of the protocol fields only, signed with the secret at the given time', () => {
    const sent = native.renderCallback('http://127.0.0.1:5000/notify', notice(), { kind: 'genuine' }, NOW_S);
    expect(sent).toMatchObject({ method: 'POST', url: 'http://127.0.0.1:5000/notify', headers: { 'content-type': 'application/json' } });
    expect(sent.body).toBe(
      '{"notifyId":"N0000000007","tradeNo":"T0000000003","outTradeNo":"ord-3","status":"TRADE_SUCCESS","amount":3000,"paidAt":"2030-01-01T00:00:01.000Z"}',
    );
    const header = sent.headers['ordeal-signature'];
    expect(header).toMatch(new RegExp(`^t=${NOW_S},v1=[0-9a-f]{64}$`));
    expect(verifySignature(SECRET, header, sent.body ?? '', NOW_S)).toEqual({ ok: true, timestamp: NOW_S });
    // The signature covers the exact body: any change breaks it.
    expect(verifySignature(SECRET, header, (sent.body ?? '').replace('3000', '1'), NOW_S)).toEqual({ ok: false, reason: 'mismatch' });

    const failed = native.renderCallback('http://127.0.0.1:5000/notify', notice({ status: 'PAY_FAILED', paidAt: undefined, failCode: 'LIMIT_DAILY' }), { kind: 'genuine' }, NOW_S);
    expect(JSON.parse(failed.body ?? '')).toEqual({ notifyId: 'N0000000007', tradeNo: 'T0000000003', outTradeNo: 'ord-3', status: 'PAY_FAILED', amount: 3000, failCode: 'LIMIT_DAILY' });
  });

  it('renders the forgeries: a wrong key fails verification; a replay verifies only at its old time; an altered amount does not verify', () => {
    const forged = native.renderCallback('http://127.0.0.1:5000/notify', notice(), { kind: 'forged' }, NOW_S);
    expect(verifySignature(SECRET, forged.headers['ordeal-signature'], forged.body ?? '', NOW_S)).toEqual({ ok: false, reason: 'mismatch' });

    const replayed = native.renderCallback('http://127.0.0.1:5000/notify', notice(), { kind: 'replayed', ageS: 3600 }, NOW_S);
    const header = replayed.headers['ordeal-signature'];
    expect(header?.startsWith(`t=${NOW_S - 3600},`)).toBe(true);
    expect(verifySignature(SECRET, header, replayed.body ?? '', NOW_S)).toEqual({ ok: false, reason: 'stale' });
    expect(verifySignature(SECRET, header, replayed.body ?? '', NOW_S - 3600).ok).toBe(true);
    // Same notice, same bytes: only the signature differs.
    expect(replayed.body).toBe(forged.body);

    const altered = native.renderCallback('http://127.0.0.1:5000/notify', notice(), { kind: 'altered', signedAmount: 1 }, NOW_S);
    expect(altered.body).toBe(forged.body);
    expect(verifySignature(SECRET, altered.headers['ordeal-signature'], altered.body ?? '', NOW_S)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifySignature(SECRET, altered.headers['ordeal-signature'], (altered.body ?? '').replace('"amount":3000', '"amount":1'), NOW_S).ok).toBe(true);
  });

  it('any 2xx acknowledges, without reading the body', () => {
    expect(native.callbackAck.readBody).toBe(false);
    expect([200, 201, 204, 299].map((status) => native.callbackAck.acknowledged(status, ''))).toEqual([true, true, true, true]);
    expect([199, 302, 400, 401, 500, 503].map((status) => native.callbackAck.acknowledged(status, 'success'))).toEqual([false, false, false, false, false, false]);
  });
});

describe('native refusals', () => {
  it('answers `{ code, message }` with the refusal status; payment failures also say PAY_FAILED', () => {
    const codes: Array<[RefusalCode, number]> = [
      ['INVALID_REQUEST', 400],
      ['TRADE_NOT_EXIST', 404],
      ['VERIFICATION_NOT_EXIST', 404],
      ['DUPLICATE_OUT_TRADE_NO', 409],
      ['CROSS_BORDER_BLOCKED', 403],
      ['SYSTEM_ERROR', 503],
      ['TRADE_CLOSED', 409],
      ['TRADE_VERIFYING', 409],
      ['TRADE_HAS_SUCCESS', 409],
      ['TRADE_NOT_PAID', 409],
      ['REFUND_EXCEEDS_PAID', 409],
    ];
    for (const [code, status] of codes) {
      expect(native.renderRefusal('create', refusal(code, status, `because ${code}`))).toEqual({ status, body: { code, message: `because ${code}` } });
    }
    for (const code of ['LIMIT_SINGLE', 'LIMIT_DAILY', 'DECLINED'] as const) {
      expect(native.renderRefusal('pay', refusal(code, 402, PAY_FAIL_MESSAGES[code]))).toEqual({
        status: 402,
        body: { code, status: 'PAY_FAILED', message: PAY_FAIL_MESSAGES[code] },
      });
    }
    expect(native.renderRefusal('query', { ...refusal('RATE_LIMITED', 429, 'slow down'), retryAfterS: 2 })).toEqual({
      status: 429,
      body: { code: 'RATE_LIMITED', message: 'slow down' },
      headers: { 'retry-after': '2' },
    });
  });

  it('applies the channel to any answer: latency, a reset after the effect, a hang', () => {
    const ok = (): { status: number; body: unknown } => ({ status: 201, body: { done: true } });
    expect(renderAnswer(native, 'create', { kind: 'ok', value: 1, delayMs: 40 }, ok)).toEqual({ status: 201, body: { done: true }, delayMs: 40 });
    expect(renderAnswer(native, 'create', { kind: 'ok', value: 1, delayMs: 0, lost: 'reset' }, ok)).toEqual({ status: 201, body: { done: true }, socketFault: 'reset' });
    expect(renderAnswer(native, 'create', { kind: 'hang' }, ok)).toEqual({ status: 504, socketFault: 'hang' });
    expect(renderAnswer(native, 'close', { kind: 'refused', refusal: refusal('TRADE_HAS_SUCCESS', 409, 'paid'), delayMs: 5 }, ok)).toEqual({
      status: 409,
      body: { code: 'TRADE_HAS_SUCCESS', message: 'paid' },
      delayMs: 5,
    });
  });
});

describe('native cashier', () => {
  it('pays and verifies at the native paths, path segments encoded', () => {
    expect(NATIVE_CASHIER.payRequest({ providerUrl: 'http://127.0.0.1:7000', tradeNo: 'T0000000001', payerId: 'b-1', method: 'wechat' })).toEqual({
      method: 'POST',
      url: 'http://127.0.0.1:7000/v1/trades/T0000000001/pay',
      body: { payerId: 'b-1', method: 'wechat' },
    });
    expect(NATIVE_CASHIER.payRequest({ providerUrl: 'http://p', tradeNo: 'a/b?c', payerId: 'b', method: 'm' }).url).toBe('http://p/v1/trades/a%2Fb%3Fc/pay');
    expect(NATIVE_CASHIER.verificationRequest({ providerUrl: 'http://p', verificationId: 'V0000000002' })).toEqual({
      method: 'POST',
      url: 'http://p/v1/verifications/V0000000002/complete',
      body: {},
    });
  });

  it('reads each answer as a neutral outcome with its code', () => {
    const read = NATIVE_CASHIER.readPayAnswer;
    expect(read(200, { status: 'TRADE_SUCCESS' })).toEqual({ outcome: 'paid' });
    expect(read(402, { code: 'LIMIT_SINGLE', status: 'PAY_FAILED', message: 'too much' })).toEqual({ outcome: 'refused', code: 'LIMIT_SINGLE' });
    expect(read(202, { status: 'VERIFYING', verificationId: 'V0000000001' })).toEqual({ outcome: 'verifying', verificationId: 'V0000000001' });
    expect(read(409, { code: 'TRADE_CLOSED', message: 'closed' })).toEqual({ outcome: 'unknown', code: 'TRADE_CLOSED' });
    expect(read(503, undefined)).toEqual({ outcome: 'unknown' });
    expect(read(undefined, undefined)).toEqual({ outcome: 'unknown' });
    expect(NATIVE_CASHIER.readVerificationAnswer(200, { status: 'TRADE_SUCCESS' })).toEqual({ outcome: 'paid' });
    expect(NATIVE_CASHIER.readVerificationAnswer(409, { code: 'TRADE_CLOSED', message: 'late' })).toEqual({ outcome: 'unknown', code: 'TRADE_CLOSED' });
  });
});

describe('native routes over the core', () => {
  function routesRig(faults: unknown[] = []): { routes: SubjectAwareRoute[]; core: PaymentCore; journal: MemoryJournal; site: PaymentSite } {
    const scenario = mockScenario({ name: 'native-routes', faults });
    const journal = new MemoryJournal(0);
    const core = new PaymentCore({ journal, plan: new FaultPlan(scenario.faults, scenario.seed), correlation: new Correlation() });
    defer(() => core.close());
    const site: PaymentSite = { baseUrl: '' };
    return { routes: native.routes(core, site), core, journal, site };
  }
  const route = (routes: SubjectAwareRoute[], method: string, path: string): SubjectAwareRoute => {
    const found = routes.find((candidate) => candidate.method === method && candidate.path === path);
    if (!found) throw new Error(`no route ${method} ${path}`);
    return found;
  };
  const body = { outTradeNo: 'ord-1', amount: 3000, currency: 'CNY', subject: 'card', notifyUrl: 'http://127.0.0.1:9/n', method: 'alipay', payer: { id: 'b1' } };

  it('serves the documented routes under the payment route names', () => {
    const { routes } = routesRig();
    expect(routes.map((entry) => `${entry.name} ${entry.method} ${entry.path}`)).toEqual([
      'create POST /v1/trades',
      'pay POST /v1/trades/:tradeNo/pay',
      'query GET /v1/trades/:tradeNo',
      'query GET /v1/trades',
      'close POST /v1/trades/:tradeNo/close',
      'refund POST /v1/trades/:tradeNo/refunds',
      'verification POST /v1/verifications/:verificationId/complete',
    ]);
  });

  it('parses a create into the core, renders 201 then 200 with the payUrl of where it is served', async () => {
    const { routes, site, core } = routesRig();
    site.baseUrl = 'http://127.0.0.1:7000';
    const create = route(routes, 'POST', '/v1/trades');
    const first = await create.handle(request('POST', {}, body));
    expect(first).toMatchObject({
      status: 201,
      body: { tradeNo: 'T0000000001', outTradeNo: 'ord-1', status: 'WAIT_BUYER_PAY', payUrl: 'http://127.0.0.1:7000/cashier/T0000000001' },
    });
    expect(Object.keys((first.body ?? {}) as object)).toEqual(['tradeNo', 'outTradeNo', 'status', 'payUrl', 'expiresAt']);
    expect((await create.handle(request('POST', {}, body))).status).toBe(200);
    expect(core.tradeByOrder('ord-1')?.payer).toEqual({ id: 'b1' });

    const pay = route(routes, 'POST', '/v1/trades/:tradeNo/pay');
    const payRequest: MockRequest = request('POST', { tradeNo: 'T0000000001' }, { payerId: 'b2', method: 'alipay' });
    expect(pay.subjectOf?.(payRequest)).toEqual({ orderId: 'ord-1', buyerId: 'b2' });
    expect(await pay.handle(payRequest)).toEqual({ status: 200, body: { status: 'TRADE_SUCCESS' } });
    const byOrder = await route(routes, 'GET', '/v1/trades').handle(request('GET', {}, undefined, { outTradeNo: 'ord-1' }));
    expect(byOrder).toMatchObject({ status: 200, body: { tradeNo: 'T0000000001', status: 'TRADE_SUCCESS', amount: 3000, refunded: 0 } });
    expect(Object.keys((byOrder.body ?? {}) as object)).toEqual(['tradeNo', 'outTradeNo', 'status', 'amount', 'paidAt', 'refunded']);
    const refund = route(routes, 'POST', '/v1/trades/:tradeNo/refunds');
    expect(await refund.handle(request('POST', { tradeNo: 'T0000000001' }, { refundNo: 'R1', amount: 3000 }))).toEqual({
      status: 200,
      body: { refundNo: 'R1', amount: 3000, status: 'SUCCESS' },
    });
  });

  it('refuses what does not parse: before the order is known nothing is journaled, after it the refusal is', async () => {
    const { routes, journal, core } = routesRig();
    const create = route(routes, 'POST', '/v1/trades');
    expect(await create.handle(request('POST', {}, ['not', 'an', 'object']))).toEqual({
      status: 400,
      body: { code: 'INVALID_REQUEST', message: 'expected a JSON object body' },
    });
    expect((await create.handle(request('POST', {}, { ...body, outTradeNo: '' }))).body).toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringMatching(/^outTradeNo/) });
    expect(eventsOf(journal, 'payment.trade.refused')).toEqual([]);

    const problems: Array<[Record<string, unknown>, string]> = [
      [{ amount: 0 }, 'amount'],
      [{ currency: 'cny' }, 'currency'],
      [{ subject: 7 }, 'subject'],
      [{ notifyUrl: 'http://example.com/n' }, 'notifyUrl'],
      [{ method: '' }, 'method'],
      [{ payer: { region: 'CN' } }, 'payer'],
      [{ expiresInMs: -1 }, 'expiresInMs'],
    ];
    for (const [override, field] of problems) {
      const answer = await create.handle(request('POST', {}, { ...body, ...override }));
      expect(answer.status, field).toBe(400);
      expect((answer.body as { message: string }).message.startsWith(`${field}:`), field).toBe(true);
    }
    expect(eventsOf(journal, 'payment.trade.refused')).toHaveLength(problems.length);
    expect(eventsOf(journal, 'payment.trade.refused').every((event) => event.orderId === 'ord-1' && event.code === 'INVALID_REQUEST')).toBe(true);
    expect(core.totals().trades).toBe(0);

    const pay = route(routes, 'POST', '/v1/trades/:tradeNo/pay');
    expect((await pay.handle(request('POST', { tradeNo: 'T0000000001' }, { method: 'alipay' }))).status).toBe(400);
    expect((await pay.handle(request('POST', { tradeNo: 'T0000000001' }, { payerId: 'b', method: 5 }))).status).toBe(400);
    expect(await pay.handle(request('POST', { tradeNo: 'T0000000001' }, { payerId: 'b' }))).toEqual({
      status: 404,
      body: { code: 'TRADE_NOT_EXIST', message: 'no trade T0000000001' },
    });
    expect((await route(routes, 'GET', '/v1/trades').handle(request('GET'))).status).toBe(400);
    const refund = route(routes, 'POST', '/v1/trades/:tradeNo/refunds');
    expect((await refund.handle(request('POST', { tradeNo: 'T1' }, { refundNo: '', amount: 1 }))).status).toBe(400);
    expect((await refund.handle(request('POST', { tradeNo: 'T1' }, { refundNo: 'R', amount: 1.5 }))).status).toBe(400);
  });

  it('renders the verification flow and a channel fault the native way', async () => {
    const { routes } = routesRig([
      { id: 'payment.verification' },
      { id: 'payment.error', routes: ['close'], status: 503 },
    ]);
    await route(routes, 'POST', '/v1/trades').handle(request('POST', {}, body));
    const started = await route(routes, 'POST', '/v1/trades/:tradeNo/pay').handle(request('POST', { tradeNo: 'T0000000001' }, { payerId: 'b1' }));
    expect(started).toEqual({ status: 202, body: { status: 'VERIFYING', verificationId: 'V0000000001' } });
    const complete = route(routes, 'POST', '/v1/verifications/:verificationId/complete');
    expect(complete.subjectOf?.(request('POST', { verificationId: 'V0000000001' }))).toEqual({ orderId: 'ord-1', buyerId: 'b1' });
    expect(await complete.handle(request('POST', { verificationId: 'V0000000001' }))).toEqual({ status: 200, body: { status: 'TRADE_SUCCESS' } });
    expect((await complete.handle(request('POST', { verificationId: 'V0000000009' }))).status).toBe(404);
    expect(await route(routes, 'POST', '/v1/trades/:tradeNo/close').handle(request('POST', { tradeNo: 'T0000000001' }))).toEqual({
      status: 503,
      body: { code: 'SYSTEM_ERROR', message: 'the payment channel failed; try again' },
    });
  });
});
