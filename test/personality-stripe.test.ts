/**
 * The stripe personality judged by the official client, `stripe` 23.x and the older major 13.x
 * (`stripe-v13`), over real sockets: PaymentIntents (create, retrieve, search, update, confirm,
 * capture, cancel), Refunds, the test payment methods (declines, 3-D Secure), `Idempotency-Key`,
 * the error classes the clients raise, webhooks `constructEvent` accepts or rejects, and each
 * payment fault's form on the wire.
 */
import { createRequire } from 'node:module';
import Fastify from 'fastify';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { FAULT_IDS } from '../core/faults/index.js';
import { HttpClient } from '../core/http-client.js';
import { MemoryJournal } from '../core/journal.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { startMocks, type MockSet } from '../mocks/index.js';
import { newChannel, type StripeCredentials } from '../mocks/payment/credentials.js';
import type { PaymentNotice } from '../mocks/payment/notices.js';
import { STRIPE_FAULT_FORMS } from '../mocks/payment/personalities/stripe-fault-forms.js';
import { StripePersonality, STRIPE_RETRY_GAPS_MS } from '../mocks/payment/personalities/stripe.js';
import { cleanupAfterEach, type Defer } from './helpers/cleanups.js';
import { eventsOf, faultsOf, waitForEvent } from './helpers/journal.js';
import { listenOnLoopback, mockScenario, trustMocks } from './helpers/mocks.js';

const defer = cleanupAfterEach();

// stripe-v13's own typings declare the module 'stripe' (and would shadow 23.x's), so it is loaded
// untyped and given 23.x's constructor type: the calls used here have the same shape in both majors.
const StripeV13 = createRequire(import.meta.url)('stripe-v13') as typeof Stripe;

/**
 * Each major with the Stripe-Version it sends, its name for the payment method types a create
 * allows, and whether it puts an Idempotency-Key on every POST (23.x does; 13.x only when it may retry).
 */
const MAJORS = [
  { major: 'stripe 23', Client: Stripe, apiVersion: '2026-11-18.endive', typesParam: 'allowed_payment_method_types', keysEveryPost: true },
  { major: 'stripe 13', Client: StripeV13, apiVersion: '2023-08-16', typesParam: 'payment_method_types', keysEveryPost: false },
] as const;

interface Webhook {
  raw: string;
  signature: string;
  event: { id: string; type: string; data: { object: Record<string, unknown> } };
}

/** A shop's webhook endpoint: keeps each delivery's raw body and signature, answers 200. */
async function startWebhookReceiver(): Promise<{ url: string; received: Webhook[]; next(): Promise<Webhook> }> {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  const received: Webhook[] = [];
  const waiting: Array<(webhook: Webhook) => void> = [];
  let taken = 0;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  app.post('/stripe/webhook', (request, reply) => {
    const raw = String(request.body);
    const webhook: Webhook = { raw, signature: String(request.headers['stripe-signature'] ?? ''), event: JSON.parse(raw) as Webhook['event'] };
    received.push(webhook);
    waiting.shift()?.(webhook);
    return reply.code(200).send({ received: true });
  });
  const url = `${await listenOnLoopback(app, defer)}/stripe/webhook`;
  return {
    url,
    received,
    next: () => {
      const ready = received[taken];
      taken += 1;
      if (ready) return Promise.resolve(ready);
      return new Promise<Webhook>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no webhook within 5 s')), 5000);
        waiting.push((webhook) => {
          clearTimeout(timer);
          resolve(webhook);
        });
      });
    },
  };
}

interface World {
  mocks: MockSet;
  journal: MemoryJournal;
  credentials: StripeCredentials;
  url: string;
  client(Client: typeof Stripe, options?: { timeout?: number; key?: string }): Stripe;
}

