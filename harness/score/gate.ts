/**
 * The gate: turns a score into pass/fail with reasons a person can act on. It fails on an overall
 * score below the minimum, on any broken invariant the scenario selects, on a steady state below
 * its thresholds, on a recovery rule not met, and on an accounting line that does not balance.
 */
import type { Scenario } from '../../core/scenario-schema.js';
import type { GateResult, ScenarioScore } from '../../core/report-types.js';
import { formatMs, formatPercent } from '../../core/units.js';
import { recoveryReason, violatingOrders } from '../../core/report-reading.js';
import { accountingReason } from '../../core/accounting-reading.js';

export type { GateResult } from '../../core/report-types.js';

export interface GateOptions {
  /** Overrides `scenario.gate.minScore` (e.g. `--min-score`). */
  minScore?: number;
}

/** How many violating order ids a reason names before "…". */
const NAMED_ORDERS = 5;

/** "ord_a, ord_b, …" — the first few ids, with an ellipsis when there are more. */
export function listIds(ids: readonly string[], max = NAMED_ORDERS): string {
  const shown = ids.slice(0, max).join(', ');
  return ids.length > max ? `${shown}, …` : shown;
}


export function evaluateGate(score: ScenarioScore, scenario: Scenario, options: GateOptions = {}): GateResult {
  const reasons: string[] = [];

  const minScore = options.minScore ?? scenario.gate.minScore;
  // Nothing observable is not a failing score: the verdict rests on the invariants and the steady state.
  if (score.score !== null && score.score < minScore) reasons.push(`score ${score.score.toFixed(1)} < min ${minScore}`);

  const selected = scenario.gate.invariants;
  for (const invariant of score.invariants) {
    if (invariant.ok) continue;
    if (selected !== 'all' && !selected.includes(invariant.id)) continue;
    const orders = violatingOrders(invariant);
    if (orders.length === 0) {
      reasons.push(`invariant ${invariant.id} broken: ${invariant.violations.map((violation) => violation.message).join('; ')}`);
    } else {
      reasons.push(`invariant ${invariant.id} broken by ${orders.length} order${orders.length === 1 ? '' : 's'}: ${listIds(orders)}`);
    }
  }

  const steady = score.steadyState;
  const thresholds = scenario.gate.steadyState;
  if (steady.successRate < thresholds.successRate) {
    reasons.push(
      `steady state success rate ${formatPercent(steady.successRate)} < ${formatPercent(thresholds.successRate)} (${steady.succeeded}/${steady.orders} fault-free orders delivered)`,
    );
  }
  if (thresholds.p95 !== undefined && steady.latency.p95 !== null && steady.latency.p95 > thresholds.p95) {
    reasons.push(`steady state p95 ${formatMs(steady.latency.p95)} > ${formatMs(thresholds.p95)}`);
  }

  const { arrivals, dropped } = score.load;
  if (arrivals > 0 && dropped / arrivals > scenario.gate.maxDropped) {
    reasons.push(
      `${dropped} of ${arrivals} arrivals (${formatPercent(dropped / arrivals)}) dropped at the in-flight cap (load.maxInFlight), more than gate.maxDropped ${formatPercent(scenario.gate.maxDropped)}: the shop was not sent the load the scenario describes`,
    );
  }

  for (const result of score.recovery ?? []) {
    if (!result.met) reasons.push(recoveryReason(result));
  }

  // A run whose arrivals, orders, money or cards do not add up fails, whatever its score.
  const accounting = accountingReason(score.accounting);
  if (accounting !== undefined) reasons.push(accounting);

  return { passed: reasons.length === 0, reasons };
}

/** One verdict for a multi-scenario run: passed when every scenario passed; reasons prefixed by scenario name. */
export function combineGates(results: ReadonlyArray<{ name: string; gate: GateResult }>): GateResult {
  const reasons: string[] = [];
  for (const { name, gate } of results) for (const reason of gate.reasons) reasons.push(`${name}: ${reason}`);
  return { passed: results.every(({ gate }) => gate.passed), reasons };
}
