/**
 * Memory: the harness process's peak RSS for runs of 10k and 100k orders against the memory shop
 * (normal buyers, no faults) at one fixed rate the machine sustains, each run in a fresh process.
 * Reports the peak during load and settle (sampled every 200 ms, and `maxRSS` when scoring
 * starts), the peak over the whole run including scoring and report writing (`maxRSS` at the end),
 * and RSS at quarters of the load, to show whether memory grows with the length of the run.
 *
 *   npm run bench:memory [-- --rate 250 --orders 10000,100000 --repeats-small 3]
 */
import { log, median, numberArg, parseArgs, round, runMain, table, writeResult } from './lib.js';
import { runTrial, type TrialFigures } from './trials.js';

interface MemoryRow {
  orders: number;
  rate: number;
  seconds: number;
  trials: number;
  delivered: number;
  dropped: number;
  rssPeakMiB: number;
  heapPeakMiB: number;
  /** maxRSS when scoring started: the true peak of load and settle */
  maxRssBeforeScoringMiB: number;
  maxRssMiB: number;
  /** RSS at 25 %, 50 %, 75 %, 100 % of the load (MiB), median over trials */
  quarters: number[];
  /** heap used at the same points (MiB) */
  heapQuarters: number[];
}

/** The process's maxRSS when scoring started (NaN when the trial has no `scoring` mark). */
function maxRssBeforeScoring(trial: TrialFigures): number {
  return trial.raw.marks.find((mark) => mark.phase === 'scoring')?.maxRssMiB ?? Number.NaN;
}

function quarterValues(trial: TrialFigures, column: 1 | 2): number[] {
  const timeline = trial.raw.rssTimeline;
  const loadMs = trial.raw.warmupMs + trial.raw.durationMs;
  return [0.25, 0.5, 0.75, 1].map((share) => {
    const at = share * loadMs;
    const sample = timeline.reduce<[number, number, number] | undefined>((best, entry) => (!best || Math.abs(entry[0] - at) < Math.abs(best[0] - at) ? entry : best), undefined);
    return sample ? sample[column] : Number.NaN;
  });
}

async function main(): Promise<void> {
  const args = parseArgs();
  const rate = numberArg(args, 'rate', 250);
  const sizes = (args.get('orders') ?? '10000,100000').split(',').map(Number);
  const repeatsSmall = numberArg(args, 'repeats-small', 3);
  const rows: MemoryRow[] = [];
  for (const orders of sizes) {
    // Long runs are expensive: repeat only the small ones.
    const repeats = orders <= 20_000 ? repeatsSmall : 1;
    const seconds = orders / rate;
    const trials: TrialFigures[] = [];
    for (let repeat = 0; repeat < repeats; repeat++) {
      const trial = await runTrial({
        scenario: 'memory.yaml',
        target: 'memory',
        rate,
        durationMs: seconds * 1000,
        warmupMs: 0,
        label: `memory-${orders}-${repeat}`,
        timeoutMs: (seconds + 300) * 1000,
      });
      trials.push(trial);
      log(
        `  ${orders} orders #${repeat + 1}: peak RSS ${trial.rssPeakMiB.toFixed(0)} MiB sampled during load+settle (maxRSS ${maxRssBeforeScoring(trial).toFixed(0)} when scoring began), ${trial.maxRssMiB.toFixed(0)} MiB with scoring; heap peak ${trial.heapPeakMiB.toFixed(0)} MiB; delivered ${trial.raw.journal?.delivered}, dropped ${trial.dropped}`,
      );
    }
    const pick = (values: number[]): number => median(values);
    rows.push({
      orders,
      rate,
      seconds,
      trials: repeats,
      delivered: pick(trials.map((trial) => trial.raw.journal?.delivered ?? 0)),
      dropped: pick(trials.map((trial) => trial.dropped)),
      rssPeakMiB: pick(trials.map((trial) => trial.rssPeakMiB)),
      heapPeakMiB: pick(trials.map((trial) => trial.heapPeakMiB)),
      maxRssBeforeScoringMiB: pick(trials.map(maxRssBeforeScoring)),
      maxRssMiB: pick(trials.map((trial) => trial.maxRssMiB)),
      quarters: [0, 1, 2, 3].map((index) => pick(trials.map((trial) => quarterValues(trial, 1)[index]!))),
      heapQuarters: [0, 1, 2, 3].map((index) => pick(trials.map((trial) => quarterValues(trial, 2)[index]!))),
    });
  }
  const small = rows[0];
  const large = rows[rows.length - 1];
  const ratio = small && large ? large.rssPeakMiB / small.rssPeakMiB : Number.NaN;
  process.stdout.write(
    `\nHarness memory vs bench/memory-shop.ts at ${rate} orders/s (normal buyers, no faults; medians)\n\n${table(
      ['orders', 'load s', 'trials', 'delivered', 'peak RSS MiB (load+settle, sampled)', 'maxRSS MiB when scoring began', 'peak RSS MiB (incl. scoring)', 'peak heap MiB', 'RSS at 25/50/75/100 % of load', 'heap at 25/50/75/100 %'],
      rows.map((row) => [
        row.orders,
        round(row.seconds, 0),
        row.trials,
        row.delivered,
        round(row.rssPeakMiB, 0),
        round(row.maxRssBeforeScoringMiB, 0),
        round(row.maxRssMiB, 0),
        round(row.heapPeakMiB, 0),
        row.quarters.map((value) => round(value, 0)).join(' / '),
        row.heapQuarters.map((value) => round(value, 0)).join(' / '),
      ]),
    )}\n\n100k ÷ 10k peak RSS (load+settle): ${round(ratio, 2)}; target < 300 MB and the two close: ${large && large.maxRssMiB * 1.048576 < 300 && ratio < 1.25 ? 'met' : 'missed'}\n`,
  );
  const path = writeResult('memory', { rate, rows, ratio });
  log(`results: ${path}`);
}

runMain(main);
