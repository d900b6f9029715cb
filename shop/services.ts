/**
 * Typed clients of the services the shop depends on (native wire protocol v1, DESIGN.md §4.1).
 * Each call makes one attempt and returns what happened as data; retry policy lives in the pipeline.
 * `unavailable` covers 5xx, 429, timeouts, broken connections and unparseable answers; its `status`
 * is the HTTP status when an answer came, and absent when the answer was lost (the call may or may
 * not have taken effect).
 */
import { callJson, field, numberField, stringField, type CallOptions, type CallResult, type ResponseHeaders } from './http-client.js';

/** Each call's deadline, and the shop's outgoing connections. */
export type ServiceOptions = CallOptions;

export type Unavailable = { kind: 'unavailable'; detail: string; status?: number; retryAfter?: ResponseHeaders };

function unavailable(result: CallResult): Unavailable {
  if (result.kind === 'error') return { kind: 'unavailable', detail: result.message };
  const code = stringField(result.body, 'code');
  const detail = `HTTP ${result.status}${code ? ` ${code}` : ''}`;
  return result.status === 429 || result.headers.has('retry-after')
    ? { kind: 'unavailable', detail, status: result.status, retryAfter: result.headers }
    : { kind: 'unavailable', detail, status: result.status };
}

/** True when no answer came at all: the call may have taken effect without the shop knowing. */
export function answerLost(result: Unavailable): boolean {
  return result.status === undefined;
}

function errorCode(result: CallResult & { kind: 'response' }): string {
  return stringField(result.body, 'code') ?? `HTTP_${result.status}`;
}

function isServerSide(result: CallResult): boolean {
  return result.kind === 'error' || result.status >= 500 || result.status === 429 || result.status === 408;
}

export interface Card {
  code: string;
  pin: string;
}

export interface TradeInfo {
  tradeNo: string;
  outTradeNo: string;
  status: string;
  amount: number;
  paidAt?: string;
  failCode?: string;
  /** What the buyer actually paid, when the provider reports it apart from `amount`. */
  paidAmount?: number;
  refunded: number;
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
  | { kind: 'refused'; code: string; status: number }
  | Unavailable;

export type QueryTradeResult = { kind: 'found'; trade: TradeInfo } | { kind: 'not_found' } | Unavailable;
export type CloseTradeResult = { kind: 'closed' } | { kind: 'has_success' } | { kind: 'not_found' } | { kind: 'refused'; code: string } | Unavailable;
export type RefundResult = { kind: 'refunded' } | { kind: 'exceeds_paid' } | { kind: 'refused'; code: string } | Unavailable;

function parseTrade(body: unknown): TradeInfo | undefined {
  const tradeNo = stringField(body, 'tradeNo');
  const status = stringField(body, 'status');
  const amount = numberField(body, 'amount');
  if (!tradeNo || !status || amount === undefined) return undefined;
  const trade: TradeInfo = {
    tradeNo,
    outTradeNo: stringField(body, 'outTradeNo') ?? '',
    status,
    amount,
    refunded: numberField(body, 'refunded') ?? 0,
  };
  const paidAt = stringField(body, 'paidAt');
  if (paidAt) trade.paidAt = paidAt;
  const failCode = stringField(body, 'failCode');
  if (failCode) trade.failCode = failCode;
  const paidAmount = numberField(body, 'paidAmount');
  if (paidAmount !== undefined) trade.paidAmount = paidAmount;
  return trade;
}

export class PaymentClient {
  constructor(private readonly baseUrl: string, private readonly options: ServiceOptions) {}

