/** Carts: one customer's lines and coupon, priced from the catalogue each time they are read. */
import { randomBytes } from 'node:crypto';
import { ApiError, notFound } from './api-error.js';
import type { Catalog, Coupon } from './catalog.js';
import { CURRENCY, type Db } from './database.js';

export const MAX_LINE_QUANTITY = 10;

export interface CartLine {
  sku: string;
  name: string;
  quantity: number;
  unit_price_cents: number;
  line_total_cents: number;
}

export interface CartView {
  id: string;
  status: 'open' | 'checked_out';
  currency: string;
  items: CartLine[];
  coupon: { code: string; description: string } | null;
  subtotal_cents: number;
  discount_cents: number;
  total_cents: number;
}

interface CartRow {
  id: string;
  customer_id: number;
  coupon_code: string | null;
  status: 'open' | 'checked_out';
}

export class Carts {
  constructor(
    private readonly db: Db,
    private readonly catalog: Catalog,
  ) {}

  create(customerId: number): CartView {
    const id = `cart_${randomBytes(12).toString('base64url')}`;
    const now = Date.now();
    this.db.prepare('INSERT INTO carts (id, customer_id, created_at, updated_at) VALUES (?, ?, ?, ?)').run(id, customerId, now, now);
    return this.view(customerId, id);
  }

  view(customerId: number, cartId: string): CartView {
    const cart = this.row(customerId, cartId);
    const items = this.db
      .prepare<[string], CartLine>(
        `SELECT i.sku, p.name, i.quantity, p.price_cents AS unit_price_cents, i.quantity * p.price_cents AS line_total_cents
           FROM cart_items i JOIN products p ON p.sku = i.sku WHERE i.cart_id = ? ORDER BY i.rowid`,
      )
      .all(cart.id);
    const subtotal = items.reduce((sum, line) => sum + line.line_total_cents, 0);
    const coupon = cart.coupon_code === null ? undefined : this.catalog.coupon(cart.coupon_code);
    const discount = this.catalog.discount(coupon, subtotal);
    return {
      id: cart.id,
      status: cart.status,
      currency: CURRENCY,
      items,
      coupon: coupon ? { code: coupon.code, description: coupon.description } : null,
      subtotal_cents: subtotal,
      discount_cents: discount,
      total_cents: subtotal - discount,
    };
  }

  addItem(customerId: number, cartId: string, sku: string, quantity: number): CartView {
    const cart = this.openCart(customerId, cartId);
    if (!Number.isInteger(quantity) || quantity < 1) throw new ApiError(422, 'invalid_quantity', 'quantity must be a positive integer');
    const product = this.catalog.product(sku);
    if (!product) throw new ApiError(404, 'unknown_sku', `no product with SKU ${sku}`);
    const current = this.db.prepare<[string, string], { quantity: number }>('SELECT quantity FROM cart_items WHERE cart_id = ? AND sku = ?').get(cart.id, sku)?.quantity ?? 0;
    const wanted = current + quantity;
    if (wanted > MAX_LINE_QUANTITY) throw new ApiError(422, 'invalid_quantity', `at most ${MAX_LINE_QUANTITY} of one product per order`);
    if (wanted > product.in_stock) throw new ApiError(409, 'out_of_stock', `only ${product.in_stock} of ${sku} left`);
    this.db
      .prepare('INSERT INTO cart_items (cart_id, sku, quantity) VALUES (?, ?, ?) ON CONFLICT (cart_id, sku) DO UPDATE SET quantity = excluded.quantity')
      .run(cart.id, sku, wanted);
    this.touch(cart.id);
    return this.view(customerId, cart.id);
  }

  removeItem(customerId: number, cartId: string, sku: string): CartView {
    const cart = this.openCart(customerId, cartId);
    if (this.db.prepare('DELETE FROM cart_items WHERE cart_id = ? AND sku = ?').run(cart.id, sku).changes === 0) throw notFound(`item ${sku} in the cart`);
    this.touch(cart.id);
    return this.view(customerId, cart.id);
  }

  applyCoupon(customerId: number, cartId: string, code: string): CartView {
    const cart = this.openCart(customerId, cartId);
    const coupon = this.catalog.coupon(code);
    if (!coupon) throw new ApiError(404, 'coupon_unknown', `no coupon ${code}`);
    const problem = this.catalog.couponProblem(coupon, this.view(customerId, cart.id).subtotal_cents);
    if (problem) throw problem;
    this.db.prepare('UPDATE carts SET coupon_code = ?, updated_at = ? WHERE id = ?').run(coupon.code, Date.now(), cart.id);
    return this.view(customerId, cart.id);
  }

  removeCoupon(customerId: number, cartId: string): CartView {
    const cart = this.openCart(customerId, cartId);
    this.db.prepare('UPDATE carts SET coupon_code = NULL, updated_at = ? WHERE id = ?').run(Date.now(), cart.id);
    return this.view(customerId, cart.id);
  }

  /** The coupon the cart carries (it may no longer apply: the lines changed since). */
  couponOf(customerId: number, cartId: string): Coupon | undefined {
    const code = this.row(customerId, cartId).coupon_code;
    return code === null ? undefined : this.catalog.coupon(code);
  }

  row(customerId: number, cartId: string): CartRow {
    const cart = this.db.prepare<[string, number], CartRow>('SELECT id, customer_id, coupon_code, status FROM carts WHERE id = ? AND customer_id = ?').get(cartId, customerId);
    if (!cart) throw notFound('cart');
    return cart;
  }

  private openCart(customerId: number, cartId: string): CartRow {
    const cart = this.row(customerId, cartId);
    if (cart.status !== 'open') throw new ApiError(409, 'cart_checked_out', 'this cart has been checked out; start a new one');
    return cart;
  }

  private touch(cartId: string): void {
    this.db.prepare('UPDATE carts SET updated_at = ? WHERE id = ?').run(Date.now(), cartId);
  }
}
