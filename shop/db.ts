/**
 * The shop's state, all of it in one SQLite file (WAL, synchronous=NORMAL): orders, idempotency
 * keys, issued cards, the outbox of buyer messages, and (only under the `no-reservation` flaw) a
 * local card stockpile. A restarted shop carries on from here.
 *
 * better-sqlite3 is synchronous, so each method below runs to completion without interleaving with
 * other work in the process; `transaction()` groups several into one atomic commit.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';

/** Contract v1 statuses, plus `creating`: the order exists but its first status is not decided. */
export const ORDER_STATUSES = [
  'creating',
  'pending_payment',
  'awaiting_verification',
  'under_review',
  'paid',
  'fulfilling',
  'delivered',
  'cancelled',
  'expired',
  'failed',
  'refund_pending',
  'refunded',
] as const;
export type StoredStatus = (typeof ORDER_STATUSES)[number];
export type ContractStatus = Exclude<StoredStatus, 'creating'>;

export const ORDER_REASONS = [
  'out_of_stock',
  'payment_declined',
  'payment_limit',
  'cross_border_blocked',
  'verification_timeout',
  'risk_rejected',
  'amount_mismatch',
  'delivery_failed',
  'expired_unpaid',
  'cancelled_by_buyer',
  'service_unavailable',
] as const;
export type OrderReason = (typeof ORDER_REASONS)[number];

/** `active`: held for the order; `released`/`expired`: gone; `fulfilled`: cards issued. */
export type ReservationState = 'none' | 'active' | 'released' | 'expired' | 'fulfilled';

export interface OrderRow {
  id: string;
  status: StoredStatus;
  reason: OrderReason | null;
  sku: string;
  sku_name: string;
  quantity: number;
  unit_price: number;
  discount: number;
  amount: number;
  currency: string;
  coupon: string | null;
  recipient_kind: string;
  recipient_account: string;
  buyer_id: string;
  contact: string;
  buyer_region: string | null;
  buyer_json: string;
  payment_method: string;
  trade_no: string | null;
  pay_url: string | null;
  reservation_id: string | null;
  reservation_state: ReservationState;
  reservation_expires_at: number | null;
  /** 1 when the reservation must still be released (retried until the supplier confirms). */
  release_pending: number;
  restock_at: string | null;
  /** Reason the order will carry once its refund is done. */
  refund_reason: OrderReason | null;
  /** Failed attempts in the current phase (delivery, refund, release, close). */
  attempts: number;
  /** Risk screening's assessment, once assessed (an order still `creating` with one was approved). */
  assessment_id: string | null;
  /** When an unpaid order expires (ms since epoch); set when its trade is created. */
  expires_at: number | null;
  /** Hash of the buying intent (buyer, SKU, quantity, recipient, coupon) for de-duplication. */
  intent_hash: string | null;
  /** Money to refund (minor units) when it differs from `amount` (a tampered payment). */
  refund_amount: number | null;
  /** 1 while a refund is owed on an order whose status stays what it is (`failed`/`amount_mismatch`). */
  refund_due: number;
  /** 1 once a callback was received but not yet processed (the `ack-before-commit` flaw). */
  callback_received: number;
  /** When the reconciler should next look at the order (ms since epoch); null: nothing to do. */
  next_check_at: number | null;
  created_at: number;
  updated_at: number;
  paid_at: number | null;
  delivered_at: number | null;
}

export type OrderPatch = Partial<Omit<OrderRow, 'id' | 'created_at' | 'updated_at'>>;

export interface CardRow {
  order_id: string;
  reservation_id: string;
  seq: number;
  code: string;
  pin: string;
  issued_at: number;
}

export interface OutboxRow {
  id: number;
  message_key: string;
  order_id: string;
  payload: string;
  state: 'pending' | 'sent' | 'failed';
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  sent_at: number | null;
}

export type InsertResult =
  | { kind: 'created' }
  /** The idempotency key is known: the order it made, and whether the body matches. */
  | { kind: 'existing'; orderId: string; sameRequest: boolean }
  /** An open order for the same intent exists: it stands for this one. */
  | { kind: 'same_intent'; orderId: string };

/** A card the shop holds itself (the `no-reservation` flaw). */
export interface StockpileRow {
  code: string;
  pin: string;
  sku: string;
  batch: string;
  sold: number;
  order_id: string | null;
  bought_at: number;
}

