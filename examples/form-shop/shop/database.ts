/**
 * The shop's own tables, as PHP card shops lay them out: `goods`, `cards` (the card stock, one
 * row per code), `orders` (status as a small integer), `coupons`, and `mails` (what was sent to
 * whom, and what failed). Money is integer fen throughout; times are epoch milliseconds.
 */
import { randomInt } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export type Db = Database.Database;

/** Order statuses, stored as the integers below. */
export const ORDER_STATUS = {
  /** 待支付: created, cards reserved, waiting for the payment. */
  UNPAID: 0,
  /** 已支付: paid but not delivered (a refund is due). */
  PAID: 1,
  /** 已完成: paid and its cards delivered. */
  COMPLETED: 2,
  /** 已关闭: closed unpaid (timed out or cancelled), cards released. */
  CLOSED: 3,
  /** 异常: paid, not delivered, and the refund failed: for the shop owner to settle by hand. */
  ABNORMAL: 4,
  /** 已退款: paid, not delivered, refunded. */
  REFUNDED: 5,
} as const;

export type OrderStatus = (typeof ORDER_STATUS)[keyof typeof ORDER_STATUS];

/** What the query page prints for each status: Chinese, then English. */
export const STATUS_WORDS: Readonly<Record<OrderStatus, { zh: string; en: string }>> = {
  0: { zh: '待支付', en: 'Unpaid' },
  1: { zh: '已支付', en: 'Paid' },
  2: { zh: '已完成', en: 'Completed' },
  3: { zh: '已关闭', en: 'Closed' },
  4: { zh: '异常', en: 'Abnormal' },
  5: { zh: '已退款', en: 'Refunded' },
};

export interface GoodsRow {
  id: number;
  title: string;
  description: string;
  price_fen: number;
  stock: number;
}

export interface CouponRow {
  code: string;
  discount_fen: number;
  min_fen: number;
  remaining: number;
  description: string;
}

export interface OrderRow {
  order_no: string;
  goods_id: number;
  goods_title: string;
  quantity: number;
  email: string;
  coupon: string | null;
  discount_fen: number;
  amount_fen: number;
  pay_type: string;
  status: OrderStatus;
  trade_no: string | null;
  paid_fen: number | null;
  refund_due_fen: number;
  refund_tries: number;
  note: string | null;
  created_at: number;
  paid_at: number | null;
  closed_at: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS goods (
  id INTEGER PRIMARY KEY,
  title TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  price_fen INTEGER NOT NULL CHECK (price_fen > 0),
  is_open INTEGER NOT NULL DEFAULT 1,
  sort INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS cards (
  id INTEGER PRIMARY KEY,
  goods_id INTEGER NOT NULL REFERENCES goods(id),
  code TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'reserved', 'sold')),
  order_no TEXT,
  updated_at INTEGER
);
CREATE INDEX IF NOT EXISTS cards_by_goods ON cards (goods_id, status);
CREATE INDEX IF NOT EXISTS cards_by_order ON cards (order_no);
CREATE TABLE IF NOT EXISTS coupons (
  code TEXT PRIMARY KEY,
  discount_fen INTEGER NOT NULL CHECK (discount_fen > 0),
  min_fen INTEGER NOT NULL DEFAULT 0,
  remaining INTEGER NOT NULL DEFAULT 0,
  description TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS orders (
  order_no TEXT PRIMARY KEY,
  goods_id INTEGER NOT NULL REFERENCES goods(id),
  quantity INTEGER NOT NULL,
  email TEXT NOT NULL,
  coupon TEXT,
  discount_fen INTEGER NOT NULL DEFAULT 0,
  amount_fen INTEGER NOT NULL,
  pay_type TEXT NOT NULL,
  status INTEGER NOT NULL DEFAULT 0,
  trade_no TEXT,
  paid_fen INTEGER,
  refund_due_fen INTEGER NOT NULL DEFAULT 0,
  refund_tries INTEGER NOT NULL DEFAULT 0,
  note TEXT,
  created_at INTEGER NOT NULL,
  paid_at INTEGER,
  closed_at INTEGER,
  checked_at INTEGER NOT NULL DEFAULT 0,
  form_id TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS orders_by_status ON orders (status, created_at);
CREATE TABLE IF NOT EXISTS mails (
  id INTEGER PRIMARY KEY,
  order_no TEXT NOT NULL,
  recipient TEXT NOT NULL,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  sent_at INTEGER
);
`;

/** Opens (creating when new) the database file and its tables. */
export function openDatabase(file: string): Db {
  mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 2000');
  db.exec(SCHEMA);
  return db;
}

const SEED_GOODS = [
  { title: '月卡 Monthly card', description: '30 天会员 · 30-day membership', priceFen: 3000, prefix: 'MON' },
  { title: '季卡 Quarterly card', description: '90 天会员 · 90-day membership', priceFen: 8000, prefix: 'QTR' },
  { title: '年卡 Yearly card', description: '365 天会员 · one-year membership', priceFen: 30000, prefix: 'YR' },
];

const SEED_COUPONS = [
  { code: 'WELCOME5', discountFen: 500, minFen: 3000, remaining: 1000, description: '满30减5 · 5.00 off an order of 30.00 or more' },
  { code: 'SAVE20', discountFen: 2000, minFen: 15000, remaining: 200, description: '满150减20 · 20.00 off an order of 150.00 or more' },
];

const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

function randomGroup(length: number): string {
  let group = '';
  for (let index = 0; index < length; index += 1) group += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return group;
}

/** A fresh card code, e.g. `MON-7KQ2-XH9D-4MPA`. */
export function newCardCode(prefix: string): string {
  return `${prefix}-${randomGroup(4)}-${randomGroup(4)}-${randomGroup(4)}`;
}

/** At the first start (no goods yet): the goods, `cardsPerGoods` cards of each, and the coupons. */
export function seedIfEmpty(db: Db, cardsPerGoods: number): boolean {
  const { count } = db.prepare('SELECT COUNT(*) AS count FROM goods').get() as { count: number };
  if (count > 0) return false;
  const insertGoods = db.prepare('INSERT INTO goods (title, description, price_fen, sort) VALUES (?, ?, ?, ?)');
  const insertCard = db.prepare('INSERT OR IGNORE INTO cards (goods_id, code, updated_at) VALUES (?, ?, ?)');
  const insertCoupon = db.prepare('INSERT INTO coupons (code, discount_fen, min_fen, remaining, description) VALUES (?, ?, ?, ?, ?)');
  db.transaction(() => {
    const now = Date.now();
    SEED_GOODS.forEach((goods, index) => {
      const goodsId = Number(insertGoods.run(goods.title, goods.description, goods.priceFen, index).lastInsertRowid);
      // A code that collides is skipped by OR IGNORE; the loop is bounded by the attempts allowed.
      let made = 0;
      for (let attempt = 0; made < cardsPerGoods && attempt < cardsPerGoods * 2 + 10; attempt += 1) {
        made += insertCard.run(goodsId, newCardCode(goods.prefix), now).changes;
      }
    });
    for (const coupon of SEED_COUPONS) insertCoupon.run(coupon.code, coupon.discountFen, coupon.minFen, coupon.remaining, coupon.description);
  })();
  return true;
}

/** `F` + the China date + 8 random digits, e.g. `F2026120712345678`. */
export function newOrderNo(now: number): string {
  const date = new Date(now + 8 * 3_600_000).toISOString().slice(0, 10).replace(/-/g, '');
  return `F${date}${String(randomInt(100_000_000)).padStart(8, '0')}`;
}
