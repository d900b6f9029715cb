/**
 * Stripe's objects as the personality renders them: ids derived from the core's numbers (so any
 * id maps back without a table), PaymentIntents, Charges, Refunds, Events and `error` objects, in
 * the shapes stripe-node 13 (API 2023-08-16) and 23 read. Pure functions of the core's facts.
 */
import { createHmac } from 'node:crypto';
import type { TradeStatus } from '../../../core/journal.js';
import type { PayFailCode } from '../answers.js';

/** The API version events and answers use when the request named none (the version stripe-node 13 pins). */
export const DEFAULT_API_VERSION = '2023-08-16';
/** API versions before this one still had a PaymentIntent's `charges` list. */
const CHARGES_LIST_REMOVED = '2022-11-15';

// ---- ids ------------------------------------------------------------------------------------------

export const intentIdOf = (tradeNo: string): string => `pi_${tradeNo}`;
export const chargeIdOf = (tradeNo: string): string => `ch_${tradeNo}`;
export const paymentMethodIdOf = (tradeNo: string): string => `pm_${tradeNo}`;
export const eventIdOf = (notifyId: string): string => `evt_${notifyId}`;
export const refundIdOf = (tradeNo: string, index: number): string => `re_${tradeNo}_${index}`;

/** The core's trade number in a `pi_…` (or `ch_…`) id; '' when it is not one (no trade has that number). */
export function tradeNoOfId(id: string | undefined, prefix: 'pi_' | 'ch_'): string {
  return id !== undefined && id.startsWith(prefix) ? id.slice(prefix.length) : '';
}

/** A `re_…` id's trade number and 1-based refund index. */
export function refundOfId(id: string | undefined): { tradeNo: string; index: number } | undefined {
  const match = /^re_(.+)_(\d{1,6})$/.exec(id ?? '');
  return match ? { tradeNo: match[1] as string, index: Number(match[2]) } : undefined;
}

/** The intent's client secret: `<id>_secret_<24 hex>`, keyed by the run's secret key so only Ordeal can make one. */
export function clientSecretOf(secretKey: string, intentId: string): string {
  return `${intentId}_secret_${createHmac('sha256', secretKey).update(intentId).digest('hex').slice(0, 24)}`;
}

// ---- declines -------------------------------------------------------------------------------------

export interface Decline {
  /** `decline_code` of a `card_declined` error. */
  declineCode: string;
  message: string;
}

/** The core's payment refusals as card declines (a single-payment limit is an amount limit on the card). */
export const DECLINES: Readonly<Record<PayFailCode, Decline>> = {
  LIMIT_SINGLE: { declineCode: 'card_velocity_exceeded', message: 'Your card was declined for making repeated attempts too frequently or exceeding its amount limit.' },
  LIMIT_DAILY: { declineCode: 'withdrawal_count_limit_exceeded', message: 'Your card was declined. The card has exceeded its balance or withdrawal limit.' },
  DECLINED: { declineCode: 'insufficient_funds', message: 'Your card has insufficient funds.' },
};

export const GENERIC_DECLINE: Decline = { declineCode: 'generic_decline', message: 'Your card was declined.' };
export const CROSS_BORDER_DECLINE: Decline = { declineCode: 'transaction_not_allowed', message: 'Your card does not support this type of purchase.' };

/** A decline code back in the core's words (for the journal, which stays protocol-neutral). */
export function neutralCodeOf(declineCode: string | undefined): string | undefined {
  switch (declineCode) {
    case 'card_velocity_exceeded':
      return 'LIMIT_SINGLE';
    case 'withdrawal_count_limit_exceeded':
      return 'LIMIT_DAILY';
    case 'transaction_not_allowed':
      return 'CROSS_BORDER_BLOCKED';
    case undefined:
      return undefined;
    default:
      return 'DECLINED';
  }
}

// ---- payment method types ---------------------------------------------------------------------------

/** Stripe's payment method type for the core's (protocol-neutral) method name. */
export function stripeTypeOf(method: string): string {
  return method === 'wechat' ? 'wechat_pay' : method;
}

/** The core's method name for a Stripe payment method type. */
export function methodOfStripeType(type: string | undefined): string {
  return type === undefined || type === '' ? 'card' : type === 'wechat_pay' ? 'wechat' : type;
}

// ---- intents ----------------------------------------------------------------------------------------

