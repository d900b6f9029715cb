/** Class and overall score arithmetic, incident resolution, steady state, load figures, streaming. */
import { describe, expect, it } from 'vitest';
import { foldJournal, percentile, scoreFolded, scoreScenario } from '../harness/score/score.js';
import type { JournalEvent } from '../core/journal.js';
import { JournalBuilder, contactOf, makeScenario, streamOf } from './score-journal.js';

/**
 * Two dropped callbacks (o1: 3000, everything on time → 1; o2: 1000, only detected → 0.3) and one
 * stale stock order (o3: 6000, detected and told, but still charged → 0.5), plus two clean buyers.
 */
function mixed(): JournalBuilder {
  return new JournalBuilder()
    .buyer(0, 'b1')
    .created(10, 'b1', 'o1', { amount: 3000 })
    .paid(1000, 'o1', 3000)
    .fault(1000, 'payment.callback.drop', { orderId: 'o1', buyerId: 'b1' })
    .queried(1500, 'o1')
    .fulfilled(2000, 'o1')
    .message(2100, 'o1', contactOf('b1'), 'delivered')
    .buyer(0, 'b2')
    .created(10, 'b2', 'o2', { amount: 1000 })
    .paid(1000, 'o2', 1000)
    .fault(1000, 'payment.callback.drop', { orderId: 'o2', buyerId: 'b2' })
    .queried(2000, 'o2')
    .buyer(0, 'b3')
    .fault(100, 'stock.stale', { orderId: 'o3', buyerId: 'b3' })
    .created(150, 'b3', 'o3', { amount: 6000 })
    .paid(200, 'o3', 6000)
    .observed(300, 'o3', 'b3', 'failed', { reason: 'out_of_stock' })
    .message(400, 'o3', contactOf('b3'), 'out_of_stock')
    .happy(0, 'b10', 'o10', { latencyMs: 120 })
    .happy(0, 'b11', 'o11', { latencyMs: 180 });
}

describe('class and overall scores', () => {
  it('averages incidents per class and weights classes by money at risk', async () => {
    const score = await scoreScenario(mixed().events, makeScenario());
    expect(score.incidents.map((incident) => [incident.class, incident.orderId, incident.score])).toEqual([
      ['stock.stale', 'o3', 0.5],
      ['payment.callback.drop', 'o1', 1],
      ['payment.callback.drop', 'o2', 0.3],
    ]);
    const drop = score.classes['payment.callback.drop']!;
    expect(drop.score).toBe(65);
    expect(drop.weight).toBe(4000);
    expect(drop.incidents).toBe(2);
    expect(drop.stages.detect).toEqual({ met: 2, reached: 2, p50: 500, p95: 1000 });
    expect(drop.stages.notify).toEqual({ met: 1, reached: 1, p50: 1100, p95: 1100 });
    expect(drop.stages.recover).toEqual({ met: 1, reached: 1, p50: 1000, p95: 1000 });
    const stale = score.classes['stock.stale']!;
    expect(stale.score).toBe(50);
    expect(stale.weight).toBe(6000);
    expect(stale.stages.recover).toEqual({ met: 0, reached: 0, p50: null, p95: null });
    expect(score.score).toBe(56); // (4000·65 + 6000·50) / 10000
    expect(Object.keys(score.classes)).toEqual(['payment.callback.drop', 'stock.stale']);
  });

  it('uses scenario.weights over money at risk', async () => {
    const both = await scoreScenario(mixed().events, makeScenario({ weights: { 'payment.callback.drop': 3, 'stock.stale': 1 } }));
    expect(both.classes['payment.callback.drop']?.weight).toBe(3);
    expect(both.score).toBe(61.25); // (3·65 + 1·50) / 4
    const one = await scoreScenario(mixed().events, makeScenario({ weights: { 'payment.callback.drop': 3 } }));
    expect(one.score).toBeCloseTo((3 * 65 + 6000 * 50) / 6003, 3);
  });

  it('weighs a class with no money at risk as 1', async () => {
    const journal = new JournalBuilder()
      .buyer(0, 'b1', { sku: 'FREE' })
      .fault(100, 'stock.stale', { orderId: 'o1', buyerId: 'b1' })
      .created(150, 'b1', 'o1', { status: 'failed', reason: 'out_of_stock', amount: 0 });
    const score = await scoreScenario(journal.events, makeScenario());
    expect(score.classes['stock.stale']?.weight).toBe(1);
  });

  it('scores the steady-state success rate when no fault hit an order', async () => {
    const journal = new JournalBuilder()
      .happy(0, 'b1', 'o1')
      .happy(10, 'b2', 'o2')
      .happy(20, 'b3', 'o3')
      .happy(30, 'b4', 'o4')
      .buyer(40, 'b5')
      .created(50, 'b5', 'o5')
      .finished(900, 'b5', 'o5', 'failed', 860);
    const score = await scoreScenario(journal.events, makeScenario());
    expect(score.incidents).toEqual([]);
    expect(score.classes).toEqual({});
    expect(score.steadyState).toMatchObject({ orders: 5, succeeded: 4, successRate: 0.8 });
    expect(score.score).toBe(80);
  });

  it('scores 100 for an empty journal', async () => {
    const score = await scoreScenario([], makeScenario());
    expect(score.score).toBe(100);
    expect(score.steadyState).toMatchObject({ orders: 0, succeeded: 0, successRate: 1, ok: true });
    expect(score.invariants.every((invariant) => invariant.ok)).toBe(true);
  });
});

