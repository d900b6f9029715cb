/**
 * Scenario files that cost more to read than they are worth — an alias bomb, nesting deeper than
 * any scenario, a binary file — are refused as the file's fault (exit 2, naming the file), never a
 * crash: before, the alias bomb exited 4 with a stack trace and deep nesting said "fix the syntax".
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OrdealError } from '../core/errors.js';
import { loadScenarioFile } from '../harness/scenario/loader.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { tempDir } from './helpers/cli.js';

const defer = cleanupAfterEach();

async function refusal(name: string, content: string | Buffer): Promise<OrdealError> {
  const work = await tempDir('ordeal-hostile-yaml-');
  defer(() => work.remove());
  const file = join(work.path, name);
  await writeFile(file, content);
  const error = await loadScenarioFile(file).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(OrdealError);
  const refused = error as OrdealError;
  expect(refused.exitCode).toBe(2);
  expect(refused.message.startsWith(file)).toBe(true);
  return refused;
}

describe('hostile scenario files', () => {
  it('an alias bomb (nine levels of nine aliases each) is refused before it expands', async () => {
    let bomb = 'name: bomb\na: &a [x, x, x, x, x, x, x, x, x]\n';
    let previous = 'a';
    for (let level = 0; level < 9; level++) {
      bomb += `l${level}: &l${level} [${Array.from({ length: 9 }, () => `*${previous}`).join(', ')}]\n`;
      previous = `l${level}`;
    }
    const error = await refusal('bomb.yaml', bomb);
    expect(error.message).toMatch(/aliases expand past 1000 copies/);
  });

  it('ten thousand levels of nesting: said to be too deep, not a syntax error', async () => {
    const error = await refusal('deep.yaml', `name: deep\nx: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`);
    expect(error.message).toMatch(/nested too deeply to read/);
    expect(error.message).not.toMatch(/Maximum call stack/);
  });

  it('a binary file is said not to be YAML', async () => {
    const error = await refusal('image.yaml', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0xff, 0xfe]));
    expect(error.message).toMatch(/not a YAML file \(it holds binary data\)/);
  });

  it('a map used as a key is an unknown field, without a Node warning printed past the CLI', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning.message);
    };
    process.on('warning', onWarning);
    try {
      const error = await refusal('complex-key.yaml', 'name: complex\n? { a: 1 }\n: x\n');
      expect(error.message).toMatch(/unknown field "\{ a: 1 \}"/);
      // Node emits warnings on the next tick: one more turn of the loop before looking.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('a few ordinary aliases still work', async () => {
    const work = await tempDir('ordeal-yaml-aliases-');
    defer(() => work.remove());
    const file = join(work.path, 'aliases.yaml');
    await writeFile(
      file,
      ['name: aliases', 'catalog: { skus: [{ sku: A, name: A, price: 100, stock: 5 }] }', 'load: { stages: [&stage { rate: 1/s, duration: 1s }, *stage, *stage] }'].join('\n'),
    );
    const scenario = await loadScenarioFile(file);
    expect(scenario.load.model === 'open' ? scenario.load.stages.length : 0).toBe(3);
  });
});
