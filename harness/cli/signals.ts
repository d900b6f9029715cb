/**
 * Ctrl-C, SIGTERM and SIGHUP (the terminal closed) during `ordeal run`: the first stops the run
 * gracefully (the run's AbortSignal: the running scenarios are cut and scored, the rest not run,
 * every report written, exit 130 / 143 / 129); the second exits at once, after SIGKILLing the shops' process groups — they
 * run in groups of their own, so the terminal's Ctrl-C never reaches them.
 */
import type { EventEmitter } from 'node:events';
import { INTERRUPT_SIGNALS, signalExitCode, type InterruptSignal } from '../../core/interruption.js';
import { killTrackedProcessGroups } from '../drive/process-groups.js';

export interface StopSignalOptions {
  /** Aborted on the first signal, with the signal's name as its reason. */
  controller: AbortController;
  /** Where the one-line notices go (stderr). */
  write: (text: string) => void;
  /** Ends the process at once (the second signal). @default process.exit */
  exit?: (code: number) => void;
  /** What emits the signals. @default process */
  source?: EventEmitter;
  /**
   * Called on SIGHUP before anything is written: the terminal is gone, and a write to it fails
   * (EIO) — an unhandled stream error that would end the process before the run is scored.
   * @default ignore write errors on process.stdout and process.stderr
   */
  hangUp?: () => void;
}

function ignoreClosedTerminal(): void {
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
}


/** Installs the handlers; returns the function that removes them (once the run is over). */
export function handleStopSignals({ controller, write, exit = (code) => process.exit(code), source = process, hangUp = ignoreClosedTerminal }: StopSignalOptions): () => void {
  let hungUp = false;
  const onSignal = (signal: InterruptSignal): void => {
    if (signal === 'SIGHUP' && !hungUp) {
      hungUp = true;
      hangUp();
    }
    if (!controller.signal.aborted) {
      write(`\nordeal: ${signal} — stopping: the running scenarios are cut and scored, the rest not run, the reports written (Ctrl-C again to exit at once)\n`);
      controller.abort(signal);
      return;
    }
    const killed = killTrackedProcessGroups();
    write(`ordeal: ${signal} again — exiting now${killed.length > 0 ? ` (killed the shop's process group${killed.length === 1 ? '' : 's'} ${killed.join(', ')})` : ''}; the run folder is incomplete\n`);
    exit(signalExitCode(signal));
  };
  const listeners = INTERRUPT_SIGNALS.map((signal) => [signal, () => onSignal(signal)] as const);
  for (const [signal, listener] of listeners) source.on(signal, listener);
  return () => {
    for (const [signal, listener] of listeners) source.off(signal, listener);
  };
}
