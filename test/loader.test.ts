import { describe, expect, it } from 'vitest';
import { OrdealError } from '../core/errors.js';
import { formatPath, loadScenarioFile, loadScenarios, validate } from '../harness/scenario/loader.js';

async function loadError(file: string): Promise<OrdealError> {
  const error = await loadScenarioFile(file).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(OrdealError);
  return error as OrdealError;
}

describe('scenario loader', () => {
  it('names the file, the line, the path and the misspelt field, with a suggestion', async () => {
    const error = await loadError('test/fixtures/typo.yaml');
    expect(error.code).toBe('ORDEAL_ERR_SCENARIO_INVALID');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('test/fixtures/typo.yaml:9: faults[0].probabilty: unknown field "probabilty"');
    expect(error.message).toContain('did you mean "probability"?');
  });

  it('says what was expected for bad values, one line per problem', async () => {
    const error = await loadError('test/fixtures/bad-values.yaml');
    const lines = error.message.split('\n');
    expect(lines.some((line) => line.includes('catalog.skus[0].price') && /expected|>=|too small/i.test(line))).toBe(true);
    expect(lines.some((line) => line.includes('load.stages[0].rate') && line.includes('expected a rate such as "20/s"'))).toBe(true);
    expect(lines.some((line) => line.includes('settle') && line.includes('expected a duration'))).toBe(true);
    expect(lines.every((line) => line.startsWith('test/fixtures/bad-values.yaml:'))).toBe(true);
  });

  it('reports YAML syntax errors with file, line and column', async () => {
    const error = await loadError('test/fixtures/broken-syntax.yaml');
    expect(error.code).toBe('ORDEAL_ERR_SCENARIO_PARSE');
    expect(error.message).toMatch(/^test\/fixtures\/broken-syntax\.yaml:\d+:\d+: /);
  });

  it('loads TypeScript scenarios through the same schema', async () => {
    const scenario = await loadScenarioFile('test/fixtures/typed.ts');
    expect(scenario.name).toBe('typed');
    expect(scenario.load.stages[0]).toEqual({ rate: 5, duration: 1000 });
    expect(scenario.faults[0]).toMatchObject({ id: 'payment.callback.drop', probability: 0.5 });
    expect(scenario.settle).toBe(10_000);
  });

  it('reports a missing file as invalid input', async () => {
    const error = await loadError('test/fixtures/nope.yaml');
    expect(error.code).toBe('ORDEAL_ERR_SCENARIO_NOT_FOUND');
    expect(error.exitCode).toBe(2);
  });

  it('loads every built-in scenario, and names are unique', async () => {
    const loaded = await loadScenarios(['scenarios']);
    const names = loaded.map((entry) => entry.scenario.name);
    expect(names).toEqual(expect.arrayContaining(['smoke', 'callback-drop', 'callback-duplicate', 'stale-stock', 'payment-limits']));
    expect(new Set(names).size).toBe(names.length);
  });

  it('rejects two scenarios with the same name in one run', async () => {
    await expect(loadScenarios(['scenarios/smoke.yaml', 'scenarios/smoke.yaml'])).rejects.toMatchObject({
      code: 'ORDEAL_ERR_SCENARIO_DUPLICATE_NAME',
    });
  });

  it('checks cross-field rules (unknown SKU in a fault)', () => {
    expect(() =>
      validate('inline.yaml', {
        name: 'x',
        catalog: { skus: [{ sku: 'A', name: 'A', price: 1, stock: 1 }] },
        load: { stages: [{ rate: 1, duration: 1000 }] },
        faults: [{ id: 'stock.stale', skus: ['B'] }],
      }),
    ).toThrow(/inline\.yaml: faults\[0\]\.skus\[0\]: unknown SKU "B"/);
  });

  it('formats paths the way users write them', () => {
    expect(formatPath(['faults', 1, 'delay', 'fixed'])).toBe('faults[1].delay.fixed');
    expect(formatPath([])).toBe('');
  });
});
