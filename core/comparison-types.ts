/** The data of a comparison between two runs (comparison.json, `ordeal compare`), shared by the comparer and its renderers. */

/** A score on both sides (either may be missing: the scenario or class was only on one side). */
export interface ScoreDelta {
  base: number | null;
  current: number | null;
  /** current − base, in points; null when either side is missing. */
  delta: number | null;
  /** A drop greater than the threshold. */
  regression: boolean;
}

export interface ClassComparison extends ScoreDelta {
  /** The incident class (a fault id, or `buyer.<behaviour>`). */
  class: string;
  baseIncidents: number | null;
  currentIncidents: number | null;
}

export interface SteadyStateComparison {
  base: { successRate: number; p95: number | null; ok: boolean };
  current: { successRate: number; p95: number | null; ok: boolean };
  /** current − base success rate (0–1). */
  successRateDelta: number;
  /** current − base p95 (ms); null when either side has none. */
  p95Delta: number | null;
  /** Whether the steady state went from ok to failing. */
  worsened: boolean;
}

export interface ScenarioComparison {
  name: string;
  /** Overall score of the scenario (0–100) on each side. */
  score: ScoreDelta;
  /** Classes on both sides and on one side only, in base order then new ones. */
  classes: ClassComparison[];
  /** Invariants broken now that were not broken in the base. */
  newlyBroken: string[];
  /** Invariants broken in the base that hold now. */
  fixed: string[];
  steadyState: SteadyStateComparison;
  gate: { base: boolean; current: boolean };
  /** This scenario's regressions. */
  regressions: Regression[];
}

export type RegressionKind = 'score' | 'class' | 'invariant' | 'gate';

export interface Regression {
  scenario: string;
  kind: RegressionKind;
  /** The class id, invariant id, `score` or `gate`. */
  subject: string;
  /** One line a person can act on, without the scenario name, e.g. `class payment.callback.drop 100.0 → 0.0 (-100.0 points, max drop 5)`. */
  message: string;
}

/** What `ordeal compare` prints and `--baseline` gates on. */
export interface Comparison {
  /** Points; see `CompareOptions.threshold`. */
  threshold: number;
  /** Scenarios present in both reports, in the new report's order. */
  scenarios: ScenarioComparison[];
  /** Scenario names present in the base only / in the new report only (listed, never regressions). */
  onlyInBase: string[];
  onlyInCurrent: string[];
  /**
   * Mean score over the scenarios present in both (null when none is). A drop of the mean beyond
   * the threshold implies a scenario's drop beyond it, so it adds no regression of its own.
   */
  overall: ScoreDelta;
  gate: { base: boolean; current: boolean };
  regressions: Regression[];
  /** True when there is at least one regression. */
  regressed: boolean;
}
