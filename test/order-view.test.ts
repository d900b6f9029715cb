/**
 * Whatever a shop answers reaches the run only in the shape the run reads. Before: valid JSON of
 * the wrong shape crashed Ordeal (`delivery.cards: [null]` in the settle sweep, an object as
 * `orderId` in the Markdown renderer, exit 4), and answers that were not JSON were not counted as
 * errors ("0 HTTP errors" for a shop that answered garbage).
 */
import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import type { ShopOrderView } from '../core/http-client.js';
import { guardedAnswer, readableOrderView } from '../harness/targets/order-view.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { readReport, readScenarioJournal, runCli, tempDir } from './helpers/cli.js';

const defer = cleanupAfterEach();

describe('readableOrderView', () => {
  it('returns a well-formed view as it is', () => {
    const view = { orderId: 'o1', status: 'delivered', amount: 3000, payment: { tradeNo: 'T1' }, delivery: { cards: [{ code: 'C1', pin: '1' }] } };
    expect(readableOrderView(view)).toBe(view);
  });

  it('drops fields of the wrong type and cards that are not cards; no id or status, no view', () => {
    expect(readableOrderView({ orderId: 'o1', status: 'delivered', reason: {}, amount: '30.00', payment: { tradeNo: 7 }, delivery: { cards: [null, { code: {} }, { code: 'C' }, { code: 42 }] } })).toEqual({
      orderId: 'o1',
      status: 'delivered',
      delivery: { cards: [{ code: 'C' }, { code: 42 }] },
    });
    for (const body of [null, 'text', [1], { orderId: { id: 'o1' }, status: 'paid' }, { orderId: 'o1', status: 5 }, { orderId: 'x'.repeat(5000), status: 'paid' }]) {
      expect(readableOrderView(body)).toBeUndefined();
    }
  });

  it('a 2xx create without a readable order is an error; a refusal keeps only a string code', () => {
    const garbage = guardedAnswer({ status: 201, latencyMs: 1 }, 'create');
    expect(garbage).toEqual({ status: 201, latencyMs: 1, error: 'the shop answered HTTP 201 without a readable order (expected an order id and a status)' });
    expect(guardedAnswer({ status: 200, latencyMs: 1 }, 'read')).toEqual({ status: 200, latencyMs: 1 });
    const refused = guardedAnswer({ status: 400, latencyMs: 1, body: { error: { code: 'invalid_sku', message: 'no' } } as unknown as ShopOrderView }, 'create');
    expect(refused.body).toEqual({ orderId: '', status: '', error: { code: 'invalid_sku' } });
    expect(guardedAnswer({ status: 409, latencyMs: 1, body: { error: { code: ['x'] } } as unknown as ShopOrderView }, 'cancel').body).toBeUndefined();
  });
});

describe('a shop answering the wrong shapes, end to end', () => {
  const scenario = ['--seed', '2'];
  for (const mode of ['garbage', 'shapes'] as const) {
    it(`${mode}: the run ends with every report and exit 1 (the gate), never 4`, async () => {
      const work = await tempDir(`ordeal-hostile-${mode}-`);
      defer(() => work.remove());
      const out = `${work.path}/out`;
      const result = await runCli(['run', 'test/fixtures/e2e/determinism.yaml', ...scenario, '--target-command', 'node test/fixtures/wrong-shape-shop.mjs', '--out', out], 120_000, { HOSTILE_MODE: mode });
      expect(result.code, result.stdout + result.stderr).toBe(1);
      const report = await readReport(out);
      const load = report.scenarios[0]!.load;
      if (mode === 'garbage') {
        // Every answered order was garbage: counted as errors, and no order was created.
        expect(load.httpErrors).toBeGreaterThan(0);
        expect(load.ordersCreated).toBe(0);
      } else {
        expect(load.ordersCreated).toBeGreaterThan(0);
      }
      expect(result.stderr).not.toMatch(/ORDEAL_ERR_INTERNAL|TypeError|at .*\.js:\d+/);
    });
  }
});

describe('a shop that hangs every order', () => {
  it('is cut at the scenario deadline: the run ends, is scored, and the gate says why', async () => {
    // Before: a shop hanging every request held a 10 s scenario for 100 s.
    const work = await tempDir('ordeal-hang-');
    defer(() => work.remove());
    const file = `${work.path}/hang.yaml`;
    await writeFile(
      file,
      ['name: hang', 'catalog: { skus: [{ sku: A, name: A, price: 100, stock: 50 }] }', 'load: { stages: [{ rate: 5/s, duration: 1s }] }', 'settle: 1s', 'deadline: 3s'].join('\n'),
    );
    const out = `${work.path}/out`;
    const started = performance.now();
    const result = await runCli(['run', file, '--target-command', 'node test/fixtures/wrong-shape-shop.mjs', '--out', out], 60_000, { HOSTILE_MODE: 'hang' });
    // Cut at 3 s from the start of load; the client's own timeout (10 s) is not waited for.
    expect(performance.now() - started).toBeLessThan(9000);
    expect(result.code, result.stdout + result.stderr).toBe(1);
    const scenario = (await readReport(out)).scenarios[0]!;
    expect(scenario.gate.reasons[0]).toBe('the run passed its deadline (3.00s from the start of load) and was cut: what happened before is scored');
    expect(scenario.load.arrivals).toBeGreaterThan(0);
    const journal = await readScenarioJournal(out, 'hang');
    expect(journal.at(-1)).toMatchObject({ type: 'run.finished', reason: 'deadline' });
  });
});
