/**
 * Fault fidelity: requested vs measured injected delay. bench/scenarios/fidelity.yaml delays every
 * trade creation (`payment.latency`, lognormal, median 50 ms); the journal records each requested
 * delay (`fault.injected` detail.delayMs), the memory shop times each of its create calls. Error =
 * measured − requested, per order. The same shop also times its unfaulted reserve call to the stock
 * mock in the same run: the base cost of a call, as a reference. Runs at 500 orders/s (the figure
 * the target names) and at 50 orders/s (a lightly loaded reference); medians over repeats.
 *
 *   npm run bench:fidelity [-- --rates 50,500 --seconds 10 --repeats 3 --heap-growth compare | --mocks-process compare]
 *
 * `--heap-growth compare` adds, per rate, trials of the harness started with
 * `--heap-growing-percent=0` (V8's default heap growth, which Ordeal then leaves alone),
 * alternating with Ordeal as it is: what bounding heap growth during the load costs the timing.
 * `--mocks-process compare` alternates instead the mocks embedded in the harness's process (as
 * `ordeal run` runs them) with the mocks in a process of their own (`--workers`' path with one
 * driver): whether the injected delays land closer when the mocks do not share the buyers' event loop.
 */
import { log, median, numberArg, parseArgs, percentile, round, runMain, table, writeResult } from './lib.js';
import { HEAP_GROWTH_VARIANTS, runTrial } from './trials.js';

interface FidelityTrial {
  rate: number;
  heap: string;
  matched: number;
  errorP50: number;
  errorP99: number;
  errorMax: number;
  /** error minus the reserve call's median latency in the same run */
  netP99: number;
  baseP50: number;
  baseP99: number;
  requestedP50: number;
  harnessCores: number;
  /** p99 of the event loops' lateness in the same window: the shop's (it times the calls) and the harness's (the mocks' timers, when embedded); NaN when not measured. */
  shopLoopP99: number;
  harnessLoopP99: number;
}

async function main(): Promise<void> {
  const args = parseArgs();
  const rates = (args.get('rates') ?? '50,500').split(',').map(Number);
  const seconds = numberArg(args, 'seconds', 10);
  const repeats = numberArg(args, 'repeats', 3);
  const variants: ReadonlyArray<{ name: string; nodeArgs: readonly string[]; mocksProcess?: boolean }> =
    args.get('heap-growth') === 'compare'
      ? HEAP_GROWTH_VARIANTS
      : args.get('mocks-process') === 'compare'
        ? [
            { name: 'mocks embedded', nodeArgs: [] },
            { name: 'mocks in their own process', nodeArgs: [], mocksProcess: true },
          ]
        : HEAP_GROWTH_VARIANTS.slice(0, 1);
  const trials: FidelityTrial[] = [];
  for (const rate of rates) {
    for (let repeat = 0; repeat < repeats * variants.length; repeat++) {
      // Variants alternate, so that a drift in the machine's speed falls on both.
      const variant = variants[repeat % variants.length]!;
      const label = `fidelity-${rate}-${repeat}${variants.length > 1 ? `-${repeat % variants.length}` : ''}`;
      const trial = await runTrial({ scenario: 'fidelity.yaml', target: 'memory', rate, durationMs: seconds * 1000, label, shopLatency: true, nodeArgs: variant.nodeArgs, ...(variant.mocksProcess ? { mocksProcess: true } : {}) });
      const requested = trial.raw.journal?.requestedCreateDelays ?? {};
      const measured = trial.raw.shopStats?.latencies?.create ?? [];
      const orderIds = trial.raw.shopStats?.latencyOrders?.create ?? [];
      const errors: number[] = [];
      const asked: number[] = [];
      orderIds.forEach((orderId, index) => {
        const want = requested[orderId];
        const got = measured[index];
        if (want === undefined || got === undefined) return;
        errors.push(got - want);
        asked.push(want);
      });
      const base = trial.raw.shopStats?.latencies?.reserve ?? [];
      const baseP50 = percentile(base, 50);
      const row: FidelityTrial = {
        rate,
        heap: variant.name,
        matched: errors.length,
        errorP50: percentile(errors, 50),
        errorP99: percentile(errors, 99),
        errorMax: Math.max(...errors),
        netP99: percentile(errors, 99) - baseP50,
        baseP50,
        baseP99: percentile(base, 99),
        requestedP50: percentile(asked, 50),
        harnessCores: trial.harnessCores,
        shopLoopP99: trial.raw.shopStats?.loopDelayMs?.p99 ?? Number.NaN,
        harnessLoopP99: trial.raw.loopDelayMs?.p99 ?? Number.NaN,
      };
      trials.push(row);
      log(`  ${rate}/s${variants.length > 1 ? ` ${variant.name}` : ''} #${Math.floor(repeat / variants.length) + 1}: ${row.matched} delays matched; error p50 ${row.errorP50.toFixed(2)} ms, p99 ${row.errorP99.toFixed(2)} ms, max ${row.errorMax.toFixed(1)} ms; unfaulted call p50 ${row.baseP50.toFixed(2)} ms; loop delay p99 shop ${row.shopLoopP99.toFixed(1)} ms, harness ${row.harnessLoopP99.toFixed(1)} ms; harness ${row.harnessCores.toFixed(2)} cores`);
    }
  }
  const rows = rates.flatMap((rate) =>
    variants.map((variant) => {
      const mine = trials.filter((trial) => trial.rate === rate && trial.heap === variant.name);
      const pick = (key: Exclude<keyof FidelityTrial, 'heap'>): number => median(mine.map((trial) => trial[key]));
      return {
        rate,
        heap: variant.name,
        matched: pick('matched'),
        requestedP50: pick('requestedP50'),
        errorP50: pick('errorP50'),
        errorP99: pick('errorP99'),
        errorMax: pick('errorMax'),
        baseP50: pick('baseP50'),
        baseP99: pick('baseP99'),
        netP99: pick('netP99'),
        harnessCores: pick('harnessCores'),
        shopLoopP99: pick('shopLoopP99'),
        harnessLoopP99: pick('harnessLoopP99'),
      };
    }),
  );
  const at500 = rows.find((row) => row.rate === 500) ?? rows[rows.length - 1]!;
  process.stdout.write(
    `\nFault fidelity: payment.latency on every create (lognormal, median 50 ms); measured by the shop − requested; medians of ${repeats}\n\n${table(
      ['orders/s', ...(variants.length > 1 ? ['variant'] : []), 'delays', 'requested p50 ms', 'error p50 ms', 'error p99 ms', 'error max ms', 'unfaulted call p50 / p99 ms', 'p99 error − unfaulted p50', 'loop delay p99 ms, shop / harness', 'harness cores'],
      rows.map((row) => [
        row.rate,
        ...(variants.length > 1 ? [row.heap] : []),
        row.matched,
        round(row.requestedP50, 1),
        round(row.errorP50, 2),
        round(row.errorP99, 2),
        round(row.errorMax, 1),
        `${round(row.baseP50, 2)} / ${round(row.baseP99, 2)}`,
        round(row.netP99, 2),
        `${round(row.shopLoopP99, 1)} / ${Number.isNaN(row.harnessLoopP99) ? 'n/a' : round(row.harnessLoopP99, 1)}`,
        round(row.harnessCores, 2),
      ]),
    )}\n\ntarget p99 error < 5 ms at ${at500.rate} orders/s: ${at500.errorP99 < 5 ? 'met' : 'missed'}\n`,
  );
  const path = writeResult('fidelity', { seconds, repeats, rows, trials });
  log(`results: ${path}`);
}

runMain(main);
