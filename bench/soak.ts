/**
 * Soak: one long run at a moderate rate against the reference shop (bench/scenarios/soak.yaml: a
 * few faults and buyer mistakes throughout), sampling every `--every` seconds the harness's and the
 * shop's RSS and open file descriptors and the journal's write rate. A harness that leaks memory,
 * sockets or timers shows it here as a slope; a flat run shows none.
 *
 *   npm run bench:soak [-- --minutes 30 --rate 40 --every 10]
 *
 * The run is the CLI's (`ordeal run`), as a user runs it; it ends by itself after the scenario's
 * load, settle and deadline, and the bench kills it past `minutes + 10` minutes.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { JOURNAL_FILE } from '../core/journal.js';
import { descendantUsage, log, numberArg, parseArgs, RESULTS_DIR, ROOT, round, runMain, SCENARIOS_DIR, table, writeResult } from './lib.js';

interface Sample {
  /** Seconds since the run started. */
  at: number;
  harnessRssMiB: number;
  harnessFds: number;
  shopRssMiB: number;
  shopFds: number;
  journalMiB: number;
  /** Journal events written per second since the previous sample. */
  eventsPerSecond: number;
}

function rssMiB(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((entry) => entry.startsWith('VmRSS:'));
    return line ? Number(line.split(/\s+/)[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** Newlines in `path` from byte `from` on: journal events written since the last look. */
function countLines(path: string, from: number): { lines: number; size: number } {
  if (!existsSync(path)) return { lines: 0, size: 0 };
  const size = statSync(path).size;
  if (size <= from) return { lines: 0, size };
  const buffer = readFileSync(path).subarray(from, size);
  let lines = 0;
  for (const byte of buffer) if (byte === 10) lines++;
  return { lines, size };
}

/** Least-squares slope of `y` over `x` (per unit of x). */
function slope(points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - meanX) * (y - meanY);
    den += (x - meanX) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** The soak scenario with the rate and duration asked for, written beside the results. */
function scenarioFile(rate: number, minutes: number): string {
  const document = parseDocument(readFileSync(join(SCENARIOS_DIR, 'soak.yaml'), 'utf8'));
  document.setIn(['load', 'stages'], [{ rate: `${rate}/s`, duration: `${minutes}m` }]);
  const dir = join(RESULTS_DIR, 'soak');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'soak.yaml');
  writeFileSync(path, String(document));
  return path;
}

async function main(): Promise<void> {
  const args = parseArgs();
  const minutes = numberArg(args, 'minutes', 30);
  const rate = numberArg(args, 'rate', 40);
  const every = numberArg(args, 'every', 10);
  const outDir = join(RESULTS_DIR, 'soak', 'run');
  rmSync(outDir, { recursive: true, force: true });
  const scenario = scenarioFile(rate, minutes);
  const journal = join(outDir, 'bench-soak', JOURNAL_FILE);
  const started = Date.now();
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'harness', 'cli.js'), 'run', scenario, '--out', outDir, '--quiet'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const killTimer = setTimeout(() => child.kill('SIGINT'), (minutes + 10) * 60_000);
  const exited = new Promise<number>((resolveExit) => child.once('exit', (code) => resolveExit(code ?? 1)));
  const samples: Sample[] = [];
  let journalBytes = 0;
  let lastAt = started;
  let running = true;
  void exited.then(() => {
    running = false;
  });
  while (running) {
    await Promise.race([exited, new Promise((wake) => setTimeout(wake, every * 1000))]);
    if (!running || child.pid === undefined) break;
    const now = Date.now();
    const shop = descendantUsage(child.pid);
    const written = countLines(journal, journalBytes);
    journalBytes = written.size;
    const sample: Sample = {
      at: round((now - started) / 1000, 1),
      harnessRssMiB: round(rssMiB(child.pid), 1),
      harnessFds: openFds(child.pid),
      shopRssMiB: round(shop.rssKiB / 1024, 1),
      shopFds: shop.pids.reduce((sum, pid) => sum + openFds(pid), 0),
      journalMiB: round(written.size / 2 ** 20, 1),
      eventsPerSecond: round(written.lines / ((now - lastAt) / 1000), 0),
    };
    lastAt = now;
    samples.push(sample);
    log(`${sample.at}s harness ${sample.harnessRssMiB} MiB ${sample.harnessFds} fds · shop ${sample.shopRssMiB} MiB ${sample.shopFds} fds · journal ${sample.journalMiB} MiB, ${sample.eventsPerSecond} events/s`);
  }
  const exitCode = await exited;
  clearTimeout(killTimer);
  // Flatness over the load after the first tenth (warm-up: JIT, pools, caches filling).
  const loadSeconds = minutes * 60;
  const steady = samples.filter((sample) => sample.at >= loadSeconds / 10 && sample.at <= loadSeconds);
  const perMinute = (pick: (sample: Sample) => number): number => round(slope(steady.map((sample) => [sample.at / 60, pick(sample)] as const)), 3);
  const range = (pick: (sample: Sample) => number): string => (steady.length === 0 ? '–' : `${Math.min(...steady.map(pick))}–${Math.max(...steady.map(pick))}`);
  const report = JSON.parse(readFileSync(join(outDir, 'report.json'), 'utf8')) as { gate: { passed: boolean }; scenarios: Array<{ load: { arrivals: number; ordersCreated: number } }> };
  const figures = {
    minutes,
    rate,
    every,
    exitCode,
    gatePassed: report.gate.passed,
    arrivals: report.scenarios[0]?.load.arrivals ?? 0,
    ordersCreated: report.scenarios[0]?.load.ordersCreated ?? 0,
    wallMinutes: round((Date.now() - started) / 60_000, 1),
    slopes: {
      harnessRssMiBPerMinute: perMinute((sample) => sample.harnessRssMiB),
      harnessFdsPerMinute: perMinute((sample) => sample.harnessFds),
      shopRssMiBPerMinute: perMinute((sample) => sample.shopRssMiB),
      eventsPerSecondPerMinute: perMinute((sample) => sample.eventsPerSecond),
    },
  };
  process.stdout.write(
    `\nSoak: ${rate} orders/s for ${minutes} min against the reference shop (bench/scenarios/soak.yaml), sampled every ${every} s\n\n` +
      `${table(
        ['', 'range after warm-up', 'slope per minute'],
        [
          ['harness RSS (MiB)', range((sample) => sample.harnessRssMiB), figures.slopes.harnessRssMiBPerMinute],
          ['harness open fds', range((sample) => sample.harnessFds), figures.slopes.harnessFdsPerMinute],
          ['shop RSS (MiB)', range((sample) => sample.shopRssMiB), figures.slopes.shopRssMiBPerMinute],
          ['shop open fds', range((sample) => sample.shopFds), ''],
          ['journal events/s', range((sample) => sample.eventsPerSecond), figures.slopes.eventsPerSecondPerMinute],
        ],
      )}\n\n` +
      `${figures.arrivals} arrivals, ${figures.ordersCreated} orders; exit ${exitCode}, gate ${figures.gatePassed ? 'passed' : 'failed'}; ${figures.wallMinutes} min wall\n`,
  );
  writeResult('soak', { ...figures, samples });
}

runMain(main);
