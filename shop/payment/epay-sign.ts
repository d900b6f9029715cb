/**
 * The shop's own 易支付 v1 signature (from the gateway's documentation; epay has no official
 * client): MD5, lower-case hex, over the parameters but `sign`, `sign_type` and the empty ones,
 * sorted by name and joined `k=v&…` with their raw values, the merchant key appended with no
 * separator. Requests are signed with it and notifies verified with it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** MD5 signature of `params` with `key`. */
export function signEpay(params: Readonly<Record<string, string | undefined>>, key: string): string {
  const pairs: string[] = [];
  for (const name of Object.keys(params).sort()) {
    const value = params[name];
    if (name === 'sign' || name === 'sign_type' || value === undefined || value === '') continue;
    pairs.push(`${name}=${value}`);
  }
  return createHash('md5').update(pairs.join('&') + key, 'utf8').digest('hex');
}

/** `params` with their `sign` and `sign_type=MD5` added. */
export function signedEpayParams(params: Readonly<Record<string, string>>, key: string): Record<string, string> {
  return { ...params, sign: signEpay(params, key), sign_type: 'MD5' };
}

/**
 * Whether `params.sign` is their signature with `key`. Compared in constant time: how long a
 * rejection takes says nothing about how much of a forged signature was right.
 */
export function verifyEpaySign(params: Readonly<Record<string, string | undefined>>, key: string): boolean {
  const given = params.sign;
  if (given === undefined || !/^[0-9a-f]{32}$/.test(given)) return false;
  return timingSafeEqual(Buffer.from(given, 'ascii'), Buffer.from(signEpay(params, key), 'ascii'));
}
