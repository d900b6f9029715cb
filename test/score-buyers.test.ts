/**
 * Stage definitions for the buyer-behaviour classes (`buyer.<behaviour>`), incident attachment
 * for hits that name only the buyer, and the steady state's exclusion of those buyers.
 */
import { describe, expect, it } from 'vitest';
import type { IncidentReport } from '../core/report-types.js';
import type { IncidentClass, Scenario } from '../core/scenario-schema.js';
import { JournalBuilder, contactOf, expectFullCredit, makeScenario, score } from './score-journal.js';

const C1 = contactOf('b1');

async function only(builder: JournalBuilder, fault: IncidentClass, scenario?: Scenario): Promise<IncidentReport> {
  const found = (await score(builder, scenario)).incidents.filter((entry) => entry.class === fault);
  expect(found).toHaveLength(1);
  return found[0] as IncidentReport;
}

describe('buyer.typo_recipient and buyer.coupon_below_threshold', () => {
  /** The mistake refused at 20, the corrected order o1 created at 40 and delivered at 300. */
  const corrected = (fault: 'buyer.typo_recipient' | 'buyer.coupon_below_threshold', code: string, httpStatus = 400): JournalBuilder =>
    new JournalBuilder()
      .buyer(0, 'b1', { behaviour: fault === 'buyer.typo_recipient' ? 'typo_recipient' : 'coupon_below_threshold' })
      .fault(10, fault, { buyerId: 'b1' })
      .createFailed(20, 'b1', { httpStatus, errorCode: code, intent: 'mistake', key: 'key-b1-m' })
      .created(40, 'b1', 'o1', { intent: 'correction' })
      .paid(100, 'o1')
      .fulfilled(300, 'o1');

  it('typo: the 400 invalid_recipient detects and notifies; the corrected order’s delivery recovers', async () => {
    const result = await only(corrected('buyer.typo_recipient', 'invalid_recipient'), 'buyer.typo_recipient');
    expect(result.orderId).toBe('o1');
    expect(result.buyerId).toBe('b1');
    expectFullCredit(result, { detect: [20, 10], notify: [20, 10], recover: [300, 290] });
  });

  it('coupon: the 400 coupon_below_threshold detects; another error code does not', async () => {
    const result = await only(corrected('buyer.coupon_below_threshold', 'coupon_below_threshold'), 'buyer.coupon_below_threshold');
    expect(result.stages.detect.at).toBe(20);
    const vague = await only(corrected('buyer.coupon_below_threshold', 'invalid_request'), 'buyer.coupon_below_threshold');
    expect(vague.stages.detect.at).toBeUndefined();
    expect(vague.stages.notify.at).toBeUndefined();
    expect(vague.stages.recover.at).toBe(300);
  });

  it('a 422 with the code is a refusal too (as many shops answer); a 409 or 5xx is not', async () => {
    const unprocessable = await only(corrected('buyer.coupon_below_threshold', 'coupon_below_threshold', 422), 'buyer.coupon_below_threshold');
    expect(unprocessable.stages.detect.at).toBe(20);
    for (const status of [409, 500]) {
      const other = await only(corrected('buyer.coupon_below_threshold', 'coupon_below_threshold', status), 'buyer.coupon_below_threshold');
      expect(other.stages.detect.at).toBeUndefined();
    }
  });

  it('a mistake the shop accepted earns nothing, even when that order is delivered', async () => {
    const journal = new JournalBuilder()
      .buyer(0, 'b1', { behaviour: 'typo_recipient' })
      .fault(10, 'buyer.typo_recipient', { buyerId: 'b1' })
      .created(20, 'b1', 'o1', { intent: 'mistake', key: 'key-b1-m' })
      .paid(100, 'o1')
      .fulfilled(300, 'o1');
    const result = await only(journal, 'buyer.typo_recipient');
    expect(result.orderId).toBe('o1');
    expect(result.score).toBe(0);
  });

  it('the corrected order’s recover deadline is 5 s', async () => {
    const late = new JournalBuilder()
      .buyer(0, 'b1', { behaviour: 'typo_recipient' })
      .fault(10, 'buyer.typo_recipient', { buyerId: 'b1' })
      .createFailed(20, 'b1', { httpStatus: 400, errorCode: 'invalid_recipient', intent: 'mistake' })
      .created(40, 'b1', 'o1', { intent: 'correction' })
      .fulfilled(7510, 'o1');
    expect((await only(late, 'buyer.typo_recipient')).stages.recover.credit).toBe(0.5);
  });
});

