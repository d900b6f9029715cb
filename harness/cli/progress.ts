/**
 * Progress of a run, from `run()`'s `onProgress` snapshots. Rendering one snapshot is pure
 * (`renderProgressLine`); two thin writers put it on a stream:
 * - on a terminal, a live block with one line per running scenario, redrawn in place (log-update);
 *   a scenario's final line stays in the scrollback when it is done;
 * - elsewhere (CI, a pipe), plain lines without ANSI: one per scenario at each phase change and
 *   every few seconds while it runs.
 */
import type { Writable } from 'node:stream';
import { createLogUpdate } from 'log-update';
import type { ScenarioProgress } from '../drive/run.js';
import { formatMs } from '../../core/units.js';
import { palette } from '../../reports/terminal.js';

export type { ScenarioProgress } from '../drive/run.js';

export interface ProgressLineOptions {
  /** ANSI colours. @default false */
  color?: boolean;
  /** Draw a bar of elapsed / planned load time (terminal display). @default false */
  bar?: boolean;
  /** Width of the scenario-name column (names are padded to it). @default 0 */
  nameWidth?: number;
}

const BAR_WIDTH = 16;

function seconds(ms: number): string {
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : formatMs(ms);
}

function bar(fraction: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH);
  return `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}`;
}

/**
 * One line for one scenario's snapshot, e.g.
 * `callback-drop  load    2.1s/4.0s  sent 31/60  settled 12  in flight 19  15/s  incidents 7`
 * or, once scored, `callback-drop  done  ✔ score 100.0  60 sent, 21 incidents`. Pure.
 */
export function renderProgressLine(progress: ScenarioProgress, options: ProgressLineOptions = {}): string {
  const { green, red, dim, bold } = palette(options.color ?? false);
  const name = bold(progress.scenario.padEnd(options.nameWidth ?? 0));
  const phase = `${progress.phase.padEnd(8)}  `;
  const sent = progress.arrivals - progress.dropped;

  if (progress.phase === 'done') {
    const verdict = progress.passed === undefined ? '' : progress.passed ? green('✔ ') : red('✘ ');
    const score = progress.score === undefined ? '' : `${verdict}score ${progress.score === null ? 'n/a' : progress.score.toFixed(1)}  `;
    const dropped = progress.dropped > 0 ? `, ${progress.dropped} dropped` : '';
    return `${name}  ${phase}${score}${dim(`${sent} sent${dropped}, ${progress.incidents} incident${progress.incidents === 1 ? '' : 's'}`)}`.trimEnd();
  }
  if (progress.phase === 'starting') {
    const plan = progress.model === 'closed' ? `${progress.planned} closed-model buyers for ${seconds(progress.plannedMs)}` : `${progress.planned} buyers planned over ${seconds(progress.plannedMs)}`;
    return `${name}  ${phase}${dim(plan)}`;
  }

  const parts = [`${seconds(progress.elapsedMs)}/${seconds(progress.plannedMs)}`];
  if (options.bar) parts.push(dim(bar(progress.plannedMs > 0 ? progress.elapsedMs / progress.plannedMs : 1)));
  // A closed model's arrivals follow the shop's pace: there is no planned total to count against.
  parts.push(progress.model === 'closed' ? `sent ${sent} (${progress.planned} buyers)` : `sent ${sent}/${progress.planned}`);
  if (progress.dropped > 0) parts.push(red(`dropped ${progress.dropped}`));
  parts.push(`settled ${progress.settled}`, `in flight ${progress.inFlight}`);
  if (progress.phase === 'load') parts.push(`${progress.rate}/s`);
  parts.push(`incidents ${progress.incidents}`);
  return `${name}  ${phase}${parts.join('  ')}`;
}

/** Where progress goes: a live terminal display, plain lines, or nowhere. */
export type ProgressMode = 'tty' | 'plain' | 'off';

