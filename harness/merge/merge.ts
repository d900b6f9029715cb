/**
 * `ordeal merge`: the journals of one distributed run — a mocks service's (`ordeal mocks serve`)
 * and its driver segments' (`ordeal run --segment i/n --mocks-service …`) — folded into one run
 * folder, scored and reported as if one process had run it all.
 *
 * Each journal keeps its own clock. Every driver journals the service's clock against its own at
 * its start and its end (`clock.sync`); its events are moved onto the service's clock by the mean
 * offset, and the drift between the first and the last reading is reported as the clock skew. The
 * journals are merged in time order as streams (each is in time order already), so a long run is
 * never held whole. What each process journals of the run as a whole is taken once: the run's
 * start and end and the shop's life from the service; the end of the load and the final read
 * summed over the segments, written where the last segment's was.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { OrdealError } from '../../core/errors.js';
import { JOURNAL_FILE, readJournal, type JournalEvent, type JournalEventOf } from '../../core/journal.js';
import { formatSegment } from '../../core/segments.js';
import { writeReports } from '../output/write.js';
import { assembleReport, readScenarioRecord, SCENARIO_FILE, scoreScenarioDir, writeRunRecord } from '../score/rescore.js';
import type { Report } from '../../core/report-types.js';
import { SERVICE_FILE } from '../mocks-service/protocol.js';

export interface MergeOptions {
  /** The mocks service's folder (`ordeal mocks serve --out`). */
  serviceDir: string;
  /** Each driver segment's run folder (`ordeal run --out`). */
  segmentDirs: readonly string[];
  /** Where the merged run folder is written. */
  outDir: string;
  minScore?: number;
}

/** How one segment's clock was moved onto the service's. */
export interface SegmentClock {
  segment: string;
  /** Mean of (service clock − segment clock) over its readings, ms. */
  offsetMs: number;
  /** Last reading's offset − first's: how far the two clocks drifted during the run, ms. */
  driftMs: number;
  /** Longest round trip of its readings (the offset's uncertainty is half of it), ms. */
  maxRttMs: number;
}

export interface MergeResult {
  report: Report;
  outDir: string;
  clocks: SegmentClock[];
  exitCode: 0 | 1;
}

/** Events each segment journals of its own process that the merged run takes from the service, or not at all. */
const SERVICE_OWNED = new Set<JournalEvent['type']>(['run.started', 'run.finished', 'clock.sync', 'fault.not_injected', 'target.started', 'target.ready', 'target.exited', 'target.restarted']);

interface Source {
  name: string;
  events: AsyncGenerator<JournalEvent>;
  offsetMs: number;
  head: JournalEvent | undefined;
}

/** Merges the service's and the segments' journals into `outDir` and scores the result. */
export async function mergeRuns(options: MergeOptions): Promise<MergeResult> {
  const merged = await mergeScenario({ serviceDir: options.serviceDir, segmentDirs: options.segmentDirs, outDir: options.outDir });
  const scored = await scoreScenarioDir(merged.runDir, options.minScore === undefined ? {} : { minScore: options.minScore });
  const runRecord = await writeRunRecord(options.outDir, {
    seed: merged.seed,
    replay: `ordeal merge ${options.serviceDir} ${options.segmentDirs.join(' ')}`,
    ...(options.minScore === undefined ? {} : { minScore: options.minScore }),
    scenarios: [merged.scenario],
  });
  const report = assembleReport([scored], runRecord);
  await writeReports(options.outDir, report);
  return { report, outDir: options.outDir, clocks: merged.clocks, exitCode: report.gate.passed ? 0 : 1 };
}

export interface MergedScenario {
  scenario: string;
  seed: number;
  /** `<outDir>/<scenario>`: the merged journal and the resolved scenario, ready to score. */
  runDir: string;
  clocks: SegmentClock[];
}

