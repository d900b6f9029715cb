/**
 * The shop's 易支付 (epay v1) client, its own code as a real shop's is (epay has no official
 * library): `mapi.php` creates a trade (a signed form POST answered `{code: 1, trade_no, payurl}`),
 * `api.php?act=order` queries one and `api.php?act=refund` refunds one (both authenticated by the
 * merchant number and key in plain text); notifies come as a signed GET and are answered with the
 * word `success` (anything else, here `fail`, makes epay retry).
 *
 * What epay cannot do is done the closest real way: there is no close API, so closing an unpaid
 * trade means asking one last time and giving up on it (the trade stays payable at epay, and a
 * late payment arrives as a notify); there is no refund number, so a repeated refund is refused
 * and the trade's status (2, refunded) says it was done; there is no time in the signature, so a
 * verified notify is confirmed with the query before it is believed (`checks.freshness`).
 *
 * The one place epay's vocabulary (`code`/`msg`, `status` 0/1/2, money in yuan, payment types) is
 * spelled; the stages see only `./gateway.ts`'s terms.
 */
import { callForm, callJson, field, stringField } from '../http-client.js';
import { isServerSide, unavailable, type ServiceOptions } from '../services.js';
import { signedEpayParams, verifyEpaySign } from './epay-sign.js';
import {
  minorOf,
  yuanOf,
  type CloseTradeResult,
  type CreateTradeRequest,
  type CreateTradeResult,
  type NotifyAnswer,
  type NotifyChecks,
  type NotifyEndpoint,
  type NotifyReading,
  type NotifyRequest,
  type PaymentCallback,
  type PaymentGateway,
  type QueryTradeResult,
  type RefundResult,
  type Trade,
} from './gateway.js';
import { textAnswer } from './gateway.js';

/** The order's payment method as epay's `type` (alipay, wxpay, qqpay, bank…). */
const TYPE_OF_METHOD: Readonly<Record<string, string>> = { wechat: 'wxpay', card: 'bank' };

/** mapi.php's refusals for the gateway's or channel's amount limits. */
const LIMIT_MESSAGE = /单笔最大限额|单笔最小限额|最大支付金额|最小支付金额/;
/** mapi.php's own failure: nothing was created, asking again may work. */
const TRY_AGAIN_MESSAGE = /创建订单失败/;
/** act=refund's answers when the trade is refunded already (status 2) or the amount is more than it took. */
const NOT_REFUNDABLE_MESSAGE = /只支持退款已支付状态的订单|退款金额不能大于订单金额/;

