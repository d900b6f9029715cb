/**
 * Runs harness trials (bench/harness-run.ts) in child processes and turns their raw figures into
 * the rows the load benchmarks print.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { HarnessRunResult } from './harness-run.js';
import { log, median, readJson, RESULTS_DIR, round, runNode, SCENARIOS_DIR, table } from './lib.js';

/**
 * The harness as it is (heap growth bounded during the load, `memory/heap.ts`) and started with
 * `--heap-growing-percent=0` (V8's default growth; Ordeal leaves a user's flag alone): what the
 * `--heap-growth compare` benchmarks alternate.
 */
export const HEAP_GROWTH_VARIANTS: ReadonlyArray<{ name: string; nodeArgs: readonly string[] }> = [
  { name: 'bounded (Ordeal)', nodeArgs: [] },
  { name: "V8's default", nodeArgs: ['--heap-growing-percent=0'] },
];

export interface TrialOptions {
  scenario: string;
  target: 'memory' | 'reference';
  rate: number;
  durationMs: number;
  /** Ramp before the measured window, ms. @default 3000 */
  warmupMs?: number;
  label: string;
  shopLatency?: boolean;
  shopProf?: string;
  harnessProf?: string;
  /** Extra node flags for the harness process. */
  nodeArgs?: readonly string[];
  /** The mocks and the shop in a process of their own (harness-run's --mocks-process). */
  mocksProcess?: boolean;
  timeoutMs?: number;
}

export interface TrialFigures {
  rate: number;
  durationMs: number;
  arrivals: number;
  dropped: number;
  delivered: number;
  deliveredShare: number;
  /** buyers delivered inside the measured window ÷ its length */
  ordersPerSecond: number;
  windowWallMs: number;
  completionP50: number;
  completionP99: number;
  latenessP99: number;
  /** harness process CPU during the measured window, ms per order delivered in it */
  harnessCpuPerOrderMs: number;
  /** harness CPU ÷ wall during the load phase (1 = one core busy) */
  harnessCores: number;
  shopCpuPerOrderMs: number;
  shopCores: number;
  rssPeakMiB: number;
  heapPeakMiB: number;
  maxRssMiB: number;
  harnessErrors: number;
  raw: HarnessRunResult;
}

export async function runTrial(options: TrialOptions): Promise<TrialFigures> {
  const dir = join(RESULTS_DIR, 'runs');
  mkdirSync(dir, { recursive: true });
  const resultFile = join(dir, `${options.label}.json`);
  const args = [
    '--scenario',
    join(SCENARIOS_DIR, options.scenario),
    '--target',
    options.target,
    '--rate',
    String(options.rate),
    '--duration',
    String(options.durationMs),
    '--warmup',
    String(options.warmupMs ?? 3000),
    '--out',
    join(dir, options.label),
    '--result',
    resultFile,
    '--analyse',
  ];
  if (options.shopLatency) args.push('--shop-latency');
  if (options.mocksProcess) args.push('--mocks-process');
  if (options.shopProf) args.push('--shop-prof', options.shopProf);
  const nodeArgs = [...(options.nodeArgs ?? []), ...(options.harnessProf ? ['--cpu-prof', `--cpu-prof-dir=${options.harnessProf}`] : [])];
  const code = await runNode('harness-run', args, { nodeArgs, timeoutMs: options.timeoutMs ?? 10 * 60_000 });
  if (code !== 0) throw new Error(`harness-run ${options.label} exited with code ${code}`);
  return figuresOf(readJson<HarnessRunResult>(resultFile));
}

