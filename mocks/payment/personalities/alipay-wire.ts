/**
 * Alipay OpenAPI v2's bytes (PROVIDERS.md §2), shared by the personality's requests, answers and
 * notifies: the gateway's parameters (common ones in the query string, `biz_content` in the form
 * body, as alipay-sdk's `exec` sends them), RSA2 signing over sorted `k=v&…` text, answers signed
 * over the exact JSON text of their `…_response` value, Beijing-time timestamps and yuan strings.
 */
import { createSign, createVerify, type KeyLike } from 'node:crypto';
import { asObject, type JsonObject, type MockReply, type MockRequest } from '../../mock-types.js';

/** Alipay writes every time in Beijing time (UTC+8), `yyyy-MM-dd HH:mm:ss`. */
const BEIJING_OFFSET_MS = 8 * 3_600_000;
const TIME_FORMAT = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

/** `ms` (since the epoch) as Alipay's timestamp text, in Beijing time. */
export function beijingTime(ms: number): string {
  return new Date(ms + BEIJING_OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ');
}

/** Alipay's `yyyy-MM-dd HH:mm:ss` (Beijing time) as ms since the epoch, or undefined. */
export function parseBeijingTime(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const match = TIME_FORMAT.exec(text.trim());
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second] = match.map(Number) as [number, number, number, number, number, number, number];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls 2026-02-31 over into March: such a date is not one.
  return new Date(ms).getUTCDate() === day ? ms - BEIJING_OFFSET_MS : undefined;
}

/** Minor units as a yuan string with two decimals (`3000` → `"30.00"`). */
export function yuan(minor: number): string {
  return (minor / 100).toFixed(2);
}

/** A yuan amount (`"30.00"`, `"30"`, or the number 30 that a JSON body may carry) as minor units, or undefined. */
export function minorOfYuan(value: unknown): number | undefined {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : typeof value === 'string' ? value.trim() : undefined;
  if (text === undefined || !/^\d{1,9}(\.\d{1,2})?$/.test(text)) return undefined;
  const [whole = '0', fraction = ''] = text.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
}

/**
 * The text Alipay signs: every parameter but `exclude`d ones, sorted by name, `k=v` joined by `&`,
 * values raw (not URL-encoded). Empty values are kept unless `dropEmpty` (alipay-sdk signs them,
 * Alipay's Java and PHP SDKs leave them out).
 */
export function signContent(params: Readonly<Record<string, string>>, exclude: readonly string[], dropEmpty = false): string {
  return Object.keys(params)
    .filter((name) => !exclude.includes(name) && (!dropEmpty || params[name] !== ''))
    .sort()
    .map((name) => `${name}=${params[name]}`)
    .join('&');
}

/** SHA256withRSA, base64 (`sign_type=RSA2`). */
export function rsa2Sign(content: string, privateKey: KeyLike): string {
  return createSign('RSA-SHA256').update(content, 'utf8').sign(privateKey, 'base64');
}

export function rsa2Verify(content: string, signature: string, publicKey: KeyLike): boolean {
  try {
    return createVerify('RSA-SHA256').update(content, 'utf8').verify(publicKey, signature, 'base64');
  } catch {
    // A signature that is not base64 of the right length, say.
    return false;
  }
}

/**
 * A gateway request's parameters: the query string's (alipay-sdk puts `app_id`, `method`,
 * `charset`, `sign_type`, `sign`, `timestamp`, `version`, `notify_url` there) and the form body's
 * (`biz_content`), the body winning a name sent twice. The query is read from the request target
 * as sent, so `+` is a space as in any form encoding.
 */
export function gatewayParams(request: MockRequest): Record<string, string> {
  const params: Record<string, string> = {};
  const question = request.target.indexOf('?');
  if (question >= 0) for (const [name, value] of new URLSearchParams(request.target.slice(question + 1))) params[name] ??= value;
  const body = asObject(request.body);
  if (body) for (const [name, value] of Object.entries(body)) if (typeof value === 'string') params[name] = value;
  return params;
}

/** `biz_content` as an object, or undefined when it is missing or not a JSON object. */
export function bizContentOf(params: Readonly<Record<string, string>>): JsonObject | undefined {
  const text = params.biz_content;
  if (text === undefined) return undefined;
  try {
    return asObject(JSON.parse(text) as unknown);
  } catch {
    return undefined;
  }
}

/** A `biz_content` field that is an object, or a JSON text of one (`business_params` is documented both ways). */
export function objectField(biz: JsonObject | undefined, name: string): JsonObject | undefined {
  const value = biz?.[name];
  if (typeof value !== 'string') return asObject(value);
  try {
    return asObject(JSON.parse(value) as unknown);
  } catch {
    return undefined;
  }
}

/** `alipay.trade.query` → `alipay_trade_query_response`: where an answer's value sits. */
export function responseKey(method: string): string {
  return `${method.replaceAll('.', '_')}_response`;
}

/** The `code` / `msg` pairs of Alipay's common answers. */
export const ALIPAY_CODES = {
  success: { code: '10000', msg: 'Success' },
  unavailable: { code: '20000', msg: 'Service Currently Unavailable' },
  missing: { code: '40001', msg: 'Missing Required Arguments' },
  invalid: { code: '40002', msg: 'Invalid Arguments' },
  business: { code: '40004', msg: 'Business Failed' },
} as const;

/** An answer's value that is not a success: a common code with Alipay's `sub_code` and `sub_msg`. */
export interface AlipayFailure {
  code: string;
  msg: string;
  sub_code: string;
  sub_msg: string;
}

export function failure(kind: Exclude<keyof typeof ALIPAY_CODES, 'success'>, subCode: string, subMsg: string): AlipayFailure {
  return { ...ALIPAY_CODES[kind], sub_code: subCode, sub_msg: subMsg };
}

/**
 * An answer as the gateway sends it: HTTP 200, `{"<key>":<value>,"sign":"…"}`, the signature over
 * the exact JSON text of `<value>` as written here (alipay-sdk cuts that text out of the body and
 * verifies it, so nothing may reformat it after signing).
 */
export function signedAnswer(key: string, value: JsonObject | AlipayFailure, privateKey: KeyLike): MockReply {
  const text = JSON.stringify(value);
  const body = `{${JSON.stringify(key)}:${text},"sign":${JSON.stringify(rsa2Sign(text, privateKey))}}`;
  return { status: 200, headers: { 'content-type': 'application/json;charset=utf-8' }, body };
}
