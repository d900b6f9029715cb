/**
 * Stage definitions for the fault catalogue beyond the first six (those are in
 * score-stages.test.ts; risk and notify in score-faults-risk-notify.test.ts, target.crash in
 * steady-crash.test.ts): each stage met, not met, and the deadline edges where the deadline
 * depends on the scenario or the fault's parameters. Scenario timers: orderTtl 8 s,
 * reconcileAfter 1.5 s, reconcileEvery 1 s (the schema defaults).
 */
import { describe, expect, it } from 'vitest';
import type { IncidentClass, Scenario, ScenarioInput } from '../core/scenario-schema.js';
import { JournalBuilder, contactOf, expectFullCredit, incident, makeScenario, score } from './score-journal.js';
import { FORGERY_FAULTS, type ForgeryKind } from '../core/faults/callbacks.js';

const C1 = contactOf('b1');

const withFaults = (faults: ScenarioInput['faults']): Scenario => makeScenario({ faults });

/** b1 arrives, o1 reserved at 5 (the shop's orderId travels as outTradeNo before any answer). */
const arrived = (): JournalBuilder => new JournalBuilder().buyer(0, 'b1').reserved(5, 'o1');

describe('payment.error (and the failing-channel family: timeout, transport.*)', () => {
  const failedCreate = (): JournalBuilder =>
    arrived().fault(20, 'payment.error', { orderId: 'o1', buyerId: 'b1' }).tradeRefused(20, 'o1', 'SYSTEM_ERROR', 503);

  it('credits the answer after the failure, the delivered message and the delivery with one capture', async () => {
    const result = await incident(
      failedCreate()
        .tradeCreated(280, 'o1')
        .created(300, 'b1', 'o1')
        .paid(400, 'o1')
        .fulfilled(500, 'o1')
        .message(600, 'o1', C1, 'delivered')
        .observed(700, 'o1', 'b1', 'delivered', { cards: 1 }),
      'payment.error',
    );
    expectFullCredit(result, { detect: [300, 280], notify: [600, 580], recover: [500, 480] });
  });

  it('credits an honest error answer that creates no order, once the stock is released', async () => {
    const builder = failedCreate().released(250, 'o1').createFailed(300, 'b1', { httpStatus: 503 });
    const result = await incident(builder, 'payment.error');
    expectFullCredit(result, { detect: [300, 280], notify: [300, 280], recover: [300, 280] });
    const held = await incident(failedCreate().createFailed(300, 'b1', { httpStatus: 503 }), 'payment.error');
    expect(held.stages.recover.at).toBeUndefined();
  });

  it('voids detect on a false success (paid with nothing captured)', async () => {
    const result = await incident(failedCreate().created(300, 'b1', 'o1').observed(400, 'o1', 'b1', 'paid'), 'payment.error');
    expect(result.stages.detect).toMatchObject({ at: 300, credit: 0, note: 'reported paid with nothing captured' });
    expect(result.stages.recover.at).toBeUndefined();
  });

  it('voids recover when the order was charged twice', async () => {
    const result = await incident(
      failedCreate().created(300, 'b1', 'o1').paid(400, 'o1').paid(450, 'o1').fulfilled(500, 'o1'),
      'payment.error',
    );
    expect(result.stages.recover).toMatchObject({ at: 500, credit: 0, note: '2 trades captured for the order' });
  });

  it('waits for the expiry: notify and recover deadlines are orderTtl + 2 s', async () => {
    const expiring = (at: number): JournalBuilder =>
      failedCreate()
        .created(300, 'b1', 'o1')
        .observed(at, 'o1', 'b1', 'expired', { reason: 'expired_unpaid' })
        .released(at, 'o1')
        .message(at, 'o1', C1, 'expired');
    const onTime = await incident(expiring(20 + 10_000), 'payment.error');
    expect(onTime.stages.recover).toEqual({ at: 10_020, ms: 10_000, credit: 1 });
    expect(onTime.stages.notify.credit).toBe(1);
    const late = await incident(expiring(20 + 15_000), 'payment.error');
    expect(late.stages.recover.credit).toBe(0.5);
    const short = await incident(expiring(20 + 10_000), 'payment.error', 'o1', makeScenario({ shop: { orderTtl: 3000 } }));
    expect(short.stages.recover.credit).toBe(0); // D = 5 s, met at 10 s
  });

  it('payment.timeout allows 5 s to answer; transport.reset 3 s', async () => {
    const answered = (fault: IncidentClass, at: number): JournalBuilder =>
      arrived().fault(20, fault, { orderId: 'o1', buyerId: 'b1' }).created(at, 'b1', 'o1');
    expect((await incident(answered('payment.timeout', 5020), 'payment.timeout')).stages.detect.credit).toBe(1);
    expect((await incident(answered('payment.timeout', 7520), 'payment.timeout')).stages.detect.credit).toBe(0.5);
    expect((await incident(answered('transport.reset', 3020), 'transport.reset')).stages.detect.credit).toBe(1);
    expect((await incident(answered('transport.reset', 4520), 'transport.reset')).stages.detect.credit).toBe(0.5);
  });
});

