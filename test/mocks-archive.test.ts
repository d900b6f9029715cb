/**
 * The mocks' ledger archive: settled, idle records leave the heap for an on-disk store, and every
 * lookup that misses the heap still finds them there, with the same answers, journal events and
 * callbacks as when everything stayed in memory.
 *
 * Deterministic, no timing: manual clock, and the archive sweep is called directly.
 */
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it, vi } from 'vitest';
import { MemoryJournal } from '../core/journal.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { createMocks } from '../mocks/index.js';
import { LedgerArchive } from '../memory/ledger-archive.js';
import type { MockReply } from '../mocks/mock-types.js';
import type { CoreAnswer, RefundResult } from '../mocks/payment/answers.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { eventsOf } from './helpers/journal.js';
import {
  field,
  ledgerRig,
  ledgerScenario,
  NOTIFY_URL,
  placeOrder as placeLedgerOrder,
  request,
  T0,
  tradeInput,
  valueOf,
  type LedgerRig,
  type PlacedOrder,
} from './helpers/ledger-rig.js';

const defer = cleanupAfterEach();

type Rig = LedgerRig;

function rig(options: { faults?: unknown[]; archived?: boolean; inboxLimit?: number } = {}): Rig {
  return ledgerRig(defer, { name: 'mocks-archive', faults: options.faults ?? [], archive: options.archived !== false, ...(options.inboxLimit === undefined ? {} : { inboxLimit: options.inboxLimit }) });
}


/** An order of this test: buyers share seven devices (the risk screen's device index gets archived too). */
function placeOrder(r: Rig, i: number, options: { buyerId?: string; quantity?: number } = {}): PlacedOrder {
  return placeLedgerOrder(r, i, { tag: 'archivetest', deviceId: `device-${i % 7}`, ...options });
}

/** Late calls about early orders: queries, refunds, repeat fulfils, re-assessments, duplicate messages. */
function revisit(r: Rig, order: PlacedOrder, n: number): Array<MockReply | CoreAnswer<unknown>> {
  return [
    r.payment.query({ tradeNo: order.tradeNo }),
    r.payment.query({ outTradeNo: order.orderId }),
    r.payment.refund(order.tradeNo, `rf-${n}`, 1000),
    r.payment.refund(order.tradeNo, `rf-${n}`, 1000),
    r.payment.pay(order.tradeNo, order.buyerId),
    r.payment.closeTrade(order.tradeNo),
    r.stock.fulfil(request('POST', { id: order.reservationId })),
    r.stock.release(request('DELETE', { id: order.reservationId })),
    r.risk.query(request('GET', { id: order.assessmentId })),
    r.risk.assess(request('POST', {}, { orderId: order.orderId, buyer: { id: order.buyerId } })),
    r.notify.send(request('POST', {}, { to: '13800000000', orderId: order.orderId, channel: 'sms', kind: 'delivered', text: 'again', messageKey: `${order.orderId}:delivered` })),
  ];
}

/** The same run, with or without the archive (swept every 50 orders): answers, journal and callbacks. */
function scriptedRun(archived: boolean): { replies: unknown[]; events: unknown[]; callbacks: unknown[]; r: Rig } {
  const r = rig({ archived, inboxLimit: 20 });
  const orders: PlacedOrder[] = [];
  const replies: unknown[] = [];
  for (let i = 0; i < 400; i++) {
    orders.push(placeOrder(r, i, { quantity: 1 + (i % 3) }));
    if (i % 50 === 49) {
      r.sweep();
      r.advance(1000);
    }
    if (i % 37 === 36) replies.push(...revisit(r, orders[i - 30]!, i));
  }
  r.sweep();
  r.sweep();
  for (const [n, order] of orders.entries()) if (n % 23 === 0) replies.push(...revisit(r, order, 1000 + n));
  return { replies, events: r.journal.events.map(({ t: _t, ...event }) => event), callbacks: r.callbacks, r };
}

