/**
 * Baselines: compare two runs' reports scenario by scenario (matched by name) and class by class,
 * and name the regressions — a score or class drop beyond a threshold, an invariant newly broken,
 * a gate that passed before and fails now. `compareReports` is pure; `loadReport` reads a
 * report.json (or a run folder's); `applyComparison` folds the regressions into a report's gate.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OrdealError } from '../../core/errors.js';
import { REPORT_SCHEMA_VERSION, type GateResult, type Report, type ScenarioReport } from '../../core/report-types.js';
import { reportSchema } from '../../core/report-schema.js';
import { rescoreRun } from './rescore.js';
import type { ClassComparison, Comparison, Regression, RegressionKind, ScenarioComparison, ScoreDelta, SteadyStateComparison } from '../../core/comparison-types.js';

export type { ClassComparison, Comparison, Regression, RegressionKind, ScenarioComparison, ScoreDelta, SteadyStateComparison } from '../../core/comparison-types.js';

/** A run records the baseline it was gated on here (a copy of the baseline's report.json)… */
export const BASELINE_FILE = 'baseline.json';
/** …and the comparison with it here. */
export const COMPARISON_FILE = 'comparison.json';

/** Points a score or class may drop before it counts as a regression. */
export const DEFAULT_THRESHOLD = 5;

export interface CompareOptions {
  /**
   * Points (0–100) a scenario's score or a class score may drop before the drop is a regression;
   * a drop greater than this regresses. @default 5
   */
  threshold?: number;
}


const points = (value: number): string => value.toFixed(1);
const signed = (value: number): string => `${value >= 0 ? '+' : '-'}${Math.abs(value).toFixed(1)}`;

function scoreDelta(base: number | null, current: number | null, threshold: number): ScoreDelta {
  if (base === null || current === null) return { base, current, delta: null, regression: false };
  const delta = current - base;
  return { base, current, delta, regression: -delta > threshold };
}

function dropMessage(what: string, delta: ScoreDelta, threshold: number): string {
  return `${what} ${points(delta.base ?? 0)} → ${points(delta.current ?? 0)} (${signed(delta.delta ?? 0)} points, max drop ${threshold})`;
}

function compareScenario(base: ScenarioReport, current: ScenarioReport, threshold: number): ScenarioComparison {
  const regressions: Regression[] = [];
  const add = (kind: RegressionKind, subject: string, message: string): void => {
    regressions.push({ scenario: current.name, kind, subject, message });
  };

  const score = scoreDelta(base.score, current.score, threshold);
  if (score.regression) add('score', 'score', dropMessage('score', score, threshold));

  const classes: ClassComparison[] = [];
  const names = [...new Set([...Object.keys(base.classes), ...Object.keys(current.classes)])];
  for (const name of names) {
    const before = base.classes[name as keyof typeof base.classes];
    const after = current.classes[name as keyof typeof current.classes];
    const delta = scoreDelta(before?.score ?? null, after?.score ?? null, threshold);
    classes.push({ class: name, ...delta, baseIncidents: before?.incidents ?? null, currentIncidents: after?.incidents ?? null });
    if (delta.regression) add('class', name, dropMessage(`class ${name}`, delta, threshold));
  }

  const brokenBefore = new Set(base.invariants.filter((invariant) => !invariant.ok).map((invariant) => invariant.id as string));
  const brokenNow = current.invariants.filter((invariant) => !invariant.ok).map((invariant) => invariant.id as string);
  const newlyBroken = brokenNow.filter((id) => !brokenBefore.has(id));
  const fixed = [...brokenBefore].filter((id) => !brokenNow.includes(id));
  for (const id of newlyBroken) {
    const invariant = current.invariants.find((entry) => entry.id === id);
    const orders = new Set(invariant?.violations.flatMap((violation) => violation.orderIds) ?? []);
    add('invariant', id, `invariant ${id} newly broken${orders.size > 0 ? ` (${orders.size} order${orders.size === 1 ? '' : 's'})` : ''}`);
  }

  const steadyState: SteadyStateComparison = {
    base: { successRate: base.steadyState.successRate, p95: base.steadyState.latency.p95, ok: base.steadyState.ok },
    current: { successRate: current.steadyState.successRate, p95: current.steadyState.latency.p95, ok: current.steadyState.ok },
    successRateDelta: current.steadyState.successRate - base.steadyState.successRate,
    p95Delta: base.steadyState.latency.p95 === null || current.steadyState.latency.p95 === null ? null : current.steadyState.latency.p95 - base.steadyState.latency.p95,
    worsened: base.steadyState.ok && !current.steadyState.ok,
  };

  const gate = { base: base.gate.passed, current: current.gate.passed };
  if (gate.base && !gate.current) {
    const why = current.gate.reasons[0];
    add('gate', 'gate', `gate passed before, fails now${why === undefined ? '' : ` (${why}${current.gate.reasons.length > 1 ? '; …' : ''})`}`);
  }

  return { name: current.name, score, classes, newlyBroken, fixed, steadyState, gate, regressions };
}

/**
 * Compares `current` with `base`: per scenario (matched by name) the score delta, per class score
 * deltas, invariants newly broken, steady-state changes and the gate. Scenarios or classes present
 * on one side only are listed, not counted as regressions. Pure.
 */
