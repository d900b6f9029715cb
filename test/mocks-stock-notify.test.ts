import { EventEmitter } from 'node:events';
import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { MemoryJournal } from '../core/journal.js';
import { scenarioSchema, type Scenario } from '../core/scenario-schema.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { serveRoutes } from '../mocks/http-transport.js';
import { StockSupplier } from '../mocks/index.js';
import { Correlation, type MockReply, type MockRoute } from '../mocks/mock-types.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { callUntyped as call, type UntypedAnswer as Answer } from './helpers/http.js';
import { eventsOf, waitForEvent } from './helpers/journal.js';
import { MONTH_AND_YEAR_SKUS, THROWING_ROUTE, echoRoute, mockScenario, startMockWorld, type MockWorld } from './helpers/mocks.js';

// ---- helpers -------------------------------------------------------------------------------

const defer = cleanupAfterEach();

function buildScenario(faults: unknown[] = [], seed = 7): Scenario {
  return mockScenario({ name: 'stock-test', seed, skus: MONTH_AND_YEAR_SKUS, faults });
}

function field(answer: Answer, name: string): unknown {
  return (answer.body as Record<string, unknown> | undefined)?.[name];
}

function setup(faults: unknown[] = []): Promise<MockWorld> {
  return startMockWorld(defer, buildScenario(faults));
}

// ---- stock ---------------------------------------------------------------------------------

