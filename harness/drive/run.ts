/**
 * Run orchestration: for each scenario, start the mocks with its fault plan, start the target
 * shop, send the buyers (open model: arrivals on schedule, capped in flight, the excess dropped
 * and counted; or closed model: N buyers ordering in turn with think time), let the run settle,
 * then score the journal and gate the result. The library entry point; the CLI only parses and
 * calls `run`.
 */
import { setMaxListeners } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import PQueue from 'p-queue';
import { newChannel, startMocks, type MockSet } from '../../mocks/index.js';
import { notInjectedFaults, prepareProvider, type InterceptSettings, type ProviderSide } from './provider.js';
import { FaultPlan } from '../../mocks/fault-plan.js';
import { renderConsole } from '../../reports/console.js';
import { renderJson } from '../../reports/json.js';
import { writeReports } from '../output/write.js';
import { loadDuration, sleep, timerClock } from '../../core/arrivals.js';
import { BuyerFactory, type Buyer } from './buyers.js';
import { applyComparison, BASELINE_FILE, COMPARISON_FILE, compareReports, type Comparison, type RecordedComparison } from '../score/compare.js';
import { fetchOrder, newRunId, runBuyer, type BuyerContext, type OrderTrack } from './buyer-flow.js';
import { EXIT, OrdealError, type ExitCode } from '../../core/errors.js';
import type { GateResult } from '../score/gate.js';
import { boundedLoad } from '../../memory/index.js';
import { FileJournal, JOURNAL_FILE } from '../../core/journal.js';
import type { LoadedScenario } from '../scenario/loader.js';
import type { Report } from '../../core/report-types.js';
import { assembleReport, SCENARIO_FILE, scoreScenarioDir, writeRunRecord, type RunRecord, type ScenarioRecord } from '../score/rescore.js';
import type { RunInterruption } from '../../core/interruption.js';
import type { PaymentProtocol, Scenario } from '../../core/scenario-schema.js';
import type { ScenarioScore } from '../score/score.js';
import { HttpClient } from '../../core/http-client.js';
import { FULLY_OBSERVABLE, type ShopCatalog, type TargetAdapter } from '../targets/adapter.js';
import { contractV1Target } from '../targets/contract-v1.js';
import { builtInShopCommand, TargetSupervisor } from './target.js';
import { OpenOrders } from './open-orders.js';
import { FinalReads, observedViews } from './final-read.js';
import { prepareOutDir } from './out-dir.js';
import { deadlineMsOf, settleMsOf } from '../score/credit.js';
import { observabilityOf, scenarioForTarget, type LoadedTarget } from '../targets/profile.js';
import { attachedNotInjected, attachedTargetLabel, attachShop, type RunningShop } from '../targets/attach.js';
import { checkProfileRun, fixedMocksForRun, fixedMocksOf } from '../targets/fixed-mocks.js';
import { KeptKeyFolder } from '../targets/kept-keys.js';
import { startShop } from './start-shop.js';
import { plannedLoadCount, trackProgress, type ProgressTracker, type ScenarioProgress } from './progress.js';
import { interruptedExitCode, interruptionOf, onInterrupt, type FinishReason } from './interrupt.js';
import { sleeper } from './sleeper.js';
import { settle } from './settle.js';
import { segmentInFlightCap, sendLoad } from './send-load.js';
import { RemoteMocks, type MocksServiceAddress } from './remote-mocks.js';
import type { Correlation } from '../../mocks/index.js';
import type { PaymentCashier } from '../../mocks/payment/personality.js';
import { formatSegment, isWholeRun, WHOLE_RUN, type Segment } from '../../core/segments.js';

