/** The gate: score minimum (and its override), selected invariants, steady state; combined runs. */
import { describe, expect, it } from 'vitest';
import { combineGates, evaluateGate, listIds } from '../harness/score/gate.js';
import { scoreScenario } from '../harness/score/score.js';
import type { ScenarioScore } from '../core/report-types.js';
import { JournalBuilder, makeScenario } from './score-journal.js';

function happyRun(count = 4): JournalBuilder {
  const journal = new JournalBuilder();
  for (let index = 1; index <= count; index++) journal.happy(index * 10, `b${index}`, `o${index}`, { latencyMs: 100 * index });
  return journal;
}

/** Paid orders left unsettled, one buyer each. */
function unsettled(journal: JournalBuilder, orderIds: string[]): JournalBuilder {
  for (const orderId of orderIds) {
    const buyerId = `buyer-${orderId}`;
    journal.buyer(0, buyerId, { behaviour: 'abandon_payment' }).created(10, buyerId, orderId).paid(100, orderId);
  }
  return journal;
}

describe('evaluateGate', () => {
  it('passes a clean run', async () => {
    const scenario = makeScenario({ gate: { minScore: 80 } });
    const score = await scoreScenario(happyRun().events, scenario);
    expect(score.score).toBe(100);
    expect(evaluateGate(score, scenario, {})).toEqual({ passed: true, reasons: [] });
  });

  it('fails when more arrivals than gate.maxDropped were dropped at the in-flight cap (a run that never sent its load passes nothing)', async () => {
    const journal = happyRun(4);
    for (let index = 0; index < 96; index++) journal.dropped(50 + index, `d${index}`);
    const scenario = makeScenario({ gate: { minScore: 0 } });
    const score = await scoreScenario(journal.events, scenario);
    expect(score.steadyState.successRate).toBe(1);
    const gate = evaluateGate(score, scenario, {});
    expect(gate.passed).toBe(false);
    expect(gate.reasons).toEqual([
      '96 of 100 arrivals (96.0%) dropped at the in-flight cap (load.maxInFlight), more than gate.maxDropped 1.0%: the shop was not sent the load the scenario describes',
    ]);
    const tolerant = makeScenario({ gate: { minScore: 0, maxDropped: 0.97 } });
    expect(evaluateGate(await scoreScenario(journal.events, tolerant), tolerant, {}).passed).toBe(true);
  });

  it('fails below the minimum score, and --min-score overrides the scenario', async () => {
    const scenario = makeScenario({ gate: { minScore: 80 } });
    const score: ScenarioScore = { ...(await scoreScenario(happyRun().events, scenario)), score: 42 };
    expect(evaluateGate(score, scenario, {})).toEqual({ passed: false, reasons: ['score 42.0 < min 80'] });
    expect(evaluateGate(score, scenario, { minScore: 40 })).toEqual({ passed: true, reasons: [] });
    expect(evaluateGate(score, scenario, { minScore: 50 }).reasons).toEqual(['score 42.0 < min 50']);
    expect(evaluateGate({ ...score, score: 80 }, scenario, {}).passed).toBe(true);
  });

  it('fails on a broken invariant and names the orders', async () => {
    const scenario = makeScenario();
    const score = await scoreScenario(unsettled(happyRun(), ['ord_a', 'ord_b', 'ord_c']).events, scenario);
    const gate = evaluateGate(score, scenario, {});
    expect(gate.passed).toBe(false);
    expect(gate.reasons).toContain('invariant paid-orders-settled broken by 3 orders: ord_a, ord_b, ord_c');
    expect(gate.reasons).toContain('invariant conservation broken by 3 orders: ord_a, ord_b, ord_c');
  });

  it('names the first five orders, then an ellipsis', async () => {
    const scenario = makeScenario({ gate: { invariants: ['paid-orders-settled'] } });
    const ids = ['o_1', 'o_2', 'o_3', 'o_4', 'o_5', 'o_6', 'o_7'];
    const score = await scoreScenario(unsettled(happyRun(), ids).events, scenario);
    expect(evaluateGate(score, scenario, {}).reasons).toEqual(['invariant paid-orders-settled broken by 7 orders: o_1, o_2, o_3, o_4, o_5, …']);
    expect(listIds(['a'])).toBe('a');
  });

  it('ignores invariants the scenario does not select', async () => {
    const scenario = makeScenario({ gate: { invariants: ['no-double-charge', 'no-oversell'] } });
    const score = await scoreScenario(unsettled(happyRun(), ['ord_a']).events, scenario);
    expect(score.invariants.find((invariant) => invariant.id === 'paid-orders-settled')?.ok).toBe(false);
    expect(evaluateGate(score, scenario, {})).toEqual({ passed: true, reasons: [] });
  });

  it('fails a broken invariant whatever the score', async () => {
    const scenario = makeScenario({ gate: { minScore: 0 } });
    const score: ScenarioScore = { ...(await scoreScenario(unsettled(happyRun(), ['ord_a']).events, scenario)), score: 100 };
    expect(evaluateGate(score, scenario, {}).passed).toBe(false);
  });

  it('fails on a steady state below its thresholds', async () => {
    const journal = happyRun(3).buyer(0, 'b9').created(10, 'b9', 'o9').finished(9000, 'b9', 'o9', 'failed', 9000);
    const strict = makeScenario({ gate: { steadyState: { successRate: 0.99, p95: '250ms' } } });
    const score = await scoreScenario(journal.events, strict);
    expect(evaluateGate(score, strict, {}).reasons).toEqual([
      'steady state success rate 75.0% < 99.0% (3/4 fault-free orders delivered)',
      'steady state p95 300ms > 250ms',
    ]);
    const lenient = makeScenario({ gate: { steadyState: { successRate: 0.75, p95: '300ms' } } });
    expect(evaluateGate(await scoreScenario(journal.events, lenient), lenient, {})).toEqual({ passed: true, reasons: [] });
  });
});

