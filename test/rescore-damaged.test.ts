/**
 * `ordeal report` reads a run folder from disk, where anything may have changed it: a journal whose
 * events have fields of the wrong type is refused as the folder's fault (ORDEAL_ERR_RUN_DIR, exit 2,
 * naming the journal and why), never a crash of the fold (exit 4, as before).
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { OrdealError } from '../core/errors.js';
import { rescoreRun } from '../harness/score/rescore.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { tempDir } from './helpers/cli.js';

const defer = cleanupAfterEach();
const GOLDEN = 'test/fixtures/golden/flawed';
const SCENARIO = 'callback-drop';

/** The golden run's callback-drop folder, alone, with `damage` applied to its first event of `type`. */
async function damagedRun(type: string, damage: (event: Record<string, unknown>) => void): Promise<string> {
  const work = await tempDir('ordeal-rescore-damaged-');
  defer(() => work.remove());
  const run = JSON.parse(await readFile(join(GOLDEN, 'run.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(join(work.path, 'run.json'), JSON.stringify({ ...run, scenarios: [SCENARIO] }));
  await mkdir(join(work.path, SCENARIO));
  await copyFile(join(GOLDEN, SCENARIO, 'scenario.json'), join(work.path, SCENARIO, 'scenario.json'));
  const lines = gunzipSync(await readFile(join(GOLDEN, SCENARIO, 'journal.ndjson.gz'))).toString('utf8').trim().split('\n');
  const index = lines.findIndex((line) => (JSON.parse(line) as { type: string }).type === type);
  const event = JSON.parse(lines[index]!) as Record<string, unknown>;
  damage(event);
  lines[index] = JSON.stringify(event);
  await writeFile(join(work.path, SCENARIO, 'journal.ndjson'), `${lines.join('\n')}\n`);
  return work.path;
}

describe('re-scoring a damaged run folder', () => {
  it('the golden folder, undamaged, scores', async () => {
    const report = await rescoreRun(await damagedRun('order.observed', () => {}));
    expect(report.scenarios.map((scenario) => scenario.name)).toEqual([SCENARIO]);
  });

  for (const [type, field, value] of [
    ['order.observed', 'cardCodes', null],
    ['stock.fulfilled', 'cards', true],
    ['buyer.arrived', 'intendedAt', 'soon'],
  ] as const) {
    it(`${type} with ${field}: ${JSON.stringify(value)} is refused naming the journal (exit 2)`, async () => {
      const dir = await damagedRun(type, (event) => (event[field] = value));
      const error = await rescoreRun(dir).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(OrdealError);
      expect((error as OrdealError).code).toBe('ORDEAL_ERR_RUN_DIR');
      expect((error as OrdealError).message).toMatch(new RegExp(`^${join(dir, SCENARIO, 'journal.ndjson').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot be scored \\(.+\\); was it edited or damaged\\?$`));
    });
  }
});
