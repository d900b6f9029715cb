/**
 * The PaymentIntents API over the provider core: create (→ `create`), retrieve and search by
 * `metadata['order_id']` (→ `query`), confirm (→ `pay`, the buyer's cashier or a server-side
 * confirm), cancel (→ `closeTrade`), update and capture (read the ledger only). Each handler parses
 * Stripe's parameters, calls at most one core operation and renders its answer.
 *
 * One PaymentIntent per shop order: the order is `metadata[order_id]` (else `description`), the
 * buyer `metadata[buyer_id]` (else the confirm's `receipt_email`) and the buyer's region
 * `metadata[buyer_region]`; the intent id is `pi_` + the core's trade number.
 */
import type { TradeRecord } from '../ledger.js';
import type { ForcedPayOutcome, PaymentCore } from '../core.js';
import { channelOf, renderAnswer, type PaymentSite } from '../personality.js';
import type { CoreAnswer, PaymentOperation, PaymentRefusal } from '../answers.js';
import type { MockReply } from '../../mock-types.js';
import type { StripeCredentials } from '../credentials.js';
import { outside } from '../../run-credentials.js';
import {
  clientSecretOf,
  DECLINES,
  GENERIC_DECLINE,
  intentIdOf,
  intentObject,
  methodOfStripeType,
  tradeNoOfId,
  type Decline,
  type IntentFacts,
  type IntentNote,
  type RenderContext,
  type StripeObject,
} from './stripe-objects.js';
import { executed, invalidRequest, missingParam, refusalReply, resourceMissing, unexpectedState, type RefusalDetail } from './stripe-errors.js';
import { booleanParam, integerParam, listParam, metadataOf, stringParam, type ParamObject } from './stripe-params.js';
import type { WebhookEndpoints } from './stripe-webhooks.js';

/** The receipt e-mail domain Ordeal's cashier writes the buyer's id under (`<buyer id>@…`). */
export const BUYER_EMAIL_DOMAIN = 'buyers.ordeal.invalid';

/** A request the routes let through: authenticated, its parameters parsed. */
export interface ApiCall {
  params: ParamObject;
  /** Path parameters. */
  path: Readonly<Record<string, string>>;
  /** Path and query as sent. */
  target: string;
  caller: 'secret' | 'publishable';
  apiVersion: string;
  idempotencyKey: string | undefined;
}

/** A handler's answer, and whether it may be saved under the request's idempotency key. */
export interface Outcome {
  reply: MockReply;
  save: boolean;
}

export const unsaved = (reply: MockReply): Outcome => ({ reply, save: false });

type TestCard = { forced?: ForcedPayOutcome; decline?: Decline };

/** Stripe's test payment methods (https://docs.stripe.com/testing): what each forces, if anything. */
const TEST_PAYMENT_METHODS: Readonly<Record<string, TestCard>> = {
  pm_card_visa: {},
  pm_card_visa_debit: {},
  pm_card_mastercard: {},
  pm_card_amex: {},
  pm_card_us: {},
  pm_card_chargeDeclined: { forced: { refusal: 'DECLINED' }, decline: GENERIC_DECLINE },
  pm_card_chargeDeclinedInsufficientFunds: { forced: { refusal: 'DECLINED' }, decline: DECLINES.DECLINED },
  pm_card_chargeDeclinedVelocityLimitExceeded: { forced: { refusal: 'LIMIT_SINGLE' }, decline: DECLINES.LIMIT_SINGLE },
  pm_card_authenticationRequired: { forced: { verification: true } },
  pm_card_threeDSecure2Required: { forced: { verification: true } },
};

/** Whether `paymentMethod` is one of the test payment methods (own keys only: `toString` is none). */
function isTestPaymentMethod(paymentMethod: string): boolean {
  return Object.hasOwn(TEST_PAYMENT_METHODS, paymentMethod);
}

/** The buyer's id in a receipt e-mail: the local part under Ordeal's buyer domain, else the whole address. */
export function payerOfEmail(email: string | undefined): string | undefined {
  if (email === undefined || email === '') return undefined;
  const suffix = `@${BUYER_EMAIL_DOMAIN}`;
  return email.endsWith(suffix) ? email.slice(0, -suffix.length) : email;
}

