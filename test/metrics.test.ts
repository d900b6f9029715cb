/**
 * Latency metrics (harness/score/metrics.ts): HDR histograms that merge exactly, request latency from
 * intended start beside service time, order stages from the intended arrival, and the per-second
 * series, folded from hand-made journals.
 */
import { describe, expect, it } from 'vitest';
import {
  createHistogram,
  decode,
  encode,
  foldMetrics,
  HISTOGRAM_SETTINGS,
  mergeEncoded,
  mergeScenarioMetrics,
  MetricsFolder,
  recordMs,
  summarize,
} from '../harness/score/metrics.js';
import type { JournalEvent } from '../core/journal.js';
import { JournalBuilder } from './score-journal.js';

/** mulberry32: a small seeded PRNG, so the samples are the same on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Latency-like samples (ms): mostly tens of ms, a long tail to tens of seconds. */
function samples(count: number, seed: number): number[] {
  const random = seeded(seed);
  return Array.from({ length: count }, () => {
    const u = Math.max(1e-9, random());
    const v = random();
    const normal = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return Math.round(Math.exp(Math.log(40) + 1.2 * normal) * 1000) / 1000;
  });
}

/** The raw samples around the nearest rank of percentile p (HDR's rank may differ by one). */
function samplesAtPercentile(sorted: number[], p: number): number[] {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted.slice(Math.max(0, rank - 2), rank + 1);
}

/** A figure at the histogram's precision (3 significant digits); null stays null. */
const sig3 = (value: number | null): number | null => (value === null ? null : Number(value.toPrecision(3)));

/** The figures of an encoded histogram (or a per-second entry) at the histogram's precision. */
function rounded<T extends object>(figures: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(figures).filter(([key]) => key !== 'encoded').map(([key, value]) => [key, typeof value === 'number' && !['count', 'second', 'arrivals', 'dropped', 'requests', 'errors', 'completed', 'failed'].includes(key) ? sig3(value) : value]));
}

describe('encoded histograms', () => {
  it('merge to exactly the figures (and the encoding) of one histogram of all the samples', () => {
    const values = samples(20_000, 42);
    const random = seeded(7);
    const [left, right, all] = [createHistogram(), createHistogram(), createHistogram()];
    for (const value of values) {
      recordMs(random() < 0.3 ? left : right, value);
      recordMs(all, value);
    }
    const a = encode(left);
    const b = encode(right);
    expect(a.count + b.count).toBe(values.length);
    expect(a.count).toBeGreaterThan(5000);
    const merged = mergeEncoded(a, b);
    const whole = encode(all);
    expect(merged).toEqual(whole);
    expect(mergeEncoded(b.encoded, a.encoded)).toEqual(whole);
    // And the figures are the samples' own, within the histogram's 3 significant digits.
    const sorted = [...values].sort((x, y) => x - y);
    for (const [p, key] of [[50, 'p50'], [90, 'p90'], [95, 'p95'], [99, 'p99'], [99.9, 'p999']] as const) {
      const figure = whole[key] as number;
      const near = samplesAtPercentile(sorted, p).some((sample) => Math.abs(figure - sample) / sample <= 0.001);
      expect(near, `${key} ${figure} vs ${samplesAtPercentile(sorted, p).join(', ')}`).toBe(true);
    }
    expect(whole.max).toBeCloseTo(Math.max(...values), 0);
    expect(Math.abs((whole.min as number) - Math.min(...values))).toBeLessThan(0.002);
    expect(whole.mean).toBeCloseTo(values.reduce((sum, value) => sum + value, 0) / values.length, -1);
  });

  it('decode gives back the counts; summarize reads the figures from the encoding alone', () => {
    const histogram = createHistogram();
    for (const value of [1, 2, 3, 4, 1000]) recordMs(histogram, value);
    const encoded = encode(histogram);
    expect(decode(encoded).totalCount).toBe(5);
    expect(sig3(decode(encoded.encoded).getValueAtPercentile(50))).toBe(3000);
    expect(summarize(encoded.encoded)).toEqual(encoded);
    expect(rounded(encoded)).toMatchObject({ count: 5, min: 1, p50: 3, max: 1000 });
    expect(encoded.encoded).toMatch(/^HISTF/);
  });

  it('reports an empty histogram as nulls, and clamps samples to 1 µs … 1 h', () => {
    expect(encode(createHistogram())).toMatchObject({ count: 0, min: null, max: null, mean: null, p50: null, p999: null });
    const histogram = createHistogram();
    recordMs(histogram, 0);
    recordMs(histogram, -5);
    recordMs(histogram, 10 * 3_600_000);
    recordMs(histogram, Number.POSITIVE_INFINITY);
    const figures = encode(histogram);
    expect(figures.count).toBe(4);
    expect(figures.min).toBe(0.001);
    expect(figures.max).toBeGreaterThanOrEqual(HISTOGRAM_SETTINGS.highestTrackableValue / 1000);
    expect(figures.max).toBeLessThan((HISTOGRAM_SETTINGS.highestTrackableValue / 1000) * 1.001);
  });
});

