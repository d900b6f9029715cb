/**
 * Scoring: events/s when re-scoring a 1M-event journal (bench/journal-gen.ts: normal buyers,
 * 5 % dropped callbacks, 5 % abandoned payments). Each measurement repeated, medians:
 *   - read: `readJournalBatches` alone (file → parsed events, in batches), the floor of any scorer;
 *   - score: `scoreJournalFile(path)`, what re-scoring does: read in batches, fold (compacting
 *     settled buyers and moving them to the fold's on-disk archive), score;
 *   - score, all in the heap: the same with `bounded: false` (the reference for what flat memory costs);
 *   - score, one event at a time: `scoreScenario(readJournal(path))`, the async stream of events
 *     with every order kept in full (how the scorer read journals before batches);
 *   - scoreScenarioDir: what `ordeal report` does per scenario folder (score + gate).
 * Memory: the heap the folded run holds (after a GC, --expose-gc) archived, compacted and in full, and the
 * peak RSS of a fresh process that only scores the folder once (`--child`), as `ordeal report` would.
 *
 *   npm run bench:scoring [-- --events 1000000 --repeats 3]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { JOURNAL_FILE, readJournal, readJournalBatches } from '../core/journal.js';
import { SCENARIO_FILE, scoreScenarioDir } from '../harness/score/rescore.js';
import { scenarioSchema } from '../core/scenario-schema.js';
import { foldJournalBatches, foldJournalFile, scoreJournalFile, scoreScenario } from '../harness/score/score.js';
import { writeSyntheticJournal, SCORING_SCENARIO } from './journal-gen.js';
import { log, median, numberArg, parseArgs, RESULTS_DIR, round, runMain, table, writeResult } from './lib.js';

function collect(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

const mib = (bytes: number): number => bytes / 2 ** 20;

/** Heap held by what `fold` returns, after a GC (0 without --expose-gc). */
async function heldBy(fold: () => Promise<{ close(): void }>): Promise<number> {
  if (!(globalThis as { gc?: () => void }).gc) return 0;
  collect();
  const before = process.memoryUsage().heapUsed;
  const folded = await fold();
  collect();
  const held = process.memoryUsage().heapUsed - before;
  folded.close();
  return mib(held);
}

/** `--child DIR`: score the folder once, in this fresh process, and print the time and peak RSS. */
async function child(dir: string): Promise<void> {
  const started = performance.now();
  await scoreScenarioDir(dir);
  process.stdout.write(`${JSON.stringify({ ms: performance.now() - started, maxRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`);
}