describe('combineGates', () => {
  it('passes only when every scenario passed and prefixes reasons with the scenario name', () => {
    expect(
      combineGates([
        { name: 'smoke', gate: { passed: true, reasons: [] } },
        { name: 'callback-drop', gate: { passed: false, reasons: ['score 42.0 < min 80', 'invariant no-oversell broken by 1 order: o1'] } },
      ]),
    ).toEqual({
      passed: false,
      reasons: ['callback-drop: score 42.0 < min 80', 'callback-drop: invariant no-oversell broken by 1 order: o1'],
    });
    expect(combineGates([{ name: 'smoke', gate: { passed: true, reasons: [] } }])).toEqual({ passed: true, reasons: [] });
    expect(combineGates([])).toEqual({ passed: true, reasons: [] });
  });
});

describe('evaluateGate on the new invariants', () => {
  /** A late payment on an expired order delivered silently, and a forged notice that got cards. */
  function abused(): JournalBuilder {
    return happyRun(2)
      .buyer(0, 'b8')
      .created(10, 'b8', 'ord_late')
      .observed(100, 'ord_late', 'b8', 'expired')
      .paid(200, 'ord_late')
      .fulfilled(300, 'ord_late', ['LATE'])
      .buyer(0, 'b9')
      .created(10, 'b9', 'ord_forged')
      .fault(300, 'payment.callback.forged', { orderId: 'ord_forged', buyerId: 'b9' })
      .callback(300, 'ord_forged', { forgery: 'forged' })
      .fulfilled(350, 'ord_forged', ['FORGED']);
  }

  it('fails on each, naming the orders', async () => {
    const scenario = makeScenario();
    const gate = evaluateGate(await scoreScenario(abused().events, scenario), scenario, {});
    expect(gate.passed).toBe(false);
    expect(gate.reasons).toContain('invariant no-silent-late-delivery broken by 1 order: ord_late');
    expect(gate.reasons).toContain('invariant no-delivery-on-forged-callback broken by 1 order: ord_forged');
  });

  it('can select them alone', async () => {
    const scenario = makeScenario({ gate: { invariants: ['no-silent-late-delivery'] } });
    const gate = evaluateGate(await scoreScenario(abused().events, scenario), scenario, {});
    expect(gate.reasons.filter((reason) => reason.startsWith('invariant'))).toEqual(['invariant no-silent-late-delivery broken by 1 order: ord_late']);
  });
});


describe('evaluateGate on recovery rules', () => {
  /** Normal buyers every 100 ms for 6 s (load starts at 0); those arriving in 1s..2s take 1.5 s. */
  function slowThenFast(): JournalBuilder {
    const journal = new JournalBuilder();
    for (let at = 0; at < 6000; at += 100) {
      const latency = at >= 1000 && at < 2000 ? 1500 : 200;
      journal.buyer(at, `b${at}`).created(at + 10, `b${at}`, `o${at}`).finished(at + latency, `b${at}`, `o${at}`, 'delivered', latency);
    }
    return journal;
  }
  const withRule = (within: string) =>
    makeScenario({
      load: { stages: [{ rate: '10/s', duration: '6s' }] },
      faults: [{ id: 'payment.latency', delay: { fixed: '1s' }, window: '1s..2s' }],
      gate: { recovery: [{ after: 0, within, p95: '800ms', window: '1s' }] },
    });

  it('passes a rule recovered within its time, and fails one that took longer, with the measured time', async () => {
    // The last slow order (1.9 s) completes at 3.4 s: 1.4 s after the window ended.
    const relaxed = withRule('2s');
    const relaxedScore = await scoreScenario(slowThenFast().events, relaxed);
    expect(relaxedScore.recovery?.[0]).toMatchObject({ timeToRecoverMs: 1400, met: true });
    expect(evaluateGate(relaxedScore, relaxed, {})).toEqual({ passed: true, reasons: [] });
    const strict = withRule('1s');
    expect(evaluateGate(await scoreScenario(slowThenFast().events, strict), strict, {})).toEqual({
      passed: false,
      reasons: ['recovery after faults[0] payment.latency (window ended at 2.00s): recovered after 1.40s > within 1.00s'],
    });
  });

  it('lists recovery reasons after the score, invariant and steady-state reasons', async () => {
    const scenario = makeScenario({
      load: { stages: [{ rate: '10/s', duration: '6s' }] },
      faults: [{ id: 'payment.latency', delay: { fixed: '1s' }, window: '1s..2s' }],
      gate: { minScore: 100, steadyState: { successRate: 1, p95: '100ms' }, recovery: [{ after: 'payment.latency', within: '1s', successRate: 1 }, { after: 0, within: '1s', p95: '100ms' }] },
    });
    const journal = slowThenFast();
    const score: ScenarioScore = { ...(await scoreScenario(journal.events, scenario)), score: 99 };
    const reasons = evaluateGate(score, scenario, {}).reasons;
    expect(reasons[0]).toBe('score 99.0 < min 100');
    expect(reasons[1]).toMatch(/^steady state p95 /);
    // The first rule (success rate only) is met: no reason. The second never recovers: less than its
    // 5 s window of completions follows the window end, so its one window is all of them.
    expect(reasons.slice(2)).toEqual([
      'recovery after faults[0] payment.latency (window ended at 2.00s): not recovered: the window 2.00s..6.10s still had p95 1.50s > 100ms (50 completions; the last window to fail)',
    ]);
  });
});
