/**
 * Progress of a scenario run for progress displays: counted from what the journal shows (arrivals,
 * drops, finished buyers, injected faults), reported to the listener four times a second and at
 * each phase.
 */
import type { FileJournal } from '../../core/journal.js';
import type { Scenario } from '../../core/scenario-schema.js';
import { loadDuration, plannedArrivalCount } from '../../core/arrivals.js';
import { segmentShare, WHOLE_RUN, type Segment } from '../../core/segments.js';

/** Where one scenario stands, for progress displays. */
export interface ScenarioProgress {
  scenario: string;
  phase: 'starting' | 'load' | 'settle' | 'scoring' | 'done';
  /** Milliseconds since load started (0 before). */
  elapsedMs: number;
  /** Planned load duration in milliseconds. */
  plannedMs: number;
  /** The load model: an open model plans its arrivals; a closed one only its number of buyers. */
  model: 'open' | 'closed';
  /** Planned arrivals (open model); the number of concurrent buyers (closed model, whose arrivals follow the shop's pace). */
  planned: number;
  /** Arrivals so far, sent and dropped at the in-flight cap. */
  arrivals: number;
  dropped: number;
  /** Buyers whose journey ended. */
  settled: number;
  inFlight: number;
  /** Arrivals per second over the last second. */
  rate: number;
  /** Faults injected so far. */
  incidents: number;
  /** Overall score, once scored (null: nothing the scenario injects is observable on the target). */
  score?: number | null;
  passed?: boolean;
}

export interface ProgressTracker {
  /** The load started at this journal time (progress counts elapsed time from it). */
  loadStarted(at: number): void;
  phase(phase: ScenarioProgress['phase']): void;
  done(score: number | null, passed: boolean): void;
  stop(): void;
}

/** Counts what a scenario's journal shows and reports it to the progress listener. */
export function trackProgress(scenario: Scenario, journal: FileJournal, listener: ((progress: ScenarioProgress) => void) | undefined, segment: Segment = WHOLE_RUN): ProgressTracker {
  const state: ScenarioProgress = {
    scenario: scenario.name,
    phase: 'starting',
    elapsedMs: 0,
    plannedMs: loadDuration(scenario.load),
    model: scenario.load.model,
    planned: plannedLoadCount(scenario, segment),
    arrivals: 0,
    dropped: 0,
    settled: 0,
    inFlight: 0,
    rate: 0,
    incidents: 0,
  };
  if (!listener) return { loadStarted: () => undefined, phase: () => undefined, done: () => undefined, stop: () => undefined };
  let loadStart: number | undefined;
  const recentArrivals: number[] = [];
  const unsubscribe = journal.subscribe((event) => {
    if (event.type === 'buyer.arrived' || event.type === 'buyer.dropped') {
      state.arrivals++;
      recentArrivals.push(event.t);
      if (event.type === 'buyer.dropped') state.dropped++;
    } else if (event.type === 'buyer.finished') state.settled++;
    else if (event.type === 'fault.injected') state.incidents++;
  });
  const emit = (): void => {
    const now = journal.now();
    const start = loadStart;
    while (recentArrivals.length > 0 && recentArrivals[0]! < now - 1000) recentArrivals.shift();
    state.elapsedMs = start === undefined ? 0 : Math.max(0, now - start);
    state.rate = recentArrivals.length;
    state.inFlight = state.arrivals - state.dropped - state.settled;
    listener({ ...state });
  };
  const timer = setInterval(emit, 250);
  timer.unref();
  emit();
  return {
    loadStarted(at) {
      loadStart = at;
    },
    phase(phase) {
      state.phase = phase;
      emit();
    },
    done(score, passed) {
      state.phase = 'done';
      state.score = score;
      state.passed = passed;
      listener({ ...state });
    },
    stop() {
      clearInterval(timer);
      unsubscribe();
    },
  };
}

/** Planned arrivals of an open model; a closed model's buyer count — of the segment's share, when given. */
export function plannedLoadCount(scenario: Scenario, segment: Segment = WHOLE_RUN): number {
  return segmentShare(scenario.load.model === 'closed' ? scenario.load.buyers : plannedArrivalCount(scenario.load.stages), segment);
}

