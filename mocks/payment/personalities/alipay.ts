/**
 * The Alipay personality: OpenAPI v2's `gateway.do` (PROVIDERS.md §2), as the official npm client
 * `alipay-sdk` 4.x speaks it. Every request is verified with the merchant's public key (RSA2 over
 * the sorted parameters) and dispatched on `method`; every answer is `{"<method>_response":{…},
 * "sign":"…"}` signed with the gateway's key over the exact JSON text of the value, HTTP 200 also
 * for errors (`code` 10000 / 20000 / 40001 / 40002 / 40004 with `sub_code`). Buyers pay at
 * Ordeal's cashier: `precreate`'s `qr_code` is its link, `page.pay` / `wap.pay` redirect there.
 * Notifies are form-encoded POSTs signed with the gateway's key and acknowledged by `success`.
 *
 * Trade numbers are the core's; the shop's `out_trade_no` is the core's outTradeNo. Choices where
 * Alipay has no counterpart for a core state are in `./alipay-codes.ts` and `ALIPAY_FAULT_FORMS`.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { regionOfIp } from '../../../core/regions.js';
import { nonEmptyString, type JsonObject, type MockReply, type MockRequest } from '../../mock-types.js';
import { outside } from '../../run-credentials.js';
import type { FaultSubject, SubjectAwareRoute } from '../../transport-faults.js';
import { refusal, refusedAnswer, type CreateTradeInput, type PaymentOperation, type PaymentRefusal, type TradeView } from '../answers.js';
import { cashierRoutes, cashierUrl, ORDEAL_CASHIER } from '../cashier.js';
import type { PaymentCore } from '../core.js';
import type { AlipayCredentials } from '../credentials.js';
import type { PaymentNotice } from '../notices.js';
import { channelOf, renderAnswer, type CallbackAck, type CallbackRequest, type NoticeSigning, type PaymentPersonality, type PaymentSite } from '../personality.js';
import { ALIPAY_FAULT_FORMS, alipayFailureOf, PAY_FAIL_SUB_CODES } from './alipay-codes.js';
import {
  ALIPAY_CODES,
  beijingTime,
  bizContentOf,
  failure,
  gatewayParams,
  minorOfYuan,
  objectField,
  parseBeijingTime,
  responseKey,
  rsa2Sign,
  rsa2Verify,
  signContent,
  signedAnswer,
  yuan,
  type AlipayFailure,
} from './alipay-wire.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * Alipay's notify retry gaps as its OpenAPI documentation states them ("4m, 10m, 10m, 1h, 2h, 6h,
 * 15h": 8 notifies in about 25 h). The dispatcher compresses them by the run's time scale.
 */
export const ALIPAY_RETRY_GAPS_MS: readonly number[] = [4 * MINUTE, 10 * MINUTE, 10 * MINUTE, HOUR, 2 * HOUR, 6 * HOUR, 15 * HOUR];
/** The older schedule other public pages give (the instant-payment era documents): "2m, 10m, 10m, 1h, 2h, 6h, 15h". */
export const ALIPAY_LEGACY_RETRY_GAPS_MS: readonly number[] = [2 * MINUTE, 10 * MINUTE, 10 * MINUTE, HOUR, 2 * HOUR, 6 * HOUR, 15 * HOUR];

/** The methods served, each with the payment route faults target it by. */
const METHOD_ROUTES = {
  'alipay.trade.precreate': 'create',
  'alipay.trade.create': 'create',
  'alipay.trade.page.pay': 'create',
  'alipay.trade.wap.pay': 'create',
  'alipay.trade.query': 'query',
  'alipay.trade.fastpay.refund.query': 'query',
  'alipay.trade.close': 'close',
  'alipay.trade.refund': 'refund',
} as const;
type AlipayMethod = keyof typeof METHOD_ROUTES;

/** Methods the buyer's browser calls (alipay-sdk's `pageExec` builds the link or form): answered with pages, not JSON. */
const BROWSER_METHODS: ReadonlySet<string> = new Set(['alipay.trade.page.pay', 'alipay.trade.wap.pay']);

