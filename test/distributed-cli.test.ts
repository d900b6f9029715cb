/**
 * A 4-pod run simulated on one machine, through the CLI as the pods run it: `ordeal mocks serve
 * --segments 4 --start-shop` (the mocks Deployment), four `ordeal run --segment i/4
 * --mocks-service URL` processes with the service's key in ORDEAL_MOCKS_SERVICE_KEY (the Indexed
 * Job's pods, `i` from JOB_COMPLETION_INDEX), then `ordeal merge` (the merge step).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, readReport, readScenarioJournal, runCli, tempDir, type CliResult } from './helpers/cli.js';
import type { Report } from '../core/report-types.js';
import type { ServiceFile } from '../harness/mocks-service/protocol.js';

const SCENARIO = 'test/fixtures/segments.yaml';
let work: { path: string; remove(): Promise<void> };
let service: ChildProcess | undefined;
let serviceExit: Promise<number | null>;
let serviceErr = '';
let pods: CliResult[];
let merged: CliResult;
let report: Report;

/** Starts the service and resolves once it has written its mocks-service.json (its path is its first line of output). */
function startService(outDir: string): Promise<ServiceFile> {
  const child = spawn(process.execPath, [CLI, 'mocks', 'serve', SCENARIO, '--out', outDir, '--segments', '4', '--start-shop'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  service = child;
  serviceExit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  child.stderr!.on('data', (chunk: Buffer) => (serviceErr += chunk.toString()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) void readFile(out.trim().split('\n')[0]!, 'utf8').then((text) => resolve(JSON.parse(text) as ServiceFile), reject);
    });
    void serviceExit.then((code) => reject(new Error(`the mocks service exited (${code}) before it served:\n${serviceErr}`)));
  });
}

beforeAll(async () => {
  work = await tempDir('ordeal-distributed-');
  const serviceDir = join(work.path, 'mocks');
  const file = await startService(serviceDir);
  pods = await Promise.all(
    [0, 1, 2, 3].map((index) =>
      runCli(['run', SCENARIO, '--segment', `${index}/4`, '--mocks-service', file.control, '--out', join(work.path, `pod-${index}`), '--quiet'], 90_000, { ORDEAL_MOCKS_SERVICE_KEY: file.key }),
    ),
  );
  expect(await serviceExit).toBe(0);
  merged = await runCli(['merge', serviceDir, ...[0, 1, 2, 3].map((index) => join(work.path, `pod-${index}`)), '--out', join(work.path, 'merged')]);
  report = await readReport(join(work.path, 'merged'));
}, 150_000);

afterAll(async () => {
  service?.kill('SIGKILL');
  await work?.remove();
});

describe('a 4-pod run on one machine', () => {
  it('runs each pod\'s segment to its end, exit 0, and stops the service once all four are done', () => {
    for (const pod of pods) {
      expect(pod.code, pod.stderr).toBe(0);
      expect(pod.stdout).toMatch(/Segment \d\/4 of segments: ran to its end/);
    }
    expect(serviceErr).toMatch(/every segment finished/);
  });

  it('merges the four segments and the service into one passing report of the whole load', async () => {
    expect(merged.code, merged.stderr).toBe(0);
    expect(merged.stdout).toMatch(/Clocks moved onto the mocks service's: 0\/4 .*; 1\/4 .*; 2\/4 .*; 3\/4 /);
    expect(report.gate.passed).toBe(true);
    expect(report.scenarios[0]?.load).toMatchObject({ arrivals: 50, dropped: 0, ordersCreated: 50 });
    expect(report.scenarios[0]?.accounting?.balanced).toBe(true);
    // One journal, in time order, with every segment's buyers.
    const events = await readScenarioJournal(join(work.path, 'merged'), 'segments');
    const times = events.map((event) => event.t);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(events.filter((event) => event.type === 'buyer.arrived')).toHaveLength(50);
    expect(events.filter((event) => event.type === 'run.started')).toHaveLength(1);
  });

  it('refuses a driver without the service\'s key, naming what it needs', async () => {
    const result = await runCli(['run', SCENARIO, '--segment', '0/4', '--mocks-service', 'http://127.0.0.1:9/', '--out', join(work.path, 'keyless')], 30_000, { ORDEAL_MOCKS_SERVICE_KEY: '' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/ORDEAL_MOCKS_SERVICE_KEY/);
  });
});