async function main(): Promise<void> {
  const args = parseArgs();
  const childDir = args.get('child');
  if (childDir !== undefined) return child(childDir);
  const minEvents = numberArg(args, 'events', 1_000_000);
  const repeats = numberArg(args, 'repeats', 3);
  const dir = join(RESULTS_DIR, 'scoring', 'bench-scoring');
  mkdirSync(dir, { recursive: true });
  const journal = join(dir, JOURNAL_FILE);
  const scenario = scenarioSchema.parse(SCORING_SCENARIO);
  writeFileSync(join(dir, SCENARIO_FILE), `${JSON.stringify({ file: 'bench/journal-gen.ts', seed: 1, input: SCORING_SCENARIO, resolved: scenario }, null, 2)}\n`);
  const started = performance.now();
  const events = await writeSyntheticJournal(journal, minEvents);
  log(`journal: ${events} events, ${mib(statSync(journal).size).toFixed(0)} MiB, written in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (!existsSync(journal)) throw new Error('journal not written');

  const times = { read: [] as number[], score: [] as number[], inHeap: [] as number[], perEvent: [] as number[], dir: [] as number[] };
  const childRuns: Array<{ ms: number; maxRssMiB: number }> = [];
  let incidents = 0;
  let orders = 0;
  let score: number | null = 0;
  for (let repeat = 0; repeat < repeats; repeat++) {
    collect();
    let t = performance.now();
    let count = 0;
    for await (const batch of readJournalBatches(journal)) count += batch.length;
    times.read.push(performance.now() - t);
    if (count !== events) throw new Error(`read ${count} events, expected ${events}`);

    collect();
    t = performance.now();
    const { score: scored } = await scoreJournalFile(journal, scenario);
    times.score.push(performance.now() - t);

    collect();
    t = performance.now();
    const inHeap = await scoreJournalFile(journal, scenario, { bounded: false });
    times.inHeap.push(performance.now() - t);
    if (JSON.stringify(inHeap.score) !== JSON.stringify(scored)) throw new Error('scoring with and without the archive disagree');
    incidents = scored.incidents.length;
    orders = scored.load.ordersCreated;
    score = scored.score;

    collect();
    t = performance.now();
    const streamed = await scoreScenario(readJournal(journal), scenario);
    times.perEvent.push(performance.now() - t);
    if (JSON.stringify(streamed) !== JSON.stringify(scored)) throw new Error('the two ways of scoring disagree');

    collect();
    t = performance.now();
    await scoreScenarioDir(dir);
    times.dir.push(performance.now() - t);

    const output = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', dir], { encoding: 'utf8' });
    childRuns.push(JSON.parse(output) as { ms: number; maxRssMiB: number });
    log(
      `  #${repeat + 1}: read ${Math.round(times.read[repeat]!)} ms, score ${Math.round(times.score[repeat]!)} ms (all in the heap ${Math.round(times.inHeap[repeat]!)} ms), one event at a time ${Math.round(times.perEvent[repeat]!)} ms, ` +
        `scoreScenarioDir ${Math.round(times.dir[repeat]!)} ms; fresh process ${Math.round(childRuns[repeat]!.ms)} ms, peak RSS ${Math.round(childRuns[repeat]!.maxRssMiB)} MiB`,
    );
  }
  const heldArchivedMiB = await heldBy(() => foldJournalFile(journal));
  const heldCompactMiB = await heldBy(() => foldJournalFile(journal, { bounded: false }));
  const heldFullMiB = await heldBy(() => foldJournalBatches(readJournalBatches(journal)));
  const childRssMiB = median(childRuns.map((run) => run.maxRssMiB));

  const rate = (ms: number): number => events / (ms / 1000);
  const rows = [
    { what: 'readJournalBatches only (read + JSON.parse)', ms: median(times.read) },
    { what: 'score: scoreJournalFile (batches, compacting, archive)', ms: median(times.score) },
    { what: 'score, all in the heap (bounded: false)', ms: median(times.inHeap) },
    { what: 'scoreScenario(readJournal): one event at a time, all in full', ms: median(times.perEvent) },
    { what: 'scoreScenarioDir (ordeal report, per scenario)', ms: median(times.dir) },
    { what: 'scoreScenarioDir in a fresh process', ms: median(childRuns.map((run) => run.ms)) },
  ];
  const scoreRate = rate(median(times.score));
  process.stdout.write(
    `\nScoring a ${events.toLocaleString('en-US')}-event journal (${orders.toLocaleString('en-US')} orders, ${incidents.toLocaleString('en-US')} incidents, score ${score === null ? "n/a" : round(score, 1)}); medians of ${repeats}\n\n${table(
      ['measurement', 'ms', 'events/s', 'share of score time'],
      rows.map((row) => [row.what, Math.round(row.ms), Math.round(rate(row.ms)), `${round((100 * row.ms) / median(times.score), 0)} %`]),
    )}\n\nheap held by the folded run: ${round(heldArchivedMiB, 1)} MiB with the archive (${Math.round((heldArchivedMiB * 2 ** 20) / orders)} B per order), ${round(heldCompactMiB, 0)} MiB compacted (${Math.round((heldCompactMiB * 2 ** 20) / orders)} B per order), ` +
      `${round(heldFullMiB, 0)} MiB in full (${Math.round((heldFullMiB * 2 ** 20) / orders)} B per order)\n` +
      `peak RSS of a process that only scores: ${round(childRssMiB, 0)} MiB; of this process: ${round(process.resourceUsage().maxRSS / 1024, 0)} MiB\n` +
      `target ≥ 200,000 events/s (score): ${scoreRate >= 200_000 ? 'met' : 'missed'}\n`,
  );
  const path = writeResult('scoring', {
    events,
    orders,
    incidents,
    repeats,
    times,
    rows: rows.map((row) => ({ ...row, eventsPerSecond: rate(row.ms) })),
    heldArchivedMiB,
    heldCompactMiB,
    heldFullMiB,
    childRuns,
    childRssMiB,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
  });
  log(`results: ${path}`);
}

runMain(main);
