/**
 * Ctrl-C and SIGTERM during `ordeal run`, end to end with the built CLI: SIGINT 8 s into the
 * default suite (and after its first scenario finished) exits 130 within 5 s with every report
 * written and marked interrupted, the finished scenarios scored; SIGTERM during a `--parallel` run
 * cuts every running scenario and exits 143. Afterwards no process of the shops' process groups
 * runs, no port Ordeal or the shops listened on accepts connections, and the temp folder is empty.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JournalEvent } from '../core/journal.js';
import { CLI, readReport, readScenarioJournal, tempDir } from './helpers/cli.js';
import { cleanupAfterEach } from './helpers/cleanups.js';

const defer = cleanupAfterEach();

interface RunningCli {
  child: ChildProcess;
  startedAt: number;
  stderr(): string;
  /** Resolves when the CLI exits: its code, and when (performance.now()). */
  closed: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

function startCli(args: readonly string[], env: Record<string, string>): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...env } });
  let stderr = '';
  child.stdout?.resume();
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal, at: performance.now() })),
  );
  defer(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, startedAt: performance.now(), stderr: () => stderr, closed };
}

/** Waits (polling every 100 ms, at most `timeoutMs`) until `ready` holds. */
async function waitFor(what: string, ready: () => boolean, timeoutMs: number, running: RunningCli): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!ready()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}\n${running.stderr()}`);
    if (running.child.exitCode !== null) throw new Error(`the CLI exited (${running.child.exitCode}) before ${what}\n${running.stderr()}`);
    await new Promise((wake) => setTimeout(wake, 100));
  }
}

/** The shops' process groups and URLs, from the journals written so far. */
function shopsOf(outDir: string): Array<{ pgid: number; url: string }> {
  const shops: Array<{ pgid: number; url: string }> = [];
  if (!existsSync(outDir)) return shops;
  for (const entry of readdirSync(outDir)) {
    const path = join(outDir, entry, 'journal.ndjson');
    if (!existsSync(path)) continue;
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (!line.includes('"target.started"') && !line.includes('"target.restarted"')) continue;
      const event = JSON.parse(line) as { pid: number; url: string };
      shops.push({ pgid: event.pid, url: event.url });
    }
  }
  return shops;
}

/** Live (not zombie) processes whose process group is one of `pgids`, from /proc. */
function membersOf(pgids: readonly number[]): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (pgids.includes(Number(pgrp)) && state !== 'Z' && state !== 'X') members.push(Number(entry));
  }
  return members;
}

/** TCP ports the given processes listen on: their socket inodes matched in /proc/net/tcp{,6}. */
function listeningPorts(pids: readonly number[]): number[] {
  const inodes = new Set<string>();
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (match) inodes.add(match[1]!);
      } catch {
        // Closed meanwhile.
      }
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is HEX_IP:HEX_PORT; st 0A is LISTEN; the inode is the tenth field.
      if (fields[3] === '0A' && inodes.has(fields[9] ?? '')) ports.add(parseInt(fields[1]!.split(':')[1]!, 16));
    }
  }
  return [...ports];
}

function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((answer) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000, () => (socket.destroy(), answer(true)));
    socket.once('connect', () => (socket.destroy(), answer(true)));
    socket.once('error', () => answer(false));
  });
}

/** What a run must leave behind it: no shop process, no listening port, no temp folder. */
async function expectNothingLeft(outDir: string, ports: readonly number[], tmp: string): Promise<void> {
  // Every shop the journals name, those started after the signal's look at them included.
  const shops = shopsOf(outDir);
  expect(shops.length).toBeGreaterThan(0);
  expect(membersOf(shops.map((shop) => shop.pgid))).toEqual([]);
  const all = [...new Set([...ports, ...shops.map((shop) => Number(new URL(shop.url).port))])];
  const stillOpen: number[] = [];
  for (const port of all) if (await acceptsConnections(port)) stillOpen.push(port);
  expect(stillOpen).toEqual([]);
  expect(readdirSync(tmp)).toEqual([]);
}

function lastEvent(events: JournalEvent[]): JournalEvent | undefined {
  return events.at(-1);
}

describe('ordeal run, interrupted', () => {
  it('SIGINT 8 s into the default suite: exit 130 within 5 s, marked reports, the finished scenarios scored, nothing left', { timeout: 150_000 }, async () => {
    const work = await tempDir('ordeal-sigint-');
    defer(() => work.remove());
    const outDir = join(work.path, 'run');
    const tmp = join(work.path, 'tmp');
    await mkdir(tmp);
    const cli = startCli(['run', 'scenarios/', '--out', outDir], { TMPDIR: tmp });
    // 8 s in, once a scenario has finished whole (on a busy machine the first can take longer).
    await waitFor('the first scenario to finish', () => /^\S+\s+done\s/m.test(cli.stderr()), 120_000, cli);
    const wait = cli.startedAt + 8000 - performance.now();
    if (wait > 0) await new Promise((wake) => setTimeout(wake, wait));
    const shops = shopsOf(outDir);
    const ports = listeningPorts([cli.child.pid!, ...membersOf(shops.map((shop) => shop.pgid))]);
    expect(ports.length).toBeGreaterThan(0);
    const signalledAt = performance.now();
    cli.child.kill('SIGINT');
    const { code, at } = await cli.closed;
    expect(code, cli.stderr()).toBe(130);
    expect(at - signalledAt).toBeLessThan(5000);
    expect(cli.stderr()).toContain('SIGINT — stopping');

    const report = await readReport(outDir);
    expect(report.interrupted?.signal).toBe('SIGINT');
    expect(report.interrupted?.scenariosNotRun.length).toBeGreaterThan(0);
    expect(report.gate.passed).toBe(false);
    expect(report.gate.reasons[0]).toMatch(/^the run was interrupted by SIGINT/);
    const finished = report.scenarios.filter((scenario) => !report.interrupted?.scenariosCut.includes(scenario.name));
    expect(finished.length).toBeGreaterThanOrEqual(1);
    for (const scenario of finished) {
      expect(scenario.load.arrivals).toBeGreaterThan(0);
      expect(lastEvent(await readScenarioJournal(outDir, scenario.name))).toMatchObject({ type: 'run.finished', reason: 'completed' });
    }
    for (const name of report.interrupted?.scenariosCut ?? []) {
      expect(lastEvent(await readScenarioJournal(outDir, name))).toMatchObject({ type: 'run.finished', reason: 'interrupted' });
    }
    expect(await readFile(join(outDir, 'report.md'), 'utf8')).toContain('> **Interrupted by SIGINT.**');
    expect(await readFile(join(outDir, 'report.html'), 'utf8')).toContain('<section class="interrupted" role="alert"');
    expect(await readFile(join(outDir, 'junit.xml'), 'utf8')).toContain('<testsuite name="interrupted"');
    expect(JSON.parse(await readFile(join(outDir, 'run.json'), 'utf8'))).toMatchObject({ interrupted: report.interrupted });
    await expectNothingLeft(outDir, ports, tmp);
  });

  it('SIGTERM during a --parallel run: every running scenario is cut, exit 143, nothing left', { timeout: 90_000 }, async () => {
    const work = await tempDir('ordeal-sigterm-');
    defer(() => work.remove());
    const outDir = join(work.path, 'run');
    const tmp = join(work.path, 'tmp');
    await mkdir(tmp);
    const cli = startCli(['run', 'scenarios/smoke.yaml', 'scenarios/stale-stock.yaml', '--parallel', '2', '--out', outDir], { TMPDIR: tmp });
    const loading = (name: string): boolean => new RegExp(`^${name}\\s+load\\s`, 'm').test(cli.stderr());
    await waitFor('both scenarios to be under load', () => loading('smoke') && loading('stale-stock'), 60_000, cli);
    const shops = shopsOf(outDir);
    expect(shops).toHaveLength(2);
    const ports = listeningPorts([cli.child.pid!, ...membersOf(shops.map((shop) => shop.pgid))]);
    const signalledAt = performance.now();
    cli.child.kill('SIGTERM');
    const { code, at } = await cli.closed;
    expect(code, cli.stderr()).toBe(143);
    expect(at - signalledAt).toBeLessThan(5000);
    const report = await readReport(outDir);
    expect(report.interrupted).toEqual({ signal: 'SIGTERM', scenariosCut: ['smoke', 'stale-stock'], scenariosNotRun: [] });
    expect(report.scenarios.map((scenario) => scenario.name)).toEqual(['smoke', 'stale-stock']);
    await expectNothingLeft(outDir, ports, tmp);
  });

  it('SIGHUP (the terminal closed): the scenario is cut and scored, exit 129, no shop left running', { timeout: 90_000 }, async () => {
    const work = await tempDir('ordeal-sighup-');
    defer(() => work.remove());
    const outDir = join(work.path, 'run');
    const tmp = join(work.path, 'tmp');
    await mkdir(tmp);
    const cli = startCli(['run', 'scenarios/smoke.yaml', '--out', outDir], { TMPDIR: tmp });
    await waitFor('the scenario to be under load', () => /^smoke\s+load\s/m.test(cli.stderr()), 60_000, cli);
    const ports = listeningPorts([cli.child.pid!, ...membersOf(shopsOf(outDir).map((shop) => shop.pgid))]);
    cli.child.kill('SIGHUP');
    const { code } = await cli.closed;
    expect(code, cli.stderr()).toBe(129);
    const report = await readReport(outDir);
    expect(report.interrupted).toEqual({ signal: 'SIGHUP', scenariosCut: ['smoke'], scenariosNotRun: [] });
    await expectNothingLeft(outDir, ports, tmp);
  });
});
