/**
 * The shop's Stripe client, on the official `stripe` package (as a real shop's would be): one
 * PaymentIntent per order (`metadata[order_id]`), created with an idempotency key per order and
 * refunded with the refund number as the key, found again by search on `metadata['order_id']`,
 * and its webhooks verified with `stripe.webhooks.constructEvent`. The shop registers its webhook
 * endpoint through the API the first time it creates a payment (as shop plugins do at setup).
 *
 * Configuration: the provider URL (host, port and protocol for the client) and the key files
 * `stripe-secret-key.txt` and `stripe-webhook-secret.txt` (ORDEAL_PAYMENT_KEYS). The one place the
 * Stripe vocabulary — intent statuses, error types and codes, decline codes — is spelled.
 */
import Stripe from 'stripe';
import type { ResponseHeaders } from '../http-client.js';
import type { ServiceOptions, Unavailable } from '../services.js';
import type {
  CloseTradeResult,
  CreateTradeRequest,
  CreateTradeResult,
  DeclineReason,
  NotifyAnswer,
  NotifyChecks,
  NotifyEndpoint,
  NotifyReading,
  NotifyRequest,
  PaymentGateway,
  PaymentResult,
  QueryTradeResult,
  RefundResult,
  Trade,
} from './gateway.js';
import { jsonAnswer, parseNotifyJson } from './gateway.js';

export const STRIPE_KEY_FILES = { secretKey: 'stripe-secret-key.txt', webhookSecret: 'stripe-webhook-secret.txt' } as const;

/** The events the shop's endpoint subscribes to. */
const WEBHOOK_EVENTS: Stripe.WebhookEndpointCreateParams.EnabledEvent[] = ['payment_intent.succeeded', 'payment_intent.payment_failed', 'payment_intent.canceled'];

/** `constructEvent`'s default tolerance, s. */
const SIGNATURE_TOLERANCE_S = 300;

/** What the shop reads of a thrown stripe-node error (23.x and older majors alike). */
interface StripeFailure {
  /** The class: `StripeCardError`, `StripeConnectionError`, … */
  type: string;
  /** Stripe's `type`: `card_error`, `invalid_request_error`, `idempotency_error`, `api_error`. */
  rawType?: string;
  code?: string;
  decline_code?: string;
  statusCode?: number;
  headers?: Record<string, string>;
  payment_intent?: { status?: string };
  message: string;
}

function failureOf(error: unknown): StripeFailure {
  if (error instanceof Error && typeof (error as Partial<StripeFailure>).type === 'string') return error as unknown as StripeFailure;
  return { type: 'Error', message: error instanceof Error ? error.message : String(error) };
}

/** Answers the shop should ask again for later: none at all, 5xx, 429, and 409 (the same key still under way). */
function transient(failure: StripeFailure): boolean {
  const status = failure.statusCode;
  return status === undefined || status >= 500 || status === 429 || status === 409;
}

function headersOf(headers: Record<string, string> | undefined): ResponseHeaders {
  const lower = new Map(Object.entries(headers ?? {}).map(([name, value]) => [name.toLowerCase(), String(value)]));
  return { get: (name) => lower.get(name.toLowerCase()) ?? null, has: (name) => lower.has(name.toLowerCase()) };
}

function unavailable(failure: StripeFailure): Unavailable {
  const status = failure.statusCode;
  if (status === undefined) return { kind: 'unavailable', detail: `${failure.type}: ${failure.message}` };
  const detail = `HTTP ${status} ${failure.code ?? failure.rawType ?? failure.type}`;
  const headers = headersOf(failure.headers);
  return status === 429 || headers.has('retry-after') ? { kind: 'unavailable', detail, status, retryAfter: headers } : { kind: 'unavailable', detail, status };
}

/** A card decline as the order's reason. */
function declineReason(declineCode: string | undefined): DeclineReason {
  switch (declineCode) {
    case 'card_velocity_exceeded':
    case 'withdrawal_count_limit_exceeded':
      return 'payment_limit';
    case 'transaction_not_allowed':
      return 'cross_border_blocked';
    default:
      return 'payment_declined';
  }
}

/** Stripe's payment method type for the order's method. */
function paymentMethodType(method: string): Stripe.PaymentIntentCreateParams.AllowedPaymentMethodType {
  return method === 'wechat' ? 'wechat_pay' : method === 'alipay' ? 'alipay' : 'card';
}

