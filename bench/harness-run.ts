/**
 * One harness run in its own process, measured: `run()` on one bench scenario against the memory
 * shop or the reference shop, with CPU (this process and the shop's process tree), RSS samples,
 * phase times, the report's figures and, with --analyse, figures streamed from the journal.
 * The benchmarks spawn it once per trial so that every trial starts with a fresh heap.
 *
 *   node bench/.build/bench/harness-run.js --scenario bench/scenarios/capacity.yaml --target memory
 *     [--rate 2000] [--duration 10000] [--out DIR] [--result FILE] [--analyse] [--shop-latency]
 *     [--shop-prof DIR] [--heap-snapshots DIR] [--mocks-process]
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import { run, type RunOptions, type ScenarioProgress } from '../harness/drive/run.js';
import { runWithWorkers } from '../harness/drive/workers.js';
import { loadScenarioWithInput } from '../harness/scenario/loader.js';
import { scenarioSchema } from '../core/scenario-schema.js';
import { JOURNAL_FILE, readJournal } from '../core/journal.js';
import { BUILD_DIR, descendantUsage, numberArg, parseArgs, readJson, RESULTS_DIR, ROOT, sortedPercentile } from './lib.js';

export interface PhaseMark {
  /** a run phase, or `window-start` / `window-end` of the measured window (after --warmup) */
  phase: ScenarioProgress['phase'] | 'window-start' | 'window-end';
  /** ms since this process started measuring */
  at: number;
  /** this process's CPU (user + system), ms */
  cpuMs: number;
  /** the shop's process tree CPU, ms (sampled from /proc) */
  shopCpuMs: number;
  rssMiB: number;
  /** the process's peak RSS so far (`maxRSS`), MiB: at the `scoring` mark, the true peak of load and settle */
  maxRssMiB: number;
}

export interface JournalFigures {
  events: number;
  arrived: number;
  dropped: number;
  delivered: number;
  outcomes: Record<string, number>;
  firstArrivalT: number;
  lastFinishedT: number;
  /** arrival lateness: journal time of buyer.arrived − intendedAt, ms */
  lateness: { p50: number; p99: number; max: number };
  /** intended arrival → delivered seen, ms, delivered buyers */
  completion: { p50: number; p99: number; max: number };
  harnessErrors: number;
  /** The measured window (after the warm-up ramp), journal time, ms. */
  window: { from: number; to: number };
  /** delivered buyer.finished events inside the window */
  windowDelivered: number;
  /** buyers intended inside the window: arrivals, dropped, delivered, completion percentiles */
  windowBuyers: { arrived: number; dropped: number; delivered: number; completion: { p50: number; p99: number; max: number }; lateness: { p50: number; p99: number; max: number } };
  /** payment.latency hits on the create route: orderId → requested delay, ms */
  requestedCreateDelays?: Record<string, number>;
}

export interface HarnessRunResult {
  scenario: string;
  target: 'memory' | 'reference';
  rate: number;
  durationMs: number;
  plannedOrders: number;
  warmupMs: number;
  marks: PhaseMark[];
  /** RSS and heap once a second from load start: [ms since load start, RSS MiB, heap used MiB] */
  rssTimeline: Array<[number, number, number]>;
  /** RSS samples every 200 ms during load and settle */
  rssPeakMiB: number;
  heapPeakMiB: number;
  /** process.resourceUsage().maxRSS after run() returned (includes scoring and reports), MiB */
  maxRssMiB: number;
  report: {
    score: number | null;
    passed: boolean;
    reasons: string[];
    steadyState: { orders: number; succeeded: number; successRate: number; p50: number | null; p95: number | null; p99: number | null };
    load: { arrivals: number; dropped: number; ordersCreated: number; httpErrors: number };
  };
  shopStats?: { cpuMs: number; maxRssKiB: number; orders: number; latencies?: Record<string, number[]>; latencyOrders?: Record<string, string[]>; loopDelayMs?: LoopDelay };
  /** How late this process's event loop ran during the measured window (1 ms sampling); with the mocks embedded, their timers fire on it. */
  loopDelayMs?: LoopDelay;
  journal?: JournalFigures;
  runDir: string;
  wallMs: number;
}