export interface RunOptions {
  scenarios: readonly LoadedScenario[];
  /** Folder the run writes into (created). */
  outDir: string;
  /** Overrides every scenario's seed. */
  seed?: number;
  /** Flaws switched on in the built-in shop. */
  flaws?: readonly string[];
  /** Overrides every scenario's `provider.protocol`: the wire protocol the payment provider speaks. */
  protocol?: PaymentProtocol;
  /** With `protocol`: overrides every scenario's `provider.channels` (further channels beside it). @default [] */
  channels?: readonly PaymentProtocol[];
  /** Start the intercepting proxy for shops whose payment library hard-codes the provider's host (`--intercept`). */
  intercept?: InterceptSettings;
  /** Shell command starting a contract-v1 shop; default: the built-in reference shop. */
  targetCommand?: string;
  /**
   * The shop under test described by a target profile (`loadTarget`): how it is started, its own
   * timers, its adapter, what it lets Ordeal observe. Overrides `targetCommand`.
   */
  target?: LoadedTarget;
  /** Overrides the scenarios' gate.minScore. */
  minScore?: number;
  /** The command that replays this run, recorded in the report. */
  replay?: string;
  /** Progress lines (not the report); default: silent. */
  log?: (line: string) => void;
  /** Colour in the console rendering. */
  color?: boolean;
  /** Scenarios run at the same time, each with its own shop and mocks. @default 1 */
  concurrency?: number;
  /** Called with a snapshot of each running scenario about four times a second and at each phase change. */
  onProgress?: (progress: ScenarioProgress) => void;
  /**
   * Gate on a baseline: after the run, compare its report with `report` (`compareReports`); every
   * regression is added to the gate's reasons and fails it. The baseline and the comparison are
   * recorded in the run folder (baseline.json, comparison.json), so re-scoring reproduces the gate.
   */
  baseline?: {
    /** The baseline run's report (`loadReport`). */
    report: Report;
    /** Points a scenario or class score may drop before it is a regression (e.g. 5). */
    threshold: number;
    /** Where the baseline came from, recorded in comparison.json. */
    source?: string;
  };
  /**
   * Interrupts the run: the scenario running is cut (load stopped, shop and mocks shut down) and
   * scored from what was recorded, the rest are not run, and every report is written marked
   * interrupted (`report.interrupted`; exit code 130, or 143 when the abort reason is 'SIGTERM').
   */
  signal?: AbortSignal;
  /**
   * Runs this segment of every scenario's buyers (`--segment i/n`): arrivals whose number is `i`
   * mod `n`, a 1/n share of the in-flight cap; n segments together run the whole load. @default the whole run
   */
  segment?: Segment;
  /**
   * Share the mocks of a mocks service (`ordeal mocks serve`) instead of starting them: its control
   * URL and key. The shop is the one the service started, or the target profile's `attach.url`.
   * Only `runSegment` takes it (`run` refuses it: such a run is scored by `ordeal merge`).
   */
  mocksService?: MocksServiceAddress;
}

export type { ScenarioProgress } from './progress.js';

export interface ScenarioOutcome {
  scenario: Scenario;
  score: ScenarioScore;
  gate: GateResult;
  runDir: string;
  /** Why the scenario's run ended (`interrupted`: cut by `RunOptions.signal`). */
  finished: FinishReason;
}

export interface RunResult {
  report: Report;
  exitCode: ExitCode;
  outDir: string;
  /** The console rendering of the report. */
  summary: string;
  /** The comparison with `RunOptions.baseline`, when one was given. */
  comparison?: Comparison;
  /** Where an earlier run found in `outDir` was moved (it is kept whole, never appended to). */
  previousRunMovedTo?: string;
}

