/**
 * Shared helpers of the benchmarks: statistics, tables, result files, machine facts, and CPU time
 * of child processes read from /proc (Linux).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (bench/.build/bench/lib.js → three levels up). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BENCH_DIR = join(ROOT, 'bench');
export const BUILD_DIR = join(BENCH_DIR, '.build', 'bench');
export const RESULTS_DIR = join(BENCH_DIR, 'results');
export const SCENARIOS_DIR = join(BENCH_DIR, 'scenarios');

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Nearest-rank percentile (p in 0..100) of unsorted values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

/** Percentiles of values already sorted ascending. */
export function sortedPercentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export type Cell = string | number | boolean | null | undefined;

/** A plain-text table, columns padded, numbers right-aligned. */
export function table(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = (cell: Cell): string => (cell === null || cell === undefined ? '-' : typeof cell === 'number' ? formatNumber(cell) : String(cell));
  const cells = rows.map((row) => row.map(text));
  const widths = headers.map((header, column) => Math.max(header.length, ...cells.map((row) => (row[column] ?? '').length)));
  const line = (row: readonly string[], numeric: readonly boolean[]): string =>
    row.map((cell, column) => (numeric[column] ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join('  ');
  const numeric = headers.map((_, column) => rows.every((row) => typeof row[column] === 'number' || row[column] === null || row[column] === undefined));
  return [line(headers, numeric.map(() => false)), widths.map((width) => '-'.repeat(width)).join('  '), ...cells.map((row) => line(row, numeric))].join('\n');
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export interface MachineInfo {
  date: string;
  node: string;
  cpus: number;
  cpuModel: string;
  memoryMiB: number;
  loadAverage: string;
  commit: string;
}

export function machineInfo(): MachineInfo {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  let loadAverage = '';
  try {
    loadAverage = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    // not Linux
  }
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryMiB: Math.round(totalmem() / 2 ** 20),
    loadAverage,
    commit,
  };
}

/** Writes `bench/results/<name>.json` with the machine facts; returns the path. */
export function writeResult(name: string, data: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(path, `${JSON.stringify({ machine: machineInfo(), ...(data as object) }, null, 2)}\n`);
  return path;
}

/** `--name value` and `--flag` from argv. */
export function parseArgs(argv: readonly string[] = process.argv.slice(2)): Map<string, string> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) continue;
    const eq = arg.indexOf('=');
    if (eq > 0) args.set(arg.slice(2, eq), arg.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) args.set(arg.slice(2), argv[++i]!);
    else args.set(arg.slice(2), 'true');
  }
  return args;
}

export function numberArg(args: Map<string, string>, name: string, fallback: number): number {
  const value = args.get(name);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw new Error(`--${name} expects a number, got "${value}"`);
  return parsed;
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface ProcStat {
  pid: number;
  ppid: number;
  /** user + system CPU, ms */
  cpuMs: number;
  rssKiB: number;
}

/** A process's CPU, RSS and parent from /proc/PID/stat; undefined once it is gone. */
export function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const rssPages = Number(fields[21]);
    return { pid, ppid, cpuMs: ((utime + stime) * 1000) / CLOCK_TICKS, rssKiB: (rssPages * 4096) / 1024 };
  } catch {
    return undefined;
  }
}

/** CPU time (ms) and RSS (KiB) summed over every live descendant of `pid` (not `pid` itself). */
export function descendantUsage(pid = process.pid): { cpuMs: number; rssKiB: number; pids: number[] } {
  const stats: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) stats.push(stat);
  }
  const children = new Map<number, ProcStat[]>();
  for (const stat of stats) {
    const list = children.get(stat.ppid) ?? [];
    list.push(stat);
    children.set(stat.ppid, list);
  }
  let cpuMs = 0;
  let rssKiB = 0;
  const pids: number[] = [];
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length > 0) {
    const next = queue.shift()!;
    cpuMs += next.cpuMs;
    rssKiB += next.rssKiB;
    pids.push(next.pid);
    queue.push(...(children.get(next.pid) ?? []));
  }
  return { cpuMs, rssKiB, pids };
}

/** Runs `node bench/.build/bench/<script>.js args…`, inheriting stderr; resolves with its exit code. */
export function runNode(script: string, args: readonly string[], options: { nodeArgs?: readonly string[]; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<number> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), join(BUILD_DIR, `${script}.js`), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, ...(options.env ?? {}) },
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} ${args.join(' ')} ran past ${options.timeoutMs} ms`));
    }, options.timeoutMs ?? 15 * 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolveRun(code ?? 1);
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((wake) => setTimeout(wake, ms));
}

export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Runs a bench's main function and exits: 0 when it resolves, 1 with the stack when it throws. */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
