/**
 * The fault plan: which fault hits which buyer, and how hard. Decisions are pure functions of
 * (seed, fault index, subject key): the same seed hits the same buyers in every run, whatever the
 * timing, and a different seed hits different ones.
 */
import { seededUnit } from '../core/random.js';
import type { DelayDistribution, FaultId, FaultSpec } from '../core/scenario-schema.js';

export type FaultOf<I extends FaultId> = Extract<FaultSpec, { id: I }>;
export interface FaultHit<I extends FaultId> {
  index: number;
  spec: FaultOf<I>;
}

/** Draws a delay from a distribution with a seeded uniform source (two draws for lognormal). */
export function sampleDelay(distribution: DelayDistribution, unit: (salt: string) => number): number {
  if ('fixed' in distribution) return distribution.fixed;
  if ('uniform' in distribution) {
    const { min, max } = distribution.uniform;
    return min + (max - min) * unit('u');
  }
  const { median, sigma } = distribution.lognormal;
  // Box–Muller: a standard normal from two uniforms; 1 - u keeps log away from 0.
  const normal = Math.sqrt(-2 * Math.log(1 - unit('a'))) * Math.cos(2 * Math.PI * unit('b'));
  return median * Math.exp(sigma * normal);
}

export class FaultPlan {
  private readonly byId = new Map<FaultId, Array<{ index: number; spec: FaultSpec }>>();
  private readonly muted: ReadonlySet<number>;

  /**
   * @param loadTime milliseconds since load started (windows are relative to it); before load
   *   starts it should return 0.
   * @param muted indexes of faults that are never injected (the payment protocol cannot express
   *   them); they keep their index, so the others' decisions and references do not move.
   */
  constructor(
    readonly faults: readonly FaultSpec[],
    readonly seed: number,
    private readonly loadTime: () => number = () => 0,
    muted: Iterable<number> = [],
  ) {
    this.muted = new Set(muted);
    faults.forEach((spec, index) => {
      if (this.muted.has(index)) return;
      const list = this.byId.get(spec.id) ?? [];
      list.push({ index, spec });
      this.byId.set(spec.id, list);
    });
  }

  /** True when some fault with this id is configured at all (cheap pre-check for hot paths). */
  has(id: FaultId): boolean {
    return this.byId.has(id);
  }

  /** Whether fault `index` hits `subject` (a buyer id, or an order id when the buyer is unknown). */
  decides(index: number, subject: string): boolean {
    const spec = this.faults[index];
    if (!spec || this.muted.has(index)) return false;
    // Faults without a probability (target.crash) are not decided per subject.
    if (!('probability' in spec)) return false;
    if (spec.probability >= 1) return true;
    return seededUnit(this.seed, 'hit', index, subject) < spec.probability;
  }

  /** Every fault with this id that hits the subject now (window and probability). */
  hits<I extends FaultId>(id: I, subject: string): Array<FaultHit<I>> {
    const candidates = this.byId.get(id);
    if (!candidates) return [];
    const now = this.loadTime();
    const result: Array<FaultHit<I>> = [];
    for (const { index, spec } of candidates) {
      if ('window' in spec && spec.window && (now < spec.window.from || now >= spec.window.to)) continue;
      if (this.decides(index, subject)) result.push({ index, spec: spec as FaultOf<I> });
    }
    return result;
  }

  /** The first matching fault with this id, if any. */
  first<I extends FaultId>(id: I, subject: string): FaultHit<I> | undefined {
    return this.hits(id, subject)[0];
  }

  /** A delay for this fault and subject; `salt` separates several draws for one subject. */
  delayFor(index: number, distribution: DelayDistribution, subject: string, salt = ''): number {
    return sampleDelay(distribution, (part) => seededUnit(this.seed, 'delay', index, subject, salt, part));
  }
}
