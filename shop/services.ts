/**
 * Typed clients of the stock supplier, the notify gateway and risk screening (native wire protocol
 * v1; the payment provider's client is `payment/`). Each call makes one attempt and
 * returns what happened as data; retry policy lives in the stages.
 * `unavailable` covers 5xx, 429, timeouts, broken connections and unparseable answers; its `status`
 * is the HTTP status when an answer came, and absent when the answer was lost (the call may or may
 * not have taken effect).
 */
import { callJson, field, numberField, stringField, type CallOptions, type CallResult, type ResponseHeaders } from './http-client.js';

/** Each call's deadline, and the shop's outgoing connections. */
export type ServiceOptions = CallOptions;

export type Unavailable = { kind: 'unavailable'; detail: string; status?: number; retryAfter?: ResponseHeaders };

export function unavailable(result: CallResult): Unavailable {
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

export function errorCode(result: CallResult & { kind: 'response' }): string {
  return stringField(result.body, 'code') ?? `HTTP_${result.status}`;
}

export function isServerSide(result: CallResult): boolean {
  return result.kind === 'error' || result.status >= 500 || result.status === 429 || result.status === 408;
}

export interface Card {
  code: string;
  pin: string;
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
