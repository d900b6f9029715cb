/**
 * The archiving fold (`FoldOptions.archive`, on in `foldJournalFile`): a settled buyer no fault
 * touched is checked (invariants, tally) with its orders as it settles and dropped from the heap;
 * card owners, trade numbers and metric marks go to the archive; a late event naming a dropped
 * buyer or order makes the fold read the journal again keeping it whole — and the score is the
 * in-memory fold's to the byte, while the heap holds about the same few records whether the run is
 * 1,000 or 3,000 orders long.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JournalEvent } from '../core/journal.js';
import { foldJournal, foldJournalFile, scoreFolded, scoreJournalFile } from '../harness/score/score.js';
import { JournalBuilder, makeScenario } from './score-journal.js';

let dir: string;
let files = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ordeal-score-archive-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function journalFile(events: readonly JournalEvent[]): Promise<string> {
  const path = join(dir, `journal-${files++}.ndjson`);
  await writeFile(path, events.map((event) => `${JSON.stringify(event)}\n`).join(''));
  return path;
}

const FAULT_EVERY = 25;

/**
 * `buyers` buyers, one every 100 ms (a 1,000-buyer run is 100 s long): most happy; every 25th has
 * its callback dropped and the shop reconciles by a query (an incident); every 40th is sold out.
 * Then, long after, late events for early orders (which the archive holds by then): a second
 * capture, a refund, a card issued twice, a card shown on another order, and a late fault hit.
 */
function longRun(buyers: number): JournalBuilder {
  const journal = new JournalBuilder();
  for (let index = 0; index < buyers; index++) {
    const t0 = index * 100;
    const buyerId = `b${index}`;
    const orderId = `o${index}`;
    if (index % FAULT_EVERY === 3) {
      journal.reconciled(t0, buyerId, orderId);
    } else if (index % 40 === 7) {
      journal
        .buyer(t0, buyerId)
        .stockRefused(t0 + 5, orderId)
        .created(t0 + 10, buyerId, orderId, { status: 'failed', reason: 'out_of_stock' })
        .finished(t0 + 10, buyerId, orderId, 'failed', 10);
    } else {
      journal.happy(t0, buyerId, orderId, { latencyMs: 100 + (index % 7) * 10 });
    }
  }
  const end = buyers * 100 + 5000;
  return journal
    .paid(end, 'o1', 3000)
    .refund(end + 10, 'o2')
    .fulfilled(end + 20, 'o4', ['CARD-o5-0'])
    .observed(end + 30, 'o6', 'b6', 'delivered', { cardCodes: ['CARD-o8-0'] })
    .callback(end + 40, 'o9', { copy: 2 })
    .fault(end + 40, 'payment.callback.duplicate', { orderId: 'o9', buyerId: 'b9' });
}

const scenario = makeScenario({
  faults: [
    { id: 'payment.callback.drop', probability: 0.04 },
    { id: 'payment.callback.duplicate', probability: 0.01 },
  ],
});