describe('ledger archive', () => {
  it('stores, finds, takes and deletes its file on close', () => {
    const archive = new LedgerArchive();
    archive.put('trade', '1', 'one');
    archive.putMany('trade', [
      ['2', 'two'],
      ['3', 'three'],
    ]);
    expect(archive.get('trade', '2')).toBe('two');
    expect(archive.has('trade', '3')).toBe(true);
    expect(archive.has('reservation', '3')).toBe(false);
    expect(archive.take('trade', '1')).toBe('one');
    expect(archive.get('trade', '1')).toBeUndefined();
    expect(archive.count('trade')).toBe(2);
    const before = readdirSync(tmpdir()).filter((name) => name.startsWith('ordeal-ledger-'));
    archive.close();
    const after = readdirSync(tmpdir()).filter((name) => name.startsWith('ordeal-ledger-'));
    expect(after.length).toBe(before.length - 1);
    expect(archive.get('trade', '2')).toBeUndefined();
  });

  it('finds every archived key and none that was never archived (the key filter has no false negatives)', () => {
    const archive = new LedgerArchive();
    defer(() => archive.close());
    const keys = Array.from({ length: 20_000 }, (_, i) => `order-${i.toString(36)}-${(i * 7919) % 10_007}`);
    archive.putMany('correlation', keys.slice(0, 10_000).map((key) => [key, `buyer-${key}`] as const));
    for (const key of keys.slice(10_000)) archive.put('correlation', key, `buyer-${key}`);
    for (const key of keys) expect(archive.get('correlation', key)).toBe(`buyer-${key}`);
    for (let i = 0; i < 20_000; i++) expect(archive.get('correlation', `never-${i}`)).toBeUndefined();
    // A taken key is gone even though the filter still says "maybe".
    expect(archive.take('correlation', keys[0]!)).toBe(`buyer-${keys[0]}`);
    expect(archive.has('correlation', keys[0]!)).toBe(false);
  });

  it('createMocks archives on its sweep and deletes the archive when stopped', async () => {
    const scenario = ledgerScenario('mocks-archive');
    const parts = await createMocks({ scenario, journal: new MemoryJournal(0), plan: new FaultPlan(scenario.faults, scenario.seed), secret: 's' });
    const tradeNo = valueOf(parts.payment.create(tradeInput('o1', { payer: { id: 'b1' } }))).trade.tradeNo;
    parts.payment.closeTrade(tradeNo);
    parts.sweepArchive();
    expect(parts.sweepArchive()).toBeGreaterThanOrEqual(1);
    expect(parts.payment.ledgerSizes()).toEqual({ hot: 0, archived: 1 });
    expect(parts.payment.trade(tradeNo)?.status).toBe('TRADE_CLOSED');
    expect(parts.payment.ledgerSizes()).toEqual({ hot: 1, archived: 0 });
    const dirs = readdirSync(tmpdir()).filter((name) => name.startsWith('ordeal-ledger-'));
    await parts.stop();
    expect(readdirSync(tmpdir()).filter((name) => name.startsWith('ordeal-ledger-')).length).toBe(dirs.length - 1);
    expect(parts.sweepArchive()).toBe(0);
  });
});

