/**
 * Callback signatures of the native payment protocol:
 * `Ordeal-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'ordeal-signature';
/** Seconds a signature stays acceptable. */
export const SIGNATURE_TOLERANCE_S = 300;

export function computeSignature(secret: string, timestamp: number, rawBody: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex');
}

/** The header value for a body signed at `timestamp` (unix seconds). */
export function signBody(secret: string, rawBody: string, timestamp = Math.floor(Date.now() / 1000)): string {
  return `t=${timestamp},v1=${computeSignature(secret, timestamp, rawBody)}`;
}

export type SignatureCheck =
  | { ok: true; timestamp: number }
  | { ok: false; reason: 'missing' | 'malformed' | 'mismatch' | 'stale' };

/** Verifies a header against the raw body; `nowS` is injectable for tests. */
export function verifySignature(
  secret: string,
  header: string | undefined,
  rawBody: string,
  nowS = Math.floor(Date.now() / 1000),
  toleranceS = SIGNATURE_TOLERANCE_S,
): SignatureCheck {
  if (!header) return { ok: false, reason: 'missing' };
  const parts = new Map<string, string>();
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) parts.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const timestamp = Number(parts.get('t'));
  const given = parts.get('v1');
  if (!Number.isInteger(timestamp) || !given || !/^[0-9a-f]{64}$/i.test(given)) return { ok: false, reason: 'malformed' };
  const expected = computeSignature(secret, timestamp, rawBody);
  if (!timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(given.toLowerCase(), 'hex'))) {
    return { ok: false, reason: 'mismatch' };
  }
  if (Math.abs(nowS - timestamp) > toleranceS) return { ok: false, reason: 'stale' };
  return { ok: true, timestamp };
}