describe('the fold archive', () => {
  it('scores a long journal exactly as the in-memory fold, late events and late fault hits included', async () => {
    const journal = longRun(1000);
    const inMemory = scoreFolded(await foldJournal(journal.events), scenario);
    const { score } = await scoreJournalFile(await journalFile(journal.events), scenario);
    expect(JSON.stringify(score)).toBe(JSON.stringify(inMemory));
    // The late events count: broken invariants name the early orders.
    const broken = Object.fromEntries(score.invariants.filter((result) => !result.ok).map((result) => [result.id, result.violations.flatMap((v) => v.orderIds)]));
    expect(broken['no-double-charge']).toEqual(['o1']);
    expect(broken['no-oversell']).toEqual(expect.arrayContaining(['o4', 'o5', 'o6', 'o8']));
    expect(score.steadyState.soldOut).toBeGreaterThan(0);
    expect(score.incidents.some((incident) => incident.class === 'payment.callback.duplicate' && incident.orderId === 'o9')).toBe(true);
  });

  it('names orders paid by forged notices as the in-memory fold does, while settled buyers are checked between the hits', async () => {
    const journal = longRun(300);
    // Two forged classes hit one order (replayed first): the violation names the first hit.
    for (let index = 0; index < 20; index++) {
      const t0 = 40_000 + index * 500;
      const [buyerId, orderId] = [`f${index}`, `fo${index}`];
      journal.buyer(t0, buyerId).created(t0 + 10, buyerId, orderId);
      if (index % 5 === 0) journal.fault(t0 + 20, 'payment.callback.replayed', { orderId, buyerId });
      journal
        .fault(t0 + 30, index % 2 === 0 ? 'payment.callback.forged' : 'payment.callback.tampered', { orderId, buyerId })
        .callback(t0 + 30, orderId, { forgery: 'forged', acked: true })
        .fulfilled(t0 + 40, orderId, [`F-${orderId}`])
        .finished(t0 + 50, buyerId, orderId, 'delivered', 50)
        .happy(t0 + 100, `h${index}`, `ho${index}`);
    }
    const withForgeries = makeScenario({
      faults: [
        { id: 'payment.callback.drop', probability: 0.04 },
        { id: 'payment.callback.duplicate', probability: 0.01 },
        { id: 'payment.callback.forged', probability: 0.01 },
      ],
    });
    const inMemory = scoreFolded(await foldJournal(journal.events), withForgeries);
    const { score } = await scoreJournalFile(await journalFile(journal.events), withForgeries);
    expect(JSON.stringify(score)).toBe(JSON.stringify(inMemory));
    const forged = score.invariants.find((result) => result.id === 'no-delivery-on-forged-callback');
    expect(forged?.violations).toHaveLength(20);
    expect(forged?.violations[0]?.message).toBe('order fo0 (payment.callback.replayed) got 1 card with 0 of 3000 captured');
    expect(forged?.violations[1]?.message).toBe('order fo1 (payment.callback.tampered) got 1 card with 0 of 3000 captured');
  });

  it('keeps the heap flat as the run gets longer: settled records leave it, faulted ones stay', async () => {
    const heldFor = async (buyers: number) => {
      const folded = await foldJournalFile(await journalFile(longRun(buyers).events));
      try {
        const faulted = Math.ceil(buyers / FAULT_EVERY);
        return { orders: folded.orders.size, heapOrders: folded.orders.heapSize - faulted, heapBuyers: folded.buyers.heapSize - faulted };
      } finally {
        folded.close();
      }
    };
    const short = await heldFor(1000);
    const long = await heldFor(3000);
    expect(short.orders).toBe(1000);
    expect(long.orders).toBe(3000);
    // About three seconds of settled orders (10 a second) plus the revived ones, whatever the length.
    for (const held of [short, long]) {
      expect(held.heapOrders).toBeLessThan(60);
      expect(held.heapBuyers).toBeLessThan(60);
    }
    expect(Math.abs(long.heapOrders - short.heapOrders)).toBeLessThan(10);
  });

  it('drops the buyers it checked, and is scored once', async () => {
    const journal = longRun(200);
    const folded = await foldJournalFile(await journalFile(journal.events));
    try {
      expect(folded.orders.size).toBe(200);
      expect(folded.orders.get('o150')).toBeUndefined();
      // The faulted buyer's order stays for its incident.
      expect(folded.orders.get('o153')?.queries).toHaveLength(1);
      const first = scoreFolded(folded, scenario);
      expect(JSON.stringify(first)).toBe(JSON.stringify(scoreFolded(await foldJournal(journal.events), scenario)));
      expect(() => scoreFolded(folded, scenario)).toThrow(/scored once/);
    } finally {
      folded.close();
    }
  });

  it('keeps everything in the heap without the archive', async () => {
    const folded = await foldJournalFile(await journalFile(longRun(300).events), { bounded: false });
    expect(folded.orders.heapSize).toBe(300);
    folded.close();
  });
});
