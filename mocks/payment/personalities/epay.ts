/**
 * The epay personality: 易支付 as 彩虹易支付 v1 speaks it (PROVIDERS.md §1), over the provider core.
 *
 * - `submit.php` (GET or form POST from the buyer's browser) and `mapi.php` (the merchant's server)
 *   create the trade; both are signed: MD5 over the sorted `k=v&…` of the non-empty parameters but
 *   `sign`/`sign_type`, the merchant key appended (`./epay-wire.ts`). submit.php answers the
 *   browser with a redirect to Ordeal's cashier; mapi.php with JSON `{code: 1, trade_no, payurl |
 *   qrcode}`. Refusals are `{code, msg}` with HTTP 200, the msg texts epay's own.
 * - `api.php?act=order` queries, `api.php?act=refund` (POST) refunds; both authenticate with `pid`
 *   and the key in plain text, as epay does.
 * - Notifies: a GET to `notify_url` with `pid, trade_no, out_trade_no, type, name, money,
 *   trade_status=TRADE_SUCCESS, sign, sign_type=MD5`, for successes only; acknowledged by a body
 *   containing `success`, retried on the gaps of epay's notify cron.
 *
 * Trade numbers are the core's. The buyer pays at Ordeal's cashier (`../cashier.ts`), which is
 * where epay would send a browser to the wallet. What epay does not carry (a payer id or region, a
 * trade expiry, `param`, `return_url` after paying) is not passed to the core.
 */
import { isReachableUrl } from '../../../core/network-scope.js';
import { asObject, type MockReply, type MockRequest } from '../../mock-types.js';
import { outside, secretMatches } from '../../run-credentials.js';
import type { FaultSubject, SubjectAwareRoute } from '../../transport-faults.js';
import { refusal, type CreatedTrade, type CreateTradeInput, type PaymentOperation, type PaymentRefusal, type TradeView } from '../answers.js';
import { cashierRoutes, cashierUrl, ORDEAL_CASHIER } from '../cashier.js';
import type { PaymentCore } from '../core.js';
import type { PaymentNotice } from '../notices.js';
import { channelOf, renderAnswer, type CallbackAck, type CallbackRequest, type NoticeSigning, type PaymentPersonality, type PaymentSite } from '../personality.js';
import { EPAY_FAULT_FORMS } from './epay-fault-forms.js';
import {
  epaySign,
  epaySignatureValid,
  epayTime,
  jsonFailure,
  jsonReply,
  methodOfType,
  minorOfMoney,
  pageFailure,
  phpUrlencode,
  typeOfMethod,
  yuanText,
  type EpayFailure,
  type EpayParams,
} from './epay-wire.js';

export { EPAY_FAULT_FORMS } from './epay-fault-forms.js';

export interface EpayPersonalityOptions {
  /** The merchant number (商户ID). */
  pid: string;
  /** The merchant key (商户密钥): signs requests and notifies, and authenticates api.php. */
  key: string;
}

/**
 * The gaps between notify attempts of 彩虹易支付's cron (`cron.php?do=notify`): a failed first
 * notify is tried again a minute later, then after 2, 16 and 36 minutes; the attempt that would
 * follow the next hour marks the order `notify=-1` instead of sending. (Its comment says "1m, 3m,
 * 20m, 1h, 2h": the same times, counted from the first notify.) 5 attempts in about 55 minutes.
 */
export const EPAY_RETRY_GAPS_MS: readonly number[] = [60_000, 120_000, 960_000, 2_160_000];

/** `do_notify()`: delivered when the body contains `success`, `SUCCESS` or `Success`; the HTTP status is not read. */
export const EPAY_ACK: CallbackAck = {
  readBody: true,
  acknowledged: (_status, body) => /success|SUCCESS|Success/.test(body),
};

const SIGN_FAILED = '签名校验失败，请返回重试！';
/** `out_trade_no` as epay accepts it. */
const OUT_TRADE_NO = /^[a-zA-Z0-9._\-|]+$/;

