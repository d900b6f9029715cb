/**
 * WeChat Pay API v3's wire rules, as the personality needs them (PROVIDERS.md §3; checked against
 * `wechatpay-axios-plugin` 0.9.6 in test/personality-wechatpay.test.ts):
 * - merchant requests carry `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",serial_no="…",
 *   timestamp="…",nonce_str="…",signature="…"`, the signature SHA256withRSA (base64) over
 *   `METHOD\nPATH?QUERY\ntimestamp\nnonce\nbody\n` with the merchant's private key;
 * - answers and notifies carry `Wechatpay-Timestamp/-Nonce/-Serial/-Signature`, the signature over
 *   `timestamp\nnonce\nbody\n` with the platform's key; clients refuse a skew over 300 s;
 * - notify resources are AEAD_AES_256_GCM with the 32-byte APIv3 key, a 12-byte nonce and the
 *   authentication tag appended to the base64 ciphertext;
 * - times are RFC 3339 in Beijing time (`2030-01-01T08:00:00+08:00`), as WeChat writes them.
 */
import { createCipheriv, createHash, createSign, createVerify, randomBytes, type KeyObject } from 'node:crypto';
import type { MockRequest } from '../../mock-types.js';
import { seqId, seqOf } from '../../mock-types.js';

export const AUTH_SCHEMA = 'WECHATPAY2-SHA256-RSA2048';
/** Seconds a signed timestamp may differ from the receiver's clock (the plugin's MAXIMUM_CLOCK_OFFSET). */
export const CLOCK_SKEW_S = 300;

/** The fields of an `Authorization` header. */
export interface MerchantAuthorization {
  mchid: string;
  serialNo: string;
  timestamp: number;
  nonce: string;
  signature: string;
}

/** `WECHATPAY2-SHA256-RSA2048 k="v",…` in any field order, or undefined when it is not one. */
export function parseAuthorization(header: string | undefined): MerchantAuthorization | undefined {
  if (header === undefined || !header.startsWith(`${AUTH_SCHEMA} `)) return undefined;
  const fields = new Map<string, string>();
  for (const match of header.slice(AUTH_SCHEMA.length + 1).matchAll(/\s*([a-z_]+)="([^"]*)"\s*(?:,|$)/g)) {
    fields.set(match[1] ?? '', match[2] ?? '');
  }
  const mchid = fields.get('mchid');
  const serialNo = fields.get('serial_no');
  const timestamp = fields.get('timestamp');
  const nonce = fields.get('nonce_str');
  const signature = fields.get('signature');
  if (!mchid || !serialNo || !timestamp || !/^\d{1,12}$/.test(timestamp) || !nonce || !signature) return undefined;
  return { mchid, serialNo, timestamp: Number(timestamp), nonce, signature };
}

/** The lines joined by "\n", with a final "\n" (WeChat's signing message). */
function lines(...pieces: Array<string | number>): string {
  return `${pieces.join('\n')}\n`;
}

export function signMessage(message: string, key: KeyObject): string {
  return createSign('RSA-SHA256').update(message).sign(key, 'base64');
}

export function verifyMessage(message: string, signature: string, key: KeyObject): boolean {
  try {
    return createVerify('RSA-SHA256').update(message).verify(key, signature, 'base64');
  } catch {
    return false;
  }
}

/** What the merchant's request must be signed with. */
export interface MerchantIdentity {
  mchid: string;
  /** The merchant API certificate's serial (compared without regard to case). */
  serial: string;
  publicKey: KeyObject;
}

/** Why a merchant request's `Authorization` is refused, or undefined when it verifies. */
export function authorizationProblem(request: MockRequest, merchant: MerchantIdentity, nowS: number): string | undefined {
  const auth = parseAuthorization(request.headers.authorization);
  if (!auth) return `Authorization: expected ${AUTH_SCHEMA} mchid="…",serial_no="…",timestamp="…",nonce_str="…",signature="…"`;
  if (auth.mchid !== merchant.mchid) return `Authorization: mchid ${auth.mchid} is not this merchant`;
  if (auth.serialNo.toUpperCase() !== merchant.serial.toUpperCase()) return `Authorization: serial_no ${auth.serialNo} is not the merchant's API certificate`;
  if (Math.abs(nowS - auth.timestamp) > CLOCK_SKEW_S) return `Authorization: timestamp ${auth.timestamp} is more than ${CLOCK_SKEW_S} s from the server's clock`;
  const message = lines(request.method, request.target, auth.timestamp, auth.nonce, request.rawBody);
  return verifyMessage(message, auth.signature, merchant.publicKey) ? undefined : 'Authorization: the signature does not verify';
}

