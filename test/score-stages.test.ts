/** Stage definitions per fault id: each stage met, never met, and evidence before the start ignored. */
import { describe, expect, it } from 'vitest';
import type { IncidentClass } from '../core/scenario-schema.js';
import { JournalBuilder, contactOf, expectFullCredit, incident, score } from './score-journal.js';

const C1 = contactOf('b1');

/** A buyer b1 whose order o1 was captured at t=1000 with the callback fault starting there. */
function captured(fault: IncidentClass): JournalBuilder {
  return new JournalBuilder()
    .buyer(0, 'b1')
    .reserved(5, 'o1')
    .tradeCreated(8, 'o1')
    .created(10, 'b1', 'o1')
    .paid(1000, 'o1')
    .fault(1000, fault, { orderId: 'o1', buyerId: 'b1' });
}

describe('payment.callback.drop', () => {
  it('credits a query, a payment message and the delivery', async () => {
    const result = await incident(
      captured('payment.callback.drop').queried(2500, 'o1').fulfilled(3000, 'o1').message(3200, 'o1', C1, 'payment_received'),
      'payment.callback.drop',
    );
    expect(result.startedAt).toBe(1000);
    expectFullCredit(result, { detect: [2500, 1500], notify: [3200, 2200], recover: [3000, 2000] });
    expect(result.score).toBe(1);
    expect(result.amount).toBe(3000);
  });

  it('scores 0 when nothing happens after the capture', async () => {
    const result = await incident(captured('payment.callback.drop'), 'payment.callback.drop');
    for (const stage of ['detect', 'notify', 'recover'] as const) {
      expect(result.stages[stage]).toEqual({ credit: 0 });
    }
    expect(result.score).toBe(0);
  });

  it('ignores evidence from before the incident start', async () => {
    const builder = new JournalBuilder()
      .buyer(0, 'b1')
      .created(10, 'b1', 'o1')
      .queried(900, 'o1')
      .message(950, 'o1', C1, 'payment_received')
      .paid(1000, 'o1')
      .fault(1000, 'payment.callback.drop', { orderId: 'o1' });
    const result = await incident(builder, 'payment.callback.drop');
    expect(result.stages.detect.credit).toBe(0);
    expect(result.stages.detect.at).toBeUndefined();
    expect(result.stages.notify.at).toBeUndefined();
  });

  it('detects by a close that finds the trade paid', async () => {
    const result = await incident(captured('payment.callback.drop').closed(1500, 'o1', 'has_success'), 'payment.callback.drop');
    expect(result.stages.detect).toEqual({ at: 1500, ms: 500, credit: 1 });
  });

  it('does not detect by a plain close', async () => {
    const result = await incident(captured('payment.callback.drop').closed(1500, 'o1', 'closed'), 'payment.callback.drop');
    expect(result.stages.detect.at).toBeUndefined();
  });

  it('recovers by a full refund, and then a refunded message notifies', async () => {
    const result = await incident(
      captured('payment.callback.drop')
        .refund(3000, 'o1', 1000)
        .refund(4000, 'o1', 2000)
        .message(4100, 'o1', C1, 'refunded'),
      'payment.callback.drop',
    );
    expectFullCredit(result, { recover: [4000, 3000], notify: [4100, 3100] });
  });

  it('does not count a partial refund, a failed refund or a repeat refund', async () => {
    const result = await incident(
      captured('payment.callback.drop')
        .refund(3000, 'o1', 1000)
        .refund(3100, 'o1', 2000, { ok: false })
        .refund(3200, 'o1', 1000, { repeat: true, refundNo: 'R-o1-3000' })
        .message(4100, 'o1', C1, 'refunded'),
      'payment.callback.drop',
    );
    expect(result.stages.recover.at).toBeUndefined();
    // Not recovered by refund: a refunded message does not tell the buyer the payment arrived.
    expect(result.stages.notify.at).toBeUndefined();
  });

  it('ignores repeat fulfilments, messages to someone else and messages the gateway dropped', async () => {
    const result = await incident(
      captured('payment.callback.drop')
        .fulfilled(2000, 'o1', ['X'], { repeat: true })
        .message(2100, 'o1', 'someone@else.test', 'delivered')
        .message(2200, 'o1', C1, 'delivered', { duplicate: true }),
      'payment.callback.drop',
    );
    expect(result.stages.recover.at).toBeUndefined();
    expect(result.stages.notify.at).toBeUndefined();
  });
});