describe('buyer.wrong_sku_then_cancel', () => {
  /** Wrong order o1 (reserved), cancelled at 120; correction o2 delivered at 300. */
  const cancelled = (): JournalBuilder =>
    new JournalBuilder()
      .buyer(0, 'b1', { behaviour: 'wrong_sku_then_cancel' })
      .reserved(5, 'o1')
      .created(10, 'b1', 'o1', { intent: 'mistake', key: 'key-b1-m' })
      .fault(100, 'buyer.wrong_sku_then_cancel', { orderId: 'o1', buyerId: 'b1' })
      .cancelAnswered(120, 'b1', 'o1');

  const corrected = (builder: JournalBuilder): JournalBuilder =>
    builder.reserved(190, 'o2').created(200, 'b1', 'o2', { intent: 'correction' }).paid(250, 'o2').fulfilled(300, 'o2');

  it('credits the cancel, the cancelled message, and recovers at the correction’s delivery', async () => {
    const result = await only(corrected(cancelled().released(130, 'o1').message(140, 'o1', C1, 'cancelled')), 'buyer.wrong_sku_then_cancel');
    expect(result.orderId).toBe('o1');
    expectFullCredit(result, { detect: [120, 20], notify: [140, 40], recover: [300, 200] });
  });

  it('does not recover when the wrong order’s reservation only lapsed, or no correction was delivered', async () => {
    const lapsed = await only(corrected(cancelled().lapsed(5000, 'o1')), 'buyer.wrong_sku_then_cancel');
    expect(lapsed.stages.recover.at).toBeUndefined();
    const uncorrected = await only(cancelled().released(130, 'o1'), 'buyer.wrong_sku_then_cancel');
    expect(uncorrected.stages.recover.at).toBeUndefined();
  });

  it('does not detect a refused cancel', async () => {
    const journal = new JournalBuilder()
      .buyer(0, 'b1', { behaviour: 'wrong_sku_then_cancel' })
      .created(10, 'b1', 'o1', { intent: 'mistake' })
      .fault(100, 'buyer.wrong_sku_then_cancel', { orderId: 'o1', buyerId: 'b1' })
      .cancelAnswered(120, 'b1', 'o1', { httpStatus: 409, status: 'pending_payment' });
    expect((await only(journal, 'buyer.wrong_sku_then_cancel')).stages.detect.at).toBeUndefined();
  });
});

