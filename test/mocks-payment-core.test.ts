/**
 * The payment provider core alone: ledger operations, fault decisions and callback intents with
 * no HTTP and no personality — parsed input in, neutral `CoreAnswer`s and journal events out.
 * Deterministic: a manual clock, and fake timers for the scheduled forgeries.
 */
import { describe, expect, it, vi } from 'vitest';
import { MemoryJournal } from '../core/journal.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { Correlation } from '../mocks/mock-types.js';
import type { CoreAnswer } from '../mocks/payment/answers.js';
import { DEFAULT_TRADE_TTL_MS, PaymentCore } from '../mocks/payment/core.js';
import type { CallbackNotice, CallbackTarget } from '../mocks/payment/dispatcher.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { eventsOf, faultsOf } from './helpers/journal.js';
import { T0, tradeInput, valueOf } from './helpers/ledger-rig.js';
import { mockScenario } from './helpers/mocks.js';

const defer = cleanupAfterEach();

interface CoreRig {
  core: PaymentCore;
  journal: MemoryJournal;
  plan: FaultPlan;
  correlation: Correlation;
  sent: Array<{ target: CallbackTarget; notice: CallbackNotice }>;
  advance(ms: number): void;
}

function coreRig(faults: unknown[] = []): CoreRig {
  const scenario = mockScenario({ name: 'payment-core', seed: 17, faults });
  const journal = new MemoryJournal(0);
  const plan = new FaultPlan(scenario.faults, scenario.seed);
  const correlation = new Correlation();
  const sent: CoreRig['sent'] = [];
  let now = T0;
  const core = new PaymentCore({ journal, plan, correlation, clock: () => now, callbacks: (target, notice) => sent.push({ target, notice }) });
  defer(() => core.close());
  return { core, journal, plan, correlation, sent, advance: (ms) => void (now += ms) };
}

function refusalOf(answer: CoreAnswer<unknown>): { code: string; httpStatus: number } | undefined {
  return answer.kind === 'refused' ? { code: answer.refusal.code, httpStatus: answer.refusal.httpStatus } : undefined;
}

