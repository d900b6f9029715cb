/**
 * A 4-pod Kubernetes run simulated on one machine, from the manifest itself: `ordeal k8s manifest
 * --segments 4` prints the objects, and each pod of its Jobs — the mocks service with the shop,
 * the four driver segments of the Indexed Job, the merge — runs here as the process the kubelet
 * would start: the container's arguments and env (the Secret's key, JOB_COMPLETION_INDEX,
 * ORDEAL_NETWORK=cluster), all six at once as the Jobs start them, the volumes mapped onto one
 * folder, and the Service's name and the every-interface bind turned into loopback
 * (test/helpers/pods.ts).
 */
import { createServer } from 'node:net';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readReport, readScenarioJournal, runCli, tempDir, type CliResult } from './helpers/cli.js';
import { localPod, objectOf, parseManifest, type ManifestObject } from './helpers/pods.js';
import type { Report } from '../core/report-types.js';

const SCENARIO = 'test/fixtures/segments.yaml';
const BASE_PORT = 7700;
let work: { path: string; remove(): Promise<void> };
let objects: ManifestObject[];
let mocks: CliResult;
let drivers: CliResult[];
let merged: CliResult;
let report: Report;

/** Eight consecutive free loopback ports (the mocks service's fixed layout), probed by binding them. */
async function freePortRange(count: number): Promise<number> {
  const bind = (port: number): Promise<boolean> =>
    new Promise((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    let free = true;
    for (let port = base; port < base + count && free; port++) free = await bind(port);
    if (free) return base;
  }
  throw new Error('no range of free ports');
}

beforeAll(async () => {
  work = await tempDir('ordeal-pods-');
  const printed = await runCli(['k8s', 'manifest', SCENARIO, '--segments', '4', '--name', 'sim', '--base-port', String(BASE_PORT)]);
  expect(printed.code, printed.stderr).toBe(0);
  objects = parseManifest(printed.stdout);
  // The ConfigMap's scenario, as the pods see it mounted.
  const mounts = { '/scenario': join(work.path, 'scenario'), '/data': join(work.path, 'data'), '/work': join(work.path, 'work'), '/tmp': join(work.path, 'tmp') };
  for (const folder of Object.values(mounts)) await mkdir(folder, { recursive: true });
  const scenarioMap = objectOf(objects, 'ConfigMap', '-scenario').data as Record<string, string>;
  for (const [file, text] of Object.entries(scenarioMap)) await writeFile(join(mounts['/scenario'], file), text);
  const service = { name: 'sim-mocks', basePort: BASE_PORT, localBasePort: await freePortRange(8) };
  const start = (job: ManifestObject, index?: number): Promise<CliResult> => {
    const pod = localPod(job, { objects, mounts, service, ...(index === undefined ? {} : { index }) });
    return runCli(pod.args, 120_000, pod.env);
  };
  const driverJob = objectOf(objects, 'Job', '-drivers');
  // Jobs start together: the merge waits on the volume, the drivers for the service.
  [merged, mocks, ...drivers] = await Promise.all([
    start(objectOf(objects, 'Job', '-merge')),
    start(objectOf(objects, 'Job', '-mocks')),
    ...[0, 1, 2, 3].map((index) => start(driverJob, index)),
  ]);
  report = await readReport(join(mounts['/data'], 'report'));
}, 150_000);

afterAll(async () => {
  // A pod that timed out was SIGKILLed: the shop the mocks pod started would outlive it.
  const shopPid = Number(await readFile(join(work.path, 'data', 'mocks', 'shop.pid'), 'utf8').catch(() => '0'));
  if (shopPid > 0) {
    try {
      process.kill(-shopPid, 'SIGKILL');
    } catch {
      // Already gone, as it should be after a run that ended.
    }
  }
  await work?.remove();
});

describe('a 4-pod run from the Kubernetes manifest, on one machine', () => {
  it('runs each driver pod\'s segment to its end, exit 0, and stops the service once all four are done', () => {
    for (const pod of drivers) {
      expect(pod.code, pod.stderr).toBe(0);
      expect(pod.stdout).toMatch(/Segment \d\/4 of segments: ran to its end/);
    }
    expect(mocks.code, mocks.stderr).toBe(0);
    expect(mocks.stderr).toMatch(/every segment finished/);
  });

  it('the merge pod waits for them, then writes one passing report of the whole load', async () => {
    expect(merged.code, merged.stderr).toBe(0);
    expect(merged.stdout).toMatch(/Clocks moved onto the mocks service's: 0\/4 .*; 1\/4 .*; 2\/4 .*; 3\/4 /);
    expect(report.gate.passed).toBe(true);
    expect(report.scenarios[0]?.load).toMatchObject({ arrivals: 50, dropped: 0, ordersCreated: 50 });
    expect(report.scenarios[0]?.accounting?.balanced).toBe(true);
    // One journal, in time order, with every segment's buyers.
    const events = await readScenarioJournal(join(work.path, 'data', 'report'), 'segments');
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
