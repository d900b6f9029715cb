/**
 * The console summary: a compact table per scenario (score, classes, invariants, steady state,
 * load, latency, gate) and the run's verdict. Pure: (report, options) → string. ANSI colours only when
 * `color` is true.
 */
import type {
  Accounting,
  ClassScore,
  EncodedHistogram,
  InvariantResult,
  Report,
  ScenarioMetrics,
  ScenarioReport,
  StageSummary,
  SteadyState,
} from '../core/report-types.js';
import { recoveryName, steadyLeftOut, throughputOf, violatingOrders } from '../core/report-reading.js';
import { interruptionDetails, interruptionReason, interruptionTitle } from '../core/interruption.js';
import { formatMs, formatMsOrDash, formatPercent, plural } from '../core/units.js';
import { accountingEquations, accountingGapText } from '../core/accounting-reading.js';
import { palette, printable, table, type Palette } from './terminal.js';
import { outsideRequestsLine } from './outside-requests.js';

export interface ConsoleOptions {
  /** Use ANSI colours (a TTY that wants them). */
  color: boolean;
  /** Violating order ids named per invariant before "…". @default 3 */
  maxIds?: number;
}

function scoreText(score: number | null, p: Palette, min?: number): string {
  // Not observable on the target: not a score at all.
  if (score === null) return p.dim('n/a');
  const text = score.toFixed(1);
  if (min !== undefined && score < min) return p.red(text);
  return score >= 90 ? p.green(text) : score >= 60 ? p.yellow(text) : p.red(text);
}

function metText(stage: StageSummary, incidents: number, p: Palette): string {
  if (stage.observable === false) return p.dim('n/a');
  const text = `${stage.met}/${incidents}`;
  return stage.met === incidents ? p.green(text) : stage.met === 0 ? p.red(text) : p.yellow(text);
}


