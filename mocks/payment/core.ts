/**
 * The payment provider core (docs/ARCHITECTURE.md, "Adding a payment protocol"): Alipay-like trades with a cashier the harness pays
 * at, extra verification, query, close and idempotent refunds; captures hand notices to the
 * callback dispatcher; the fault plan's payment faults are decided here. Its ledger — trades,
 * captures, refunds — is the ground truth for money.
 *
 * Protocol-neutral throughout: operations take parsed input and give `CoreAnswer`s, which a
 * personality (`./personalities/`) renders in its wire format. Every journal event comes from
 * here, so the journal of a run does not depend on the protocol the shop speaks.
 */
import { isReachableUrl, reachRule } from '../../core/network-scope.js';
import type { RecordSpace } from '../../memory/index.js';
import { inline, LedgerClock, type MockContext } from '../mock-types.js';
import type { FaultSubject } from '../transport-faults.js';
import type { FaultHit } from '../fault-plan.js';
import {
  okAnswer as ok,
  PAY_FAIL_MESSAGES,
  refusal,
  refusedAnswer as refused,
  type CoreAnswer,
  type CreatedTrade,
  type CreateTradeInput,
  type PaymentRefusal,
  type PayFailCode,
  type PayResult,
  type RefundResult,
  type TradeView,
} from './answers.js';
import type { CallbackNotice, CallbackTarget } from './notices.js';
import { PaymentFaults, type ChannelStall } from './faults.js';
import { Forgeries, type ForgeryJob } from './forgeries.js';
import { extraOf, TradeLedger, tradeNoOf, type Trade, type TradeRecord } from './ledger.js';

/** An unpaid trade closes itself after this long unless `expiresInMs` says otherwise. */
export const DEFAULT_TRADE_TTL_MS = 15 * 60_000;

/**
 * An outcome a personality's test payment method forces whatever the fault plan says (Stripe's
 * `pm_card_chargeDeclined`, `pm_card_authenticationRequired`): a refusal, or an extra verification
 * (after the plan's own refusals). Nothing is journaled as a fault for it.
 */
export type ForcedPayOutcome = { refusal: PayFailCode } | { verification: true };

/**
 * Hands a notice to whoever sends callbacks (the dispatcher): a capture, a payment failure, or —
 * when `target.forgery` is set — a forged or replayed success the provider never issued.
 */
export type CallbackSink = (target: CallbackTarget, notice: CallbackNotice) => void;

export interface PaymentCoreOptions extends MockContext {
  /** Where callbacks go; without one, no callback is sent. */
  callbacks?: CallbackSink;
  /** Wall clock, ms since the epoch. @default Date.now */
  clock?: () => number;
  /** Where the ledger keeps its trades (settled, idle ones may leave the heap). @default every trade in the heap */
  records?: RecordSpace;
}

function stalled<T>(stall: ChannelStall): CoreAnswer<T> {
  return stall.hang ? { kind: 'hang' } : refused(stall.refusal, 0);
}

export class PaymentCore {
  private readonly context: MockContext;
  private readonly callbacks: CallbackSink | undefined;
  private readonly time: LedgerClock;
  private readonly ledger: TradeLedger;
  private readonly faults: PaymentFaults;
  private readonly forgeries: Forgeries;

  constructor(options: PaymentCoreOptions) {
    this.context = { journal: options.journal, plan: options.plan, correlation: options.correlation };
    this.callbacks = options.callbacks;
    this.time = new LedgerClock(options.clock ?? Date.now);
    this.faults = new PaymentFaults(this.context);
    this.forgeries = new Forgeries(options.plan);
    // A pending forgery holds its trade in the heap; a trade that closes itself drops its forgeries.
    this.ledger = new TradeLedger(
      this.time,
      (seq) => this.forgeries.has(seq),
      (seq) => this.forgeries.cancel(seq),
      options.records,
    );
  }

  // ---- lifecycle and ledger snapshots ----------------------------------------------------

