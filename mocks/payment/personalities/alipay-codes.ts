/**
 * The provider core's refusals in Alipay's words, and what each payment fault looks like to a shop
 * speaking Alipay OpenAPI v2. Sub-codes are the ones public merchant code handles (PROVIDERS.md §2
 * lists those confirmed there); where Alipay has no exact counterpart the choice is said below.
 */
import type { PayFailCode, PaymentOperation, PaymentRefusal, RefusalCode } from '../answers.js';
import type { FaultForm, PaymentFaultId } from '../personality.js';
import { failure, type AlipayFailure } from './alipay-wire.js';

/**
 * What the buyer's failed payment is called: the sub-codes `alipay.trade.pay` answers for a
 * refused payment. Alipay has no single-payment quick-pay limit code; `ACQ.TOTAL_FEE_EXCEED`
 * ("the order total exceeds the limit") is the closest.
 */
export const PAY_FAIL_SUB_CODES: Readonly<Record<PayFailCode, { subCode: string; subMsg: string }>> = {
  LIMIT_SINGLE: { subCode: 'ACQ.TOTAL_FEE_EXCEED', subMsg: '订单总金额超过限额' },
  LIMIT_DAILY: { subCode: 'ACQ.BUYER_PAYMENT_AMOUNT_DAY_LIMIT_ERROR', subMsg: '买家付款日限额超限' },
  DECLINED: { subCode: 'ACQ.BUYER_BALANCE_NOT_ENOUGH', subMsg: '买家余额不足' },
};

/**
 * A refusal's `sub_code` and `sub_msg` under `40004 Business Failed`, or another common code.
 * Choices where Alipay has no one-to-one code:
 * - `SYSTEM_ERROR` (a failing channel, query or refund): `40004 ACQ.SYSTEM_ERROR`, which Alipay's
 *   trade API documents as "call again with the same parameters"; `RATE_LIMITED` (a 429): Alipay
 *   sends no Retry-After, only its busy answer `20000 isp.unknow-error`;
 * - `CROSS_BORDER_BLOCKED`: `ACQ.ERROR_BUYER_CERTIFY_LEVEL_LIMIT` (the buyer's identity is not
 *   certified for this payment), the refusal a payer from abroad meets;
 * - `DUPLICATE_OUT_TRADE_NO`: `ACQ.CONTEXT_INCONSISTENT` ("trade information tampered with: use
 *   another out_trade_no"), Alipay's answer to an out_trade_no reused with other terms;
 * - closing a paid trade, refunding an unpaid one, paying one under verification:
 *   `ACQ.TRADE_STATUS_ERROR` (the trade's status does not allow it), as `alipay.trade.close` and
 *   `alipay.trade.refund` answer; `ACQ.TRADE_HAS_SUCCESS` when a create names a paid trade.
 */
