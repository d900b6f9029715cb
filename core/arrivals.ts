/**
 * Arrivals: when each buyer is *intended* to arrive, and the loops that send them.
 *
 * Open model: the schedule comes from the load stages. Arrivals do not wait for earlier buyers (no
 * coordinated omission); a stage ramping from r0 to r1 over d seconds has N(t) = r0·t + (r1 −
 * r0)·t²/(2d) arrivals by time t, and arrival k is placed where N(t) reaches k. `dispatchArrivals`
 * hands each arrival over at its intended time and never waits for what the handler does.
 *
 * Closed model: `runClosedLoops` keeps N buyer loops going — order, wait for the outcome, think,
 * order again — until the load's duration is over.
 *
 * Both run on an `ArrivalClock`, so tests drive them with fake timers or a hand-made clock.
 */
import type { LoadModel, LoadStage } from './scenario-schema.js';
import { closedLoopSeq, ownsArrival, WHOLE_RUN, type Segment } from './segments.js';

export interface PlannedArrival {
  /** 0-based arrival number over the whole run. */
  seq: number;
  /** Milliseconds after load start. */
  at: number;
}

type Stage = LoadStage;

/** Yields every arrival of the stages in order; bounded by the stages' total duration. */
export function* arrivalSchedule(stages: readonly Stage[]): Generator<PlannedArrival> {
  let seq = 0;
  let stageStartMs = 0;
  // Cumulative arrivals owed before this stage; arrival k happens where the running total reaches k.
  let before = 0;
  for (const stage of stages) {
    const seconds = stage.duration / 1000;
    const r0 = stage.rate;
    const r1 = stage.rampTo ?? stage.rate;
    const inStage = ((r0 + r1) / 2) * seconds;
    for (let k = Math.ceil(before - 1e-9); k < before + inStage - 1e-9; k++) {
      yield { seq: seq++, at: stageStartMs + timeForCount(k - before, r0, r1, seconds) * 1000 };
    }
    before += inStage;
    stageStartMs += stage.duration;
  }
}

/** Solves N(t) = n for t in [0, d]. */
function timeForCount(n: number, r0: number, r1: number, d: number): number {
  if (n <= 0) return 0;
  const a = (r1 - r0) / (2 * d);
  if (Math.abs(a) < 1e-12) return n / r0;
  // a t² + r0 t − n = 0, the root in [0, d].
  const discriminant = r0 * r0 + 4 * a * n;
  return (-r0 + Math.sqrt(Math.max(0, discriminant))) / (2 * a);
}

/** Number of arrivals the stages plan (for progress and reports); 0 for a closed model's stages. */
export function plannedArrivalCount(stages: readonly Stage[]): number {
  let count = 0;
  for (const _ of arrivalSchedule(stages)) count++;
  return count;
}

/** Total planned load duration in milliseconds. */
export function plannedDuration(stages: readonly Stage[]): number {
  return stages.reduce((sum, stage) => sum + stage.duration, 0);
}

/** Total load duration in milliseconds, open or closed model. */
export function loadDuration(load: LoadModel): number {
  return load.model === 'closed' ? load.duration : plannedDuration(load.stages);
}

/** The time source and sleep the arrival loops run on (the run's journal clock, or a test's). */
export interface ArrivalClock {
  /** Milliseconds on the clock the intended times are measured on. */
  now(): number;
  /** Resolves after `ms` on that clock, or as soon as the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Waits `ms` with setTimeout, or less if the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((wake) => {
    if (signal?.aborted) return wake();
    const timer = setTimeout(done, Math.max(0, ms));
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      wake();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** A clock reading `now` (e.g. the journal's) and sleeping with timers (faked by vitest's fake timers). */
export function timerClock(now: () => number): ArrivalClock {
  return { now, sleep };
}

/** Ask the clock to sleep only for waits longer than this (ms); shorter ones are dispatched at once. */
const MIN_SLEEP_MS = 1;

export interface DispatchOptions {
  /** Clock time of load start: arrival `at` is measured from it. @default clock.now() at the call */
  start?: number;
  /** Stops dispatching (arrivals not yet due are never handed over). */
  signal?: AbortSignal;
}

/**
 * Open model: hands each planned arrival to `onArrival` at its intended time (`start + at`), in
 * order. `onArrival` is called and not awaited — a slow handler never delays later arrivals; an
 * arrival whose time has already passed (a busy event loop) is handed over at once, still with its
 * intended time. Resolves with the number of arrivals handed over once the schedule is exhausted
 * or the signal aborts.
 */
export async function dispatchArrivals(
  schedule: Iterable<PlannedArrival>,
  clock: ArrivalClock,
  onArrival: (arrival: PlannedArrival, intendedAt: number) => unknown,
  options: DispatchOptions = {},
): Promise<number> {
  const start = options.start ?? clock.now();
  const { signal } = options;
  let dispatched = 0;
  for (const arrival of schedule) {
    if (signal?.aborted) break;
    const intendedAt = start + arrival.at;
    const wait = intendedAt - clock.now();
    if (wait > MIN_SLEEP_MS) await clock.sleep(wait, signal);
    if (signal?.aborted) break;
    dispatched++;
    // Fire and forget: whatever the handler returns is its caller's business.
    const result = onArrival(arrival, intendedAt);
    if (result instanceof Promise) result.catch(() => undefined);
  }
  return dispatched;
}

export interface ClosedLoopOptions {
  /** Concurrent buyer loops. */
  buyers: number;
  /** Wait between the end of a loop's order and the start of its next (ms). */
  thinkTime: number;
  /** Loops start no new order after `start + duration` (ms); orders in flight then finish. */
  duration: number;
  /** Clock time of load start. @default clock.now() at the call */
  start?: number;
  /** Stops the loops: no new order starts after it aborts. */
  signal?: AbortSignal;
  /** Runs only this segment's loops (loop `k` is segment `k mod n`'s). @default the whole run */
  segment?: Segment;
}

/**
 * Closed model: `buyers` loops, each starting an order at load start, awaiting `runOrder`, then
 * thinking `thinkTime` and starting the next, until the duration is over. `runOrder` gets a run-
 * wide order number — `closedLoopSeq(loop, round)`, the same whichever segment runs the loop and
 * however fast the other loops went — and the intended start — when the loop meant to start the
 * order (load start, or the previous order's end + think time), from which latency is measured.
 * A throwing `runOrder` ends nothing: the loop thinks and goes on. Resolves with the number of
 * orders started once every loop is done and every order has finished.
 */
export async function runClosedLoops(
  clock: ArrivalClock,
  runOrder: (seq: number, intendedAt: number, loop: number) => Promise<unknown>,
  options: ClosedLoopOptions,
): Promise<number> {
  const start = options.start ?? clock.now();
  const end = start + options.duration;
  const { signal } = options;
  const segment = options.segment ?? WHOLE_RUN;
  let started = 0;
  const loop = async (index: number): Promise<void> => {
    let intendedAt = start;
    for (let round = 0; !signal?.aborted && intendedAt < end; round++) {
      const wait = intendedAt - clock.now();
      if (wait > MIN_SLEEP_MS) await clock.sleep(wait, signal);
      if (signal?.aborted) return;
      started++;
      try {
        await runOrder(closedLoopSeq(index, round, options.buyers), intendedAt, index);
      } catch {
        // The caller journals its own failures; the buyer carries on.
      }
      intendedAt = clock.now() + options.thinkTime;
    }
  };
  const loops = Array.from({ length: options.buyers }, (_, index) => index).filter((index) => ownsArrival(segment, index));
  await Promise.all(loops.map(loop));
  return started;
}
