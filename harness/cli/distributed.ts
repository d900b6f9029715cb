/**
 * The CLI's side of a distributed run (DESIGN.md §8; README "Running on Kubernetes"):
 * `ordeal mocks serve SCENARIO` (the shared mocks), `ordeal run --segment i/n --mocks-service FILE`
 * (a driver segment), `ordeal merge SERVICE_DIR SEGMENT_DIR…` (one report of them all), and
 * `ordeal k8s manifest SCENARIO` (all of it as Kubernetes objects).
 * Thin: each parses what the command line gave and calls the library.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EXIT, OrdealError, type ExitCode } from '../../core/errors.js';
import { signalExitCode, type InterruptSignal } from '../../core/interruption.js';
import { renderConsole } from '../../reports/console.js';
import { REPORT_FILES, REPORT_FORMATS } from '../output/write.js';
import { mergeRuns } from '../merge/merge.js';
import { waitForRuns } from '../merge/wait.js';
import { buildKubernetesManifest, renderKubernetesManifest } from '../k8s/manifest.js';
import { serveMocks } from '../mocks-service/serve.js';
import { SERVICE_FILE, type ServiceFile } from '../mocks-service/protocol.js';
import type { MocksServiceAddress } from '../drive/remote-mocks.js';
import { resolveBuiltInFlaws } from '../drive/target.js';
import { displayPath, loadScenarios } from '../scenario/loader.js';
import { handleStopSignals } from './signals.js';
import type { ProgressDisplay, ProgressMode } from './progress.js';
import { runSegment, type SegmentRunResult } from '../drive/run-segment.js';
import type { Segment } from '../../core/segments.js';
import type { LoadedScenario } from '../scenario/loader.js';
import type { LoadedTarget } from '../targets/profile.js';

export interface ServeCommandArgs {
  scenario: string;
  out: string;
  segments: number;
  startShop: boolean;
  targetCommand?: string;
  flaws?: string;
  seed?: number;
  controlPort?: number;
  /** Interface to bind (`0.0.0.0` in a pod, with ORDEAL_NETWORK=cluster). */
  host?: string;
  /** The name drivers reach the service at (the Kubernetes Service). */
  advertise?: string;
  /** Fixed ports from this one up (control, payment, stock, risk, notify, smtp, smtps, shop). */
  basePort?: number;
  /** The started shop's data folder. */
  shopData?: string;
}

/** `ordeal mocks serve`: serves until every segment is done (exit 0), or a signal, or segments missing (exit 1). */
export async function serveCommand(args: ServeCommandArgs, color: boolean): Promise<ExitCode> {
  void color;
  const [loaded, ...more] = await loadScenarios([args.scenario]);
  if (!loaded || more.length > 0) throw new OrdealError('ORDEAL_ERR_USAGE', `a mocks service serves one scenario: ${displayPath(args.scenario)} holds ${more.length + (loaded ? 1 : 0)}`);
  if (!Number.isInteger(args.segments) || args.segments < 1) throw new OrdealError('ORDEAL_ERR_USAGE', `--segments must be a whole number ≥ 1, got ${args.segments}`);
  if (args.seed !== undefined && (!Number.isInteger(args.seed) || args.seed < 0)) throw new OrdealError('ORDEAL_ERR_USAGE', `--seed must be a whole number ≥ 0, got ${args.seed}`);
  if ((args.targetCommand || args.flaws) && !args.startShop) throw new OrdealError('ORDEAL_ERR_USAGE', '--target-command and --flaws describe the shop the service starts: add --start-shop');
  const flaws = args.flaws ? resolveBuiltInFlaws(args.flaws) : [];
  const outDir = resolve(args.out);
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const service = await serveMocks({
    scenario: loaded.scenario,
    outDir,
    segments: args.segments,
    seed: args.seed,
    controlPort: args.controlPort,
    host: args.host,
    advertisedHost: args.advertise,
    basePort: args.basePort,
    shopDataDir: args.shopData === undefined ? undefined : resolve(args.shopData),
    // Every pod of a Kubernetes run gets the same key from one Secret.
    key: process.env.ORDEAL_MOCKS_SERVICE_KEY || undefined,
    ...(args.startShop ? { startShop: { ...(args.targetCommand ? { command: args.targetCommand } : {}), flaws } } : {}),
    log,
  });
  process.stdout.write(`${join(outDir, SERVICE_FILE)}\n`);
  const interrupt = new AbortController();
  const stopHandling = handleStopSignals({ controller: interrupt, write: (text) => process.stderr.write(text) });
  interrupt.signal.addEventListener('abort', () => void service.close('interrupted'), { once: true });
  try {
    await service.finished;
  } finally {
    stopHandling();
  }
  if (interrupt.signal.aborted) return signalExitCode(interrupt.signal.reason as InterruptSignal);
  log(`mocks service ${service.finish === 'completed' ? 'done: every segment finished' : `stopped (${service.finish})`}; its journal is in ${displayPath(join(outDir, loaded.scenario.name))}`);
  return service.finish === 'completed' ? EXIT.passed : EXIT.gateFailed;
}