describe('payment core ledger', () => {
  it('creates a trade once per order: the same amount again is the same trade, another amount is refused', () => {
    const r = coreRig();
    const first = r.core.create(tradeInput('o1', { payer: { id: 'b1', region: 'CN-SH' } }));
    expect(first).toEqual({
      kind: 'ok',
      delayMs: 0,
      value: {
        repeat: false,
        expiresAt: new Date(T0 + DEFAULT_TRADE_TTL_MS).toISOString(),
        trade: { tradeNo: 'T0000000001', outTradeNo: 'o1', status: 'WAIT_BUYER_PAY', amount: 3000, currency: 'CNY', refunded: 0 },
      },
    });
    expect(valueOf(r.core.create(tradeInput('o1', { payer: { id: 'b1' } })))).toMatchObject({ repeat: true, trade: { tradeNo: 'T0000000001' } });
    expect(refusalOf(r.core.create(tradeInput('o1', { amount: 4000 })))).toEqual({ code: 'DUPLICATE_OUT_TRADE_NO', httpStatus: 409 });
    expect(eventsOf(r.journal, 'payment.trade.created').map((event) => [event.orderId, event.tradeNo, event.repeat, event.payerId])).toEqual([
      ['o1', 'T0000000001', false, 'b1'],
      ['o1', 'T0000000001', true, 'b1'],
    ]);
    expect(eventsOf(r.journal, 'payment.trade.refused')).toEqual([expect.objectContaining({ orderId: 'o1', code: 'DUPLICATE_OUT_TRADE_NO', httpStatus: 409 })]);
    expect(r.core.allTrades()).toHaveLength(1);
    expect(r.correlation.buyerOf('o1')).toBe('b1');
  });

  it('refuses notify URLs off loopback whatever the personality accepted, and journals invalid creates', () => {
    const r = coreRig();
    expect(refusalOf(r.core.create(tradeInput('o1', { notifyUrl: 'http://example.com/notify' })))).toEqual({ code: 'INVALID_REQUEST', httpStatus: 400 });
    expect(refusalOf(r.core.refuseInvalidCreate('o2', 'amount: expected a positive integer'))).toEqual({ code: 'INVALID_REQUEST', httpStatus: 400 });
    expect(eventsOf(r.journal, 'payment.trade.refused').map((event) => [event.orderId, event.code, event.httpStatus])).toEqual([
      ['o1', 'INVALID_REQUEST', 400],
      ['o2', 'INVALID_REQUEST', 400],
    ]);
    expect(r.core.totals().trades).toBe(0);
  });

  it('captures once at the cashier and hands a neutral notice (with the trade terms) to the callback sink', () => {
    const r = coreRig();
    const { tradeNo } = valueOf(r.core.create(tradeInput('o1', { subject: '1 x Monthly card', payer: { id: 'b1' } }))).trade;
    r.advance(250);
    expect(valueOf(r.core.pay(tradeNo, 'b1'))).toEqual({ status: 'TRADE_SUCCESS' });
    expect(valueOf(r.core.pay(tradeNo, 'b1'))).toEqual({ status: 'TRADE_SUCCESS' });
    expect(eventsOf(r.journal, 'payment.trade.paid')).toEqual([expect.objectContaining({ orderId: 'o1', tradeNo, amount: 3000, payerId: 'b1' })]);
    expect(r.sent).toEqual([
      {
        target: { notifyUrl: tradeInput('o1').notifyUrl, subject: 'b1', buyerId: 'b1' },
        notice: {
          tradeNo,
          outTradeNo: 'o1',
          status: 'TRADE_SUCCESS',
          amount: 3000,
          paidAt: new Date(T0 + 250).toISOString(),
          currency: 'CNY',
          subject: '1 x Monthly card',
          method: 'alipay',
        },
      },
    ]);
    expect(r.core.trade(tradeNo)).toMatchObject({ status: 'TRADE_SUCCESS', payerId: 'b1', paidAt: new Date(T0 + 250).toISOString() });
    expect(r.core.totals()).toEqual({ captured: 3000, refunded: 0, trades: 1, paid: 1 });
    expect(refusalOf(r.core.pay('T0000000009', 'b1'))).toEqual({ code: 'TRADE_NOT_EXIST', httpStatus: 404 });
  });

  it('an unpaid trade closes itself at expiresAt; the shop may close one; a paid one cannot be closed', () => {
    const r = coreRig();
    const expiring = valueOf(r.core.create(tradeInput('o1', { expiresInMs: 1000 }))).trade.tradeNo;
    const closing = valueOf(r.core.create(tradeInput('o2'))).trade.tradeNo;
    const paid = valueOf(r.core.create(tradeInput('o3'))).trade.tradeNo;
    r.core.pay(paid, 'b3');
    r.advance(999);
    expect(valueOf(r.core.query({ tradeNo: expiring })).status).toBe('WAIT_BUYER_PAY');
    r.advance(1);
    expect(valueOf(r.core.query({ outTradeNo: 'o1' })).status).toBe('TRADE_CLOSED');
    expect(refusalOf(r.core.pay(expiring, 'b1'))).toEqual({ code: 'TRADE_CLOSED', httpStatus: 409 });

    expect(valueOf(r.core.closeTrade(closing)).status).toBe('TRADE_CLOSED');
    expect(refusalOf(r.core.pay(closing, 'b2'))).toEqual({ code: 'TRADE_CLOSED', httpStatus: 409 });
    expect(refusalOf(r.core.closeTrade(paid))).toEqual({ code: 'TRADE_HAS_SUCCESS', httpStatus: 409 });
    expect(eventsOf(r.journal, 'payment.trade.closed').map((event) => [event.orderId, event.result])).toEqual([
      ['o2', 'closed'],
      ['o3', 'has_success'],
    ]);
    expect(eventsOf(r.journal, 'payment.trade.queried').map((event) => event.status)).toEqual(['WAIT_BUYER_PAY', 'TRADE_CLOSED']);
    expect(refusalOf(r.core.query({ outTradeNo: 'nope' }))).toEqual({ code: 'TRADE_NOT_EXIST', httpStatus: 404 });
    expect(eventsOf(r.journal, 'payment.trade.queried').at(-1)).toMatchObject({ orderId: 'nope', status: 'NOT_FOUND' });
  });

  it('refunds what was paid, idempotently by refund number, never more', () => {
    const r = coreRig();
    const unpaid = valueOf(r.core.create(tradeInput('o1'))).trade.tradeNo;
    expect(refusalOf(r.core.refund(unpaid, 'R0', 100))).toEqual({ code: 'TRADE_NOT_PAID', httpStatus: 409 });
    const tradeNo = valueOf(r.core.create(tradeInput('o2'))).trade.tradeNo;
    r.core.pay(tradeNo, 'b2');
    expect(valueOf(r.core.refund(tradeNo, 'R1', 1000))).toEqual({ refundNo: 'R1', amount: 1000, repeat: false });
    expect(valueOf(r.core.refund(tradeNo, 'R1', 2000))).toEqual({ refundNo: 'R1', amount: 1000, repeat: true });
    expect(refusalOf(r.core.refund(tradeNo, 'R2', 2001))).toEqual({ code: 'REFUND_EXCEEDS_PAID', httpStatus: 409 });
    expect(valueOf(r.core.refund(tradeNo, 'R3', 2000)).repeat).toBe(false);
    expect(valueOf(r.core.query({ tradeNo })).refunded).toBe(3000);
    expect(r.core.totals()).toMatchObject({ captured: 3000, refunded: 3000 });
    expect(eventsOf(r.journal, 'payment.refund').map((event) => [event.refundNo, event.ok, event.repeat, event.code])).toEqual([
      ['R0', false, false, 'TRADE_NOT_PAID'],
      ['R1', true, false, undefined],
      ['R1', true, true, undefined],
      ['R2', false, false, 'REFUND_EXCEEDS_PAID'],
      ['R3', true, false, undefined],
    ]);
  });
});

