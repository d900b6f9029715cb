/**
 * Hand-built journals for the scoring, invariant, gate and report tests: every event gets an
 * explicit `t`, so stage times and credits are exact.
 */
import { expect } from 'vitest';
import type { JournalEvent, JournalEventMap, JournalEventType } from '../core/journal.js';
import { evaluateGate } from '../harness/score/gate.js';
import { type IncidentReport, type Report, type ReportMeta, type ScenarioScore } from '../core/report-types.js';
import { buildReport } from '../harness/score/report.js';
import { scoreScenario } from '../harness/score/score.js';
import type { CreateIntent } from '../core/faults/facts.js';
import { scenarioSchema, type BuyerBehaviour, type IncidentClass, type Scenario, type ScenarioInput } from '../core/scenario-schema.js';

export const PRICE = 3000;

/** A valid scenario with one SKU (MONTH_CARD, 3000, stock 100); `overrides` replace top-level fields. */
export function makeScenario(overrides: Partial<ScenarioInput> = {}): Scenario {
  return scenarioSchema.parse({
    name: 'unit',
    catalog: { skus: [{ sku: 'MONTH_CARD', name: 'Monthly card', price: PRICE, stock: 100 }] },
    load: { stages: [{ rate: 1, duration: 1000 }] },
    ...overrides,
  });
}

export const contactOf = (buyerId: string): string => `${buyerId}@example.test`;

export class JournalBuilder {
  readonly events: JournalEvent[] = [];
  private seq = 0;

  add<K extends JournalEventType>(t: number, type: K, payload: JournalEventMap[K]): this {
    this.events.push({ seq: this.seq++, t, type, ...payload } as JournalEvent);
    return this;
  }

  buyer(t: number, buyerId: string, options: { behaviour?: BuyerBehaviour; quantity?: number; sku?: string; region?: string } = {}): this {
    return this.add(t, 'buyer.arrived', {
      buyerId,
      seq: this.seq,
      behaviour: options.behaviour ?? 'normal',
      sku: options.sku ?? 'MONTH_CARD',
      quantity: options.quantity ?? 1,
      contact: contactOf(buyerId),
      region: options.region ?? 'CN-GD',
      signals: [],
      intendedAt: t,
    });
  }

  dropped(t: number, buyerId: string): this {
    return this.add(t, 'buyer.dropped', { buyerId, seq: this.seq, intendedAt: t, inFlight: 10 });
  }

  created(
    t: number,
    buyerId: string,
    orderId: string,
    options: { status?: string; reason?: string; amount?: number; httpStatus?: number; intent?: CreateIntent; key?: string } = {},
  ): this {
    return this.add(t, 'order.create.answered', {
      buyerId,
      idempotencyKey: options.key ?? `key-${buyerId}`,
      latencyMs: 10,
      httpStatus: options.httpStatus ?? 201,
      orderId,
      status: options.status ?? 'pending_payment',
      reason: options.reason,
      amount: options.amount ?? PRICE,
      intent: options.intent,
    });
  }

  createFailed(
    t: number,
    buyerId: string,
    options: { httpStatus?: number; error?: string; errorCode?: string; intent?: CreateIntent; key?: string } = {},
  ): this {
    return this.add(t, 'order.create.answered', {
      buyerId,
      idempotencyKey: options.key ?? `key-${buyerId}`,
      latencyMs: 10,
      httpStatus: options.httpStatus,
      error: options.error,
      errorCode: options.errorCode,
      intent: options.intent,
    });
  }

  cancelAnswered(t: number, buyerId: string, orderId: string, options: { httpStatus?: number; status?: string } = {}): this {
    return this.add(t, 'order.cancel.answered', {
      buyerId,
      orderId,
      latencyMs: 5,
      httpStatus: options.httpStatus ?? 200,
      status: options.status ?? 'cancelled',
    });
  }

  observed(
    t: number,
    orderId: string,
    buyerId: string,
    status: string,
    options: { reason?: string; cards?: number; cardCodes?: string[] } = {},
  ): this {
    return this.add(t, 'order.observed', {
      orderId,
      buyerId,
      status,
      reason: options.reason,
      cards: options.cards ?? options.cardCodes?.length ?? 0,
      cardCodes: options.cardCodes,
      source: 'poll',
    });
  }

