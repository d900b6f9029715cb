/**
 * The stripe personality: enough of Stripe's API v1 that the official `stripe` npm client (23.x,
 * and 13.x for shops that pin it) works against it unchanged, pointed at it with `host`, `port`
 * and `protocol: 'http'` (PROVIDERS.md §4).
 *
 * - Requests: `Authorization: Bearer <the run's sk_test_…>` (a publishable key only where Stripe.js
 *   may use one: confirm and retrieve, with the client secret); form-encoded parameters with
 *   nested keys; JSON answers with `Request-Id` and `Stripe-Version` (the one the request named).
 * - PaymentIntents, Refunds, webhook endpoints (`./stripe-intents.ts`, `./stripe-refunds.ts`);
 *   `Idempotency-Key` (`./stripe-idempotency.ts`); errors (`./stripe-errors.ts`).
 * - 3-D Secure: `requires_action` with `next_action.redirect_to_url` to `/three_d_secure/:id`, the
 *   page the buyer completes (the core's verification).
 * - Webhooks: signed `Event` POSTs to the registered endpoint (`./stripe-webhooks.ts`), any 2xx
 *   acknowledging.
 * - The cashier: the buyer's Stripe.js confirm (`./stripe-cashier.ts`).
 *
 * Where it knowingly differs from Stripe (the core's model, or more than a shop needs): one
 * PaymentIntent per order (a second create for the same `metadata[order_id]` returns the first; one
 * with another amount is `resource_already_exists`); a declined intent cannot be paid again; search
 * sees writes at once; only `order_id`, `buyer_id` and `buyer_region` metadata are echoed; no partial
 * capture, no amount updates; events are `payment_intent.succeeded`, `.payment_failed` and
 * `.amount_capturable_updated`, each to the most recently registered endpoint subscribed to it;
 * JSON request bodies are read too (the harness's cashier sends JSON).
 */
import type { MockReply, MockRequest } from '../../mock-types.js';
import { buyerRoute, outside } from '../../run-credentials.js';
import type { FaultSubject, SubjectAwareRoute } from '../../transport-faults.js';
import { refusal, type PaymentOperation, type PaymentRefusal } from '../answers.js';
import type { PaymentCore } from '../core.js';
import type { StripeCredentials } from '../credentials.js';
import type { PaymentNotice } from '../notices.js';
import {
  renderAnswer,
  type CallbackAck,
  type CallbackRequest,
  type NoticeSigning,
  type PaymentPersonality,
  type PaymentSite,
} from '../personality.js';
import { STRIPE_FAULT_FORMS } from './stripe-fault-forms.js';
import { StripeCashier } from './stripe-cashier.js';
import { invalidRequest, refusalReply, resourceMissing, stripeError } from './stripe-errors.js';
import { IdempotencyKeys, MAX_IDEMPOTENCY_KEY_LENGTH } from './stripe-idempotency.js';
import { IntentApi, payerOfEmail, type ApiCall, type Outcome } from './stripe-intents.js';
import { DEFAULT_API_VERSION, tradeNoOfId, type IntentNote } from './stripe-objects.js';
import { fingerprint, metadataOf, requestParams, stringParam } from './stripe-params.js';
import { RefundApi, WebhookEndpointApi } from './stripe-refunds.js';
import { renderWebhook, WebhookEndpoints } from './stripe-webhooks.js';


/**
 * Stripe's retries of an unacknowledged event: "for up to three days with an exponential back
 * off" (live mode; the gaps are not published). Ordeal's schedule: 1 minute doubling to 8 h 32 m
 * (ten gaps, 17 h), then every 12 hours, the last attempt at 72 h. 16 attempts in all.
 */
export const STRIPE_RETRY_GAPS_MS: readonly number[] = [
  ...Array.from({ length: 10 }, (_, index) => 60_000 * 2 ** index),
  ...Array.from({ length: 4 }, () => 12 * 3_600_000),
  72 * 3_600_000 - (1023 * 60_000 + 4 * 12 * 3_600_000),
];

