/**
 * The shop's client of Ordeal's native wire protocol v1 (the README's "Mock wire protocol v1"):
 * JSON requests, and notifies POSTed as JSON with `Ordeal-Signature` (`./native-signature.ts`),
 * acknowledged by any 2xx. The one place the native vocabulary is spelled: trade statuses
 * (`WAIT_BUYER_PAY`, `VERIFYING`, `TRADE_SUCCESS`, `PAY_FAILED`, `TRADE_CLOSED`) and refusal codes
 * are mapped here into the shop's own terms (`./gateway.ts`).
 */
import { callJson, field, numberField, stringField } from '../http-client.js';
import { errorCode, isServerSide, unavailable, type ServiceOptions } from '../services.js';
import type {
  CloseTradeResult,
  CreateTradeRequest,
  CreateTradeResult,
  DeclineReason,
  NotifyAnswer,
  NotifyChecks,
  NotifyEndpoint,
  NotifyReading,
  NotifyRequest,
  PaymentCallback,
  PaymentGateway,
  PaymentResult,
  QueryTradeResult,
  RefundResult,
  Trade,
} from './gateway.js';
import { jsonAnswer, parseNotifyJson } from './gateway.js';
import { SIGNATURE_HEADER, SIGNATURE_TOLERANCE_S, verifyCallbackSignature } from './native-signature.js';

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

/** A callback body `{ tradeNo, outTradeNo, status, amount, failCode? }`, or undefined when it lacks a field. */
function parsePaymentCallback(body: unknown): PaymentCallback | undefined {
  const outTradeNo = stringField(body, 'outTradeNo');
  const status = stringField(body, 'status');
  const amount = numberField(body, 'amount');
  if (!outTradeNo || !status || amount === undefined) return undefined;
  return { tradeNo: stringField(body, 'tradeNo') ?? '', outTradeNo, result: paymentResult(status, amount, stringField(body, 'failCode')) };
}

/** Native notifies: a signed JSON POST, acknowledged by any 2xx. */
export class NativeNotifyEndpoint implements NotifyEndpoint {
  readonly methods = ['POST'] as const;

  constructor(private readonly secret: string) {}

  orderIdOf(request: NotifyRequest): string | undefined {
    return stringField(parseNotifyJson(request.rawBody), 'outTradeNo');
  }

  read(request: NotifyRequest, checks: NotifyChecks): NotifyReading {
    if (checks.signature) {
      const verdict = verifyCallbackSignature({
        secret: this.secret,
        header: request.headers[SIGNATURE_HEADER],
        rawBody: request.rawBody,
        toleranceS: checks.freshness ? SIGNATURE_TOLERANCE_S : Number.POSITIVE_INFINITY,
      });
      if (!verdict.valid) return { kind: 'bad_signature', detail: `callback signature rejected (${verdict.reason})` };
    }
    const body = parseNotifyJson(request.rawBody);
    if (body === undefined) return { kind: 'malformed', detail: 'expected a JSON body' };
    const callback = parsePaymentCallback(body);
    return callback ? { kind: 'callback', callback } : { kind: 'malformed', detail: 'expected { outTradeNo, tradeNo, status, amount }' };
  }

  acknowledge(): NotifyAnswer {
    return jsonAnswer(200, { received: true });
  }

  refuse(status: number, code: string, message: string): NotifyAnswer {
    return jsonAnswer(status, { error: { code, message } });
  }
}

export class NativeGateway implements PaymentGateway {
  readonly protocol = 'native';
  readonly notify: NativeNotifyEndpoint;

  private readonly options: ServiceOptions;

  constructor(private readonly baseUrl: string, secret: string, options: ServiceOptions) {
    this.notify = new NativeNotifyEndpoint(secret);
    // The provider takes the merchant's requests with the same secret as a bearer key.
    this.options = { ...options, authorization: `Bearer ${secret}` };
  }

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
