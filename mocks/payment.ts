/**
 * The payment provider (native wire protocol v1, DESIGN.md §4.1): Alipay-like trades with a
 * cashier the harness pays at, query, close, idempotent refunds, and signed callbacks sent by the
 * callback dispatcher. Its ledger — trades, captures, refunds — is the ground truth for money.
 */
import type { TradeStatus } from '../harness/journal.js';
import type { PaymentRoute } from '../harness/scenario-schema.js';
import type { CallbackNotice } from './callback-dispatcher.js';
import { isLoopbackHost } from './http-transport.js';
import {
  asObject,
  errorReply,
  nonEmptyString,
  positiveInt,
  type JsonObject,
  type MockContext,
  type MockReply,
  type MockRequest,
  type MockRoute,
} from './mock-types.js';

/** An unpaid trade closes itself after this long unless `expiresInMs` says otherwise. */
export const DEFAULT_TRADE_TTL_MS = 15 * 60_000;

export interface TradeRefund {
  refundNo: string;
  amount: number;
  at: string;
}

/** A trade as the provider's ledger holds it (read-only snapshot for tests and checks). */
export interface TradeRecord {
  tradeNo: string;
  outTradeNo: string;
  amount: number;
  currency: string;
  subject: string;
  notifyUrl: string;
  method: string;
  payer?: { id: string; region?: string };
  createdAt: string;
  expiresAt: string;
  status: TradeStatus;
  /** Who paid at the cashier (or tried to). */
  payerId?: string;
  paidAt?: string;
  failCode?: string;
  /** Running total refunded. */
  refunded: number;
  refunds: TradeRefund[];
}

interface Trade extends Omit<TradeRecord, 'expiresAt' | 'refunds'> {
  expiresAtMs: number;
  refunds: Map<string, TradeRefund>;
}

/** Hands a capture or payment failure to whoever sends callbacks (the dispatcher). */
export type CallbackSink = (
  target: { notifyUrl: string; subject: string; buyerId?: string },
  notice: CallbackNotice,
) => void;

export interface PaymentProviderOptions extends MockContext {
  /** Base URL the provider is served at; payUrl is `${baseUrl}/cashier/${tradeNo}`. Settable later. */
  baseUrl?: string;
  /** Where callbacks go; without one, no callback is sent. */
  callbacks?: CallbackSink;
  /** Wall clock, ms since the epoch. @default Date.now */
  clock?: () => number;
}

type Body = JsonObject;

function invalid(message: string): MockReply {
  return errorReply(400, 'INVALID_REQUEST', message);
}

/** True for an http(s) URL whose host is loopback. */
export function isLoopbackUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && isLoopbackHost(url.hostname);
  } catch {
    return false;
  }
}

export class PaymentProvider {
  /** Base URL the provider is served at (set by startMocks once the server listens). */
  baseUrl: string;
  private readonly context: MockContext;
  private readonly callbacks: CallbackSink | undefined;
  private readonly clock: () => number;
  private readonly trades = new Map<string, Trade>();
  private readonly byOutTradeNo = new Map<string, string>();
  private readonly latencyCounters = new Map<string, number>();
  private tradeSeq = 0;

  constructor(options: PaymentProviderOptions) {
    this.context = { journal: options.journal, plan: options.plan, correlation: options.correlation };
    this.baseUrl = options.baseUrl ?? '';
    this.callbacks = options.callbacks;
    this.clock = options.clock ?? Date.now;
  }

  // ---- ledger snapshots ------------------------------------------------------------------

  /** A trade by trade number. */
  trade(tradeNo: string): TradeRecord | undefined {
    const trade = this.trades.get(tradeNo);
    return trade && this.snapshot(trade);
  }

  /** The trade created for a shop order (outTradeNo). */
  tradeByOrder(orderId: string): TradeRecord | undefined {
    const tradeNo = this.byOutTradeNo.get(orderId);
    return tradeNo === undefined ? undefined : this.trade(tradeNo);
  }

  /** Every trade, in creation order. */
  allTrades(): TradeRecord[] {
    return [...this.trades.values()].map((trade) => this.snapshot(trade));
  }