describe('buyer.double_submit and buyer.multi_window', () => {
  it('double_submit: the second answer names the same order; one charge, delivered', async () => {
    const journal = new JournalBuilder()
      .buyer(0, 'b1', { behaviour: 'double_submit' })
      .created(20, 'b1', 'o1')
      .created(25, 'b1', 'o1')
      .fault(30, 'buyer.double_submit', { orderId: 'o1', buyerId: 'b1' })
      .paid(100, 'o1')
      .fulfilled(200, 'o1');
    const result = await only(journal, 'buyer.double_submit');
    expectFullCredit(result, { detect: [30, 0], notify: [30, 0], recover: [200, 170] });
  });

  it('double_submit: a 409 for the second counts; a 5xx (retried by the buyer) is ignored', async () => {
    const journal = new JournalBuilder()
      .buyer(0, 'b1', { behaviour: 'double_submit' })
      .createFailed(15, 'b1', { httpStatus: 503 })
      .created(20, 'b1', 'o1')
      .createFailed(25, 'b1', { httpStatus: 409, errorCode: 'idempotency_key_reused' })
      .fault(30, 'buyer.double_submit', { orderId: 'o1', buyerId: 'b1' });
    expect((await only(journal, 'buyer.double_submit')).stages.detect.at).toBe(30);
  });

  /** Two windows, two orders: both paid at 100; o2 refunded at `refundAt` (if given). */
  const twoOrders = (refundAt?: number): JournalBuilder => {
    const journal = new JournalBuilder()
      .buyer(0, 'b1', { behaviour: 'multi_window' })
      .created(20, 'b1', 'o1', { key: 'w1' })
      .created(120, 'b1', 'o2', { key: 'w2', intent: 'second_window' })
      .fault(130, 'buyer.multi_window', { orderId: 'o1', buyerId: 'b1' })
      .paid(200, 'o1')
      .paid(210, 'o2')
      .fulfilled(300, 'o1')
      .fulfilled(310, 'o2', ['X2']);
    if (refundAt !== undefined) journal.refund(refundAt, 'o2');
    return journal;
  };

  it('multi_window: two orders are not detected; two charges never recover', async () => {
    const result = await only(twoOrders(), 'buyer.multi_window');
    expect(result.stages.detect.at).toBeUndefined();
    expect(result.stages.notify.at).toBeUndefined();
    expect(result.stages.recover.at).toBeUndefined();
  });

  it('multi_window: a refund of the extra charge recovers, with linear credit past the deadline', async () => {
    expect((await only(twoOrders(400), 'buyer.multi_window')).stages.recover).toEqual({ at: 400, ms: 270, credit: 1 });
    expect((await only(twoOrders(130 + 7500), 'buyer.multi_window')).stages.recover.credit).toBe(0.5);
  });

  it('multi_window: the shop answering the second window with the first order detects', async () => {
    const journal = new JournalBuilder()
      .buyer(0, 'b1', { behaviour: 'multi_window' })
      .created(20, 'b1', 'o1', { key: 'w1' })
      .created(120, 'b1', 'o1', { key: 'w2', intent: 'second_window' })
      .fault(130, 'buyer.multi_window', { orderId: 'o1', buyerId: 'b1' })
      .paid(200, 'o1')
      .fulfilled(300, 'o1');
    const result = await only(journal, 'buyer.multi_window');
    expect(result.stages.detect.at).toBe(130);
    expect(result.stages.recover.at).toBe(300);
  });
});

describe('buyer.abandon_payment', () => {
  const abandoned = (expiredAt: number): JournalBuilder =>
    new JournalBuilder()
      .buyer(0, 'b1', { behaviour: 'abandon_payment' })
      .reserved(5, 'o1')
      .created(10, 'b1', 'o1')
      .fault(10, 'buyer.abandon_payment', { orderId: 'o1', buyerId: 'b1' })
      .observed(expiredAt, 'o1', 'b1', 'expired', { reason: 'expired_unpaid' });

  it('credits expired seen, the expired message and the shop’s own release', async () => {
    const result = await only(abandoned(8010).released(8015, 'o1').message(8020, 'o1', C1, 'expired'), 'buyer.abandon_payment');
    expectFullCredit(result, { detect: [8010, 8000], notify: [8020, 8010], recover: [8015, 8005] });
  });

  it('a reservation that lapsed at the supplier is not a release', async () => {
    const result = await only(abandoned(8010).lapsed(8015, 'o1'), 'buyer.abandon_payment');
    expect(result.stages.recover.at).toBeUndefined();
  });

  it('has deadlines of orderTtl + 2 s / + 3 s', async () => {
    expect((await only(abandoned(10 + 10_000), 'buyer.abandon_payment')).stages.detect.credit).toBe(1);
    expect((await only(abandoned(10 + 15_000), 'buyer.abandon_payment')).stages.detect.credit).toBe(0.5);
    const short = makeScenario({ shop: { orderTtl: 2000 } });
    expect((await only(abandoned(10 + 6000), 'buyer.abandon_payment', short)).stages.detect.credit).toBe(0.5);
  });
});