describe('payment.ambiguous', () => {
  const reset = (): JournalBuilder => arrived().tradeCreated(100, 'o1').fault(100, 'payment.ambiguous', { orderId: 'o1', buyerId: 'b1' });

  it('detects by a query after the reset and recovers with exactly one capture', async () => {
    const result = await incident(
      reset().queried(600, 'o1', 'WAIT_BUYER_PAY').created(650, 'b1', 'o1').paid(700, 'o1').fulfilled(800, 'o1').message(900, 'o1', C1, 'delivered'),
      'payment.ambiguous',
    );
    expectFullCredit(result, { detect: [600, 500], notify: [900, 800], recover: [800, 700] });
  });

  it('detects by an idempotent re-create; not by a query before the reset', async () => {
    expect((await incident(reset().repeatTrade(400, 'o1'), 'payment.ambiguous')).stages.detect.at).toBe(400);
    const before = arrived().queried(50, 'o1').tradeCreated(100, 'o1').fault(100, 'payment.ambiguous', { orderId: 'o1' });
    expect((await incident(before, 'payment.ambiguous')).stages.detect.at).toBeUndefined();
  });

  it('has a detect deadline of reconcileAfter + 1 s', async () => {
    expect((await incident(reset().queried(2600, 'o1'), 'payment.ambiguous')).stages.detect.credit).toBe(1);
    expect((await incident(reset().queried(3850, 'o1'), 'payment.ambiguous')).stages.detect.credit).toBe(0.5);
  });
});

describe('payment refusals: limit.daily, decline, cross_border', () => {
  it('payment.decline: failed / payment_declined, the message naming it, stock released', async () => {
    const result = await incident(
      arrived()
        .created(10, 'b1', 'o1')
        .fault(200, 'payment.decline', { orderId: 'o1', buyerId: 'b1' })
        .payFailed(200, 'o1', 'DECLINED')
        .observed(900, 'o1', 'b1', 'failed', { reason: 'payment_declined' })
        .released(950, 'o1')
        .message(1000, 'o1', C1, 'payment_failed', { reason: 'payment_declined' }),
      'payment.decline',
    );
    expectFullCredit(result, { detect: [900, 700], notify: [1000, 800], recover: [950, 750] });
  });

  it('payment.limit.daily: a reservation that only lapsed at the supplier is not released', async () => {
    const result = await incident(
      arrived()
        .created(10, 'b1', 'o1')
        .fault(200, 'payment.limit.daily', { orderId: 'o1', buyerId: 'b1' })
        .observed(900, 'o1', 'b1', 'failed', { reason: 'payment_limit' })
        .lapsed(5000, 'o1'),
      'payment.limit.daily',
    );
    expect(result.stages.detect.at).toBe(900);
    expect(result.stages.recover.at).toBeUndefined();
  });

  it('payment.cross_border: refused at creation, failed / cross_border_blocked in the answer', async () => {
    const refused = (answerAt: number): JournalBuilder =>
      arrived()
        .fault(10, 'payment.cross_border', { orderId: 'o1', buyerId: 'b1' })
        .tradeRefused(10, 'o1', 'CROSS_BORDER_BLOCKED')
        .released(25, 'o1')
        .created(answerAt, 'b1', 'o1', { status: 'failed', reason: 'cross_border_blocked' })
        .message(answerAt + 10, 'o1', C1, 'payment_failed', { reason: 'cross_border_blocked' });
    const result = await incident(refused(30), 'payment.cross_border');
    expectFullCredit(result, { detect: [30, 20], notify: [40, 30], recover: [25, 15] });
    // D = 2 s: answered 3 s after the refusal earns half.
    expect((await incident(refused(3010), 'payment.cross_border')).stages.detect.credit).toBe(0.5);
    // A generic payment_failed answer does not name the reason.
    const vague = arrived()
      .fault(10, 'payment.cross_border', { orderId: 'o1', buyerId: 'b1' })
      .created(30, 'b1', 'o1', { status: 'failed', reason: 'service_unavailable' });
    expect((await incident(vague, 'payment.cross_border')).stages.detect.at).toBeUndefined();
  });
});

