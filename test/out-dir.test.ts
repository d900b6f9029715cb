/**
 * Reusing `--out`: an earlier run in the folder is moved aside whole and the new run starts from
 * empty journals — before, the journal was appended to, and a correct shop failed its second run
 * (20 orders counted for 10 arrivals; no-double-charge, no-oversell and no-fake-success broken).
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scenarioSchema } from '../core/scenario-schema.js';
import { FileJournal, loadJournal } from '../core/journal.js';
import { prepareOutDir } from '../harness/drive/out-dir.js';
import { run } from '../harness/drive/run.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { tempDir } from './helpers/cli.js';

const defer = cleanupAfterEach();

async function scratch(): Promise<string> {
  const work = await tempDir('ordeal-out-');
  defer(() => work.remove());
  return work.path;
}

describe('prepareOutDir', () => {
  it('creates a missing folder, and leaves a folder without a run as it is', async () => {
    const root = await scratch();
    expect(await prepareOutDir(join(root, 'new'))).toEqual({ outDir: join(root, 'new') });
    await mkdir(join(root, 'notes'));
    await writeFile(join(root, 'notes', 'todo.txt'), 'keep me');
    expect(await prepareOutDir(join(root, 'notes'))).toEqual({ outDir: join(root, 'notes') });
    expect(await readdir(join(root, 'notes'))).toEqual(['todo.txt']);
  });

  it('makes missing levels one at a time, and refuses a folder under /proc instead of hanging', async () => {
    const root = await scratch();
    expect(await prepareOutDir(join(root, 'a', 'b', 'c'))).toEqual({ outDir: join(root, 'a', 'b', 'c') });
    expect(await readdir(join(root, 'a', 'b'))).toEqual(['c']);
    // Before: Node's recursive mkdir never settled here.
    const refused = await prepareOutDir('/proc/ordeal-out-test/x').then(
      () => undefined,
      (error: unknown) => error as { code?: string; message?: string },
    );
    expect(refused?.code).toBe('ORDEAL_ERR_OUT_DIR');
    expect(refused?.message).toMatch(/^cannot create \/proc\/ordeal-out-test\/x/);
  });

  it('moves an earlier run aside whole (by its run.json or a scenario journal), numbered within a second', async () => {
    const root = await scratch();
    const out = join(root, 'out');
    const now = new Date('2026-12-07T11:20:33.456Z');
    await mkdir(join(out, 'smoke'), { recursive: true });
    await writeFile(join(out, 'smoke', 'journal.ndjson'), '{"seq":0}\n');
    const first = await prepareOutDir(out, now);
    expect(basename(first.previousRunMovedTo!)).toBe('out.previous-2026-12-07T11-20-33Z');
    expect(await readFile(join(first.previousRunMovedTo!, 'smoke', 'journal.ndjson'), 'utf8')).toBe('{"seq":0}\n');
    expect(await readdir(out)).toEqual([]);
    await writeFile(join(out, 'run.json'), '{}');
    const second = await prepareOutDir(out, now);
    expect(basename(second.previousRunMovedTo!)).toBe('out.previous-2026-12-07T11-20-33Z-2');
  });

  it('a journal file left behind is started over, not appended to', async () => {
    const path = join(await scratch(), 'journal.ndjson');
    await writeFile(path, '{"seq":0,"t":0,"type":"load.finished","arrivals":1,"dropped":0}\n'.repeat(3));
    const journal = new FileJournal(path);
    journal.append('load.finished', { arrivals: 7, dropped: 0 });
    await journal.close();
    expect(await loadJournal(path)).toEqual([expect.objectContaining({ seq: 0, arrivals: 7 })]);
  });
});

describe('ordeal run twice into the same --out', () => {
  it('the second run counts only its own orders and passes; the first is kept beside it', async () => {
    const root = await scratch();
    const out = join(root, 'ci-out');
    const input = {
      name: 'twice',
      seed: 3,
      catalog: { skus: [{ sku: 'CARD', name: 'Card', price: 1000, stock: 5 }] },
      load: { stages: [{ rate: '5/s', duration: '1s' }] },
      gate: { steadyState: { successRate: 0.9 } },
      settle: '3s',
    };
    const loaded = { file: 'twice.yaml', scenario: scenarioSchema.parse(input), input };
    const first = await run({ scenarios: [loaded], outDir: out });
    expect(first.previousRunMovedTo).toBeUndefined();
    const second = await run({ scenarios: [loaded], outDir: out });
    const [before, after] = [first.report.scenarios[0]!, second.report.scenarios[0]!];
    // Stock 5 for 5 buyers: a doubled journal would count 10 orders and break no-oversell.
    expect(after.load.ordersCreated, second.summary).toBe(after.load.arrivals);
    expect(after.invariants.filter((invariant) => !invariant.ok)).toEqual([]);
    expect(second.report.gate.passed, second.summary).toBe(true);
    expect(second.previousRunMovedTo).toBeDefined();
    const kept = JSON.parse(await readFile(join(second.previousRunMovedTo!, 'report.json'), 'utf8')) as typeof first.report;
    expect(kept.scenarios[0]!.load).toEqual(before.load);
  });
});