export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

function quote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

async function analyseJournal(path: string, warmupMs: number, windowMs: number): Promise<JournalFigures> {
  let events = 0;
  let arrived = 0;
  let dropped = 0;
  let delivered = 0;
  let harnessErrors = 0;
  let firstArrivalT = Number.POSITIVE_INFINITY;
  let lastFinishedT = 0;
  const outcomes: Record<string, number> = {};
  const lateness: number[] = [];
  const completion: number[] = [];
  const requested: Record<string, number> = {};
  let sawDelay = false;
  // Window bounds need the load start: the first arrival's intended time (arrival 0 is at 0).
  let loadStart: number | undefined;
  let from = 0;
  let to = 0;
  let windowDelivered = 0;
  const inWindow = new Set<string>();
  const windowBuyers = { arrived: 0, dropped: 0, delivered: 0 };
  const windowCompletion: number[] = [];
  const windowLateness: number[] = [];
  const start = (intendedAt: number): void => {
    if (loadStart !== undefined) return;
    loadStart = intendedAt;
    from = loadStart + warmupMs;
    to = from + windowMs;
  };
  for await (const event of readJournal(path)) {
    events++;
    switch (event.type) {
      case 'buyer.arrived':
        arrived++;
        start(event.intendedAt);
        firstArrivalT = Math.min(firstArrivalT, event.t);
        lateness.push(event.t - event.intendedAt);
        if (event.intendedAt >= from && event.intendedAt < to) {
          inWindow.add(event.buyerId);
          windowBuyers.arrived++;
          windowLateness.push(event.t - event.intendedAt);
        }
        break;
      case 'buyer.dropped':
        dropped++;
        start(event.intendedAt);
        if (event.intendedAt >= from && event.intendedAt < to) windowBuyers.dropped++;
        break;
      case 'buyer.finished':
        outcomes[event.outcome] = (outcomes[event.outcome] ?? 0) + 1;
        lastFinishedT = Math.max(lastFinishedT, event.t);
        if (event.outcome === 'delivered') {
          delivered++;
          completion.push(event.latencyMs);
          if (event.t >= from && event.t < to) windowDelivered++;
          if (inWindow.has(event.buyerId)) {
            windowBuyers.delivered++;
            windowCompletion.push(event.latencyMs);
          }
        }
        break;
      case 'harness.error':
        harnessErrors++;
        break;
      case 'fault.injected':
        if (event.fault === 'payment.latency' && event.detail.route === 'create' && event.orderId !== undefined && typeof event.detail.delayMs === 'number') {
          sawDelay = true;
          // The first create call of an order is the one the shop timed (it does not retry).
          if (!(event.orderId in requested)) requested[event.orderId] = event.detail.delayMs;
        }
        break;
      default:
        break;
    }
  }
  lateness.sort((a, b) => a - b);
  completion.sort((a, b) => a - b);
  windowCompletion.sort((a, b) => a - b);
  windowLateness.sort((a, b) => a - b);
  const spread = (sorted: number[]): { p50: number; p99: number; max: number } => ({
    p50: sortedPercentile(sorted, 50),
    p99: sortedPercentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  });
  return {
    window: { from, to },
    windowDelivered,
    windowBuyers: { ...windowBuyers, completion: spread(windowCompletion), lateness: spread(windowLateness) },
    events,
    arrived,
    dropped,
    delivered,
    outcomes,
    firstArrivalT: Number.isFinite(firstArrivalT) ? firstArrivalT : 0,
    lastFinishedT,
    lateness: { p50: sortedPercentile(lateness, 50), p99: sortedPercentile(lateness, 99), max: lateness[lateness.length - 1] ?? Number.NaN },
    completion: { p50: sortedPercentile(completion, 50), p99: sortedPercentile(completion, 99), max: completion[completion.length - 1] ?? Number.NaN },
    harnessErrors,
    ...(sawDelay ? { requestedCreateDelays: requested } : {}),
  };
}