describe('payment.verification', () => {
  const verifying = (): JournalBuilder =>
    arrived()
      .created(10, 'b1', 'o1')
      .fault(100, 'payment.verification', { orderId: 'o1', buyerId: 'b1' })
      .add(100, 'payment.verification.started', { orderId: 'o1', tradeNo: 'T-o1', verificationId: 'V1' });

  it('credits awaiting_verification, verification_required and a clean expiry', async () => {
    const result = await incident(
      verifying()
        .observed(1600, 'o1', 'b1', 'awaiting_verification')
        .message(1700, 'o1', C1, 'verification_required')
        .observed(8010, 'o1', 'b1', 'expired', { reason: 'verification_timeout' })
        .released(8020, 'o1'),
      'payment.verification',
    );
    expectFullCredit(result, { detect: [1600, 1500], notify: [1700, 1600], recover: [8020, 7920] });
  });

  it('needs the verification_timeout reason and a release for a clean expiry', async () => {
    const unpaid = await incident(
      verifying().observed(8010, 'o1', 'b1', 'expired', { reason: 'expired_unpaid' }).released(8020, 'o1'),
      'payment.verification',
    );
    expect(unpaid.stages.recover.at).toBeUndefined();
    const kept = await incident(verifying().observed(8010, 'o1', 'b1', 'expired', { reason: 'verification_timeout' }), 'payment.verification');
    expect(kept.stages.recover.at).toBeUndefined();
  });

  it('recovers by delivery when the buyer completes the verification', async () => {
    const result = await incident(verifying().paid(2900, 'o1').fulfilled(3000, 'o1'), 'payment.verification');
    expect(result.stages.recover).toEqual({ at: 3000, ms: 2900, credit: 1 });
  });

  it('takes its recover deadline from orderTtl and completeAfter', async () => {
    const late = verifying().paid(13_900, 'o1').fulfilled(14_000, 'o1');
    // Defaults: recover D = orderTtl + 2 s = 10 s; met at 13.9 s → 0.61.
    expect((await incident(late, 'payment.verification')).stages.recover.credit).toBe(0.61);
    const scenario = withFaults([{ id: 'payment.verification', completeAfter: '12s' }]);
    expect((await incident(late, 'payment.verification', 'o1', scenario)).stages.recover.credit).toBe(1);
  });
});

