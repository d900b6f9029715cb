/**
 * One full garbage collection on demand, without starting Node with `--expose-gc`.
 *
 * Why: V8 sizes the old generation from what the last full collection found live. At the end of
 * a long run that was the load's working set (the mocks' ledgers, the buyers in flight), so when
 * scoring starts its short-lived records pile up to that large limit before V8 collects — a 100k-
 * order run peaked at 488 MiB while scoring, against 286 MiB during the load. Collecting once, when
 * the run's state has just become garbage, lets scoring start from a small live set (the peak then
 * stays the load's).
 */
import { setFlagsFromString } from 'node:v8';
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
 * Collects whenever the heap in use has grown by `headroomBytes` since the last collection it
 * made: for work that turns over far more short-lived records than it keeps (the scorer's fold
 * and end-of-run walk), so its heap stays near what it keeps instead of V8's larger limit.
 */
export class HeapBound {
  private usedAfterCollection = 0;

  constructor(private readonly headroomBytes: number) {}

  check(): void {
    if (process.memoryUsage().heapUsed - this.usedAfterCollection < this.headroomBytes) return;
    collectGarbage();
    this.usedAfterCollection = process.memoryUsage().heapUsed;
  }
}