export function figuresOf(raw: HarnessRunResult): TrialFigures {
  const from = raw.marks.find((mark) => mark.phase === 'window-start');
  const to = raw.marks.find((mark) => mark.phase === 'window-end');
  const journal = raw.journal;
  if (!from || !to || !journal) throw new Error('incomplete trial: no window marks or journal figures');
  const wallMs = to.at - from.at;
  const window = journal.windowBuyers;
  const harnessCpu = to.cpuMs - from.cpuMs;
  const shopCpu = to.shopCpuMs - from.shopCpuMs;
  const perOrder = Math.max(1, journal.windowDelivered);
  return {
    rate: raw.rate,
    durationMs: raw.durationMs,
    arrivals: window.arrived + window.dropped,
    dropped: journal.dropped,
    delivered: window.delivered,
    deliveredShare: window.arrived + window.dropped === 0 ? 0 : window.delivered / (window.arrived + window.dropped),
    ordersPerSecond: journal.windowDelivered / (raw.durationMs / 1000),
    windowWallMs: wallMs,
    completionP50: window.completion.p50,
    completionP99: window.completion.p99,
    latenessP99: window.lateness.p99,
    harnessCpuPerOrderMs: harnessCpu / perOrder,
    harnessCores: harnessCpu / wallMs,
    shopCpuPerOrderMs: shopCpu / perOrder,
    shopCores: shopCpu / wallMs,
    rssPeakMiB: raw.rssPeakMiB,
    heapPeakMiB: raw.heapPeakMiB,
    maxRssMiB: raw.maxRssMiB,
    harnessErrors: journal.harnessErrors,
    raw,
  };
}

/** A rate is sustained when nothing was dropped, ≥ 99.9 % of buyers got their cards and p99 completion stayed under the bound. */
export function sustained(figures: TrialFigures, p99BoundMs = 1000): boolean {
  return figures.dropped === 0 && figures.deliveredShare >= 0.999 && figures.completionP99 <= p99BoundMs && figures.harnessErrors === 0;
}

export interface RateRow {
  rate: number;
  trials: number;
  passed: number;
  sustained: boolean;
  ordersPerSecond: number;
  completionP50: number;
  completionP99: number;
  harnessCpuPerOrderMs: number;
  harnessCores: number;
  shopCpuPerOrderMs: number;
  shopCores: number;
}

export function rateRow(rate: number, trials: readonly TrialFigures[]): RateRow {
  const passed = trials.filter((trial) => sustained(trial)).length;
  const pick = (key: keyof TrialFigures): number => median(trials.map((trial) => trial[key] as number));
  return {
    rate,
    trials: trials.length,
    passed,
    sustained: passed * 2 > trials.length,
    ordersPerSecond: pick('ordersPerSecond'),
    completionP50: pick('completionP50'),
    completionP99: pick('completionP99'),
    harnessCpuPerOrderMs: pick('harnessCpuPerOrderMs'),
    harnessCores: pick('harnessCores'),
    shopCpuPerOrderMs: pick('shopCpuPerOrderMs'),
    shopCores: pick('shopCores'),
  };
}

export function renderRateRows(rows: readonly RateRow[]): string {
  return table(
    ['offered/s', 'trials ok', 'sustained', 'delivered/s', 'p50 ms', 'p99 ms', 'harness CPU ms/order', 'harness cores', 'shop CPU ms/order', 'shop cores'],
    rows.map((row) => [
      row.rate,
      `${row.passed}/${row.trials}`,
      row.sustained ? 'yes' : 'no',
      Math.round(row.ordersPerSecond),
      Math.round(row.completionP50),
      Math.round(row.completionP99),
      round(row.harnessCpuPerOrderMs, 3),
      round(row.harnessCores, 2),
      round(row.shopCpuPerOrderMs, 3),
      round(row.shopCores, 2),
    ]),
  );
}


/**
 * Climbs a ladder of rates, `repeats` trials each (one line logged per trial), stopping one rate
 * past the first one not sustained; the best row is the highest rate sustained.
 */
export async function climbRates(
  rates: readonly number[],
  repeats: number,
  runOne: (rate: number, repeat: number) => Promise<TrialFigures>,
  describe: (trial: TrialFigures) => string,
): Promise<{ rows: RateRow[]; best: RateRow | undefined }> {
  const rows: RateRow[] = [];
  let failures = 0;
  for (const rate of rates) {
    const trials: TrialFigures[] = [];
    for (let repeat = 0; repeat < repeats; repeat++) {
      const trial = await runOne(rate, repeat);
      trials.push(trial);
      log(`  ${rate}/s #${repeat + 1}: ${describe(trial)} — ${sustained(trial) ? 'sustained' : 'NOT sustained'}`);
    }
    const row = rateRow(rate, trials);
    rows.push(row);
    if (!row.sustained && ++failures >= 2) break;
  }
  const best = rows.filter((row) => row.sustained).reduce<RateRow | undefined>((top, row) => (!top || row.rate > top.rate ? row : top), undefined);
  return { rows, best };
}
