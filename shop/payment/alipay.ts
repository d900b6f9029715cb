/**
 * The shop's Alipay client (OpenAPI v2, `gateway.do`), written the way Node shops write it: the
 * official `alipay-sdk` with the app's key pair, the "Alipay public key" and the gateway URL from
 * configuration, every answer's signature checked (`validateSign`), notifies checked with
 * `checkNotifySign` and answered `success` / `failure`. The one place Alipay's vocabulary —
 * `code` / `sub_code`, trade statuses, yuan strings, Beijing-time timestamps — is spelled.
 *
 * Buyers pay by scanning a QR code: `alipay.trade.precreate`, whose `qr_code` link is the pay
 * link. Alipay gives no `trade_no` before the buyer pays, so the shop's trade handle is its own
 * `out_trade_no` (the order id): query, close and refund name the trade by it, and a notify's
 * `PaymentCallback.tradeNo` is its `out_trade_no` too.
 *
 * Key files (`ORDEAL_PAYMENT_KEYS`): `alipay-app-id.txt`, `alipay-app-private-key.pem` (PKCS#8),
 * `alipay-public-key.pem`.
 */
// Before alipay-sdk: the guard remembers Node's own Socket#destroy before urllib replaces it.
import { repairSocketDestroy } from './socket-destroy-guard.js';
import { AlipaySdk, type AlipaySdkCommonResult } from 'alipay-sdk';
import type { ServiceOptions, Unavailable } from '../services.js';
import {
  minorOf,
  yuanOf,
  type CloseTradeResult,
  type CreateTradeRequest,
  type CreateTradeResult,
  type DeclineReason,
  type NotifyAnswer,
  type NotifyChecks,
  type NotifyEndpoint,
  type NotifyReading,
  type NotifyRequest,
  type PaymentGateway,
  type PaymentResult,
  type QueryTradeResult,
  type RefundResult,
  type Trade,
} from './gateway.js';
import { textAnswer } from './gateway.js';

repairSocketDestroy();

/** Where the gateway's key files are read from (`./index.ts`'s `KeyFolder`). */
export interface AlipayKeys {
  read(name: string): string;
}

/** How old a notify's signed `notify_time` may be (Alipay signs the time of each sending). */
export const NOTIFY_TOLERANCE_MS = 300_000;
/**
 * Attempts of a precreate whose answer was lost quickly (a garbled body, a reset twice: alipay-sdk's
 * urllib re-sends once by itself): the same out_trade_no answers the same qr_code.
 */
const PRECREATE_ATTEMPTS = 3;

const BEIJING_OFFSET_MS = 8 * 3_600_000;

