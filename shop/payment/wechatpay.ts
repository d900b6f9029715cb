/**
 * The shop's WeChat Pay API v3 client, on the official Node client `wechatpay-axios-plugin` (as a
 * real shop has it): native orders (the buyer scans `code_url`), query, close and refunds; every
 * request signed by the plugin with the merchant key, every answer's `Wechatpay-Signature`
 * verified by it against the platform certificate. And the notify route: the platform signature
 * and its timestamp checked, the resource decrypted with the APIv3 key, answered 204 (or 4xx
 * `{ code: "FAIL", message }`, which WeChat retries). The one place WeChat's vocabulary —
 * `trade_state`s, error codes, fen amounts — is spelled; the stages see `./gateway.ts` types only.
 *
 * The trade handle is the `out_trade_no` (the order id): WeChat's `transaction_id` only exists
 * once the buyer has paid, and the order id is what every query, close and notify names anyway.
 */
import type { KeyObject } from 'node:crypto';
import { Agent } from 'node:http';
import { Aes, Formatter, Rsa, Wechatpay } from 'wechatpay-axios-plugin';
import { ShopConfigError } from '../config.js';
import { stringField } from '../http-client.js';
import type { ServiceOptions, Unavailable } from '../services.js';
import type {
  CloseTradeResult,
  CreateTradeRequest,
  CreateTradeResult,
  DeclineReason,
  NotifyAnswer,
  NotifyChecks,
  NotifyEndpoint,
  NotifyReading,
  NotifyRequest,
  PaymentGateway,
  PaymentResult,
  QueryTradeResult,
  RefundResult,
  Trade,
} from './gateway.js';
import { jsonAnswer, parseNotifyJson } from './gateway.js';

/** The key files a WeChat Pay merchant is configured with (the run's `keys/` folder names them). */
export const WECHATPAY_KEY_FILES = {
  mchid: 'wechatpay-mchid.txt',
  appid: 'wechatpay-appid.txt',
  privateKey: 'wechatpay-apiclient-key.pem',
  merchantSerial: 'wechatpay-merchant-serial.txt',
  platformCertificate: 'wechatpay-platform-cert.pem',
  platformSerial: 'wechatpay-platform-serial.txt',
  apiV3Key: 'wechatpay-apiv3-key.txt',
} as const;

export type WechatpayKeys = Record<keyof typeof WECHATPAY_KEY_FILES, string>;

/** Reads the key files (`read` throws naming a missing one). */
export function readWechatpayKeys(folder: { read(name: string): string }): WechatpayKeys {
  const keys = {} as WechatpayKeys;
  for (const [field, file] of Object.entries(WECHATPAY_KEY_FILES) as Array<[keyof WechatpayKeys, string]>) keys[field] = folder.read(file);
  return keys;
}

/** Seconds a notify's `Wechatpay-Timestamp` may differ from the shop's clock (WeChat's and the plugin's rule). */
export const NOTIFY_TOLERANCE_S = 300;

// ---- reading WeChat's words -------------------------------------------------------------------

