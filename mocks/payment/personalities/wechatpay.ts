/**
 * The WeChat Pay API v3 personality (PROVIDERS.md §3), as `wechatpay-axios-plugin` expects it:
 * native / JSAPI / H5 orders, query by out_trade_no or transaction_id, close (204), domestic
 * refunds and their query, and the platform certificates list. Every merchant request's
 * `Authorization` is verified with the merchant's public key (a bad one is 401 `SIGN_ERROR`), every
 * answer is signed with the platform key and serial, and successful payments are notified by JSON
 * POSTs whose `resource` is AEAD_AES_256_GCM-encrypted with the APIv3 key, acknowledged by 200 or
 * 204 (WeChat notifies no failed payment: a shop learns of one by query, `trade_state: PAYERROR`).
 *
 * Ordeal's cashier stands in for the buyer's WeChat app: a native order's `code_url` is the
 * trade's cashier page (the buyer "scans" it), an H5 order's `h5_url` too. A JSAPI `prepay_id` is
 * for WeChat's in-app payment sheet, which Ordeal does not have: such an order can be queried,
 * closed and refunded, but a buyer can pay it only if the shop also shows a cashier link.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { asObject, nonEmptyString, positiveInt, type JsonObject, type MockReply, type MockRequest } from '../../mock-types.js';
import type { FaultSubject, SubjectAwareRoute } from '../../transport-faults.js';
import { refusal, type PaymentOperation, type PaymentRefusal, type TradeView } from '../answers.js';
import { cashierRoutes, cashierUrl, ORDEAL_CASHIER } from '../cashier.js';
import type { PaymentCore } from '../core.js';
import { outside } from '../../run-credentials.js';
import type { WechatpayCredentials } from '../credentials.js';
import type { TradeRecord } from '../ledger.js';
import type { PaymentNotice } from '../notices.js';
import { channelOf, renderAnswer, type CallbackAck, type CallbackRequest, type NoticeSigning, type PaymentPersonality, type PaymentSite } from '../personality.js';
import {
  authorizationProblem,
  beijingTime,
  encryptResource,
  notifyIdOf,
  withTagOf,
  type EncryptedResource,
  openidOf,
  parseRfc3339,
  prepayIdOf,
  refundIdOf,
  signedHeaders,
  tradeNoOfTransactionId,
  transactionIdOf,
  type MerchantIdentity,
  type PlatformSigner,
} from './wechatpay-wire.js';
import { tradeStateDescOf, tradeStateOf, WECHATPAY_FAULT_FORMS, WECHATPAY_RETRY_GAPS_MS, wechatErrorOf, type WechatError } from './wechatpay-words.js';

/** The order kinds: `trade_type` as queries and notifies name them (H5 is `MWEB`). */
type TradeType = 'NATIVE' | 'JSAPI' | 'MWEB';

const CREATE_PATHS: Readonly<Record<TradeType, string>> = {
  NATIVE: '/v3/pay/transactions/native',
  JSAPI: '/v3/pay/transactions/jsapi',
  MWEB: '/v3/pay/transactions/h5',
};

/** `out_trade_no`: 6–32 of digits, letters and `_-|*`. */
const OUT_TRADE_NO = /^[0-9A-Za-z_\-|*]{6,32}$/;
/** `out_refund_no`: 1–64 of digits, letters and `_-|*@`. */
const OUT_REFUND_NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;

/** WeChat takes a notify as received on 200 or 204 and retries anything else. */
const ACK_200_OR_204: CallbackAck = {
  readBody: false,
  acknowledged: (status) => status === 200 || status === 204,
};

function paramError(message: string): WechatError {
  return { status: 400, code: 'PARAM_ERROR', message };
}

export interface WechatpayPersonalityOptions {
  credentials: WechatpayCredentials;
  /** Wall clock, ms since the epoch: signing times and `time_expire`. @default Date.now */
  clock?: () => number;
}