async function startWorld(faults: unknown[] = []): Promise<World> {
  const scenario = mockScenario({ name: 'stripe', faults });
  const journal = new MemoryJournal();
  const channel = newChannel('stripe');
  if (channel.protocol !== 'stripe') throw new Error('expected a stripe channel');
  const mocks = await startMocks({ scenario, journal, plan: new FaultPlan(scenario.faults, scenario.seed), channel, callbackRetryDelays: [50, 100] });
  defer(() => mocks.close());
  trustMocks(defer, mocks);
  const url = new URL(mocks.urls.payment);
  return {
    mocks,
    journal,
    credentials: channel.credentials,
    url: mocks.urls.payment,
    client: (Client, options = {}) =>
      new Client(options.key ?? channel.credentials.secretKey, {
        host: url.hostname,
        port: Number(url.port),
        protocol: 'http',
        maxNetworkRetries: 0,
        telemetry: false,
        ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
      }),
  };
}

let orders = 0;
/** A fresh order's create parameters, allowing cards under the name the major uses (13.x: `payment_method_types`, not in 23.x's types). */
function intentParams(
  overrides: Partial<Stripe.PaymentIntentCreateParams> = {},
  typesParam: (typeof MAJORS)[number]['typesParam'] = 'allowed_payment_method_types',
): Stripe.PaymentIntentCreateParams & { metadata: { order_id: string; buyer_id: string } } {
  orders += 1;
  const types: object = { [typesParam]: ['card'] };
  return {
    amount: 3000,
    currency: 'cny',
    description: 'Monthly card',
    ...types,
    ...overrides,
    metadata: { order_id: `O-${orders}`, buyer_id: `buyer-${orders}` },
  };
}

/** What a call threw (fails the test when it did not throw). */
async function failure(call: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await call;
  } catch (error) {
    return error as Stripe.errors.StripeError;
  }
  throw new Error('expected the call to fail');
}

/** The buyer pays at the cashier: the confirm Stripe.js would send, over the harness's own client. */
async function buyerPays(world: World, intentId: string, payerId: string): Promise<ReturnType<World['mocks']['cashier']['readPayAnswer']> & { status: number | undefined }> {
  const client = new HttpClient();
  defer(() => client.close());
  const request = world.mocks.cashier.payRequest({ providerUrl: world.url, tradeNo: intentId, payerId, method: 'card' });
  const answer = await client.send(request.method, request.url, request.body, request.headers);
  return { ...world.mocks.cashier.readPayAnswer(answer.status, answer.body), status: answer.status };
}