  /** Totals over the ledger: captured and refunded money (minor units). */
  totals(): { captured: number; refunded: number; trades: number; paid: number } {
    let captured = 0;
    let refunded = 0;
    let paid = 0;
    for (const trade of this.trades.values()) {
      if (trade.paidAt !== undefined) {
        captured += trade.amount;
        paid += 1;
      }
      refunded += trade.refunded;
    }
    return { captured, refunded, trades: this.trades.size, paid };
  }

  // ---- routes ----------------------------------------------------------------------------

  routes(): MockRoute[] {
    return [
      { method: 'POST', path: '/v1/trades', name: 'create', handle: (request) => this.create(request) },
      { method: 'POST', path: '/v1/trades/:tradeNo/pay', name: 'pay', handle: (request) => this.pay(request) },
      { method: 'GET', path: '/v1/trades/:tradeNo', name: 'query', handle: (request) => this.query(request) },
      { method: 'GET', path: '/v1/trades', name: 'query', handle: (request) => this.query(request) },
      { method: 'POST', path: '/v1/trades/:tradeNo/close', name: 'close', handle: (request) => this.close(request) },
      { method: 'POST', path: '/v1/trades/:tradeNo/refunds', name: 'refund', handle: (request) => this.refund(request) },
    ];
  }

  // ---- handlers --------------------------------------------------------------------------

  create(request: MockRequest): MockReply {
    const body = asObject(request.body);
    if (!body) return invalid('expected a JSON object body');
    const { outTradeNo, amount, currency, subject, notifyUrl, method, payer, expiresInMs } = body;
    if (!nonEmptyString(outTradeNo, 128)) return invalid('outTradeNo: expected a non-empty string (at most 128 characters)');
    const refuse = (message: string): MockReply => {
      this.context.journal.append('payment.trade.refused', { orderId: outTradeNo, code: 'INVALID_REQUEST', httpStatus: 400 });
      return invalid(message);
    };
    if (!positiveInt(amount)) return refuse('amount: expected a positive integer (minor units)');
    if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) return refuse('currency: expected a 3-letter code such as "CNY"');
    if (typeof subject !== 'string') return refuse('subject: expected a string');
    if (!nonEmptyString(notifyUrl, 2048) || !isLoopbackUrl(notifyUrl)) {
      return refuse('notifyUrl: expected an http URL on loopback (127.0.0.1, ::1 or localhost)');
    }
    if (!nonEmptyString(method, 64)) return refuse('method: expected a non-empty string');
    let payerInfo: TradeRecord['payer'];
    if (payer !== undefined && payer !== null) {
      const payerObject = asObject(payer);
      if (!payerObject || !nonEmptyString(payerObject.id) || (payerObject.region !== undefined && typeof payerObject.region !== 'string')) {
        return refuse('payer: expected { id: string, region?: string }');
      }
      payerInfo = { id: payerObject.id, ...(typeof payerObject.region === 'string' ? { region: payerObject.region } : {}) };
    }
    if (expiresInMs !== undefined && !positiveInt(expiresInMs)) return refuse('expiresInMs: expected a positive integer');

    const faultSubject = this.context.correlation.subject(outTradeNo, payerInfo?.id);
    const delayMs = this.latency('create', faultSubject, outTradeNo, payerInfo?.id);

    const existingNo = this.byOutTradeNo.get(outTradeNo);
    const existing = existingNo === undefined ? undefined : this.trades.get(existingNo);
    if (existing) {
      if (existing.amount !== amount) {
        this.context.journal.append('payment.trade.refused', { orderId: outTradeNo, code: 'DUPLICATE_OUT_TRADE_NO', httpStatus: 409 });
        return this.delayed(
          errorReply(409, 'DUPLICATE_OUT_TRADE_NO', `outTradeNo ${outTradeNo} already has a trade for amount ${existing.amount}`),
          delayMs,
        );
      }
      this.context.journal.append('payment.trade.created', {
        orderId: outTradeNo,
        tradeNo: existing.tradeNo,
        amount: existing.amount,
        method: existing.method,
        ...(existing.payer ? { payerId: existing.payer.id } : {}),
        repeat: true,
      });
      return this.delayed({ status: 200, body: this.createAnswer(existing) }, delayMs);
    }