/** Epay's `code`, which PHP may write as a number or as text. */
function codeOf(body: unknown): number | undefined {
  const code = field(body, 'code');
  const value = typeof code === 'string' && code.trim() !== '' ? Number(code) : code;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A field that is text or a number (PHP's types vary by version), as text. */
function textField(body: unknown, name: string): string | undefined {
  const value = field(body, name);
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
}

/** An `act=order` answer as a trade: status 1 paid, 2 paid and refunded, anything else unpaid. */
function parseOrder(body: unknown): Trade | undefined {
  const tradeNo = textField(body, 'trade_no');
  const amount = minorOf(textField(body, 'money'));
  const status = Number(textField(body, 'status'));
  if (!tradeNo || amount === undefined || !Number.isInteger(status)) return undefined;
  return {
    tradeNo,
    outTradeNo: textField(body, 'out_trade_no') ?? '',
    amount,
    result: status === 1 || status === 2 ? { kind: 'paid', captured: amount } : { kind: 'unpaid' },
    // Epay refunds a trade once and says only that it did.
    refunded: status === 2 ? amount : 0,
  };
}

/** A notify's parameters as a payment callback (epay notifies successes only). */
function parseNotify(params: Readonly<Record<string, string>>): PaymentCallback | string {
  const outTradeNo = params.out_trade_no;
  if (!outTradeNo) return 'expected out_trade_no';
  if (params.trade_status !== 'TRADE_SUCCESS') return `unexpected trade_status "${params.trade_status ?? ''}"`;
  const captured = minorOf(params.money);
  if (captured === undefined) return `unreadable money "${params.money ?? ''}"`;
  return { tradeNo: params.trade_no ?? '', outTradeNo, result: { kind: 'paid', captured } };
}

/** Epay's notifies: a signed GET, taken when the answer contains `success`. */
export class EpayNotifyEndpoint implements NotifyEndpoint {
  readonly methods = ['GET'] as const;

  /** @param confirm asks epay about a trade (the query), to confirm a verified notify */
  constructor(
    private readonly key: string,
    private readonly confirm: (tradeNo: string) => Promise<QueryTradeResult>,
  ) {}

  orderIdOf(request: NotifyRequest): string | undefined {
    return request.query.out_trade_no || undefined;
  }

  read(request: NotifyRequest, checks: NotifyChecks): NotifyReading | Promise<NotifyReading> {
    if (checks.signature && !verifyEpaySign(request.query, this.key)) {
      return { kind: 'bad_signature', detail: 'notify sign does not verify with the merchant key' };
    }
    const callback = parseNotify(request.query);
    if (typeof callback === 'string') return { kind: 'malformed', detail: callback };
    // Nothing signed says when: a genuine notify sent again later verifies too. Only a notify
    // that verified is worth confirming (a shop that checks no signature believes anything).
    return checks.signature && checks.freshness ? this.confirmed(callback) : { kind: 'callback', callback };
  }

  acknowledge(): NotifyAnswer {
    return textAnswer(200, 'success');
  }

  refuse(status: number): NotifyAnswer {
    return textAnswer(status, 'fail');
  }

  private async confirmed(callback: PaymentCallback): Promise<NotifyReading> {
    const found = await this.confirm(callback.tradeNo);
    if (found.kind === 'found' && found.trade.result.kind === 'paid') return { kind: 'callback', callback };
    if (found.kind === 'unavailable') return { kind: 'bad_signature', detail: `notify not confirmed yet (query: ${found.detail}); epay will notify again` };
    const says = found.kind === 'found' ? 'unpaid' : 'no such trade';
    return { kind: 'bad_signature', detail: `notify not confirmed: api.php?act=order says ${says} (a replayed notify?)` };
  }
}

export class EpayGateway implements PaymentGateway {
  readonly protocol = 'epay';
  readonly notify: EpayNotifyEndpoint;

  constructor(
    private readonly baseUrl: string,
    private readonly pid: string,
    private readonly key: string,
    private readonly options: ServiceOptions,
  ) {
    this.notify = new EpayNotifyEndpoint(key, (tradeNo) => this.queryTrade(tradeNo));
  }

  /** Epay's own pay page of a trade (what mapi.php links when a channel gives no page of its own). */
  payUrl(tradeNo: string): string {
    return `${this.baseUrl}/pay/submit/${encodeURIComponent(tradeNo)}/`;
  }

  async createTrade(request: CreateTradeRequest): Promise<CreateTradeResult> {
    const params = signedEpayParams(
      {
        pid: this.pid,
        type: TYPE_OF_METHOD[request.method] ?? request.method,
        out_trade_no: request.outTradeNo,
        notify_url: request.notifyUrl,
        name: request.subject,
        money: yuanOf(request.amount),
        // The buyer's address as the shop saw it; here the buyer's requests come from loopback.
        clientip: request.payer.ip ?? '127.0.0.1',
      },
      this.key,
    );
    const result = await callForm(`${this.baseUrl}/mapi.php`, params, this.options);
    if (isServerSide(result) || result.kind === 'error') return unavailable(result);
    if (result.status !== 200) return { kind: 'refused', code: `HTTP_${result.status}`, status: result.status };
    const code = codeOf(result.body);
    const msg = stringField(result.body, 'msg') ?? '';
    if (code === 1) {
      const tradeNo = textField(result.body, 'trade_no');
      if (!tradeNo) return { kind: 'unavailable', detail: 'mapi.php answered code 1 without a trade_no' }; // treated as lost
      const payUrl = stringField(result.body, 'payurl') ?? stringField(result.body, 'qrcode') ?? stringField(result.body, 'urlscheme');
      return { kind: 'created', tradeNo, payUrl, expiresAt: undefined };
    }
    if (code === undefined) return { kind: 'unavailable', detail: 'mapi.php answered without a code', status: result.status };
    if (TRY_AGAIN_MESSAGE.test(msg)) return { kind: 'unavailable', detail: `mapi.php: ${msg}`, status: result.status };
    if (LIMIT_MESSAGE.test(msg)) return { kind: 'declined', reason: 'payment_limit' };
    // Already paid (该订单…已完成支付), changed terms, a bad signature…: the stages look the trade up.
    return { kind: 'refused', code: `epay ${code}${msg ? `: ${msg}` : ''}`, status: result.status };
  }

  private async queryOrder(number: { trade_no: string } | { out_trade_no: string }): Promise<QueryTradeResult> {
    const query = new URLSearchParams({ act: 'order', pid: this.pid, key: this.key, ...number });
    const result = await callJson('GET', `${this.baseUrl}/api.php?${query.toString()}`, undefined, this.options);
    if (isServerSide(result) || result.kind === 'error') return unavailable(result);
    if (result.status !== 200) return { kind: 'unavailable', detail: `api.php: HTTP ${result.status}`, status: result.status };
    const code = codeOf(result.body);
    // act=order's only -1 is "订单号不存在".
    if (code === -1) return { kind: 'not_found' };
    if (code !== 1) return { kind: 'unavailable', detail: `api.php: code ${code ?? '?'} ${stringField(result.body, 'msg') ?? ''}`.trim(), status: result.status };
    const trade = parseOrder(result.body);
    return trade ? { kind: 'found', trade } : { kind: 'unavailable', detail: 'api.php: unreadable order' };
  }

  queryTrade(tradeNo: string): Promise<QueryTradeResult> {
    return this.queryOrder({ trade_no: tradeNo });
  }

  queryByOutTradeNo(outTradeNo: string): Promise<QueryTradeResult> {
    return this.queryOrder({ out_trade_no: outTradeNo });
  }

  /** Epay cannot close a trade: a last query decides between paid and giving the trade up. */
  async closeTrade(tradeNo: string): Promise<CloseTradeResult> {
    const found = await this.queryTrade(tradeNo);
    if (found.kind !== 'found') return found;
    return found.trade.result.kind === 'paid' ? { kind: 'has_success' } : { kind: 'closed' };
  }

  /** One refund per trade, as epay allows; `refundNo` has no place in its protocol. */
  async refund(tradeNo: string, _refundNo: string, amount: number): Promise<RefundResult> {
    const fields = { pid: this.pid, key: this.key, trade_no: tradeNo, money: yuanOf(amount) };
    const result = await callForm(`${this.baseUrl}/api.php?act=refund`, fields, this.options);
    if (isServerSide(result) || result.kind === 'error') return unavailable(result);
    if (result.status !== 200) return { kind: 'refused', code: `HTTP_${result.status}` };
    const code = codeOf(result.body);
    const msg = stringField(result.body, 'msg') ?? '';
    if (code === 1) return { kind: 'refunded' };
    if (code === undefined) return { kind: 'unavailable', detail: 'api.php answered without a code', status: result.status };
    // Refunded before (an answer lost) or more than was taken: the trade's status tells which.
    if (NOT_REFUNDABLE_MESSAGE.test(msg)) return { kind: 'exceeds_paid' };
    return { kind: 'refused', code: `epay ${code}${msg ? `: ${msg}` : ''}` };
  }
}