/** Which create script: submit.php shows pages to a browser, mapi.php answers JSON to a server. */
type CreateMode = 'page' | 'api';

/** PHP `empty()` on a request parameter: missing, '' and '0' are empty. */
function empty(value: string | undefined): value is undefined | '' | '0' {
  return value === undefined || value === '' || value === '0';
}

/** PHP `intval()` of a parameter, as text ('' for 0). */
function intvalText(value: string | undefined): string {
  const parsed = Number.parseInt((value ?? '').trim(), 10);
  return Number.isFinite(parsed) && parsed !== 0 ? String(parsed) : '';
}

/** A form's fields, or none when the body is not a form. */
function formFields(request: MockRequest): EpayParams {
  const body = asObject(request.body);
  if (!body) return {};
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(body)) if (typeof value === 'string') fields[name] = value;
  return fields;
}

/** submit.php and mapi.php read `$_GET` when it has a `pid`, else `$_POST`. */
function createParams(request: MockRequest): EpayParams {
  return request.query.pid !== undefined ? request.query : formFields(request);
}

/** The order a create request is about, for transport faults decided per buyer. */
function createSubject(request: MockRequest): FaultSubject {
  const outTradeNo = createParams(request).out_trade_no;
  return outTradeNo ? { orderId: outTradeNo } : {};
}

/** The status epay's query reports: 0 unpaid (whatever the wallet said), 1 paid, 2 refunded. */
function epayStatus(trade: Pick<TradeView, 'status' | 'refunded'>): 0 | 1 | 2 {
  if (trade.status !== 'TRADE_SUCCESS') return 0;
  return trade.refunded > 0 ? 2 : 1;
}

/** A refusal in epay's words, for the operation it answers. */
function failureOf(operation: PaymentOperation, reason: PaymentRefusal, outTradeNo = ''): EpayFailure {
  switch (reason.code) {
    case 'INVALID_REQUEST':
      // The personality words its own checks in epay's messages.
      return { code: -1, msg: reason.message };
    case 'INVALID_SIGNATURE':
      return operation === 'create' ? { code: -1, msg: SIGN_FAILED } : { code: -3, msg: '商户密钥错误' };
    case 'DUPLICATE_OUT_TRADE_NO':
      return { code: -1, msg: `该订单(${outTradeNo})支付参数有变化，请更换订单号重新发起支付` };
    case 'TRADE_NOT_EXIST':
      return { code: -1, msg: operation === 'refund' ? '当前订单不存在！' : '订单号不存在' };
    case 'TRADE_NOT_PAID':
      return { code: -1, msg: '只支持退款已支付状态的订单' };
    case 'REFUND_EXCEEDS_PAID':
      return { code: -1, msg: '退款金额不能大于订单金额' };
    case 'SYSTEM_ERROR':
      // mapi.php's own failure (its order insert failed); the wallet's refund failing; else PHP is down behind nginx.
      if (operation === 'create') return { code: -1, msg: '创建订单失败，请返回重试！' };
      if (operation === 'refund') return { code: -1, msg: '退款失败：[SYSTEM_ERROR]系统繁忙，请稍后再试' };
      return { gatewayDown: 502 };
    case 'RATE_LIMITED':
      return { gatewayDown: 503 };
    case 'CROSS_BORDER_BLOCKED':
      // Not reached: epay carries no payer region. Its blocked-client answer, were it.
      return { code: -1, msg: '系统异常无法完成付款' };
    default:
      // Refusals of paying (limits, declines, closed or verifying trades) are Ordeal's cashier's, never an epay script's.
      return { code: -1, msg: reason.message };
  }
}

export class EpayPersonality implements PaymentPersonality {
  readonly protocol = 'epay';
  readonly faultForms = EPAY_FAULT_FORMS;
  readonly callbackAck = EPAY_ACK;
  readonly callbackRetryGapsMs = EPAY_RETRY_GAPS_MS;
  readonly cashier = ORDEAL_CASHIER;
  private readonly pid: string;
  private readonly key: string;

