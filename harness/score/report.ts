/** The run's report from its scored scenarios: one entry per scenario and one combined gate. */
import type { Scenario } from '../../core/scenario-schema.js';
import { REPORT_SCHEMA_VERSION, type GateResult, type Report, type ReportMeta, type ScenarioReport, type ScenarioScore } from '../../core/report-types.js';
import { interruptionReason } from '../../core/interruption.js';
import { combineGates } from './gate.js';

/** Assembles `report.json` from scored and gated scenarios; the run's gate combines theirs. */
export function buildReport(
  entries: ReadonlyArray<{ scenario: Scenario; score: ScenarioScore; gate: GateResult }>,
  meta: ReportMeta,
): Report {
  const scenarios = entries.map(({ scenario, score, gate }): ScenarioReport => {
    const entry: ScenarioReport = {
      name: scenario.name,
      seed: score.seed,
      score: score.score,
      ...(score.observable === false ? { observable: false as const } : {}),
      classes: score.classes,
      invariants: score.invariants,
      steadyState: score.steadyState,
      load: score.load,
      incidents: score.incidents,
      gate: { passed: gate.passed, reasons: [...gate.reasons], minScore: meta.minScore ?? scenario.gate.minScore },
    };
    if (scenario.description !== undefined) entry.description = scenario.description;
    if (score.recovery !== undefined) entry.recovery = score.recovery;
    if (score.metrics !== undefined) entry.metrics = score.metrics;
    if (score.provider !== undefined) entry.provider = score.provider;
    entry.accounting = score.accounting;
    if (score.outsideRequests !== undefined) entry.outsideRequests = score.outsideRequests;
    return entry;
  });
  const gate = combineGates(entries.map(({ scenario, gate }) => ({ name: scenario.name, gate })));
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'ordeal', version: meta.version },
    createdAt: meta.createdAt,
    seed: meta.seed,
    replay: meta.replay,
    scenarios,
    // An interrupted run is never a pass: what it did not run cannot have passed.
    gate: meta.interrupted ? { passed: false, reasons: [interruptionReason(meta.interrupted), ...gate.reasons] } : gate,
    ...(meta.interrupted ? { interrupted: meta.interrupted } : {}),
  };
}