describe('incidents', () => {
  it('starts at the first fault.injected for (fault, order) and merges buyer-only hits into the buyer’s order', async () => {
    const journal = new JournalBuilder()
      .buyer(0, 'b1')
      .fault(900, 'payment.latency', { buyerId: 'b1' })
      .created(950, 'b1', 'o1')
      .fault(1000, 'payment.latency', { orderId: 'o1' })
      .fault(1200, 'payment.latency', { orderId: 'o1' })
      .fault(1100, 'stock.stale', { orderId: 'o1' });
    const score = await scoreScenario(journal.events, makeScenario());
    expect(score.incidents.map((incident) => [incident.class, incident.orderId, incident.buyerId, incident.startedAt])).toEqual([
      ['payment.latency', 'o1', 'b1', 900],
      ['stock.stale', 'o1', 'b1', 1100],
    ]);
  });

  it('scores a fault on a buyer whose order never existed as an incident with no order', async () => {
    const journal = new JournalBuilder()
      .buyer(0, 'b9', { quantity: 2 })
      .fault(50, 'payment.latency', { buyerId: 'b9' })
      .createFailed(3000, 'b9', { httpStatus: 503 });
    const score = await scoreScenario(journal.events, makeScenario());
    expect(score.incidents).toHaveLength(1);
    expect(score.incidents[0]).toMatchObject({ class: 'payment.latency', orderId: null, buyerId: 'b9', amount: 6000, score: 0 });
    expect(score.load).toMatchObject({ unattachedFaults: 1, httpErrors: 1 });
    expect(score.score).toBe(0);
  });
});