  tradeCreated(t: number, orderId: string, amount = PRICE): this {
    return this.add(t, 'payment.trade.created', { orderId, tradeNo: `T-${orderId}`, amount, method: 'alipay', repeat: false });
  }

  paid(t: number, orderId: string, amount = PRICE, payerId?: string): this {
    return this.add(t, 'payment.trade.paid', { orderId, tradeNo: `T-${orderId}`, amount, payerId: payerId ?? 'payer' });
  }

  queried(t: number, orderId: string, status: 'TRADE_SUCCESS' | 'WAIT_BUYER_PAY' = 'TRADE_SUCCESS'): this {
    return this.add(t, 'payment.trade.queried', { orderId, tradeNo: `T-${orderId}`, status });
  }

  closed(t: number, orderId: string, result: 'closed' | 'has_success'): this {
    return this.add(t, 'payment.trade.closed', { orderId, tradeNo: `T-${orderId}`, result });
  }

  refund(t: number, orderId: string, amount = PRICE, options: { ok?: boolean; repeat?: boolean; refundNo?: string } = {}): this {
    return this.add(t, 'payment.refund', {
      orderId,
      tradeNo: `T-${orderId}`,
      refundNo: options.refundNo ?? `R-${orderId}-${t}`,
      amount,
      repeat: options.repeat ?? false,
      ok: options.ok ?? true,
    });
  }

  callback(
    t: number,
    orderId: string,
    options: {
      acked?: boolean;
      copy?: number;
      attempt?: number;
      status?: 'TRADE_SUCCESS' | 'PAY_FAILED';
      forgery?: 'forged' | 'replayed' | 'altered' | 'stale';
      /** The shop's answer; null for none (a timeout, a refused connection). @default 200 when acked, else 401 */
      httpStatus?: number | null;
    } = {},
  ): this {
    const acked = options.acked ?? true;
    const httpStatus = options.httpStatus === undefined ? (acked ? 200 : 401) : options.httpStatus;
    return this.add(t, 'payment.callback.sent', {
      orderId,
      tradeNo: `T-${orderId}`,
      notifyId: `N-${orderId}${options.forgery ? `-${options.forgery}` : ''}`,
      status: options.status ?? (options.forgery === 'stale' ? 'PAY_FAILED' : 'TRADE_SUCCESS'),
      attempt: options.attempt ?? 1,
      copy: options.copy ?? 1,
      forgery: options.forgery,
      acked,
      latencyMs: 5,
      ...(httpStatus === null ? {} : { httpStatus }),
    });
  }

  tradeRefused(t: number, orderId: string, code: string, httpStatus = 403): this {
    return this.add(t, 'payment.trade.refused', { orderId, code, httpStatus });
  }

  repeatTrade(t: number, orderId: string, amount = PRICE): this {
    return this.add(t, 'payment.trade.created', { orderId, tradeNo: `T-${orderId}`, amount, method: 'alipay', repeat: true });
  }

  payFailed(t: number, orderId: string, code: string): this {
    return this.add(t, 'payment.trade.pay_failed', { orderId, tradeNo: `T-${orderId}`, code });
  }

  fulfilFailed(t: number, orderId: string, code = 'SYSTEM_ERROR'): this {
    return this.add(t, 'stock.fulfil_failed', { orderId, reservationId: `S-${orderId}`, code });
  }

  lapsed(t: number, orderId: string): this {
    return this.add(t, 'stock.released', { orderId, reservationId: `S-${orderId}`, reason: 'expired' });
  }

  notifyRefused(t: number, orderId: string, to: string, kind: string): this {
    return this.add(t, 'notify.refused', { orderId, to, kind, httpStatus: 503 });
  }

  assessed(t: number, orderId: string, decision: 'approve' | 'review' | 'reject', buyerId?: string): this {
    return this.add(t, 'risk.assessed', { orderId, assessmentId: `A-${orderId}`, buyerId, decision, reasons: [], signals: [] });
  }

