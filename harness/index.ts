/** Ordeal's library API: everything the CLI does is available from here. */
export { run, runScenario, type RunOptions, type RunResult, type ScenarioOutcome, type ScenarioProgress } from './drive/run.js';
export type { FinishReason } from './drive/interrupt.js';
export { INTERRUPT_SIGNALS, type InterruptSignal, type RunInterruption } from '../core/interruption.js';
export { handleStopSignals, type StopSignalOptions } from './cli/signals.js';
export { killTrackedProcessGroups } from './drive/process-groups.js';
export { rescoreRun, scoreScenarioDir, assembleReport, type RunRecord } from './score/rescore.js';
export {
  compareReports,
  applyComparison,
  regressionReason,
  loadReport,
  rebuildRunReport,
  BASELINE_FILE,
  COMPARISON_FILE,
  DEFAULT_THRESHOLD,
  type Comparison,
  type CompareOptions,
  type ScenarioComparison,
  type ClassComparison,
  type ScoreDelta,
  type SteadyStateComparison,
  type Regression,
  type RegressionKind,
  type RecordedComparison,
} from './score/compare.js';
export { renderComparison, renderComparisonMarkdown, formatDelta, type ComparisonRenderOptions } from '../reports/compare.js';
export {
  renderProgressLine,
  progressMode,
  createProgressDisplay,
  plainProgress,
  liveProgress,
  type ProgressDisplay,
  type ProgressDisplayOptions,
  type ProgressLineOptions,
  type ProgressMode,
  type ProgressModeOptions,
} from './cli/progress.js';
export { loadScenarios, loadScenarioFile, validate, type LoadedScenario } from './scenario/loader.js';
export * from './targets/index.js';
export { targetProfileSchema, targetProfileJsonSchema, type TargetProfile, type TargetProfileInput } from '../core/target-schema.js';
export {
  defineScenario,
  scenarioSchema,
  scenarioJsonSchema,
  FAULT_IDS,
  INVARIANT_IDS,
  BUYER_BEHAVIOURS,
  type Scenario,
  type ScenarioInput,
  type FaultSpec,
  type FaultId,
  type InvariantId,
  type BuyerBehaviour,
} from '../core/scenario-schema.js';
export { FileJournal, MemoryJournal, readJournal, readJournalBatches, loadJournal, type JournalEvent, type JournalEventType } from '../core/journal.js';
export { OrdealError, ERRORS, EXIT, type ErrorCode, type ExitCode } from '../core/errors.js';
export { startMocks, type MockSet, type MockSetOptions } from '../mocks/index.js';
export { FaultPlan } from '../mocks/fault-plan.js';
export { scoreJournalFile, scoreScenario, type ScenarioScore } from './score/score.js';
export { evaluateGate, type GateResult } from './score/gate.js';
export { VERSION } from '../core/version.js';
export { reportSchema, reportJsonSchema } from '../core/report-schema.js';
export type { Report } from '../core/report-types.js';
export { MetricsFolder, foldMetrics, encode, decode, mergeEncoded, mergeScenarioMetrics } from './score/metrics.js';
export type { EncodedHistogram, ScenarioMetrics } from '../core/report-types.js';
