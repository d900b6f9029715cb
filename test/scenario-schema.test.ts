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

  it('knows the whole fault catalogue of DESIGN.md §5', () => {
    const catalogue = [
      'payment.latency', 'payment.error', 'payment.timeout', 'payment.ambiguous',
      'payment.limit.single', 'payment.limit.daily', 'payment.cross_border', 'payment.verification', 'payment.decline',
      'payment.callback.drop', 'payment.callback.delay', 'payment.callback.duplicate', 'payment.callback.reorder',
      'payment.callback.late', 'payment.callback.forged', 'payment.callback.replayed', 'payment.callback.tampered',
      'payment.query.error', 'payment.refund.error',
      'stock.stale', 'stock.lag', 'stock.sold_out_after_payment', 'stock.fulfil.error',
      'risk.review', 'risk.reject', 'notify.error',
      'transport.reset', 'transport.empty', 'transport.malformed', 'transport.dribble',
      'target.crash',
    ];
    expect([...FAULT_IDS].sort()).toEqual([...catalogue].sort());
  });

  it('takes target.crash without per-buyer targeting, and transport faults per service', () => {
    const scenario = scenarioSchema.parse({
      ...minimal,
      faults: [
        { id: 'target.crash', at: '2s' },
        { id: 'transport.reset', service: 'stock', routes: ['reserve'], probability: 0.1 },
      ],
    });
    expect(scenario.faults[0]).toEqual({ id: 'target.crash', at: 2000, pause: 1000 });
    expect(scenario.faults[1]).toMatchObject({ service: 'stock', routes: ['reserve'], probability: 0.1 });
    expect(scenarioSchema.safeParse({ ...minimal, faults: [{ id: 'target.crash', at: '2s', probability: 0.5 }] }).success).toBe(false);
  });

  it('matches the committed JSON Schema in docs/ (regenerate with `npm run schema`)', () => {
    const committed = JSON.parse(readFileSync('docs/scenario.schema.json', 'utf8')) as unknown;
    expect(committed).toEqual(scenarioJsonSchema());
  });
});
