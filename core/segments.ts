/**
 * Execution segments (DESIGN.md §8): `--segment i/n` runs a deterministic share of a scenario's
 * buyers, so that n processes or pods together run exactly the buyers one process would.
 *
 * Buyers and fault decisions are pure functions of (seed, arrival number) and (seed, buyer id)
 * (`core/random.ts`), so a buyer is the same whichever segment runs it; what a segment decides is
 * only *which* arrivals are its own: arrival `seq` belongs to segment `seq mod n`. Interleaving by
 * number keeps each segment's share of every stage, ramp and burst within one arrival of 1/n, so
 * the segments' rates add up to the scenario's. A closed model's buyer loops are shared the same
 * way (loop `k` to segment `k mod n`), each loop numbering its orders on its own
 * (`closedLoopSeq`), so a loop's buyers do not depend on how fast the other loops went.
 */
import { OrdealError } from './errors.js';

/** One of `count` shares of a run; `index` counts from 0 (a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`). */
export interface Segment {
  index: number;
  count: number;
}

/** The whole run: one segment of one. */
export const WHOLE_RUN: Segment = Object.freeze({ index: 0, count: 1 });

/** At most this many segments: more pods than this would each run a handful of buyers. */
export const MAX_SEGMENTS = 10_000;

/** Parses `i/n` (0 ≤ i < n ≤ 10,000), as `--segment` takes it; `ORDEAL_ERR_USAGE` otherwise, saying why. */
export function parseSegment(text: string): Segment {
  const match = /^\s*(\d{1,6})\s*\/\s*(\d{1,6})\s*$/.exec(text);
  if (!match) throw new OrdealError('ORDEAL_ERR_USAGE', `--segment takes INDEX/COUNT, e.g. 0/4 for the first of four segments; got "${text}"`);
  const index = Number(match[1]);
  const count = Number(match[2]);
  if (count < 1 || count > MAX_SEGMENTS) throw new OrdealError('ORDEAL_ERR_USAGE', `--segment ${text}: the count must be from 1 to ${MAX_SEGMENTS}`);
  if (index >= count) {
    throw new OrdealError('ORDEAL_ERR_USAGE', `--segment ${text}: the index counts from 0, so it must be below ${count} (segments 0/${count} to ${count - 1}/${count})`);
  }
  return { index, count };
}

/** `i/n`, as the CLI takes it and reports show it. */
export function formatSegment(segment: Segment): string {
  return `${segment.index}/${segment.count}`;
}

export function isWholeRun(segment: Segment): boolean {
  return segment.count === 1;
}

/** Whether arrival (or closed-model loop) number `seq` is this segment's. */
export function ownsArrival(segment: Segment, seq: number): boolean {
  return seq % segment.count === segment.index;
}

/** The arrivals of `schedule` that are this segment's, in order. */
export function* segmentSchedule<T extends { seq: number }>(schedule: Iterable<T>, segment: Segment): Generator<T> {
  for (const arrival of schedule) if (ownsArrival(segment, arrival.seq)) yield arrival;
}

/**
 * This segment's share of a whole-run amount (an in-flight cap, a closed model's buyer loops): the
 * shares of the n segments add up to `total` exactly, the first `total mod n` segments taking one
 * more. At least 1 when `atLeastOne` (a cap of 0 would turn every buyer away).
 */
export function segmentShare(total: number, segment: Segment, atLeastOne = false): number {
  const share = Math.floor(total / segment.count) + (segment.index < total % segment.count ? 1 : 0);
  return atLeastOne ? Math.max(1, share) : share;
}

/** How many of `total` numbered arrivals (0 … total − 1) are this segment's. */
export function segmentCount(total: number, segment: Segment): number {
  return segmentShare(total, segment);
}

/**
 * A closed model's order number for loop `loop`'s `round`-th order (both from 0) among `loops`
 * loops: loop-major within a round, so the numbers are those a whole run's loops would use and no
 * two loops' orders share one, whichever segment runs the loop.
 */
export function closedLoopSeq(loop: number, round: number, loops: number): number {
  return round * loops + loop;
}
