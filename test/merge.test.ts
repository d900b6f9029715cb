/**
 * `ordeal merge` on hand-made folders: the journals are merged in time order on the service's
 * clock (each segment moved by its clock readings, intended times too), what each segment journals
 * of the whole run is summed once, and folders that are not one complete distributed run are
 * refused with ORDEAL_ERR_RUN_DIR, saying what is missing.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadJournal } from '../core/journal.js';
import { OrdealError } from '../core/errors.js';
import { mergeScenario } from '../harness/merge/merge.js';
import { SERVICE_FILE } from '../harness/mocks-service/protocol.js';
import { tempDir } from './helpers/cli.js';

const removals: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const remove of removals.splice(0)) await remove();
});

type Line = Record<string, unknown> & { t: number; type: string };

async function folder(dir: string, lines: Line[], files: Record<string, unknown> = {}): Promise<void> {
  await mkdir(join(dir, 'demo'), { recursive: true });
  await writeFile(join(dir, 'demo', 'journal.ndjson'), lines.map((line, seq) => `${JSON.stringify({ seq, ...line })}\n`).join(''));
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), JSON.stringify(content));
}

const scenarioRecord = { file: 'demo.yaml', seed: 5, input: { name: 'demo', catalog: { skus: [{ sku: 'A', name: 'A', price: 100, stock: 10 }] }, load: { stages: [{ rate: '2/s', duration: '1s' }] } } };

/** A service and two segments; segment 1's clock started 1000 ms after the service's, segment 0's 500 ms after. */
async function distributedRun(root: string, options: { segments?: Array<{ index: number; count: number }>; clockSync?: boolean } = {}): Promise<{ service: string; segments: string[] }> {
  const service = join(root, 'mocks');
  await folder(service, [
    { t: 0, type: 'run.started', scenario: 'demo', seed: 5, startedAt: '', replay: '', target: 'shop' },
    { t: 600, type: 'payment.trade.created', orderId: 'o0', tradeNo: 'T0', amount: 100, method: 'alipay' },
    { t: 1100, type: 'payment.trade.created', orderId: 'o1', tradeNo: 'T1', amount: 100, method: 'alipay' },
    { t: 5000, type: 'run.finished', reason: 'completed' },
  ], { [SERVICE_FILE]: { control: 'http://127.0.0.1:1', key: 'k', scenario: 'demo' } });
  const segments = options.segments ?? [{ index: 0, count: 2 }, { index: 1, count: 2 }];
  const dirs: string[] = [];
  for (const segment of segments) {
    const dir = join(root, `segment-${segment.index}`);
    const offset = segment.index === 0 ? 500 : 1000;
    const sync = (t: number): Line => ({ t, type: 'clock.sync', serviceT: t + offset, rttMs: 1 });
    await folder(dir, [
      { t: 0, type: 'run.started', scenario: 'demo', seed: 5, startedAt: '', replay: '', target: 'shop', segment },
      ...(options.clockSync === false ? [] : [sync(1)]),
      { t: 50, type: 'target.ready', afterMs: 3 },
      { t: 100, type: 'buyer.arrived', buyerId: `b${segment.index}`, seq: segment.index, behaviour: 'normal', sku: 'A', quantity: 1, contact: 'x', region: 'CN-GD', signals: [], intendedAt: 99 },
      { t: 3000, type: 'load.finished', arrivals: 1, dropped: segment.index },
      { t: 3500, type: 'orders.final_read', orders: 1, read: 1, changed: 0, unread: 0, cut: false },
      ...(options.clockSync === false ? [] : [sync(3600)]),
      { t: 3700, type: 'run.finished', reason: 'completed' },
    ]);
    await writeFile(join(dir, 'demo', 'scenario.json'), JSON.stringify(scenarioRecord));
    dirs.push(dir);
  }
  return { service, segments: dirs };
}

async function caught(promise: Promise<unknown>): Promise<OrdealError> {
  try {
    await promise;
  } catch (error) {
    return error as OrdealError;
  }
  throw new Error('expected a refusal');
}

