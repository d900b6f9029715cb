/** The native protocol's words for each payment fault, known without loading the personality. */
import type { FaultForm, PaymentFaultId } from '../personality.js';

/** Each payment fault as a shop speaking the native protocol meets it. */
export const NATIVE_FAULT_FORMS: Readonly<Record<PaymentFaultId, FaultForm>> = {
  'payment.latency': { shopSees: 'answers after the injected delay' },
  'payment.error': { shopSees: '503 `SYSTEM_ERROR`, or 429 `RATE_LIMITED` with `Retry-After`' },
  'payment.timeout': { shopSees: 'no answer: the connection stays open' },
  'payment.ambiguous': { shopSees: 'the trade is created, the connection is reset before the 201' },
  'payment.limit.single': { shopSees: 'the cashier answers 402 `LIMIT_SINGLE`; a `PAY_FAILED` notify and query with `failCode: LIMIT_SINGLE`' },
  'payment.limit.daily': { shopSees: 'the cashier answers 402 `LIMIT_DAILY`; a `PAY_FAILED` notify and query with `failCode: LIMIT_DAILY`' },
  'payment.cross_border': { shopSees: 'create answers 403 `CROSS_BORDER_BLOCKED`' },
  'payment.verification': { shopSees: 'query shows `VERIFYING` until the buyer completes it (or the trade closes)' },
  'payment.decline': { shopSees: 'a `PAY_FAILED` notify and query with `failCode: DECLINED`' },
  'payment.callback.drop': { shopSees: 'the notify never comes; query shows `TRADE_SUCCESS`' },
  'payment.callback.delay': { shopSees: 'the notify comes late' },
  'payment.callback.duplicate': { shopSees: 'the same notify (same `notifyId`) twice or more' },
  'payment.callback.reorder': { shopSees: 'a `TRADE_SUCCESS` notify before the older `PAY_FAILED` one' },
  'payment.callback.late': { shopSees: 'a `TRADE_SUCCESS` notify after the shop closed the trade' },
  'payment.callback.forged': { shopSees: 'a `TRADE_SUCCESS` notify whose `Ordeal-Signature` does not verify' },
  'payment.callback.replayed': { shopSees: 'a genuinely signed `TRADE_SUCCESS` notify with a timestamp an hour old' },
  'payment.callback.altered': { shopSees: 'a `TRADE_SUCCESS` notify whose `Ordeal-Signature` was made over a body with another `amount`: it does not verify' },
  'payment.callback.tampered': { shopSees: 'a genuinely signed notify whose `amount` is not the order\'s' },
  'payment.callback.underpaid': { shopSees: 'a genuinely signed `TRADE_SUCCESS` notify whose `amount` is below the order\'s' },
  'payment.query.error': { shopSees: 'query answers 503 `SYSTEM_ERROR`' },
  'payment.refund.error': { shopSees: 'refund answers 503 `SYSTEM_ERROR`' },
};
