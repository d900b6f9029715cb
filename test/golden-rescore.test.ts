/**
 * Scores never change by accident: committed run folders (the whole built-in suite against the
 * resilient shop, and six scenarios against a shop with seven flaws) are re-scored from their
 * journals by `ordeal report`, and every report must equal the committed one byte for byte.
 *
 * The fixtures were written by `ordeal run` (seed 7); journals and the HTML report are stored
 * gzipped. To refresh them after an intended change of scoring, see test/fixtures/golden/README.md.
 */
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';

const GOLDEN = join(import.meta.dirname, 'fixtures', 'golden');
const REPORTS = ['report.json', 'report.md', 'junit.xml', 'report.html'] as const;
const scratch: string[] = [];

afterAll(async () => {
  await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A writable run folder: the fixture's settings and unpacked journals, without its reports. */
async function unpackRun(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `ordeal-golden-${name}-`));
  scratch.push(dir);
  await cp(join(GOLDEN, name), dir, { recursive: true });
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const packed = join(dir, entry.name, 'journal.ndjson.gz');
    await writeFile(join(dir, entry.name, 'journal.ndjson'), gunzipSync(await readFile(packed)));
    await rm(packed);
  }
  await Promise.all([...REPORTS.map((file) => rm(join(dir, file), { force: true })), rm(join(dir, 'report.html.gz'))]);
  return dir;
}

async function committed(name: string, file: (typeof REPORTS)[number]): Promise<string> {
  if (file === 'report.html') return gunzipSync(await readFile(join(GOLDEN, name, 'report.html.gz'))).toString('utf8');
  return readFile(join(GOLDEN, name, file), 'utf8');
}

describe('re-scoring committed journals', () => {
  it.each([
    { name: 'resilient', exitCode: 0, scenarios: 15 },
    { name: 'flawed', exitCode: 1, scenarios: 6 },
  ])('$name: every report equals the committed one byte for byte', async ({ name, exitCode, scenarios }) => {
    const dir = await unpackRun(name);
    const result = await runCli(['report', dir, '--quiet']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(exitCode);
    const report = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as { scenarios: unknown[] };
    expect(report.scenarios).toHaveLength(scenarios);
    for (const file of REPORTS) {
      const actual = await readFile(join(dir, file), 'utf8');
      // One file at a time so a failure names the format that changed.
      expect({ file, same: actual === (await committed(name, file)) }).toEqual({ file, same: true });
    }
  });
});
