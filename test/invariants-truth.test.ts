/**
 * What a buyer would see, checked for truth (issue 14, 13a/13b): `settled-status-holds` on what the
 * harness read (polls and the final read after the settle phase) and `truthful-messages` on the
 * messages against the supplier's and the provider's ledgers — on built journals.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { foldJournal, foldJournalFile, scoreFolded, scoreScenario } from '../harness/score/score.js';
import type { InvariantResult } from '../core/report-types.js';
import type { InvariantId } from '../core/scenario-schema.js';
import { JournalBuilder, contactOf, makeScenario } from './score-journal.js';

async function invariant(builder: JournalBuilder, id: InvariantId): Promise<InvariantResult> {
  const score = await scoreScenario(builder.events, makeScenario());
  return score.invariants.find((result) => result.id === id)!;
}

/** The final read's journal line: a view that differs from the harness's last look. */
function finalRead(builder: JournalBuilder, t: number, orderId: string, buyerId: string, status: string, cardCodes?: string[]): JournalBuilder {
  return builder.add(t, 'order.observed', { orderId, buyerId, status, cards: cardCodes?.length ?? 0, ...(cardCodes ? { cardCodes } : {}), source: 'final' });
}

function summary(builder: JournalBuilder, t: number, orders: number, changed: number): JournalBuilder {
  return builder.add(t, 'orders.final_read', { orders, read: orders, changed, unread: 0, cut: false });
}

/** A shop declaring it holds its own stock: no supplier ledger says when cards were issued. */
function ownStock(builder: JournalBuilder): JournalBuilder {
  return builder.add(0, 'run.started', {
    scenario: 'own-stock',
    seed: 1,
    startedAt: '2024-05-01T00:00:00.000Z',
    replay: '',
    target: 'shop',
    observes: { stockSupplier: false, riskScreening: false, notify: ['email'], buyerCancel: false, recipient: true },
  });
}