export class WechatpayPersonality implements PaymentPersonality {
  readonly protocol = 'wechatpay';
  readonly faultForms = WECHATPAY_FAULT_FORMS;
  readonly callbackAck = ACK_200_OR_204;
  readonly callbackRetryGapsMs = WECHATPAY_RETRY_GAPS_MS;
  readonly cashier = ORDEAL_CASHIER;
  private readonly credentials: WechatpayCredentials;
  private readonly merchant: MerchantIdentity;
  private readonly platform: PlatformSigner;
  private readonly clock: () => number;
  /** A key that is not the platform's, under the platform's serial: what forged notifies are signed with (made on first use). */
  private forger: PlatformSigner | undefined;
  /** Trades not made as native orders: their `trade_type`. */
  private readonly tradeTypes = new Map<string, TradeType>();
  /** Refund number → the trade refunded, for the refund query (WeChat looks refunds up by number alone). */
  private readonly refundedTrades = new Map<string, string>();
  /** The core served: notifies name the trade's payer and ordered amount, which notices do not carry. */
  private core: PaymentCore | undefined;

  constructor(options: WechatpayPersonalityOptions) {
    const { credentials } = options;
    this.credentials = credentials;
    this.merchant = { mchid: credentials.mchid, serial: credentials.merchantSerial, publicKey: createPublicKey(credentials.merchantPublicKey) };
    this.platform = { key: createPrivateKey(credentials.platformPrivateKey), serial: credentials.platformSerial };
    this.clock = options.clock ?? Date.now;
  }

  routes(core: PaymentCore, site: PaymentSite): SubjectAwareRoute[] {
    this.core = core;
    const byOrder = (request: MockRequest): FaultSubject => core.subjectOfOrder(request.params.out_trade_no ?? '');
    const creates = (Object.keys(CREATE_PATHS) as TradeType[]).map(
      (type): SubjectAwareRoute => ({
        method: 'POST',
        path: CREATE_PATHS[type],
        name: 'create',
        handle: (request) => this.signedIn(request, 'create', () => this.create(core, site, request, type)),
        subjectOf: (request) => {
          const body = asObject(request.body);
          const orderId = body?.out_trade_no;
          const buyerId = asObject(body?.payer)?.openid;
          return { ...(nonEmptyString(orderId) ? { orderId } : {}), ...(nonEmptyString(buyerId) ? { buyerId } : {}) };
        },
      }),
    );
    return [
      ...creates,
      {
        method: 'GET',
        path: '/v3/pay/transactions/out-trade-no/:out_trade_no',
        name: 'query',
        handle: (request) => this.signedIn(request, 'query', () => this.query(core, request, { outTradeNo: request.params.out_trade_no ?? '' }, false)),
        subjectOf: byOrder,
      },
      {
        method: 'GET',
        path: '/v3/pay/transactions/id/:transaction_id',
        name: 'query',
        handle: (request) => this.signedIn(request, 'query', () => this.query(core, request, { tradeNo: tradeNoOfTransactionId(request.params.transaction_id) }, true)),
        subjectOf: (request) => core.subjectOfTrade(tradeNoOfTransactionId(request.params.transaction_id)),
      },
      {
        method: 'POST',
        path: '/v3/pay/transactions/out-trade-no/:out_trade_no/close',
        name: 'close',
        handle: (request) => this.signedIn(request, 'close', () => this.close(core, request)),
        subjectOf: byOrder,
      },
      {
        method: 'POST',
        path: '/v3/refund/domestic/refunds',
        name: 'refund',
        handle: (request) => this.signedIn(request, 'refund', () => this.refund(core, request)),
        subjectOf: (request) => {
          const body = asObject(request.body);
          if (nonEmptyString(body?.out_trade_no)) return core.subjectOfOrder(body.out_trade_no);
          return core.subjectOfTrade(tradeNoOfTransactionId(typeof body?.transaction_id === 'string' ? body.transaction_id : undefined));
        },
      },
      {
        method: 'GET',
        path: '/v3/refund/domestic/refunds/:out_refund_no',
        name: 'query',
        handle: (request) => this.signedIn(request, 'query', () => this.refundQuery(core, request.params.out_refund_no ?? '')),
        subjectOf: (request) => core.subjectOfTrade(this.refundedTrades.get(request.params.out_refund_no ?? '')),
      },
      { method: 'GET', path: '/v3/certificates', name: 'certificates', handle: (request) => this.signedIn(request, 'query', () => this.certificates()) },
      ...cashierRoutes(core),
    ];
  }

