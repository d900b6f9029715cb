/**
 * The scenario loader under fast-check: YAML-ish text, arbitrary JSON values and the built-in
 * scenarios with one field replaced by something hostile (huge, negative, NaN-like, deeply
 * nested, of the wrong type). Whatever the input, loading returns a scenario or throws an
 * OrdealError with exit code 2 whose every line names the file — and, for a field that is wrong,
 * the field's path — within a bounded time. Seeded: a failure replays with the same seed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrdealError } from '../core/errors.js';
import { formatPath, loadScenarioFile, validate } from '../harness/scenario/loader.js';
import { tempDir } from './helpers/cli.js';

/** Another seed or more runs to hunt with: ORDEAL_FUZZ_SEED=… ORDEAL_FUZZ_RUNS=… npx vitest run test/fuzz-loader.test.ts --testTimeout=0 */
const SEED = Number(process.env.ORDEAL_FUZZ_SEED ?? 20261207);
const runs = (count: number): number => Number(process.env.ORDEAL_FUZZ_RUNS ?? count);
/** Longest one case may take: a hang or a blow-up would take far longer. */
const CASE_BOUND_MS = 2000;

let work: Awaited<ReturnType<typeof tempDir>>;
let fileCount = 0;

beforeAll(async () => {
  work = await tempDir('ordeal-fuzz-loader-');
});
afterAll(async () => {
  await work?.remove();
});

/** The outcome of loading `text` from a fresh file: the error (or undefined) and how long it took. */
async function loadText(text: string): Promise<{ file: string; error: unknown; ms: number }> {
  const file = join(work.path, `case-${fileCount++}.yaml`);
  await writeFile(file, text);
  const started = performance.now();
  const error = await loadScenarioFile(file).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  return { file, error, ms: performance.now() - started };
}

/** An OrdealError of the user's input (exit 2) whose every line names `file`. */
function expectFileRefusal(error: unknown, file: string): OrdealError {
  expect(error).toBeInstanceOf(OrdealError);
  const refusal = error as OrdealError;
  expect(refusal.exitCode, refusal.message).toBe(2);
  for (const line of refusal.message.split('\n')) {
    if (!line.startsWith('… and ')) expect(line.startsWith(file), line).toBe(true);
  }
  return refusal;
}

/** The field paths a validation message names: `file:line: path: what`, one problem a line. */
function namedPaths(message: string, file: string): string[] {
  return message
    .split('\n')
    .filter((line) => line.startsWith(file))
    .map((line) => /^(?::\d+)?: (.+?): /.exec(line.slice(file.length))?.[1] ?? '');
}

/** YAML-ish text: the tokens YAML gives meaning to, field names, numbers and words, in any order. */
const yamlToken = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(': ', ':', '- ', '\n', '\n  ', '\n    ', '{', '}', '[', ']', ', ', '&a ', '*a', '<<: *a', '!!str ', '!!binary ', '!!map ', '!custom ', '"', "'", '# ', '|\n', '>-\n', '---\n', '...\n', '? ', '%YAML 1.2\n', '@', '`', '\t', '\\') },
  { weight: 2, arbitrary: fc.constantFrom('name', 'catalog', 'skus', 'sku', 'price', 'stock', 'load', 'stages', 'rate', 'duration', 'faults', 'id', 'probability', 'window', 'settle', 'deadline', 'seed', 'buyers', 'mix', 'gate', 'shop', 'provider', 'maxInFlight') },
  { weight: 2, arbitrary: fc.oneof(fc.integer().map(String), fc.double().map(String), fc.constantFrom('1e999', '-0', '0x1F', '.inf', '-.Inf', '.NaN', 'NaN', '10/s', '1e9/s', '5s', '1e12s', '-5ms', '2s..1s', 'null', '~', 'true', 'no')) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);
const yamlText = fc.array(yamlToken, { maxLength: 80 }).map((tokens) => tokens.join(''));

/** Values no field expects, and some every number field should refuse. */
function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let level = 0; level < depth; level++) value = level % 2 === 0 ? [value] : { x: value };
  return value;
}
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(1e308, -1, 0, -0, 2 ** 31, 2 ** 53 + 1, 1e21, 0.5, -1e-9, 'NaN', 'Infinity', '-Infinity', '1e999', '1e309s', '99999999999999999999ms', '1e9/s', '-5s', '0s', '', ' ', 'null', true, false, null, [], {}, '__proto__', 'x'.repeat(100_000)),
  fc.double(),
  fc.integer(),
  fc.string({ maxLength: 30 }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer({ min: 20, max: 3000 }).map(nested),
);