/** What the personality remembers of an intent beyond the core's trade (test flows only; most intents have none). */
export interface IntentNote {
  /** `capture_method=manual`: a paid intent waits in `requires_capture`. */
  manual?: boolean;
  captured?: boolean;
  /** A manual intent canceled while `requires_capture`: the authorization was released (refunded in the core). */
  released?: boolean;
  /** A payment method attached before confirming (`requires_confirmation`). */
  paymentMethod?: string;
  /** A test payment method's decline code, when it differs from the core's failure's. */
  declineCode?: string;
}

export type IntentStatus = 'requires_payment_method' | 'requires_confirmation' | 'requires_action' | 'processing' | 'requires_capture' | 'canceled' | 'succeeded';

/** The core's facts about one trade that an intent shows. */
export interface IntentFacts {
  tradeNo: string;
  outTradeNo: string;
  /** Minor units: what was paid once paid. */
  amount: number;
  currency: string;
  subject: string;
  method: string;
  payer?: { id: string; region?: string };
  createdS: number;
  status: TradeStatus;
  paidAt?: string;
  failCode?: string;
  verificationId?: string;
  /** Refunded so far (minor units). */
  refunded: number;
}

export interface RenderContext {
  secretKey: string;
  /** Where the personality is served (the 3-D Secure page's links). */
  baseUrl: string;
  apiVersion: string;
  nowS: number;
}

export type StripeObject = Record<string, unknown>;

export function intentStatusOf(status: TradeStatus, note: IntentNote | undefined): IntentStatus {
  switch (status) {
    case 'WAIT_BUYER_PAY':
      return note?.paymentMethod ? 'requires_confirmation' : 'requires_payment_method';
    case 'VERIFYING':
      return 'requires_action';
    case 'TRADE_SUCCESS':
      if (note?.released) return 'canceled';
      return note?.manual && !note.captured ? 'requires_capture' : 'succeeded';
    case 'PAY_FAILED':
      // Stripe keeps a declined intent open for another payment method (Ordeal's core does not).
      return 'requires_payment_method';
    case 'TRADE_CLOSED':
      return 'canceled';
  }
}

export function declineOf(failCode: string | undefined, note: IntentNote | undefined): Decline {
  if (note?.declineCode) return note.declineCode === GENERIC_DECLINE.declineCode ? GENERIC_DECLINE : { ...DECLINES.DECLINED, declineCode: note.declineCode };
  return failCode !== undefined && Object.hasOwn(DECLINES, failCode) ? DECLINES[failCode as PayFailCode] : GENERIC_DECLINE;
}

function paymentMethodObject(facts: IntentFacts): StripeObject {
  return {
    id: paymentMethodIdOf(facts.tradeNo),
    object: 'payment_method',
    type: 'card',
    card: { brand: 'visa', country: 'US', exp_month: 12, exp_year: 2034, funding: 'credit', last4: '4242' },
    billing_details: { address: null, email: null, name: facts.payer?.id ?? null, phone: null },
    created: facts.createdS,
    customer: null,
    livemode: false,
    metadata: {},
  };
}

/** A card error object (`card_declined` with its decline code) as Stripe sends it, in an error or as `last_payment_error`. */
export function cardErrorObject(decline: Decline, extra: StripeObject = {}): StripeObject {
  return {
    type: 'card_error',
    code: 'card_declined',
    decline_code: decline.declineCode,
    doc_url: 'https://stripe.com/docs/error-codes/card-declined',
    message: decline.message,
    ...extra,
  };
}

function metadataOfFacts(facts: IntentFacts): Record<string, string> {
  return {
    order_id: facts.outTradeNo,
    ...(facts.payer ? { buyer_id: facts.payer.id } : {}),
    ...(facts.payer?.region === undefined ? {} : { buyer_region: facts.payer.region }),
  };
}

/** The charge of a paid (or declined) intent. */
export function chargeObject(facts: IntentFacts): StripeObject {
  const paid = facts.status === 'TRADE_SUCCESS';
  const failed = facts.status === 'PAY_FAILED';
  const decline = failed ? declineOf(facts.failCode, undefined) : undefined;
  return {
    id: chargeIdOf(facts.tradeNo),
    object: 'charge',
    amount: facts.amount,
    amount_captured: paid ? facts.amount : 0,
    amount_refunded: facts.refunded,
    captured: paid,
    created: facts.paidAt === undefined ? facts.createdS : Math.floor(Date.parse(facts.paidAt) / 1000),
    currency: facts.currency.toLowerCase(),
    description: facts.subject === '' ? null : facts.subject,
    failure_code: decline ? 'card_declined' : null,
    failure_message: decline ? decline.message : null,
    livemode: false,
    metadata: metadataOfFacts(facts),
    outcome: paid
      ? { network_status: 'approved_by_network', reason: null, risk_level: 'normal', seller_message: 'Payment complete.', type: 'authorized' }
      : { network_status: 'declined_by_network', reason: decline?.declineCode ?? null, risk_level: 'normal', seller_message: 'The bank did not return any further details with this decline.', type: 'issuer_declined' },
    paid,
    payment_intent: intentIdOf(facts.tradeNo),
    payment_method: paymentMethodIdOf(facts.tradeNo),
    refunded: facts.refunded >= facts.amount && facts.refunded > 0,
    status: paid ? 'succeeded' : 'failed',
  };
}