function objectOf(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function fenOf(value: unknown, key: string): number | undefined {
  const found = objectOf(value)?.[key];
  return typeof found === 'number' && Number.isSafeInteger(found) && found >= 0 ? found : undefined;
}

/** A failed payment's reason: WeChat says it only in `trade_state_desc` (a limit names 限额). */
function declineReason(description: string | undefined): DeclineReason {
  return description !== undefined && description.includes('限额') ? 'payment_limit' : 'payment_declined';
}

/** A `trade_state` (with what was paid) as the shop's result; a state it does not know counts as unpaid. */
function paymentResult(state: string, paid: number, description: string | undefined): PaymentResult {
  switch (state) {
    case 'SUCCESS':
    case 'REFUND':
      return { kind: 'paid', captured: paid };
    case 'USERPAYING':
      return { kind: 'verifying' };
    case 'PAYERROR':
      return { kind: 'declined', reason: declineReason(description) };
    case 'CLOSED':
    case 'REVOKED':
      return { kind: 'closed' };
    default:
      return { kind: 'unpaid' };
  }
}

/** A transaction (query answer or notify resource) as a trade; `payer_total` is what was paid, `total` what was ordered. */
function parseTransaction(value: unknown): Trade | undefined {
  const outTradeNo = stringField(value, 'out_trade_no');
  const state = stringField(value, 'trade_state');
  const amount = objectOf(value)?.amount;
  const total = fenOf(amount, 'total');
  if (!outTradeNo || !state || total === undefined) return undefined;
  const paid = fenOf(amount, 'payer_total') ?? total;
  return {
    tradeNo: outTradeNo,
    outTradeNo,
    amount: total,
    result: paymentResult(state, paid, stringField(value, 'trade_state_desc')),
    // WeChat's query names no refunded amount: `REFUND` means the payment went back.
    refunded: state === 'REFUND' ? paid : 0,
  };
}

/** `2030-01-01T08:00:00+08:00`: RFC 3339 in Beijing time, rounded up to the second. */
function beijingTime(ms: number): string {
  return `${new Date(Math.ceil(ms / 1000) * 1000 + 8 * 3_600_000).toISOString().slice(0, 19)}+08:00`;
}

// ---- calls through the plugin -----------------------------------------------------------------

/** What one call got: an answer the plugin verified (or an error answer, which WeChat need not sign), or nothing usable. */
type Answer = { kind: 'answer'; status: number; data: unknown } | { kind: 'lost'; detail: string; timedOut: boolean };

interface HttpAnswer {
  status: number;
  data: unknown;
}

/** The plugin's errors: an HTTP error answer, a verification failure (`EV3_…`), or a transport error. */
interface PluginError {
  message?: string;
  code?: string;
  response?: HttpAnswer;
}

async function attempt(call: () => Promise<HttpAnswer>): Promise<Answer> {
  try {
    const { status, data } = await call();
    return { kind: 'answer', status, data };
  } catch (caught) {
    const error = caught as PluginError;
    // An answer whose signature, serial or timestamp did not verify is no answer at all.
    if (typeof error.code === 'string' && error.code.startsWith('EV3_')) return { kind: 'lost', detail: `${error.code}: ${error.message ?? ''}`, timedOut: false };
    if (error.response) return { kind: 'answer', status: error.response.status, data: error.response.data };
    const timedOut = error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT';
    return { kind: 'lost', detail: `${error.message ?? 'request failed'}${error.code ? ` (${error.code})` : ''}`, timedOut };
  }
}

/** 5xx and 429 (WeChat's SYSTEM_ERROR, FREQUENCY_LIMITED) are worth asking again; so is a lost answer. */
function unavailableOf(answer: Answer): Unavailable | undefined {
  if (answer.kind === 'lost') return { kind: 'unavailable', detail: answer.detail };
  if (answer.status >= 500 || answer.status === 429) return { kind: 'unavailable', detail: `HTTP ${answer.status} ${codeOf(answer)}`, status: answer.status };
  return undefined;
}

function codeOf(answer: Answer & { kind: 'answer' }): string {
  return stringField(answer.data, 'code') ?? `HTTP_${answer.status}`;
}

// ---- the gateway ------------------------------------------------------------------------------

export class WechatpayGateway implements PaymentGateway {
  readonly protocol = 'wechatpay';
  readonly notify: WechatpayNotifyEndpoint;
  private readonly client: Wechatpay;

  constructor(baseUrl: string, private readonly keys: WechatpayKeys, private readonly options: ServiceOptions) {
    const agent = new Agent({ keepAlive: true });
    options.http.closing.addEventListener('abort', () => agent.destroy(), { once: true });
    try {
      this.client = new Wechatpay({
        mchid: keys.mchid,
        serial: keys.merchantSerial,
        privateKey: keys.privateKey,
        // The platform certificate, by the serial answers and notifies name.
        certs: { [keys.platformSerial]: keys.platformCertificate },
        baseURL: `${baseUrl}/`,
        timeout: options.timeoutMs,
        httpAgent: agent,
        // The provider is reached directly, whatever proxy the environment names.
        proxy: false,
      });
    } catch (error) {
      throw new ShopConfigError(`the WeChat Pay keys do not work: ${(error as Error).message}`);
    }
    this.notify = new WechatpayNotifyEndpoint(keys);
  }

  /** A native order's link is its `code_url`, which only creating the order gives: none otherwise. */
  payUrl(): string {
    return '';
  }

  private get signal(): AbortSignal {
    return this.options.http.closing;
  }

  async createTrade(request: CreateTradeRequest): Promise<CreateTradeResult> {
    const expiresAt = Date.now() + request.expiresInMs;
    const order = {
      appid: this.keys.appid,
      mchid: this.keys.mchid,
      description: (request.subject || request.outTradeNo).slice(0, 127),
      out_trade_no: request.outTradeNo,
      time_expire: beijingTime(expiresAt),
      notify_url: request.notifyUrl,
      amount: { total: request.amount, currency: request.currency },
      ...(request.payer.ip ? { scene_info: { payer_client_ip: request.payer.ip } } : {}),
    };
    const post = (): Promise<Answer> => attempt(() => this.client.chain('v3/pay/transactions/native').post(order, { signal: this.signal }));
    let answer = await post();
    // The same order placed again answers the same code_url, which only this answer carries: a
    // broken answer is asked for once more (a timed-out one is not: that waits as long again).
    if (answer.kind === 'lost' && !answer.timedOut && !this.signal.aborted) answer = await post();
    const unavailable = unavailableOf(answer);
    if (unavailable) return unavailable;
    if (answer.kind !== 'answer') return { kind: 'unavailable', detail: 'no answer' };
    if (answer.status === 200) {
      const codeUrl = stringField(answer.data, 'code_url');
      // A 200 without the code is as good as no answer: the order may exist.
      if (!codeUrl) return { kind: 'unavailable', detail: '200 without a code_url' };
      return { kind: 'created', tradeNo: request.outTradeNo, payUrl: codeUrl, expiresAt: new Date(Math.ceil(expiresAt / 1000) * 1000).toISOString() };
    }
    return { kind: 'refused', code: codeOf(answer), status: answer.status };
  }

  async queryByOutTradeNo(outTradeNo: string): Promise<QueryTradeResult> {
    const answer = await attempt(() =>
      this.client.chain('v3/pay/transactions/out-trade-no/{out_trade_no}').get({ params: { mchid: this.keys.mchid }, out_trade_no: encodeURIComponent(outTradeNo), signal: this.signal }),
    );
    const unavailable = unavailableOf(answer);
    if (unavailable) return unavailable;
    if (answer.kind !== 'answer') return { kind: 'unavailable', detail: 'no answer' };
    if (answer.status === 404) return { kind: 'not_found' };
    if (answer.status === 200) {
      const trade = parseTransaction(answer.data);
      return trade ? { kind: 'found', trade } : { kind: 'unavailable', detail: 'unparseable transaction' };
    }
    return { kind: 'unavailable', detail: `HTTP ${answer.status} ${codeOf(answer)}` };
  }

  /** The trade handle is the out_trade_no. */
  queryTrade(tradeNo: string): Promise<QueryTradeResult> {
    return this.queryByOutTradeNo(tradeNo);
  }

  async closeTrade(tradeNo: string): Promise<CloseTradeResult> {
    const answer = await attempt(() =>
      this.client.chain('v3/pay/transactions/out-trade-no/{out_trade_no}/close').post({ mchid: this.keys.mchid }, { out_trade_no: encodeURIComponent(tradeNo), signal: this.signal }),
    );
    const unavailable = unavailableOf(answer);
    if (unavailable) return unavailable;
    if (answer.kind !== 'answer') return { kind: 'unavailable', detail: 'no answer' };
    if (answer.status === 200 || answer.status === 204) return { kind: 'closed' };
    const code = codeOf(answer);
    if (code === 'ORDER_NOT_EXIST') return { kind: 'not_found' };
    if (code === 'ORDER_CLOSED') return { kind: 'closed' };
    // Refused otherwise (a paid order cannot be closed): the order's state says why.
    const found = await this.queryByOutTradeNo(tradeNo);
    if (found.kind === 'found' && found.trade.result.kind === 'paid') return { kind: 'has_success' };
    if (found.kind === 'found' && found.trade.result.kind === 'closed') return { kind: 'closed' };
    return { kind: 'refused', code };
  }

  async refund(tradeNo: string, refundNo: string, amount: number): Promise<RefundResult> {
    // A refund names the order's total, which the order's query gives.
    const found = await this.queryByOutTradeNo(tradeNo);
    if (found.kind === 'unavailable') return found;
    if (found.kind === 'not_found') return { kind: 'refused', code: 'ORDER_NOT_EXIST' };
    const request = {
      out_trade_no: tradeNo,
      out_refund_no: refundNo,
      reason: '订单无法履约，原路退款',
      amount: { refund: amount, total: found.trade.amount, currency: 'CNY' },
    };
    const answer = await attempt(() => this.client.chain('v3/refund/domestic/refunds').post(request, { signal: this.signal }));
    const unavailable = unavailableOf(answer);
    if (unavailable) return unavailable;
    if (answer.kind !== 'answer') return { kind: 'unavailable', detail: 'no answer' };
    if (answer.status === 200) return this.refundStatus(answer.data);
    const code = codeOf(answer);
    // The merchant's balance is short for now (NOT_ENOUGH): worth asking again later.
    if (code === 'NOT_ENOUGH') return { kind: 'unavailable', detail: `HTTP ${answer.status} ${code}`, status: answer.status };
    if (code === 'INVALID_REQUEST' && /超过|exceed/i.test(stringField(answer.data, 'message') ?? '')) {
      // Already refunded under this number (an earlier answer lost)? The refund query says.
      const earlier = await attempt(() => this.client.chain('v3/refund/domestic/refunds/{out_refund_no}').get({ out_refund_no: encodeURIComponent(refundNo), signal: this.signal }));
      if (earlier.kind === 'answer' && earlier.status === 200 && this.refundStatus(earlier.data).kind === 'refunded') return { kind: 'refunded' };
      return { kind: 'exceeds_paid' };
    }
    return { kind: 'refused', code };
  }

  /** A refund's `status`: SUCCESS, or PROCESSING (accepted; WeChat finishes it), is done for the shop. */
  private refundStatus(data: unknown): RefundResult {
    const status = stringField(data, 'status');
    if (status === 'SUCCESS' || status === 'PROCESSING') return { kind: 'refunded' };
    return { kind: 'unavailable', detail: `refund status ${status ?? 'missing'}` };
  }
}

// ---- notifies ---------------------------------------------------------------------------------


/** WeChat's notifies: a signed JSON POST with an encrypted `transaction` resource, acknowledged by 204. */
export class WechatpayNotifyEndpoint implements NotifyEndpoint {
  readonly methods = ['POST'] as const;
  private readonly platformKey: KeyObject;

  constructor(private readonly keys: WechatpayKeys) {
    this.platformKey = Rsa.from(keys.platformCertificate, Rsa.KEY_TYPE_PUBLIC);
  }

  /** The order, from the decrypted resource (nothing checked yet). */
  orderIdOf(request: NotifyRequest): string | undefined {
    const decrypted = this.decrypt(parseNotifyJson(request.rawBody));
    return decrypted === undefined ? undefined : stringField(decrypted, 'out_trade_no');
  }

  read(request: NotifyRequest, checks: NotifyChecks): NotifyReading {
    const timestamp = request.headers['wechatpay-timestamp'];
    if (checks.signature) {
      const nonce = request.headers['wechatpay-nonce'];
      const serial = request.headers['wechatpay-serial'];
      const signature = request.headers['wechatpay-signature'];
      if (!timestamp || !nonce || !serial || !signature) return { kind: 'bad_signature', detail: 'notify without the Wechatpay-Timestamp/-Nonce/-Serial/-Signature headers' };
      if (serial !== this.keys.platformSerial) return { kind: 'bad_signature', detail: `notify signed under unknown serial ${serial}` };
      if (!Rsa.verify(Formatter.response(timestamp, nonce, request.rawBody), signature, this.platformKey)) {
        return { kind: 'bad_signature', detail: 'notify signature does not verify with the platform certificate' };
      }
    }
    if (checks.freshness) {
      const sentS = Number(timestamp);
      if (!timestamp || !Number.isFinite(sentS) || Math.abs(Date.now() / 1000 - sentS) > NOTIFY_TOLERANCE_S) {
        return { kind: 'bad_signature', detail: `notify timestamp ${timestamp ?? 'missing'} is more than ${NOTIFY_TOLERANCE_S} s off` };
      }
    }
    const body = parseNotifyJson(request.rawBody);
    if (objectOf(body) === undefined) return { kind: 'malformed', detail: 'expected a JSON notify' };
    const transaction = this.decrypt(body);
    // Only the APIv3 key opens the resource: one that does not open is not WeChat's.
    if (transaction === undefined) return { kind: 'bad_signature', detail: 'the resource does not decrypt with the APIv3 key' };
    if (stringField(transaction, 'mchid') !== this.keys.mchid) return { kind: 'malformed', detail: 'the notify is for another merchant' };
    const trade = parseTransaction(transaction);
    if (!trade) return { kind: 'malformed', detail: 'expected a transaction with out_trade_no, trade_state and amount.total' };
    return { kind: 'callback', callback: { tradeNo: trade.tradeNo, outTradeNo: trade.outTradeNo, result: trade.result } };
  }

  acknowledge(): NotifyAnswer {
    return jsonAnswer(204, undefined);
  }

  refuse(status: number, _code: string, message: string): NotifyAnswer {
    return jsonAnswer(status, { code: 'FAIL', message });
  }

  /** The decrypted `resource` of a notify body, or undefined when it does not decrypt. */
  private decrypt(body: unknown): unknown {
    const resource = objectOf(objectOf(body)?.resource);
    const ciphertext = stringField(resource, 'ciphertext');
    const nonce = stringField(resource, 'nonce');
    if (!ciphertext || !nonce) return undefined;
    try {
      return JSON.parse(Aes.AesGcm.decrypt(ciphertext, this.keys.apiV3Key, nonce, stringField(resource, 'associated_data') ?? '')) as unknown;
    } catch {
      return undefined;
    }
  }
}

/** The gateway for a run's key folder. @throws ShopConfigError naming a missing key file, or keys the client refuses */
export function createWechatpayGateway(url: string, folder: { read(name: string): string }, options: ServiceOptions): WechatpayGateway {
  return new WechatpayGateway(url, readWechatpayKeys(folder), options);
}
