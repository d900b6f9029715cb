/**
 * `foldWithinBounds`: folds a long stream of timed events in memory that stays flat however long
 * the stream, for a fold that can do so by dropping what it is done with — and folds again, keeping
 * whole what it dropped too early, when a later event turns out to need it. The result is always
 * the one folding everything in the heap would give.
 */
import { collectGarbage, HeapBound } from './heap.js';
import { approximateIdSet, type IdSet } from './key-filter.js';
import { openRecordSpace, type RecordSpace } from './record-space.js';

/** What one pass of a bounded fold is given. */
export interface FoldPass {
  /**
   * Whether memory must stay flat in this pass: the fold may then check and drop what it is done
   * with (noting the ids in `dropped`), and `records` spill out of the heap. False when the caller
   * asked for everything in the heap, and on the last-resort pass.
   */
  bounded: boolean;
  /** What the fold must not drop nor trim: the ids a previous pass dropped too early, or everything (the last-resort pass). */
  keepWhole: ReadonlySet<string> | 'everything';
  /** Where to keep records that may leave the heap; the fold closes it when closed (it and its result). */
  records: RecordSpace;
  /** Where to note the ids the fold dropped (approximate when bounded: a rare false "yes" only costs a pass). */
  dropped: IdSet;
}

/** A fold `foldWithinBounds` can drive. */
export interface BoundedFold<E, R> {
  add(event: E): void;
  /** The ids to keep whole in another pass, when this one dropped something a later event needed; else undefined. */
  lostFacts(): ReadonlySet<string> | undefined;
  /** The result, which then owns the pass's records (and closes them with its own `close()`). */
  finish(): R;
  /** Releases the pass's records (a pass given up). */
  close(): void;
}

export interface BoundedFoldOptions {
  /** Keep memory flat (the default); false folds with every record in the heap. */
  bounded?: boolean;
  /** How often (in event time, ms) idle records move out of the heap. */
  sweepEveryMs: number;
}

/**
 * How much the old generation may grow between the bounded fold's own full collections (bytes),
 * see `HeapBound`. Records that leave the heap die old, and the fold makes them steadily: without
 * a bound V8 lets them pile up to a limit sized for the run that wrote the journal, not for what
 * the fold holds. 16 MiB keeps the peak near what the fold holds at a few full collections per
 * million events (bench/RESULTS.md, Scoring).
 */
const HEAP_HEADROOM = 16 * 2 ** 20;

/**
 * Folds the events `read()` yields (in batches, in time order) with folds from `open`: once
 * bounded; if the fold then reports lost facts, once more keeping them whole; and if that still
 * lost some (which a correct fold never does), a last time with everything in the heap. `read` is
 * called once per pass. The result is the last pass's `finish()`, after a full collection when
 * bounded.
 */
export async function foldWithinBounds<E extends { t: number }, R>(
  read: () => AsyncIterable<readonly E[]> | Iterable<readonly E[]>,
  open: (pass: FoldPass) => BoundedFold<E, R>,
  options: BoundedFoldOptions,
): Promise<R> {
  const bounded = options.bounded ?? true;
  const pass = (keepWhole: FoldPass['keepWhole'], boundedPass: boolean): Promise<BoundedFold<E, R>> =>
    foldOnce(read, open, { keepWhole, bounded: boundedPass }, options.sweepEveryMs);
  let fold = await pass(new Set(), bounded);
  const lost = fold.lostFacts();
  if (lost !== undefined) {
    fold.close();
    fold = await pass(lost, bounded);
    if (fold.lostFacts() !== undefined) {
      fold.close();
      fold = await pass('everything', false);
    }
  }
  const result = fold.finish();
  // The records a bounded fold moved out of the heap died old, up to `HEAP_HEADROOM` of them since
  // its last collection: collect them now, so that what comes next (scoring) starts from what the
  // result holds rather than stacking its own garbage on top.
  if (bounded) collectGarbage();
  return result;
}

async function foldOnce<E extends { t: number }, R>(
  read: () => AsyncIterable<readonly E[]> | Iterable<readonly E[]>,
  open: (pass: FoldPass) => BoundedFold<E, R>,
  { keepWhole, bounded }: Pick<FoldPass, 'keepWhole' | 'bounded'>,
  sweepEveryMs: number,
): Promise<BoundedFold<E, R>> {
  const records = openRecordSpace({ spill: bounded ? 'appends' : 'none' });
  const fold = open({ bounded, keepWhole, records, dropped: bounded ? approximateIdSet() : new Set<string>() });
  const heap = new HeapBound(HEAP_HEADROOM);
  let nextSweepAt = Number.NEGATIVE_INFINITY;
  try {
    for await (const events of read()) {
      for (let index = 0; index < events.length; index++) {
        const event = events[index] as E;
        // Checked per event, not per batch: sweeping (and collecting) only between batches let a
        // scoring-only process peak several MiB higher (bench/RESULTS.md, Memory redesign).
        if (bounded && event.t >= nextSweepAt) {
          // What has been settled and idle since the last sweep leaves the heap, and dies in its old generation.
          records.sweep();
          heap.check();
          nextSweepAt = event.t + sweepEveryMs;
        }
        fold.add(event);
      }
    }
  } catch (error) {
    fold.close();
    throw error;
  }
  return fold;
}