/** A PaymentIntent; `expandCharge` renders `latest_charge` as the Charge object (`expand[]=latest_charge`). */
export function intentObject(facts: IntentFacts, note: IntentNote | undefined, context: RenderContext, expandCharge = false): StripeObject {
  const id = intentIdOf(facts.tradeNo);
  const status = intentStatusOf(facts.status, note);
  const charged = facts.status === 'TRADE_SUCCESS' || facts.status === 'PAY_FAILED';
  const captured = status === 'succeeded' || (status === 'canceled' && facts.status === 'TRADE_SUCCESS');
  const clientSecret = clientSecretOf(context.secretKey, id);
  const charge = charged ? (expandCharge ? chargeObject(facts) : chargeIdOf(facts.tradeNo)) : null;
  const redirect =
    facts.verificationId === undefined
      ? undefined
      : `${context.baseUrl}/three_d_secure/${encodeURIComponent(facts.verificationId)}?payment_intent=${id}&payment_intent_client_secret=${clientSecret}`;
  return {
    id,
    object: 'payment_intent',
    allowed_payment_method_types: [stripeTypeOf(facts.method)],
    amount: facts.amount,
    amount_capturable: status === 'requires_capture' ? facts.amount : 0,
    amount_details: { tip: {} },
    amount_received: captured ? facts.amount : 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: null,
    canceled_at: status === 'canceled' ? context.nowS : null,
    cancellation_reason: null,
    capture_method: note?.manual ? 'manual' : 'automatic',
    ...(context.apiVersion < CHARGES_LIST_REMOVED
      ? { charges: { object: 'list', data: charged ? [chargeObject(facts)] : [], has_more: false, url: `/v1/charges?payment_intent=${id}` } }
      : {}),
    client_secret: clientSecret,
    confirmation_method: 'automatic',
    created: facts.createdS,
    currency: facts.currency.toLowerCase(),
    customer: null,
    customer_account: null,
    description: facts.subject === '' ? null : facts.subject,
    excluded_payment_method_types: null,
    last_payment_error: facts.status === 'PAY_FAILED' ? cardErrorObject(declineOf(facts.failCode, note), { payment_method: paymentMethodObject(facts) }) : null,
    latest_charge: charge,
    livemode: false,
    metadata: metadataOfFacts(facts),
    next_action:
      status === 'requires_action' && redirect !== undefined ? { type: 'redirect_to_url', redirect_to_url: { url: redirect, return_url: null } } : null,
    on_behalf_of: null,
    payment_method: status === 'requires_payment_method' && facts.status !== 'PAY_FAILED' ? null : (note?.paymentMethod ?? paymentMethodIdOf(facts.tradeNo)),
    payment_method_configuration_details: null,
    payment_method_options: {},
    payment_method_types: [stripeTypeOf(facts.method)],
    payment_record: null,
    processing: null,
    receipt_email: null,
    review: null,
    setup_future_usage: null,
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status,
    transfer_data: null,
    transfer_group: null,
  };
}

/** A refund of `amount` from an intent. */
export function refundObject(facts: Pick<IntentFacts, 'tradeNo' | 'currency'>, index: number, amount: number, createdS: number, metadata: Record<string, string> = {}): StripeObject {
  return {
    id: refundIdOf(facts.tradeNo, index),
    object: 'refund',
    amount,
    balance_transaction: null,
    charge: chargeIdOf(facts.tradeNo),
    created: createdS,
    currency: facts.currency.toLowerCase(),
    metadata,
    payment_intent: intentIdOf(facts.tradeNo),
    reason: null,
    receipt_number: null,
    source_transfer_reversal: null,
    status: 'succeeded',
    transfer_reversal: null,
  };
}

/** An Event wrapping `object`. */
export function eventObject(id: string, type: string, object: StripeObject, createdS: number, apiVersion: string): StripeObject {
  return {
    id,
    object: 'event',
    api_version: apiVersion,
    created: createdS,
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  };
}

/** Stripe's `{ error }` body. */
export function errorBody(error: StripeObject): { error: StripeObject } {
  return { error };
}