describe('stock supplier', () => {
  it('lists the catalogue and stock levels', async () => {
    const { mocks } = await setup();
    const skus = await call('GET', `${mocks.urls.stock}/v1/skus`);
    expect(skus.status).toBe(200);
    const list = skus.body as Array<Record<string, unknown>>;
    expect(list.map((sku) => [sku.sku, sku.name, sku.price, sku.currency, sku.available])).toEqual([
      ['MONTH', 'Monthly card', 3000, 'CNY', 5],
      ['YEAR', 'Yearly card', 30000, 'CNY', 2],
    ]);
    const restockIn = Date.parse(list[0]?.restockAt as string) - Date.now();
    expect(restockIn).toBeGreaterThan(50_000);
    expect(restockIn).toBeLessThanOrEqual(60_000);
    expect(list[1]?.restockAt).toBeUndefined();
    expect(await call('GET', `${mocks.urls.stock}/v1/stock/YEAR`)).toEqual({ status: 200, body: { sku: 'YEAR', available: 2 } });
    const unknown = await call('GET', `${mocks.urls.stock}/v1/stock/NOPE`);
    expect(unknown.status).toBe(404);
    expect(field(unknown, 'code')).toBe('UNKNOWN_SKU');
  });

  it('reserves, repeats a reservation for the same order, and refuses when sold out', async () => {
    const { mocks, journal } = await setup();
    const url = `${mocks.urls.stock}/v1/reservations`;
    const first = await call('POST', url, { sku: 'MONTH', quantity: 2, orderId: 'o1', ttlMs: 60_000 });
    expect(first.status).toBe(201);
    const reservationId = field(first, 'reservationId') as string;
    expect(Date.parse(field(first, 'expiresAt') as string) - Date.now()).toBeGreaterThan(55_000);
    const repeat = await call('POST', url, { sku: 'MONTH', quantity: 2, orderId: 'o1', ttlMs: 60_000 });
    expect(repeat.status).toBe(200);
    expect(field(repeat, 'reservationId')).toBe(reservationId);
    expect(mocks.stock.available('MONTH')).toBe(3);
    expect(eventsOf(journal, 'stock.reserved').map((event) => [event.orderId, event.reservationId, event.quantity, event.repeat])).toEqual([
      ['o1', reservationId, 2, false],
      ['o1', reservationId, 2, true],
    ]);

    const soldOut = await call('POST', url, { sku: 'MONTH', quantity: 4, orderId: 'o2', ttlMs: 60_000 });
    expect(soldOut.status).toBe(409);
    expect(field(soldOut, 'code')).toBe('SOLD_OUT');
    expect(typeof field(soldOut, 'restockAt')).toBe('string');
    const yearOut = await call('POST', url, { sku: 'YEAR', quantity: 3, orderId: 'o3', ttlMs: 60_000 });
    expect(field(yearOut, 'code')).toBe('SOLD_OUT');
    expect(field(yearOut, 'restockAt')).toBeUndefined();
    expect(eventsOf(journal, 'stock.refused').map((event) => [event.orderId, event.code, event.restockAt !== undefined])).toEqual([
      ['o2', 'SOLD_OUT', true],
      ['o3', 'SOLD_OUT', false],
    ]);

    const unknown = await call('POST', url, { sku: 'NOPE', quantity: 1, orderId: 'o4', ttlMs: 1000 });
    expect(unknown.status).toBe(404);
    for (const bad of [
      { sku: 'MONTH', quantity: 0, orderId: 'o5', ttlMs: 1000 },
      { sku: 'MONTH', quantity: 1, orderId: '', ttlMs: 1000 },
      { sku: 'MONTH', quantity: 1, orderId: 'o5' },
      { sku: 'MONTH', quantity: 1, orderId: 'o5', ttlMs: 1000, buyerId: 5 },
    ]) {
      const answer = await call('POST', url, bad);
      expect(answer.status, JSON.stringify(bad)).toBe(400);
      expect(field(answer, 'code')).toBe('INVALID_REQUEST');
    }
  });

  it('stock.stale refuses a reservation while GET still shows stock', async () => {
    const { mocks, journal } = await setup([{ id: 'stock.stale', skus: ['MONTH'], restockIn: '5m' }]);
    const url = `${mocks.urls.stock}/v1/reservations`;
    const refused = await call('POST', url, { sku: 'MONTH', quantity: 1, orderId: 'o1', ttlMs: 60_000, buyerId: 'b1' });
    expect(refused.status).toBe(409);
    expect(field(refused, 'code')).toBe('SOLD_OUT');
    const restockIn = Date.parse(field(refused, 'restockAt') as string) - Date.now();
    expect(restockIn).toBeGreaterThan(290_000);
    expect(restockIn).toBeLessThanOrEqual(300_000);
    expect(field(await call('GET', `${mocks.urls.stock}/v1/stock/MONTH`), 'available')).toBe(5);
    expect(eventsOf(journal, 'fault.injected')).toEqual([
      expect.objectContaining({ fault: 'stock.stale', faultIndex: 0, orderId: 'o1', buyerId: 'b1' }),
    ]);
    expect(eventsOf(journal, 'stock.refused')[0]).toMatchObject({ orderId: 'o1', sku: 'MONTH', code: 'SOLD_OUT', restockAt: field(refused, 'restockAt') });
    expect(mocks.correlation.buyerOf('o1')).toBe('b1');
    // Another SKU is not affected.
    expect((await call('POST', url, { sku: 'YEAR', quantity: 1, orderId: 'o2', ttlMs: 60_000, buyerId: 'b1' })).status).toBe(201);
  });

  it('returns an expired reservation to stock and refuses to fulfil it', async () => {
    const { mocks, journal } = await setup();
    const answer = await call('POST', `${mocks.urls.stock}/v1/reservations`, { sku: 'YEAR', quantity: 2, orderId: 'o1', ttlMs: 60 });
    const reservationId = field(answer, 'reservationId') as string;
    expect(mocks.stock.available('YEAR')).toBe(0);
    const reserved = eventsOf(journal, 'stock.reserved')[0];
    // The sweep journals the expiry on its own, close to the expiry time.
    const released = await waitForEvent(journal, 'stock.released');
    expect(released).toMatchObject({ orderId: 'o1', reservationId, reason: 'expired' });
    const lag = released.t - (reserved?.t ?? 0);
    expect(lag).toBeGreaterThanOrEqual(55);
    expect(lag).toBeLessThan(60 + 250);
    expect(mocks.stock.available('YEAR')).toBe(2);
    const fulfil = await call('POST', `${mocks.urls.stock}/v1/reservations/${reservationId}/fulfil`);
    expect(fulfil.status).toBe(409);
    expect(field(fulfil, 'code')).toBe('RESERVATION_EXPIRED');
    expect(eventsOf(journal, 'stock.fulfil_failed')).toEqual([expect.objectContaining({ orderId: 'o1', reservationId, code: 'RESERVATION_EXPIRED' })]);
    // A late payment gets a new reservation for the same order.
    const again = await call('POST', `${mocks.urls.stock}/v1/reservations`, { sku: 'YEAR', quantity: 2, orderId: 'o1', ttlMs: 60_000 });
    expect(again.status).toBe(201);
    expect(field(again, 'reservationId')).not.toBe(reservationId);
  });

  it('releases a reservation once; later releases are no-ops', async () => {
    const { mocks, journal } = await setup();
    const answer = await call('POST', `${mocks.urls.stock}/v1/reservations`, { sku: 'MONTH', quantity: 3, orderId: 'o1', ttlMs: 60_000 });
    const id = field(answer, 'reservationId') as string;
    expect(mocks.stock.available('MONTH')).toBe(2);
    // DELETE with a JSON content type and no body, as shops send it.
    expect(await call('DELETE', `${mocks.urls.stock}/v1/reservations/${id}`)).toEqual({ status: 204, body: undefined });
    expect(await call('DELETE', `${mocks.urls.stock}/v1/reservations/${id}`)).toEqual({ status: 204, body: undefined });
    expect(mocks.stock.available('MONTH')).toBe(5);
    expect(eventsOf(journal, 'stock.released').map((event) => [event.reservationId, event.reason])).toEqual([[id, 'released']]);
    const unknown = await call('DELETE', `${mocks.urls.stock}/v1/reservations/R0`);
    expect(unknown.status).toBe(404);
    expect(field(unknown, 'code')).toBe('RESERVATION_NOT_FOUND');
    expect(field(await call('POST', `${mocks.urls.stock}/v1/reservations/${id}/fulfil`), 'code')).toBe('RESERVATION_EXPIRED');
    expect(mocks.stock.reservation(id)?.state).toBe('released');
  });

  it('fulfils with unique cards, repeats the same cards, and makes a new reservation after fulfilment', async () => {
    const { mocks, journal } = await setup();
    const reserve = (orderId: string, quantity: number): Promise<Answer> =>
      call('POST', `${mocks.urls.stock}/v1/reservations`, { sku: 'MONTH', quantity, orderId, ttlMs: 60_000 });
    const id1 = field(await reserve('o1', 2), 'reservationId') as string;
    const fulfil = await call('POST', `${mocks.urls.stock}/v1/reservations/${id1}/fulfil`);
    expect(fulfil.status).toBe(200);
    const cards = field(fulfil, 'cards') as Array<{ code: string; pin: string }>;
    expect(cards).toHaveLength(2);
    for (const card of cards) {
      expect(card.code).toMatch(/^MONTH-[A-Z2-9]{12}$/);
      expect(card.pin).toMatch(/^\d{6}$/);
    }
    const repeat = await call('POST', `${mocks.urls.stock}/v1/reservations/${id1}/fulfil`);
    expect(field(repeat, 'cards')).toEqual(cards);
    // Fulfilment consumes the stock; releasing a fulfilled reservation changes nothing.
    expect(mocks.stock.available('MONTH')).toBe(3);
    expect((await call('DELETE', `${mocks.urls.stock}/v1/reservations/${id1}`)).status).toBe(204);
    expect(mocks.stock.available('MONTH')).toBe(3);

    // A shop that runs delivery twice gets new cards: double delivery shows in the ledger.
    const second = await reserve('o1', 2);
    expect(second.status).toBe(201);
    const id2 = field(second, 'reservationId') as string;
    expect(id2).not.toBe(id1);
    const more = field(await call('POST', `${mocks.urls.stock}/v1/reservations/${id2}/fulfil`), 'cards') as Array<{ code: string }>;
    expect(mocks.stock.available('MONTH')).toBe(1);
    const codes = [...cards, ...more].map((card) => card.code);
    expect(new Set(codes).size).toBe(4);

    expect(eventsOf(journal, 'stock.fulfilled').map((event) => [event.reservationId, event.cards, event.repeat])).toEqual([
      [id1, cards.map((card) => card.code), false],
      [id1, cards.map((card) => card.code), true],
      [id2, more.map((card) => card.code), false],
    ]);
    expect(mocks.stock.issuedCards().map((card) => card.code)).toEqual(codes);
    expect(mocks.stock.reservationsFor('o1').map((reservation) => reservation.state)).toEqual(['fulfilled', 'fulfilled']);
    expect((await call('POST', `${mocks.urls.stock}/v1/reservations/R0/fulfil`)).status).toBe(404);
  });

  it('issues card codes that are unique and determined by the seed and issue order', () => {
    const issue = (seed: number): string[] => {
      const scenario = buildScenario([], seed);
      const supplier = new StockSupplier({
        scenario: scenarioSchema.parse({ ...scenario, catalog: { skus: [{ sku: 'X', name: 'x', price: 1, stock: 5000 }] } }),
        journal: new MemoryJournal(),
        plan: new FaultPlan([], seed),
        correlation: new Correlation(),
      });
      defer(() => supplier.close());
      const codes: string[] = [];
      for (let i = 0; i < 100; i++) {
        const reserved = supplier.reserve({ method: 'POST', path: '/v1/reservations', params: {}, query: {}, headers: {}, body: { sku: 'X', quantity: 20, orderId: `o${i}`, ttlMs: 60_000 }, rawBody: '', target: '/v1/reservations' });
        const id = (reserved.body as { reservationId: string }).reservationId;
        const fulfilled = supplier.fulfil({ method: 'POST', path: `/v1/reservations/${id}/fulfil`, params: { id }, query: {}, headers: {}, body: undefined, rawBody: '', target: `/v1/reservations/${id}/fulfil` });
        codes.push(...(fulfilled.body as { cards: Array<{ code: string }> }).cards.map((card) => card.code));
      }
      return codes;
    };
    const a = issue(7);
    expect(a).toHaveLength(2000);
    expect(new Set(a).size).toBe(2000);
    expect(issue(7)).toEqual(a);
    const other = issue(8);
    expect(other.filter((code) => a.includes(code))).toHaveLength(0);
  });
});