/** Runs every scenario in turn and writes report.json and report.md into outDir. */
export async function run(options: RunOptions): Promise<RunResult> {
  // A segment sharing a service's mocks holds half of each order: `runSegment` records it, `ordeal merge` scores it.
  if (options.mocksService) throw new OrdealError('ORDEAL_ERR_USAGE', 'a run with a mocks service is a segment of a distributed run: use runSegment (harness/drive/run-segment.ts)');
  checkProfileRun(options.target, { concurrency: options.concurrency ?? 1, flaws: options.flaws ?? [], intercept: options.intercept !== undefined });
  // An earlier run in the folder is moved aside whole: journals are never appended to.
  const { outDir, previousRunMovedTo } = await prepareOutDir(options.outDir);
  // Scenarios are independent (own shop, own mocks, own ports — unless the profile fixes them); results keep the given order.
  const queue = new PQueue({ concurrency: Math.max(1, options.concurrency ?? 1) });
  const keys = keptKeyFolderOf(options.target);
  const outcomes = await Promise.all(
    options.scenarios.map((loaded) => queue.add(async () => (options.signal?.aborted ? undefined : runScenario(loaded, options, outDir, keys))) as Promise<ScenarioOutcome | undefined>),
  );
  const interrupted = interruptionOf(options.signal, options.scenarios.map((loaded) => loaded.scenario.name), outcomes);
  const ran = outcomes.filter((outcome) => outcome !== undefined);
  const record = await writeRunRecord(outDir, runFields(options, ran.map((outcome) => outcome.scenario.name), interrupted));
  let report = assembleReport(ran, record);
  let comparison: Comparison | undefined;
  if (options.baseline) {
    comparison = compareReports(options.baseline.report, report, { threshold: options.baseline.threshold });
    const recorded: RecordedComparison = { baseline: options.baseline.source ?? '', ...comparison };
    await writeFile(join(outDir, BASELINE_FILE), renderJson(options.baseline.report));
    await writeFile(join(outDir, COMPARISON_FILE), `${JSON.stringify(recorded, null, 2)}\n`);
    report = applyComparison(report, comparison);
  }
  await writeReports(outDir, report);
  const summary = renderConsole(report, { color: options.color ?? false });
  const exitCode = interrupted ? interruptedExitCode(interrupted) : report.gate.passed ? EXIT.passed : EXIT.gateFailed;
  return { report, exitCode, outDir, summary, ...(comparison ? { comparison } : {}), ...(previousRunMovedTo ? { previousRunMovedTo } : {}) };
}

/** What run.json records of a run of `options` that ran `scenarios` (`writeRunRecord`). */
export function runFields(options: RunOptions, scenarios: string[], interrupted: RunInterruption | undefined): Omit<RunRecord, 'version' | 'createdAt'> {
  return {
    seed: options.seed ?? options.scenarios[0]?.scenario.seed ?? 1,
    replay: options.replay ?? '',
    ...(options.minScore === undefined ? {} : { minScore: options.minScore }),
    scenarios,
    ...(interrupted ? { interrupted } : {}),
  };
}

/** The profile's kept key folder, one for the whole run (its scenarios load it in turn). */
function keptKeyFolderOf(target: LoadedTarget | undefined): KeptKeyFolder | undefined {
  const keysDir = target ? fixedMocksOf(target)?.keysDir : undefined;
  return keysDir === undefined ? undefined : new KeptKeyFolder(keysDir);
}

/** Runs one scenario end to end and scores it; `keys`: the run's kept key folder (default: the profile's). */
export async function runScenario(loaded: LoadedScenario, options: RunOptions, outDir: string, keys = keptKeyFolderOf(options.target)): Promise<ScenarioOutcome> {
  const { scenario, runDir, finished, progress, log } = await recordScenario(loaded, options, outDir, keys);
  const { score, gate } = await scoreScenarioDir(runDir, options.minScore === undefined ? {} : { minScore: options.minScore });
  progress.done(score.score, gate.passed);
  log(`  ${gate.passed ? '✔' : '✘'} ${scenario.name}: score ${score.score === null ? 'n/a' : score.score.toFixed(1)}${gate.passed ? '' : ` — ${gate.reasons.join('; ')}`}`);
  return { scenario, score, gate, runDir, finished };
}

/** A scenario's run recorded (its folder: scenario.json and the journal, ended), not yet scored. */
export interface RecordedScenario {
  scenario: Scenario;
  runDir: string;
  finished: FinishReason;
  progress: ProgressTracker;
  log: (line: string) => void;
}

