/**
 * Scoring: events/s when re-scoring a 1M-event journal (bench/journal-gen.ts: normal buyers,
 * 5 % dropped callbacks, 5 % abandoned payments). Three measurements, each repeated, medians:
 *   - read: `readJournal` alone (file → parsed events), the floor of any streaming scorer;
 *   - score: `scoreScenario(readJournal(path), scenario)`, one streaming pass, fold + score;
 *   - scoreScenarioDir: what `ordeal report` does per scenario folder (score + gate).
 * Also the heap the fold holds (heap used after scoring, after a GC when --expose-gc is on).
 *
 *   npm run bench:scoring [-- --events 1000000 --repeats 3]
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JOURNAL_FILE, readJournal } from '../harness/journal.js';
import { SCENARIO_FILE, scoreScenarioDir } from '../harness/rescore.js';
import { scenarioSchema } from '../harness/scenario-schema.js';
import { scoreScenario } from '../harness/score.js';
import { writeSyntheticJournal, SCORING_SCENARIO } from './journal-gen.js';
import { log, median, numberArg, parseArgs, RESULTS_DIR, round, table, writeResult } from './lib.js';

function collect(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

async function main(): Promise<void> {
  const args = parseArgs();
  const minEvents = numberArg(args, 'events', 1_000_000);
  const repeats = numberArg(args, 'repeats', 3);
  const dir = join(RESULTS_DIR, 'scoring', 'bench-scoring');
  mkdirSync(dir, { recursive: true });
  const journal = join(dir, JOURNAL_FILE);
  const scenario = scenarioSchema.parse(SCORING_SCENARIO);
  writeFileSync(join(dir, SCENARIO_FILE), `${JSON.stringify({ file: 'bench/journal-gen.ts', seed: 1, input: SCORING_SCENARIO, resolved: scenario }, null, 2)}\n`);
  const started = performance.now();
  const events = await writeSyntheticJournal(journal, minEvents);
  log(`journal: ${events} events, ${(statSync(journal).size / 2 ** 20).toFixed(0)} MiB, written in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (!existsSync(journal)) throw new Error('journal not written');

  const times = { read: [] as number[], score: [] as number[], dir: [] as number[] };
  let heapAfterMiB = 0;
  let incidents = 0;
  let orders = 0;
  let score = 0;
  for (let repeat = 0; repeat < repeats; repeat++) {
    collect();
    let t = performance.now();
    let count = 0;
    for await (const _ of readJournal(journal)) count++;
    times.read.push(performance.now() - t);
    if (count !== events) throw new Error(`read ${count} events, expected ${events}`);

    collect();
    t = performance.now();
    const scored = await scoreScenario(readJournal(journal), scenario);
    times.score.push(performance.now() - t);
    incidents = scored.incidents.length;
    orders = scored.load.ordersCreated;
    score = scored.score;
    collect();
    heapAfterMiB = Math.max(heapAfterMiB, process.memoryUsage().heapUsed / 2 ** 20);

    collect();
    t = performance.now();
    await scoreScenarioDir(dir);
    times.dir.push(performance.now() - t);
    log(`  #${repeat + 1}: read ${Math.round(times.read[repeat]!)} ms, score ${Math.round(times.score[repeat]!)} ms, scoreScenarioDir ${Math.round(times.dir[repeat]!)} ms`);
  }
  const rate = (ms: number): number => events / (ms / 1000);
  const rows = [
    { what: 'readJournal only (read + JSON.parse)', ms: median(times.read) },
    { what: 'scoreScenario (stream: read, fold, score)', ms: median(times.score) },
    { what: 'scoreScenarioDir (ordeal report, per scenario)', ms: median(times.dir) },
  ];
  const scoreRate = rate(median(times.score));
  process.stdout.write(
    `\nScoring a ${events.toLocaleString('en-US')}-event journal (${orders.toLocaleString('en-US')} orders, ${incidents.toLocaleString('en-US')} incidents, score ${round(score, 1)}); medians of ${repeats}\n\n${table(
      ['measurement', 'ms', 'events/s', 'share of score time'],
      rows.map((row) => [row.what, Math.round(row.ms), Math.round(rate(row.ms)), `${round((100 * row.ms) / median(times.score), 0)} %`]),
    )}\n\nheap held after scoring: ${round(heapAfterMiB, 0)} MiB; peak RSS of this process: ${round(process.resourceUsage().maxRSS / 1024, 0)} MiB\n` +
      `target ≥ 200,000 events/s (scoreScenario): ${scoreRate >= 200_000 ? 'met' : 'missed'}\n`,
  );
  const path = writeResult('scoring', { events, orders, incidents, repeats, times, rows: rows.map((row) => ({ ...row, eventsPerSecond: rate(row.ms) })), heapAfterMiB, maxRssMiB: process.resourceUsage().maxRSS / 1024 });
  log(`results: ${path}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