// ---- notify --------------------------------------------------------------------------------

describe('notify gateway', () => {
  it('accepts messages, drops a repeated messageKey, and serves the inbox', async () => {
    const { mocks, journal } = await setup();
    const url = `${mocks.urls.notify}/v1/messages`;
    const message = { to: '13800000000', orderId: 'o1', channel: 'sms', kind: 'delivered', text: 'Your cards are ready', messageKey: 'o1:delivered' };
    const first = await call('POST', url, message);
    expect(first.status).toBe(202);
    const messageId = field(first, 'messageId') as string;
    const again = await call('POST', url, message);
    expect(again).toEqual({ status: 202, body: { messageId } });
    await call('POST', url, { to: 'b@example.com', orderId: 'o2', channel: 'email', kind: 'out_of_stock', reason: 'out_of_stock', text: 'Sorry' });
    await call('POST', url, { to: '13800000000', orderId: 'o3', channel: 'inbox', kind: 'payment_received', text: 'Paid' });

    expect(eventsOf(journal, 'notify.message').map((event) => [event.messageId === messageId, event.orderId, event.kind, event.duplicate])).toEqual([
      [true, 'o1', 'delivered', false],
      [true, 'o1', 'delivered', true],
      [false, 'o2', 'out_of_stock', false],
      [false, 'o3', 'payment_received', false],
    ]);
    expect(eventsOf(journal, 'notify.message')[2]).toMatchObject({ reason: 'out_of_stock', channel: 'email', to: 'b@example.com' });
    expect(mocks.notify.inbox()).toHaveLength(3);
    expect(mocks.notify.inbox({ orderId: 'o1' })).toEqual([expect.objectContaining({ messageId, messageKey: 'o1:delivered', channel: 'sms' })]);

    const byOrder = await call('GET', `${url}?orderId=o2`);
    expect((byOrder.body as Array<{ orderId: string }>).map((entry) => entry.orderId)).toEqual(['o2']);
    const byRecipient = await call('GET', `${url}?to=13800000000`);
    expect((byRecipient.body as Array<{ orderId: string }>).map((entry) => entry.orderId)).toEqual(['o1', 'o3']);
    expect((await call('GET', `${url}?to=13800000000&orderId=o3`)).body).toHaveLength(1);
    expect((await call('GET', url)).body).toHaveLength(3);

    for (const bad of [{ ...message, channel: 'pigeon' }, { ...message, to: '' }, { ...message, text: 5 }, { ...message, kind: undefined }, { ...message, messageKey: 1 }]) {
      const answer = await call('POST', url, bad);
      expect(answer.status, JSON.stringify(bad)).toBe(400);
    }
  });
});

