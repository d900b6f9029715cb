/**
 * Execution segments (`--segment i/n`, core/segments.ts): n segments' arrivals are exactly the
 * whole run's, each once, at the same intended times; each segment's share of every stage is
 * within one arrival of 1/n, so the segments' rates add up to the scenario's; a closed model's
 * loops are shared out the same way, with order numbers that do not depend on the segment; the
 * buyers and the fault decisions are the same whichever segment makes them.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { arrivalSchedule, runClosedLoops, timerClock, type PlannedArrival } from '../core/arrivals.js';
import { OrdealError } from '../core/errors.js';
import type { LoadStage } from '../core/scenario-schema.js';
import { formatSegment, parseSegment, segmentSchedule, segmentShare, type Segment } from '../core/segments.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { BuyerFactory } from '../harness/drive/buyers.js';
import { validate } from '../harness/scenario/loader.js';

const STAGES: LoadStage[] = [
  { rate: 5, rampTo: 60, duration: 4000 },
  { rate: 60, duration: 3000 },
  { rate: 60, rampTo: 0.5, duration: 2000 },
];

const segmentsOf = (count: number): Segment[] => Array.from({ length: count }, (_, index) => ({ index, count }));

describe('parseSegment', () => {
  it('reads INDEX/COUNT, counting from 0', () => {
    expect(parseSegment('0/4')).toEqual({ index: 0, count: 4 });
    expect(parseSegment(' 3 / 4 ')).toEqual({ index: 3, count: 4 });
    expect(formatSegment(parseSegment('2/7'))).toBe('2/7');
  });

  it.each([
    ['4/4', /counts from 0, so it must be below 4/],
    ['1/0', /count must be from 1 to 10000/],
    ['0/20000', /count must be from 1 to 10000/],
    ['1', /INDEX\/COUNT/],
    ['-1/4', /INDEX\/COUNT/],
    ['a/b', /INDEX\/COUNT/],
    ['1.5/4', /INDEX\/COUNT/],
  ])('refuses %s with a usage error that says why', (text, message) => {
    let caught: unknown;
    try {
      parseSegment(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(OrdealError);
    expect((caught as OrdealError).code).toBe('ORDEAL_ERR_USAGE');
    expect((caught as OrdealError).message).toMatch(message);
  });
});

describe('segment schedules', () => {
  const whole = [...arrivalSchedule(STAGES)];

  it.each([1, 2, 3, 4, 7, 16])('the union of %i segments is the whole schedule, each arrival once and at its time', (count) => {
    const parts = segmentsOf(count).map((segment) => [...segmentSchedule(arrivalSchedule(STAGES), segment)]);
    const union = parts.flat().sort((a, b) => a.seq - b.seq);
    expect(union).toEqual(whole);
    expect(new Set(union.map((arrival) => arrival.seq)).size).toBe(whole.length);
    // Each segment takes its share: within one arrival of 1/n, and its count is segmentShare's.
    parts.forEach((part, index) => {
      expect(part.length).toBe(segmentShare(whole.length, { index, count }));
      expect(Math.abs(part.length - whole.length / count)).toBeLessThanOrEqual(1);
    });
  });

  it.each([2, 3, 4])('splits every second of a ramp evenly over %i segments: their rates add up to the scenario\'s', (count) => {
    const perSecond = (arrivals: PlannedArrival[]): number[] => {
      const counts = new Array<number>(9).fill(0);
      for (const arrival of arrivals) counts[Math.floor(arrival.at / 1000)]!++;
      return counts;
    };
    const wholeRate = perSecond(whole);
    const segmentRates = segmentsOf(count).map((segment) => perSecond([...segmentSchedule(arrivalSchedule(STAGES), segment)]));
    for (let second = 0; second < 9; second++) {
      const rates = segmentRates.map((rates) => rates[second]!);
      expect(rates.reduce((sum, rate) => sum + rate, 0)).toBe(wholeRate[second]);
      // No segment runs ahead of another by more than the one arrival interleaving allows (plus one at each edge of the second).
      expect(Math.max(...rates) - Math.min(...rates)).toBeLessThanOrEqual(2);
    }
  });

  it('shares a cap or a buyer count out exactly, never leaving a segment with none when asked', () => {
    for (const total of [1, 5, 60, 2000]) {
      for (const count of [1, 3, 8]) {
        const shares = segmentsOf(count).map((segment) => segmentShare(total, segment));
        expect(shares.reduce((sum, share) => sum + share, 0)).toBe(total);
        expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
      }
    }
    expect(segmentShare(2, { index: 2, count: 3 })).toBe(0);
    expect(segmentShare(2, { index: 2, count: 3 }, true)).toBe(1);
  });
});

describe('closed-model loops in segments', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Runs the loops of one segment (or the whole run) with orders taking a loop-dependent time; records the order numbers. */
  async function ordersOf(segment: Segment | undefined): Promise<Array<{ seq: number; loop: number }>> {
    const clock = timerClock(() => Date.now());
    const started: Array<{ seq: number; loop: number }> = [];
    const done = runClosedLoops(
      clock,
      async (seq, _intendedAt, loop) => {
        started.push({ seq, loop });
        // Loops go at different speeds: a run-wide counter would number their orders by timing.
        await new Promise((wake) => setTimeout(wake, 40 + loop * 30));
      },
      { buyers: 5, thinkTime: 10, duration: 1000, start: Date.now(), ...(segment ? { segment } : {}) },
    );
    await vi.advanceTimersByTimeAsync(1500);
    expect(await done).toBe(started.length);
    return started;
  }

  it.each([2, 3])('runs loop k in segment k mod %i, numbering each loop\'s orders as the whole run does', async (count) => {
    const whole = await ordersOf(undefined);
    const parts: Array<Array<{ seq: number; loop: number }>> = [];
    for (const segment of segmentsOf(count)) parts.push(await ordersOf(segment));
    parts.forEach((part, index) => expect(part.every((order) => order.loop % count === index)).toBe(true));
    const bySeq = (a: { seq: number }, b: { seq: number }): number => a.seq - b.seq;
    expect(parts.flat().sort(bySeq)).toEqual([...whole].sort(bySeq));
    expect(new Set(whole.map((order) => order.seq)).size).toBe(whole.length);
  });
});

