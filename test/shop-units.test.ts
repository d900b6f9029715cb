import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configFromEnv, parseShopConfigFile, resolveTimers, ShopConfigError, type ShopCatalog } from '../shop/config.js';
import { ShopDb, type OrderRow } from '../shop/db.js';
import { FlawSet, parseFlaws, SHOP_FLAWS, UnknownFlawError } from '../shop/flaws.js';
import { KeyedLock } from '../shop/keyed-lock.js';
import { buildMessage } from '../shop/messages.js';
import { requestHash } from '../shop/stages/intake.js';
import { canonicalJson, isValidRecipient, validateOrderRequest } from '../shop/validation.js';

const catalog: ShopCatalog = {
  skus: [
    { sku: 'MONTH_CARD', name: 'Monthly card', price: 3000, currency: 'CNY' },
    { sku: 'QUARTER_CARD', name: 'Quarterly card', price: 8000, currency: 'CNY' },
  ],
  coupons: [{ code: 'SAVE5', discount: 500, minAmount: 5000 }],
};

function body(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sku: 'MONTH_CARD',
    quantity: 1,
    recipient: { kind: 'game_id', account: '123456789' },
    buyer: { id: 'b-1', contact: '13800138000', ip: '127.0.0.1', region: 'CN', accountAgeDays: 30, deviceId: 'd-1' },
    paymentMethod: 'alipay',
    ...overrides,
  };
}

describe('shop flaws', () => {
  it('lists every flaw with a description', () => {
    expect(SHOP_FLAWS.map((flaw) => flaw.name)).toEqual([
      'no-reconcile',
      'no-idempotent-callbacks',
      'no-failure-notice',
      'no-refund',
      'ack-before-commit',
      'no-signature-check',
      'no-replay-check',
      'nack-duplicate-callbacks',
      'no-amount-check',
      'no-idempotency-key',
      'no-reservation',
      'sold-out-marked-delivered',
      'late-payment-dropped',
      'late-payment-unchecked',
      'no-stock-release',
      'no-notify-retry',
      'no-review-notice',
      'reopen-on-duplicate-callback',
      'announce-delivery-early',
    ]);
    for (const flaw of SHOP_FLAWS) expect(flaw.description.length).toBeGreaterThan(10);
  });

  it('parses comma-separated names, ignoring blanks and duplicates', () => {
    expect(parseFlaws('')).toEqual([]);
    expect(parseFlaws(undefined)).toEqual([]);
    expect(parseFlaws('no-reconcile, no-refund,,no-reconcile')).toEqual(['no-reconcile', 'no-refund']);
  });

  it('expands the profile naive to every flaw', () => {
    expect(parseFlaws('naive')).toEqual(SHOP_FLAWS.map((flaw) => flaw.name));
    expect(parseFlaws('no-refund,naive')).toHaveLength(SHOP_FLAWS.length);
    expect(parseFlaws('no-refund,naive')[0]).toBe('no-refund');
  });

  it('rejects an unknown name, naming it and the known ones', () => {
    expect(() => parseFlaws('no-reconcile,no-such-flaw')).toThrow(UnknownFlawError);
    expect(() => parseFlaws('no-such-flaw')).toThrow(/unknown shop flaw "no-such-flaw".*no-reconcile/);
  });

  it('answers membership', () => {
    const flaws = new FlawSet(['no-refund']);
    expect(flaws.has('no-refund')).toBe(true);
    expect(flaws.has('no-reconcile')).toBe(false);
  });
});

