/**
 * The reference shop's Stripe client (`shop/payment/stripe.ts`, on the `stripe` package) against
 * the running stripe personality: each gateway call mapped into the shop's terms, notifies
 * verified with `constructEvent` (or not, as a flawed shop's checks say) — and `ordeal run
 * --protocol stripe` end to end: the resilient shop passes the gate, the naive one fails it.
 */
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { MemoryJournal } from '../core/journal.js';
import { scenarioSchema } from '../core/scenario-schema.js';
import { run } from '../harness/drive/run.js';
import { resolveBuiltInFlaws } from '../harness/drive/target.js';
import { HttpClient } from '../core/http-client.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { loadPersonality, startMocks } from '../mocks/index.js';
import { newChannel } from '../mocks/payment/credentials.js';
import type { PaymentNotice } from '../mocks/payment/notices.js';
import { OutgoingHttp } from '../shop/http-client.js';
import type { NotifyRequest } from '../shop/payment/gateway.js';
import { StripeGateway, STRIPE_KEY_FILES } from '../shop/payment/stripe.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { tempDir } from './helpers/cli.js';
import { mockScenario } from './helpers/mocks.js';

const defer = cleanupAfterEach();

async function startGateway(faults: unknown[] = []) {
  const scenario = mockScenario({ name: 'stripe-shop', faults });
  const journal = new MemoryJournal();
  const channel = newChannel('stripe');
  if (channel.protocol !== 'stripe') throw new Error('expected a stripe channel');
  const mocks = await startMocks({ scenario, journal, plan: new FaultPlan(scenario.faults, scenario.seed), channel, callbackRetryDelays: [50] });
  defer(() => mocks.close());
  const http = new OutgoingHttp();
  defer(() => http.close());
  const files: Record<string, string> = { [STRIPE_KEY_FILES.secretKey]: channel.credentials.secretKey, [STRIPE_KEY_FILES.webhookSecret]: channel.credentials.webhookSecret };
  const gateway = new StripeGateway(mocks.urls.payment, { read: (name) => files[name] ?? '' }, { timeoutMs: 2000, http });
  return { mocks, journal, gateway, credentials: channel.credentials };
}

let orders = 0;
function tradeRequest(region = 'CN-GD') {
  orders += 1;
  return {
    outTradeNo: `S-${orders}`,
    amount: 3000,
    currency: 'CNY',
    subject: '1 × Monthly card',
    notifyUrl: 'http://127.0.0.1:9/payment/notify',
    method: 'card',
    payer: { id: `buyer-${orders}`, region },
    expiresInMs: 60_000,
  };
}

async function buyerPays(world: Awaited<ReturnType<typeof startGateway>>, tradeNo: string, payerId: string): Promise<void> {
  const client = new HttpClient();
  defer(() => client.close());
  const request = world.mocks.cashier.payRequest({ providerUrl: world.mocks.urls.payment, tradeNo, payerId, method: 'card' });
  const answer = await client.send(request.method, request.url, request.body, request.headers);
  expect(world.mocks.cashier.readPayAnswer(answer.status, answer.body).outcome).toBe('paid');
}