  /** Trades held in the heap, and in the archive (for memory checks). */
  ledgerSizes(): { hot: number; archived: number } {
    return this.ledger.sizes();
  }

  /** Payers whose captures are counted (only with a `payment.limit.daily` fault; for memory checks). */
  countedPayers(): number {
    return this.faults.countedPayers();
  }

  /** Forged / replayed callbacks scheduled but not yet handed to the dispatcher. */
  pendingForgeries(): number {
    return this.forgeries.pending();
  }

  /** Cancels pending forged / replayed callbacks; no new ones are scheduled afterwards. */
  close(): void {
    this.forgeries.close();
  }

  /** A trade by trade number. */
  trade(tradeNo: string): TradeRecord | undefined {
    const trade = this.ledger.byTradeNo(tradeNo);
    return trade && this.ledger.snapshot(trade);
  }

  /** The trade created for a shop order (outTradeNo). */
  tradeByOrder(orderId: string): TradeRecord | undefined {
    const trade = this.ledger.byOrder(orderId);
    return trade && this.ledger.snapshot(trade);
  }

  /** The channel (protocol) a shop order's trade was created at: undefined for the primary, or when there is no trade. */
  channelOfOrder(orderId: string): string | undefined {
    return this.ledger.byOrder(orderId)?.terms.channel;
  }

  /** Every trade, in creation order. */
  allTrades(): TradeRecord[] {
    return this.ledger.all().map((trade) => this.ledger.snapshot(trade));
  }

  /** Totals over the ledger: captured and refunded money (minor units). */
  totals(): { captured: number; refunded: number; trades: number; paid: number } {
    return this.ledger.totals();
  }

  // ---- who a request is about (transport faults) -----------------------------------------

  subjectOfTrade(tradeNo: string | undefined): FaultSubject {
    return this.subjectOfRecord(this.ledger.byTradeNo(tradeNo));
  }

  subjectOfOrder(outTradeNo: string): FaultSubject {
    return this.subjectOfRecord(this.ledger.byOrder(outTradeNo));
  }

  subjectOfVerification(verificationId: string | undefined): FaultSubject {
    return this.subjectOfRecord(this.ledger.byVerification(verificationId));
  }

  // ---- operations ------------------------------------------------------------------------

  /** A create request whose order is known but whose other fields did not parse: journaled as refused. */
  refuseInvalidCreate(outTradeNo: string, message: string): CoreAnswer<never> {
    return this.refuseCreate(outTradeNo, refusal('INVALID_REQUEST', 400, message), 0);
  }