const ACK_ANY_2XX: CallbackAck = { readBody: false, acknowledged: (status) => status >= 200 && status < 300 };

type Caller = ApiCall['caller'];

/** The key an `Authorization` header carries: `Bearer <key>`, or Basic with the key as the user name. */
function apiKeyOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const [scheme = '', value = ''] = header.trim().split(/\s+/, 2);
  if (/^bearer$/i.test(scheme)) return value;
  if (/^basic$/i.test(scheme)) return Buffer.from(value, 'base64').toString('utf8').split(':')[0];
  return undefined;
}

function masked(key: string): string {
  return key.length <= 12 ? key.replace(/./g, '*') : `${key.slice(0, 8)}${'*'.repeat(key.length - 12)}${key.slice(-4)}`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

export class StripePersonality implements PaymentPersonality {
  readonly protocol = 'stripe';
  readonly faultForms = STRIPE_FAULT_FORMS;
  readonly callbackAck = ACK_ANY_2XX;
  readonly callbackRetryGapsMs = STRIPE_RETRY_GAPS_MS;
  readonly cashier: StripeCashier;
  /** The account's webhook endpoints. */
  readonly endpoints: WebhookEndpoints;
  private readonly notes = new Map<string, IntentNote>();
  private readonly keys = new IdempotencyKeys();
  private readonly forgedSecret: string;
  private site: PaymentSite = { baseUrl: '' };
  private requests = 0;

  constructor(private readonly credentials: StripeCredentials) {
    this.cashier = new StripeCashier(credentials);
    this.endpoints = new WebhookEndpoints(credentials.webhookSecret);
    // Another endpoint's secret: the same shape, so only the signature gives a forgery away.
    this.forgedSecret = `whsec_${[...credentials.webhookSecret.slice('whsec_'.length)].reverse().join('')}x`;
  }

  routes(core: PaymentCore, site: PaymentSite): SubjectAwareRoute[] {
    this.site = site;
    const nowS = (): number => Math.floor(Date.now() / 1000);
    const intents = new IntentApi({ core, site, credentials: this.credentials, endpoints: this.endpoints, notes: this.notes, nowS });
    const refunds = new RefundApi(core, nowS);
    const endpoints = new WebhookEndpointApi(this.endpoints, nowS);
    const byIntent = (request: MockRequest): FaultSubject => core.subjectOfTrade(tradeNoOfId(request.params.intent, 'pi_'));
    const byOrder = (request: MockRequest): FaultSubject => {
      const { order_id: orderId, buyer_id: buyerId } = metadataOf(requestParams(request));
      return { ...(orderId === undefined ? {} : { orderId }), ...(buyerId === undefined ? {} : { buyerId }) };
    };
    const byPayer = (request: MockRequest): FaultSubject => {
      const found = byIntent(request);
      const payerId = payerOfEmail(stringParam(requestParams(request), 'receipt_email'));
      return payerId === undefined ? found : { ...found, buyerId: payerId };
    };
    const byRefund = (request: MockRequest): FaultSubject => {
      const params = requestParams(request);
      return core.subjectOfTrade(tradeNoOfId(stringParam(params, 'payment_intent'), 'pi_') || tradeNoOfId(stringParam(params, 'charge'), 'ch_'));
    };
    return [
      this.route('POST', '/v1/payment_intents', 'create', 'secret', (call) => intents.create(call), byOrder),
      this.route('GET', '/v1/payment_intents/search', 'query', 'secret', (call) => intents.search(call)),
      this.route('GET', '/v1/payment_intents/:intent', 'query', 'either', (call) => intents.retrieve(call), byIntent),
      this.route('POST', '/v1/payment_intents/:intent', 'update', 'secret', (call) => intents.update(call), byIntent),
      this.route('POST', '/v1/payment_intents/:intent/confirm', 'pay', 'either', (call) => intents.confirm(call), byPayer),
      this.route('POST', '/v1/payment_intents/:intent/capture', 'capture', 'secret', (call) => intents.capture(call), byIntent),
      this.route('POST', '/v1/payment_intents/:intent/cancel', 'close', 'secret', (call) => intents.cancel(call), byIntent),
      this.route('POST', '/v1/refunds', 'refund', 'secret', (call) => refunds.create(call), byRefund),
      this.route('GET', '/v1/refunds/:refund', 'refund', 'secret', (call) => refunds.retrieve(call)),
      this.route('POST', '/v1/webhook_endpoints', 'webhook_endpoints', 'secret', (call) => endpoints.create(call)),
      this.route('GET', '/v1/webhook_endpoints', 'webhook_endpoints', 'secret', () => endpoints.list()),
      this.route('GET', '/v1/webhook_endpoints/:endpoint', 'webhook_endpoints', 'secret', (call) => endpoints.retrieve(call)),
      this.route('DELETE', '/v1/webhook_endpoints/:endpoint', 'webhook_endpoints', 'secret', (call) => endpoints.remove(call)),
      ...(['GET', 'POST', 'DELETE'] as const).map((method) =>
        this.route(method, '/v1/*', 'unknown', 'either', (call) => ({
          reply: stripeError(404, {
            type: 'invalid_request_error',
            message: `Unrecognized request URL (${method}: ${call.target.split('?')[0] ?? ''}). Ordeal's Stripe personality serves PaymentIntents, Refunds and webhook endpoints.`,
          }),
          save: false,
        })),
      ),
      ...this.threeDSecureRoutes(core),
    ];
  }

  renderRefusal(operation: PaymentOperation, reason: PaymentRefusal): MockReply {
    return refusalReply(operation, reason);
  }

  renderCallback(notifyUrl: string, notice: PaymentNotice, signing: NoticeSigning, nowS: number): CallbackRequest {
    return renderWebhook(notifyUrl, notice, signing, nowS, {
      secret: this.credentials.webhookSecret,
      forgedSecret: this.forgedSecret,
      secretKey: this.credentials.secretKey,
      baseUrl: this.site.baseUrl,
      endpoints: this.endpoints,
      note: this.notes.get(notice.tradeNo),
    });
  }

  /** Which key a request carries: the secret key, the publishable one (where `allowed`), else Stripe's 401. */
  private authenticate(request: MockRequest, operation: PaymentOperation, allowed: 'secret' | 'either'): Caller | MockReply {
    const key = apiKeyOf(request.headers.authorization);
    const refuse = (message: string, reason = 'wrong API key'): MockReply => outside(refusalReply(operation, refusal('INVALID_SIGNATURE', 401, message)), reason);
    if (key === undefined || key === '') {
      return refuse(
        "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details.",
        'no API key',
      );
    }
    if (key === this.credentials.secretKey) return 'secret';
    if (key === this.credentials.publishableKey) {
      if (allowed === 'either') return 'publishable';
      return refuse('This API call cannot be made with a publishable API key. Please use a secret API key. You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys.', 'a publishable key where the secret key is needed');
    }
    return refuse(`Invalid API Key provided: ${masked(key)}`);
  }

  /** A route: authenticated, parameters parsed, `Idempotency-Key` honoured, Stripe's headers on every answer. */
  private route(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    name: string,
    allowed: 'secret' | 'either',
    handle: (call: ApiCall) => Outcome,
    subjectOf?: (request: MockRequest) => FaultSubject,
  ): SubjectAwareRoute {
    const operation = (['create', 'query', 'close', 'refund', 'pay'].includes(name) ? name : 'query') as PaymentOperation;
    return {
      method,
      path,
      name,
      ...(subjectOf ? { subjectOf } : {}),
      handle: (request) => {
        const requestId = `req_${(++this.requests).toString(36).padStart(14, '0')}`;
        const apiVersion = request.headers['stripe-version'] ?? DEFAULT_API_VERSION;
        const key = method === 'POST' ? request.headers['idempotency-key'] : undefined;
        const stamp = (reply: MockReply): MockReply => ({
          ...reply,
          headers: { 'request-id': requestId, 'stripe-version': apiVersion, ...(key === undefined ? {} : { 'idempotency-key': key }), ...reply.headers },
        });
        const caller = this.authenticate(request, operation, allowed);
        if (typeof caller !== 'string') return stamp(caller);
        const params = requestParams(request);
        const print = `${method} ${request.path}\n${fingerprint(params)}`;
        if (key !== undefined) {
          if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) return stamp(invalidRequest(`Idempotency-Key must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters long.`, 'Idempotency-Key'));
          const found = this.keys.lookup(key, print);
          if (found.kind === 'replay') return stamp(found.reply);
          if (found.kind === 'in_progress') {
            return stamp(
              stripeError(409, {
                type: 'idempotency_error',
                code: 'idempotency_key_in_use',
                message: `There is currently another in-progress request using this Idempotency-Key (that probably means you submitted twice, and the other request is still going through): ${key}. Please try again later.`,
              }),
            );
          }
          if (found.kind === 'mismatch') {
            return stamp(
              stripeError(400, {
                type: 'idempotency_error',
                message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
              }),
            );
          }
        }
        const outcome = handle({ params, path: request.params, target: request.target, caller, apiVersion, idempotencyKey: key });
        const reply = stamp(outcome.reply);
        if (key !== undefined && outcome.save) this.keys.save(key, print, reply, requestId);
        return reply;
      },
    };
  }

  /** The 3-D Secure page the buyer is sent to (`next_action.redirect_to_url`) and the form that completes it. */
  private threeDSecureRoutes(core: PaymentCore): SubjectAwareRoute[] {
    const html = (status: number, text: string): MockReply => ({ status, headers: { 'content-type': 'text/html; charset=utf-8' }, body: text });
    return [
      {
        method: 'GET',
        path: '/three_d_secure/:verificationId',
        name: 'verification',
        handle: (request) => {
          const id = request.params.verificationId ?? '';
          const intent = request.query.payment_intent ?? '';
          return html(
            200,
            [
              '<!doctype html>',
              '<html lang="en"><head><meta charset="utf-8"><title>3D Secure 2 Test Page</title></head><body>',
              `<h1>Authenticate the payment ${escapeHtml(intent)}</h1>`,
              `<form method="post" action="/three_d_secure/${encodeURIComponent(id)}/complete?payment_intent=${encodeURIComponent(intent)}">`,
              '<button type="submit">Complete authentication</button>',
              '</form></body></html>',
            ].join('\n'),
          );
        },
        subjectOf: (request) => core.subjectOfVerification(request.params.verificationId),
      },
      // The buyer's step (Stripe.js in the buyer's browser): Ordeal's buyers carry the run's buyer token.
      buyerRoute({
        method: 'POST',
        path: '/three_d_secure/:verificationId/complete',
        name: 'verification',
        handle: (request) => {
          const id = request.params.verificationId ?? '';
          const intentId = request.query.payment_intent ?? '';
          return renderAnswer(
            { renderRefusal: (operation, reason) => (reason.code === 'VERIFICATION_NOT_EXIST' ? resourceMissing('three_d_secure', id, 'id') : refusalReply(operation, reason, { id: intentId })) },
            'verification',
            core.completeVerification(id),
            () => ({ status: 200, body: { redirect_status: 'succeeded', ...(intentId === '' ? {} : { payment_intent: intentId }) } }),
          );
        },
        subjectOf: (request) => core.subjectOfVerification(request.params.verificationId),
      }),
    ];
  }
}