describe('payment.callback.reorder', () => {
  const delivered = (): JournalBuilder =>
    arrived()
      .created(10, 'b1', 'o1')
      .paid(1000, 'o1')
      .callback(1010, 'o1')
      .fulfilled(1100, 'o1')
      .message(1150, 'o1', C1, 'delivered')
      .observed(1200, 'o1', 'b1', 'delivered', { cards: 1 })
      .fault(1210, 'payment.callback.reorder', { orderId: 'o1', buyerId: 'b1' });

  it('credits both notices acked, and the delivery that preceded the stale notice, at the start', async () => {
    const result = await incident(delivered().callback(1210, 'o1', { forgery: 'stale' }), 'payment.callback.reorder');
    expectFullCredit(result, { detect: [1210, 0], notify: [1210, 0], recover: [1210, 0] });
  });

  it('is not detected while the stale notice goes unacknowledged', async () => {
    const result = await incident(delivered().callback(1210, 'o1', { forgery: 'stale', acked: false }), 'payment.callback.reorder');
    expect(result.stages.detect.at).toBeUndefined();
  });

  it('voids recover when the order leaves delivered, and notify on a failure message', async () => {
    const result = await incident(
      delivered()
        .callback(1210, 'o1', { forgery: 'stale' })
        .message(1300, 'o1', C1, 'payment_failed')
        .observed(1400, 'o1', 'b1', 'failed', { reason: 'payment_declined' }),
      'payment.callback.reorder',
    );
    expect(result.stages.notify).toMatchObject({ credit: 0, note: 'a payment_failed message after the stale notice' });
    expect(result.stages.recover).toMatchObject({ credit: 0, note: 'observed failed after delivered' });
  });
});

describe('payment.callback.late', () => {
  const late = (): JournalBuilder =>
    arrived()
      .created(10, 'b1', 'o1')
      .observed(8010, 'o1', 'b1', 'expired', { reason: 'expired_unpaid' })
      .released(8020, 'o1')
      .fault(9000, 'payment.callback.late', { orderId: 'o1', buyerId: 'b1' })
      .paid(9000, 'o1')
      .callback(9010, 'o1');

  it('credits acting on the late capture, telling the buyer and delivering', async () => {
    const result = await incident(
      late().reserved(9100, 'o1').fulfilled(9200, 'o1').message(9300, 'o1', C1, 'delivered'),
      'payment.callback.late',
    );
    expectFullCredit(result, { detect: [9100, 100], notify: [9300, 300], recover: [9200, 200] });
  });

  it('recovers by a full refund', async () => {
    const result = await incident(late().refund(9500, 'o1').message(9600, 'o1', C1, 'refunded'), 'payment.callback.late');
    expect(result.stages.detect.at).toBe(9500);
    expect(result.stages.notify.at).toBe(9600);
    expect(result.stages.recover.at).toBe(9500);
  });

  it('scores 0 when the money is kept silently', async () => {
    expect((await incident(late(), 'payment.callback.late')).score).toBe(0);
  });
});

describe('payment.callback.forged, .replayed and .altered', () => {
  type ForgeryFault = (typeof FORGERY_FAULTS)[ForgeryKind];
  const attacked = (fault: ForgeryFault = 'payment.callback.forged'): JournalBuilder =>
    arrived().tradeCreated(8, 'o1').created(10, 'b1', 'o1').fault(310, fault, { orderId: 'o1', buyerId: 'b1' });
  const forgery = (fault: ForgeryFault): ForgeryKind => (Object.keys(FORGERY_FAULTS) as ForgeryKind[]).find((kind) => FORGERY_FAULTS[kind] === fault) ?? 'forged';

  for (const fault of Object.values(FORGERY_FAULTS)) {
    it(`${fault}: refused every time, no success message, expired without cards`, async () => {
      const result = await incident(
        attacked(fault)
          .callback(310, 'o1', { forgery: forgery(fault), acked: false })
          .callback(1310, 'o1', { forgery: forgery(fault), acked: false, attempt: 2 })
          .observed(8010, 'o1', 'b1', 'expired', { reason: 'expired_unpaid' }),
        fault,
      );
      expectFullCredit(result, { detect: [310, 0], notify: [310, 0], recover: [8010, 7700] });
    });
  }

  it('is not detected when any attempt was acknowledged; success message and cards void notify and recover', async () => {
    const result = await incident(
      attacked()
        .callback(310, 'o1', { forgery: 'forged', acked: false })
        .callback(1310, 'o1', { forgery: 'forged', acked: true, attempt: 2 })
        .fulfilled(1400, 'o1', ['STOLEN'])
        .message(1500, 'o1', C1, 'delivered'),
      'payment.callback.forged',
    );
    expect(result.stages.detect.at).toBeUndefined();
    expect(result.stages.notify).toMatchObject({ at: 1500, credit: 0, note: 'a delivered message after a forged notice' });
    expect(result.stages.recover).toMatchObject({ at: 1400, credit: 0, note: 'cards issued after a forged notice' });
    expect(result.score).toBe(0);
  });

  it('voids recover when the shop reported the order paid', async () => {
    const result = await incident(
      attacked().callback(310, 'o1', { forgery: 'forged', acked: true }).observed(400, 'o1', 'b1', 'paid'),
      'payment.callback.forged',
    );
    expect(result.stages.recover).toMatchObject({ at: 400, credit: 0, note: 'reported paid after a forged notice' });
  });

  it('recovers at detect time when the order neither expired nor was delivered by the end', async () => {
    const result = await incident(attacked().callback(310, 'o1', { forgery: 'forged', acked: false }), 'payment.callback.forged');
    expect(result.stages.recover).toEqual({ at: 310, ms: 0, credit: 1 });
  });

  it('has a recover deadline of orderTtl + 2 s', async () => {
    const expiredAt = (t: number): JournalBuilder =>
      attacked().callback(310, 'o1', { forgery: 'forged', acked: false }).observed(t, 'o1', 'b1', 'expired');
    expect((await incident(expiredAt(310 + 10_000), 'payment.callback.forged')).stages.recover.credit).toBe(1);
    expect((await incident(expiredAt(310 + 15_000), 'payment.callback.forged')).stages.recover.credit).toBe(0.5);
  });
});