export interface IntentApiOptions {
  core: PaymentCore;
  site: PaymentSite;
  credentials: StripeCredentials;
  endpoints: WebhookEndpoints;
  /** Per-intent facts beyond the core's, by trade number (test flows only). */
  notes: Map<string, IntentNote>;
  /** Unix seconds. */
  nowS: () => number;
}

export function factsOf(record: TradeRecord): IntentFacts {
  return {
    tradeNo: record.tradeNo,
    outTradeNo: record.outTradeNo,
    amount: record.amount,
    currency: record.currency,
    subject: record.subject,
    method: record.method,
    ...(record.payer ? { payer: record.payer } : {}),
    createdS: Math.floor(Date.parse(record.createdAt) / 1000),
    status: record.status,
    ...(record.paidAt === undefined ? {} : { paidAt: record.paidAt }),
    ...(record.failCode === undefined ? {} : { failCode: record.failCode }),
    ...(record.verificationId === undefined ? {} : { verificationId: record.verificationId }),
    refunded: record.refunded,
  };
}

export class IntentApi {
  /** Orders named by neither metadata nor description get a number of their own. */
  private unreferenced = 0;

  constructor(private readonly options: IntentApiOptions) {}

  private get core(): PaymentCore {
    return this.options.core;
  }

  context(apiVersion: string): RenderContext {
    return { secretKey: this.options.credentials.secretKey, baseUrl: this.options.site.baseUrl, apiVersion, nowS: this.options.nowS() };
  }

  /** The intent as it stands (undefined when the trade does not exist). */
  intentOf(tradeNo: string, apiVersion: string, expandCharge = false): StripeObject | undefined {
    const record = this.core.trade(tradeNo);
    return record && intentObject(factsOf(record), this.options.notes.get(tradeNo), this.context(apiVersion), expandCharge);
  }

  private note(tradeNo: string): IntentNote {
    let note = this.options.notes.get(tradeNo);
    if (!note) {
      note = {};
      this.options.notes.set(tradeNo, note);
    }
    return note;
  }

  /** A core answer rendered: `render` for a value, Stripe's error for a refusal; saved when the operation ran. */
  private answer<T>(operation: PaymentOperation, answer: CoreAnswer<T>, render: (value: T) => MockReply, detail: () => RefusalDetail = () => ({})): Outcome {
    const reply = renderAnswer({ renderRefusal: (op, refusal) => refusalReply(op, refusal, detail()) }, operation, answer, render);
    const refusal: PaymentRefusal | undefined = answer.kind === 'refused' ? answer.refusal : undefined;
    return { reply, save: answer.kind !== 'hang' && executed(refusal) };
  }

  private intentReply(tradeNo: string, apiVersion: string, expandCharge = false): MockReply {
    const intent = this.intentOf(tradeNo, apiVersion, expandCharge);
    return intent ? { status: 200, body: intent } : resourceMissing('payment_intent', intentIdOf(tradeNo), 'intent');
  }

  /** A publishable-key call must carry the intent's client secret. */
  private clientSecretProblem(call: ApiCall, intentId: string): MockReply | undefined {
    if (call.caller === 'secret') return undefined;
    const given = stringParam(call.params, 'client_secret');
    // Only the buyer the shop handed the client secret to can pay with the publishable key.
    if (given === undefined) return outside(missingParam('client_secret'), 'publishable key without a client_secret');
    return given === clientSecretOf(this.options.credentials.secretKey, intentId)
      ? undefined
      : outside(invalidRequest('The client_secret provided does not match the client_secret associated with the PaymentIntent.', 'client_secret'), 'wrong client_secret');
  }

