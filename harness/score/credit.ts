/** Deadlines and credit: when each stage of an incident was due, and what meeting it late is worth. */
import { loadDuration } from '../../core/arrivals.js';
import { stagesOf, type FaultSpec, type IncidentClass } from '../../core/faults/index.js';
import type { StageDeadlines, StageName } from '../../core/report-types.js';
import type { IncidentClass as ScenarioIncidentClass, Scenario } from '../../core/scenario-schema.js';

/** The fault's spec for an incident: `scenario.faults[faultIndex]` when it has the class's id, else the first with it. */
export function specFor(scenario: Scenario, incidentClass: IncidentClass, faultIndex?: number): FaultSpec | undefined {
  const indexed = faultIndex !== undefined && faultIndex >= 0 ? scenario.faults[faultIndex] : undefined;
  if (indexed?.id === incidentClass) return indexed;
  return scenario.faults.find((spec) => spec.id === incidentClass);
}

/** The deadlines for an incident class: its defaults for the scenario (and spec), with `scenario.expect` overrides. */
export function deadlinesFor(incidentClass: IncidentClass, scenario: Scenario, spec?: FaultSpec): StageDeadlines {
  const defaults = stagesOf(incidentClass).defaults(scenario.shop, spec ?? specFor(scenario, incidentClass));
  const override = scenario.expect[incidentClass] ?? {};
  return {
    detect: override.detect ?? defaults.detect,
    notify: override.notify ?? defaults.notify,
    recover: override.recover ?? defaults.recover,
  };
}

/**
 * How long after the load the last incidents can still earn credit: twice the longest stage
 * deadline of any class the scenario can produce (credit reaches 0 at twice the deadline), and a
 * reconcile cycle of the shop's for the last orders to be looked at.
 */
export function decidedWithinMs(scenario: Scenario): number {
  const classes: ScenarioIncidentClass[] = [
    ...scenario.faults.map((fault) => fault.id),
    ...Object.entries(scenario.buyers.mix).flatMap(([behaviour, share]) => (behaviour !== 'normal' && (share ?? 0) > 0 ? [`buyer.${behaviour}` as ScenarioIncidentClass] : [])),
  ];
  let longest = 0;
  for (const incidentClass of classes) {
    const deadlines = deadlinesFor(incidentClass, scenario);
    longest = Math.max(longest, deadlines.detect, deadlines.notify, deadlines.recover);
  }
  return 2 * longest + scenario.shop.reconcileEvery;
}

/** What a scenario's default deadline allows beyond its load and settle: slow shutdowns, a last sweep. */
export const DEADLINE_MARGIN_MS = 30_000;

/** The scenario's overall deadline from the start of load, ms: `deadline`, else load + settle + the margin. */
export function deadlineMsOf(scenario: Scenario): number {
  return scenario.deadline ?? loadDuration(scenario.load) + settleMsOf(scenario) + DEADLINE_MARGIN_MS;
}

/** The scenario's settle period in ms: `auto` is `decidedWithinMs`. */
export function settleMsOf(scenario: Scenario): number {
  return scenario.settle === 'auto' ? decidedWithinMs(scenario) : scenario.settle;
}

/** Credit for a stage met `ms` after the start: 1 ≤ D, linear to 0 at 2D, 0 if never. */
export function stageCredit(ms: number | undefined, deadline: number): number {
  if (ms === undefined || !Number.isFinite(ms)) return 0;
  if (ms <= deadline) return 1;
  if (ms >= 2 * deadline) return 0;
  return 1 - (ms - deadline) / deadline;
}

/** Stage weights in the incident score. */
export const STAGE_WEIGHTS: Record<StageName, number> = { detect: 0.3, notify: 0.2, recover: 0.5 };