/** Alipay's timestamps: `yyyy-MM-dd HH:mm:ss`, Beijing time. */
function beijingTime(ms: number): string {
  return new Date(ms + BEIJING_OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ');
}

function parseBeijingTime(text: string | undefined): number | undefined {
  const match = text === undefined ? null : /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  return Date.UTC(year, month - 1, day, hour, minute, second) - BEIJING_OFFSET_MS;
}

/** Sub-codes of a refused payment, as the order will say. */
const LIMIT_SUB_CODES: ReadonlySet<string> = new Set([
  'ACQ.TOTAL_FEE_EXCEED',
  'ACQ.BUYER_PAYMENT_AMOUNT_DAY_LIMIT_ERROR',
  'ACQ.BUYER_PAYMENT_AMOUNT_MONTH_LIMIT_ERROR',
  'ACQ.BEYOND_PAY_RESTRICTION',
  'ACQ.BEYOND_PER_RECEIPT_RESTRICTION',
  'ACQ.PRODUCT_AMOUNT_LIMIT_ERROR',
]);
const DECLINE_SUB_CODES: ReadonlySet<string> = new Set([
  'ACQ.BUYER_BALANCE_NOT_ENOUGH',
  'ACQ.BUYER_BANKCARD_BALANCE_NOT_ENOUGH',
  'ACQ.ERROR_BALANCE_PAYMENT_DISABLE',
  'ACQ.NO_PAYMENT_INSTRUMENTS_AVAILABLE',
  'ACQ.PAYMENT_REQUEST_HAS_RISK',
  'ACQ.PAYMENT_FAIL',
]);

function declineReason(subCode: string | undefined): DeclineReason | undefined {
  if (subCode === undefined) return undefined;
  if (LIMIT_SUB_CODES.has(subCode)) return 'payment_limit';
  if (DECLINE_SUB_CODES.has(subCode)) return 'payment_declined';
  if (subCode === 'ACQ.ERROR_BUYER_CERTIFY_LEVEL_LIMIT') return 'cross_border_blocked';
  return undefined;
}

/** A trade status as the shop's payment result; an unknown one counts as unpaid (the order keeps asking). */
function paymentResult(status: string, captured: number): PaymentResult {
  switch (status) {
    case 'TRADE_SUCCESS':
    case 'TRADE_FINISHED':
      return { kind: 'paid', captured };
    case 'TRADE_CLOSED':
      return { kind: 'closed' };
    default:
      return { kind: 'unpaid' };
  }
}

function field(result: AlipaySdkCommonResult, name: string): string | undefined {
  const value: unknown = result[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** `20000` (service unavailable) and `ACQ.SYSTEM_ERROR` (also as `aop.ACQ.SYSTEM_ERROR`): the outcome is unknown; ask again. */
function isSystemError(result: AlipaySdkCommonResult): boolean {
  return result.code === '20000' || (field(result, 'subCode') ?? '').endsWith('ACQ.SYSTEM_ERROR');
}

function describe(result: AlipaySdkCommonResult): string {
  return `Alipay ${result.code} ${field(result, 'subCode') ?? ''} ${field(result, 'subMsg') ?? field(result, 'msg') ?? ''}`.trim();
}

/** An answer that came but says "busy, try again": HTTP 200 carried it, so the call did reach Alipay. */
function busy(result: AlipaySdkCommonResult): Unavailable {
  return { kind: 'unavailable', detail: describe(result), status: 503 };
}

type Exec = { kind: 'answer'; result: AlipaySdkCommonResult } | (Unavailable & { quick: boolean });

export class AlipayNotifyEndpoint implements NotifyEndpoint {
  readonly methods = ['POST'] as const;

  constructor(
    private readonly sdk: AlipaySdk,
    private readonly appId: string,
    private readonly clock: () => number = Date.now,
  ) {}

  orderIdOf(request: NotifyRequest): string | undefined {
    return new URLSearchParams(request.rawBody).get('out_trade_no') || undefined;
  }

  read(request: NotifyRequest, checks: NotifyChecks): NotifyReading {
    const fields = Object.fromEntries(new URLSearchParams(request.rawBody));
    if (checks.signature) {
      if (!this.signed(fields)) return { kind: 'bad_signature', detail: 'notify signature rejected (checkNotifySign)' };
      if (fields.app_id !== this.appId) return { kind: 'bad_signature', detail: `notify for app_id ${fields.app_id ?? '?'}, not ours` };
    }
    if (checks.freshness) {
      // alipay-sdk does not look at notify_time; it is signed, so an old one is a replay.
      const sentAt = parseBeijingTime(fields.notify_time);
      if (sentAt === undefined || Math.abs(this.clock() - sentAt) > NOTIFY_TOLERANCE_MS) {
        return { kind: 'bad_signature', detail: `notify_time ${fields.notify_time ?? '(missing)'} is not within ${NOTIFY_TOLERANCE_MS / 1000} s` };
      }
    }
    const outTradeNo = fields.out_trade_no;
    const status = fields.trade_status;
    const amount = minorOf(fields.total_amount);
    if (!outTradeNo || !status || amount === undefined) return { kind: 'malformed', detail: 'expected out_trade_no, trade_status and total_amount' };
    return { kind: 'callback', callback: { tradeNo: outTradeNo, outTradeNo, result: paymentResult(status, amount) } };
  }

  /**
   * `checkNotifySign` URL-decodes every value first and throws on a bare `%` (alipay-sdk issue
   * 45); the raw check (`checkNotifySignV2`) is then the right one, as the form was decoded already.
   */
  private signed(fields: Record<string, string>): boolean {
    try {
      return this.sdk.checkNotifySign(fields);
    } catch {
      try {
        return this.sdk.checkNotifySignV2(fields);
      } catch {
        return false;
      }
    }
  }

  acknowledge(): NotifyAnswer {
    return textAnswer(200, 'success');
  }

  /** Alipay reads only the word: anything but `success` is retried, so the code and message stay in the shop's log. */
  refuse(status: number, _code: string, _message: string): NotifyAnswer {
    return textAnswer(status, 'failure');
  }
}

export class AlipayGateway implements PaymentGateway {
  readonly protocol = 'alipay';
  readonly notify: AlipayNotifyEndpoint;
  private readonly sdk: AlipaySdk;

  constructor(baseUrl: string, keys: AlipayKeys, private readonly options: ServiceOptions) {
    const appId = keys.read('alipay-app-id.txt');
    this.sdk = new AlipaySdk({
      appId,
      privateKey: keys.read('alipay-app-private-key.pem'),
      alipayPublicKey: keys.read('alipay-public-key.pem'),
      gateway: `${baseUrl}/gateway.do`,
      keyType: 'PKCS8',
      timeout: options.timeoutMs,
    });
    this.notify = new AlipayNotifyEndpoint(this.sdk, appId);
  }

  /**
   * Alipay hands out a trade's pay link only in the create answer; a trade the shop found by
   * querying (its create answer lost) has none to show.
   */
  payUrl(): string {
    return '';
  }

  /**
   * One `exec` with the answer's signature checked. Anything but a signed answer is a lost one —
   * no answer, a garbled body, a signature that does not verify — since the call may have taken
   * effect; an HTTP error status is an answer that says the gateway failed.
   */
  private async exec(method: string, bizContent: Record<string, unknown>, extra: Record<string, string> = {}): Promise<Exec> {
    const started = Date.now();
    try {
      return { kind: 'answer', result: await this.sdk.exec(method, { ...extra, bizContent }, { validateSign: true }) };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const quick = Date.now() - started < this.options.timeoutMs / 2;
      // alipay-sdk's words for an answer with another HTTP status than 200.
      const status = /^HTTP 请求错误, status: (\d{3})/.exec(message)?.[1];
      return status === undefined ? { kind: 'unavailable', detail: `${method}: ${message}`, quick } : { kind: 'unavailable', detail: `${method}: HTTP ${status}`, status: Number(status), quick };
    }
  }

  async createTrade(request: CreateTradeRequest): Promise<CreateTradeResult> {
    const { outTradeNo, amount, currency, subject, notifyUrl, method, payer, expiresInMs } = request;
    // Whole seconds, rounded up: Alipay must not close the trade before the shop's own deadline.
    const closesAt = Math.ceil((Date.now() + expiresInMs) / 1000) * 1000;
    const bizContent = {
      out_trade_no: outTradeNo,
      total_amount: yuanOf(amount),
      subject,
      product_code: 'FACE_TO_FACE_PAYMENT',
      time_expire: beijingTime(closesAt),
      ...(currency === 'CNY' ? {} : { trans_currency: currency }),
      // Keys agreed with the provider: who pays, from where, with what (Ordeal decides faults by them).
      business_params: {
        ordeal_payer_id: payer.id,
        ordeal_method: method,
        ...(payer.region === undefined ? {} : { ordeal_payer_region: payer.region }),
        ...(payer.ip === undefined ? {} : { mc_create_trade_ip: payer.ip }),
      },
    };
    let outcome: Exec = { kind: 'unavailable', detail: 'not sent', quick: true };
    for (let attempt = 0; attempt < PRECREATE_ATTEMPTS; attempt++) {
      outcome = await this.exec('alipay.trade.precreate', bizContent, { notifyUrl });
      // A lost answer is asked again at once (the same out_trade_no and terms answer the same qr_code), but not after a timeout.
      if (outcome.kind === 'answer' || outcome.status !== undefined || !outcome.quick) break;
    }
    if (outcome.kind !== 'answer') return withoutQuick(outcome);
    const result = outcome.result;
    if (result.code === '10000') {
      const qrCode = field(result, 'qrCode');
      if (!qrCode) return { kind: 'unavailable', detail: 'precreate answered without a qr_code' };
      return { kind: 'created', tradeNo: outTradeNo, payUrl: qrCode, expiresAt: new Date(closesAt).toISOString() };
    }
    if (isSystemError(result)) return busy(result);
    const subCode = field(result, 'subCode');
    const reason = declineReason(subCode);
    if (reason) return { kind: 'declined', reason };
    // Paid already (an earlier create of ours went through): the trade is there; a query tells the rest.
    if (subCode === 'ACQ.TRADE_HAS_SUCCESS') return { kind: 'created', tradeNo: outTradeNo, payUrl: undefined, expiresAt: undefined };
    return { kind: 'refused', code: subCode ?? result.code, status: 400 };
  }

  queryTrade(tradeNo: string): Promise<QueryTradeResult> {
    return this.queryByOutTradeNo(tradeNo);
  }

  async queryByOutTradeNo(outTradeNo: string): Promise<QueryTradeResult> {
    const outcome = await this.exec('alipay.trade.query', { out_trade_no: outTradeNo });
    if (outcome.kind !== 'answer') return withoutQuick(outcome);
    const result = outcome.result;
    const amount = minorOf(field(result, 'totalAmount'));
    const trade = (paymentState: PaymentResult): QueryTradeResult => ({
      kind: 'found',
      trade: { tradeNo: outTradeNo, outTradeNo, amount: amount ?? 0, result: paymentState, refunded: 0 } satisfies Trade,
    });
    if (result.code === '10000') {
      const status = field(result, 'tradeStatus');
      if (!status || amount === undefined) return { kind: 'unavailable', detail: 'query answered without trade_status or total_amount', status: 200 };
      return trade(paymentResult(status, amount));
    }
    if (isSystemError(result)) return busy(result);
    const subCode = field(result, 'subCode');
    if (subCode === 'ACQ.TRADE_NOT_EXIST') return { kind: 'not_found' };
    // A refused payment: the query answers with the payment's own sub_code.
    const reason = declineReason(subCode);
    if (reason) return trade({ kind: 'declined', reason });
    return { kind: 'unavailable', detail: describe(result), status: 200 };
  }

  async closeTrade(tradeNo: string): Promise<CloseTradeResult> {
    const outcome = await this.exec('alipay.trade.close', { out_trade_no: tradeNo });
    if (outcome.kind !== 'answer') return withoutQuick(outcome);
    const result = outcome.result;
    if (result.code === '10000') return { kind: 'closed' };
    if (isSystemError(result)) return busy(result);
    switch (field(result, 'subCode')) {
      case 'ACQ.TRADE_NOT_EXIST':
        return { kind: 'not_found' };
      case 'ACQ.TRADE_HAS_CLOSE':
        return { kind: 'closed' };
      case 'ACQ.TRADE_HAS_SUCCESS':
        return { kind: 'has_success' };
      case 'ACQ.TRADE_STATUS_ERROR':
        // Only an unpaid trade can be closed: ask what it is instead.
        return this.closedOrPaid(tradeNo);
      default:
        return { kind: 'refused', code: field(result, 'subCode') ?? result.code };
    }
  }

  private async closedOrPaid(tradeNo: string): Promise<CloseTradeResult> {
    const found = await this.queryByOutTradeNo(tradeNo);
    if (found.kind === 'unavailable') return found;
    if (found.kind === 'not_found') return { kind: 'not_found' };
    const state = found.trade.result.kind;
    if (state === 'paid') return { kind: 'has_success' };
    if (state === 'closed' || state === 'declined') return { kind: 'closed' };
    return { kind: 'refused', code: 'ACQ.TRADE_STATUS_ERROR' };
  }

  async refund(tradeNo: string, refundNo: string, amount: number): Promise<RefundResult> {
    const outcome = await this.exec('alipay.trade.refund', { out_trade_no: tradeNo, refund_amount: yuanOf(amount), out_request_no: refundNo });
    if (outcome.kind !== 'answer') return withoutQuick(outcome);
    const result = outcome.result;
    // fund_change N: this out_request_no was refunded before, which is done all the same.
    if (result.code === '10000') return { kind: 'refunded' };
    if (isSystemError(result)) return busy(result);
    const subCode = field(result, 'subCode');
    if (subCode === 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL') return { kind: 'exceeds_paid' };
    return { kind: 'refused', code: subCode ?? result.code };
  }
}

function withoutQuick(outcome: Unavailable & { quick: boolean }): Unavailable {
  return outcome.status === undefined ? { kind: 'unavailable', detail: outcome.detail } : { kind: 'unavailable', detail: outcome.detail, status: outcome.status };
}