/** The method a refusal is rendered under when the interface's `renderRefusal` is called without one. */
const DEFAULT_METHODS: Readonly<Record<PaymentOperation, string>> = {
  create: 'alipay.trade.precreate',
  pay: 'alipay.trade.pay',
  query: 'alipay.trade.query',
  close: 'alipay.trade.close',
  refund: 'alipay.trade.refund',
  verification: 'alipay.trade.pay',
};

function isAlipayMethod(method: string | undefined): method is AlipayMethod {
  return method !== undefined && Object.hasOwn(METHOD_ROUTES, method);
}

function text(value: unknown, max = 256): string | undefined {
  return nonEmptyString(value, max) ? value : undefined;
}

/** Only the literal body `success` (no whitespace around it), on a 200, stops Alipay's retries. */
const ACK_SUCCESS: CallbackAck = {
  readBody: true,
  acknowledged: (status, body) => status === 200 && body === 'success',
};

export interface AlipayPersonalityOptions {
  /** The run's Alipay credentials: requests verify with the merchant's public key; answers and notifies are signed with the gateway's private key. */
  credentials: AlipayCredentials;
  /** Notify retry gaps, ms (real time; compressed by the dispatcher). @default ALIPAY_RETRY_GAPS_MS */
  retryGapsMs?: readonly number[];
}

/** Who pays, as far as the create request tells (for the core's fault decisions and the cross-border check). */
interface NamedPayer {
  id?: string;
  region?: string;
  method: string;
}

/**
 * The payer named by a create's `biz_content`. Alipay has no field for the payer's region, so the
 * personality reads `business_params` (the JSON of keys "agreed with Alipay"): Ordeal's
 * `ordeal_payer_id`, `ordeal_payer_region`, `ordeal_method`, and Alipay's own
 * `mc_create_trade_ip` (the buyer's address, looked up like the risk screen does); else the
 * `buyer_id` / `buyer_open_id` that `alipay.trade.create` carries.
 */
function payerOf(biz: JsonObject | undefined): NamedPayer {
  const agreed = objectField(biz, 'business_params');
  const id = text(agreed?.ordeal_payer_id) ?? text(biz?.buyer_id) ?? text(biz?.buyer_open_id);
  const ip = text(agreed?.mc_create_trade_ip);
  const region = text(agreed?.ordeal_payer_region) ?? (ip === undefined ? undefined : regionOfIp(ip));
  return { ...(id === undefined ? {} : { id }), ...(region === undefined ? {} : { region }), method: text(agreed?.ordeal_method, 64) ?? 'alipay' };
}

/** `time_expire` (absolute, Beijing time; it wins) or `timeout_express` (`90m`, `2h`, `1d`, `1c` = the end of today) as ms from `now`. */
function expiryOf(biz: JsonObject, now: number): { expiresInMs?: number } | { problem: string } {
  if (biz.time_expire !== undefined) {
    const at = parseBeijingTime(biz.time_expire);
    if (at === undefined) return { problem: 'time_expire: expected yyyy-MM-dd HH:mm:ss' };
    if (at <= now) return { problem: 'time_expire: already passed' };
    return { expiresInMs: at - now };
  }
  if (biz.timeout_express === undefined) return {};
  const match = typeof biz.timeout_express === 'string' ? /^(\d{1,5})([mhdc])$/.exec(biz.timeout_express) : null;
  if (!match) return { problem: 'timeout_express: expected a number and m, h, d or c (1m–15d)' };
  const count = Number(match[1]);
  if (count < 1) return { problem: 'timeout_express: at least 1m' };
  if (match[2] === 'c') {
    const endOfDay = (parseBeijingTime(`${beijingTime(now).slice(0, 10)} 23:59:59`) ?? now) + 1000;
    return { expiresInMs: Math.max(1000, endOfDay - now) };
  }
  const unit = match[2] === 'm' ? MINUTE : match[2] === 'h' ? HOUR : 24 * HOUR;
  return { expiresInMs: count * unit };
}