  riskResolved(t: number, orderId: string, status: 'approved' | 'rejected'): this {
    return this.add(t, 'risk.resolved', { orderId, assessmentId: `A-${orderId}`, status });
  }

  killed(t: number): this {
    return this.add(t, 'target.killed', { pid: 1, signal: 'SIGKILL' });
  }

  restarted(t: number, downMs = 1000): this {
    return this.add(t, 'target.restarted', { pid: 2, url: 'http://127.0.0.1:1', downMs });
  }

  reserved(t: number, orderId: string, options: { quantity?: number; sku?: string; repeat?: boolean } = {}): this {
    return this.add(t, 'stock.reserved', {
      orderId,
      reservationId: `S-${orderId}`,
      sku: options.sku ?? 'MONTH_CARD',
      quantity: options.quantity ?? 1,
      repeat: options.repeat ?? false,
    });
  }

  stockRefused(t: number, orderId: string, sku = 'MONTH_CARD'): this {
    return this.add(t, 'stock.refused', { orderId, sku, quantity: 1, code: 'SOLD_OUT' });
  }

  released(t: number, orderId: string): this {
    return this.add(t, 'stock.released', { orderId, reservationId: `S-${orderId}`, reason: 'released' });
  }

  fulfilled(t: number, orderId: string, cards: string[] = [`CARD-${orderId}`], options: { repeat?: boolean; sku?: string } = {}): this {
    return this.add(t, 'stock.fulfilled', {
      orderId,
      reservationId: `S-${orderId}`,
      sku: options.sku ?? 'MONTH_CARD',
      cards,
      repeat: options.repeat ?? false,
    });
  }

  message(t: number, orderId: string, to: string, kind: string, options: { reason?: string; duplicate?: boolean } = {}): this {
    return this.add(t, 'notify.message', {
      messageId: `M-${this.seq}`,
      orderId,
      to,
      channel: 'sms',
      kind,
      reason: options.reason,
      text: kind,
      duplicate: options.duplicate ?? false,
    });
  }

  fault(t: number, fault: IncidentClass, target: { orderId?: string; buyerId?: string }, faultIndex = fault.startsWith('buyer.') ? -1 : 0): this {
    return this.add(t, 'fault.injected', { fault, faultIndex, orderId: target.orderId, buyerId: target.buyerId, detail: {} });
  }

  finished(t: number, buyerId: string, orderId: string | undefined, outcome: JournalEventMap['buyer.finished']['outcome'], latencyMs: number): this {
    return this.add(t, 'buyer.finished', { buyerId, orderId, outcome, latencyMs, finalStatus: outcome === 'delivered' ? 'delivered' : 'failed' });
  }

  /** A normal buyer whose payment callback is dropped (a fault hit) and whose shop reconciles by a query, then delivers. */
  reconciled(t0: number, buyerId: string, orderId: string): this {
    return this.buyer(t0, buyerId)
      .reserved(t0 + 5, orderId)
      .tradeCreated(t0 + 8, orderId)
      .created(t0 + 10, buyerId, orderId)
      .paid(t0 + 60, orderId)
      .fault(t0 + 61, 'payment.callback.drop', { orderId, buyerId })
      .queried(t0 + 500, orderId)
      .fulfilled(t0 + 510, orderId)
      .message(t0 + 520, orderId, contactOf(buyerId), 'delivered')
      .observed(t0 + 600, orderId, buyerId, 'delivered', { cardCodes: [`CARD-${orderId}`] })
      .finished(t0 + 600, buyerId, orderId, 'delivered', 600);
  }