/** Statuses of an order that is still open for payment (intent de-duplication looks at these). */
export const OPEN_STATUSES: readonly StoredStatus[] = ['creating', 'pending_payment', 'under_review', 'awaiting_verification'];

const SCHEMA = `
CREATE TABLE IF NOT EXISTS orders (
  id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  reason TEXT,
  sku TEXT NOT NULL,
  sku_name TEXT NOT NULL,
  quantity INTEGER NOT NULL,
  unit_price INTEGER NOT NULL,
  discount INTEGER NOT NULL,
  amount INTEGER NOT NULL,
  currency TEXT NOT NULL,
  coupon TEXT,
  recipient_kind TEXT NOT NULL,
  recipient_account TEXT NOT NULL,
  buyer_id TEXT NOT NULL,
  contact TEXT NOT NULL,
  buyer_region TEXT,
  buyer_json TEXT NOT NULL,
  payment_method TEXT NOT NULL,
  trade_no TEXT,
  pay_url TEXT,
  reservation_id TEXT,
  reservation_state TEXT NOT NULL DEFAULT 'none',
  reservation_expires_at INTEGER,
  release_pending INTEGER NOT NULL DEFAULT 0,
  restock_at TEXT,
  refund_reason TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  assessment_id TEXT,
  expires_at INTEGER,
  intent_hash TEXT,
  refund_amount INTEGER,
  refund_due INTEGER NOT NULL DEFAULT 0,
  callback_received INTEGER NOT NULL DEFAULT 0,
  next_check_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  paid_at INTEGER,
  delivered_at INTEGER
);
CREATE INDEX IF NOT EXISTS orders_due ON orders(next_check_at) WHERE next_check_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS stockpile (
  code TEXT PRIMARY KEY,
  pin TEXT NOT NULL,
  sku TEXT NOT NULL,
  batch TEXT NOT NULL,
  sold INTEGER NOT NULL DEFAULT 0,
  order_id TEXT,
  bought_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS stockpile_unsold ON stockpile(sku, sold);
CREATE TABLE IF NOT EXISTS idempotency_keys (
  key TEXT PRIMARY KEY,
  request_hash TEXT NOT NULL,
  order_id TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cards (
  order_id TEXT NOT NULL,
  reservation_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  code TEXT NOT NULL,
  pin TEXT NOT NULL,
  issued_at INTEGER NOT NULL,
  PRIMARY KEY (reservation_id, seq)
);
CREATE INDEX IF NOT EXISTS cards_order ON cards(order_id);
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  message_key TEXT NOT NULL UNIQUE,
  order_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  sent_at INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(next_attempt_at) WHERE state = 'pending';
`;

const PATCHABLE: ReadonlySet<string> = new Set([
  'status',
  'reason',
  'trade_no',
  'pay_url',
  'reservation_id',
  'reservation_state',
  'reservation_expires_at',
  'release_pending',
  'restock_at',
  'refund_reason',
  'attempts',
  'assessment_id',
  'expires_at',
  'refund_amount',
  'refund_due',
  'callback_received',
  'next_check_at',
  'paid_at',
  'delivered_at',
]);

/** Columns whose change is visible in the order's view (and so moves `updatedAt`). */
const VISIBLE: ReadonlySet<string> = new Set(['status', 'reason', 'trade_no', 'pay_url', 'delivered_at']);

export const DB_FILE = 'shop.db';

export class ShopDb {
  readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(dataDir: string, private readonly clock: () => number = Date.now) {
    this.db = new Database(join(dataDir, DB_FILE));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.migrate();
  }

