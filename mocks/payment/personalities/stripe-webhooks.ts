/**
 * Stripe's webhooks: the endpoints a merchant registers (`POST /v1/webhook_endpoints`, as shop
 * plugins do at setup — Stripe sends events to the account's endpoints, not to a per-payment URL)
 * and the signed `Event` POSTs sent to them.
 *
 * Signing: `Stripe-Signature: t=<unix s>,v1=<hex HMAC-SHA256(endpoint secret, "<t>.<body>")>`, the
 * secret being the whole `whsec_…` string (stripe-node's `constructEvent` computes exactly that).
 * A forged event is signed with another secret; a replayed one with a genuine signature `ageS`
 * old, which `constructEvent`'s default 300 s tolerance refuses.
 */
import { createHmac } from 'node:crypto';
import { isReachableUrl } from '../../../core/network-scope.js';
import type { CallbackRequest, NoticeSigning, PaymentNotice } from '../notices.js';
import {
  DEFAULT_API_VERSION,
  eventIdOf,
  eventObject,
  intentObject,
  type IntentFacts,
  type IntentNote,
  type StripeObject,
} from './stripe-objects.js';

/** Where the core sends a trade's notices while no endpoint is registered: nothing listens there (port 9, discard). */
export const NO_ENDPOINT_URL = 'http://127.0.0.1:9/no-stripe-webhook-endpoint';

/** The event types this personality sends. */
export const EVENT_TYPES = ['payment_intent.succeeded', 'payment_intent.payment_failed', 'payment_intent.amount_capturable_updated'] as const;

export interface WebhookEndpoint {
  id: string;
  url: string;
  /** `*` or event types. */
  enabledEvents: string[];
  apiVersion: string;
  description: string | null;
  metadata: Record<string, string>;
  createdS: number;
  status: 'enabled' | 'disabled';
}

/** The account's webhook endpoints, in registration order. */
export class WebhookEndpoints {
  private readonly endpoints: WebhookEndpoint[] = [];

  constructor(private readonly secret: string) {}

  add(input: Omit<WebhookEndpoint, 'id' | 'status'>): WebhookEndpoint {
    const endpoint: WebhookEndpoint = { ...input, id: `we_${String(this.endpoints.length + 1).padStart(10, '0')}`, status: 'enabled' };
    this.endpoints.push(endpoint);
    return endpoint;
  }

  find(id: string | undefined): WebhookEndpoint | undefined {
    return this.endpoints.find((endpoint) => endpoint.id === id);
  }

  list(): readonly WebhookEndpoint[] {
    return this.endpoints;
  }

  remove(id: string): boolean {
    const index = this.endpoints.findIndex((endpoint) => endpoint.id === id);
    if (index < 0) return false;
    this.endpoints.splice(index, 1);
    return true;
  }

  /**
   * The endpoint an event of `type` goes to: the most recently registered enabled one that
   * subscribes to it. (Stripe sends to every such endpoint; the dispatcher delivers one copy, and
   * a shop restarted on a new port registers a new one, which should get it.)
   */
  endpointFor(type: string): WebhookEndpoint | undefined {
    for (let index = this.endpoints.length - 1; index >= 0; index--) {
      const endpoint = this.endpoints[index] as WebhookEndpoint;
      if (endpoint.status === 'enabled' && (endpoint.enabledEvents.includes('*') || endpoint.enabledEvents.includes(type))) return endpoint;
    }
    return undefined;
  }

  /** The URL new trades' notices are addressed to (re-resolved when each is sent). */
  currentUrl(): string {
    return this.endpointFor(EVENT_TYPES[0])?.url ?? NO_ENDPOINT_URL;
  }

  /** The endpoint as the API shows it; `withSecret` only in the answer that created it, as on Stripe. */
  render(endpoint: WebhookEndpoint, withSecret: boolean): StripeObject {
    return {
      id: endpoint.id,
      object: 'webhook_endpoint',
      api_version: endpoint.apiVersion,
      application: null,
      created: endpoint.createdS,
      description: endpoint.description,
      enabled_events: endpoint.enabledEvents,
      livemode: false,
      metadata: endpoint.metadata,
      ...(withSecret ? { secret: this.secret } : {}),
      status: endpoint.status,
      url: endpoint.url,
    };
  }
}

/** Whether an endpoint URL can be registered: Ordeal only ever calls back to loopback (or, in a cluster run, the cluster's own network). */
export function acceptableEndpointUrl(url: string): boolean {
  return isReachableUrl(url);
}

/** `t=<t>,v1=<hex>` over `<t>.<body>` with `secret`. */
export function stripeSignature(secret: string, body: string, t: number): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

/** The event type a notice becomes. */
export function eventTypeOf(notice: PaymentNotice, note: IntentNote | undefined): (typeof EVENT_TYPES)[number] {
  if (notice.status === 'PAY_FAILED') return 'payment_intent.payment_failed';
  return note?.manual && !note.captured ? 'payment_intent.amount_capturable_updated' : 'payment_intent.succeeded';
}

export interface WebhookRendering {
  /** The whsec_… secret genuine events are signed with, and the one forgeries are. */
  secret: string;
  forgedSecret: string;
  secretKey: string;
  baseUrl: string;
  endpoints: WebhookEndpoints;
  note: IntentNote | undefined;
}

/**
 * A notice as the Event POST to the endpoint subscribed to it (else to `notifyUrl`). The event id
 * follows the notice (stable across retries and duplicate copies, as Stripe's are); the body is
 * pretty-printed JSON as Stripe sends it, signed anew at each attempt.
 */
export function renderWebhook(notifyUrl: string, notice: PaymentNotice, signing: NoticeSigning, nowS: number, context: WebhookRendering): CallbackRequest {
  const type = eventTypeOf(notice, context.note);
  const endpoint = context.endpoints.endpointFor(type);
  const apiVersion = endpoint?.apiVersion ?? DEFAULT_API_VERSION;
  const createdS = notice.paidAt === undefined ? nowS : Math.floor(Date.parse(notice.paidAt) / 1000);
  const bodyFor = (amount: number): string => {
    const facts: IntentFacts = {
      tradeNo: notice.tradeNo,
      outTradeNo: notice.outTradeNo,
      amount,
      currency: notice.currency,
      subject: notice.subject,
      method: notice.method,
      createdS,
      status: notice.status,
      ...(notice.paidAt === undefined ? {} : { paidAt: notice.paidAt }),
      ...(notice.failCode === undefined ? {} : { failCode: notice.failCode }),
      refunded: 0,
    };
    const object = intentObject(facts, context.note, { secretKey: context.secretKey, baseUrl: context.baseUrl, apiVersion, nowS });
    // Pretty-printed, as Stripe sends it: a shop that re-serializes the body before verifying fails.
    return JSON.stringify(eventObject(eventIdOf(notice.notifyId), type, object, createdS, apiVersion), null, 2);
  };
  const body = bodyFor(notice.amount);
  const signature =
    signing.kind === 'forged'
      ? stripeSignature(context.forgedSecret, body, nowS)
      : signing.kind === 'altered'
        ? stripeSignature(context.secret, bodyFor(signing.signedAmount), nowS)
        : stripeSignature(context.secret, body, signing.kind === 'replayed' ? nowS - signing.ageS : nowS);
  return {
    method: 'POST',
    url: endpoint?.url ?? notifyUrl,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
      'stripe-signature': signature,
    },
    body,
  };
}