  constructor(options: EpayPersonalityOptions) {
    this.pid = options.pid;
    this.key = options.key;
  }

  routes(core: PaymentCore, site: PaymentSite): SubjectAwareRoute[] {
    const byNumber = (params: EpayParams): FaultSubject =>
      params.trade_no ? core.subjectOfTrade(params.trade_no) : params.out_trade_no ? core.subjectOfOrder(params.out_trade_no) : {};
    const create = (mode: CreateMode) => (request: MockRequest) => this.create(core, site, createParams(request), mode);
    return [
      { method: 'GET', path: '/submit.php', name: 'create', handle: create('page'), subjectOf: createSubject },
      { method: 'POST', path: '/submit.php', name: 'create', handle: create('page'), subjectOf: createSubject },
      { method: 'GET', path: '/mapi.php', name: 'create', handle: create('api'), subjectOf: createSubject },
      { method: 'POST', path: '/mapi.php', name: 'create', handle: create('api'), subjectOf: createSubject },
      // api.php reads `act` and the query's parameters from `$_GET`, a refund's from `$_POST`.
      {
        method: 'GET',
        path: '/api.php',
        name: 'query',
        handle: (request) => this.api(core, request.query.act, request.query, {}),
        subjectOf: (request) => byNumber(request.query),
      },
      {
        method: 'POST',
        path: '/api.php',
        name: 'refund',
        handle: (request) => this.api(core, request.query.act, request.query, formFields(request)),
        subjectOf: (request) => byNumber(request.query.act === 'refund' ? formFields(request) : request.query),
      },
      // The gateway's own pay page of a trade (mapi.php's fallback `payurl`): on to Ordeal's cashier.
      {
        method: 'GET',
        path: '/pay/submit/:tradeNo/',
        name: 'cashier',
        handle: (request) => {
          const tradeNo = request.params.tradeNo ?? '';
          if (!core.trade(tradeNo)) return pageFailure({ code: -1, msg: '该订单号不存在' });
          return { status: 302, headers: { location: cashierUrl(site.baseUrl, tradeNo) } };
        },
        subjectOf: (request) => core.subjectOfTrade(request.params.tradeNo),
      },
      ...cashierRoutes(core),
    ];
  }

  renderRefusal(operation: PaymentOperation, reason: PaymentRefusal): MockReply {
    return jsonFailure(failureOf(operation, reason), operation !== 'create');
  }

  /** A success notify as epay's `creat_callback()` builds it; epay sends none for a failed payment. */
  renderCallback(notifyUrl: string, notice: PaymentNotice, signing: NoticeSigning): CallbackRequest | undefined {
    if (notice.status !== 'TRADE_SUCCESS') return undefined;
    const params: Record<string, string> = {
      pid: this.pid,
      trade_no: notice.tradeNo,
      out_trade_no: notice.outTradeNo,
      type: typeOfMethod(notice.method),
      name: notice.subject,
      money: yuanText(notice.amount),
      trade_status: 'TRADE_SUCCESS',
    };
    // Forged: signed with a key that is not the merchant's. Replayed: MD5 signs no time, so a
    // replay is the genuine notify itself, sent again later — the same bytes. Altered: signed
    // over another `money`.
    const signed = signing.kind === 'altered' ? { ...params, money: yuanText(signing.signedAmount) } : params;
    const sign = epaySign(signed, signing.kind === 'forged' ? `forged-${this.key}` : this.key);
    const query = Object.keys(params)
      .filter((name) => params[name] !== '')
      .sort()
      .map((name) => `${name}=${phpUrlencode(params[name] ?? '')}`)
      .join('&');
    // PHP's `strpos($url, '?')` is falsy for a '?' at position 0 too.
    const separator = notifyUrl.indexOf('?') > 0 ? '&' : '?';
    return { method: 'GET', url: `${notifyUrl}${separator}${query}&sign=${sign}&sign_type=MD5`, headers: { accept: '*/*' } };
  }