describe('payment core faults', () => {
  it('limits and declines fail the payment, journal it and notify PAY_FAILED', () => {
    const r = coreRig([{ id: 'payment.limit.single', limit: 5000 }]);
    const small = valueOf(r.core.create(tradeInput('o1', { payer: { id: 'b1' } }))).trade.tradeNo;
    const big = valueOf(r.core.create(tradeInput('o2', { amount: 6000, payer: { id: 'b1' } }))).trade.tradeNo;
    expect(valueOf(r.core.pay(small, 'b1')).status).toBe('TRADE_SUCCESS');
    const refused = r.core.pay(big, 'b1');
    expect(refused).toMatchObject({ kind: 'refused', refusal: { code: 'LIMIT_SINGLE', httpStatus: 402, message: 'the amount exceeds the single-payment limit' } });
    expect(r.core.pay(big, 'b1')).toMatchObject({ kind: 'refused', refusal: { code: 'LIMIT_SINGLE', message: 'this trade already failed' } });
    expect(eventsOf(r.journal, 'payment.trade.pay_failed')).toEqual([expect.objectContaining({ orderId: 'o2', code: 'LIMIT_SINGLE' })]);
    expect(r.sent.map(({ notice }) => [notice.outTradeNo, notice.status, notice.failCode, notice.paidAt])).toEqual([
      ['o1', 'TRADE_SUCCESS', undefined, expect.any(String)],
      ['o2', 'PAY_FAILED', 'LIMIT_SINGLE', undefined],
    ]);
    expect(faultsOf(r.journal, 'payment.limit.single')).toEqual([expect.objectContaining({ orderId: 'o2', buyerId: 'b1', detail: { amount: 6000, limit: 5000 } })]);
  });

  it('a verification holds the capture until completed; an unknown verification is refused', () => {
    const r = coreRig([{ id: 'payment.verification' }]);
    const tradeNo = valueOf(r.core.create(tradeInput('o1', { payer: { id: 'b1' } }))).trade.tradeNo;
    const started = valueOf(r.core.pay(tradeNo, 'b1'));
    expect(started).toEqual({ status: 'VERIFYING', verificationId: 'V0000000001' });
    expect(refusalOf(r.core.pay(tradeNo, 'b1'))).toEqual({ code: 'TRADE_VERIFYING', httpStatus: 409 });
    expect(r.sent).toEqual([]);
    expect(r.core.subjectOfVerification('V0000000001')).toEqual({ orderId: 'o1', buyerId: 'b1' });
    expect(valueOf(r.core.completeVerification('V0000000001'))).toEqual({ status: 'TRADE_SUCCESS' });
    expect(r.core.trade(tradeNo)).toMatchObject({ status: 'TRADE_SUCCESS', verificationId: 'V0000000001' });
    expect(r.sent).toHaveLength(1);
    expect(refusalOf(r.core.completeVerification('V0000000002'))).toEqual({ code: 'VERIFICATION_NOT_EXIST', httpStatus: 404 });
    expect(eventsOf(r.journal, 'payment.verification.completed').map((event) => event.result)).toEqual(['TRADE_SUCCESS']);
  });

  it('channel faults: a hang does nothing, an error refuses with its status, an ambiguous create takes effect with its answer lost', () => {
    const r = coreRig([
      { id: 'payment.timeout', routes: ['create'], times: 1 },
      { id: 'payment.error', routes: ['query'], status: 429, retryAfter: '1.2s', times: 1 },
      { id: 'payment.ambiguous' },
    ]);
    expect(r.core.create(tradeInput('o1', { payer: { id: 'b1' } }))).toEqual({ kind: 'hang' });
    expect(r.core.totals().trades).toBe(0);
    const lost = r.core.create(tradeInput('o1', { payer: { id: 'b1' } }));
    expect(lost).toMatchObject({ kind: 'ok', lost: 'reset', value: { repeat: false, trade: { tradeNo: 'T0000000001' } } });
    const limited = r.core.query({ outTradeNo: 'o1' });
    expect(limited).toMatchObject({ kind: 'refused', refusal: { code: 'RATE_LIMITED', httpStatus: 429, retryAfterS: 2 } });
    expect(valueOf(r.core.query({ outTradeNo: 'o1' })).tradeNo).toBe('T0000000001');
    // Only the first create per order is lost.
    expect(r.core.create(tradeInput('o1', { payer: { id: 'b1' } }))).toMatchObject({ kind: 'ok', value: { repeat: true } });
    expect(r.journal.events.filter((event) => event.type === 'fault.injected').map((event) => event.fault)).toEqual([
      'payment.timeout',
      'payment.ambiguous',
      'payment.error',
    ]);
  });

  it('payment.latency: the answer carries the sampled delay for the routes it lists', () => {
    const r = coreRig([{ id: 'payment.latency', routes: ['create'], delay: { uniform: { min: '10ms', max: '90ms' } } }]);
    const created = r.core.create(tradeInput('o1', { payer: { id: 'b1' } }));
    const expected = Math.round(r.plan.delayFor(0, { uniform: { min: 10, max: 90 } }, 'b1', 'create#1'));
    expect(created).toMatchObject({ kind: 'ok', delayMs: expected });
    expect(faultsOf(r.journal, 'payment.latency')).toEqual([expect.objectContaining({ detail: { route: 'create', delayMs: expected } })]);
    expect(r.core.pay(valueOf(created).trade.tradeNo, 'b1')).toMatchObject({ kind: 'ok', delayMs: 0 });
  });

  it('tampered: the capture moves the paid amount, and the notice carries it', () => {
    const r = coreRig([{ id: 'payment.callback.tampered', paidAmount: 1 }]);
    const tradeNo = valueOf(r.core.create(tradeInput('o1', { payer: { id: 'b1' } }))).trade.tradeNo;
    r.core.pay(tradeNo, 'b1');
    expect(r.sent[0]?.notice).toMatchObject({ status: 'TRADE_SUCCESS', amount: 1 });
    expect(r.core.trade(tradeNo)).toMatchObject({ amount: 1, orderedAmount: 3000 });
    // The shop's create retry still matches what it ordered.
    expect(valueOf(r.core.create(tradeInput('o1', { payer: { id: 'b1' } }))).repeat).toBe(true);
  });

  it('underpaid: the buyer sends a share of the amount; capture, notice and fault say so, and the trade keeps what was ordered', () => {
    const r = coreRig([{ id: 'payment.callback.underpaid', paidShare: 0.9 }]);
    const tradeNo = valueOf(r.core.create(tradeInput('o1', { payer: { id: 'b1' } }))).trade.tradeNo;
    r.core.pay(tradeNo, 'b1');
    expect(r.sent[0]?.notice).toMatchObject({ status: 'TRADE_SUCCESS', amount: 2700 });
    expect(r.sent[0]?.target.forgery).toBeUndefined();
    expect(r.core.trade(tradeNo)).toMatchObject({ amount: 2700, orderedAmount: 3000 });
    expect(faultsOf(r.journal, 'payment.callback.underpaid')).toEqual([
      expect.objectContaining({ orderId: 'o1', buyerId: 'b1', detail: { orderedAmount: 3000, paidAmount: 2700 } }),
    ]);
    expect(eventsOf(r.journal, 'payment.trade.paid')).toEqual([expect.objectContaining({ orderId: 'o1', amount: 2700 })]);
  });

  it('underpaid: a share that rounds to nothing still sends 1, and a 1-fen order cannot be underpaid', () => {
    const r = coreRig([{ id: 'payment.callback.underpaid', paidShare: 0.0001 }]);
    const small = valueOf(r.core.create(tradeInput('o1', { payer: { id: 'b1' } }))).trade.tradeNo;
    r.core.pay(small, 'b1');
    expect(r.sent[0]?.notice).toMatchObject({ amount: 1 });
    const tiny = valueOf(r.core.create(tradeInput('o2', { payer: { id: 'b1' }, amount: 1 }))).trade.tradeNo;
    r.core.pay(tiny, 'b1');
    expect(r.sent[1]?.notice).toMatchObject({ amount: 1 });
    expect(faultsOf(r.journal, 'payment.callback.underpaid').map((fault) => fault.orderId)).toEqual(['o1']);
  });

  it('forgeries are scheduled as neutral intents and dropped once the trade is paid', () => {
    vi.useFakeTimers();
    defer(() => {
      vi.useRealTimers();
    });
    const r = coreRig([
      { id: 'payment.callback.forged', after: '100ms' },
      { id: 'payment.callback.replayed', after: '200ms', age: '2h' },
    ]);
    const forgedOn = valueOf(r.core.create(tradeInput('o1', { payer: { id: 'b1' } }))).trade.tradeNo;
    const paidFirst = valueOf(r.core.create(tradeInput('o2', { payer: { id: 'b2' } }))).trade.tradeNo;
    expect(r.core.pendingForgeries()).toBe(4);
    r.core.pay(paidFirst, 'b2');
    expect(r.core.pendingForgeries()).toBe(2);
    vi.advanceTimersByTime(200);
    expect(r.core.pendingForgeries()).toBe(0);
    const forgeries = r.sent.filter(({ target }) => target.forgery !== undefined);
    expect(forgeries.map(({ target, notice }) => [target.forgery, notice.tradeNo, notice.status, notice.amount])).toEqual([
      [{ kind: 'forged', faultIndex: 0, detail: { afterMs: 100 } }, forgedOn, 'TRADE_SUCCESS', 3000],
      [{ kind: 'replayed', faultIndex: 1, ageMs: 7_200_000, detail: { afterMs: 200 } }, forgedOn, 'TRADE_SUCCESS', 3000],
    ]);
    expect(forgeries[0]?.target).toMatchObject({ subject: 'b1', buyerId: 'b1' });
    // Nothing was captured for the forged trade.
    expect(r.core.trade(forgedOn)?.status).toBe('WAIT_BUYER_PAY');
  });
});