describe('steady state', () => {
  function population(): JournalBuilder {
    return (
      new JournalBuilder()
        .happy(0, 'b1', 'o1', { latencyMs: 100 })
        .happy(0, 'b2', 'o2', { latencyMs: 300 })
        .happy(0, 'b3', 'o3', { latencyMs: 200 })
        // not normal: excluded
        .buyer(0, 'b4', { behaviour: 'abandon_payment' })
        .created(10, 'b4', 'o4')
        .finished(9000, 'b4', 'o4', 'abandoned', 9000)
        // dropped at the cap: excluded
        .dropped(0, 'b5')
        // faulted: excluded although it failed
        .buyer(0, 'b6')
        .created(10, 'b6', 'o6')
        .fault(20, 'payment.callback.drop', { orderId: 'o6' })
        .finished(9000, 'b6', 'o6', 'timeout', 9000)
        // faulted by buyer id only: excluded
        .buyer(0, 'b7')
        .fault(5, 'payment.latency', { buyerId: 'b7' })
        .createFailed(10, 'b7', { error: 'ECONNRESET' })
        .finished(20, 'b7', undefined, 'error', 20)
        // normal, fault-free, failed: counted
        .buyer(0, 'b8')
        .created(10, 'b8', 'o8')
        .finished(9000, 'b8', 'o8', 'failed', 9000)
    );
  }

  it('counts normal, undropped, fault-free buyers and their delivered latencies', async () => {
    const score = await scoreScenario(population().events, makeScenario());
    expect(score.steadyState).toEqual({
      orders: 4,
      succeeded: 3,
      successRate: 0.75,
      latency: { p50: 200, p95: 300, p99: 300 },
      thresholds: { successRate: 0.99 },
      ok: false,
    });
  });

  it('checks the thresholds', async () => {
    const lenient = await scoreScenario(population().events, makeScenario({ gate: { steadyState: { successRate: 0.75 } } }));
    expect(lenient.steadyState.ok).toBe(true);
    const slow = await scoreScenario(population().events, makeScenario({ gate: { steadyState: { successRate: 0.5, p95: '250ms' } } }));
    expect(slow.steadyState.thresholds).toEqual({ successRate: 0.5, p95: 250 });
    expect(slow.steadyState.ok).toBe(false);
    const fast = await scoreScenario(population().events, makeScenario({ gate: { steadyState: { successRate: 0.5, p95: '300ms' } } }));
    expect(fast.steadyState.ok).toBe(true);
  });

  it('percentiles are nearest-rank', () => {
    expect(percentile([], 50)).toBeNull();
    expect(percentile([7], 99)).toBe(7);
    const hundred = Array.from({ length: 100 }, (_, index) => index + 1);
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 95)).toBe(95);
    expect(percentile(hundred, 99)).toBe(99);
  });
});

describe('load figures and run metadata', () => {
  it('counts arrivals, drops, orders, HTTP errors and rejections', async () => {
    const journal = new JournalBuilder()
      .happy(0, 'b1', 'o1')
      .buyer(0, 'b2')
      .createFailed(10, 'b2', { httpStatus: 400 })
      .buyer(0, 'b3')
      .createFailed(10, 'b3', { httpStatus: 502 })
      .dropped(0, 'b4');
    const score = await scoreScenario(journal.events, makeScenario());
    expect(score.load).toEqual({ arrivals: 4, dropped: 1, ordersCreated: 1, httpErrors: 1, rejected: 1, unattachedFaults: 0 });
    journal.add(5000, 'load.finished', { arrivals: 10, dropped: 3 });
    expect((await scoreScenario(journal.events, makeScenario())).load).toMatchObject({ arrivals: 10, dropped: 3 });
  });

  it('takes the seed from run.started, else from the scenario', async () => {
    expect((await scoreScenario([], makeScenario({ seed: 5 }))).seed).toBe(5);
    const journal = new JournalBuilder().add(0, 'run.started', {
      scenario: 'unit',
      seed: 42,
      startedAt: '2024-01-01T00:00:00.000Z',
      replay: 'ordeal run unit.yaml --seed 42',
      target: 'builtin',
    });
    const score = await scoreScenario(journal.events, makeScenario({ seed: 5 }));
    expect(score.seed).toBe(42);
    expect(score.scenario).toBe('unit');
  });
});

describe('streaming', () => {
  it('scores an async generator the same as an array', async () => {
    const events = mixed().events;
    const fromArray = await scoreScenario(events, makeScenario());
    const fromStream = await scoreScenario(streamOf(events), makeScenario());
    expect(fromStream).toEqual(fromArray);
  });

  it('consumes a one-shot sync generator once', async () => {
    const events = mixed().events;
    let pulled = 0;
    function* once(): Generator<JournalEvent> {
      for (const event of events) {
        pulled++;
        yield event;
      }
    }
    const score = await scoreScenario(once(), makeScenario());
    expect(pulled).toBe(events.length);
    expect(score.score).toBe(56);
  });

  it('exposes the fold and scoring separately', async () => {
    const run = await foldJournal(mixed().events);
    expect(run.orders.get('o1')?.captures).toEqual([{ t: 1000, amount: 3000, payerId: 'payer' }]);
    expect(run.orders.get('o1')?.contact).toBe(contactOf('b1'));
    expect(scoreFolded(run, makeScenario()).score).toBe(56);
  });
});
