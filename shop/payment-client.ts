/**
 * The shop's client of the payment provider (native wire protocol v1), and the one place the
 * provider's vocabulary is spelled: trade statuses (`WAIT_BUYER_PAY`, `VERIFYING`, `TRADE_SUCCESS`,
 * `PAY_FAILED`, `TRADE_CLOSED`) and refusal codes are mapped here, once, into `PaymentResult` and
 * the shop's own order reasons. The stages only ever see those.
 *
 * Each call makes one attempt and returns what happened as data; retries are the stages' business.
 */
import type { OrderReason } from './db.js';
import { callJson, field, numberField, stringField } from './http-client.js';
import { errorCode, isServerSide, unavailable, type ServiceOptions, type Unavailable } from './services.js';

/** Why the provider would not take the buyer's money, as the order will say. */
export type DeclineReason = Extract<OrderReason, 'payment_limit' | 'payment_declined' | 'cross_border_blocked' | 'verification_timeout'>;

/** Where a trade's payment stands, in the shop's terms. */
export type PaymentResult =
  /** Nothing paid yet; the buyer may still pay. */
  | { kind: 'unpaid' }
  /** The buyer is in the middle of an extra verification step. */
  | { kind: 'verifying' }
  /** Paid; `captured` is the money actually taken, which a tampered payment makes differ from the order's amount. */
  | { kind: 'paid'; captured: number }
  /** The payment failed for good (this trade can no longer be paid). */
  | { kind: 'declined'; reason: DeclineReason }
  /** The trade was closed unpaid (by the shop or at its expiry). */
  | { kind: 'closed' };

export interface Trade {
  tradeNo: string;
  outTradeNo: string;
  /** What the trade was created for (minor units). */
  amount: number;
  result: PaymentResult;
  /** Refunded so far (running total, minor units). */
  refunded: number;
}

/** A payment callback's content (its signature already checked, or not, by the caller). */
export interface PaymentCallback {
  tradeNo: string;
  /** The shop's order id. */
  outTradeNo: string;
  result: PaymentResult;
}

export interface CreateTradeRequest {
  outTradeNo: string;
  amount: number;
  currency: string;
  subject: string;
  notifyUrl: string;
  method: string;
  payer: { id: string; region?: string };
  expiresInMs: number;
}

export type CreateTradeResult =
  | { kind: 'created'; tradeNo: string; payUrl: string | undefined; expiresAt: string | undefined }
  /** The provider will not take this payment at all: the order fails with `reason`. */
  | { kind: 'declined'; reason: DeclineReason }
  /** Any other refusal (asking again the same way will not help). */
  | { kind: 'refused'; code: string; status: number }
  | Unavailable;

export type QueryTradeResult = { kind: 'found'; trade: Trade } | { kind: 'not_found' } | Unavailable;
export type CloseTradeResult = { kind: 'closed' } | { kind: 'has_success' } | { kind: 'not_found' } | { kind: 'refused'; code: string } | Unavailable;
export type RefundResult = { kind: 'refunded' } | { kind: 'exceeds_paid' } | { kind: 'refused'; code: string } | Unavailable;

/** A `PAY_FAILED` trade's `failCode` as the order's reason. */
function failureReason(failCode: string | undefined): DeclineReason {
  switch (failCode) {
    case 'LIMIT_SINGLE':
    case 'LIMIT_DAILY':
      return 'payment_limit';
    case 'CROSS_BORDER_BLOCKED':
      return 'cross_border_blocked';
    case 'VERIFICATION_TIMEOUT':
      return 'verification_timeout';
    default:
      return 'payment_declined';
  }
}

/** A create-time refusal code as the order's reason, when it is one that fails the order. */
function refusalReason(code: string): DeclineReason | undefined {
  switch (code) {
    case 'LIMIT_SINGLE':
    case 'LIMIT_DAILY':
      return 'payment_limit';
    case 'CROSS_BORDER_BLOCKED':
      return 'cross_border_blocked';
    case 'DECLINED':
      return 'payment_declined';
    default:
      return undefined;
  }
}

/**
 * A trade status (with its failure code and the money taken) as a `PaymentResult`. A status the
 * shop does not know counts as unpaid: the order keeps waiting and asking.
 */
function paymentResult(status: string, captured: number, failCode: string | undefined): PaymentResult {
  switch (status) {
    case 'TRADE_SUCCESS':
      return { kind: 'paid', captured };
    case 'PAY_FAILED':
      return { kind: 'declined', reason: failureReason(failCode) };
    case 'VERIFYING':
      return { kind: 'verifying' };
    case 'TRADE_CLOSED':
      return { kind: 'closed' };
    default:
      return { kind: 'unpaid' };
  }
}

function parseTrade(body: unknown): Trade | undefined {
  const tradeNo = stringField(body, 'tradeNo');
  const status = stringField(body, 'status');
  const amount = numberField(body, 'amount');
  if (!tradeNo || !status || amount === undefined) return undefined;
  // A provider that reports what the buyer paid apart from the trade's amount is believed.
  const captured = numberField(body, 'paidAmount') ?? amount;
  return {
    tradeNo,
    outTradeNo: stringField(body, 'outTradeNo') ?? '',
    amount,
    result: paymentResult(status, captured, stringField(body, 'failCode')),
    refunded: numberField(body, 'refunded') ?? 0,
  };
}