// ---- transport -----------------------------------------------------------------------------

interface RawResult {
  status?: number;
  body?: string;
  error?: string;
}

/** A plain node:http request, to see socket-level failures as a client does. */
function rawRequest(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawResult> {
  return new Promise((resolve) => {
    const request = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode, body }));
      response.on('error', (error: NodeJS.ErrnoException) => resolve({ status: response.statusCode, error: error.code ?? error.message }));
    });
    request.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    request.end(options.body);
  });
}

describe('http transport', () => {
  /** Routes the server has handled, so a test can wait until its requests arrived. */
  const held = new EventEmitter();
  const seen = new Set<string>();
  function see(name: string, reply: MockReply): MockReply {
    seen.add(name);
    held.emit('seen');
    return reply;
  }

  const routes: MockRoute[] = [
    echoRoute(),
    { method: 'GET', path: '/reset', name: 'reset', handle: () => ({ status: 200, body: { ok: true }, socketFault: 'reset' }) },
    { method: 'GET', path: '/empty', name: 'empty', handle: () => ({ status: 200, body: { ok: true }, socketFault: 'empty' }) },
    { method: 'GET', path: '/malformed', name: 'malformed', handle: () => ({ status: 200, body: { status: 'TRADE_SUCCESS', pad: 'x'.repeat(40) }, socketFault: 'malformed' }) },
    { method: 'GET', path: '/dribble', name: 'dribble', handle: () => ({ status: 201, body: { ok: true }, socketFault: 'dribble' }) },
    { method: 'GET', path: '/hang', name: 'hang', handle: () => see('hang', { status: 200, socketFault: 'hang' }) },
    { method: 'GET', path: '/slow', name: 'slow', handle: () => Promise.resolve({ status: 200, body: { ok: true }, delayMs: 80 }) },
    { method: 'GET', path: '/very-slow', name: 'very-slow', handle: () => see('very-slow', { status: 200, body: { ok: true }, delayMs: 10_000 }) },
    THROWING_ROUTE,
  ];

  async function serve(): Promise<string> {
    const served = await serveRoutes(routes, { name: 'test', dribble: { chunkBytes: 16, intervalMs: 2 } });
    defer(() => served.close());
    return served.url;
  }

  it('translates requests and replies, and accepts empty JSON bodies', async () => {
    const url = await serve();
    const echo = await fetch(`${url}/echo/42?q=hi`, { method: 'POST', headers: { 'content-type': 'application/json', 'X-Test': 'v' }, body: '{"a":1}' });
    expect(echo.status).toBe(200);
    expect(echo.headers.get('x-mock')).toBe('yes');
    expect(await echo.json()).toEqual({ id: '42', q: 'hi', header: 'v', body: { a: 1 }, path: '/echo/42' });
    const empty = await fetch(`${url}/echo/1`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    expect(((await empty.json()) as { body: unknown }).body).toBeNull();
    const text = await fetch(`${url}/echo/1`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'plain' });
    expect(((await text.json()) as { body: unknown }).body).toBe('plain');
    const broken = await fetch(`${url}/echo/1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { code: string }).code).toBe('INVALID_REQUEST');
    const missing = await fetch(`${url}/nowhere`);
    expect(missing.status).toBe(404);
    const thrown = await fetch(`${url}/throws`);
    expect(thrown.status).toBe(500);
    expect(((await thrown.json()) as { code: string }).code).toBe('SYSTEM_ERROR');
  });

  it('applies delayMs', async () => {
    const url = await serve();
    const started = performance.now();
    const answer = await fetch(`${url}/slow`);
    expect(answer.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(79);
  });

  it('reset: a real client sees ECONNRESET', async () => {
    const url = await serve();
    expect(await rawRequest(`${url}/reset`)).toEqual({ error: 'ECONNRESET' });
    await expect(fetch(`${url}/reset`)).rejects.toMatchObject({ cause: { code: 'ECONNRESET' } });
  });

  it('empty and malformed answers fail the client; dribble arrives whole', async () => {
    const url = await serve();
    const empty = await rawRequest(`${url}/empty`);
    expect(empty.status).toBeUndefined();
    expect(empty.error).toBeDefined();
    const malformed = await rawRequest(`${url}/malformed`);
    expect(malformed.error).toBeDefined();
    await expect(fetch(`${url}/malformed`).then((response) => response.text())).rejects.toThrow();
    const dribble = await rawRequest(`${url}/dribble`);
    expect(dribble).toEqual({ status: 201, body: '{"ok":true}' });
  });

  it('close() does not hang on a hung request or a pending delayed reply', async () => {
    const served = await serveRoutes(routes, { name: 'test' });
    const bothSeen = new Promise<void>((resolve) => {
      const listener = (): void => {
        if (seen.size >= 2) {
          held.off('seen', listener);
          resolve();
        }
      };
      held.on('seen', listener);
    });
    seen.clear();
    const hung = rawRequest(`${served.url}/hang`);
    const slow = rawRequest(`${served.url}/very-slow`);
    await bothSeen;
    const started = performance.now();
    await served.close();
    expect(performance.now() - started).toBeLessThan(1000);
    expect((await hung).error).toBeDefined();
    expect((await slow).error).toBeDefined();
  });

  it('refuses to bind anywhere but loopback', async () => {
    await expect(serveRoutes(routes, { name: 'test', host: '0.0.0.0' })).rejects.toMatchObject({ code: 'ORDEAL_ERR_UNSAFE_TARGET' });
  });
});

