/**
 * The shop's 易支付 (epay v1) client: the signed fields of the browser's `submit.php` form, the
 * check of a notify, and the two server calls (`api.php?act=order`, `api.php?act=refund`).
 *
 * Signing: every parameter but `sign`, `sign_type` and the empty ones, sorted by name, joined as
 * `k=v&…` with raw values, the merchant key appended, lower-case hex MD5.
 */
import { createHash } from 'node:crypto';

export interface EpayConfig {
  /** The gateway's base URL (where submit.php and api.php are). */
  api: string;
  pid: string;
  key: string;
}

export type EpayFields = Record<string, string>;

const REQUEST_TIMEOUT_MS = 5000;

export function epaySign(fields: Readonly<Record<string, string | undefined>>, key: string): string {
  const text = Object.keys(fields)
    .filter((name) => name !== 'sign' && name !== 'sign_type' && fields[name] !== undefined && fields[name] !== '')
    .sort()
    .map((name) => `${name}=${fields[name] ?? ''}`)
    .join('&');
  return createHash('md5').update(text + key, 'utf8').digest('hex');
}

/** `"30.00"` → 3000; undefined when it is not a positive amount with at most two decimals. */
export function fenOfMoney(money: string | undefined): number | undefined {
  if (money === undefined || !/^\d+(\.\d{1,2})?$/.test(money)) return undefined;
  const [whole = '0', fraction = ''] = money.split('.');
  const fen = Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
  return Number.isSafeInteger(fen) && fen > 0 ? fen : undefined;
}

export interface SubmitOrder {
  orderNo: string;
  type: string;
  name: string;
  amountFen: number;
  notifyUrl: string;
  returnUrl: string;
}

/** What the gateway's own query says of an order. */
export type GatewayOrder = { kind: 'paid'; tradeNo: string; moneyFen: number } | { kind: 'unpaid' } | { kind: 'not-found' };

export class EpayClient {
  constructor(private readonly config: EpayConfig) {}

  get submitUrl(): string {
    return `${this.config.api}/submit.php`;
  }

  /** The signed fields of the auto-submitting form the buyer's browser posts to submit.php. */
  submitFields(order: SubmitOrder): EpayFields {
    const fields: EpayFields = {
      pid: this.config.pid,
      type: order.type,
      out_trade_no: order.orderNo,
      notify_url: order.notifyUrl,
      return_url: order.returnUrl,
      name: order.name,
      money: (order.amountFen / 100).toFixed(2),
    };
    return { ...fields, sign: epaySign(fields, this.config.key), sign_type: 'MD5' };
  }

  /** Whether a notify (or a return) carries our pid and a sign made with our key. */
  signatureValid(params: Readonly<Record<string, string | undefined>>): boolean {
    const sign = params.sign;
    return params.pid === this.config.pid && typeof sign === 'string' && sign.toLowerCase() === epaySign(params, this.config.key);
  }

  /** `api.php?act=order` by our order number. Throws when the gateway gives no usable answer. */
  async queryOrder(orderNo: string): Promise<GatewayOrder> {
    const query = new URLSearchParams({ act: 'order', pid: this.config.pid, key: this.config.key, out_trade_no: orderNo });
    const response = await fetch(`${this.config.api}/api.php?${query.toString()}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const body = await readJson(response);
    if (body.code !== 1) {
      // 订单号不存在: the buyer never reached the gateway. Any other code is a failure to ask.
      if (body.code === -1 && typeof body.msg === 'string' && body.msg.includes('不存在')) return { kind: 'not-found' };
      throw new Error(`api.php?act=order: code ${String(body.code)} ${String(body.msg ?? '')}`);
    }
    if (String(body.out_trade_no) !== orderNo) throw new Error(`api.php?act=order answered for ${String(body.out_trade_no)}, not ${orderNo}`);
    // status 1 paid, 2 paid then refunded: both mean the buyer's money reached the gateway.
    if (Number(body.status) !== 1 && Number(body.status) !== 2) return { kind: 'unpaid' };
    const moneyFen = fenOfMoney(String(body.money));
    if (moneyFen === undefined || typeof body.trade_no !== 'string') throw new Error(`api.php?act=order: unreadable money or trade_no`);
    return { kind: 'paid', tradeNo: body.trade_no, moneyFen };
  }

  /** `api.php?act=refund`: true when the gateway says it refunded. Throws when it gives no usable answer. */
  async refund(tradeNo: string, amountFen: number): Promise<{ ok: boolean; msg: string }> {
    const form = new URLSearchParams({ pid: this.config.pid, key: this.config.key, trade_no: tradeNo, money: (amountFen / 100).toFixed(2) });
    const response = await fetch(`${this.config.api}/api.php?act=refund`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const body = await readJson(response);
    return { ok: body.code === 1, msg: String(body.msg ?? '') };
  }
}

async function readJson(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text();
  if (!response.ok) throw new Error(`gateway answered HTTP ${response.status}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`gateway answered something that is not JSON (HTTP ${response.status})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('gateway answered JSON that is not an object');
  return parsed as Record<string, unknown>;
}
