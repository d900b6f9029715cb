/** Stripe's words for each payment fault, known without loading the personality. */
import type { FaultForm, PaymentFaultId } from '../personality.js';

/** Each payment fault as a shop using stripe-node meets it. */
export const STRIPE_FAULT_FORMS: Readonly<Record<PaymentFaultId, FaultForm>> = {
  'payment.latency': { shopSees: 'answers after the injected delay (stripe-node waits up to its `timeout`); a retry with the same `Idempotency-Key` meanwhile gets 409 `idempotency_error`' },
  'payment.error': {
    shopSees:
      '500 `api_error` (or the 5xx the fault names: `StripeAPIError`), which stripe-node itself retries with the same `Idempotency-Key` when `maxNetworkRetries` allows; or 429 `rate_limit` (`StripeRateLimitError`) with `Retry-After`',
  },
  'payment.timeout': { shopSees: "no answer: the connection stays open until stripe-node's `timeout` (`StripeConnectionError`)" },
  'payment.ambiguous': {
    shopSees: 'the PaymentIntent is created, then the connection is reset before the 200; stripe-node retries a reset once with the same `Idempotency-Key`, which replays the saved answer (`Idempotent-Replayed: true`)',
  },
  'payment.limit.single': {
    shopSees: 'the buyer\'s confirm is declined 402 `card_declined` / `decline_code: card_velocity_exceeded`; a `payment_intent.payment_failed` event and a retrieve with that `last_payment_error`',
  },
  'payment.limit.daily': {
    shopSees: 'the buyer\'s confirm is declined 402 `card_declined` / `decline_code: withdrawal_count_limit_exceeded`; a `payment_intent.payment_failed` event and a retrieve with that `last_payment_error`',
  },
  'payment.cross_border': {
    shopSees: 'create answers 402 `card_declined` / `decline_code: transaction_not_allowed` (`StripeCardError`) for a buyer whose `metadata[buyer_region]` is outside the channel\'s home; a shop that sends no region never meets it',
  },
  'payment.verification': {
    shopSees: 'the confirm answers `status: requires_action` with `next_action.redirect_to_url` (3-D Secure); retrieve shows `requires_action` until the buyer completes it, or the intent is canceled',
  },
  'payment.decline': { shopSees: 'the buyer\'s confirm is declined 402 `card_declined` / `insufficient_funds`; a `payment_intent.payment_failed` event; the intent shows `requires_payment_method` with `last_payment_error`' },
  'payment.callback.drop': { shopSees: 'the `payment_intent.succeeded` event never comes; retrieve shows `succeeded`' },
  'payment.callback.delay': { shopSees: 'the event comes late' },
  'payment.callback.duplicate': { shopSees: 'the same event (the same `evt_…` id) delivered twice or more' },
  'payment.callback.reorder': { shopSees: '`payment_intent.succeeded` before the older `payment_intent.payment_failed` of the same intent' },
  'payment.callback.late': { shopSees: '`payment_intent.succeeded` (and a retrieve showing `succeeded`) after the shop canceled the intent' },
  'payment.callback.forged': { shopSees: 'a `payment_intent.succeeded` event signed with another `whsec_…` secret: `constructEvent` throws `StripeSignatureVerificationError`' },
  'payment.callback.replayed': {
    shopSees: 'a genuinely signed `payment_intent.succeeded` for an unpaid intent whose `Stripe-Signature` `t=` is an hour old: `constructEvent` throws "Timestamp outside the tolerance zone"',
  },
  'payment.callback.altered': { shopSees: 'a `payment_intent.succeeded` event whose `amount` fields are the intent\'s but whose `Stripe-Signature` was made over a body with another amount: `constructEvent` throws `StripeSignatureVerificationError`' },
  'payment.callback.tampered': { shopSees: 'a genuinely signed `payment_intent.succeeded` whose `amount` and `amount_received` are not what the shop created the intent for' },
  'payment.callback.underpaid': { shopSees: 'a genuinely signed `payment_intent.succeeded` whose `amount_received` is below the order\'s amount' },
  'payment.query.error': { shopSees: 'retrieve and search answer 500 `api_error`' },
  'payment.refund.error': { shopSees: 'refund create answers 500 `api_error`' },
};
