/**
 * The payment provider (native wire protocol v1, DESIGN.md §4.1): Alipay-like trades with a
 * cashier the harness pays at, extra verification, query, close, idempotent refunds, and signed
 * callbacks sent by the callback dispatcher. Its ledger — trades, captures, refunds — is the
 * ground truth for money.
 *
 * Payment faults are decided here, per subject: the payer (the trade's `payer.id`, the cashier's
 * `payerId`) when known, else the correlation's subject for the order. `times` counters are per
 * (fault index, subject, route), except `payment.query.error` and `payment.refund.error`, which
 * count the calls about one order.
 */
import type { TradeStatus } from '../core/journal.js';
import type { FaultId, PaymentRoute } from '../core/scenario-schema.js';
import type { CallbackNotice, CallbackTarget } from './callback-dispatcher.js';
import type { FaultHit } from './fault-plan.js';
import { isLoopbackHost } from './http-transport.js';
import { GenerationalLedger, type LedgerArchive } from '../memory/ledger-archive.js';
import {
  asObject,
  errorReply,
  inline,
  LedgerClock,
  nonEmptyString,
  positiveInt,
  seqId,
  seqOf,
  StringPool,
  type MockContext,
  type MockReply,
  type MockRequest,
} from './mock-types.js';
import type { FaultSubject, SubjectAwareRoute } from './transport-faults.js';

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
  /** What the trade is for; after `payment.callback.tampered`, what the buyer actually paid. */
  amount: number;
  /** Set by `payment.callback.tampered`: the amount the shop created the trade for. */
  orderedAmount?: number;
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
  /** The extra verification the payment waits for (`payment.verification`). */
  verificationId?: string;
  /** `payment.callback.late`: the trade does not close itself at `expiresAt`. */
  late?: boolean;
  /** Running total refunded. */
  refunded: number;
  refunds: TradeRefund[];
}

/**
 * A trade as the ledger keeps it for the whole run: numbers (ledger times, sequence numbers) and
 * shared strings; every field is always present, so all trades share one compact shape.
 * `snapshot()` turns it into a TradeRecord.
 */
interface Trade {
  /** The trade number is `seqId('T', seq)`. */
  readonly seq: number;
  /** Shared with the correlation and the other ledgers. */
  readonly outTradeNo: string;
  amount: number;
  /** Shared by the trades with the same terms. */
  readonly terms: TradeTerms;
  /** The payer named at creation (`payer.id`; the region is in the terms). */
  readonly payer: string | undefined;
  /** Ledger times. */
  readonly createdAt: number;
  readonly expiresAt: number;
  status: TradeStatus;
  payerId: string | undefined;
  paidAt: number | undefined;
  failCode: RefusalCode | undefined;
  refunded: number;
  /** What only some trades have (faults, refunds); created when first needed. */
  extra: TradeExtra | undefined;
}

/** The strings a trade repeats from many others: one object per distinct combination. */
interface TradeTerms {
  readonly currency: string;
  readonly subject: string;
  readonly notifyUrl: string;
  readonly method: string;
  /** The payer's region, when named at creation. */
  readonly region: string | undefined;
}

interface TradeExtra {
  /** Set by `payment.callback.tampered`: the amount the shop created the trade for. */
  orderedAmount: number | undefined;
  /** The verification's sequence number (`seqId('V', …)`). */
  verification: number | undefined;
  /** Index of the `payment.callback.late` fault that keeps this trade open past expiresAt. */
  lateFault: number | undefined;
  refunds: Refund[] | undefined;
}

/** Distinct trade terms kept for sharing; trades beyond that many combinations get their own. */
const TERMS_POOL_LIMIT = 1024;

interface Refund {
  readonly refundNo: string;
  readonly amount: number;
  /** Ledger time. */
  readonly at: number;
}

/**
 * Hands a notice to whoever sends callbacks (the dispatcher): a capture, a payment failure, or —
 * when `target.forgery` is set — a forged or replayed success the provider never issued.
 */
export type CallbackSink = (target: CallbackTarget, notice: CallbackNotice) => void;

export interface PaymentProviderOptions extends MockContext {
  /** Base URL the provider is served at; payUrl is `${baseUrl}/cashier/${tradeNo}`. Settable later. */
  baseUrl?: string;
  /** Where callbacks go; without one, no callback is sent. */
  callbacks?: CallbackSink;
  /** Wall clock, ms since the epoch. @default Date.now */
  clock?: () => number;
  /** Where settled, idle trades go (`sweepArchive()`); without one, every trade stays in the heap. */
  archive?: LedgerArchive;
}

/** Payment refusals at the cashier, with the buyer-facing message. */
const REFUSALS = {
  LIMIT_SINGLE: 'the amount exceeds the single-payment limit',
  LIMIT_DAILY: 'the amount exceeds the daily quick-pay limit',
  DECLINED: 'the payment was declined (insufficient funds)',
} as const;
type RefusalCode = keyof typeof REFUSALS;

/** A channel fault's answer instead of the route's: a hang or an error. */
interface ChannelStall {
  reply: MockReply;
  /** Set for an error answer (not for a hang). */
  error?: { code: string; status: number };
}

