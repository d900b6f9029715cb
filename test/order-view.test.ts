/**
 * Whatever a shop answers reaches the run only in the shape the run reads. Before: valid JSON of
 * the wrong shape crashed Ordeal (`delivery.cards: [null]` in the settle sweep, an object as
 * `orderId` in the Markdown renderer, exit 4), and answers that were not JSON were not counted as
 * errors ("0 HTTP errors" for a shop that answered garbage).
 */
import { describe, expect, it } from 'vitest';
import type { ShopOrderView } from '../core/http-client.js';
import { guardedAnswer, readableOrderView } from '../harness/targets/order-view.js';

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

// End to end (wrong shapes, garbage, a shop that hangs every order), through the CLI: test/hostile-shop.test.ts.