describe('payment.callback.delay', () => {
  it('detects by the first acknowledged callback, not an unacknowledged one', async () => {
    const result = await incident(
      captured('payment.callback.delay')
        .callback(1500, 'o1', { acked: false })
        .callback(2000, 'o1', { acked: true, attempt: 2 })
        .fulfilled(2100, 'o1')
        .message(2200, 'o1', C1, 'delivered'),
      'payment.callback.delay',
    );
    expectFullCredit(result, { detect: [2000, 1000], recover: [2100, 1100], notify: [2200, 1200] });
  });

  it('detects by a query when that comes first', async () => {
    const result = await incident(captured('payment.callback.delay').queried(1800, 'o1').callback(2000, 'o1'), 'payment.callback.delay');
    expect(result.stages.detect.at).toBe(1800);
  });

  it('scores 0 when the callback is never acknowledged and nothing else happens', async () => {
    const result = await incident(captured('payment.callback.delay').callback(1500, 'o1', { acked: false }), 'payment.callback.delay');
    expect(result.score).toBe(0);
  });
});

describe('payment.callback.duplicate', () => {
  const base = (): JournalBuilder =>
    captured('payment.callback.duplicate').callback(1100, 'o1', { copy: 1 }).callback(1100, 'o1', { copy: 2 });

  it('credits the acknowledgement, one delivered message and one delivery', async () => {
    const result = await incident(
      base().fulfilled(1200, 'o1').message(1300, 'o1', C1, 'delivered').message(1310, 'o1', C1, 'delivered', { duplicate: true }),
      'payment.callback.duplicate',
    );
    expectFullCredit(result, { detect: [1100, 100], notify: [1300, 300], recover: [1200, 200] });
  });

  it('gives notify no credit when the buyer got two delivered messages', async () => {
    const builder = base().fulfilled(1200, 'o1').message(1300, 'o1', C1, 'delivered').message(1400, 'o1', C1, 'delivered');
    const result = await incident(builder, 'payment.callback.duplicate');
    expect(result.stages.notify.at).toBe(1300);
    expect(result.stages.notify.credit).toBe(0);
    expect(result.stages.notify.note).toMatch(/2 delivered messages/);
    const classes = (await score(builder)).classes['payment.callback.duplicate'];
    expect(classes?.stages.notify).toMatchObject({ met: 0, reached: 1 });
  });

  it('gives recover no credit when the order got more cards than its quantity', async () => {
    const result = await incident(base().fulfilled(1200, 'o1', ['A']).fulfilled(1250, 'o1', ['B']), 'payment.callback.duplicate');
    expect(result.stages.recover.at).toBe(1200);
    expect(result.stages.recover.credit).toBe(0);
    expect(result.stages.recover.note).toMatch(/2 distinct cards issued for quantity 1/);
  });

  it('is not detected without an acknowledged callback', async () => {
    const result = await incident(captured('payment.callback.duplicate').callback(1100, 'o1', { acked: false }), 'payment.callback.duplicate');
    expect(result.stages.detect.at).toBeUndefined();
  });
});