describe('payment.callback.tampered', () => {
  const short = (): JournalBuilder =>
    arrived().created(10, 'b1', 'o1').fault(1000, 'payment.callback.tampered', { orderId: 'o1', buyerId: 'b1' }).paid(1000, 'o1', 1);

  it('credits amount_mismatch, the message and the refund of what was captured', async () => {
    const result = await incident(
      short()
        .observed(1200, 'o1', 'b1', 'failed', { reason: 'amount_mismatch' })
        .refund(1300, 'o1', 1)
        .message(1400, 'o1', C1, 'refunded', { reason: 'amount_mismatch' }),
      'payment.callback.tampered',
    );
    expectFullCredit(result, { detect: [1200, 200], notify: [1400, 400], recover: [1300, 300] });
  });

  it('voids recover when cards were issued for the short payment', async () => {
    const result = await incident(short().fulfilled(1100, 'o1').refund(1300, 'o1', 1), 'payment.callback.tampered');
    expect(result.stages.recover).toMatchObject({ at: 1300, credit: 0, note: '1 card issued for an underpaid order' });
    expect(result.stages.detect.at).toBe(1300);
  });

  it('never recovers while the short payment is kept', async () => {
    const result = await incident(short().observed(1200, 'o1', 'b1', 'failed', { reason: 'amount_mismatch' }), 'payment.callback.tampered');
    expect(result.stages.detect.credit).toBe(1);
    expect(result.stages.recover.at).toBeUndefined();
  });
});

describe('payment.callback.underpaid', () => {
  /** b1 sends 2,700 of 3,000; the provider's notice says so, correctly signed. */
  const short = (): JournalBuilder =>
    arrived().created(10, 'b1', 'o1').fault(1000, 'payment.callback.underpaid', { orderId: 'o1', buyerId: 'b1' }).paid(1000, 'o1', 2700);

  it('credits amount_mismatch, the message and the refund of the short payment', async () => {
    const result = await incident(
      short()
        .observed(1200, 'o1', 'b1', 'failed', { reason: 'amount_mismatch' })
        .refund(1300, 'o1', 2700)
        .message(1400, 'o1', C1, 'refunded', { reason: 'amount_mismatch' }),
      'payment.callback.underpaid',
    );
    expectFullCredit(result, { detect: [1200, 200], notify: [1400, 400], recover: [1300, 300] });
  });

  it('credits asking for the rest: once the whole amount is in, delivering is the recovery', async () => {
    const result = await incident(
      short()
        .observed(1200, 'o1', 'b1', 'pending_payment', { reason: 'amount_mismatch' })
        .message(1250, 'o1', C1, 'payment_failed', { reason: 'amount_mismatch' })
        .paid(2000, 'o1', 300)
        .fulfilled(2100, 'o1'),
      'payment.callback.underpaid',
    );
    expectFullCredit(result, { detect: [1200, 200], notify: [1250, 250], recover: [2100, 1100] });
  });

  it('voids recover when cards were issued on the short payment, and the forged-notice invariant names the order', async () => {
    const journal = short().fulfilled(1100, 'o1').message(1150, 'o1', C1, 'delivered');
    const result = await incident(journal, 'payment.callback.underpaid');
    expect(result.stages.recover).toMatchObject({ at: 1100, credit: 0, note: '1 card issued for an underpaid order' });
    const scored = await score(journal, withFaults([{ id: 'payment.callback.underpaid' }]));
    const broken = scored.invariants.filter((invariant) => !invariant.ok).map((invariant) => invariant.id);
    expect(broken).toEqual(expect.arrayContaining(['no-delivery-on-forged-callback', 'conservation']));
    expect(scored.invariants.find((invariant) => invariant.id === 'no-delivery-on-forged-callback')?.violations).toEqual([
      { orderIds: ['o1'], message: 'order o1 (payment.callback.underpaid) got 1 card with 2700 of 3000 captured' },
    ]);
  });
});

