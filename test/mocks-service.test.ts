/**
 * The mocks as a service: `serveMocks` runs the mocks of test/fixtures/segments.yaml and the
 * reference shop in this process; two drivers (`run` with `segment` and `mocksService`) share them
 * — one ledger, one fault plan — start their load together at the service's barrier, and the
 * service ends its journal once both are done.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadJournal, type JournalEvent, type JournalEventOf } from '../core/journal.js';
import { serveMocks, type MocksService } from '../harness/mocks-service/serve.js';
import { run, type RunResult } from '../harness/drive/run.js';
import { runSegment, type SegmentRunResult } from '../harness/drive/run-segment.js';
import { loadScenarios, type LoadedScenario } from '../harness/scenario/loader.js';
import { tempDir } from './helpers/cli.js';
import { mergeRuns, type MergeResult } from '../harness/merge/merge.js';

let work: { path: string; remove(): Promise<void> };
let scenarios: LoadedScenario[];
let service: MocksService;
let drivers: SegmentRunResult[];
let serviceEvents: JournalEvent[];
let driverEvents: JournalEvent[][];
let merged: MergeResult;
let whole: RunResult;

const ofType = <K extends JournalEvent['type']>(events: JournalEvent[], type: K): JournalEventOf<K>[] =>
  events.filter((event) => event.type === type) as unknown as JournalEventOf<K>[];

beforeAll(async () => {
  work = await tempDir('ordeal-mocks-service-');
  scenarios = await loadScenarios(['test/fixtures/segments.yaml']);
  service = await serveMocks({ scenario: scenarios[0]!.scenario, outDir: join(work.path, 'mocks'), segments: 2, startShop: {} });
  drivers = await Promise.all(
    [0, 1].map((index) => runSegment({ scenarios, outDir: join(work.path, `segment-${index}`), segment: { index, count: 2 }, mocksService: { url: service.controlUrl, key: service.key } })),
  );
  await service.finished;
  serviceEvents = await loadJournal(join(work.path, 'mocks', 'segments', 'journal.ndjson'));
  driverEvents = await Promise.all([0, 1].map((index) => loadJournal(join(work.path, `segment-${index}`, 'segments', 'journal.ndjson'))));
  merged = await mergeRuns({ serviceDir: join(work.path, 'mocks'), segmentDirs: [0, 1].map((index) => join(work.path, `segment-${index}`)), outDir: join(work.path, 'merged') });
  whole = await run({ scenarios, outDir: join(work.path, 'whole') });
}, 120_000);

afterAll(async () => {
  await service?.close();
  await work?.remove();
});

describe('two drivers sharing a mocks service', () => {
  it('pays every order at the one ledger the service keeps', () => {
    // Each order's trade and callback are in the service's journal, none in the drivers'.
    const created = new Set(driverEvents.flatMap((events) => ofType(events, 'order.create.answered').flatMap((event) => (event.orderId ? [event.orderId] : []))));
    expect(created.size).toBe(50);
    expect(new Set(ofType(serviceEvents, 'payment.trade.created').map((event) => event.orderId))).toEqual(created);
    expect(driverEvents.flatMap((events) => ofType(events, 'payment.trade.created'))).toHaveLength(0);
    expect(drivers.map((each) => [each.exitCode, each.finished])).toEqual([[0, 'completed'], [0, 'completed']]);
    expect(driverEvents.map((events) => ofType(events, 'load.finished')[0]?.arrivals)).toEqual([25, 25]);
    expect(ofType(serviceEvents, 'segment.ready').map((event) => event.segment).sort()).toEqual(['0/2', '1/2']);
    expect(ofType(serviceEvents, 'segment.done').map((event) => event.segment).sort()).toEqual(['0/2', '1/2']);
    expect(serviceEvents.at(-1)?.type).toBe('run.finished');
  });

  it('merges into the report one process gives for the same seed', () => {
    const [one, both] = [whole.report.scenarios[0]!, merged.report.scenarios[0]!];
    expect(merged.exitCode).toBe(0);
    expect(whole.exitCode).toBe(0);
    expect(both.load).toEqual(one.load);
    expect(both.accounting).toEqual(one.accounting);
    expect(both.invariants.map((each) => [each.id, each.ok])).toEqual(one.invariants.map((each) => [each.id, each.ok]));
    // The same incidents (the same buyers hit), each class's count the same; scores differ only by timing.
    const incidents = (scenario: typeof one): string[] => scenario.incidents.map((incident) => `${incident.class} ${incident.buyerId ?? ''}`).sort();
    expect(incidents(both)).toEqual(incidents(one));
    expect(Math.abs(both.score! - one.score!)).toBeLessThan(1);
    for (const [name, score] of Object.entries(one.classes)) expect(Math.abs((both.classes[name as keyof typeof one.classes]?.score ?? 0) - (score?.score ?? 0)), name).toBeLessThan(2);
  });

  it('moves each segment onto the service\'s clock, and says how far the clocks drifted', () => {
    expect(merged.clocks.map((clock) => clock.segment)).toEqual(['0/2', '1/2']);
    for (const clock of merged.clocks) {
      // Both drivers started after the service, in this process: their clocks began later, so the service's reads ahead.
      expect(clock.offsetMs).toBeGreaterThan(0);
      // One machine, one clock: what the readings disagree by is their round trips.
      expect(Math.abs(clock.driftMs)).toBeLessThanOrEqual(clock.maxRttMs);
    }
  });
});