  renderRefusal(operation: PaymentOperation, reason: PaymentRefusal): MockReply {
    const error = wechatErrorOf(operation, reason.code);
    // A request the personality could not parse: the core's message says which field.
    return this.error(reason.code === 'INVALID_REQUEST' ? { ...error, message: reason.message } : error);
  }

  /** WeChat notifies successful payments only (`TRANSACTION.SUCCESS`): a failed one is learnt by query (`PAYERROR`). */
  renderCallback(notifyUrl: string, notice: PaymentNotice, signing: NoticeSigning, nowS: number): CallbackRequest | undefined {
    if (notice.status !== 'TRADE_SUCCESS') return undefined;
    const sentS = signing.kind === 'replayed' ? nowS - signing.ageS : nowS;
    const resource = encryptResource(JSON.stringify(this.noticeResource(notice)), this.credentials.apiV3Key, 'transaction');
    const bodyOf = (encrypted: EncryptedResource): string =>
      JSON.stringify({
        id: notifyIdOf(this.credentials.mchid, notice.notifyId),
        create_time: beijingTime(sentS * 1000),
        resource_type: 'encrypt-resource',
        event_type: 'TRANSACTION.SUCCESS',
        summary: '支付成功',
        resource: { original_type: 'transaction', ...encrypted },
      });
    if (signing.kind === 'altered') {
      // GCM is a stream cipher: whoever knows the plaintext's layout can change the amount in the
      // ciphertext. The GCM tag and the body's signature stay those of the amount signed for.
      const signedPlaintext = JSON.stringify(this.noticeResource(notice, signing.signedAmount));
      const signedResource = encryptResource(signedPlaintext, this.credentials.apiV3Key, 'transaction', resource.nonce);
      const altered: EncryptedResource = { ...resource, ciphertext: withTagOf(resource.ciphertext, signedResource.ciphertext) };
      return { method: 'POST', url: notifyUrl, headers: { 'content-type': 'application/json', ...signedHeaders(bodyOf(signedResource), this.platform, sentS) }, body: bodyOf(altered) };
    }
    const body = bodyOf(resource);
    const signer = signing.kind === 'forged' ? this.forgerSigner() : this.platform;
    return { method: 'POST', url: notifyUrl, headers: { 'content-type': 'application/json', ...signedHeaders(body, signer, sentS) }, body };
  }

  // ---- answers -----------------------------------------------------------------------------

  private nowS(): number {
    return Math.floor(this.clock() / 1000);
  }

  /** An answer with `body` as its exact bytes (none for a 204), signed by the platform. */
  private signed(status: number, body: string | undefined): MockReply {
    const headers = signedHeaders(body ?? '', this.platform, this.nowS());
    return body === undefined ? { status, headers } : { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body };
  }

  private json(status: number, value: JsonObject): MockReply {
    return this.signed(status, JSON.stringify(value));
  }

  private error({ status, code, message }: WechatError): MockReply {
    return this.json(status, { code, message });
  }

  private forgerSigner(): PlatformSigner {
    this.forger ??= { key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, serial: this.platform.serial };
    return this.forger;
  }

  /** Runs `handle` only for a request signed by this merchant; else 401 `SIGN_ERROR`, with what did not match as WeChat's `detail`. */
  private signedIn(request: MockRequest, operation: PaymentOperation, handle: () => MockReply): MockReply {
    const problem = authorizationProblem(request, this.merchant, this.nowS());
    if (problem === undefined) return handle();
    const { status, code, message } = wechatErrorOf(operation, 'INVALID_SIGNATURE');
    return outside(this.json(status, { code, message, detail: { location: 'authorization', issue: problem } }), problem);
  }

  // ---- orders ------------------------------------------------------------------------------

