/**
 * The accounting line checked at 100k orders (or `--orders N`): the generated run balances, the
 * run with gaps made on purpose does not and names each one (./accounting-journals.ts). Exits 1
 * when either is not so. Run: `npm run bench:accounting`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { abandonedOf, accountingAtScale } from './accounting-journals.js';

const { values } = parseArgs({ options: { orders: { type: 'string', default: '100000' } } });
const orders = Number(values.orders);
if (!Number.isInteger(orders) || orders < 1000 || orders > 10_000_000) throw new Error('--orders: a whole number from 1000 to 10000000');

const dir = await mkdtemp(join(tmpdir(), 'ordeal-bench-accounting-'));
try {
  const started = performance.now();
  const result = await accountingAtScale(dir, orders);
  const { buyers, lost, expired, balanced, gaps } = result;
  const paid = buyers - abandonedOf(buyers);
  assert.equal(buyers >= orders, true, `${buyers} buyers generated, ${orders} asked for`);
  assert.deepEqual(balanced.accounting.gaps, []);
  assert.deepEqual(balanced.accounting.orders, { created: buyers, settled: buyers, unsettled: 0 });
  assert.equal(balanced.accounting.money.ordersShownPaid, paid);
  assert.equal(balanced.accounting.cards.shown, paid);
  assert.deepEqual(gaps.accounting.gaps.map((gap) => [gap.check, gap.difference]), [['requests', lost], ['money', expired], ['cards', expired]]);
  assert.equal(gaps.gate.passed, false);
  const line = (name: string, scored: typeof balanced): string =>
    `${name}: ${scored.accounting.balanced ? 'balances' : `does not balance (${scored.accounting.gaps.map((gap) => `${gap.check} ${gap.difference}`).join(', ')})`}, scored in ${(scored.scoreMs / 1000).toFixed(1)} s`;
  console.log(`accounting at ${buyers} orders`);
  console.log(`  ${line('generated run', balanced)}`);
  console.log(`  ${line(`with ${lost} answers lost and ${expired} paid orders shown expired`, gaps)}`);
  console.log(`  total ${((performance.now() - started) / 1000).toFixed(1)} s (generation included)`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