/** A create answer with its intended start. */
function createAnswer(
  journal: JournalBuilder,
  t: number,
  buyerId: string,
  options: { intendedAt?: number; latencyMs: number; httpStatus?: number; orderId?: string; error?: string; key?: string },
): JournalBuilder {
  return journal.add(t, 'order.create.answered', {
    buyerId,
    idempotencyKey: options.key ?? `key-${buyerId}`,
    latencyMs: options.latencyMs,
    ...(options.httpStatus === undefined ? {} : { httpStatus: options.httpStatus }),
    ...(options.error === undefined ? {} : { error: options.error }),
    ...(options.orderId === undefined ? {} : { orderId: options.orderId, status: 'pending_payment' }),
    ...(options.intendedAt === undefined ? {} : { intendedAt: options.intendedAt }),
  });
}

describe('MetricsFolder', () => {
  it('measures each endpoint from intended start (response time) and from the send (service time)', async () => {
    const journal = new JournalBuilder().buyer(1000, 'b1');
    // The shop stalled: the buyer meant to send at 1000, the answer came at 1800 after 20 ms on the wire.
    createAnswer(journal, 1800, 'b1', { intendedAt: 1000, latencyMs: 20, httpStatus: 201, orderId: 'o1' });
    journal.add(2500, 'cashier.paid', {
      buyerId: 'b1',
      orderId: 'o1',
      tradeNo: 'T-o1',
      latencyMs: 5,
      httpStatus: 200,
      result: 'TRADE_SUCCESS',
      intendedAt: 2300,
    });
    journal.add(2600, 'order.cancel.answered', { buyerId: 'b1', orderId: 'o1', latencyMs: 30, httpStatus: 409, intendedAt: 2560 });
    journal.add(2700, 'cashier.verified', { buyerId: 'b1', orderId: 'o1', verificationId: 'V1', latencyMs: 7, result: 'error', intendedAt: 2600 });
    const metrics = await foldMetrics(journal.events);
    const figures = (name: keyof typeof metrics.endpoints) => {
      const endpoint = metrics.endpoints[name];
      return [endpoint.count, endpoint.errors, sig3(endpoint.responseTime.p50), sig3(endpoint.serviceTime.p50)];
    };
    expect(figures('create')).toEqual([1, 0, 800, 20]);
    expect(figures('pay')).toEqual([1, 0, 200, 5]);
    // 409 is an answer; no answer at all (verify) is an error.
    expect(figures('cancel')).toEqual([1, 0, 40, 30]);
    expect(figures('verify')).toEqual([1, 1, 100, 7]);
  });

  it('without intendedAt on the answer (older journals): a first submission from the arrival, a later one from its send', async () => {
    const journal = new JournalBuilder().buyer(0, 'b1');
    createAnswer(journal, 900, 'b1', { latencyMs: 50, httpStatus: 503 });
    createAnswer(journal, 2000, 'b1', { latencyMs: 40, httpStatus: 201, orderId: 'o1' });
    journal.add(3000, 'cashier.paid', { buyerId: 'b1', orderId: 'o1', tradeNo: 'T-o1', latencyMs: 12, httpStatus: 200, result: 'TRADE_SUCCESS' });
    const metrics = await foldMetrics(journal.events);
    const folder = new MetricsFolder();
    for (const event of journal.events) folder.add(event);
    expect(folder.finish()).toEqual(metrics);
    expect(metrics.endpoints.create.count).toBe(2);
    expect(metrics.endpoints.create.errors).toBe(1);
    expect(rounded(metrics.endpoints.create.responseTime)).toMatchObject({ min: 40, max: 900 });
    expect(rounded(metrics.endpoints.create.serviceTime)).toMatchObject({ min: 40, max: 50 });
    expect(sig3(metrics.endpoints.pay.responseTime.p50)).toBe(12);
  });

  it('times each order stage once, from its buyer\'s intended arrival', async () => {
    const journal = new JournalBuilder().buyer(100, 'b1').buyer(200, 'b2');
    createAnswer(journal, 400, 'b1', { intendedAt: 100, latencyMs: 10, httpStatus: 201, orderId: 'o1' });
    // A replayed key answers 200 with the same order: not a second creation.
    createAnswer(journal, 450, 'b1', { intendedAt: 440, latencyMs: 10, httpStatus: 200, orderId: 'o1' });
    createAnswer(journal, 700, 'b2', { intendedAt: 200, latencyMs: 10, httpStatus: 201, orderId: 'o2' });
    journal
      .paid(1100, 'o1')
      .paid(1150, 'o1')
      .observed(1600, 'o1', 'b1', 'fulfilling')
      .observed(2100, 'o1', 'b1', 'delivered', { cards: 1 })
      .observed(2300, 'o1', 'b1', 'delivered', { cards: 1 })
      .finished(2100, 'b1', 'o1', 'delivered', 2000)
      .observed(3200, 'o2', 'b2', 'expired')
      .finished(3200, 'b2', 'o2', 'failed', 3000)
      // An order nobody's buyer knows of (the shop's own) is not timed.
      .paid(1200, 'stray');
    const { stages } = await foldMetrics(journal.events);
    expect(rounded(stages.created)).toMatchObject({ count: 2, min: 300, max: 500 });
    expect(rounded(stages.paid)).toMatchObject({ count: 1, p50: 1000 });
    expect(rounded(stages.delivered)).toMatchObject({ count: 1, p50: 2000 });
    expect(rounded(stages.completed)).toMatchObject({ count: 1, p50: 2000 });
  });

  it('builds the per-second series from load start: arrivals, drops, requests, errors, completions, latency', async () => {
    const journal = new JournalBuilder();
    // Load starts at t = 5000 (the first intended arrival): seconds count from there.
    journal.buyer(5000, 'b1').buyer(5400, 'b2').buyer(6100, 'b3').dropped(6200, 'b4').buyer(8000, 'b5');
    createAnswer(journal, 5050, 'b1', { intendedAt: 5000, latencyMs: 50, httpStatus: 201, orderId: 'o1' });
    // Intended in second 0, answered in second 1: counted where it was meant to start.
    createAnswer(journal, 6300, 'b2', { intendedAt: 5400, latencyMs: 100, httpStatus: 201, orderId: 'o2' });
    createAnswer(journal, 6400, 'b3', { intendedAt: 6100, latencyMs: 300, error: 'ECONNRESET: socket hang up' });
    createAnswer(journal, 8020, 'b5', { intendedAt: 8000, latencyMs: 20, httpStatus: 400 });
    journal
      .finished(7500, 'b1', 'o1', 'delivered', 2500)
      .finished(7900, 'b2', 'o2', 'delivered', 2500)
      .finished(8000, 'b3', undefined, 'error', 1900)
      .finished(8021, 'b5', undefined, 'rejected', 21);
    const { perSecond } = await foldMetrics(journal.events);
    expect(perSecond.map(rounded)).toEqual([
      { second: 0, arrivals: 2, dropped: 0, requests: 2, errors: 0, completed: 0, failed: 0, p50: 50, p95: 900, p99: 900 },
      { second: 1, arrivals: 2, dropped: 1, requests: 1, errors: 1, completed: 0, failed: 0, p50: 300, p95: 300, p99: 300 },
      { second: 2, arrivals: 0, dropped: 0, requests: 0, errors: 0, completed: 2, failed: 0, p50: null, p95: null, p99: null },
      { second: 3, arrivals: 1, dropped: 0, requests: 1, errors: 0, completed: 0, failed: 2, p50: 20, p95: 20, p99: 20 },
    ]);
    expect(decode(perSecond[0]!.encoded).totalCount).toBe(2);
    expect(decode(perSecond[2]!.encoded).totalCount).toBe(0);
  });

  it('merges two runs\' metrics into what one fold of both journals gives', async () => {
    const run = (prefix: string, stall: number): JournalEvent[] => {
      const journal = new JournalBuilder();
      for (let index = 0; index < 30; index++) {
        const at = index * 100;
        const buyerId = `${prefix}${index}`;
        journal.buyer(at, buyerId);
        createAnswer(journal, at + 15 + (index % 7 === 0 ? stall : 0), buyerId, { intendedAt: at, latencyMs: 15, httpStatus: 201, orderId: `o-${buyerId}` });
        journal.paid(at + 400, `o-${buyerId}`).observed(at + 900, `o-${buyerId}`, buyerId, 'delivered').finished(at + 900, buyerId, `o-${buyerId}`, 'delivered', 900);
      }
      return journal.events;
    };
    const a = run('a', 700);
    const b = run('b', 1500);
    const merged = mergeScenarioMetrics(await foldMetrics(a), await foldMetrics(b));
    expect(merged).toEqual(await foldMetrics([...a, ...b]));
    expect(merged.endpoints.create.count).toBe(60);
    expect(merged.perSecond.reduce((sum, entry) => sum + entry.arrivals, 0)).toBe(60);
  });
});