describe('order validation', () => {
  it('accepts a good order and prices it', () => {
    const result = validateOrderRequest(body({ quantity: 2, coupon: 'SAVE5' }), catalog);
    expect(result).toMatchObject({ ok: true, order: { quantity: 2, subtotal: 6000, discount: 500, amount: 5500, coupon: 'SAVE5' } });
  });

  it.each([
    [body({ sku: 'NOPE' }), 'invalid_sku'],
    [body({ sku: undefined }), 'invalid_sku'],
    [body({ quantity: 0 }), 'invalid_quantity'],
    [body({ quantity: 11 }), 'invalid_quantity'],
    [body({ quantity: 1.5 }), 'invalid_quantity'],
    [body({ quantity: '1' }), 'invalid_quantity'],
    [body({ recipient: { kind: 'game_id', account: '1234567' } }), 'invalid_recipient'],
    [body({ recipient: { kind: 'game_id', account: '1234567890123' } }), 'invalid_recipient'],
    [body({ recipient: { kind: 'phone', account: '2380013800' } }), 'invalid_recipient'],
    [body({ recipient: { kind: 'phone', account: '23800138000' } }), 'invalid_recipient'],
    [body({ recipient: { kind: 'email', account: 'not-an-email' } }), 'invalid_recipient'],
    [body({ recipient: { kind: 'wechat', account: 'x' } }), 'invalid_recipient'],
    [body({ recipient: undefined }), 'invalid_recipient'],
    [body({ coupon: 'SAVE5' }), 'coupon_below_threshold'],
    [body({ coupon: 'NOPE' }), 'invalid_request'],
    [body({ buyer: undefined }), 'invalid_request'],
    [body({ buyer: { id: 'b' } }), 'invalid_request'],
    [body({ paymentMethod: undefined }), 'invalid_request'],
    [[1, 2], 'invalid_request'],
    ['text', 'invalid_request'],
  ])('rejects %j with %s', (input, code) => {
    const result = validateOrderRequest(input, catalog);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.code).toBe(code);
      expect(result.message.length).toBeGreaterThan(0);
    }
  });

  it('checks recipients by kind', () => {
    expect(isValidRecipient('game_id', '12345678')).toBe(true);
    expect(isValidRecipient('game_id', '123456789012')).toBe(true);
    expect(isValidRecipient('phone', '13800138000')).toBe(true);
    expect(isValidRecipient('email', 'a.b@example.com')).toBe(true);
    expect(isValidRecipient('email', 'a@b')).toBe(false);
  });

  it('hashes bodies independent of key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}');
    expect(requestHash({ a: 1, b: 2 })).toBe(requestHash({ b: 2, a: 1 }));
    expect(requestHash({ a: 1 })).not.toBe(requestHash({ a: 2 }));
  });
});

describe('shop configuration from the environment', () => {
  const env = {
    PORT: '0',
    ORDEAL_PAYMENT_URL: 'http://127.0.0.1:1/',
    ORDEAL_PAYMENT_SECRET: 's',
    ORDEAL_STOCK_URL: 'http://127.0.0.1:2',
    ORDEAL_NOTIFY_URL: 'http://127.0.0.1:3',
    ORDEAL_SHOP_CONFIG: JSON.stringify({ catalog: { skus: [{ sku: 'A', name: 'A card', price: 100 }] }, timers: { orderTtl: 2000 } }),
  };

  it('builds the config, with defaults', () => {
    const config = configFromEnv(env, []);
    expect(config).toMatchObject({ port: 0, payment: { protocol: 'native', url: 'http://127.0.0.1:1', secret: 's' }, flaws: [] });
    expect(config.catalog.skus[0]).toMatchObject({ sku: 'A', currency: 'CNY' });
    expect(resolveTimers(config.timers)).toEqual({ orderTtl: 2000, reconcileAfter: 1500, reconcileEvery: 1000 });
  });

  it('takes flaws from --flaws over ORDEAL_SHOP_FLAWS', () => {
    expect(configFromEnv({ ...env, ORDEAL_SHOP_FLAWS: 'no-refund' }, []).flaws).toEqual(['no-refund']);
    expect(configFromEnv({ ...env, ORDEAL_SHOP_FLAWS: 'no-refund' }, ['--flaws', 'no-reconcile']).flaws).toEqual(['no-reconcile']);
    expect(configFromEnv(env, ['--flaws=no-reconcile,no-failure-notice']).flaws).toEqual(['no-reconcile', 'no-failure-notice']);
  });

  it.each([
    [{ ORDEAL_PAYMENT_URL: undefined }, [], /ORDEAL_PAYMENT_URL/],
    [{ ORDEAL_PAYMENT_SECRET: undefined }, [], /ORDEAL_PAYMENT_SECRET/],
    [{ ORDEAL_PAYMENT_PROTOCOL: 'paypal' }, [], /ORDEAL_PAYMENT_PROTOCOL must be one of native, epay/],
    [{ ORDEAL_PAYMENT_PROTOCOL: 'epay' }, [], /ORDEAL_PAYMENT_KEYS/],
    [{ ORDEAL_STOCK_URL: 'nope' }, [], /ORDEAL_STOCK_URL/],
    [{ ORDEAL_SHOP_CONFIG: undefined }, [], /ORDEAL_SHOP_CONFIG/],
    [{ ORDEAL_SHOP_CONFIG: '{' }, [], /not valid JSON/],
    [{ ORDEAL_SHOP_CONFIG: '{"catalog":{"skus":[]}}' }, [], /catalog\.skus/],
    [{ PORT: 'x' }, [], /PORT/],
    [{}, ['--flaws', 'bogus'], /unknown shop flaw "bogus"/],
    [{}, ['--verbose'], /unknown argument/],
  ])('rejects %j %j', (overrides, argv, message) => {
    expect(() => configFromEnv({ ...env, ...overrides }, argv)).toThrow(ShopConfigError);
    expect(() => configFromEnv({ ...env, ...overrides }, argv)).toThrow(message);
  });

  it('parses a config file with coupons defaulted', () => {
    expect(parseShopConfigFile('{"catalog":{"skus":[{"sku":"A","name":"A","price":1,"currency":"USD"}]}}').catalog.coupons).toEqual([]);
  });
});

