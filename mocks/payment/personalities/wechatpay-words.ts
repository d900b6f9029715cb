/**
 * WeChat Pay API v3's vocabulary as the personality speaks it: error codes with their HTTP
 * statuses (`{ code, message }` bodies, messages in WeChat's own Chinese), `trade_state`s with
 * their `trade_state_desc`, the notify retry schedule, and each payment fault's form.
 */
import type { TradeStatus } from '../../../core/journal.js';
import type { PaymentOperation, RefusalCode } from '../answers.js';
import type { FaultForm, PaymentFaultId } from '../personality.js';

/** An error as WeChat answers it. */
export interface WechatError {
  status: number;
  code: string;
  message: string;
}

/** Each core refusal as WeChat answers it (the core's message follows WeChat's words, for people). */
export function wechatErrorOf(operation: PaymentOperation, code: RefusalCode): WechatError {
  switch (code) {
    case 'INVALID_REQUEST':
      return { status: 400, code: 'PARAM_ERROR', message: '参数错误' };
    case 'INVALID_SIGNATURE':
      return { status: 401, code: 'SIGN_ERROR', message: '签名错误，请检查后再试' };
    case 'TRADE_NOT_EXIST':
    case 'VERIFICATION_NOT_EXIST':
      return operation === 'refund'
        ? { status: 404, code: 'RESOURCE_NOT_EXISTS', message: '订单不存在' }
        : { status: 404, code: 'ORDER_NOT_EXIST', message: '订单不存在' };
    case 'DUPLICATE_OUT_TRADE_NO':
      return { status: 403, code: 'OUT_TRADE_NO_USED', message: '商户订单号重复' };
    case 'CROSS_BORDER_BLOCKED':
      return { status: 403, code: 'RULE_LIMIT', message: '业务规则限制' };
    case 'SYSTEM_ERROR':
      return { status: 500, code: 'SYSTEM_ERROR', message: '系统错误' };
    case 'RATE_LIMITED':
      return { status: 429, code: 'FREQUENCY_LIMITED', message: '频率超限' };
    case 'TRADE_CLOSED':
      return { status: 400, code: 'ORDER_CLOSED', message: '订单已关闭' };
    case 'TRADE_VERIFYING':
      return { status: 403, code: 'TRADE_ERROR', message: '用户支付中，需要输入密码' };
    case 'TRADE_HAS_SUCCESS':
      return { status: 403, code: 'TRADE_ERROR', message: '订单已支付' };
    case 'TRADE_NOT_PAID':
      return { status: 400, code: 'INVALID_REQUEST', message: '订单未支付' };
    case 'REFUND_EXCEEDS_PAID':
      return { status: 400, code: 'INVALID_REQUEST', message: '申请退款金额超过订单可退金额' };
    case 'LIMIT_SINGLE':
    case 'LIMIT_DAILY':
      return { status: 403, code: 'RULE_LIMIT', message: PAY_ERROR_DESC[code] };
    case 'DECLINED':
      return { status: 403, code: 'NOTENOUGH', message: PAY_ERROR_DESC.DECLINED };
  }
}

/** WeChat's `trade_state`s. */
export type TradeState = 'SUCCESS' | 'REFUND' | 'NOTPAY' | 'CLOSED' | 'REVOKED' | 'USERPAYING' | 'PAYERROR';

/** A core trade status as WeChat's `trade_state` (a paid trade with refunds is `REFUND`). */
export function tradeStateOf(status: TradeStatus, refunded: number): TradeState {
  switch (status) {
    case 'WAIT_BUYER_PAY':
      return 'NOTPAY';
    case 'VERIFYING':
      return 'USERPAYING';
    case 'TRADE_SUCCESS':
      return refunded > 0 ? 'REFUND' : 'SUCCESS';
    case 'PAY_FAILED':
      return 'PAYERROR';
    case 'TRADE_CLOSED':
      return 'CLOSED';
  }
}

/** Why a payment failed, as `trade_state_desc` says it (the only place WeChat tells a limit from a decline). */
export const PAY_ERROR_DESC = {
  LIMIT_SINGLE: '支付失败，超出单笔支付限额',
  LIMIT_DAILY: '支付失败，超出当日支付限额',
  DECLINED: '支付失败，银行卡余额不足',
} as const;

const TRADE_STATE_DESC: Readonly<Record<Exclude<TradeState, 'PAYERROR'>, string>> = {
  SUCCESS: '支付成功',
  REFUND: '转入退款',
  NOTPAY: '订单未支付',
  CLOSED: '订单已关闭',
  REVOKED: '已撤销',
  USERPAYING: '用户支付中，需要输入密码',
};

