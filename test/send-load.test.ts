/**
 * The open model's in-flight cap (harness/drive/send-load.ts): one segment's share of it, or —
 * with the other segments' counts through a mocks service — the whole run's cap.
 */
import { describe, expect, it } from 'vitest';
import type { ArrivalClock } from '../core/arrivals.js';
import { MemoryJournal } from '../core/journal.js';
import { scenarioSchema } from '../core/scenario-schema.js';
import { BuyerFactory } from '../harness/drive/buyers.js';
import { sendLoad, type SharedInFlight } from '../harness/drive/send-load.js';

const scenario = scenarioSchema.parse({
  name: 'capped',
  seed: 3,
  catalog: { skus: [{ sku: 'MONTH_CARD', name: 'Monthly card', price: 3000, stock: 100 }] },
  load: { stages: [{ rate: 1000, duration: 10 }], maxInFlight: 6 },
});

/** Time jumps to each arrival: no real waiting. */
function instantClock(): ArrivalClock {
  let now = 0;
  return { now: () => now, sleep: async (ms) => void (now += ms) };
}

/** Buyers that stay in flight until released. */
function heldBuyers(): { runBuyer: () => Promise<void>; release(): void } {
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  return { runBuyer: () => held, release: () => release() };
}

describe('sendLoad, open model', () => {
  it('a segment alone holds its share of the cap: 3 of 6 for segment 0/2, the rest of its arrivals dropped', async () => {
    const journal = new MemoryJournal();
    const buyers = heldBuyers();
    const sent = sendLoad({ scenario, journal, factory: new BuyerFactory(scenario, 3, scenario.catalog), clock: instantClock(), start: 0, signal: new AbortController().signal, segment: { index: 0, count: 2 }, arrived: () => undefined, runBuyer: buyers.runBuyer });
    while (!journal.events.some((event) => event.type === 'load.finished')) await new Promise((wake) => setImmediate(wake));
    buyers.release();
    expect(await sent).toEqual({ arrivals: 5, dropped: 2 });
  });

  it('with the others\' counts, the cap is the whole run\'s: it lets in what the others leave, and reports its own count as it changes', async () => {
    const journal = new MemoryJournal();
    const buyers = heldBuyers();
    const reports: number[] = [];
    const shared: SharedInFlight = { report: (count) => reports.push(count), others: () => 2 };
    const sent = sendLoad({ scenario, journal, factory: new BuyerFactory(scenario, 3, scenario.catalog), clock: instantClock(), start: 0, signal: new AbortController().signal, segment: { index: 0, count: 2 }, sharedInFlight: shared, arrived: () => undefined, runBuyer: buyers.runBuyer });
    // Let the arrivals go out, then release the buyers.
    while (!journal.events.some((event) => event.type === 'load.finished')) await new Promise((wake) => setImmediate(wake));
    expect(reports).toEqual([1, 2, 3, 4]);
    buyers.release();
    expect(await sent).toEqual({ arrivals: 5, dropped: 1 });
    expect(reports.slice(4)).toEqual([3, 2, 1, 0]);
    expect(journal.events.find((event) => event.type === 'buyer.dropped')).toMatchObject({ inFlight: 6 });
  });
});
