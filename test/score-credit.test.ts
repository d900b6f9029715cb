/** Stage credit and deadlines: the edges (D, 1.5·D, 2·D, never) and `expect` overrides. */
import { describe, expect, it } from 'vitest';
import { scoreScenario } from '../harness/score/score.js';
import { stagesOf } from '../core/faults/index.js';
import { deadlinesFor, stageCredit } from '../harness/score/credit.js';
import { BUYER_INCIDENT_CLASSES, FAULT_IDS } from '../core/scenario-schema.js';
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
    for (const fault of [...FAULT_IDS, ...BUYER_INCIDENT_CLASSES]) expect(stagesOf(fault), fault).toBeDefined();
    expect(deadlinesFor('payment.callback.drop', scenario)).toEqual({ detect: 3000, notify: 5000, recover: 6000 });
    expect(deadlinesFor('payment.callback.delay', scenario)).toEqual({ detect: 3000, notify: 5000, recover: 6000 });
    expect(deadlinesFor('payment.callback.duplicate', scenario)).toEqual({ detect: 2000, notify: 4000, recover: 4000 });
    expect(deadlinesFor('payment.limit.single', scenario)).toEqual({ detect: 2000, notify: 3000, recover: 3000 });
    expect(deadlinesFor('stock.stale', scenario)).toEqual({ detect: 1000, notify: 3000, recover: 3000 });
    expect(deadlinesFor('payment.latency', scenario)).toEqual({ detect: 2000, notify: 5000, recover: 5000 });
  });

  it('has a default for every class, from the scenario timers and the fault parameters', () => {
    const scenario = makeScenario(); // orderTtl 8 s, reconcileAfter 1.5 s, reconcileEvery 1 s
    const table = Object.fromEntries(
      [...FAULT_IDS, ...BUYER_INCIDENT_CLASSES].map((id) => {
        const { detect, notify, recover } = deadlinesFor(id, scenario);
        return [id, [detect, notify, recover]];
      }),
    );
    expect(table).toEqual({
      'payment.latency': [2000, 5000, 5000],
      'payment.error': [2000, 10_000, 10_000],
      'payment.timeout': [5000, 10_000, 10_000],
      'payment.ambiguous': [2500, 10_000, 10_000],
      'payment.limit.single': [2000, 3000, 3000],
      'payment.limit.daily': [2000, 3000, 3000],
      'payment.cross_border': [2000, 3000, 3000],
      'payment.verification': [3500, 4500, 10_000],
      'payment.decline': [2000, 3000, 3000],
      'payment.callback.drop': [3000, 5000, 6000],
      'payment.callback.delay': [3000, 5000, 6000],
      'payment.callback.duplicate': [2000, 4000, 4000],
      'payment.callback.reorder': [1000, 3000, 3000],
      'payment.callback.late': [3000, 5000, 5000],
      'payment.callback.forged': [1000, 1000, 10_000],
      'payment.callback.replayed': [1000, 1000, 10_000],
      'payment.callback.altered': [1000, 1000, 10_000],
      'payment.callback.tampered': [2000, 3000, 5000],
      'payment.callback.underpaid': [2000, 3000, 5000],
      'payment.query.error': [2000, 6000, 6000],
      'payment.refund.error': [3000, 8000, 8000],
      'stock.stale': [1000, 3000, 3000],
      'stock.lag': [1000, 3000, 3000],
      'stock.sold_out_after_payment': [2000, 4000, 5000],
      'stock.fulfil.error': [2000, 6000, 6000],
      'risk.review': [2000, 3000, 5000],
      'risk.reject': [2000, 3000, 3000],
      'notify.error': [2000, 5000, 5000],
      'notify.email.outage': [2000, 5000, 5000],
      'transport.reset': [3000, 10_000, 10_000],
      'transport.empty': [3000, 10_000, 10_000],
      'transport.malformed': [3000, 10_000, 10_000],
      'transport.dribble': [5000, 10_000, 10_000],
      'target.crash': [3000, 5000, 5000],
      'buyer.typo_recipient': [1000, 1000, 5000],
      'buyer.wrong_sku_then_cancel': [1000, 3000, 5000],
      'buyer.coupon_below_threshold': [1000, 1000, 5000],
      'buyer.double_submit': [1000, 1000, 5000],
      'buyer.multi_window': [1000, 1000, 5000],
      'buyer.abandon_payment': [10_000, 11_000, 11_000],
      'buyer.slow_payment': [3000, 4000, 5000],
    });
    for (const id of [...FAULT_IDS, ...BUYER_INCIDENT_CLASSES]) {
      for (const stage of ['detect', 'notify', 'recover'] as const) expect(stagesOf(id).describe[stage].length, `${id} ${stage}`).toBeGreaterThan(0);
    }
  });

  it('scales with the scenario and the fault entry', () => {
    const scenario = makeScenario({
      shop: { orderTtl: '20s', reconcileAfter: '3s', reconcileEvery: '2s' },
      faults: [
        { id: 'risk.review', resolveAfter: '30s' },
        { id: 'payment.refund.error', times: 4 },
        { id: 'target.crash', at: '1s', pause: '5s' },
      ],
    });
    expect(deadlinesFor('buyer.abandon_payment', scenario)).toEqual({ detect: 22_000, notify: 23_000, recover: 23_000 });
    expect(deadlinesFor('payment.ambiguous', scenario)).toEqual({ detect: 4000, notify: 22_000, recover: 22_000 });
    expect(deadlinesFor('payment.verification', scenario)).toEqual({ detect: 6000, notify: 7000, recover: 22_000 });
    expect(deadlinesFor('payment.query.error', scenario)).toEqual({ detect: 3000, notify: 9000, recover: 9000 });
    expect(deadlinesFor('risk.review', scenario).recover).toBe(33_000);
    expect(deadlinesFor('payment.refund.error', scenario).recover).toBe(12_000);
    // Counted from the restart, so the pause does not lengthen them.
    expect(deadlinesFor('target.crash', scenario)).toEqual({ detect: 3000, notify: 5000, recover: 5000 });
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
