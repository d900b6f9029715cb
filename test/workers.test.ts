/**
 * `ordeal run --workers N`: the mocks and the shop in one process, N driver processes each running
 * a segment, their journals merged into one report — the distributed run's commands, on one machine.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrdealError } from '../core/errors.js';
import { parseWorkers, MAX_WORKERS } from '../harness/drive/workers.js';
import { readReport, readScenarioJournal, runCli, tempDir, type CliResult } from './helpers/cli.js';
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
