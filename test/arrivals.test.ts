import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  arrivalSchedule,
  dispatchArrivals,
  loadDuration,
  plannedArrivalCount,
  plannedDuration,
  timerClock,
  type ArrivalClock,
} from '../core/arrivals.js';

describe('open-model arrival schedule', () => {
  it('spaces a constant rate evenly and plans rate × duration arrivals', () => {
    const arrivals = [...arrivalSchedule([{ rate: 20, duration: 5000 }])];
    expect(arrivals).toHaveLength(100);
    expect(arrivals[0]!.at).toBe(0);
    expect(arrivals[1]!.at).toBeCloseTo(50, 6);
    expect(arrivals.at(-1)!.at).toBeCloseTo(4950, 6);
    expect(arrivals.map((arrival) => arrival.seq)).toEqual(arrivals.map((_, index) => index));
  });

  it('ramps linearly: the count per second follows the rate', () => {
    const arrivals = [...arrivalSchedule([{ rate: 10, rampTo: 50, duration: 10_000 }])];
    expect(arrivals).toHaveLength(300);
    const perSecond = Array.from({ length: 10 }, (_, second) => arrivals.filter((a) => a.at >= second * 1000 && a.at < (second + 1) * 1000).length);
    // Rate at the middle of second s is 10 + 4·(s + 0.5).
    perSecond.forEach((count, second) => expect(Math.abs(count - (12 + 4 * second))).toBeLessThanOrEqual(1));
    for (let i = 1; i < arrivals.length; i++) expect(arrivals[i]!.at).toBeGreaterThanOrEqual(arrivals[i - 1]!.at);
  });

  it('chains stages without losing or adding arrivals at the boundary', () => {
    const stages = [
      { rate: 2.5, duration: 1000 },
      { rate: 2.5, duration: 1000 },
    ];
    expect(plannedArrivalCount(stages)).toBe(5);
    const times = [...arrivalSchedule(stages)].map((arrival) => arrival.at);
    expect(times).toEqual([0, 400, 800, 1200, 1600]);
  });

  it('plans nothing for a zero rate', () => {
    expect(plannedArrivalCount([{ rate: 0, duration: 5000 }])).toBe(0);
  });
});

describe('dispatchArrivals on a fake clock', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** The flash-sale shape: ramp up, hold, spike, ramp down. */
  const stages = [
    { rate: 5, rampTo: 80, duration: 4000 },
    { rate: 80, duration: 3000 },
    { rate: 160, duration: 1000 },
    { rate: 80, rampTo: 5, duration: 4000 },
  ];
  /** Arrivals each stage plans: the mean rate × its duration. */
  const plannedPerStage = stages.map((stage) => ((stage.rate + (stage.rampTo ?? stage.rate)) / 2) * (stage.duration / 1000));

  /** Runs the schedule on vitest's fake timers; returns each arrival's dispatch time and intended time (load time). */
  async function dispatchOnFakeTimers(onArrival?: () => Promise<unknown>): Promise<Array<{ at: number; intended: number; seq: number }>> {
    const clock = timerClock(() => Date.now());
    const start = clock.now();
    const seen: Array<{ at: number; intended: number; seq: number }> = [];
    const done = dispatchArrivals(arrivalSchedule(stages), clock, (arrival, intendedAt) => {
      seen.push({ at: clock.now() - start, intended: intendedAt - start, seq: arrival.seq });
      return onArrival?.();
    }, { start });
    await vi.advanceTimersByTimeAsync(plannedDuration(stages) + 1000);
    expect(await done).toBe(seen.length);
    return seen;
  }

  it('matches every stage (ramp up, hold, spike, ramp down) within 1% of the plan', async () => {
    const seen = await dispatchOnFakeTimers();
    expect(plannedPerStage).toEqual([170, 240, 160, 170]);
    let from = 0;
    stages.forEach((stage, index) => {
      const to = from + stage.duration;
      const count = seen.filter((arrival) => arrival.at >= from && arrival.at < to).length;
      const planned = plannedPerStage[index]!;
      expect(Math.abs(count - planned) / planned, `stage ${index}: ${count} arrivals, ${planned} planned`).toBeLessThanOrEqual(0.01);
      from = to;
    });
    expect(seen).toHaveLength(740);
    // Every arrival is handed over at its intended time (timer granularity is 1 ms).
    for (const arrival of seen) expect(Math.abs(arrival.at - arrival.intended)).toBeLessThanOrEqual(1);
  });

  it('never lets a slow handler delay later arrivals (open model)', async () => {
    let open = 0;
    let maxOpen = 0;
    const seen = await dispatchOnFakeTimers(async () => {
      open++;
      maxOpen = Math.max(maxOpen, open);
      // Each buyer takes 2 s; the schedule does not wait for it.
      await new Promise((wake) => setTimeout(wake, 2000));
      open--;
    });
    expect(seen).toHaveLength(740);
    expect(maxOpen).toBeGreaterThan(100);
    for (const arrival of seen) expect(Math.abs(arrival.at - arrival.intended)).toBeLessThanOrEqual(1);
    await vi.advanceTimersByTimeAsync(2500);
    expect(open).toBe(0);
  });

  it('stops handing over arrivals when the signal aborts', async () => {
    const controller = new AbortController();
    const clock = timerClock(() => Date.now());
    const start = clock.now();
    let count = 0;
    const done = dispatchArrivals(arrivalSchedule([{ rate: 100, duration: 10_000 }]), clock, () => void count++, { start, signal: controller.signal });
    await vi.advanceTimersByTimeAsync(995);
    controller.abort();
    expect(await done).toBe(100);
    expect(count).toBe(100);
  });
});

describe('dispatchArrivals falling behind', () => {
  it('catches up at once and keeps each arrival\'s intended time (no coordinated omission)', async () => {
    // A clock whose every sleep overshoots by 30 ms, as a busy event loop would.
    let now = 1000;
    const clock: ArrivalClock = {
      now: () => now,
      sleep: async (ms) => {
        now += ms + 30;
      },
    };
    const handed: Array<{ seq: number; intendedAt: number; at: number }> = [];
    const count = await dispatchArrivals(arrivalSchedule([{ rate: 100, duration: 1000 }]), clock, (arrival, intendedAt) => {
      handed.push({ seq: arrival.seq, intendedAt, at: now });
    });
    expect(count).toBe(100);
    expect(handed.map((entry) => entry.intendedAt)).toEqual(Array.from({ length: 100 }, (_, index) => 1000 + index * 10));
    // After an overshoot, the arrivals already due go out without sleeping.
    const late = handed.filter((entry) => entry.at > entry.intendedAt);
    expect(late.length).toBeGreaterThan(50);
    expect(now - 1000).toBeLessThan(1100);
  });
});

describe('loadDuration', () => {
  it('is the stages\' total for an open model and the duration for a closed one', () => {
    expect(loadDuration({ model: 'open', stages: [{ rate: 1, duration: 2000 }, { rate: 2, duration: 500 }], maxInFlight: 10 })).toBe(2500);
    expect(loadDuration({ model: 'closed', buyers: 3, thinkTime: 100, duration: 4000, maxInFlight: 3, stages: [{ rate: 0, duration: 4000 }] })).toBe(4000);
  });
});