/** Writes one scenario's merged journal and resolved scenario into `<outDir>/<scenario>/`; scores nothing. */
export async function mergeScenario(options: Omit<MergeOptions, 'minScore'>): Promise<MergedScenario> {
  const scenarioName = await scenarioOf(options.serviceDir);
  const serviceJournal = join(options.serviceDir, scenarioName, JOURNAL_FILE);
  const segments = await Promise.all(options.segmentDirs.map((dir) => readSegment(dir, scenarioName)));
  const counts = new Set(segments.map((each) => each.segment.count));
  if (segments.length === 0 || counts.size !== 1 || segments[0]!.segment.count !== segments.length) {
    throw new OrdealError('ORDEAL_ERR_RUN_DIR', `a run of n segments merges all n of them: got ${segments.map((each) => formatSegment(each.segment)).join(', ') || 'none'}`);
  }
  const indexes = new Set(segments.map((each) => each.segment.index));
  if (indexes.size !== segments.length) throw new OrdealError('ORDEAL_ERR_RUN_DIR', `a segment was given twice: ${segments.map((each) => formatSegment(each.segment)).join(', ')}`);

  const runDir = join(options.outDir, scenarioName);
  await mkdir(runDir, { recursive: true });
  const { record } = await readScenarioRecord(join(segments[0]!.dir, scenarioName));
  await writeFile(join(runDir, SCENARIO_FILE), `${JSON.stringify({ ...record, merged: { service: options.serviceDir, segments: segments.map((each) => each.dir) } }, null, 2)}\n`);
  await writeMergedJournal(join(runDir, JOURNAL_FILE), serviceJournal, segments);
  const clocks = segments.map((each) => ({ segment: formatSegment(each.segment), offsetMs: each.offsetMs, driftMs: each.driftMs, maxRttMs: each.maxRttMs }));
  return { scenario: scenarioName, seed: record.seed, runDir, clocks };
}

/** The scenario a mocks service's folder holds (from its `mocks-service.json`). */
async function scenarioOf(serviceDir: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  try {
    const file = JSON.parse(await readFile(join(serviceDir, SERVICE_FILE), 'utf8')) as { scenario?: unknown };
    if (typeof file.scenario === 'string') return file.scenario;
  } catch (error) {
    throw new OrdealError('ORDEAL_ERR_RUN_DIR', `${serviceDir}: not a mocks service's folder (no readable ${SERVICE_FILE}: ${(error as Error).message})`);
  }
  throw new OrdealError('ORDEAL_ERR_RUN_DIR', `${join(serviceDir, SERVICE_FILE)}: names no scenario`);
}

interface SegmentJournal {
  dir: string;
  journal: string;
  segment: { index: number; count: number };
  offsetMs: number;
  driftMs: number;
  maxRttMs: number;
}

/** A segment's folder: its segment (from `run.started`) and its clock readings. */
async function readSegment(dir: string, scenario: string): Promise<SegmentJournal> {
  const journal = join(dir, scenario, JOURNAL_FILE);
  if (!(await stat(journal).catch(() => undefined))) {
    const found = await readdir(dir).catch(() => [] as string[]);
    throw new OrdealError('ORDEAL_ERR_RUN_DIR', `${dir}: no journal of scenario "${scenario}" (${join(scenario, JOURNAL_FILE)}); the folder holds ${found.join(', ') || 'nothing'}`);
  }
  let segment: { index: number; count: number } | undefined;
  const readings: Array<{ offset: number; rtt: number }> = [];
  for await (const event of readJournal(journal)) {
    if (event.type === 'run.started') segment = event.segment;
    else if (event.type === 'clock.sync') readings.push({ offset: event.serviceT - event.t, rtt: event.rttMs });
  }
  if (!segment) throw new OrdealError('ORDEAL_ERR_RUN_DIR', `${journal}: not a segment of a run (its run.started has no segment; run it with --segment i/n)`);
  if (readings.length === 0) throw new OrdealError('ORDEAL_ERR_RUN_DIR', `${journal}: has no clock.sync reading: it did not run against a mocks service (--mocks-service)`);
  const offsetMs = readings.reduce((sum, reading) => sum + reading.offset, 0) / readings.length;
  return {
    dir,
    journal,
    segment,
    offsetMs,
    driftMs: readings.at(-1)!.offset - readings[0]!.offset,
    maxRttMs: Math.max(...readings.map((reading) => reading.rtt)),
  };
}