function classRows(classes: Partial<Record<string, ClassScore>>, p: Palette): string[] {
  const entries = Object.entries(classes).filter((entry): entry is [string, ClassScore] => entry[1] !== undefined);
  if (entries.length === 0) return [`  ${p.dim('no incidents: no fault or buyer mistake hit an order')}`];
  const rows = [
    ['class', 'score', 'weight', 'incidents', 'detect', 'notify', 'recover', 'recover p50/p95'].map((cell) => p.dim(cell)),
    ...entries.map(([fault, entry]) =>
      entry.observable === false
        ? [fault, p.dim('n/a'), '0', String(entry.incidents), p.dim('n/a'), p.dim('n/a'), p.dim('n/a'), p.dim('-')]
        : [
            fault,
            scoreText(entry.score, p),
            String(entry.weight),
            String(entry.incidents),
            metText(entry.stages.detect, entry.incidents, p),
            metText(entry.stages.notify, entry.incidents, p),
            metText(entry.stages.recover, entry.incidents, p),
            `${formatMsOrDash(entry.stages.recover.p50)}/${formatMsOrDash(entry.stages.recover.p95)}`,
          ],
    ),
  ];
  const notes = entries.flatMap(([fault, entry]) => (entry.observable === false ? [`  ${p.dim(`n/a ${fault}: not observable on this target — ${entry.reason ?? 'the shop cannot show it'}`)}`] : []));
  return [...table(rows, ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'], '  '), ...notes];
}

function invariantLines(invariants: InvariantResult[], p: Palette, maxIds: number): string[] {
  const lines: string[] = [];
  const holding = invariants.filter((invariant) => invariant.ok).map((invariant) => `${p.green('✓')} ${invariant.id}`);
  if (holding.length > 0) lines.push(`  ${holding.join('  ')}`);
  for (const invariant of invariants.filter((entry) => !entry.ok)) {
    const ids = violatingOrders(invariant);
    const named = printable(ids.slice(0, maxIds).join(', ') + (ids.length > maxIds ? ', …' : ''));
    lines.push(`  ${p.red('✗')} ${p.bold(invariant.id)}: ${plural(ids.length, 'order')}${named ? ` (${named})` : ''}`);
    const first = invariant.violations[0];
    if (first) lines.push(`      ${p.dim(printable(first.message))}${invariant.violations.length > 1 ? p.dim(` (+${invariant.violations.length - 1} more)`) : ''}`);
  }
  return lines;
}

function steadyLine(steady: SteadyState, p: Palette): string {
  const mark = steady.ok ? p.green('✓') : p.red('✗');
  const rate = formatPercent(steady.successRate);
  const min = `min ${formatPercent(steady.thresholds.successRate)}`;
  const latency = `p50 ${formatMsOrDash(steady.latency.p50)} p95 ${formatMsOrDash(steady.latency.p95)} p99 ${formatMsOrDash(steady.latency.p99)}`;
  const p95Limit = steady.thresholds.p95 !== undefined ? ` (max p95 ${formatMs(steady.thresholds.p95)})` : '';
  const leftOut = steadyLeftOut(steady);
  return `  steady state ${mark} ${steady.succeeded}/${steady.orders} delivered, ${rate} (${min}); ${latency}${p95Limit}${leftOut ? `; left out: ${leftOut}` : ''}`;
}

/** One line per recovery rule: the measured time to recover, and the window that shows it (or the last that failed). */
function recoveryLine(result: NonNullable<ScenarioReport['recovery']>[number], p: Palette): string {
  const { rule, figures } = result;
  const mark = result.met ? p.green('✓') : p.red('✗');
  const outcome =
    result.timeToRecoverMs === undefined ? `not recovered (within ${formatMs(rule.within)})` : `recovered in ${formatMs(result.timeToRecoverMs)} (within ${formatMs(rule.within)})`;
  if (!figures) return `  ${mark} ${recoveryName(result)}: ${outcome}; no order completed after it`;
  const which = result.timeToRecoverMs === undefined ? 'last failing window' : 'window';
  const p95 = `p95 ${formatMs(figures.p95)}${rule.p95 === undefined ? '' : ` (max ${formatMs(rule.p95)})`}`;
  const rate = `${formatPercent(figures.successRate)} delivered${rule.successRate === undefined ? '' : ` (min ${formatPercent(rule.successRate)})`}`;
  return `  ${mark} ${recoveryName(result)}: ${outcome}; ${which} ${formatMs(figures.from)}..${formatMs(figures.to)}: ${p95}, ${rate}, ${plural(figures.completions, 'completion')}`;
}

/** p50/p95/p99 of a histogram, or a dash when it has no sample. */
function percentiles(histogram: EncodedHistogram): string {
  if (histogram.count === 0) return '–';
  return `${formatMsOrDash(histogram.p50)}/${formatMsOrDash(histogram.p95)}/${formatMsOrDash(histogram.p99)}`;
}

/** One line: order stages from intended arrival (p50/p95/p99) and throughput. */
function latencyLine(metrics: ScenarioMetrics, p: Palette): string {
  const { stages } = metrics;
  const { mean, peak } = throughputOf(metrics);
  const create = metrics.endpoints.create;
  const errors = create.count === 0 ? '' : `, create errors ${formatPercent(create.errors / create.count)}`;
  return `  latency ${p.dim('p50/p95/p99 from intended start')} created ${percentiles(stages.created)} · paid ${percentiles(stages.paid)} · delivered ${percentiles(stages.delivered)}; ${mean.toFixed(1)} delivered/s (peak ${peak})${errors}`;
}

function verdict(passed: boolean, p: Palette): string {
  return passed ? p.green(p.bold('✔ PASSED')) : p.red(p.bold('✘ FAILED'));
}

/** The payment protocol when it is not the native one, and each fault it could not express. */
function providerLines(scenario: ScenarioReport, p: Palette): string[] {
  const provider = scenario.provider;
  if (!provider) return [];
  const channels = provider.channels ?? [];
  const lines = provider.protocol === 'native' && channels.length === 0 ? [] : [`  payment protocol ${[provider.protocol, ...channels].join(' + ')}`];
  for (const skipped of provider.notInjected) {
    const why = channels.length > 0 || skipped.cause !== undefined ? skipped.reason : `${provider.protocol} cannot express it (${skipped.reason})`;
    lines.push(`  ${p.yellow('!')} ${skipped.fault} not injected: ${why}`);
  }
  return lines;
}

/** One line: the accounting line's equations, and when it does not balance, each gap with the first orders (escaped). */
function accountingLine(accounting: Accounting, p: Palette): string {
  const equations = `  accounting ${accounting.balanced ? p.green('✓') : p.red('✗')} ${accountingEquations(accounting).join(' · ')}`;
  if (accounting.balanced) return equations;
  return `${equations} — ${p.red('does not balance')}: ${accounting.gaps.map((gap) => printable(accountingGapText(gap))).join('; ')}`;
}

function scenarioBlock(scenario: ScenarioReport, p: Palette, maxIds: number): string[] {
  const lines = [`${p.bold(printable(scenario.name))}  score ${scoreText(scenario.score, p)}  seed ${scenario.seed}  ${verdict(scenario.gate.passed, p)}`];
  if (scenario.observable === false) lines.push(`  ${p.yellow('!')} nothing this scenario injects is observable on this target: no score (the gate rests on the invariants and the steady state)`);
  if (scenario.description) lines.push(`  ${p.dim(printable(scenario.description.replace(/\s+/g, ' ').trim()))}`);
  lines.push(...providerLines(scenario, p));
  if (scenario.outsideRequests) lines.push(`  ${p.yellow('!')} ${printable(outsideRequestsLine(scenario.outsideRequests))}`);
  lines.push(...classRows(scenario.classes, p));
  lines.push('  invariants');
  lines.push(...invariantLines(scenario.invariants, p, maxIds).map((line) => `  ${line}`));
  lines.push(steadyLine(scenario.steadyState, p));
  const load = scenario.load;
  lines.push(
    `  load ${plural(load.arrivals, 'arrival')}, ${load.dropped} dropped, ${plural(load.ordersCreated, 'order')}, ${plural(load.httpErrors, 'HTTP error')}, ${load.rejected} rejected`,
  );
  if (scenario.accounting) lines.push(accountingLine(scenario.accounting, p));
  if (scenario.metrics) lines.push(latencyLine(scenario.metrics, p));
  for (const result of scenario.recovery ?? []) lines.push(recoveryLine(result, p));
  for (const reason of scenario.gate.reasons) lines.push(`  ${p.red('•')} ${printable(reason)}`);
  return lines;
}

/** The interrupted run's banner: what was cut and not run, above everything else. */
function interruptionBanner(report: Report, p: Palette): string[] {
  if (!report.interrupted) return [];
  return [`${p.yellow('⚠')} ${p.bold(p.yellow(interruptionTitle(report.interrupted)))}`, ...interruptionDetails(report.interrupted).map((line) => `  ${printable(line)}`), ''];
}

export function renderConsole(report: Report, options: ConsoleOptions): string {
  const p = palette(options.color);
  const maxIds = options.maxIds ?? 3;
  const lines: string[] = [p.dim(`ordeal ${report.tool.version} · seed ${report.seed} · ${report.createdAt}`), '', ...interruptionBanner(report, p)];
  for (const scenario of report.scenarios) lines.push(...scenarioBlock(scenario, p, maxIds), '');
  lines.push(`gate ${verdict(report.gate.passed, p)}${report.scenarios.length > 1 ? ` (${report.scenarios.filter((s) => s.gate.passed).length}/${report.scenarios.length} scenarios passed)` : ''}`);
  // Scenario reasons are listed under each scenario; the run's own reasons are those, prefixed.
  if (report.scenarios.length === 0) for (const reason of report.gate.reasons) lines.push(`  ${p.red('•')} ${printable(reason)}`);
  else if (report.interrupted) lines.push(`  ${p.red('•')} ${printable(interruptionReason(report.interrupted))}`);
  if (report.replay) lines.push(p.dim(`replay: ${report.replay}`));
  return `${lines.join('\n')}\n`;
}
