/**
 * The shop's own check of the payment callback signature, against headers computed here with
 * node:crypto straight from the wire protocol's definition:
 * `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, tolerance 300 s.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SIGNATURE_HEADER, SIGNATURE_TOLERANCE_S, verifyCallbackSignature } from '../shop/payment/native-signature.js';

const SECRET = 'shop-test-secret';
const BODY = '{"notifyId":"N-7","tradeNo":"T-42","outTradeNo":"ord_x","status":"TRADE_SUCCESS","amount":3000}';
const T = 1_760_000_000;

function hmacHex(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text, 'utf8').digest('hex');
}

function header(secret: string, t: number, body: string): string {
  return `t=${t},v1=${hmacHex(secret, `${t}.${body}`)}`;
}

function check(headerValue: string | undefined, options: { body?: string; secret?: string; nowS?: number; toleranceS?: number } = {}) {
  return verifyCallbackSignature({
    secret: options.secret ?? SECRET,
    header: headerValue,
    rawBody: options.body ?? BODY,
    nowS: options.nowS ?? T,
    ...(options.toleranceS === undefined ? {} : { toleranceS: options.toleranceS }),
  });
}

describe('shop callback signature', () => {
  it('names the header as node delivers it, and the protocol tolerance', () => {
    expect(SIGNATURE_HEADER).toBe('ordeal-signature');
    expect(SIGNATURE_TOLERANCE_S).toBe(300);
  });

  it('accepts a valid signature, whatever the order of the parts, spacing or hex case', () => {
    const v1 = hmacHex(SECRET, `${T}.${BODY}`);
    expect(check(header(SECRET, T, BODY))).toEqual({ valid: true, signedAt: T });
    expect(check(`v1=${v1},t=${T}`).valid).toBe(true);
    expect(check(` t=${T} , v1=${v1.toUpperCase()} `).valid).toBe(true);
    // A second, unknown v1 (a rotated secret) does not hide the right one.
    expect(check(`t=${T},v1=${hmacHex('old-secret', `${T}.${BODY}`)},v1=${v1}`).valid).toBe(true);
    // Non-ASCII bodies are signed as their UTF-8 bytes.
    const body = BODY.replace('ord_x', 'ord_\u00e9\u4e2d');
    expect(check(header(SECRET, T, body), { body }).valid).toBe(true);
  });

  it('rejects a signature made with another secret', () => {
    expect(check(header('another-secret', T, BODY))).toEqual({ valid: false, reason: 'mismatch' });
    expect(check(header(SECRET, T, BODY), { secret: `${SECRET}x` })).toEqual({ valid: false, reason: 'mismatch' });
  });

  it('rejects a tampered body, and a signature moved to another timestamp', () => {
    const signed = header(SECRET, T, BODY);
    expect(check(signed, { body: BODY.replace('"amount":3000', '"amount":1') })).toEqual({ valid: false, reason: 'mismatch' });
    expect(check(signed, { body: `${BODY}\n` })).toEqual({ valid: false, reason: 'mismatch' });
    const v1 = hmacHex(SECRET, `${T}.${BODY}`);
    expect(check(`t=${T + 1},v1=${v1}`, { nowS: T })).toEqual({ valid: false, reason: 'mismatch' });
  });

  it('rejects a stale (or future) timestamp beyond the tolerance, unless the tolerance is widened', () => {
    const signed = header(SECRET, T, BODY);
    expect(check(signed, { nowS: T + 300 }).valid).toBe(true);
    expect(check(signed, { nowS: T - 300 }).valid).toBe(true);
    expect(check(signed, { nowS: T + 301 })).toEqual({ valid: false, reason: 'stale' });
    expect(check(signed, { nowS: T - 301 })).toEqual({ valid: false, reason: 'stale' });
    expect(check(signed, { nowS: T + 86_400, toleranceS: Number.POSITIVE_INFINITY }).valid).toBe(true);
    // Stale is only said of a signature that is otherwise right.
    expect(check(header('another-secret', T, BODY), { nowS: T + 3600 })).toEqual({ valid: false, reason: 'mismatch' });
  });

  it('uses the clock when no time is given', () => {
    const now = Math.floor(Date.now() / 1000);
    expect(verifyCallbackSignature({ secret: SECRET, header: header(SECRET, now, BODY), rawBody: BODY }).valid).toBe(true);
    expect(verifyCallbackSignature({ secret: SECRET, header: header(SECRET, now - 3600, BODY), rawBody: BODY })).toEqual({ valid: false, reason: 'stale' });
  });

  it('rejects a malformed or missing header', () => {
    const v1 = hmacHex(SECRET, `${T}.${BODY}`);
    const malformed = [
      'garbage',
      ',,,',
      `v1=${v1}`,
      `t=${T}`,
      `t=,v1=${v1}`,
      `t=abc,v1=${v1}`,
      `t=-${T},v1=${v1}`,
      `t=${T}.5,v1=${v1}`,
      `t=${T},t=${T},v1=${v1}`,
      `t=${T},v1=`,
      `t=${T},v1=zz${v1.slice(2)}`,
      `t=${T},v1=${v1.slice(2)}`,
      `t=${T},v1=${v1}00`,
    ];
    for (const value of malformed) expect(check(value), value).toEqual({ valid: false, reason: 'malformed' });
    expect(check(undefined)).toEqual({ valid: false, reason: 'missing' });
    expect(check('')).toEqual({ valid: false, reason: 'missing' });
    expect(check('   ')).toEqual({ valid: false, reason: 'missing' });
  });
});