export interface ProgressModeOptions {
  /** `--quiet`: no progress at all. */
  quiet: boolean;
  /** Whether the progress stream is a terminal. */
  isTTY: boolean;
  /** The environment (`CI`, `TERM`). @default {} */
  env?: Record<string, string | undefined>;
  /** The terminal's size, when known: a terminal of zero rows or columns gets plain lines. */
  rows?: number;
  columns?: number;
}

/**
 * Picks the mode: nothing when quiet; the live display on a terminal (not a dumb one, not of zero
 * size, not under CI); plain lines otherwise. Pure.
 */
export function progressMode(options: ProgressModeOptions): ProgressMode {
  if (options.quiet) return 'off';
  const env = options.env ?? {};
  const ci = env.CI !== undefined && env.CI !== '' && env.CI !== 'false' && env.CI !== '0';
  if (!options.isTTY || ci || env.TERM === 'dumb' || options.rows === 0 || options.columns === 0) return 'plain';
  return 'tty';
}

/** Receives `onProgress` snapshots; `close()` when the run is over. */
export interface ProgressDisplay {
  update(progress: ScenarioProgress): void;
  close(): void;
}

export interface ProgressDisplayOptions {
  mode: ProgressMode;
  /** The stream written to (stderr: stdout keeps the report). */
  stream: Writable;
  /** ANSI colours (terminal display only). @default false */
  color?: boolean;
  /** Plain mode: milliseconds between lines of a running scenario. @default 5000 */
  intervalMs?: number;
}

/** A display for `mode`: live, plain or silent. */
export function createProgressDisplay(options: ProgressDisplayOptions): ProgressDisplay {
  switch (options.mode) {
    case 'off':
      return { update: () => undefined, close: () => undefined };
    case 'plain':
      return plainProgress(options.stream, options.intervalMs ?? 5000);
    case 'tty':
      return liveProgress(options.stream, options.color ?? false);
  }
}

/**
 * Plain lines: a scenario's line is written when its phase changes, and every `intervalMs` while
 * it runs (the latest snapshot of each running scenario, in the order they started).
 */
export function plainProgress(stream: Writable, intervalMs = 5000): ProgressDisplay {
  const latest = new Map<string, ScenarioProgress>();
  let nameWidth = 0;
  const write = (progress: ScenarioProgress): void => {
    stream.write(`${renderProgressLine(progress, { nameWidth })}\n`);
  };
  const timer = setInterval(() => {
    for (const progress of latest.values()) if (progress.phase !== 'done') write(progress);
  }, intervalMs);
  timer.unref();
  return {
    update(progress) {
      const previous = latest.get(progress.scenario);
      latest.set(progress.scenario, progress);
      nameWidth = Math.max(nameWidth, progress.scenario.length);
      if (previous?.phase !== progress.phase) write(progress);
    },
    close() {
      clearInterval(timer);
    },
  };
}

/** Live block on a terminal: one line per running scenario; finished ones persist above it. */
export function liveProgress(stream: Writable, color: boolean): ProgressDisplay {
  const render = createLogUpdate(stream as NodeJS.WritableStream);
  const running = new Map<string, ScenarioProgress>();
  let nameWidth = 0;
  const line = (progress: ScenarioProgress): string => renderProgressLine(progress, { color, bar: true, nameWidth });
  const draw = (): void => render([...running.values()].map(line).join('\n'));
  let closed = false;
  return {
    update(progress) {
      if (closed) return;
      nameWidth = Math.max(nameWidth, progress.scenario.length);
      if (progress.phase === 'done') {
        running.delete(progress.scenario);
        // Erases the live block, writes the final line for good; the block is redrawn below it.
        render.persist(line(progress));
      } else {
        running.set(progress.scenario, progress);
      }
      if (running.size > 0) draw();
    },
    close() {
      if (closed) return;
      closed = true;
      render.clear();
      render.done();
    },
  };
}
