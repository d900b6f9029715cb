/**
 * The storefront's SQLite database (`<DATA_DIR>/storefront.sqlite`): its schema, and the catalogue,
 * coupons and license-key stock it seeds at first start. Times are Unix milliseconds; money is
 * integer cents.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export type Db = Database.Database;

export const CURRENCY = 'usd';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS products (
  sku TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  price_cents INTEGER NOT NULL CHECK (price_cents > 0)
);
CREATE TABLE IF NOT EXISTS license_keys (
  id INTEGER PRIMARY KEY,
  sku TEXT NOT NULL REFERENCES products(sku),
  code TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL DEFAULT 'available' CHECK (state IN ('available', 'reserved', 'delivered')),
  order_number TEXT,
  changed_at INTEGER
);
CREATE INDEX IF NOT EXISTS license_keys_by_state ON license_keys (sku, state);
CREATE INDEX IF NOT EXISTS license_keys_by_order ON license_keys (order_number);
CREATE TABLE IF NOT EXISTS coupons (
  code TEXT PRIMARY KEY,
  description TEXT NOT NULL,
  percent_off INTEGER CHECK (percent_off BETWEEN 1 AND 100),
  amount_off_cents INTEGER CHECK (amount_off_cents > 0),
  min_subtotal_cents INTEGER NOT NULL DEFAULT 0,
  expires_at INTEGER
);
CREATE TABLE IF NOT EXISTS customers (
  id INTEGER PRIMARY KEY,
  email TEXT NOT NULL UNIQUE COLLATE NOCASE,
  name TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
  token_hash TEXT PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS carts (
  id TEXT PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  coupon_code TEXT REFERENCES coupons(code),
  status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'checked_out')),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cart_items (
  cart_id TEXT NOT NULL REFERENCES carts(id),
  sku TEXT NOT NULL REFERENCES products(sku),
  quantity INTEGER NOT NULL CHECK (quantity > 0),
  PRIMARY KEY (cart_id, sku)
);
CREATE TABLE IF NOT EXISTS orders (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  number TEXT UNIQUE,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  cart_id TEXT NOT NULL UNIQUE REFERENCES carts(id),
  status TEXT NOT NULL CHECK (status IN ('awaiting_payment', 'paid', 'fulfilled', 'canceled', 'refunded', 'payment_failed')),
  status_reason TEXT,
  currency TEXT NOT NULL,
  subtotal_cents INTEGER NOT NULL,
  discount_cents INTEGER NOT NULL,
  total_cents INTEGER NOT NULL,
  coupon_code TEXT,
  payment_intent_id TEXT UNIQUE,
  client_secret TEXT,
  amount_received_cents INTEGER,
  refund_due_cents INTEGER,
  refund_id TEXT,
  created_at INTEGER NOT NULL,
  pay_before INTEGER NOT NULL,
  paid_at INTEGER,
  fulfilled_at INTEGER,
  closed_at INTEGER,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_status ON orders (status, pay_before);
CREATE TABLE IF NOT EXISTS order_items (
  order_id INTEGER NOT NULL REFERENCES orders(id),
  sku TEXT NOT NULL,
  name TEXT NOT NULL,
  quantity INTEGER NOT NULL,
  unit_price_cents INTEGER NOT NULL,
  PRIMARY KEY (order_id, sku)
);
CREATE TABLE IF NOT EXISTS stripe_events (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  order_number TEXT,
  received_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS mails (
  id INTEGER PRIMARY KEY,
  order_number TEXT NOT NULL,
  recipient TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  sent_at INTEGER
);
CREATE INDEX IF NOT EXISTS mails_due ON mails (state, next_attempt_at);
`;

/** What the shop sells: digital editions of one game, each delivered as a license key. */
const PRODUCTS = [
  { sku: 'STARFALL-STD', name: 'Starfall — Standard Edition', priceCents: 1999 },
  { sku: 'STARFALL-DLX', name: 'Starfall — Deluxe Edition', priceCents: 3999 },
  { sku: 'STARFALL-OST', name: 'Starfall — Original Soundtrack', priceCents: 799 },
] as const;

const COUPONS = [
  { code: 'WELCOME10', description: '10% off your first order', percentOff: 10, amountOffCents: null, minSubtotalCents: 0, expiresAt: null },
  { code: 'SAVE5', description: '$5 off orders of $25 or more', percentOff: null, amountOffCents: 500, minSubtotalCents: 2500, expiresAt: null },
  { code: 'SPRING21', description: '20% off (spring 2021 sale)', percentOff: 20, amountOffCents: null, minSubtotalCents: 0, expiresAt: Date.UTC(2021, 5, 1) },
] as const;

/** Crockford's base32 without the look-alikes: what gets typed into a launcher. */
const KEY_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** `XXXXX-XXXXX-XXXXX-XXXXX`, 100 random bits. */
export function newLicenseKey(): string {
  const bytes = randomBytes(20);
  const characters = [...bytes].map((byte) => KEY_ALPHABET[byte % KEY_ALPHABET.length] as string);
  return [0, 5, 10, 15].map((start) => characters.slice(start, start + 5).join('')).join('-');
}

export function openDatabase(dataDir: string, keysPerProduct: number): Db {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(join(dataDir, 'storefront.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  seed(db, keysPerProduct);
  return db;
}

/** The catalogue and coupons (kept as they are when already there) and, once per product, its key stock. */
function seed(db: Db, keysPerProduct: number): void {
  const addProduct = db.prepare('INSERT OR IGNORE INTO products (sku, name, price_cents) VALUES (?, ?, ?)');
  const addCoupon = db.prepare(
    'INSERT OR IGNORE INTO coupons (code, description, percent_off, amount_off_cents, min_subtotal_cents, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const keyCount = db.prepare<[string], { count: number }>('SELECT COUNT(*) AS count FROM license_keys WHERE sku = ?');
  const addKey = db.prepare('INSERT OR IGNORE INTO license_keys (sku, code) VALUES (?, ?)');
  db.transaction(() => {
    for (const product of PRODUCTS) addProduct.run(product.sku, product.name, product.priceCents);
    for (const coupon of COUPONS) addCoupon.run(coupon.code, coupon.description, coupon.percentOff, coupon.amountOffCents, coupon.minSubtotalCents, coupon.expiresAt);
    for (const product of PRODUCTS) {
      if ((keyCount.get(product.sku)?.count ?? 0) > 0) continue;
      for (let index = 0; index < keysPerProduct; index++) addKey.run(product.sku, `${product.sku.split('-')[1] ?? 'KEY'}-${newLicenseKey()}`);
    }
  })();
}