function refusalFailure(operation: PaymentOperation, code: RefusalCode, message: string): AlipayFailure {
  switch (code) {
    case 'INVALID_REQUEST':
      return failure('business', 'ACQ.INVALID_PARAMETER', `参数无效: ${message}`);
    case 'INVALID_SIGNATURE':
      return failure('invalid', 'isv.invalid-signature', '无效签名');
    case 'TRADE_NOT_EXIST':
    case 'VERIFICATION_NOT_EXIST':
      return failure('business', 'ACQ.TRADE_NOT_EXIST', '交易不存在');
    case 'DUPLICATE_OUT_TRADE_NO':
      return failure('business', 'ACQ.CONTEXT_INCONSISTENT', '交易信息被篡改');
    case 'CROSS_BORDER_BLOCKED':
      return failure('business', 'ACQ.ERROR_BUYER_CERTIFY_LEVEL_LIMIT', '买家未通过人行认证');
    case 'SYSTEM_ERROR':
      return failure('business', 'ACQ.SYSTEM_ERROR', '系统错误');
    case 'RATE_LIMITED':
      return failure('unavailable', 'isp.unknow-error', '系统繁忙');
    case 'TRADE_CLOSED':
      return failure('business', 'ACQ.TRADE_HAS_CLOSE', '交易已经关闭');
    case 'TRADE_HAS_SUCCESS':
      return operation === 'close' ? failure('business', 'ACQ.TRADE_STATUS_ERROR', '交易状态不合法') : failure('business', 'ACQ.TRADE_HAS_SUCCESS', '交易已被支付');
    case 'TRADE_VERIFYING':
    case 'TRADE_NOT_PAID':
      return failure('business', 'ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
    case 'REFUND_EXCEEDS_PAID':
      return failure('business', 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额超限');
    case 'LIMIT_SINGLE':
    case 'LIMIT_DAILY':
    case 'DECLINED': {
      const { subCode, subMsg } = PAY_FAIL_SUB_CODES[code];
      return failure('business', subCode, subMsg);
    }
  }
}

export function alipayFailureOf(operation: PaymentOperation, refusal: PaymentRefusal): AlipayFailure {
  return refusalFailure(operation, refusal.code, refusal.message);
}

/** Each payment fault as a shop speaking Alipay OpenAPI v2 meets it. */
export const ALIPAY_FAULT_FORMS: Readonly<Record<PaymentFaultId, FaultForm>> = {
  'payment.latency': { shopSees: 'gateway.do answers after the injected delay' },
  'payment.error': {
    shopSees: 'HTTP 200 with `code 40004`, `sub_code ACQ.SYSTEM_ERROR` (a 5xx fault), or `code 20000` `isp.unknow-error` 系统繁忙 (a 429 fault: Alipay sends no Retry-After)',
  },
  'payment.timeout': { shopSees: 'no answer from gateway.do: the connection stays open (alipay-sdk gives up at its `timeout`)' },
  'payment.ambiguous': {
    shopSees:
      'the trade is created, the connection is reset before the answer; alipay-sdk\'s HTTP client (urllib, `socketErrorRetry: 1`) re-sends the request once by itself, and the same precreate answers the same `qr_code`',
  },
  'payment.limit.single': {
    shopSees: 'a `TRADE_CLOSED` notify; `alipay.trade.query` answers `40004 ACQ.TOTAL_FEE_EXCEED` (Alipay has no single quick-pay limit code; this is its order-total limit)',
  },
  'payment.limit.daily': { shopSees: 'a `TRADE_CLOSED` notify; `alipay.trade.query` answers `40004 ACQ.BUYER_PAYMENT_AMOUNT_DAY_LIMIT_ERROR`' },
  'payment.cross_border': {
    shopSees:
      'the create answers `40004 ACQ.ERROR_BUYER_CERTIFY_LEVEL_LIMIT` — when the shop names the payer\'s region in `business_params` (`ordeal_payer_region`, or `mc_create_trade_ip` looked up); Alipay has no field for it, so a shop that sends neither is never refused',
  },
  'payment.verification': {
    inexpressible:
      'an Alipay merchant never sees the buyer\'s extra verification: `alipay.trade.query` shows `WAIT_BUYER_PAY` until the buyer completes it (then `TRADE_SUCCESS`) or the trade closes (`TRADE_CLOSED`), so a shop cannot report it',
  },
  'payment.decline': { shopSees: 'a `TRADE_CLOSED` notify; `alipay.trade.query` answers `40004 ACQ.BUYER_BALANCE_NOT_ENOUGH`' },
  'payment.callback.drop': { shopSees: 'the notify never comes; `alipay.trade.query` shows `TRADE_SUCCESS`' },
  'payment.callback.delay': { shopSees: 'the notify comes late' },
  'payment.callback.duplicate': { shopSees: 'the same notify (same `notify_id`) twice or more, each to be answered `success`' },
  'payment.callback.reorder': { shopSees: 'a `TRADE_SUCCESS` notify, then a `TRADE_CLOSED` one for the buyer\'s earlier, declined attempt' },
  'payment.callback.late': { shopSees: 'a `TRADE_SUCCESS` notify after `alipay.trade.close` answered `10000`' },
  'payment.callback.forged': { shopSees: 'a `TRADE_SUCCESS` notify signed with an RSA key that is not Alipay\'s: `checkNotifySign` returns false' },
  'payment.callback.replayed': {
    shopSees:
      'a genuinely signed `TRADE_SUCCESS` notify whose signed `notify_time` is an hour old (alipay-sdk\'s `checkNotifySign` accepts it: the shop must compare `notify_time` with its clock, or query the trade)',
  },
  'payment.callback.altered': { shopSees: 'a `TRADE_SUCCESS` notify whose `total_amount` (and the amounts beside it) is the order\'s but whose RSA2 `sign` was made over another amount: `checkNotifySign` returns false' },
  'payment.callback.tampered': { shopSees: 'a genuinely signed notify (and query) whose `total_amount` is not the order\'s' },
  'payment.callback.underpaid': { shopSees: 'a genuinely signed `TRADE_SUCCESS` notify (and query) whose `total_amount` is below the order\'s' },
  'payment.query.error': { shopSees: '`alipay.trade.query` answers `40004 ACQ.SYSTEM_ERROR`' },
  'payment.refund.error': { shopSees: '`alipay.trade.refund` answers `40004 ACQ.SYSTEM_ERROR`' },
};
