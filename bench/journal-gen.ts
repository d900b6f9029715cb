/**
 * A synthetic journal for the scoring benchmarks: the events a run of normal buyers leaves (14 per
 * delivered order), with 5 % of the orders hit by `payment.callback.drop` (reconciled by a query)
 * and 5 % of the buyers abandoning payment (expiry: query, close, release, message). Events are
 * typed against `JournalEventMap`, so the generator breaks at compile time when the journal changes.
 * Deterministic: the same count gives the same file.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { JournalEvent, JournalEventMap, JournalEventType } from '../core/journal.js';
import type { ScenarioInput } from '../core/scenario-schema.js';

/** The scenario the synthetic journal belongs to. */
export const SCORING_SCENARIO: ScenarioInput = {
  name: 'bench-scoring',
  description: 'Synthetic journal for the scoring benchmark',
  seed: 1,
  catalog: { skus: [{ sku: 'MONTH_CARD', name: 'Monthly card', price: 3000, stock: 10_000_000 }] },
  shop: { orderTtl: '8s', reconcileAfter: '1.5s', reconcileEvery: '1s' },
  load: { stages: [{ rate: '1000/s', duration: '80s' }], maxInFlight: 5000 },
  buyers: { mix: { normal: 0.95, abandon_payment: 0.05 } },
  faults: [{ id: 'payment.callback.drop', probability: 0.05 }],
  gate: { minScore: 0, steadyState: { successRate: 0.99 } },
  settle: '10s',
};

type Draft = { t: number } & { [K in JournalEventType]: { type: K } & JournalEventMap[K] }[JournalEventType];

/** Events of one buyer's journey, with times relative to its arrival at `t0`. */
function buyerEvents(index: number, t0: number, runId: string): Draft[] {
  const buyerId = `buyer-${String(index + 1).padStart(7, '0')}`;
  const orderId = `ord_${index.toString(36).padStart(8, '0')}`;
  const tradeNo = `T${String(index + 1).padStart(10, '0')}`;
  const reservationId = `R${String(index + 1).padStart(10, '0')}`;
  const contact = `1${String(3_000_000_000 + index * 7919).slice(0, 10)}`;
  const key = `${runId}-${buyerId}`;
  const abandon = index % 20 === 7;
  const dropped = !abandon && index % 20 === 13;
  const events: Draft[] = [
    { t: t0, type: 'buyer.arrived', buyerId, seq: index, behaviour: abandon ? 'abandon_payment' : 'normal', sku: 'MONTH_CARD', quantity: 1, contact, region: 'CN-GD', signals: [], intendedAt: t0 - 0.2 },
    { t: t0 + 0.1, type: 'order.create.sent', buyerId, idempotencyKey: key, attempt: 1, intent: 'order', sku: 'MONTH_CARD' },
    { t: t0 + 2, type: 'stock.reserved', orderId, reservationId, sku: 'MONTH_CARD', quantity: 1, repeat: false },
    { t: t0 + 3, type: 'risk.assessed', orderId, assessmentId: `A${index}`, buyerId, decision: 'approve', reasons: [], signals: [] },
    { t: t0 + 4, type: 'payment.trade.created', orderId, tradeNo, amount: 3000, method: 'alipay', payerId: buyerId, repeat: false },
    { t: t0 + 5, type: 'order.create.answered', buyerId, idempotencyKey: key, latencyMs: 4.9, intent: 'order', httpStatus: 201, orderId, status: 'pending_payment', amount: 3000, tradeNo },
    { t: t0 + 5.1, type: 'order.observed', orderId, buyerId, status: 'pending_payment', cards: 0, source: 'create' },
  ];
  if (abandon) {
    events.push(
      { t: t0 + 5.2, type: 'fault.injected', fault: 'buyer.abandon_payment', faultIndex: -1, buyerId, orderId, detail: {} },
      { t: t0 + 1500, type: 'payment.trade.queried', orderId, tradeNo, status: 'WAIT_BUYER_PAY' },
      { t: t0 + 8000, type: 'payment.trade.queried', orderId, tradeNo, status: 'WAIT_BUYER_PAY' },
      { t: t0 + 8001, type: 'payment.trade.closed', orderId, tradeNo, result: 'closed' },
      { t: t0 + 8002, type: 'stock.released', orderId, reservationId, reason: 'released' },
      { t: t0 + 8003, type: 'notify.message', messageId: `M${index}`, orderId, to: contact, channel: 'sms', kind: 'expired', reason: 'expired_unpaid', text: `Your order ${orderId} expired unpaid.`, messageKey: `${orderId}:expired`, duplicate: false },
      { t: t0 + 8100, type: 'order.observed', orderId, buyerId, status: 'expired', reason: 'expired_unpaid', cards: 0, source: 'poll' },
      { t: t0 + 8100.1, type: 'buyer.finished', buyerId, orderId, finalStatus: 'expired', outcome: 'abandoned', latencyMs: 8100.3 },
    );
    return events;
  }
  const paidAt = t0 + 56;
  events.push(
    { t: paidAt, type: 'payment.trade.paid', orderId, tradeNo, amount: 3000, payerId: buyerId },
    { t: paidAt + 0.5, type: 'cashier.paid', buyerId, orderId, tradeNo, latencyMs: 1.2, httpStatus: 200, result: 'TRADE_SUCCESS' },
  );
  let deliveredAt = paidAt + 3;
  if (dropped) {
    events.push(
      { t: paidAt + 0.6, type: 'fault.injected', fault: 'payment.callback.drop', faultIndex: 0, orderId, buyerId, detail: {} },
      { t: t0 + 1500, type: 'payment.trade.queried', orderId, tradeNo, status: 'TRADE_SUCCESS' },
    );
    deliveredAt = t0 + 1502;
  } else {
    events.push({ t: paidAt + 2, type: 'payment.callback.sent', orderId, tradeNo, notifyId: `N${index}`, status: 'TRADE_SUCCESS', attempt: 1, copy: 1, acked: true, latencyMs: 1.5, httpStatus: 200 });
  }
  const code = `MONTH_CARD-${index.toString(36).toUpperCase().padStart(12, '0')}`;
  events.push(
    { t: deliveredAt, type: 'stock.fulfilled', orderId, reservationId, sku: 'MONTH_CARD', cards: [code], repeat: false },
    { t: deliveredAt + 1, type: 'notify.message', messageId: `M${index}`, orderId, to: contact, channel: 'sms', kind: 'delivered', text: `Your order ${orderId} is delivered. Cards: ${code} / PIN 123456.`, messageKey: `${orderId}:delivered`, duplicate: false },
    { t: deliveredAt + 200, type: 'order.observed', orderId, buyerId, status: 'delivered', cards: 1, cardCodes: [code], source: 'poll' },
    { t: deliveredAt + 200.1, type: 'buyer.finished', buyerId, orderId, finalStatus: 'delivered', outcome: 'delivered', latencyMs: deliveredAt + 200.3 - t0 },
  );
  return events;
}

