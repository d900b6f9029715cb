#!/usr/bin/env node
/**
 * The `ordeal` command: a thin layer that parses arguments and calls the library.
 * Exit codes: 0 gate passed · 1 gate failed · 2 invalid input or usage · 3 target unreachable · 4 harness fault ·
 * 130 / 143 / 129 interrupted by SIGINT / SIGTERM / SIGHUP (what ran is scored and reported).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import yargs from 'yargs';
import { writeStepSummary } from './cli/github.js';
import { renderMarkdown } from '../reports/markdown.js';
import { hideBin } from 'yargs/helpers';
import { renderComparison, renderComparisonMarkdown } from '../reports/compare.js';
import { renderConsole } from '../reports/console.js';
import { createProgressDisplay, progressMode } from './cli/progress.js';
import { handleStopSignals } from './cli/signals.js';
import { REPORT_FILES, REPORT_FORMATS, writeReports, type ReportFormat } from './output/write.js';
import { compareReports, DEFAULT_THRESHOLD, loadReport, rebuildRunReport } from './score/compare.js';
import { EXIT, OrdealError, isOrdealError, type ExitCode } from '../core/errors.js';
import { VERSION } from '../core/version.js';
import { displayPath, loadScenarioFile, loadScenarios } from './scenario/loader.js';
import { run, type RunOptions, type RunResult } from './drive/run.js';
import { parseWorkers, runWithWorkers } from './drive/workers.js';
import { parseProtocols } from './drive/provider.js';
import { reportJsonSchema } from '../core/report-schema.js';
import { PAYMENT_PROTOCOLS, scenarioJsonSchema, type PaymentProtocol } from '../core/scenario-schema.js';
import { packageRoot, resolveBuiltInFlaws } from './drive/target.js';
import { loadTarget, resolveProfileFlaws } from './targets/profile.js';
import { formatDotenv, shopSettings } from './targets/shop-env.js';
import { targetProfileJsonSchema } from '../core/target-schema.js';
import { formatSegment, parseSegment } from '../core/segments.js';
import { parseDuration } from '../core/units.js';
import { networkScope } from '../core/network-scope.js';
import { manifestCommand, mergeCommand, readServiceAddress, runSegmentCommand, serveCommand } from './cli/distributed.js';
import { DEFAULT_BASE_PORT } from './k8s/manifest.js';

const EXIT_CODES_TEXT = `Exit codes:
  0  the gate passed
  1  the gate failed: score, invariant, steady state,
     or a regression against --baseline
  2  invalid input or usage: bad scenario, unknown flag value,
     unreadable baseline
  3  the target shop could not be started or reached
  4  Ordeal itself failed
  130, 143, 129  interrupted by Ctrl-C (SIGINT), SIGTERM or SIGHUP: the running
     scenarios were cut and scored, the rest not run, every
     report written and marked interrupted; a second Ctrl-C
     exits at once`;

const COMPARE_EXIT_CODES_TEXT = `Exit codes:
  0  no regression beyond the threshold
  1  a regression: a score or class drop beyond the threshold,
     an invariant newly broken, or a gate that passed in BASE and fails in NEW
  2  invalid input or usage: a path that is not a report.json or a run folder
  4  Ordeal itself failed`;

const REPORT_EXIT_CODES_TEXT = `Exit codes:
  0  the re-scored gate passed
  1  the re-scored gate failed
  2  invalid input or usage: not a run folder, unknown format
  4  Ordeal itself failed`;

function defaultSuite(): string {
  return join(packageRoot(), 'scenarios');
}

function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
}

function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

const useColor = (stream: NodeJS.WriteStream): boolean => Boolean(stream.isTTY) && !process.env.NO_COLOR;

function checkThreshold(value: number, flag: string): number {
  if (Number.isNaN(value) || value < 0 || value > 100) {
    throw new OrdealError('ORDEAL_ERR_USAGE', `${flag} must be a number of points from 0 to 100, got ${value}`);
  }
  return value;
}

function parseFormats(text: string): ReportFormat[] {
  const formats = text
    .split(',')
    .map((format) => format.trim())
    .filter((format) => format !== '');
  const unknown = formats.filter((format) => !(REPORT_FORMATS as readonly string[]).includes(format));
  if (unknown.length > 0 || formats.length === 0) {
    throw new OrdealError('ORDEAL_ERR_USAGE', `--format takes a comma-separated list of ${REPORT_FORMATS.join(', ')}; got "${text}"`);
  }
  return [...new Set(formats)] as ReportFormat[];
}

/** `--intercept-host HOST=PROTOCOL` values as a route table. */
function parseInterceptHosts(values: readonly string[]): Record<string, PaymentProtocol> {
  const hosts: Record<string, PaymentProtocol> = {};
  for (const value of values) {
    const [host = '', protocol = ''] = value.split('=');
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/i.test(host) || !(PAYMENT_PROTOCOLS as readonly string[]).includes(protocol)) {
      throw new OrdealError('ORDEAL_ERR_USAGE', `--intercept-host takes HOST=PROTOCOL with a host name and one of ${PAYMENT_PROTOCOLS.join(', ')}; got "${value}"`);
    }
    hosts[host.toLowerCase()] = protocol as PaymentProtocol;
  }
  return hosts;
}

