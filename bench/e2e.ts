/**
 * End to end: orders/s and p50/p99 order completion (intended arrival → the buyer sees
 * `delivered`) against the reference shop (SQLite, its own process), normal buyers, no faults.
 * Each rate runs `--repeats` trials; figures are medians. The bottleneck is named from the CPU each
 * process used during the measured window (a Node process is one core at most), and with
 * `--profile` from CPU profiles of both processes at the highest rate tried.
 *
 *   npm run bench:e2e [-- --rates 100,250,500,1000 --seconds 8 --repeats 3 --profile false]
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { log, numberArg, parseArgs, RESULTS_DIR, round, runMain, writeResult } from './lib.js';
import { renderProfile, summariseProfile } from './profile-top.js';
import { climbRates, renderRateRows, runTrial, type RateRow } from './trials.js';

function profileOf(dir: string): string | undefined {
  // A shop killed after the supervisor's 3 s grace writes no profile.
  const file = existsSync(dir) ? readdirSync(dir).find((name) => name.endsWith('.cpuprofile')) : undefined;
  return file ? renderProfile(summariseProfile(join(dir, file), 15), 15) : undefined;
}

/** Names the process that ran out of CPU first: the one nearest a full core. */
export function bottleneck(row: RateRow): string {
  const harness = row.harnessCores;
  const shop = row.shopCores;
  const busiest = harness >= shop ? 'the harness process (buyers, mocks, journal in one Node thread)' : 'the reference shop process (fastify + synchronous SQLite in one Node thread)';
  return `${busiest}: harness ${round(harness, 2)} cores (${round(row.harnessCpuPerOrderMs, 2)} ms CPU/order), shop ${round(shop, 2)} cores (${round(row.shopCpuPerOrderMs, 2)} ms CPU/order) at ${row.rate} orders/s offered`;
}

async function main(): Promise<void> {
  const args = parseArgs();
  const rates = (args.get('rates') ?? '100,250,500,1000').split(',').map(Number);
  const seconds = numberArg(args, 'seconds', 8);
  const repeats = numberArg(args, 'repeats', 3);
  const { rows, best } = await climbRates(
    rates,
    repeats,
    (rate, repeat) => runTrial({ scenario: 'e2e.yaml', target: 'reference', rate, durationMs: seconds * 1000, label: `e2e-${rate}-${repeat}` }),
    (trial) =>
      `${Math.round(trial.ordersPerSecond)} delivered/s, p50 ${Math.round(trial.completionP50)} ms, p99 ${Math.round(trial.completionP99)} ms, dropped ${trial.dropped}, harness ${trial.harnessCores.toFixed(2)} cores, shop ${trial.shopCores.toFixed(2)} cores`,
  );
  const highest = rows[rows.length - 1]!;
  // Profiles at a rate the shop keeps up with: an overloaded shop outlasts the supervisor's 3 s
  // stop grace, is SIGKILLed and writes no profile.
  const profileRate = best?.rate ?? rates[0]!;
  let profiles = '';
  if (args.get('profile') !== 'false') {
    const shopDir = join(RESULTS_DIR, 'profiles', 'e2e-shop');
    const harnessDir = join(RESULTS_DIR, 'profiles', 'e2e-harness');
    rmSync(shopDir, { recursive: true, force: true });
    rmSync(harnessDir, { recursive: true, force: true });
    await runTrial({ scenario: 'e2e.yaml', target: 'reference', rate: profileRate, durationMs: seconds * 1000, label: 'e2e-profile', shopProf: shopDir, harnessProf: harnessDir });
    const shop = profileOf(shopDir);
    const harness = profileOf(harnessDir);
    profiles = `\nreference shop CPU profile at ${profileRate} orders/s:\n${shop ?? '(none written)'}\n\nharness CPU profile at ${profileRate} orders/s:\n${harness ?? '(none written)'}\n`;
  }
  process.stdout.write(
    `\nEnd to end vs the reference shop (normal buyers, no faults, ${seconds} s window after a 3 s ramp, medians of ${repeats})\n\n${renderRateRows(rows)}\n\n` +
      `sustained: ${best ? `${best.rate} orders/s (delivered ${Math.round(best.ordersPerSecond)}/s, p50 ${Math.round(best.completionP50)} ms, p99 ${Math.round(best.completionP99)} ms)` : 'none'}; target ≥ 1,000 orders/s: ${best && best.rate >= 1000 ? 'met' : 'missed'}\n` +
      `bottleneck at the highest rate tried: ${bottleneck(highest)}\n` +
      (best ? `at the highest rate sustained: ${bottleneck(best)}\n` : '') +
      profiles,
  );
  const path = writeResult('e2e', { seconds, repeats, rows, best: best ?? null, bottleneck: bottleneck(highest) });
  log(`results: ${path}`);
}

runMain(main);