  // ---- create: submit.php and mapi.php ---------------------------------------------------------

  private create(core: PaymentCore, site: PaymentSite, params: EpayParams, mode: CreateMode): MockReply {
    const fail = (msg: string): MockReply => (mode === 'api' ? jsonFailure({ code: -1, msg }, false) : pageFailure({ code: -1, msg }));
    // Given no pid at all, mapi.php stops before anything else.
    if (params.pid === undefined) return mode === 'api' ? jsonReply({ code: -4 }) : fail('你还未配置支付接口商户！');
    const pid = intvalText(params.pid);
    if (pid === '') return outside(fail('PID不存在'), 'no merchant pid');
    if (pid !== this.pid) return outside(fail('商户不存在！'), 'another merchant pid');
    if (!epaySignatureValid(params, this.key)) return outside(fail(SIGN_FAILED), 'MD5 sign does not verify');
    const outTradeNo = params.out_trade_no;
    if (empty(outTradeNo)) return fail('订单号(out_trade_no)不能为空');

    const checked = this.checkCreate(params, mode);
    const renderer = { renderRefusal: (operation: PaymentOperation, reason: PaymentRefusal) => this.renderCreateRefusal(operation, reason, outTradeNo, mode) };
    // Refused after the order is known: journaled by the core as a refused create.
    if (typeof checked === 'string') return renderAnswer(renderer, 'create', core.refuseInvalidCreate(outTradeNo, checked), () => ({ status: 200 }));
    const answer = core.create({ outTradeNo, ...checked, ...channelOf(site) });
    return renderAnswer(renderer, 'create', answer, (created) => this.renderCreated(site, created, mode, checked.method));
  }

  /** The create fields after the order number, checked in epay's order: the trade's terms, or epay's message. */
  private checkCreate(params: EpayParams, mode: CreateMode): Omit<CreateTradeInput, 'outTradeNo'> | string {
    const { notify_url: notifyUrl, return_url: returnUrl, name, money, type, clientip: clientIp, out_trade_no: outTradeNo = '' } = params;
    if (empty(notifyUrl)) return '通知地址(notify_url)不能为空';
    if (mode === 'page' && empty(returnUrl)) return '回调地址(return_url)不能为空';
    if (empty(name)) return '商品名称(name)不能为空';
    if (empty(money)) return '金额(money)不能为空';
    if (mode === 'api' && empty(type)) return '支付方式(type)不能为空';
    if (mode === 'api' && empty(clientIp)) return '用户IP地址(clientip)不能为空';
    const amount = minorOfMoney(money);
    if (amount === undefined) return '金额不合法';
    if (!OUT_TRADE_NO.test(outTradeNo)) return '订单号(out_trade_no)格式不正确';
    // Epay's domain allow-list refusal; Ordeal only ever calls back to loopback.
    if (!isReachableUrl(notifyUrl)) return '该域名不可发起支付，原因：域名没过白，请前往支付平台授权支付域名';
    // submit.php without a type lets the buyer pick at the cashier; Alipay is the first choice there.
    return { amount, currency: 'CNY', subject: name, notifyUrl, method: methodOfType(empty(type) ? 'alipay' : type) };
  }

  private renderCreateRefusal(operation: PaymentOperation, reason: PaymentRefusal, outTradeNo: string, mode: CreateMode): MockReply {
    const failure = failureOf(operation, reason, outTradeNo);
    return mode === 'api' ? jsonFailure(failure, false) : pageFailure(failure);
  }

