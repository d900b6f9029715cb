/**
 * Where Stripe's word meets the orders: starting an order's payment, acting on what an intent
 * says (from a webhook, the reconcile job or a cancel that found it paid), and giving money back
 * when a payment cannot be honoured. Everything here may be repeated safely: the orders change
 * only from the state they expect, and Stripe calls carry idempotency keys.
 */
import type Stripe from 'stripe';
import type { Flaw } from './flaws.js';
import type { CancelReason, OrderRow, Orders, PaymentPolicy } from './orders.js';
import { failureReasonOf, orderNumberOf, type IntentState, type Payments } from './payments.js';

/** What the webhook endpoint answers Stripe. */
export interface WebhookAnswer {
  status: number;
  body: Record<string, unknown>;
}

const HANDLED_EVENTS = new Set(['payment_intent.succeeded', 'payment_intent.payment_failed']);

export class PaymentFlow {
  constructor(
    private readonly orders: Orders,
    private readonly payments: Payments,
    private readonly flaws: ReadonlySet<Flaw>,
    private readonly webhookUrl: () => string,
    private readonly log: (line: string) => void,
  ) {}

  /** Creates the order's PaymentIntent unless it has one; false (logged) when Stripe could not be reached. */
  async startPayment(order: OrderRow): Promise<boolean> {
    if (order.payment_intent_id !== null) return true;
    try {
      await this.payments.ensureWebhookEndpoint(this.webhookUrl());
      const intent = await this.payments.createIntent(order);
      this.orders.attachIntent(order.number, intent.id, intent.clientSecret);
      return true;
    } catch (error) {
      this.log(`could not create the PaymentIntent of ${order.number}: ${(error as Error).message}`);
      return false;
    }
  }

  /** Acts on what the order's intent says now (a query, not an event). */
  async applyState(order: OrderRow, state: IntentState, canceledReason: CancelReason): Promise<void> {
    switch (state.kind) {
      case 'succeeded':
        await this.settle(order.number, state.payment.intentId, state.payment.amountCents, state.payment.currency, {});
        return;
      case 'failed':
        this.orders.recordFailure(order.number, order.payment_intent_id ?? '', state.reason);
        return;
      case 'canceled':
        // An intent left waiting for the buyer's verification: the window closed on it.
        this.orders.cancel(order.number, order.status_reason === 'verification_required' && canceledReason === 'payment_window_expired' ? 'verification_timeout' : canceledReason);
        return;
      case 'needs_verification':
        this.orders.markVerificationRequired(order.number);
        return;
      case 'open':
        return;
    }
  }

  /** Refunds what a paid order received; left for the next reconcile pass when Stripe fails. */
  async refundDue(order: OrderRow): Promise<void> {
    if (order.payment_intent_id === null || order.refund_due_cents === null) return;
    try {
      const refundId = await this.payments.refund(order.payment_intent_id, order.refund_due_cents, order.number);
      this.orders.markRefunded(order.number, refundId);
    } catch (error) {
      this.log(`refund of ${order.number} failed, will retry: ${(error as Error).message}`);
    }
  }

  /** `POST /api/webhooks/stripe`: the event verified (unless a flaw trusts it as is), then acted on once. */
  async receiveWebhook(rawBody: string, signature: string | undefined): Promise<WebhookAnswer> {
    let event: Stripe.Event;
    if (this.flaws.has('trust-unverified-webhooks')) {
      try {
        event = JSON.parse(rawBody) as Stripe.Event;
      } catch {
        return { status: 400, body: { error: { code: 'malformed_event', message: 'the body is not JSON' } } };
      }
    } else {
      try {
        event = this.payments.verifyEvent(rawBody, signature ?? '');
      } catch (error) {
        this.log(`webhook refused: ${(error as Error).message.split('\n')[0] ?? ''}`);
        return { status: 400, body: { error: { code: 'invalid_signature', message: 'the Stripe-Signature header does not verify' } } };
      }
    }
    if (!HANDLED_EVENTS.has(event.type)) return { status: 200, body: { received: true, ignored: true } };
    const intent = event.data?.object as Stripe.PaymentIntent | undefined;
    const number = intent ? orderNumberOf(intent) : undefined;
    if (!intent || typeof intent.id !== 'string' || number === undefined) return { status: 200, body: { received: true, ignored: true } };
    const outcome =
      event.type === 'payment_intent.succeeded'
        ? await this.settle(number, intent.id, intent.amount_received, intent.currency, { eventId: event.id, eventType: event.type })
        : this.orders.recordFailure(number, intent.id, failureReasonOf(intent), { id: event.id, type: event.type });
    return { status: 200, body: { received: true, outcome } };
  }

  private async settle(number: string, intentId: string, amountCents: number, currency: string, event: Pick<PaymentPolicy, 'eventId' | 'eventType'>): Promise<string> {
    const outcome = this.orders.recordPayment(
      number,
      { intentId, amountCents: Number(amountCents) || 0, currency: String(currency ?? '') },
      { ...event, fulfilAgain: this.flaws.has('fulfil-twice'), ignoreAmount: this.flaws.has('ignore-amount') },
    );
    if (outcome === 'refund_due') {
      const order = this.orders.row(number);
      if (order) await this.refundDue(order);
    }
    return outcome;
  }
}