describe('buyer.slow_payment', () => {
  const slow = (): JournalBuilder =>
    new JournalBuilder()
      .buyer(0, 'b1', { behaviour: 'slow_payment' })
      .created(10, 'b1', 'o1')
      .fault(7700, 'buyer.slow_payment', { orderId: 'o1', buyerId: 'b1' });

  it('paid just in time: settled, told and delivered', async () => {
    const result = await only(
      slow().paid(7700, 'o1').fulfilled(7800, 'o1').observed(7850, 'o1', 'b1', 'delivered', { cards: 1 }).message(7900, 'o1', C1, 'delivered'),
      'buyer.slow_payment',
    );
    expectFullCredit(result, { detect: [7850, 150], notify: [7900, 200], recover: [7800, 100] });
  });

  it('too late: expired with nothing charged, or the late capture refunded', async () => {
    const expired = await only(slow().observed(8010, 'o1', 'b1', 'expired').message(8020, 'o1', C1, 'expired'), 'buyer.slow_payment');
    expect(expired.stages.recover.at).toBe(8010);
    expect(expired.stages.notify.at).toBe(8020);
    const kept = await only(slow().paid(7700, 'o1').observed(8010, 'o1', 'b1', 'expired'), 'buyer.slow_payment');
    expect(kept.stages.recover.at).toBeUndefined();
    const refunded = await only(slow().paid(7700, 'o1').observed(8010, 'o1', 'b1', 'expired').refund(8500, 'o1'), 'buyer.slow_payment');
    expect(refunded.stages.recover.at).toBe(8500);
  });
});

describe('buyer incidents in the score', () => {
  it('scores buyer classes with the faults, and leaves their buyers out of the steady state', async () => {
    const journal = new JournalBuilder()
      .happy(0, 'b10', 'o10')
      .buyer(0, 'b1', { behaviour: 'abandon_payment' })
      .created(10, 'b1', 'o1')
      .fault(10, 'buyer.abandon_payment', { orderId: 'o1', buyerId: 'b1' })
      .observed(8010, 'o1', 'b1', 'expired')
      .message(8020, 'o1', C1, 'expired')
      .finished(8020, 'b1', 'o1', 'abandoned', 8020)
      // a normal buyer hit by a fault that names only the buyer is not steady state either
      .happy(0, 'b11', 'o11')
      .fault(5, 'payment.latency', { buyerId: 'b11' });
    const result = await score(journal);
    expect(Object.keys(result.classes)).toEqual(['buyer.abandon_payment', 'payment.latency']);
    expect(result.classes['buyer.abandon_payment']).toMatchObject({ incidents: 1, score: 100, weight: 3000 });
    expect(result.classes['buyer.abandon_payment']?.deadlines).toEqual({ detect: 10_000, notify: 11_000, recover: 11_000 });
    expect(result.steadyState).toMatchObject({ orders: 1, succeeded: 1 });
  });

  it('a buyer-only hit with no order at all is an unattached incident, still scored from the buyer’s answers', async () => {
    const journal = new JournalBuilder()
      .buyer(0, 'b1', { behaviour: 'typo_recipient' })
      .fault(10, 'buyer.typo_recipient', { buyerId: 'b1' })
      .createFailed(20, 'b1', { httpStatus: 400, errorCode: 'invalid_recipient', intent: 'mistake' })
      .createFailed(40, 'b1', { httpStatus: 503, intent: 'correction' });
    const result = await score(journal);
    expect(result.load.unattachedFaults).toBe(1);
    const incident = result.incidents[0]!;
    expect(incident).toMatchObject({ class: 'buyer.typo_recipient', orderId: null, buyerId: 'b1', amount: 3000 });
    expect(incident.stages.detect.at).toBe(20);
    expect(incident.stages.recover.at).toBeUndefined();
    expect(incident.score).toBe(0.5);
  });
});
