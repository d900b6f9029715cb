/**
 * Open-model arrival schedule: when each buyer is *intended* to arrive, from the load stages.
 * Arrivals do not wait for earlier buyers (no coordinated omission); a stage ramping from r0 to r1
 * over d seconds has N(t) = r0·t + (r1 − r0)·t²/(2d) arrivals by time t, and arrival k is placed
 * where N(t) reaches k.
 */
import type { Scenario } from './scenario-schema.js';

export interface PlannedArrival {
  /** 0-based arrival number over the whole run. */
  seq: number;
  /** Milliseconds after load start. */
  at: number;
}

type Stage = Scenario['load']['stages'][number];

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

/** Number of arrivals the stages plan (for progress and reports). */
export function plannedArrivalCount(stages: readonly Stage[]): number {
  let count = 0;
  for (const _ of arrivalSchedule(stages)) count++;
  return count;
}

/** Total planned load duration in milliseconds. */
export function plannedDuration(stages: readonly Stage[]): number {
  return stages.reduce((sum, stage) => sum + stage.duration, 0);
}
