import { describe, expect, it } from 'vitest';
import { arrivalSchedule, plannedArrivalCount } from '../harness/arrivals.js';

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
