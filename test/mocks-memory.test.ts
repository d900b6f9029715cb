/**
 * The mocks' ledgers stay compact as a run gets longer (fix M2 in bench/RESULTS.md), and still
 * answer queries, refunds, late callbacks and duplicates for the whole run.
 *
 * Deterministic, no timing: the mocks run on a manual clock, driven directly (no HTTP), and what
 * they hold is checked structurally — by walking the object graph each mock keeps (its private
 * fields included), counting the objects and the strings it reaches.
 */
import { describe, expect, it } from 'vitest';
import type { MockReply } from '../mocks/mock-types.js';
import type { CoreAnswer, RefundResult } from '../mocks/payment/answers.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { eventsOf } from './helpers/journal.js';
import {
  field,
  ledgerRig,
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

function rig(faults: unknown[] = [], options: { inboxLimit?: number; archive?: boolean } = {}): Rig {
  return ledgerRig(defer, { name: 'mocks-memory', faults, archive: options.archive ?? false, ...(options.inboxLimit === undefined ? {} : { inboxLimit: options.inboxLimit }) });
}


/** An order of this test, each call of which must succeed. */
function placeOrder(r: Rig, i: number, options: { deviceId?: string; buyerId?: string; quantity?: number } = {}): PlacedOrder {
  const order = placeLedgerOrder(r, i, { tag: 'memorytest', ...options });
  expect(order.statuses).toEqual({ reserved: 201, assessed: 200, created: 'ok' });
  return order;
}

/** What an object graph holds: objects by kind and every string reached (one per reference). */
interface Reach {
  objects: number;
  maps: number;
  sets: number;
  strings: string[];
}

/** Walks what `root` keeps, not descending into `skip` (shared context) nor into functions and timers. */
function reach(root: object, skip: readonly object[]): Reach {
  const seen = new Set<object>(skip);
  const result: Reach = { objects: 0, maps: 0, sets: 0, strings: [] };
  const stack: unknown[] = [root];
  const visit = (value: unknown): void => {
    if (typeof value === 'string') result.strings.push(value);
    else if (value !== null && typeof value === 'object') stack.push(value);
  };
  while (stack.length > 0) {
    const value = stack.pop() as object;
    if (seen.has(value)) continue;
    seen.add(value);
    if (value.constructor?.name === 'Timeout') continue;
    result.objects += 1;
    if (value instanceof Map) {
      result.maps += 1;
      for (const [key, entry] of value) {
        visit(key);
        visit(entry);
      }
    } else if (value instanceof Set) {
      result.sets += 1;
      for (const entry of value) visit(entry);
    } else {
      for (const entry of Object.values(value)) visit(entry);
    }
  }
  return result;
}

function held(r: Rig, mock: object): Reach {
  return reach(mock, [r.context, r.context.journal, r.context.plan, r.context.correlation]);
}

const ISO_DATE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/;

describe('mock ledgers stay compact', () => {
  it('hold a fixed number of objects per order, no Map or Set per order, no ISO dates, no card codes outside the issued set, no message text beyond the inbox', () => {
    const r = rig([], { inboxLimit: 50 });
    const measure = (): Record<string, Reach> => ({ payment: held(r, r.payment), stock: held(r, r.stock), notify: held(r, r.notify), risk: held(r, r.risk) });
    for (let i = 0; i < 100; i++) placeOrder(r, i);
    const small = measure();
    const orders: PlacedOrder[] = [];
    for (let i = 100; i < 1100; i++) orders.push(placeOrder(r, i));
    const large = measure();

    for (const name of ['payment', 'stock', 'notify', 'risk'] as const) {
      // Maps and Sets are per mock, never per order.
      expect({ name, maps: large[name]!.maps, sets: large[name]!.sets }).toEqual({ name, maps: small[name]!.maps, sets: small[name]!.sets });
      // No date kept as a string (but in the bounded inbox's messages).
      expect(large[name]!.strings.filter((text) => ISO_DATE.test(text)).length).toBeLessThanOrEqual(name === 'notify' ? 50 : 0);
    }
    // Objects per order: a trade; a reservation; an assessment; nothing per message beyond the inbox.
    expect((large.payment!.objects - small.payment!.objects) / 1000).toBeLessThanOrEqual(1);
    expect((large.stock!.objects - small.stock!.objects) / 1000).toBeLessThanOrEqual(1);
    expect((large.risk!.objects - small.risk!.objects) / 1000).toBeLessThanOrEqual(1);
    expect(large.notify!.objects - small.notify!.objects).toBe(0);

    // Each card code is held once, by the set that keeps codes unique; fulfilled reservations hold none.
    const codes = orders.flatMap((order) => order.codes);
    expect(codes).toHaveLength(1000);
    const codeRefs = large.stock!.strings.filter((text) => /^(MONTH_CARD|GEMS_680)-[A-Z2-9]{12}$/.test(text));
    expect(codeRefs).toHaveLength(r.stock.issuedCodeCount());
    expect(r.stock.issuedCodeCount()).toBe(1100);

    // The gateway holds the text of the latest 50 messages only, and every message key.
    expect(large.notify!.strings.filter((text) => text.startsWith('TEXT '))).toHaveLength(50);
    expect(r.notify.inbox()).toHaveLength(50);
    expect(r.notify.inbox()[0]?.orderId).toBe(orders[orders.length - 50]?.orderId);
    expect(r.notify.accepted()).toBe(1100);
    expect(r.notify.keys()).toBe(1100);

    // Payer spending is counted only with a daily-limit fault; each device with one buyer is one string.
    expect(r.payment.countedPayers()).toBe(0);
    expect(r.risk.devices()).toEqual({ devices: 1100, shared: 0 });
    // The correlation keeps every link for the whole run (late calls are decided per buyer).
    expect(r.context.correlation.size).toBe(1100);
  });

  it('with the archive, hold nothing per settled order once it was idle for a sweep: the heap is flat in the number of orders', () => {
    const r = rig([], { inboxLimit: 50, archive: true });
    const measure = (): Record<string, Reach> => ({ payment: held(r, r.payment), stock: held(r, r.stock), notify: held(r, r.notify), risk: held(r, r.risk) });
    // As in a run: a sweep every "second" (here every 100 orders), and reservations expire from the heap after their TTL.
    const run = (from: number, to: number): void => {
      for (let i = from; i < to; i++) {
        placeOrder(r, i);
        if (i % 100 === 99) r.sweep();
      }
      r.advance(120_000);
      r.stock.available('MONTH_CARD');
      r.sweep();
      r.sweep();
    };
    run(0, 100);
    const small = measure();
    run(100, 2100);
    const large = measure();
    for (const name of ['payment', 'stock', 'notify', 'risk'] as const) {
      expect({ name, objects: large[name]!.objects, strings: large[name]!.strings.length }).toEqual({
        name,
        objects: small[name]!.objects,
        strings: small[name]!.strings.length,
      });
    }
    // The hot maps hold no settled, idle record; everything is in the archive and still counted.
    expect(r.payment.ledgerSizes()).toEqual({ hot: 0, archived: 2100 });
    for (const kind of ['reservation', 'card_code', 'message_key', 'assessment', 'assessment_order', 'correlation']) expect(r.records.sizes(kind)).toEqual({ hot: 0, archived: 2100 });
    expect(r.payment.totals()).toMatchObject({ trades: 2100, paid: 2100 });
    expect(r.stock.issuedCodeCount()).toBe(2100);
    expect(r.notify.keys()).toBe(2100);
    expect(r.context.correlation.size).toBe(2100);
    expect(r.risk.devices()).toEqual({ devices: 2100, shared: 0 });
    // An open order stays in the heap however many sweeps pass.
    r.stock.reserve(request('POST', {}, { sku: 'MONTH_CARD', quantity: 1, orderId: 'open', ttlMs: 3_600_000 }));
    valueOf(r.payment.create(tradeInput('open')));
    for (let i = 0; i < 5; i++) r.sweep();
    expect(r.payment.ledgerSizes()).toEqual({ hot: 1, archived: 2100 });
    expect(r.records.sizes('reservation')).toEqual({ hot: 1, archived: 2100 });
  });

  it('counts payer spending only when a payment.limit.daily fault is configured, and still refuses over the limit', () => {
    const r = rig([{ id: 'payment.limit.daily', limit: 8000 }]);
    const first = placeOrder(r, 0, { buyerId: 'spender' });
    expect(r.payment.tradeByOrder(first.orderId)?.status).toBe('TRADE_SUCCESS');
    expect(r.payment.countedPayers()).toBe(1);
    const second = placeOrder(r, 1, { buyerId: 'spender' }); // 3000 + 6800 > 8000
    expect(r.payment.tradeByOrder(second.orderId)).toMatchObject({ status: 'PAY_FAILED', failCode: 'LIMIT_DAILY' });
    expect(eventsOf(r.journal, 'payment.trade.pay_failed')).toEqual([expect.objectContaining({ orderId: second.orderId, code: 'LIMIT_DAILY' })]);
  });
});

describe('compact ledgers answer for the whole run', () => {
  it('queries and refunds long after delivery, idempotent by refund number', () => {
    const r = rig();
    const orders: PlacedOrder[] = [];
    for (let i = 0; i < 300; i++) orders.push(placeOrder(r, i));
    r.advance(3_600_000);
    const early = orders[3]!;
    const paidCallback = r.callbacks.find((entry) => entry.notice.outTradeNo === early.orderId);
    const byOrder = r.payment.query({ outTradeNo: early.orderId });
    expect(byOrder).toEqual({
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
    expect(paidCallback?.notice.paidAt).toBe(new Date(T0 + 3 * 7).toISOString());
    expect(r.payment.query({ tradeNo: early.tradeNo })).toEqual(byOrder);
    expect(r.payment.query({ tradeNo: 'T0000000000' })).toMatchObject({ kind: 'refused', refusal: { code: 'TRADE_NOT_EXIST' } });
    expect(r.payment.query({ tradeNo: `${early.tradeNo}0` })).toMatchObject({ kind: 'refused', refusal: { code: 'TRADE_NOT_EXIST' } });

    const refund = (refundNo: string, amount: number): CoreAnswer<RefundResult> => r.payment.refund(early.tradeNo, refundNo, amount);
    expect(refund('r1', 1000)).toEqual({ kind: 'ok', value: { refundNo: 'r1', amount: 1000, repeat: false }, delayMs: 0 });
    expect(refund('r1', 5000)).toEqual({ kind: 'ok', value: { refundNo: 'r1', amount: 1000, repeat: true }, delayMs: 0 });
    expect(refund('r2', 6000)).toMatchObject({ kind: 'refused', refusal: { code: 'REFUND_EXCEEDS_PAID' } });
    expect(refund('r2', 5800).kind).toBe('ok');
    expect(r.payment.trade(early.tradeNo)).toMatchObject({
      refunded: 6800,
      refunds: [
        { refundNo: 'r1', amount: 1000, at: new Date(T0 + 300 * 7 + 3_600_000).toISOString() },
        { refundNo: 'r2', amount: 5800, at: new Date(T0 + 300 * 7 + 3_600_000).toISOString() },
      ],
    });
    expect(r.payment.trade(orders[4]!.tradeNo)?.refunds).toEqual([]);
    expect(r.payment.totals()).toEqual({ captured: 150 * 3000 + 150 * 6800, refunded: 6800, trades: 300, paid: 300 });
  });

  it('a repeated fulfil answers the same cards, long after other cards were issued', () => {
    const r = rig();
    const first = placeOrder(r, 0, { quantity: 3 });
    const firstCards = r.stock.issuedCards().filter((card) => card.orderId === first.orderId);
    expect(firstCards.map((card) => card.code)).toEqual(first.codes);
    for (let i = 1; i < 200; i++) placeOrder(r, i, { quantity: 1 + (i % 3) });
    const again = r.stock.fulfil(request('POST', { id: first.reservationId }));
    expect(again).toEqual({ status: 200, body: { cards: firstCards.map(({ code, pin }) => ({ code, pin })) } });
    expect(r.stock.reservation(first.reservationId)).toMatchObject({ state: 'fulfilled', cards: firstCards.map(({ code, pin }) => ({ code, pin })) });
    const repeats = eventsOf(r.journal, 'stock.fulfilled').filter((event) => event.repeat);
    expect(repeats).toEqual([expect.objectContaining({ orderId: first.orderId, reservationId: first.reservationId, cards: first.codes })]);
    // Every code issued once.
    const all = r.stock.issuedCards().map((card) => card.code);
    expect(new Set(all).size).toBe(all.length);
    expect(all).toHaveLength(r.stock.issuedCodeCount());
  });

  it('a late payment succeeds after the shop closed the trade, and calls back', () => {
    const r = rig([{ id: 'payment.callback.late' }]);
    const tradeNo = valueOf(r.payment.create(tradeInput('ord-late', { payer: { id: 'late-buyer' }, expiresInMs: 1000 }))).trade.tradeNo;
    for (let i = 0; i < 50; i++) placeOrder(r, i);
    r.advance(5000);
    expect(valueOf(r.payment.closeTrade(tradeNo)).status).toBe('TRADE_CLOSED');
    expect(valueOf(r.payment.pay(tradeNo, 'late-buyer'))).toEqual({ status: 'TRADE_SUCCESS' });
    const late = r.callbacks.find((entry) => entry.notice.outTradeNo === 'ord-late');
    expect(late).toMatchObject({ target: { notifyUrl: NOTIFY_URL, subject: 'late-buyer', buyerId: 'late-buyer' }, notice: { tradeNo, status: 'TRADE_SUCCESS', amount: 3000 } });
    expect(eventsOf(r.journal, 'fault.injected').filter((event) => event.orderId === 'ord-late')).toEqual([
      expect.objectContaining({ fault: 'payment.callback.late', buyerId: 'late-buyer', detail: { lateByMs: 50 * 7 + 5000 - 1000 } }),
    ]);
    expect(r.payment.trade(tradeNo)).toMatchObject({ status: 'TRADE_SUCCESS', late: true, payer: { id: 'late-buyer' }, payerId: 'late-buyer' });
  });

  it('drops a duplicate message by key after its text left the inbox, with the first message id', () => {
    const r = rig([], { inboxLimit: 10 });
    const send = (orderId: string, key: string): MockReply =>
      r.notify.send(request('POST', {}, { to: '13800000000', orderId, channel: 'sms', kind: 'delivered', text: `TEXT ${orderId}`, messageKey: key }));
    const first = field(send('o-first', 'o-first:delivered'), 'messageId');
    for (let i = 0; i < 100; i++) send(`o${i}`, `o${i}:delivered`);
    expect(r.notify.inbox({ orderId: 'o-first' })).toEqual([]);
    expect(send('o-first', 'o-first:delivered')).toEqual({ status: 202, body: { messageId: first } });
    const duplicates = eventsOf(r.journal, 'notify.message').filter((event) => event.duplicate);
    expect(duplicates).toEqual([expect.objectContaining({ messageId: first, orderId: 'o-first', text: 'TEXT o-first' })]);
    expect(r.notify.accepted()).toBe(101);
    expect(r.notify.inbox().map((message) => message.orderId)).toEqual(Array.from({ length: 10 }, (_, i) => `o${90 + i}`));
  });

  it('device_switching still shows from the third buyer of a device on, and for repeat buyers', () => {
    const r = rig();
    const signalsOf = (orderId: string): string[] | undefined => r.risk.assessmentFor(orderId)?.signals;
    const buyers = ['b1', 'b2', 'b3', 'b4', 'b1', 'b2'];
    buyers.forEach((buyerId, i) => placeOrder(r, i, { buyerId, deviceId: 'shared-device' }));
    expect(buyers.map((_, i) => signalsOf(`ord_${String(i).padStart(8, '0')}_memorytest`))).toEqual([
      [],
      [],
      ['device_switching'],
      ['device_switching'],
      ['device_switching'],
      ['device_switching'],
    ]);
    placeOrder(r, 6, { buyerId: 'solo', deviceId: 'own-device' });
    placeOrder(r, 7, { buyerId: 'solo', deviceId: 'own-device' });
    expect(signalsOf('ord_00000007_memorytest')).toEqual([]);
    expect(r.risk.devices()).toEqual({ devices: 2, shared: 1 });
  });
});
