/**
 * Stripe's "cashier": the buyer's browser on the shop's checkout page, where Stripe.js confirms
 * the PaymentIntent with the publishable key and the intent's client secret
 * (`POST /v1/payment_intents/:id/confirm`, `payment_method=pm_card_visa`), and — when the card asks
 * for 3-D Secure — follows `next_action.redirect_to_url` to the authentication page and completes it.
 *
 * Contract v1 shows the buyer the intent id (`payment.tradeNo`), not its client secret, so this
 * cashier — standing in for the shop's page, which has it — derives the secret the personality
 * hands out. The buyer's id travels as the receipt e-mail `<buyer id>@buyers.ordeal.invalid`.
 * The harness sends JSON bodies; the personality reads them like Stripe.js's form bodies.
 * Answers are read back into the core's words so the journal stays protocol-neutral.
 */
import { asObject, nonEmptyString } from '../../mock-types.js';
import type { StripeCredentials } from '../credentials.js';
import type { CashierAnswer, CashierRequest, PaymentCashier } from '../personality.js';
import { BUYER_EMAIL_DOMAIN } from './stripe-intents.js';
import { clientSecretOf, neutralCodeOf, tradeNoOfId } from './stripe-objects.js';

/** The test payment method every buyer pays with; faults decide what happens to it. */
export const BUYER_PAYMENT_METHOD = 'pm_card_visa';

/** An intent id in what the shop showed: the trade number, else a `pi_…` inside the link. */
function intentIdIn(tradeNo: string, payUrl: string | undefined): string {
  if (tradeNo !== '') return tradeNo;
  return /\bpi_[A-Za-z0-9]+/.exec(payUrl ?? '')?.[0] ?? '';
}

/** The verification id in a `next_action.redirect_to_url.url` (`…/three_d_secure/<id>?…`). */
function verificationIdIn(intent: Record<string, unknown>): string | undefined {
  const url = asObject(asObject(intent.next_action)?.redirect_to_url)?.url;
  if (typeof url !== 'string') return undefined;
  const match = /\/three_d_secure\/([^/?#]+)/.exec(url);
  return match ? decodeURIComponent(match[1] as string) : undefined;
}

/** An `error` object's code in the core's words. */
function neutralErrorCode(error: Record<string, unknown>): string | undefined {
  const code = error.code;
  if (error.type === 'card_error') return neutralCodeOf(typeof error.decline_code === 'string' ? error.decline_code : 'generic_decline');
  if (error.type === 'api_error') return 'SYSTEM_ERROR';
  switch (code) {
    case 'rate_limit':
      return 'RATE_LIMITED';
    case 'resource_missing':
      return error.param === 'id' ? 'VERIFICATION_NOT_EXIST' : 'TRADE_NOT_EXIST';
    case 'payment_intent_unexpected_state': {
      const status = asObject(error.payment_intent)?.status;
      return status === 'requires_action' ? 'TRADE_VERIFYING' : status === 'succeeded' ? 'TRADE_SUCCESS' : 'TRADE_CLOSED';
    }
    default:
      return typeof code === 'string' ? code : undefined;
  }
}

function tradeNoOf(intent: Record<string, unknown> | undefined): string | undefined {
  const tradeNo = tradeNoOfId(typeof intent?.id === 'string' ? intent.id : undefined, 'pi_');
  return tradeNo === '' ? undefined : tradeNo;
}

function readIntentAnswer(body: unknown): CashierAnswer {
  const answer = asObject(body);
  const error = asObject(answer?.error);
  if (error) {
    const code = neutralErrorCode(error);
    const tradeNo = tradeNoOf(asObject(error.payment_intent));
    // A second confirm of a paid intent: paid, as the first one said.
    const outcome = error.type === 'card_error' ? 'refused' : code === 'TRADE_SUCCESS' ? 'paid' : 'unknown';
    return { outcome, ...(code && outcome !== 'paid' ? { code } : {}), ...(tradeNo ? { tradeNo } : {}) };
  }
  if (answer?.object !== 'payment_intent') return { outcome: 'unknown' };
  const tradeNo = tradeNoOf(answer);
  const withTrade = tradeNo ? { tradeNo } : {};
  switch (answer.status) {
    case 'succeeded':
    case 'requires_capture':
      return { outcome: 'paid', ...withTrade };
    case 'requires_action': {
      const verificationId = verificationIdIn(answer);
      return { outcome: 'verifying', ...(verificationId ? { verificationId } : {}), ...withTrade };
    }
    case 'requires_payment_method': {
      const declined = asObject(answer.last_payment_error);
      if (!declined) return { outcome: 'unknown', ...withTrade };
      const code = neutralErrorCode(declined);
      return { outcome: 'refused', ...(code ? { code } : {}), ...withTrade };
    }
    case 'canceled':
      return { outcome: 'unknown', code: 'TRADE_CLOSED', ...withTrade };
    default:
      return { outcome: 'unknown', ...withTrade };
  }
}

/** The 3-D Secure page's answer: `redirect_status` as Stripe puts it on the return URL, or an error. */
function readVerificationAnswer(body: unknown): CashierAnswer {
  const answer = asObject(body);
  if (answer?.redirect_status === 'succeeded') return { outcome: 'paid' };
  const error = asObject(answer?.error);
  const code = error ? neutralErrorCode(error) : undefined;
  return { outcome: 'unknown', ...(nonEmptyString(code) ? { code } : {}) };
}

export class StripeCashier implements PaymentCashier {
  constructor(private readonly credentials: StripeCredentials) {}

  payRequest(input: { providerUrl: string; tradeNo: string; payUrl?: string; payerId: string; method: string }): CashierRequest {
    const intentId = intentIdIn(input.tradeNo, input.payUrl);
    return {
      method: 'POST',
      url: `${input.providerUrl}/v1/payment_intents/${encodeURIComponent(intentId)}/confirm`,
      headers: { authorization: `Bearer ${this.credentials.publishableKey}` },
      body: {
        payment_method: BUYER_PAYMENT_METHOD,
        receipt_email: `${input.payerId}@${BUYER_EMAIL_DOMAIN}`,
        client_secret: clientSecretOf(this.credentials.secretKey, intentId),
      },
    };
  }

  readPayAnswer(_status: number | undefined, body: unknown): CashierAnswer {
    return readIntentAnswer(body);
  }

  verificationRequest(input: { providerUrl: string; verificationId: string }): CashierRequest {
    return { method: 'POST', url: `${input.providerUrl}/three_d_secure/${encodeURIComponent(input.verificationId)}/complete`, body: {} };
  }

  readVerificationAnswer(_status: number | undefined, body: unknown): CashierAnswer {
    return readVerificationAnswer(body);
  }
}
