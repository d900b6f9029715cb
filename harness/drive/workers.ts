/**
 * Every core on one machine (`ordeal run --workers N`): each scenario runs as a distributed run
 * does on Kubernetes — the mocks (and the shop they start) in a process of their own
 * (`ordeal mocks serve --segments N --start-shop`), N driver processes each running one segment of
 * the buyers (`ordeal run --segment i/N --mocks-service …`), and the merge of their journals into
 * the run folder — the same commands, the same code path, so the distributed case is exercised
 * on every such run. The raw journals stay in `<out>/_workers/<scenario>/` for inspection.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { EXIT, OrdealError } from '../../core/errors.js';
import { renderConsole } from '../../reports/console.js';
import { mergeScenario } from '../merge/merge.js';
import { writeReports } from '../output/write.js';
import { assembleReport, scoreScenarioDir, writeRunRecord, type ScoredScenario } from '../score/rescore.js';
import { interruptedExitCode, interruptionOf, type FinishReason } from './interrupt.js';
import { prepareOutDir } from './out-dir.js';
import { addProcessGroupSource, forgetProcessGroup, trackProcessGroup } from './process-groups.js';
import { SHOP_PID_FILE } from '../mocks-service/protocol.js';
import { runFields, type RunOptions, type RunResult } from './run.js';
import { packageRoot } from './target.js';

/** Interrupted, the service is stopped once the drivers have, or after this long (ms). */
const STOP_SERVICE_AFTER_MS = 15_000;

/** At most this many driver processes per scenario. */
export const MAX_WORKERS = 64;

export interface WorkersRunOptions extends Omit<RunOptions, 'mocksService' | 'segment' | 'concurrency'> {
  /** Driver processes per scenario (≥ 2; 1 is a plain `run`). */
  workers: number;
}

/** `--workers N|auto`: a whole number from 1 to 64, or `auto` (the cores this process may use). */
export function parseWorkers(text: string | number): number {
  if (text === 'auto') return Math.min(MAX_WORKERS, availableParallelism());
  const count = Number(text);
  if (!Number.isInteger(count) || count < 1 || count > MAX_WORKERS) throw new OrdealError('ORDEAL_ERR_USAGE', `--workers must be a whole number from 1 to ${MAX_WORKERS}, or auto; got ${text}`);
  return count;
}

/** What `--workers` cannot carry yet: the options a worker process is not given. */
function refuseUnsupported(options: WorkersRunOptions): void {
  const unsupported = [
    options.target ? '--target' : '',
    options.protocol ? '--protocol' : '',
    options.intercept ? '--intercept' : '',
    options.baseline ? '--baseline' : '',
  ].filter((flag) => flag !== '');
  if (unsupported.length > 0) throw new OrdealError('ORDEAL_ERR_USAGE', `--workers does not take ${unsupported.join(', ')} yet: run without --workers, or as separate segments (README: "Running on Kubernetes")`);
}

