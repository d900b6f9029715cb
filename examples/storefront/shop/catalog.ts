/** The catalogue (products with their price and keys in stock) and the coupon rules. */
import { ApiError } from './api-error.js';
import { CURRENCY, type Db } from './database.js';

export interface Product {
  sku: string;
  name: string;
  price_cents: number;
  currency: string;
  /** License keys not reserved or delivered. */
  in_stock: number;
}

export interface Coupon {
  code: string;
  description: string;
  percent_off: number | null;
  amount_off_cents: number | null;
  min_subtotal_cents: number;
  expires_at: number | null;
}

/** No order is charged less than this (a card payment of a few cents costs more than it brings). */
export const MIN_CHARGE_CENTS = 50;

export class Catalog {
  constructor(private readonly db: Db) {}

  products(): Product[] {
    return this.db
      .prepare<[], Omit<Product, 'currency'>>(
        `SELECT p.sku, p.name, p.price_cents,
                (SELECT COUNT(*) FROM license_keys k WHERE k.sku = p.sku AND k.state = 'available') AS in_stock
           FROM products p ORDER BY p.price_cents`,
      )
      .all()
      .map((product) => ({ ...product, currency: CURRENCY }));
  }

  product(sku: string): Product | undefined {
    return this.products().find((product) => product.sku === sku);
  }

  coupon(code: string): Coupon | undefined {
    return this.db.prepare<[string], Coupon>('SELECT * FROM coupons WHERE code = ? COLLATE NOCASE').get(code.trim());
  }

  /** The coupons that can be used now (the shop advertises them on its promotions page), expiry as ISO time. */
  activeCoupons(now = Date.now()): Array<Omit<Coupon, 'expires_at'> & { expires_at: string | null }> {
    return this.db
      .prepare<[number], Coupon>('SELECT * FROM coupons WHERE expires_at IS NULL OR expires_at > ? ORDER BY code')
      .all(now)
      .map((coupon) => ({ ...coupon, expires_at: coupon.expires_at === null ? null : new Date(coupon.expires_at).toISOString() }));
  }

  /** Why `coupon` cannot be used on `subtotalCents` now, as the error the buyer is shown; undefined when it can. */
  couponProblem(coupon: Coupon, subtotalCents: number, now = Date.now()): ApiError | undefined {
    if (coupon.expires_at !== null && coupon.expires_at <= now) return new ApiError(422, 'coupon_expired', `coupon ${coupon.code} has expired`);
    if (subtotalCents < coupon.min_subtotal_cents) {
      return new ApiError(422, 'coupon_minimum_not_met', `coupon ${coupon.code} needs a subtotal of at least ${coupon.min_subtotal_cents} cents`);
    }
    return undefined;
  }

  /** The discount `coupon` gives on `subtotalCents`, never bringing the total under the minimum charge. */
  discount(coupon: Coupon | undefined, subtotalCents: number): number {
    if (!coupon || this.couponProblem(coupon, subtotalCents)) return 0;
    const raw = coupon.percent_off !== null ? Math.floor((subtotalCents * coupon.percent_off) / 100) : (coupon.amount_off_cents ?? 0);
    return Math.max(0, Math.min(raw, subtotalCents - MIN_CHARGE_CENTS));
  }
}