  create(call: ApiCall): Outcome {
    const { params } = call;
    const metadata = metadataOf(params);
    const description = stringParam(params, 'description');
    const named = metadata.order_id ?? metadata.orderId ?? (description === '' ? undefined : description);
    const outTradeNo = named ?? `stripe-order-${++this.unreferenced}`;
    // A refusal about a named order is journaled against it, as every protocol's is.
    const refuse = (reply: MockReply, message: string): Outcome =>
      unsaved(named === undefined ? reply : renderAnswer({ renderRefusal: () => reply }, 'create', this.core.refuseInvalidCreate(named, message), () => reply));

    const amountText = stringParam(params, 'amount');
    if (amountText === undefined) return refuse(missingParam('amount'), 'amount: missing');
    const amount = integerParam(amountText);
    if (amount === undefined) return refuse(invalidRequest(`Invalid integer: ${amountText}`, 'amount', 'parameter_invalid_integer'), 'amount: not an integer');
    if (amount < 1) return refuse(invalidRequest('This value must be greater than or equal to 1.', 'amount', 'amount_too_small'), 'amount: below 1');
    if (amount > 99_999_999) return refuse(invalidRequest('Amount must be no more than 99999999.', 'amount', 'amount_too_large'), 'amount: too large');
    const currency = stringParam(params, 'currency');
    if (currency === undefined) return refuse(missingParam('currency'), 'currency: missing');
    if (!/^[a-zA-Z]{3}$/.test(currency)) return refuse(invalidRequest(`Invalid currency: ${currency.toLowerCase()}.`, 'currency'), 'currency: invalid');
    const captureMethod = stringParam(params, 'capture_method') ?? 'automatic';
    if (!['automatic', 'automatic_async', 'manual'].includes(captureMethod)) {
      return refuse(invalidRequest(`Invalid capture_method: must be one of automatic, automatic_async, or manual`, 'capture_method'), 'capture_method: invalid');
    }
    const paymentMethod = stringParam(params, 'payment_method');
    if (paymentMethod !== undefined && !isTestPaymentMethod(paymentMethod)) {
      return refuse(resourceMissing('PaymentMethod', paymentMethod, 'payment_method', 400), 'payment_method: unknown');
    }
    const confirm = booleanParam(stringParam(params, 'confirm')) ?? false;
    if (confirm && paymentMethod === undefined) return refuse(missingParam('payment_method'), 'payment_method: missing for confirm=true');
    const payerId = metadata.buyer_id ?? payerOfEmail(stringParam(params, 'receipt_email'));
    const region = metadata.buyer_region;

    const created = this.core.create({
      ...channelOf(this.options.site),
      outTradeNo,
      amount,
      currency: currency.toUpperCase(),
      subject: description ?? '',
      notifyUrl: this.options.endpoints.currentUrl(),
      // `allowed_payment_method_types` since API 2026-09-30.endive (stripe-node 22+), `payment_method_types` before.
      method: methodOfStripeType((listParam(params, 'allowed_payment_method_types') ?? listParam(params, 'payment_method_types'))?.[0]),
      ...(payerId === undefined ? {} : { payer: { id: payerId, ...(region === undefined ? {} : { region }) } }),
    });
    if (created.kind === 'ok') {
      const tradeNo = created.value.trade.tradeNo;
      if (captureMethod === 'manual') this.note(tradeNo).manual = true;
      if (paymentMethod !== undefined && !confirm) this.note(tradeNo).paymentMethod = paymentMethod;
      if (confirm && paymentMethod !== undefined && !created.lost) return this.confirmWith(call, tradeNo, paymentMethod, payerId);
    }
    return this.answer('create', created, ({ trade }) => this.intentReply(trade.tradeNo, call.apiVersion));
  }

  retrieve(call: ApiCall): Outcome {
    const id = call.path.intent ?? '';
    const problem = this.clientSecretProblem(call, id);
    if (problem) return unsaved(problem);
    const tradeNo = tradeNoOfId(id, 'pi_');
    if (tradeNo === '') return unsaved(resourceMissing('payment_intent', id, 'intent'));
    const expand = listParam(call.params, 'expand') ?? [];
    return this.answer('query', this.core.query({ tradeNo }), (trade) => this.intentReply(trade.tradeNo, call.apiVersion, expand.includes('latest_charge')), () => ({ id }));
  }

