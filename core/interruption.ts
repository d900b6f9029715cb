/**
 * A run stopped before its end — Ctrl-C, SIGTERM, or the library caller's `AbortSignal`: what the
 * run folder records (run.json) and report.json carries, and the sentences every renderer shows.
 */
import { EXIT, type ExitCode } from './errors.js';

/** The signals that stop a run gracefully (the CLI's; a library caller names one as the abort reason). */
export const INTERRUPT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type InterruptSignal = (typeof INTERRUPT_SIGNALS)[number];

/** 128 + the signal's number, as a shell reports a process the signal ended. */
export function signalExitCode(signal: InterruptSignal): ExitCode {
  return signal === 'SIGTERM' ? EXIT.terminated : signal === 'SIGHUP' ? EXIT.hungUp : EXIT.interrupted;
}

/** How a run was interrupted, and what it did not finish. */
export interface RunInterruption {
  /** The signal that stopped the run; null when a library caller aborted it for another reason. */
  signal: InterruptSignal | null;
  /** Scenarios running when it stopped: cut short, scored from what their journals recorded. */
  scenariosCut: string[];
  /** Scenarios that had not started: not run, so not in the report's scenarios. */
  scenariosNotRun: string[];
}

/** The signal named by an abort reason (`controller.abort('SIGINT')`), else null. */
export function interruptSignalOf(reason: unknown): InterruptSignal | null {
  return (INTERRUPT_SIGNALS as readonly unknown[]).includes(reason) ? (reason as InterruptSignal) : null;
}

function names(list: readonly string[], max = 5): string {
  const shown = list.slice(0, max).join(', ');
  return list.length > max ? `${shown}, …` : shown;
}

/** "Interrupted by SIGINT" — the banner's title. */
export function interruptionTitle(interruption: RunInterruption): string {
  return `Interrupted${interruption.signal ? ` by ${interruption.signal}` : ''}`;
}

/** What the interruption left unfinished, one sentence per part (for banners). */
export function interruptionDetails(interruption: RunInterruption): string[] {
  const { scenariosCut: cut, scenariosNotRun: notRun } = interruption;
  const lines: string[] = [];
  if (cut.length > 0) lines.push(`Cut short and scored from what was recorded: ${names(cut)}.`);
  if (notRun.length > 0) lines.push(`Not run: ${notRun.length} scenario${notRun.length === 1 ? '' : 's'} (${names(notRun)}).`);
  if (cut.length === 0 && notRun.length === 0) lines.push('Every scenario had finished.');
  lines.push('An interrupted run never passes its gate.');
  return lines;
}

/** The run gate's reason for an interrupted run. */
export function interruptionReason(interruption: RunInterruption): string {
  const notRun = interruption.scenariosNotRun.length;
  const cut = interruption.scenariosCut.length;
  const parts = [
    ...(cut > 0 ? [`${cut} scenario${cut === 1 ? '' : 's'} cut short`] : []),
    ...(notRun > 0 ? [`${notRun} not run`] : []),
  ];
  return `the run was interrupted${interruption.signal ? ` by ${interruption.signal}` : ''}${parts.length > 0 ? `: ${parts.join(', ')}` : ''}`;
}