describe('settled-status-holds', () => {
  it('holds when the final read finds what the buyer saw, and for legal moves (refund after delivery, a late payment on an expired order)', async () => {
    const journal = new JournalBuilder()
      .happy(0, 'b1', 'o1')
      .happy(0, 'b2', 'o2')
      .buyer(0, 'b3')
      .created(10, 'b3', 'o3')
      .observed(100, 'o3', 'b3', 'expired')
      .paid(200, 'o3')
      .fulfilled(300, 'o3')
      .observed(400, 'o3', 'b3', 'delivered', { cardCodes: ['CARD-o3'] });
    // o2 refunded after delivery: a refund may follow a delivery at some shops.
    journal.refund(500, 'o2');
    finalRead(journal, 600, 'o2', 'b2', 'refunded');
    summary(journal, 700, 3, 1);
    const result = await invariant(journal, 'settled-status-holds');
    expect(result.violations).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it('breaks when the final read finds a delivered order back at paid, naming it', async () => {
    const journal = new JournalBuilder().happy(0, 'b1', 'o1').happy(0, 'b2', 'o2');
    finalRead(journal, 900, 'o2', 'b2', 'paid');
    summary(journal, 950, 2, 1);
    const result = await invariant(journal, 'settled-status-holds');
    expect(result.ok).toBe(false);
    expect(result.violations).toEqual([{ orderIds: ['o2'], message: 'order o2 was delivered, then at the final read read paid' }]);
    expect(result.description).toMatch(/\(final read: 2\/2 orders read, 1 changed\)$/);
  });

  it('says when the final read was cut short or skipped, rather than holding silently', async () => {
    const cut = new JournalBuilder().happy(0, 'b1', 'o1').happy(0, 'b2', 'o2');
    cut.add(900, 'orders.final_read', { orders: 2, read: 1, changed: 0, unread: 1, cut: true });
    const cutResult = await invariant(cut, 'settled-status-holds');
    expect(cutResult.ok).toBe(true);
    expect(cutResult.description).toMatch(/\(final read: 1\/2 orders read, 0 changed, 1 not read \(cut short\)\)$/);
    const skipped = new JournalBuilder().happy(0, 'b1', 'o1');
    skipped.add(900, 'orders.final_read', { orders: 1, read: 0, changed: 0, unread: 1, cut: false, skipped: 'target-down' });
    expect((await invariant(skipped, 'settled-status-holds')).description).toMatch(/\(final read skipped: the shop was down\)$/);
    // A journal from before the final read: the plain description.
    expect((await invariant(new JournalBuilder().happy(0, 'b1', 'o1'), 'settled-status-holds')).description).not.toContain('final read:');
  });

  it('breaks on a refunded order read delivered, and on an expired order asking for payment again; a create answer is not judged', async () => {
    const journal = new JournalBuilder()
      .buyer(0, 'b1')
      .created(10, 'b1', 'o1')
      .paid(100, 'o1')
      .refund(200, 'o1')
      .observed(300, 'o1', 'b1', 'refunded')
      .observed(400, 'o1', 'b1', 'delivered')
      .buyer(0, 'b2')
      .created(10, 'b2', 'o2')
      .observed(100, 'o2', 'b2', 'expired')
      // A replayed idempotency key answers the order's first view: not a regression.
      .created(150, 'b2', 'o2', { status: 'pending_payment' });
    finalRead(journal, 900, 'o2', 'b2', 'pending_payment');
    const result = await invariant(journal, 'settled-status-holds');
    expect(result.violations).toEqual([
      { orderIds: ['o1'], message: 'order o1 was refunded, then later read delivered' },
      { orderIds: ['o2'], message: 'order o2 was expired, then at the final read read pending_payment' },
    ]);
  });

  it('a delivered order moving back to expired breaks it even after a late payment made it delivered', async () => {
    const journal = new JournalBuilder()
      .buyer(0, 'b1')
      .created(10, 'b1', 'o1')
      .observed(100, 'o1', 'b1', 'expired')
      .paid(200, 'o1')
      .fulfilled(300, 'o1')
      .observed(400, 'o1', 'b1', 'delivered', { cardCodes: ['CARD-o1'] });
    finalRead(journal, 900, 'o1', 'b1', 'expired');
    const result = await invariant(journal, 'settled-status-holds');
    expect(result.violations).toEqual([{ orderIds: ['o1'], message: 'order o1 was delivered, then at the final read read expired' }]);
  });
});

describe('truthful-messages', () => {
  it('holds for messages that follow their facts, the same millisecond included, and a refund after delivery', async () => {
    const journal = new JournalBuilder()
      .happy(0, 'b1', 'o1')
      .buyer(0, 'b2')
      .created(10, 'b2', 'o2')
      .paid(100, 'o2')
      .message(100, 'o2', contactOf('b2'), 'payment_received')
      .fulfilled(200, 'o2')
      .message(200, 'o2', contactOf('b2'), 'delivered')
      .refund(300, 'o2')
      .message(310, 'o2', contactOf('b2'), 'refunded');
    const result = await invariant(journal, 'truthful-messages');
    expect(result.violations).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it('breaks on a "delivered" message for an order that ended refunded with no card', async () => {
    const journal = new JournalBuilder()
      .happy(0, 'b1', 'o1')
      .buyer(0, 'b2')
      .created(10, 'b2', 'o2')
      .paid(100, 'o2')
      .message(120, 'o2', contactOf('b2'), 'delivered')
      .fulfilFailed(150, 'o2', 'SOLD_OUT')
      .refund(300, 'o2')
      .observed(400, 'o2', 'b2', 'refunded');
    const result = await invariant(journal, 'truthful-messages');
    expect(result.ok).toBe(false);
    expect(result.violations).toEqual([{ orderIds: ['o2'], message: 'order o2: 1 "delivered" message sent, no card ever issued (last status: refunded)' }]);
  });

  it('breaks on a "delivered" message sent before the supplier issued the cards', async () => {
    const journal = new JournalBuilder()
      .buyer(0, 'b1')
      .created(10, 'b1', 'o1')
      .paid(100, 'o1')
      .message(150, 'o1', contactOf('b1'), 'delivered')
      .fulfilled(190, 'o1')
      .observed(200, 'o1', 'b1', 'delivered', { cardCodes: ['CARD-o1'] });
    const result = await invariant(journal, 'truthful-messages');
    expect(result.violations).toEqual([{ orderIds: ['o1'], message: 'order o1: "delivered" message sent 40 ms before the first card was issued' }]);
  });

  it('breaks on a "payment received" message for an order never paid, or told before the capture', async () => {
    const journal = new JournalBuilder()
      .buyer(0, 'b1')
      .created(10, 'b1', 'o1')
      .message(50, 'o1', contactOf('b1'), 'payment_received')
      .observed(3000, 'o1', 'b1', 'expired')
      .buyer(0, 'b2')
      .created(10, 'b2', 'o2')
      .message(50, 'o2', contactOf('b2'), 'payment_received')
      .paid(80, 'o2')
      .fulfilled(90, 'o2')
      .message(95, 'o2', contactOf('b2'), 'delivered');
    const result = await invariant(journal, 'truthful-messages');
    expect(result.violations).toEqual([
      { orderIds: ['o1'], message: 'order o1: 1 "payment received" message sent, no money ever captured' },
      { orderIds: ['o2'], message: 'order o2: "payment received" message sent 30 ms before any money was captured' },
    ]);
  });

  it('a shop holding its own stock is judged by the end only: its cards are known from what the buyer was shown, a poll late', async () => {
    const journal = ownStock(new JournalBuilder())
      .buyer(0, 'b1')
      .created(10, 'b1', 'o1')
      .paid(100, 'o1')
      // Sent as the shop issued its own card; the buyer's poll sees it later.
      .message(110, 'o1', contactOf('b1'), 'delivered')
      .observed(300, 'o1', 'b1', 'delivered', { cardCodes: ['OWN-1'] })
      .buyer(0, 'b2')
      .created(10, 'b2', 'o2')
      .paid(100, 'o2')
      .message(110, 'o2', contactOf('b2'), 'delivered')
      .observed(300, 'o2', 'b2', 'refunded');
    const result = await invariant(journal, 'truthful-messages');
    expect(result.violations).toEqual([{ orderIds: ['o2'], message: 'order o2: 1 "delivered" message sent, no card ever issued (last status: refunded)' }]);
  });
});

describe('a bounded fold (a long run\'s journal)', () => {
  it('blames what the full fold blames: a lie told before the buyer was compacted, a regression read long after', async () => {
    const journal = new JournalBuilder();
    for (let index = 0; index < 30; index++) journal.happy(index * 1000, `b${index}`, `o${index}`);
    // o5: told "payment received" before the capture (inside its buyer's life, compacted a second after).
    journal.message(5040, 'o5', contactOf('b5'), 'payment_received');
    journal.events.sort((a, b) => a.t - b.t || a.seq - b.seq);
    // o7 read back at paid by the final read, 30 s after its buyer was checked and dropped.
    finalRead(journal, 60_000, 'o7', 'b7', 'paid');
    summary(journal, 60_001, 30, 1);
    const scenario = makeScenario();
    const full = scoreFolded(await foldJournal(journal.events), scenario);
    const dir = await mkdtemp(join(tmpdir(), 'ordeal-truth-'));
    try {
      const path = join(dir, 'journal.ndjson');
      await writeFile(path, journal.events.map((event) => `${JSON.stringify(event)}\n`).join(''));
      const folded = await foldJournalFile(path, { compactAfterMs: 1000, chunkSize: 64, bounded: true });
      try {
        const bounded = scoreFolded(folded, scenario);
        for (const score of [full, bounded]) {
          const byId = Object.fromEntries(score.invariants.map((result) => [result.id, result]));
          expect(byId['truthful-messages']!.violations).toEqual([{ orderIds: ['o5'], message: 'order o5: "payment received" message sent 20 ms before any money was captured' }]);
          expect(byId['settled-status-holds']!.violations).toEqual([{ orderIds: ['o7'], message: 'order o7 was delivered, then at the final read read paid' }]);
        }
        expect(bounded.invariants).toEqual(full.invariants);
      } finally {
        folded.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