/** Runs every scenario with `workers` driver processes and its mocks in a process of their own; see the module comment. */
export async function runWithWorkers(options: WorkersRunOptions): Promise<RunResult> {
  refuseUnsupported(options);
  const workers = options.workers;
  const { outDir, previousRunMovedTo } = await prepareOutDir(options.outDir);
  const log = options.log ?? (() => undefined);
  const scored: ScoredScenario[] = [];
  const outcomes: Array<{ finished: FinishReason } | undefined> = [];
  for (const loaded of options.scenarios) {
    if (options.signal?.aborted) {
      outcomes.push(undefined);
      continue;
    }
    const name = loaded.scenario.name;
    // `_workers`: no scenario name starts with "_", so it never meets a scenario's folder.
    const workDir = join(outDir, '_workers', name);
    await mkdir(workDir, { recursive: true });
    log(`▶ ${name}: ${workers} driver processes, the mocks and the shop in one more`);
    const common = [...(options.seed === undefined ? [] : ['--seed', String(options.seed)])];
    const serviceDir = join(workDir, 'mocks');
    const service = startChild(
      ['mocks', 'serve', loaded.file, '--out', serviceDir, '--segments', String(workers), '--start-shop', ...common, ...(options.targetCommand ? ['--target-command', options.targetCommand] : []), ...((options.flaws ?? []).length > 0 ? ['--flaws', (options.flaws ?? []).join(',')] : [])],
      join(workDir, 'mocks.log'),
    );
    const drivers: Array<{ child: ChildProcess; exited: Promise<number> }> = [];
    // Interrupted: the drivers stop as on Ctrl-C (their segments cut, their journals ended, the
    // service told), then the service ends its journal; what they recorded is merged. The
    // processes have groups of their own, so a terminal's Ctrl-C reaches this process only and
    // the order holds; a second Ctrl-C kills the groups (`handleStopSignals`).
    const stop = (): void => {
      for (const driver of drivers) if (driver.child.exitCode === null) driver.child.kill('SIGINT');
      const driversDone = Promise.all(drivers.map((driver) => driver.exited));
      void Promise.race([driversDone, new Promise((wake) => setTimeout(wake, STOP_SERVICE_AFTER_MS).unref())]).then(() => {
        if (service.child.exitCode === null) service.child.kill('SIGINT');
      });
    };
    options.signal?.addEventListener('abort', stop, { once: true });
    // The shop is the service's child, in a group of its own: a hurried exit must kill it here.
    const forgetShop = addProcessGroupSource(() => [Number(readFileSync(join(serviceDir, SHOP_PID_FILE), 'utf8'))]);
    try {
      await Promise.race([serviceReady(service.child), service.exited.then((code) => Promise.reject(new OrdealError(code === EXIT.targetUnreachable ? 'ORDEAL_ERR_TARGET_START' : 'ORDEAL_ERR_HARNESS', `${name}: the mocks service exited (${code}) before it served; see ${join(workDir, 'mocks.log')}`)))]);
      const segmentDirs = Array.from({ length: workers }, (_, index) => join(workDir, `segment-${index}`));
      for (const [index, dir] of segmentDirs.entries()) {
        drivers.push(startChild(['run', loaded.file, '--segment', `${index}/${workers}`, '--mocks-service', serviceDir, '--out', dir, '--quiet', ...common], join(workDir, `segment-${index}.log`)));
      }
      const codes = await Promise.all(drivers.map((driver) => driver.exited));
      const serviceCode = await service.exited;
      const cut = codes.some((code) => code !== EXIT.passed) || serviceCode !== EXIT.passed;
      if (cut) log(`  ! ${name}: a process did not run to its end (drivers ${codes.join(', ')}, mocks ${serviceCode}); merging what they recorded`);
      const merged = await mergeScenario({ serviceDir, segmentDirs, outDir });
      const result = await scoreScenarioDir(merged.runDir, options.minScore === undefined ? {} : { minScore: options.minScore });
      scored.push(result);
      outcomes.push({ finished: options.signal?.aborted ? 'interrupted' : 'completed' });
      log(`  ${result.gate.passed ? '✔' : '✘'} ${name}: score ${result.score.score === null ? 'n/a' : result.score.score.toFixed(1)}${result.gate.passed ? '' : ` — ${result.gate.reasons.join('; ')}`}`);
    } finally {
      options.signal?.removeEventListener('abort', stop);
      stop();
      await Promise.all([service.exited, ...drivers.map((driver) => driver.exited)]);
      forgetShop();
    }
  }
  const interrupted = interruptionOf(options.signal, options.scenarios.map((loaded) => loaded.scenario.name), outcomes);
  const record = await writeRunRecord(outDir, runFields(options, scored.map((each) => each.scenario.name), interrupted));
  const report = assembleReport(scored, record);
  await writeReports(outDir, report);
  const exitCode = interrupted ? interruptedExitCode(interrupted) : report.gate.passed ? EXIT.passed : EXIT.gateFailed;
  return { report, exitCode, outDir, summary: renderConsole(report, { color: options.color ?? false }), ...(previousRunMovedTo ? { previousRunMovedTo } : {}) };
}

/** Starts `ordeal ARGS` as a child process, its output into `logFile`. */
function startChild(args: readonly string[], logFile: string): { child: ChildProcess; exited: Promise<number> } {
  const cli = resolve(packageRoot(), 'dist', 'harness', 'cli.js');
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' }, detached: true });
  const group = child.pid;
  if (group !== undefined) trackProcessGroup(group);
  const log = createWriteStream(logFile);
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const exited = once(child, 'exit').then(([code, signal]) => {
    if (group !== undefined) forgetProcessGroup(group);
    log.end();
    return typeof code === 'number' ? code : signal === 'SIGINT' ? 130 : EXIT.harnessFault;
  });
  return { child, exited };
}

/** Resolves once the service prints the path of its mocks-service.json: it serves. */
function serviceReady(child: ChildProcess): Promise<void> {
  return new Promise((ready) => {
    let out = '';
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      if (!out.includes('\n')) return;
      child.stdout!.off('data', onData);
      ready();
    };
    child.stdout!.on('data', onData);
  });
}
