/**
 * Execution segments end to end: one scenario (test/fixtures/segments.yaml) run whole, then as 2 and
 * as 3 segments (`RunOptions.segment`, the CLI's `--segment i/n`), the five segment runs at once as
 * pods would run them, each with its own reference shop and mocks. The segments' buyers are exactly
 * the whole run's — the same buyers (identity, behaviour, SKU, contact), each in one segment — and
 * the faults hit the same buyers whichever segment runs them.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadJournal, type JournalEvent, type JournalEventOf } from '../core/journal.js';
import type { Segment } from '../core/segments.js';
import { run, type RunResult } from '../harness/drive/run.js';
import { loadScenarios, type LoadedScenario } from '../harness/scenario/loader.js';
import { tempDir } from './helpers/cli.js';

interface SegmentRun {
  segment: Segment | undefined;
  result: RunResult;
  events: JournalEvent[];
}

let work: { path: string; remove(): Promise<void> };
let scenarios: LoadedScenario[];
let whole: SegmentRun;
const split = new Map<number, SegmentRun[]>();

async function runSegment(segment: Segment | undefined): Promise<SegmentRun> {
  const outDir = join(work.path, segment ? `segment-${segment.index}-of-${segment.count}` : 'whole');
  const result = await run({ scenarios, outDir, ...(segment ? { segment } : {}) });
  return { segment, result, events: await loadJournal(join(outDir, 'segments', 'journal.ndjson')) };
}

const ofType = <K extends JournalEvent['type']>(events: JournalEvent[], type: K): JournalEventOf<K>[] =>
  events.filter((event) => event.type === type) as unknown as JournalEventOf<K>[];

/** A buyer as the journal says it arrived, without when. */
const buyersOf = (events: JournalEvent[]) =>
  ofType(events, 'buyer.arrived').map(({ buyerId, seq, behaviour, sku, quantity, contact, region, signals }) => ({ buyerId, seq, behaviour, sku, quantity, contact, region, signals }));

/** Which faults hit which buyers: "buyerId faultIndex", once each. */
const hitsOf = (events: JournalEvent[]): string[] =>
  [...new Set(ofType(events, 'fault.injected').flatMap((event) => (event.buyerId && event.faultIndex >= 0 ? [`${event.buyerId} ${event.faultIndex}`] : [])))].sort();

const bySeq = (a: { seq: number }, b: { seq: number }): number => a.seq - b.seq;

beforeAll(async () => {
  work = await tempDir('ordeal-segments-');
  scenarios = await loadScenarios(['test/fixtures/segments.yaml']);
  whole = await runSegment(undefined);
  const segments = [2, 3].flatMap((count) => Array.from({ length: count }, (_, index) => ({ index, count })));
  const runs = await Promise.all(segments.map((segment) => runSegment(segment)));
  for (const each of runs) split.set(each.segment!.count, [...(split.get(each.segment!.count) ?? []), each]);
}, 120_000);

afterAll(async () => {
  await work?.remove();
});

describe('a scenario run in segments', () => {
  it('runs the whole load when whole, and each segment passes its gate', () => {
    expect(whole.result.report.scenarios[0]?.load).toMatchObject({ arrivals: 50, dropped: 0 });
    for (const runs of split.values()) for (const each of runs) expect(each.result.exitCode, `segment ${each.segment?.index}/${each.segment?.count}`).toBe(0);
  });

  it.each([2, 3])('splits the buyers over %i segments: the union is exactly the whole run\'s buyers, each in one segment', (count) => {
    const runs = split.get(count)!;
    const union = runs.flatMap((each) => buyersOf(each.events)).sort(bySeq);
    expect(union).toEqual(buyersOf(whole.events).sort(bySeq));
    runs.forEach((each) => {
      const buyers = buyersOf(each.events);
      expect(buyers.every((buyer) => buyer.seq % count === each.segment!.index)).toBe(true);
      // Each segment's share of the ramp: within one arrival of 1/n of it.
      expect(Math.abs(buyers.length - 50 / count)).toBeLessThanOrEqual(1);
      expect(each.result.report.scenarios[0]?.load.arrivals).toBe(buyers.length);
    });
  });

  it.each([2, 3])('hits the same buyers with the same faults over %i segments as the whole run', (count) => {
    const wholeHits = hitsOf(whole.events);
    expect(wholeHits.length).toBeGreaterThan(5);
    expect(split.get(count)!.flatMap((each) => hitsOf(each.events)).sort()).toEqual(wholeHits);
  });

  it('marks a segment\'s journal with its share, and not the whole run\'s', () => {
    expect(ofType(whole.events, 'run.started')[0]).not.toHaveProperty('segment');
    for (const each of split.get(3)!) expect(ofType(each.events, 'run.started')[0]?.segment).toEqual(each.segment);
  });
});