describe('the reference shop\'s Stripe gateway', () => {
  it('creates (registering its webhook endpoint once), finds, queries, closes and refunds in the shop\'s terms', async () => {
    const world = await startGateway();
    const { gateway } = world;
    const request = tradeRequest();
    const created = await gateway.createTrade(request);
    expect(created).toMatchObject({ kind: 'created' });
    const tradeNo = created.kind === 'created' ? created.tradeNo : '';
    expect(tradeNo).toMatch(/^pi_/);
    // A repeat (a retry) is the same intent, and the endpoint is not registered twice.
    expect(await gateway.createTrade(request)).toMatchObject({ kind: 'created', tradeNo });
    expect(await gateway.createTrade(tradeRequest())).toMatchObject({ kind: 'created' });
    const url = new URL(world.mocks.urls.payment);
    const stripe = new Stripe(world.credentials.secretKey, { host: url.hostname, port: Number(url.port), protocol: 'http', telemetry: false });
    expect((await stripe.webhookEndpoints.list()).data.map((endpoint) => endpoint.url)).toEqual([request.notifyUrl]);
    expect(await gateway.queryTrade(tradeNo)).toMatchObject({ kind: 'found', trade: { tradeNo, outTradeNo: request.outTradeNo, amount: 3000, result: { kind: 'unpaid' } } });
    expect(await gateway.queryByOutTradeNo(request.outTradeNo)).toMatchObject({ kind: 'found', trade: { tradeNo } });
    expect(await gateway.queryByOutTradeNo('no-such-order')).toEqual({ kind: 'not_found' });
    expect(await gateway.queryTrade('pi_nothing')).toEqual({ kind: 'not_found' });

    await buyerPays(world, tradeNo, request.payer.id);
    expect(await gateway.queryTrade(tradeNo)).toMatchObject({ kind: 'found', trade: { result: { kind: 'paid', captured: 3000 }, refunded: 0 } });
    expect(await gateway.closeTrade(tradeNo)).toEqual({ kind: 'has_success' });
    expect(await gateway.refund(tradeNo, `${request.outTradeNo}-r1`, 3000)).toEqual({ kind: 'refunded' });
    // The same refund number again is the same refund; another one exceeds what was paid.
    expect(await gateway.refund(tradeNo, `${request.outTradeNo}-r1`, 3000)).toEqual({ kind: 'refunded' });
    expect(await gateway.refund(tradeNo, `${request.outTradeNo}-r2`, 3000)).toEqual({ kind: 'exceeds_paid' });
    expect(await gateway.queryTrade(tradeNo)).toMatchObject({ kind: 'found', trade: { refunded: 3000 } });
    expect(world.mocks.payment.totals()).toMatchObject({ captured: 3000, refunded: 3000 });

    const unpaid = await gateway.createTrade(tradeRequest());
    const unpaidNo = unpaid.kind === 'created' ? unpaid.tradeNo : '';
    expect(await gateway.closeTrade(unpaidNo)).toEqual({ kind: 'closed' });
    expect(await gateway.closeTrade(unpaidNo)).toEqual({ kind: 'closed' });
    expect(await gateway.queryTrade(unpaidNo)).toMatchObject({ kind: 'found', trade: { result: { kind: 'closed' } } });
    expect(gateway.payUrl()).toBe('');
  });

  it('maps refusals: a cross-border block is declined, a 5xx unavailable, a decline found by query', async () => {
    const blocked = await startGateway([{ id: 'payment.cross_border', home: 'CN' }]);
    expect(await blocked.gateway.createTrade(tradeRequest('US-CA'))).toEqual({ kind: 'declined', reason: 'cross_border_blocked' });

    const failing = await startGateway([{ id: 'payment.error', status: 503, times: 1 }, { id: 'payment.limit.single' }]);
    const request = tradeRequest();
    expect(await failing.gateway.createTrade(request)).toMatchObject({ kind: 'unavailable', status: 503 });
    const created = await failing.gateway.createTrade(request);
    const tradeNo = created.kind === 'created' ? created.tradeNo : '';
    const client = new HttpClient();
    defer(() => client.close());
    const pay = failing.mocks.cashier.payRequest({ providerUrl: failing.mocks.urls.payment, tradeNo, payerId: request.payer.id, method: 'card' });
    await client.send(pay.method, pay.url, pay.body, pay.headers);
    expect(await failing.gateway.queryTrade(tradeNo)).toMatchObject({ kind: 'found', trade: { result: { kind: 'declined', reason: 'payment_limit' } } });
  });

  it('reads webhooks with constructEvent: genuine taken, forged and tampered refused, stale refused unless freshness is off; unchecked takes anything', async () => {
    const world = await startGateway();
    const nowS = Math.floor(Date.now() / 1000);
    const created = await world.gateway.createTrade(tradeRequest());
    const tradeNo = created.kind === 'created' ? created.tradeNo.slice('pi_'.length) : '';
    const notice: PaymentNotice = {
      notifyId: 'N0000000001',
      tradeNo,
      outTradeNo: `S-${orders}`,
      status: 'TRADE_SUCCESS',
      amount: 3000,
      paidAt: new Date(nowS * 1000).toISOString(),
      currency: 'CNY',
      subject: '1 × Monthly card',
      method: 'card',
    };
    const personality = await loadPersonality({ protocol: 'stripe', credentials: world.credentials });
    const asRequest = (signing: Parameters<typeof personality.renderCallback>[2], body?: (raw: string) => string): NotifyRequest => {
      const sent = personality.renderCallback('http://127.0.0.1:1/payment/notify', notice, signing, nowS);
      if (!sent) throw new Error('the stripe personality renders every notice');
      return { method: 'POST', query: {}, headers: sent.headers, rawBody: body ? body(sent.body ?? '') : (sent.body ?? '') };
    };
    const strict = { signature: true, freshness: true };
    const notify = world.gateway.notify;
    const genuine = asRequest({ kind: 'genuine' });
    expect(notify.orderIdOf(genuine)).toBe(notice.outTradeNo);
    expect(notify.read(genuine, strict)).toEqual({ kind: 'callback', callback: { tradeNo: `pi_${tradeNo}`, outTradeNo: notice.outTradeNo, result: { kind: 'paid', captured: 3000 } } });
    expect(notify.read(asRequest({ kind: 'forged' }), strict)).toMatchObject({ kind: 'bad_signature' });
    expect(notify.read(asRequest({ kind: 'genuine' }, (raw) => raw.replace('"amount_received": 3000', '"amount_received": 1')), strict)).toMatchObject({ kind: 'bad_signature' });
    const stale = asRequest({ kind: 'replayed', ageS: 3600 });
    expect(notify.read(stale, strict)).toMatchObject({ kind: 'bad_signature' });
    expect(notify.read(stale, { signature: true, freshness: false })).toMatchObject({ kind: 'callback' });
    expect(notify.read(asRequest({ kind: 'forged' }), { signature: false, freshness: false })).toMatchObject({ kind: 'callback', callback: { result: { kind: 'paid' } } });
    expect(notify.acknowledge().status).toBe(200);
  });
});