describe('MetricsFolder over a long run', () => {
  it('gives the same series whether a late answer reaches an old second before or after that second was set aside', async () => {
    /** 45 seconds of one buyer a second, and a buyer of second 2 whose create answer only comes at 44.5 s (a hung connection). */
    const journal = (slowAnswerFirst: boolean): JournalEvent[] => {
      const builder = new JournalBuilder();
      const slow = (): void => {
        builder.buyer(2500, 'slow');
        createAnswer(builder, 44_500, 'slow', { intendedAt: 2500, latencyMs: 42_000, httpStatus: 201, orderId: 'o-slow' });
      };
      for (let second = 0; second < 45; second++) {
        builder.buyer(second * 1000, `b${second}`);
        createAnswer(builder, second * 1000 + 30, `b${second}`, { intendedAt: second * 1000, latencyMs: 30, httpStatus: 201, orderId: `o${second}` });
        if (second === 2 && slowAnswerFirst) slow();
      }
      if (!slowAnswerFirst) slow();
      return builder.events;
    };
    const metrics = await foldMetrics(journal(false));
    expect(await foldMetrics(journal(true))).toEqual(metrics);
    expect(metrics.perSecond).toHaveLength(45);
    expect(metrics.perSecond[2]).toMatchObject({ arrivals: 2, requests: 2 });
    expect(sig3(metrics.perSecond[2]!.p99)).toBe(42_000);
    expect(sig3(metrics.perSecond[3]!.p99)).toBe(30);
  });
});

describe('per-second buckets', () => {
  it('put a request meant at an arrival in the arrival\'s second, although the journal rounds it to the microsecond', async () => {
    const origin = 509.3123519999999;
    const journal = new JournalBuilder();
    for (let index = 0; index <= 50; index++) {
      const intendedAt = origin + index * 20;
      journal.add(intendedAt, 'buyer.arrived', {
        buyerId: `b${index}`,
        seq: index,
        behaviour: 'normal',
        sku: 'MONTH_CARD',
        quantity: 1,
        contact: `b${index}@example.test`,
        region: 'CN-GD',
        signals: [],
        intendedAt,
      });
      createAnswer(journal, intendedAt + 5, `b${index}`, { intendedAt: Math.round(intendedAt * 1000) / 1000, latencyMs: 5, httpStatus: 201, orderId: `o${index}` });
    }
    const { perSecond } = await foldMetrics(journal.events);
    expect(perSecond.map((entry) => [entry.arrivals, entry.requests])).toEqual([
      [50, 50],
      [1, 1],
    ]);
  });
});
