/**
 * Target control: starts the shop under test as a separate process with PORT and the mock URLs in
 * its environment, waits for GET /health, and stops it at the end. The built-in reference shop is
 * just the default command.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { OrdealError } from '../../core/errors.js';
import type { JournalSink } from '../../core/journal.js';
import { forgetProcessGroup, trackProcessGroup } from './process-groups.js';

export interface TargetOptions {
  /** Shell command that starts the shop. */
  command: string;
  /** Extra environment (mock URLs, secret, shop config). PORT is added. */
  env: Record<string, string>;
  /** File that receives the shop's stdout and stderr. */
  logFile: string;
  journal: JournalSink;
  /** How long to wait for the health path to answer 2xx or 3xx. @default 20000 */
  readyTimeoutMs?: number;
  /** The path that answers 2xx or 3xx once the shop is ready. @default "/health" */
  healthPath?: string;
  cwd?: string;
  /** Port to give the shop; default a free one. A restarted shop keeps its port. */
  port?: number;
  /**
   * How long `stop()` lets the shop's process group shut down after SIGTERM before it SIGKILLs
   * what is left, in milliseconds. @default 3000
   */
  stopGraceMs?: number;
  /** Stops waiting for the shop to be ready (and stops it) when this aborts: the run was interrupted. */
  signal?: AbortSignal;
  /** Told each shop process's pid (its process group), the first and every restart's. */
  onProcess?: (pid: number) => void;
}

/** `TargetOptions.stopGraceMs` when not given. */
export const DEFAULT_STOP_GRACE_MS = 3000;

export interface ManagedTarget {
  url: string;
  pid: number;
  /** True once the process has exited. */
  readonly exited: boolean;
  /** Resolves when the process exits, for any reason. */
  readonly exit: Promise<{ code: number | null; signal: string | null }>;
  /**
   * SIGTERM to the process group; resolves once every process of the group is gone — or, after
   * the grace (`stopGraceMs`), SIGKILLs what is left.
   */
  stop(): Promise<void>;
  /** SIGKILL at once, as a crash would (the exit is journaled as expected). */
  kill(): Promise<void>;
}

/** The folder holding Ordeal's package.json, whether running from sources or from dist/. */
export function packageRoot(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(folder, 'package.json')) && existsSync(join(folder, 'shop'))) return folder;
    folder = dirname(folder);
  }
  throw new OrdealError('ORDEAL_ERR_HARNESS', 'cannot find the Ordeal package folder');
}

/** A flaw the built-in shop can switch on, as the shop lists it. */
export interface ShopFlawListing {
  id: string;
  description: string;
}

function builtInShopEntry(): string {
  const entry = resolve(packageRoot(), 'dist', 'shop', 'main.js');
  if (!existsSync(entry)) {
    throw new OrdealError('ORDEAL_ERR_TARGET_START', `the built-in shop is not built (${entry} is missing); run \`npm run build\``);
  }
  return entry;
}

/**
 * The built-in shop's flaws, from the shop itself (`--list-flaws`): the harness treats the shop as
 * a black box and never imports its code.
 */