export function compareReports(base: Report, current: Report, options: CompareOptions = {}): Comparison {
  const threshold = options.threshold ?? DEFAULT_THRESHOLD;
  const baseByName = new Map(base.scenarios.map((scenario) => [scenario.name, scenario]));
  const currentNames = new Set(current.scenarios.map((scenario) => scenario.name));
  const scenarios: ScenarioComparison[] = [];
  for (const scenario of current.scenarios) {
    const before = baseByName.get(scenario.name);
    if (before) scenarios.push(compareScenario(before, scenario, threshold));
  }
  const mean = (values: number[]): number | null => (values.length === 0 ? null : values.reduce((sum, value) => sum + value, 0) / values.length);
  const overall = scoreDelta(
    mean(scenarios.map((scenario) => scenario.score.base ?? 0)),
    mean(scenarios.map((scenario) => scenario.score.current ?? 0)),
    threshold,
  );
  const regressions = scenarios.flatMap((scenario) => scenario.regressions);
  return {
    threshold,
    scenarios,
    onlyInBase: base.scenarios.map((scenario) => scenario.name).filter((name) => !currentNames.has(name)),
    onlyInCurrent: current.scenarios.map((scenario) => scenario.name).filter((name) => !baseByName.has(name)),
    overall,
    gate: { base: base.gate.passed, current: current.gate.passed },
    regressions,
    regressed: regressions.length > 0,
  };
}

/** A regression as a gate reason: `<scenario>: regression vs baseline: <message>`. */
export function regressionReason(regression: Regression): string {
  return `${regression.scenario}: regression vs baseline: ${regression.message}`;
}

/** The report with the comparison's regressions added to its gate (which then fails). Pure. */
export function applyComparison(report: Report, comparison: Comparison): Report {
  if (!comparison.regressed) return report;
  const gate: GateResult = { ...report.gate, passed: false, reasons: [...report.gate.reasons, ...comparison.regressions.map(regressionReason)] };
  return { ...report, gate };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why `value` is not a valid report.json (by the report schema), or undefined when it is one. */
function reportProblem(value: unknown): string | undefined {
  if (!isRecord(value)) return 'not a JSON object';
  if (value.schemaVersion !== REPORT_SCHEMA_VERSION) return `schemaVersion ${JSON.stringify(value.schemaVersion)} (expected ${REPORT_SCHEMA_VERSION})`;
  const parsed = reportSchema.safeParse(value);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0];
  if (!issue) return 'invalid';
  const path = issue.path.reduce<string>((text, key) => (typeof key === 'number' ? `${text}[${key}]` : text === '' ? String(key) : `${text}.${String(key)}`), '');
  const more = parsed.error.issues.length > 1 ? ` (+${parsed.error.issues.length - 1} more)` : '';
  return `${path === '' ? '' : `${path}: `}${issue.message}${more}`;
}

/**
 * Reads a report: a `report.json` file, or a run folder (its `report.json`). Throws
 * ORDEAL_ERR_REPORT_FILE (exit 2), naming the path, when it is missing or not an Ordeal report.
 */
export async function loadReport(path: string): Promise<Report> {
  let file = path;
  try {
    if ((await stat(path)).isDirectory()) file = join(path, 'report.json');
  } catch (error) {
    throw new OrdealError('ORDEAL_ERR_REPORT_FILE', `${path}: no such file or folder`, { cause: error });
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new OrdealError('ORDEAL_ERR_REPORT_FILE', `${file}: cannot read the report (${(error as Error).message})`, { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new OrdealError('ORDEAL_ERR_REPORT_FILE', `${file}: not valid JSON (${(error as Error).message})`, { cause: error });
  }
  const problem = reportProblem(value);
  if (problem !== undefined) throw new OrdealError('ORDEAL_ERR_REPORT_FILE', `${file}: not an Ordeal report: ${problem}`);
  return value as Report;
}

/** What a run gated with `--baseline` records in its folder. */
export interface RecordedComparison extends Comparison {
  /** The baseline as given (a report.json or a run folder). */
  baseline: string;
}

/**
 * A run folder's report exactly as the run wrote it, from the journals alone: re-scored
 * (`rescoreRun`) and, when the run was gated on a baseline, compared with the baseline it recorded
 * (baseline.json, threshold from comparison.json) and gated again.
 */
export async function rebuildRunReport(runDir: string): Promise<{ report: Report; comparison?: Comparison }> {
  const report = await rescoreRun(runDir);
  const baselinePath = join(runDir, BASELINE_FILE);
  if (!existsSync(baselinePath)) return { report };
  const base = await loadReport(baselinePath);
  const recorded = await readRecordedThreshold(join(runDir, COMPARISON_FILE));
  const comparison = compareReports(base, report, { threshold: recorded });
  return { report: applyComparison(report, comparison), comparison };
}

async function readRecordedThreshold(path: string): Promise<number> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new OrdealError('ORDEAL_ERR_RUN_DIR', `${path}: cannot read the recorded comparison (${(error as Error).message})`, { cause: error });
  }
  if (!isRecord(value) || typeof value.threshold !== 'number') {
    throw new OrdealError('ORDEAL_ERR_RUN_DIR', `${path}: the recorded comparison has no threshold`);
  }
  return value.threshold;
}
