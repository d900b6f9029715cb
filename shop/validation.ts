/**
 * Validation of `POST /orders` (contract v1): bad input creates no order and is answered
 * 400 `{ error: { code, message } }` with one of the codes below.
 */
import type { ShopCatalog, ShopSku } from './config.js';

export type ValidationCode = 'invalid_sku' | 'invalid_quantity' | 'invalid_recipient' | 'coupon_below_threshold' | 'invalid_request';

export const RECIPIENT_KINDS = ['game_id', 'phone', 'email'] as const;
export type RecipientKind = (typeof RECIPIENT_KINDS)[number];

export interface Recipient {
  kind: RecipientKind;
  account: string;
}

export interface Buyer {
  id: string;
  contact: string;
  ip?: string;
  region?: string;
  accountAgeDays?: number;
  deviceId?: string;
}

/** A validated order request with its price worked out. */
export interface OrderRequest {
  sku: ShopSku;
  quantity: number;
  recipient: Recipient;
  buyer: Buyer;
  paymentMethod: string;
  coupon?: string;
  /** price × quantity (minor units). */
  subtotal: number;
  discount: number;
  /** subtotal − discount (minor units). */
  amount: number;
}

export type ValidationResult = { ok: true; order: OrderRequest } | { ok: false; code: ValidationCode; message: string };

const MAX_QUANTITY = 10;
const GAME_ID = /^\d{8,12}$/;
const PHONE = /^1\d{10}$/;
const EMAIL = /^[^\s@]+@[^\s@.]+(?:\.[^\s@.]+)+$/;

function fail(code: ValidationCode, message: string): ValidationResult {
  return { ok: false, code, message };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(record: Record<string, unknown>, key: string): string | undefined | false {
  const value = record[key];
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : false;
}

/** Whether `account` is a valid recipient of this kind. */
export function isValidRecipient(kind: RecipientKind, account: string): boolean {
  switch (kind) {
    case 'game_id':
      return GAME_ID.test(account);
    case 'phone':
      return PHONE.test(account);
    case 'email':
      return EMAIL.test(account) && account.length <= 254;
  }
}

/** Validates a parsed JSON body against the catalog. */
export function validateOrderRequest(body: unknown, catalog: ShopCatalog): ValidationResult {
  if (!isRecord(body)) return fail('invalid_request', 'expected a JSON object body');

  if (typeof body.sku !== 'string' || body.sku === '') return fail('invalid_sku', 'sku is required');
  const sku = catalog.skus.find((entry) => entry.sku === body.sku);
  if (!sku) return fail('invalid_sku', `unknown sku "${body.sku}"; see GET /catalog`);

  const quantity = body.quantity;
  if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) {
    return fail('invalid_quantity', `quantity must be a whole number from 1 to ${MAX_QUANTITY}`);
  }

  const recipient = body.recipient;
  if (!isRecord(recipient)) return fail('invalid_recipient', 'recipient { kind, account } is required');
  const kind = recipient.kind;
  if (typeof kind !== 'string' || !(RECIPIENT_KINDS as readonly string[]).includes(kind)) {
    return fail('invalid_recipient', `recipient.kind must be one of ${RECIPIENT_KINDS.join(', ')}`);
  }
  const account = recipient.account;
  const recipientKind = kind as RecipientKind;
  if (typeof account !== 'string' || !isValidRecipient(recipientKind, account)) {
    const rule =
      recipientKind === 'game_id' ? 'a game ID of 8 to 12 digits' : recipientKind === 'phone' ? 'a phone number of 11 digits starting with 1' : 'an e-mail address';
    return fail('invalid_recipient', `recipient.account must be ${rule}`);
  }

  const buyer = body.buyer;
  if (!isRecord(buyer)) return fail('invalid_request', 'buyer { id, contact, ... } is required');
  if (typeof buyer.id !== 'string' || buyer.id === '') return fail('invalid_request', 'buyer.id is required');
  if (typeof buyer.contact !== 'string' || buyer.contact.trim() === '') return fail('invalid_request', 'buyer.contact is required');
  const validBuyer: Buyer = { id: buyer.id, contact: buyer.contact.trim() };
  for (const key of ['ip', 'region', 'deviceId'] as const) {
    const value = optionalString(buyer, key);
    if (value === false) return fail('invalid_request', `buyer.${key} must be a string`);
    if (value !== undefined) validBuyer[key] = value;
  }
  if (buyer.accountAgeDays !== undefined && buyer.accountAgeDays !== null) {
    if (typeof buyer.accountAgeDays !== 'number' || !Number.isFinite(buyer.accountAgeDays) || buyer.accountAgeDays < 0) {
      return fail('invalid_request', 'buyer.accountAgeDays must be a number ≥ 0');
    }
    validBuyer.accountAgeDays = buyer.accountAgeDays;
  }

  if (typeof body.paymentMethod !== 'string' || body.paymentMethod === '') return fail('invalid_request', 'paymentMethod is required');

  const subtotal = sku.price * quantity;
  let discount = 0;
  let couponCode: string | undefined;
  if (body.coupon !== undefined && body.coupon !== null && body.coupon !== '') {
    if (typeof body.coupon !== 'string') return fail('invalid_request', 'coupon must be a string');
    const coupon = catalog.coupons.find((entry) => entry.code === body.coupon);
    if (!coupon) return fail('invalid_request', `unknown coupon "${body.coupon}"`);
    if (subtotal < coupon.minAmount) {
      return fail('coupon_below_threshold', `coupon ${coupon.code} needs an order of at least ${coupon.minAmount}; this one is ${subtotal}`);
    }
    discount = Math.min(coupon.discount, subtotal);
    couponCode = coupon.code;
  }

  const order: OrderRequest = {
    sku,
    quantity,
    recipient: { kind: recipientKind, account },
    buyer: validBuyer,
    paymentMethod: body.paymentMethod,
    subtotal,
    discount,
    amount: subtotal - discount,
  };
  if (couponCode !== undefined) order.coupon = couponCode;
  return { ok: true, order };
}

/** JSON with object keys sorted: two bodies that mean the same give the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  if (isRecord(value)) {
    const keys = Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
