/**
 * What the provider core answers, protocol-neutral: a value, a refusal, or an answer the channel
 * loses. A personality renders each in its own wire format; the journal records the neutral form,
 * so scoring is the same whatever protocol the shop speaks.
 */
import type { TradeStatus } from '../../core/journal.js';
import type { PaymentRoute } from '../../core/scenario-schema.js';

/** The core's operations: the payment routes a fault can target, plus completing a verification. */
/** Why the cashier refused a payment (the trade ends PAY_FAILED). */
export type PayFailCode = 'LIMIT_SINGLE' | 'LIMIT_DAILY' | 'DECLINED';

export type PaymentOperation = PaymentRoute | 'verification';

/** Every reason the core refuses an operation. */
export type RefusalCode =
  /** A request the personality could not parse (or the core's own checks refused). */
  | 'INVALID_REQUEST'
  /** A merchant request whose signature or key did not verify (personalities that sign requests). */
  | 'INVALID_SIGNATURE'
  | 'TRADE_NOT_EXIST'
  | 'VERIFICATION_NOT_EXIST'
  /** The same outTradeNo again with another amount. */
  | 'DUPLICATE_OUT_TRADE_NO'
  | 'CROSS_BORDER_BLOCKED'
  /** `payment.error`, `payment.query.error`, `payment.refund.error`. */
  | 'SYSTEM_ERROR'
  /** `payment.error` with status 429. */
  | 'RATE_LIMITED'
  | 'TRADE_CLOSED'
  | 'TRADE_VERIFYING'
  /** Closing a paid trade: treat the order as paid. */
  | 'TRADE_HAS_SUCCESS'
  | 'TRADE_NOT_PAID'
  | 'REFUND_EXCEEDS_PAID'
  /** The cashier refused the payment; the trade is PAY_FAILED. */
  | PayFailCode;

export interface PaymentRefusal {
  code: RefusalCode;
  /**
   * The refusal's nominal HTTP status (the native protocol's). The journal records this one, so
   * it stays the same under every personality; a personality answers with its own.
   */
  httpStatus: number;
  /** For people: what went wrong and what to do. */
  message: string;
  /** RATE_LIMITED: seconds the client should wait before retrying. */
  retryAfterS?: number;
}

/** The cashier's refusals with the buyer-facing message. */
export const PAY_FAIL_MESSAGES: Readonly<Record<PayFailCode, string>> = {
  LIMIT_SINGLE: 'the amount exceeds the single-payment limit',
  LIMIT_DAILY: 'the amount exceeds the daily quick-pay limit',
  DECLINED: 'the payment was declined (insufficient funds)',
};

export function isPayFailCode(code: RefusalCode): code is PayFailCode {
  return code in PAY_FAIL_MESSAGES;
}

export function refusal(code: RefusalCode, httpStatus: number, message: string): PaymentRefusal {
  return { code, httpStatus, message };
}

/**
 * One operation's outcome. `delayMs` is injected latency (`payment.latency`) to wait before the
 * answer. `lost: 'reset'` (`payment.ambiguous`): the operation took effect but the connection
 * breaks before the answer arrives. `hang` (`payment.timeout`): nothing happened and nothing ever
 * answers.
 */
export type CoreAnswer<T> =
  | { kind: 'ok'; value: T; delayMs: number; lost?: 'reset' }
  | { kind: 'refused'; refusal: PaymentRefusal; delayMs: number }
  | { kind: 'hang' };

export function okAnswer<T>(value: T, delayMs: number): CoreAnswer<T> {
  return { kind: 'ok', value, delayMs };
}

export function refusedAnswer<T>(reason: PaymentRefusal, delayMs: number): CoreAnswer<T> {
  return { kind: 'refused', refusal: reason, delayMs };
}

/** A trade as the core reports it (query, create). Times are ISO 8601. */
export interface TradeView {
  tradeNo: string;
  outTradeNo: string;
  status: TradeStatus;
  amount: number;
  currency: string;
  paidAt?: string;
  failCode?: PayFailCode;
  /** Running total refunded. */
  refunded: number;
}

/** What a merchant asks for when it creates a trade (parsed and verified by the personality). */
export interface CreateTradeInput {
  outTradeNo: string;
  /** Minor units. */
  amount: number;
  currency: string;
  subject: string;
  /** Where callbacks go; the core only accepts loopback URLs. */
  notifyUrl: string;
  method: string;
  payer?: { id: string; region?: string };
  expiresInMs?: number;
  /** Which of the run's payment channels (its protocol) the shop created the trade at; absent: the primary. */
  channel?: string;
}

export interface CreatedTrade {
  trade: TradeView;
  /** When an unpaid trade closes itself (ISO 8601). */
  expiresAt: string;
  /** The same outTradeNo and amount again: the existing trade. */
  repeat: boolean;
}

/** The cashier's outcome when the buyer pays (a refusal is a PAY_FAILED trade). */
export type PayResult = { status: 'TRADE_SUCCESS' } | { status: 'VERIFYING'; verificationId: string };

export interface RefundResult {
  refundNo: string;
  amount: number;
  /** A refund number already done: no new money moved. */
  repeat: boolean;
}
