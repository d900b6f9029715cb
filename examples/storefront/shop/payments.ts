/**
 * Stripe, through the official `stripe` client: one PaymentIntent per order (created with the
 * order number as `metadata.order_id` and an idempotency key per order), retrieved, found by
 * search, canceled and refunded; webhook events verified with `stripe.webhooks.constructEvent`.
 * The client's `host`/`port`/`protocol` come from STRIPE_API_BASE, so any Stripe-compatible API
 * (a test double, a proxy) can stand in for api.stripe.com.
 */
import Stripe from 'stripe';
import type { OrderRow, ReportedPayment } from './orders.js';
import type { StripeSettings } from './settings.js';

/** What an intent says about its order's payment. */
export type IntentState =
  | { kind: 'succeeded'; payment: ReportedPayment }
  | { kind: 'failed'; reason: string }
  | { kind: 'canceled' }
  /** The bank wants the buyer to confirm (3-D Secure): not paid yet, and the buyer must act. */
  | { kind: 'needs_verification' }
  /** Not paid yet (no card, processing). */
  | { kind: 'open' };

export const WEBHOOK_EVENTS: Stripe.WebhookEndpointCreateParams.EnabledEvent[] = ['payment_intent.succeeded', 'payment_intent.payment_failed'];

/** Why a payment failed, in Stripe's words: the decline code, else the error code. */
export function failureReasonOf(intent: Pick<Stripe.PaymentIntent, 'last_payment_error'>): string {
  const error = intent.last_payment_error;
  return error?.decline_code ?? error?.code ?? 'payment_failed';
}

export function stateOf(intent: Stripe.PaymentIntent): IntentState {
  switch (intent.status) {
    case 'succeeded':
      return { kind: 'succeeded', payment: { intentId: intent.id, amountCents: intent.amount_received, currency: intent.currency } };
    case 'canceled':
      return { kind: 'canceled' };
    case 'requires_action':
      return { kind: 'needs_verification' };
    case 'requires_payment_method':
      // A declined card leaves the intent waiting for another; this shop fails the order instead.
      return intent.last_payment_error ? { kind: 'failed', reason: failureReasonOf(intent) } : { kind: 'open' };
    default:
      return { kind: 'open' };
  }
}

/** The order number an intent belongs to. */
export function orderNumberOf(intent: Pick<Stripe.PaymentIntent, 'metadata'>): string | undefined {
  const number = intent.metadata?.order_id;
  return typeof number === 'string' && number !== '' ? number : undefined;
}

function isStripeError(error: unknown): error is Stripe.errors.StripeError {
  return error instanceof Stripe.errors.StripeError;
}

export class Payments {
  private readonly stripe: Stripe;
  private registration: Promise<void> | undefined;

  constructor(private readonly settings: StripeSettings) {
    this.stripe = new Stripe(settings.secretKey, {
      host: settings.host,
      port: settings.port,
      protocol: settings.protocol,
      // The client retries connection errors, 409 and 5xx itself, with the same idempotency key.
      maxNetworkRetries: 2,
      timeout: 10_000,
      telemetry: false,
    });
  }

  /** Registers `url` for the payment events unless the account has it (once; tried again after a failure). */
  ensureWebhookEndpoint(url: string): Promise<void> {
    if (!this.settings.registerWebhook) return Promise.resolve();
    this.registration ??= this.registerWebhook(url).catch((error: unknown) => {
      this.registration = undefined;
      throw error;
    });
    return this.registration;
  }

  async createIntent(order: OrderRow): Promise<{ id: string; clientSecret: string | null }> {
    const intent = await this.stripe.paymentIntents.create(
      {
        amount: order.total_cents,
        currency: order.currency,
        description: `Starfall Keys order ${order.number}`,
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
        metadata: { order_id: order.number, customer_id: String(order.customer_id) },
      },
      { idempotencyKey: `order-${order.number}` },
    );
    return { id: intent.id, clientSecret: intent.client_secret };
  }

  async retrieve(intentId: string): Promise<Stripe.PaymentIntent> {
    return this.stripe.paymentIntents.retrieve(intentId);
  }

  /** The order's intent when one was created but its id never reached the shop (a lost answer). */
  async findForOrder(number: string): Promise<Stripe.PaymentIntent | undefined> {
    const found = await this.stripe.paymentIntents.search({ query: `metadata['order_id']:'${number.replace(/[\\']/g, (character) => `\\${character}`)}'` });
    return found.data[0];
  }

  /** Cancels the intent; when it can no longer be canceled, what it is instead (paid, typically). */
  async cancel(intentId: string): Promise<IntentState> {
    try {
      return stateOf(await this.stripe.paymentIntents.cancel(intentId, { cancellation_reason: 'abandoned' }));
    } catch (error) {
      if (isStripeError(error) && error.code === 'payment_intent_unexpected_state') {
        const state = stateOf(await this.retrieve(intentId));
        return state.kind === 'open' ? { kind: 'canceled' } : state;
      }
      throw error;
    }
  }

  async refund(intentId: string, amountCents: number, orderNumber: string): Promise<string> {
    const refund = await this.stripe.refunds.create({ payment_intent: intentId, amount: amountCents, metadata: { order_id: orderNumber } }, { idempotencyKey: `refund-${orderNumber}` });
    return refund.id;
  }

  /** The event, if `signature` is Stripe's for exactly `rawBody` (within the default 5-minute tolerance); throws otherwise. */
  verifyEvent(rawBody: string, signature: string): Stripe.Event {
    return this.stripe.webhooks.constructEvent(rawBody, signature, this.settings.webhookSecret);
  }

  private async registerWebhook(url: string): Promise<void> {
    const existing = await this.stripe.webhookEndpoints.list({ limit: 100 });
    if (existing.data.some((endpoint) => endpoint.url === url && endpoint.status === 'enabled')) return;
    await this.stripe.webhookEndpoints.create({ url, enabled_events: WEBHOOK_EVENTS, description: 'Starfall Keys storefront' }, { idempotencyKey: `webhook-${url}` });
  }
}