describe('ordeal run --protocol stripe against the built-in shop', () => {
  it('the resilient shop passes the gate; the naive one fails it', async () => {
    const work = await tempDir('ordeal-stripe-e2e-');
    defer(() => work.remove());
    const input = {
      name: 'stripe-e2e',
      seed: 23,
      catalog: { skus: [{ sku: 'MONTH_CARD', name: 'Monthly card', price: 3000, stock: 300 }] },
      shop: { orderTtl: '2s', reconcileAfter: '600ms', reconcileEvery: '400ms' },
      load: { stages: [{ rate: '12/s', duration: '2s' }], maxInFlight: 100 },
      faults: [
        { id: 'payment.decline', probability: 0.15 },
        { id: 'payment.error', probability: 0.2, times: 1 },
        { id: 'payment.callback.duplicate', probability: 0.2 },
        { id: 'payment.callback.forged', probability: 0.15, after: '300ms' },
        { id: 'payment.callback.replayed', probability: 0.15, after: '300ms' },
      ],
      gate: { minScore: 80 },
      settle: '5s',
    };
    const scenario = scenarioSchema.parse(input);
    const loaded = [{ file: 'stripe-e2e.yaml', scenario, input }];
    const [resilient, naive] = await Promise.all([
      run({ scenarios: loaded, outDir: `${work.path}/resilient`, protocol: 'stripe' }),
      run({ scenarios: loaded, outDir: `${work.path}/naive`, protocol: 'stripe', flaws: resolveBuiltInFlaws('naive') }),
    ]);
    expect(resilient.report.gate.reasons, 'resilient shop').toEqual([]);
    expect(resilient.report.gate.passed).toBe(true);
    expect(naive.report.gate.passed).toBe(false);
    // The naive shop takes the forged and replayed webhooks (no constructEvent) and delivers on them.
    const forgedDelivered = naive.report.scenarios[0]?.invariants.find((invariant) => invariant.id === 'no-delivery-on-forged-callback');
    expect(forgedDelivered?.ok).toBe(false);
    const result = resilient.report.scenarios[0];
    expect(result?.classes['payment.callback.forged']?.incidents ?? 0).toBeGreaterThan(0);
  }, 30_000);
});
