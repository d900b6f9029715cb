/**
 * The provider's money ledger: trades (with their captures and refunds) and verifications, kept
 * compact for long runs, in stores of a record space (settled, idle trades may leave the heap; see
 * memory/README.md). Protocol-neutral:
 * personalities see trades only through the core's answers and `TradeRecord` snapshots.
 */
import type { TradeStatus } from '../../core/journal.js';
import { openRecordSpace, type RecordSpace, type RecordStore } from '../../memory/index.js';
import { seqId, seqOf, StringPool, type LedgerClock } from '../mock-types.js';
import type { PayFailCode, TradeView } from './answers.js';
import type { CallbackNotice } from './notices.js';


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
 */
export interface Trade {
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
  failCode: PayFailCode | undefined;
  refunded: number;
  /** What only some trades have (faults, refunds); created when first needed. */
  extra: TradeExtra | undefined;
}

/** The strings a trade repeats from many others: one object per distinct combination. */
export interface TradeTerms {
  readonly currency: string;
  readonly subject: string;
  readonly notifyUrl: string;
  readonly method: string;
  /** The payer's region, when named at creation. */
  readonly region: string | undefined;
  /** The payment channel (protocol) the trade was created at, when the run has several; else the primary. */
  readonly channel: string | undefined;
}

export interface TradeExtra {
  /** Set by `payment.callback.tampered`: the amount the shop created the trade for. */
  orderedAmount: number | undefined;
  /** The verification's sequence number (`seqId('V', …)`). */
  verification: number | undefined;
  /** Index of the `payment.callback.late` fault that keeps this trade open past expiresAt. */
  lateFault: number | undefined;
  refunds: Refund[] | undefined;
}

interface Refund {
  readonly refundNo: string;
  readonly amount: number;
  /** Ledger time. */
  readonly at: number;
}

/** Distinct trade terms kept for sharing; trades beyond that many combinations get their own. */
const TERMS_POOL_LIMIT = 1024;

export function tradeNoOf(trade: Trade): string {
  return seqId('T', trade.seq);
}

export function extraOf(trade: Trade): TradeExtra {
  return (trade.extra ??= { orderedAmount: undefined, verification: undefined, lateFault: undefined, refunds: undefined });
}

export class TradeLedger {
  /** Trades by sequence number (trade `seqId('T', n)` is n). */
  private readonly trades: RecordStore<number, Trade>;
  /** Trades created so far (the last sequence number). */
  private tradeCount = 0;
  /** outTradeNo → trade sequence number. */
  private readonly byOutTradeNo: RecordStore<string, number>;
  private readonly records: RecordSpace;
  /** Verification `seqId('V', n)` is about the trade whose sequence number is at index n - 1. */
  private readonly verifications: number[] = [];
  /** Trade terms by their strings, for sharing (at most TERMS_POOL_LIMIT). */
  private readonly termsPool = new Map<string, TradeTerms>();
  /** Notify URLs, currencies, methods, regions, subjects: one copy each. */
  private readonly strings = new StringPool();

  /**
   * @param held whether something still waits on a trade (a pending forgery), which keeps it out
   *   of the archive
   * @param closed told when an unpaid trade closes itself at its expiry
   */
  constructor(
    private readonly time: LedgerClock,
    held: (seq: number) => boolean,
    private readonly closed: (seq: number) => void,
    records: RecordSpace = openRecordSpace(),
  ) {
    this.records = records;
    this.trades = records.store<number, Trade>('trade', {
      encode: (trade) => this.encode(trade),
      decode: (text) => this.decode(text),
      key: Number,
      // Paid, failed or closed (an unpaid trade past its expiry counts as closed; it closes
      // itself, lazily, when next looked at), and not held.
      settled: (trade) =>
        !held(trade.seq) &&
        ((trade.status !== 'WAIT_BUYER_PAY' && trade.status !== 'VERIFYING') ||
          (trade.extra?.lateFault === undefined && this.time.now() >= trade.expiresAt)),
    });
    this.byOutTradeNo = records.store<string, number>('trade_order', { encode: String, decode: Number, key: String });
  }

  /** Trades created so far. */
  get count(): number {
    return this.tradeCount;
  }

  /** Adds a trade created with sequence number `count + 1`. */
  add(trade: Trade): void {
    this.tradeCount = trade.seq;
    this.trades.set(trade.seq, trade);
    this.byOutTradeNo.set(trade.outTradeNo, trade.seq);
  }

  /** The trade with this trade number. */
  byTradeNo(tradeNo: string | undefined): Trade | undefined {
    const seq = seqOf('T', tradeNo);
    return seq === 0 || seq > this.tradeCount ? undefined : this.trades.get(seq);
  }

  /** The trade created for a shop order. */
  byOrder(orderId: string): Trade | undefined {
    const seq = this.byOutTradeNo.get(orderId);
    return seq === undefined ? undefined : this.trades.get(seq);
  }

  /** The trade a verification is about. */
  byVerification(verificationId: string | undefined): Trade | undefined {
    const seq = seqOf('V', verificationId);
    const tradeSeq = seq === 0 ? undefined : this.verifications[seq - 1];
    return tradeSeq === undefined ? undefined : this.trades.get(tradeSeq);
  }

  /** Opens a verification for the trade; returns its id. */
  startVerification(trade: Trade): string {
    this.verifications.push(trade.seq);
    extraOf(trade).verification = this.verifications.length;
    return seqId('V', this.verifications.length);
  }