describe('payment.limit.single', () => {
  /** Reservation at 5, the provider refuses the trade at 200 (the start). */
  const refused = (options: { reserve?: boolean } = {}): JournalBuilder => {
    const builder = new JournalBuilder().buyer(0, 'b1');
    if (options.reserve ?? true) builder.reserved(5, 'o1');
    return builder.fault(200, 'payment.limit.single', { orderId: 'o1', buyerId: 'b1' });
  };

  it('credits the failed status, the payment_limit message and the release', async () => {
    const result = await incident(
      refused()
        .created(250, 'b1', 'o1', { status: 'failed', reason: 'payment_limit' })
        .released(300, 'o1')
        .message(400, 'o1', C1, 'payment_failed', { reason: 'payment_limit' }),
      'payment.limit.single',
    );
    expectFullCredit(result, { detect: [250, 50], notify: [400, 200], recover: [300, 100] });
  });

  it('detects from an observed status too, but not from another reason', async () => {
    const builder = refused()
      .created(250, 'b1', 'o1', { status: 'failed', reason: 'payment_declined' })
      .observed(900, 'o1', 'b1', 'failed', { reason: 'payment_limit' });
    expect((await incident(builder, 'payment.limit.single')).stages.detect.at).toBe(900);
  });

  it('does not count a payment_failed message with another reason, nor a missing release', async () => {
    const result = await incident(
      refused()
        .created(250, 'b1', 'o1', { status: 'failed', reason: 'payment_limit' })
        .message(400, 'o1', C1, 'payment_failed', { reason: 'payment_declined' }),
      'payment.limit.single',
    );
    expect(result.stages.detect.credit).toBe(1);
    expect(result.stages.notify.at).toBeUndefined();
    expect(result.stages.recover.at).toBeUndefined();
    expect(result.score).toBeCloseTo(0.3, 10);
  });

  it('recovers at the detect time when the order never had a reservation', async () => {
    const result = await incident(
      refused({ reserve: false }).created(250, 'b1', 'o1', { status: 'failed', reason: 'payment_limit' }),
      'payment.limit.single',
    );
    expect(result.stages.recover).toEqual({ at: 250, ms: 50, credit: 1 });
  });

  it('never recovers while money captured for the order is not refunded', async () => {
    const result = await incident(
      refused()
        .created(250, 'b1', 'o1', { status: 'failed', reason: 'payment_limit' })
        .paid(260, 'o1')
        .released(300, 'o1'),
      'payment.limit.single',
    );
    expect(result.stages.recover.at).toBeUndefined();
  });

  it('recovers once the captured money is refunded and the stock released', async () => {
    const result = await incident(
      refused()
        .created(250, 'b1', 'o1', { status: 'failed', reason: 'payment_limit' })
        .paid(260, 'o1')
        .released(300, 'o1')
        .refund(500, 'o1'),
      'payment.limit.single',
    );
    expect(result.stages.recover).toEqual({ at: 500, ms: 300, credit: 1 });
  });
});

describe('stock.stale', () => {
  const stale = (): JournalBuilder =>
    new JournalBuilder().buyer(0, 'b1').stockRefused(100, 'o1').fault(100, 'stock.stale', { orderId: 'o1', buyerId: 'b1' });

  it('credits out_of_stock in the answer, the message and the clean failure', async () => {
    const result = await incident(
      stale()
        .created(150, 'b1', 'o1', { status: 'failed', reason: 'out_of_stock' })
        .message(300, 'o1', C1, 'out_of_stock'),
      'stock.stale',
    );
    expectFullCredit(result, { detect: [150, 50], notify: [300, 200], recover: [150, 50] });
  });

  it('accepts a refunded message with reason out_of_stock, not one without', async () => {
    const withReason = await incident(
      stale().created(150, 'b1', 'o1', { status: 'failed', reason: 'out_of_stock' }).message(300, 'o1', C1, 'refunded', { reason: 'out_of_stock' }),
      'stock.stale',
    );
    expect(withReason.stages.notify.at).toBe(300);
    const without = await incident(
      stale().created(150, 'b1', 'o1', { status: 'failed', reason: 'out_of_stock' }).message(300, 'o1', C1, 'refunded'),
      'stock.stale',
    );
    expect(without.stages.notify.at).toBeUndefined();
  });

  it('never recovers while the buyer is still charged, and recovers at the refund', async () => {
    const charged = stale()
      .created(150, 'b1', 'o1', { status: 'pending_payment' })
      .paid(400, 'o1')
      .observed(500, 'o1', 'b1', 'failed', { reason: 'out_of_stock' });
    const result = await incident(charged, 'stock.stale');
    expect(result.stages.detect.at).toBe(500);
    expect(result.stages.recover.at).toBeUndefined();
    const refunded = await incident(charged.refund(800, 'o1'), 'stock.stale');
    expect(refunded.stages.recover).toEqual({ at: 800, ms: 700, credit: 1 });
  });

  it('scores 0 when the shop says nothing and the order hangs', async () => {
    const result = await incident(stale().created(150, 'b1', 'o1', { status: 'pending_payment' }), 'stock.stale');
    expect(result.score).toBe(0);
  });
});