/**
 * Writes a journal of at least `minEvents` events to `path` (buyers arriving at `ratePerS`).
 * Returns the number of events written.
 */
export async function writeSyntheticJournal(path: string, minEvents: number, ratePerS = 1000): Promise<number> {
  const out = createWriteStream(path);
  const gap = 1000 / ratePerS;
  let seq = 0;
  const write = async (text: string): Promise<void> => {
    if (!out.write(text)) await once(out, 'drain');
  };
  const head: JournalEvent = { seq: seq++, t: 0, type: 'run.started', scenario: 'bench-scoring', seed: 1, startedAt: '2026-01-01T00:00:00.000Z', replay: 'bench', target: 'bench' };
  await write(`${JSON.stringify(head)}\n`);
  // Journeys overlap in time: keep the pending events of recent buyers in time order.
  let pending: Draft[] = [];
  let index = 0;
  let written = 1;
  while (written < minEvents) {
    const t0 = 100 + index * gap;
    pending.push(...buyerEvents(index, t0, 'bench0001'));
    index++;
    if (index % 256 === 0) {
      pending.sort((a, b) => a.t - b.t);
      const cut = pending.findIndex((event) => event.t > t0);
      const ready = cut < 0 ? pending : pending.slice(0, cut);
      pending = cut < 0 ? [] : pending.slice(cut);
      const lines: string[] = [];
      for (const draft of ready) lines.push(JSON.stringify({ seq: seq++, ...draft }));
      written += ready.length;
      await write(`${lines.join('\n')}\n`);
    }
  }
  pending.sort((a, b) => a.t - b.t);
  const lines = pending.map((draft) => JSON.stringify({ seq: seq++, ...draft }));
  written += pending.length;
  const last = pending[pending.length - 1]?.t ?? 0;
  lines.push(JSON.stringify({ seq: seq++, t: last + 1, type: 'load.finished', arrivals: index, dropped: 0 }));
  lines.push(JSON.stringify({ seq: seq++, t: last + 2, type: 'run.finished', reason: 'completed' }));
  written += 2;
  await write(`${lines.join('\n')}\n`);
  out.end();
  await once(out, 'close');
  return written;
}