  /** A created (or found again) trade: the cashier for the browser, its link for the server. */
  private renderCreated(site: PaymentSite, { trade, repeat }: CreatedTrade, mode: CreateMode, method: string): MockReply {
    if (repeat && epayStatus(trade) > 0) {
      const msg = `该订单(${trade.outTradeNo})已完成支付，请勿重复发起支付`;
      return mode === 'api' ? jsonFailure({ code: -1, msg }, false) : pageFailure({ code: -1, msg });
    }
    const link = cashierUrl(site.baseUrl, trade.tradeNo);
    if (mode === 'page') return { status: 302, headers: { location: link } };
    // WeChat Pay is paid by scanning a code; the other wallets open a page.
    return jsonReply({ code: 1, trade_no: trade.tradeNo, ...(method === 'wechat' ? { qrcode: link } : { payurl: link }) });
  }

  // ---- api.php: act=order, act=refund -----------------------------------------------------------

  private api(core: PaymentCore, act: string | undefined, query: EpayParams, form: EpayParams): MockReply {
    if (act === 'order') return this.queryOrder(core, query);
    if (act === 'refund') return this.refund(core, form);
    return jsonReply({ code: -5, msg: 'No Act!' });
  }

  /** pid and key in plain text, as api.php checks them. */
  private authProblem(params: EpayParams): MockReply | undefined {
    if (intvalText(params.pid) !== this.pid) return outside(jsonReply({ code: -3, msg: '商户ID不存在' }), 'another merchant pid');
    if (params.key === undefined || !secretMatches(params.key, this.key)) return outside(jsonReply({ code: -3, msg: '商户密钥错误' }), 'wrong merchant key');
    return undefined;
  }

  private queryOrder(core: PaymentCore, params: EpayParams): MockReply {
    const problem = this.authProblem(params);
    if (problem) return problem;
    const key = !empty(params.trade_no) ? { tradeNo: params.trade_no } : !empty(params.out_trade_no) ? { outTradeNo: params.out_trade_no } : undefined;
    if (!key) return jsonReply({ code: -4, msg: '订单号不能为空' });
    return renderAnswer(this, 'query', core.query(key), (view) => jsonReply(this.orderJson(core, view)));
  }

  /** The order as api.php lists it (PHP 8 types: integers for `pid` and `status`, DECIMAL `money` as text). */
  private orderJson(core: PaymentCore, view: TradeView): Record<string, unknown> {
    const record = core.trade(view.tradeNo);
    const status = epayStatus(view);
    return {
      code: 1,
      msg: 'succ',
      trade_no: view.tradeNo,
      out_trade_no: view.outTradeNo,
      type: typeOfMethod(record?.method ?? ''),
      pid: Number(this.pid),
      addtime: epayTime(record?.createdAt),
      endtime: epayTime(view.paidAt),
      name: record?.subject ?? '',
      money: yuanText(view.amount),
      param: null,
      buyer: status > 0 ? (record?.payerId ?? null) : null,
      status,
    };
  }

  private refund(core: PaymentCore, params: EpayParams): MockReply {
    const problem = this.authProblem(params);
    if (problem) return problem;
    const money = (params.money ?? '').trim();
    const amount = /^[0-9.]+$/.test(money) && Number.isFinite(Number(money)) ? Math.round(Number(money) * 100) : 0;
    if (amount <= 0) return jsonReply({ code: -1, msg: '金额输入错误' });
    let tradeNo = params.trade_no;
    if (empty(tradeNo)) {
      if (empty(params.out_trade_no)) return jsonReply({ code: -4, msg: '订单号不能为空' });
      tradeNo = core.tradeByOrder(params.out_trade_no)?.tradeNo;
      if (tradeNo === undefined) return this.renderRefusal('refund', refusal('TRADE_NOT_EXIST', 404, 'no such trade'));
    }
    // Epay refunds a trade once (its status becomes 2): one refund number per trade.
    return renderAnswer(this, 'refund', core.refund(tradeNo, `${tradeNo}-refund`, amount), ({ repeat }) =>
      repeat ? this.renderRefusal('refund', refusal('TRADE_NOT_PAID', 409, 'refunded already')) : jsonReply({ code: 1, msg: '退款成功', money }),
    );
  }
}