/** An intent's status (and its last error) as a `PaymentResult`; what the shop does not know counts as unpaid. */
function paymentResult(intent: Stripe.PaymentIntent): PaymentResult {
  switch (intent.status) {
    case 'succeeded':
      return { kind: 'paid', captured: intent.amount_received };
    case 'requires_action':
      return { kind: 'verifying' };
    case 'canceled':
      return { kind: 'closed' };
    case 'requires_payment_method':
      // A declined attempt leaves the intent waiting for another card; this shop fails the order.
      return intent.last_payment_error ? { kind: 'declined', reason: declineReason(intent.last_payment_error.decline_code) } : { kind: 'unpaid' };
    default:
      return { kind: 'unpaid' };
  }
}

function tradeOf(intent: Stripe.PaymentIntent): Trade {
  const charge = typeof intent.latest_charge === 'object' && intent.latest_charge !== null ? intent.latest_charge : undefined;
  return {
    tradeNo: intent.id,
    outTradeNo: intent.metadata?.order_id ?? '',
    amount: intent.amount,
    result: paymentResult(intent),
    refunded: charge?.amount_refunded ?? 0,
  };
}

/** Stripe's search syntax quotes values with `'`; a quote or backslash inside is escaped. */
function searchValue(text: string): string {
  return `'${text.replace(/[\\']/g, (character) => `\\${character}`)}'`;
}


type EventShape = { type?: unknown; data?: { object?: unknown } };

/** Stripe webhooks: `Event` POSTs verified with `constructEvent`, acknowledged by any 2xx. */
export class StripeNotifyEndpoint implements NotifyEndpoint {
  readonly methods = ['POST'] as const;

  constructor(
    private readonly webhooks: Stripe['webhooks'],
    private readonly secret: string,
  ) {}

  orderIdOf(request: NotifyRequest): string | undefined {
    const intent = (parseNotifyJson(request.rawBody) as EventShape | undefined)?.data?.object as { metadata?: { order_id?: unknown } } | undefined;
    const orderId = intent?.metadata?.order_id;
    return typeof orderId === 'string' ? orderId : undefined;
  }

  read(request: NotifyRequest, checks: NotifyChecks): NotifyReading {
    let event: EventShape | undefined;
    if (checks.signature) {
      try {
        // Infinity switches the age check off in every major (13.x treats 0 as "the default").
        const tolerance = checks.freshness ? SIGNATURE_TOLERANCE_S : Number.POSITIVE_INFINITY;
        event = this.webhooks.constructEvent(request.rawBody, request.headers['stripe-signature'] ?? '', this.secret, tolerance) as EventShape;
      } catch (error) {
        return { kind: 'bad_signature', detail: `webhook signature rejected (${(error as Error).message.split('\n')[0] ?? ''})` };
      }
    } else {
      event = parseNotifyJson(request.rawBody) as EventShape | undefined;
    }
    const intent = event?.data?.object as Partial<Stripe.PaymentIntent> | undefined;
    if (typeof event?.type !== 'string' || typeof intent?.id !== 'string') return { kind: 'malformed', detail: 'expected a Stripe Event with data.object' };
    const orderId = intent.metadata?.order_id;
    if (typeof orderId !== 'string' || orderId === '') return { kind: 'malformed', detail: 'the event\'s object has no metadata.order_id' };
    let result: PaymentResult;
    switch (event.type) {
      case 'payment_intent.succeeded':
        result = { kind: 'paid', captured: typeof intent.amount_received === 'number' ? intent.amount_received : 0 };
        break;
      case 'payment_intent.payment_failed':
        result = { kind: 'declined', reason: declineReason(intent.last_payment_error?.decline_code) };
        break;
      case 'payment_intent.canceled':
        result = { kind: 'closed' };
        break;
      default:
        // Other events change nothing here; they are acknowledged all the same.
        result = { kind: 'unpaid' };
    }
    return { kind: 'callback', callback: { tradeNo: intent.id, outTradeNo: orderId, result } };
  }

  acknowledge(): NotifyAnswer {
    return jsonAnswer(200, { received: true });
  }

  refuse(status: number, code: string, message: string): NotifyAnswer {
    return jsonAnswer(status, { error: { code, message } });
  }
}

export class StripeGateway implements PaymentGateway {
  readonly protocol = 'stripe';
  readonly notify: StripeNotifyEndpoint;
  private readonly stripe: Stripe;
  /** Webhook endpoint registrations by URL (a failed one is tried again on the next create). */
  private readonly endpoints = new Map<string, Promise<void>>();

  constructor(url: string, keys: { read(name: string): string }, options: ServiceOptions) {
    const base = new URL(url);
    this.stripe = new Stripe(keys.read(STRIPE_KEY_FILES.secretKey), {
      host: base.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: base.port === '' ? (base.protocol === 'https:' ? 443 : 80) : Number(base.port),
      protocol: base.protocol === 'https:' ? 'https' : 'http',
      // The stages retry on their own schedule; stripe-node still retries a reset connection once.
      maxNetworkRetries: 0,
      timeout: options.timeoutMs,
      telemetry: false,
    });
    this.notify = new StripeNotifyEndpoint(this.stripe.webhooks, keys.read(STRIPE_KEY_FILES.webhookSecret));
  }

