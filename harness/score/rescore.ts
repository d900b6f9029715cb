/**
 * Scoring from what a run left on disk: every report is a pure function of the run folder (each
 * scenario's journal and resolved scenario, and the run's own settings in run.json), so a saved
 * run can be re-scored and re-rendered with no shop or mock running.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { VERSION } from '../../core/version.js';
import { join } from 'node:path';
import { OrdealError } from '../../core/errors.js';
import { evaluateGate, type GateResult } from './gate.js';
import { deadlineMsOf } from './credit.js';
import { formatMs } from '../../core/units.js';
import { JOURNAL_FILE } from '../../core/journal.js';
import type { RunInterruption } from '../../core/interruption.js';
import type { Report } from '../../core/report-types.js';
import { runInterruptionSchema } from '../../core/report-schema.js';
import { buildReport } from './report.js';
import { scenarioSchema, type Scenario } from '../../core/scenario-schema.js';
import { scoreJournalFile, type ScenarioScore } from './score.js';

export const RUN_FILE = 'run.json';
export const SCENARIO_FILE = 'scenario.json';

/** What a run records about itself, so that re-scoring reproduces its report exactly. */
export interface RunRecord {
  version: string;
  createdAt: string;
  seed: number;
  replay: string;
  /** The --min-score override, if any. */
  minScore?: number;
  /** Scenario folder names, in report order (the scenarios that ran, when the run was interrupted). */
  scenarios: string[];
  /** Present when the run was stopped before its end: the report carries it, and its gate fails. */
  interrupted?: RunInterruption;
  /** A driver segment's run (`runSegment`): its share of a distributed run, scored by `ordeal merge`. */
  segment?: { index: number; count: number };
}

/** Writes `<outDir>/run.json` for a run made now by this version of Ordeal; returns the record. */
export async function writeRunRecord(outDir: string, fields: Omit<RunRecord, 'version' | 'createdAt'>): Promise<RunRecord> {
  const record: RunRecord = { version: VERSION, createdAt: new Date().toISOString(), ...fields };
  // Whole or not at all: a merge waiting on a shared volume (`ordeal merge --wait`) takes the file's presence as the run's end.
  const path = join(outDir, RUN_FILE);
  await writeFile(`${path}.partial`, `${JSON.stringify(record, null, 2)}\n`);
  await rename(`${path}.partial`, path);
  return record;
}

/** The resolved scenario as the run saved it. */
export interface ScenarioRecord {
  file: string;
  seed: number;
  /** The scenario as given (input form); re-validated when read. */
  input: unknown;
  /**
   * What the target profile changed for this run: the shop's own timers (deadlines follow them) and
   * the settle period grown to match; applied over the validated input when read.
   */
  target?: { shop: Scenario['shop']; settle: number };
}

export interface ScoredScenario {
  scenario: Scenario;
  score: ScenarioScore;
  gate: GateResult;
}

async function readJson<T>(path: string, what: string): Promise<T> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new OrdealError('ORDEAL_ERR_RUN_DIR', `${path}: cannot read ${what} (${(error as Error).message})`, { cause: error });
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new OrdealError('ORDEAL_ERR_RUN_DIR', `${path}: ${what} is not valid JSON (${(error as Error).message})`, { cause: error });
  }
}

/** Reads a scenario folder's resolved scenario. */
export async function readScenarioRecord(scenarioDir: string): Promise<{ record: ScenarioRecord; scenario: Scenario }> {
  const path = join(scenarioDir, SCENARIO_FILE);
  const record = await readJson<ScenarioRecord>(path, 'the resolved scenario');
  const parsed = scenarioSchema.safeParse(record.input);
  if (!parsed.success) {
    throw new OrdealError('ORDEAL_ERR_RUN_DIR', `${path}: the saved scenario no longer validates (${parsed.error.issues[0]?.message ?? 'invalid'})`);
  }
  const scenario = record.target ? { ...parsed.data, shop: { ...record.target.shop }, settle: record.target.settle } : parsed.data;
  return { record, scenario };
}

/** Scores one scenario folder from its journal, and gates it as the run did. */
export async function scoreScenarioDir(scenarioDir: string, options: { minScore?: number } = {}): Promise<ScoredScenario> {
  const { scenario } = await readScenarioRecord(scenarioDir);
  // The journal read in batches and folded compactly, settled orders archived on disk as it goes;
  // the fold also notes how the run ended.
  const { score, finished } = await scoreJournalFile(join(scenarioDir, JOURNAL_FILE), scenario);
  const crashed = finished === 'target-crashed';
  let gate = evaluateGate(score, scenario, options.minScore === undefined ? {} : { minScore: options.minScore });
  if (crashed) {
    // What happened before the crash is scored, but a run that lost its shop never passes.
    gate = { passed: false, reasons: ['the target exited during the run (see target.log)', ...gate.reasons] };
  } else if (finished === 'interrupted') {
    gate = { passed: false, reasons: ['the run was interrupted and this scenario cut short: what happened before is scored', ...gate.reasons] };
  } else if (finished === 'deadline') {
    gate = { passed: false, reasons: [`the run passed its deadline (${formatMs(deadlineMsOf(scenario))} from the start of load) and was cut: what happened before is scored`, ...gate.reasons] };
  }
  return { scenario, score, gate };
}

/** Builds the run's report from scored scenarios and its record. */
export function assembleReport(scored: readonly ScoredScenario[], record: RunRecord): Report {
  return buildReport(scored, {
    seed: record.seed,
    replay: record.replay,
    version: record.version,
    createdAt: record.createdAt,
    ...(record.minScore === undefined ? {} : { minScore: record.minScore }),
    ...(record.interrupted ? { interrupted: record.interrupted } : {}),
  });
}

/** Re-scores a finished run folder: the same report.json the run wrote, from the journals alone. */
export async function rescoreRun(runDir: string): Promise<Report> {
  const record = await readJson<RunRecord>(join(runDir, RUN_FILE), 'the run record');
  if (!Array.isArray(record.scenarios)) throw new OrdealError('ORDEAL_ERR_RUN_DIR', `${join(runDir, RUN_FILE)}: no scenario list`);
  if (record.interrupted !== undefined && !runInterruptionSchema.safeParse(record.interrupted).success) {
    throw new OrdealError('ORDEAL_ERR_RUN_DIR', `${join(runDir, RUN_FILE)}: "interrupted" is not a signal with the scenarios cut and not run`);
  }
  const scored: ScoredScenario[] = [];
  for (const name of record.scenarios) {
    scored.push(await scoreSavedScenario(join(runDir, name), record.minScore === undefined ? {} : { minScore: record.minScore }));
  }
  return assembleReport(scored, record);
}

/**
 * A saved scenario folder scored: its journal is read from disk, where anything may have changed
 * it, so a journal the fold cannot take (a field of the wrong type) is the folder's fault (exit 2),
 * named with why — the fold does not re-check, event by event, what Ordeal itself wrote.
 */
async function scoreSavedScenario(scenarioDir: string, options: { minScore?: number }): Promise<ScoredScenario> {
  try {
    return await scoreScenarioDir(scenarioDir, options);
  } catch (error) {
    if (error instanceof OrdealError) throw error;
    const journal = join(scenarioDir, JOURNAL_FILE);
    throw new OrdealError('ORDEAL_ERR_RUN_DIR', `${journal}: cannot be scored (${(error as Error).message}); was it edited or damaged?`, { cause: error });
  }
}