/** The Alipay status of a core trade: verification is invisible to the merchant; a fully refunded trade is closed. */
function tradeStatusOf(view: TradeView): 'WAIT_BUYER_PAY' | 'TRADE_SUCCESS' | 'TRADE_CLOSED' {
  if (view.status === 'TRADE_SUCCESS') return view.refunded >= view.amount ? 'TRADE_CLOSED' : 'TRADE_SUCCESS';
  return view.status === 'WAIT_BUYER_PAY' || view.status === 'VERIFYING' ? 'WAIT_BUYER_PAY' : 'TRADE_CLOSED';
}

/** `alipay.trade.query`'s answer for a trade. */
function queryAnswer(view: TradeView): JsonObject {
  const paid = view.paidAt !== undefined;
  const amount = yuan(view.amount);
  const paidAmount = paid ? amount : '0.00';
  return {
    ...ALIPAY_CODES.success,
    trade_no: view.tradeNo,
    out_trade_no: view.outTradeNo,
    trade_status: tradeStatusOf(view),
    total_amount: amount,
    buyer_pay_amount: paidAmount,
    point_amount: '0.00',
    invoice_amount: paidAmount,
    receipt_amount: paidAmount,
    ...(view.paidAt === undefined ? {} : { send_pay_date: beijingTime(Date.parse(view.paidAt)), fund_bill_list: [{ amount, fund_channel: 'ALIPAYACCOUNT' }] }),
    ...(view.currency === 'CNY' ? {} : { trans_currency: view.currency }),
  };
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** What the buyer's browser shows when Alipay refuses a page payment: its error page, code and reason. */
function errorPage(answer: AlipayFailure): MockReply {
  const body = [
    '<!doctype html>',
    '<html lang="zh-CN"><head><meta charset="utf-8"><title>支付宝 - 网上支付 安全快速！</title></head><body>',
    '<h1>抱歉，支付遇到问题</h1>',
    `<p>错误代码 <code>${escapeHtml(answer.sub_code)}</code></p>`,
    `<p>错误原因: ${escapeHtml(answer.sub_msg)}</p>`,
    '</body></html>',
  ].join('\n');
  return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body };
}

export class AlipayPersonality implements PaymentPersonality {
  readonly protocol = 'alipay';
  readonly faultForms = ALIPAY_FAULT_FORMS;
  readonly callbackAck = ACK_SUCCESS;
  readonly cashier = ORDEAL_CASHIER;
  readonly callbackRetryGapsMs: readonly number[];
  private readonly appId: string;
  private readonly merchantKey: KeyObject;
  private readonly gatewayKey: KeyObject;
  /** The key forged notifies are signed with: made on first use, never the gateway's. */
  private forgeryKey: KeyObject | undefined;

  constructor(options: AlipayPersonalityOptions) {
    const { credentials } = options;
    this.appId = credentials.appId;
    this.merchantKey = createPublicKey(credentials.merchantPublicKey);
    this.gatewayKey = createPrivateKey(credentials.alipayPrivateKey);
    this.callbackRetryGapsMs = options.retryGapsMs ?? ALIPAY_RETRY_GAPS_MS;
  }

  routes(core: PaymentCore, site: PaymentSite): SubjectAwareRoute[] {
    const gateway = (method: 'GET' | 'POST'): SubjectAwareRoute => ({
      method,
      path: '/gateway.do',
      name: 'gateway',
      handle: (request) => this.handle(core, site, request),
      routeOf: (request) => {
        const called = gatewayParams(request).method;
        return isAlipayMethod(called) ? METHOD_ROUTES[called] : 'gateway';
      },
      subjectOf: (request) => this.subjectOf(core, request),
    });
    // The browser GETs (or POSTs) the link alipay-sdk's pageExec builds; the server-side exec POSTs.
    return [gateway('POST'), gateway('GET'), ...cashierRoutes(core)];
  }