describe.each(MAJORS)('$major against the stripe personality', ({ Client, apiVersion, typesParam, keysEveryPost }) => {
  it('creates, retrieves, finds, is paid by the buyer, and refunds — with the Stripe-Version the client sends echoed', async () => {
    const world = await startWorld();
    const stripe = world.client(Client);
    const receiver = await startWebhookReceiver();
    const endpoint = await stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: ['payment_intent.succeeded', 'payment_intent.payment_failed'] });
    expect(endpoint.secret).toBe(world.credentials.webhookSecret);

    const params = intentParams({}, typesParam);
    const created = await stripe.paymentIntents.create(params, { idempotencyKey: `create-${params.metadata.order_id}` });
    expect(created).toMatchObject({ object: 'payment_intent', amount: 3000, currency: 'cny', status: 'requires_payment_method', metadata: params.metadata, latest_charge: null });
    expect(created.id).toMatch(/^pi_/);
    expect(created.client_secret).toMatch(new RegExp(`^${created.id}_secret_[0-9a-f]{24}$`));
    expect(created.lastResponse.requestId).toMatch(/^req_/);
    expect(created.lastResponse.apiVersion).toBe(apiVersion);
    expect(world.mocks.payment.tradeByOrder(params.metadata.order_id)).toMatchObject({ amount: 3000, currency: 'CNY', method: 'card', payer: { id: params.metadata.buyer_id } });

    expect(await stripe.paymentIntents.retrieve(created.id)).toMatchObject({ id: created.id, status: 'requires_payment_method' });
    const search = await stripe.paymentIntents.search({ query: `metadata['order_id']:'${params.metadata.order_id}'` });
    expect(search.data.map((intent) => intent.id)).toEqual([created.id]);
    expect((await stripe.paymentIntents.search({ query: "metadata['order_id']:'no-such-order'" })).data).toEqual([]);

    const paid = await buyerPays(world, created.id, params.metadata.buyer_id);
    expect(paid).toMatchObject({ outcome: 'paid', status: 200, tradeNo: world.mocks.payment.tradeByOrder(params.metadata.order_id)?.tradeNo });
    const webhook = await receiver.next();
    const event = stripe.webhooks.constructEvent(webhook.raw, webhook.signature, world.credentials.webhookSecret);
    expect(event.type).toBe('payment_intent.succeeded');
    expect(event.data.object).toMatchObject({ id: created.id, status: 'succeeded', amount_received: 3000, metadata: { order_id: params.metadata.order_id } });

    const settled = await stripe.paymentIntents.retrieve(created.id, { expand: ['latest_charge'] });
    expect(settled).toMatchObject({ status: 'succeeded', amount_received: 3000, latest_charge: { object: 'charge', amount: 3000, amount_refunded: 0, paid: true } });

    const refund = await stripe.refunds.create({ payment_intent: created.id, amount: 1000 }, { idempotencyKey: `${params.metadata.order_id}-r1` });
    expect(refund).toMatchObject({ object: 'refund', amount: 1000, status: 'succeeded', payment_intent: created.id });
    expect(await stripe.refunds.retrieve(refund.id)).toMatchObject({ id: refund.id, amount: 1000 });
    // No amount: whatever is left.
    expect(await stripe.refunds.create({ payment_intent: created.id })).toMatchObject({ amount: 2000 });
    const again = await failure(stripe.refunds.create({ payment_intent: created.id, amount: 1 }));
    expect(again).toMatchObject({ type: 'StripeInvalidRequestError', code: 'charge_already_refunded', statusCode: 400 });
    expect((await stripe.paymentIntents.retrieve(created.id, { expand: ['latest_charge'] })).latest_charge).toMatchObject({ amount_refunded: 3000, refunded: true });
    expect(world.mocks.payment.totals()).toMatchObject({ captured: 3000, refunded: 3000 });

    // A paid intent cannot be canceled: the error carries the intent as it stands.
    const cancel = await failure(stripe.paymentIntents.cancel(created.id));
    expect(cancel).toMatchObject({ type: 'StripeInvalidRequestError', code: 'payment_intent_unexpected_state', statusCode: 400 });
    expect(cancel.payment_intent?.status).toBe('succeeded');
  });

  it('cancels an unpaid intent, after which neither the buyer nor the shop can confirm it', async () => {
    const world = await startWorld();
    const stripe = world.client(Client);
    const params = intentParams({}, typesParam);
    const created = await stripe.paymentIntents.create(params);
    // Echoed back: the key the client put on the request on its own, if any.
    if (keysEveryPost) expect(created.lastResponse.idempotencyKey).toMatch(/^stripe-node-retry-/);
    else expect(created.lastResponse.idempotencyKey).toBeUndefined();
    expect(await stripe.paymentIntents.update(created.id, { metadata: { note: 'x' } })).toMatchObject({ id: created.id });
    const canceled = await stripe.paymentIntents.cancel(created.id, { cancellation_reason: 'abandoned' });
    expect(canceled).toMatchObject({ status: 'canceled', cancellation_reason: 'abandoned' });
    expect(await buyerPays(world, created.id, params.metadata.buyer_id)).toMatchObject({ outcome: 'unknown', code: 'TRADE_CLOSED', status: 400 });
    const confirm = await failure(stripe.paymentIntents.confirm(created.id, { payment_method: 'pm_card_visa' }));
    expect(confirm).toMatchObject({ type: 'StripeInvalidRequestError', code: 'payment_intent_unexpected_state' });
    expect(world.mocks.payment.tradeByOrder(params.metadata.order_id)?.status).toBe('TRADE_CLOSED');
  });

  it('test payment methods: pm_card_visa succeeds, the declining ones raise StripeCardError with their decline codes', async () => {
    const world = await startWorld();
    const stripe = world.client(Client);
    const visa = await stripe.paymentIntents.create(intentParams({}, typesParam));
    expect(await stripe.paymentIntents.confirm(visa.id, { payment_method: 'pm_card_visa' })).toMatchObject({ status: 'succeeded', amount_received: 3000 });
    // Confirming in the same call as creating.
    expect(await stripe.paymentIntents.create(intentParams({ payment_method: 'pm_card_visa', confirm: true }, typesParam))).toMatchObject({ status: 'succeeded' });

    for (const [paymentMethod, declineCode] of [
      ['pm_card_chargeDeclined', 'generic_decline'],
      ['pm_card_chargeDeclinedInsufficientFunds', 'insufficient_funds'],
    ] as const) {
      const intent = await stripe.paymentIntents.create(intentParams({}, typesParam));
      const declined = await failure(stripe.paymentIntents.confirm(intent.id, { payment_method: paymentMethod }));
      expect(declined).toMatchObject({ type: 'StripeCardError', rawType: 'card_error', code: 'card_declined', decline_code: declineCode, statusCode: 402 });
      expect(declined.payment_intent).toMatchObject({ id: intent.id, status: 'requires_payment_method' });
      const after = await stripe.paymentIntents.retrieve(intent.id);
      expect(after.status).toBe('requires_payment_method');
      expect(after.last_payment_error).toMatchObject({ type: 'card_error', code: 'card_declined', decline_code: declineCode });
    }
    const unknown = await failure(stripe.paymentIntents.confirm(visa.id, { payment_method: 'pm_no_such_method' }));
    expect(unknown).toMatchObject({ type: 'StripeInvalidRequestError', code: 'resource_missing', param: 'payment_method' });
  });

  it('pm_card_authenticationRequired asks for 3-D Secure: requires_action, a page the buyer completes, then succeeded', async () => {
    const world = await startWorld();
    const stripe = world.client(Client);
    const intent = await stripe.paymentIntents.create(intentParams({}, typesParam));
    const pending = await stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_authenticationRequired' });
    expect(pending.status).toBe('requires_action');
    expect(pending.next_action?.type).toBe('redirect_to_url');
    const redirect = pending.next_action?.redirect_to_url?.url ?? '';
    expect(redirect.startsWith(`${world.url}/three_d_secure/`)).toBe(true);
    const page = await fetch(redirect);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Complete authentication');
    expect((await stripe.paymentIntents.retrieve(intent.id)).status).toBe('requires_action');

    const answer = world.mocks.cashier.readPayAnswer(200, pending);
    expect(answer.outcome).toBe('verifying');
    const client = new HttpClient();
    defer(() => client.close());
    const complete = world.mocks.cashier.verificationRequest({ providerUrl: world.url, verificationId: answer.verificationId ?? '' });
    const completed = await client.send(complete.method, complete.url, complete.body, complete.headers);
    expect(world.mocks.cashier.readVerificationAnswer(completed.status, completed.body)).toEqual({ outcome: 'paid' });
    expect(await stripe.paymentIntents.retrieve(intent.id)).toMatchObject({ status: 'succeeded', next_action: null });
  });

  it('Idempotency-Key: the same parameters replay the first answer, others are an idempotency error', async () => {
    const world = await startWorld();
    const stripe = world.client(Client);
    const params = intentParams({}, typesParam);
    const first = await stripe.paymentIntents.create(params, { idempotencyKey: 'key-1' });
    const replay = await stripe.paymentIntents.create(params, { idempotencyKey: 'key-1' });
    expect(replay.id).toBe(first.id);
    expect(replay.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(first.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    expect(eventsOf(world.journal, 'payment.trade.created', params.metadata.order_id)).toHaveLength(1);

    const conflict = await failure(stripe.paymentIntents.create({ ...params, amount: 4000 }, { idempotencyKey: 'key-1' }));
    expect(conflict).toMatchObject({ type: 'StripeIdempotencyError', rawType: 'idempotency_error', statusCode: 400 });
    // Another endpoint with the same key is another request too.
    const elsewhere = await failure(stripe.refunds.create({ payment_intent: first.id }, { idempotencyKey: 'key-1' }));
    expect(elsewhere).toMatchObject({ type: 'StripeIdempotencyError' });
  });

  it('raises the error classes Stripe\'s statuses and types map to', async () => {
    const world = await startWorld();
    const stripe = world.client(Client);
    for (const key of ['sk_test_not-the-run-key', world.credentials.publishableKey]) {
      const refused = await failure(world.client(Client, { key }).paymentIntents.create(intentParams({}, typesParam)));
      expect(refused).toMatchObject({ type: 'StripeAuthenticationError', statusCode: 401, rawType: 'invalid_request_error' });
    }
    const missing = await failure(stripe.paymentIntents.retrieve('pi_nothing'));
    expect(missing).toMatchObject({ type: 'StripeInvalidRequestError', code: 'resource_missing', statusCode: 404, param: 'intent' });
    const invalid = await failure(stripe.paymentIntents.create({ ...intentParams({}, typesParam), amount: -5 }));
    expect(invalid).toMatchObject({ type: 'StripeInvalidRequestError', param: 'amount', statusCode: 400 });
    const elsewhere = await failure(stripe.customers.list());
    expect(elsewhere).toMatchObject({ type: 'StripeInvalidRequestError', statusCode: 404 });
    expect(elsewhere.message).toContain('Unrecognized request URL (GET: /v1/customers)');
  });

  it('constructEvent accepts Ordeal\'s webhooks and rejects forged, tampered and stale ones', () => {
    const credentials = newChannel('stripe').credentials as StripeCredentials;
    const personality = new StripePersonality(credentials);
    const nowS = Math.floor(Date.now() / 1000);
    const notice: PaymentNotice = {
      notifyId: 'N0000000009',
      tradeNo: 'T0000000009',
      outTradeNo: 'O-9',
      status: 'TRADE_SUCCESS',
      amount: 3000,
      paidAt: new Date(nowS * 1000).toISOString(),
      currency: 'CNY',
      subject: 'Monthly card',
      method: 'card',
    };
    const webhooks = new Client(credentials.secretKey).webhooks;
    const genuine = personality.renderCallback('http://127.0.0.1:1/hook', notice, { kind: 'genuine' }, nowS);
    const signature = genuine.headers['stripe-signature'] ?? '';
    expect(signature).toMatch(new RegExp(`^t=${nowS},v1=[0-9a-f]{64}$`));
    // The client's own test header for the same body and time is the same signature.
    expect(webhooks.generateTestHeaderString({ payload: genuine.body ?? '', secret: credentials.webhookSecret, timestamp: nowS })).toBe(signature);
    const event = webhooks.constructEvent(genuine.body ?? '', signature, credentials.webhookSecret);
    expect(event).toMatchObject({ id: 'evt_N0000000009', object: 'event', type: 'payment_intent.succeeded', data: { object: { id: 'pi_T0000000009', amount_received: 3000 } } });

    const forged = personality.renderCallback('http://127.0.0.1:1/hook', notice, { kind: 'forged' }, nowS);
    expect(() => webhooks.constructEvent(forged.body ?? '', forged.headers['stripe-signature'] ?? '', credentials.webhookSecret)).toThrow(/signature/i);
    // Altered: the intent's amount on the wire, a signature over the body for 1 cent.
    const altered = personality.renderCallback('http://127.0.0.1:1/hook', notice, { kind: 'altered', signedAmount: 1 }, nowS);
    expect(altered.body).toBe(genuine.body);
    expect(altered.headers['stripe-signature']).not.toBe(signature);
    expect(() => webhooks.constructEvent(altered.body ?? '', altered.headers['stripe-signature'] ?? '', credentials.webhookSecret)).toThrow(/signature/i);
    const tampered = (genuine.body ?? '').replace('"amount_received": 3000', '"amount_received": 1');
    expect(tampered).not.toBe(genuine.body);
    expect(() => webhooks.constructEvent(tampered, signature, credentials.webhookSecret)).toThrow(/signature/i);
    const stale = personality.renderCallback('http://127.0.0.1:1/hook', notice, { kind: 'replayed', ageS: 3600 }, nowS);
    const staleSignature = stale.headers['stripe-signature'] ?? '';
    expect(staleSignature.startsWith(`t=${nowS - 3600},`)).toBe(true);
    expect(() => webhooks.constructEvent(stale.body ?? '', staleSignature, credentials.webhookSecret)).toThrow(/tolerance/);
    // Genuinely signed, only old: with the age check off it verifies.
    expect(webhooks.constructEvent(stale.body ?? '', staleSignature, credentials.webhookSecret, Number.POSITIVE_INFINITY).id).toBe('evt_N0000000009');

    const failed = personality.renderCallback('http://127.0.0.1:1/hook', { ...notice, status: 'PAY_FAILED', paidAt: undefined, failCode: 'LIMIT_DAILY' }, { kind: 'genuine' }, nowS);
    const failedEvent = webhooks.constructEvent(failed.body ?? '', failed.headers['stripe-signature'] ?? '', credentials.webhookSecret);
    expect(failedEvent.type).toBe('payment_intent.payment_failed');
    expect(failedEvent.data.object).toMatchObject({ status: 'requires_payment_method', last_payment_error: { code: 'card_declined', decline_code: 'withdrawal_count_limit_exceeded' } });
  });
});

