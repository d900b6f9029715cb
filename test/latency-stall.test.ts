/**
 * No coordinated omission: a real run (50 orders/s for 3 s) against a stub shop that holds every
 * order arriving in a one-second window until the window ends (test/fixtures/stall-shop.mjs).
 * Buyers keep arriving on schedule through the stall, and the create latency measured from each
 * order's intended start shows the whole wait: about 1 s for those arriving as the stall begins,
 * falling linearly to nothing for those arriving as it ends.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadJournal, type JournalEvent, type JournalEventOf } from '../core/journal.js';
import { loadScenarios } from '../harness/scenario/loader.js';
import { foldMetrics } from '../harness/score/metrics.js';
import type { ScenarioMetrics } from '../core/report-types.js';
import { run, type RunResult } from '../harness/drive/run.js';
import { tempDir } from './helpers/cli.js';

const STALL_FROM_MS = 1000;
const STALL_TO_MS = 2000;

let work: { path: string; remove(): Promise<void> };
let result: RunResult;
let events: JournalEvent[];
let metrics: ScenarioMetrics;

/** One buyer's first order: when it was meant to be sent, when it was sent, when answered. */
interface Submission {
  intendedAt: number;
  sentAt: number;
  answeredAt: number;
  latencyMs: number;
}

let submissions: Submission[];
/** When the shop got its first order (its stall window counts from there), on the run clock. */
let firstSentAt: number;

const ofType = <K extends JournalEvent['type']>(type: K): JournalEventOf<K>[] =>
  events.filter((event) => event.type === type) as unknown as JournalEventOf<K>[];

beforeAll(async () => {
  work = await tempDir('ordeal-latency-stall-');
  result = await run({
    scenarios: await loadScenarios(['test/fixtures/latency-stall.yaml']),
    outDir: work.path,
    targetCommand: 'node test/fixtures/stall-shop.mjs',
  });
  events = await loadJournal(join(work.path, 'latency-stall', 'journal.ndjson'));
  metrics = await foldMetrics(events);
  const sent = new Map(ofType('order.create.sent').map((event) => [event.buyerId, event]));
  const answered = new Map(ofType('order.create.answered').map((event) => [event.buyerId, event]));
  submissions = ofType('buyer.arrived').map((arrival) => {
    const send = sent.get(arrival.buyerId);
    const answer = answered.get(arrival.buyerId);
    if (!send || !answer) throw new Error(`buyer ${arrival.buyerId} sent or got no order`);
    return { intendedAt: arrival.intendedAt, sentAt: send.t, answeredAt: answer.t, latencyMs: answer.latencyMs };
  });
  firstSentAt = Math.min(...submissions.map((submission) => submission.sentAt));
}, 60_000);

afterAll(async () => {
  await work?.remove();
});

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

describe('a shop that stalls for a second', () => {
  it('keeps buyers arriving and sending on schedule through the stall', () => {
    expect(result.report.scenarios[0]?.load).toMatchObject({ arrivals: 150, dropped: 0 });
    expect(submissions).toHaveLength(150);
    const lag = (submission: Submission): number => submission.sentAt - submission.intendedAt;
    expect(median(submissions.map(lag))).toBeLessThan(50);
    // The journal says when each request was meant to go: the arrival itself.
    for (const event of ofType('order.create.sent')) {
      const arrival = ofType('buyer.arrived').find((entry) => entry.buyerId === event.buyerId);
      expect(event.intendedAt).toBeCloseTo(arrival?.intendedAt ?? Number.NaN, 2);
    }
    // Arrivals during the stall went out on time: a harness waiting on the shop would send them up to 1 s late.
    const inStall = submissions.filter((submission) => submission.sentAt - firstSentAt >= STALL_FROM_MS && submission.sentAt - firstSentAt < STALL_TO_MS);
    expect(inStall.length).toBeGreaterThanOrEqual(45);
    expect(median(inStall.map(lag))).toBeLessThan(50);
    expect(Math.max(...inStall.map(lag))).toBeLessThan(400);
  });

  it('measures each stalled order from its intended start: about 1 s at the start of the stall, falling linearly to 0 at its end', () => {
    const stallEnd = firstSentAt + STALL_TO_MS;
    const stalled = submissions.filter(
      (submission) => submission.intendedAt >= firstSentAt + STALL_FROM_MS + 30 && submission.intendedAt <= stallEnd - 30,
    );
    expect(stalled.length).toBeGreaterThanOrEqual(40);
    const latency = (submission: Submission): number => submission.answeredAt - submission.intendedAt;
    // Each waited until the stall ended: latency = stall end − intended start.
    for (const submission of stalled) expect(Math.abs(latency(submission) - (stallEnd - submission.intendedAt))).toBeLessThan(150);
    const first = stalled.slice(0, 3).map(latency);
    expect(Math.min(...first)).toBeGreaterThan(800);
    // Least-squares slope of latency against intended start: −1 (one ms less wait per ms later).
    const xs = stalled.map((submission) => submission.intendedAt);
    const ys = stalled.map(latency);
    const meanX = xs.reduce((sum, x) => sum + x, 0) / xs.length;
    const meanY = ys.reduce((sum, y) => sum + y, 0) / ys.length;
    const slope = xs.reduce((sum, x, index) => sum + (x - meanX) * ((ys[index] as number) - meanY), 0) / xs.reduce((sum, x) => sum + (x - meanX) ** 2, 0);
    expect(slope).toBeGreaterThan(-1.15);
    expect(slope).toBeLessThan(-0.85);
    // Outside the stall the shop answers at once.
    const free = submissions.filter((submission) => submission.intendedAt < firstSentAt + STALL_FROM_MS - 50 || submission.intendedAt > stallEnd + 50);
    expect(median(free.map(latency))).toBeLessThan(50);
  });

  it('puts the stall in the metrics: a create p99 near 1 s from intended start, a small service-time median, the second that stalled', () => {
    // The report carries what folding the journal gives.
    expect(result.report.scenarios[0]?.metrics).toEqual(metrics);
    const create = metrics.endpoints.create;
    expect(create.count).toBe(150);
    expect(create.errors).toBe(0);
    expect(create.responseTime.p99).toBeGreaterThanOrEqual(800);
    expect(create.serviceTime.p50).toBeLessThan(100);
    expect(metrics.stages.created.p99).toBeGreaterThanOrEqual(800);
    expect(metrics.stages.delivered.count).toBe(150);
    expect(metrics.stages.completed.count).toBe(150);
    expect(metrics.perSecond.slice(0, 3).map((second) => second.arrivals)).toEqual([50, 50, 50]);
    expect(metrics.perSecond[0]?.p50).toBeLessThan(100);
    expect(metrics.perSecond[1]?.p50).toBeGreaterThan(300);
    expect(metrics.perSecond[1]?.p99).toBeGreaterThan(800);
    expect(metrics.perSecond[2]?.p50).toBeLessThan(100);
  });
});
