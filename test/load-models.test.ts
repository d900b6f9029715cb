/** The load models: the scenario's `load` forms, and the closed model's buyer loops on a fake clock. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runClosedLoops, timerClock } from '../core/arrivals.js';
import { scenarioSchema } from '../core/scenario-schema.js';

const base = {
  name: 'load-models',
  catalog: { skus: [{ sku: 'A', name: 'A', price: 100, stock: 1 }] },
};

describe('load in the scenario schema', () => {
  it('defaults to the open model, so every existing scenario stays valid', () => {
    const scenario = scenarioSchema.parse({ ...base, load: { stages: [{ rate: '5/s', rampTo: '80/s', duration: '3s' }] } });
    expect(scenario.load).toEqual({ model: 'open', stages: [{ rate: 5, rampTo: 80, duration: 3000 }], maxInFlight: 200 });
  });

  it('takes a closed model: buyers, think time and duration; maxInFlight is the buyer count', () => {
    const scenario = scenarioSchema.parse({ ...base, load: { model: 'closed', buyers: 20, thinkTime: '250ms', duration: '10s' } });
    expect(scenario.load).toEqual({
      model: 'closed',
      buyers: 20,
      thinkTime: 250,
      duration: 10_000,
      maxInFlight: 20,
      // The load's length with no planned open-model arrivals.
      stages: [{ rate: 0, duration: 10_000 }],
    });
    expect(scenarioSchema.parse({ ...base, load: { model: 'closed', buyers: 1, duration: '1s' } }).load).toMatchObject({ thinkTime: 0 });
  });

  it('refuses mixed or incomplete forms', () => {
    const refused = (load: unknown): string[] => {
      const result = scenarioSchema.safeParse({ ...base, load });
      expect(result.success).toBe(false);
      return result.error!.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    };
    expect(refused({ model: 'closed', buyers: 5, duration: '5s', stages: [{ rate: 1, duration: 1000 }] }).join('\n')).toMatch(/stages/);
    expect(refused({ model: 'closed', buyers: 5, duration: '5s', maxInFlight: 3 }).join('\n')).toMatch(/maxInFlight/);
    expect(refused({ model: 'closed', duration: '5s' }).join('\n')).toMatch(/load\.buyers/);
    expect(refused({ model: 'closed', buyers: 0, duration: '5s' }).join('\n')).toMatch(/load\.buyers/);
    expect(refused({ model: 'open', buyers: 5 }).join('\n')).toMatch(/load\.stages|buyers/);
    expect(refused({ model: 'poisson', stages: [] }).join('\n')).toMatch(/model: open.*model: closed|load\.model/);
  });
});

describe('runClosedLoops on a fake clock', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A stub order that takes `orderMs`; records starts and ends per loop and the orders in flight. */
  function stubOrders(orderMs: number) {
    const clock = timerClock(() => Date.now());
    const state = {
      clock,
      inFlight: 0,
      maxInFlight: 0,
      started: [] as Array<{ seq: number; loop: number; at: number; intendedAt: number }>,
      ended: [] as Array<{ loop: number; at: number }>,
    };
    const runOrder = async (seq: number, intendedAt: number, loop: number): Promise<void> => {
      state.started.push({ seq, loop, at: clock.now(), intendedAt });
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      await new Promise((wake) => setTimeout(wake, orderMs));
      state.inFlight--;
      state.ended.push({ loop, at: clock.now() });
    };
    return { state, runOrder };
  }

  it('keeps N orders in flight with no think time, and starts none after the duration', async () => {
    const { state, runOrder } = stubOrders(100);
    const start = state.clock.now();
    const done = runClosedLoops(state.clock, runOrder, { buyers: 5, thinkTime: 0, duration: 1000, start });
    for (let t = 0; t < 1000; t += 25) {
      expect(state.inFlight, `in flight at ${t} ms`).toBe(5);
      await vi.advanceTimersByTimeAsync(25);
    }
    await vi.advanceTimersByTimeAsync(500);
    // Each loop: orders starting at 0, 100, …, 900.
    expect(await done).toBe(50);
    expect(state.maxInFlight).toBe(5);
    expect(state.started.every((order) => order.at - start < 1000)).toBe(true);
    expect(state.started.map((order) => order.seq)).toEqual(Array.from({ length: 50 }, (_, index) => index));
    expect(state.inFlight).toBe(0);
  });

  it('waits the think time between a buyer\'s orders, and measures from when it meant to start', async () => {
    const { state, runOrder } = stubOrders(100);
    const start = state.clock.now();
    const done = runClosedLoops(state.clock, runOrder, { buyers: 3, thinkTime: 50, duration: 1000, start });
    await vi.advanceTimersByTimeAsync(1500);
    // Each loop: 0, 150, 300, 450, 600, 750, 900.
    expect(await done).toBe(21);
    expect(state.maxInFlight).toBe(3);
    for (let loop = 0; loop < 3; loop++) {
      const starts = state.started.filter((order) => order.loop === loop);
      const ends = state.ended.filter((order) => order.loop === loop);
      expect(starts.map((order) => order.at - start)).toEqual([0, 150, 300, 450, 600, 750, 900]);
      expect(starts.map((order) => order.intendedAt)).toEqual(starts.map((order) => order.at));
      for (let index = 1; index < starts.length; index++) expect(starts[index]!.at - ends[index - 1]!.at).toBe(50);
    }
  });

  it('goes on after a failing order, and stops starting orders when the signal aborts', async () => {
    const clock = timerClock(() => Date.now());
    const controller = new AbortController();
    let calls = 0;
    const done = runClosedLoops(
      clock,
      async () => {
        calls++;
        await new Promise((wake) => setTimeout(wake, 10));
        throw new Error('shop said no');
      },
      { buyers: 2, thinkTime: 90, duration: 10_000, signal: controller.signal },
    );
    await vi.advanceTimersByTimeAsync(450);
    controller.abort();
    await vi.advanceTimersByTimeAsync(100);
    // Starts at 0, 100, 200, 300, 400 per loop.
    expect(await done).toBe(10);
    expect(calls).toBe(10);
  });
});