export function tradeStateDescOf(state: TradeState, failCode: string | undefined): string {
  if (state !== 'PAYERROR') return TRADE_STATE_DESC[state];
  return failCode !== undefined && failCode in PAY_ERROR_DESC ? PAY_ERROR_DESC[failCode as keyof typeof PAY_ERROR_DESC] : '支付失败，请重新下单支付';
}

const S = 1000;
const M = 60 * S;
const H = 60 * M;
/** WeChat's notify retry gaps: 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h, about 24 h in all. */
export const WECHATPAY_RETRY_GAPS_MS: readonly number[] = [15 * S, 15 * S, 30 * S, 3 * M, 10 * M, 20 * M, 30 * M, 30 * M, 30 * M, 60 * M, 3 * H, 3 * H, 3 * H, 6 * H, 6 * H];

const NO_FAILURE_NOTIFY = 'no notify (WeChat notifies successful payments only; on real native orders a refused payment often leaves the order `NOTPAY` for the buyer to retry)';

/** Each payment fault as a shop speaking WeChat Pay v3 meets it. */
export const WECHATPAY_FAULT_FORMS: Readonly<Record<PaymentFaultId, FaultForm>> = {
  'payment.latency': { shopSees: 'a correctly signed answer after the injected delay' },
  'payment.error': { shopSees: 'HTTP 500 `{"code":"SYSTEM_ERROR","message":"系统错误"}`, or 429 `FREQUENCY_LIMITED` (WeChat sends no Retry-After)' },
  'payment.timeout': { shopSees: 'no answer: the connection stays open' },
  'payment.ambiguous': { shopSees: 'the order is created (out_trade_no known), the connection is reset before the `code_url` answer' },
  'payment.limit.single': { shopSees: `${NO_FAILURE_NOTIFY}; query answers \`trade_state: PAYERROR\` with \`trade_state_desc: 支付失败，超出单笔支付限额\`` },
  'payment.limit.daily': { shopSees: `${NO_FAILURE_NOTIFY}; query answers \`trade_state: PAYERROR\` with \`trade_state_desc: 支付失败，超出当日支付限额\`` },
  'payment.cross_border': {
    inexpressible:
      'WeChat Pay orders name no payer region (native and H5 orders name no payer at all until the code is scanned), so nothing can refuse a payer abroad when the order is made: the order goes through',
  },
  'payment.verification': { shopSees: 'query answers `trade_state: USERPAYING` (用户支付中，需要输入密码) until the buyer completes it, then `SUCCESS` and the notify' },
  'payment.decline': { shopSees: `${NO_FAILURE_NOTIFY}; query answers \`trade_state: PAYERROR\` with \`trade_state_desc: 支付失败，银行卡余额不足\`` },
  'payment.callback.drop': { shopSees: 'the `TRANSACTION.SUCCESS` notify never comes; query answers `trade_state: SUCCESS`' },
  'payment.callback.delay': { shopSees: 'the `TRANSACTION.SUCCESS` notify comes late (signed when sent)' },
  'payment.callback.duplicate': { shopSees: 'the same notify (same `id`, same resource) twice or more' },
  'payment.callback.reorder': {
    inexpressible: 'WeChat notifies no failed payment (`TRANSACTION.SUCCESS` only), so no older failure notify can arrive after the success: only the success notify comes',
  },
  'payment.callback.late': { shopSees: 'a `TRANSACTION.SUCCESS` notify after the shop closed the order' },
  'payment.callback.forged': {
    shopSees:
      'a `TRANSACTION.SUCCESS` notify whose resource decrypts (the forger has the leaked APIv3 key) but whose `Wechatpay-Signature` is made with a key that is not the platform\'s, under the platform\'s serial',
  },
  'payment.callback.replayed': { shopSees: 'a genuinely signed `TRANSACTION.SUCCESS` notify whose `Wechatpay-Timestamp` (and `create_time`) is an hour old' },
  'payment.callback.altered': {
    shopSees:
      'a `TRANSACTION.SUCCESS` notify whose encrypted `amount.total` was changed in the ciphertext (the same nonce, the old GCM tag) after the platform signed the body: the signature does not verify, and the resource does not decrypt',
  },
  'payment.callback.tampered': { shopSees: 'a genuinely signed `TRANSACTION.SUCCESS` notify whose `amount.payer_total` (what the payer paid) is not the order\'s `amount.total`; query says the same' },
  'payment.callback.underpaid': { shopSees: 'a genuinely signed `TRANSACTION.SUCCESS` notify whose `amount.payer_total` is below `amount.total`; query says the same' },
  'payment.query.error': { shopSees: 'query answers HTTP 500 `SYSTEM_ERROR`' },
  'payment.refund.error': { shopSees: 'refund answers HTTP 500 `SYSTEM_ERROR`' },
};