  /** Adds the columns a data folder written by an older shop lacks. */
  private migrate(): void {
    const columns = new Set((this.db.prepare('PRAGMA table_info(orders)').all() as Array<{ name: string }>).map((column) => column.name));
    const wanted: Array<[string, string]> = [
      ['assessment_id', 'TEXT'],
      ['expires_at', 'INTEGER'],
      ['intent_hash', 'TEXT'],
      ['refund_amount', 'INTEGER'],
      ['refund_due', 'INTEGER NOT NULL DEFAULT 0'],
      ['callback_received', 'INTEGER NOT NULL DEFAULT 0'],
    ];
    for (const [name, type] of wanted) if (!columns.has(name)) this.db.exec(`ALTER TABLE orders ADD COLUMN ${name} ${type}`);
    this.db.exec('CREATE INDEX IF NOT EXISTS orders_intent ON orders(intent_hash, created_at) WHERE intent_hash IS NOT NULL');
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private prepare(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Runs `fn` in one transaction (nested calls join the outer one). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /**
   * Inserts a new order, and its idempotency key when given, in one transaction. When the key is
   * already known nothing is inserted and the existing order is named instead.
   */
  insertOrder(
    row: Omit<OrderRow, 'updated_at'>,
    idempotency?: { key: string; requestHash: string },
    /** De-duplicate by `row.intent_hash` against open orders created after `since`. */
    intent?: { since: number },
  ): InsertResult {
    return this.transaction((): InsertResult => {
      if (idempotency) {
        const existing = this.prepare('SELECT order_id, request_hash FROM idempotency_keys WHERE key = ?').get(idempotency.key) as
          | { order_id: string; request_hash: string }
          | undefined;
        if (existing) return { kind: 'existing', orderId: existing.order_id, sameRequest: existing.request_hash === idempotency.requestHash };
      }
      if (intent && row.intent_hash) {
        const open = this.prepare(
          `SELECT id FROM orders WHERE intent_hash = ? AND created_at > ? AND status IN (${OPEN_STATUSES.map(() => '?').join(', ')}) ORDER BY created_at LIMIT 1`,
        ).get(row.intent_hash, intent.since, ...OPEN_STATUSES) as { id: string } | undefined;
        if (open) {
          // The new key now names the first order too: a retry of this request finds it.
          if (idempotency) {
            this.prepare('INSERT INTO idempotency_keys (key, request_hash, order_id, created_at) VALUES (?, ?, ?, ?)').run(
              idempotency.key,
              idempotency.requestHash,
              open.id,
              row.created_at,
            );
          }
          return { kind: 'same_intent', orderId: open.id };
        }
      }
      const full: OrderRow = { ...row, updated_at: row.created_at };
      const columns = Object.keys(full);
      this.prepare(`INSERT INTO orders (${columns.join(', ')}) VALUES (${columns.map((column) => `@${column}`).join(', ')})`).run(full);
      if (idempotency) {
        this.prepare('INSERT INTO idempotency_keys (key, request_hash, order_id, created_at) VALUES (?, ?, ?, ?)').run(
          idempotency.key,
          idempotency.requestHash,
          row.id,
          row.created_at,
        );
      }
      return { kind: 'created' };
    });
  }

  get(id: string): OrderRow | undefined {
    return this.prepare('SELECT * FROM orders WHERE id = ?').get(id) as OrderRow | undefined;
  }

  /**
   * Applies `patch` when the order's status is one of `from` (or always, for `from: 'any'`).
   * Returns whether the row changed: the compare-and-set every state transition goes through.
   */
  update(id: string, from: readonly StoredStatus[] | 'any', patch: OrderPatch): boolean {
    const keys = Object.keys(patch).filter((key) => (patch as Record<string, unknown>)[key] !== undefined);
    for (const key of keys) if (!PATCHABLE.has(key)) throw new Error(`column ${key} cannot be patched`);
    const sets = keys.map((key) => `${key} = @${key}`);
    const params: Record<string, unknown> = { id };
    // updatedAt tells the buyer when the order last visibly changed, not when it was last checked.
    if (keys.some((key) => VISIBLE.has(key))) {
      sets.push('updated_at = @updated_at');
      params.updated_at = this.clock();
    }
    if (sets.length === 0) return false;
    let sql = `UPDATE orders SET ${sets.join(', ')} WHERE id = @id`;
    for (const key of keys) params[key] = (patch as Record<string, unknown>)[key];
    if (from !== 'any') {
      if (from.length === 0) return false;
      sql += ` AND status IN (${from.map((_, index) => `@from${index}`).join(', ')})`;
      from.forEach((status, index) => {
        params[`from${index}`] = status;
      });
    }
    return this.prepare(sql).run(params).changes > 0;
  }

  /** Ids of orders whose `next_check_at` has come, oldest first. */
  dueOrders(now: number, limit: number): string[] {
    return (this.prepare('SELECT id FROM orders WHERE next_check_at IS NOT NULL AND next_check_at <= ? ORDER BY next_check_at LIMIT ?').all(now, limit) as Array<{ id: string }>).map(
      (row) => row.id,
    );
  }

  /** Makes every order with pending work due now (at start-up: callbacks may have been missed while down). */
  recheckUnfinished(now: number): number {
    return this.prepare('UPDATE orders SET next_check_at = ? WHERE next_check_at IS NOT NULL AND next_check_at > ?').run(now, now).changes;
  }

  /** Stores a card set (idempotent per reservation). */
  insertCards(orderId: string, reservationId: string, cards: ReadonlyArray<{ code: string; pin: string }>, issuedAt: number): void {
    const insert = this.prepare('INSERT OR IGNORE INTO cards (order_id, reservation_id, seq, code, pin, issued_at) VALUES (?, ?, ?, ?, ?, ?)');
    cards.forEach((card, seq) => insert.run(orderId, reservationId, seq, card.code, card.pin, issuedAt));
  }

  cards(orderId: string): CardRow[] {
    return this.prepare('SELECT * FROM cards WHERE order_id = ? ORDER BY issued_at, reservation_id, seq').all(orderId) as CardRow[];
  }

  /** Number of distinct card sets (deliveries) stored for the order. */
  cardSets(orderId: string): number {
    return (this.prepare('SELECT COUNT(DISTINCT reservation_id) AS n FROM cards WHERE order_id = ?').get(orderId) as { n: number }).n;
  }

  /** Queues a message; a second message with the same key is dropped. Returns whether it was queued. */
  enqueueMessage(messageKey: string, orderId: string, payload: unknown, now: number): boolean {
    return (
      this.prepare('INSERT OR IGNORE INTO outbox (message_key, order_id, payload, state, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, 0, ?, ?)').run(
        messageKey,
        orderId,
        JSON.stringify(payload),
        'pending',
        now,
        now,
      ).changes > 0
    );
  }

  dueMessages(now: number, limit: number): OutboxRow[] {
    return this.prepare("SELECT * FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?").all(now, limit) as OutboxRow[];
  }

  message(id: number): OutboxRow | undefined {
    return this.prepare('SELECT * FROM outbox WHERE id = ?').get(id) as OutboxRow | undefined;
  }

  messagesOf(orderId: string): OutboxRow[] {
    return this.prepare('SELECT * FROM outbox WHERE order_id = ? ORDER BY id').all(orderId) as OutboxRow[];
  }

  markMessageSent(id: number, now: number): void {
    this.prepare("UPDATE outbox SET state = 'sent', attempts = attempts + 1, sent_at = ?, last_error = NULL WHERE id = ?").run(now, id);
  }

  markMessageRetry(id: number, nextAttemptAt: number, error: string): void {
    this.prepare('UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?').run(nextAttemptAt, error, id);
  }

  markMessageFailed(id: number, error: string): void {
    this.prepare("UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?").run(error, id);
  }

  // ---- stockpile (the `no-reservation` flaw) ----------------------------------------------------

  addToStockpile(sku: string, batch: string, cards: ReadonlyArray<{ code: string; pin: string }>, now: number): void {
    const insert = this.prepare('INSERT OR IGNORE INTO stockpile (code, pin, sku, batch, sold, order_id, bought_at) VALUES (?, ?, ?, ?, 0, NULL, ?)');
    this.transaction(() => cards.forEach((card) => insert.run(card.code, card.pin, sku, batch, now)));
  }

  /** Unsold cards of a SKU, oldest first. */
  unsoldCards(sku: string, limit: number): StockpileRow[] {
    return this.prepare('SELECT * FROM stockpile WHERE sku = ? AND sold = 0 ORDER BY bought_at, code LIMIT ?').all(sku, limit) as StockpileRow[];
  }

  countUnsold(sku: string): number {
    return (this.prepare('SELECT COUNT(*) AS n FROM stockpile WHERE sku = ? AND sold = 0').get(sku) as { n: number }).n;
  }

  markCardsSold(codes: readonly string[], orderId: string): void {
    const mark = this.prepare('UPDATE stockpile SET sold = 1, order_id = ? WHERE code = ?');
    this.transaction(() => codes.forEach((code) => mark.run(orderId, code)));
  }

  /** Batches bought so far for a SKU (to number the next one). */
  stockpileBatches(sku: string): number {
    return (this.prepare('SELECT COUNT(DISTINCT batch) AS n FROM stockpile WHERE sku = ?').get(sku) as { n: number }).n;
  }
}
