/**
 * memory/'s `foldWithinBounds`: a bounded fold drops what it is done with and keeps its records
 * partly out of the heap, yet gives the result of folding everything in the heap — when a later
 * event needs something dropped, it folds again keeping that whole, and as a last resort with
 * everything in the heap. Checked on a small fold of its own and on the scorer's fold
 * (`JournalFolder`) over a journal with late fault hits.
 */
import { describe, expect, it } from 'vitest';
import type { JournalEvent } from '../core/journal.js';
import { foldWithinBounds, type BoundedFold, type FoldPass, type RecordStore } from '../memory/index.js';
import { foldJournal, JournalFolder, scoreFolded } from '../harness/score/score.js';
import { JournalBuilder, makeScenario } from './score-journal.js';

interface Tick {
  t: number;
  id: string;
  kind: 'add' | 'done' | 'late';
}

/** Per id: the sum of its `add`s, and its `late`s counted; an id is finished at `done`. */
type Totals = Record<string, { sum: number; late: number }>;

/**
 * A fold of ticks that, when bounded, moves a finished id's sum into `settled` and drops it; a
 * `late` tick for a dropped id means its facts are lost. `lies` makes it report lost facts even
 * when kept whole (a broken fold, for the last-resort pass).
 */
class TickFold implements BoundedFold<Tick, { totals: Totals; close(): void }> {
  readonly sums: RecordStore<string, { sum: number; late: number }>;
  /** Every id seen: never dropped, so idle ones leave the heap in a bounded pass. */
  readonly seen: RecordStore<string, number>;
  private readonly settled: Totals = {};
  private readonly lost = new Set<string>();

  constructor(
    readonly pass: FoldPass,
    private readonly lies = false,
  ) {
    this.sums = pass.records.store('sums', { encode: JSON.stringify, decode: (text) => JSON.parse(text) as { sum: number; late: number }, key: String });
    this.seen = pass.records.store('seen', { encode: String, decode: Number, key: String });
  }

  add(tick: Tick): void {
    this.seen.set(tick.id, tick.t);
    const known = this.sums.get(tick.id);
    if (known === undefined && this.pass.dropped.has(tick.id)) {
      this.lost.add(tick.id);
      return;
    }
    const sums = known ?? { sum: 0, late: 0 };
    if (tick.kind === 'add') sums.sum += tick.t;
    if (tick.kind === 'late') sums.late += 1;
    this.sums.set(tick.id, sums);
    const whole = this.pass.keepWhole === 'everything' || this.pass.keepWhole.has(tick.id);
    if (tick.kind === 'done' && this.pass.bounded && !whole) {
      this.settled[tick.id] = sums;
      this.sums.delete(tick.id);
      this.pass.dropped.add(tick.id);
    }
  }

  lostFacts(): ReadonlySet<string> | undefined {
    if (this.lies && this.pass.keepWhole !== 'everything') return new Set(['nothing']);
    return this.lost.size > 0 ? this.lost : undefined;
  }

  finish(): { totals: Totals; close(): void } {
    const totals: Totals = { ...this.settled };
    for (const [id, sums] of this.sums.entries()) totals[id] = sums;
    return { totals: Object.fromEntries(Object.entries(totals).sort(([a], [b]) => a.localeCompare(b))), close: () => this.pass.records.close() };
  }

  close(): void {
    this.pass.records.close();
  }
}

/** 400 ids, each added to a few times and done 30 ms in; `late` ticks for ids 3 and 250 long after. */
function ticks(late: boolean): Tick[][] {
  const all: Tick[] = [];
  for (let index = 0; index < 400; index++) {
    const t = index * 10;
    const id = `id${index}`;
    all.push({ t, id, kind: 'add' }, { t: t + 10, id, kind: 'add' }, { t: t + 30, id, kind: 'done' });
  }
  all.sort((a, b) => a.t - b.t);
  if (late) all.push({ t: 9000, id: 'id3', kind: 'late' }, { t: 9100, id: 'id250', kind: 'late' });
  const batches: Tick[][] = [];
  for (let at = 0; at < all.length; at += 50) batches.push(all.slice(at, at + 50));
  return batches;
}

async function foldTicks(batches: Tick[][], options: { bounded: boolean; lies?: boolean }) {
  const passes: TickFold[] = [];
  const result = await foldWithinBounds(
    () => batches,
    (pass) => {
      const fold = new TickFold(pass, options.lies);
      passes.push(fold);
      return fold;
    },
    { bounded: options.bounded, sweepEveryMs: 100 },
  );
  return { result, passes };
}

