/**
 * Stage definitions of the risk and notify faults (risk.review, risk.reject, notify.error): each
 * stage met, not met, and the deadline edges. The payment, callback and stock faults are in
 * score-faults.test.ts; target.crash in steady-crash.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { Scenario, ScenarioInput } from '../core/scenario-schema.js';
import { JournalBuilder, contactOf, expectFullCredit, incident, makeScenario, score } from './score-journal.js';

const C1 = contactOf('b1');
const withFaults = (faults: ScenarioInput['faults']): Scenario => makeScenario({ faults });
/** Buyer b1 arrived and o1's stock is reserved. */
const arrived = (): JournalBuilder => new JournalBuilder().buyer(0, 'b1').reserved(5, 'o1');

describe('risk.review', () => {
  const held = (): JournalBuilder =>
    new JournalBuilder()
      .buyer(0, 'b1')
      .reserved(3, 'o1')
      .fault(5, 'risk.review', { orderId: 'o1', buyerId: 'b1' })
      .assessed(5, 'o1', 'review', 'b1')
      .created(10, 'b1', 'o1', { status: 'under_review' })
      .message(50, 'o1', C1, 'under_review');

  it('credits under_review, the message and the delivery after approval', async () => {
    const result = await incident(
      held().riskResolved(2005, 'o1', 'approved').tradeCreated(2100, 'o1').paid(2200, 'o1').fulfilled(2300, 'o1'),
      'risk.review',
    );
    expectFullCredit(result, { detect: [10, 5], notify: [50, 45], recover: [2300, 2295] });
  });

  it('after a reject recovers by failed / risk_rejected with the stock released', async () => {
    const rejected = held().riskResolved(2005, 'o1', 'rejected').released(2050, 'o1').observed(2100, 'o1', 'b1', 'failed', { reason: 'risk_rejected' });
    const result = await incident(rejected, 'risk.review');
    expect(result.stages.recover).toEqual({ at: 2100, ms: 2095, credit: 1 });
    // A delivery after a reject is not a recovery.
    const delivered = held().riskResolved(2005, 'o1', 'rejected').paid(2100, 'o1').fulfilled(2200, 'o1');
    expect((await incident(delivered, 'risk.review')).stages.recover.at).toBeUndefined();
  });

  it('takes its recover deadline from resolveAfter, per fault entry', async () => {
    const slow = new JournalBuilder()
      .buyer(0, 'b1')
      .fault(5, 'risk.review', { orderId: 'o1', buyerId: 'b1' }, 1)
      .created(10, 'b1', 'o1', { status: 'under_review' })
      .riskResolved(10_005, 'o1', 'approved')
      .paid(10_100, 'o1')
      .fulfilled(12_005, 'o1');
    // Default resolveAfter 2 s → D = 5 s; met at 12 s → 0.
    expect((await incident(slow, 'risk.review')).stages.recover.credit).toBe(0);
    const scenario = withFaults([
      { id: 'risk.review', resolveAfter: '1s' },
      { id: 'risk.review', resolveAfter: '10s' },
    ]);
    const result = await score(slow, scenario);
    expect(result.incidents[0]?.stages.recover.credit).toBe(1); // entry 1: D = 13 s
    expect(result.classes['risk.review']?.stages.recover.met).toBe(1);
    expect(result.classes['risk.review']?.deadlines.recover).toBe(4000); // the class shows the first entry's
  });
});

describe('risk.reject', () => {
  it('credits failed / risk_rejected, review_rejected and nothing charged', async () => {
    const result = await incident(
      new JournalBuilder()
        .buyer(0, 'b1')
        .fault(5, 'risk.reject', { orderId: 'o1', buyerId: 'b1' })
        .assessed(5, 'o1', 'reject', 'b1')
        .created(10, 'b1', 'o1', { status: 'failed', reason: 'risk_rejected' })
        .message(50, 'o1', C1, 'review_rejected'),
      'risk.reject',
    );
    expectFullCredit(result, { detect: [10, 5], notify: [50, 45], recover: [10, 5] });
  });

  it('does not recover while a reservation is held or money kept', async () => {
    const result = await incident(
      new JournalBuilder()
        .buyer(0, 'b1')
        .reserved(3, 'o1')
        .fault(5, 'risk.reject', { orderId: 'o1', buyerId: 'b1' })
        .created(10, 'b1', 'o1', { status: 'failed', reason: 'risk_rejected' }),
      'risk.reject',
    );
    expect(result.stages.recover.at).toBeUndefined();
  });
});

describe('notify.error', () => {
  const refused = (): JournalBuilder =>
    arrived()
      .created(10, 'b1', 'o1')
      .paid(1000, 'o1')
      .fulfilled(1100, 'o1')
      .fault(1150, 'notify.error', { orderId: 'o1', buyerId: 'b1' })
      .notifyRefused(1150, 'o1', C1, 'delivered');

  it('detects the retried message and credits its final acceptance', async () => {
    const result = await incident(
      refused().notifyRefused(1650, 'o1', C1, 'delivered').message(2150, 'o1', C1, 'delivered'),
      'notify.error',
    );
    expectFullCredit(result, { detect: [1650, 500], notify: [2150, 1000], recover: [2150, 1000] });
  });

  it('does not count a message of another kind', async () => {
    const result = await incident(refused().message(2150, 'o1', C1, 'payment_received'), 'notify.error');
    expect(result.score).toBe(0);
  });
});
