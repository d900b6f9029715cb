/**
 * Progress display: the pure rendering of one snapshot, the mode choice, the plain (CI) writer on
 * phase changes and on its interval (fake timers), and the live terminal writer.
 */
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ScenarioProgress } from '../harness/drive/run.js';
import { createProgressDisplay, liveProgress, plainProgress, progressMode, renderProgressLine } from '../harness/cli/progress.js';

function snapshot(overrides: Partial<ScenarioProgress> = {}): ScenarioProgress {
  return {
    scenario: 'callback-drop',
    phase: 'load',
    elapsedMs: 2100,
    plannedMs: 4000,
    model: 'open',
    planned: 60,
    arrivals: 31,
    dropped: 0,
    settled: 12,
    inFlight: 19,
    rate: 15,
    incidents: 7,
    ...overrides,
  };
}

/** A stream that keeps what was written. */
function sink(options: { isTTY?: boolean; columns?: number; rows?: number } = {}): Writable & { text(): string; isTTY?: boolean; columns?: number; rows?: number } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      text += chunk.toString();
      done();
    },
  }) as Writable & { text(): string; isTTY?: boolean; columns?: number; rows?: number };
  stream.text = () => text;
  if (options.isTTY) stream.isTTY = true;
  if (options.columns !== undefined) stream.columns = options.columns;
  if (options.rows !== undefined) stream.rows = options.rows;
  return stream;
}

const lines = (text: string): string[] => text.split('\n').filter((line) => line !== '');