describe('payment.query.error', () => {
  /** A dropped callback: the shop's queries fail at 2.5 s and 3.5 s. */
  const failing = (): JournalBuilder =>
    arrived()
      .created(10, 'b1', 'o1')
      .paid(1000, 'o1')
      .fault(2500, 'payment.query.error', { orderId: 'o1', buyerId: 'b1' })
      .fault(3500, 'payment.query.error', { orderId: 'o1', buyerId: 'b1' });

  it('detects the retry (another failed query), recovers when the order ends whole', async () => {
    const result = await incident(
      failing().queried(4500, 'o1').fulfilled(4600, 'o1').message(4700, 'o1', C1, 'delivered').observed(4800, 'o1', 'b1', 'delivered', { cards: 1 }),
      'payment.query.error',
    );
    expect(result.startedAt).toBe(2500);
    expectFullCredit(result, { detect: [3500, 1000], notify: [4700, 2200], recover: [4600, 2100] });
  });

  it('scores 0 when the shop gives up after the failure', async () => {
    const result = await incident(
      arrived().created(10, 'b1', 'o1').paid(1000, 'o1').fault(2500, 'payment.query.error', { orderId: 'o1', buyerId: 'b1' }),
      'payment.query.error',
    );
    expect(result.score).toBe(0);
  });

  it('takes its recover deadline from reconcileEvery and times', async () => {
    const whole = (t: number): JournalBuilder => failing().queried(t - 100, 'o1').fulfilled(t, 'o1');
    // times 2 → D = 3 × 1 s + 3 s = 6 s.
    expect((await incident(whole(2500 + 6000), 'payment.query.error')).stages.recover.credit).toBe(1);
    expect((await incident(whole(2500 + 9000), 'payment.query.error')).stages.recover.credit).toBe(0.5);
    const scenario = withFaults([{ id: 'payment.query.error', times: 5 }]); // D = 9 s
    expect((await incident(whole(2500 + 9000), 'payment.query.error', 'o1', scenario)).stages.recover.credit).toBe(1);
  });
});

describe('payment.refund.error', () => {
  const failing = (): JournalBuilder =>
    arrived()
      .created(10, 'b1', 'o1')
      .paid(1000, 'o1')
      .fault(2000, 'payment.refund.error', { orderId: 'o1', buyerId: 'b1' })
      .refund(2000, 'o1', 3000, { ok: false });

  it('detects the retried refund and recovers when it goes through', async () => {
    const result = await incident(
      failing()
        .fault(3000, 'payment.refund.error', { orderId: 'o1', buyerId: 'b1' })
        .refund(3000, 'o1', 3000, { ok: false })
        .refund(4000, 'o1')
        .message(4100, 'o1', C1, 'refunded'),
      'payment.refund.error',
    );
    expectFullCredit(result, { detect: [3000, 1000], notify: [4100, 2100], recover: [4000, 2000] });
  });

  it('does not count the failed call itself as a retry', async () => {
    const result = await incident(failing(), 'payment.refund.error');
    expect(result.stages.detect.at).toBeUndefined();
    expect(result.stages.recover.at).toBeUndefined();
  });
});