export function builtInShopFlaws(): ShopFlawListing[] {
  try {
    const text = execFileSync(process.execPath, [builtInShopEntry(), '--list-flaws'], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
    return JSON.parse(text) as ShopFlawListing[];
  } catch (error) {
    // Not built, too slow to start on a starved machine, or broken: the shop's, not a bug of Ordeal's.
    throw new OrdealError('ORDEAL_ERR_TARGET_START', `the built-in shop could not list its flaws (${builtInShopEntry()} --list-flaws): ${(error as Error).message.split('\n')[0]}`);
  }
}

/**
 * A `--flaws` list for the built-in shop: flaw ids it lists, or `naive` for every one of them;
 * separated by commas or spaces, duplicates dropped.
 * @throws OrdealError ORDEAL_ERR_UNKNOWN_FLAW naming the known flaws
 */
export function resolveBuiltInFlaws(text: string, known: readonly ShopFlawListing[] = builtInShopFlaws()): string[] {
  const ids = known.map((flaw) => flaw.id);
  const result: string[] = [];
  for (const name of text.split(/[\s,]+/).filter((part) => part !== '')) {
    const names = name === 'naive' ? ids : ids.includes(name) ? [name] : undefined;
    if (!names) {
      throw new OrdealError('ORDEAL_ERR_UNKNOWN_FLAW', `unknown shop flaw "${name}"; known flaws: ${ids.join(', ')} (or naive: all of them)`);
    }
    for (const id of names) if (!result.includes(id)) result.push(id);
  }
  return result;
}

/** Command that starts the built-in reference shop with the given flaws. */
export function builtInShopCommand(flaws: readonly string[]): string {
  const entry = builtInShopEntry();
  const flawArgument = flaws.length > 0 ? ` --flaws ${flaws.join(',')}` : '';
  // `exec`: the shop replaces the shell, so it gets the SIGTERM itself and Ordeal sees its exit
  // (dash, Debian's sh, forks the command and exits at once on SIGTERM otherwise).
  return `exec ${quote(process.execPath)} ${quote(entry)}${flawArgument}`;
}

function quote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** After a SIGKILL, how long `stop()` and `kill()` wait for the rest of the group to disappear. */
const KILL_WAIT_MS = 1000;

/**
 * True while a process of the group `pgid` runs: `kill(-pgid, 0)` finds the group, and (on
 * Linux) not only zombies are left in it — a shell's child that outlived the shell exits as an
 * orphan and stays a zombie until init reaps it, which some inits do late or never.
 */
function groupAlive(pgid: number): boolean {
  if (pgid <= 0) return false;
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    // EPERM: it exists but is not ours to signal.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
  return process.platform !== 'linux' || !onlyZombiesIn(pgid);
}

/** True when /proc shows members of the group and every one is a zombie; false when unsure. */
function onlyZombiesIn(pgid: number): boolean {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return false;
  }
  let members = 0;
  for (const entry of entries) {
    const first = entry.charCodeAt(0);
    if (first < 48 || first > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 3);
    if (Number(fields[2]) !== pgid) continue;
    members++;
    if (fields[0] !== 'Z' && fields[0] !== 'X') return false;
  }
  return members > 0;
}

/**
 * Polls until the group is gone or `deadline` (performance.now() time) passes: the group's other
 * members send no event when they exit. Starts at 5 ms and backs off to 100 ms between looks.
 */