    const now = this.clock();
    this.tradeSeq += 1;
    const trade: Trade = {
      tradeNo: `T${String(this.tradeSeq).padStart(10, '0')}`,
      outTradeNo,
      amount,
      currency,
      subject,
      notifyUrl,
      method,
      ...(payerInfo ? { payer: payerInfo } : {}),
      createdAt: new Date(now).toISOString(),
      expiresAtMs: now + (expiresInMs ?? DEFAULT_TRADE_TTL_MS),
      status: 'WAIT_BUYER_PAY',
      refunded: 0,
      refunds: new Map(),
    };
    this.trades.set(trade.tradeNo, trade);
    this.byOutTradeNo.set(outTradeNo, trade.tradeNo);
    this.context.journal.append('payment.trade.created', {
      orderId: outTradeNo,
      tradeNo: trade.tradeNo,
      amount,
      method,
      ...(payerInfo ? { payerId: payerInfo.id } : {}),
      repeat: false,
    });
    return this.delayed({ status: 201, body: this.createAnswer(trade) }, delayMs);
  }

  pay(request: MockRequest): MockReply {
    const body = asObject(request.body);
    if (!body || !nonEmptyString(body.payerId)) return invalid('payerId: expected a non-empty string');
    if (body.method !== undefined && typeof body.method !== 'string') return invalid('method: expected a string');
    const payerId = body.payerId;
    const trade = this.trades.get(request.params.tradeNo ?? '');
    if (!trade) return errorReply(404, 'TRADE_NOT_EXIST', `no trade ${request.params.tradeNo ?? ''}`);
    const orderId = trade.outTradeNo;
    const faultSubject = this.context.correlation.subject(orderId, payerId);
    const delayMs = this.latency('pay', faultSubject, orderId, payerId);
    const status = this.statusOf(trade);

    if (status === 'TRADE_SUCCESS') return this.delayed({ status: 200, body: { status: 'TRADE_SUCCESS' } }, delayMs);
    if (status === 'PAY_FAILED') {
      return this.delayed(
        { status: 402, body: { code: trade.failCode ?? 'DECLINED', status: 'PAY_FAILED', message: 'this trade already failed' } },
        delayMs,
      );
    }
    if (status === 'TRADE_CLOSED') return this.delayed(errorReply(409, 'TRADE_CLOSED', `trade ${trade.tradeNo} is closed`), delayMs);
    if (status === 'VERIFYING') return this.delayed(errorReply(409, 'TRADE_VERIFYING', `trade ${trade.tradeNo} awaits verification`), delayMs);

    trade.payerId = payerId;
    const limit = this.context.plan
      .hits('payment.limit.single', faultSubject)
      .find((hit) => hit.spec.limit === undefined || trade.amount > hit.spec.limit);
    if (limit) {
      trade.status = 'PAY_FAILED';
      trade.failCode = 'LIMIT_SINGLE';
      this.context.journal.append('fault.injected', {
        fault: limit.spec.id,
        faultIndex: limit.index,
        orderId,
        buyerId: payerId,
        detail: { amount: trade.amount, ...(limit.spec.limit === undefined ? {} : { limit: limit.spec.limit }) },
      });
      this.context.journal.append('payment.trade.pay_failed', { orderId, tradeNo: trade.tradeNo, code: 'LIMIT_SINGLE' });
      this.notify(trade, payerId, { tradeNo: trade.tradeNo, outTradeNo: orderId, status: 'PAY_FAILED', amount: trade.amount, failCode: 'LIMIT_SINGLE' });
      return this.delayed(
        { status: 402, body: { code: 'LIMIT_SINGLE', status: 'PAY_FAILED', message: 'the amount exceeds the single-payment limit' } },
        delayMs,
      );
    }

    trade.status = 'TRADE_SUCCESS';
    trade.paidAt = new Date(this.clock()).toISOString();
    this.context.journal.append('payment.trade.paid', { orderId, tradeNo: trade.tradeNo, amount: trade.amount, payerId });
    this.notify(trade, payerId, { tradeNo: trade.tradeNo, outTradeNo: orderId, status: 'TRADE_SUCCESS', amount: trade.amount, paidAt: trade.paidAt });
    return this.delayed({ status: 200, body: { status: 'TRADE_SUCCESS' } }, delayMs);
  }

  query(request: MockRequest): MockReply {
    let trade: Trade | undefined;
    let orderId: string | undefined;
    const tradeNo = request.params.tradeNo;
    if (tradeNo !== undefined) {
      trade = this.trades.get(tradeNo);
      orderId = trade?.outTradeNo;
    } else {
      const outTradeNo = request.query.outTradeNo;
      if (!outTradeNo) return invalid('expected ?outTradeNo=… or /v1/trades/{tradeNo}');
      orderId = outTradeNo;
      const found = this.byOutTradeNo.get(outTradeNo);
      trade = found === undefined ? undefined : this.trades.get(found);
    }
    const delayMs = orderId === undefined ? 0 : this.latency('query', this.context.correlation.subject(orderId), orderId);
    if (!trade) {
      this.context.journal.append('payment.trade.queried', {
        ...(orderId === undefined ? {} : { orderId }),
        ...(tradeNo === undefined ? {} : { tradeNo }),
        status: 'NOT_FOUND',
      });
      return this.delayed(errorReply(404, 'TRADE_NOT_EXIST', 'no such trade'), delayMs);
    }
    const status = this.statusOf(trade);
    this.context.journal.append('payment.trade.queried', { orderId: trade.outTradeNo, tradeNo: trade.tradeNo, status });
    return this.delayed({ status: 200, body: this.queryAnswer(trade) }, delayMs);
  }

  close(request: MockRequest): MockReply {
    const trade = this.trades.get(request.params.tradeNo ?? '');
    if (!trade) return errorReply(404, 'TRADE_NOT_EXIST', `no trade ${request.params.tradeNo ?? ''}`);
    const orderId = trade.outTradeNo;
    const delayMs = this.latency('close', this.context.correlation.subject(orderId), orderId);
    const status = this.statusOf(trade);
    if (status === 'TRADE_SUCCESS') {
      this.context.journal.append('payment.trade.closed', { orderId, tradeNo: trade.tradeNo, result: 'has_success' });
      return this.delayed(errorReply(409, 'TRADE_HAS_SUCCESS', `trade ${trade.tradeNo} is paid; treat the order as paid`), delayMs);
    }
    trade.status = 'TRADE_CLOSED';
    this.context.journal.append('payment.trade.closed', { orderId, tradeNo: trade.tradeNo, result: 'closed' });
    return this.delayed({ status: 200, body: { status: 'TRADE_CLOSED' } }, delayMs);
  }

  refund(request: MockRequest): MockReply {
    const body = asObject(request.body);
    if (!body || !nonEmptyString(body.refundNo, 128)) return invalid('refundNo: expected a non-empty string');
    if (!positiveInt(body.amount)) return invalid('amount: expected a positive integer (minor units)');
    const refundNo = body.refundNo;
    const amount = body.amount;
    const trade = this.trades.get(request.params.tradeNo ?? '');
    if (!trade) return errorReply(404, 'TRADE_NOT_EXIST', `no trade ${request.params.tradeNo ?? ''}`);
    const orderId = trade.outTradeNo;
    const delayMs = this.latency('refund', this.context.correlation.subject(orderId), orderId);
    const base = { orderId, tradeNo: trade.tradeNo, refundNo };

    const done = trade.refunds.get(refundNo);
    if (done) {
      this.context.journal.append('payment.refund', { ...base, amount: done.amount, repeat: true, ok: true });
      return this.delayed({ status: 200, body: { refundNo, amount: done.amount, status: 'SUCCESS' } }, delayMs);
    }
    if (this.statusOf(trade) !== 'TRADE_SUCCESS') {
      this.context.journal.append('payment.refund', { ...base, amount, repeat: false, ok: false, code: 'TRADE_NOT_PAID' });
      return this.delayed(errorReply(409, 'TRADE_NOT_PAID', `trade ${trade.tradeNo} was never paid`), delayMs);
    }
    if (trade.refunded + amount > trade.amount) {
      this.context.journal.append('payment.refund', { ...base, amount, repeat: false, ok: false, code: 'REFUND_EXCEEDS_PAID' });
      return this.delayed(
        errorReply(409, 'REFUND_EXCEEDS_PAID', `refunding ${amount} would exceed the paid ${trade.amount} (already refunded ${trade.refunded})`),
        delayMs,
      );
    }
    trade.refunds.set(refundNo, { refundNo, amount, at: new Date(this.clock()).toISOString() });
    trade.refunded += amount;
    this.context.journal.append('payment.refund', { ...base, amount, repeat: false, ok: true });
    return this.delayed({ status: 200, body: { refundNo, amount, status: 'SUCCESS' } }, delayMs);
  }

  // ---- internals -------------------------------------------------------------------------

  /** The trade's status, closing an unpaid trade whose time ran out (evaluated lazily). */
  private statusOf(trade: Trade): TradeStatus {
    if ((trade.status === 'WAIT_BUYER_PAY' || trade.status === 'VERIFYING') && this.clock() >= trade.expiresAtMs) {
      trade.status = 'TRADE_CLOSED';
    }
    return trade.status;
  }

  /** Injected latency for one request on a route (0 when no `payment.latency` fault hits). */
  private latency(route: PaymentRoute, subject: string, orderId: string, buyerId?: string): number {
    const plan = this.context.plan;
    if (!plan.has('payment.latency')) return 0;
    const hit = plan.hits('payment.latency', subject).find((candidate) => candidate.spec.routes.includes(route));
    if (!hit) return 0;
    // A per-subject, per-route counter keeps successive draws distinct and deterministic.
    const key = `${route}\u0000${subject}`;
    const n = (this.latencyCounters.get(key) ?? 0) + 1;
    this.latencyCounters.set(key, n);
    const delayMs = Math.max(0, Math.round(plan.delayFor(hit.index, hit.spec.delay, subject, `${route}#${n}`)));
    const buyer = buyerId ?? this.context.correlation.buyerOf(orderId);
    this.context.journal.append('fault.injected', {
      fault: hit.spec.id,
      faultIndex: hit.index,
      orderId,
      ...(buyer === undefined ? {} : { buyerId: buyer }),
      detail: { route, delayMs },
    });
    return delayMs;
  }

  private delayed(reply: MockReply, delayMs: number): MockReply {
    return delayMs > 0 ? { ...reply, delayMs } : reply;
  }

  private notify(trade: Trade, payerId: string, notice: CallbackNotice): void {
    this.callbacks?.({ notifyUrl: trade.notifyUrl, subject: payerId, buyerId: payerId }, notice);
  }

  private createAnswer(trade: Trade): Record<string, unknown> {
    return {
      tradeNo: trade.tradeNo,
      outTradeNo: trade.outTradeNo,
      status: this.statusOf(trade),
      payUrl: `${this.baseUrl}/cashier/${trade.tradeNo}`,
      expiresAt: new Date(trade.expiresAtMs).toISOString(),
    };
  }

  private queryAnswer(trade: Trade): Record<string, unknown> {
    return {
      tradeNo: trade.tradeNo,
      outTradeNo: trade.outTradeNo,
      status: trade.status,
      amount: trade.amount,
      ...(trade.paidAt === undefined ? {} : { paidAt: trade.paidAt }),
      ...(trade.failCode === undefined ? {} : { failCode: trade.failCode }),
      refunded: trade.refunded,
    };
  }

  private snapshot(trade: Trade): TradeRecord {
    const { expiresAtMs, refunds, ...rest } = trade;
    return {
      ...rest,
      ...(trade.payer ? { payer: { ...trade.payer } } : {}),
      status: this.statusOf(trade),
      expiresAt: new Date(expiresAtMs).toISOString(),
      refunds: [...refunds.values()].map((refund) => ({ ...refund })),
    };
  }
}
