/**
 * The comparison behind `npm run bench:workers` and `npm run bench:capacity -- --workers 1,2`:
 * `--workers 2` against `--workers 1` in the same run: the capacity traffic (normal buyers, no
 * faults, bench/memory-shop.ts, every mock in the loop) at a ladder of rates, one `ordeal run` per
 * trial as a user runs it — plain for one worker; with `--workers 2` the mocks and the shop in one
 * process and two driver processes, merged at the end. The two alternate at each rate so that a
 * drift in the machine's speed falls on both.
 *
 * Each trial ramps from a tenth of the rate for 3 s, then holds it for `--seconds`. Per trial:
 * delivered orders per second of load (the steady state's delivered ÷ the load's length, the ramp
 * counted at its mean rate), p99 from intended arrival to delivered, arrivals dropped at the in-flight cap, and the
 * CPU of every process of the run (Ordeal's, the mocks', the shop's; sampled from /proc every
 * 250 ms, each process's last reading) per order, over the whole run (start-up, settle, merge and
 * scoring included). A rate is sustained when nothing was dropped, ≥ 99.9 % of the fault-free
 * orders were delivered and p99 ≤ 1 s.
 *
 *   npm run bench:workers [-- --rates 500,1000,1500,2000 --seconds 8 --repeats 2 --workers 2]
 *   npm run bench:capacity -- --workers 1,2 [--rates … --seconds … --repeats …]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { BUILD_DIR, descendantUsage, log, median, RESULTS_DIR, ROOT, round, readStat, SCENARIOS_DIR, table, writeResult } from './lib.js';

interface Trial {
  rate: number;
  workers: number;
  exitCode: number;
  arrivals: number;
  dropped: number;
  delivered: number;
  deliveredPerSecond: number;
  p99: number | null;
  cpuMsPerOrder: number;
  cores: number;
  wallMs: number;
  sustained: boolean;
}

function scenarioFile(rate: number, seconds: number, dir: string): string {
  const document = parseDocument(readFileSync(join(SCENARIOS_DIR, 'capacity.yaml'), 'utf8'));
  // A 3 s ramp from a tenth of the rate first, as the capacity trials do: JIT and connection pools warm up.
  document.setIn(['load', 'stages'], [{ rate: `${Math.max(1, rate / 10)}/s`, rampTo: `${rate}/s`, duration: '3s' }, { rate: `${rate}/s`, duration: `${seconds}s` }]);
  const path = join(dir, `capacity-${rate}.yaml`);
  writeFileSync(path, String(document));
  return path;
}

async function trial(rate: number, workers: number, seconds: number, dir: string): Promise<Trial> {
  const out = join(dir, `run-${rate}-${workers}`);
  rmSync(out, { recursive: true, force: true });
  const shop = `exec ${process.execPath} ${join(BUILD_DIR, 'memory-shop.js')}`;
  const args = [join(ROOT, 'dist', 'harness', 'cli.js'), 'run', scenarioFile(rate, seconds, dir), '--out', out, '--quiet', '--target-command', shop, ...(workers > 1 ? ['--workers', String(workers)] : [])];
  const started = Date.now();
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const lastCpu = new Map<number, number>();
  const sample = (): void => {
    for (const pid of [child.pid!, ...descendantUsage(child.pid!).pids]) {
      const cpu = readStat(pid)?.cpuMs;
      if (cpu !== undefined) lastCpu.set(pid, cpu);
    }
  };
  const timer = setInterval(sample, 250);
  const killer = setTimeout(() => child.kill('SIGINT'), 10 * 60_000);
  const exitCode = await new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
  clearInterval(timer);
  clearTimeout(killer);
  const wallMs = Date.now() - started;
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as {
    scenarios: Array<{ load: { arrivals: number; dropped: number }; steadyState: { orders: number; succeeded: number; latency: { p99: number | null } } }>;
  };
  const scenario = report.scenarios[0]!;
  const cpuMs = [...lastCpu.values()].reduce((sum, value) => sum + value, 0);
  const delivered = scenario.steadyState.succeeded;
  const result: Trial = {
    rate,
    workers,
    exitCode,
    arrivals: scenario.load.arrivals,
    dropped: scenario.load.dropped,
    delivered,
    // The ramp's orders count at its mean rate (0.55 of the rate over 3 s).
    deliveredPerSecond: round(delivered / (seconds + 3 * 0.55), 0),
    p99: scenario.steadyState.latency.p99,
    cpuMsPerOrder: round(cpuMs / Math.max(1, delivered), 3),
    cores: round(cpuMs / wallMs, 2),
    wallMs,
    sustained: scenario.load.dropped === 0 && delivered >= 0.999 * scenario.steadyState.orders && (scenario.steadyState.latency.p99 ?? Infinity) <= 1000,
  };
  rmSync(out, { recursive: true, force: true });
  return result;
}

/** `--workers N` against `--workers 1` at each rate, alternating; prints the table and writes the results. */
export async function compareWorkers({ rates, seconds, repeats, workers }: { rates: readonly number[]; seconds: number; repeats: number; workers: number }): Promise<void> {
  const dir = join(RESULTS_DIR, 'workers');
  mkdirSync(dir, { recursive: true });
  const trials: Trial[] = [];
  for (const rate of rates) {
    for (let repeat = 0; repeat < repeats; repeat++) {
      for (const count of repeat % 2 === 0 ? [1, workers] : [workers, 1]) {
        const result = await trial(rate, count, seconds, dir);
        trials.push(result);
        log(`  ${rate}/s --workers ${count} #${repeat + 1}: ${result.deliveredPerSecond} delivered/s, p99 ${result.p99 ?? '-'} ms, dropped ${result.dropped}, ${result.cpuMsPerOrder} ms CPU/order over ${result.cores} cores, exit ${result.exitCode}${result.sustained ? '' : ' (not sustained)'}`);
      }
    }
  }
  const rows: Array<Array<string | number | null>> = [];
  for (const rate of rates) {
    const of = (count: number): Trial[] => trials.filter((each) => each.rate === rate && each.workers === count);
    const pick = (count: number, key: 'deliveredPerSecond' | 'cpuMsPerOrder' | 'cores' | 'dropped'): number => median(of(count).map((each) => each[key]));
    const p99 = (count: number): number | null => {
      const values = of(count).flatMap((each) => (each.p99 === null ? [] : [each.p99]));
      return values.length === 0 ? null : median(values);
    };
    for (const count of [1, workers]) {
      rows.push([rate, count, `${of(count).filter((each) => each.sustained).length}/${of(count).length}`, pick(count, 'deliveredPerSecond'), p99(count), pick(count, 'dropped'), pick(count, 'cpuMsPerOrder'), pick(count, 'cores')]);
    }
    rows.push([rate, `ratio ${workers} ÷ 1`, '', round(pick(workers, 'deliveredPerSecond') / pick(1, 'deliveredPerSecond'), 2), null, null, round(pick(workers, 'cpuMsPerOrder') / pick(1, 'cpuMsPerOrder'), 2), null]);
  }
  process.stdout.write(
    `\n--workers ${workers} vs 1 against bench/memory-shop.ts (capacity traffic, ${seconds} s at each rate, medians of ${repeats}, alternating)\n\n${table(
      ['offered/s', 'workers', 'sustained', 'delivered/s', 'p99 ms', 'dropped', 'CPU ms/order (all processes)', 'cores'],
      rows,
    )}\n`,
  );
  log(`results: ${writeResult('workers', { seconds, repeats, workers, trials })}`);
}

