/**
 * Stripe's errors: `{ error: { type, code?, decline_code?, message, param?, … } }` with the HTTP
 * status stripe-node maps to its error classes. stripe-node 23 goes by status (402 card, 400/404
 * invalid request — or idempotency with `type: idempotency_error` —, 401 authentication, 403
 * permission, 429 rate limit, anything else API); stripe-node 13 by `type` (after 401/403/429).
 * Each core refusal is rendered so that both raise the same class.
 */
import type { MockReply } from '../../mock-types.js';
import { isPayFailCode, type PaymentOperation, type PaymentRefusal } from '../answers.js';
import { cardErrorObject, CROSS_BORDER_DECLINE, DECLINES, type Decline, type StripeObject } from './stripe-objects.js';

export function stripeError(status: number, error: StripeObject, headers?: Record<string, string>): MockReply {
  return { status, body: { error }, ...(headers ? { headers } : {}) };
}

/** 400 `invalid_request_error`. */
export function invalidRequest(message: string, param?: string, code?: string): MockReply {
  return stripeError(400, { type: 'invalid_request_error', ...(code === undefined ? {} : { code }), message, ...(param === undefined ? {} : { param }) });
}

export function missingParam(param: string): MockReply {
  return invalidRequest(`Missing required param: ${param}.`, param, 'parameter_missing');
}

/** `resource_missing`: 404 for the object a path names, 400 for one a parameter names. */
export function resourceMissing(kind: string, id: string, param: string, status: 404 | 400 = 404): MockReply {
  return stripeError(status, {
    type: 'invalid_request_error',
    code: 'resource_missing',
    doc_url: 'https://stripe.com/docs/error-codes/resource-missing',
    message: `No such ${kind}: '${id}'`,
    param,
  });
}

/** 400 `payment_intent_unexpected_state`, with the intent as it stands when known. */
export function unexpectedState(message: string, intent?: StripeObject): MockReply {
  return stripeError(400, {
    type: 'invalid_request_error',
    code: 'payment_intent_unexpected_state',
    doc_url: 'https://stripe.com/docs/error-codes/payment-intent-unexpected-state',
    message,
    ...(intent ? { payment_intent: intent } : {}),
  });
}

/** 402 `card_error` / `card_declined` with its decline code. */
export function cardDeclined(decline: Decline, extra: StripeObject = {}): MockReply {
  return stripeError(402, cardErrorObject(decline, extra));
}

/** What a handler knows that a core refusal does not: the id asked about, the intent now, a test card's decline. */
export interface RefusalDetail {
  /** The `pi_…` the request named. */
  id?: string;
  intent?: StripeObject;
  decline?: Decline;
  param?: string;
  /** REFUND_EXCEEDS_PAID: nothing left to refund at all (`charge_already_refunded`), else `amount_too_large`. */
  fullyRefunded?: boolean;
}

const UNEXPECTED_STATE_MESSAGES: Partial<Record<string, (operation: PaymentOperation, id: string) => string>> = {
  TRADE_CLOSED: (operation) =>
    operation === 'verification'
      ? 'This PaymentIntent was canceled before the authentication was completed.'
      : 'You cannot confirm this PaymentIntent because it has a status of canceled. Only a PaymentIntent with one of the following statuses may be confirmed: requires_payment_method, requires_confirmation, requires_action.',
  TRADE_VERIFYING: () => 'You cannot confirm this PaymentIntent because it has a status of requires_action: the customer has not completed the authentication yet.',
  TRADE_HAS_SUCCESS: () =>
    'You cannot cancel this PaymentIntent because it has a status of succeeded. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing.',
  TRADE_NOT_PAID: (_operation, id) => `This PaymentIntent (${id}) does not have a successful charge to refund.`,
};

/** A core refusal in Stripe's words. */
export function refusalReply(operation: PaymentOperation, refusal: PaymentRefusal, detail: RefusalDetail = {}): MockReply {
  const { code, message } = refusal;
  const id = detail.id ?? '';
  if (isPayFailCode(code)) {
    return cardDeclined(detail.decline ?? DECLINES[code], detail.intent ? { payment_intent: detail.intent, charge: (detail.intent.latest_charge as string | null) ?? null } : {});
  }
  const unexpected = UNEXPECTED_STATE_MESSAGES[code];
  if (unexpected) return unexpectedState(unexpected(operation, id), detail.intent);
  switch (code) {
    case 'INVALID_REQUEST':
      return invalidRequest(message, detail.param);
    case 'INVALID_SIGNATURE':
      return stripeError(401, { type: 'invalid_request_error', message });
    case 'TRADE_NOT_EXIST':
      return operation === 'refund' ? resourceMissing('payment_intent', id, 'payment_intent', 400) : resourceMissing('payment_intent', id, 'intent');
    case 'VERIFICATION_NOT_EXIST':
      return resourceMissing('three_d_secure', id, 'id');
    case 'DUPLICATE_OUT_TRADE_NO':
      return invalidRequest(
        `${message}: Ordeal keeps one PaymentIntent per order (metadata[order_id]); update that one or use a new order id`,
        'metadata[order_id]',
        'resource_already_exists',
      );
    case 'CROSS_BORDER_BLOCKED':
      return cardDeclined(CROSS_BORDER_DECLINE);
    case 'SYSTEM_ERROR':
      // Nothing happened and nothing was saved under the idempotency key, so a retry is safe and
      // says so (Stripe sends `false` where it saved the 500; stripe-node retries 5xx either way).
      return stripeError(refusal.httpStatus >= 500 ? refusal.httpStatus : 500, { type: 'api_error', message: 'An unknown error occurred' }, { 'stripe-should-retry': 'true' });
    case 'RATE_LIMITED':
      return stripeError(
        429,
        { type: 'invalid_request_error', code: 'rate_limit', doc_url: 'https://stripe.com/docs/error-codes/rate-limit', message: 'Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.' },
        refusal.retryAfterS === undefined ? undefined : { 'retry-after': String(refusal.retryAfterS) },
      );
    case 'REFUND_EXCEEDS_PAID':
      return detail.fullyRefunded
        ? invalidRequest(`Charge ${id.replace(/^pi_/, 'ch_')} has already been refunded.`, undefined, 'charge_already_refunded')
        : invalidRequest(`Refund amount is greater than unrefunded amount on charge: ${message}`, 'amount', 'amount_too_large');
    default:
      return stripeError(400, { type: 'invalid_request_error', message });
  }
}

/** Whether an answer may be saved under its idempotency key: the request executed (see stripe-idempotency.ts). */
export function executed(refusal: PaymentRefusal | undefined): boolean {
  return refusal === undefined || !['INVALID_REQUEST', 'INVALID_SIGNATURE', 'SYSTEM_ERROR', 'RATE_LIMITED'].includes(refusal.code);
}