describe('renderProgressLine', () => {
  it('shows scenario, phase, elapsed / planned, sent / planned, settled, in flight, rate and incidents', () => {
    expect(renderProgressLine(snapshot())).toBe('callback-drop  load      2.1s/4.0s  sent 31/60  settled 12  in flight 19  15/s  incidents 7');
  });

  it('names arrivals dropped at the in-flight cap and leaves the rate out once load is over', () => {
    expect(renderProgressLine(snapshot({ phase: 'settle', elapsedMs: 5300, arrivals: 60, dropped: 4, settled: 50, inFlight: 6 }))).toBe(
      'callback-drop  settle    5.3s/4.0s  sent 56/60  dropped 4  settled 50  in flight 6  incidents 7',
    );
  });

  it('counts a closed model against its buyers, not against a planned total it does not have', () => {
    const closed = { model: 'closed' as const, planned: 8, plannedMs: 30_000 };
    expect(renderProgressLine(snapshot({ ...closed, phase: 'starting', elapsedMs: 0, arrivals: 0 }))).toBe('callback-drop  starting  8 closed-model buyers for 30.0s');
    const line = renderProgressLine(snapshot({ ...closed, arrivals: 64 }));
    expect(line).toContain('sent 64 (8 buyers)');
    expect(line).not.toContain('64/8');
  });

  it('says what is planned while starting, and the score and verdict when done', () => {
    expect(renderProgressLine(snapshot({ phase: 'starting', elapsedMs: 0, arrivals: 0 }))).toBe('callback-drop  starting  60 buyers planned over 4.0s');
    expect(renderProgressLine(snapshot({ phase: 'done', arrivals: 60, score: 97.25, passed: true }))).toBe('callback-drop  done      ✔ score 97.3  60 sent, 7 incidents');
    expect(renderProgressLine(snapshot({ phase: 'done', arrivals: 60, dropped: 2, incidents: 1, score: 0, passed: false }))).toBe(
      'callback-drop  done      ✘ score 0.0  58 sent, 2 dropped, 1 incident',
    );
  });

  it('pads the name column, draws a bar of elapsed / planned on request, and colours only when asked', () => {
    const line = renderProgressLine(snapshot(), { bar: true, nameWidth: 20 });
    expect(line).toBe(`callback-drop         load      2.1s/4.0s  ${'█'.repeat(8)}${'░'.repeat(8)}  sent 31/60  settled 12  in flight 19  15/s  incidents 7`);
    expect(renderProgressLine(snapshot({ elapsedMs: 9000 }), { bar: true })).toContain('█'.repeat(16));
    expect(renderProgressLine(snapshot())).not.toMatch(/\u001b\[/);
    expect(renderProgressLine(snapshot({ phase: 'done', score: 50, passed: false }), { color: true })).toMatch(/\u001b\[31m✘ \u001b\[39m/);
  });
});

describe('progressMode', () => {
  it('is off with --quiet, live on a terminal, plain lines elsewhere, under CI, on a dumb or zero-sized terminal', () => {
    expect(progressMode({ quiet: true, isTTY: true })).toBe('off');
    expect(progressMode({ quiet: true, isTTY: false })).toBe('off');
    expect(progressMode({ quiet: false, isTTY: true, env: {}, rows: 40, columns: 120 })).toBe('tty');
    expect(progressMode({ quiet: false, isTTY: false, env: {} })).toBe('plain');
    expect(progressMode({ quiet: false, isTTY: true, env: { CI: 'true' } })).toBe('plain');
    expect(progressMode({ quiet: false, isTTY: true, env: { CI: 'false' } })).toBe('tty');
    expect(progressMode({ quiet: false, isTTY: true, env: { TERM: 'dumb' } })).toBe('plain');
    expect(progressMode({ quiet: false, isTTY: true, rows: 0, columns: 0 })).toBe('plain');
  });
});

describe('plain progress (not a terminal)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes a line at each phase change, not for every snapshot', () => {
    const stream = sink();
    const display = plainProgress(stream, 5000);
    display.update(snapshot({ phase: 'starting', elapsedMs: 0, arrivals: 0 }));
    display.update(snapshot({ phase: 'load', elapsedMs: 0, arrivals: 0 }));
    display.update(snapshot({ phase: 'load', elapsedMs: 250, arrivals: 4 }));
    display.update(snapshot({ phase: 'load', elapsedMs: 500, arrivals: 8 }));
    display.update(snapshot({ phase: 'settle', elapsedMs: 4100, arrivals: 60 }));
    display.close();
    expect(lines(stream.text()).map((line) => line.split(/\s+/)[1])).toEqual(['starting', 'load', 'settle']);
  });

  it('writes the latest snapshot of every running scenario on its interval, and nothing for a finished one or after close', () => {
    const stream = sink();
    const display = plainProgress(stream, 5000);
    display.update(snapshot({ scenario: 'a', phase: 'load', elapsedMs: 0 }));
    display.update(snapshot({ scenario: 'b', phase: 'load', elapsedMs: 0 }));
    expect(lines(stream.text())).toHaveLength(2);
    display.update(snapshot({ scenario: 'a', elapsedMs: 4900, arrivals: 40 }));
    vi.advanceTimersByTime(4999);
    expect(lines(stream.text())).toHaveLength(2);
    vi.advanceTimersByTime(1);
    const afterFirstTick = lines(stream.text());
    expect(afterFirstTick).toHaveLength(4);
    expect(afterFirstTick[2]).toBe('a  load      4.9s/4.0s  sent 40/60  settled 12  in flight 19  15/s  incidents 7');
    expect(afterFirstTick[3]).toMatch(/^b  load      0\.0s\/4\.0s/);

    display.update(snapshot({ scenario: 'a', phase: 'done', score: 100, passed: true }));
    expect(lines(stream.text()).at(-1)).toBe('a  done      ✔ score 100.0  31 sent, 7 incidents');
    vi.advanceTimersByTime(5000);
    const afterSecondTick = lines(stream.text());
    expect(afterSecondTick).toHaveLength(6);
    expect(afterSecondTick[5]).toMatch(/^b  load/);

    display.close();
    vi.advanceTimersByTime(20_000);
    expect(lines(stream.text())).toHaveLength(6);
    expect(stream.text()).not.toMatch(/\u001b/);
  });

  it('createProgressDisplay: off writes nothing; plain writes lines', () => {
    const quiet = sink();
    const off = createProgressDisplay({ mode: 'off', stream: quiet });
    off.update(snapshot());
    off.close();
    expect(quiet.text()).toBe('');
    const stream = sink();
    const plain = createProgressDisplay({ mode: 'plain', stream, intervalMs: 1000 });
    plain.update(snapshot());
    vi.advanceTimersByTime(1000);
    plain.close();
    expect(lines(stream.text())).toHaveLength(2);
  });
});

describe('live progress (a terminal)', () => {
  it('redraws one line per running scenario in place and keeps each finished line', () => {
    const stream = sink({ isTTY: true, columns: 200, rows: 40 });
    const display = liveProgress(stream, false);
    display.update(snapshot({ scenario: 'a', elapsedMs: 1000 }));
    display.update(snapshot({ scenario: 'b', elapsedMs: 500 }));
    display.update(snapshot({ scenario: 'a', elapsedMs: 1250 }));
    display.update(snapshot({ scenario: 'a', phase: 'done', score: 88, passed: true }));
    display.close();
    const text = stream.text();
    // Lines are erased and redrawn (cursor up / erase line), not appended.
    expect(text).toMatch(/\u001b\[(1A|2K)/);
    expect(text).toContain('a  load      1.3s/4.0s');
    expect(text).toContain('b  load      0.5s/4.0s');
    expect(text).toContain('a  done      ✔ score 88.0');
  });
});
