import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { call, type Answer } from './helpers/http.js';
import { eventsOf } from './helpers/journal.js';
import { MONTH_AND_YEAR_SKUS, mockScenario, startMockWorld, type MockWorld } from './helpers/mocks.js';

// ---- helpers -------------------------------------------------------------------------------

const defer = cleanupAfterEach();

interface World extends MockWorld {
  /** Load time the fault plan sees (windows), settable by the test. */
  clock: { now: number };
}

async function setup(faults: unknown[] = [], seed = 7): Promise<World> {
  const clock = { now: 0 };
  const world = await startMockWorld(defer, mockScenario({ name: 'stock-notify-faults', seed, skus: MONTH_AND_YEAR_SKUS, faults }), {
    loadTime: () => clock.now,
  });
  return { ...world, clock };
}

function reserve(world: World, body: Record<string, unknown>): Promise<Answer> {
  return call('POST', `${world.mocks.urls.stock}/v1/reservations`, { quantity: 1, ttlMs: 60_000, ...body });
}

function fulfil(world: World, reservationId: string): Promise<Answer> {
  return call('POST', `${world.mocks.urls.stock}/v1/reservations/${reservationId}/fulfil`);
}

// ---- stock faults --------------------------------------------------------------------------

describe('stock faults', () => {
  it('stock.lag answers SOLD_OUT only after the delay, while GET still shows stock', async () => {
    const world = await setup([{ id: 'stock.lag', skus: ['MONTH'], delay: { fixed: '150ms' }, restockIn: '5m' }]);
    const started = performance.now();
    const refused = await reserve(world, { sku: 'MONTH', orderId: 'o1', buyerId: 'b1' });
    const elapsed = performance.now() - started;
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('SOLD_OUT');
    expect(elapsed).toBeGreaterThanOrEqual(145);
    expect(elapsed).toBeLessThan(2000);
    const restockIn = Date.parse(refused.body.restockAt as string) - Date.now();
    expect(restockIn).toBeGreaterThan(290_000);
    expect(restockIn).toBeLessThanOrEqual(300_000);

    // The supplier's catalogue view lagged: it still shows the stock.
    expect((await call('GET', `${world.mocks.urls.stock}/v1/stock/MONTH`)).body.available).toBe(5);
    expect(world.mocks.stock.available('MONTH')).toBe(5);
    expect(eventsOf(world.journal, 'fault.injected')).toEqual([
      expect.objectContaining({ fault: 'stock.lag', faultIndex: 0, orderId: 'o1', buyerId: 'b1', detail: expect.objectContaining({ delayMs: 150, sku: 'MONTH' }) }),
    ]);
    expect(eventsOf(world.journal, 'stock.refused')).toEqual([
      expect.objectContaining({ orderId: 'o1', sku: 'MONTH', code: 'SOLD_OUT', restockAt: refused.body.restockAt }),
    ]);

    // Other SKUs are not affected.
    const year = await reserve(world, { sku: 'YEAR', orderId: 'o2', buyerId: 'b1' });
    expect(year.status).toBe(201);
    expect(eventsOf(world.journal, 'fault.injected')).toHaveLength(1);
  });

  it('stock.lag samples its delay per buyer from the seed', async () => {
    const faults = [{ id: 'stock.lag', delay: { uniform: { min: '20ms', max: '120ms' } } }];
    const delays = async (): Promise<number[]> => {
      const world = await setup(faults);
      for (const buyer of ['b1', 'b2', 'b3']) await reserve(world, { sku: 'MONTH', orderId: `o-${buyer}`, buyerId: buyer });
      return eventsOf(world.journal, 'fault.injected').map((event) => event.detail.delayMs as number);
    };
    const first = await delays();
    expect(first).toHaveLength(3);
    for (const delay of first) {
      expect(delay).toBeGreaterThanOrEqual(20);
      expect(delay).toBeLessThanOrEqual(120);
    }
    expect(new Set(first).size).toBe(3);
    expect(await delays()).toEqual(first);
  });

  it('stock.sold_out_after_payment: the fulfil fails, the reservation goes back, the order gets no cards', async () => {
    const world = await setup([{ id: 'stock.sold_out_after_payment', skus: ['MONTH'], restockIn: '2m' }]);
    const reserved = await reserve(world, { sku: 'MONTH', orderId: 'o1', buyerId: 'b1', quantity: 2 });
    expect(reserved.status).toBe(201);
    const reservationId = reserved.body.reservationId as string;
    expect(world.mocks.stock.available('MONTH')).toBe(3);

    const failed = await fulfil(world, reservationId);
    expect(failed.status).toBe(409);
    expect(failed.body.code).toBe('SOLD_OUT');
    const restockIn = Date.parse(failed.body.restockAt as string) - Date.now();
    expect(restockIn).toBeGreaterThan(110_000);
    expect(restockIn).toBeLessThanOrEqual(120_000);
    expect(world.mocks.stock.available('MONTH')).toBe(5);
    expect(world.mocks.stock.reservation(reservationId)?.state).toBe('released');
    expect(eventsOf(world.journal, 'stock.fulfil_failed')).toEqual([expect.objectContaining({ orderId: 'o1', reservationId, code: 'SOLD_OUT' })]);
    expect(eventsOf(world.journal, 'stock.released')).toEqual([expect.objectContaining({ orderId: 'o1', reservationId, reason: 'released' })]);

    // Every later fulfil of that reservation: expired.
    const again = await fulfil(world, reservationId);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('RESERVATION_EXPIRED');
    // A new reservation for the order: the pool for it ran dry.
    const retry = await reserve(world, { sku: 'MONTH', orderId: 'o1', buyerId: 'b1', quantity: 2 });
    expect(retry.status).toBe(409);
    expect(retry.body).toMatchObject({ code: 'SOLD_OUT', restockAt: failed.body.restockAt });
    expect(world.mocks.stock.issuedCards()).toEqual([]);
    expect(eventsOf(world.journal, 'fault.injected')).toEqual([
      expect.objectContaining({ fault: 'stock.sold_out_after_payment', faultIndex: 0, orderId: 'o1', buyerId: 'b1' }),
    ]);
    expect(eventsOf(world.journal, 'stock.refused')).toEqual([expect.objectContaining({ orderId: 'o1', code: 'SOLD_OUT' })]);

    // SKUs outside the filter are fulfilled as usual.
    const year = await reserve(world, { sku: 'YEAR', orderId: 'o2', buyerId: 'b2' });
    const cards = await fulfil(world, year.body.reservationId as string);
    expect(cards.status).toBe(200);
    expect(cards.body.cards).toHaveLength(1);
  });

  it('stock.fulfil.error fails the first `times` card issues per buyer, then succeeds', async () => {
    const world = await setup([{ id: 'stock.fulfil.error', times: 2, status: 502 }]);
    const reservationId = (await reserve(world, { sku: 'MONTH', orderId: 'o1', buyerId: 'b1' })).body.reservationId as string;
    for (let attempt = 1; attempt <= 2; attempt++) {
      const failed = await fulfil(world, reservationId);
      expect(failed.status).toBe(502);
      expect(failed.body.code).toBe('SYSTEM_ERROR');
    }
    expect(world.mocks.stock.reservation(reservationId)?.state).toBe('active');
    const done = await fulfil(world, reservationId);
    expect(done.status).toBe(200);
    expect(done.body.cards).toHaveLength(1);
    // A repeat returns the same cards, without failing again.
    expect((await fulfil(world, reservationId)).body.cards).toEqual(done.body.cards);

    expect(eventsOf(world.journal, 'stock.fulfil_failed').map((event) => [event.orderId, event.code])).toEqual([
      ['o1', 'SYSTEM_ERROR'],
      ['o1', 'SYSTEM_ERROR'],
    ]);
    expect(eventsOf(world.journal, 'fault.injected').map((event) => [event.fault, event.orderId, event.buyerId, event.detail.attempt, event.detail.status])).toEqual([
      ['stock.fulfil.error', 'o1', 'b1', 1, 502],
      ['stock.fulfil.error', 'o1', 'b1', 2, 502],
    ]);

    // Another buyer has a counter of its own; an order without a buyer is decided by order id.
    const other = (await reserve(world, { sku: 'MONTH', orderId: 'o2', buyerId: 'b2' })).body.reservationId as string;
    expect((await fulfil(world, other)).status).toBe(502);
    const anonymous = (await reserve(world, { sku: 'YEAR', orderId: 'o3' })).body.reservationId as string;
    expect((await fulfil(world, anonymous)).status).toBe(502);
    expect(eventsOf(world.journal, 'fault.injected').at(-1)).toMatchObject({ orderId: 'o3', detail: { attempt: 1 } });
    expect(eventsOf(world.journal, 'fault.injected').at(-1)?.buyerId).toBeUndefined();
  });

  it('an expired reservation still answers RESERVATION_EXPIRED under stock.fulfil.error', async () => {
    const world = await setup([{ id: 'stock.fulfil.error', times: 1 }]);
    const reservationId = (await reserve(world, { sku: 'MONTH', orderId: 'o1', buyerId: 'b1' })).body.reservationId as string;
    expect((await call('DELETE', `${world.mocks.urls.stock}/v1/reservations/${reservationId}`)).status).toBe(204);
    const answer = await fulfil(world, reservationId);
    expect(answer.status).toBe(409);
    expect(answer.body.code).toBe('RESERVATION_EXPIRED');
    expect(eventsOf(world.journal, 'fault.injected')).toEqual([]);
  });
});