type Detail = Record<string, string | number | boolean>;

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
  private readonly time: LedgerClock;
  /** Trades by sequence number (trade `seqId('T', n)` is n); settled, idle ones in the archive. */
  private readonly trades: GenerationalLedger<number, Trade>;
  /** Trades created so far (the last sequence number). */
  private tradeCount = 0;
  /** outTradeNo → trade sequence number (idle entries in the archive). */
  private readonly byOutTradeNo: GenerationalLedger<string, number>;
  /** Verification `seqId('V', n)` is about the trade whose sequence number is at index n - 1. */
  private readonly verifications: number[] = [];
  private readonly latencyCounters = new Map<string, number>();
  /** `times` counters of the channel and reconciliation faults. */
  private readonly faultCounters = new Map<string, number>();
  /** What each payer captured in this run; kept only when a `payment.limit.daily` fault is configured. */
  private readonly spentByPayer: Map<string, number> | undefined;
  /** Pending forged / replayed callbacks per trade sequence number. */
  private readonly forgeryTimers = new Map<number, Set<NodeJS.Timeout>>();
  /** Trade terms by their strings, for sharing (at most TERMS_POOL_LIMIT). */
  private readonly termsPool = new Map<string, TradeTerms>();
  /** Notify URLs, currencies, methods, regions, subjects: one copy each. */
  private readonly strings = new StringPool();
  private closed = false;

  constructor(options: PaymentProviderOptions) {
    this.context = { journal: options.journal, plan: options.plan, correlation: options.correlation };
    this.baseUrl = options.baseUrl ?? '';
    this.callbacks = options.callbacks;
    this.time = new LedgerClock(options.clock ?? Date.now);
    this.spentByPayer = options.plan.has('payment.limit.daily') ? new Map() : undefined;
    this.trades = new GenerationalLedger<number, Trade>('trade', {
      encode: (trade) => this.encodeTrade(trade),
      decode: (text) => this.decodeTrade(text),
      key: Number,
      // Paid, failed or closed (an unpaid trade past its expiry counts as closed; it closes
      // itself, lazily, when next looked at), with no forged callback pending (its timer holds it).
      settled: (trade) =>
        !this.forgeryTimers.has(trade.seq) &&
        ((trade.status !== 'WAIT_BUYER_PAY' && trade.status !== 'VERIFYING') ||
          (trade.extra?.lateFault === undefined && this.time.now() >= trade.expiresAt)),
    });
    this.byOutTradeNo = new GenerationalLedger<string, number>('trade_order', {
      encode: String,
      decode: Number,
      key: String,
      settled: () => true,
    });
    this.trades.attach(options.archive);
    this.byOutTradeNo.attach(options.archive);
  }

  /**
   * Moves the trades settled (paid, failed or closed, no forgery pending) and not touched since
   * the previous sweep to the archive. Returns how many trades were archived.
   */
  sweepArchive(): number {
    this.byOutTradeNo.sweep();
    return this.trades.sweep();
  }

  /** Trades held in the heap, and in the archive (for memory checks). */
  ledgerSizes(): { hot: number; archived: number } {
    return { hot: this.trades.hotSize, archived: this.trades.archivedSize() };
  }

  // ---- ledger snapshots ------------------------------------------------------------------

  /** A trade by trade number. */
  trade(tradeNo: string): TradeRecord | undefined {
    const trade = this.tradeOf(tradeNo);
    return trade && this.snapshot(trade);
  }

  /** The trade created for a shop order (outTradeNo). */
  tradeByOrder(orderId: string): TradeRecord | undefined {
    const trade = this.tradeOfOrder(orderId);
    return trade && this.snapshot(trade);
  }

  /** The shop order (outTradeNo) a trade number belongs to. */
  orderOfTrade(tradeNo: string): string | undefined {
    return this.tradeOf(tradeNo)?.outTradeNo;
  }

  /** Who a request on a trade (or a verification) is about, for transport faults. */
  subjectOfTrade(tradeNo: string | undefined): FaultSubject {
    return this.subjectOfTradeRecord(this.tradeOf(tradeNo));
  }

  /** Every trade, in creation order. */
  allTrades(): TradeRecord[] {
    return this.everyTrade().map((trade) => this.snapshot(trade));
  }

  /** Payers whose captures are counted (only with a `payment.limit.daily` fault; for memory checks). */
  countedPayers(): number {
    return this.spentByPayer?.size ?? 0;
  }

  /** Totals over the ledger: captured and refunded money (minor units). */
  totals(): { captured: number; refunded: number; trades: number; paid: number } {
    let captured = 0;
    let refunded = 0;
    let paid = 0;
    for (const trade of this.everyTrade()) {
      if (trade.paidAt !== undefined) {
        captured += trade.amount;
        paid += 1;
      }
      refunded += trade.refunded;
    }
    return { captured, refunded, trades: this.tradeCount, paid };
  }

  /** Forged / replayed callbacks scheduled but not yet handed to the dispatcher. */
  pendingForgeries(): number {
    let pending = 0;
    for (const timers of this.forgeryTimers.values()) pending += timers.size;
    return pending;
  }

  /** Cancels pending forged / replayed callbacks; no new ones are scheduled afterwards. */
  close(): void {
    this.closed = true;
    for (const timers of this.forgeryTimers.values()) for (const timer of timers) clearTimeout(timer);
    this.forgeryTimers.clear();
  }

  // ---- routes ----------------------------------------------------------------------------

  /**
   * The provider's routes. Each names its request's subject (`subjectOf`) so transport faults can
   * be decided per buyer: a tradeNo resolves to the trade's order and payer.
   */
  routes(): SubjectAwareRoute[] {
    const byTrade = (request: MockRequest): FaultSubject => this.subjectOfTrade(request.params.tradeNo);
    return [
      { method: 'POST', path: '/v1/trades', name: 'create', handle: (request) => this.create(request) },
      {
        method: 'POST',
        path: '/v1/trades/:tradeNo/pay',
        name: 'pay',
        handle: (request) => this.pay(request),
        subjectOf: (request) => {
          const payerId = asObject(request.body)?.payerId;
          const found = byTrade(request);
          return nonEmptyString(payerId) ? { ...found, buyerId: payerId } : found;
        },
      },
      { method: 'GET', path: '/v1/trades/:tradeNo', name: 'query', handle: (request) => this.query(request), subjectOf: byTrade },
      {
        method: 'GET',
        path: '/v1/trades',
        name: 'query',
        handle: (request) => this.query(request),
        subjectOf: (request) => this.subjectOfTradeRecord(this.tradeOfOrder(request.query.outTradeNo ?? '')),
      },
      { method: 'POST', path: '/v1/trades/:tradeNo/close', name: 'close', handle: (request) => this.closeTrade(request), subjectOf: byTrade },
      { method: 'POST', path: '/v1/trades/:tradeNo/refunds', name: 'refund', handle: (request) => this.refund(request), subjectOf: byTrade },
      {
        method: 'POST',
        path: '/v1/verifications/:verificationId/complete',
        name: 'verification',
        handle: (request) => this.completeVerification(request),
        subjectOf: (request) => this.subjectOfTradeRecord(this.tradeOfVerification(request.params.verificationId)),
      },
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
    const stall = this.channelFault('create', faultSubject, outTradeNo, payerInfo?.id);
    if (stall) {
      if (stall.error) this.context.journal.append('payment.trade.refused', { orderId: outTradeNo, code: stall.error.code, httpStatus: stall.error.status });
      return stall.reply;
    }
    const delayMs = this.latency('create', faultSubject, outTradeNo, payerInfo?.id);

    const existing = this.tradeOfOrder(outTradeNo);
    if (existing) {
      const ordered = existing.extra?.orderedAmount ?? existing.amount;
      if (ordered !== amount) {
        this.context.journal.append('payment.trade.refused', { orderId: outTradeNo, code: 'DUPLICATE_OUT_TRADE_NO', httpStatus: 409 });
        return this.delayed(
          errorReply(409, 'DUPLICATE_OUT_TRADE_NO', `outTradeNo ${outTradeNo} already has a trade for amount ${ordered}`),
          delayMs,
        );
      }
      this.context.journal.append('payment.trade.created', {
        orderId: outTradeNo,
        tradeNo: seqId('T', existing.seq),
        amount: ordered,
        method: existing.terms.method,
        ...(existing.payer === undefined ? {} : { payerId: existing.payer }),
        repeat: true,
      });
      return this.delayed({ status: 200, body: this.createAnswer(existing) }, delayMs);
    }

    // A channel that does not serve payers abroad refuses before any trade exists.
    const region = payerInfo?.region;
    const blocked =
      region === undefined
        ? undefined
        : this.context.plan
            .hits('payment.cross_border', faultSubject)
            .find((hit) => !region.startsWith(hit.spec.home) && (hit.spec.methods === undefined || hit.spec.methods.includes(method)));
    if (blocked && region !== undefined) {
      this.inject(blocked, outTradeNo, payerInfo?.id, { region, method, home: blocked.spec.home });
      this.context.journal.append('payment.trade.refused', { orderId: outTradeNo, code: 'CROSS_BORDER_BLOCKED', httpStatus: 403 });
      return this.delayed(
        errorReply(403, 'CROSS_BORDER_BLOCKED', `payments from ${region} are not accepted for method ${method}; try another payment method`),
        delayMs,
      );
    }

    const now = this.time.now();
    const correlation = this.context.correlation;
    const orderId = correlation.share(outTradeNo);
    const trade: Trade = {
      seq: this.tradeCount + 1,
      outTradeNo: orderId,
      amount,
      terms: this.termsOf(currency, subject, notifyUrl, method, payerInfo?.region),
      payer: payerInfo === undefined ? undefined : correlation.share(payerInfo.id, orderId),
      createdAt: now,
      expiresAt: inline(now + (expiresInMs ?? DEFAULT_TRADE_TTL_MS)),
      status: 'WAIT_BUYER_PAY',
      payerId: undefined,
      paidAt: undefined,
      failCode: undefined,
      refunded: 0,
      extra: undefined,
    };
    const late = this.context.plan.first('payment.callback.late', faultSubject);
    if (late) this.extraOf(trade).lateFault = late.index;
    const tradeNo = seqId('T', trade.seq);
    this.tradeCount = trade.seq;
    this.trades.set(trade.seq, trade);
    this.byOutTradeNo.set(orderId, trade.seq);
    this.context.journal.append('payment.trade.created', {
      orderId: outTradeNo,
      tradeNo,
      amount,
      method,
      ...(payerInfo ? { payerId: payerInfo.id } : {}),
      repeat: false,
    });
    this.scheduleForgeries(trade, faultSubject);

    const answer: MockReply = { status: 201, body: this.createAnswer(trade) };
    // The trade exists, but the answer is lost with the connection: only the first create per order.
    const ambiguous = this.context.plan.first('payment.ambiguous', faultSubject);
    if (ambiguous) {
      this.inject(ambiguous, outTradeNo, payerInfo?.id, { tradeNo });
      return this.delayed({ ...answer, socketFault: 'reset' }, delayMs);
    }
    return this.delayed(answer, delayMs);
  }

  pay(request: MockRequest): MockReply {
    const body = asObject(request.body);
    if (!body || !nonEmptyString(body.payerId)) return invalid('payerId: expected a non-empty string');
    if (body.method !== undefined && typeof body.method !== 'string') return invalid('method: expected a string');
    const payerId = body.payerId;
    const trade = this.tradeOf(request.params.tradeNo);
    if (!trade) return errorReply(404, 'TRADE_NOT_EXIST', `no trade ${request.params.tradeNo ?? ''}`);
    const orderId = trade.outTradeNo;
    const tradeNo = seqId('T', trade.seq);
    const faultSubject = this.context.correlation.subject(orderId, payerId);
    const stall = this.channelFault('pay', faultSubject, orderId, payerId);
    if (stall) return stall.reply;
    const delayMs = this.latency('pay', faultSubject, orderId, payerId);
    const status = this.statusOf(trade);

    if (status === 'TRADE_SUCCESS') return this.delayed({ status: 200, body: { status: 'TRADE_SUCCESS' } }, delayMs);
    if (status === 'PAY_FAILED') {
      return this.delayed(
        { status: 402, body: { code: trade.failCode ?? 'DECLINED', status: 'PAY_FAILED', message: 'this trade already failed' } },
        delayMs,
      );
    }
    if (status === 'TRADE_CLOSED') {
      if (trade.extra?.lateFault === undefined) return this.delayed(errorReply(409, 'TRADE_CLOSED', `trade ${tradeNo} is closed`), delayMs);
      // payment.callback.late: the channel had taken the buyer's money before the shop's close
      // reached it, so the payment still succeeds and is notified — after the shop gave up.
      trade.status = 'WAIT_BUYER_PAY';
    }
    if (status === 'VERIFYING') return this.delayed(errorReply(409, 'TRADE_VERIFYING', `trade ${tradeNo} awaits verification`), delayMs);

    trade.payerId = trade.payer === payerId ? trade.payer : this.context.correlation.share(payerId, orderId);
    const refusal = this.refusalFor(trade, payerId, faultSubject);
    if (refusal) {
      trade.status = 'PAY_FAILED';
      trade.failCode = refusal.code;
      this.cancelForgeries(trade);
      this.context.journal.append('payment.trade.pay_failed', { orderId, tradeNo, code: refusal.code });
      this.notify(trade, payerId, { tradeNo, outTradeNo: orderId, status: 'PAY_FAILED', amount: trade.amount, failCode: refusal.code });
      return this.delayed({ status: 402, body: { code: refusal.code, status: 'PAY_FAILED', message: REFUSALS[refusal.code] } }, delayMs);
    }

    const verification = this.context.plan.first('payment.verification', faultSubject);
    if (verification) {
      this.verifications.push(trade.seq);
      const verificationId = seqId('V', this.verifications.length);
      trade.status = 'VERIFYING';
      this.extraOf(trade).verification = this.verifications.length;
      this.inject(verification, orderId, payerId, {
        verificationId,
        ...(verification.spec.completeAfter === undefined ? {} : { completeAfter: verification.spec.completeAfter }),
      });
      this.context.journal.append('payment.verification.started', { orderId, tradeNo, verificationId });
      return this.delayed({ status: 202, body: { status: 'VERIFYING', verificationId } }, delayMs);
    }

    this.capture(trade, payerId, faultSubject);
    return this.delayed({ status: 200, body: { status: 'TRADE_SUCCESS' } }, delayMs);
  }

  /** `POST /v1/verifications/{id}/complete`: the buyer finishes the extra verification. */
  completeVerification(request: MockRequest): MockReply {
    const verificationId = request.params.verificationId ?? '';
    const trade = this.tradeOfVerification(verificationId);
    if (!trade) return errorReply(404, 'VERIFICATION_NOT_EXIST', `no verification ${verificationId}`);
    const orderId = trade.outTradeNo;
    const tradeNo = seqId('T', trade.seq);
    const base = { orderId, tradeNo, verificationId };
    const status = this.statusOf(trade);
    if (status === 'VERIFYING') {
      const payerId = trade.payerId ?? trade.payer ?? orderId;
      this.capture(trade, payerId, this.context.correlation.subject(orderId, trade.payerId));
    } else if (status !== 'TRADE_SUCCESS') {
      this.context.journal.append('payment.verification.completed', { ...base, result: 'TRADE_CLOSED' });
      return errorReply(409, 'TRADE_CLOSED', `trade ${tradeNo} closed before the verification was completed`);
    }
    this.context.journal.append('payment.verification.completed', { ...base, result: 'TRADE_SUCCESS' });
    return { status: 200, body: { status: 'TRADE_SUCCESS' } };
  }

  query(request: MockRequest): MockReply {
    let trade: Trade | undefined;
    let orderId: string | undefined;
    const tradeNo = request.params.tradeNo;
    if (tradeNo !== undefined) {
      trade = this.tradeOf(tradeNo);
      orderId = trade?.outTradeNo;
    } else {
      const outTradeNo = request.query.outTradeNo;
      if (!outTradeNo) return invalid('expected ?outTradeNo=… or /v1/trades/{tradeNo}');
      orderId = outTradeNo;
      trade = this.tradeOfOrder(outTradeNo);
    }
    let delayMs = 0;
    if (orderId !== undefined) {
      const faultSubject = trade ? this.subjectOf(trade) : this.context.correlation.subject(orderId);
      const stall = this.channelFault('query', faultSubject, orderId) ?? this.orderFault('payment.query.error', 'query', faultSubject, orderId);
      if (stall) return stall.reply;
      delayMs = this.latency('query', faultSubject, orderId);
    }
    if (!trade) {
      this.context.journal.append('payment.trade.queried', {
        ...(orderId === undefined ? {} : { orderId }),
        ...(tradeNo === undefined ? {} : { tradeNo }),
        status: 'NOT_FOUND',
      });
      return this.delayed(errorReply(404, 'TRADE_NOT_EXIST', 'no such trade'), delayMs);
    }
    const status = this.statusOf(trade);
    this.context.journal.append('payment.trade.queried', { orderId: trade.outTradeNo, tradeNo: seqId('T', trade.seq), status });
    return this.delayed({ status: 200, body: this.queryAnswer(trade) }, delayMs);
  }

  /** `POST /v1/trades/{tradeNo}/close`. */
  closeTrade(request: MockRequest): MockReply {
    const trade = this.tradeOf(request.params.tradeNo);
    if (!trade) return errorReply(404, 'TRADE_NOT_EXIST', `no trade ${request.params.tradeNo ?? ''}`);
    const orderId = trade.outTradeNo;
    const tradeNo = seqId('T', trade.seq);
    const faultSubject = this.subjectOf(trade);
    const stall = this.channelFault('close', faultSubject, orderId);
    if (stall) return stall.reply;
    const delayMs = this.latency('close', faultSubject, orderId);
    const status = this.statusOf(trade);
    if (status === 'TRADE_SUCCESS') {
      this.context.journal.append('payment.trade.closed', { orderId, tradeNo, result: 'has_success' });
      return this.delayed(errorReply(409, 'TRADE_HAS_SUCCESS', `trade ${tradeNo} is paid; treat the order as paid`), delayMs);
    }
    // Closing also ends a pending verification. A late trade answers "closed" too, but its buyer's
    // payment, already under way in the channel, still succeeds (see pay).
    trade.status = 'TRADE_CLOSED';
    this.cancelForgeries(trade);
    this.context.journal.append('payment.trade.closed', { orderId, tradeNo, result: 'closed' });
    return this.delayed({ status: 200, body: { status: 'TRADE_CLOSED' } }, delayMs);
  }

  refund(request: MockRequest): MockReply {
    const body = asObject(request.body);
    if (!body || !nonEmptyString(body.refundNo, 128)) return invalid('refundNo: expected a non-empty string');
    if (!positiveInt(body.amount)) return invalid('amount: expected a positive integer (minor units)');
    const refundNo = body.refundNo;
    const amount = body.amount;
    const trade = this.tradeOf(request.params.tradeNo);
    if (!trade) return errorReply(404, 'TRADE_NOT_EXIST', `no trade ${request.params.tradeNo ?? ''}`);
    const orderId = trade.outTradeNo;
    const tradeNo = seqId('T', trade.seq);
    const faultSubject = this.subjectOf(trade);
    const base = { orderId, tradeNo, refundNo };
    const stall = this.channelFault('refund', faultSubject, orderId) ?? this.orderFault('payment.refund.error', 'refund', faultSubject, orderId);
    if (stall) {
      if (stall.error) this.context.journal.append('payment.refund', { ...base, amount, repeat: false, ok: false, code: stall.error.code });
      return stall.reply;
    }
    const delayMs = this.latency('refund', faultSubject, orderId);

    const done = trade.extra?.refunds?.find((refund) => refund.refundNo === refundNo);
    if (done) {
      this.context.journal.append('payment.refund', { ...base, amount: done.amount, repeat: true, ok: true });
      return this.delayed({ status: 200, body: { refundNo, amount: done.amount, status: 'SUCCESS' } }, delayMs);
    }
    if (this.statusOf(trade) !== 'TRADE_SUCCESS') {
      this.context.journal.append('payment.refund', { ...base, amount, repeat: false, ok: false, code: 'TRADE_NOT_PAID' });
      return this.delayed(errorReply(409, 'TRADE_NOT_PAID', `trade ${tradeNo} was never paid`), delayMs);
    }
    if (trade.refunded + amount > trade.amount) {
      this.context.journal.append('payment.refund', { ...base, amount, repeat: false, ok: false, code: 'REFUND_EXCEEDS_PAID' });
      return this.delayed(
        errorReply(409, 'REFUND_EXCEEDS_PAID', `refunding ${amount} would exceed the paid ${trade.amount} (already refunded ${trade.refunded})`),
        delayMs,
      );
    }
    (this.extraOf(trade).refunds ??= []).push({ refundNo, amount, at: this.time.now() });
    trade.refunded += amount;
    this.context.journal.append('payment.refund', { ...base, amount, repeat: false, ok: true });
    return this.delayed({ status: 200, body: { refundNo, amount, status: 'SUCCESS' } }, delayMs);
  }

  // ---- internals -------------------------------------------------------------------------

  /** The trade's status, closing an unpaid trade whose time ran out (evaluated lazily). */
  private statusOf(trade: Trade): TradeStatus {
    if (
      (trade.status === 'WAIT_BUYER_PAY' || trade.status === 'VERIFYING') &&
      trade.extra?.lateFault === undefined &&
      this.time.now() >= trade.expiresAt
    ) {
      trade.status = 'TRADE_CLOSED';
      this.cancelForgeries(trade);
    }
    return trade.status;
  }

  /** Fault decisions' subject for a call about a trade: its payer when known, else the order's. */
  private subjectOf(trade: Trade): string {
    return this.context.correlation.subject(trade.outTradeNo, trade.payer ?? trade.payerId);
  }

  /** The shared terms for these strings (one object per distinct combination, up to a limit). */
  private termsOf(currency: string, subject: string, notifyUrl: string, method: string, region: string | undefined): TradeTerms {
    const key = JSON.stringify([currency, method, region ?? null, notifyUrl, subject]);
    const known = this.termsPool.get(key);
    if (known) return known;
    const strings = this.strings;
    const terms: TradeTerms = {
      currency: strings.intern(currency),
      subject: strings.intern(subject),
      notifyUrl: strings.intern(notifyUrl),
      method: strings.intern(method),
      region: region === undefined ? undefined : strings.intern(region),
    };
    if (this.termsPool.size < TERMS_POOL_LIMIT) this.termsPool.set(key, terms);
    return terms;
  }

  private extraOf(trade: Trade): TradeExtra {
    return (trade.extra ??= { orderedAmount: undefined, verification: undefined, lateFault: undefined, refunds: undefined });
  }

  /** The trade with this trade number. */
  private tradeOf(tradeNo: string | undefined): Trade | undefined {
    const seq = seqOf('T', tradeNo);
    return seq === 0 || seq > this.tradeCount ? undefined : this.trades.get(seq);
  }

  /** The trade created for a shop order. */
  private tradeOfOrder(orderId: string): Trade | undefined {
    const seq = this.byOutTradeNo.get(orderId);
    return seq === undefined ? undefined : this.trades.get(seq);
  }

  /** Every trade (archived ones as copies), in creation order. */
  private everyTrade(): Trade[] {
    return this.trades
      .all()
      .map(([, trade]) => trade)
      .sort((a, b) => a.seq - b.seq);
  }

  /** A trade as archived: its fields in a JSON array (absent values as null). */
  private encodeTrade(trade: Trade): string {
    const { terms, extra } = trade;
    return JSON.stringify([
      trade.seq,
      trade.outTradeNo,
      trade.amount,
      terms.currency,
      terms.subject,
      terms.notifyUrl,
      terms.method,
      terms.region ?? null,
      trade.payer ?? null,
      trade.createdAt,
      trade.expiresAt,
      trade.status,
      trade.payerId ?? null,
      trade.paidAt ?? null,
      trade.failCode ?? null,
      trade.refunded,
      extra === undefined
        ? null
        : [
            extra.orderedAmount ?? null,
            extra.verification ?? null,
            extra.lateFault ?? null,
            extra.refunds === undefined ? null : extra.refunds.map((refund) => [refund.refundNo, refund.amount, refund.at]),
          ],
    ]);
  }

  private decodeTrade(text: string): Trade {
    const f = JSON.parse(text) as unknown[];
    const opt = <T>(value: unknown): T | undefined => (value === null ? undefined : (value as T));
    const x = f[16] as unknown[] | null;
    return {
      seq: f[0] as number,
      outTradeNo: f[1] as string,
      amount: f[2] as number,
      terms: this.termsOf(f[3] as string, f[4] as string, f[5] as string, f[6] as string, opt<string>(f[7])),
      payer: opt<string>(f[8]),
      createdAt: f[9] as number,
      expiresAt: f[10] as number,
      status: f[11] as TradeStatus,
      payerId: opt<string>(f[12]),
      paidAt: opt<number>(f[13]),
      failCode: opt<RefusalCode>(f[14]),
      refunded: f[15] as number,
      extra:
        x === null
          ? undefined
          : {
              orderedAmount: opt<number>(x[0]),
              verification: opt<number>(x[1]),
              lateFault: opt<number>(x[2]),
              refunds:
                x[3] === null
                  ? undefined
                  : (x[3] as Array<[string, number, number]>).map(([refundNo, amount, at]) => ({ refundNo, amount, at })),
            },
    };
  }

  /** The trade a verification is about. */
  private tradeOfVerification(verificationId: string | undefined): Trade | undefined {
    const seq = seqOf('V', verificationId);
    const tradeSeq = seq === 0 ? undefined : this.verifications[seq - 1];
    return tradeSeq === undefined ? undefined : this.trades.get(tradeSeq);
  }

  private subjectOfTradeRecord(trade: Trade | undefined): FaultSubject {
    if (!trade) return {};
    const buyerId = trade.payer ?? trade.payerId;
    return { orderId: trade.outTradeNo, ...(buyerId === undefined ? {} : { buyerId }) };
  }

  /** Moves the money: applies a tampered amount, notes a late capture, journals and calls back. */
  private capture(trade: Trade, payerId: string, faultSubject: string): void {
    const orderId = trade.outTradeNo;
    const tampered = this.context.plan.first('payment.callback.tampered', faultSubject);
    if (tampered) {
      const extra = this.extraOf(trade);
      extra.orderedAmount ??= trade.amount;
      trade.amount = tampered.spec.paidAmount;
      this.inject(tampered, orderId, payerId, { orderedAmount: extra.orderedAmount, paidAmount: trade.amount });
    }
    const now = this.time.now();
    const lateFault = trade.extra?.lateFault;
    if (lateFault !== undefined) {
      const late = this.context.plan.faults[lateFault];
      if (late?.id === 'payment.callback.late') {
        this.inject({ index: lateFault, spec: late }, orderId, payerId, { lateByMs: Math.round(now - trade.expiresAt) });
      }
    }
    trade.status = 'TRADE_SUCCESS';
    trade.paidAt = now;
    this.spentByPayer?.set(payerId, (this.spentByPayer.get(payerId) ?? 0) + trade.amount);
    this.cancelForgeries(trade);
    const tradeNo = seqId('T', trade.seq);
    this.context.journal.append('payment.trade.paid', { orderId, tradeNo, amount: trade.amount, payerId });
    this.notify(trade, payerId, { tradeNo, outTradeNo: orderId, status: 'TRADE_SUCCESS', amount: trade.amount, paidAt: this.time.iso(now) });
  }

  /** The first refusal that applies at the cashier: single limit, daily limit, decline. Journals the fault. */
  private refusalFor(trade: Trade, payerId: string, faultSubject: string): { code: RefusalCode } | undefined {
    const plan = this.context.plan;
    const orderId = trade.outTradeNo;
    const single = plan.hits('payment.limit.single', faultSubject).find((hit) => hit.spec.limit === undefined || trade.amount > hit.spec.limit);
    if (single) {
      this.inject(single, orderId, payerId, { amount: trade.amount, ...(single.spec.limit === undefined ? {} : { limit: single.spec.limit }) });
      return { code: 'LIMIT_SINGLE' };
    }
    const spent = this.spentByPayer?.get(payerId) ?? 0;
    const daily = plan.hits('payment.limit.daily', faultSubject).find((hit) => hit.spec.spentBefore + spent + trade.amount > hit.spec.limit);
    if (daily) {
      this.inject(daily, orderId, payerId, { amount: trade.amount, limit: daily.spec.limit, spent: daily.spec.spentBefore + spent });
      return { code: 'LIMIT_DAILY' };
    }
    const decline = plan.first('payment.decline', faultSubject);
    if (decline) {
      this.inject(decline, orderId, payerId, { amount: trade.amount });
      return { code: 'DECLINED' };
    }
    return undefined;
  }

  /**
   * `payment.timeout` (a hang) or `payment.error` (an error answer) on this route, for the first
   * `times` calls per (fault, subject, route). The request has no effect.
   */
  private channelFault(route: PaymentRoute, faultSubject: string, orderId: string, buyerId?: string): ChannelStall | undefined {
    const plan = this.context.plan;
    const timeout = plan.has('payment.timeout') ? this.counted(plan.hits('payment.timeout', faultSubject), route, faultSubject) : undefined;
    if (timeout) {
      this.inject(timeout.hit, orderId, buyerId, { route, call: timeout.call });
      return { reply: { status: 504, socketFault: 'hang' } };
    }
    const error = plan.has('payment.error') ? this.counted(plan.hits('payment.error', faultSubject), route, faultSubject) : undefined;
    if (!error) return undefined;
    const status = error.hit.spec.status;
    if (status === 429) {
      const retryAfterS = Math.ceil(error.hit.spec.retryAfter / 1000);
      this.inject(error.hit, orderId, buyerId, { route, status, call: error.call, retryAfterS });
      return {
        reply: {
          ...errorReply(429, 'RATE_LIMITED', `too many requests; retry after ${retryAfterS} s`),
          headers: { 'retry-after': String(retryAfterS) },
        },
        error: { code: 'RATE_LIMITED', status },
      };
    }
    this.inject(error.hit, orderId, buyerId, { route, status, call: error.call });
    return { reply: errorReply(status, 'SYSTEM_ERROR', 'the payment channel failed; try again'), error: { code: 'SYSTEM_ERROR', status } };
  }

  /** The first hit listing this route whose `times` this call is still within (counted per fault, subject, route). */
  private counted<H extends { index: number; spec: { routes: readonly PaymentRoute[]; times?: number } }>(
    hits: readonly H[],
    route: PaymentRoute,
    faultSubject: string,
  ): { hit: H; call: number } | undefined {
    for (const hit of hits) {
      if (!hit.spec.routes.includes(route)) continue;
      const call = this.count(`${hit.index}\u0000${faultSubject}\u0000${route}`);
      if (hit.spec.times === undefined || call <= hit.spec.times) return { hit, call };
    }
    return undefined;
  }

  /** `payment.query.error` / `payment.refund.error`: the first `times` calls about the order fail. */
  private orderFault(
    id: 'payment.query.error' | 'payment.refund.error',
    route: PaymentRoute,
    faultSubject: string,
    orderId: string,
  ): ChannelStall | undefined {
    const plan = this.context.plan;
    if (!plan.has(id)) return undefined;
    for (const hit of plan.hits(id, faultSubject)) {
      const call = this.count(`${hit.index}\u0000${orderId}\u0000${route}`);
      if (call > hit.spec.times) continue;
      this.inject(hit, orderId, undefined, { route, status: hit.spec.status, call });
      return {
        reply: errorReply(hit.spec.status, 'SYSTEM_ERROR', `the ${route} service failed; try again`),
        error: { code: 'SYSTEM_ERROR', status: hit.spec.status },
      };
    }
    return undefined;
  }

  private count(key: string): number {
    const n = (this.faultCounters.get(key) ?? 0) + 1;
    this.faultCounters.set(key, n);
    return n;
  }

  /** Journals `fault.injected` for an order, naming its buyer when known. */
  private inject<I extends FaultId>(hit: FaultHit<I>, orderId: string, buyerId: string | undefined, detail: Detail): void {
    const buyer = buyerId ?? this.context.correlation.buyerOf(orderId);
    this.context.journal.append('fault.injected', {
      fault: hit.spec.id,
      faultIndex: hit.index,
      orderId,
      ...(buyer === undefined ? {} : { buyerId: buyer }),
      detail,
    });
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
    this.inject(hit, orderId, buyerId, { route, delayMs });
    return delayMs;
  }

  /** `payment.callback.forged` / `.replayed`: a success notice for this unpaid trade, `after` ms from now. */
  private scheduleForgeries(trade: Trade, faultSubject: string): void {
    if (this.closed || !this.callbacks) return;
    const plan = this.context.plan;
    const forged = plan.first('payment.callback.forged', faultSubject);
    const replayed = plan.first('payment.callback.replayed', faultSubject);
    const jobs = [
      ...(forged ? [{ kind: 'forged' as const, index: forged.index, after: forged.spec.after }] : []),
      ...(replayed ? [{ kind: 'replayed' as const, index: replayed.index, after: replayed.spec.after, ageMs: replayed.spec.age }] : []),
    ];
    for (const job of jobs) {
      let timers = this.forgeryTimers.get(trade.seq);
      if (!timers) {
        timers = new Set();
        this.forgeryTimers.set(trade.seq, timers);
      }
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (timers.size === 0) this.forgeryTimers.delete(trade.seq);
        const status = this.statusOf(trade);
        if (this.closed || (status !== 'WAIT_BUYER_PAY' && status !== 'VERIFYING')) return;
        const buyerId = trade.payer ?? this.context.correlation.buyerOf(trade.outTradeNo);
        this.callbacks?.(
          {
            notifyUrl: trade.terms.notifyUrl,
            subject: faultSubject,
            ...(buyerId === undefined ? {} : { buyerId }),
            forgery: {
              kind: job.kind,
              faultIndex: job.index,
              ...(job.ageMs === undefined ? {} : { ageMs: job.ageMs }),
              detail: { afterMs: job.after },
            },
          },
          { tradeNo: seqId('T', trade.seq), outTradeNo: trade.outTradeNo, status: 'TRADE_SUCCESS', amount: trade.amount, paidAt: this.time.iso(this.time.now()) },
        );
      }, job.after);
      timers.add(timer);
    }
  }

  private cancelForgeries(trade: Trade): void {
    const timers = this.forgeryTimers.get(trade.seq);
    if (!timers) return;
    for (const timer of timers) clearTimeout(timer);
    this.forgeryTimers.delete(trade.seq);
  }

  private delayed(reply: MockReply, delayMs: number): MockReply {
    return delayMs > 0 ? { ...reply, delayMs } : reply;
  }

  private notify(trade: Trade, payerId: string, notice: CallbackNotice): void {
    this.callbacks?.({ notifyUrl: trade.terms.notifyUrl, subject: payerId, buyerId: payerId }, notice);
  }

  private createAnswer(trade: Trade): Record<string, unknown> {
    const tradeNo = seqId('T', trade.seq);
    return {
      tradeNo,
      outTradeNo: trade.outTradeNo,
      status: this.statusOf(trade),
      payUrl: `${this.baseUrl}/cashier/${tradeNo}`,
      expiresAt: this.time.iso(trade.expiresAt),
    };
  }

  private queryAnswer(trade: Trade): Record<string, unknown> {
    return {
      tradeNo: seqId('T', trade.seq),
      outTradeNo: trade.outTradeNo,
      status: trade.status,
      amount: trade.amount,
      ...(trade.paidAt === undefined ? {} : { paidAt: this.time.iso(trade.paidAt) }),
      ...(trade.failCode === undefined ? {} : { failCode: trade.failCode }),
      refunded: trade.refunded,
    };
  }

  private snapshot(trade: Trade): TradeRecord {
    const status = this.statusOf(trade);
    const { terms, extra } = trade;
    return {
      tradeNo: seqId('T', trade.seq),
      outTradeNo: trade.outTradeNo,
      amount: trade.amount,
      ...(extra?.orderedAmount === undefined ? {} : { orderedAmount: extra.orderedAmount }),
      currency: terms.currency,
      subject: terms.subject,
      notifyUrl: terms.notifyUrl,
      method: terms.method,
      ...(trade.payer === undefined ? {} : { payer: { id: trade.payer, ...(terms.region === undefined ? {} : { region: terms.region }) } }),
      createdAt: this.time.iso(trade.createdAt),
      expiresAt: this.time.iso(trade.expiresAt),
      status,
      ...(trade.payerId === undefined ? {} : { payerId: trade.payerId }),
      ...(trade.paidAt === undefined ? {} : { paidAt: this.time.iso(trade.paidAt) }),
      ...(trade.failCode === undefined ? {} : { failCode: trade.failCode }),
      ...(extra?.verification === undefined ? {} : { verificationId: seqId('V', extra.verification) }),
      ...(extra?.lateFault === undefined ? {} : { late: true }),
      refunded: trade.refunded,
      refunds: (extra?.refunds ?? []).map((refund) => ({ refundNo: refund.refundNo, amount: refund.amount, at: this.time.iso(refund.at) })),
    };
  }
}
