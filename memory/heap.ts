/**
 * Keeping V8's heap near what the harness holds: a bound on heap growth while a load runs
 * (`boundedLoad`), a bound on old-generation growth for work that moves records out of the heap
 * (`HeapBound`, used by `foldWithinBounds`), and one full garbage collection on demand, without
 * starting Node with `--expose-gc`.
 *
 * Why: V8 sizes the old generation from what the last full collection found live. At the end of
 * a long run that was the load's working set (the mocks' ledgers, the buyers in flight), so when
 * scoring starts its short-lived records pile up to that large limit before V8 collects, and the
 * process peaks while scoring rather than during the load. Collecting once, when the run's state
 * has just become garbage, lets scoring start from a small live set.
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | null | undefined;

/** Runs a full collection; does nothing where the runtime refuses (the flag is then left alone). */
export function collectGarbage(): void {
  if (collect === undefined) {
    try {
      // The flag applies to contexts created after it: `gc` appears in the new context only, not
      // as a global of this one.
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    } catch {
      collect = null;
    }
  }
  collect?.();
}

/**
 * Collects whenever the old generation in use has grown by `headroomBytes` since the last
 * collection it made: for work that turns over far more short-lived records than it keeps (the
 * scorer's fold and end-of-run walk), so its heap stays near what it keeps instead of V8's larger
 * limit.
 */
export class HeapBound {
  private usedAfterCollection = 0;

  constructor(private readonly headroomBytes: number) {}

  /** Collects when the old generation has grown past the headroom; whether it did. */
  check(): boolean {
    if (oldGenerationUsed() - this.usedAfterCollection < this.headroomBytes) return false;
    collectGarbage();
    this.usedAfterCollection = oldGenerationUsed();
    return true;
  }
}

/**
 * Bytes in use in the old generation: what only a full collection frees. The young generation's
 * garbage (most of a fold's) goes with V8's cheap scavenges, and counting it would bring a full
 * collection every few megabytes of plain allocation.
 */
function oldGenerationUsed(): number {
  let used = 0;
  for (const space of getHeapSpaceStatistics()) {
    if (space.space_name === 'old_space' || space.space_name === 'large_object_space') used += space.space_used_size;
  }
  return used;
}

/**
 * V8's old-generation growth factor while a load runs: the next full collection comes when the
 * heap has grown by this share over what the last one found live.
 *
 * Why: by default V8 lets the old generation grow up to 4× the live set when collections cost
 * little, and a load promotes a steady stream of records that die a few seconds later (orders in
 * flight, the mocks' fresh ledger entries): the heap then grows for tens of seconds before the
 * first full collection, and whether that comes early or late decides the peak. At 30 % a full
 * collection comes every few seconds, mostly marked concurrently, and the heap stays near the live
 * set (bench/RESULTS.md, Memory, has the figures and what it costs).
 */
export const LOAD_HEAP_GROWTH_PERCENT = 30;

let growthHolders = 0;

/** Whether Node was started with its own `--heap-growing-percent`, which Ordeal then leaves alone. */
function growthSetByUser(): boolean {
  return process.execArgv.some((arg) => /^--heap[-_]growing[-_]percent\b/.test(arg));
}

/**
 * Bounds V8's heap growth (`LOAD_HEAP_GROWTH_PERCENT`) until the returned function is called;
 * overlapping holders (scenarios run in parallel) share it, and the default comes back when the
 * last one releases it, so that scoring — which turns over far more short-lived records and
 * bounds its heap itself (`HeapBound`) — and the host process are not slowed by it.
 */
export function boundHeapGrowth(): () => void {
  if (growthSetByUser()) return () => {};
  if (growthHolders++ === 0) setFlagsFromString(`--heap-growing-percent=${LOAD_HEAP_GROWTH_PERCENT}`);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--growthHolders === 0) setFlagsFromString('--heap-growing-percent=0');
  };
}

/**
 * Runs a scenario's load (`load`) with V8's heap growth bounded (`boundHeapGrowth`), then, once it
 * has finished, collects what it left: the run's per-order state is garbage by then, and scoring
 * should start from a small live set rather than from V8's limit sized for the load.
 */
export async function boundedLoad<T>(load: () => Promise<T>): Promise<T> {
  const release = boundHeapGrowth();
  let result: T;
  try {
    result = await load();
  } finally {
    release();
  }
  collectGarbage();
  return result;
}
