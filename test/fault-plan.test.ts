import { describe, expect, it } from 'vitest';
import { scenarioSchema, type FaultSpec } from '../core/scenario-schema.js';
import { FaultPlan, sampleDelay } from '../mocks/fault-plan.js';

function faults(list: unknown[]): FaultSpec[] {
  return scenarioSchema.parse({
    name: 'plan-test',
    catalog: { skus: [{ sku: 'A', name: 'a', price: 1, stock: 1 }] },
    load: { stages: [{ rate: 1, duration: 1000 }] },
    faults: list,
  }).faults;
}

const subjects = Array.from({ length: 10_000 }, (_, i) => `buyer-${i}`);

function hitSet(plan: FaultPlan, id: 'payment.callback.drop' = 'payment.callback.drop', among = subjects): Set<string> {
  return new Set(among.filter((subject) => plan.hits(id, subject).length > 0));
}

describe('fault plan', () => {
  it('hits the same subjects for the same seed and different ones for another seed', () => {
    const specs = faults([{ id: 'payment.callback.drop', probability: 0.2 }]);
    const a = hitSet(new FaultPlan(specs, 11));
    const b = hitSet(new FaultPlan(specs, 11));
    const c = hitSet(new FaultPlan(specs, 12));
    expect([...b]).toEqual([...a]);
    expect(c).not.toEqual(a);
    const overlap = [...c].filter((subject) => a.has(subject)).length;
    // Independent draws overlap about p² of the time, far from all of it.
    expect(overlap / a.size).toBeLessThan(0.3);
  });

  it('hits about `probability` of the subjects', () => {
    for (const probability of [0.05, 0.3, 0.7]) {
      const plan = new FaultPlan(faults([{ id: 'payment.callback.drop', probability }]), 3);
      const share = hitSet(plan).size / subjects.length;
      expect(Math.abs(share - probability), `p=${probability}`).toBeLessThan(0.02);
    }
    expect(hitSet(new FaultPlan(faults([{ id: 'payment.callback.drop', probability: 0 }]), 3)).size).toBe(0);
    expect(hitSet(new FaultPlan(faults([{ id: 'payment.callback.drop' }]), 3)).size).toBe(subjects.length);
  });

  it('decides each fault of the list independently and returns hits in list order', () => {
    const plan = new FaultPlan(
      faults([
        { id: 'payment.callback.drop', probability: 0.5 },
        { id: 'stock.stale' },
        { id: 'payment.callback.drop', probability: 0.5 },
      ]),
      5,
    );
    expect(plan.has('payment.callback.drop')).toBe(true);
    expect(plan.has('payment.latency')).toBe(false);
    expect(plan.hits('payment.latency', 'x')).toEqual([]);
    const both = subjects.filter((subject) => plan.hits('payment.callback.drop', subject).length === 2).length / subjects.length;
    expect(Math.abs(both - 0.25)).toBeLessThan(0.02);
    for (const subject of subjects.slice(0, 200)) {
      const hits = plan.hits('payment.callback.drop', subject);
      expect(hits.map((hit) => hit.index)).toEqual([...hits.map((hit) => hit.index)].sort());
      expect(plan.first('payment.callback.drop', subject)?.index).toBe(hits[0]?.index);
      expect(hits.every((hit) => [0, 2].includes(hit.index))).toBe(true);
    }
    expect(plan.first('stock.stale', 'anyone')).toMatchObject({ index: 1, spec: { id: 'stock.stale', restockIn: 600_000 } });
    expect(plan.decides(99, 'x')).toBe(false);
  });

  it('never injects a muted fault, and decides the others as it would without it', () => {
    const list = faults([
      { id: 'payment.decline', probability: 1 },
      { id: 'payment.callback.drop', probability: 0.5 },
    ]);
    const plain = new FaultPlan(list, 5);
    const muted = new FaultPlan(list, 5, () => 0, [0]);
    expect(muted.has('payment.decline')).toBe(false);
    expect(muted.faults).toBe(list);
    for (const subject of subjects.slice(0, 200)) {
      expect(muted.first('payment.decline', subject)).toBeUndefined();
      expect(muted.decides(0, subject)).toBe(false);
      expect(muted.first('payment.callback.drop', subject)?.index).toBe(plain.first('payment.callback.drop', subject)?.index);
    }
  });

  it('applies faults only inside their window (load time)', () => {
    let now = 0;
    const plan = new FaultPlan(faults([{ id: 'payment.callback.drop', window: '5s..10s' }, { id: 'stock.stale', window: '2s..' }]), 1, () => now);
    const at = (ms: number): [boolean, boolean] => {
      now = ms;
      return [plan.first('payment.callback.drop', 'b') !== undefined, plan.first('stock.stale', 'b') !== undefined];
    };
    expect(at(0)).toEqual([false, false]);
    expect(at(1999)).toEqual([false, false]);
    expect(at(2000)).toEqual([false, true]);
    expect(at(4999)).toEqual([false, true]);
    expect(at(5000)).toEqual([true, true]);
    expect(at(9999)).toEqual([true, true]);
    expect(at(10_000)).toEqual([false, true]);
    expect(at(1e9)).toEqual([false, true]);
  });

  it('draws fixed, uniform and lognormal delays deterministically and in range', () => {
    const plan = new FaultPlan([], 9);
    const same = new FaultPlan([], 9);
    const other = new FaultPlan([], 10);
    expect(plan.delayFor(0, { fixed: 250 }, 'b1')).toBe(250);

    const uniform = { uniform: { min: 100, max: 300 } };
    const uniformDraws = subjects.slice(0, 2000).map((subject) => plan.delayFor(0, uniform, subject));
    expect(Math.min(...uniformDraws)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...uniformDraws)).toBeLessThan(300);
    const uniformMean = uniformDraws.reduce((sum, value) => sum + value, 0) / uniformDraws.length;
    expect(Math.abs(uniformMean - 200)).toBeLessThan(8);
    expect(subjects.slice(0, 2000).map((subject) => same.delayFor(0, uniform, subject))).toEqual(uniformDraws);
    expect(subjects.slice(0, 2000).map((subject) => other.delayFor(0, uniform, subject))).not.toEqual(uniformDraws);

    const lognormal = { lognormal: { median: 80, sigma: 0.5 } };
    const draws = subjects.map((subject) => plan.delayFor(1, lognormal, subject));
    expect(draws.every((value) => Number.isFinite(value) && value > 0)).toBe(true);
    const sorted = [...draws].sort((x, y) => x - y);
    const median = sorted[sorted.length / 2] as number;
    expect(Math.abs(median - 80) / 80).toBeLessThan(0.05);
    // sigma 0.5: the 84th percentile sits near median × e^0.5.
    const p84 = sorted[Math.floor(sorted.length * 0.8413)] as number;
    expect(Math.abs(p84 - 80 * Math.exp(0.5)) / (80 * Math.exp(0.5))).toBeLessThan(0.06);
    expect(subjects.map((subject) => same.delayFor(1, lognormal, subject))).toEqual(draws);

    // Salts separate successive draws for one subject; the same salt repeats the draw.
    expect(plan.delayFor(1, lognormal, 'b1', 'query#1')).toBe(plan.delayFor(1, lognormal, 'b1', 'query#1'));
    expect(plan.delayFor(1, lognormal, 'b1', 'query#1')).not.toBe(plan.delayFor(1, lognormal, 'b1', 'query#2'));
  });

  it('draws a degenerate uniform delay as its one value', () => {
    expect(sampleDelay({ uniform: { min: 5, max: 5 } }, () => 0.9)).toBe(5);
  });
});