describe('buyers and fault decisions', () => {
  const scenario = validate(
    'segments.yaml',
    {
      name: 'segments',
      catalog: { skus: [{ sku: 'A', name: 'A', price: 100, stock: 1000 }, { sku: 'B', name: 'B', price: 250, stock: 1000 }] },
      load: { stages: [{ rate: '50/s', duration: '4s' }] },
      buyers: { mix: { normal: 0.8, abandon_payment: 0.1, double_submit: 0.1 } },
      faults: [
        { id: 'payment.callback.drop', probability: 0.2 },
        { id: 'payment.latency', probability: 0.3, delay: { uniform: { min: '50ms', max: '400ms' } } },
      ],
    },
  );

  it('are the same whichever segment makes them', () => {
    const wholeFactory = new BuyerFactory(scenario, 11, scenario.catalog);
    const wholePlan = new FaultPlan(scenario.faults, 11);
    for (const segment of segmentsOf(3)) {
      // Each segment is its own process: its own factory and plan, created after others have been used.
      const factory = new BuyerFactory(scenario, 11, scenario.catalog);
      const plan = new FaultPlan(scenario.faults, 11);
      for (const { seq } of segmentSchedule(arrivalSchedule(STAGES), segment)) {
        const buyer = factory.create(seq);
        expect(buyer).toEqual(wholeFactory.create(seq));
        for (const index of [0, 1]) expect(plan.decides(index, buyer.id)).toBe(wholePlan.decides(index, buyer.id));
        expect(plan.delayFor(1, { uniform: { min: 50, max: 400 } }, buyer.id)).toBe(wholePlan.delayFor(1, { uniform: { min: 50, max: 400 } }, buyer.id));
      }
    }
  });
});
