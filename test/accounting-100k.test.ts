/**
 * The accounting line checked at 100k orders: a generated journal (bench/journal-gen.ts, ~1.4M
 * events) folded within bounds balances; the same journal with gaps made on purpose (create
 * answers lost, money kept on orders shown expired) does not, and names each difference. About
 * 20 s on an idle 2-core machine: two scoring passes at the scorer's ~230k events/s.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JournalEventOf } from '../core/journal.js';
import { scenarioSchema } from '../core/scenario-schema.js';
import { evaluateGate } from '../harness/score/gate.js';
import { foldJournalFile, scoreFolded, scoreJournalFile } from '../harness/score/score.js';
import { SCORING_SCENARIO, writeSyntheticJournal } from '../bench/journal-gen.js';
import { tempDir } from './helpers/cli.js';

describe('accounting line at 100k orders', () => {
  let work: { path: string; remove(): Promise<void> };
  let balancedPath: string;
  let gapPath: string;
  let buyers = 0;
  /** Buyers whose create answer the gap journal lost, and whose delivered order it shows expired instead. */
  let lost = 0;
  let expired = 0;
  const scenario = scenarioSchema.parse(SCORING_SCENARIO);

  beforeAll(async () => {
    work = await tempDir('ordeal-accounting-');
    balancedPath = join(work.path, 'balanced.ndjson');
    gapPath = join(work.path, 'gaps.ndjson');
    // About 14 events per buyer (13 delivered without a fault, 8 more abandoned, 1 more reconciled): 1.41M give 100k buyers.
    await writeSyntheticJournal(balancedPath, 1_410_000);
    // The same run with gaps made on purpose: every 1000th buyer's create answer lost; every 1000th
    // other one's delivered order shown expired instead, its card unseen. Only those lines are parsed.
    const out = createWriteStream(gapPath);
    const indexOf = (line: string): number => Number(/"buyerId":"buyer-(\d+)"/.exec(line)?.[1] ?? 0) - 1;
    for await (const line of createInterface({ input: createReadStream(balancedPath) })) {
      let written = line;
      if (line.includes('"type":"buyer.arrived"')) buyers++;
      else if (line.includes('"type":"order.create.answered"') && indexOf(line) % 1000 === 0) {
        lost++;
        continue;
      } else if (line.includes('"type":"order.observed"') && line.includes('"status":"delivered"') && indexOf(line) % 1000 === 500) {
        const event = JSON.parse(line) as JournalEventOf<'order.observed'>;
        written = JSON.stringify({ seq: event.seq, t: event.t, type: event.type, orderId: event.orderId, buyerId: event.buyerId, status: 'expired', cards: 0, source: 'poll' });
        expired++;
      }
      if (!out.write(`${written}\n`)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'close');
  }, 120_000);

  afterAll(async () => {
    await work?.remove();
  });

  it('a generated run of 100k orders balances, folded within bounds', async () => {
    expect(buyers).toBeGreaterThanOrEqual(100_000);
    const { score } = await scoreJournalFile(balancedPath, scenario);
    const { accounting } = score;
    expect(accounting.gaps).toEqual([]);
    expect(accounting.balanced).toBe(true);
    expect(accounting.arrivals).toEqual({ planned: buyers, sent: buyers, dropped: 0 });
    expect(accounting.requests).toEqual({ sent: buyers, created: buyers, rejected: 0, failed: 0, unanswered: 0, inFlight: 0 });
    expect(accounting.orders).toEqual({ created: buyers, settled: buyers, unsettled: 0 });
    // Every 20th buyer abandons payment (index % 20 === 7): no money, no card.
    const abandoned = Math.floor((buyers - 8) / 20) + 1;
    expect(accounting.money.ordersHoldingMoney).toBe(buyers - abandoned);
    expect(accounting.money.ordersShownPaid).toBe(buyers - abandoned);
    expect(accounting.money.captured).toBe((buyers - abandoned) * 3000);
    expect(accounting.cards).toEqual({ issued: buyers - abandoned, shown: buyers - abandoned, inTransit: 0, elsewhere: 0 });
  }, 120_000);

  it('the same run with answers lost and money kept on orders shown expired does not balance, and says by how much', async () => {
    expect(lost).toBe(Math.ceil(buyers / 1000));
    expect(expired).toBeGreaterThanOrEqual(95);
    const { score } = await scoreJournalFile(gapPath, scenario);
    const { accounting } = score;
    expect(accounting.balanced).toBe(false);
    expect(accounting.requests).toMatchObject({ sent: buyers, created: buyers - lost, unanswered: lost, inFlight: lost });
    expect(accounting.gaps.map((gap) => [gap.check, gap.difference])).toEqual([
      ['requests', lost],
      ['money', expired],
      ['cards', expired],
    ]);
    // The orders whose answer was lost are no buyer's (no create answer named them): their money is reported apart.
    expect(accounting.money.elsewhere).toBeGreaterThan(0);
    expect(accounting.gaps[1]?.orderIds[0]).toBe(`ord_${(500).toString(36).padStart(8, '0')}`);
    expect(evaluateGate(score, scenario).reasons.filter((reason) => reason.startsWith('accounting'))).toHaveLength(1);
  }, 120_000);

  it('a fold within bounds and one all in the heap give the same line', async () => {
    const path = join(work.path, 'small.ndjson');
    await writeSyntheticJournal(path, 70_000);
    const bounded = await scoreJournalFile(path, scenario);
    const whole = await foldJournalFile(path, { bounded: false });
    try {
      expect(scoreFolded(whole, scenario).accounting).toEqual(bounded.score.accounting);
    } finally {
      whole.close();
    }
  }, 60_000);
});