type Path = Array<string | number>;

/** Every path to a value in `data`, parents before children. */
function pathsOf(data: unknown, prefix: Path = []): Path[] {
  if (Array.isArray(data)) return [prefix, ...data.flatMap((item, index) => pathsOf(item, [...prefix, index]))];
  if (data !== null && typeof data === 'object') return [prefix, ...Object.entries(data).flatMap(([key, value]) => pathsOf(value, [...prefix, key]))];
  return [prefix];
}

function replaced(data: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = structuredClone(data) as Record<string | number, unknown>;
  let node = copy;
  for (const part of path.slice(0, -1)) node = node[part] as Record<string | number, unknown>;
  if (value === undefined) delete node[path.at(-1)!];
  else node[path.at(-1)!] = value;
  return copy;
}

const SCENARIOS = readdirSync('scenarios')
  .filter((name) => name.endsWith('.yaml'))
  .sort()
  .map((name) => parse(readFileSync(join('scenarios', name), 'utf8')) as unknown);

const FIELDS = SCENARIOS.map((scenario) => new Set(pathsOf(scenario).map((path) => formatPath(path))));

describe('fuzzing the scenario loader', () => {
  it('YAML-ish text: a scenario, or a refusal naming the file; never anything else, never slow', async () => {
    await fc.assert(
      fc.asyncProperty(yamlText, async (text) => {
        const { file, error, ms } = await loadText(text);
        expect(ms).toBeLessThan(CASE_BOUND_MS);
        if (error !== undefined) expectFileRefusal(error, file);
      }),
      { seed: SEED, numRuns: runs(300) },
    );
  });

  it('arbitrary JSON values, validated directly and read back from a file', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 6 }), async (value) => {
        const file = join(work.path, 'direct.yaml');
        let direct: unknown;
        try {
          validate(file, value);
        } catch (error) {
          direct = error;
        }
        if (direct !== undefined) expectFileRefusal(direct, file);
        const { file: written, error, ms } = await loadText(JSON.stringify(value));
        expect(ms).toBeLessThan(CASE_BOUND_MS);
        if (error !== undefined) expectFileRefusal(error, written);
      }),
      { seed: SEED + 1, numRuns: runs(300) },
    );
  });

  it('the built-in scenarios with one field replaced or removed: still valid, or refused naming fields of the file', async () => {
    const mutation = fc
      .nat({ max: SCENARIOS.length - 1 })
      .chain((index) => {
        const paths = pathsOf(SCENARIOS[index]).filter((path) => path.length > 0);
        return fc.tuple(fc.constant(index), fc.constantFrom(...paths), fc.option(hostileValue, { freq: 8, nil: undefined }), fc.boolean());
      });
    await fc.assert(
      fc.asyncProperty(mutation, async ([index, path, value, asYaml]) => {
        const data = replaced(SCENARIOS[index], path, value);
        // YAML as a person writes it, or JSON (also YAML) for values too deep for the YAML writer.
        const deep = JSON.stringify(value ?? null).length > 2000;
        const { file, error, ms } = await loadText(asYaml && !deep ? stringify(data) : JSON.stringify(data));
        expect(ms).toBeLessThan(CASE_BOUND_MS);
        if (error === undefined) return;
        const refusal = expectFileRefusal(error, file);
        if (refusal.code !== 'ORDEAL_ERR_SCENARIO_INVALID') return;
        // Every problem names a field written in the file, or the parent of one missing from it
        // (the fields of the scenario as it was, and the one replaced or what its new value holds).
        const replacedAt = formatPath(path);
        for (const named of namedPaths(refusal.message, file)) {
          const parent = /[.[]/.test(named) ? named.replace(/(\.[^.[\]]*|\[\d+\])$/, '') : '';
          const known = named === '(top level)' || named.startsWith(replacedAt) || FIELDS[index]!.has(named) || FIELDS[index]!.has(parent);
          expect(known, `${named} in ${refusal.message}`).toBe(true);
        }
      }),
      { seed: SEED + 2, numRuns: runs(400) },
    );
  });
});
