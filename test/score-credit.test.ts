/** Stage credit and deadlines: the edges (D, 1.5·D, 2·D, never) and `expect` overrides. */
import { describe, expect, it } from 'vitest';
import { scoreScenario } from '../harness/score.js';
import { STAGES, deadlinesFor, stageCredit } from '../harness/stages.js';
import { BUYER_INCIDENT_CLASSES, FAULT_IDS } from '../harness/scenario-schema.js';
import { JournalBuilder, contactOf, makeScenario } from './score-journal.js';

describe('stageCredit', () => {
  it('is 1 up to the deadline, linear to 0 at twice the deadline, 0 when never met', () => {
    expect(stageCredit(0, 3000)).toBe(1);
    expect(stageCredit(3000, 3000)).toBe(1);
    expect(stageCredit(4500, 3000)).toBe(0.5);
    expect(stageCredit(3750, 3000)).toBe(0.75);
    expect(stageCredit(6000, 3000)).toBe(0);
    expect(stageCredit(9000, 3000)).toBe(0);
    expect(stageCredit(undefined, 3000)).toBe(0);
  });

  it('handles a zero deadline', () => {
    expect(stageCredit(0, 0)).toBe(1);
    expect(stageCredit(1, 0)).toBe(0);
  });
});

describe('stage table', () => {
  it('covers every fault id with defaults from the design', () => {
    const scenario = makeScenario();
    for (const fault of [...FAULT_IDS, ...BUYER_INCIDENT_CLASSES]) expect(STAGES[fault], fault).toBeDefined();
    expect(deadlinesFor('payment.callback.drop', scenario)).toEqual({ detect: 3000, notify: 5000, recover: 6000 });
    expect(deadlinesFor('payment.callback.delay', scenario)).toEqual({ detect: 3000, notify: 5000, recover: 6000 });
    expect(deadlinesFor('payment.callback.duplicate', scenario)).toEqual({ detect: 2000, notify: 4000, recover: 4000 });
    expect(deadlinesFor('payment.limit.single', scenario)).toEqual({ detect: 2000, notify: 3000, recover: 3000 });
    expect(deadlinesFor('stock.stale', scenario)).toEqual({ detect: 1000, notify: 3000, recover: 3000 });
    expect(deadlinesFor('payment.latency', scenario)).toEqual({ detect: 2000, notify: 5000, recover: 5000 });
  });

  it('applies expect overrides per stage', () => {
    const scenario = makeScenario({ expect: { 'payment.callback.drop': { detect: 1000 } } });
    expect(deadlinesFor('payment.callback.drop', scenario)).toEqual({
      detect: 1000,
      notify: 5000,
      recover: 6000,
    });
    expect(deadlinesFor('stock.stale', scenario)).toEqual(deadlinesFor('stock.stale', makeScenario()));
  });
});

/** A dropped callback at t=1000 detected by a query `after` ms later. */
function detectedAfter(after: number | undefined): JournalBuilder {
  const builder = new JournalBuilder()
    .buyer(0, 'b1')
    .created(10, 'b1', 'o1')
    .paid(1000, 'o1')
    .fault(1000, 'payment.callback.drop', { orderId: 'o1' })
    .fulfilled(1500, 'o1')
    .message(1600, 'o1', contactOf('b1'), 'delivered');
  if (after !== undefined) builder.queried(1000 + after, 'o1');
  return builder;
}

describe('deadline edges through the journal (detect D = 3s)', () => {
  const cases: Array<[string, number | undefined, number]> = [
    ['exactly D', 3000, 1],
    ['1.5·D', 4500, 0.5],
    ['exactly 2·D', 6000, 0],
    ['never', undefined, 0],
  ];
  for (const [label, after, credit] of cases) {
    it(`${label} → ${credit}`, async () => {
      const score = await scoreScenario(detectedAfter(after).events, makeScenario());
      const incident = score.incidents[0]!;
      expect(incident.stages.detect.credit).toBe(credit);
      expect(incident.score).toBeCloseTo(0.3 * credit + 0.2 + 0.5, 10);
      expect(score.classes['payment.callback.drop']?.score).toBeCloseTo((0.3 * credit + 0.7) * 100, 6);
      expect(score.classes['payment.callback.drop']?.stages.detect.met).toBe(after !== undefined && after <= 3000 ? 1 : 0);
      expect(score.classes['payment.callback.drop']?.stages.detect.reached).toBe(after === undefined ? 0 : 1);
    });
  }

  it('uses scenario.expect over the defaults', async () => {
    const scenario = makeScenario({ expect: { 'payment.callback.drop': { detect: '1s', recover: '200ms' } } });
    const score = await scoreScenario(detectedAfter(1500).events, scenario);
    const incident = score.incidents[0]!;
    expect(incident.stages.detect.credit).toBe(0.5);
    // recover at 500 ms with D = 200 ms: past 2·D.
    expect(incident.stages.recover).toEqual({ at: 1500, ms: 500, credit: 0 });
    expect(incident.stages.notify.credit).toBe(1);
    expect(score.classes['payment.callback.drop']?.deadlines).toEqual({ detect: 1000, notify: 5000, recover: 200 });
  });
});
