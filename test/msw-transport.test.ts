import Fastify from 'fastify';
import { setupServer } from 'msw/node';
import { describe, expect, it } from 'vitest';
import { MemoryJournal } from '../core/journal.js';
import type { Scenario } from '../core/scenario-schema.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { DEFAULT_IN_PROCESS_URLS, startInProcessMocks } from '../mocks/in-process.js';
import type { MockSet, MockUrls } from '../mocks/index.js';
import type { MockReply, MockRoute } from '../mocks/mock-types.js';
import { mswHandlers } from '../mocks/msw-transport.js';
import type { RiskBuyer } from '../mocks/risk.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { call, type Answer } from './helpers/http.js';
import { MONTH_SKU, THROWING_ROUTE, echoRoute, listenOnLoopback, mockScenario, startMockWorld, trustMocks } from './helpers/mocks.js';

// ---- helpers -------------------------------------------------------------------------------

const defer = cleanupAfterEach();

/** A tiny local HTTP server on a real loopback port (port 0), closed in teardown. */
async function startReceiver(): Promise<{ url: string; received: Array<Record<string, unknown>> }> {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  const received: Array<Record<string, unknown>> = [];
  app.post('/payment/notify', async (request) => {
    received.push(request.body as Record<string, unknown>);
    return 'success';
  });
  app.get('/ping', async () => ({ pong: true }));
  return { url: await listenOnLoopback(app, defer), received };
}

// ---- the msw transport on its own ----------------------------------------------------------