/** Runs one scenario end to end and records it in `<outDir>/<scenario>/`; `runScenario` scores it too. */
export async function recordScenario(loaded: LoadedScenario, options: RunOptions, outDir: string, keys = keptKeyFolderOf(options.target)): Promise<RecordedScenario> {
  const profile = options.target?.profile;
  // The target's own facts first (its channels, its timers), then what the command line says.
  const forTarget = profile ? scenarioForTarget(loaded.scenario, profile) : loaded.scenario;
  const scenario: Scenario = options.protocol
    ? { ...forTarget, provider: { protocol: options.protocol, channels: [...(options.channels ?? [])].filter((protocol) => protocol !== options.protocol) } }
    : forTarget;
  const seed = options.seed ?? scenario.seed;
  const runDir = join(outDir, scenario.name);
  await mkdir(join(runDir, 'shop-data'), { recursive: true });
  const record: ScenarioRecord = {
    file: loaded.file,
    seed,
    input: loaded.input,
    ...(profile ? { target: { shop: scenario.shop, settle: settleMsOf(scenario) } } : {}),
  };
  await writeFile(join(runDir, SCENARIO_FILE), `${JSON.stringify({ ...record, resolved: scenario }, null, 2)}\n`);
  const log = options.log ?? (() => undefined);
  const attach = profile?.attach;
  // An attached shop has no command: the journal names its URL instead.
  const command = attach ? attachedTargetLabel(attach.url) : (profile?.start.command ?? options.targetCommand ?? builtInShopCommand(options.flaws ?? []));

  const journal = new FileJournal(join(runDir, JOURNAL_FILE));
  journal.append('run.started', {
    scenario: scenario.name,
    seed,
    startedAt: new Date().toISOString(),
    replay: options.replay ?? '',
    target: command,
    protocol: scenario.provider.protocol,
    // A driver of a mocks service is always a segment (of one, with one worker): `ordeal merge` looks for it.
    ...(options.segment && (!isWholeRun(options.segment) || options.mocksService) ? { segment: { ...options.segment } } : {}),
    ...(scenario.provider.channels.length > 0 ? { channels: [...scenario.provider.channels] } : {}),
    // A shop without a profile follows contract v1: everything observable, messages through the notify API.
    ...(options.target ? { targetProfile: options.target.profile.name } : {}),
    observes: options.target ? observabilityOf(options.target.profile) : { ...FULLY_OBSERVABLE, notify: [...FULLY_OBSERVABLE.notify] },
  });
  // Said once, loudly: a fault the protocol (or an attached shop) cannot carry is not injected, and the report lists it.
  for (const skipped of [...notInjectedFaults(scenario), ...(attach ? attachedNotInjected(scenario) : [])]) {
    journal.append('fault.not_injected', { ...skipped, protocol: scenario.provider.protocol });
    const why = scenario.provider.channels.length > 0 || skipped.cause ? skipped.reason : `${scenario.provider.protocol} cannot express it (${skipped.reason})`;
    log(`  ! ${scenario.name}: ${skipped.fault} is not injected: ${why}`);
  }
  const progress = trackProgress(scenario, journal, options.onProgress, options.segment);
  let finishReason: FinishReason;
  try {
    // Everything the run holds per order and per buyer (the tracks, the buyers' sessions, the
    // mocks' ledgers, the shop's connections) lives in `driveScenario` and is unreachable once it
    // returns: scoring below does not stack its own peak on top of the run's.
    finishReason = await boundedLoad(() =>
      driveScenario({
        scenario,
        seed,
        runDir,
        command,
        journal,
        progress,
        log,
        ...(options.intercept ? { intercept: options.intercept } : {}),
        ...(options.target ? { target: options.target, flaws: options.flaws ?? [] } : {}),
        ...(keys ? { keys } : {}),
        ...(options.signal ? { interrupt: options.signal } : {}),
        ...(options.segment ? { segment: options.segment } : {}),
        ...(options.mocksService ? { service: options.mocksService } : {}),
      }),
    );
  } catch (error) {
    journal.append('run.finished', { reason: 'aborted' });
    progress.stop();
    await journal.close();
    throw error;
  }
  journal.append('run.finished', { reason: finishReason });
  progress.phase('scoring');
  progress.stop();
  await journal.close();
  return { scenario, runDir, finished: finishReason, progress, log };
}

interface DriveOptions {
  scenario: Scenario;
  seed: number;
  runDir: string;
  command: string;
  journal: FileJournal;
  progress: ProgressTracker;
  log: (line: string) => void;
  intercept?: InterceptSettings;
  target?: LoadedTarget;
  /** Flaws switched on in a profiled shop (its `${flaws}` placeholder). */
  flaws?: readonly string[];
  /** The profile's kept key folder. */
  keys?: KeptKeyFolder;
  /** `RunOptions.signal`: cuts the scenario. */
  interrupt?: AbortSignal;
  /** `RunOptions.segment`. */
  segment?: Segment;
  /** `RunOptions.mocksService`. */
  service?: MocksServiceAddress;
}

/**
 * Starts the mocks and the shop, sends the load, settles and shuts everything down; resolves with
 * why the run finished. On an error it journals it, shuts down and rethrows.
 */