/** How the platform signs: its key and the serial it names. */
export interface PlatformSigner {
  key: KeyObject;
  serial: string;
}

/** A base-62 nonce, as WeChat and the plugin make them. */
export function nonceText(length = 32): string {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  let text = '';
  for (const byte of randomBytes(length)) text += alphabet[byte % alphabet.length];
  return text;
}

/** The headers that sign `body` (the exact bytes sent; '' for none) at `timestampS`. */
export function signedHeaders(body: string, signer: PlatformSigner, timestampS: number): Record<string, string> {
  const nonce = nonceText();
  return {
    'wechatpay-timestamp': String(timestampS),
    'wechatpay-nonce': nonce,
    'wechatpay-serial': signer.serial,
    'wechatpay-signature': signMessage(lines(timestampS, nonce, body), signer.key),
    'wechatpay-signature-type': AUTH_SCHEMA,
    'request-id': randomBytes(16).toString('hex').toUpperCase(),
  };
}

/** An encrypted resource as notifies (and the certificates list) carry it. */
export interface EncryptedResource {
  algorithm: 'AEAD_AES_256_GCM';
  ciphertext: string;
  nonce: string;
  associated_data: string;
}

/** AEAD_AES_256_GCM with the APIv3 key: base64(ciphertext ‖ 16-byte tag), a 12-character nonce. */
export function encryptResource(plaintext: string, apiV3Key: string, associatedData: string, nonce = nonceText(12)): EncryptedResource {
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(apiV3Key, 'utf8'), Buffer.from(nonce, 'utf8'));
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64');
  return { algorithm: 'AEAD_AES_256_GCM', ciphertext, nonce, associated_data: associatedData };
}

/** `ciphertext`'s encrypted bytes followed by the GCM tag (its last 16 bytes) of `tagFrom`, base64. */
export function withTagOf(ciphertext: string, tagFrom: string): string {
  const bytes = Buffer.from(ciphertext, 'base64');
  const tag = Buffer.from(tagFrom, 'base64').subarray(-16);
  return Buffer.concat([bytes.subarray(0, bytes.length - 16), tag]).toString('base64');
}

const BEIJING_OFFSET_MS = 8 * 3_600_000;

/** RFC 3339 in Beijing time, whole seconds: `2030-01-01T08:00:00+08:00`. */
export function beijingTime(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000 + BEIJING_OFFSET_MS).toISOString().slice(0, 19)}+08:00`;
}

/** An RFC 3339 time (`time_expire`), ms since the epoch, or undefined when it is not one. */
export function parseRfc3339(text: unknown): number | undefined {
  if (typeof text !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}

/** The core's trade numbers are `T` + 10 digits; WeChat's `transaction_id`s are 28 digits. */
const TRANSACTION_PREFIX = '4200000';

export function transactionIdOf(tradeNo: string): string {
  return `${TRANSACTION_PREFIX}${String(seqOf('T', tradeNo)).padStart(21, '0')}`;
}

/** The core trade number a `transaction_id` names ('' when it names none). */
export function tradeNoOfTransactionId(transactionId: string | undefined): string {
  if (transactionId === undefined || !/^\d{28}$/.test(transactionId) || !transactionId.startsWith(TRANSACTION_PREFIX)) return '';
  const seq = Number(transactionId.slice(TRANSACTION_PREFIX.length));
  return Number.isSafeInteger(seq) && seq > 0 ? seqId('T', seq) : '';
}

/** A JSAPI `prepay_id` for a trade: `wx` and 34 hex digits, stable per trade. */
export function prepayIdOf(mchid: string, tradeNo: string): string {
  return `wx${createHash('sha256').update(`${mchid}\u0000${tradeNo}`).digest('hex').slice(0, 34)}`;
}

/** A payer's `openid` under the merchant's appid: 28 characters, stable per payer. */
export function openidOf(appid: string, payerId: string): string {
  return `o${createHash('sha256').update(`${appid}\u0000${payerId}`).digest('base64url').slice(0, 27)}`;
}

/** A `refund_id` (WeChat's: 29 digits starting 50), stable per refund number. */
export function refundIdOf(mchid: string, refundNo: string): string {
  const digest = createHash('sha256').update(`${mchid}\u0000${refundNo}`).digest();
  let digits = '';
  for (const byte of digest) digits += String(byte % 10);
  return `50${digits.slice(0, 27)}`;
}

/** A notify's `id`, stable across its retries: a UUID made from the notify number. */
export function notifyIdOf(mchid: string, notifyId: string): string {
  const hex = createHash('sha256').update(`${mchid}\u0000${notifyId}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