async function main(): Promise<void> {
  const args = parseArgs();
  const scenarioFile = resolve(args.get('scenario') ?? join(ROOT, 'bench', 'scenarios', 'capacity.yaml'));
  const target = args.get('target') === 'reference' ? 'reference' : 'memory';
  const loaded = await loadScenarioWithInput(scenarioFile);
  const input = structuredClone(loaded.input) as { load: { stages: Array<Record<string, unknown>>; maxInFlight?: number }; name: string };
  const rate = numberArg(args, 'rate', Number.NaN);
  const durationMs = numberArg(args, 'duration', Number.NaN);
  // A linear ramp from a tenth of the rate before the measured window: JIT, connection pools and
  // the shop warm up there, and the figures of the window are steady-state ones.
  const warmupMs = numberArg(args, 'warmup', 0);
  const first = loaded.scenario.load.stages[0]!;
  const windowRate = Number.isFinite(rate) ? rate : first.rate;
  const windowMs = Number.isFinite(durationMs) ? durationMs : first.duration;
  if (Number.isFinite(rate) || Number.isFinite(durationMs) || warmupMs > 0) {
    input.load.stages = [
      ...(warmupMs > 0 ? [{ rate: Math.max(1, windowRate / 10), rampTo: windowRate, duration: warmupMs }] : []),
      { rate: windowRate, duration: windowMs },
    ];
  }
  const scenario = scenarioSchema.parse(input);
  const stage = { rate: windowRate, duration: windowMs };
  const outDir = resolve(args.get('out') ?? join(RESULTS_DIR, 'runs', `${scenario.name}-${target}-${stage.rate}`));
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const statsFile = join(outDir, 'shop-stats.json');
  process.env.BENCH_SHOP_STATS = statsFile;
  const timingCalls = args.has('shop-latency');
  if (timingCalls) process.env.BENCH_SHOP_LATENCY = '1';

  let targetCommand: string | undefined;
  const shopProf = args.get('shop-prof');
  const profArgs = shopProf ? ` --cpu-prof --cpu-prof-dir=${quote(resolve(shopProf))}` : '';
  // `exec`: dash does not replace itself with the last command, and the supervisor SIGKILLs the
  // process group as soon as the shell exits, which would cut the shop's own shutdown short.
  if (target === 'memory') targetCommand = `exec ${quote(process.execPath)}${profArgs} ${quote(join(BUILD_DIR, 'memory-shop.js'))}`;
  else if (shopProf) targetCommand = `exec ${quote(process.execPath)}${profArgs} ${quote(join(ROOT, 'dist', 'shop', 'main.js'))}`;

  const origin = performance.now();
  const marks: PhaseMark[] = [];
  let lastPhase: ScenarioProgress['phase'] | undefined;
  let sampling = false;
  let rssPeak = 0;
  let heapPeak = 0;
  let loadAt: number | undefined;
  let lastTimeline = -1;
  const rssTimeline: Array<[number, number, number]> = [];
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  const mark = (phase: PhaseMark['phase']): void => {
    const cpu = process.cpuUsage();
    marks.push({
      phase,
      at: performance.now() - origin,
      cpuMs: (cpu.user + cpu.system) / 1000,
      shopCpuMs: descendantUsage().cpuMs,
      rssMiB: process.memoryUsage.rss() / 2 ** 20,
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
    });
  };
  const sampler = setInterval(() => {
    if (!sampling) return;
    const rss = process.memoryUsage.rss();
    const heap = process.memoryUsage().heapUsed;
    rssPeak = Math.max(rssPeak, rss);
    heapPeak = Math.max(heapPeak, heap);
    const since = performance.now() - (loadAt ?? 0);
    if (loadAt !== undefined && since - lastTimeline >= 1000) {
      lastTimeline = since;
      rssTimeline.push([Math.round(since), Math.round((rss / 2 ** 20) * 10) / 10, Math.round((heap / 2 ** 20) * 10) / 10]);
    }
  }, 200);
  sampler.unref();

  const started = performance.now();
  // --mocks-process: the mocks (and the shop) in a process of their own, one driver process (`--workers`' path with one worker).
  // This process then only waits: the window marks bracket the whole run and its CPU figures say nothing.
  const mocksProcess = args.has('mocks-process');
  if (mocksProcess) {
    mark('window-start');
    loadAt = performance.now();
  }
  const runWith = mocksProcess ? (options: RunOptions) => runWithWorkers({ ...options, workers: 1 }) : run;
  const result = await runWith({
    scenarios: [{ file: scenarioFile, scenario, input }],
    outDir,
    ...(targetCommand ? { targetCommand } : {}),
    replay: `bench ${process.argv.slice(2).join(' ')}`,
    onProgress(progress) {
      if (progress.phase === lastPhase) return;
      lastPhase = progress.phase;
      sampling = progress.phase === 'load' || progress.phase === 'settle';
      if (sampling) {
        rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
        heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
      }
      mark(progress.phase);
      // --heap-snapshots DIR: V8 heap snapshots when the load starts, in its middle, and when the
      // settle is over (nothing in flight), to compare builds (summarise with heap-top.js).
      const snapshots = args.get('heap-snapshots');
      if (snapshots && (progress.phase === 'load' || progress.phase === 'scoring')) writeHeapSnapshot(join(snapshots, `${progress.phase}.heapsnapshot`));
      if (snapshots && progress.phase === 'load') setTimeout(() => writeHeapSnapshot(join(snapshots, 'mid.heapsnapshot')), stage.duration / 2).unref();
      if (progress.phase === 'load') {
        loadAt = performance.now();
        // Window marks on this process's clock, relative to load start (close to the journal's).
        setTimeout(() => {
          mark('window-start');
          // Only when timing calls (fidelity): its 1 ms timer would cost the CPU figures something.
          if (timingCalls) loopDelay.enable();
        }, warmupMs).unref();
        setTimeout(() => {
          mark('window-end');
          loopDelay.disable();
        }, warmupMs + windowMs).unref();
      }
    },
  });
  if (mocksProcess) mark('window-end');
  const wallMs = performance.now() - started;
  const maxRssMiB = process.resourceUsage().maxRSS / 1024;
  const scored = result.report.scenarios[0]!;
  const shopStats = existsSync(statsFile) ? readJson<HarnessRunResult['shopStats']>(statsFile) : undefined;
  const runDir = join(outDir, scenario.name);
  const output: HarnessRunResult = {
    scenario: scenario.name,
    target,
    rate: stage.rate,
    durationMs: stage.duration,
    plannedOrders: Math.round(stage.rate * (stage.duration / 1000)),
    warmupMs,
    marks,
    rssTimeline,
    rssPeakMiB: rssPeak / 2 ** 20,
    heapPeakMiB: heapPeak / 2 ** 20,
    maxRssMiB,
    report: {
      score: scored.score,
      passed: result.report.gate.passed,
      reasons: result.report.gate.reasons,
      steadyState: {
        orders: scored.steadyState.orders,
        succeeded: scored.steadyState.succeeded,
        successRate: scored.steadyState.successRate,
        p50: scored.steadyState.latency.p50,
        p95: scored.steadyState.latency.p95,
        p99: scored.steadyState.latency.p99,
      },
      load: {
        arrivals: scored.load.arrivals,
        dropped: scored.load.dropped,
        ordersCreated: scored.load.ordersCreated,
        httpErrors: scored.load.httpErrors,
      },
    },
    ...(shopStats ? { shopStats } : {}),
    // Not with the mocks in their own process: this process only waits then.
    ...(mocksProcess || loopDelay.count === 0 ? {} : { loopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 } }),
    runDir,
    wallMs,
  };
  if (args.has('analyse')) output.journal = await analyseJournal(join(runDir, JOURNAL_FILE), warmupMs, windowMs);
  const resultFile = args.get('result');
  const text = JSON.stringify(output);
  if (resultFile) await writeFile(resultFile, text);
  else process.stdout.write(`${text}\n`);
  if (args.has('keep') === false && args.get('keep-journal') !== 'true') {
    // Journals of big runs are large; keep only what the figures came from when asked.
    rmSync(join(runDir, 'shop-data'), { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`harness-run: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
