/**
 * `ordeal run --workers N`: the mocks and the shop in one process, N driver processes each running
 * a segment, their journals merged into one report — the distributed run's commands, on one machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrdealError } from '../core/errors.js';
import { parseWorkers, MAX_WORKERS } from '../harness/drive/workers.js';
import { CLI, readReport, readScenarioJournal, runCli, tempDir, type CliResult } from './helpers/cli.js';
import type { Report } from '../core/report-types.js';

describe('parseWorkers', () => {
  it('takes a count from 1 to 64, or auto', () => {
    expect(parseWorkers('3')).toBe(3);
    expect(parseWorkers('auto')).toBeGreaterThanOrEqual(1);
    expect(parseWorkers('auto')).toBeLessThanOrEqual(MAX_WORKERS);
    for (const bad of ['0', '65', '1.5', 'two', '-2']) expect(() => parseWorkers(bad)).toThrow(OrdealError);
    expect(() => parseWorkers('65')).toThrow(/from 1 to 64, or auto; got 65/);
  });
});

describe('ordeal run --workers 2', () => {
  let work: { path: string; remove(): Promise<void> };
  let result: CliResult;
  let report: Report;

  beforeAll(async () => {
    work = await tempDir('ordeal-workers-');
    result = await runCli(['run', 'test/fixtures/segments.yaml', '--workers', '2', '--out', join(work.path, 'out')], 120_000);
    report = await readReport(join(work.path, 'out'));
  }, 150_000);

  afterAll(async () => {
    await work?.remove();
  });

  it('runs the whole load in two driver processes and reports it as one run', async () => {
    expect(result.code, result.stderr).toBe(0);
    expect(report.gate.passed).toBe(true);
    expect(report.scenarios[0]?.load).toMatchObject({ arrivals: 50, dropped: 0, ordersCreated: 50 });
    expect(report.replay).toMatch(/--workers 2/);
    expect(result.stderr).toMatch(/segments: 2 driver processes/);
    // The merged journal is the run's; the processes' own stay beside it.
    const events = await readScenarioJournal(join(work.path, 'out'), 'segments');
    expect(events.filter((event) => event.type === 'buyer.arrived')).toHaveLength(50);
    expect((await readdir(join(work.path, 'out', '_workers', 'segments'))).sort()).toEqual(['mocks', 'mocks.log', 'segment-0', 'segment-0.log', 'segment-1', 'segment-1.log']);
  });

  it('re-scores from its folder alone, as any run', async () => {
    const again = await runCli(['report', join(work.path, 'out'), '--quiet']);
    expect(again.code, again.stderr).toBe(0);
    expect((await readReport(join(work.path, 'out'))).scenarios[0]?.score).toBe(report.scenarios[0]?.score);
  });

  it('refuses what it cannot carry yet, naming it', async () => {
    const refused = await runCli(['run', 'test/fixtures/segments.yaml', '--workers', '2', '--segment', '0/2', '--out', join(work.path, 'refused')]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--workers runs every segment itself/);
  });
});

/** `ordeal run --workers 2` on the segments fixture, in the background: its stderr as it comes, and its exit. */
function startWorkersRun(out: string): { child: ChildProcess; stderr(): string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, 'run', 'test/fixtures/segments.yaml', '--workers', '2', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stderr: () => stderr, exited };
}

/** Polls `ready` every 50 ms for at most 60 s; throws `what`, with the run's stderr, past that. */
async function waitUntil(ready: () => Promise<boolean>, what: string, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`${what}:\n${stderr()}`);
    await new Promise((wake) => setTimeout(wake, 50));
  }
}

const journalHas = async (path: string, type: string): Promise<boolean> => (await readFile(path, 'utf8').catch(() => '')).includes(`"${type}"`);

describe('ordeal run --workers 2, interrupted', () => {
  it('stops the drivers, then the service, and reports what they recorded, marked interrupted, exit 130', async () => {
    const work = await tempDir('ordeal-workers-int-');
    try {
      const out = join(work.path, 'out');
      const { child, stderr, exited } = startWorkersRun(out);
      // Interrupted once both segments have buyers in flight.
      const journalOf = (index: number): string => join(out, '_workers', 'segments', `segment-${index}`, 'segments', 'journal.ndjson');
      await waitUntil(async () => (await journalHas(journalOf(0), 'buyer.arrived')) && (await journalHas(journalOf(1), 'buyer.arrived')), 'the segments never started', stderr);
      child.kill('SIGINT');
      expect(await exited, stderr()).toBe(130);
      const report = await readReport(out);
      expect(report.interrupted).toMatchObject({ signal: 'SIGINT', scenariosCut: ['segments'] });
      expect(report.gate.passed).toBe(false);
      // The drivers ended their journals and told the service; the merged run has their buyers.
      expect(stderr()).toMatch(/drivers 130, 130, mocks (0|130)\b/);
      const events = await readScenarioJournal(out, 'segments');
      expect(events.filter((event) => event.type === 'buyer.arrived').length).toBeGreaterThan(0);
      expect(events.at(-1)).toMatchObject({ type: 'run.finished', reason: 'interrupted' });
    } finally {
      await work.remove();
    }
  }, 90_000);

  it('a second Ctrl-C exits at once and kills every process the run started, the shop the service started included', async () => {
    const work = await tempDir('ordeal-workers-kill-');
    try {
      const out = join(work.path, 'out');
      const { child, stderr, exited } = startWorkersRun(out);
      const shopPidFile = join(out, '_workers', 'segments', 'mocks', 'shop.pid');
      const journal = join(out, '_workers', 'segments', 'segment-0', 'segments', 'journal.ndjson');
      let shopPid = 0;
      await waitUntil(
        async () => {
          shopPid = Number(await readFile(shopPidFile, 'utf8').catch(() => '0'));
          return shopPid > 0 && (await journalHas(journal, 'buyer.arrived'));
        },
        'the run never started',
        stderr,
      );
      child.kill('SIGINT');
      // Signals of one kind do not queue: the second is sent once the first was seen.
      await waitUntil(async () => stderr().includes('SIGINT — stopping'), 'the first SIGINT was never seen', stderr);
      child.kill('SIGINT');
      expect(await exited, stderr()).toBe(130);
      expect(stderr()).toMatch(new RegExp(`killed the shop's process groups? [0-9, ]*\\b${shopPid}\\b`));
      const alive = (pid: number): boolean => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      await waitUntil(async () => !alive(shopPid), `the shop (pid ${shopPid}) outlived the run`, stderr);
    } finally {
      await work.remove();
    }
  }, 90_000);
});