  /**
   * `GET /v1/payment_intents/search?query=metadata['order_id']:'…'`: the order's intent, or an
   * empty result. Unlike Stripe's search (which may lag writes by a minute), it is up to date.
   */
  search(call: ApiCall): Outcome {
    const query = stringParam(call.params, 'query');
    if (query === undefined) return unsaved(missingParam('query'));
    const match = /^\s*metadata\[(['"])(order_id|orderId)\1\]\s*:\s*(['"])((?:\\.|(?!\3).)*)\3\s*$/.exec(query);
    if (!match) {
      return unsaved(invalidRequest(`Ordeal's Stripe search answers metadata['order_id']:'<order id>' only; got: ${query}`, 'query', 'parameter_invalid_string'));
    }
    // A quote or backslash inside the value is escaped with a backslash.
    const outTradeNo = (match[4] ?? '').replace(/\\(.)/g, '$1');
    const expand = listParam(call.params, 'expand') ?? [];
    const answer = this.core.query({ outTradeNo });
    const page = (data: StripeObject[]): MockReply => ({
      status: 200,
      body: { object: 'search_result', data, has_more: false, next_page: null, url: '/v1/payment_intents/search' },
    });
    // No intent for the order is an empty page, not an error.
    if (answer.kind === 'refused' && answer.refusal.code === 'TRADE_NOT_EXIST') return { reply: { ...page([]), ...(answer.delayMs > 0 ? { delayMs: answer.delayMs } : {}) }, save: false };
    return this.answer('query', answer, (trade) => {
      const intent = this.intentOf(trade.tradeNo, call.apiVersion, expand.includes('data.latest_charge'));
      return page(intent ? [intent] : []);
    });
  }

  /** `POST /v1/payment_intents/:intent`: description, metadata and a payment method to confirm with; the amount cannot change. */
  update(call: ApiCall): Outcome {
    const id = call.path.intent ?? '';
    const tradeNo = tradeNoOfId(id, 'pi_');
    const record = tradeNo === '' ? undefined : this.core.trade(tradeNo);
    if (!record) return unsaved(resourceMissing('payment_intent', id, 'intent'));
    const amount = integerParam(stringParam(call.params, 'amount'));
    if (amount !== undefined && amount !== (record.orderedAmount ?? record.amount)) {
      return unsaved(invalidRequest("Ordeal's PaymentIntents keep the amount they were created with; create a new one for another amount.", 'amount'));
    }
    const paymentMethod = stringParam(call.params, 'payment_method');
    if (paymentMethod !== undefined) {
      if (!isTestPaymentMethod(paymentMethod)) return unsaved(resourceMissing('PaymentMethod', paymentMethod, 'payment_method', 400));
      if (record.status !== 'WAIT_BUYER_PAY') return unsaved(unexpectedState(`You cannot update this PaymentIntent's payment method because it has a status of ${String(this.intentOf(tradeNo, call.apiVersion)?.status)}.`));
      this.note(tradeNo).paymentMethod = paymentMethod;
    }
    return { reply: this.intentReply(tradeNo, call.apiVersion), save: true };
  }

  /** `POST /v1/payment_intents/:intent/confirm`: the buyer (publishable key and client secret) or the shop pays. */
  confirm(call: ApiCall): Outcome {
    const id = call.path.intent ?? '';
    const problem = this.clientSecretProblem(call, id);
    if (problem) return unsaved(problem);
    const tradeNo = tradeNoOfId(id, 'pi_');
    const record = tradeNo === '' ? undefined : this.core.trade(tradeNo);
    if (!record) return unsaved(resourceMissing('payment_intent', id, 'intent'));
    const paymentMethod = stringParam(call.params, 'payment_method') ?? this.options.notes.get(tradeNo)?.paymentMethod;
    if (paymentMethod === undefined) {
      return unsaved(invalidRequest("You cannot confirm this PaymentIntent because it's missing a payment method. Specify one with payment_method.", 'payment_method', 'parameter_missing'));
    }
    if (!isTestPaymentMethod(paymentMethod)) return unsaved(resourceMissing('PaymentMethod', paymentMethod, 'payment_method', 400));
    if (record.status === 'TRADE_SUCCESS') {
      return unsaved(unexpectedState('You cannot confirm this PaymentIntent because it has already succeeded after being previously confirmed.', this.intentOf(tradeNo, call.apiVersion)));
    }
    const payerId = payerOfEmail(stringParam(call.params, 'receipt_email')) ?? record.payer?.id ?? record.outTradeNo;
    return this.confirmWith(call, tradeNo, paymentMethod, payerId);
  }

  private confirmWith(call: ApiCall, tradeNo: string, paymentMethod: string, payerId: string | undefined): Outcome {
    const card = (isTestPaymentMethod(paymentMethod) ? TEST_PAYMENT_METHODS[paymentMethod] : undefined) ?? {};
    const answer = this.core.pay(tradeNo, payerId ?? this.core.trade(tradeNo)?.outTradeNo ?? tradeNo, card.forced);
    if (card.decline && card.decline !== DECLINES.DECLINED && answer.kind === 'refused') this.note(tradeNo).declineCode = card.decline.declineCode;
    if (this.options.notes.get(tradeNo)?.paymentMethod !== undefined) this.note(tradeNo).paymentMethod = paymentMethod;
    return this.answer(
      'pay',
      answer,
      () => this.intentReply(tradeNo, call.apiVersion),
      () => {
        const intent = this.intentOf(tradeNo, call.apiVersion);
        return { id: intentIdOf(tradeNo), ...(intent ? { intent } : {}), ...(card.decline ? { decline: card.decline } : {}) };
      },
    );
  }

  /** `POST …/capture`: a manual intent's authorization captured in full (the core took the money at confirm). */
  capture(call: ApiCall): Outcome {
    const id = call.path.intent ?? '';
    const tradeNo = tradeNoOfId(id, 'pi_');
    const record = tradeNo === '' ? undefined : this.core.trade(tradeNo);
    if (!record) return unsaved(resourceMissing('payment_intent', id, 'intent'));
    const intent = this.intentOf(tradeNo, call.apiVersion);
    if (intent?.status !== 'requires_capture') {
      return unsaved(
        unexpectedState(
          `This PaymentIntent could not be captured because it has a status of ${String(intent?.status)}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.`,
          intent,
        ),
      );
    }
    const amount = integerParam(stringParam(call.params, 'amount_to_capture'));
    if (amount !== undefined && amount !== record.amount) {
      return unsaved(invalidRequest("Ordeal's PaymentIntents are captured in full: amount_to_capture must be the intent's amount.", 'amount_to_capture'));
    }
    this.note(tradeNo).captured = true;
    return { reply: this.intentReply(tradeNo, call.apiVersion), save: true };
  }

  /** `POST …/cancel`: the core closes the trade; a manual intent waiting for capture is released (refunded in full). */
  cancel(call: ApiCall): Outcome {
    const id = call.path.intent ?? '';
    const tradeNo = tradeNoOfId(id, 'pi_');
    if (tradeNo === '') return unsaved(resourceMissing('payment_intent', id, 'intent'));
    const intent = this.intentOf(tradeNo, call.apiVersion);
    const reason = stringParam(call.params, 'cancellation_reason');
    if (reason !== undefined && !['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned'].includes(reason)) {
      return unsaved(invalidRequest(`Invalid cancellation_reason: must be one of duplicate, fraudulent, requested_by_customer, or abandoned`, 'cancellation_reason'));
    }
    const canceled = (): MockReply => {
      const now = this.intentOf(tradeNo, call.apiVersion);
      return now ? { status: 200, body: { ...now, cancellation_reason: reason ?? null } } : resourceMissing('payment_intent', id, 'intent');
    };
    if (intent?.status === 'requires_capture') {
      const record = this.core.trade(tradeNo);
      return this.answer('refund', this.core.refund(tradeNo, `release-${id}`, record?.amount ?? 0), () => {
        this.note(tradeNo).released = true;
        return canceled();
      });
    }
    return this.answer('close', this.core.closeTrade(tradeNo), canceled, () => ({ id, ...(intent ? { intent: this.intentOf(tradeNo, call.apiVersion) } : {}) }));
  }
}