  private create(core: PaymentCore, site: PaymentSite, request: MockRequest, type: TradeType): MockReply {
    const body = asObject(request.body);
    if (!body) return this.error(paramError('expected a JSON object body'));
    const outTradeNo = body.out_trade_no;
    if (typeof outTradeNo !== 'string' || !OUT_TRADE_NO.test(outTradeNo)) return this.error(paramError('out_trade_no: 6 to 32 of 0-9 A-Z a-z _ - | *'));
    const now = this.clock();
    const problem = this.createProblem(body, type, now);
    if (problem) {
      core.refuseInvalidCreate(outTradeNo, problem.message);
      return this.error(problem);
    }
    const amount = asObject(body.amount) as JsonObject;
    const expiresAt = parseRfc3339(body.time_expire);
    const openid = type === 'JSAPI' ? (asObject(body.payer)?.openid as string) : undefined;
    const answer = core.create({
      ...channelOf(site),
      outTradeNo,
      amount: amount.total as number,
      currency: typeof amount.currency === 'string' ? amount.currency : 'CNY',
      subject: body.description as string,
      notifyUrl: body.notify_url as string,
      method: 'wechat',
      ...(openid === undefined ? {} : { payer: { id: openid } }),
      ...(expiresAt === undefined ? {} : { expiresInMs: Math.max(1, Math.ceil(expiresAt - now)) }),
    });
    return renderAnswer(this, 'create', answer, ({ trade }) => {
      // The same order again: its prepay again, unless it has been closed since.
      if (trade.status === 'TRADE_CLOSED') return this.renderRefusal('create', refusal('TRADE_CLOSED', 409, 'closed'));
      if (type !== 'NATIVE') this.tradeTypes.set(trade.tradeNo, type);
      const page = cashierUrl(site.baseUrl, trade.tradeNo);
      const prepayId = prepayIdOf(this.credentials.mchid, trade.tradeNo);
      if (type === 'NATIVE') return this.json(200, { code_url: page });
      if (type === 'JSAPI') return this.json(200, { prepay_id: prepayId });
      return this.json(200, { h5_url: `${page}?prepay_id=${prepayId}&package=${trade.tradeNo.slice(1)}` });
    });
  }

  /** The first problem with an order's fields, in WeChat's words, or undefined. */
  private createProblem(body: JsonObject, type: TradeType, now: number): WechatError | undefined {
    const { appid, mchid, description, notify_url: notifyUrl, time_expire: timeExpire, attach } = body;
    const amount = asObject(body.amount);
    const scene = asObject(body.scene_info);
    if (appid !== this.credentials.appid) return { status: 400, code: 'APPID_MCHID_NOT_MATCH', message: 'appid和mch_id不匹配' };
    if (mchid !== this.credentials.mchid) return paramError('mchid: 与请求头中的商户号不一致');
    if (!nonEmptyString(description, 127)) return paramError('description: 商品描述必填，最长127个字符');
    if (!nonEmptyString(notifyUrl, 256)) return paramError('notify_url: 通知地址必填');
    if (!amount || !positiveInt(amount.total)) return paramError('amount.total: 总金额必填，单位为分的正整数');
    if (amount.currency !== undefined && amount.currency !== 'CNY') return paramError('amount.currency: 境内商户号仅支持人民币 CNY');
    if (timeExpire !== undefined) {
      const expiresAt = parseRfc3339(timeExpire);
      if (expiresAt === undefined) return paramError('time_expire: 应为 rfc3339 格式，如 2030-01-01T08:00:00+08:00');
      if (expiresAt <= now) return paramError('time_expire: 订单失效时间已过');
    }
    if (attach !== undefined && !(typeof attach === 'string' && attach.length <= 128)) return paramError('attach: 附加数据最长128个字符');
    if (scene !== undefined && !nonEmptyString(scene.payer_client_ip, 45)) return paramError('scene_info.payer_client_ip: 用户终端IP必填');
    if (type === 'JSAPI' && !nonEmptyString(asObject(body.payer)?.openid, 128)) return paramError('payer.openid: JSAPI下单必填');
    if (type === 'MWEB' && (!scene || !nonEmptyString(asObject(scene.h5_info)?.type, 32))) return paramError('scene_info.h5_info.type: H5下单必填');
    return undefined;
  }

