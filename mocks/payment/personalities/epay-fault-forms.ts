/**
 * Each payment fault as a shop speaking 易支付 v1 meets it. Epay notifies successes only, and its
 * order query knows three states (`status` 0 unpaid, 1 paid, 2 refunded): whatever goes wrong
 * with the buyer's payment itself happens on the wallet's pages and leaves the trade at 0, so
 * those faults cannot reach the shop as a reason.
 */
import type { FaultForm, PaymentFaultId } from '../personality.js';

const UNPAID_UNTIL_EXPIRY =
  'epay sends no notify for a failed payment and `api.php?act=order` knows only `status` 0 / 1 / 2, so the trade stays at `status: 0` and the order simply expires at the shop';

export const EPAY_FAULT_FORMS: Readonly<Record<PaymentFaultId, FaultForm>> = {
  'payment.latency': { shopSees: '`mapi.php` and `api.php` answer after the injected delay' },
  'payment.error': {
    shopSees:
      '`mapi.php` answers `{"code":-1,"msg":"创建订单失败，请返回重试！"}` (HTTP 200), `submit.php` shows that message on its 站点提示信息 page, `api.php` answers nginx\'s HTTP 502 Bad Gateway page; a rate limit is nginx `limit_req`\'s HTTP 503 page (no Retry-After)',
  },
  'payment.timeout': { shopSees: 'no answer: the connection stays open' },
  'payment.ambiguous': { shopSees: '`mapi.php` creates the trade, then the connection is reset before its JSON (a query by `out_trade_no` finds it)' },
  'payment.limit.single': {
    inexpressible: `the wallet refuses the payment on its own pages (epay's own channel limit would read "当前支付方式单笔最大限额为…元，请选择其他支付方式！" at create, but the limit is decided when the buyer pays); ${UNPAID_UNTIL_EXPIRY}`,
  },
  'payment.limit.daily': {
    inexpressible: `the buyer's daily quick-pay limit is the wallet's, refused on its pages; ${UNPAID_UNTIL_EXPIRY}`,
  },
  'payment.cross_border': {
    inexpressible:
      'epay carries no payer region (only `clientip`), so no trade is refused for it; a wallet that blocks payers abroad does so on its own pages — served as nothing at all',
  },
  'payment.verification': {
    inexpressible:
      "the wallet's extra step happens on its own pages and epay has no status for it: `api.php?act=order` says `status: 0` until the buyer completes it, then the usual notify comes; never completed, the order simply expires at the shop",
  },
  'payment.decline': { inexpressible: `the wallet declines on its own pages; ${UNPAID_UNTIL_EXPIRY}` },
  'payment.callback.drop': { shopSees: 'the GET notify never comes; `api.php?act=order` shows `status: 1`' },
  'payment.callback.delay': { shopSees: 'the GET notify comes late' },
  'payment.callback.duplicate': { shopSees: 'the same GET notify (same query, same `sign`: epay numbers no notify) twice or more' },
  'payment.callback.reorder': {
    inexpressible: 'epay sends no notify for a failed payment, so no older failure notify can arrive after the success: only the success notify comes',
  },
  'payment.callback.late': {
    shopSees:
      'a `trade_status=TRADE_SUCCESS` notify after the order expired at the shop: epay has no close API, so the trade stays payable and the buyer\'s late payment goes through',
  },
  'payment.callback.forged': { shopSees: 'a `TRADE_SUCCESS` GET notify whose `sign` is the MD5 with a key that is not the merchant\'s: it does not verify' },
  'payment.callback.altered': { shopSees: 'a `TRADE_SUCCESS` GET notify whose `money` is the order\'s but whose MD5 `sign` was made over another `money`: it does not verify' },
  'payment.callback.replayed': {
    shopSees:
      'MD5 signs no time, so a replay is a genuine notify sent again later: a correctly signed `TRADE_SUCCESS` GET, byte for byte what epay sends, for an order the buyer never paid; only `api.php?act=order` (`status: 0`) tells it apart',
  },
  'payment.callback.tampered': { shopSees: 'a genuinely signed `TRADE_SUCCESS` notify whose `money` is not the order\'s (the buyer paid another amount)' },
  'payment.callback.underpaid': { shopSees: 'a genuinely signed `TRADE_SUCCESS` notify whose `money` is below the order\'s' },
  'payment.query.error': { shopSees: '`api.php?act=order` answers nginx\'s HTTP 502 Bad Gateway page' },
  'payment.refund.error': { shopSees: '`api.php?act=refund` answers `{"code":-1,"msg":"退款失败：[SYSTEM_ERROR]系统繁忙，请稍后再试"}` (the channel\'s refund failed)' },
};
