import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FAULT_IDS, recoveryFaultOf, scenarioJsonSchema, scenarioSchema } from '../core/scenario-schema.js';

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
    expect(scenario.gate).toEqual({ minScore: 0, invariants: 'all', steadyState: { successRate: 0.99 }, maxDropped: 0.01 });
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

  it('has upper bounds that say the limit: rates, durations, windows, fault times, planned arrivals, in-flight cap', () => {
    const problems = (input: object): string[] => {
      const result = scenarioSchema.safeParse({ ...minimal, ...input });
      return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    };
    // Before: rate 1e9 ran silently at 100% CPU, duration 1e12 hung, a fault time past 2^31 ms fired at once.
    expect(problems({ load: { stages: [{ rate: 1e9, duration: '1s' }] } })).toEqual(['load.stages.0.rate: expected a rate of at most 100000/s']);
    expect(problems({ load: { stages: [{ rate: '1/s', duration: 1e12 }] } })).toEqual(['load.stages.0.duration: expected a duration of at most 24h']);
    expect(problems({ faults: [{ id: 'target.crash', at: 2 ** 31 + 5 }] })).toEqual(['faults.0.at: expected a duration of at most 24h']);
    expect(problems({ faults: [{ id: 'payment.callback.drop', window: '1s..48h' }] })).toEqual(['faults.0.window: expected a window within the first 24h of load']);
    expect(problems({ load: { stages: [{ rate: '100000/s', duration: '2m' }] } })).toEqual([
      'load: plans 12,000,000 arrivals; at most 10,000,000 per scenario (split it, or lower the rates or durations)',
    ]);
    expect(problems({ load: { stages: [{ rate: '1/s', duration: '1s' }], maxInFlight: 1e9 } })[0]).toMatch(/^load.maxInFlight: /);
    // The limits themselves are allowed.
    expect(problems({ load: { stages: [{ rate: '100000/s', duration: '1m' }] }, settle: '24h' })).toEqual([]);
  });

  it("knows every fault of the design's catalogue (the registry may add more)", () => {
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
    expect(FAULT_IDS).toEqual(expect.arrayContaining(catalogue));
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

  it('takes recovery rules naming a fault by index or by id, with a 5 s window by default', () => {
    const scenario = scenarioSchema.parse({
      ...minimal,
      faults: [
        { id: 'payment.latency', delay: { fixed: '300ms' }, window: '3s..6s' },
        { id: 'payment.error', window: '3s..6s', times: 1 },
        { id: 'target.crash', at: '8s' },
      ],
      gate: {
        recovery: [
          { after: 'payment.latency', within: '5s', p95: '800ms', successRate: 0.95 },
          { after: 1, within: '30s', successRate: 0.99, window: '2s' },
          { after: 'target.crash', within: '10s', p95: '1s' },
        ],
      },
    });
    expect(scenario.gate.recovery).toEqual([
      { after: 'payment.latency', within: 5000, p95: 800, successRate: 0.95, window: 5000 },
      { after: 1, within: 30_000, successRate: 0.99, window: 2000 },
      { after: 'target.crash', within: 10_000, p95: 1000, window: 5000 },
    ]);
    expect(recoveryFaultOf(scenario.faults, 'payment.latency')).toMatchObject({ index: 0, windowEnd: 6000 });
    expect(recoveryFaultOf(scenario.faults, 'target.crash')).toMatchObject({ index: 2, windowEnd: 9000 });
    // Without rules, the gate is as before.
    expect(scenarioSchema.parse(minimal).gate.recovery).toBeUndefined();
  });

  it('refuses recovery rules it cannot evaluate, naming the field', () => {
    const faults = [
      { id: 'payment.latency', delay: { fixed: '300ms' }, window: '3s..6s' },
      { id: 'payment.error', window: '3s..6s' },
      { id: 'payment.error', window: '7s..8s' },
      { id: 'payment.callback.drop', probability: 0.1 },
      { id: 'stock.stale', window: '2s..' },
    ];
    const problems = (rule: Record<string, unknown>): string[] => {
      const result = scenarioSchema.safeParse({ ...minimal, faults, gate: { recovery: [rule] } });
      expect(result.success, JSON.stringify(rule)).toBe(false);
      return result.error!.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    };
    expect(problems({ after: 0, within: '5s' })).toEqual(['gate.recovery.0: expected at least one threshold: p95 or successRate']);
    expect(problems({ after: 9, within: '5s', p95: '1s' })).toEqual(['gate.recovery.0.after: no fault at index 9 (faults has 5)']);
    expect(problems({ after: 'payment.timeout', within: '5s', p95: '1s' })).toEqual(['gate.recovery.0.after: no fault with id "payment.timeout" in faults']);
    expect(problems({ after: 'payment.error', within: '5s', p95: '1s' })).toEqual([
      'gate.recovery.0.after: 2 faults have id "payment.error" (at 1, 2): name one by its index',
    ]);
    expect(problems({ after: 3, within: '5s', p95: '1s' })).toEqual([
      'gate.recovery.0.after: fault 3 (payment.callback.drop) has no window end to recover from: give it a window such as "3s..6s"',
    ]);
    expect(problems({ after: 'stock.stale', within: '5s', p95: '1s' })[0]).toMatch(/fault 4 \(stock.stale\) has no window end/);
    expect(problems({ after: 0, within: '5s', successRate: 1.5 })[0]).toMatch(/^gate.recovery.0.successRate: /);
    expect(problems({ after: 0, within: '5s', p95: '1s', window: 0 })).toEqual(['gate.recovery.0.window: expected a window longer than 0']);
    expect(problems({ after: 0, within: 'soon', p95: '1s' })[0]).toMatch(/^gate.recovery.0.within: expected a duration/);
    expect(problems({ after: 'payment.nope', within: '5s', p95: '1s' })[0]).toMatch(/^gate.recovery.0.after: expected a fault index/);
    expect(problems({ after: 0, within: '5s', p95: '1s', p99: '2s' })[0]).toMatch(/p99/);
  });

  it('matches the committed JSON Schema in docs/ (regenerate with `npm run docs`)', () => {
    const committed = JSON.parse(readFileSync('docs/scenario.schema.json', 'utf8')) as unknown;
    expect(committed).toEqual(scenarioJsonSchema());
  });

  it('gives editors both load models and the recovery rules in the JSON Schema', () => {
    const schema = scenarioJsonSchema() as { properties: Record<string, { oneOf?: Array<{ properties: Record<string, unknown>; required?: string[] }>; properties?: Record<string, unknown> }> };
    const load = schema.properties.load!.oneOf!;
    expect(load.map((option) => Object.keys(option.properties).sort())).toEqual([
      ['maxInFlight', 'model', 'stages'],
      ['buyers', 'duration', 'model', 'thinkTime'],
    ]);
    expect(load[1]!.required).toEqual(['model', 'buyers', 'duration']);
    expect(Object.keys(schema.properties.gate!.properties!)).toContain('recovery');
  });
});