/** `--mocks-service FILE|URL`: a service's `mocks-service.json`, or its control URL with the key in ORDEAL_MOCKS_SERVICE_KEY. */
export async function readServiceAddress(value: string, env: NodeJS.ProcessEnv = process.env, waitMs = 0): Promise<MocksServiceAddress> {
  if (/^https?:\/\//.test(value)) {
    const key = env.ORDEAL_MOCKS_SERVICE_KEY;
    if (!key) throw new OrdealError('ORDEAL_ERR_USAGE', `--mocks-service ${value}: a URL needs the service's key in ORDEAL_MOCKS_SERVICE_KEY (from its ${SERVICE_FILE})`);
    return { url: value, key, waitMs };
  }
  const path = value.endsWith('.json') ? value : join(value, SERVICE_FILE);
  let file: Partial<ServiceFile>;
  try {
    file = JSON.parse(await readFile(path, 'utf8')) as Partial<ServiceFile>;
  } catch (error) {
    throw new OrdealError('ORDEAL_ERR_MOCKS_SERVICE', `--mocks-service ${displayPath(path)}: cannot read it (${(error as Error).message})`);
  }
  if (typeof file.control !== 'string' || typeof file.key !== 'string') throw new OrdealError('ORDEAL_ERR_MOCKS_SERVICE', `${displayPath(path)}: not a ${SERVICE_FILE} (it needs "control" and "key")`);
  return { url: file.control, key: file.key, waitMs };
}

export interface SegmentCommandArgs {
  scenarios: LoadedScenario[];
  outDir: string;
  segment: Segment;
  mocksService: MocksServiceAddress;
  replay: string;
  mode: ProgressMode;
  progress: ProgressDisplay;
  seed: number | undefined;
  flaws: readonly string[];
  target: LoadedTarget | undefined;
  targetCommand: string | undefined;
}

/** `ordeal run --mocks-service …`: one driver segment; Ctrl-C stops it as it stops a run. */
export async function runSegmentCommand(args: SegmentCommandArgs): Promise<ExitCode> {
  const interrupt = new AbortController();
  const stopHandling = handleStopSignals({
    controller: interrupt,
    write: (text) => {
      if (args.mode === 'tty') args.progress.close();
      process.stderr.write(text);
    },
  });
  let result: SegmentRunResult;
  try {
    result = await runSegment({
      scenarios: args.scenarios,
      outDir: args.outDir,
      segment: args.segment,
      mocksService: args.mocksService,
      replay: args.replay,
      flaws: args.flaws,
      ...(args.seed === undefined ? {} : { seed: args.seed }),
      ...(args.target ? { target: args.target } : {}),
      ...(args.targetCommand ? { targetCommand: args.targetCommand } : {}),
      onProgress: (snapshot) => args.progress.update(snapshot),
      signal: interrupt.signal,
    });
  } finally {
    args.progress.close();
    stopHandling();
  }
  process.stdout.write(`${result.summary}\n`);
  if (result.previousRunMovedTo) process.stderr.write(`The earlier run in ${displayPath(result.outDir)} was moved to ${displayPath(result.previousRunMovedTo)}\n`);
  return result.exitCode;
}

export interface MergeCommandArgs {
  serviceDir: string;
  segmentDirs: string[];
  out: string;
  minScore?: number;
  /** Wait this long (ms) for the service and every segment to finish first (a merge pod). */
  waitMs?: number;
}