describe('ordeal merge', () => {
  it('merges in time order on the service\'s clock, moving intended times too, and sums each segment\'s summaries once', async () => {
    const work = await tempDir('ordeal-merge-');
    removals.push(() => work.remove());
    const run = await distributedRun(work.path);
    const merged = await mergeScenario({ serviceDir: run.service, segmentDirs: run.segments, outDir: join(work.path, 'out') });
    expect(merged.clocks).toEqual([
      { segment: '0/2', offsetMs: 500, driftMs: 0, maxRttMs: 1 },
      { segment: '1/2', offsetMs: 1000, driftMs: 0, maxRttMs: 1 },
    ]);
    const events = await loadJournal(join(work.path, 'out', 'demo', 'journal.ndjson'));
    expect(events.map((event) => `${event.t} ${event.type}`)).toEqual([
      '0 run.started',
      // Equal times: the service's event first, then the segments' in their order.
      '600 payment.trade.created',
      '600 buyer.arrived',
      '1100 payment.trade.created',
      '1100 buyer.arrived',
      '4000 load.finished',
      '4500 orders.final_read',
      '5000 run.finished',
    ]);
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index));
    expect(events.filter((event) => event.type === 'buyer.arrived').map((event) => (event as { intendedAt: number }).intendedAt)).toEqual([599, 1099]);
    expect(events.find((event) => event.type === 'load.finished')).toMatchObject({ arrivals: 2, dropped: 1 });
    expect(events.find((event) => event.type === 'orders.final_read')).toMatchObject({ orders: 2, read: 2 });
    expect(JSON.parse(await readFile(join(work.path, 'out', 'demo', 'scenario.json'), 'utf8'))).toMatchObject({ seed: 5, merged: { service: run.service } });
  });

  it('ends the merged run as a segment that was cut short ended', async () => {
    const work = await tempDir('ordeal-merge-');
    removals.push(() => work.remove());
    const run = await distributedRun(work.path);
    const journal = join(run.segments[1]!, 'demo', 'journal.ndjson');
    await writeFile(journal, (await readFile(journal, 'utf8')).replace('"reason":"completed"', '"reason":"deadline"'));
    await mergeScenario({ serviceDir: run.service, segmentDirs: run.segments, outDir: join(work.path, 'out') });
    const events = await loadJournal(join(work.path, 'out', 'demo', 'journal.ndjson'));
    expect(events.filter((event) => event.type === 'run.finished')).toMatchObject([{ reason: 'deadline' }]);
  });

  it('refuses a run with a segment missing, or given twice', async () => {
    const work = await tempDir('ordeal-merge-');
    removals.push(() => work.remove());
    const run = await distributedRun(work.path);
    const missing = await caught(mergeScenario({ serviceDir: run.service, segmentDirs: [run.segments[0]!], outDir: join(work.path, 'out') }));
    expect(missing.code).toBe('ORDEAL_ERR_RUN_DIR');
    expect(missing.message).toMatch(/merges all n of them: got 0\/2/);
    const twice = await caught(mergeScenario({ serviceDir: run.service, segmentDirs: [run.segments[0]!, run.segments[0]!], outDir: join(work.path, 'out') }));
    expect(twice.message).toMatch(/given twice: 0\/2, 0\/2/);
  });

  it('refuses folders that are not a distributed run\'s, naming them', async () => {
    const work = await tempDir('ordeal-merge-');
    removals.push(() => work.remove());
    const unsynced = await distributedRun(join(work.path, 'a'), { clockSync: false });
    expect((await caught(mergeScenario({ serviceDir: unsynced.service, segmentDirs: unsynced.segments, outDir: join(work.path, 'out') }))).message).toMatch(/no clock\.sync reading: it did not run against a mocks service/);
    const run = await distributedRun(join(work.path, 'b'));
    const notService = await caught(mergeScenario({ serviceDir: run.segments[0]!, segmentDirs: run.segments, outDir: join(work.path, 'out') }));
    expect(notService.message).toMatch(/not a mocks service's folder/);
    const empty = join(work.path, 'empty');
    await mkdir(empty);
    expect((await caught(mergeScenario({ serviceDir: run.service, segmentDirs: [empty, run.segments[1]!], outDir: join(work.path, 'out') }))).message).toMatch(/no journal of scenario "demo"/);
  });
});