describe('msw transport', () => {
  const ORIGIN = 'http://unit.ordeal.test';
  const routes: MockRoute[] = [
    echoRoute((request) => ({ method: request.method })),
    { method: 'DELETE', path: '/things/:id', name: 'delete', handle: () => ({ status: 204 }) },
    { method: 'GET', path: '/reset', name: 'reset', handle: () => ({ status: 200, body: { ok: true }, socketFault: 'reset' }) },
    { method: 'GET', path: '/empty', name: 'empty', handle: () => ({ status: 200, socketFault: 'empty' }) },
    { method: 'GET', path: '/malformed', name: 'malformed', handle: () => ({ status: 200, body: { status: 'TRADE_SUCCESS' }, socketFault: 'malformed' }) },
    { method: 'GET', path: '/dribble', name: 'dribble', handle: () => ({ status: 201, body: { ok: true }, socketFault: 'dribble' }) },
    { method: 'GET', path: '/slow', name: 'slow', handle: () => Promise.resolve<MockReply>({ status: 200, body: { ok: true }, delayMs: 80 }) },
    { method: 'GET', path: '/hang', name: 'hang', handle: () => ({ status: 200, socketFault: 'hang' }) },
    THROWING_ROUTE,
  ];

  function serve(): ReturnType<typeof mswHandlers> {
    const transport = mswHandlers(routes, `${ORIGIN}/`, { name: 'unit' });
    const server = setupServer(...transport.handlers);
    server.listen({ onUnhandledRequest: 'bypass' });
    defer(() => {
      transport.close();
      server.close();
    });
    return transport;
  }

  it('translates requests and replies like the fastify transport', async () => {
    const transport = serve();
    expect(transport.url).toBe(ORIGIN);
    const echo = await fetch(`${ORIGIN}/echo/42?q=hi&q=again`, { method: 'POST', headers: { 'content-type': 'application/json', 'X-Test': 'v' }, body: '{"a":1}' });
    expect(echo.status).toBe(200);
    expect(echo.headers.get('x-mock')).toBe('yes');
    expect(await echo.json()).toEqual({ id: '42', q: 'hi', header: 'v', body: { a: 1 }, path: '/echo/42', method: 'POST' });
    const empty = await fetch(`${ORIGIN}/echo/1`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    expect(((await empty.json()) as { body: unknown }).body).toBeNull();
    const text = await fetch(`${ORIGIN}/echo/1`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'plain' });
    expect(((await text.json()) as { body: unknown }).body).toBe('plain');
    const broken = await fetch(`${ORIGIN}/echo/1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { code: string }).code).toBe('INVALID_REQUEST');
    const deleted = await fetch(`${ORIGIN}/things/9`, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    expect(await deleted.text()).toBe('');
    const missing = await fetch(`${ORIGIN}/nowhere`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { code: string }).code).toBe('NOT_FOUND');
    const wrongMethod = await fetch(`${ORIGIN}/things/9`);
    expect(wrongMethod.status).toBe(404);
    const thrown = await fetch(`${ORIGIN}/throws`);
    expect(thrown.status).toBe(500);
    expect(((await thrown.json()) as { code: string }).code).toBe('SYSTEM_ERROR');
  });

  it('applies delayMs; socket faults become network errors; dribble just answers', async () => {
    serve();
    const started = performance.now();
    expect((await fetch(`${ORIGIN}/slow`)).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(79);
    for (const path of ['/reset', '/empty', '/malformed']) await expect(fetch(`${ORIGIN}${path}`), path).rejects.toThrow(TypeError);
    const dribble = await fetch(`${ORIGIN}/dribble`);
    expect(dribble.status).toBe(201);
    expect(await dribble.json()).toEqual({ ok: true });
  });

  it('close() ends a hung request; unhandled requests pass through to real servers', async () => {
    const receiver = await startReceiver();
    const transport = serve();
    expect(await call('GET', `${receiver.url}/ping`)).toEqual({ status: 200, body: { pong: true } });
    let settled = false;
    const hung = fetch(`${ORIGIN}/hang`).finally(() => {
      settled = true;
    });
    // The hung request is still open after a round trip elsewhere.
    await call('GET', `${receiver.url}/ping`);
    expect(settled).toBe(false);
    transport.close();
    await expect(hung).rejects.toThrow(TypeError);
    await expect(fetch(`${ORIGIN}/slow`)).rejects.toThrow(TypeError);
  });
});

// ---- one scenario through both transports --------------------------------------------------

function buildScenario(): Scenario {
  return mockScenario({
    name: 'msw-parity',
    // A seed that hits some buyers with each fault and spares others.
    seed: 17,
    skus: [{ ...MONTH_SKU, stock: 30, restockIn: '1h' }],
    faults: [
      { id: 'stock.stale', probability: 0.25, restockIn: '10m' },
      { id: 'payment.callback.drop', probability: 0.4 },
      { id: 'stock.sold_out_after_payment', probability: 0.25 },
      { id: 'risk.reject', signals: ['far_ip', 'new_account'] },
      { id: 'transport.reset', service: 'notify', routes: ['send'], probability: 0.3, times: 1 },
    ],
  });
}

/** A buyer with every field the risk mock reads. */
type TestBuyer = Required<RiskBuyer>;

const BUYERS: TestBuyer[] = Array.from({ length: 14 }, (_, i) => ({
  id: `buyer-${String(i + 1).padStart(6, '0')}`,
  contact: `138000000${String(i).padStart(2, '0')}`,
  // Buyer 4 pays from a Singapore address, buyer 9 has a brand-new account.
  ip: i === 3 ? '43.10.20.30' : '113.10.20.30',
  region: 'CN-GD',
  accountAgeDays: i === 8 ? 2 : 365,
  deviceId: `device-${i}`,
}));

interface ShopDeps {
  urls: MockUrls;
  callbacksIdle(): Promise<void>;
  notifyUrl: string;
  received: ReadonlyArray<Record<string, unknown>>;
}

/** A request that retries a broken connection (transport faults), a bounded number of times. */
async function reliably(method: string, url: string, body?: unknown): Promise<Answer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      return await call(method, url, body);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

/** A deterministic, sequential card shop: risk, reserve, trade, the buyer pays, callback or query, fulfil or refund, notify. */
/** Runs the shop's orders; resolves with the payUrls the provider answered. */
async function runShop(deps: ShopDeps): Promise<string[]> {
  const { urls } = deps;
  const payUrls: string[] = [];
  for (const [index, buyer] of BUYERS.entries()) {
    const orderId = `ord-${index + 1}`;
    const tell = async (kind: string, reason?: string): Promise<void> => {
      const answer = await reliably('POST', `${urls.notify}/v1/messages`, {
        to: buyer.contact,
        orderId,
        channel: 'sms',
        kind,
        ...(reason === undefined ? {} : { reason }),
        text: `${kind} ${orderId}`,
        messageKey: `${orderId}:${kind}`,
      });
      expect(answer.status).toBe(202);
    };

    const risk = await reliably('POST', `${urls.risk}/v1/assessments`, {
      orderId,
      buyer,
      amount: 3000,
      sku: 'MONTH',
      recipient: { kind: 'game_id', account: '1234567890' },
    });
    if (risk.body.decision === 'reject') {
      await tell('review_rejected', 'risk_rejected');
      continue;
    }

    const reserved = await reliably('POST', `${urls.stock}/v1/reservations`, { sku: 'MONTH', quantity: 1, orderId, ttlMs: 60_000, buyerId: buyer.id });
    if (reserved.status === 409) {
      await tell('out_of_stock', 'out_of_stock');
      continue;
    }
    const reservationId = reserved.body.reservationId as string;

    const trade = await reliably('POST', `${urls.payment}/v1/trades`, {
      outTradeNo: orderId,
      amount: 3000,
      currency: 'CNY',
      subject: 'Monthly card',
      notifyUrl: deps.notifyUrl,
      method: 'alipay',
      payer: { id: buyer.id, region: buyer.region },
    });
    const tradeNo = trade.body.tradeNo as string;
    payUrls.push(trade.body.payUrl as string);
    // The buyer at the cashier.
    expect((await reliably('POST', `${urls.payment}/v1/trades/${tradeNo}/pay`, { payerId: buyer.id, method: 'alipay' })).status).toBe(200);
    await deps.callbacksIdle();
    let paid = deps.received.some((callback) => callback.outTradeNo === orderId && callback.status === 'TRADE_SUCCESS');
    if (!paid) paid = (await reliably('GET', `${urls.payment}/v1/trades/${tradeNo}`)).body.status === 'TRADE_SUCCESS';
    expect(paid).toBe(true);
    await tell('payment_received');

    const fulfilled = await reliably('POST', `${urls.stock}/v1/reservations/${reservationId}/fulfil`);
    if (fulfilled.status === 200) {
      await tell('delivered');
      continue;
    }
    const refund = await reliably('POST', `${urls.payment}/v1/trades/${tradeNo}/refunds`, { refundNo: `rf-${orderId}`, amount: 3000 });
    expect(refund.body.status).toBe('SUCCESS');
    await tell('refunded', 'out_of_stock');
  }
  return payUrls;
}

/** The ledgers and the journal's fault record, without times. */
function outcome(mocks: MockSet, journal: MemoryJournal, received: ReadonlyArray<Record<string, unknown>>): Record<string, unknown> {
  const trades = mocks.payment.allTrades();
  const cards = mocks.stock.issuedCards();
  const cardsPerOrder: Record<string, number> = {};
  for (const card of cards) cardsPerOrder[card.orderId] = (cardsPerOrder[card.orderId] ?? 0) + 1;
  const tradesByStatus: Record<string, { count: number; amount: number }> = {};
  for (const trade of trades) {
    const entry = (tradesByStatus[trade.status] ??= { count: 0, amount: 0 });
    entry.count += 1;
    entry.amount += trade.amount;
  }
  const messagesByKind: Record<string, number> = {};
  for (const message of mocks.notify.inbox()) messagesByKind[message.kind] = (messagesByKind[message.kind] ?? 0) + 1;
  return {
    tradesByStatus,
    trades: trades.map((trade) => [trade.outTradeNo, trade.tradeNo, trade.status, trade.amount, trade.refunded]),
    refunds: trades.flatMap((trade) => trade.refunds.map((refund) => [trade.outTradeNo, refund.refundNo, refund.amount])),
    totals: mocks.payment.totals(),
    reservations: mocks.stock.allReservations().map((reservation) => [reservation.reservationId, reservation.orderId, reservation.state, reservation.quantity]),
    fulfilments: mocks.stock.allReservations().filter((reservation) => reservation.state === 'fulfilled').length,
    cardsPerOrder,
    cardCodes: cards.map((card) => card.code),
    available: mocks.stock.available('MONTH'),
    messagesByKind,
    messages: mocks.notify.inbox().map((message) => [message.orderId, message.kind, message.reason ?? null]),
    assessments: mocks.risk.assessments().map((assessment) => [assessment.orderId, assessment.decision, assessment.signals]),
    callbacks: received.map((callback) => [callback.outTradeNo, callback.status, callback.notifyId]),
    faults: journal.events.flatMap((event) => (event.type === 'fault.injected' ? [[event.fault, event.orderId ?? null, event.buyerId ?? null]] : [])),
    eventTypes: journal.events.map((event) => event.type),
  };
}

describe('one scenario through both transports', () => {
  it('gives the same ledger outcomes over HTTP and in-process', async () => {
    const secret = 'parity-secret';

    // Over real sockets (fastify).
    const httpReceiver = await startReceiver();
    const { mocks: httpMocks, journal: httpJournal } = await startMockWorld(defer, buildScenario(), { secret });
    const httpPayUrls = await runShop({ urls: httpMocks.urls, callbacksIdle: () => httpMocks.callbacksIdle(), notifyUrl: `${httpReceiver.url}/payment/notify`, received: httpReceiver.received });
    // The cashier links point at where each transport serves the provider.
    expect(httpPayUrls.length).toBeGreaterThan(0);
    for (const payUrl of httpPayUrls) expect(payUrl).toMatch(new RegExp(`^${httpMocks.urls.payment}/cashier/T\\d+$`));
    const overHttp = outcome(httpMocks, httpJournal, httpReceiver.received);
    await httpMocks.close();

    // In-process (msw): fake origins, callbacks to the real loopback receiver pass through.
    const receiver = await startReceiver();
    const journal = new MemoryJournal();
    const scenario = buildScenario();
    const mocks = await startInProcessMocks({ scenario, journal, plan: new FaultPlan(scenario.faults, scenario.seed), secret });
    defer(() => mocks.close());
    trustMocks(defer, mocks);
    expect(mocks.urls).toEqual(DEFAULT_IN_PROCESS_URLS);
    const payUrls = await runShop({ urls: mocks.urls, callbacksIdle: () => mocks.callbacksIdle(), notifyUrl: `${receiver.url}/payment/notify`, received: receiver.received });
    expect(payUrls.map((payUrl) => payUrl.replace(/T\d+$/, 'T'))).toEqual(httpPayUrls.map(() => `${DEFAULT_IN_PROCESS_URLS.payment}/cashier/T`));
    expect(mocks.pendingCallbacks()).toBe(0);
    const inProcess = outcome(mocks, journal, receiver.received);

    expect(inProcess).toEqual(overHttp);

    // The scenario did exercise every path.
    const faults = (overHttp.faults as Array<[string, string | null, string | null]>).map(([fault]) => fault);
    for (const fault of ['stock.stale', 'payment.callback.drop', 'stock.sold_out_after_payment', 'risk.reject', 'transport.reset']) {
      expect(faults, fault).toContain(fault);
    }
    const byKind = overHttp.messagesByKind as Record<string, number>;
    for (const kind of ['review_rejected', 'out_of_stock', 'payment_received', 'delivered', 'refunded']) expect(byKind[kind], kind).toBeGreaterThan(0);
    expect((overHttp.refunds as unknown[]).length).toBeGreaterThan(0);
    expect((overHttp.callbacks as unknown[]).length).toBeGreaterThan(0);
    expect((overHttp.callbacks as unknown[]).length).toBeLessThan((overHttp.trades as unknown[]).length);
  });

  it('rejects base URLs that are not http(s) or that two mocks share', async () => {
    const scenario = buildScenario();
    const base = { scenario, journal: new MemoryJournal(), plan: new FaultPlan([], 1), secret: 's' };
    await expect(startInProcessMocks({ ...base, baseUrls: { stock: 'ftp://stock.test' } })).rejects.toThrow(/http/);
    await expect(startInProcessMocks({ ...base, baseUrls: { stock: 'http://payment.ordeal.test/' } })).rejects.toThrow(/own/);
    const custom = await startInProcessMocks({ ...base, baseUrls: { risk: 'http://screen.example.test/api/' } });
    defer(() => custom.close());
    trustMocks(defer, custom);
    expect(custom.urls.risk).toBe('http://screen.example.test/api');
    const answer = await call('POST', `${custom.urls.risk}/v1/assessments`, { orderId: 'o1', buyer: { id: 'b1' } });
    expect(answer.body).toMatchObject({ decision: 'approve', reasons: [] });
  });
});
