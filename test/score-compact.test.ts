/**
 * Compacting the fold (`FoldOptions.compactAfterMs`, `foldJournalFile`): settled buyers that no
 * fault hit concerns keep only what invariants and the steady state read, late events still count,
 * and a fault hit that comes after a compaction makes `foldJournalFile` fold again with that buyer
 * whole — the score is always the full fold's.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JournalEvent } from '../core/journal.js';
import { foldJournal, foldJournalFile, JournalFolder, scoreFolded } from '../harness/score/score.js';
import { JournalBuilder, makeScenario } from './score-journal.js';

let dir: string;
let files = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ordeal-score-compact-'));
});

/** Folded runs to close (their archives) once the tests are done. */
const opened: Array<{ close(): void }> = [];

afterAll(async () => {
  for (const folded of opened) folded.close();
  await rm(dir, { recursive: true, force: true });
});

async function journalFile(events: readonly JournalEvent[]): Promise<string> {
  const path = join(dir, `journal-${files++}.ndjson`);
  await writeFile(path, events.map((event) => `${JSON.stringify(event)}\n`).join(''));
  return path;
}

/** Ten happy buyers, one a second; b3's callback dropped and reconciled by a query (an incident). */
function run(): JournalBuilder {
  const journal = new JournalBuilder();
  for (let index = 0; index < 10; index++) {
    const buyerId = `b${index}`;
    const orderId = `o${index}`;
    if (index === 3) journal.reconciled(index * 1000, buyerId, orderId);
    else journal.happy(index * 1000, buyerId, orderId);
  }
  return journal;
}

const scenario = makeScenario({ faults: [{ id: 'payment.callback.drop', probability: 0.1 }] });

/** The score of a full fold of the events, and of `foldJournalFile` with compaction. */
async function bothScores(journal: JournalBuilder, compactAfterMs = 1000) {
  const full = scoreFolded(await foldJournal(journal.events), scenario);
  // In the heap: an archiving fold would check and drop the settled buyers these tests inspect (test/score-archive.test.ts).
  const folded = await foldJournalFile(await journalFile(journal.events), { compactAfterMs, chunkSize: 512, bounded: false });
  opened.push(folded);
  return { full, compact: scoreFolded(folded, scenario), folded };
}

describe('compacting settled buyers', () => {
  it('drops what only incidents read from settled, unfaulted buyers, and scores the same', async () => {
    const { full, compact, folded } = await bothScores(run());
    expect(compact).toEqual(full);
    expect(full.invariants.every((result) => result.ok)).toBe(true);
    // b0 finished at 100, compacted once the journal passed 1100; b9 finished last, never compacted.
    const settled = folded.buyers.get('b0')!;
    expect(settled.compacted).toBe(true);
    expect(settled.submissions).toEqual([]);
    const order = folded.orders.get('o0')!;
    expect(order.shopCalls).toEqual([]);
    expect(order.callbacks).toEqual([]);
    expect(order.captures).toEqual([{ t: 60, amount: 3000, payerId: 'payer' }]);
    expect(order.messages.map((message) => message.kind)).toEqual(['delivered']);
    expect(order.cards.size).toBe(1);
    // The faulted buyer stays whole; so does the last one.
    expect(folded.buyers.get('b3')?.compacted).toBe(false);
    expect(folded.orders.get('o3')?.queries).toEqual([3500]);
    expect(folded.buyers.get('b9')?.compacted).toBe(false);
  });

  it('still folds late events for a compacted order: a second capture and a second card break the invariants as in a full fold', async () => {
    const journal = run()
      .paid(9500, 'o1', 3000)
      .fulfilled(9600, 'o1', ['CARD-o1-extra'])
      .observed(9700, 'o1', 'b1', 'refunded');
    const { full, compact, folded } = await bothScores(journal);
    expect(folded.buyers.get('b1')?.compacted).toBe(true);
    expect(compact).toEqual(full);
    const broken = compact.invariants.filter((result) => !result.ok).map((result) => result.id);
    expect(broken).toEqual(expect.arrayContaining(['no-double-charge', 'no-double-delivery', 'truthful-status']));
  });

  it('folds again, keeping the buyer whole, when a fault hit comes after its compaction', async () => {
    // A duplicate callback for o1 long after b1 was compacted: the incident reads o1's callbacks.
    const journal = run()
      .callback(9000, 'o1', { copy: 2 })
      .fault(9000, 'payment.callback.duplicate', { orderId: 'o1', buyerId: 'b1' });
    const folder = new JournalFolder({ compactAfterMs: 1000 });
    for (const event of journal.events) folder.add(event);
    expect(folder.lostFacts()).toEqual(new Set(['b1', 'b3']));

    const { full, compact, folded } = await bothScores(journal);
    expect(compact).toEqual(full);
    expect(compact.incidents.map((incident) => [incident.class, incident.orderId])).toContainEqual(['payment.callback.duplicate', 'o1']);
    expect(folded.buyers.get('b1')?.compacted).toBe(false);
    expect(folded.orders.get('o1')?.callbacks).toHaveLength(2);
    expect(folded.buyers.get('b2')?.compacted).toBe(true);
  });

  it('folds again for a late hit naming only the buyer (its orders are read through it)', async () => {
    const journal = run().fault(9000, 'buyer.double_submit', { buyerId: 'b2' });
    const { full, compact, folded } = await bothScores(journal);
    expect(compact).toEqual(full);
    expect(folded.buyers.get('b2')?.submissions).toHaveLength(1);
  });

  it('compacts nothing without compactAfterMs, and reports nothing lost', async () => {
    const folder = new JournalFolder();
    for (const event of run().fault(9000, 'buyer.double_submit', { buyerId: 'b2' }).events) folder.add(event);
    expect(folder.lostFacts()).toBeUndefined();
    expect([...folder.finish().buyers.values()].some((buyer) => buyer.compacted)).toBe(false);
  });
});
