/**
 * Pure readings of report data that the gate and every renderer share: which orders an invariant
 * names, a run's throughput, how a recovery rule is named and why it failed.
 */
import type { InvariantResult, RecoveryResult, ScenarioMetrics, SteadyState } from './report-types.js';
import { formatMs, formatPercent } from './units.js';


/** What the steady state left out and why ("4 caught by the crash, 2 sold out"), or undefined when nothing. */
export function steadyLeftOut(steady: Pick<SteadyState, 'soldOut' | 'caughtByCrash'>): string | undefined {
  const parts: string[] = [];
  if (steady.caughtByCrash) parts.push(`${steady.caughtByCrash} caught by the crash`);
  if (steady.soldOut) parts.push(`${steady.soldOut} genuinely sold out`);
  return parts.length === 0 ? undefined : parts.join(', ');
}

/** Distinct order ids across an invariant's violations, in first-seen order. */
export function violatingOrders(result: InvariantResult): string[] {
  const ids = new Set<string>();
  for (const violation of result.violations) for (const id of violation.orderIds) ids.add(id);
  return [...ids];
}

/** Delivered orders per second: the mean from load start to the last second with a delivery, and the busiest second's. */
export function throughputOf(metrics: Pick<ScenarioMetrics, 'perSecond'>): { mean: number; peak: number } {
  let last = -1;
  let total = 0;
  let peak = 0;
  for (const entry of metrics.perSecond) {
    if (entry.completed > 0) last = entry.second;
    total += entry.completed;
    peak = Math.max(peak, entry.completed);
  }
  return { mean: last < 0 ? 0 : total / (last + 1), peak };
}

/** "recovery after faults[1] payment.latency (window ended at 6.00s)". */
export function recoveryName(result: RecoveryResult): string {
  return `recovery after faults[${result.rule.after}] ${result.rule.fault} (window ended at ${formatMs(result.windowEnd)})`;
}

/** What a window missed: "p95 1.30s > 800ms, 90.0% delivered < 95.0%" (only the thresholds it broke). */
export function recoveryMisses(result: RecoveryResult): string {
  const { figures, rule } = result;
  if (!figures) return '';
  const misses: string[] = [];
  if (rule.p95 !== undefined && figures.p95 > rule.p95) misses.push(`p95 ${formatMs(figures.p95)} > ${formatMs(rule.p95)}`);
  if (rule.successRate !== undefined && figures.successRate < rule.successRate) {
    misses.push(`${formatPercent(figures.successRate)} delivered < ${formatPercent(rule.successRate)}`);
  }
  return misses.join(', ');
}

/** Why a recovery rule failed, with the measured figures. */
export function recoveryReason(result: RecoveryResult): string {
  const name = recoveryName(result);
  const { figures } = result;
  if (result.timeToRecoverMs !== undefined) {
    return `${name}: recovered after ${formatMs(result.timeToRecoverMs)} > within ${formatMs(result.rule.within)}`;
  }
  if (!figures) return `${name}: not recovered: no order completed after the window ended`;
  return (
    `${name}: not recovered: the window ${formatMs(figures.from)}..${formatMs(figures.to)} still had ${recoveryMisses(result)}` +
    ` (${figures.completions} completions; the last window to fail)`
  );
}