  /** A normal buyer whose order goes through cleanly: arrive, create, reserve, pay, deliver, tell. */
  happy(t0: number, buyerId: string, orderId: string, options: { latencyMs?: number; amount?: number; quantity?: number } = {}): this {
    const amount = options.amount ?? PRICE;
    const quantity = options.quantity ?? 1;
    const cards = Array.from({ length: quantity }, (_, index) => `CARD-${orderId}-${index}`);
    return this.buyer(t0, buyerId, { quantity })
      .reserved(t0 + 5, orderId, { quantity })
      .tradeCreated(t0 + 8, orderId, amount)
      .created(t0 + 10, buyerId, orderId, { amount })
      .paid(t0 + 60, orderId, amount)
      .callback(t0 + 70, orderId)
      .fulfilled(t0 + 80, orderId, cards)
      .message(t0 + 90, orderId, contactOf(buyerId), 'delivered')
      .observed(t0 + 100, orderId, buyerId, 'delivered', { cards: quantity })
      .finished(t0 + 100, buyerId, orderId, 'delivered', options.latencyMs ?? 100);
  }
}

/** The events as an async stream, one at a time. */
export async function* streamOf(events: readonly JournalEvent[]): AsyncGenerator<JournalEvent> {
  for (const event of events) {
    await Promise.resolve();
    yield event;
  }
}

/** Scores the built journal against `scenario` (by default makeScenario()). */
export async function score(builder: JournalBuilder, scenario: Scenario = makeScenario()): Promise<ScenarioScore> {
  return scoreScenario(builder.events, scenario);
}

/** The scored incident of class `fault` on `orderId`; throws, listing those there are, when there is none. */
export async function incident(builder: JournalBuilder, fault: IncidentClass, orderId = 'o1', scenario?: Scenario): Promise<IncidentReport> {
  const result = await score(builder, scenario);
  const found = result.incidents.find((entry) => entry.class === fault && entry.orderId === orderId);
  if (!found) throw new Error(`no ${fault} incident for ${orderId}: ${JSON.stringify(result.incidents.map((entry) => [entry.class, entry.orderId]))}`);
  return found;
}

export type StageName = 'detect' | 'notify' | 'recover';

/**
 * Expects each listed stage met in time with full credit: `{ detect: [at, ms] }` stands for
 * `expect(result.stages.detect).toEqual({ at, ms, credit: 1 })`. Stages are checked in the order
 * detect, notify, recover.
 */
export function expectFullCredit(result: IncidentReport, stages: Partial<Record<StageName, readonly [at: number, ms: number]>>): void {
  for (const stage of ['detect', 'notify', 'recover'] as const) {
    const met = stages[stage];
    if (met) expect(result.stages[stage], stage).toEqual({ at: met[0], ms: met[1], credit: 1 });
  }
}

/** Report metadata for hand-built reports. */
export const SAMPLE_META: ReportMeta = { seed: 7, replay: 'ordeal run scenarios/ --seed 7', version: '0.1.0', createdAt: '2024-05-01T00:00:00.000Z' };

/** Two scenarios: callback-drop fails (score 65 < 80; ord_stuck paid and stuck), smoke passes. */
export async function sampleReport(meta: ReportMeta = SAMPLE_META): Promise<Report> {
  const failing = makeScenario({ name: 'callback-drop', description: 'charged, callback lost', gate: { minScore: 80 } });
  const journal = new JournalBuilder()
    .happy(0, 'b10', 'o10')
    .buyer(0, 'b1')
    .created(10, 'b1', 'ord_stuck')
    .paid(1000, 'ord_stuck')
    .fault(1000, 'payment.callback.drop', { orderId: 'ord_stuck' })
    .queried(1500, 'ord_stuck')
    .buyer(0, 'b3')
    .fault(100, 'stock.stale', { orderId: 'o3' })
    .created(150, 'b3', 'o3', { status: 'failed', reason: 'out_of_stock' })
    .message(400, 'o3', contactOf('b3'), 'out_of_stock');
  const failingScore = await scoreScenario(journal.events, failing);
  const passing = makeScenario({ name: 'smoke' });
  const passingScore = await scoreScenario(new JournalBuilder().happy(0, 'b1', 'o1').events, passing);
  return buildReport(
    [
      { scenario: failing, score: failingScore, gate: evaluateGate(failingScore, failing, {}) },
      { scenario: passing, score: passingScore, gate: evaluateGate(passingScore, passing, {}) },
    ],
    meta,
  );
}
