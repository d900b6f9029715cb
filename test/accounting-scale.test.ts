/**
 * The accounting line on a generated run folded within bounds (bench/accounting-journals.ts): it
 * balances, and the same run with gaps made on purpose (create answers lost, money kept on orders
 * shown expired) does not, naming each difference. 20k orders here (a few seconds); the same
 * check at 100k orders is `node bench/.build/bench/accounting.js` (bench/accounting.ts).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scenarioSchema } from '../core/scenario-schema.js';
import { foldJournalFile, scoreFolded } from '../harness/score/score.js';
import { abandonedOf, accountingAtScale, type AccountingAtScale } from '../bench/accounting-journals.js';
import { SCORING_SCENARIO } from '../bench/journal-gen.js';
import { tempDir } from './helpers/cli.js';

const ORDERS = 20_000;

describe(`accounting line at ${ORDERS / 1000}k orders`, () => {
  let work: { path: string; remove(): Promise<void> };
  let result: AccountingAtScale;

  beforeAll(async () => {
    work = await tempDir('ordeal-accounting-');
    result = await accountingAtScale(work.path, ORDERS);
  }, 120_000);

  afterAll(async () => {
    await work?.remove();
  });

  it('the generated run balances, folded within bounds', () => {
    const { buyers, balanced } = result;
    const paid = buyers - abandonedOf(buyers);
    expect(buyers).toBeGreaterThanOrEqual(ORDERS);
    expect(balanced.accounting).toEqual({
      balanced: true,
      arrivals: { planned: buyers, sent: buyers, dropped: 0 },
      requests: { sent: buyers, created: buyers, rejected: 0, failed: 0, unanswered: 0, inFlight: 0 },
      orders: { created: buyers, settled: buyers, unsettled: 0 },
      money: { captured: paid * 3000, refunded: 0, ordersHoldingMoney: paid, ordersShownPaid: paid, inTransit: 0, elsewhere: 0 },
      cards: { issued: paid, shown: paid, inTransit: 0, elsewhere: 0 },
      gaps: [],
    });
    expect(balanced.gate.reasons.filter((reason) => reason.startsWith('accounting'))).toEqual([]);
  });

  it('the run with answers lost and money kept on orders shown expired does not balance, and says by how much', () => {
    const { buyers, lost, expired, gaps } = result;
    expect(lost).toBe(Math.ceil(buyers / 1000));
    expect(expired).toBeGreaterThanOrEqual(Math.floor(buyers / 1000) - 1);
    const { accounting } = gaps;
    expect(accounting.balanced).toBe(false);
    expect(accounting.requests).toMatchObject({ sent: buyers, created: buyers - lost, unanswered: lost, inFlight: lost });
    expect(accounting.gaps.map((gap) => [gap.check, gap.difference])).toEqual([
      ['requests', lost],
      ['money', expired],
      ['cards', expired],
    ]);
    // The orders whose answer was lost are no buyer's (no create answer named them): their money is reported apart.
    expect(accounting.money.elsewhere).toBe(lost * 3000);
    expect(accounting.gaps[1]?.orderIds[0]).toBe(`ord_${(500).toString(36).padStart(8, '0')}`);
    expect(gaps.gate.passed).toBe(false);
    expect(gaps.gate.reasons.filter((reason) => reason.startsWith('accounting does not balance: requests: '))).toHaveLength(1);
  });

  it('a fold within bounds and one all in the heap give the same line', async () => {
    const whole = await foldJournalFile(result.paths.gaps, { bounded: false });
    try {
      expect(scoreFolded(whole, scenarioSchema.parse(SCORING_SCENARIO)).accounting).toEqual(result.gaps.accounting);
    } finally {
      whole.close();
    }
  });
});
