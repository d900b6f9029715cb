/**
 * The shop's check of a payment callback's signature (native wire protocol v1):
 * `Ordeal-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
 *
 * The HMAC is over the exact bytes received, so the callback route keeps its body as raw text.
 * The comparison is constant-time: how long a rejection takes says nothing about how much of a
 * forged signature was right.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header, as node spells incoming header names (lower case). */
export const SIGNATURE_HEADER = 'ordeal-signature';

/** How far (seconds) a callback's timestamp may be from the shop's clock, either way. */
export const SIGNATURE_TOLERANCE_S = 300;

/**
 * Why a signature was refused. `stale` is only given for a signature that is otherwise right
 * (a genuine callback, replayed or delayed), so a log line tells a replay from a forgery.
 */
export type SignatureRejection = 'missing' | 'malformed' | 'mismatch' | 'stale';

export type SignatureVerdict = { valid: true; signedAt: number } | { valid: false; reason: SignatureRejection };

interface ParsedHeader {
  signedAt: number;
  /** Every `v1` given (a provider rotating its secret may send more than one). */
  signatures: Buffer[];
}

const DIGITS = /^\d{1,15}$/;
const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;

function parseHeader(header: string): ParsedHeader | undefined {
  let signedAt: number | undefined;
  const signatures: Buffer[] = [];
  for (const item of header.split(',')) {
    const separator = item.indexOf('=');
    if (separator < 0) continue;
    const key = item.slice(0, separator).trim();
    const value = item.slice(separator + 1).trim();
    if (key === 't') {
      if (!DIGITS.test(value) || signedAt !== undefined) return undefined;
      signedAt = Number(value);
    } else if (key === 'v1') {
      if (!HEX_SHA256.test(value)) return undefined;
      signatures.push(Buffer.from(value, 'hex'));
    }
  }
  if (signedAt === undefined || signatures.length === 0) return undefined;
  return { signedAt, signatures };
}

export interface SignatureCheck {
  /** `ORDEAL_PAYMENT_SECRET`. */
  secret: string;
  /** The header's value, if the request had one. */
  header: string | undefined;
  /** The request body exactly as received. */
  rawBody: string;
  /** The shop's clock in unix seconds. @default now */
  nowS?: number;
  /** @default SIGNATURE_TOLERANCE_S */
  toleranceS?: number;
}

/** Checks a callback's signature, then its age. */
export function verifyCallbackSignature(check: SignatureCheck): SignatureVerdict {
  if (check.header === undefined || check.header.trim() === '') return { valid: false, reason: 'missing' };
  const parsed = parseHeader(check.header);
  if (!parsed) return { valid: false, reason: 'malformed' };
  const expected = createHmac('sha256', check.secret).update(`${parsed.signedAt}.`).update(check.rawBody).digest();
  // Every candidate is compared, matching or not, so the time taken does not depend on which one matched.
  let matched = false;
  for (const signature of parsed.signatures) matched = timingSafeEqual(expected, signature) || matched;
  if (!matched) return { valid: false, reason: 'mismatch' };
  const nowS = check.nowS ?? Math.floor(Date.now() / 1000);
  if (Math.abs(nowS - parsed.signedAt) > (check.toleranceS ?? SIGNATURE_TOLERANCE_S)) return { valid: false, reason: 'stale' };
  return { valid: true, signedAt: parsed.signedAt };
}