describe('stock.lag (as stock.stale)', () => {
  it('credits out_of_stock, the message and the clean failure', async () => {
    const result = await incident(
      new JournalBuilder()
        .buyer(0, 'b1')
        .fault(600, 'stock.lag', { orderId: 'o1', buyerId: 'b1' })
        .stockRefused(600, 'o1')
        .created(650, 'b1', 'o1', { status: 'failed', reason: 'out_of_stock' })
        .message(700, 'o1', C1, 'out_of_stock'),
      'stock.lag',
    );
    expect(result.stages).toEqual({
      detect: { at: 650, ms: 50, credit: 1 },
      notify: { at: 700, ms: 100, credit: 1 },
      recover: { at: 650, ms: 50, credit: 1 },
    });
  });
});

describe('stock.sold_out_after_payment', () => {
  const soldOut = (): JournalBuilder =>
    arrived()
      .created(10, 'b1', 'o1')
      .paid(1000, 'o1')
      .fault(1100, 'stock.sold_out_after_payment', { orderId: 'o1', buyerId: 'b1' })
      .fulfilFailed(1100, 'o1', 'SOLD_OUT');

  it('credits the refund, the message and the refunded order with no cards', async () => {
    const result = await incident(
      soldOut().refund(1200, 'o1').observed(1300, 'o1', 'b1', 'refunded', { reason: 'out_of_stock' }).message(1350, 'o1', C1, 'refunded'),
      'stock.sold_out_after_payment',
    );
    expectFullCredit(result, { detect: [1200, 100], notify: [1350, 250], recover: [1200, 100] });
  });

  it('detects refund_pending before the refund; voids recover once shown delivered', async () => {
    const result = await incident(
      soldOut().observed(1150, 'o1', 'b1', 'delivered').refund(1200, 'o1').observed(1300, 'o1', 'b1', 'refund_pending'),
      'stock.sold_out_after_payment',
    );
    expect(result.stages.detect.at).toBe(1200);
    expect(result.stages.recover).toMatchObject({ at: 1200, credit: 0, note: 'shown delivered without a card' });
    const pending = await incident(soldOut().observed(1150, 'o1', 'b1', 'refund_pending'), 'stock.sold_out_after_payment');
    expect(pending.stages.detect.at).toBe(1150);
    expect(pending.stages.recover.at).toBeUndefined();
  });
});

describe('stock.fulfil.error', () => {
  const failing = (): JournalBuilder =>
    arrived()
      .created(10, 'b1', 'o1')
      .paid(1000, 'o1')
      .fault(1100, 'stock.fulfil.error', { orderId: 'o1', buyerId: 'b1' })
      .fulfilFailed(1100, 'o1');

  it('detects the retry and recovers by the cards', async () => {
    const result = await incident(
      failing()
        .fault(1600, 'stock.fulfil.error', { orderId: 'o1', buyerId: 'b1' })
        .fulfilFailed(1600, 'o1')
        .fulfilled(2100, 'o1')
        .message(2200, 'o1', C1, 'delivered'),
      'stock.fulfil.error',
    );
    expectFullCredit(result, { detect: [1600, 500], notify: [2200, 1100], recover: [2100, 1000] });
  });

  it('accepts a refund instead of a retry', async () => {
    const result = await incident(failing().refund(1500, 'o1').message(1600, 'o1', C1, 'refunded'), 'stock.fulfil.error');
    expect(result.stages.detect.at).toBe(1500);
    expect(result.stages.recover.at).toBe(1500);
    expect(result.stages.notify.at).toBe(1600);
  });

  it('does not count the failed call as a retry, nor a delivered status without a card as recovery', async () => {
    const result = await incident(failing().observed(1200, 'o1', 'b1', 'delivered'), 'stock.fulfil.error');
    expect(result.stages.detect.at).toBeUndefined();
    expect(result.stages.recover.at).toBeUndefined();
  });
});
