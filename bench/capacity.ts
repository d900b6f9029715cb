/**
 * Harness capacity: orders/s Ordeal sustains against the in-memory contract-v1 shop
 * (bench/memory-shop.ts, a separate process) with every mock in the loop and no faults, and the
 * harness process's CPU per order. Rates go up a ladder; each rate runs `--repeats` trials (each a
 * fresh harness process) and is sustained when the majority of them are (no drop, ≥ 99.9 %
 * delivered, p99 completion ≤ 1 s). Figures per rate are medians over its trials.
 *
 *   npm run bench:capacity [-- --rates 250,500,750,1000,1500,2000 --seconds 8 --repeats 3 --profile false]
 *
 * With `--workers 1,2` it compares one `ordeal run` process against `--workers 2` instead, the
 * same traffic, trials alternating (bench/workers-compare.ts).
 *
 * With `--heap-growth compare` it measures instead what bounding V8's heap growth during the load
 * (`memory/heap.ts`) costs: at each rate, trials alternate between Ordeal as it is and Ordeal
 * started with `--heap-growing-percent=0` (V8's default growth; Ordeal leaves a user's flag alone).
 */
import { join } from 'node:path';
import { renderProfile, summariseProfile } from './profile-top.js';
import { readdirSync, rmSync } from 'node:fs';
import { log, median, numberArg, parseArgs, RESULTS_DIR, round, runMain, table, writeResult } from './lib.js';
import { compareWorkers } from './workers-compare.js';
import { climbRates, HEAP_GROWTH_VARIANTS, renderRateRows, runTrial, type TrialFigures } from './trials.js';

/** Harness CPU per order and heap, bounded heap growth (Ordeal's default) against V8's default, trials alternating. */
async function compareHeapGrowth(rates: readonly number[], seconds: number, repeats: number): Promise<void> {
  const variants = HEAP_GROWTH_VARIANTS;
  const rows: Array<Array<string | number>> = [];
  const figures: Record<string, Record<string, TrialFigures[]>> = {};
  for (const rate of rates) {
    const trials = variants.map(() => [] as TrialFigures[]);
    for (let repeat = 0; repeat < repeats; repeat++) {
      // Alternate which goes first, so that a drift in the machine's speed falls on both.
      const order = repeat % 2 === 0 ? [0, 1] : [1, 0];
      for (const index of order) {
        const variant = variants[index]!;
        const trial = await runTrial({ scenario: 'capacity.yaml', target: 'memory', rate, durationMs: seconds * 1000, label: `capacity-heap-${rate}-${index}-${repeat}`, nodeArgs: variant.nodeArgs });
        trials[index]!.push(trial);
        log(`  ${rate}/s ${variant.name} #${repeat + 1}: harness ${trial.harnessCpuPerOrderMs.toFixed(3)} ms CPU/order, p99 ${Math.round(trial.completionP99)} ms, heap peak ${trial.heapPeakMiB.toFixed(0)} MiB, RSS peak ${trial.rssPeakMiB.toFixed(0)} MiB`);
      }
    }
    figures[rate] = Object.fromEntries(variants.map((variant, index) => [variant.name, trials[index]!]));
    const pick = (index: number, key: 'harnessCpuPerOrderMs' | 'completionP99' | 'heapPeakMiB' | 'rssPeakMiB'): number => median(trials[index]!.map((trial) => trial[key]));
    variants.forEach((variant, index) => {
      rows.push([rate, variant.name, round(pick(index, 'harnessCpuPerOrderMs'), 3), Math.round(pick(index, 'completionP99')), Math.round(pick(index, 'heapPeakMiB')), Math.round(pick(index, 'rssPeakMiB'))]);
    });
    rows.push([rate, 'CPU ratio bounded ÷ default', round(pick(0, 'harnessCpuPerOrderMs') / pick(1, 'harnessCpuPerOrderMs'), 3), '', '', '']);
  }
  process.stdout.write(
    `\nHeap growth bounded during the load vs V8's default (capacity traffic, ${seconds} s windows, medians of ${repeats}, trials alternating)\n\n${table(
      ['offered/s', 'harness', 'harness CPU ms/order', 'p99 ms', 'heap peak MiB', 'RSS peak MiB'],
      rows,
    )}\n`,
  );
  const path = writeResult('capacity-heap-growth', {
    seconds,
    repeats,
    rows: Object.fromEntries(Object.entries(figures).map(([rate, byVariant]) => [rate, Object.fromEntries(Object.entries(byVariant).map(([name, trials]) => [name, trials.map(({ raw: _raw, ...trial }) => trial)]))])),
  });
  log(`results: ${path}`);
}

async function main(): Promise<void> {
  const args = parseArgs();
  const rates = (args.get('rates') ?? '250,500,750,1000,1500,2000').split(',').map(Number);
  const seconds = numberArg(args, 'seconds', 8);
  const repeats = numberArg(args, 'repeats', 3);
  if (args.get('heap-growth') === 'compare') return compareHeapGrowth(rates, seconds, repeats);
  // `--workers 1,2`: the same traffic as `ordeal run` runs it, one process against N (bench/workers-compare.ts).
  const workers = args.get('workers');
  if (workers !== undefined) {
    const counts = workers.split(',').map(Number);
    if (counts.length !== 2 || counts[0] !== 1 || !(counts[1]! > 1)) throw new Error(`--workers takes 1,N (N > 1), got ${workers}`);
    return compareWorkers({ rates, seconds, repeats, workers: counts[1]! });
  }
  const { rows, best } = await climbRates(
    rates,
    repeats,
    (rate, repeat) => runTrial({ scenario: 'capacity.yaml', target: 'memory', rate, durationMs: seconds * 1000, label: `capacity-${rate}-${repeat}` }),
    (trial) =>
      `${Math.round(trial.ordersPerSecond)} delivered/s, p99 ${Math.round(trial.completionP99)} ms, dropped ${trial.dropped}, harness ${trial.harnessCpuPerOrderMs.toFixed(3)} ms CPU/order (${trial.harnessCores.toFixed(2)} cores), shop ${trial.shopCpuPerOrderMs.toFixed(3)} ms/order`,
  );
  let profile: string | undefined;
  if (args.get('profile') !== 'false') {
    // One profiled trial at the best sustained rate: what the harness process spends its CPU on.
    const dir = join(RESULTS_DIR, 'profiles', 'capacity');
    rmSync(dir, { recursive: true, force: true });
    await runTrial({ scenario: 'capacity.yaml', target: 'memory', rate: best?.rate ?? rates[0]!, durationMs: seconds * 1000, label: 'capacity-profile', harnessProf: dir });
    const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
    if (file) profile = renderProfile(summariseProfile(join(dir, file), 20), 20);
  }
  process.stdout.write(
    `\nHarness capacity vs bench/memory-shop.ts (normal buyers, no faults, ${seconds} s per trial, medians of ${repeats})\n\n${renderRateRows(rows)}\n\n` +
      `sustained: ${best ? `${best.rate} orders/s (delivered ${Math.round(best.ordersPerSecond)}/s), harness ${best.harnessCpuPerOrderMs.toFixed(3)} ms CPU per order` : 'none'}; target ≥ 2,000 orders/s: ${best && best.rate >= 2000 ? 'met' : 'missed'}\n` +
      (profile ? `\nharness CPU profile at ${best?.rate ?? rates[0]} orders/s:\n${profile}\n` : ''),
  );
  const path = writeResult('capacity', { seconds, repeats, rows, best: best ?? null });
  log(`results: ${path}`);
}

runMain(main);