/** Writes the time-ordered union of the journals, segments' times moved onto the service's clock. */
async function writeMergedJournal(path: string, serviceJournal: string, segments: readonly SegmentJournal[]): Promise<void> {
  const sources: Source[] = [
    { name: 'service', events: readJournal(serviceJournal), offsetMs: 0, head: undefined },
    ...segments.map((each) => ({ name: formatSegment(each.segment), events: readJournal(each.journal), offsetMs: each.offsetMs, head: undefined })),
  ];
  // A segment cut short (its deadline, the shop gone, Ctrl-C) makes the whole run's end its reason.
  const segmentEnds: Array<JournalEventOf<'run.finished'>['reason']> = [];
  const next = async (source: Source): Promise<void> => {
    for (;;) {
      const step = await source.events.next();
      if (step.done) {
        source.head = undefined;
        return;
      }
      const event = step.value;
      if (source.name !== 'service' && event.type === 'run.finished') segmentEnds.push(event.reason);
      if (source.name !== 'service' && SERVICE_OWNED.has(event.type)) continue;
      source.head = shifted(event, source.offsetMs);
      return;
    }
  };
  await Promise.all(sources.map(next));
  const out = createWriteStream(path);
  let seq = 0;
  const write = async (event: JournalEvent): Promise<void> => {
    if (!out.write(`${JSON.stringify({ ...event, seq: seq++ })}\n`)) await once(out, 'drain');
  };
  // Summed over the segments, written once all have theirs: the end of the load, the final read.
  const loads: Array<JournalEventOf<'load.finished'>> = [];
  const finalReads: Array<JournalEventOf<'orders.final_read'>> = [];
  for (;;) {
    let earliest: Source | undefined;
    for (const source of sources) if (source.head && (!earliest || source.head.t < earliest.head!.t)) earliest = source;
    if (!earliest) break;
    const event = earliest.head!;
    await next(earliest);
    if (event.type === 'load.finished') {
      loads.push(event);
      if (loads.length === segments.length) {
        await write({ ...event, arrivals: sum(loads, (each) => each.arrivals), dropped: sum(loads, (each) => each.dropped) });
      }
      continue;
    }
    if (event.type === 'orders.final_read') {
      finalReads.push(event);
      if (finalReads.length === segments.length) {
        await write({
          ...event,
          orders: sum(finalReads, (each) => each.orders),
          read: sum(finalReads, (each) => each.read),
          changed: sum(finalReads, (each) => each.changed),
          unread: sum(finalReads, (each) => each.unread),
          cut: finalReads.some((each) => each.cut),
        });
      }
      continue;
    }
    if (event.type === 'run.finished' && event.reason === 'completed') {
      await write({ ...event, reason: segmentEnds.find((reason) => reason !== 'completed') ?? 'completed' });
      continue;
    }
    await write(event);
  }
  out.end();
  await once(out, 'finish');
}

function sum<T>(items: readonly T[], pick: (item: T) => number): number {
  return items.reduce((total, item) => total + pick(item), 0);
}

/** The event on the service's clock: its time, and the intended time of an arrival or a request. */
function shifted(event: JournalEvent, offsetMs: number): JournalEvent {
  if (offsetMs === 0) return event;
  const moved = { ...event, t: event.t + offsetMs } as JournalEvent & { intendedAt?: number };
  if (typeof moved.intendedAt === 'number') moved.intendedAt += offsetMs;
  return moved;
}