  private query(core: PaymentCore, request: MockRequest, key: { tradeNo: string } | { outTradeNo: string }, byTransactionId: boolean): MockReply {
    if (request.query.mchid !== this.credentials.mchid) return this.error(paramError('mchid: 商户号必填，且须为本商户号'));
    return renderAnswer(this, 'query', core.query(key), (trade) => {
      const resource = this.transaction(trade, core.trade(trade.tradeNo));
      // A transaction_id exists only once the order is paid.
      if (byTransactionId && resource.transaction_id === undefined) return this.renderRefusal('query', refusal('TRADE_NOT_EXIST', 404, 'not paid'));
      return this.json(200, resource);
    });
  }

  private close(core: PaymentCore, request: MockRequest): MockReply {
    if (asObject(request.body)?.mchid !== this.credentials.mchid) return this.error(paramError('mchid: 商户号必填，且须为本商户号'));
    const tradeNo = core.tradeByOrder(request.params.out_trade_no ?? '')?.tradeNo ?? '';
    return renderAnswer(this, 'close', core.closeTrade(tradeNo), () => this.signed(204, undefined));
  }

  /** A trade as the query answers it and the notify's resource carries it. */
  private transaction(trade: TradeView, record: TradeRecord | undefined): JsonObject {
    const state = tradeStateOf(trade.status, trade.refunded);
    const paid = state === 'SUCCESS' || state === 'REFUND';
    const payerId = record?.payerId ?? record?.payer?.id;
    return {
      appid: this.credentials.appid,
      mchid: this.credentials.mchid,
      out_trade_no: trade.outTradeNo,
      ...(paid ? { transaction_id: transactionIdOf(trade.tradeNo) } : {}),
      trade_type: this.tradeTypes.get(trade.tradeNo) ?? 'NATIVE',
      trade_state: state,
      trade_state_desc: tradeStateDescOf(state, trade.failCode),
      ...(paid ? { bank_type: 'OTHERS' } : {}),
      attach: '',
      ...(paid && trade.paidAt !== undefined ? { success_time: beijingTime(Date.parse(trade.paidAt)) } : {}),
      ...(payerId === undefined ? {} : { payer: { openid: openidOf(this.credentials.appid, payerId) } }),
      amount: {
        // What the order was for, and (once paid) what the payer paid: they differ after a tampered or short payment.
        total: record?.orderedAmount ?? trade.amount,
        ...(paid ? { payer_total: trade.amount } : {}),
        currency: trade.currency,
        payer_currency: trade.currency,
      },
    };
  }

  /** A success notice as its `transaction` resource (a forgery's too: the trade is still unpaid then). */
  /** The decrypted `resource` of a notify; `signedAmount` puts that amount in both amount fields. */
  private noticeResource(notice: PaymentNotice, signedAmount?: number): JsonObject {
    const record = this.core?.trade(notice.tradeNo);
    const payerId = record?.payerId ?? record?.payer?.id ?? notice.outTradeNo;
    return {
      appid: this.credentials.appid,
      mchid: this.credentials.mchid,
      out_trade_no: notice.outTradeNo,
      transaction_id: transactionIdOf(notice.tradeNo),
      trade_type: this.tradeTypes.get(notice.tradeNo) ?? 'NATIVE',
      trade_state: 'SUCCESS',
      trade_state_desc: tradeStateDescOf('SUCCESS', undefined),
      bank_type: 'OTHERS',
      attach: '',
      ...(notice.paidAt === undefined ? {} : { success_time: beijingTime(Date.parse(notice.paidAt)) }),
      payer: { openid: openidOf(this.credentials.appid, payerId) },
      amount: {
        total: signedAmount ?? record?.orderedAmount ?? notice.amount,
        payer_total: signedAmount ?? notice.amount,
        currency: notice.currency,
        payer_currency: notice.currency,
      },
    };
  }

  // ---- refunds -----------------------------------------------------------------------------