describe('the archive sweep timer', () => {
  it('sweeps each ledger once per archiveSweepMs', async () => {
    vi.useFakeTimers();
    defer(() => {
      vi.useRealTimers();
    });
    const scenario = ledgerScenario('mocks-archive');
    const parts = await createMocks({ scenario, journal: new MemoryJournal(0), plan: new FaultPlan(scenario.faults, scenario.seed), secret: 's', archiveSweepMs: 1000 });
    defer(() => parts.stop());
    const created = valueOf(parts.payment.create(tradeInput('o1', { payer: { id: 'b1' } })));
    parts.payment.closeTrade(created.trade.tradeNo);
    // A ledger's first sweep ages a record, the second archives it: within two periods, not one.
    // (The other mocks' stores are swept by their space's timer: test/record-space.test.ts.)
    vi.advanceTimersByTime(999);
    expect(parts.payment.ledgerSizes()).toEqual({ hot: 1, archived: 0 });
    vi.advanceTimersByTime(1001);
    expect(parts.payment.ledgerSizes()).toEqual({ hot: 0, archived: 1 });
    await parts.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('archived ledgers answer as before', () => {
  it('gives byte-identical answers, journal events and callbacks with and without the archive', () => {
    const plain = scriptedRun(false);
    const archived = scriptedRun(true);
    expect(archived.r.payment.ledgerSizes().archived).toBeGreaterThan(300);
    expect(JSON.stringify(archived.replies)).toBe(JSON.stringify(plain.replies));
    expect(JSON.stringify(archived.events)).toBe(JSON.stringify(plain.events));
    expect(JSON.stringify(archived.callbacks)).toBe(JSON.stringify(plain.callbacks));
    expect(archived.r.payment.allTrades()).toEqual(plain.r.payment.allTrades());
    expect(archived.r.payment.totals()).toEqual(plain.r.payment.totals());
    expect(archived.r.stock.allReservations()).toEqual(plain.r.stock.allReservations());
    expect(archived.r.stock.issuedCards()).toEqual(plain.r.stock.issuedCards());
    expect(archived.r.stock.issuedCodeCount()).toBe(plain.r.stock.issuedCodeCount());
    expect(archived.r.risk.assessments()).toEqual(plain.r.risk.assessments());
    expect(archived.r.notify.keys()).toBe(plain.r.notify.keys());
    expect(archived.r.risk.devices()).toEqual(plain.r.risk.devices());
    expect(archived.r.context.correlation.size).toBe(plain.r.context.correlation.size);
  });

  it('after the sweep the heap holds only the open and recently touched records', () => {
    const r = rig();
    for (let i = 0; i < 500; i++) placeOrder(r, i);
    // One order still open: reserved, trade unpaid.
    r.stock.reserve(request('POST', {}, { sku: 'MONTH_CARD', quantity: 1, orderId: 'open-order', ttlMs: 600_000, buyerId: 'open-buyer' }));
    const open = valueOf(r.payment.create(tradeInput('open-order', { payer: { id: 'open-buyer' } })));
    r.sweep();
    r.sweep();
    expect(r.payment.ledgerSizes()).toEqual({ hot: 1, archived: 500 });
    expect(r.records.sizes('reservation')).toEqual({ hot: 1, archived: 500 });
    expect(r.records.sizes('assessment')).toEqual({ hot: 0, archived: 500 });
    expect(r.records.sizes('message_key')).toEqual({ hot: 0, archived: 500 });
    expect(r.records.sizes('correlation')).toEqual({ hot: 0, archived: 501 });
    // Touched records come back and stay until idle for a whole sweep period.
    expect(r.payment.trade(open.trade.tradeNo)?.status).toBe('WAIT_BUYER_PAY');
    expect(r.payment.trade('T0000000007')?.status).toBe('TRADE_SUCCESS');
    expect(r.payment.ledgerSizes()).toEqual({ hot: 2, archived: 499 });
    r.sweep();
    expect(r.payment.ledgerSizes()).toEqual({ hot: 2, archived: 499 });
    r.sweep();
    expect(r.payment.ledgerSizes()).toEqual({ hot: 1, archived: 500 });
    // Totals still count every order.
    expect(r.payment.totals()).toMatchObject({ trades: 501, paid: 500 });
    expect(r.stock.issuedCodeCount()).toBe(500);
  });

  it('an archived trade still answers query, refund (idempotent) and close', () => {
    const r = rig();
    const orders: PlacedOrder[] = [];
    for (let i = 0; i < 100; i++) orders.push(placeOrder(r, i));
    r.sweep();
    r.sweep();
    const early = orders[3]!;
    expect(r.payment.ledgerSizes().hot).toBe(0);
    const paidCallback = r.callbacks.find((entry) => entry.notice.outTradeNo === early.orderId);
    expect(r.payment.query({ outTradeNo: early.orderId })).toEqual({
      kind: 'ok',
      value: {
        tradeNo: early.tradeNo,
        outTradeNo: early.orderId,
        status: 'TRADE_SUCCESS',
        amount: 6800,
        currency: 'CNY',
        paidAt: paidCallback?.notice.paidAt,
        refunded: 0,
      },
      delayMs: 0,
    });
    r.sweep();
    r.sweep();
    const refund = (refundNo: string, amount: number): CoreAnswer<RefundResult> => r.payment.refund(early.tradeNo, refundNo, amount);
    expect(refund('r1', 1000)).toEqual({ kind: 'ok', value: { refundNo: 'r1', amount: 1000, repeat: false }, delayMs: 0 });
    r.sweep();
    r.sweep();
    expect(r.payment.ledgerSizes().hot).toBe(0);
    expect(refund('r1', 5000)).toEqual({ kind: 'ok', value: { refundNo: 'r1', amount: 1000, repeat: true }, delayMs: 0 });
    expect(refund('r2', 6000)).toMatchObject({ kind: 'refused', refusal: { code: 'REFUND_EXCEEDS_PAID' } });
    expect(r.payment.closeTrade(early.tradeNo)).toMatchObject({ kind: 'refused', refusal: { code: 'TRADE_HAS_SUCCESS' } });
    expect(r.payment.trade(early.tradeNo)).toMatchObject({ refunded: 1000, refunds: [{ refundNo: 'r1', amount: 1000 }] });
    expect(r.payment.query({ tradeNo: 'T0000000101' })).toMatchObject({ kind: 'refused', refusal: { code: 'TRADE_NOT_EXIST', httpStatus: 404 } });
  });

  it('an archived closed trade under payment.callback.late still takes the late payment and calls back', () => {
    const r = rig({ faults: [{ id: 'payment.callback.late' }] });
    const tradeNo = valueOf(r.payment.create(tradeInput('ord-late', { payer: { id: 'late-buyer' }, expiresInMs: 1000 }))).trade.tradeNo;
    r.advance(5000);
    expect(valueOf(r.payment.closeTrade(tradeNo)).status).toBe('TRADE_CLOSED');
    for (let i = 0; i < 20; i++) placeOrder(r, i);
    r.sweep();
    r.sweep();
    expect(r.payment.ledgerSizes()).toEqual({ hot: 0, archived: 21 });
    expect(valueOf(r.payment.pay(tradeNo, 'late-buyer'))).toEqual({ status: 'TRADE_SUCCESS' });
    const late = r.callbacks.find((entry) => entry.notice.outTradeNo === 'ord-late');
    expect(late).toMatchObject({ target: { notifyUrl: NOTIFY_URL, subject: 'late-buyer', buyerId: 'late-buyer' }, notice: { tradeNo, status: 'TRADE_SUCCESS', amount: 3000 } });
    expect(eventsOf(r.journal, 'fault.injected').filter((event) => event.orderId === 'ord-late')).toEqual([
      expect.objectContaining({ fault: 'payment.callback.late', buyerId: 'late-buyer', detail: { lateByMs: 20 * 7 + 5000 - 1000 } }),
    ]);
  });

  it('an unpaid trade is archived once expired (and answers closed), but not while a forged callback is pending', () => {
    const create = (r: Rig, orderId: string): string =>
      valueOf(r.payment.create(tradeInput(orderId, { payer: { id: `${orderId}-buyer` }, expiresInMs: 1000 }))).trade.tradeNo;
    const plain = rig();
    const unpaid = create(plain, 'ord-unpaid');
    plain.sweep();
    plain.sweep();
    expect(plain.payment.ledgerSizes()).toEqual({ hot: 1, archived: 0 });
    plain.advance(5000);
    plain.sweep();
    plain.sweep();
    expect(plain.payment.ledgerSizes()).toEqual({ hot: 0, archived: 1 });
    expect(valueOf(plain.payment.query({ tradeNo: unpaid })).status).toBe('TRADE_CLOSED');
    expect(plain.payment.pay(unpaid, 'ord-unpaid-buyer')).toMatchObject({ kind: 'refused', refusal: { code: 'TRADE_CLOSED', httpStatus: 409 } });

    const forging = rig({ faults: [{ id: 'payment.callback.forged', after: 60_000 }] });
    const forged = create(forging, 'ord-forged');
    forging.advance(5000);
    forging.sweep();
    forging.sweep();
    expect(forging.payment.ledgerSizes()).toEqual({ hot: 1, archived: 0 });
    expect(forging.payment.pendingForgeries()).toBe(1);
    // Looking at the expired trade closes it and cancels its forgery: then it may go.
    expect(forging.payment.trade(forged)?.status).toBe('TRADE_CLOSED');
    expect(forging.payment.pendingForgeries()).toBe(0);
    forging.sweep();
    forging.sweep();
    expect(forging.payment.ledgerSizes()).toEqual({ hot: 0, archived: 1 });
  });

  it('an archived reservation answers a repeat fulfil with the same cards, and new cards stay unique', () => {
    const r = rig();
    const first = placeOrder(r, 0, { quantity: 3 });
    for (let i = 1; i < 50; i++) placeOrder(r, i, { quantity: 2 });
    r.sweep();
    r.sweep();
    expect(r.records.sizes('reservation')).toEqual({ hot: 0, archived: 50 });
    const again = r.stock.fulfil(request('POST', { id: first.reservationId }));
    expect(field<Array<{ code: string }>>(again, 'cards').map((card) => card.code)).toEqual(first.codes);
    expect(eventsOf(r.journal, 'stock.fulfilled').filter((event) => event.repeat)).toEqual([
      expect.objectContaining({ orderId: first.orderId, reservationId: first.reservationId, cards: first.codes }),
    ]);
    for (let i = 50; i < 100; i++) placeOrder(r, i, { quantity: 2 });
    const all = r.stock.issuedCards().map((card) => card.code);
    expect(new Set(all).size).toBe(all.length);
    expect(all).toHaveLength(r.stock.issuedCodeCount());
  });

  it('an archived message key still marks a duplicate, with the first message id', () => {
    const r = rig({ inboxLimit: 5 });
    const send = (orderId: string, key: string): MockReply =>
      r.notify.send(request('POST', {}, { to: '13800000000', orderId, channel: 'sms', kind: 'delivered', text: `TEXT ${orderId}`, messageKey: key }));
    const first = field(send('o-first', 'o-first:delivered'), 'messageId');
    for (let i = 0; i < 30; i++) send(`o${i}`, `o${i}:delivered`);
    r.sweep();
    r.sweep();
    expect(r.records.sizes('message_key')).toEqual({ hot: 0, archived: 31 });
    expect(send('o-first', 'o-first:delivered')).toEqual({ status: 202, body: { messageId: first } });
    expect(eventsOf(r.journal, 'notify.message').filter((event) => event.duplicate)).toEqual([expect.objectContaining({ messageId: first, orderId: 'o-first' })]);
    expect(r.notify.accepted()).toBe(31);
  });

  it('an archived correlation link and assessment still answer', () => {
    const r = rig();
    const orders: PlacedOrder[] = [];
    for (let i = 0; i < 30; i++) orders.push(placeOrder(r, i));
    r.sweep();
    r.sweep();
    const order = orders[2]!;
    expect(r.context.correlation.buyerOf(order.orderId)).toBe(order.buyerId);
    expect(r.context.correlation.subject(order.orderId)).toBe(order.buyerId);
    expect(r.risk.assessmentFor(order.orderId)).toMatchObject({ assessmentId: order.assessmentId, buyerId: order.buyerId, status: 'approved' });
    expect(r.risk.query(request('GET', { id: order.assessmentId })).body).toMatchObject({ assessmentId: order.assessmentId, status: 'approved' });
    expect(existsSync(tmpdir())).toBe(true);
  });
});
