/**
 * Interrupting a run (`RunOptions.signal`; the CLI aborts it on SIGINT / SIGTERM): the scenario
 * running is cut as its deadline would cut it — the load stops, hanging requests end, settle ends,
 * the shop and the mocks are shut down, its journal ends with `run.finished: interrupted` — and is
 * scored from what was recorded; scenarios not yet started are not run. The run folder records
 * the interruption (run.json), so `ordeal report` re-scores it with the same mark.
 */
import { EXIT, type ExitCode } from '../../core/errors.js';
import { interruptSignalOf, signalExitCode, type RunInterruption } from '../../core/interruption.js';
import type { JournalEventMap } from '../../core/journal.js';

/** Why a scenario's run finished, as its journal's `run.finished` says. */
export type FinishReason = JournalEventMap['run.finished']['reason'];

/**
 * Calls `stop` once when `signal` aborts (at once if it already has); returns the function that
 * stops listening. Without a signal, nothing to listen to.
 */
export function onInterrupt(signal: AbortSignal | undefined, stop: () => void): () => void {
  if (!signal) return () => undefined;
  if (signal.aborted) {
    stop();
    return () => undefined;
  }
  signal.addEventListener('abort', stop, { once: true });
  return () => signal.removeEventListener('abort', stop);
}

/**
 * What the interruption left undone, in the given scenario order — or undefined when the signal
 * has not aborted. (Aborted after the last scenario finished, the run is still marked: the caller
 * asked it to stop.)
 * @param outcomes per scenario: how it finished, or undefined when it never started
 */
export function interruptionOf(
  signal: AbortSignal | undefined,
  names: readonly string[],
  outcomes: ReadonlyArray<{ finished: FinishReason } | undefined>,
): RunInterruption | undefined {
  if (!signal?.aborted) return undefined;
  const scenariosCut = names.filter((_, index) => outcomes[index]?.finished === 'interrupted');
  const scenariosNotRun = names.filter((_, index) => outcomes[index] === undefined);
  return { signal: interruptSignalOf(signal.reason), scenariosCut, scenariosNotRun };
}

/** The exit code of an interrupted run: 143 after SIGTERM, else 130 (as after SIGINT). */
export function interruptedExitCode(interruption: RunInterruption): ExitCode {
  return interruption.signal === null ? EXIT.interrupted : signalExitCode(interruption.signal);
}