async function driveScenario({ scenario, seed, runDir, command, journal, progress, log, intercept, target: profiled, flaws, keys, interrupt, segment = WHOLE_RUN, service }: DriveOptions): Promise<FinishReason> {
  let loadStart: number | undefined;
  const muted = notInjectedFaults(scenario).map((skipped) => skipped.faultIndex);
  const plan = new FaultPlan(scenario.faults, seed, () => (loadStart === undefined ? 0 : journal.now() - loadStart), muted);
  const fixed = profiled ? fixedMocksForRun(profiled, scenario) : undefined;
  // A kept key folder gives the same credentials every run; else they are fresh.
  const kept = await keys?.load([scenario.provider.protocol, ...scenario.provider.channels]);
  const channel = kept?.channels[0] ?? newChannel(scenario.provider.protocol);
  const extraChannels = kept?.channels.slice(1) ?? scenario.provider.channels.map((protocol) => newChannel(protocol));
  let mocks: MockSet | undefined;
  let remote: RemoteMocks | undefined;
  let provider: ProviderSide | undefined;
  let target: RunningShop | undefined;
  let adapter: TargetAdapter | undefined;
  const client = new HttpClient({ connections: Math.min(512, segmentInFlightCap(scenario, segment) * 2) });
  let finishReason: FinishReason = 'completed';
  // Set before Ordeal stops the target itself, so that exit is not taken for a crash.
  let shuttingDown = false;
  const stopController = new AbortController();
  // Arrivals and crash pauses listen on this signal; the buyers wait through `buyerSleep`, one listener for all.
  setMaxListeners(0, stopController.signal);
  const buyerSleep = sleeper(stopController.signal);
  let deadlineTimer: NodeJS.Timeout | undefined;
  // Interrupted, the scenario is cut as its deadline cuts it.
  const stopListening = onInterrupt(interrupt, () => {
    if (stopController.signal.aborted) return;
    finishReason = 'interrupted';
    log(`  ! ${scenario.name}: interrupted; stopping the load and the shop, scoring what happened before`);
    stopController.abort();
    void client.destroy('the run was interrupted');
  });
  const finalReads = new FinalReads();
  try {
    let servedAt: ReadonlyArray<{ protocol: string; url: string; cashier: PaymentCashier }>;
    if (service) {
      // The mocks are a service's, shared with the other segments; the shop is the one it started, or the profile's.
      remote = await RemoteMocks.connect(service, journal, scenario.name, segment);
      servedAt = remote.paymentChannels;
      const attach = profiled?.profile.attach;
      const shopUrl = attach?.url ?? remote.run.shopUrl;
      if (shopUrl === undefined) throw new OrdealError('ORDEAL_ERR_USAGE', `${scenario.name}: the mocks service did not start the shop; give a target profile that attaches to it (attach.url)`);
      target = await attachShop({ url: shopUrl, healthPath: attach?.health ?? '/health', readyTimeoutMs: attach?.readyTimeout ?? 30_000, journal });
    } else {
      const observes = profiled?.profile.observes;
      mocks = await startMocks({
        scenario,
        journal,
        plan,
        channel,
        channels: extraChannels,
        // The mail server only for shops that tell buyers by e-mail (its certificate costs a key pair).
        ...(observes?.notify.includes('email') ? { email: kept ? { caDir: kept.smtpCaDir, keepCa: true } : { caDir: join(runDir, 'email') } } : {}),
        ...(profiled?.profile.messages ? { messageKinds: profiled.profile.messages } : {}),
        ...(fixed ? { ports: fixed.ports, portsField: fixed.portsField } : {}),
        ...(kept ? { sms: { credentials: kept.sms }, serviceKeys: kept.services } : {}),
      });
      servedAt = mocks.paymentChannels;
      provider = await prepareProvider({
        runDir,
        channels: [channel, ...extraChannels].map((each, index) => ({ channel: each, url: servedAt[index]!.url })),
        journal,
        ...(intercept ? { intercept } : {}),
        ...(kept ? { keptKeys: kept } : {}),
      });
      const attach = profiled?.profile.attach;
      target = attach
        ? await attachShop({ url: attach.url, healthPath: attach.health, readyTimeoutMs: attach.readyTimeout, journal })
        : await startShop({ scenario, runDir, command, journal, provider, mocks, channels: [channel, ...extraChannels], intercepted: intercept !== undefined, ...(profiled ? { target: profiled, flaws: flaws ?? [] } : {}), ...(interrupt ? { signal: interrupt } : {}) });
    }
    const liveTarget = target;

    const targetContext = { shopUrl: target.url, client, journal, providerUrls: providerUrlsOf(scenario, servedAt) };
    adapter = profiled ? profiled.createAdapter(targetContext) : contractV1Target(targetContext);
    const catalog = await catalogOf(adapter, scenario, profiled?.profile.catalog);
    const factory = new BuyerFactory(scenario, seed, catalog, Object.keys(profiled?.profile.payment?.methods ?? {}), profiled?.profile.contact);
    target.onUnexpectedExit(() => {
      if (!shuttingDown && !stopController.signal.aborted) {
        finishReason = 'target-crashed';
        log(`  ! ${scenario.name}: the target exited during the run; scoring what happened before`);
        stopController.abort();
      }
    });
    const embedded = mocks;
    const mockSide = remote ?? embedded!;
    const correlation = mockSide.correlation;
    const context: BuyerContext = {
      scenario,
      journal,
      client,
      target: adapter,
      cashierFor: (orderId) => mockSide.channelOfOrder(orderId),
      correlation,
      plan,
      orders: new Map<string, OrderTrack>(),
      finalReads,
      runId: newRunId(),
      stopped: () => stopController.signal.aborted,
      pause: buyerSleep,
    };

    const load = scenario.load;
    const planned = plannedLoadCount(scenario, segment);
    const shape = load.model === 'closed' ? `${planned} closed-model buyers (think ${load.thinkTime}ms)` : `${planned} buyers`;
    const share = isWholeRun(segment) ? '' : ` (segment ${formatSegment(segment)})`;
    log(`▶ ${scenario.name}: ${shape}${share} over ${(loadDuration(load) / 1000).toFixed(1)}s, seed ${seed}`);

    const arrived = (buyer: Buyer, intendedAt: number): void => {
      // A message to the buyer's address is theirs even before their order's number is known.
      correlation.linkContact(buyer.contact, buyer.id);
      journal.append('buyer.arrived', {
        buyerId: buyer.id,
        seq: buyer.seq,
        behaviour: buyer.behaviour,
        sku: buyer.sku,
        quantity: buyer.quantity,
        contact: buyer.contact,
        region: buyer.region,
        signals: buyer.signals,
        intendedAt,
      });
    };
    const runOne = (buyer: Buyer, intendedAt: number): Promise<void> =>
      runBuyer(context, buyer, intendedAt).catch((error: unknown) => {
        journal.append('harness.error', { where: `buyer ${buyer.id}`, message: (error as Error).message });
      });
    const clock = timerClock(() => journal.now());
    // With a mocks service, the load starts when every segment is ready (its start barrier).
    const startsInMs = remote ? await remote.ready() : 0;
    loadStart = journal.now() + startsInMs;
    // Past the deadline the run is cut: buyers stop, requests still hanging end now, settle ends.
    const deadlineMs = deadlineMsOf(scenario);
    deadlineTimer = setTimeout(() => {
      if (stopController.signal.aborted) return;
      finishReason = 'deadline';
      log(`  ! ${scenario.name}: past its deadline (${(deadlineMs / 1000).toFixed(1)}s from the start of load): cut; scoring what happened before`);
      stopController.abort();
      void client.destroy('the run passed its deadline');
    }, startsInMs + deadlineMs);
    progress.loadStarted(loadStart);
    progress.phase('load');
    // An attached shop is not Ordeal's to crash: its target.crash faults were journaled as not injected.
    const crashes =
      liveTarget instanceof TargetSupervisor
        ? scheduleCrashes(scenario, liveTarget, journal, correlation, loadStart, stopController.signal, (message) => {
            log(`  ! ${scenario.name}: ${message}`);
            finishReason = 'target-crashed';
            stopController.abort();
          })
        : undefined;
    await sendLoad({ scenario, journal, factory, clock, start: loadStart, signal: stopController.signal, segment, arrived, runBuyer: runOne, ...(remote ? { sharedInFlight: remote.sharedInFlight() } : {}) });
    await crashes;

    progress.phase('settle');
    await settle(context, () => mockSide.pendingCallbacks(), scenario, () => liveTarget.down);
    // Every order the run created, read once more: a settled order that went back is seen (final-read.ts).
    // What the harness saw of each order is in the journal: the final read reads it back from there.
    await journal.synced();
    await finalReads.readAll({ journal, observations: observedViews(journal.path), read: fetchOrder, stopped: () => stopController.signal.aborted, targetDown: () => liveTarget.down, budgetMs: Math.max(5000, settleMsOf(scenario)) });
  } catch (error) {
    clearTimeout(deadlineTimer);
    finishReason = 'aborted';
    shuttingDown = true;
    stopController.abort();
    stopListening();
    journal.append('harness.error', { where: 'run', message: (error as Error).message });
    finalReads.close();
    await shutdown(target, provider, mocks ?? remote, client, adapter);
    // Interrupted while starting (a shop not ready yet): the interruption, not a failure of Ordeal's.
    if (interrupt?.aborted) return 'interrupted';
    throw error;
  }
  clearTimeout(deadlineTimer);
  stopListening();
  shuttingDown = true;
  // Wakes whatever still waits on the run (a verification due after the settle): nothing outlives it.
  stopController.abort();
  finalReads.close();
  await shutdown(target, provider, mocks ?? remote, client, adapter);
  return finishReason;
}

