import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FAULT_IDS, scenarioJsonSchema, scenarioSchema } from '../harness/scenario-schema.js';

const minimal = {
  name: 'minimal',
  catalog: { skus: [{ sku: 'A', name: 'A', price: 100, stock: 1 }] },
  load: { stages: [{ rate: '10/s', duration: '2s' }] },
};

describe('scenario schema', () => {
  it('fills every default and converts units', () => {
    const scenario = scenarioSchema.parse(minimal);
    expect(scenario.seed).toBe(1);
    expect(scenario.shop).toEqual({ orderTtl: 8000, reconcileAfter: 1500, reconcileEvery: 1000 });
    expect(scenario.load).toEqual({ model: 'open', stages: [{ rate: 10, duration: 2000 }], maxInFlight: 200 });
    expect(scenario.gate).toEqual({ minScore: 0, invariants: 'all', steadyState: { successRate: 0.99 } });
    expect(scenario.catalog.skus[0]!.currency).toBe('CNY');
  });

  it('parses windows and delay distributions', () => {
    const scenario = scenarioSchema.parse({
      ...minimal,
      faults: [{ id: 'payment.latency', delay: { uniform: { min: '10ms', max: '1.5s' } }, window: '1.5s..3s' }],
    });
    expect(scenario.faults[0]).toMatchObject({ window: { from: 1500, to: 3000 }, delay: { uniform: { min: 10, max: 1500 } }, probability: 1 });
  });

  it('refuses an unknown fault id and a reversed window', () => {
    expect(scenarioSchema.safeParse({ ...minimal, faults: [{ id: 'payment.callback.dorp' }] }).success).toBe(false);
    expect(scenarioSchema.safeParse({ ...minimal, faults: [{ id: 'payment.callback.drop', window: '5s..2s' }] }).success).toBe(false);
  });

  it('knows every implemented fault id', () => {
    expect(FAULT_IDS).toEqual([
      'payment.latency',
      'payment.callback.drop',
      'payment.callback.delay',
      'payment.callback.duplicate',
      'payment.limit.single',
      'stock.stale',
    ]);
  });

  it('matches the committed JSON Schema in docs/ (regenerate with `npm run schema`)', () => {
    const committed = JSON.parse(readFileSync('docs/scenario.schema.json', 'utf8')) as unknown;
    expect(committed).toEqual(scenarioJsonSchema());
  });
});