/** `ordeal merge`: exit 0 / 1 by the merged run's gate. */
export async function mergeCommand(args: MergeCommandArgs, color: boolean): Promise<ExitCode> {
  if (args.segmentDirs.length === 0) throw new OrdealError('ORDEAL_ERR_USAGE', 'give the mocks service\'s folder, then every segment\'s run folder');
  if (args.waitMs !== undefined && args.waitMs > 0) {
    const interrupt = new AbortController();
    const stopHandling = handleStopSignals({ controller: interrupt, write: (text) => process.stderr.write(text) });
    try {
      await waitForRuns({ serviceDir: resolve(args.serviceDir), segmentDirs: args.segmentDirs.map((dir) => resolve(dir)), waitMs: args.waitMs, signal: interrupt.signal, log: (line) => process.stderr.write(`${line}\n`) });
    } finally {
      stopHandling();
    }
    if (interrupt.signal.aborted) return signalExitCode(interrupt.signal.reason as InterruptSignal);
  }
  const result = await mergeRuns({
    serviceDir: resolve(args.serviceDir),
    segmentDirs: args.segmentDirs.map((dir) => resolve(dir)),
    outDir: resolve(args.out),
    ...(args.minScore === undefined ? {} : { minScore: args.minScore }),
  });
  process.stdout.write(`${renderConsole(result.report, { color })}\n`);
  const clocks = result.clocks.map((clock) => `${clock.segment} ${clock.offsetMs >= 0 ? '+' : ''}${clock.offsetMs.toFixed(1)} ms (drift ${clock.driftMs.toFixed(1)} ms, ±${(clock.maxRttMs / 2).toFixed(1)})`);
  process.stdout.write(`Clocks moved onto the mocks service's: ${clocks.join('; ')}\n`);
  const reports = REPORT_FORMATS.map((format) => join(result.outDir, REPORT_FILES[format]));
  process.stdout.write(`Reports: ${reports.map((path) => displayPath(path)).join(', ')}\n`);
  return result.exitCode === 0 ? EXIT.passed : EXIT.gateFailed;
}

export interface ManifestCommandArgs {
  scenario: string;
  segments: number;
  image?: string;
  name?: string;
  namespace?: string;
  seed?: number;
  flaws?: string;
  targetCommand?: string;
  basePort?: number;
  storageSize?: string;
  storageClass?: string;
  minScore?: number;
}

/** `ordeal k8s manifest`: prints the run's objects as YAML (stdout), and how to run them (stderr). */
export async function manifestCommand(args: ManifestCommandArgs): Promise<ExitCode> {
  const [loaded, ...more] = await loadScenarios([args.scenario]);
  if (!loaded || more.length > 0) throw new OrdealError('ORDEAL_ERR_USAGE', `a distributed run runs one scenario: ${displayPath(args.scenario)} holds ${more.length + (loaded ? 1 : 0)}`);
  if (args.flaws && args.targetCommand) throw new OrdealError('ORDEAL_ERR_USAGE', '--flaws switches on flaws of the built-in shop; drop it or --target-command');
  if (args.seed !== undefined && (!Number.isInteger(args.seed) || args.seed < 0)) throw new OrdealError('ORDEAL_ERR_USAGE', `--seed must be a whole number ≥ 0, got ${args.seed}`);
  const manifest = buildKubernetesManifest({
    scenario: loaded.scenario,
    scenarioInput: loaded.input,
    segments: args.segments,
    image: args.image,
    name: args.name,
    namespace: args.namespace,
    seed: args.seed,
    flaws: args.flaws ? resolveBuiltInFlaws(args.flaws) : undefined,
    shopCommand: args.targetCommand,
    basePort: args.basePort,
    storageSize: args.storageSize,
    storageClass: args.storageClass,
    minScore: args.minScore,
  });
  process.stdout.write(renderKubernetesManifest(manifest));
  process.stderr.write(`${manifest.objects.length} objects for ${loaded.scenario.name} in ${args.segments} segment${args.segments === 1 ? '' : 's'}. Save them, then:\n${manifest.commands.map((line) => `  ${line}`).join('\n')}\n`);
  return EXIT.passed;
}