  private refund(core: PaymentCore, request: MockRequest): MockReply {
    const body = asObject(request.body);
    if (!body) return this.error(paramError('expected a JSON object body'));
    const { out_refund_no: refundNo, transaction_id: transactionId, out_trade_no: outTradeNo } = body;
    if (typeof refundNo !== 'string' || !OUT_REFUND_NO.test(refundNo)) return this.error(paramError('out_refund_no: 1 to 64 of 0-9 A-Z a-z _ - | * @'));
    const amount = asObject(body.amount);
    if (!amount || !positiveInt(amount.refund) || !positiveInt(amount.total)) return this.error(paramError('amount.refund, amount.total: 必填，单位为分的正整数'));
    if (amount.currency !== 'CNY') return this.error(paramError('amount.currency: 必填，境内商户号仅支持 CNY'));
    let tradeNo: string;
    if (typeof transactionId === 'string') tradeNo = tradeNoOfTransactionId(transactionId);
    else if (typeof outTradeNo === 'string') tradeNo = core.tradeByOrder(outTradeNo)?.tradeNo ?? '';
    else return this.error(paramError('transaction_id, out_trade_no: 二选一必填'));
    const record = tradeNo === '' ? undefined : core.trade(tradeNo);
    if (record && amount.total !== (record.orderedAmount ?? record.amount)) {
      return this.error({ status: 400, code: 'INVALID_REQUEST', message: '订单金额与原订单总金额不一致' });
    }
    return renderAnswer(this, 'refund', core.refund(tradeNo, refundNo, amount.refund), (result) => {
      this.refundedTrades.set(refundNo, tradeNo);
      const after = core.trade(tradeNo);
      const done = after?.refunds.find((refund) => refund.refundNo === refundNo);
      return this.json(200, this.refundBody(after, refundNo, result.amount, done === undefined ? this.clock() : Date.parse(done.at)));
    });
  }

  private refundQuery(core: PaymentCore, refundNo: string): MockReply {
    const tradeNo = this.refundedTrades.get(refundNo);
    const record = tradeNo === undefined ? undefined : core.trade(tradeNo);
    const done = record?.refunds.find((refund) => refund.refundNo === refundNo);
    if (!record || !done) return this.error({ status: 404, code: 'RESOURCE_NOT_EXISTS', message: '退款单不存在' });
    return this.json(200, this.refundBody(record, refundNo, done.amount, Date.parse(done.at)));
  }

  private refundBody(record: TradeRecord | undefined, refundNo: string, refunded: number, atMs: number): JsonObject {
    const paid = record?.amount ?? refunded;
    const at = beijingTime(atMs);
    return {
      refund_id: refundIdOf(this.credentials.mchid, refundNo),
      out_refund_no: refundNo,
      transaction_id: record ? transactionIdOf(record.tradeNo) : '',
      out_trade_no: record?.outTradeNo ?? '',
      channel: 'ORIGINAL',
      user_received_account: '支付用户零钱',
      success_time: at,
      create_time: at,
      status: 'SUCCESS',
      funds_account: 'AVAILABLE',
      amount: {
        total: record?.orderedAmount ?? paid,
        refund: refunded,
        from: [],
        payer_total: paid,
        payer_refund: refunded,
        settlement_refund: refunded,
        settlement_total: paid,
        discount_refund: 0,
        currency: record?.currency ?? 'CNY',
        refund_fee: 0,
      },
      promotion_detail: [],
    };
  }

  /** `GET /v3/certificates`: the platform certificate, encrypted with the APIv3 key (what shops download it with). */
  private certificates(): MockReply {
    const pem = this.credentials.platformCertificate;
    const certificate = new X509Certificate(pem);
    return this.json(200, {
      data: [
        {
          serial_no: this.platform.serial,
          effective_time: beijingTime(Date.parse(certificate.validFrom)),
          expire_time: beijingTime(Date.parse(certificate.validTo)),
          encrypt_certificate: encryptResource(pem, this.credentials.apiV3Key, 'certificate'),
        },
      ],
    });
  }
}
