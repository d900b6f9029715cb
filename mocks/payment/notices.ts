/**
 * Payment notices as the core, the dispatcher and every personality see them: what the core
 * notifies, where it goes, how it is signed, and what a personality must do to put one on the
 * wire. Types only, so the core, the dispatcher and the personalities share them without
 * importing each other.
 */
import type { ForgeryKind } from '../../core/faults/callbacks.js';

export type CallbackStatus = 'TRADE_SUCCESS' | 'PAY_FAILED';

/** What the core notifies, before the dispatcher numbers it. */
export interface CallbackNotice {
  tradeNo: string;
  outTradeNo: string;
  status: CallbackStatus;
  /** Minor units: what the buyer paid (after `payment.callback.tampered`, not what was ordered). */
  amount: number;
  /** TRADE_SUCCESS: when the money moved (ISO 8601). */
  paidAt?: string;
  /** PAY_FAILED: why. */
  failCode?: string;
  /** The trade's terms, for protocols whose notices repeat them. */
  currency: string;
  subject: string;
  method: string;
}

/** A notice as the personality renders it: `notifyId` is stable across retries and duplicate copies. */
export interface PaymentNotice extends CallbackNotice {
  notifyId: string;
}

/** A notice that is not genuine, as the fault plan schedules it. */
export type CallbackForgeryKind = ForgeryKind;
/** Every kind of non-genuine notice, as `payment.callback.sent` names it. */
export type CallbackForgery = CallbackForgeryKind | 'stale';

/**
 * A notice the provider never issued for real, sent by `payment.callback.forged` (signed with a
 * wrong key), `payment.callback.replayed` (genuinely signed, `ageMs` ago) or
 * `payment.callback.altered` (genuinely signed for `signedAmount`, sent for the order's). Callback faults
 * (drop, delay, duplicate, reorder) do not apply to it.
 */
export interface CallbackForgeryOptions {
  kind: CallbackForgeryKind;
  /** Index of the fault in the scenario, for the `fault.injected` journaled when it is first sent. */
  faultIndex: number;
  /** replayed: how old the signature's timestamp is, ms. @default 3_600_000 */
  ageMs?: number;
  /** altered: the amount the notice was signed for, minor units. @default 1 */
  signedAmount?: number;
  /** Extra fields for the `fault.injected` detail. */
  detail?: Record<string, string | number | boolean>;
}

export interface CallbackTarget {
  /** The shop's callback URL (validated as loopback by the core). */
  notifyUrl: string;
  /** The payment channel (protocol) whose personality renders the notice; absent: the primary. */
  channel?: string;
  /** Fault decisions' subject: the payer's buyer id, else the correlation's subject. */
  subject: string;
  /** For `fault.injected` events. */
  buyerId?: string;
  /** Set when the notice is a forgery rather than the provider's own word. */
  forgery?: CallbackForgeryOptions;
}

/**
 * How a callback is signed: the provider's own word, or one of the fault plan's forgeries —
 * `forged` is signed with a key that is not the merchant's (or the platform's), `replayed` is
 * genuinely signed `ageS` seconds ago, `altered` is genuinely signed for `signedAmount` and
 * sent with the notice's own amount (as if changed on the way). A protocol whose signature carries
 * no time renders a replay as the same notice sent again later; one whose notices are encrypted
 * (WeChat) encrypts a forgery with the wrong key too, and an altered one with the amount changed
 * in the ciphertext under the genuine tag.
 */
export type NoticeSigning = { kind: 'genuine' } | { kind: 'forged' } | { kind: 'replayed'; ageS: number } | { kind: 'altered'; signedAmount: number };

/** A callback as it goes on the wire. */
export interface CallbackRequest {
  method: 'GET' | 'POST';
  /** The notify URL, with the notice in its query for protocols that notify by GET. */
  url: string;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body?: string;
}

/** Which of the shop's answers to a callback acknowledges it; anything else is retried. */
export interface CallbackAck {
  /** Whether `acknowledged` needs the answer's body (it is read and dropped otherwise). */
  readonly readBody: boolean;
  /** `body` is '' unless `readBody` is set. */
  acknowledged(status: number, body: string): boolean;
}

/** What the dispatcher needs of a personality: rendering and signing a notice, and recognising its acknowledgement. */
export interface CallbackProtocol {
  /**
   * A notice as the request sent to `notifyUrl`, signed as `signing` says at unix time `nowS`; or
   * undefined when the protocol sends no notify for such a notice (epay notifies successes only),
   * and nothing goes out.
   */
  renderCallback(notifyUrl: string, notice: PaymentNotice, signing: NoticeSigning, nowS: number): CallbackRequest | undefined;
  readonly callbackAck: CallbackAck;
}