export async function main(argv: string[]): Promise<ExitCode> {
  let exitCode: ExitCode = EXIT.passed;
  const parser = yargs(argv)
    .scriptName('ordeal')
    .usage('$0 <command> [options]\n\nChaos-testing harness for card-shop order pipelines.')
    .command(
      'run [paths..]',
      'Run scenarios (files or folders; default: the built-in suite) against a shop',
      (command) =>
        command
          .positional('paths', { type: 'string', array: true, describe: 'Scenario files or folders' })
          .option('flaws', {
            type: 'string',
            describe: 'Flaws to switch on in the built-in shop, comma-separated, or naive for all (the README lists them)',
          })
          .option('seed', { type: 'number', describe: 'Seed for buyers and fault decisions (overrides the scenarios)' })
          .option('protocol', {
            type: 'string',
            describe: `The payment protocol Ordeal speaks to the shop (${PAYMENT_PROTOCOLS.join(', ')}), or several comma-separated for a shop offering several channels, the first its primary (overrides the scenarios' provider.protocol and provider.channels); the shop's keys are written to <out>/<scenario>/keys/`,
          })
          .option('intercept', {
            type: 'boolean',
            default: false,
            describe: 'For a shop whose payment library hard-codes the provider\'s host: give it an intercepting HTTPS proxy and a run-local CA (HTTPS_PROXY, NODE_EXTRA_CA_CERTS, …) that route the providers\' hosts to Ordeal and refuse every other host',
          })
          .option('intercept-host', {
            type: 'string',
            array: true,
            describe: 'With --intercept: another provider host and the protocol it speaks, HOST=PROTOCOL (a shop\'s 易支付 aggregator, e.g. pay.example.cn=epay); repeatable',
          })
          .option('out', { type: 'string', describe: 'Folder the run writes into (default: runs/<timestamp>)' })
          .option('min-score', { type: 'number', describe: 'Fail the gate below this overall score (0–100)' })
          .option('target-command', {
            type: 'string',
            describe: 'Shell command starting a contract-v1 shop (gets PORT, ORDEAL_* URLs and secret); default: the built-in shop',
          })
          .option('target', {
            type: 'string',
            describe: 'A target profile (target.yaml) for a shop that is not contract v1 or keeps its own timers: how it starts (or the URL it already runs at), its timers, its adapter, what it lets Ordeal observe (README: "Testing your own shop")',
          })
          .option('parallel', { type: 'number', default: 1, describe: 'Scenarios run at the same time (each with its own shop and mocks; 1 for a profile that fixes the mocks\' ports)' })
          .option('baseline', {
            type: 'string',
            describe: 'Gate on a baseline too: a report.json or run folder; a regression against it fails the gate (see `ordeal compare`)',
          })
          .option('max-drop', {
            type: 'number',
            default: DEFAULT_THRESHOLD,
            describe: 'With --baseline: points a scenario or class score may drop before it is a regression',
          })
          .option('quiet', { type: 'boolean', default: false, describe: 'No progress display: print only the final report' })
          .option('workers', {
            type: 'string',
            describe: 'Driver processes per scenario, or auto (one per core): the mocks and the shop run in one more process, each driver runs a segment of the buyers, and their journals are merged into one report — the distributed run on one machine (default 1: one process)',
          })
          .option('mocks-service', {
            type: 'string',
            describe: 'Share the mocks of `ordeal mocks serve` (its mocks-service.json, its folder, or its control URL with ORDEAL_MOCKS_SERVICE_KEY) as one segment of a distributed run: records, does not score (`ordeal merge` does); exit 0 when the segment ran to its end',
          })
          .option('mocks-service-wait', {
            type: 'string',
            describe: 'With --mocks-service: how long to keep trying a service that does not answer yet, e.g. 5m (pods start in any order; default: one try)',
          })
          .option('segment', {
            type: 'string',
            describe: 'Run one share of the buyers, INDEX/COUNT counting from 0 (e.g. 0/4 … 3/4): arrivals whose number is INDEX mod COUNT (with --mocks-service the segments share the in-flight cap; alone, 1/COUNT of it); COUNT segments with the same seed together run exactly the whole run\'s buyers (README: "Running on Kubernetes")',
          })
          .epilogue(EXIT_CODES_TEXT),
      async (args) => {
        if (args.target && args.targetCommand) throw new OrdealError('ORDEAL_ERR_USAGE', '--target and --target-command both name the shop; give one');
        const target = args.target ? await loadTarget(args.target) : undefined;
        const flaws = !args.flaws ? [] : target ? resolveProfileFlaws(target, args.flaws) : resolveBuiltInFlaws(args.flaws);
        if (flaws.length > 0 && args.targetCommand) {
          throw new OrdealError('ORDEAL_ERR_USAGE', '--flaws applies to the built-in shop and to profiles that list flaws; drop it or --target-command');
        }
        if (args.seed !== undefined && (!Number.isInteger(args.seed) || args.seed < 0)) {
          throw new OrdealError('ORDEAL_ERR_USAGE', `--seed must be a whole number ≥ 0, got ${args.seed}`);
        }
        if (args.minScore !== undefined && (Number.isNaN(args.minScore) || args.minScore < 0 || args.minScore > 100)) {
          throw new OrdealError('ORDEAL_ERR_USAGE', `--min-score must be between 0 and 100, got ${args.minScore}`);
        }
        if (!Number.isInteger(args.parallel) || args.parallel < 1 || args.parallel > 16) {
          throw new OrdealError('ORDEAL_ERR_USAGE', `--parallel must be a whole number from 1 to 16, got ${args.parallel}`);
        }
        const maxDrop = checkThreshold(args.maxDrop, '--max-drop');
        const segment = args.segment === undefined ? undefined : parseSegment(args.segment);
        const mocksService = args.mocksService === undefined ? undefined : await readServiceAddress(args.mocksService, process.env, durationOption(args.mocksServiceWait, '--mocks-service-wait'));
        const workers = args.workers === undefined ? 1 : parseWorkers(args.workers);
        if (workers > 1 && (mocksService || segment)) throw new OrdealError('ORDEAL_ERR_USAGE', '--workers runs every segment itself: drop --segment and --mocks-service');
        if (workers > 1 && args.parallel !== 1) throw new OrdealError('ORDEAL_ERR_USAGE', '--workers and --parallel both use the cores: give one');
        if (mocksService && (args.baseline || args.parallel !== 1)) throw new OrdealError('ORDEAL_ERR_USAGE', '--mocks-service runs one segment of one scenario: --baseline and --parallel belong to `ordeal merge` and whole runs');
        const interceptHosts = parseInterceptHosts(args.interceptHost ?? []);
        const protocols = args.protocol === undefined ? undefined : parseProtocols(args.protocol);
        if (!args.intercept && Object.keys(interceptHosts).length > 0) throw new OrdealError('ORDEAL_ERR_USAGE', '--intercept-host needs --intercept');
        const paths = args.paths && args.paths.length > 0 ? args.paths : [defaultSuite()];
        const scenarios = await loadScenarios(paths);
        const baseline = args.baseline === undefined ? undefined : { report: await loadReport(args.baseline), threshold: maxDrop, source: displayPath(args.baseline) };
        const outDir = resolve(args.out ?? join('runs', timestamp()));
        const replay = [
          'ordeal run',
          ...paths.map((path) => shellQuote(displayPath(path))),
          ...(args.seed === undefined ? [] : [`--seed ${args.seed}`]),
          ...(args.protocol === undefined ? [] : [`--protocol ${args.protocol}`]),
          ...(args.intercept ? ['--intercept', ...Object.entries(interceptHosts).map(([host, protocol]) => `--intercept-host ${host}=${protocol}`)] : []),
          ...(flaws.length > 0 ? [`--flaws ${flaws.join(',')}`] : []),
          ...(args.targetCommand ? [`--target-command ${shellQuote(args.targetCommand)}`] : []),
          ...(args.target ? [`--target ${shellQuote(displayPath(args.target))}`] : []),
          ...(args.minScore !== undefined ? [`--min-score ${args.minScore}`] : []),
          ...(baseline ? [`--baseline ${shellQuote(baseline.source)}`, `--max-drop ${maxDrop}`] : []),
          ...(segment ? [`--segment ${formatSegment(segment)}`] : []),
          ...(args.mocksService ? [`--mocks-service ${shellQuote(args.mocksService)}`] : []),
          ...(workers > 1 ? [`--workers ${workers}`] : []),
        ].join(' ');
        const mode = progressMode({
            quiet: args.quiet,
            isTTY: Boolean(process.stderr.isTTY),
            env: process.env,
            rows: process.stderr.rows,
          columns: process.stderr.columns,
        });
        const progress = createProgressDisplay({ mode, stream: process.stderr, color: useColor(process.stderr) });
        if (mocksService) {
          exitCode = await runSegmentCommand({ scenarios, outDir, segment: segment ?? { index: 0, count: 1 }, mocksService, replay, mode, progress, seed: args.seed, flaws, target, targetCommand: args.targetCommand });
          return;
        }
        let result: RunResult;
        // Ctrl-C / SIGTERM: the first stops the run gracefully, a second exits at once.
        const interrupt = new AbortController();
        const stopHandling = handleStopSignals({
          controller: interrupt,
          write: (text) => {
            // The live display would redraw over the notice: it ends here, the report follows.
            if (mode === 'tty') progress.close();
            process.stderr.write(text);
          },
        });
        try {
          // Worker processes run quiet: their scenario's progress is one line per step here.
          const workerLog = (line: string): void => void (mode === 'off' ? undefined : process.stderr.write(`${line}\n`));
          const runWith = workers > 1 ? (options: RunOptions) => runWithWorkers({ ...options, workers, log: workerLog }) : run;
          result = await runWith({
            scenarios,
            outDir,
            ...(args.seed === undefined ? {} : { seed: args.seed }),
            ...(protocols === undefined ? {} : { protocol: protocols.protocol, channels: protocols.channels }),
            ...(args.intercept ? { intercept: { hosts: interceptHosts } } : {}),
            flaws,
            ...(args.targetCommand ? { targetCommand: args.targetCommand } : {}),
            ...(target ? { target } : {}),
            ...(args.minScore === undefined ? {} : { minScore: args.minScore }),
            ...(baseline ? { baseline } : {}),
            replay,
            concurrency: args.parallel,
            color: useColor(process.stdout),
            onProgress: (snapshot) => progress.update(snapshot),
            signal: interrupt.signal,
            ...(segment ? { segment } : {}),
          });
        } finally {
          progress.close();
          stopHandling();
        }
        process.stdout.write(`${result.summary}\n`);
        if (result.comparison) {
          process.stdout.write(`Baseline ${baseline?.source ?? ''}:\n${renderComparison(result.comparison, { color: useColor(process.stdout) })}\n\n`);
        }
        const reports = REPORT_FORMATS.map((format) => join(result.outDir, REPORT_FILES[format])).filter((path) => existsSync(path));
        process.stdout.write(`Reports: ${reports.map((path) => displayPath(path)).join(', ')}\n`);
        if (result.previousRunMovedTo) process.stderr.write(`The earlier run in ${displayPath(result.outDir)} was moved to ${displayPath(result.previousRunMovedTo)}\n`);
        // In GitHub Actions, the Markdown report becomes the job summary.
        if (await writeStepSummary(renderMarkdown(result.report))) process.stderr.write('Job summary written to GITHUB_STEP_SUMMARY\n');
        exitCode = result.exitCode;
      },
    )
    .command(
      'report <runDir>',
      'Re-score a finished run from its journals alone (no shop, no mocks) and rewrite its reports',
      (command) =>
        command
          .positional('runDir', { type: 'string', demandOption: true, describe: 'A folder written by `ordeal run`' })
          .option('format', {
            type: 'string',
            default: REPORT_FORMATS.join(','),
            describe: `Formats to write, comma-separated: ${REPORT_FORMATS.join(', ')}`,
          })
          .option('quiet', { type: 'boolean', default: false, describe: 'Print only the paths written' })
          .epilogue(REPORT_EXIT_CODES_TEXT),
      async (args) => {
        const formats = parseFormats(args.format);
        const runDir = resolve(args.runDir);
        const { report, comparison } = await rebuildRunReport(runDir);
        const written = await writeReports(runDir, report, formats);
        if (!args.quiet) {
          process.stdout.write(`${renderConsole(report, { color: useColor(process.stdout) })}\n`);
          if (comparison) process.stdout.write(`${renderComparison(comparison, { color: useColor(process.stdout) })}\n\n`);
        }
        process.stdout.write(`Reports: ${written.map((path) => displayPath(path)).join(', ')}\n`);
        exitCode = report.gate.passed ? EXIT.passed : EXIT.gateFailed;
      },
    )
    .command(
      'compare <base> <new>',
      'Compare two runs (report.json files or run folders): per-scenario and per-class deltas; exit 1 on a regression',
      (command) =>
        command
          .positional('base', { type: 'string', demandOption: true, describe: 'The baseline: a report.json or a run folder' })
          .positional('new', { type: 'string', demandOption: true, describe: 'The run to judge: a report.json or a run folder' })
          .option('threshold', {
            alias: 'max-drop',
            type: 'number',
            default: DEFAULT_THRESHOLD,
            describe: 'Points a scenario or class score may drop before it is a regression',
          })
          .option('format', { choices: ['console', 'md'] as const, default: 'console' as const, describe: 'Output: a console table, or Markdown' })
          .epilogue(COMPARE_EXIT_CODES_TEXT),
      async (args) => {
        const threshold = checkThreshold(args.threshold, '--threshold');
        const [base, current] = await Promise.all([loadReport(args.base), loadReport(args.new)]);
        const comparison = compareReports(base, current, { threshold });
        const labels = { base: displayPath(args.base), current: displayPath(args.new) };
        process.stdout.write(
          args.format === 'md' ? renderComparisonMarkdown(comparison, { labels }) : `${renderComparison(comparison, { color: useColor(process.stdout), labels })}\n`,
        );
        exitCode = comparison.regressed ? EXIT.gateFailed : EXIT.passed;
      },
    )
    .command(
      'validate <file>',
      'Check a scenario file without running it',
      (command) => command.positional('file', { type: 'string', demandOption: true }).epilogue(EXIT_CODES_TEXT),
      async (args) => {
        const scenario = await loadScenarioFile(args.file);
        process.stdout.write(`${displayPath(args.file)}: valid scenario "${scenario.name}"\n`);
      },
    )
    .command(
      'schema <kind>',
      'Print a JSON Schema: scenario or target (a target profile), for editors; or report (report.json, for tools reading it)',
      (command) => command.positional('kind', { choices: ['scenario', 'target', 'report'] as const, demandOption: true }),
      (args) => {
        const schema = args.kind === 'report' ? reportJsonSchema() : args.kind === 'target' ? targetProfileJsonSchema() : scenarioJsonSchema();
        process.stdout.write(`${JSON.stringify(schema, null, 2)}\n`);
      },
    )
    .command(
      'target',
      'Target profile tools: `target env PROFILE` prints the settings to start an attached shop with',
      (command) =>
        command
          .command(
            'env <profile>',
            'Print the shop\'s settings (the profile\'s start.env) with every placeholder filled from its fixed mock ports and kept keys (made on first use), as NAME=value lines for a .env file',
            (sub) =>
              sub
                .positional('profile', { type: 'string', demandOption: true, describe: 'A target profile with mocks.ports and mocks.keys' })
                .option('flaws', { type: 'string', describe: 'The profile\'s flaws to switch on, comma-separated, or naive for all (fills ${flaws})' })
                .epilogue(EXIT_CODES_TEXT),
            async (args) => {
              const target = await loadTarget(args.profile);
              const flaws = args.flaws ? resolveProfileFlaws(target, args.flaws) : [];
              process.stdout.write(formatDotenv(await shopSettings(target, { flaws })));
            },
          )
          .demandCommand(1, 'Name a target command: env.'),
    )
    .command(
      'mocks',
      'The mocks as a service for a distributed run: `mocks serve SCENARIO` (README: "Running on Kubernetes")',
      (command) =>
        command
          .command(
            'serve <scenario>',
            'Serve the provider, supplier, risk and notify mocks of one scenario for several driver segments (`ordeal run --segment i/n --mocks-service DIR`): one ledger, one fault plan, its own journal; ends when every segment is done',
            (sub) =>
              sub
                .positional('scenario', { type: 'string', demandOption: true, describe: 'The scenario file the drivers run' })
                .option('out', { type: 'string', demandOption: true, describe: 'The service\'s folder: its journal, mocks-service.json (control URL and key), shop.env (the shop\'s settings)' })
                .option('segments', { type: 'number', default: 1, describe: 'Driver segments to wait for before the load starts' })
                .option('start-shop', { type: 'boolean', default: false, describe: 'Start the shop beside the mocks (the built-in reference shop, or --target-command) and give the drivers its URL' })
                .option('target-command', { type: 'string', describe: 'With --start-shop: a contract-v1 shop\'s start command' })
                .option('flaws', { type: 'string', describe: 'With --start-shop: flaws of the built-in shop to switch on' })
                .option('seed', { type: 'number', describe: 'Seed for the fault decisions (the drivers must use the same)' })
                .option('control-port', { type: 'number', describe: 'The control API\'s port (default: one the OS picks)' })
                .option('base-port', { type: 'number', describe: 'Fixed ports from this one up: control, payment, stock, risk, notify, smtp, smtps, the shop (a Kubernetes Service names them)' })
                .option('host', { type: 'string', describe: 'Interface to bind: loopback (default), or 0.0.0.0 in a pod with ORDEAL_NETWORK=cluster' })
                .option('advertise', { type: 'string', describe: 'The name drivers and the shop reach the service at (the Kubernetes Service\'s name); needed with --host 0.0.0.0' })
                .option('shop-data', { type: 'string', describe: 'With --start-shop: the shop\'s data folder (a pod\'s own disk rather than a shared volume)' })
                .epilogue(EXIT_CODES_TEXT),
            async (args) => {
              exitCode = await serveCommand(
                {
                  scenario: args.scenario,
                  out: args.out,
                  segments: args.segments,
                  startShop: args.startShop,
                  ...(args.targetCommand ? { targetCommand: args.targetCommand } : {}),
                  ...(args.flaws ? { flaws: args.flaws } : {}),
                  ...(args.seed === undefined ? {} : { seed: args.seed }),
                  controlPort: args.controlPort,
                  basePort: args.basePort,
                  host: args.host,
                  advertise: args.advertise,
                  shopData: args.shopData,
                },
                useColor(process.stdout),
              );
            },
          )
          .demandCommand(1, 'Name a mocks command: serve.'),
    )
    .command(
      'k8s',
      'A distributed run on Kubernetes: `k8s manifest SCENARIO --segments N` (README: "Running on Kubernetes")',
      (command) =>
        command
          .command(
            'manifest <scenario>',
            'Print the Kubernetes objects of one distributed run (mocks service and shop, an Indexed Job of driver segments, the merge, a Secret, a ConfigMap, a volume, a NetworkPolicy) as YAML',
            (sub) =>
              sub
                .positional('scenario', { type: 'string', demandOption: true, describe: 'The scenario file (one scenario)' })
                .option('segments', { type: 'number', demandOption: true, describe: 'Driver pods, one segment each' })
                .option('image', { type: 'string', describe: `The Ordeal image (the repository's Dockerfile; default ordeal:${VERSION})` })
                .option('name', { type: 'string', describe: 'Prefix of every object\'s name (default ordeal-<scenario>)' })
                .option('namespace', { type: 'string', describe: 'The namespace (default: kubectl\'s)' })
                .option('seed', { type: 'number', describe: 'Seed for every pod (default: the scenario\'s)' })
                .option('flaws', { type: 'string', describe: 'Flaws of the built-in shop to switch on' })
                .option('target-command', { type: 'string', describe: 'A contract-v1 shop\'s start command, run in the mocks pod (the image must hold the shop)' })
                .option('base-port', { type: 'number', describe: `The mocks service's first port (default ${DEFAULT_BASE_PORT})` })
                .option('storage-size', { type: 'string', describe: 'The shared volume\'s size (default 1Gi)' })
                .option('storage-class', { type: 'string', describe: 'A storage class with ReadWriteMany (default: the cluster\'s)' })
                .option('min-score', { type: 'number', describe: 'Override the scenario\'s gate.minScore in the merge' }),
            async (args) => {
              const { scenario, segments, image, name, namespace, seed, flaws, targetCommand, basePort, storageSize, storageClass } = args;
              const minScore = args.minScore === undefined ? undefined : checkThreshold(args.minScore, '--min-score');
              exitCode = await manifestCommand({ scenario, segments, image, name, namespace, seed, flaws, targetCommand, basePort, storageSize, storageClass, minScore });
            },
          )
          .demandCommand(1, 'Name a k8s command: manifest.'),
    )
    .command(
      'merge <serviceDir> <segmentDirs..>',
      'Fold a distributed run — the mocks service\'s folder and every segment\'s run folder — into one run folder and one report, clocks aligned; exit by its gate',
      (command) =>
        command
          .positional('serviceDir', { type: 'string', demandOption: true, describe: 'The folder `ordeal mocks serve --out` wrote' })
          .positional('segmentDirs', { type: 'string', array: true, demandOption: true, describe: 'Every segment\'s `ordeal run --out` folder' })
          .option('out', { type: 'string', demandOption: true, describe: 'Where the merged run folder and its reports are written' })
          .option('min-score', { type: 'number', describe: 'Override the scenario\'s gate.minScore' })
          .option('wait', { type: 'string', describe: 'First wait this long, e.g. 30m, for the service and every segment to finish (a merge pod started with the others)' })
          .epilogue(REPORT_EXIT_CODES_TEXT),
      async (args) => {
        exitCode = await mergeCommand(
          {
            serviceDir: args.serviceDir,
            segmentDirs: args.segmentDirs,
            out: args.out,
            ...(args.minScore === undefined ? {} : { minScore: checkThreshold(args.minScore, '--min-score') }),
            waitMs: durationOption(args.wait, '--wait'),
          },
          useColor(process.stdout),
        );
      },
    )
    .demandCommand(1, 'Name a command: run, report, compare, validate, schema, target, mocks, merge or k8s.')
    .strict()
    .epilogue(EXIT_CODES_TEXT)
    .help()
    .version('version', "Print Ordeal's version", VERSION)
    .alias('version', 'v')
    .fail((message, error) => {
      if (error) throw error;
      throw new OrdealError('ORDEAL_ERR_USAGE', message);
    });

  try {
    // A mistyped ORDEAL_NETWORK is a usage error before anything starts, not a refusal mid-run.
    networkScope();
    await parser.parseAsync();
  } catch (error) {
    if (isOrdealError(error)) {
      process.stderr.write(`${error.format()}\n`);
      return error.exitCode;
    }
    process.stderr.write(`ORDEAL_ERR_HARNESS: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT.harnessFault;
  }
  return exitCode;
}


/** A duration option (`90s`, `5m`) in ms; absent: 0. */
function durationOption(value: string | undefined, flag: string): number {
  if (value === undefined) return 0;
  const ms = parseDuration(value);
  if (ms === undefined || ms < 0 || ms > 24 * 3_600_000) throw new OrdealError('ORDEAL_ERR_USAGE', `${flag} must be a duration up to 24h such as 90s or 5m, got "${value}"`);
  return ms;
}


main(hideBin(process.argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`ORDEAL_ERR_HARNESS: ${String(error)}\n`);
    process.exitCode = EXIT.harnessFault;
  },
);