describe('stripe 23 and the channel faults', () => {
  it('payment.error: 500 api_error (StripeAPIError), 429 rate_limit (StripeRateLimitError) with Retry-After; neither is saved under the key', async () => {
    const world = await startWorld([{ id: 'payment.error', status: 500, times: 1 }]);
    const stripe = world.client(Stripe);
    const params = intentParams();
    const failed = await failure(stripe.paymentIntents.create(params, { idempotencyKey: 'retry-me' }));
    expect(failed).toMatchObject({ type: 'StripeAPIError', rawType: 'api_error', statusCode: 500 });
    expect(failed.headers?.['stripe-should-retry']).toBe('true');
    // The channel failed before anything happened: the same key runs again.
    expect((await stripe.paymentIntents.create(params, { idempotencyKey: 'retry-me' })).lastResponse.headers['idempotent-replayed']).toBeUndefined();

    const limited = await startWorld([{ id: 'payment.error', status: 429, retryAfter: '2s', routes: ['query'] }]);
    const client = limited.client(Stripe);
    const intent = await client.paymentIntents.create(intentParams());
    const rate = await failure(client.paymentIntents.retrieve(intent.id));
    expect(rate).toMatchObject({ type: 'StripeRateLimitError', code: 'rate_limit', statusCode: 429 });
    expect(rate.headers?.['retry-after']).toBe('2');
  });

  it('payment.error with the client\'s own retries: stripe-node retries the 5xx with the same key and gets the trade', async () => {
    const world = await startWorld([{ id: 'payment.error', status: 503, times: 1 }]);
    const url = new URL(world.url);
    const stripe = new Stripe(world.credentials.secretKey, { host: url.hostname, port: Number(url.port), protocol: 'http', maxNetworkRetries: 2, telemetry: false });
    const params = intentParams();
    expect((await stripe.paymentIntents.create(params)).status).toBe('requires_payment_method');
    expect(faultsOf(world.journal, 'payment.error')).toHaveLength(1);
  });

  it('payment.latency: a repeat of a request still under way is 409 idempotency_error; after it, the replay', async () => {
    const world = await startWorld([{ id: 'payment.latency', delay: { fixed: 400 }, routes: ['create'] }]);
    const stripe = world.client(Stripe);
    const params = intentParams();
    const first = stripe.paymentIntents.create(params, { idempotencyKey: 'slow' });
    await waitForEvent(world.journal, 'payment.trade.created');
    const busy = await failure(stripe.paymentIntents.create(params, { idempotencyKey: 'slow' }));
    expect(busy).toMatchObject({ rawType: 'idempotency_error', statusCode: 409 });
    const created = await first;
    expect((await stripe.paymentIntents.create(params, { idempotencyKey: 'slow' })).id).toBe(created.id);
  });

  it('payment.ambiguous: the create takes effect and the connection resets; stripe-node retries once with its key and gets the replay', async () => {
    const world = await startWorld([{ id: 'payment.ambiguous' }]);
    const stripe = world.client(Stripe);
    const params = intentParams();
    const created = await stripe.paymentIntents.create(params);
    expect(created.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(faultsOf(world.journal, 'payment.ambiguous', params.metadata.order_id)).toHaveLength(1);
    expect(eventsOf(world.journal, 'payment.trade.created', params.metadata.order_id)).toHaveLength(1);
  });

  it('payment.timeout: no answer until the client gives up (StripeConnectionError); the retry creates the intent', async () => {
    const world = await startWorld([{ id: 'payment.timeout', times: 1 }]);
    const stripe = world.client(Stripe, { timeout: 300 });
    const params = intentParams();
    const hung = await failure(stripe.paymentIntents.create(params, { idempotencyKey: 'hang' }));
    expect(hung).toMatchObject({ type: 'StripeConnectionError' });
    expect((await stripe.paymentIntents.create(params, { idempotencyKey: 'hang' })).status).toBe('requires_payment_method');
  });
});

describe('payment faults in Stripe\'s words', () => {
  it('declares a form for every payment fault, and a 3-day exponential retry schedule', () => {
    const paymentFaults = FAULT_IDS.filter((id) => id.startsWith('payment.')).sort();
    expect(Object.keys(STRIPE_FAULT_FORMS).sort()).toEqual(paymentFaults);
    for (const form of Object.values(STRIPE_FAULT_FORMS)) expect('shopSees' in form ? form.shopSees : form.inexpressible).not.toBe('');
    expect(STRIPE_RETRY_GAPS_MS).toHaveLength(15);
    expect(STRIPE_RETRY_GAPS_MS.reduce((sum, gap) => sum + gap, 0)).toBe(72 * 3_600_000);
    for (let index = 1; index < 10; index++) expect(STRIPE_RETRY_GAPS_MS[index]).toBe(2 * (STRIPE_RETRY_GAPS_MS[index - 1] ?? 0));
  });

  it.each([
    ['payment.limit.single', 'card_velocity_exceeded', 'LIMIT_SINGLE'],
    ['payment.limit.daily', 'withdrawal_count_limit_exceeded', 'LIMIT_DAILY'],
    ['payment.decline', 'insufficient_funds', 'DECLINED'],
  ] as const)('%s: the buyer\'s confirm is declined with %s; a payment_failed webhook and the retrieve say so', async (fault, declineCode, neutral) => {
    const world = await startWorld([{ id: fault, ...(fault === 'payment.limit.daily' ? { limit: 1000 } : {}) }]);
    const stripe = world.client(Stripe);
    const receiver = await startWebhookReceiver();
    await stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: ['*'] });
    const params = intentParams();
    const intent = await stripe.paymentIntents.create(params);
    expect(await buyerPays(world, intent.id, params.metadata.buyer_id)).toMatchObject({ outcome: 'refused', code: neutral, status: 402 });
    const webhook = await receiver.next();
    const event = stripe.webhooks.constructEvent(webhook.raw, webhook.signature, world.credentials.webhookSecret);
    expect(event.type).toBe('payment_intent.payment_failed');
    expect((await stripe.paymentIntents.retrieve(intent.id)).last_payment_error).toMatchObject({ code: 'card_declined', decline_code: declineCode });
    expect(faultsOf(world.journal, fault, params.metadata.order_id)).toHaveLength(1);
  });

  it('payment.cross_border: create is declined 402 transaction_not_allowed for a buyer abroad', async () => {
    const world = await startWorld([{ id: 'payment.cross_border', home: 'CN' }]);
    const stripe = world.client(Stripe);
    const params = intentParams();
    const declined = await failure(stripe.paymentIntents.create({ ...params, metadata: { ...params.metadata, buyer_region: 'US-CA' } }));
    expect(declined).toMatchObject({ type: 'StripeCardError', code: 'card_declined', decline_code: 'transaction_not_allowed' });
    expect(eventsOf(world.journal, 'payment.trade.refused', params.metadata.order_id)).toMatchObject([{ code: 'CROSS_BORDER_BLOCKED' }]);
    // At home it is created.
    const home = intentParams();
    expect(await stripe.paymentIntents.create({ ...home, metadata: { ...home.metadata, buyer_region: 'CN-GD' } })).toMatchObject({ status: 'requires_payment_method' });
  });

  it('payment.verification: the buyer\'s confirm answers requires_action and the intent stays there', async () => {
    const world = await startWorld([{ id: 'payment.verification' }]);
    const stripe = world.client(Stripe);
    const params = intentParams();
    const intent = await stripe.paymentIntents.create(params);
    const paid = await buyerPays(world, intent.id, params.metadata.buyer_id);
    expect(paid).toMatchObject({ outcome: 'verifying', status: 200 });
    expect(paid.verificationId).toBe(world.mocks.payment.tradeByOrder(params.metadata.order_id)?.verificationId);
    expect((await stripe.paymentIntents.retrieve(intent.id)).status).toBe('requires_action');
  });

  it('payment.query.error and payment.refund.error: 500 api_error from retrieve, search and refund', async () => {
    const world = await startWorld([
      { id: 'payment.query.error', status: 500, times: 2 },
      { id: 'payment.refund.error', status: 500, times: 1 },
    ]);
    const stripe = world.client(Stripe);
    const params = intentParams({ payment_method: 'pm_card_visa', confirm: true });
    const intent = await stripe.paymentIntents.create(params);
    expect(await failure(stripe.paymentIntents.retrieve(intent.id))).toMatchObject({ type: 'StripeAPIError', rawType: 'api_error', statusCode: 500 });
    expect(await failure(stripe.paymentIntents.search({ query: `metadata['order_id']:'${params.metadata.order_id}'` }))).toMatchObject({ statusCode: 500 });
    expect((await stripe.paymentIntents.retrieve(intent.id)).status).toBe('succeeded');
    expect(await failure(stripe.refunds.create({ payment_intent: intent.id }, { idempotencyKey: 'r1' }))).toMatchObject({ type: 'StripeAPIError', statusCode: 500 });
    expect(await stripe.refunds.create({ payment_intent: intent.id }, { idempotencyKey: 'r1' })).toMatchObject({ amount: 3000 });
  });

  it('payment.callback.forged and .replayed: events for unpaid intents that constructEvent refuses', async () => {
    const world = await startWorld([
      { id: 'payment.callback.forged', after: '50ms' },
      { id: 'payment.callback.replayed', after: '80ms', age: '1h' },
    ]);
    const stripe = world.client(Stripe);
    const receiver = await startWebhookReceiver();
    await stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: ['payment_intent.succeeded'] });
    const intent = await stripe.paymentIntents.create(intentParams());
    const verdicts = [];
    for (const webhook of [await receiver.next(), await receiver.next()]) {
      expect(webhook.event.data.object).toMatchObject({ id: intent.id, status: 'succeeded' });
      expect(() => stripe.webhooks.constructEvent(webhook.raw, webhook.signature, world.credentials.webhookSecret)).toThrow();
      let stale = false;
      try {
        stripe.webhooks.constructEvent(webhook.raw, webhook.signature, world.credentials.webhookSecret, Number.POSITIVE_INFINITY);
        stale = true;
      } catch {
        stale = false;
      }
      verdicts.push(stale ? 'replayed' : 'forged');
    }
    expect(verdicts.sort()).toEqual(['forged', 'replayed']);
    expect((await stripe.paymentIntents.retrieve(intent.id)).status).toBe('requires_payment_method');
  });

  it('payment.callback.tampered: a genuinely signed success whose amount is not the order\'s', async () => {
    const world = await startWorld([{ id: 'payment.callback.tampered', paidAmount: 1 }]);
    const stripe = world.client(Stripe);
    const receiver = await startWebhookReceiver();
    await stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: ['*'] });
    const params = intentParams();
    const intent = await stripe.paymentIntents.create(params);
    await buyerPays(world, intent.id, params.metadata.buyer_id);
    const webhook = await receiver.next();
    const event = stripe.webhooks.constructEvent(webhook.raw, webhook.signature, world.credentials.webhookSecret);
    expect(event.data.object).toMatchObject({ id: intent.id, amount_received: 1 });
  });
});
