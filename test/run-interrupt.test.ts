/**
 * Interrupting a run through the library (`run({ signal })`): the running scenario is cut — load
 * stopped, shop's process group and mocks shut down, journal ended `interrupted` — and scored; the
 * scenarios not started are not run; run.json and every report record it, and `ordeal report`
 * re-scores the folder to the same report. Real shop processes, real sockets.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadJournal, type JournalEvent } from '../core/journal.js';
import { scenarioSchema } from '../core/scenario-schema.js';
import { trackedProcessGroups } from '../harness/drive/process-groups.js';
import { run } from '../harness/drive/run.js';
import { rebuildRunReport } from '../harness/score/compare.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { tempDir } from './helpers/cli.js';

const defer = cleanupAfterEach();

function loadedScenario(name: string, load: Record<string, unknown>): { file: string; scenario: ReturnType<typeof scenarioSchema.parse>; input: unknown } {
  const input = {
    name,
    seed: 5,
    catalog: { skus: [{ sku: 'MONTH_CARD', name: 'Monthly card', price: 3000, stock: 5000 }] },
    load,
    faults: [{ id: 'payment.callback.drop', probability: 0.2 }],
    settle: '4s',
  };
  return { file: `${name}.yaml`, scenario: scenarioSchema.parse(input), input };
}

/** True while any process of the group runs (zombies aside: Node reaps its own children). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function acceptsConnections(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((answer) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.setTimeout(1000, () => (socket.destroy(), answer(true)));
    socket.once('connect', () => (socket.destroy(), answer(true)));
    socket.once('error', () => answer(false));
  });
}

function started(events: JournalEvent[]): Array<{ pid: number; url: string }> {
  return events.flatMap((event) => (event.type === 'target.started' || event.type === 'target.restarted' ? [{ pid: event.pid, url: event.url }] : []));
}

describe('run({ signal })', () => {
  it('cuts the running scenario, scores it, skips the rest, and records the interruption', async () => {
    const work = await tempDir('ordeal-interrupt-');
    defer(() => work.remove());
    const outDir = join(work.path, 'run');
    const controller = new AbortController();
    let abortedAt = 0;
    const result = await run({
      scenarios: [loadedScenario('long', { stages: [{ rate: '20/s', duration: '20s' }], maxInFlight: 100 }), loadedScenario('after', { stages: [{ rate: '5/s', duration: '1s' }] })],
      outDir,
      signal: controller.signal,
      onProgress: (progress) => {
        if (!controller.signal.aborted && progress.scenario === 'long' && progress.phase === 'load' && progress.settled >= 10) {
          abortedAt = performance.now();
          controller.abort('SIGTERM');
        }
      },
    });
    const stoppedIn = performance.now() - abortedAt;
    expect(abortedAt).toBeGreaterThan(0);
    // The scenario's load had 18 s to go and its settle 4 s: it was cut, not waited for.
    expect(stoppedIn).toBeLessThan(5000);
    expect(result.exitCode).toBe(143);
    expect(result.report.interrupted).toEqual({ signal: 'SIGTERM', scenariosCut: ['long'], scenariosNotRun: ['after'] });
    expect(result.report.gate.passed).toBe(false);
    expect(result.report.gate.reasons[0]).toBe('the run was interrupted by SIGTERM: 1 scenario cut short, 1 not run');
    const [long] = result.report.scenarios;
    expect(result.report.scenarios).toHaveLength(1);
    expect(long?.gate.reasons[0]).toBe('the run was interrupted and this scenario cut short: what happened before is scored');
    expect(long?.load.arrivals).toBeGreaterThanOrEqual(10);
    expect(long?.load.arrivals).toBeLessThan(400);
    expect(result.summary).toContain('⚠ Interrupted by SIGTERM');

    const events = await loadJournal(join(outDir, 'long', 'journal.ndjson'));
    expect(events.at(-1)).toMatchObject({ type: 'run.finished', reason: 'interrupted' });
    expect(events.find((event) => event.type === 'target.exited')).toMatchObject({ expected: true });
    for (const { pid, url } of started(events)) {
      expect(groupAlive(pid)).toBe(false);
      expect(await acceptsConnections(url)).toBe(false);
    }
    expect(trackedProcessGroups()).toEqual([]);
    expect(existsSync(join(outDir, 'after'))).toBe(false);
    const record = JSON.parse(await readFile(join(outDir, 'run.json'), 'utf8')) as Record<string, unknown>;
    expect(record).toMatchObject({ scenarios: ['long'], interrupted: { signal: 'SIGTERM', scenariosCut: ['long'], scenariosNotRun: ['after'] } });
    for (const file of ['report.json', 'report.md', 'report.html', 'junit.xml']) expect(existsSync(join(outDir, file)), file).toBe(true);

    // `ordeal report` re-scores the folder to the same report, mark included.
    const { report } = await rebuildRunReport(outDir);
    expect(report).toEqual(result.report);
    // A mark that is not one is refused, naming run.json.
    await writeFile(join(outDir, 'run.json'), JSON.stringify({ ...record, interrupted: { signal: 'SIGKILL' } }));
    await expect(rebuildRunReport(outDir)).rejects.toMatchObject({ code: 'ORDEAL_ERR_RUN_DIR', message: expect.stringContaining('run.json: "interrupted"') });
  });

  it('stops waiting for a shop that is not ready yet, and stops its process group', async () => {
    const work = await tempDir('ordeal-interrupt-start-');
    defer(() => work.remove());
    const outDir = join(work.path, 'run');
    const controller = new AbortController();
    const begun = performance.now();
    const result = await run({
      scenarios: [loadedScenario('never-ready', { stages: [{ rate: '5/s', duration: '2s' }] })],
      outDir,
      // Never answers its health path: without the interruption the run would wait 20 s for it.
      targetCommand: 'exec sleep 60',
      signal: controller.signal,
      onProgress: () => controller.abort(),
    });
    expect(performance.now() - begun).toBeLessThan(8000);
    expect(result.exitCode).toBe(130);
    expect(result.report.interrupted).toEqual({ signal: null, scenariosCut: ['never-ready'], scenariosNotRun: [] });
    const events = await loadJournal(join(outDir, 'never-ready', 'journal.ndjson'));
    expect(events.at(-1)).toMatchObject({ type: 'run.finished', reason: 'interrupted' });
    const [shop] = started(events);
    expect(shop).toBeDefined();
    expect(groupAlive(shop!.pid)).toBe(false);
    expect(trackedProcessGroups()).toEqual([]);
  });

  it('aborted before it starts: runs nothing, and still writes the reports, marked', async () => {
    const work = await tempDir('ordeal-interrupt-none-');
    defer(() => work.remove());
    const outDir = join(work.path, 'run');
    const result = await run({
      scenarios: [loadedScenario('a', { stages: [{ rate: '5/s', duration: '1s' }] }), loadedScenario('b', { stages: [{ rate: '5/s', duration: '1s' }] })],
      outDir,
      signal: AbortSignal.abort('SIGINT'),
    });
    expect(result.exitCode).toBe(130);
    expect(result.report.scenarios).toEqual([]);
    expect(result.report.interrupted).toEqual({ signal: 'SIGINT', scenariosCut: [], scenariosNotRun: ['a', 'b'] });
    expect(result.report.gate).toEqual({ passed: false, reasons: ['the run was interrupted by SIGINT: 2 not run'] });
    expect(existsSync(join(outDir, 'a'))).toBe(false);
    expect(await readFile(join(outDir, 'report.md'), 'utf8')).toContain('**Interrupted by SIGINT.**');
  });
});
