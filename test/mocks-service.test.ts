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
import { loadScenarios, type LoadedScenario } from '../harness/scenario/loader.js';
import { tempDir } from './helpers/cli.js';

let work: { path: string; remove(): Promise<void> };
let scenarios: LoadedScenario[];
let service: MocksService;
let drivers: RunResult[];
let serviceEvents: JournalEvent[];
let driverEvents: JournalEvent[][];

const ofType = <K extends JournalEvent['type']>(events: JournalEvent[], type: K): JournalEventOf<K>[] =>
  events.filter((event) => event.type === type) as unknown as JournalEventOf<K>[];

beforeAll(async () => {
  work = await tempDir('ordeal-mocks-service-');
  scenarios = await loadScenarios(['test/fixtures/segments.yaml']);
  service = await serveMocks({ scenario: scenarios[0]!.scenario, outDir: join(work.path, 'mocks'), segments: 2, startShop: {} });
  drivers = await Promise.all(
    [0, 1].map((index) => run({ scenarios, outDir: join(work.path, `segment-${index}`), segment: { index, count: 2 }, mocksService: { url: service.controlUrl, key: service.key } })),
  );
  await service.finished;
  serviceEvents = await loadJournal(join(work.path, 'mocks', 'segments', 'journal.ndjson'));
  driverEvents = await Promise.all([0, 1].map((index) => loadJournal(join(work.path, `segment-${index}`, 'segments', 'journal.ndjson'))));
}, 120_000);

afterAll(async () => {
  await service?.close();
  await work?.remove();
});

describe('two drivers sharing a mocks service', () => {
  it('pays every order at the one ledger the service keeps', () => {
    const created = driverEvents.flatMap((events) => ofType(events, 'order.create.answered')).length;
    console.log('XX', JSON.stringify(drivers.map((each) => [each.report.scenarios[0]?.load, each.report.gate])), created, [...new Set(serviceEvents.map((e) => e.type))].join(' '));
    expect(ofType(serviceEvents, 'segment.ready').map((event) => event.segment).sort()).toEqual(['0/2', '1/2']);
    expect(ofType(serviceEvents, 'segment.done').map((event) => event.segment).sort()).toEqual(['0/2', '1/2']);
    expect(serviceEvents.at(-1)?.type).toBe('run.finished');
  });
});