async function waitForGroupExit(pgid: number, deadline: number): Promise<void> {
  let interval = 5;
  while (groupAlive(pgid)) {
    const left = deadline - performance.now();
    if (left <= 0) return;
    await delay(Math.min(interval, left));
    interval = Math.min(100, interval * 2);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((wake) => setTimeout(wake, ms));
}

/** A free loopback port (the small race with another process binding it is accepted). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

export async function startTarget(options: TargetOptions): Promise<ManagedTarget> {
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const log = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(options.command, {
      shell: true,
      cwd: options.cwd ?? process.cwd(),
      env: { ...process.env, ...options.env, PORT: String(port) },
      stdio: ['ignore', log, log],
      // Its own process group, so stop() reaches the shell's children too.
      detached: true,
    });
  } finally {
    closeSync(log);
  }
  let exited = false;
  let stopping = false;
  const exit = new Promise<{ code: number | null; signal: string | null }>((resolveExit) => {
    child.once('exit', (code, signal) => {
      exited = true;
      options.journal.append('target.exited', { code, signal, expected: stopping });
      resolveExit({ code, signal });
    });
    child.once('error', (error) => {
      exited = true;
      options.journal.append('harness.error', { where: 'target', message: error.message });
      resolveExit({ code: null, signal: null });
    });
  });
  const pid = child.pid ?? -1;
  // Detached: the shop leads its own process group, whose id is its pid.
  trackProcessGroup(pid);
  if (pid > 0) options.onProcess?.(pid);
  options.journal.append('target.started', { pid, url, command: options.command });

  const signalGroup = (signal: NodeJS.Signals): void => {
    // No pid (spawn failed): -pid would be 1, every process we may signal.
    if (pid <= 0) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  };
  const graceMs = options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (exited && !groupAlive(pid)) return forgetProcessGroup(pid);
      stopping = true;
      const deadline = performance.now() + graceMs;
      signalGroup('SIGTERM');
      // The command itself first (an event), then whatever else of its group is still shutting
      // down (a shell that did not exec, the shop's own children): the shop's graceful shutdown
      // can take up to the grace, whoever its parent is.
      let graceTimer: NodeJS.Timeout | undefined;
      await Promise.race([exit, new Promise<void>((wake) => (graceTimer = setTimeout(wake, graceMs)))]);
      clearTimeout(graceTimer);
      await waitForGroupExit(pid, deadline);
      if (groupAlive(pid)) {
        signalGroup('SIGKILL');
        await exit;
        await waitForGroupExit(pid, performance.now() + KILL_WAIT_MS);
      }
      if (!groupAlive(pid)) forgetProcessGroup(pid);
    })();
    return stopped;
  };
  const kill = async (): Promise<void> => {
    if (exited) return;
    stopping = true;
    options.journal.append('target.killed', { pid, signal: 'SIGKILL' });
    signalGroup('SIGKILL');
    await exit;
    // A restart binds the same port: let the rest of the group (a shell's child) go first.
    await waitForGroupExit(pid, performance.now() + KILL_WAIT_MS);
    if (!groupAlive(pid)) forgetProcessGroup(pid);
  };

  const started = performance.now();
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  const healthPath = options.healthPath ?? '/health';
  let lastProblem = 'no answer yet';
  while (performance.now() - started < readyTimeoutMs) {
    if (options.signal?.aborted) {
      await stop();
      throw new OrdealError('ORDEAL_ERR_TARGET_START', `the run was interrupted before the target at ${url} was ready`);
    }
    if (exited) {
      const { code, signal } = await exit;
      throw new OrdealError(
        'ORDEAL_ERR_TARGET_START',
        `the target exited before it was ready (code ${code ?? '-'}, signal ${signal ?? '-'}): ${options.command}; see ${options.logFile}`,
      );
    }
    try {
      const response = await request(`${url}${healthPath}`, { headersTimeout: 1000, bodyTimeout: 1000 });
      await response.body.dump();
      if (response.statusCode >= 200 && response.statusCode < 400) {
        options.journal.append('target.ready', { afterMs: Math.round(performance.now() - started) });
        return {
          url,
          pid,
          get exited() {
            return exited;
          },
          exit,
          stop,
          kill,
        };
      }
      lastProblem = `GET ${healthPath} answered ${response.statusCode}`;
    } catch (error) {
      lastProblem = (error as Error).message;
    }
    await new Promise((wake) => setTimeout(wake, 100));
  }
  await stop();
  throw new OrdealError(
    'ORDEAL_ERR_TARGET_UNREACHABLE',
    `the target at ${url} was not ready within ${readyTimeoutMs} ms (${lastProblem}); see ${options.logFile}`,
  );
}

/**
 * Keeps one managed target alive across deliberate crashes: kill() is a SIGKILL, restart() starts
 * the same command on the same port with the same data folder, so callbacks already addressed to
 * the shop still reach it.
 */
export class TargetSupervisor {
  private unexpectedExit: (() => void) | undefined;
  private downSince: number | undefined;

  private constructor(
    private readonly options: TargetOptions & { port: number },
    private current: ManagedTarget,
  ) {
    this.watch(current);
  }

  static async start(options: TargetOptions): Promise<TargetSupervisor> {
    const port = options.port ?? (await freePort());
    const first = await startTarget({ ...options, port });
    return new TargetSupervisor({ ...options, port }, first);
  }

  get url(): string {
    return this.current.url;
  }

  /** True while the target is down (crashed on purpose or by itself). */
  get down(): boolean {
    return this.current.exited;
  }

  /** Called once if the target exits when Ordeal did not make it. */
  onUnexpectedExit(listener: () => void): void {
    this.unexpectedExit = listener;
  }

  private watch(target: ManagedTarget): void {
    void target.exit.then(() => {
      if (target === this.current && this.downSince === undefined && !this.stopping) this.unexpectedExit?.();
    });
  }

  private stopping = false;

  async kill(): Promise<void> {
    this.downSince = this.options.journal.now();
    await this.current.kill();
  }

  async restart(): Promise<void> {
    const next = await startTarget(this.options);
    const downMs = Math.round(this.options.journal.now() - (this.downSince ?? this.options.journal.now()));
    this.current = next;
    this.downSince = undefined;
    this.options.journal.append('target.restarted', { pid: next.pid, url: next.url, downMs });
    this.watch(next);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.current.stop();
  }
}
