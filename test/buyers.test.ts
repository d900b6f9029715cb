import { describe, expect, it } from 'vitest';
import { BuyerFactory } from '../harness/drive/buyers.js';
import { scenarioSchema } from '../core/scenario-schema.js';

const scenario = scenarioSchema.parse({
  name: 'buyers',
  catalog: { skus: [{ sku: 'B', name: 'B', price: 200, stock: 5 }, { sku: 'A', name: 'A', price: 100, stock: 5 }] },
  load: { stages: [{ rate: 1, duration: 1000 }] },
  buyers: { mix: { normal: 0.5, abandon_payment: 0.5 }, quantity: { min: 1, max: 3 } },
});
const catalog = { skus: scenario.catalog.skus.map(({ sku, price }) => ({ sku, price })) };

describe('seeded buyers', () => {
  it('gives the same buyer for the same seed and arrival, whatever was generated before', () => {
    const first = new BuyerFactory(scenario, 42, catalog);
    const second = new BuyerFactory(scenario, 42, catalog);
    const a = [0, 1, 2, 3].map((seq) => first.create(seq));
    const b = [3, 2, 1, 0].map((seq) => second.create(seq)).reverse();
    expect(a).toEqual(b);
  });

  it('gives different buyers for another seed', () => {
    const one = new BuyerFactory(scenario, 1, catalog).create(5);
    const two = new BuyerFactory(scenario, 2, catalog).create(5);
    expect(one.contact).not.toBe(two.contact);
  });

  it('follows the behaviour mix and quantity range, with valid contract fields', () => {
    const factory = new BuyerFactory(scenario, 9, catalog);
    const buyers = Array.from({ length: 2000 }, (_, seq) => factory.create(seq));
    const abandoning = buyers.filter((buyer) => buyer.behaviour === 'abandon_payment').length / buyers.length;
    expect(abandoning).toBeGreaterThan(0.45);
    expect(abandoning).toBeLessThan(0.55);
    for (const buyer of buyers.slice(0, 200)) {
      expect(buyer.quantity).toBeGreaterThanOrEqual(1);
      expect(buyer.quantity).toBeLessThanOrEqual(3);
      expect(['A', 'B']).toContain(buyer.sku);
      expect(buyer.recipient.account).toMatch(/^\d{8,12}$/);
      expect(buyer.contact).toMatch(/^(1\d{10}|[^@\s]+@example\.com)$/);
    }
    expect(new Set(buyers.map((buyer) => buyer.id)).size).toBe(buyers.length);
  });

  it("takes coupons from the shop's own catalogue: ordinary buyers apply valid ones, coupon mistakes use one below its threshold", () => {
    const withMistakes = scenarioSchema.parse({ ...scenario, buyers: { mix: { normal: 0.7, coupon_below_threshold: 0.3 }, quantity: { min: 1, max: 3 }, coupons: 0.5 } });
    // The shop's coupons, not the scenario's (which has none).
    const shopCatalog = { ...catalog, coupons: [{ code: 'SHOP-BIG', discount: 50, minAmount: 500 }, { code: 'SHOP-5', discount: 5, minAmount: 100 }] };
    const buyers = Array.from({ length: 1000 }, (_, seq) => new BuyerFactory(withMistakes, 3, shopCatalog).create(seq));
    const prices: Record<string, number> = { A: 100, B: 200 };
    const normal = buyers.filter((buyer) => buyer.behaviour === 'normal');
    const couponUsers = normal.filter((buyer) => buyer.coupon !== undefined);
    expect(couponUsers.length / normal.length).toBeGreaterThan(0.4);
    expect(couponUsers.length / normal.length).toBeLessThan(0.6);
    for (const buyer of couponUsers) {
      const coupon = shopCatalog.coupons.find((entry) => entry.code === buyer.coupon)!;
      // Valid, and the best the order reaches.
      expect(prices[buyer.sku]! * buyer.quantity).toBeGreaterThanOrEqual(coupon.minAmount);
      if (prices[buyer.sku]! * buyer.quantity >= 500) expect(buyer.coupon).toBe('SHOP-BIG');
    }
    const mistaken = buyers.filter((buyer) => buyer.behaviour === 'coupon_below_threshold');
    expect(mistaken.length).toBeGreaterThan(0);
    for (const buyer of mistaken) {
      expect(buyer.coupon).toBeUndefined();
      // An order above every threshold has no coupon to get wrong.
      expect(buyer.couponBelowThreshold).toBe(prices[buyer.sku]! * buyer.quantity < 500 ? 'SHOP-BIG' : undefined);
    }
    expect(mistaken.some((buyer) => buyer.couponBelowThreshold === 'SHOP-BIG')).toBe(true);
    const none = new BuyerFactory(withMistakes, 3, catalog).create(1);
    expect(none.coupon).toBeUndefined();
  });
});