describe('shop database', () => {
  let dir: string;
  let db: ShopDb | undefined;
  afterEach(() => {
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function row(id: string): Omit<OrderRow, 'updated_at'> {
    return {
      id,
      status: 'creating',
      reason: null,
      sku: 'A',
      sku_name: 'A card',
      quantity: 1,
      unit_price: 100,
      discount: 0,
      amount: 100,
      currency: 'CNY',
      coupon: null,
      recipient_kind: 'game_id',
      recipient_account: '12345678',
      buyer_id: 'b',
      contact: 'b@example.com',
      buyer_region: null,
      buyer_json: '{}',
      payment_method: 'alipay',
      trade_no: null,
      pay_url: null,
      reservation_id: null,
      reservation_state: 'none',
      reservation_expires_at: null,
      release_pending: 0,
      restock_at: null,
      refund_reason: null,
      attempts: 0,
      assessment_id: null,
      expires_at: null,
      intent_hash: null,
      refund_amount: null,
      refund_due: 0,
      callback_received: 0,
      next_check_at: 10,
      created_at: 1,
      paid_at: null,
      delivered_at: null,
    };
  }

  it('uses WAL, keeps idempotency keys, compare-and-sets statuses, and survives a reopen', () => {
    dir = mkdtempSync(join(tmpdir(), 'shop-db-test-'));
    db = new ShopDb(dir);
    expect(db.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.insertOrder(row('o1'), { key: 'k', requestHash: 'h1' })).toEqual({ kind: 'created' });
    expect(db.insertOrder(row('o2'), { key: 'k', requestHash: 'h1' })).toEqual({ kind: 'existing', orderId: 'o1', sameRequest: true });
    expect(db.insertOrder(row('o3'), { key: 'k', requestHash: 'h2' })).toEqual({ kind: 'existing', orderId: 'o1', sameRequest: false });
    expect(db.get('o2')).toBeUndefined();

    expect(db.update('o1', ['pending_payment'], { status: 'paid' })).toBe(false);
    expect(db.update('o1', ['creating'], { status: 'pending_payment', next_check_at: 5 })).toBe(true);
    expect(db.get('o1')).toMatchObject({ status: 'pending_payment', next_check_at: 5 });
    expect(db.dueOrders(4, 10)).toEqual([]);
    expect(db.dueOrders(5, 10)).toEqual(['o1']);

    db.insertCards('o1', 'R1', [{ code: 'C1', pin: '1' }], 100);
    db.insertCards('o1', 'R1', [{ code: 'C1', pin: '1' }], 100);
    expect(db.cards('o1')).toHaveLength(1);
    expect(db.enqueueMessage('o1:delivered', 'o1', { a: 1 }, 0)).toBe(true);
    expect(db.enqueueMessage('o1:delivered', 'o1', { a: 2 }, 0)).toBe(false);

    db.close();
    db = new ShopDb(dir);
    expect(db.get('o1')).toMatchObject({ status: 'pending_payment' });
    expect(db.cardSets('o1')).toBe(1);
    expect(db.dueMessages(0, 10)).toHaveLength(1);
  });

  it('de-duplicates by intent against open, young orders only, and gives the new key the first order', () => {
    dir = mkdtempSync(join(tmpdir(), 'shop-db-test-'));
    db = new ShopDb(dir);
    const intent = { ...row('i1'), intent_hash: 'intent-a', created_at: 1000 };
    expect(db.insertOrder(intent, undefined, { since: 0 })).toEqual({ kind: 'created' });
    expect(db.insertOrder({ ...row('i2'), intent_hash: 'intent-a', created_at: 1500 }, { key: 'k2', requestHash: 'h' }, { since: 500 })).toEqual({
      kind: 'same_intent',
      orderId: 'i1',
    });
    // The second window's key now names the first order.
    expect(db.insertOrder({ ...row('i3'), intent_hash: 'intent-a' }, { key: 'k2', requestHash: 'h' }, { since: 500 })).toEqual({ kind: 'existing', orderId: 'i1', sameRequest: true });
    // Too old, another intent, or no longer open: a new order.
    expect(db.insertOrder({ ...row('i4'), intent_hash: 'intent-a', created_at: 9000 }, undefined, { since: 1000 })).toEqual({ kind: 'created' });
    expect(db.insertOrder({ ...row('i5'), intent_hash: 'intent-b' }, undefined, { since: 0 })).toEqual({ kind: 'created' });
    db.update('i4', 'any', { status: 'expired' });
    db.update('i1', 'any', { status: 'delivered' });
    expect(db.insertOrder({ ...row('i6'), intent_hash: 'intent-a', created_at: 9500 }, undefined, { since: 0 })).toEqual({ kind: 'created' });
    // Without the intent option (flaw no-idempotency-key) nothing is compared.
    expect(db.insertOrder({ ...row('i7'), intent_hash: 'intent-a' }, undefined, undefined)).toEqual({ kind: 'created' });
  });

  it('adds the new columns to a data folder written by an older shop', () => {
    dir = mkdtempSync(join(tmpdir(), 'shop-db-test-'));
    const old = new Database(join(dir, 'shop.db'));
    old.exec('CREATE TABLE orders (id TEXT PRIMARY KEY, status TEXT NOT NULL, next_check_at INTEGER, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)');
    old.prepare('INSERT INTO orders (id, status, next_check_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').run('old', 'pending_payment', 5, 1, 1);
    old.close();
    db = new ShopDb(dir);
    expect(db.get('old')).toMatchObject({ status: 'pending_payment', refund_due: 0, callback_received: 0, expires_at: null, assessment_id: null });
  });

  it('keeps a card stockpile (the no-reservation flaw)', () => {
    dir = mkdtempSync(join(tmpdir(), 'shop-db-test-'));
    db = new ShopDb(dir);
    db.addToStockpile('A', 'stockpile-A-1', [{ code: 'C1', pin: '1' }, { code: 'C2', pin: '2' }], 1);
    expect(db.stockpileBatches('A')).toBe(1);
    expect(db.unsoldCards('A', 1).map((card) => card.code)).toEqual(['C1']);
    db.markCardsSold(['C1'], 'o1');
    expect(db.countUnsold('A')).toBe(1);
    expect(db.unsoldCards('A', 5).map((card) => card.code)).toEqual(['C2']);
  });
});

describe('keyed lock', () => {
  it('runs tasks for one key in turn and for different keys side by side', async () => {
    const lock = new KeyedLock();
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = lock.run('a', async () => {
      order.push('a1 start');
      await gate;
      order.push('a1 end');
    });
    const second = lock.run('a', async () => {
      order.push('a2');
    });
    const other = lock.run('b', async () => {
      order.push('b');
    });
    await other;
    expect(lock.busy('a')).toBe(true);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['a1 start', 'b', 'a1 end', 'a2']);
    await lock.idle();
    expect(lock.busy('a')).toBe(false);
  });

  it('keeps going after a failed task', async () => {
    const lock = new KeyedLock();
    await expect(lock.run('a', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(lock.run('a', async () => 1)).resolves.toBe(1);
  });
});

describe('messages', () => {
  it('goes by e-mail to an address and by SMS to a phone, keyed per order and kind', () => {
    const order = { id: 'ord_x', contact: 'a@example.com', quantity: 1, sku_name: 'Monthly card', amount: 3000, currency: 'CNY' } as OrderRow;
    expect(buildMessage({ order, kind: 'out_of_stock', reason: 'out_of_stock', restockAt: '2030-01-01T00:00:00.000Z' })).toMatchObject({
      to: 'a@example.com',
      channel: 'email',
      messageKey: 'ord_x:out_of_stock',
      reason: 'out_of_stock',
      text: expect.stringContaining('2030-01-01T00:00:00.000Z'),
    });
    expect(buildMessage({ order: { ...order, contact: '13800138000' }, kind: 'payment_failed', reason: 'payment_limit' })).toMatchObject({
      channel: 'sms',
      text: expect.stringContaining('another payment method'),
    });
  });

  it('says how long a review takes, what a tampered payment received, and what was refunded', () => {
    const order = { id: 'ord_y', contact: 'b@example.com', quantity: 1, sku_name: 'Monthly card', amount: 3000, currency: 'CNY', refund_amount: null } as OrderRow;
    expect(buildMessage({ order, kind: 'under_review' }).text).toMatch(/usually takes a few minutes/);
    expect(buildMessage({ order, kind: 'review_rejected', reason: 'risk_rejected' }).text).toMatch(/Nothing was charged/);
    expect(buildMessage({ order, kind: 'payment_failed', reason: 'amount_mismatch', received: 1 }).text).toContain('was 0.01 CNY, not the 30.00 CNY');
    expect(buildMessage({ order: { ...order, refund_amount: 1 }, kind: 'refunded', reason: 'amount_mismatch' }).text).toContain('The 0.01 CNY you paid');
    expect(buildMessage({ order, kind: 'payment_failed', reason: 'cross_border_blocked' }).text).toContain('choose another payment method');
  });
});