  /** Every trade (those out of the heap as copies), in creation order. */
  all(): Trade[] {
    return [...this.trades.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Trades held in the heap, and out of it (for memory checks). */
  sizes(): { hot: number; archived: number } {
    return this.records.sizes('trade');
  }

  /** The shared terms for these strings (one object per distinct combination, up to a limit). */
  termsOf(currency: string, subject: string, notifyUrl: string, method: string, region: string | undefined, channel?: string): TradeTerms {
    const key = JSON.stringify([currency, method, region ?? null, notifyUrl, subject, channel ?? null]);
    const known = this.termsPool.get(key);
    if (known) return known;
    const strings = this.strings;
    const terms: TradeTerms = {
      currency: strings.intern(currency),
      subject: strings.intern(subject),
      notifyUrl: strings.intern(notifyUrl),
      method: strings.intern(method),
      region: region === undefined ? undefined : strings.intern(region),
      channel: channel === undefined ? undefined : strings.intern(channel),
    };
    if (this.termsPool.size < TERMS_POOL_LIMIT) this.termsPool.set(key, terms);
    return terms;
  }

  /**
   * The trade's status, closing an unpaid trade whose time ran out (evaluated lazily, when looked
   * at) — unless `payment.callback.late` keeps it open.
   */
  statusOf(trade: Trade): TradeStatus {
    if (
      (trade.status === 'WAIT_BUYER_PAY' || trade.status === 'VERIFYING') &&
      trade.extra?.lateFault === undefined &&
      this.time.now() >= trade.expiresAt
    ) {
      trade.status = 'TRADE_CLOSED';
      this.closed(trade.seq);
    }
    return trade.status;
  }

  /** Totals over the ledger: captured and refunded money (minor units). */
  totals(): { captured: number; refunded: number; trades: number; paid: number } {
    let captured = 0;
    let refunded = 0;
    let paid = 0;
    for (const trade of this.all()) {
      if (trade.paidAt !== undefined) {
        captured += trade.amount;
        paid += 1;
      }
      refunded += trade.refunded;
    }
    return { captured, refunded, trades: this.tradeCount, paid };
  }

  /** A trade as the core reports it to a personality. */
  view(trade: Trade): TradeView {
    const status = this.statusOf(trade);
    return {
      tradeNo: tradeNoOf(trade),
      outTradeNo: trade.outTradeNo,
      status,
      amount: trade.amount,
      currency: trade.terms.currency,
      ...(trade.paidAt === undefined ? {} : { paidAt: this.time.iso(trade.paidAt) }),
      ...(trade.failCode === undefined ? {} : { failCode: trade.failCode }),
      refunded: trade.refunded,
    };
  }

  /** What the trade's callback says: a success paid at `paidAt` (a ledger time), else a failure for `failCode`. */
  notice(trade: Trade, paidAt: number | undefined, failCode?: PayFailCode): CallbackNotice {
    const { currency, subject, method } = trade.terms;
    const tradeNo = tradeNoOf(trade);
    const { outTradeNo, amount } = trade;
    return paidAt !== undefined
      ? { tradeNo, outTradeNo, status: 'TRADE_SUCCESS', amount, paidAt: this.time.iso(paidAt), currency, subject, method }
      : { tradeNo, outTradeNo, status: 'PAY_FAILED', amount, failCode, currency, subject, method };
  }

  /** A trade as tests and checks see it (expiry applied). */
  snapshot(trade: Trade): TradeRecord {
    const status = this.statusOf(trade);
    const { terms, extra } = trade;
    const iso = (time: number): string => this.time.iso(time);
    return {
      tradeNo: tradeNoOf(trade),
      outTradeNo: trade.outTradeNo,
      amount: trade.amount,
      ...(extra?.orderedAmount === undefined ? {} : { orderedAmount: extra.orderedAmount }),
      currency: terms.currency,
      subject: terms.subject,
      notifyUrl: terms.notifyUrl,
      method: terms.method,
      ...(trade.payer === undefined ? {} : { payer: { id: trade.payer, ...(terms.region === undefined ? {} : { region: terms.region }) } }),
      createdAt: iso(trade.createdAt),
      expiresAt: iso(trade.expiresAt),
      status,
      ...(trade.payerId === undefined ? {} : { payerId: trade.payerId }),
      ...(trade.paidAt === undefined ? {} : { paidAt: iso(trade.paidAt) }),
      ...(trade.failCode === undefined ? {} : { failCode: trade.failCode }),
      ...(extra?.verification === undefined ? {} : { verificationId: seqId('V', extra.verification) }),
      ...(extra?.lateFault === undefined ? {} : { late: true }),
      refunded: trade.refunded,
      refunds: (extra?.refunds ?? []).map((refund) => ({ refundNo: refund.refundNo, amount: refund.amount, at: iso(refund.at) })),
    };
  }

  /** A trade as archived: its fields in a JSON array (absent values as null). */
  private encode(trade: Trade): string {
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
      terms.channel ?? null,
    ]);
  }

  private decode(text: string): Trade {
    const f = JSON.parse(text) as unknown[];
    const opt = <T>(value: unknown): T | undefined => (value === null ? undefined : (value as T));
    const x = f[16] as unknown[] | null;
    return {
      seq: f[0] as number,
      outTradeNo: f[1] as string,
      amount: f[2] as number,
      terms: this.termsOf(f[3] as string, f[4] as string, f[5] as string, f[6] as string, opt<string>(f[7]), opt<string>(f[17])),
      payer: opt<string>(f[8]),
      createdAt: f[9] as number,
      expiresAt: f[10] as number,
      status: f[11] as TradeStatus,
      payerId: opt<string>(f[12]),
      paidAt: opt<number>(f[13]),
      failCode: opt<PayFailCode>(f[14]),
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
}
