/**
 * Harness capacity: orders/s Ordeal sustains against the in-memory contract-v1 shop
 * (bench/memory-shop.ts, a separate process) with every mock in the loop and no faults, and the
 * harness process's CPU per order. Rates go up a ladder; each rate runs `--repeats` trials (each a
 * fresh harness process) and is sustained when the majority of them are (no drop, ≥ 99.9 %
 * delivered, p99 completion ≤ 1 s). Figures per rate are medians over its trials.
 *
 *   npm run bench:capacity [-- --rates 250,500,750,1000,1500,2000 --seconds 8 --repeats 3 --profile false]
 */
import { join } from 'node:path';
import { renderProfile, summariseProfile } from './profile-top.js';
import { readdirSync, rmSync } from 'node:fs';
import { log, numberArg, parseArgs, RESULTS_DIR, runMain, writeResult } from './lib.js';
import { climbRates, renderRateRows, runTrial } from './trials.js';

async function main(): Promise<void> {
  const args = parseArgs();
  const rates = (args.get('rates') ?? '250,500,750,1000,1500,2000').split(',').map(Number);
  const seconds = numberArg(args, 'seconds', 8);
  const repeats = numberArg(args, 'repeats', 3);
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