  async createTrade(request: CreateTradeRequest): Promise<CreateTradeResult> {
    const result = await callJson('POST', `${this.baseUrl}/v1/trades`, request, this.options);
    if (isServerSide(result) || result.kind === 'error') return unavailable(result);
    if (result.status === 200 || result.status === 201) {
      const tradeNo = stringField(result.body, 'tradeNo');
      if (!tradeNo) return { kind: 'unavailable', detail: 'trade created without a tradeNo' }; // treated as lost
      return { kind: 'created', tradeNo, payUrl: stringField(result.body, 'payUrl'), expiresAt: stringField(result.body, 'expiresAt') };
    }
    return { kind: 'refused', code: errorCode(result), status: result.status };
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

export type ReserveResult =
  | { kind: 'reserved'; reservationId: string; expiresAt: number | undefined }
  | { kind: 'sold_out'; restockAt: string | undefined }
  | { kind: 'refused'; code: string; status: number }
  | Unavailable;

export type FulfilResult =
  | { kind: 'fulfilled'; cards: Card[] }
  | { kind: 'sold_out'; restockAt: string | undefined }
  | { kind: 'expired' }
  | { kind: 'not_found' }
  | { kind: 'refused'; code: string }
  | Unavailable;

export type ReleaseResult = { kind: 'released' } | Unavailable;

function parseCards(body: unknown): Card[] | undefined {
  const cards = field(body, 'cards');
  if (!Array.isArray(cards)) return undefined;
  const result: Card[] = [];
  for (const card of cards) {
    const code = stringField(card, 'code');
    const pin = stringField(card, 'pin');
    if (!code || pin === undefined) return undefined;
    result.push({ code, pin });
  }
  return result;
}

export class StockClient {
  constructor(private readonly baseUrl: string, private readonly options: ServiceOptions) {}

  async reserve(request: { sku: string; quantity: number; orderId: string; ttlMs: number; buyerId?: string }): Promise<ReserveResult> {
    const result = await callJson('POST', `${this.baseUrl}/v1/reservations`, request, this.options);
    if (isServerSide(result) || result.kind === 'error') return unavailable(result);
    if (result.status === 200 || result.status === 201) {
      const reservationId = stringField(result.body, 'reservationId');
      if (!reservationId) return { kind: 'unavailable', detail: 'reservation without an id' };
      const expiresText = stringField(result.body, 'expiresAt');
      const expiresAt = expiresText ? Date.parse(expiresText) : Number.NaN;
      return { kind: 'reserved', reservationId, expiresAt: Number.isFinite(expiresAt) ? expiresAt : undefined };
    }
    const code = errorCode(result);
    if (code === 'SOLD_OUT') return { kind: 'sold_out', restockAt: stringField(result.body, 'restockAt') };
    return { kind: 'refused', code, status: result.status };
  }

  async release(reservationId: string): Promise<ReleaseResult> {
    const result = await callJson('DELETE', `${this.baseUrl}/v1/reservations/${encodeURIComponent(reservationId)}`, undefined, this.options);
    if (isServerSide(result) || result.kind === 'error') return unavailable(result);
    // 2xx, or 404/409 (already gone, expired or fulfilled): nothing left to release either way.
    return { kind: 'released' };
  }

  async fulfil(reservationId: string): Promise<FulfilResult> {
    const result = await callJson('POST', `${this.baseUrl}/v1/reservations/${encodeURIComponent(reservationId)}/fulfil`, undefined, this.options);
    if (isServerSide(result) || result.kind === 'error') return unavailable(result);
    if (result.status >= 200 && result.status < 300) {
      const cards = parseCards(result.body);
      return cards ? { kind: 'fulfilled', cards } : { kind: 'unavailable', detail: 'fulfil answered without cards' };
    }
    const code = errorCode(result);
    if (code === 'SOLD_OUT') return { kind: 'sold_out', restockAt: stringField(result.body, 'restockAt') };
    if (code === 'RESERVATION_EXPIRED') return { kind: 'expired' };
    if (result.status === 404) return { kind: 'not_found' };
    return { kind: 'refused', code };
  }

  /** The restock time the supplier announces for a SKU, if any. */
  async restockAt(sku: string): Promise<string | undefined> {
    return (await this.level(sku))?.restockAt;
  }

  /** `GET /v1/stock/{sku}`: what the supplier has left, or undefined when it did not say. */
  async level(sku: string): Promise<{ available: number; restockAt?: string } | undefined> {
    const result = await callJson('GET', `${this.baseUrl}/v1/stock/${encodeURIComponent(sku)}`, undefined, this.options);
    if (result.kind !== 'response' || result.status !== 200) return undefined;
    const level: { available: number; restockAt?: string } = { available: numberField(result.body, 'available') ?? 0 };
    const restockAt = stringField(result.body, 'restockAt');
    if (restockAt) level.restockAt = restockAt;
    return level;
  }
}

export const MESSAGE_KINDS = [
  'payment_received',
  'delivered',
  'delayed',
  'verification_required',
  'under_review',
  'review_approved',
  'review_rejected',
  'payment_failed',
  'out_of_stock',
  'cancelled',
  'expired',
  'refunded',
] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

export interface OutgoingMessage {
  to: string;
  orderId: string;
  channel: 'sms' | 'email' | 'inbox';
  kind: MessageKind;
  reason?: string;
  text: string;
  messageKey: string;
}

export type SendResult = { kind: 'accepted' } | { kind: 'rejected'; detail: string } | Unavailable;

export class NotifyClient {
  constructor(private readonly baseUrl: string, private readonly options: ServiceOptions) {}

  async send(message: OutgoingMessage): Promise<SendResult> {
    const result = await callJson('POST', `${this.baseUrl}/v1/messages`, message, this.options);
    if (isServerSide(result) || result.kind === 'error') return unavailable(result);
    if (result.status >= 200 && result.status < 300) return { kind: 'accepted' };
    return { kind: 'rejected', detail: `HTTP ${result.status} ${errorCode(result)}` };
  }
}

export type RiskDecision = 'approve' | 'review' | 'reject';

export interface AssessRequest {
  orderId: string;
  buyer: unknown;
  amount: number;
  sku: string;
  recipient: { kind: string; account: string };
}

export type AssessResult =
  | { kind: 'assessed'; assessmentId: string; decision: RiskDecision; reasons: string[] }
  | { kind: 'refused'; code: string; status: number }
  | Unavailable;

export type AssessmentStatus = 'pending' | 'approved' | 'rejected';
export type AssessmentResult = { kind: 'found'; status: AssessmentStatus } | { kind: 'not_found' } | Unavailable;

const DECISIONS: ReadonlySet<string> = new Set<RiskDecision>(['approve', 'review', 'reject']);
const ASSESSMENT_STATUSES: ReadonlySet<string> = new Set<AssessmentStatus>(['pending', 'approved', 'rejected']);

/** Risk screening (`ORDEAL_RISK_URL`): assess an order before payment, then poll a review. */
export class RiskClient {
  constructor(private readonly baseUrl: string, private readonly options: ServiceOptions) {}

  async assess(request: AssessRequest): Promise<AssessResult> {
    const result = await callJson('POST', `${this.baseUrl}/v1/assessments`, request, this.options);
    if (isServerSide(result) || result.kind === 'error') return unavailable(result);
    if (result.status === 200 || result.status === 201) {
      const assessmentId = stringField(result.body, 'assessmentId');
      const decision = stringField(result.body, 'decision');
      if (!assessmentId || !decision || !DECISIONS.has(decision)) return { kind: 'unavailable', detail: 'unparseable assessment' };
      const reasons = field(result.body, 'reasons');
      return {
        kind: 'assessed',
        assessmentId,
        decision: decision as RiskDecision,
        reasons: Array.isArray(reasons) ? reasons.filter((reason): reason is string => typeof reason === 'string') : [],
      };
    }
    return { kind: 'refused', code: errorCode(result), status: result.status };
  }

  async status(assessmentId: string): Promise<AssessmentResult> {
    const result = await callJson('GET', `${this.baseUrl}/v1/assessments/${encodeURIComponent(assessmentId)}`, undefined, this.options);
    if (isServerSide(result) || result.kind === 'error') return unavailable(result);
    if (result.status === 404) return { kind: 'not_found' };
    const status = stringField(result.body, 'status');
    if (result.status === 200 && status && ASSESSMENT_STATUSES.has(status)) return { kind: 'found', status: status as AssessmentStatus };
    return { kind: 'unavailable', detail: `HTTP ${result.status} ${errorCode(result)}`, status: result.status };
  }
}