describe('foldWithinBounds', () => {
  it('folds once when nothing dropped was needed again, with records out of the heap meanwhile', async () => {
    const { result, passes } = await foldTicks(ticks(false), { bounded: true });
    const inHeap = await foldTicks(ticks(false), { bounded: false });
    expect(result.totals).toEqual(inHeap.result.totals);
    expect(Object.keys(result.totals)).toHaveLength(400);
    expect(passes).toHaveLength(1);
    expect(passes[0]!.pass.records.sizes('seen').archived).toBeGreaterThan(300);
    expect(inHeap.passes[0]!.pass.records.sizes('seen')).toEqual({ hot: 400, archived: 0 });
    // The result owns the records: closing it deletes what left the heap.
    result.close();
    expect(passes[0]!.pass.records.sizes('seen').archived).toBe(0);
  });

  it('folds again keeping whole what a late event needed, and gives the unbounded result', async () => {
    const { result, passes } = await foldTicks(ticks(true), { bounded: true });
    const inHeap = await foldTicks(ticks(true), { bounded: false });
    expect(inHeap.passes).toHaveLength(1);
    expect(result.totals).toEqual(inHeap.result.totals);
    expect(result.totals.id3).toEqual({ sum: 30 + 40, late: 1 });
    expect(passes.map((fold) => fold.pass.keepWhole)).toEqual([new Set(), new Set(['id3', 'id250'])]);
    expect(passes.map((fold) => fold.pass.bounded)).toEqual([true, true]);
    result.close();
  });

  it('falls back to everything in the heap when a second pass still loses facts', async () => {
    const { result, passes } = await foldTicks(ticks(true), { bounded: true, lies: true });
    expect(passes.map((fold) => [fold.pass.bounded, fold.pass.keepWhole === 'everything'])).toEqual([
      [true, false],
      [true, false],
      [false, true],
    ]);
    expect(result.totals).toEqual((await foldTicks(ticks(true), { bounded: false })).result.totals);
  });

  it('gives the passes it gave up a chance to release their records', async () => {
    const { passes } = await foldTicks(ticks(true), { bounded: true });
    const first = passes[0]!;
    // Closed: its store no longer finds what it had moved out of the heap.
    expect(first.pass.records.sweep()).toBe(0);
    expect(first.pass.records.sizes('sums').archived).toBe(0);
  });
});

/**
 * 600 buyers, one every 100 ms; every 20th has its callback dropped (an incident). Long after
 * everyone settled: a late fault hit on early orders no fault touched before, and a late capture.
 */
function lateHits(): JournalEvent[] {
  const journal = new JournalBuilder();
  for (let index = 0; index < 600; index++) {
    const t0 = index * 100;
    if (index % 20 === 7) journal.reconciled(t0, `b${index}`, `o${index}`);
    else journal.happy(t0, `b${index}`, `o${index}`, { latencyMs: 100 + (index % 5) * 10 });
  }
  const end = 600 * 100 + 5000;
  return journal
    .fault(end, 'payment.callback.duplicate', { orderId: 'o2', buyerId: 'b2' })
    .callback(end, 'o2', { copy: 2 })
    .fault(end + 10, 'payment.callback.drop', { buyerId: 'b11' })
    .paid(end + 20, 'o30', 3000).events;
}

const scenario = makeScenario({
  faults: [
    { id: 'payment.callback.drop', probability: 0.05 },
    { id: 'payment.callback.duplicate', probability: 0.01 },
  ],
});

describe('the scorer’s fold within bounds', () => {
  it('scores a journal with late fault hits exactly as the fold with everything in the heap', async () => {
    const events = lateHits();
    const batches: JournalEvent[][] = [];
    for (let at = 0; at < events.length; at += 256) batches.push(events.slice(at, at + 256));
    const passes: FoldPass[] = [];
    const folded = await foldWithinBounds(
      () => batches,
      (pass) => {
        passes.push(pass);
        return new JournalFolder({ ...pass, compactAfterMs: 1000 });
      },
      { sweepEveryMs: 1000 },
    );
    try {
      // The first pass dropped b2, b11 and b30 before their late events; the second kept them whole.
      expect(passes).toHaveLength(2);
      for (const id of ['b2', 'b11', 'o30']) expect((passes[1]!.keepWhole as ReadonlySet<string>).has(id)).toBe(true);
      // Settled buyers were still dropped in the second pass.
      expect(folded.buyers.heapSize).toBeLessThan(100);
      const bounded = scoreFolded(folded, scenario);
      const inHeap = scoreFolded(await foldJournal(events), scenario);
      expect(JSON.stringify(bounded)).toBe(JSON.stringify(inHeap));
      expect(bounded.incidents.map((incident) => incident.orderId)).toEqual(expect.arrayContaining(['o2', 'o11']));
      expect(bounded.invariants.find((result) => result.id === 'no-double-charge')?.violations.flatMap((violation) => violation.orderIds)).toEqual(['o30']);
    } finally {
      folded.close();
    }
  });
});