describe('payment.latency', () => {
  const slow = (faultAt = 20): JournalBuilder =>
    new JournalBuilder().buyer(0, 'b1').reserved(5, 'o1').fault(faultAt, 'payment.latency', { orderId: 'o1', buyerId: 'b1' });

  it('credits the 201 answer, the delivered message and the delivery', async () => {
    const result = await incident(
      slow()
        .created(600, 'b1', 'o1')
        .paid(700, 'o1')
        .fulfilled(1000, 'o1')
        .observed(1100, 'o1', 'b1', 'delivered', { cards: 1 })
        .message(1200, 'o1', C1, 'delivered'),
      'payment.latency',
    );
    expectFullCredit(result, { detect: [600, 580], notify: [1200, 1180], recover: [1000, 980] });
  });

  it('voids detect on a false success and never recovers without a card', async () => {
    const result = await incident(
      slow().created(600, 'b1', 'o1').observed(1100, 'o1', 'b1', 'delivered').message(1200, 'o1', C1, 'delivered'),
      'payment.latency',
    );
    expect(result.stages.detect).toMatchObject({ at: 600, credit: 0, note: 'reported delivered without a card issued' });
    expect(result.stages.notify.credit).toBe(1);
    expect(result.stages.recover.at).toBeUndefined();
    expect(result.score).toBeCloseTo(0.2, 10);
  });

  it('credits a clean failure: failure message and final failed state with nothing charged', async () => {
    const result = await incident(
      slow()
        .created(600, 'b1', 'o1')
        .observed(2000, 'o1', 'b1', 'failed', { reason: 'payment_declined' })
        .message(2100, 'o1', C1, 'payment_failed', { reason: 'payment_declined' }),
      'payment.latency',
    );
    expectFullCredit(result, { notify: [2100, 2080], recover: [2000, 1980] });
  });

  it('needs a message matching the final outcome', async () => {
    const result = await incident(
      slow()
        .created(600, 'b1', 'o1')
        .fulfilled(1000, 'o1')
        .observed(1100, 'o1', 'b1', 'delivered', { cards: 1 })
        .message(1200, 'o1', C1, 'payment_received'),
      'payment.latency',
    );
    expect(result.stages.notify.at).toBeUndefined();
  });

  it('never detects without a 201 answer', async () => {
    const result = await incident(slow().createFailed(600, 'b1', { httpStatus: 503 }).fault(600, 'payment.latency', { orderId: 'o1' }), 'payment.latency');
    expect(result.stages.detect.at).toBeUndefined();
  });

  it('credits the answer at the start when the delay only hit a later call', async () => {
    const result = await incident(slow(800).created(600, 'b1', 'o1'), 'payment.latency');
    expect(result.stages.detect).toEqual({ at: 800, ms: 0, credit: 1 });
  });
});

describe('payment.latency: one charge, no false success', () => {
  it('voids detect when the shop reported paid with nothing captured', async () => {
    const result = await incident(
      new JournalBuilder()
        .buyer(0, 'b1')
        .fault(20, 'payment.latency', { orderId: 'o1', buyerId: 'b1' })
        .created(600, 'b1', 'o1')
        .observed(700, 'o1', 'b1', 'paid'),
      'payment.latency',
    );
    expect(result.stages.detect).toMatchObject({ at: 600, credit: 0, note: 'reported paid with nothing captured' });
  });

  it('voids recover when the order was captured twice and kept both', async () => {
    const builder = new JournalBuilder()
      .buyer(0, 'b1')
      .fault(20, 'payment.latency', { orderId: 'o1', buyerId: 'b1' })
      .created(600, 'b1', 'o1')
      .paid(700, 'o1')
      .paid(710, 'o1')
      .fulfilled(800, 'o1');
    expect((await incident(builder, 'payment.latency')).stages.recover).toMatchObject({ at: 800, credit: 0, note: '2 trades captured for the order' });
    expect((await incident(builder.refund(900, 'o1'), 'payment.latency')).stages.recover.credit).toBe(1);
  });
});
