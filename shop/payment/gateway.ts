/**
 * What the shop's stages know of a payment provider, whatever its protocol: a `PaymentGateway`
 * (create, query, close, refund) and its `NotifyEndpoint` (read a provider's notify, answer it the
 * protocol's way). One module per protocol implements both (`./native.ts`, `./epay.ts`, …) and is
 * the only place that protocol's vocabulary — trade statuses, error codes, money formats,
 * signatures — is spelled; the stages only ever see the types below.
 *
 * Money is in minor units here (fen, cents) whatever the wire carries. Each call makes one attempt
 * and returns what happened as data; retries are the stages' business.
 */
import type { OrderReason } from '../db.js';
import type { Unavailable } from '../services.js';

/** Why the provider would not take the buyer's money, as the order will say. */
export type DeclineReason = Extract<OrderReason, 'payment_limit' | 'payment_declined' | 'cross_border_blocked' | 'verification_timeout'>;

/** Where a trade's payment stands, in the shop's terms. */
export type PaymentResult =
  /** Nothing paid yet; the buyer may still pay. */
  | { kind: 'unpaid' }
  /** The buyer is in the middle of an extra verification step. */
  | { kind: 'verifying' }
  /** Paid; `captured` is the money actually taken, which a tampered or short payment makes differ from the order's amount. */
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

/** A payment notify's content, its signature already checked (or not, by a flawed shop). */
export interface PaymentCallback {
  tradeNo: string;
  /** The shop's order id. */
  outTradeNo: string;
  result: PaymentResult;
}

export interface CreateTradeRequest {
  outTradeNo: string;
  /** Minor units. */
  amount: number;
  currency: string;
  subject: string;
  /** Where the provider sends notifies (the shop's notify route). */
  notifyUrl: string;
  /** The buyer's payment method as the order names it (`alipay`, `wechat`, `card`, …). */
  method: string;
  payer: { id: string; region?: string; ip?: string };
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

/** A notify as the shop's route received it. */
export interface NotifyRequest {
  method: 'GET' | 'POST';
  /** Query parameters (epay notifies by GET). */
  query: Readonly<Record<string, string>>;
  /** Lower-case names. */
  headers: Readonly<Record<string, string | undefined>>;
  /** The body exactly as received: signatures are over these bytes. */
  rawBody: string;
}

/** What the shop answers a notify. */
export interface NotifyAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** Which of the protocol's checks the shop runs on a notify (a flawed shop skips some). */
export interface NotifyChecks {
  /** Verify the signature (or decrypt with the right key). */
  signature: boolean;
  /**
   * Refuse a notify whose signed timestamp is too old (protocols that sign one); where nothing
   * signed says when (epay), refuse a verified notify the provider's query does not confirm.
   */
  freshness: boolean;
}

/** Why a notify was not taken: its signature, its shape. */
export type NotifyRejection = { kind: 'bad_signature'; detail: string } | { kind: 'malformed'; detail: string };

export type NotifyReading = { kind: 'callback'; callback: PaymentCallback } | NotifyRejection;

/** The shop's side of a protocol's notifies. */
export interface NotifyEndpoint {
  /** The HTTP methods the provider notifies with. */
  readonly methods: readonly ('GET' | 'POST')[];
  /** The order a notify is about, read before anything is checked (or undefined). */
  orderIdOf(request: NotifyRequest): string | undefined;
  /**
   * The notify's content, its checks run. A protocol whose signature carries no time (epay) checks
   * freshness by asking the provider, so the reading may take a call.
   */
  read(request: NotifyRequest, checks: NotifyChecks): NotifyReading | Promise<NotifyReading>;
  /** The answer that tells the provider the notify was taken (it stops retrying). */
  acknowledge(): NotifyAnswer;
  /** An answer that tells the provider it was not (it retries). */
  refuse(status: number, code: string, message: string): NotifyAnswer;
}

export interface PaymentGateway {
  /** The protocol's name, as `ORDEAL_PAYMENT_PROTOCOL` spells it. */
  readonly protocol: string;
  /** The cashier link of a trade, for a provider whose create answer gave none. */
  payUrl(tradeNo: string): string;
  createTrade(request: CreateTradeRequest): Promise<CreateTradeResult>;
  queryTrade(tradeNo: string): Promise<QueryTradeResult>;
  queryByOutTradeNo(outTradeNo: string): Promise<QueryTradeResult>;
  closeTrade(tradeNo: string): Promise<CloseTradeResult>;
  refund(tradeNo: string, refundNo: string, amount: number): Promise<RefundResult>;
  readonly notify: NotifyEndpoint;
}

/** The shop's gateways, by the payment method a buyer chose (one gateway per configured protocol). */
export interface PaymentRouter {
  forMethod(method: string): PaymentGateway;
}

/** A notify answer in JSON; an empty body when `body` is undefined (WeChat's 204). */
export function jsonAnswer(status: number, body: unknown): NotifyAnswer {
  return { status, contentType: 'application/json; charset=utf-8', body: body === undefined ? '' : JSON.stringify(body) };
}

/** A notify answer in plain text (epay's and Alipay's `success`). */
export function textAnswer(status: number, text: string): NotifyAnswer {
  return { status, contentType: 'text/plain; charset=utf-8', body: text };
}

/** A notify body as JSON, or undefined when it is empty or not JSON. */
export function parseNotifyJson(raw: string): unknown {
  try {
    return raw.trim() === '' ? undefined : (JSON.parse(raw) as unknown);
  } catch {
    return undefined;
  }
}

/** Minor units as the decimal yuan string epay and Alipay carry (`1234` → `"12.34"`). */
export function yuanOf(minor: number): string {
  return (minor / 100).toFixed(2);
}

/** A decimal yuan string as minor units, or undefined when it is not one (`"12.3"` → 1230). */
export function minorOf(yuan: string | undefined): number | undefined {
  if (yuan === undefined || !/^\d{1,12}(\.\d{1,2})?$/.test(yuan.trim())) return undefined;
  const [whole, fraction = ''] = yuan.trim().split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
}
