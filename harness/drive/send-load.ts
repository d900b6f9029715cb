/**
 * Sends a scenario's load: the open model's arrivals on their schedule, capped in flight (the
 * excess dropped and counted, never queued), or the closed model's buyer loops — this process's
 * segment of them (`core/segments.ts`): the arrivals whose numbers are its own, and its share of
 * the in-flight cap, so that n segments together send the whole run's load. With the other
 * segments' counts at hand (`SharedInFlight`, through a mocks service) the cap is the whole run's
 * instead: an arrival is dropped when this segment's buyers in flight and the others' last known
 * count reach `load.maxInFlight`, as in one process.
 */
import PQueue from 'p-queue';
import { arrivalSchedule, dispatchArrivals, runClosedLoops, type ArrivalClock } from '../../core/arrivals.js';
import type { JournalSink } from '../../core/journal.js';
import type { Scenario } from '../../core/scenario-schema.js';
import { segmentSchedule, segmentShare, WHOLE_RUN, type Segment } from '../../core/segments.js';
import type { Buyer, BuyerFactory } from './buyers.js';

export interface SendLoadOptions {
  scenario: Scenario;
  journal: JournalSink;
  factory: BuyerFactory;
  clock: ArrivalClock;
  /** Clock time the load starts at (arrival times count from it). */
  start: number;
  signal: AbortSignal;
  /** @default the whole run */
  segment?: Segment;
  /** The other segments' buyers in flight, for a cap over the whole run. @default none: this segment's share of the cap */
  sharedInFlight?: SharedInFlight;
  /** A buyer was let in (journal its arrival); called before `runBuyer`. */
  arrived(buyer: Buyer, intendedAt: number): void;
  /** Runs a buyer's order to its end; never rejects. */
  runBuyer(buyer: Buyer, intendedAt: number): Promise<void>;
}

/** How segments share one in-flight cap: each reports its own count and reads the others' (a little stale). */
export interface SharedInFlight {
  /** This segment's buyers in flight now. */
  report(inFlight: number): void;
  /** The other segments' buyers in flight, as last heard. */
  others(): number;
}

export interface SentLoad {
  /** Arrivals handed over (open model) or orders started (closed model). */
  arrivals: number;
  /** Arrivals turned away at the in-flight cap. */
  dropped: number;
}

/** The in-flight cap of this segment: its share of `load.maxInFlight` (at least 1). */
export function segmentInFlightCap(scenario: Scenario, segment: Segment = WHOLE_RUN): number {
  return scenario.load.model === 'closed' ? segmentShare(scenario.load.buyers, segment, true) : segmentShare(scenario.load.maxInFlight, segment, true);
}

/** Sends the load and resolves once every buyer let in has finished; journals `load.finished` when the last arrival is out. */
export async function sendLoad(options: SendLoadOptions): Promise<SentLoad> {
  const { scenario, journal, factory, clock, start, signal, arrived, runBuyer } = options;
  const segment = options.segment ?? WHOLE_RUN;
  const load = scenario.load;
  if (load.model === 'closed') {
    // Closed model: N buyers, one order each at a time; the cap is the buyer count, so none drop.
    const arrivals = await runClosedLoops(
      clock,
      (seq, intendedAt) => {
        const buyer = factory.create(seq);
        arrived(buyer, intendedAt);
        return runBuyer(buyer, intendedAt);
      },
      { buyers: load.buyers, thinkTime: load.thinkTime, duration: load.duration, start, signal, segment },
    );
    journal.append('load.finished', { arrivals, dropped: 0 });
    return { arrivals, dropped: 0 };
  }
  // Open model: arrivals at their intended times, capped in flight (dropped and counted, not queued).
  const shared = options.sharedInFlight;
  const cap = shared ? load.maxInFlight : segmentInFlightCap(scenario, segment);
  const queue = new PQueue({ concurrency: cap });
  let dropped = 0;
  let inFlight = 0;
  const arrivals = await dispatchArrivals(
    segmentSchedule(arrivalSchedule(load.stages), segment),
    clock,
    (arrival, intendedAt) => {
      const buyer = factory.create(arrival.seq);
      const others = shared?.others() ?? 0;
      if (inFlight + others >= cap) {
        dropped++;
        journal.append('buyer.dropped', { buyerId: buyer.id, seq: buyer.seq, intendedAt, inFlight: inFlight + others });
        return;
      }
      arrived(buyer, intendedAt);
      inFlight++;
      shared?.report(inFlight);
      void queue.add(() => runBuyer(buyer, intendedAt)).finally(() => {
        inFlight--;
        shared?.report(inFlight);
      });
    },
    { start, signal },
  );
  // The last arrival is out (buyers in flight go on): the load is over.
  journal.append('load.finished', { arrivals, dropped });
  await queue.onIdle();
  return { arrivals, dropped };
}