async function shutdown(
  target: RunningShop | undefined,
  provider: ProviderSide | undefined,
  mocks: { close(): Promise<void> } | undefined,
  client: HttpClient,
  adapter: TargetAdapter | undefined,
): Promise<void> {
  // The shop goes first so its last calls still reach the mocks (through the proxy, if one runs).
  await target?.stop();
  await adapter?.close?.();
  await provider?.close();
  await mocks?.close();
  await client.close();
}

/**
 * target.crash: at each configured load time, SIGKILL the shop, record every order in flight (by
 * the mocks' ledgers), and restart the shop after the pause on the same port with the same data.
 */
async function scheduleCrashes(
  scenario: Scenario,
  target: TargetSupervisor,
  journal: FileJournal,
  correlation: Correlation,
  loadStart: number,
  signal: AbortSignal,
  fail: (message: string) => void,
): Promise<void> {
  const crashes = scenario.faults.flatMap((fault, index) => (fault.id === 'target.crash' ? [{ fault, index }] : []));
  if (crashes.length === 0) return;
  const open = new OpenOrders();
  const unsubscribe = journal.subscribe((event) => open.note(event));
  try {
    for (const { fault, index } of crashes.sort((a, b) => a.fault.at - b.fault.at)) {
      const wait = loadStart + fault.at - journal.now();
      if (wait > 0) await sleep(wait, signal);
      if (signal.aborted) return;
      await target.kill();
      for (const orderId of open.ids()) {
        const buyerId = correlation.buyerOf(orderId);
        journal.append('fault.injected', {
          fault: 'target.crash',
          faultIndex: index,
          orderId,
          ...(buyerId ? { buyerId } : {}),
          detail: { pauseMs: fault.pause },
        });
      }
      await sleep(fault.pause, signal);
      if (signal.aborted) return;
      try {
        await target.restart();
      } catch (error) {
        journal.append('harness.error', { where: 'target restart', message: (error as Error).message });
        fail(`the target did not come back after the crash: ${(error as Error).message}`);
        return;
      }
    }
  } finally {
    unsubscribe();
  }
}

/** The catalogue buyers choose from: the shop's own (products, prices, coupons), else its profile's, else the scenario's. */
async function catalogOf(adapter: TargetAdapter, scenario: Scenario, declared: ShopCatalog | undefined): Promise<ShopCatalog> {
  const shown = await adapter.catalog();
  if (shown && shown.skus.length > 0) return shown;
  if (declared) return declared;
  return { skus: scenario.catalog.skus.map((entry) => ({ sku: entry.sku, price: entry.price })), coupons: scenario.catalog.coupons };
}

/** Each payment protocol of the run and its personality's base URL. */
function providerUrlsOf(scenario: Scenario, served: ReadonlyArray<{ url: string }>): Record<string, string> {
  const protocols = [scenario.provider.protocol, ...scenario.provider.channels];
  return Object.fromEntries(protocols.map((protocol, index) => [protocol, served[index]?.url ?? '']));
}