// ---- notify.error --------------------------------------------------------------------------

describe('notify.error', () => {
  const message = (orderId: string, kind = 'delivered'): Record<string, unknown> => ({
    to: '13800000000',
    orderId,
    channel: 'sms',
    kind,
    text: 'Your cards are ready',
    messageKey: `${orderId}:${kind}`,
  });

  it('refuses messages inside the window only, journaling the fault once per order', async () => {
    const world = await setup([{ id: 'notify.error', window: '1s..2s', status: 503 }]);
    const url = `${world.mocks.urls.notify}/v1/messages`;
    world.mocks.correlation.link('o1', 'b1');

    expect((await call('POST', url, message('o1', 'payment_received'))).status).toBe(202);

    world.clock.now = 1500;
    for (let i = 0; i < 2; i++) {
      const refused = await call('POST', url, message('o1'));
      expect(refused.status).toBe(503);
      expect(refused.body.code).toBe('SYSTEM_ERROR');
    }
    expect((await call('POST', url, message('o2'))).status).toBe(503);
    expect(eventsOf(world.journal, 'notify.refused').map((event) => [event.orderId, event.kind, event.httpStatus])).toEqual([
      ['o1', 'delivered', 503],
      ['o1', 'delivered', 503],
      ['o2', 'delivered', 503],
    ]);
    expect(eventsOf(world.journal, 'fault.injected').map((event) => [event.fault, event.orderId, event.buyerId, event.detail.status])).toEqual([
      ['notify.error', 'o1', 'b1', 503],
      ['notify.error', 'o2', undefined, 503],
    ]);

    // After the window the retried message goes through, once.
    world.clock.now = 2500;
    expect((await call('POST', url, message('o1'))).status).toBe(202);
    expect((await call('POST', url, message('o1'))).status).toBe(202);
    expect(world.mocks.notify.inbox().map((entry) => [entry.orderId, entry.kind])).toEqual([
      ['o1', 'payment_received'],
      ['o1', 'delivered'],
    ]);
  });

  it('hits a share of buyers, decided per buyer from the seed', async () => {
    const world = await setup([{ id: 'notify.error', probability: 0.5, status: 500 }]);
    const url = `${world.mocks.urls.notify}/v1/messages`;
    const refused: string[] = [];
    for (let i = 0; i < 40; i++) {
      const buyer = `b${i}`;
      // Two orders of one buyer share the decision.
      for (const orderId of [`o${i}a`, `o${i}b`]) {
        world.mocks.correlation.link(orderId, buyer);
        const answer = await call('POST', url, message(orderId));
        expect(answer.status === 500).toBe(world.plan.decides(0, buyer));
        if (answer.status === 500) refused.push(orderId);
      }
    }
    expect(refused.length).toBeGreaterThan(10);
    expect(refused.length).toBeLessThan(70);
    expect(world.mocks.notify.inbox()).toHaveLength(80 - refused.length);
  });
});