/** The order a callback body is about, read before anything else is checked (or undefined). */
export function callbackOrderId(body: unknown): string | undefined {
  return stringField(body, 'outTradeNo');
}

/** A callback body `{ tradeNo, outTradeNo, status, amount, failCode? }`, or undefined when it lacks a field. */
export function parsePaymentCallback(body: unknown): PaymentCallback | undefined {
  const outTradeNo = stringField(body, 'outTradeNo');
  const status = stringField(body, 'status');
  const amount = numberField(body, 'amount');
  if (!outTradeNo || !status || amount === undefined) return undefined;
  return { tradeNo: stringField(body, 'tradeNo') ?? '', outTradeNo, result: paymentResult(status, amount, stringField(body, 'failCode')) };
}

export class PaymentClient {
  constructor(private readonly baseUrl: string, private readonly options: ServiceOptions) {}

  /** The cashier link of a trade, for a provider that gave none. */
  payUrl(tradeNo: string): string {
    return `${this.baseUrl}/v1/trades/${encodeURIComponent(tradeNo)}/pay`;
  }

  async createTrade(request: CreateTradeRequest): Promise<CreateTradeResult> {
    const result = await callJson('POST', `${this.baseUrl}/v1/trades`, request, this.options);
    if (isServerSide(result) || result.kind === 'error') return unavailable(result);
    if (result.status === 200 || result.status === 201) {
      const tradeNo = stringField(result.body, 'tradeNo');
      if (!tradeNo) return { kind: 'unavailable', detail: 'trade created without a tradeNo' }; // treated as lost
      return { kind: 'created', tradeNo, payUrl: stringField(result.body, 'payUrl'), expiresAt: stringField(result.body, 'expiresAt') };
    }
    const code = errorCode(result);
    const reason = refusalReason(code);
    return reason ? { kind: 'declined', reason } : { kind: 'refused', code, status: result.status };
  }

  private async query(url: string): Promise<QueryTradeResult> {
    const result = await callJson('GET', url, undefined, this.options);
    if (isServerSide(result) || result.kind === 'error') return unavailable(result);
    if (result.status === 404) return { kind: 'not_found' };
    if (result.status === 200) {
      // An empty or garbled 200 is a lost answer, not "no trade".
      if (result.body === undefined || result.body === null) return { kind: 'unavailable', detail: '200 without a body' };
      // `GET /v1/trades?outTradeNo=` answers one trade; tolerate a list too.
      const list = Array.isArray(result.body) ? result.body : Array.isArray(field(result.body, 'trades')) ? (field(result.body, 'trades') as unknown[]) : undefined;
      if (list && list.length === 0) return { kind: 'not_found' };
      const trade = parseTrade(list ? list[0] : result.body);
      return trade ? { kind: 'found', trade } : { kind: 'unavailable', detail: 'unparseable trade' };
    }
    return { kind: 'unavailable', detail: `HTTP ${result.status} ${errorCode(result)}` };
  }

  queryTrade(tradeNo: string): Promise<QueryTradeResult> {
    return this.query(`${this.baseUrl}/v1/trades/${encodeURIComponent(tradeNo)}`);
  }

  queryByOutTradeNo(outTradeNo: string): Promise<QueryTradeResult> {
    return this.query(`${this.baseUrl}/v1/trades?outTradeNo=${encodeURIComponent(outTradeNo)}`);
  }

  async closeTrade(tradeNo: string): Promise<CloseTradeResult> {
    const result = await callJson('POST', `${this.baseUrl}/v1/trades/${encodeURIComponent(tradeNo)}/close`, undefined, this.options);
    if (isServerSide(result) || result.kind === 'error') return unavailable(result);
    if (result.status >= 200 && result.status < 300) return { kind: 'closed' };
    const code = errorCode(result);
    if (code === 'TRADE_HAS_SUCCESS') return { kind: 'has_success' };
    if (result.status === 404 || code === 'TRADE_NOT_EXIST') return { kind: 'not_found' };
    // Closing an already-closed trade is a success for the shop.
    if (code === 'TRADE_CLOSED') return { kind: 'closed' };
    return { kind: 'refused', code };
  }

  async refund(tradeNo: string, refundNo: string, amount: number): Promise<RefundResult> {
    const result = await callJson('POST', `${this.baseUrl}/v1/trades/${encodeURIComponent(tradeNo)}/refunds`, { refundNo, amount }, this.options);
    if (isServerSide(result) || result.kind === 'error') return unavailable(result);
    if (result.status >= 200 && result.status < 300) {
      const status = stringField(result.body, 'status');
      return status === undefined || status === 'SUCCESS' ? { kind: 'refunded' } : { kind: 'unavailable', detail: `refund status ${status}` };
    }
    const code = errorCode(result);
    if (code === 'REFUND_EXCEEDS_PAID') return { kind: 'exceeds_paid' };
    return { kind: 'refused', code };
  }
}