  /** Stripe has no cashier link: the buyer confirms the intent on the shop's page with Stripe.js. */
  payUrl(): string {
    return '';
  }

  async createTrade(request: CreateTradeRequest): Promise<CreateTradeResult> {
    try {
      await this.webhookEndpoint(request.notifyUrl);
      const intent = await this.stripe.paymentIntents.create(
        {
          amount: request.amount,
          currency: request.currency.toLowerCase(),
          description: request.subject,
          // API 2026-09-30.endive renamed `payment_method_types` (what stripe-node 21 and older send).
          allowed_payment_method_types: [paymentMethodType(request.method)],
          metadata: {
            order_id: request.outTradeNo,
            buyer_id: request.payer.id,
            ...(request.payer.region === undefined ? {} : { buyer_region: request.payer.region }),
          },
        },
        { idempotencyKey: `create-${request.outTradeNo}` },
      );
      return { kind: 'created', tradeNo: intent.id, payUrl: undefined, expiresAt: undefined };
    } catch (error) {
      const failure = failureOf(error);
      if (transient(failure)) return unavailable(failure);
      if (failure.rawType === 'card_error') return { kind: 'declined', reason: declineReason(failure.decline_code) };
      return { kind: 'refused', code: failure.code ?? failure.rawType ?? failure.type, status: failure.statusCode ?? 400 };
    }
  }

  async queryTrade(tradeNo: string): Promise<QueryTradeResult> {
    try {
      return { kind: 'found', trade: tradeOf(await this.stripe.paymentIntents.retrieve(tradeNo, { expand: ['latest_charge'] })) };
    } catch (error) {
      const failure = failureOf(error);
      if (failure.code === 'resource_missing') return { kind: 'not_found' };
      return unavailable(failure);
    }
  }

  async queryByOutTradeNo(outTradeNo: string): Promise<QueryTradeResult> {
    try {
      const found = await this.stripe.paymentIntents.search({ query: `metadata['order_id']:${searchValue(outTradeNo)}`, expand: ['data.latest_charge'] });
      const intent = found.data[0];
      return intent ? { kind: 'found', trade: tradeOf(intent) } : { kind: 'not_found' };
    } catch (error) {
      return unavailable(failureOf(error));
    }
  }

  async closeTrade(tradeNo: string): Promise<CloseTradeResult> {
    try {
      await this.stripe.paymentIntents.cancel(tradeNo);
      return { kind: 'closed' };
    } catch (error) {
      const failure = failureOf(error);
      if (transient(failure)) return unavailable(failure);
      if (failure.code === 'resource_missing') return { kind: 'not_found' };
      if (failure.code === 'payment_intent_unexpected_state') {
        // The error carries the intent as it stands: paid (treat the order as paid) or already canceled.
        const status = failure.payment_intent?.status;
        if (status === 'succeeded') return { kind: 'has_success' };
        if (status === 'canceled') return { kind: 'closed' };
      }
      return { kind: 'refused', code: failure.code ?? failure.rawType ?? failure.type };
    }
  }

  async refund(tradeNo: string, refundNo: string, amount: number): Promise<RefundResult> {
    try {
      const refund = await this.stripe.refunds.create({ payment_intent: tradeNo, amount }, { idempotencyKey: refundNo });
      return refund.status === 'succeeded' || refund.status === 'pending' ? { kind: 'refunded' } : { kind: 'unavailable', detail: `refund status ${refund.status ?? '?'}` };
    } catch (error) {
      const failure = failureOf(error);
      if (transient(failure)) return unavailable(failure);
      if (failure.code === 'charge_already_refunded' || failure.code === 'amount_too_large') return { kind: 'exceeds_paid' };
      return { kind: 'refused', code: failure.code ?? failure.rawType ?? failure.type };
    }
  }

  /** Registers `url` as a webhook endpoint unless the account has it already; once per URL while it succeeds. */
  private webhookEndpoint(url: string): Promise<void> {
    let ready = this.endpoints.get(url);
    if (!ready) {
      ready = this.registerEndpoint(url);
      this.endpoints.set(url, ready);
      ready.catch(() => this.endpoints.delete(url));
    }
    return ready;
  }

  private async registerEndpoint(url: string): Promise<void> {
    const existing = await this.stripe.webhookEndpoints.list({ limit: 100 });
    if (existing.data.some((endpoint) => endpoint.url === url && endpoint.status === 'enabled')) return;
    await this.stripe.webhookEndpoints.create({ url, enabled_events: WEBHOOK_EVENTS }, { idempotencyKey: `webhook-endpoint-${url}` });
  }
}