  renderRefusal(operation: PaymentOperation, reason: PaymentRefusal): MockReply {
    return this.failureReply(DEFAULT_METHODS[operation], alipayFailureOf(operation, reason));
  }

  /**
   * A notice as Alipay's async notify: a form POST of the trade's fields, signed (RSA2, gateway
   * key) over every field but `sign` and `sign_type`. A success is `TRADE_SUCCESS`; a failed
   * payment is a `TRADE_CLOSED` notify (Alipay never notifies a refused payment, only the trade
   * that ends unpaid), whose reason the shop finds by querying. Forged: signed with another RSA
   * key. Replayed: genuinely signed, with the `notify_time` of `ageS` ago (the only time it signs).
   */
  renderCallback(notifyUrl: string, notice: PaymentNotice, signing: NoticeSigning, nowS: number): CallbackRequest {
    const sentAt = (signing.kind === 'replayed' ? nowS - signing.ageS : nowS) * 1000;
    const fields = this.notifyFields(notice, sentAt);
    const key = signing.kind === 'forged' ? this.wrongKey() : this.gatewayKey;
    // Altered: the signature is over the fields of the amount it was signed for.
    const signed = signing.kind === 'altered' ? this.notifyFields({ ...notice, amount: signing.signedAmount }, sentAt) : fields;
    const sign = rsa2Sign(signContent(signed, []), key);
    const body = new URLSearchParams({ ...fields, sign_type: 'RSA2', sign }).toString();
    return { method: 'POST', url: notifyUrl, headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' }, body };
  }

  /** A notify's fields as Alipay posts them, `sign` and `sign_type` aside. */
  private notifyFields(notice: PaymentNotice, sentAt: number): Record<string, string> {
    const amount = yuan(notice.amount);
    const success = notice.status === 'TRADE_SUCCESS';
    return {
      notify_id: notice.notifyId,
      notify_time: beijingTime(sentAt),
      notify_type: 'trade_status_sync',
      app_id: this.appId,
      auth_app_id: this.appId,
      charset: 'utf-8',
      version: '1.0',
      trade_no: notice.tradeNo,
      out_trade_no: notice.outTradeNo,
      subject: notice.subject,
      trade_status: success ? 'TRADE_SUCCESS' : 'TRADE_CLOSED',
      total_amount: amount,
      ...(success
        ? {
            receipt_amount: amount,
            buyer_pay_amount: amount,
            invoice_amount: amount,
            point_amount: '0.00',
            gmt_payment: beijingTime(notice.paidAt === undefined ? sentAt : Date.parse(notice.paidAt)),
            fund_bill_list: JSON.stringify([{ amount, fundChannel: 'ALIPAYACCOUNT' }]),
          }
        : { gmt_close: beijingTime(sentAt) }),
      ...(notice.currency === 'CNY' ? {} : { trans_currency: notice.currency }),
    };
  }

  private wrongKey(): KeyObject {
    this.forgeryKey ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    return this.forgeryKey;
  }

  // ---- the gateway -----------------------------------------------------------------------

  private subjectOf(core: PaymentCore, request: MockRequest): FaultSubject {
    const biz = bizContentOf(gatewayParams(request));
    const tradeNo = text(biz?.trade_no, 64);
    const outTradeNo = text(biz?.out_trade_no, 64);
    const found: FaultSubject = tradeNo !== undefined ? core.subjectOfTrade(tradeNo) : outTradeNo !== undefined ? { orderId: outTradeNo } : {};
    const payerId = payerOf(biz).id;
    return payerId === undefined ? found : { ...found, buyerId: payerId };
  }

  /** An answer under `method`: signed JSON, or the error page for the browser's methods. */
  private failureReply(method: string, answer: AlipayFailure, extra: JsonObject = {}): MockReply {
    if (BROWSER_METHODS.has(method)) return errorPage(answer);
    return signedAnswer(responseKey(method), { ...answer, ...extra }, this.gatewayKey);
  }

  private success(method: AlipayMethod, value: JsonObject): MockReply {
    return signedAnswer(responseKey(method), { ...ALIPAY_CODES.success, ...value }, this.gatewayKey);
  }

  /** Core refusals rendered under the method that was called. */
  private renderer(method: AlipayMethod): Pick<PaymentPersonality, 'renderRefusal'> {
    return { renderRefusal: (operation, reason) => this.failureReply(method, alipayFailureOf(operation, reason)) };
  }

  private handle(core: PaymentCore, site: PaymentSite, request: MockRequest): MockReply {
    const params = gatewayParams(request);
    const method = params.method;
    // Alipay answers a request it cannot place under a method in `error_response`.
    if (method === undefined || method === '') return signedAnswer('error_response', failure('missing', 'isv.missing-method', '缺少方法名参数'), this.gatewayKey);
    if (!isAlipayMethod(method)) return signedAnswer('error_response', failure('invalid', 'isv.invalid-method', '不存在的方法名'), this.gatewayKey);
    // Nothing unsigned (or signed by another key) reaches the provider's books.
    const problem = this.commonProblem(params);
    if (problem) return outside(this.failureReply(method, problem), `rejected by the gateway: ${problem.sub_code}`);
    const biz = bizContentOf(params);
    if (!biz) return this.failureReply(method, failure('business', 'ACQ.INVALID_PARAMETER', '参数无效: biz_content: expected a JSON object'));
    switch (method) {
      case 'alipay.trade.precreate':
      case 'alipay.trade.create':
      case 'alipay.trade.page.pay':
      case 'alipay.trade.wap.pay':
        return this.create(core, site, method, params, biz);
      case 'alipay.trade.query':
        return this.query(core, biz);
      case 'alipay.trade.fastpay.refund.query':
        return this.refundQuery(core, biz);
      case 'alipay.trade.close':
        return this.close(core, biz);
      case 'alipay.trade.refund':
        return this.refund(core, biz);
    }
  }

  /**
   * The common parameters, checked in the order Alipay's gateway reports them: app, signature
   * parameters, timestamp, charset and format, then the RSA2 signature over every parameter but
   * `sign` with the merchant's public key (alipay-sdk signs empty values too; other SDKs drop them,
   * so both texts are tried).
   */
  private commonProblem(params: Readonly<Record<string, string>>): AlipayFailure | undefined {
    if (!params.app_id) return failure('missing', 'isv.missing-app-id', '缺少AppID参数');
    if (params.app_id !== this.appId) return failure('invalid', 'isv.invalid-app-id', '无效的AppID参数');
    if (!params.sign) return failure('missing', 'isv.missing-signature', '缺少签名参数');
    if (!params.sign_type) return failure('missing', 'isv.missing-signature-type', '缺少签名类型参数');
    if (params.sign_type !== 'RSA2') return failure('invalid', 'isv.invalid-signature-type', '无效签名类型');
    if (!params.timestamp) return failure('missing', 'isv.missing-timestamp', '缺少时间戳参数');
    if (parseBeijingTime(params.timestamp) === undefined) return failure('invalid', 'isv.invalid-timestamp', '非法的时间戳参数');
    if (params.charset !== undefined && params.charset.toLowerCase() !== 'utf-8') return failure('invalid', 'isv.invalid-charset', '字符集错误');
    if (params.format !== undefined && params.format.toUpperCase() !== 'JSON') return failure('invalid', 'isv.invalid-format', '无效的数据格式');
    const signature = params.sign;
    const signed = rsa2Verify(signContent(params, ['sign']), signature, this.merchantKey) || rsa2Verify(signContent(params, ['sign'], true), signature, this.merchantKey);
    return signed ? undefined : failure('invalid', 'isv.invalid-signature', '无效签名');
  }

  // ---- operations --------------------------------------------------------------------------

  private create(core: PaymentCore, site: PaymentSite, method: AlipayMethod, params: Readonly<Record<string, string>>, biz: JsonObject): MockReply {
    const renderer = this.renderer(method);
    const outTradeNo = text(biz.out_trade_no, 64);
    if (outTradeNo === undefined) return this.failureReply(method, failure('business', 'ACQ.INVALID_PARAMETER', '参数无效: out_trade_no: expected 1–64 characters'));
    const parsed = this.createInput(outTradeNo, params, biz);
    if ('problem' in parsed) return renderAnswer(renderer, 'create', core.refuseInvalidCreate(outTradeNo, parsed.problem), () => ({ status: 200 }));
    return renderAnswer(renderer, 'create', core.create({ ...parsed, ...channelOf(site) }), ({ trade, repeat }): MockReply => {
      // The same out_trade_no again: Alipay answers as its trade now stands.
      if (repeat && trade.status === 'TRADE_SUCCESS') return this.failureReply(method, failure('business', 'ACQ.TRADE_HAS_SUCCESS', '交易已被支付'));
      if (repeat && (trade.status === 'TRADE_CLOSED' || trade.status === 'PAY_FAILED')) return this.failureReply(method, failure('business', 'ACQ.TRADE_HAS_CLOSE', '交易已经关闭'));
      const link = cashierUrl(site.baseUrl, trade.tradeNo);
      if (BROWSER_METHODS.has(method)) return { status: 302, headers: { location: link } };
      if (method === 'alipay.trade.create') return this.success(method, { out_trade_no: trade.outTradeNo, trade_no: trade.tradeNo });
      return this.success(method, { out_trade_no: trade.outTradeNo, qr_code: link });
    });
  }

  /** A create's `biz_content` (and `notify_url`) as the core's input, or the first problem with it. */
  private createInput(outTradeNo: string, params: Readonly<Record<string, string>>, biz: JsonObject): CreateTradeInput | { problem: string } {
    const amount = minorOfYuan(biz.total_amount);
    if (amount === undefined || amount < 1 || amount > 10_000_000_000) return { problem: 'total_amount: expected yuan with at most two decimals, 0.01–100000000' };
    const subject = text(biz.subject);
    if (subject === undefined) return { problem: 'subject: expected 1–256 characters' };
    const notifyUrl = params.notify_url;
    if (!notifyUrl) return { problem: 'notify_url: expected the URL Alipay notifies (Ordeal cannot pay a trade it cannot notify)' };
    const currency = biz.trans_currency === undefined ? 'CNY' : text(biz.trans_currency, 3);
    if (currency === undefined || !/^[A-Z]{3}$/.test(currency)) return { problem: 'trans_currency: expected a 3-letter code such as "CNY"' };
    const expiry = expiryOf(biz, Date.now());
    if ('problem' in expiry) return expiry;
    const { id, region, method } = payerOf(biz);
    return {
      outTradeNo,
      amount,
      currency,
      subject,
      notifyUrl,
      method,
      ...(id === undefined ? {} : { payer: { id, ...(region === undefined ? {} : { region }) } }),
      ...(expiry.expiresInMs === undefined ? {} : { expiresInMs: Math.round(expiry.expiresInMs) }),
    };
  }

  /** `trade_no` wins over `out_trade_no`, as in Alipay; undefined when neither is given. */
  private tradeKey(biz: JsonObject): { tradeNo: string } | { outTradeNo: string } | undefined {
    const tradeNo = text(biz.trade_no, 64);
    if (tradeNo !== undefined) return { tradeNo };
    const outTradeNo = text(biz.out_trade_no, 64);
    return outTradeNo === undefined ? undefined : { outTradeNo };
  }

  /** The core's trade number for a request's trade, or undefined when there is no such trade. */
  private tradeNoOf(core: PaymentCore, key: { tradeNo: string } | { outTradeNo: string }): string | undefined {
    return 'tradeNo' in key ? key.tradeNo : core.tradeByOrder(key.outTradeNo)?.tradeNo;
  }

  private missingKey(method: AlipayMethod): MockReply {
    return this.failureReply(method, failure('business', 'ACQ.INVALID_PARAMETER', '参数无效: expected trade_no or out_trade_no'));
  }

  private query(core: PaymentCore, biz: JsonObject): MockReply {
    const method = 'alipay.trade.query';
    const key = this.tradeKey(biz);
    if (!key) return this.missingKey(method);
    return renderAnswer(this.renderer(method), 'query', core.query(key), (view) => {
      // A refused payment: Alipay's merchant-facing word for it is the payment's own sub_code.
      if (view.status !== 'PAY_FAILED') return this.success(method, queryAnswer(view));
      const { subCode, subMsg } = PAY_FAIL_SUB_CODES[view.failCode ?? 'DECLINED'];
      return this.failureReply(method, failure('business', subCode, subMsg), { out_trade_no: view.outTradeNo, trade_no: view.tradeNo, total_amount: yuan(view.amount) });
    });
  }

  /** A refund by `out_request_no`: found → `REFUND_SUCCESS`; not found → a success without refund fields, as Alipay answers. */
  private refundQuery(core: PaymentCore, biz: JsonObject): MockReply {
    const method = 'alipay.trade.fastpay.refund.query';
    const key = this.tradeKey(biz);
    if (!key) return this.missingKey(method);
    const refundNo = text(biz.out_request_no, 64);
    if (refundNo === undefined) return this.failureReply(method, failure('business', 'ACQ.INVALID_PARAMETER', '参数无效: out_request_no: expected 1–64 characters'));
    return renderAnswer(this.renderer(method), 'query', core.query(key), (view) => {
      const done = core.trade(view.tradeNo)?.refunds.find((refund) => refund.refundNo === refundNo);
      const base = { trade_no: view.tradeNo, out_trade_no: view.outTradeNo, out_request_no: refundNo };
      if (!done) return this.success(method, base);
      return this.success(method, { ...base, total_amount: yuan(view.amount), refund_amount: yuan(done.amount), refund_status: 'REFUND_SUCCESS', gmt_refund_pay: beijingTime(Date.parse(done.at)) });
    });
  }

  private close(core: PaymentCore, biz: JsonObject): MockReply {
    const method = 'alipay.trade.close';
    const key = this.tradeKey(biz);
    if (!key) return this.missingKey(method);
    const tradeNo = this.tradeNoOf(core, key);
    const answer = tradeNo === undefined ? refusedAnswer<TradeView>(refusal('TRADE_NOT_EXIST', 404, 'no such trade'), 0) : core.closeTrade(tradeNo);
    return renderAnswer(this.renderer(method), 'close', answer, (view) => this.success(method, { trade_no: view.tradeNo, out_trade_no: view.outTradeNo }));
  }

  /** `refund_amount` in yuan; `out_request_no` names a partial refund (without one, the trade's number does, as Alipay's full refund). */
  private refund(core: PaymentCore, biz: JsonObject): MockReply {
    const method = 'alipay.trade.refund';
    const key = this.tradeKey(biz);
    if (!key) return this.missingKey(method);
    const amount = minorOfYuan(biz.refund_amount);
    if (amount === undefined || amount < 1) return this.failureReply(method, failure('business', 'ACQ.INVALID_PARAMETER', '参数无效: refund_amount: expected yuan with at most two decimals'));
    const tradeNo = this.tradeNoOf(core, key);
    if (tradeNo === undefined) return renderAnswer(this.renderer(method), 'refund', refusedAnswer(refusal('TRADE_NOT_EXIST', 404, 'no such trade'), 0), () => ({ status: 200 }));
    const refundNo = text(biz.out_request_no, 64) ?? tradeNo;
    return renderAnswer(this.renderer(method), 'refund', core.refund(tradeNo, refundNo, amount), ({ repeat }) => {
      const trade = core.trade(tradeNo);
      return this.success(method, {
        trade_no: tradeNo,
        out_trade_no: trade?.outTradeNo ?? '',
        // `N`: this out_request_no was refunded before; no money moved now.
        fund_change: repeat ? 'N' : 'Y',
        refund_fee: yuan(trade?.refunded ?? amount),
        gmt_refund_pay: beijingTime(Date.now()),
      });
    });
  }
}
