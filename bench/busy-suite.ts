/**
 * The default suite's gate on a busy machine: `ordeal run scenarios/ --parallel 2` (what
 * `npm start` runs) beside `--hogs` busy-loop processes, each pinned to nothing and spinning for
 * the whole run, against a quiet run of the same suite in the same invocation. A gate that fails
 * on a busy CI runner is a gate people turn off; this shows whether ours does.
 *
 *   npm run bench:busy [-- --hogs 2 --repeats 1 --quiet true]
 *
 * Every hog spins until the suite ends or for at most `--hog-limit` seconds (default 1200), then
 * exits by itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { log, numberArg, parseArgs, readJson, RESULTS_DIR, ROOT, runMain, table, writeResult } from './lib.js';

interface ScenarioLine {
  name: string;
  passed: boolean;
  score: number | null;
  steady: string;
  caughtByCrash: number;
  reasons: string[];
}

interface SuiteRun {
  label: string;
  hogs: number;
  exitCode: number;
  seconds: number;
  passed: number;
  scenarios: ScenarioLine[];
}

interface ReportShape {
  gate: { passed: boolean };
  scenarios: Array<{
    name: string;
    score: number | null;
    gate: { passed: boolean; reasons: string[] };
    steadyState: { succeeded: number; orders: number; successRate: number; caughtByCrash?: number };
  }>;
}

function startHog(limitSeconds: number): ChildProcess {
  // A tight loop in its own process: one core's worth of contention, bounded in time.
  const source = `const end = Date.now() + ${limitSeconds * 1000}; let x = 0; while (Date.now() < end) { x = (x + 1) % 1e9; }`;
  return spawn(process.execPath, ['-e', source], { stdio: 'ignore' });
}

function runSuite(outDir: string): Promise<number> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'harness', 'cli.js'), 'run', join(ROOT, 'scenarios'), '--parallel', '2', '--out', outDir, '--quiet'], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const timer = setTimeout(() => child.kill('SIGINT'), 30 * 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolveRun(code ?? 1);
    });
    child.once('error', reject);
  });
}

async function measure(label: string, hogs: number, hogLimit: number): Promise<SuiteRun> {
  const outDir = join(RESULTS_DIR, 'busy-suite', label);
  rmSync(outDir, { recursive: true, force: true });
  const hogProcesses = Array.from({ length: hogs }, () => startHog(hogLimit));
  const started = Date.now();
  let exitCode: number;
  try {
    exitCode = await runSuite(outDir);
  } finally {
    for (const hog of hogProcesses) hog.kill('SIGKILL');
  }
  const seconds = (Date.now() - started) / 1000;
  const report = readJson<ReportShape>(join(outDir, 'report.json'));
  const scenarios = report.scenarios.map((scenario) => ({
    name: scenario.name,
    passed: scenario.gate.passed,
    score: scenario.score,
    steady: `${scenario.steadyState.succeeded}/${scenario.steadyState.orders}`,
    caughtByCrash: scenario.steadyState.caughtByCrash ?? 0,
    reasons: scenario.gate.reasons,
  }));
  const run: SuiteRun = { label, hogs, exitCode, seconds, passed: scenarios.filter((scenario) => scenario.passed).length, scenarios };
  log(`${label}: exit ${exitCode}, ${run.passed}/${scenarios.length} passed in ${seconds.toFixed(0)} s`);
  return run;
}

async function main(): Promise<void> {
  const args = parseArgs();
  const hogs = numberArg(args, 'hogs', 2);
  const repeats = numberArg(args, 'repeats', 1);
  const hogLimit = numberArg(args, 'hog-limit', 1200);
  const runs: SuiteRun[] = [];
  if (args.get('quiet') !== 'false') runs.push(await measure('quiet', 0, hogLimit));
  for (let repeat = 0; repeat < repeats; repeat++) runs.push(await measure(`busy-${hogs}-${repeat}`, hogs, hogLimit));
  const names = runs[0]?.scenarios.map((scenario) => scenario.name) ?? [];
  const rows = names.map((name) => [
    name,
    ...runs.map((run) => {
      const line = run.scenarios.find((scenario) => scenario.name === name);
      if (!line) return '–';
      const crash = line.caughtByCrash > 0 ? ` (${line.caughtByCrash} caught by crash)` : '';
      return `${line.passed ? '✔' : '✘'} ${line.score === null ? 'n/a' : line.score.toFixed(1)} steady ${line.steady}${crash}`;
    }),
  ]);
  process.stdout.write(
    `\nThe default suite (ordeal run scenarios/ --parallel 2) beside busy-loop processes\n\n${table(['scenario', ...runs.map((run) => `${run.label} (${run.hogs} hogs)`)], rows)}\n\n` +
      runs.map((run) => `${run.label}: exit ${run.exitCode}, ${run.passed}/${run.scenarios.length} passed, ${run.seconds.toFixed(0)} s`).join('\n') +
      '\n' +
      runs
        .flatMap((run) => run.scenarios.filter((scenario) => !scenario.passed).map((scenario) => `${run.label} ${scenario.name}: ${scenario.reasons.join('; ')}`))
        .join('\n') +
      '\n',
  );
  writeResult('busy-suite', { hogs, repeats, runs });
}

runMain(main);
