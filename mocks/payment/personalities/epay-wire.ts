/**
 * 易支付 (彩虹易支付 v1) on the wire: the MD5 signature, PHP's URL encoding of notify queries,
 * money in yuan, payment types, times as the gateway prints them, and the pages it answers a
 * browser with. Shared by the epay personality's routes and its notifies.
 */
import { createHash } from 'node:crypto';
import type { MockReply } from '../../mock-types.js';

/** Request or notify parameters as received (a form's fields, a query). */
export type EpayParams = Readonly<Record<string, string | undefined>>;

/**
 * The string that is signed: every parameter but `sign`, `sign_type` and the empty ones, sorted by
 * name, joined `k=v&…` with the raw values (not URL-encoded).
 */
export function epaySignedText(params: EpayParams): string {
  return Object.keys(params)
    .filter((name) => name !== 'sign' && name !== 'sign_type' && params[name] !== undefined && params[name] !== '')
    .sort()
    .map((name) => `${name}=${params[name] ?? ''}`)
    .join('&');
}

/** The v1 signature: lower-case hex MD5 of the signed text with the key appended (no separator). */
export function epaySign(params: EpayParams, key: string): string {
  return createHash('md5').update(`${epaySignedText(params)}${key}`, 'utf8').digest('hex');
}

/** Whether `params.sign` is the signature of `params` with `key` (the gateway compares as PHP `==` does two hex strings). */
export function epaySignatureValid(params: EpayParams, key: string): boolean {
  const sign = params.sign;
  return typeof sign === 'string' && sign !== '' && sign === epaySign(params, key);
}

/** PHP `urlencode`: everything but letters, digits and `-_.` percent-encoded, spaces as `+`. */
export function phpUrlencode(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*~]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** Minor units as epay's money text (`3000` → `"30.00"`, as its DECIMAL(10,2) column prints). */
export function yuanText(minor: number): string {
  return (minor / 100).toFixed(2);
}

/**
 * Epay's money check (`is_numeric`, `/^[0-9.]+$/`, above 0) and the amount in minor units,
 * rounded to the fen as the DECIMAL(10,2) column stores it; undefined when it is not money.
 */
export function minorOfMoney(money: string): number | undefined {
  if (!/^[0-9.]+$/.test(money) || !Number.isFinite(Number(money))) return undefined;
  const minor = Math.round(Number(money) * 100);
  return minor > 0 ? minor : undefined;
}

/** Epay payment types whose Ordeal method name differs (the shop orders name them so). */
const METHOD_OF_TYPE: Readonly<Record<string, string>> = { wxpay: 'wechat', bank: 'card' };
const TYPE_OF_METHOD: Readonly<Record<string, string>> = { wechat: 'wxpay', card: 'bank' };

/** An epay `type` (alipay, wxpay, qqpay, bank, jdpay, …) as the core's payment method. */
export function methodOfType(type: string): string {
  return METHOD_OF_TYPE[type] ?? type;
}

/** The core's payment method as epay's `type`. */
export function typeOfMethod(method: string): string {
  return TYPE_OF_METHOD[method] ?? method;
}

/** An ISO time as the gateway prints its DATETIME columns: `YYYY-MM-DD HH:mm:ss`, China time (UTC+8). */
export function epayTime(iso: string | undefined): string | null {
  if (iso === undefined) return null;
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return null;
  return new Date(ms + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
}

/** How epay ends a request: JSON `{ code, msg }` from its scripts, or an error page from the web server in front. */
export type EpayFailure = { code: number; msg: string } | { gatewayDown: 502 | 503 };

const HTML = 'text/html; charset=UTF-8';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** nginx's own page when PHP is down (502) or `limit_req` turns a request away (503). */
function gatewayPage(status: 502 | 503): MockReply {
  const title = status === 502 ? '502 Bad Gateway' : '503 Service Temporarily Unavailable';
  return {
    status,
    headers: { 'content-type': HTML },
    body: `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`,
  };
}

/**
 * A failure as the JSON scripts answer it: HTTP 200 whatever went wrong. mapi.php writes its
 * messages with `JSON_UNESCAPED_UNICODE`, api.php without (`escapeUnicode`).
 */
export function jsonFailure(failure: EpayFailure, escapeUnicode: boolean): MockReply {
  if ('gatewayDown' in failure) return gatewayPage(failure.gatewayDown);
  return jsonReply({ code: failure.code, msg: failure.msg }, escapeUnicode);
}

/** A failure as submit.php shows it to the buyer's browser: its `sysmsg` page. */
export function pageFailure(failure: EpayFailure): MockReply {
  if ('gatewayDown' in failure) return gatewayPage(failure.gatewayDown);
  return {
    status: 200,
    headers: { 'content-type': HTML },
    body: `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>站点提示信息</title></head>\n<body id="error-page"><h3>站点提示信息</h3>${escapeHtml(failure.msg)}</body></html>\n`,
  };
}

/** The JSON answer of epay's scripts, in the exact bytes PHP's `json_encode` writes. */
export function jsonReply(value: Record<string, unknown>, escapeUnicode = true): MockReply {
  return { status: 200, headers: { 'content-type': 'application/json; charset=UTF-8' }, body: phpJsonEncode(value, escapeUnicode) };
}

/** `json_encode`: `\/` for slashes; `\uXXXX` for each non-ASCII UTF-16 unit unless `JSON_UNESCAPED_UNICODE`. */
export function phpJsonEncode(value: unknown, escapeUnicode = true): string {
  const text = JSON.stringify(value).replace(/\//g, '\\/');
  return escapeUnicode ? text.replace(/[\u0080-\uffff]/g, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`) : text;
}