  create(input: CreateTradeInput): CoreAnswer<CreatedTrade> {
    const { outTradeNo, amount, currency, subject, notifyUrl, method, payer, expiresInMs, channel } = input;
    // Callbacks only ever go to loopback, whatever a personality accepts.
    if (!isReachableUrl(notifyUrl)) return this.refuseInvalidCreate(outTradeNo, `notifyUrl: expected an http URL on ${reachRule()}`);
    const faultSubject = this.context.correlation.subject(outTradeNo, payer?.id);
    const stall = this.faults.channel('create', faultSubject, outTradeNo, payer?.id);
    if (stall) {
      if (!stall.hang) this.journalRefused(outTradeNo, stall.refusal);
      return stalled(stall);
    }
    const delayMs = this.faults.latency('create', faultSubject, outTradeNo, payer?.id);

    const existing = this.ledger.byOrder(outTradeNo);
    if (existing) {
      const ordered = existing.extra?.orderedAmount ?? existing.amount;
      if (ordered !== amount) {
        return this.refuseCreate(outTradeNo, refusal('DUPLICATE_OUT_TRADE_NO', 409, `outTradeNo ${outTradeNo} already has a trade for amount ${ordered}`), delayMs);
      }
      this.context.journal.append('payment.trade.created', {
        orderId: outTradeNo,
        tradeNo: tradeNoOf(existing),
        amount: ordered,
        method: existing.terms.method,
        ...(existing.payer === undefined ? {} : { payerId: existing.payer }),
        repeat: true,
      });
      return ok({ trade: this.ledger.view(existing), expiresAt: this.time.iso(existing.expiresAt), repeat: true }, delayMs);
    }

    // A channel that does not serve payers abroad refuses before any trade exists.
    const region = payer?.region;
    if (this.faults.crossBorder(region, method, faultSubject, outTradeNo, payer?.id)) {
      const message = `payments from ${region ?? ''} are not accepted for method ${method}; try another payment method`;
      return this.refuseCreate(outTradeNo, refusal('CROSS_BORDER_BLOCKED', 403, message), delayMs);
    }

    const now = this.time.now();
    const correlation = this.context.correlation;
    const orderId = correlation.share(outTradeNo);
    const trade: Trade = {
      seq: this.ledger.count + 1,
      outTradeNo: orderId,
      amount,
      terms: this.ledger.termsOf(currency, subject, notifyUrl, method, region, channel),
      payer: payer === undefined ? undefined : correlation.share(payer.id, orderId),
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
    if (late) extraOf(trade).lateFault = late.index;
    const tradeNo = tradeNoOf(trade);
    this.ledger.add(trade);
    this.context.journal.append('payment.trade.created', {
      orderId: outTradeNo,
      tradeNo,
      amount,
      method,
      ...(payer ? { payerId: payer.id } : {}),
      ...(channel === undefined ? {} : { channel }),
      repeat: false,
    });
    if (this.callbacks) this.forgeries.schedule(trade.seq, faultSubject, (job) => this.sendForgery(trade, faultSubject, job));

    const created: CreatedTrade = { trade: this.ledger.view(trade), expiresAt: this.time.iso(trade.expiresAt), repeat: false };
    // The trade exists, but the answer is lost with the connection: only the first create per order.
    const ambiguous = this.context.plan.first('payment.ambiguous', faultSubject);
    if (ambiguous) {
      this.faults.inject(ambiguous, outTradeNo, payer?.id, { tradeNo });
      return { kind: 'ok', value: created, delayMs, lost: 'reset' };
    }
    return ok(created, delayMs);
  }

  /** The buyer pays at the cashier; `forced` is what a test payment method decides instead of the plan. */
  pay(tradeNo: string, payerId: string, forced?: ForcedPayOutcome): CoreAnswer<PayResult> {
    const trade = this.ledger.byTradeNo(tradeNo);
    if (!trade) return refused(refusal('TRADE_NOT_EXIST', 404, `no trade ${tradeNo}`), 0);
    const orderId = trade.outTradeNo;
    const faultSubject = this.context.correlation.subject(orderId, payerId);
    const stall = this.faults.channel('pay', faultSubject, orderId, payerId);
    if (stall) return stalled(stall);
    const delayMs = this.faults.latency('pay', faultSubject, orderId, payerId);
    const status = this.ledger.statusOf(trade);
    const no = tradeNoOf(trade);

    if (status === 'TRADE_SUCCESS') return ok({ status: 'TRADE_SUCCESS' }, delayMs);
    if (status === 'PAY_FAILED') return refused(refusal(trade.failCode ?? 'DECLINED', 402, 'this trade already failed'), delayMs);
    if (status === 'TRADE_CLOSED') {
      if (trade.extra?.lateFault === undefined) return refused(refusal('TRADE_CLOSED', 409, `trade ${no} is closed`), delayMs);
      // payment.callback.late: the channel had taken the buyer's money before the shop's close
      // reached it, so the payment still succeeds and is notified — after the shop gave up.
      trade.status = 'WAIT_BUYER_PAY';
    }
    if (status === 'VERIFYING') return refused(refusal('TRADE_VERIFYING', 409, `trade ${no} awaits verification`), delayMs);

    trade.payerId = trade.payer === payerId ? trade.payer : this.context.correlation.share(payerId, orderId);
    const failCode = forced && 'refusal' in forced ? forced.refusal : this.faults.payRefusal(trade, payerId, faultSubject);
    if (failCode) {
      trade.status = 'PAY_FAILED';
      trade.failCode = failCode;
      this.forgeries.cancel(trade.seq);
      this.context.journal.append('payment.trade.pay_failed', { orderId, tradeNo: no, code: failCode });
      this.notify(trade, payerId, this.ledger.notice(trade, undefined, failCode));
      return refused(refusal(failCode, 402, PAY_FAIL_MESSAGES[failCode]), delayMs);
    }

    const verification = this.context.plan.first('payment.verification', faultSubject);
    if (verification || (forced && 'verification' in forced)) {
      const verificationId = this.ledger.startVerification(trade);
      trade.status = 'VERIFYING';
      if (verification) {
        this.faults.inject(verification, orderId, payerId, {
          verificationId,
          ...(verification.spec.completeAfter === undefined ? {} : { completeAfter: verification.spec.completeAfter }),
        });
      }
      this.context.journal.append('payment.verification.started', { orderId, tradeNo: no, verificationId });
      return ok({ status: 'VERIFYING', verificationId }, delayMs);
    }

    this.capture(trade, payerId, faultSubject);
    return ok({ status: 'TRADE_SUCCESS' }, delayMs);
  }

  /** The buyer finishes the extra verification. */
  completeVerification(verificationId: string): CoreAnswer<{ status: 'TRADE_SUCCESS' }> {
    const trade = this.ledger.byVerification(verificationId);
    if (!trade) return refused(refusal('VERIFICATION_NOT_EXIST', 404, `no verification ${verificationId}`), 0);
    const orderId = trade.outTradeNo;
    const tradeNo = tradeNoOf(trade);
    const base = { orderId, tradeNo, verificationId };
    const status = this.ledger.statusOf(trade);
    if (status === 'VERIFYING') {
      const payerId = trade.payerId ?? trade.payer ?? orderId;
      this.capture(trade, payerId, this.context.correlation.subject(orderId, trade.payerId));
    } else if (status !== 'TRADE_SUCCESS') {
      this.context.journal.append('payment.verification.completed', { ...base, result: 'TRADE_CLOSED' });
      return refused(refusal('TRADE_CLOSED', 409, `trade ${tradeNo} closed before the verification was completed`), 0);
    }
    this.context.journal.append('payment.verification.completed', { ...base, result: 'TRADE_SUCCESS' });
    return ok({ status: 'TRADE_SUCCESS' }, 0);
  }

  /** A trade by its trade number or by the shop's order (outTradeNo). */
  query(key: { tradeNo: string } | { outTradeNo: string }): CoreAnswer<TradeView> {
    const tradeNo = 'tradeNo' in key ? key.tradeNo : undefined;
    const trade = 'tradeNo' in key ? this.ledger.byTradeNo(key.tradeNo) : this.ledger.byOrder(key.outTradeNo);
    const orderId = 'tradeNo' in key ? trade?.outTradeNo : key.outTradeNo;
    let delayMs = 0;
    if (orderId !== undefined) {
      const faultSubject = trade ? this.subjectOf(trade) : this.context.correlation.subject(orderId);
      const stall = this.faults.channel('query', faultSubject, orderId) ?? this.faults.reconciliation('payment.query.error', 'query', faultSubject, orderId);
      if (stall) return stalled(stall);
      delayMs = this.faults.latency('query', faultSubject, orderId);
    }
    if (!trade) {
      this.context.journal.append('payment.trade.queried', {
        ...(orderId === undefined ? {} : { orderId }),
        ...(tradeNo === undefined ? {} : { tradeNo }),
        status: 'NOT_FOUND',
      });
      return refused(refusal('TRADE_NOT_EXIST', 404, 'no such trade'), delayMs);
    }
    const status = this.ledger.statusOf(trade);
    this.context.journal.append('payment.trade.queried', { orderId: trade.outTradeNo, tradeNo: tradeNoOf(trade), status });
    return ok(this.ledger.view(trade), delayMs);
  }

  /** Closes an unpaid trade (the shop gave up on the order). */
  closeTrade(tradeNo: string): CoreAnswer<TradeView> {
    const trade = this.ledger.byTradeNo(tradeNo);
    if (!trade) return refused(refusal('TRADE_NOT_EXIST', 404, `no trade ${tradeNo}`), 0);
    const orderId = trade.outTradeNo;
    const no = tradeNoOf(trade);
    const faultSubject = this.subjectOf(trade);
    const stall = this.faults.channel('close', faultSubject, orderId);
    if (stall) return stalled(stall);
    const delayMs = this.faults.latency('close', faultSubject, orderId);
    if (this.ledger.statusOf(trade) === 'TRADE_SUCCESS') {
      this.context.journal.append('payment.trade.closed', { orderId, tradeNo: no, result: 'has_success' });
      return refused(refusal('TRADE_HAS_SUCCESS', 409, `trade ${no} is paid; treat the order as paid`), delayMs);
    }
    // Closing also ends a pending verification. A late trade answers "closed" too, but its buyer's
    // payment, already under way in the channel, still succeeds (see pay).
    trade.status = 'TRADE_CLOSED';
    this.forgeries.cancel(trade.seq);
    this.context.journal.append('payment.trade.closed', { orderId, tradeNo: no, result: 'closed' });
    return ok(this.ledger.view(trade), delayMs);
  }

  /** Refunds part or all of a paid trade; idempotent by refund number. */
  refund(tradeNo: string, refundNo: string, amount: number): CoreAnswer<RefundResult> {
    const trade = this.ledger.byTradeNo(tradeNo);
    if (!trade) return refused(refusal('TRADE_NOT_EXIST', 404, `no trade ${tradeNo}`), 0);
    const orderId = trade.outTradeNo;
    const no = tradeNoOf(trade);
    const faultSubject = this.subjectOf(trade);
    const base = { orderId, tradeNo: no, refundNo };
    const stall = this.faults.channel('refund', faultSubject, orderId) ?? this.faults.reconciliation('payment.refund.error', 'refund', faultSubject, orderId);
    if (stall) {
      if (!stall.hang) this.context.journal.append('payment.refund', { ...base, amount, repeat: false, ok: false, code: stall.refusal.code });
      return stalled(stall);
    }
    const delayMs = this.faults.latency('refund', faultSubject, orderId);

    const done = trade.extra?.refunds?.find((refund) => refund.refundNo === refundNo);
    if (done) {
      this.context.journal.append('payment.refund', { ...base, amount: done.amount, repeat: true, ok: true });
      return ok({ refundNo, amount: done.amount, repeat: true }, delayMs);
    }
    if (this.ledger.statusOf(trade) !== 'TRADE_SUCCESS') {
      this.context.journal.append('payment.refund', { ...base, amount, repeat: false, ok: false, code: 'TRADE_NOT_PAID' });
      return refused(refusal('TRADE_NOT_PAID', 409, `trade ${no} was never paid`), delayMs);
    }
    if (trade.refunded + amount > trade.amount) {
      this.context.journal.append('payment.refund', { ...base, amount, repeat: false, ok: false, code: 'REFUND_EXCEEDS_PAID' });
      const message = `refunding ${amount} would exceed the paid ${trade.amount} (already refunded ${trade.refunded})`;
      return refused(refusal('REFUND_EXCEEDS_PAID', 409, message), delayMs);
    }
    (extraOf(trade).refunds ??= []).push({ refundNo, amount, at: this.time.now() });
    trade.refunded += amount;
    this.context.journal.append('payment.refund', { ...base, amount, repeat: false, ok: true });
    return ok({ refundNo, amount, repeat: false }, delayMs);
  }

  // ---- internals -------------------------------------------------------------------------

  /** Fault decisions' subject for a call about a trade: its payer when known, else the order's. */
  private subjectOf(trade: Trade): string {
    return this.context.correlation.subject(trade.outTradeNo, trade.payer ?? trade.payerId);
  }

  private subjectOfRecord(trade: Trade | undefined): FaultSubject {
    if (!trade) return {};
    const buyerId = trade.payer ?? trade.payerId;
    return { orderId: trade.outTradeNo, ...(buyerId === undefined ? {} : { buyerId }) };
  }

  private journalRefused(orderId: string, reason: PaymentRefusal): void {
    this.context.journal.append('payment.trade.refused', { orderId, code: reason.code, httpStatus: reason.httpStatus });
  }

  private refuseCreate<T>(outTradeNo: string, reason: PaymentRefusal, delayMs: number): CoreAnswer<T> {
    this.journalRefused(outTradeNo, reason);
    return refused(reason, delayMs);
  }

  /** The buyer pays `paidAmount` instead of the trade's amount; the trade keeps what was ordered. */
  private payLess<I extends 'payment.callback.tampered' | 'payment.callback.underpaid'>(trade: Trade, payerId: string, hit: FaultHit<I>, paidAmount: number): void {
    const extra = extraOf(trade);
    extra.orderedAmount ??= trade.amount;
    trade.amount = paidAmount;
    this.faults.inject(hit, trade.outTradeNo, payerId, { orderedAmount: extra.orderedAmount, paidAmount });
  }

  /** Moves the money: applies a short payment, notes a late capture, journals and calls back. */
  private capture(trade: Trade, payerId: string, faultSubject: string): void {
    const orderId = trade.outTradeNo;
    const tampered = this.context.plan.first('payment.callback.tampered', faultSubject);
    const underpaid = tampered ? undefined : this.context.plan.first('payment.callback.underpaid', faultSubject);
    if (tampered) this.payLess(trade, payerId, tampered, tampered.spec.paidAmount);
    // A share of the amount, never all of it nor nothing: a 1-fen order cannot be underpaid.
    else if (underpaid && trade.amount > 1) this.payLess(trade, payerId, underpaid, Math.min(trade.amount - 1, Math.max(1, Math.floor(trade.amount * underpaid.spec.paidShare))));
    const now = this.time.now();
    const lateFault = trade.extra?.lateFault;
    if (lateFault !== undefined) {
      const late = this.context.plan.faults[lateFault];
      if (late?.id === 'payment.callback.late') {
        this.faults.inject({ index: lateFault, spec: late }, orderId, payerId, { lateByMs: Math.round(now - trade.expiresAt) });
      }
    }
    trade.status = 'TRADE_SUCCESS';
    trade.paidAt = now;
    this.faults.captured(payerId, trade.amount);
    this.forgeries.cancel(trade.seq);
    this.context.journal.append('payment.trade.paid', { orderId, tradeNo: tradeNoOf(trade), amount: trade.amount, payerId });
    this.notify(trade, payerId, this.ledger.notice(trade, now));
  }

  /** `payment.callback.forged` / `.replayed` / `.altered`: a success notice for a trade still unpaid. */
  private sendForgery(trade: Trade, faultSubject: string, job: ForgeryJob): void {
    const status = this.ledger.statusOf(trade);
    if (this.forgeries.isClosed || (status !== 'WAIT_BUYER_PAY' && status !== 'VERIFYING')) return;
    const buyerId = trade.payer ?? this.context.correlation.buyerOf(trade.outTradeNo);
    this.callbacks?.(
      {
        notifyUrl: trade.terms.notifyUrl,
        ...(trade.terms.channel === undefined ? {} : { channel: trade.terms.channel }),
        subject: faultSubject,
        ...(buyerId === undefined ? {} : { buyerId }),
        forgery: {
          kind: job.kind,
          faultIndex: job.faultIndex,
          ...(job.ageMs === undefined ? {} : { ageMs: job.ageMs }),
          ...(job.signedAmount === undefined ? {} : { signedAmount: job.signedAmount }),
          detail: { afterMs: job.after },
        },
      },
      this.ledger.notice(trade, this.time.now()),
    );
  }

  private notify(trade: Trade, payerId: string, notice: CallbackNotice): void {
    this.callbacks?.({ notifyUrl: trade.terms.notifyUrl, subject: payerId, buyerId: payerId, ...(trade.terms.channel === undefined ? {} : { channel: trade.terms.channel }) }, notice);
  }
}
